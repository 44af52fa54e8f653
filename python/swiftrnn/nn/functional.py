"""Functions shaped like ``torch.nn.functional``: softmax, log_softmax, linear, embedding, cross_entropy."""
from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from .. import _native
from ..grad_mode import no_grad
from .modules.loss import CrossEntropyLoss

__all__ = ["softmax", "log_softmax", "linear", "embedding", "cross_entropy"]


def _implicit_dim(ndim: int) -> int:
    # torch's legacy rule for dim=None, with its warning.
    warnings.warn("Implicit dimension choice for softmax has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


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
        dim = _implicit_dim(np.ndim(input))
    return _native.softmax(input, dim, False)


def log_softmax(input: Any, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None) -> np.ndarray:
    r"""``log(softmax(x))`` along ``dim``, computed stably as ``x - max - log(sum(exp(x - max)))``."""
    _check_dtype(dtype)
    if dim is None:
        dim = _implicit_dim(np.ndim(input))
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
    ``nn.CrossEntropyLoss(weight, ..., reduction, label_smoothing)(input, target)`` computes it: a float, or an
    array for ``reduction='none'``.

    The value only: with no autograd there is nothing to call ``backward`` on. For the gradient w.r.t. the
    logits use an ``nn.CrossEntropyLoss`` module in training mode and its ``backward()``.
    """

    criterion = CrossEntropyLoss(weight, size_average, ignore_index, reduce, reduction, label_smoothing)
    with no_grad():
        return criterion(input, target)
