"""clip_grad_norm_ and clip_grad_value_, as torch.nn.utils."""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Iterable, List, Union

import numpy as np

from ... import _native
from ..parameter import Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Union[Parameter, Iterable[Parameter]], what: str) -> List[np.ndarray]:
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    else:
        is_generator = not isinstance(parameters, (list, tuple))
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    for p in parameters:
        if not isinstance(p, Parameter):
            raise TypeError(f"{what} expects Parameters (swiftrnn.nn.Parameter), got {type(p).__name__}")
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Union[Parameter, Iterable[Parameter]], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> np.float32:
    r"""Scales the gradients of ``parameters`` in place so that their total norm is at most ``max_norm``,
    as ``torch.nn.utils.clip_grad_norm_``: the total is the ``norm_type``-norm of the gradients' norms
    (all gradients viewed as one vector), and every gradient is multiplied by
    ``min(max_norm / (total + 1e-6), 1)``.

    Args:
        parameters: a Parameter or an iterable of them; those without ``.grad`` are skipped.
        max_norm (float): the largest total norm allowed.
        norm_type (float or 'inf'): the p of the p-norm. Default: 2.
        error_if_nonfinite (bool): raise RuntimeError (and scale nothing) if the total is nan or ±inf.
        foreach: accepted for compatibility; ignored.

    Returns:
        The total norm before clipping (a NumPy float32 scalar: ``float(norm)`` or ``norm.item()``).
    """
    grads = _grads(parameters, "clip_grad_norm_")
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return np.float32(0.0)
    return np.float32(_native.clip_grad_norm(grads, max_norm, norm_type, bool(error_if_nonfinite)))


def clip_grad_value_(parameters: Union[Parameter, Iterable[Parameter]], clip_value: float,
                     foreach: Any = None) -> None:
    r"""Clamps every gradient element of ``parameters`` to ``[-clip_value, clip_value]`` in place, as
    ``torch.nn.utils.clip_grad_value_`` (NaN stays NaN)."""
    if isinstance(clip_value, bool) or not isinstance(clip_value, numbers.Real):
        raise TypeError(f"clip_value must be a real number, got {type(clip_value).__name__}")
    grads = _grads(parameters, "clip_grad_value_")
    if grads:
        _native.clip_grad_value(grads, float(clip_value))
