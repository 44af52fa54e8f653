"""nn.Embedding's per-call fast paths give exactly what the general paths give.

The extension takes a plain int64 C-contiguous ndarray as is (every other index spelling goes through
NumPy's conversion), copies it privately for backward in the same call in training mode, keeps the GIL
for small lookups, and the Swift core copies rows with inline SIMD moves (32-byte aligned stores);
Embedding.__call__ skips Module's *args/**kwargs packing. Each test feeds the same indices
through both kinds of path and compares bit patterns.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from swiftrnn import _native, nn
from swiftrnn.nn import functional as F


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint32)


def spellings(idx: np.ndarray):
    """The same indices as inputs that miss the fast path (other dtypes, layouts, byte order, containers)."""
    yield idx.astype(np.int32)
    yield idx.astype(np.uint16) if idx.size and idx.min() >= 0 else idx.astype(np.int16)
    yield idx.astype(np.dtype(">i8"))
    yield np.asfortranarray(idx) if idx.ndim > 1 else idx.copy()
    yield idx.tolist()
    wide = np.zeros(idx.shape + (2,), np.int64)
    wide[..., 0] = idx
    yield wide[..., 0]  # a strided view
    yield idx.view(type("Sub", (np.ndarray,), {}))  # an ndarray subclass


def weight_with_nan_payloads(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, dim)).astype(np.float32)
    u = w.view(np.uint32)
    u.flat[::5] = 0x7F800001  # signalling NaN
    u.flat[1::7] = 0xFFC01234  # negative quiet NaN with a payload
    u.flat[2::11] = 0x80000000  # -0.0
    return w


@pytest.mark.parametrize("dim", [0, 1, 3, 7, 8, 9, 16, 31, 32, 33, 40, 127, 128, 130])
@pytest.mark.parametrize("training", [True, False])
def test_fast_and_general_index_paths_agree_bit_for_bit(dim, training):
    w = weight_with_nan_payloads(50, dim)
    emb = nn.Embedding.from_pretrained(w, freeze=False)
    emb.train(training)
    rng = np.random.default_rng(dim)
    for shape in [(), (1,), (7,), (4, 5), (2, 3, 4)]:
        idx = rng.integers(0, 50, size=shape).astype(np.int64)
        want = w[idx]
        got = emb(idx)
        assert got.shape == idx.shape + (dim,) and got.dtype == np.float32
        assert np.array_equal(bits(got), bits(want))
        for other in spellings(idx):
            assert np.array_equal(bits(emb(other)), bits(want))


def test_functional_embedding_takes_the_same_paths():
    w = weight_with_nan_payloads(30, 12)
    idx = np.array([[3, 29, 0], [3, 3, 7]])
    want = bits(w[idx])
    assert np.array_equal(bits(F.embedding(idx, w)), want)
    for other in spellings(idx):
        assert np.array_equal(bits(F.embedding(other, w)), want)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("bad", [10, -1, -11, 2**40])
def test_errors_are_the_same_through_the_fast_path(training, bad):
    emb = nn.Embedding(10, 4)
    emb.train(training)
    fast = np.array([[1, 2], [bad, 3]], np.int64)
    with pytest.raises(IndexError) as fast_err:
        emb(fast)
    with pytest.raises(IndexError) as general_err:
        emb(fast.tolist())
    assert str(fast_err.value) == str(general_err.value)
    assert str(bad) in str(fast_err.value)


def test_type_errors_come_before_weight_errors_in_both_modes():
    for training in (True, False):
        emb = nn.Embedding(10, 4).train(training)
        with pytest.raises(TypeError, match="integers"):
            emb(np.array([1.0]))


def test_training_saves_a_private_copy_of_fast_path_indices():
    emb = nn.Embedding(6, 3)
    idx = np.array([[1, 2], [2, 5]], np.int64)
    out = emb(idx)
    idx[...] = 0  # the caller changes its array after the forward: backward still uses the original indices
    emb.backward(np.ones_like(out))
    g = emb.weight.grad
    assert g[0].tolist() == [0, 0, 0]
    assert g[1].tolist() == [1, 1, 1] and g[2].tolist() == [2, 2, 2] and g[5].tolist() == [1, 1, 1]


def test_native_save_returns_a_private_int64_array():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    for idx in (np.array([3, 1], np.int64), np.array([3, 1], np.int32), [3, 1], np.array([[3], [1]], order="F")):
        out, saved = _native.embedding_forward(w, idx, None, 2.0, True)
        assert saved.dtype == np.int64 and saved.flags.c_contiguous and saved.flags.owndata
        assert saved.ravel().tolist() == [3, 1] and out.shape == np.shape(idx) + (3,)
        if isinstance(idx, np.ndarray):
            assert not np.shares_memory(saved, idx)
    # without save (or with a false one): only the output
    assert isinstance(_native.embedding_forward(w, np.array([0]), None, 2.0), np.ndarray)
    assert isinstance(_native.embedding_forward(w, np.array([0]), None, 2.0, False), np.ndarray)
    with pytest.raises(TypeError):
        _native.embedding_forward(w, np.array([0]), None)


def test_eval_forward_saves_nothing():
    emb = nn.Embedding(6, 3).eval()
    emb(np.array([1, 2]))
    with pytest.raises(RuntimeError, match="eval mode"):
        emb.backward(np.ones((2, 3), np.float32))


def test_max_norm_through_the_fast_path_matches_the_general_path():
    w = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32) * 3
    a = nn.Embedding.from_pretrained(w, max_norm=1.5)
    b = nn.Embedding.from_pretrained(w, max_norm=1.5)
    idx = np.array([1, 4, 4, 7], np.int64)
    assert np.array_equal(bits(a(idx)), bits(b(idx.astype(np.int32))))
    assert np.array_equal(bits(a.weight), bits(b.weight))
    assert not np.array_equal(a.weight, w)  # rows were renormalised in place


def test_padding_idx_through_the_fast_path():
    emb = nn.Embedding(5, 3, padding_idx=2)
    out = emb(np.array([2, 0, 2], np.int64))
    assert out[0].tolist() == [0, 0, 0] and out[2].tolist() == [0, 0, 0]
    emb.backward(np.ones_like(out))
    assert emb.weight.grad[2].tolist() == [0, 0, 0] and emb.weight.grad[0].tolist() == [1, 1, 1]


def test_lookups_at_every_output_and_weight_alignment():
    # The row copy aligns its stores to 32 bytes first: outputs written at every float offset, from
    # weights at every float offset, straight through the C ABI via the functional form's native call.
    rng = np.random.default_rng(5)
    for dim in (1, 4, 5, 12, 33, 128):
        for w_off in range(8):
            wbuf = weight_with_nan_payloads(20 * dim + 8, 1, seed=dim).ravel()
            w = wbuf[w_off:w_off + 20 * dim].reshape(20, dim)
            idx = rng.integers(0, 20, size=(3, 4))
            assert np.array_equal(bits(F.embedding(idx, w)), bits(w[idx]))
            assert np.array_equal(bits(F.embedding(idx.astype(np.int16), w)), bits(w[idx]))


def test_subclass_forward_with_more_arguments_and_patched_forward():
    class Scaled(nn.Embedding):
        def forward(self, input, scale=1.0):
            return super().forward(input) * scale

    s = Scaled(5, 2)
    idx = np.array([1, 3])
    assert np.allclose(s(idx, 2.0), 2 * s(idx))
    assert np.allclose(s(idx, scale=3.0), 3 * s(idx))

    class Mixin:
        def forward(self, input, scale=1.0):
            return nn.Embedding.forward(self, input) * scale

    class Mixed(Mixin, nn.Embedding):  # forward from a mixin, not defined in the class itself
        pass

    m = Mixed(5, 2)
    assert np.allclose(m(idx, 4.0), 4 * m(idx))

    class Plain(nn.Embedding):  # no forward of its own: the fast __call__
        pass

    assert Plain.__call__ is nn.Embedding.__call__ and Scaled.__call__ is not nn.Embedding.__call__
    p = Plain(5, 2)
    assert np.array_equal(p(idx), p.weight[idx])

    emb = nn.Embedding(5, 2)
    calls = []
    original = emb.forward
    emb.forward = lambda x: calls.append(x) or original(x)  # patched on the instance: the call runs it
    emb(idx)
    assert len(calls) == 1


def test_missing_attribute_is_attribute_error():
    emb = nn.Embedding(5, 2)
    with pytest.raises(AttributeError, match="'Embedding' object has no attribute 'nope'"):
        emb.nope
    assert not hasattr(emb, "nope") and hasattr(emb, "weight")
    rnn = nn.RNN(2, 3)
    assert rnn.weight_ih_l0 is rnn._parameters["weight_ih_l0"]


@pytest.mark.parametrize("rows_looked_up", [4, 3000])  # below and above the size that releases the GIL
def test_threads_looking_up_at_once_get_their_own_results(rows_looked_up):
    emb = nn.Embedding(1000, 32)
    w = emb.weight.copy()
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(30):
                idx = rng.integers(0, 1000, size=rows_looked_up)
                if not np.array_equal(emb(idx), w[idx]):
                    errors.append(seed)
                with pytest.raises(IndexError):
                    emb(np.append(idx, 1000))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_max_norm_with_a_nan_in_a_row_leaves_the_row_as_torch_does():
    # torch's row norm is NaN (the inf-norm's amax included), NaN > max_norm is false: the row is kept.
    # (torch 2.15, Embedding.from_pretrained(w, max_norm=1.0, norm_type=p) of these rows: the same output.)
    w = np.array([[5.0, np.nan, -3.0], [3.0, 4.0, 0.0]], np.float32)
    for norm_type, scaled in ((2.0, [0.6, 0.8, 0.0]), (np.inf, [0.75, 1.0, 0.0]), (1.0, [3 / 7, 4 / 7, 0.0])):
        e = nn.Embedding.from_pretrained(w.copy(), max_norm=1.0, norm_type=norm_type)
        out = e([0, 1])
        np.testing.assert_array_equal(out[0], w[0])
        np.testing.assert_allclose(out[1], scaled, rtol=1e-6)
        np.testing.assert_array_equal(e.weight[0], w[0])


def test_max_norm_of_a_huge_finite_row_renormalises_it():
    # Deliberately unlike torch, whose float32 norm of (3e30, 4e30) overflows to inf and so zeroes the
    # row: the norm is taken in double, and the row is rescaled to max_norm as documented.
    e = nn.Embedding.from_pretrained(np.array([[3e30, 4e30]], np.float32), max_norm=2.0)
    np.testing.assert_allclose(e([0]), [[1.2, 1.6]], rtol=1e-6)
