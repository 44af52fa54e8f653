"""Live parity against PyTorch on random configurations (skipped when torch is not importable).

Run with the reference venv:  PYTHONPATH=python "$PY" -m pytest python/tests/test_live_parity.py -q
Weights are created by torch (torch.manual_seed), copied into swiftrnn with load_state_dict, and the
outputs compared with rtol=1e-4, atol=2e-5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import assert_close, assert_float32_output  # noqa: E402
from swiftrnn import nn  # noqa: E402

tnn = torch.nn
TF = torch.nn.functional
F = nn.functional

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning")

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = settings(max_examples=30, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


def to_np(t):
    return t.detach().cpu().numpy()


def copy_state(src, dst):
    dst.load_state_dict({k: v.detach().numpy() for k, v in src.state_dict().items()})


# ----------------------------------------------------------------------------------------------
# RNN
# ----------------------------------------------------------------------------------------------

@st.composite
def rnn_configs(draw):
    layers = draw(st.integers(1, 3))
    kwargs = {
        "input_size": draw(st.integers(1, 8)),
        "hidden_size": draw(st.integers(1, 10)),
        "num_layers": layers,
        "nonlinearity": draw(st.sampled_from(["tanh", "relu"])),
        "bias": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bidirectional": draw(st.booleans()),
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.3, 0.9])),
    }
    unbatched = draw(st.booleans()) if draw(st.integers(0, 3)) == 0 else False
    seq = draw(st.integers(1, 6))
    batch = draw(st.integers(0, 4)) if not unbatched else None
    with_h0 = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1.0, 1.0, 3.0]))
    return kwargs, unbatched, seq, batch, with_h0, seed, scale


@SETTINGS
@given(rnn_configs())
def test_rnn_live(cfg):
    kwargs, unbatched, seq, batch, with_h0, seed, scale = cfg
    torch.manual_seed(seed)
    ref = tnn.RNN(**kwargs).eval()
    ours = nn.RNN(**kwargs)
    ours.eval()
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    copy_state(ref, ours)
    D = 2 if kwargs["bidirectional"] else 1
    H, L = kwargs["hidden_size"], kwargs["num_layers"]
    if unbatched:
        x = torch.randn(seq, kwargs["input_size"]) * scale
        h0 = torch.randn(D * L, H) if with_h0 else None
    else:
        shape = (batch, seq) if kwargs["batch_first"] else (seq, batch)
        x = torch.randn(*shape, kwargs["input_size"]) * scale
        h0 = torch.randn(D * L, batch, H) if with_h0 else None
    with torch.no_grad():
        ref_out, ref_hn = ref(x, h0)
    out, hn = ours(to_np(x), to_np(h0)) if with_h0 else ours(to_np(x))
    assert_float32_output("output", out)
    assert_float32_output("hn", hn)
    assert_close(f"output {kwargs} unbatched={unbatched}", out, to_np(ref_out))
    assert_close(f"hn {kwargs} unbatched={unbatched}", hn, to_np(ref_hn))


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 64), st.integers(1, 80), st.integers(1, 2), st.booleans(), st.integers(0, 40),
       st.integers(1, 4), st.sampled_from([1, 2, 4]), st.integers(0, 2**31 - 1))
def test_rnn_and_linear_live_larger_sizes(in_size, hidden, layers, bidir, batch, seq, threads, seed):
    """Sizes that exercise the SIMD tails, blocking and threading of the kernels."""
    import swiftrnn

    torch.manual_seed(seed)
    ref = tnn.RNN(in_size, hidden, num_layers=layers, bidirectional=bidir)
    ours = nn.RNN(in_size, hidden, num_layers=layers, bidirectional=bidir)
    copy_state(ref, ours)
    x = torch.randn(seq, batch, in_size)
    lin_ref = tnn.Linear(in_size, hidden)
    lin = nn.Linear(in_size, hidden)
    copy_state(lin_ref, lin)
    saved = swiftrnn.get_num_threads()
    try:
        swiftrnn.set_num_threads(threads)
        out, hn = ours(x.numpy())
        lin_out = lin(x.numpy())
    finally:
        swiftrnn.set_num_threads(saved)
    with torch.no_grad():
        ref_out, ref_hn = ref(x)
        ref_lin = lin_ref(x)
    name = f"RNN({in_size}, {hidden}, num_layers={layers}, bidirectional={bidir}) x{tuple(x.shape)} threads={threads}"
    assert_close(name + " output", out, to_np(ref_out))
    assert_close(name + " hn", hn, to_np(ref_hn))
    assert_close(f"Linear({in_size}, {hidden}) x{tuple(x.shape)} threads={threads}", lin_out, to_np(ref_lin))


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("layers, bidir, where", [(1, False, "weight_hh_l0"), (2, False, "weight_hh_l1"),
                                                  (2, True, "weight_hh_l0_reverse")])
def test_rnn_non_finite_recurrent_weight_without_h0_matches_torch(value, layers, bidir, where):
    # torch multiplies its zero initial state by W_hh: 0 * inf = NaN, which then spreads (a diverged model).
    torch.manual_seed(3)
    ref = tnn.RNN(3, 4, num_layers=layers, bidirectional=bidir)
    with torch.no_grad():
        getattr(ref, where)[1, 2] = value
    ours = nn.RNN(3, 4, num_layers=layers, bidirectional=bidir)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 2, 3)
    with torch.no_grad():
        ref_out, ref_hn = ref(x)
    out, hn = ours(x.numpy())
    for name, got, want in (("output", out, to_np(ref_out)), ("hn", hn, to_np(ref_hn))):
        assert np.isnan(want).any()
        assert_close(name, got, want)  # NaN must meet NaN


@SMALL
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.booleans())
def test_rnn_load_state_dict_accepts_torch_tensors(seed, layers, bidir):
    torch.manual_seed(seed)
    ref = tnn.RNN(3, 4, num_layers=layers, bidirectional=bidir)
    ours = nn.RNN(3, 4, num_layers=layers, bidirectional=bidir)
    ours.load_state_dict(ref.state_dict())  # torch tensors directly (no requires_grad ones)
    ours2 = nn.RNN(3, 4, num_layers=layers, bidirectional=bidir)
    ours2.load_state_dict(dict(ref.named_parameters()))  # parameters that require grad
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        ref_out, ref_hn = ref(x)
    for m in (ours, ours2):
        out, hn = m(x.numpy())
        assert_close("output", out, to_np(ref_out))
        assert_close("hn", hn, to_np(ref_hn))


def test_rnn_metadata_matches_torch_for_every_option_combination():
    for layers in (1, 2, 3):
        for nonlin in ("tanh", "relu"):
            for bias in (True, False):
                for bf in (True, False):
                    for bidir in (True, False):
                        for dropout in (0.0, 0.5):
                            kw = dict(num_layers=layers, nonlinearity=nonlin, bias=bias, batch_first=bf,
                                      bidirectional=bidir, dropout=dropout)
                            ref = tnn.RNN(5, 6, **kw)
                            ours = nn.RNN(5, 6, **kw)
                            assert repr(ours) == repr(ref)
                            assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
                            assert ([(n, tuple(np.shape(p))) for n, p in ours.named_parameters()]
                                    == [(n, tuple(p.shape)) for n, p in ref.named_parameters()])


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------

INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@st.composite
def embedding_configs(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(0, 9))
    padding_idx = draw(st.one_of(st.none(), st.integers(-n, n - 1)))
    max_norm = draw(st.one_of(st.none(), st.floats(0.05, 3.0)))
    norm_type = draw(st.sampled_from([2.0, 1.0, 3.5, math.inf, 0.5]))
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0 if ndim > 1 else 1, 4), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(INT_DTYPES))
    calls = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    pretrained = draw(st.booleans())
    return n, d, padding_idx, max_norm, norm_type, shape, dtype, calls, seed, pretrained


@SETTINGS
@given(embedding_configs())
def test_embedding_live(cfg):
    n, d, padding_idx, max_norm, norm_type, shape, dtype, calls, seed, pretrained = cfg
    torch.manual_seed(seed)
    kw = dict(padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type)
    weight = torch.randn(n, d) * (torch.rand(n, 1) * 3)
    if pretrained:
        ref = tnn.Embedding.from_pretrained(weight.clone(), **kw)
        ours = nn.Embedding.from_pretrained(weight.numpy().copy(), **kw)
    else:
        ref = tnn.Embedding(n, d, **kw)
        ours = nn.Embedding(n, d, **kw)
        with torch.no_grad():
            ref.weight.copy_(weight)
        ours.load_state_dict({"weight": weight.numpy()})
    assert repr(ours) == repr(ref)
    assert ours.padding_idx == ref.padding_idx
    for _ in range(calls):
        idx = torch.randint(0, n, shape)
        with torch.no_grad():
            ref_out = ref(idx)
        out = ours(idx.numpy().astype(dtype))
        assert_float32_output("output", out)
        assert_close(f"output n={n} d={d} {kw} shape={shape}", out, to_np(ref_out))
        assert_close(f"weight after n={n} d={d} {kw}", np.asarray(ours.state_dict()["weight"]),
                     to_np(ref.weight))


def test_embedding_padding_init_matches_torch_semantics():
    for n, pad in [(5, 0), (5, 4), (5, -1), (5, -5), (1, 0)]:
        ref = tnn.Embedding(n, 3, padding_idx=pad)
        ours = nn.Embedding(n, 3, padding_idx=pad)
        assert ours.padding_idx == ref.padding_idx
        assert repr(ours) == repr(ref)
        w = np.asarray(ours.state_dict()["weight"])
        assert np.all(w[ref.padding_idx] == 0)


# ----------------------------------------------------------------------------------------------
# Linear
# ----------------------------------------------------------------------------------------------

@SETTINGS
@given(st.integers(1, 12), st.integers(1, 12), st.booleans(),
       st.lists(st.integers(0, 4), min_size=0, max_size=3), st.integers(0, 2**31 - 1))
def test_linear_live(in_f, out_f, bias, lead, seed):
    torch.manual_seed(seed)
    ref = tnn.Linear(in_f, out_f, bias=bias)
    ours = nn.Linear(in_f, out_f, bias=bias)
    assert repr(ours) == repr(ref)
    copy_state(ref, ours)
    x = torch.randn(*lead, in_f)
    with torch.no_grad():
        ref_out = ref(x)
    out = ours(x.numpy())
    assert_float32_output("output", out)
    assert_close(f"Linear({in_f}, {out_f}, bias={bias}) x{tuple(x.shape)}", out, to_np(ref_out))


# ----------------------------------------------------------------------------------------------
# softmax / log_softmax
# ----------------------------------------------------------------------------------------------

@st.composite
def softmax_inputs(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))
    seed = draw(st.integers(0, 2**31 - 1))
    nd = max(len(shape), 1)
    dim = draw(st.integers(-nd, nd - 1))
    scale = draw(st.sampled_from([1.0, 10.0, 1000.0]))
    specials = draw(st.lists(st.sampled_from([-math.inf, math.inf, math.nan, 1000.0, -1000.0]), max_size=3))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * scale
    flat = x.view(-1)
    for i, v in enumerate(specials):
        if flat.numel():
            flat[(i * 7 + seed) % flat.numel()] = v
    return x, dim


@SETTINGS
@given(softmax_inputs())
def test_softmax_live(inp):
    x, dim = inp
    sm = F.softmax(x.numpy(), dim)
    lsm = F.log_softmax(x.numpy(), dim)
    assert_float32_output("softmax", sm)
    assert_float32_output("log_softmax", lsm)
    assert_close(f"softmax shape={tuple(x.shape)} dim={dim}", sm, to_np(TF.softmax(x, dim)))
    assert_close(f"log_softmax shape={tuple(x.shape)} dim={dim}", lsm, to_np(TF.log_softmax(x, dim)))


# ----------------------------------------------------------------------------------------------
# Error types where torch is precise
# ----------------------------------------------------------------------------------------------

def test_error_types_match_torch_where_torch_is_precise():
    cases = [
        (lambda m: m.RNN(3, 4, nonlinearity="gelu"), ValueError),
        (lambda m: m.RNN(3, 4, dropout=1.5), ValueError),
        (lambda m: m.RNN(3, 0), ValueError),
        (lambda m: m.RNN(3, 4, num_layers=0), ValueError),
        (lambda m: m.RNN(3, 4.0), TypeError),
        (lambda m: m.Embedding(10, 4.0), TypeError),
    ]
    for make, exc in cases:
        with pytest.raises(exc):
            make(tnn)
        with pytest.raises(exc):
            make(nn)
    with pytest.raises(IndexError):
        TF.softmax(torch.zeros(2, 3), 2)
    with pytest.raises(IndexError):
        F.softmax(np.zeros((2, 3), np.float32), 2)
    with pytest.raises(IndexError):
        tnn.Embedding(10, 4)(torch.tensor([10]))
    with pytest.raises(IndexError):
        nn.Embedding(10, 4)(np.array([10]))


@pytest.mark.parametrize("make", [lambda lib: lib.RNN(3, 5, 2, bidirectional=True), lambda lib: lib.Linear(4, 3),
                                  lambda lib: lib.Embedding(6, 3, padding_idx=-2)])
def test_reset_parameters_matches_torch_after_the_same_seed(make):
    import swiftrnn
    ref, ours = make(tnn), make(nn)
    torch.manual_seed(7)
    swiftrnn.manual_seed(7)
    ref.reset_parameters()
    ours.reset_parameters()
    for name, value in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], to_np(value), err_msg=name)
    assert torch.rand(1).item() == swiftrnn.rand(1)[0]  # both generators left in the same state
