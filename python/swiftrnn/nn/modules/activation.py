"""Activations and shape layers as in torch.nn: Identity, Flatten, ReLU, LeakyReLU, Tanh, Sigmoid, GELU, Softmax,
LogSoftmax, each with an explicit ``backward``.

The math is vectorised NumPy (the softmaxes use the Swift core's kernel); the functions here are also what
``nn.functional`` exports. Forward results are new float32 arrays unless ``inplace=True`` (then a float32
ndarray input is overwritten and returned, as torch).
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from ... import _native
from ._arrays import f32, float_input, grad_like
from .module import Module

__all__ = ["Identity", "Flatten", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax"]


# --- the math (also nn.functional's) ---------------------------------------------------------------
def _relu(x: np.ndarray) -> np.ndarray:
    return f32(np.maximum(x, np.float32(0)))


def _leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0, x, x * np.float32(slope))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return f32(np.where(x >= 0, 1 / (1 + e), e / (1 + e)))


def _erfc(z: np.ndarray) -> np.ndarray:
    """erfc in float64 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere): NumPy has no erf."""
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(poly)
    return np.asarray(np.where(z >= 0, r, 2.0 - r), dtype=np.float64)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _check_approximate(approximate: Any) -> str:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return str(approximate)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        y = 0.5 * x64 * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x64 + 0.044715 * x64 ** 3)))
    else:
        y = x64 * 0.5 * _erfc(-x64 / math.sqrt(2.0))
    return y.astype(np.float32)


def _gelu_grad(x: np.ndarray, approximate: str) -> np.ndarray:
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x64 + 0.044715 * x64 ** 3))
        return f32(0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x64 * x64))
    cdf = 0.5 * _erfc(-x64 / math.sqrt(2.0))
    return f32(cdf + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi))


def _implicit_dim(ndim: int, stacklevel: int = 3) -> int:
    # torch's legacy rule for dim=None, with its warning.
    warnings.warn("Implicit dimension choice for softmax has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_grad(y: np.ndarray, g: np.ndarray, dim: int) -> np.ndarray:
    return f32((y * (g - (g * y).sum(axis=dim, keepdims=True))))


def _log_softmax_grad(y: np.ndarray, g: np.ndarray, dim: int) -> np.ndarray:
    return f32((g - np.exp(y) * g.sum(axis=dim, keepdims=True)))


def _inplace_result(input: Any, y: np.ndarray, inplace: bool) -> np.ndarray:
    """``y`` written into ``input`` and ``input`` returned when ``inplace`` and the input is a float32 ndarray
    (torch's in-place variants); otherwise ``y``."""
    if inplace and isinstance(input, np.ndarray) and input.dtype == np.float32 and input.flags.writeable:
        np.copyto(input, y)
        return input
    return y


def _check_inplace(inplace: Any) -> bool:
    if not isinstance(inplace, bool):
        raise TypeError(f"inplace must be a bool, got {type(inplace).__name__}")
    return inplace


# --- modules --------------------------------------------------------------------------------------
class _Pointwise(Module):
    """A layer whose backward needs one saved array: ``_apply`` returns (output, saved), ``_grad`` maps
    (saved, grad_output) to the input gradient."""

    if TYPE_CHECKING:
        def __call__(self, input: Any) -> np.ndarray: ...

    inplace: bool = False

    def _apply(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _grad(self, saved: np.ndarray, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, input: Any) -> np.ndarray:
        """The layer applied to ``input`` (any shape, any real float dtype); in training mode (with gradients
        enabled) what backward needs is saved."""
        y, saved = self._apply(float_input(input))
        self._save_for_backward((saved, y.shape) if self._records() else None)
        return _inplace_result(input, y, self.inplace)

    def backward(self, grad_output: Any) -> np.ndarray:
        """The gradient w.r.t. the input of the most recent training-mode forward not yet used by a backward.

        Raises:
            RuntimeError: no training-mode forward to work from. ValueError: ``grad_output`` not shaped as the output.
        """
        saved, shape = self._saved_for_backward()
        result = self._grad(saved, grad_like(grad_output, shape))
        self._release_saved()
        return result


class Identity(Module):
    """Returns its input unchanged (any arguments to the constructor are ignored, as torch's);
    ``backward(grad)`` returns ``grad``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        """``input`` itself."""
        return input

    def backward(self, grad_output: Any) -> Any:
        """``grad_output`` itself."""
        return grad_output


class Flatten(Module):
    """Flattens dimensions ``start_dim`` .. ``end_dim`` into one, as ``torch.nn.Flatten`` (a reshape: a view
    of the input when NumPy can make one). ``backward(grad)`` reshapes the gradient back."""

    if TYPE_CHECKING:
        start_dim: int
        end_dim: int
        def __call__(self, input: Any) -> np.ndarray: ...

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> np.ndarray:
        """``input`` with dims start_dim..end_dim merged. Raises IndexError for a dim out of range."""
        x = np.asarray(input)
        shape = x.shape
        nd = max(x.ndim, 1)
        start, end = (d + nd if d < 0 else d for d in (self.start_dim, self.end_dim))
        for d, name in ((start, "start_dim"), (end, "end_dim")):
            if not 0 <= d < nd:
                raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                                 f"but got {getattr(self, name)})")
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        out = x.reshape(shape[:start] + (-1,) + shape[end + 1:]) if x.ndim else x.reshape(1)
        self._save_for_backward((shape, out.shape) if self._records() else None)
        return out

    def backward(self, grad_output: Any) -> np.ndarray:
        """``grad_output`` reshaped to the input's shape."""
        shape, out_shape = self._saved_for_backward()
        result = grad_like(grad_output, out_shape).reshape(shape)
        self._release_saved()
        return result

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ReLU(_Pointwise):
    """``max(0, x)`` elementwise, as ``torch.nn.ReLU``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _check_inplace(inplace)

    def _apply(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        y = _relu(x)
        return y, y

    def _grad(self, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        return np.where(y > 0, g, np.float32(0))

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(_Pointwise):
    """``x`` for x > 0, else ``negative_slope * x``, as ``torch.nn.LeakyReLU``."""

    if TYPE_CHECKING:
        negative_slope: float

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"negative_slope must be a number, got {type(negative_slope).__name__}")
        self.negative_slope = float(negative_slope)
        self.inplace = _check_inplace(inplace)

    def _apply(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return _leaky_relu(x, self.negative_slope), x

    def _grad(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        return np.where(x > 0, g, g * np.float32(self.negative_slope))

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(_Pointwise):
    """``tanh(x)`` elementwise, as ``torch.nn.Tanh``."""

    def _apply(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        y = np.tanh(x)
        return y, y

    def _grad(self, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        return f32(g * (1 - y * y))


class Sigmoid(_Pointwise):
    """``1 / (1 + exp(-x))`` elementwise (no overflow for large |x|), as ``torch.nn.Sigmoid``."""

    def _apply(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        y = _sigmoid(x)
        return y, y

    def _grad(self, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        return f32(g * y * (1 - y))


class GELU(_Pointwise):
    """``x * Φ(x)`` (Φ the standard normal CDF), or with ``approximate='tanh'`` its tanh approximation, as
    ``torch.nn.GELU``. Computed in float64 and rounded to float32."""

    if TYPE_CHECKING:
        approximate: str

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _check_approximate(approximate)

    def _apply(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return _gelu(x, self.approximate), x

    def _grad(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        return f32((g * _gelu_grad(x, self.approximate)))

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _SoftmaxBase(_Pointwise):
    if TYPE_CHECKING:
        dim: Optional[int]

    _log = False

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> np.ndarray:
        """Along ``dim`` (None: torch's legacy implicit choice, with its warning). IndexError for a dim out of range."""
        x = float_input(input)
        dim = _implicit_dim(x.ndim) if self.dim is None else self.dim
        y = _native.softmax(x, dim, self._log)
        self._save_for_backward((y, y.shape, dim) if self._records() else None)
        return y

    def backward(self, grad_output: Any) -> np.ndarray:
        """The gradient w.r.t. the input of the most recent training-mode forward."""
        y, shape, dim = self._saved_for_backward()
        g = grad_like(grad_output, shape)
        result = _log_softmax_grad(y, g, dim) if self._log else _softmax_grad(y, g, dim)
        self._release_saved()
        return result

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``, as ``torch.nn.Softmax`` (the Swift core's kernel)."""


class LogSoftmax(_SoftmaxBase):
    """``log(softmax(x))`` along ``dim``, computed stably, as ``torch.nn.LogSoftmax``."""

    _log = True


