"""Array conversions shared by the NumPy-computed layers (activations, dropout, normalisation, losses)."""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ..parameter import _as_array

__all__ = ["float_input", "grad_like", "unbroadcast", "f32"]


def float_input(value: Any, what: str = "input") -> np.ndarray:
    """``value`` as a float32 ndarray (a view when it already is one): any real float dtype, nested lists,
    torch tensors. Integer, bool, complex or non-numeric data is a TypeError, as the native layers say."""
    arr = _as_array(value, what, "an array of floating-point numbers")
    if arr.dtype.kind != "f":
        raise TypeError(f"{what}: expected floating-point numbers, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False).view(np.ndarray)


def grad_like(grad: Any, shape: Tuple[int, ...], what: str = "grad_output") -> np.ndarray:
    """A gradient as a float32 array of exactly ``shape`` (ValueError naming both shapes otherwise)."""
    g = float_input(grad, what)
    if g.shape != tuple(shape):
        raise ValueError(f"expected {what} of shape {tuple(shape)} (the output's), got {g.shape}")
    return g


def unbroadcast(grad: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Sums a gradient of a broadcast result back to an operand of ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    g = grad.sum(axis=tuple(range(lead))) if lead else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def f32(value: Any) -> np.ndarray:
    """``value`` as a float32 ndarray (no copy when it is one): the typed result of NumPy expressions."""
    return np.asarray(value, dtype=np.float32)
