"""Weight initialisation in place, shaped like ``torch.nn.init``.

Each function fills a parameter (any writable C-contiguous float32 array: every ``nn.Parameter`` is one)
and returns it. The random ones draw from swiftrnn's generator as torch's draw from torch's, with the same
bounds computed the same way, so after ``swiftrnn.manual_seed(s)`` they give torch's values after
``torch.manual_seed(s)`` (``orthogonal_`` to rounding: its QR factorisation is NumPy's LAPACK, not torch's).

    >>> rnn = nn.RNN(64, 256)
    >>> nn.init.orthogonal_(rnn.weight_hh_l0)
    >>> nn.init.zeros_(rnn.bias_hh_l0)
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Optional, Tuple

import numpy as np

from .. import random as _random

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_", "eye_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _target(tensor: Any, fname: str) -> np.ndarray:
    """The array to fill in place: writable, C-contiguous float32 (what the native fills and torch's
    element order need), else a TypeError naming what came."""
    if not isinstance(tensor, np.ndarray):
        raise TypeError(f"{fname}: expected a parameter or float32 NumPy array to fill in place, "
                        f"got {type(tensor).__name__}")
    if tensor.dtype != np.float32 or not tensor.flags.c_contiguous or not tensor.flags.writeable:
        raise TypeError(f"{fname}: expected a writable, C-contiguous float32 array, got dtype {tensor.dtype}"
                        f"{'' if tensor.flags.c_contiguous else ', not C-contiguous'}"
                        f"{'' if tensor.flags.writeable else ', read-only'}")
    return tensor


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``: 1 for linear / conv /
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``,
    default 0.01), 3/4 for selu. ValueError for anything else."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0,
             generator: Optional[_random.Generator] = None) -> np.ndarray:
    """Fills ``tensor`` with draws from U(a, b), as ``Tensor.uniform_``."""
    return _random._uniform_(_target(tensor, "uniform_"), _real(a, "a"), _real(b, "b"), generator=generator)


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0,
            generator: Optional[_random.Generator] = None) -> np.ndarray:
    """Fills ``tensor`` with draws from N(mean, std^2), as ``Tensor.normal_``."""
    return _random._normal_(_target(tensor, "normal_"), _real(mean, "mean"), _real(std, "std"),
                            generator=generator)


def constant_(tensor: Any, val: float) -> np.ndarray:
    """Fills ``tensor`` with ``val``."""
    out = _target(tensor, "constant_")
    out.fill(_real(val, "val"))
    return out


def ones_(tensor: Any) -> np.ndarray:
    """Fills ``tensor`` with 1."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Any) -> np.ndarray:
    """Fills ``tensor`` with 0."""
    return constant_(tensor, 0.0)


def eye_(tensor: Any) -> np.ndarray:
    """Fills a 2-d ``tensor`` with the identity matrix (ones on the main diagonal of a rectangle too)."""
    out = _target(tensor, "eye_")
    if out.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    out[...] = np.eye(*out.shape, dtype=np.float32)
    return out


def _calculate_fan_in_and_fan_out(tensor: np.ndarray) -> Tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return tensor.shape[1] * receptive_field_size, tensor.shape[0] * receptive_field_size


def _calculate_correct_fan(tensor: np.ndarray, mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Any, gain: float = 1.0, generator: Optional[_random.Generator] = None) -> np.ndarray:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (fan_in = size(1), fan_out =
    size(0), times the sizes past the second)."""
    out = _target(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(out)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return _random._uniform_(out, -a, a, generator=generator)


def xavier_normal_(tensor: Any, gain: float = 1.0, generator: Optional[_random.Generator] = None) -> np.ndarray:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    out = _target(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(out)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _random._normal_(out, 0.0, std, generator=generator)


def _kaiming_std(out: np.ndarray, a: float, mode: str, nonlinearity: str) -> Optional[float]:
    """gain / sqrt(fan) of torch's kaiming_*; None (with torch's warning) for a zero-element tensor, which is
    left alone."""
    if 0 in out.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(out, mode))


def kaiming_uniform_(tensor: Any, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Optional[_random.Generator] = None) -> np.ndarray:
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a),
    fan the ``mode`` fan. A zero-element tensor is left alone (with torch's warning)."""
    out = _target(tensor, "kaiming_uniform_")
    std = _kaiming_std(out, a, mode, nonlinearity)
    if std is None:
        return out
    bound = math.sqrt(3.0) * std
    return _random._uniform_(out, -bound, bound, generator=generator)


def kaiming_normal_(tensor: Any, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Optional[_random.Generator] = None) -> np.ndarray:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    out = _target(tensor, "kaiming_normal_")
    std = _kaiming_std(out, a, mode, nonlinearity)
    return out if std is None else _random._normal_(out, 0.0, std, generator=generator)


def orthogonal_(tensor: Any, gain: float = 1, generator: Optional[_random.Generator] = None) -> np.ndarray:
    """A (semi-)orthogonal matrix times ``gain``, as torch's: N(0, 1) draws of shape (rows, numel / rows),
    QR-factorised (of the transpose if wider than tall), Q's columns signed by R's diagonal."""
    out = _target(tensor, "orthogonal_")
    if out.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if out.size == 0:
        return out  # nothing to draw, as torch
    rows = out.shape[0]
    cols = out.size // rows
    flattened = _random._normal_(np.empty((rows, cols), np.float32), 0.0, 1.0, generator=generator)
    if rows < cols:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    out[...] = q.reshape(out.shape)
    out *= np.float32(gain)  # torch: tensor.mul_(gain), in float32
    return out
