"""Functions shaped like ``torch.nn.functional``: activations, dropout, layer_norm, linear, embedding and the
losses. They compute values only (no backward: use the module twins, e.g. ``nn.ReLU``, for gradients); losses
return NumPy float32 scalars (arrays for ``reduction='none'``)."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

import numpy as np

from .. import _native
from ..grad_mode import no_grad
from .modules import activation as _act
from .modules._arrays import float_input as _float_input
from .modules.activation import _implicit_dim
from .modules.dropout import _check_p, _dropout
from .modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                           SmoothL1Loss)
from .modules.normalization import _check_trailing, _layer_norm, _normalized_shape

__all__ = ["softmax", "log_softmax", "linear", "embedding", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "dropout",
           "layer_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]


def __dir__() -> List[str]:  # dir(nn.functional) lists the public API only, not np, typing or helpers
    return list(__all__)


def _check_dtype(dtype: Any) -> None:
    if dtype is not None and np.dtype(dtype) != np.float32:
        raise TypeError(f"swiftrnn computes softmax in float32 only; got dtype={dtype!r}")


def softmax(input: Any, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None) -> np.ndarray:
    r"""Softmax along ``dim``: ``exp(x_i) / sum_j exp(x_j)``, numerically stable; a new float32 array.

    ``input`` may have any shape and any real float dtype; ``dim`` may be negative.
    Raises IndexError for a ``dim`` out of range, TypeError for non-float input.
    """
    _check_dtype(dtype)
    if dim is None:
        dim = _implicit_dim(np.ndim(input), 3)
    return _native.softmax(input, dim, False)


def log_softmax(input: Any, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None) -> np.ndarray:
    r"""``log(softmax(x))`` along ``dim``, computed stably as ``x - max - log(sum(exp(x - max)))``."""
    _check_dtype(dtype)
    if dim is None:
        dim = _implicit_dim(np.ndim(input), 3)
    return _native.softmax(input, dim, True)


def _float_weight(value: Any, what: str) -> np.ndarray:
    """A C-contiguous float32 view or copy of a weight; non-float data (int, bool, complex, str) is a TypeError,
    as the module paths reject it, instead of NumPy's silent casts."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{what} must hold floating-point numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def linear(input: Any, weight: Any, bias: Any = None) -> np.ndarray:
    r"""``input @ weight.T + bias`` over the last dimension; weight is (out_features, in_features)."""
    w = _float_weight(weight, "linear weight")
    b = None if bias is None else _float_weight(bias, "linear bias")
    return _native.linear_forward(input, w, b)


def embedding(input: Any, weight: Any, padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> np.ndarray:
    r"""Looks up rows of ``weight`` (num_embeddings, embedding_dim) at integer ``input``.

    With ``max_norm``, ``weight`` must be a C-contiguous float32 array: its looked-up rows are
    renormalised in place, as in torch.
    """
    if max_norm is not None:
        if not (isinstance(weight, np.ndarray) and weight.dtype == np.float32 and weight.flags.c_contiguous
                and weight.flags.writeable):
            raise TypeError("with max_norm, weight must be a writable C-contiguous float32 array (it is renormalised in place)")
        w = weight
    else:
        w = _float_weight(weight, "embedding weight")
    return _native.embedding_forward(w, input, None if max_norm is None else float(max_norm), float(norm_type))


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Optional[bool] = None,
                  ignore_index: int = -100, reduce: Optional[bool] = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Any:
    r"""``torch.nn.functional.cross_entropy``: the loss of class logits against class-index targets, as
    ``nn.CrossEntropyLoss(weight, ..., reduction, label_smoothing)(input, target)`` computes it: a float32 scalar, or an
    array for ``reduction='none'``.

    The value only: with no autograd there is nothing to call ``backward`` on. For the gradient w.r.t. the
    logits use an ``nn.CrossEntropyLoss`` module in training mode and its ``backward()``.
    """

    criterion = CrossEntropyLoss(weight, size_average, ignore_index, reduce, reduction, label_smoothing)
    with no_grad():
        return criterion(input, target)


def relu(input: Any, inplace: bool = False) -> np.ndarray:
    """``max(0, x)`` elementwise (a new float32 array; with ``inplace`` a float32 ndarray input is overwritten)."""
    return _act._inplace_result(input, _act._relu(_float_input(input)), inplace)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    """``x`` for x > 0, else ``negative_slope * x``."""
    return _act._inplace_result(input, _act._leaky_relu(_float_input(input), negative_slope), inplace)


def tanh(input: Any) -> np.ndarray:
    """``tanh(x)`` elementwise, float32."""
    return np.asarray(np.tanh(_float_input(input)), dtype=np.float32)


def sigmoid(input: Any) -> np.ndarray:
    """``1 / (1 + exp(-x))`` elementwise, float32, without overflow."""
    return _act._sigmoid(_float_input(input))


def gelu(input: Any, approximate: str = "none") -> np.ndarray:
    """``x * Φ(x)`` (``approximate='tanh'``: torch's tanh approximation)."""
    return _act._gelu(_float_input(input), _act._check_approximate(approximate))


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> np.ndarray:
    """Zeroes elements with probability ``p`` and scales the rest by ``1/(1-p)`` when ``training`` (note: True
    by default, as torch's); the mask is drawn from the default generator as torch draws it."""
    y, mask = _dropout(input, _check_p(p), training)
    return _act._inplace_result(input, y, inplace and mask is not None)


def layer_norm(input: Any, normalized_shape: Union[int, Sequence[int]], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> np.ndarray:
    """Normalises over the trailing ``normalized_shape`` dims, then scales by ``weight`` and shifts by ``bias``."""
    x = _float_input(input)
    shape = _normalized_shape(normalized_shape)
    _check_trailing(x, shape)
    w = None if weight is None else _float_weight(weight, "layer_norm weight")
    b = None if bias is None else _float_weight(bias, "layer_norm bias")
    return _layer_norm(x, len(shape), w, b, float(eps))[0]


def _value(criterion: Any, input: Any, target: Any) -> Any:
    with no_grad():
        return criterion(input, target)


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Optional[bool] = None, ignore_index: int = -100,
             reduce: Optional[bool] = None, reduction: str = "mean") -> Any:
    """``nn.NLLLoss(weight, ..., ignore_index, reduction)(input, target)``."""
    return _value(NLLLoss(weight, size_average, ignore_index, reduce, reduction), input, target)


def mse_loss(input: Any, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
             reduction: str = "mean") -> Any:
    """``nn.MSELoss(reduction=...)(input, target)``."""
    return _value(MSELoss(size_average, reduce, reduction), input, target)


def l1_loss(input: Any, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
            reduction: str = "mean") -> Any:
    """``nn.L1Loss(reduction=...)(input, target)``."""
    return _value(L1Loss(size_average, reduce, reduction), input, target)


def smooth_l1_loss(input: Any, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                   reduction: str = "mean", beta: float = 1.0) -> Any:
    """``nn.SmoothL1Loss(reduction=..., beta=...)(input, target)``."""
    return _value(SmoothL1Loss(size_average, reduce, reduction, beta), input, target)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Any:
    """``nn.HuberLoss(reduction, delta)(input, target)``."""
    return _value(HuberLoss(reduction, delta), input, target)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Optional[bool] = None,
                         reduce: Optional[bool] = None, reduction: str = "mean") -> Any:
    """``nn.BCELoss(weight, reduction=...)(input, target)``."""
    return _value(BCELoss(weight, size_average, reduce, reduction), input, target)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, size_average: Optional[bool] = None,
                                     reduce: Optional[bool] = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Any:
    """``nn.BCEWithLogitsLoss(weight, reduction=..., pos_weight=...)(input, target)``."""
    return _value(BCEWithLogitsLoss(weight, size_average, reduce, reduction, pos_weight), input, target)
