"""Shared helpers for swiftrnn's Python tests: tolerant array comparison and fixture loading."""

from __future__ import annotations

import functools
import json
import os

import numpy as np

RTOL = 1e-4
ATOL = 2e-5

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def assert_close(name, actual, expected, rtol=RTOL, atol=ATOL):
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise, with equal shapes.

    NaN must match NaN and +-inf must match exactly. On failure the message names the tensor,
    the shapes, the max abs diff and where it is.
    """
    actual_arr = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual_arr.shape == expected.shape, (
        f"{name}: shape {actual_arr.shape} != expected {expected.shape}")
    if actual_arr.size == 0:
        return
    a = actual_arr.astype(np.float64)
    e = expected.astype(np.float64)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    bad = nan_a != nan_e
    inf_e = np.isinf(e) | np.isinf(a)
    bad |= inf_e & ~(nan_a | nan_e) & (a != e)
    finite = ~(nan_a | nan_e | inf_e)
    diff = np.zeros_like(a)
    diff[finite] = np.abs(a[finite] - e[finite])
    bad |= finite & (diff > atol + rtol * np.abs(np.where(finite, e, 0.0)))
    if bad.any():
        worst = np.unravel_index(int(np.argmax(np.where(finite, diff, 0.0))), a.shape)
        first = np.unravel_index(int(np.argmax(bad)), a.shape)
        raise AssertionError(
            f"{name}: {int(bad.sum())}/{a.size} elements differ (rtol={rtol}, atol={atol}); "
            f"max abs diff {float(diff.max()):.3g} at {tuple(int(i) for i in worst)}; "
            f"first mismatch at {tuple(int(i) for i in first)}: got {a[first]!r}, expected {e[first]!r}")


def assert_float32_output(name, out):
    """Outputs are new C-contiguous float32 NumPy arrays."""
    assert isinstance(out, np.ndarray), f"{name}: expected numpy.ndarray, got {type(out).__name__}"
    assert out.dtype == np.float32, f"{name}: dtype {out.dtype}, expected float32"
    assert out.flags["C_CONTIGUOUS"], f"{name}: output is not C-contiguous"


@functools.lru_cache(maxsize=None)
def load_fixture(name):
    """Return (meta, arrays) of fixtures/<name>.npz; arrays maps "<case>.<tensor>" to ndarray."""
    path = os.path.join(FIXTURES, name + ".npz")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    return meta, arrays


def fixture_cases(name, kind=None):
    """The cases of one fixture file (optionally of one kind), for pytest.mark.parametrize."""
    meta, _ = load_fixture(name)
    return [c for c in meta["cases"] if kind is None or c["kind"] == kind]


def case_arrays(name, case):
    """{tensor: array} of one case, as fresh writable copies."""
    _, arrays = load_fixture(name)
    return {k: arrays[f"{case['name']}.{k}"].copy() for k in case["arrays"]}
