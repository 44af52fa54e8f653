"""nn.init against torch.nn.init (fixtures from fixtures/make_init_fixtures.py; live when torch is importable):
after the same seed the same values bit for bit (orthogonal_ to rounding: NumPy's QR, not torch's), and the
generator left where torch leaves it."""
import json
import os
import warnings

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "init.npz"))
META = json.loads(FIXTURE["meta"].tobytes())
CASES = [(i, seed) for i in range(len(META["cases"])) for seed in META["seeds"]]


def _run(name, shape, kwargs, seed):
    swiftrnn.manual_seed(seed)
    out = np.full(shape, np.nan, np.float32)
    assert getattr(nn.init, name)(out, **kwargs) is out  # in place, and returned
    return out, swiftrnn.rand(3)


def _check(name, got, want):
    if name == "orthogonal_":
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("i,seed", CASES)
def test_init_matches_torch_fixture(i, seed):
    name, shape, kwargs = META["cases"][i]
    out, after = _run(name, shape, kwargs, seed)
    _check(name, out, FIXTURE[f"{i}.{seed}.out"])
    np.testing.assert_array_equal(after, FIXTURE[f"{i}.{seed}.after"])  # the same number of draws


@pytest.mark.parametrize("i", range(len(META["cases"])))
def test_init_matches_live_torch(i):
    torch = pytest.importorskip("torch")
    name, shape, kwargs = META["cases"][i]
    torch.manual_seed(7)
    t = torch.empty(shape)
    getattr(torch.nn.init, name)(t, **kwargs)
    out, after = _run(name, shape, kwargs, 7)
    _check(name, out, t.numpy())
    np.testing.assert_array_equal(after, torch.rand(3).numpy())


def test_orthogonal_is_orthogonal_and_init_works_on_parameters():
    rnn = nn.RNN(8, 16)
    nn.init.orthogonal_(rnn.weight_hh_l0)
    w = rnn.weight_hh_l0
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-5)
    nn.init.zeros_(rnn.bias_hh_l0)
    assert not rnn.bias_hh_l0.any() and isinstance(rnn.bias_hh_l0, nn.Parameter)
    g = swiftrnn.Generator().manual_seed(3)
    a = nn.init.xavier_uniform_(np.empty((4, 6), np.float32), generator=g)
    b = nn.init.xavier_uniform_(np.empty((4, 6), np.float32), generator=swiftrnn.Generator().manual_seed(3))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= np.sqrt(6 / 10)


def test_calculate_gain_is_torchs_table():
    gain = nn.init.calculate_gain
    assert gain("linear") == gain("conv2d") == gain("sigmoid") == 1
    assert gain("tanh") == 5.0 / 3 and gain("relu") == np.sqrt(2.0) and gain("selu") == 0.75
    assert gain("leaky_relu") == np.sqrt(2.0 / (1 + 0.01 ** 2)) and gain("leaky_relu", 0.2) == np.sqrt(2.0 / 1.04)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        gain("leaky_relu", "0.2")


def test_bad_targets_and_arguments_raise_clearly():
    with pytest.raises(TypeError, match="C-contiguous float32"):
        nn.init.uniform_(np.empty((3, 4)))  # float64
    with pytest.raises(TypeError, match="not C-contiguous"):
        nn.init.normal_(np.empty((3, 4), np.float32).T)
    read_only = np.empty(3, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(TypeError, match="read-only"):
        nn.init.zeros_(read_only)
    with pytest.raises(TypeError, match="fill in place"):
        nn.init.ones_([1.0, 2.0])
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(np.empty(5, np.float32))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(np.empty((2, 2), np.float32), mode="fan_avg")
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.eye_(np.empty((2, 2, 2), np.float32))
    with pytest.raises(TypeError, match="must be a real number"):
        nn.init.uniform_(np.empty(2, np.float32), "0", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.init.kaiming_normal_(np.empty((0, 3), np.float32))
    assert "zero-element" in str(caught[0].message)
