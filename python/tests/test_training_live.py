"""Live training parity against PyTorch on random configurations (skipped when torch is not importable).

Run with the reference venv:  PYTHONPATH=python "$PY" -m pytest python/tests/test_training_live.py -q
Weights come from torch (seeded), are copied into swiftrnn, and one step of Embedding -> RNN -> Linear ->
CrossEntropyLoss -> backward is compared with torch autograd (rtol=2e-4, atol=2e-5); with dropout, the
reference is the same RNN written out in torch ops with the masks swiftrnn drew. Optimizers are compared
over several steps with random hyperparameters.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import assert_close  # noqa: E402
import swiftrnn  # noqa: E402
from swiftrnn import nn, optim  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning")
RTOL, ATOL = 2e-4, 2e-5
REAL_DROPOUT_MASK = swiftrnn.random._dropout_mask
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def to_np(t):
    return t.detach().cpu().numpy()


def torch_rnn_with_masks(rnn, x, h0, masks):
    """torch.nn.RNN's computation in torch ops (time-major x), with the given dropout masks between layers."""
    D = 2 if rnn.bidirectional else 1
    act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
    inp, hn = x, []
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(rnn, "weight_ih" + sfx), getattr(rnn, "weight_hh" + sfx)
            b = (getattr(rnn, "bias_ih" + sfx), getattr(rnn, "bias_hh" + sfx)) if rnn.bias else (0, 0)
            h = h0[layer * D + d]
            out = [None] * x.shape[0]
            for t in (range(x.shape[0]) if d == 0 else range(x.shape[0] - 1, -1, -1)):
                h = act(inp[t] @ w_ih.T + b[0] + h @ w_hh.T + b[1])
                out[t] = h
            outs.append(torch.stack(out))
            hn.append(h)
        inp = torch.cat(outs, dim=-1)
        if layer < rnn.num_layers - 1:
            inp = inp * masks[layer]
    return inp, torch.stack(hn)


@st.composite
def pipeline_configs(draw):
    V = draw(st.integers(2, 12))
    cfg = {
        "V": V, "E": draw(st.integers(1, 6)), "H": draw(st.integers(1, 7)),
        "layers": draw(st.integers(1, 3)), "nonlinearity": draw(st.sampled_from(["tanh", "relu"])),
        "bias": draw(st.booleans()), "batch_first": draw(st.booleans()), "bidirectional": draw(st.booleans()),
        "L": draw(st.integers(1, 9)), "N": draw(st.integers(1, 4)), "unbatched": draw(st.booleans()),
        "h0": draw(st.booleans()), "grad_hn": draw(st.booleans()),
        "padding_idx": draw(st.one_of(st.none(), st.integers(-V, V - 1))),
        "scale_grad_by_freq": draw(st.booleans()),
        "ignore_index": draw(st.sampled_from([-100, 0, 1])),
        "label_smoothing": draw(st.sampled_from([0.0, 0.0, 0.1, 0.5])),
        "reduction": draw(st.sampled_from(["mean", "mean", "sum", "none"])),
        "weight": draw(st.booleans()),
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.4])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }
    return cfg


@SETTINGS
@given(cfg=pipeline_configs())
def test_random_pipelines_match_torch_autograd(cfg, monkeypatch):
    torch.manual_seed(cfg["seed"])
    V, E, H, L, N = cfg["V"], cfg["E"], cfg["H"], cfg["L"], cfg["N"]
    D = 2 if cfg["bidirectional"] else 1
    rkw = dict(num_layers=cfg["layers"], nonlinearity=cfg["nonlinearity"], bias=cfg["bias"],
               batch_first=cfg["batch_first"], bidirectional=cfg["bidirectional"], dropout=cfg["dropout"])
    ekw = dict(padding_idx=cfg["padding_idx"], scale_grad_by_freq=cfg["scale_grad_by_freq"])
    lkw = dict(ignore_index=cfg["ignore_index"], label_smoothing=cfg["label_smoothing"], reduction=cfg["reduction"])
    t_emb, t_rnn, t_fc = torch.nn.Embedding(V, E, **ekw), torch.nn.RNN(E, H, **rkw), torch.nn.Linear(D * H, V)
    s_emb, s_rnn, s_fc = nn.Embedding(V, E, **ekw), nn.RNN(E, H, **rkw), nn.Linear(D * H, V)
    for t, s in ((t_emb, s_emb), (t_rnn, s_rnn), (t_fc, s_fc)):
        s.load_state_dict({k: to_np(v) for k, v in t.state_dict().items()})
    weight = (torch.rand(V) + 0.5) if cfg["weight"] else None
    unbatched, bf = cfg["unbatched"], cfg["batch_first"]
    shape = (L,) if unbatched else ((N, L) if bf else (L, N))
    idx = torch.randint(0, V, shape)
    target = torch.randint(0, V, shape)
    if target.numel() > 1:
        target.view(-1)[::3] = cfg["ignore_index"] if cfg["ignore_index"] >= 0 else target.view(-1)[::3]
    hshape = (D * cfg["layers"], H) if unbatched else (D * cfg["layers"], N, H)
    h0 = torch.randn(hshape, requires_grad=True) if cfg["h0"] else None
    grad_hn = torch.randn(hshape) if cfg["grad_hn"] else None

    drawn = {}

    def recording_mask(shape, p):
        drawn["masks"] = REAL_DROPOUT_MASK(shape, p)
        return drawn["masks"]
    monkeypatch.setattr(swiftrnn.random, "_dropout_mask", recording_mask)

    # swiftrnn
    x = s_emb(idx.numpy())
    out, hn = s_rnn(x, None if h0 is None else to_np(h0))
    logits = s_fc(out)
    crit = nn.CrossEntropyLoss(weight=None if weight is None else weight.numpy(), **lkw)
    loss = crit(logits.reshape(-1, V), target.numpy().reshape(-1))
    grad_loss = torch.randn(target.numel()) if cfg["reduction"] == "none" else None
    g = crit.backward(None if grad_loss is None else grad_loss.numpy()).reshape(logits.shape)
    gx, gh0 = s_rnn.backward(s_fc.backward(g), None if grad_hn is None else grad_hn.numpy())
    s_emb.backward(gx)

    # torch
    tx = t_emb(idx)
    if "masks" in drawn:
        masks = torch.from_numpy(drawn["masks"])
        xt = tx.unsqueeze(1) if unbatched else (tx.transpose(0, 1) if bf else tx)
        h = h0 if h0 is not None else torch.zeros(hshape)
        tout, thn = torch_rnn_with_masks(t_rnn, xt, h.unsqueeze(1) if unbatched else h, masks)
        tout = tout.squeeze(1) if unbatched else (tout.transpose(0, 1) if bf else tout)
        thn = thn.squeeze(1) if unbatched else thn
    else:
        tout, thn = t_rnn(tx, h0)
    tloss = torch.nn.CrossEntropyLoss(weight=weight, **lkw)(t_fc(tout).reshape(-1, V), target.reshape(-1))
    total = (tloss * grad_loss).sum() if grad_loss is not None else tloss
    if grad_hn is not None:
        total = total + (thn * grad_hn).sum()
    total.backward()

    assert_close("loss", np.asarray(loss, dtype=np.float32), to_np(tloss), RTOL, ATOL)
    assert_close("hn", hn, to_np(thn), RTOL, ATOL)
    assert_close("embedding.weight.grad", s_emb.weight.grad, to_np(t_emb.weight.grad), RTOL, ATOL)
    assert_close("fc.weight.grad", s_fc.weight.grad, to_np(t_fc.weight.grad), RTOL, ATOL)
    assert_close("fc.bias.grad", s_fc.bias.grad, to_np(t_fc.bias.grad), RTOL, ATOL)
    for (name, tp), (_, sp) in zip(t_rnn.named_parameters(), s_rnn.named_parameters()):
        assert_close(f"rnn.{name}.grad", sp.grad, to_np(tp.grad), RTOL, ATOL)
    if h0 is not None:
        assert_close("h0.grad", gh0, to_np(h0.grad), RTOL, ATOL)


@st.composite
def optimizer_configs(draw):
    kind = draw(st.sampled_from(["SGD", "Adam", "AdamW"]))
    if kind == "SGD":
        momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
        nesterov = momentum > 0 and draw(st.booleans())
        kw = dict(lr=draw(st.sampled_from([0.01, 0.1, 1.0])), momentum=momentum,
                  dampening=0.0 if nesterov else draw(st.sampled_from([0.0, 0.3])),
                  weight_decay=draw(st.sampled_from([0.0, 0.01])), nesterov=nesterov, maximize=draw(st.booleans()))
    else:
        kw = dict(lr=draw(st.sampled_from([1e-3, 1e-2, 0.1])),
                  betas=(draw(st.sampled_from([0.0, 0.5, 0.9])), draw(st.sampled_from([0.9, 0.99, 0.999]))),
                  eps=draw(st.sampled_from([1e-8, 1e-6, 1e-3])),
                  weight_decay=draw(st.sampled_from([0.0, 0.01, 0.5])), amsgrad=draw(st.booleans()),
                  maximize=draw(st.booleans()))
    return kind, kw, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(case=optimizer_configs())
def test_random_optimizers_follow_torch(case):
    kind, kw, seed = case
    torch.manual_seed(seed)
    tparams = [torch.nn.Parameter(torch.randn(3, 4)), torch.nn.Parameter(torch.randn(7))]
    sparams = [nn.Parameter(to_np(p)) for p in tparams]
    topt, sopt = getattr(torch.optim, kind)(tparams, **kw), getattr(optim, kind)(sparams, **kw)
    for step in range(5):
        scale = 10.0 ** torch.empty(1).uniform_(-4, 1).item()
        for tp, sp in zip(tparams, sparams):
            tp.grad = torch.randn(tp.shape) * scale
            sp.grad = to_np(tp.grad)
        topt.step()
        sopt.step()
        for i, (tp, sp) in enumerate(zip(tparams, sparams)):
            assert_close(f"{kind} {kw} p{i} step {step}", sp, to_np(tp), 1e-5, 1e-7)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(max_norm=st.sampled_from([0.01, 0.5, 3.0, 100.0]), norm_type=st.sampled_from([1.0, 2.0, 2.5, float("inf")]),
       seed=st.integers(0, 2**31 - 1))
def test_random_clipping_follows_torch(max_norm, norm_type, seed):
    torch.manual_seed(seed)
    grads = [torch.randn(4, 3), torch.randn(5) * 10]
    tparams = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    sparams = [nn.Parameter(np.zeros(tuple(g.shape))) for g in grads]
    for tp, sp, g in zip(tparams, sparams, grads):
        tp.grad, sp.grad = g.clone(), to_np(g)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    stotal = nn.utils.clip_grad_norm_(sparams, max_norm, norm_type)
    assert_close("total norm", np.asarray(stotal), to_np(ttotal), 1e-6, 1e-7)
    for i, (tp, sp) in enumerate(zip(tparams, sparams)):
        assert_close(f"grad{i}", sp.grad, to_np(tp.grad), 1e-6, 1e-7)


@pytest.mark.parametrize("kind, kw", [("Adam", {"lr": 0.01, "amsgrad": True}), ("AdamW", {"lr": 0.01}),
                                      ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_torch_optimizer_state_dict_loads_and_training_continues_identically(kind, kw):
    torch.manual_seed(7)
    tparams = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4))]
    topt = getattr(torch.optim, kind)(tparams, **kw)
    for _ in range(3):
        for p in tparams:
            p.grad = torch.randn(p.shape)
        topt.step()
    sparams = [nn.Parameter(to_np(p)) for p in tparams]
    sopt = getattr(optim, kind)(sparams, **kw)
    sopt.load_state_dict(topt.state_dict())
    for _ in range(3):
        for tp, sp in zip(tparams, sparams):
            tp.grad = torch.randn(tp.shape)
            sp.grad = to_np(tp.grad)
        topt.step()
        sopt.step()
    for i, (tp, sp) in enumerate(zip(tparams, sparams)):
        assert_close(f"{kind} p{i}", sp, to_np(tp), 1e-5, 1e-7)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("where", ["output", "weight_hh_l0"])
def test_non_finite_values_without_h0_give_torch_nan_gradients(bad, where):
    # A diverged step: an Inf or NaN in the output gradient's first step, or in W_hh. torch's zero h0
    # turns them into NaN gradients (0 * inf); swiftrnn's omitted h0 must give the same NaN positions.
    torch.manual_seed(11)
    ref = torch.nn.RNN(3, 4, num_layers=2)
    ours = nn.RNN(3, 4, num_layers=2)
    if where == "weight_hh_l0":
        with torch.no_grad():
            ref.weight_hh_l0[2, 1] = float(bad)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 2, 3)
    g = torch.randn(3, 2, 4)
    if where == "output":
        g[0, 1, 2] = float(bad)
    xr = x.clone().requires_grad_()
    out_ref, _ = ref(xr)
    out_ref.backward(g)
    out, _ = ours(x.numpy())
    dx, _ = ours.backward(g.numpy())
    pairs = [("input", dx, xr.grad)] + [(n, getattr(ours, n).grad, p.grad) for n, p in ref.named_parameters()]
    for name, got, want in pairs:
        assert_close(name, got, want.numpy(), rtol=RTOL, atol=ATOL)  # NaN must meet NaN, Inf the same Inf
    assert np.isnan(ours.weight_hh_l0.grad).any()
