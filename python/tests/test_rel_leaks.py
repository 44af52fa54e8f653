"""Reliability: no leaks. RSS stays flat over many calls and raised errors; reference counts are right.

The sanitizer/valgrind side of this is scripts/valgrind_python.sh and `swift test --sanitize=address`.
"""
from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

from swiftrnn import _native, nn, optim

F = nn.functional


def rss_mb() -> float:
    """Current resident set size (not the peak), in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")


def _workload():
    rng = np.random.default_rng(0)
    emb = nn.Embedding(100, 16)
    emb_norm = nn.Embedding(100, 16, max_norm=1.0)
    rnn = nn.RNN(16, 32, num_layers=2, bidirectional=True, batch_first=True)
    rnn_drop = nn.RNN(16, 8, num_layers=2, dropout=0.5)
    fc = nn.Linear(64, 100)
    ids = rng.integers(0, 100, size=(4, 5))
    h0 = np.zeros((4, 4, 32), np.float32)
    x64 = rng.standard_normal((3, 4, 16))  # float64: cast on each call
    strided = rng.standard_normal((5, 4, 32)).astype(np.float32)[:, :, ::2]
    bad_h0 = np.zeros((1, 4, 32), np.float32)

    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(list(emb.parameters()) + list(rnn.parameters()) + list(fc.parameters()), lr=1e-4)

    def calls(i):
        out, hn = rnn(emb(ids), h0)
        logits = fc(out)
        F.log_softmax(logits, dim=-1)
        if i % 4 == 0:  # a training step: backward through all three, an optimizer step
            loss_fn(logits.reshape(-1, 100), ids.reshape(-1))
            g = fc.backward(loss_fn.backward().reshape(logits.shape))
            gx, _ = rnn.backward(g, None)
            emb.backward(gx)
            opt.step()
            opt.zero_grad()
        emb_norm(ids)
        rnn_drop(x64)
        rnn_drop(strided)
        F.softmax([[1.0, 2.0]], dim=0)
        fc(out[:, 0])

    def errors(i):
        for bad in (lambda: emb([100]), lambda: emb([1.5]), lambda: emb(2**70), lambda: rnn(emb(ids), bad_h0),
                    lambda: rnn(np.zeros((4, 0, 16))), lambda: fc(np.zeros((2, 3))), lambda: fc("junk"),
                    lambda: F.softmax(np.zeros(3), 5), lambda: rnn(np.zeros((4, 5, 16), np.complex64)),
                    lambda: rnn.load_state_dict({"weight_ih_l0": np.zeros(3)}),
                    lambda: fc.load_state_dict({"weight": np.zeros((100, 64)), "bias": "x"}),
                    lambda: nn.Embedding(2**40, 2**20), lambda: nn.RNN(2**31, 2**31),
                    lambda: _native.rnn_forward(np.zeros((1, 1, 4), np.float32), None, (), (4, 4, 1, 0, 1, 0, 0), None)):
            try:
                bad()
            except (ValueError, TypeError, IndexError, RuntimeError, OverflowError, MemoryError):
                pass  # RuntimeError: load_state_dict's, as torch's
            else:
                raise AssertionError("expected an error")

    return calls, errors


@needs_proc
def test_rss_stays_flat_over_many_calls_and_errors():
    calls, errors = _workload()
    for i in range(300):  # warm up: allocator pools, caches, the first-call paths
        calls(i)
        errors(i)
    gc.collect()
    before = rss_mb()
    forward_calls = raised = 0
    for i in range(20_000 // 7 + 1):
        calls(i)  # 7 module calls (10 native calls)
        forward_calls += 7
        if i % 4 == 0:
            errors(i)  # 14 raised errors
            raised += 14
    gc.collect()
    growth = rss_mb() - before
    print(f"RSS growth over {forward_calls} forward calls and {raised} raised errors: {growth:.2f} MiB")
    assert growth < 15, f"RSS grew by {growth:.1f} MiB"


def test_refcounts_of_inputs_and_outputs():
    rnn = nn.RNN(4, 6, num_layers=2)
    emb = nn.Embedding(10, 4)
    lin = nn.Linear(6, 3)
    x = np.ones((3, 2, 4), np.float32)
    h0 = np.zeros((2, 2, 6), np.float32)
    ids = np.array([[1, 2], [3, 4]])
    params = [p for m in (rnn, emb, lin) for p in m.parameters()]
    watched = [x, h0, ids] + params
    before = [sys.getrefcount(o) for o in watched]

    for _ in range(100):
        out, hn = rnn(x, h0)
        assert sys.getrefcount(out) == 2 and sys.getrefcount(hn) == 2  # only `out` / `hn` hold them
        y = lin(out)
        assert sys.getrefcount(y) == 2
        e = emb(ids)
        assert sys.getrefcount(e) == 2
        s = F.softmax(y, dim=-1)
        assert sys.getrefcount(s) == 2
        res = rnn(x)
        assert sys.getrefcount(res) == 2 and sys.getrefcount(res[0]) == 3  # the tuple + the argument
    del out, hn, y, e, s, res
    assert [sys.getrefcount(o) for o in watched] == before


def test_refcounts_after_errors():
    rnn = nn.RNN(4, 6)
    emb = nn.Embedding(10, 4, max_norm=1.0)
    x = np.ones((3, 2, 4), np.float32)
    bad_h0 = np.zeros((1, 3, 6), np.float32)
    bad_ids = np.array([1, 20])
    masks = np.ones(5, np.float32)
    params = list(rnn.parameters()) + list(emb.parameters())
    watched = [x, bad_h0, bad_ids, masks] + params
    flat = rnn._flat
    before = [sys.getrefcount(o) for o in watched]
    flat_before = sys.getrefcount(flat)
    for _ in range(100):
        with pytest.raises(ValueError):
            rnn(x, bad_h0)
        with pytest.raises(IndexError):
            emb(bad_ids)
        with pytest.raises(ValueError):  # masks of the wrong size, straight into the extension
            _native.rnn_forward(x, None, flat, rnn._desc, masks)
        with pytest.raises(TypeError):
            _native.rnn_forward(x, None, flat[:-1] + ("junk",), rnn._desc, None)
    assert [sys.getrefcount(o) for o in watched] == before
    assert sys.getrefcount(flat) == flat_before


def test_outputs_own_their_memory():
    """Outputs are fresh arrays, not views of inputs or of module state."""
    lin = nn.Linear(3, 3)
    x = np.ones((2, 3), np.float32)
    y = lin(x)
    assert y.base is None and y.flags.owndata
    emb = nn.Embedding(4, 3)
    e = emb([1])
    assert e.base is None and not np.shares_memory(e, emb.weight)
    out, hn = nn.RNN(3, 2)(x[None])
    assert out.base is None and hn.base is None and not np.shares_memory(out, x)
