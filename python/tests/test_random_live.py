"""Live check of swiftrnn.random against torch's CPU generator (skipped when torch is not importable).

Run with the reference venv:  PYTHONPATH=python "$PY" -m pytest python/tests/test_random_live.py -q
Random seeds (many >= 2**32), sizes and ranges, drawn from a fixed NumPy seed; everything is compared
bit for bit, except forward outputs (float32 tolerance).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402
from swiftrnn import random as srandom  # noqa: E402

from conftest import assert_close  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
CASES = np.random.default_rng(20260101)


def seeds(n):
    return [int(s) for s in CASES.integers(0, 2**64 - 1, n, dtype=np.uint64)] + [0, 1, 2**32, 2**64 - 1]


def same_bits(name, a, e):
    a, e = np.asarray(a), np.asarray(e)
    assert a.shape == e.shape and a.dtype == e.dtype, f"{name}: {a.shape} {a.dtype} vs torch {e.shape} {e.dtype}"
    if a.tobytes() != e.tobytes():
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        i = int(np.argmax((a != e).reshape(-1)))
        raise AssertionError(f"{name}: {int((a != e).sum())}/{a.size} differ, max abs diff {diff.max():.3g}, "
                             f"first at {i}: {a.reshape(-1)[i]!r} vs torch {e.reshape(-1)[i]!r}")


@pytest.mark.parametrize("seed", seeds(40))
def test_rand_randn_randint_sequences(seed):
    sizes = [int(n) for n in CASES.integers(1, 3000, 6)] + [1, 3, 15, 16, 17, 33]
    torch.manual_seed(seed)
    swiftrnn.manual_seed(seed)
    for n in sizes:
        same_bits(f"rand({n})", swiftrnn.rand(n), torch.rand(n).numpy())
        same_bits(f"randn({n})", swiftrnn.randn(n), torch.randn(n).numpy())
        low = int(CASES.integers(-2**40, 2**40))
        span = int(CASES.choice([2, 10, 2**28 - 1, 2**28, 2**31, 2**32 - 1, 2**32, 2**33 + 7, 2**62]))
        same_bits(f"randint({low}, {low + span}, ({n},))", swiftrnn.randint(low, low + span, (n,)),
                  torch.randint(low, low + span, (n,)).numpy())
    same_bits("get_rng_state", swiftrnn.get_rng_state(), torch.get_rng_state().numpy())


@pytest.mark.parametrize("seed", seeds(12))
def test_fills_with_parameters(seed):
    g = srandom.Generator().manual_seed(seed)
    tg = torch.Generator().manual_seed(seed)
    for _ in range(8):
        n = int(CASES.choice([1, 5, 16, 31, 100, 1001]))
        mean, std = float(CASES.normal()), float(CASES.uniform(0, 3))
        a, b = sorted(float(v) for v in CASES.normal(0, 10, 2))
        p = float(CASES.uniform())
        same_bits(f"normal_({mean}, {std}) x{n}", srandom._normal_(np.empty(n, np.float32), mean, std, generator=g),
                  torch.empty(n).normal_(mean, std, generator=tg).numpy())
        same_bits(f"uniform_({a}, {b}) x{n}", srandom._uniform_(np.empty(n, np.float32), a, b, generator=g),
                  torch.empty(n).uniform_(a, b, generator=tg).numpy())
        same_bits(f"bernoulli_({p}) x{n}", srandom._bernoulli_(np.empty(n, np.float32), p, generator=g),
                  torch.empty(n).bernoulli_(p, generator=tg).numpy())


@pytest.mark.parametrize("seed", seeds(6))
def test_dropout_masks(seed):
    torch.manual_seed(seed)
    swiftrnn.manual_seed(seed)
    for p in [0.0, 0.1, 0.25, 0.5, 0.9, 1.0, float(CASES.uniform())]:
        n = int(CASES.integers(1, 2000))
        same_bits(f"dropout mask p={p}", srandom._dropout_mask((n,), p),
                  torch.nn.functional.dropout(torch.ones(n), p, training=True).numpy())


@pytest.mark.parametrize("seed", seeds(10))
def test_modules_initialise_as_torch(seed):
    for _ in range(3):
        i, o, h = (int(v) for v in CASES.integers(1, 70, 3))
        layers, bias, bidir = int(CASES.integers(1, 4)), bool(CASES.integers(2)), bool(CASES.integers(2))
        num, pad = int(CASES.integers(1, 60)), CASES.choice([None, 0, -1])
        pad = None if pad is None else int(pad)
        torch.manual_seed(seed)
        t_mods = [torch.nn.Linear(i, o, bias=bias), torch.nn.RNN(i, h, layers, bias=bias, bidirectional=bidir),
                  torch.nn.Embedding(num, o, padding_idx=pad)]
        swiftrnn.manual_seed(seed)
        s_mods = [nn.Linear(i, o, bias=bias), nn.RNN(i, h, layers, bias=bias, bidirectional=bidir),
                  nn.Embedding(num, o, padding_idx=pad)]
        for tm, sm in zip(t_mods, s_mods):
            for k, v in tm.state_dict().items():
                same_bits(f"{tm} {k}", sm.state_dict()[k], v.numpy())
        same_bits("state after init", swiftrnn.get_rng_state(), torch.get_rng_state().numpy())


@pytest.mark.parametrize("seed", seeds(4))
def test_rnn_dropout_in_training_mode(seed):
    torch.manual_seed(seed)
    t = torch.nn.RNN(6, 9, num_layers=3, dropout=0.4, bidirectional=True)
    tx = torch.randn(4, 3, 6)
    with torch.no_grad():
        ty, th = t(tx)
    swiftrnn.manual_seed(seed)
    s = nn.RNN(6, 9, num_layers=3, dropout=0.4, bidirectional=True)
    sx = swiftrnn.randn(4, 3, 6)
    sy, sh = s(sx)
    assert_close("output", sy, ty.numpy(), rtol=1e-5, atol=2e-6)
    assert_close("hn", sh, th.numpy(), rtol=1e-5, atol=2e-6)
    same_bits("state after forward", swiftrnn.get_rng_state(), torch.get_rng_state().numpy())


def test_states_move_between_torch_and_swiftrnn():
    torch.manual_seed(5)
    torch.randn(7)  # leaves a cached normal
    swiftrnn.set_rng_state(torch.get_rng_state())  # a torch ByteTensor
    same_bits("randn after torch -> swiftrnn", swiftrnn.randn(5), torch.randn(5).numpy())
    swiftrnn.manual_seed(8)
    swiftrnn.randn(3)
    torch.set_rng_state(torch.from_numpy(swiftrnn.get_rng_state()))
    same_bits("randn after swiftrnn -> torch", torch.randn(9).numpy(), swiftrnn.randn(9))
