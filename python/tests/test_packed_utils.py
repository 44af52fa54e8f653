"""swiftrnn.nn.utils.rnn (PackedSequence, pack/pad) against torch's outputs and errors, without torch.

The references are fixtures/packed.npz (made by fixtures/make_packed_fixtures.py with torch); the rest are
properties that need no reference: round trips, batch-order invariance, the PackedSequence constructor's
checks, its torch-style methods and pickling.
"""
import doctest
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftrnn.nn.utils import rnn
from swiftrnn.nn.utils.rnn import (PackedSequence, invert_permutation, pack_padded_sequence, pack_sequence,
                                   pad_packed_sequence, pad_sequence, unpack_sequence, unpad_sequence)

from conftest import case_arrays, fixture_cases

FIXTURE = "packed"


def same(name, actual, expected):
    """Equal shapes, dtypes and values (NaN equal to NaN)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype}, torch {expected.dtype}"
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape}, torch {expected.shape}"
    assert np.array_equal(actual, expected, equal_nan=actual.dtype.kind == "f"), f"{name}: values differ"


def lengths_as(lengths, i):
    """The lengths as a list, tuple or array, by case number."""
    return [lengths.tolist(), tuple(lengths.tolist()), lengths][i % 3]


def case_id(case):
    return case["name"]


# --- torch's outputs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", fixture_cases(FIXTURE, "pack_padded"), ids=case_id)
def test_pack_padded_sequence_matches_torch(case):
    a = case_arrays(FIXTURE, case)
    n = int(case["name"][len("pack_padded"):])
    packed = pack_padded_sequence(a["input"], lengths_as(a["lengths"], n), batch_first=case["batch_first"],
                                  enforce_sorted=case["enforce_sorted"])
    assert isinstance(packed, PackedSequence)
    same("batch_sizes", packed.batch_sizes, a["batch_sizes"])
    if case["enforce_sorted"]:
        assert packed.sorted_indices is None and packed.unsorted_indices is None
    if case["stable"]:  # torch's order of equal lengths is the stable one: everything equal
        same("data", packed.data, a["data"])
        if not case["enforce_sorted"]:
            same("sorted_indices", packed.sorted_indices, a["sorted_indices"])
            same("unsorted_indices", packed.unsorted_indices, a["unsorted_indices"])
    else:  # more than 16 sequences with equal lengths: ours is the stable order, torch's another
        same("sorted_indices", packed.sorted_indices, np.argsort(-a["lengths"], kind="stable"))
        assert not np.array_equal(packed.sorted_indices, a["sorted_indices"])
    assert packed.data.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("case", fixture_cases(FIXTURE, "pack_padded"), ids=case_id)
def test_pad_packed_sequence_matches_torch(case):
    a = case_arrays(FIXTURE, case)
    kwargs = dict(batch_first=case["pad_batch_first"], padding_value=case["padding_value"],
                  total_length=case["total_length"])
    torch_packed = PackedSequence(a["data"], a["batch_sizes"], a.get("sorted_indices"), a.get("unsorted_indices"))
    ours = pack_padded_sequence(a["input"], a["lengths"], batch_first=case["batch_first"],
                                enforce_sorted=case["enforce_sorted"])
    for name, packed in (("torch's pack", torch_packed), ("our pack", ours)):
        padded, lengths = pad_packed_sequence(packed, **kwargs)
        same(f"padded of {name}", padded, a["padded"])
        same(f"lengths of {name}", lengths, a["out_lengths"])
        # unpack_sequence: each sequence's steps, in the original order (torch's is pad_packed + unpad)
        unpacked = unpack_sequence(packed)
        assert len(unpacked) == len(a["lengths"])
        for i, (seq, n) in enumerate(zip(unpacked, a["lengths"])):
            same(f"unpacked[{i}] of {name}", seq, a["padded"][i, :n] if case["pad_batch_first"] else a["padded"][:n, i])


@pytest.mark.parametrize("case", fixture_cases(FIXTURE, "pad_sequence"), ids=case_id)
def test_pad_and_unpad_sequence_match_torch(case):
    a = case_arrays(FIXTURE, case)
    seqs = [a[f"seq{i}"] for i in range(case["batch"])]
    padded = pad_sequence(seqs, batch_first=case["batch_first"], padding_value=case["padding_value"],
                          padding_side=case["padding_side"])
    same("padded", padded, a["padded"])
    assert padded.flags["C_CONTIGUOUS"]
    if case["padding_side"] == "right":
        lengths = np.array([len(s) for s in seqs])
        for i, seq in enumerate(unpad_sequence(padded, lengths, batch_first=case["batch_first"])):
            same(f"unpadded[{i}]", seq, a[f"unpadded{i}"])


@pytest.mark.parametrize("case", fixture_cases(FIXTURE, "pack_sequence"), ids=case_id)
def test_pack_sequence_matches_torch(case):
    a = case_arrays(FIXTURE, case)
    seqs = [a[f"seq{i}"] for i in range(case["batch"])]
    packed = pack_sequence(seqs, enforce_sorted=case["enforce_sorted"])
    same("data", packed.data, a["data"])
    same("batch_sizes", packed.batch_sizes, a["batch_sizes"])
    if case["enforce_sorted"]:
        assert packed.sorted_indices is None and packed.unsorted_indices is None
    else:
        same("sorted_indices", packed.sorted_indices, a["sorted_indices"])
        same("unsorted_indices", packed.unsorted_indices, a["unsorted_indices"])


# --- errors ------------------------------------------------------------------------------------------------------

# What our message names besides torch's words (the offending position), or says instead of them.
OUR_WORDS = {
    "zero_length": "lengths[2] = 0",
    "zero_length_unsorted": "lengths[1] = 0",
    "negative_length": "lengths[2] = -1",
    "unsorted": "Here lengths[1] = 1 < lengths[2] = 2.",
    "too_long": "lengths[0] = 5 is longer than the 4 steps of the input",
    "too_long_batch_first": "lengths[1] = 5 is longer than the 4 steps of the input",
    "empty_input": "(input of shape (0, 3))",
    "lengths_2d": "'lengths' should be 1-D (one length per sequence), but got 2-D of shape (1, 3)",
    "input_1d": "input must have at least 2 dimensions (time and batch), got shape (4,)",
    "pad_trailing_mismatch": "sequences[1] has shape (3, 4) but sequences[0] has (2, 3)",
    "pack_sequence_zero_length": "len(sequences[1]) = 0",
    "pack_sequence_unsorted": "Here len(sequences[0]) = 2 < len(sequences[1]) = 3.",
    "unpad_count": "got 3 lengths for a batch of 2 sequences",
}
# Where torch's words would mislead, ours replace them (the type stays torch's).
OWN_MESSAGE = {"lengths_2d", "input_1d", "pad_trailing_mismatch", "unpad_count"}


def call_ours(case):
    kwargs = case.get("kwargs", {})
    fn = globals()[case["fn"]]
    if case["fn"] in ("pack_padded_sequence", "unpad_sequence"):
        return fn(np.zeros(case["shape"], np.float32), case["lengths"], **kwargs)
    if case["fn"] == "pad_packed_sequence":
        lengths = case["lengths"]
        return fn(pack_padded_sequence(np.zeros((max(lengths), len(lengths))), lengths), **kwargs)
    if case["shapes"] is None:
        return fn(5, **kwargs)
    return fn([np.zeros(s, np.float32) for s in case["shapes"]], **kwargs)


@pytest.mark.parametrize("case", fixture_cases(FIXTURE, "error"), ids=case_id)
def test_errors_as_torch(case):
    if case["torch_error"] is None:  # torch accepts it and returns an inconsistent PackedSequence
        with pytest.raises(ValueError) as info:
            call_ours(case)
    else:
        with pytest.raises(Exception) as info:
            call_ours(case)
        assert type(info.value).__name__ == case["torch_error"], str(info.value)
        if case["name"] not in OWN_MESSAGE:
            assert str(info.value).startswith(case["torch_message"]), str(info.value)
    if case["name"] in OUR_WORDS:
        assert OUR_WORDS[case["name"]] in str(info.value)


def test_torch_accepts_lengths_longer_than_the_input():
    """The fixture records torch's behaviour that ours improves on: no error."""
    cases = {c["name"]: c for c in fixture_cases(FIXTURE, "error")}
    assert cases["too_long"]["torch_error"] is None


@pytest.mark.parametrize("lengths, error, words", [
    ([3.0, 2.0], None, None),                                   # integral floats are lengths
    (np.array([3.0, 2.5]), ValueError, "lengths[1] = 2.5"),
    ([3, float("nan")], ValueError, "lengths[1] = nan"),
    (np.array([np.inf, 1.0]), ValueError, "lengths[0] = inf"),
    ([True, True], TypeError, "lengths must be integers, got dtype bool"),
    (["3", "2"], TypeError, "lengths must be integers"),
    (3, RuntimeError, "but got 0-D"),
])
def test_lengths_forms(lengths, error, words):
    x = np.zeros((3, 2), np.float32)
    if error is None:
        assert pack_padded_sequence(x, lengths).batch_sizes.tolist() == [2, 2, 1]
    else:
        with pytest.raises(error, match=re.escape(words)):
            pack_padded_sequence(x, lengths)


def test_other_argument_errors():
    packed = pack_sequence([np.ones(3), np.ones(2)])
    with pytest.raises(TypeError, match="total_length must be an int or None, got float"):
        pad_packed_sequence(packed, total_length=3.0)
    with pytest.raises(TypeError, match="expects a PackedSequence"):
        pad_packed_sequence((packed.data, packed.batch_sizes))
    with pytest.raises(TypeError, match="expects a PackedSequence"):
        unpack_sequence([np.ones(3)])
    with pytest.raises(TypeError, match="padding_value must be a real number"):
        pad_sequence([np.ones(3)], padding_value="0")
    with pytest.raises(TypeError, match="batch_first must be a bool"):
        pack_padded_sequence(np.ones((3, 2)), [3, 2], batch_first=1)
    with pytest.raises(RuntimeError, match=r"sequences\[1\] is a scalar"):
        pad_sequence([np.ones(3), np.float32(1)])
    with pytest.raises(TypeError, match="expected real numbers"):
        pad_sequence([np.array(["a", "b"])])
    with pytest.raises(TypeError, match="expected real numbers"):
        pack_padded_sequence(np.ones((2, 2), np.complex64), [2, 1])
    with pytest.raises(ValueError, match=r"lengths\[1\] = 4 is outside \[0, 3\]"):
        unpad_sequence(np.ones((3, 2)), [3, 4])
    with pytest.raises(ValueError, match=r"lengths\[0\] = -1 is outside"):
        unpad_sequence(np.ones((3, 2)), [-1, 1])
    with pytest.raises(RuntimeError, match=r"Cannot pack empty tensors. \(sequences of shapes \[\(2, 0\)\]\)"):
        pack_sequence([np.ones((2, 0))])


# --- properties --------------------------------------------------------------------------------------------------

@st.composite
def batches(draw, min_length=1):
    """Lengths (1..12 sequences of min_length..9 steps), a trailing shape and a seed for the values."""
    lengths = draw(st.lists(st.integers(min_length, 9), min_size=1, max_size=12))
    trailing = draw(st.sampled_from([(), (3,), (2, 1)]))
    return np.array(lengths, dtype=np.int64), trailing, draw(st.integers(0, 2**32 - 1))


def sequences_of(lengths, trailing, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(n),) + trailing).astype(np.float32) for n in lengths]


@settings(max_examples=150, deadline=None)
@given(batches(), st.booleans(), st.booleans(), st.integers(0, 3))
def test_round_trips(batch, batch_first, enforce_sorted, extra):
    lengths, trailing, seed = batch
    if enforce_sorted:
        lengths = np.sort(lengths)[::-1].copy()
    seqs = sequences_of(lengths, trailing, seed)
    padded = pad_sequence(seqs, batch_first=batch_first)
    packed = pack_padded_sequence(padded, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    # pack_sequence is pack_padded_sequence of pad_sequence
    direct = pack_sequence(seqs, enforce_sorted=enforce_sorted)
    for field, value in zip(PackedSequence._fields, direct):
        expected = getattr(packed, field)
        assert (value is None and expected is None) or np.array_equal(value, expected), field
    # packing keeps exactly the steps before each end, step by step
    assert packed.data.shape == (int(lengths.sum()),) + trailing
    assert packed.batch_sizes.tolist() == [int((lengths > t).sum()) for t in range(int(lengths.max()))]
    # padding undoes packing, with the lengths, in the original order
    total = int(lengths.max()) + extra
    again, got_lengths = pad_packed_sequence(packed, batch_first=batch_first, total_length=total)
    same("lengths", got_lengths, lengths)
    expected = pad_sequence(seqs + [np.zeros((total,) + trailing, np.float32)], batch_first=batch_first)
    same("padded", again, expected[:-1] if batch_first else expected[:, :-1])
    for unpacked in (unpack_sequence(packed), unpad_sequence(padded, lengths, batch_first=batch_first)):
        assert len(unpacked) == len(seqs)
        for got, seq in zip(unpacked, seqs):
            same("sequence", got, seq)


@settings(max_examples=100, deadline=None)
@given(batches(), st.booleans())
def test_batch_order_only_permutes(batch, batch_first):
    """Packing a permuted batch gives the same packed rows for equal sequences; padding restores each order."""
    lengths, trailing, seed = batch
    seqs = sequences_of(lengths, trailing, seed)
    perm = np.random.default_rng(seed).permutation(len(seqs))
    a = pack_sequence(seqs, enforce_sorted=False)
    b = pack_sequence([seqs[i] for i in perm], enforce_sorted=False)
    same("batch_sizes", a.batch_sizes, b.batch_sizes)
    # the i-th longest sequence of each batch has the same length
    same("sorted lengths", lengths[a.sorted_indices], lengths[perm][b.sorted_indices])
    pa, la = pad_packed_sequence(a, batch_first=batch_first)
    pb, lb = pad_packed_sequence(b, batch_first=batch_first)
    same("lengths", lb, la[perm])
    same("padded", pb, pa[perm] if batch_first else pa[:, perm])


@settings(max_examples=100, deadline=None)
@given(batches(min_length=0), st.booleans(), st.floats(-5, 5))
def test_left_padding_mirrors_right_padding(batch, batch_first, value):
    lengths, trailing, seed = batch
    seqs = sequences_of(lengths, trailing, seed)
    left = pad_sequence(seqs, batch_first=batch_first, padding_value=value, padding_side="left")
    right = pad_sequence([s[::-1] for s in seqs], batch_first=batch_first, padding_value=value)
    same("left", left, np.flip(right, axis=1 if batch_first else 0))


# --- dtypes ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, kept", [(np.float64, np.float32), (np.float16, np.float32), (np.float32, np.float32),
                                         (np.int64, np.int64), (np.int32, np.int32), (np.bool_, np.bool_)])
def test_float_data_is_float32_integers_and_bools_keep_their_dtype(dtype, kept):
    x = (np.arange(12).reshape(4, 3) % 2).astype(dtype)
    packed = pack_padded_sequence(x, [4, 2, 1])
    assert packed.data.dtype == kept
    assert pad_packed_sequence(packed)[0].dtype == kept
    assert pad_sequence([x[:, 0], x[:2, 1]]).dtype == kept
    assert pack_sequence([x[:, 0], x[:2, 1]]).data.dtype == kept
    assert all(s.dtype == kept for s in unpad_sequence(x, [4, 2, 1]))
    assert all(s.dtype == kept for s in unpack_sequence(packed))


def test_mixed_sequences_take_their_common_dtype():
    """torch takes the first sequence's dtype (truncating later floats); the common dtype loses nothing."""
    assert pad_sequence([np.arange(3), np.array([0.5])]).dtype == np.float32
    assert pad_sequence([np.arange(3), np.array([0.5])])[0, 1] == 0.5
    assert pack_sequence([np.arange(3, dtype=np.int32), np.arange(2, dtype=np.int64)]).data.dtype == np.int64


def test_integer_padding_truncates_the_value_as_torch():
    padded, _ = pad_packed_sequence(pack_sequence([np.arange(3), np.arange(1)]), padding_value=-1.5)
    assert padded.dtype == np.int64 and padded[2, 1] == -1


def test_nested_lists_and_tuples_of_sequences():
    packed = pack_sequence(([[1.0], [2.0], [3.0]], [[4.0]]))
    assert packed.data.ravel().tolist() == [1.0, 4.0, 2.0, 3.0]
    assert pad_sequence(iter([[1, 2], [3]])).tolist() == [[1, 3], [2, 0]]  # any iterable, as torch


def test_unpad_sequence_leaves_its_input_alone():
    """torch's unpad_sequence transposes a time-major argument in place; the outputs are new arrays here."""
    padded = np.arange(6, dtype=np.float32).reshape(3, 2)
    before = padded.copy()
    out = unpad_sequence(padded, [3, 2])
    same("input", padded, before)
    out[0][0] = 100
    same("input after writing an output", padded, before)


# --- PackedSequence ----------------------------------------------------------------------------------------------

def example():
    return pack_padded_sequence(np.arange(12, dtype=np.float32).reshape(4, 3), [2, 4, 1], enforce_sorted=False)


def test_fields_and_named_tuple_behaviour():
    p = example()
    assert PackedSequence._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert data is p.data and p[1] is batch_sizes and len(p) == 4
    assert batch_sizes.dtype == sorted_indices.dtype == unsorted_indices.dtype == np.int64
    same("sorted_indices", sorted_indices, np.array([1, 0, 2]))
    same("unsorted_indices", unsorted_indices, np.array([1, 0, 2]))
    assert repr(p).startswith("PackedSequence(data=array([")
    doubled = p._replace(data=p.data * 2)
    assert isinstance(doubled, PackedSequence) and doubled.batch_sizes is p.batch_sizes


def test_constructor_forms_infer_unsorted_indices():
    data, sizes = np.ones((3, 2), np.float32), np.array([2, 1])
    p = PackedSequence(data, sizes, np.array([1, 0]))
    same("unsorted", p.unsorted_indices, np.array([1, 0]))
    q = PackedSequence((data, sizes), sorted_indices=[1, 0])
    same("unsorted", q.unsorted_indices, np.array([1, 0]))
    r = PackedSequence(data, [2, 1], None, [1, 0])  # as torch: unsorted_indices alone are kept
    assert r.sorted_indices is None
    same("padded from unsorted_indices alone", pad_packed_sequence(r)[0], pad_packed_sequence(q)[0])
    assert PackedSequence(data, sizes).sorted_indices is None
    assert PackedSequence(data.astype(np.float64), sizes).data.dtype == np.float32
    with pytest.raises(AssertionError, match="Expected data to be a list or tuple of length 2"):
        PackedSequence(data)


@pytest.mark.parametrize("args, words", [
    ((np.ones(3), [2, 2]), "batch_sizes sum to 4 steps but data has 3 rows"),
    ((np.ones(3), [1, 2]), "positive and non-increasing, got [1, 2]"),
    ((np.ones(3), [3, 0]), "positive and non-increasing, got [3, 0]"),
    ((np.ones(3), []), "non-empty 1-D integer array"),
    ((np.ones(3), [[3]]), "non-empty 1-D integer array"),
    ((np.ones(3), [1.5, 1.5]), "non-empty 1-D integer array"),
    ((np.float32(1), [1]), "at least 1 dimension"),
    ((np.ones(3), [2, 1], [0, 0]), "sorted_indices must be a permutation of range(2)"),
    ((np.ones(3), [2, 1], [0, 1, 2]), "sorted_indices must be a permutation of range(2)"),
    ((np.ones(3), [2, 1], None, [2, 0]), "unsorted_indices must be a permutation of range(2)"),
    ((np.ones(4), [2, 2], [1, 0], [0, 1]), "unsorted_indices [0, 1] is not the inverse of sorted_indices [1, 0]"),
])
def test_constructor_checks_the_fields_fit(args, words):
    with pytest.raises(ValueError) as info:
        PackedSequence(*args)
    assert words in str(info.value)


def test_pickle_round_trip():
    p = example()
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is PackedSequence
    for field in PackedSequence._fields:
        same(field, getattr(q, field), getattr(p, field))


@pytest.mark.parametrize("call", [
    lambda p: p.to("cpu"), lambda p: p.to("cpu:0"), lambda p: p.to(np.float32), lambda p: p.to("float32"),
    lambda p: p.to(device="cpu", dtype="float"), lambda p: p.to(np.zeros(1, np.float32)),
    lambda p: p.to("cpu", np.float32, non_blocking=True), lambda p: p.cpu(), lambda p: p.float(),
    lambda p: p.pin_memory(),
])
def test_cpu_float32_conversions_return_self(call):
    p = example()
    assert call(p) is p
    assert p.is_cuda is False and p.is_pinned() is False


def test_integer_conversions_and_copies():
    p = example()
    for method, dtype in (("long", np.int64), ("int", np.int32), ("short", np.int16), ("char", np.int8),
                          ("byte", np.uint8)):
        q = getattr(p, method)()
        assert type(q) is PackedSequence and q.data.dtype == dtype and q.batch_sizes is p.batch_sizes
        same("values", q.data, p.data.astype(dtype))
        assert q.float().data.dtype == np.float32
    for copied in (p.to("cpu", copy=True), p.to(np.float32, False, True)):  # to(dtype, non_blocking, copy)
        assert copied is not p and copied.data is not p.data
        same("copy", copied.data, p.data)
    assert p.to(np.float32, True) is p
    assert p.long().to("cpu") is not p


@pytest.mark.parametrize("call, error, words", [
    (lambda p: p.to("cuda"), ValueError, "CPU only"),
    (lambda p: p.to(device="cuda:1"), ValueError, "CPU only"),
    (lambda p: p.cuda(), ValueError, "CPU only"),
    (lambda p: p.to(np.float64), TypeError, "float32 only"),
    (lambda p: p.to(dtype="double"), TypeError, "float32 only"),
    (lambda p: p.double(), TypeError, "float32 only"),
    (lambda p: p.half(), TypeError, "float32 only"),
    (lambda p: p.to("no such dtype"), TypeError, "is not a dtype"),
    (lambda p: p.to(cpu=True), TypeError, "unexpected keyword argument(s): cpu"),
])
def test_what_swiftrnn_cannot_do_is_an_error(call, error, words):
    with pytest.raises(error) as info:
        call(example())
    assert words in str(info.value)


def test_invert_permutation():
    assert invert_permutation(None) is None
    perm = np.random.default_rng(0).permutation(50)
    inv = invert_permutation(perm)
    assert inv.dtype == np.int64
    same("inverse", perm[inv], np.arange(50))


def test_the_module_docstring_example_runs():
    result = doctest.testmod(rnn, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
