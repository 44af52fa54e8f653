"""Exception types and messages for bad input (numpy + swiftrnn only).

The contract: torch's exception type where it is precise (ValueError for sizes/shapes/values,
TypeError for wrong types/dtypes, IndexError for out-of-range indices); where torch raises a bare
RuntimeError/AssertionError, the precise built-in instead. Messages name the expected and the
actual value; the regexes below match loosely on the numbers and shapes, not the wording.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn, optim, text

F = nn.functional


def state(module):
    return {k: np.array(v, copy=True) for k, v in module.state_dict().items()}


def assert_state_equal(module, before):
    after = module.state_dict()
    assert list(after.keys()) == list(before.keys())
    for k, v in before.items():
        np.testing.assert_array_equal(np.asarray(after[k]), v, err_msg=f"{k} changed")


# ----------------------------------------------------------------------------------------------
# RNN forward
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def rnn():
    return nn.RNN(3, 3, num_layers=2, bidirectional=True)  # D*num_layers = 4, H = 3


def test_rnn_wrong_h0_shape_is_value_error(rnn):
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(4, 2, 3\).*\(1, 2, 3\)"):
        rnn(x, np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(4, 2, 3\).*\(4, 3, 3\)"):
        rnn(x, np.zeros((4, 3, 3), np.float32))


def test_rnn_wrong_h0_shape_batch_first(rnn):
    r = nn.RNN(3, 3, num_layers=2, bidirectional=True, batch_first=True)
    x = np.zeros((2, 5, 3), np.float32)  # N=2, L=5
    with pytest.raises(ValueError, match=r"\(4, 2, 3\).*\(4, 5, 3\)"):
        r(x, np.zeros((4, 5, 3), np.float32))


def test_rnn_h0_ndim_must_match_input(rnn):
    with pytest.raises(ValueError, match=r"\(4, 2, 3\).*\(4, 3\)"):
        rnn(np.zeros((5, 2, 3), np.float32), np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1, 3\)"):
        rnn(np.zeros((5, 3), np.float32), np.zeros((4, 1, 3), np.float32))


def test_rnn_unbatched_wrong_h0_shape(rnn):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 3\)"):
        rnn(np.zeros((5, 3), np.float32), np.zeros((2, 3), np.float32))


def test_rnn_zero_length_sequence_is_value_error(rnn):
    with pytest.raises(ValueError, match=r"(?i)seq|length|\b0\b"):
        rnn(np.zeros((0, 2, 3), np.float32))
    with pytest.raises(ValueError):
        rnn(np.zeros((0, 3), np.float32))
    r = nn.RNN(3, 3, batch_first=True)
    with pytest.raises(ValueError):
        r(np.zeros((2, 0, 3), np.float32))


@pytest.mark.parametrize("shape", [(3,), (5, 2, 3, 1), (), (1, 1, 1, 1, 3)])
def test_rnn_wrong_input_ndim_is_value_error(rnn, shape):
    nd = len(shape)
    with pytest.raises(ValueError, match=rf"(?s)2.*3.*\b{nd}|\b{nd}\b.*2.*3"):
        rnn(np.zeros(shape, np.float32))


def test_rnn_wrong_feature_size_is_value_error(rnn):
    with pytest.raises(ValueError, match=r"(?s)\b3\b.*\b4\b"):
        rnn(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"(?s)\b3\b.*\b2\b"):
        rnn(np.zeros((5, 2), np.float32))  # unbatched, 2 features


@pytest.mark.parametrize("bad", ["abc", [["a", "b", "c"]], None, object()])
def test_rnn_non_numeric_input_is_type_error(rnn, bad):
    with pytest.raises(TypeError):
        rnn(bad)


def test_rnn_complex_input_is_type_error(rnn):
    with pytest.raises(TypeError):
        rnn(np.zeros((5, 2, 3), np.complex64))


def test_rnn_ragged_input_is_rejected(rnn):
    with pytest.raises(ValueError, match="RNN input is not a rectangular array of numbers: .*inhomogeneous"):
        rnn([[[0.0, 0.0, 0.0]], [[0.0, 0.0]]])
    with pytest.raises(ValueError, match="Embedding indices is not a rectangular array"):
        nn.Embedding(4, 2)([[0, 1], [2]])


def test_a_torch_packed_sequence_runs_packed(rnn):
    # torch.nn.utils.rnn.PackedSequence is a named tuple of that name: the layers take it as swiftrnn's (it was a
    # TypeError that pointed to the padded route); a layer that does not take one says what to pass.
    PackedSequence = collections.namedtuple("PackedSequence", "data batch_sizes sorted_indices unsorted_indices")
    data = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    packed = PackedSequence(data, np.array([2, 2, 2, 1, 1]), None, None)
    rnn.eval()
    out, hn = rnn(packed)
    assert type(out).__name__ == "PackedSequence" and out.data.shape[0] == 8
    longer = data[[0, 2, 4, 6, 7]]  # the first sequence's rows: batch_sizes 2, 2, 2, 1, 1
    np.testing.assert_array_equal(out.data[-2:], rnn(longer[:, None])[0][3:, 0])   # that sequence run alone
    with pytest.raises(TypeError, match="Linear input is a PackedSequence.*packed.data"):
        nn.Linear(3, 2)(packed)


# ----------------------------------------------------------------------------------------------
# RNN constructor
# ----------------------------------------------------------------------------------------------

def test_rnn_bad_nonlinearity_is_value_error():
    with pytest.raises(ValueError, match=r"gelu"):
        nn.RNN(3, 4, nonlinearity="gelu")


@pytest.mark.parametrize("dropout", [1.5, -0.1, True])
def test_rnn_bad_dropout_is_value_error(dropout):
    with pytest.raises(ValueError, match=r"(?i)dropout"):
        nn.RNN(3, 4, num_layers=2, dropout=dropout)


@pytest.mark.parametrize("kwargs,word", [
    ({"input_size": 3, "hidden_size": 0}, "hidden_size"),
    ({"input_size": 3, "hidden_size": -2}, "hidden_size"),
    ({"input_size": 3, "hidden_size": 4, "num_layers": 0}, "num_layers"),
])
def test_rnn_bad_sizes_are_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        nn.RNN(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {"input_size": 3, "hidden_size": 4.0},
    {"input_size": 3, "hidden_size": 4, "num_layers": 2.0},
    {"input_size": "3", "hidden_size": 4},
])
def test_rnn_non_int_sizes_are_type_error(kwargs):
    with pytest.raises(TypeError):
        nn.RNN(**kwargs)


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def emb():
    return nn.Embedding(10, 4)


@pytest.mark.parametrize("indices", [10, [10], np.array([1, 2, 10, 3]), np.array([[0, 1], [10, 2]], np.int32),
                                     np.uint8(10), np.array([10], np.uint64)])
def test_embedding_index_too_large_is_index_error(emb, indices):
    with pytest.raises(IndexError, match=r"(?s)\b10\b.*\b(10|9)\b"):
        emb(indices)


@pytest.mark.parametrize("indices", [-1, [-1], np.array([0, -3], np.int8), np.array([-11])])
def test_embedding_negative_index_is_index_error(emb, indices):
    with pytest.raises(IndexError, match=r"-\d+"):
        emb(indices)


def test_embedding_huge_index_is_index_error(emb):
    with pytest.raises((IndexError, OverflowError)):
        emb(2**70)
    with pytest.raises(IndexError):
        emb(np.array([2**63], np.uint64))


@pytest.mark.parametrize("indices", [1.0, [1.0, 2.0], np.array([1.0]), np.array([1], np.float32), True,
                                     [True, False], np.array([True]), 1j, np.array([1 + 0j]), "1", ["1"],
                                     None])
def test_embedding_non_integer_indices_are_type_error(emb, indices):
    with pytest.raises(TypeError):
        emb(indices)


def test_embedding_bad_index_leaves_weight_unchanged():
    e = nn.Embedding(10, 4, max_norm=0.01)
    before = state(e)
    with pytest.raises(IndexError):
        e(np.array([1, 2, 10]))
    with pytest.raises(TypeError):
        e(np.array([1.0, 2.0]))
    assert_state_equal(e, before)


@pytest.mark.parametrize("padding_idx", [10, -11, 100])
def test_embedding_padding_idx_out_of_range_is_value_error(padding_idx):
    with pytest.raises(ValueError, match=rf"{padding_idx}|padding_idx"):
        nn.Embedding(10, 4, padding_idx=padding_idx)


def test_embedding_negative_sizes_are_value_error():
    with pytest.raises(ValueError, match=r"-1"):
        nn.Embedding(-1, 4)
    with pytest.raises(ValueError, match=r"-2"):
        nn.Embedding(4, -2)


def test_embedding_non_int_sizes_are_type_error():
    with pytest.raises(TypeError):
        nn.Embedding(10, 4.0)
    with pytest.raises(TypeError):
        nn.Embedding(10.0, 4)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), ()])
def test_embedding_from_pretrained_needs_2d(shape):
    with pytest.raises(ValueError, match=r"2"):
        nn.Embedding.from_pretrained(np.zeros(shape, np.float32))


# ----------------------------------------------------------------------------------------------
# Linear
# ----------------------------------------------------------------------------------------------

def test_linear_wrong_feature_size_is_value_error():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"(?s)\b3\b.*\b5\b"):
        lin(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"(?s)\b3\b.*\b5\b"):
        lin(np.zeros(5, np.float32))


def test_linear_0d_input_is_value_error():
    with pytest.raises(ValueError):
        nn.Linear(3, 2)(np.float32(1.0))


def test_linear_negative_size_is_value_error():
    with pytest.raises(ValueError, match=r"-1"):
        nn.Linear(-1, 3)


def test_linear_non_int_size_is_type_error():
    with pytest.raises(TypeError):
        nn.Linear(3.0, 3)


def test_linear_non_numeric_input_is_type_error():
    with pytest.raises(TypeError):
        nn.Linear(3, 2)("abc")


# ----------------------------------------------------------------------------------------------
# softmax / log_softmax
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((2, 3), 2), ((2, 3), -3), ((4,), 1), ((), 1), ((2, 3, 4), 5)])
def test_softmax_dim_out_of_range_is_index_error(fn, shape, dim):
    with pytest.raises(IndexError, match=rf"{dim}"):
        fn(np.zeros(shape, np.float32), dim)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_non_int_dim_is_type_error(fn):
    with pytest.raises(TypeError):
        fn(np.zeros((2, 3), np.float32), 1.5)
    with pytest.raises(TypeError):
        fn(np.zeros((2, 3), np.float32), "1")


# ----------------------------------------------------------------------------------------------
# load_state_dict: all-or-nothing, the message names the key
# ----------------------------------------------------------------------------------------------

def good_rnn_state(r, value=0.5):
    return {k: np.full(np.shape(v), value, np.float32) for k, v in r.state_dict().items()}


def test_load_state_dict_bad_shape_changes_nothing():
    r = nn.RNN(3, 4, num_layers=2, bidirectional=True)
    before = state(r)
    sd = good_rnn_state(r)
    sd["weight_hh_l1_reverse"] = np.zeros((4, 5), np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight_hh_l1_reverse: copying a param with shape "
                                           r"\(4, 5\) from checkpoint, the shape in current model is \(4, 4\)\."):
        r.load_state_dict(sd)
    assert_state_equal(r, before)


def test_load_state_dict_missing_key_changes_nothing():
    r = nn.RNN(3, 4, num_layers=2)
    before = state(r)
    sd = good_rnn_state(r)
    del sd["bias_hh_l1"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias_hh_l1"'):
        r.load_state_dict(sd)
    assert_state_equal(r, before)


def test_load_state_dict_unexpected_key_changes_nothing():
    lin = nn.Linear(3, 2)
    before = state(lin)
    sd = {"weight": np.ones((2, 3), np.float32), "bias": np.ones(2, np.float32), "bias_extra": np.ones(2)}
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "bias_extra"'):
        lin.load_state_dict(sd)
    assert_state_equal(lin, before)


def test_load_state_dict_non_numeric_value_changes_nothing():
    lin = nn.Linear(3, 2)
    before = state(lin)
    with pytest.raises(RuntimeError, match=r'While copying the parameter named "bias"'):
        lin.load_state_dict({"weight": np.ones((2, 3), np.float32), "bias": "abc"})
    assert_state_equal(lin, before)


def test_load_state_dict_non_strict_ignores_missing_and_unexpected():
    lin = nn.Linear(3, 2)
    bias = np.array(lin.state_dict()["bias"], copy=True)
    result = lin.load_state_dict({"weight": np.ones((2, 3)), "foo": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(np.asarray(lin.state_dict()["weight"]), np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(np.asarray(lin.state_dict()["bias"]), bias)
    assert list(result.missing_keys) == ["bias"]
    assert list(result.unexpected_keys) == ["foo"]


def test_load_state_dict_non_strict_still_checks_shapes():
    lin = nn.Linear(3, 2)
    before = state(lin)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight"):
        lin.load_state_dict({"weight": np.ones((3, 3))}, strict=False)
    assert_state_equal(lin, before)


def test_load_state_dict_copies_the_values():
    lin = nn.Linear(3, 2)
    w = np.ones((2, 3), np.float32)
    lin.load_state_dict({"weight": w, "bias": np.zeros(2)})
    w[...] = 7.0
    np.testing.assert_array_equal(np.asarray(lin.state_dict()["weight"]), np.ones((2, 3), np.float32))
    out = lin(np.ones(3, np.float32))
    np.testing.assert_allclose(out, [3.0, 3.0])


# ----------------------------------------------------------------------------------------------
# The FMA-peak probe (benchmarks/compare.py, `python -m swiftrnn info`)

def test_fma_peak_is_a_positive_rate():
    from swiftrnn import _native
    peak = _native.fma_peak_gflops(0.001)
    assert isinstance(peak, float) and 0 < peak < float("inf")


@pytest.mark.parametrize("seconds", [0, -1, 10.5, float("nan"), float("inf")])
def test_fma_peak_rejects_a_bad_time(seconds):
    from swiftrnn import _native
    with pytest.raises(ValueError, match=r"\(0, 10\]"):
        _native.fma_peak_gflops(seconds)


def test_fma_peak_rejects_a_non_number():
    from swiftrnn import _native
    with pytest.raises(TypeError):
        _native.fma_peak_gflops("0.1")


# ----------------------------------------------------------------------------------------------
# Packed weights (_native.pack_weight and the `packed` arguments; RNNLanguageModel.generate uses them)

def _packed_rnn_weights(rnn):
    from swiftrnn import _native
    per = 4 if rnn.bias else 2
    return tuple(_native.pack_weight(rnn._flat[i + j]) for i in range(0, len(rnn._flat), per) for j in (0, 1))


@pytest.mark.parametrize("layers, bidirectional, batch_first, bias", [
    (1, False, False, True), (2, True, True, False), (3, False, True, True), (2, True, False, True)])
def test_packed_rnn_forward_is_bit_identical(layers, bidirectional, batch_first, bias):
    from swiftrnn import _native
    rnn = nn.RNN(6, 20, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional).eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    batch = 3 if batch_first else 4
    h0 = rng.standard_normal((layers * (2 if bidirectional else 1), batch, 20)).astype(np.float32)
    for h in (None, h0):
        want = _native.rnn_forward(x, h, rnn._flat, rnn._desc, None)
        got = _native.rnn_forward(x, h, rnn._flat, rnn._desc, None, None, _packed_rnn_weights(rnn))
        for a, b in zip(got, want):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kind, layers, bidirectional, batch_first, bias, proj", [
    ("LSTM", 1, False, False, True, 0), ("LSTM", 2, True, True, False, 0), ("LSTM", 2, False, False, True, 5),
    ("GRU", 1, False, True, True, 0), ("GRU", 2, True, False, True, 0), ("GRU", 3, False, False, False, 0)])
def test_packed_gated_forward_is_bit_identical(kind, layers, bidirectional, batch_first, bias, proj):
    # LSTM and GRU take the caller's packed W_ih and W_hh (a generation loop packs them once); one step of at most
    # four rows reads W_hh in place instead of packing it: every path gives the bits of a longer, wider run.
    from swiftrnn import _native
    extra = {"proj_size": proj} if proj else {}
    rnn = getattr(nn, kind)(6, 20, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
                            **extra).eval()
    packed = tuple(_native.pack_weight(w) for group in rnn.all_weights for w in group[:2])
    D, P = 2 if bidirectional else 1, proj or 20
    rng = np.random.default_rng(3)
    for L, N in ((1, 1), (1, 3), (3, 2), (4, 6)):
        x = rng.standard_normal((N, L, 6) if batch_first else (L, N, 6)).astype(np.float32)
        h0 = rng.standard_normal((layers * D, N, P)).astype(np.float32)
        c0 = rng.standard_normal((layers * D, N, 20)).astype(np.float32) if kind == "LSTM" else None
        for h, c in ((None, None), (h0, c0)):
            want = _native.rnn_forward(x, h, rnn._flat, rnn._desc, None, None, None, c)
            got = _native.rnn_forward(x, h, rnn._flat, rnn._desc, None, None, packed, c)
            for a, b in zip(got, want):
                assert a.tobytes() == b.tobytes()
        if L == 1:  # the rows of a one-step call equal the same rows of a call over eight rows (W_hh packed there)
            batch_axis = 0 if batch_first else 1
            wide_x = np.concatenate([x, rng.standard_normal(x.shape[:batch_axis] + (8 - N,) + x.shape[batch_axis + 1:])
                                     .astype(np.float32)], axis=batch_axis)
            wide_h = np.concatenate([h0, np.zeros((layers * D, 8 - N, P), np.float32)], axis=1)
            wide_c = None if c0 is None else np.concatenate([c0, np.zeros((layers * D, 8 - N, 20), np.float32)], axis=1)
            one = _native.rnn_forward(x, h0, rnn._flat, rnn._desc, None, None, None, c0)
            wide = _native.rnn_forward(wide_x, wide_h, rnn._flat, rnn._desc, None, None, None, wide_c)
            assert one[0].tobytes() == np.take(wide[0], range(N), axis=batch_axis).tobytes()
            for a, b in zip(one[1:], wide[1:]):
                assert a.tobytes() == np.ascontiguousarray(b[:, :N]).tobytes()


def test_packed_gated_weight_errors():
    from swiftrnn import _native
    lstm = nn.LSTM(6, 20).eval()
    x = np.zeros((2, 1, 6), dtype=np.float32)
    rnn_sized = (_native.pack_weight(np.zeros((20, 6), np.float32)), _native.pack_weight(np.zeros((20, 20), np.float32)))
    with pytest.raises(ValueError, match=r"weight_ih_l0.*\(80, 6\)"):
        _native.rnn_forward(x, None, lstm._flat, lstm._desc, None, None, rnn_sized)


@pytest.mark.parametrize("m, k, n", [(1, 256, 5000), (3, 7, 13), (250, 16, 37), (0, 4, 5), (5, 0, 3)])
def test_linear_with_a_fused_softmax_is_bit_identical_to_the_two_calls(m, k, n):
    # linear_forward(..., softmax=1 or 2): each output row's (log-)softmax while it is in cache (rows in blocks,
    # the weight packed once for all of them): the bits of linear_forward then softmax.
    from swiftrnn import _native
    lin = nn.Linear(k, n)
    x = np.random.default_rng(m + n).standard_normal((m, k)).astype(np.float32) * 3
    for packed in (None, _native.pack_weight(lin.weight)):
        for mode, log in ((1, False), (2, True)):
            got = _native.linear_forward(x, lin.weight, lin.bias, packed, False, mode)
            want = _native.softmax(_native.linear_forward(x, lin.weight, lin.bias), -1, log)
            assert got.tobytes() == want.tobytes()
    with pytest.raises(ValueError, match="inference"):
        _native.linear_forward(x, lin.weight, lin.bias, None, True, 1)
    with pytest.raises(ValueError, match="softmax must be 0"):
        _native.linear_forward(x, lin.weight, lin.bias, None, False, 3)


def test_packed_weights_are_what_gets_used():
    # A packing of other weights gives the other weights' results: the call reads the packing, not W.
    from swiftrnn import _native
    a, b = nn.RNN(5, 8, bias=False).eval(), nn.RNN(5, 8, bias=False).eval()
    x = np.random.default_rng(1).standard_normal((4, 2, 5)).astype(np.float32)
    got = _native.rnn_forward(x, None, a._flat, a._desc, None, None, _packed_rnn_weights(b))
    assert np.array_equal(got[0], b(x)[0]) and not np.array_equal(got[0], a(x)[0])
    lin, other = nn.Linear(8, 3), nn.Linear(8, 3)
    v = np.ones((2, 8), dtype=np.float32)
    assert np.array_equal(_native.linear_forward(v, lin.weight, lin.bias, _native.pack_weight(other.weight)),
                          _native.linear_forward(v, other.weight, lin.bias))


def test_packed_weight_errors():
    from swiftrnn import _native
    rnn = nn.RNN(6, 20, 2).eval()
    x = np.zeros((3, 1, 6), dtype=np.float32)
    packed = _packed_rnn_weights(rnn)
    with pytest.raises(ValueError, match=r"weight_ih_l0.*\(20, 6\)"):
        _native.rnn_forward(x, None, rnn._flat, rnn._desc, None, None, packed[::-1])
    with pytest.raises(ValueError, match="4 packed weights"):
        _native.rnn_forward(x, None, rnn._flat, rnn._desc, None, None, packed[:3])
    # any sequence of arrays gathers the same way as the tuple
    np.testing.assert_array_equal(_native.rnn_forward(x, None, rnn._flat, rnn._desc, None, None, list(packed))[0],
                                  _native.rnn_forward(x, None, rnn._flat, rnn._desc, None, None, packed)[0])
    with pytest.raises(TypeError, match="a packed RNN weight: expected a sequence"):
        _native.rnn_forward(x, None, rnn._flat, rnn._desc, None, None, 3)
    with pytest.raises(ValueError, match="inference"):
        _native.rnn_forward(x, None, rnn._flat, rnn._desc, None, np.zeros(2 * 3 * 20, np.float32), packed)
    with pytest.raises(ValueError, match="1-d"):
        _native.rnn_forward(x, None, rnn._flat, rnn._desc, None, None, (packed[0].reshape(2, -1),) + packed[1:])
    with pytest.raises(TypeError, match="float32"):
        _native.pack_weight(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-d"):
        _native.pack_weight(np.zeros(3, dtype=np.float32))
    lin = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        _native.linear_forward(np.zeros((1, 4), np.float32), lin.weight, lin.bias, _native.pack_weight(lin.weight.T.copy()))


# --- arguments of the wrong type name the argument, not Python's internals ----------------------------------

@pytest.mark.parametrize("call, exc, match", [
    # torch raises ValueError for a nonlinearity / reduction that is not one of its strings, whatever the type
    (lambda: nn.RNN(3, 4, nonlinearity=["tanh"]), ValueError, "Unknown nonlinearity"),
    (lambda: nn.CrossEntropyLoss(reduction=["mean"]), ValueError, "not a valid value for reduction"),
    (lambda: nn.CrossEntropyLoss(ignore_index=10**30), ValueError, "ignore_index must be a 64-bit integer"),
    (lambda: nn.functional.softmax(np.zeros((2, 3)), dim="1"), TypeError, "dim must be an int, got str"),
    (lambda: nn.functional.log_softmax(np.zeros((2, 3)), dim=1.0), TypeError, "dim must be an int, got float"),
    (lambda: nn.functional.softmax(np.zeros((2, 3)), dim=10**30), IndexError,
     r"dim 1000000000000000000000000000000 is out of range for a 2-d input \(expected -2 to 1\)"),
    (lambda: swiftrnn.set_num_threads(None), TypeError, "set_num_threads expects an int, got NoneType"),
    (lambda: swiftrnn.set_num_threads(2**70), ValueError, "from 1 to .*, got 1180591620717411303424"),
    (lambda: optim.Adam(3), TypeError, "params argument given to the optimizer should be an iterable"),
    (lambda: text.Vocab.build(5), TypeError, "Vocab.build expects a sequence of tokens, got int"),
    (lambda: text.Vocab.build(["a"], specials=None), TypeError, "Vocab.build specials expects a sequence"),
    (lambda: text.Vocab.build(["a"]).encode(7), TypeError, "Vocab.encode expects a sequence of tokens, got int"),
])
def test_wrong_argument_types_get_messages_that_name_them(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
