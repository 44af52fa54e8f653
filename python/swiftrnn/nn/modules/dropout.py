"""nn.Dropout: zeroes elements with probability p in training mode, scaling the rest by 1/(1-p), as torch."""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np

from ... import random as _random
from ._arrays import float_input, grad_like
from .module import Module

__all__ = ["Dropout"]


def _check_p(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= float(p) <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _dropout(input: Any, p: float, training: bool) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(output, mask): the mask is None when nothing is dropped (eval, p=0: the input is returned, as torch).
    The mask (0 or 1/(1-p)) is drawn from the default generator as torch's CPU dropout draws it, so after the
    same ``manual_seed`` the masks equal torch's; p=1 draws nothing (torch multiplies by zeros)."""
    x = float_input(input)
    if not training or p == 0 or x.size == 0:
        return x, None
    mask = np.zeros(x.shape, np.float32) if p == 1 else _random._dropout_mask(x.shape, p)
    return x * mask, mask


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the kept ones by
    ``1/(1-p)``; the identity in eval mode, as ``torch.nn.Dropout``.

    The masks come from swiftrnn's default generator, drawn as torch draws them: after the same
    ``manual_seed`` they equal torch's. ``backward(grad)`` multiplies by the same forward's mask.

    Args:
        p (float): probability of an element being zeroed, in [0, 1]. Default: 0.5.
        inplace (bool): write the result into a float32 ndarray input. Default: False.
    """

    if TYPE_CHECKING:
        p: float
        inplace: bool
        def __call__(self, input: Any) -> np.ndarray: ...

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _check_p(p)
        if not isinstance(inplace, bool):
            raise TypeError(f"inplace must be a bool, got {type(inplace).__name__}")
        self.inplace = inplace

    def forward(self, input: Any) -> np.ndarray:
        """``input * mask`` in training mode; the input itself (as a float32 array) in eval mode."""
        y, mask = _dropout(input, self.p, self._training_now())
        self._save_for_backward((mask, y.shape) if self._records() else None)
        if self.inplace and mask is not None and isinstance(input, np.ndarray) and input.dtype == np.float32:
            np.copyto(input, y)
            return input
        return y

    def backward(self, grad_output: Any) -> np.ndarray:
        """``grad_output`` times the mask of the most recent training-mode forward not yet used by a backward."""
        mask, shape = self._saved_for_backward()
        g = grad_like(grad_output, shape)
        result = g if mask is None else g * mask
        self._release_saved()
        return result

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
