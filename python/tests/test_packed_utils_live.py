"""Live check of swiftrnn.nn.utils.rnn against torch.nn.utils.rnn (skipped when torch is not importable).

Run with a venv that has torch:  PYTHONPATH=python "$PY" -m pytest python/tests/test_packed_utils_live.py -q
Random length lists (hypothesis), both batch_first, enforce_sorted both ways, total_length, padding_side and
padding values; torch tensors (one requiring grad) as inputs and lengths. Everything is compared exactly; with
equal lengths in a batch of more than 16 sequences torch's sort order differs from ours (stable), and then
the order-independent outputs are compared.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
from torch.nn.utils import rnn as trnn  # noqa: E402

from swiftrnn.nn.utils import rnn  # noqa: E402

torch.set_num_threads(1)


def same(name, ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape}, torch {theirs.shape}"
    assert ours.dtype == theirs.dtype or (ours.dtype == np.float32 and theirs.dtype.kind == "f"), \
        f"{name}: dtype {ours.dtype}, torch {theirs.dtype}"
    assert np.array_equal(ours, theirs.astype(ours.dtype)), f"{name}: values differ"


@st.composite
def batches(draw, min_length=1, max_batch=24):
    lengths = draw(st.lists(st.integers(min_length, 12), min_size=1, max_size=max_batch))
    trailing = draw(st.sampled_from([(), (3,), (2, 2)]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64]))
    return lengths, trailing, dtype, draw(st.integers(0, 2**31 - 1))


def tensor(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.int64:
        return torch.randint(-100, 100, shape, generator=g)
    return torch.randn(shape, generator=g, dtype=dtype)


def torch_order_is_stable(packed, lengths):
    return packed.sorted_indices is None or np.array_equal(packed.sorted_indices.numpy(),
                                                           np.argsort(-np.array(lengths), kind="stable"))


@settings(max_examples=300, deadline=None)
@given(batches(), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 3), st.integers(0, 3),
       st.sampled_from([0.0, -1.0, 0.5]))
def test_pack_and_pad_padded(batch, batch_first, enforce_sorted, pad_batch_first, extra, total_extra, value):
    lengths, trailing, dtype, seed = batch
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    steps = max(lengths) + extra
    x = tensor(((len(lengths), steps) if batch_first else (steps, len(lengths))) + trailing, dtype, seed)
    if dtype == torch.float32:
        x.requires_grad_()
    theirs = trnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                       enforce_sorted=enforce_sorted)
    ours = rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    same("batch_sizes", ours.batch_sizes, theirs.batch_sizes)
    if torch_order_is_stable(theirs, lengths):
        same("data", ours.data, theirs.data)
        for field in ("sorted_indices", "unsorted_indices"):
            if getattr(theirs, field) is None:
                assert getattr(ours, field) is None
            else:
                same(field, getattr(ours, field), getattr(theirs, field))
    total = None if total_extra == 0 else max(lengths) + total_extra - 1
    padded, out_lengths = rnn.pad_packed_sequence(ours, batch_first=pad_batch_first, padding_value=value,
                                                  total_length=total)
    t_padded, t_lengths = trnn.pad_packed_sequence(theirs, batch_first=pad_batch_first, padding_value=value,
                                                   total_length=total)
    same("padded", padded, t_padded)
    same("lengths", out_lengths, t_lengths)
    for i, (a, b) in enumerate(zip(rnn.unpack_sequence(ours), trnn.unpack_sequence(theirs))):
        same(f"unpacked[{i}]", a, b)


@settings(max_examples=200, deadline=None)
@given(batches(min_length=0, max_batch=10), st.booleans(), st.sampled_from(["right", "left"]),
       st.sampled_from([0.0, 2.0, -0.25]))
def test_pad_and_unpad_sequence(batch, batch_first, side, value):
    lengths, trailing, dtype, seed = batch
    seqs = [tensor((n,) + trailing, dtype, seed + i) for i, n in enumerate(lengths)]
    padded = rnn.pad_sequence(seqs, batch_first=batch_first, padding_value=value, padding_side=side)
    t_padded = trnn.pad_sequence(seqs, batch_first=batch_first, padding_value=value, padding_side=side)
    same("padded", padded, t_padded)
    if side == "right":
        t_out = trnn.unpad_sequence(t_padded.clone(), torch.tensor(lengths), batch_first=batch_first)
        for i, (a, b) in enumerate(zip(rnn.unpad_sequence(t_padded, torch.tensor(lengths), batch_first), t_out)):
            same(f"unpadded[{i}]", a, b)


@settings(max_examples=200, deadline=None)
@given(batches(max_batch=16), st.booleans())
def test_pack_sequence(batch, enforce_sorted):
    lengths, trailing, dtype, seed = batch
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    seqs = [tensor((n,) + trailing, dtype, seed + i) for i, n in enumerate(lengths)]
    ours, theirs = rnn.pack_sequence(seqs, enforce_sorted), trnn.pack_sequence(seqs, enforce_sorted)
    for field, a, b in zip(rnn.PackedSequence._fields, ours, theirs):
        assert (a is None) == (b is None), field
        if a is not None:
            same(field, a, b)
    for i, (a, b) in enumerate(zip(rnn.unpack_sequence(ours), trnn.unpack_sequence(theirs))):
        same(f"unpacked[{i}]", a, b)


@pytest.mark.parametrize("lengths, enforce_sorted", [([3, 2, 0], True), ([3, 0, 1], False), ([3, 1, 2], True),
                                                     ([3, 2, 1, 1], True), ([3, 2, -2], True)])
def test_errors_have_torchs_type_and_words(lengths, enforce_sorted):
    x = torch.zeros(4, 3)
    with pytest.raises(Exception) as theirs:
        trnn.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    with pytest.raises(Exception) as ours:
        rnn.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value).startswith(str(theirs.value))


def test_a_packed_sequence_of_torch_fields():
    theirs = trnn.pack_sequence([torch.ones(3), torch.ones(1), torch.ones(2)], enforce_sorted=False)
    ours = rnn.PackedSequence(*theirs)
    assert ours.data.dtype == np.float32 and ours.batch_sizes.dtype == np.int64
    same("padded", rnn.pad_packed_sequence(ours)[0], trnn.pad_packed_sequence(theirs)[0])
    assert ours.to(torch.float32) is ours and ours.to(torch.device("cpu")) is ours
    assert ours.to(torch.int64).data.dtype == np.int64
    with pytest.raises(TypeError):
        ours.to(torch.float64)
