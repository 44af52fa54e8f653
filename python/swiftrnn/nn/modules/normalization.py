"""nn.LayerNorm: normalisation over the trailing dimensions with a learned scale and shift, as torch."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..parameter import _GRAD_LOCK, Parameter, _commit_grads, _grad_accumulators
from ._arrays import f32, float_input, grad_like
from ._checks import check_bool, check_factory_kwargs, check_size
from .module import Module

__all__ = ["LayerNorm"]


def _layer_norm(x: np.ndarray, k: int, weight: Optional[np.ndarray], bias: Optional[np.ndarray],
                eps: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, x_hat, 1/sigma) over the last ``k`` dims, in float64 (vectorised NumPy; a Swift kernel later)."""
    axes = tuple(range(x.ndim - k, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    centred = x64 - mean
    rstd = 1.0 / np.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
    xhat = centred * rstd
    y = xhat if weight is None else xhat * weight
    if bias is not None:
        y = y + bias
    return y.astype(np.float32), xhat, rstd


def _normalized_shape(value: Union[int, Sequence[int]]) -> Tuple[int, ...]:
    shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    return tuple(check_size(n, "normalized_shape", 1) for n in shape)


def _check_trailing(x: np.ndarray, shape: Tuple[int, ...]) -> None:
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                         f"{', '.join(map(str, shape))}], but got input of size {list(x.shape)}")


class LayerNorm(Module):
    r"""``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` over the last ``len(normalized_shape)``
    dimensions (biased variance), as ``torch.nn.LayerNorm``.

    Args:
        normalized_shape (int or tuple): the trailing shape normalised over.
        eps (float): added to the variance. Default: 1e-5.
        elementwise_affine (bool): learn ``weight`` (ones) and ``bias`` (zeros) of ``normalized_shape``. Default: True.
        bias (bool): with ``elementwise_affine``, learn the bias too. Default: True.

    Training: ``backward(grad_output)`` accumulates into ``weight.grad`` / ``bias.grad`` and returns the
    gradient w.r.t. the input. Computed in float64 with NumPy, rounded to float32.
    """

    if TYPE_CHECKING:
        normalized_shape: Tuple[int, ...]
        eps: float
        elementwise_affine: bool
        weight: Optional[Parameter]
        bias: Optional[Parameter]
        def __call__(self, input: Any) -> np.ndarray: ...

    def __init__(self, normalized_shape: Union[int, Sequence[int]], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_factory_kwargs(device, dtype)
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps = float(eps)
        self.elementwise_affine = check_bool(elementwise_affine, "elementwise_affine")
        affine_bias = self.elementwise_affine and check_bool(bias, "bias")
        self.register_parameter("weight", np.ones(self.normalized_shape, np.float32) if self.elementwise_affine else None)
        self.register_parameter("bias", np.zeros(self.normalized_shape, np.float32) if affine_bias else None)

    def reset_parameters(self) -> None:
        """Weight to ones, bias to zeros, in place."""
        if self.weight is not None:
            self.weight.fill(1)
        if self.bias is not None:
            self.bias.fill(0)

    def forward(self, input: Any) -> np.ndarray:
        """The normalised input, a new float32 array. Raises ValueError if the trailing shape differs."""
        x = float_input(input)
        _check_trailing(x, self.normalized_shape)
        y, xhat, rstd = _layer_norm(x, len(self.normalized_shape), self.weight, self.bias, self.eps)
        self._save_for_backward((xhat, rstd) if self._records() else None)
        return y

    def backward(self, grad_output: Any) -> np.ndarray:
        """Adds the weight and bias gradients to ``.grad`` and returns the gradient w.r.t. the input."""
        xhat, rstd = self._saved_for_backward()
        g = grad_like(grad_output, xhat.shape).astype(np.float64)
        k = len(self.normalized_shape)
        axes = tuple(range(xhat.ndim - k, xhat.ndim))
        lead = tuple(range(xhat.ndim - k))
        gxhat = g if self.weight is None else g * self.weight
        grad_input = rstd * (gxhat - gxhat.mean(axis=axes, keepdims=True)
                             - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True))
        with _GRAD_LOCK:
            (gw, gb), fresh = _grad_accumulators([self.weight, self.bias])
            if gw is not None:
                gw += (g * xhat).sum(axis=lead)
            if gb is not None:
                gb += g.sum(axis=lead)
            _commit_grads(fresh)
        self._release_saved()
        return f32(grad_input)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
