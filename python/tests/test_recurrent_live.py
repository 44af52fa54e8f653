"""nn.LSTM, nn.GRU and the cells against live PyTorch on random configurations (skipped without torch).

Run with a venv that has torch:  PYTHONPATH=python "$PY" -m pytest python/tests/test_recurrent_live.py -q
Forward outputs: rtol=1e-4, atol=2e-5; gradients against autograd: rtol=2e-4, atol=2e-5; initial weights,
dropout masks and the generator state after them: bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import assert_close, assert_float32_output  # noqa: E402
import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402

torch.set_num_threads(1)
pytestmark = [pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning"),
              pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning")]
GRAD_RTOL = 2e-4
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def to_np(t):
    return t.detach().cpu().numpy()


def copy_state(src, dst):
    dst.load_state_dict({k: to_np(v) for k, v in src.state_dict().items()})


def same_bits(name, actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
    assert actual.tobytes() == expected.tobytes(), (
        f"{name}: {int((actual != expected).sum())}/{actual.size} values differ from torch's")


@st.composite
def recurrent_configs(draw, mode=None):
    mode = mode or draw(st.sampled_from(["LSTM", "GRU"]))
    hidden = draw(st.integers(1, 9))
    kwargs = {"input_size": draw(st.integers(1, 8)), "hidden_size": hidden, "num_layers": draw(st.integers(1, 3)),
              "bias": draw(st.booleans()), "batch_first": draw(st.booleans()),
              "bidirectional": draw(st.booleans()), "dropout": draw(st.sampled_from([0.0, 0.0, 0.3, 0.9]))}
    if mode == "LSTM" and hidden > 1 and draw(st.booleans()):
        kwargs["proj_size"] = draw(st.integers(1, hidden - 1))
    return {"mode": mode, "kwargs": kwargs, "L": draw(st.integers(1, 8)), "N": draw(st.integers(1, 5)),
            "unbatched": draw(st.booleans()), "with_hx": draw(st.booleans()),
            "seed": draw(st.integers(0, 2**63 - 1))}


def shapes(cfg):
    k = cfg["kwargs"]
    D, I = 2 if k["bidirectional"] else 1, k["input_size"]
    L, N = cfg["L"], cfg["N"]
    lead = (D * k["num_layers"],) if cfg["unbatched"] else (D * k["num_layers"], N)
    x = (L, I) if cfg["unbatched"] else ((N, L, I) if k["batch_first"] else (L, N, I))
    return x, lead + (k.get("proj_size") or k["hidden_size"],), lead + (k["hidden_size"],)


def hx_of(mode, h0, c0):
    return (h0, c0) if mode == "LSTM" else h0


def states(mode, state):
    return state if mode == "LSTM" else (state, None)


@SETTINGS
@given(cfg=recurrent_configs())
def test_forward_matches_torch(cfg):
    mode = cfg["mode"]
    torch.manual_seed(cfg["seed"])
    t = getattr(torch.nn, mode)(**cfg["kwargs"]).eval()
    s = getattr(nn, mode)(**cfg["kwargs"]).eval()
    copy_state(t, s)
    assert repr(s) == repr(t)
    xs, hs, cs = shapes(cfg)
    x, h0, c0 = torch.randn(xs), torch.randn(hs), torch.randn(cs)
    with torch.no_grad():
        t_out, t_state = t(x, hx_of(mode, h0, c0)) if cfg["with_hx"] else t(x)
    s_out, s_state = s(to_np(x), hx_of(mode, to_np(h0), to_np(c0))) if cfg["with_hx"] else s(to_np(x))
    assert_float32_output("output", s_out)
    assert_close("output", s_out, to_np(t_out))
    for name, a, e in zip(("hn", "cn"), states(mode, s_state), states(mode, t_state)):
        if e is not None:
            assert_close(name, a, to_np(e))


@SETTINGS
@given(cfg=recurrent_configs())
def test_training_forward_draws_torchs_dropout_masks(cfg):
    """Training mode after the same seed: torch's masks (same outputs) and the same generator state after."""
    mode = cfg["mode"]
    torch.manual_seed(cfg["seed"])
    t = getattr(torch.nn, mode)(**cfg["kwargs"])
    xs, hs, cs = shapes(cfg)
    x = torch.randn(xs)
    with torch.no_grad():
        t_out, t_state = t(x)
    swiftrnn.manual_seed(cfg["seed"])
    s = getattr(nn, mode)(**cfg["kwargs"])  # draws torch's init (checked below through the outputs)
    s_out, s_state = s(swiftrnn.randn(*xs))
    assert_close("output", s_out, to_np(t_out))
    for name, a, e in zip(("hn", "cn"), states(mode, s_state), states(mode, t_state)):
        if e is not None:
            assert_close(name, a, to_np(e))
    same_bits("generator state after the forward", swiftrnn.get_rng_state(), to_np(torch.get_rng_state()))


@SETTINGS
@given(cfg=recurrent_configs(), V=st.integers(2, 10), E=st.integers(1, 6), grad_hn=st.booleans(),
       grad_cn=st.booleans())
def test_pipeline_gradients_match_autograd(cfg, V, E, grad_hn, grad_cn):
    """Embedding -> LSTM/GRU -> Linear -> cross-entropy (+ <h_n, g_h> + <c_n, g_c>), dropout included."""
    mode, kwargs = cfg["mode"], dict(cfg["kwargs"], input_size=E)
    cfg = dict(cfg, kwargs=kwargs)
    torch.manual_seed(cfg["seed"])
    D, P = 2 if kwargs["bidirectional"] else 1, kwargs.get("proj_size") or kwargs["hidden_size"]
    t_mods = [torch.nn.Embedding(V, E), getattr(torch.nn, mode)(**kwargs), torch.nn.Linear(D * P, V)]
    s_mods = [nn.Embedding(V, E), getattr(nn, mode)(**kwargs), nn.Linear(D * P, V)]
    for t, s in zip(t_mods, s_mods):
        copy_state(t, s)
    xs, hs, cs = shapes(cfg)
    idx, target = torch.randint(0, V, xs[:-1]), torch.randint(0, V, xs[:-1])
    h0, c0 = torch.randn(hs, requires_grad=True), torch.randn(cs, requires_grad=True)
    g_h = torch.randn(hs) if grad_hn else torch.zeros(hs)
    g_c = torch.randn(cs) if grad_cn else torch.zeros(cs)

    torch.manual_seed(cfg["seed"] + 1)  # the forward's draws are the dropout masks
    out, state = t_mods[1](t_mods[0](idx), hx_of(mode, h0, c0) if cfg["with_hx"] else None)
    hn, cn = states(mode, state)
    logits = t_mods[2](out)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), target.reshape(-1))
    (loss + (hn * g_h).sum() + ((cn * g_c).sum() if cn is not None else 0)).backward()

    swiftrnn.manual_seed(cfg["seed"] + 1)
    crit = nn.CrossEntropyLoss()
    s_out, s_state = s_mods[1](s_mods[0](to_np(idx)), hx_of(mode, to_np(h0), to_np(c0)) if cfg["with_hx"] else None)
    s_logits = s_mods[2](s_out)
    s_loss = crit(s_logits.reshape(-1, V), to_np(target).reshape(-1))
    assert_close("loss", s_loss, to_np(loss))
    grad_out = s_mods[2].backward(crit.backward().reshape(s_logits.shape))
    upstream = (to_np(g_h) if grad_hn else None, to_np(g_c) if grad_cn else None)
    grad_x, grad_state = s_mods[1].backward(grad_out, upstream if mode == "LSTM" else upstream[0])
    s_mods[0].backward(grad_x)
    s_gh0, s_gc0 = states(mode, grad_state)
    if cfg["with_hx"]:
        assert_close("grad_h0", s_gh0, to_np(h0.grad), rtol=GRAD_RTOL)
        if mode == "LSTM":
            assert_close("grad_c0", s_gc0, to_np(c0.grad), rtol=GRAD_RTOL)
    for t, s in zip(t_mods, s_mods):
        for (k, tp), (_, sp) in zip(t.named_parameters(), s.named_parameters()):
            assert_close(f"{type(s).__name__}.{k}.grad", sp.grad, to_np(tp.grad), rtol=GRAD_RTOL)


@SETTINGS
@given(cell_type=st.sampled_from(["RNNCell", "LSTMCell", "GRUCell"]), I=st.integers(1, 8), H=st.integers(1, 9),
       bias=st.booleans(), relu=st.booleans(), T=st.integers(1, 10), N=st.integers(1, 4), unbatched=st.booleans(),
       with_hx=st.booleans(), seed=st.integers(0, 2**63 - 1))
def test_cell_loop_matches_autograd(cell_type, I, H, bias, relu, T, N, unbatched, with_hx, seed):
    """h_t = cell(x_t, h_{t-1}) for T steps, loss sum_t <h_t, g_t> (+ <c_t, gc_t>); the T backwards run in
    reverse order, each consuming the most recent forward's saved state."""
    kwargs = {"bias": bias, **({"nonlinearity": "relu" if relu else "tanh"} if cell_type == "RNNCell" else {})}
    lstm = cell_type == "LSTMCell"
    torch.manual_seed(seed)
    t = getattr(torch.nn, cell_type)(I, H, **kwargs)
    s = getattr(nn, cell_type)(I, H, **kwargs)
    copy_state(t, s)
    assert repr(s) == repr(t)
    lead = () if unbatched else (N,)
    xs = torch.randn((T,) + lead + (I,), requires_grad=True)
    h0, c0 = torch.randn(lead + (H,), requires_grad=True), torch.randn(lead + (H,), requires_grad=True)
    g_h, g_c = torch.randn((T,) + lead + (H,)), torch.randn((T,) + lead + (H,))

    t_state = ((h0, c0) if lstm else h0) if with_hx else None
    s_state = ((to_np(h0), to_np(c0)) if lstm else to_np(h0)) if with_hx else None
    total = 0
    for step in range(T):
        t_state, s_state = t(xs[step], t_state), s(to_np(xs[step]), s_state)
        pairs = zip(s_state, t_state) if lstm else [(s_state, t_state)]
        for name, (a, e), g in zip(("h", "c"), pairs, (g_h, g_c)):
            assert_close(f"{name}[{step}]", a, to_np(e))
            total = total + (e * g[step]).sum()
    total.backward()

    carry_h = carry_c = 0
    grad_xs = [None] * T
    for step in reversed(range(T)):
        gh = to_np(g_h[step]) + carry_h
        if lstm:
            grad_xs[step], (carry_h, carry_c) = s.backward((gh, to_np(g_c[step]) + carry_c))
        else:
            grad_xs[step], carry_h = s.backward(gh)
    assert_close("grad_xs", np.stack(grad_xs), to_np(xs.grad), rtol=GRAD_RTOL)
    if with_hx:
        assert_close("grad_h0", carry_h, to_np(h0.grad), rtol=GRAD_RTOL)
        if lstm:
            assert_close("grad_c0", carry_c, to_np(c0.grad), rtol=GRAD_RTOL)
    for (k, tp), (_, sp) in zip(t.named_parameters(), s.named_parameters()):
        assert_close(f"{k}.grad", sp.grad, to_np(tp.grad), rtol=GRAD_RTOL)


@SETTINGS
@given(cls=st.sampled_from(["LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]), I=st.integers(1, 40),
       H=st.integers(1, 40), layers=st.integers(1, 3), bias=st.booleans(), bidirectional=st.booleans(),
       proj=st.integers(0, 39), seed=st.integers(0, 2**64 - 1))
def test_init_and_reset_parameters_are_torchs_bits(cls, I, H, layers, bias, bidirectional, proj, seed):
    if cls in ("LSTM", "GRU"):
        kwargs = {"num_layers": layers, "bias": bias, "bidirectional": bidirectional}
        if cls == "LSTM" and proj < H:
            kwargs["proj_size"] = proj
    else:
        kwargs = {"bias": bias}
    torch.manual_seed(seed)
    t = getattr(torch.nn, cls)(I, H, **kwargs)
    swiftrnn.manual_seed(seed)
    s = getattr(nn, cls)(I, H, **kwargs)
    assert repr(s) == repr(t)
    for (k, tv), (sk, sv) in zip(t.state_dict().items(), s.state_dict().items()):
        assert sk == k
        same_bits(f"init {k}", sv, to_np(tv))
    t.reset_parameters()
    s.reset_parameters()
    for k, tv in t.state_dict().items():
        same_bits(f"reset {k}", s.state_dict()[k], to_np(tv))
    same_bits("generator state after", swiftrnn.get_rng_state(), to_np(torch.get_rng_state()))


@SETTINGS
@given(cfg=recurrent_configs())
def test_state_dict_moves_both_ways(cfg):
    """swiftrnn's state_dict loads into torch (strict) and gives torch swiftrnn's outputs, and back."""
    mode = cfg["mode"]
    swiftrnn.manual_seed(cfg["seed"])
    s = getattr(nn, mode)(**cfg["kwargs"]).eval()
    t = getattr(torch.nn, mode)(**cfg["kwargs"]).eval()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in s.state_dict().items()})
    xs, _, _ = shapes(cfg)
    x = np.random.default_rng(cfg["seed"] % 2**32).standard_normal(xs).astype(np.float32)
    with torch.no_grad():
        t_out, _ = t(torch.from_numpy(x))
    assert_close("torch with swiftrnn's weights", s(x)[0], to_np(t_out))
    s2 = getattr(nn, mode)(**cfg["kwargs"]).eval()
    s2.load_state_dict(t.state_dict())  # torch tensors in
    for k, v in s.state_dict().items():
        same_bits(k, s2.state_dict()[k], np.asarray(v))


@SETTINGS
@given(cfg=recurrent_configs(), T=st.integers(1, 6))
def test_torch_style_step_loop_matches_autograd(cfg, T):
    """``for t in range(T): out, h = rnn(x[t:t+1], h)`` with the whole layer (layers, directions, projections,
    dropout), then T backwards in reverse order carrying the state's gradient: autograd's gradients."""
    mode, lstm = cfg["mode"], cfg["mode"] == "LSTM"
    cfg = dict(cfg, L=T)
    torch.manual_seed(cfg["seed"])
    t = getattr(torch.nn, mode)(**cfg["kwargs"])
    s = getattr(nn, mode)(**cfg["kwargs"])
    copy_state(t, s)
    xs, hs, cs = shapes(cfg)
    time_axis = 1 if cfg["kwargs"]["batch_first"] and not cfg["unbatched"] else 0
    x = torch.randn(xs, requires_grad=True)
    h0, c0 = torch.randn(hs, requires_grad=True), torch.randn(cs, requires_grad=True)
    outs_shape = list(xs[:-1]) + [(2 if cfg["kwargs"]["bidirectional"] else 1) * hs[-1]]
    g_out, g_h, g_c = torch.randn(outs_shape), torch.randn(hs), torch.randn(cs)

    def step_slice(a, step):
        return a.narrow(time_axis, step, 1) if isinstance(a, torch.Tensor) else np.take(a, [step], axis=time_axis)

    torch.manual_seed(cfg["seed"] + 1)
    state, total = (hx_of(mode, h0, c0) if cfg["with_hx"] else None), 0
    for step in range(T):
        out, state = t(step_slice(x, step), state)
        total = total + (out * step_slice(g_out, step)).sum()
    hn, cn = states(mode, state)
    (total + (hn * g_h).sum() + ((cn * g_c).sum() if lstm else 0)).backward()

    swiftrnn.manual_seed(cfg["seed"] + 1)
    s_state = hx_of(mode, to_np(h0), to_np(c0)) if cfg["with_hx"] else None
    for step in range(T):
        _, s_state = s(step_slice(to_np(x), step), s_state)
    carry = (to_np(g_h), to_np(g_c)) if lstm else to_np(g_h)
    grad_x = [None] * T
    for step in reversed(range(T)):
        grad_x[step], carry = s.backward(step_slice(to_np(g_out), step), carry)
    assert_close("grad_x", np.concatenate(grad_x, axis=time_axis), to_np(x.grad), rtol=GRAD_RTOL)
    if cfg["with_hx"]:
        for name, a, e in zip(("grad_h0", "grad_c0"), carry if lstm else (carry,), (h0, c0)):
            assert_close(name, a, to_np(e.grad), rtol=GRAD_RTOL)
    for (k, tp), (_, sp) in zip(t.named_parameters(), s.named_parameters()):
        assert_close(f"{k}.grad", sp.grad, to_np(tp.grad), rtol=GRAD_RTOL)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(["LSTM", "GRU"]), I=st.integers(9, 70), H=st.integers(10, 70), N=st.integers(1, 20),
       L=st.integers(1, 12), layers=st.integers(1, 2), bidirectional=st.booleans(), proj=st.booleans(),
       seed=st.integers(0, 2**63 - 1))
def test_wider_layers_forward_and_backward(mode, I, H, N, L, layers, bidirectional, proj, seed):
    """Sizes past the kernels' vector widths and tiles (the random configurations above stay small)."""
    kwargs = {"num_layers": layers, "bidirectional": bidirectional}
    if mode == "LSTM" and proj:
        kwargs["proj_size"] = H // 2
    torch.manual_seed(seed)
    t = getattr(torch.nn, mode)(I, H, **kwargs)
    s = getattr(nn, mode)(I, H, **kwargs)
    copy_state(t, s)
    x = torch.randn(L, N, I, requires_grad=True)
    out, state = t(x)
    g = torch.randn(out.shape)
    (out * g).sum().backward()
    s_out, _ = s(to_np(x))
    assert_close("output", s_out, to_np(out))
    grad_x, _ = s.backward(to_np(g))
    assert_close("grad_x", grad_x, to_np(x.grad), rtol=GRAD_RTOL)
    for (k, tp), (_, sp) in zip(t.named_parameters(), s.named_parameters()):
        assert_close(f"{k}.grad", sp.grad, to_np(tp.grad), rtol=GRAD_RTOL)
