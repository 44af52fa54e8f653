"""Reliability: huge sizes fail at once with a clean exception; zero-size dimensions behave like torch.

"At once" is checked by the process's peak RSS not moving (an attempted allocation would touch the
memory) and by a watchdog that ends the run if a call has not returned in a minute (a loop over a huge
count takes hours): no wall-clock assert that a loaded machine could fail.
"""
from __future__ import annotations

import contextlib
import faulthandler
import resource

import numpy as np
import pytest

from swiftrnn import _native, nn

F = nn.functional

SIZE_ERRORS = (MemoryError, ValueError, OverflowError)


def _twice_memory_rows() -> int:
    """Rows of 4 float32 that need twice this machine's RAM + swap (2**33 if unknown)."""
    from swiftrnn.nn.modules._checks import _memory_bytes
    memory = _memory_bytes()
    return 2**33 if memory is None else 2 * memory // 16 + 1


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def returns_before_a_hang(seconds: float = 60):
    """Ends the test process with the stacks of every thread if the block runs for `seconds`: it catches
    a call that would loop for hours (even inside the core, holding the GIL), not a slow machine."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


HUGE_CONSTRUCTORS = [
    ("Embedding(2**40, 2**20)", lambda: nn.Embedding(2**40, 2**20)),
    ("Embedding(2**62, 2)", lambda: nn.Embedding(2**62, 2)),
    ("Embedding(2**63, 2)", lambda: nn.Embedding(2**63, 2)),
    ("Embedding(10**30, 1)", lambda: nn.Embedding(10**30, 1)),
    ("Embedding(rows, 4), twice this machine's memory", lambda: nn.Embedding(_twice_memory_rows(), 4)),
    ("Embedding(2**62, 0)", lambda: nn.Embedding(2**62, 0)),
    ("RNN(2**31, 2**31)", lambda: nn.RNN(2**31, 2**31)),
    ("RNN(4, 2**62)", lambda: nn.RNN(4, 2**62)),
    ("RNN(2**62, 4)", lambda: nn.RNN(2**62, 4)),
    ("RNN(10, 2**20) (4 TiB)", lambda: nn.RNN(10, 2**20)),
    ("RNN(4, 4, num_layers=2**40)", lambda: nn.RNN(4, 4, num_layers=2**40)),
    ("RNN(0, 1, num_layers=2**61, bidirectional)", lambda: nn.RNN(0, 1, num_layers=2**61, bidirectional=True)),
    ("Linear(2**40, 2**40)", lambda: nn.Linear(2**40, 2**40)),
    ("Linear(2**63, 1)", lambda: nn.Linear(2**63, 1)),
    ("Linear(0, 2**63)", lambda: nn.Linear(0, 2**63)),
]


@pytest.mark.parametrize("name,make", HUGE_CONSTRUCTORS, ids=[n for n, _ in HUGE_CONSTRUCTORS])
def test_huge_constructor_fails_at_once(name, make):
    rss = peak_rss_mb()
    with returns_before_a_hang(), pytest.raises(SIZE_ERRORS) as info:
        make()
    assert peak_rss_mb() - rss < 50, f"{name} grew the peak RSS"
    assert str(info.value), "the message must say what was too big"


def test_size_error_messages_name_the_sizes():
    with pytest.raises(MemoryError, match=r"Embedding\(1099511627776, 1048576\).*EiB"):
        nn.Embedding(2**40, 2**20)
    with pytest.raises(OverflowError, match=r"Embedding\(4611686018427387904, 2\).*64-bit"):
        nn.Embedding(2**62, 2)
    with pytest.raises(OverflowError, match=r"RNN\(2147483648, 2147483648"):
        nn.RNN(2**31, 2**31)


def test_numpy_integer_sizes_are_checked_the_same_way():
    with pytest.raises(SIZE_ERRORS):
        nn.Embedding(np.int64(2**62), np.int64(2))
    with pytest.raises(SIZE_ERRORS):
        nn.Linear(np.uint64(2**63), 1)


@pytest.mark.parametrize("make", [
    lambda: _native.rnn_forward(np.zeros((1, 1, 0), np.float32), None, (), (0, 4, 2**61, 0, 1, 0, 1), None),
    lambda: _native.rnn_forward(np.zeros((1, 1, 0), np.float32), None, (), (0, 34, 2**61, 0, 0, 0, 0), None),
    lambda: _native.rnn_forward(np.zeros((1, 1, 4), np.float32), None, (), (4, 2**62, 1, 0, 1, 0, 0), None),
    lambda: _native.rnn_forward(np.zeros((1, 1, 4), np.float32), None, (), (4, 4, 1, 2**40, 1, 0, 0), None),
    lambda: _native.rnn_forward(np.zeros((1, 1, 4), np.float32), None, (), (4, 4, 1, 0, 1, 0, 0), None),
    lambda: _native.rnn_forward(np.zeros((1, 1, 4), np.float32), None, (), (4, 4, 1, 0, 1, 0, 2**70), None),
])
def test_native_rnn_rejects_impossible_descriptions(make):
    """The extension's own entry point, with descriptions no module builds: a clean error, no crash."""
    with pytest.raises(SIZE_ERRORS):
        make()


def test_huge_virtual_inputs_fail_cleanly():
    """Zero-stride views claim terabytes: copying them to contiguous float32 must fail, not crash."""
    lin = nn.Linear(3, 2)
    x = np.broadcast_to(np.zeros(3, np.float32)[None, None], (2**21, 2**21, 3))
    with pytest.raises(MemoryError):
        lin(x)
    emb = nn.Embedding(4, 2)
    idx = np.broadcast_to(np.zeros(1, np.int64), (2**40,))
    with pytest.raises(MemoryError):
        emb(idx)


def test_output_too_big_to_allocate_fails_cleanly():
    """A zero-size input whose output would be astronomically large."""
    lin = nn.Linear(0, 2**20)
    x = np.zeros((2**44, 0), np.float32)  # 0 elements, fine
    with pytest.raises(SIZE_ERRORS):
        lin(x)  # output (2**44, 2**20): 2**66 bytes
    emb = nn.Embedding(3, 2**20)
    with pytest.raises(SIZE_ERRORS):
        # output (2**44, 0, 2**20) has 0 elements but NumPy cannot represent the shape (torch could)
        emb(np.zeros((2**44, 0), np.int64))


def test_set_num_threads_bounds():
    import swiftrnn
    before = swiftrnn.get_num_threads()
    for bad in (0, -1, 5000, 2**70):
        with pytest.raises((ValueError, OverflowError)):
            swiftrnn.set_num_threads(bad)
    for bad in (1.5, "2", None):
        with pytest.raises(TypeError):
            swiftrnn.set_num_threads(bad)
    assert swiftrnn.get_num_threads() == before


# ---------------------------------------------------------------------------------------------------
# Zero-size dimensions, as torch
# ---------------------------------------------------------------------------------------------------

def test_embedding_with_no_rows():
    emb = nn.Embedding(0, 3)
    assert emb.weight.shape == (0, 3)
    assert emb(np.zeros((0,), np.int64)).shape == (0, 3)
    assert emb(np.zeros((2, 0), np.int64)).shape == (2, 0, 3)
    with pytest.raises(IndexError, match="empty"):
        emb(0)


def test_embedding_with_no_columns():
    emb = nn.Embedding(5, 0)
    out = emb([[1, 4], [0, 2]])
    assert out.shape == (2, 2, 0) and out.dtype == np.float32
    with pytest.raises(IndexError):
        emb([5])  # still range-checked
    assert nn.Embedding(5, 0, max_norm=1.0)([1, 2]).shape == (2, 0)


def test_embedding_empty_index_shapes():
    emb = nn.Embedding(4, 2)
    assert emb(np.zeros((0,), np.int64)).shape == (0, 2)
    assert emb(np.zeros((3, 0, 2), np.int32)).shape == (3, 0, 2, 2)
    assert emb([]).shape == (0, 2)


def test_linear_zero_in_features_gives_the_bias():
    lin = nn.Linear(0, 3)
    assert lin.weight.shape == (3, 0)
    out = lin(np.zeros((4, 0), np.float32))
    assert out.shape == (4, 3)
    np.testing.assert_array_equal(out, np.broadcast_to(lin.bias, (4, 3)))
    assert not np.any(nn.Linear(0, 3, bias=False)(np.zeros((2, 0))))


def test_linear_zero_out_features_and_zero_batch():
    assert nn.Linear(3, 0)(np.ones((4, 3))).shape == (4, 0)
    assert nn.Linear(3, 2)(np.ones((0, 3))).shape == (0, 2)
    assert nn.Linear(3, 2)(np.ones((2, 0, 3))).shape == (2, 0, 2)
    assert nn.Linear(0, 0)(np.ones((2, 0))).shape == (2, 0)


def test_rnn_zero_input_size():
    rnn = nn.RNN(0, 4, num_layers=2)
    out, hn = rnn(np.zeros((3, 2, 0), np.float32))
    assert out.shape == (3, 2, 4) and hn.shape == (2, 2, 4)
    # no input: h_t = tanh(b_ih + b_hh + W_hh h_{t-1}), the same for every batch entry
    h = np.zeros(4)
    for _ in range(3):
        h = np.tanh(rnn.bias_ih_l0 + rnn.bias_hh_l0 + rnn.weight_hh_l0.astype(np.float64) @ h)
    np.testing.assert_allclose(hn[0, 0], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


def test_rnn_zero_batch():
    rnn = nn.RNN(3, 4, num_layers=2, bidirectional=True)
    out, hn = rnn(np.zeros((5, 0, 3), np.float32))
    assert out.shape == (5, 0, 8) and hn.shape == (4, 0, 4)
    out, hn = rnn(np.zeros((5, 0, 3), np.float32), np.zeros((4, 0, 4), np.float32))
    assert out.shape == (5, 0, 8)
    rnn_bf = nn.RNN(3, 4, batch_first=True)
    out, hn = rnn_bf(np.zeros((0, 5, 3), np.float32))
    assert out.shape == (0, 5, 4) and hn.shape == (1, 0, 4)


def test_rnn_zero_sequence_length_is_value_error():
    with pytest.raises(ValueError, match="at least 1"):
        nn.RNN(3, 4)(np.zeros((0, 2, 3), np.float32))


def test_rnn_zero_hidden_size_is_value_error():
    with pytest.raises(ValueError, match="hidden_size"):
        nn.RNN(3, 0)


@pytest.mark.parametrize("shape,dim", [((0,), 0), ((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((2, 0, 4), -1)])
def test_softmax_of_empty_arrays(shape, dim):
    x = np.zeros(shape, np.float32)
    assert F.softmax(x, dim).shape == shape
    assert F.log_softmax(x, dim).shape == shape


def test_many_layers_beyond_the_old_parameter_cap():
    """torch has no limit on num_layers: 1100 layers x 4 parameters > the old cap of 4096 arrays."""
    rnn = nn.RNN(2, 1, num_layers=1100)
    out, hn = rnn(np.ones((2, 1, 2), np.float32))
    assert out.shape == (2, 1, 1) and hn.shape == (1100, 1, 1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_zero_positions_and_a_huge_batch_returns_at_once(reduction):
    """logits (2**40, 3, 0): nothing to score. The core once looped over all 2**40 empty rows (hours)."""
    loss = nn.CrossEntropyLoss(reduction=reduction)
    with returns_before_a_hang():
        out = loss(np.zeros((2**40, 3, 0), np.float32), np.zeros((2**40, 0), np.int64))
    if reduction == "sum":
        assert float(out) == 0.0
    elif reduction == "mean":
        assert np.isnan(out)
    else:
        assert out.shape == (2**40, 0)


# Building a module costs one parameter-cache rebuild, not one per parameter (that was O(n^2): 2000 RNN
# layers took seconds). Counted, not timed.
def test_construction_rebuilds_the_parameter_cache_once(monkeypatch):
    calls = []
    real = nn.RNN._parameters_changed
    monkeypatch.setattr(nn.RNN, "_parameters_changed", lambda self: (calls.append(1), real(self))[1])
    r = nn.RNN(3, 4, num_layers=50, bidirectional=True)
    assert len(calls) == 1
    assert len(r._flat) == 400 and all(a is b for a, b in zip(r._flat, r._parameters.values()))
    r.weight_hh_l7_reverse = nn.Parameter(np.zeros((4, 4)))  # after construction: at once
    assert len(calls) == 2 and r._flat[8 * 7 + 5] is r.weight_hh_l7_reverse


def test_a_subclass_can_use_its_base_inside_its_constructor():
    class Tied(nn.RNN):
        def __init__(self):
            super().__init__(2, 3, num_layers=2)
            self.probe = self(np.ones((1, 2), np.float32))[0]  # the base's cache is ready here
            self.register_parameter("extra", np.zeros(3))

    t = Tied()
    assert t.probe.shape == (1, 3) and len(t._flat) == 9 and t._flat[-1] is t.extra


def test_the_memory_check_counts_the_objects_of_many_small_parameters(monkeypatch):
    from swiftrnn.nn.modules import _checks
    monkeypatch.setattr(_checks, "_memory_bytes", lambda: 100 << 20)
    # 400,000 arrays of one float: 1.6 MB of numbers, ~400 MB of Python objects
    with pytest.raises(MemoryError, match=r"num_layers=100000\) needs 3\d\d\.\d MiB"):
        nn.RNN(1, 1, num_layers=100_000)
    nn.RNN(1, 1, num_layers=1000)  # 4000 arrays: ~4 MB
