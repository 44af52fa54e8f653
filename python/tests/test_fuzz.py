"""Property-based fuzzing of the Python API (hypothesis): constructors, calls and load_state_dict.

Whatever goes in — random shapes, dtypes, strides, byte orders, 0-size and 0-d arrays, and junk
(None, strings, bytes, ragged lists, object/complex/bool/float16/datetime arrays, huge ints, NaN
sizes) — the only outcomes are a correct result or one of a fixed list of clean Python exceptions;
never a crash, a SystemError or a half-done change. Inputs are never modified; a failed call leaves
the module unchanged; a failed load_state_dict leaves every parameter as it was.

Bounded for CI (~10-20 s in all); SRNN_FUZZ_EXAMPLES=N raises the number of examples per test.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402

F = nn.functional

# The exceptions the API may raise for bad input; anything else (SystemError, RuntimeError,
# AttributeError, a crash) is a bug.
CLEAN = (TypeError, ValueError, IndexError, KeyError, OverflowError, MemoryError)

EXAMPLES = int(os.environ.get("SRNN_FUZZ_EXAMPLES", "0"))


def fuzz_settings(n):
    return settings(max_examples=EXAMPLES or n, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------------

FLOAT_DTYPES = [np.float16, np.float32, np.float64, np.longdouble, np.dtype(">f4"), np.dtype(">f8")]
OTHER_DTYPES = [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_, np.complex64, np.complex128,
                np.dtype("U3"), np.dtype("S2"), np.dtype("datetime64[s]"), np.dtype("timedelta64[ms]"),
                np.dtype([("a", np.float32), ("b", np.float32)]), np.dtype(object)]

DEEP = 1.0
for _ in range(40):
    DEEP = [DEEP]  # nested deeper than NumPy's 32 (or 64) dimensions

ODD_FLOATS = [0.0, -0.0, 1.0, -3.5, 1e-45, 3e38, -3e38, float("inf"), float("-inf"), float("nan"), 65504.0]
odd_floats = st.sampled_from(ODD_FLOATS)


def _fill(dtype):
    kind = np.dtype(dtype).kind
    if kind == "f":
        # The odd values as the dtype stores them (1e-45 is float32's smallest subnormal), less those it
        # cannot hold (3e38 and 1e-45 in float16 would become inf and 0): some hypothesis versions
        # reject an element that changes when stored; inf and nan are in the list anyway.
        with np.errstate(all="ignore"):
            stored = [(v, float(np.array(v, dtype))) for v in ODD_FLOATS]
        held = [s for v, s in stored if v != v or ((s != 0) == (v != 0) and np.isinf(s) == np.isinf(v))]
        return st.one_of(st.floats(-4, 4, width=16 if np.dtype(dtype).itemsize == 2 else 32), st.sampled_from(held))
    return None


@st.composite
def layouts(draw, arr):
    """The same values in another memory layout: strided, reversed, transposed, misaligned, read-only,
    Fortran order, or a subclass."""
    how = draw(st.sampled_from(["plain", "strided", "reversed", "fortran", "misaligned", "readonly", "masked"]))
    if how == "strided" and arr.ndim:
        big = np.repeat(arr, 2, axis=arr.ndim - 1)
        return big[..., ::2]
    if how == "reversed" and arr.ndim:
        return np.ascontiguousarray(arr[::-1])[::-1]
    if how == "fortran":
        return np.asfortranarray(arr)
    if how == "misaligned" and arr.dtype.kind in "fiu" and arr.dtype.itemsize > 1:
        raw = bytearray(arr.nbytes + 1)
        out = np.frombuffer(raw, dtype=arr.dtype, offset=1, count=arr.size).reshape(arr.shape)
        out[...] = arr
        return out
    if how == "readonly":
        out = arr.copy()
        out.flags.writeable = False
        return out
    if how == "masked":
        return np.ma.masked_array(arr)
    return arr


def float_arrays(shape):
    return st.sampled_from(FLOAT_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, shape, elements=_fill(dt))).flatmap(layouts)


junk = st.one_of(
    st.none(), st.text(max_size=4), st.binary(max_size=4), st.booleans(),
    st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.complex_numbers(max_magnitude=10),
    st.sampled_from([object(), {}, set(), (), [], [[]], [[1, 2], [3]], [[1.0], 2.0], [None], ["a"], [1, "a"],
                     DEEP,
                     range(3), b"\x00\x01", bytearray(b"\x00\x00\x00\x00"), memoryview(b"abcd"),
                     np.float32(1.5), np.int64(-1), np.array(2**70, dtype=object), np.array([2**64, 1], dtype=object),
                     np.array([1, None], dtype=object), np.array([1.0, 2.0], dtype=object), lambda: 1]),
    st.sampled_from(OTHER_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
                              elements=st.just(1) if np.dtype(dt).kind in "OV" else None)),
)

# Huge sizes start at 2**40: times any other non-zero size that is over a TiB, so a constructor must
# refuse at once. (2**31 x 2 floats = 16 GiB is a legitimate allocation here and is not fuzzed.)
sizes = st.one_of(
    st.integers(0, 6), st.integers(-3, -1), st.sampled_from([2**40, 2**62, 2**63, 2**64, 2**100, -2**63]),
    st.sampled_from([np.int64(3), np.uint8(2), np.int32(-1), 2.0, float("nan"), float("inf"), True, None, "3", [3]]),
)


def check_param(p, shape=None):
    """Parameters: float32 C-contiguous ndarrays (nn.Parameter, an ndarray subclass, after training landed)."""
    assert isinstance(p, np.ndarray) and p.dtype == np.float32 and p.flags.c_contiguous
    if shape is not None:
        assert p.shape == tuple(shape), (p.shape, shape)


def check_output(out, shape=None):
    assert isinstance(out, np.ndarray) and type(out) is np.ndarray
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.flags.writeable
    if shape is not None:
        assert out.shape == tuple(shape), (out.shape, shape)


def snapshot(obj):
    """A deep copy of an input to compare against afterwards (None if it cannot be compared)."""
    if isinstance(obj, np.ndarray) and obj.dtype.kind != "O":
        return obj.copy()
    return None


def unchanged(before, after):
    """Bit for bit (NaN and NaT included)."""
    if before is None:
        return True
    after = np.asarray(after)
    return (before.shape == after.shape and before.dtype == after.dtype
            and np.ascontiguousarray(before).tobytes() == np.ascontiguousarray(after).tobytes())


def module_state(m):
    return {k: v.copy() for k, v in m.state_dict().items()}


def assert_same_state(m, before):
    after = m.state_dict()
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=f"{k} changed")


# ---------------------------------------------------------------------------------------------------
# constructors
# ---------------------------------------------------------------------------------------------------

@fuzz_settings(300)
@given(a=sizes, b=sizes, kind=st.sampled_from(["Embedding", "Linear", "RNN"]),
       layers=st.one_of(st.integers(1, 3), sizes), flags=st.lists(st.one_of(st.booleans(), junk), min_size=3, max_size=3),
       extra=st.one_of(st.none(), junk, st.floats(-2, 2)))
def test_constructors_raise_only_clean_exceptions(a, b, kind, layers, flags, extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if kind == "Embedding":
                m = nn.Embedding(a, b, padding_idx=extra if not isinstance(extra, float) else None,
                                 max_norm=extra if isinstance(extra, float) else None)
                assert m.weight.shape == (a, b)
            elif kind == "Linear":
                m = nn.Linear(a, b, bias=flags[0])
                assert m.weight.shape == (b, a)
            else:
                m = nn.RNN(a, b, num_layers=layers, bias=flags[0], batch_first=flags[1], bidirectional=flags[2],
                           dropout=extra if isinstance(extra, float) else 0.0)
                assert m.weight_hh_l0.shape == (b, b)
        except CLEAN:
            return
    for p in m.parameters():
        check_param(p)


# ---------------------------------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------------------------------

index_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
index_arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.dtype(">i8")]), index_shapes,
               elements=st.integers(-2, 7)).flatmap(layouts),
    hnp.arrays(st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64]), index_shapes,
               elements=st.integers(0, 7)).flatmap(layouts),
    st.just(np.array([2**63, 1], dtype=np.uint64)), st.just(np.array([2**64 - 1], dtype=np.uint64)),
    st.lists(st.integers(-2**65, 2**65), max_size=4), st.integers(-3, 8), junk)


@fuzz_settings(300)
@given(rows=st.integers(0, 6), dim=st.integers(0, 4), idx=index_arrays,
       max_norm=st.one_of(st.none(), st.floats(0, 3)), norm_type=st.sampled_from([1.0, 2.0, 3.5, float("inf")]))
def test_embedding_calls(rows, dim, idx, max_norm, norm_type):
    emb = nn.Embedding(rows, dim, max_norm=max_norm, norm_type=norm_type)
    before_idx, before_state = snapshot(idx), module_state(emb)
    try:
        out = emb(idx)
    except CLEAN:
        assert_same_state(emb, before_state)  # a failed lookup renormalises nothing
        assert unchanged(before_idx, idx)
        return
    assert unchanged(before_idx, idx)
    i = np.asarray(idx)
    assert i.dtype.kind in "iu" or i.size == 0
    check_output(out, i.shape + (dim,))
    assert i.size == 0 or (i.min() >= 0 and i.max() < rows)
    np.testing.assert_array_equal(out, emb.weight[i.astype(np.int64)])  # after any renormalisation
    if max_norm is None:
        assert_same_state(emb, before_state)


@fuzz_settings(150)
@given(weight=st.one_of(hnp.arrays(st.sampled_from(FLOAT_DTYPES + [np.int32]),
                                   hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                                   elements=st.integers(-3, 3)).flatmap(layouts), junk),
       idx=index_arrays, max_norm=st.one_of(st.none(), st.floats(0, 2)))
def test_functional_embedding(weight, idx, max_norm):
    before_w, before_i = snapshot(weight), snapshot(idx)
    try:
        out = F.embedding(idx, weight, max_norm=max_norm)
    except CLEAN:
        assert unchanged(before_w, weight)
        assert unchanged(before_i, idx)
        return
    assert unchanged(before_i, idx)
    check_output(out)
    if max_norm is None:
        assert unchanged(before_w, weight)


# ---------------------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------------------

@fuzz_settings(300)
@given(in_f=st.integers(0, 5), out_f=st.integers(0, 5), bias=st.booleans(),
       x=st.one_of(st.tuples(st.just("shape"), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
                             st.booleans()),
                   junk.map(lambda j: ("junk", j, None))))
def test_linear_calls(in_f, out_f, bias, x):
    lin = nn.Linear(in_f, out_f, bias=bias)
    tag, x, right_width = x
    if tag == "shape":
        shape = x[:-1] + (in_f,) if right_width and x else x
        x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    before_x, before_state = snapshot(x), module_state(lin)
    try:
        out = lin(x)
    except CLEAN:
        assert unchanged(before_x, x)
        assert_same_state(lin, before_state)
        return
    assert unchanged(before_x, x)
    assert_same_state(lin, before_state)
    xa = np.asarray(x, dtype=np.float64)
    check_output(out, xa.shape[:-1] + (out_f,))
    ref = xa @ lin.weight.T.astype(np.float64) + (lin.bias if bias else 0)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


@fuzz_settings(200)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4), data=st.data())
def test_linear_dtypes_and_layouts(shape, data):
    lin = nn.Linear(shape[-1], 3)
    x = data.draw(float_arrays(shape))
    before = snapshot(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = lin(x)
        ref = np.asarray(x).astype(np.float32).astype(np.float64) @ lin.weight.T.astype(np.float64) + lin.bias
    assert unchanged(before, x)
    check_output(out, shape[:-1] + (3,))
    # rows whose float32 computation stays in range (3e38 inputs overflow float32 sums, as in torch)
    with np.errstate(invalid="ignore"):
        ok = (np.abs(ref) < 1e30).all(axis=-1) & (np.abs(np.asarray(x, dtype=np.float64)) < 1e30).all(axis=-1)
    np.testing.assert_allclose(out[ok], ref[ok], rtol=1e-4, atol=1e-3)


@fuzz_settings(150)
@given(x=st.one_of(float_arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3)), junk),
       weight=st.one_of(float_arrays(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)), junk),
       bias=st.one_of(st.none(), float_arrays(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)), junk))
def test_functional_linear(x, weight, bias):
    snaps = [snapshot(v) for v in (x, weight, bias)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = F.linear(x, weight, bias)
        except CLEAN:
            out = None
    for s, v in zip(snaps, (x, weight, bias)):
        assert unchanged(s, v)
    if out is not None:
        check_output(out)


# ---------------------------------------------------------------------------------------------------
# softmax
# ---------------------------------------------------------------------------------------------------

@fuzz_settings(200)
@given(x=st.one_of(float_arrays(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)), junk),
       dim=st.one_of(st.integers(-4, 4), st.sampled_from([None, 2**64, -2**70, 1.0, "0", np.int64(0)])),
       log=st.booleans())
def test_softmax_calls(x, dim, log):
    before = snapshot(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = (F.log_softmax if log else F.softmax)(x, dim)
        except CLEAN:
            assert unchanged(before, x)
            return
    assert unchanged(before, x)
    check_output(out, np.shape(x))
    xa = np.asarray(x, dtype=np.float32).astype(np.float64)
    if xa.size and np.isfinite(xa).all():
        d = 0 if xa.ndim == 0 else int(dim if dim is not None else (0 if xa.ndim in (0, 1, 3) else 1))
        ref = np.exp(xa - xa.max(axis=d, keepdims=True)) if xa.ndim else np.ones_like(xa)
        ref = ref / ref.sum(axis=d, keepdims=True) if xa.ndim else ref
        np.testing.assert_allclose(np.exp(out) if log else out, ref, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# RNN
# ---------------------------------------------------------------------------------------------------

def ref_rnn(rnn, x, h0):
    """float64 NumPy reference of torch.nn.RNN's forward (batched, time-major x).

    Also returns the largest bound on any float32 partial sum of a pre-activation,
    sum |w| |x| + sum |w| |h| + |b|: while it stays below float32's range every summation order
    gives a finite value near the reference; past it the result depends on the order (inf - inf is
    nan), so float32 has no single right answer to compare with."""
    D = 2 if rnn.bidirectional else 1
    act = np.tanh if rnn.nonlinearity == "tanh" else (lambda v: np.maximum(v, 0))
    L, N, _ = x.shape
    H = rnn.hidden_size
    layer_in = x.astype(np.float64)
    hn = np.zeros((D * rnn.num_layers, N, H))
    bound = 0.0
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(rnn, "weight_ih" + sfx), getattr(rnn, "weight_hh" + sfx)
            b_ih, b_hh = (getattr(rnn, "bias_ih" + sfx), getattr(rnn, "bias_hh" + sfx)) if rnn.bias else (0, 0)
            b = b_ih + np.asarray(b_hh, dtype=np.float64)
            abs_b = np.abs(b_ih) + np.abs(np.asarray(b_hh, dtype=np.float64))
            h = h0[layer * D + d].astype(np.float64) if h0 is not None else np.zeros((N, H))
            out = np.zeros((L, N, H))
            for t in (range(L) if d == 0 else reversed(range(L))):
                sums = np.abs(layer_in[t]) @ np.abs(w_ih).T + np.abs(h) @ np.abs(w_hh).T + abs_b
                bound = max(bound, float(np.nan_to_num(sums, nan=np.inf).max(initial=0)))
                h = act(layer_in[t] @ w_ih.T + h @ w_hh.T + b)
                out[t] = h
            hn[layer * D + d] = h
            outs.append(out)
        layer_in = np.concatenate(outs, axis=-1)
    return layer_in, hn, bound


rnn_configs = st.fixed_dictionaries({
    "input_size": st.integers(0, 4), "hidden_size": st.integers(1, 4), "num_layers": st.integers(1, 3),
    "nonlinearity": st.sampled_from(["tanh", "relu"]), "bias": st.booleans(), "batch_first": st.booleans(),
    "bidirectional": st.booleans()})


@fuzz_settings(250)
@given(cfg=rnn_configs, L=st.integers(0, 4), N=st.integers(0, 3), unbatched=st.booleans(),
       with_h0=st.booleans(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_rnn_valid_calls_match_reference(cfg, L, N, unbatched, with_h0, seed, data):
    swiftrnn.manual_seed(seed)  # the weights are part of the example: a failure must replay
    rnn = nn.RNN(**cfg)
    D = 2 if cfg["bidirectional"] else 1
    H, I = cfg["hidden_size"], cfg["input_size"]
    if unbatched:
        x = data.draw(float_arrays((L, I)))
        h0 = data.draw(float_arrays((D * cfg["num_layers"], H))) if with_h0 else None
    else:
        xshape = (N, L, I) if cfg["batch_first"] else (L, N, I)
        x = data.draw(float_arrays(xshape))
        h0 = data.draw(float_arrays((D * cfg["num_layers"], N, H))) if with_h0 else None
    snaps, before_state = (snapshot(x), snapshot(h0)), module_state(rnn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out, hn = rnn(x, h0)
        except ValueError as e:
            assert L == 0, f"valid call failed: {e}"
            return
        assert L > 0
        x32 = np.asarray(x).astype(np.float32)
        h32 = None if h0 is None else np.asarray(h0).astype(np.float32)
    assert unchanged(snaps[0], x) and unchanged(snaps[1], h0)
    assert_same_state(rnn, before_state)
    if unbatched:
        x32, h32 = x32[:, None], (None if h32 is None else h32[:, None])
    elif cfg["batch_first"]:
        x32 = x32.transpose(1, 0, 2)
    with np.errstate(all="ignore"):  # inf and 3e38 inputs are drawn on purpose
        ref_out, ref_hn, bound = ref_rnn(rnn, x32, h32)
    if unbatched:
        ref_out, ref_hn = ref_out[:, 0], ref_hn[:, 0]
    elif cfg["batch_first"]:
        ref_out = ref_out.transpose(1, 0, 2)
    check_output(out, ref_out.shape)
    check_output(hn, ref_hn.shape)
    # Compared only where float32 has one answer: no partial sum can overflow (an inf input, or
    # -3e38 - 3e38, gives inf or nan by summation order, in PyTorch too), and no value is so large
    # that rtol=1e-4 is below float32's rounding of a long chain of relus.
    ok = bound < 1e37 and all(np.abs(r).max(initial=0) < 1e6 for r in (ref_out, ref_hn))
    event("compared with the reference" if ok else "float32 range exceeded: not compared")
    if ok:
        np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(hn, ref_hn, rtol=1e-4, atol=1e-4)


@fuzz_settings(300)
@given(cfg=rnn_configs, x=st.one_of(junk, float_arrays(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3))),
       h0=st.one_of(st.none(), junk, float_arrays(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3))),
       training=st.booleans(), dropout=st.sampled_from([0.0, 0.5, 1.0]))
def test_rnn_junk_calls(cfg, x, h0, training, dropout):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rnn = nn.RNN(**cfg, dropout=dropout).train(training)
        snaps, before_state = (snapshot(x), snapshot(h0)), module_state(rnn)
        try:
            out, hn = rnn(x, h0)
        except CLEAN:
            out = None
    assert unchanged(snaps[0], x) and unchanged(snaps[1], h0)
    assert_same_state(rnn, before_state)
    if out is not None:
        check_output(out)
        check_output(hn)


# ---------------------------------------------------------------------------------------------------
# load_state_dict: all or nothing
# ---------------------------------------------------------------------------------------------------

def _value_for(shape):
    """A value for a parameter of `shape`: right or wrong shape, any dtype, list, junk."""
    right = st.sampled_from(FLOAT_DTYPES + [np.int32, np.int8]).flatmap(
        lambda dt: hnp.arrays(dt, shape, elements=st.integers(-3, 3))).flatmap(layouts)
    wrong = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    as_list = right.map(lambda a: np.asarray(a).tolist())
    return st.one_of(right, right, as_list, wrong, junk)


@st.composite
def state_dicts(draw, module):
    own = module.state_dict()
    keys = draw(st.lists(st.sampled_from(list(own)), unique=True)) if draw(st.booleans()) else list(own)
    d = {k: draw(_value_for(own[k].shape)) for k in keys}
    for extra in draw(st.lists(st.one_of(st.text(max_size=6), st.integers(), st.none(), st.just("weight.0")),
                               max_size=2)):
        d[extra] = draw(st.one_of(junk, st.just(np.zeros(2, np.float32))))
    return d


MODULES = [lambda: nn.Embedding(5, 3), lambda: nn.Linear(3, 2), lambda: nn.Linear(3, 2, bias=False),
           lambda: nn.RNN(3, 2, num_layers=2, bidirectional=True), lambda: nn.RNN(2, 3, bias=False)]


@fuzz_settings(300)
@given(which=st.integers(0, len(MODULES) - 1), strict=st.booleans(), data=st.data())
def test_load_state_dict_is_all_or_nothing(which, strict, data):
    m = MODULES[which]()
    d = data.draw(state_dicts(m))
    before = module_state(m)
    arrays_before = {k: id(v) for k, v in m.named_parameters()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = m.load_state_dict(d, strict=strict)
        except RuntimeError:  # torch's type for anything wrong in the dict
            assert_same_state(m, before)
            return
    # success: every given parameter holds its float32 value, the others are as they were
    assert {k: id(v) for k, v in m.named_parameters()} == arrays_before  # copied in place
    after = m.state_dict()
    for k in before:
        if k in d:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                np.testing.assert_array_equal(after[k], np.asarray(d[k]).astype(np.float32))
        else:
            np.testing.assert_array_equal(after[k], before[k])
    assert sorted(result.missing_keys) == sorted(k for k in before if k not in d)
    for p in m.parameters():
        check_param(p)


@fuzz_settings(100)
@given(value=st.one_of(junk, hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))))
def test_parameter_assignment_is_checked(value):
    lin = nn.Linear(3, 2)
    before = module_state(lin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            lin.weight = value
        except (*CLEAN, AttributeError):
            assert_same_state(lin, before)
            return
    check_param(lin.weight, (2, 3))
    assert lin(np.ones((1, 3))).shape == (1, 2)
