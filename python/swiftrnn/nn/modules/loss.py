"""nn.CrossEntropyLoss: log-softmax + negative log-likelihood over class logits, as torch."""
from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from ... import _native
from .module import Module, _as_float32

__all__ = ["CrossEntropyLoss"]

_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _reduction_code(reduction: Any) -> int:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction: expected 'none', 'mean' or 'sum'")
    return _REDUCTIONS[reduction]


def _legacy_reduction(size_average: Optional[bool], reduce: Optional[bool]) -> str:
    # torch's _Reduction.legacy_get_string, with its deprecation warning.
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean' (or 'sum', "
                  "'none') instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


class CrossEntropyLoss(Module):
    r"""Cross-entropy between class logits and class-index targets, as ``torch.nn.CrossEntropyLoss``.

    For a position with target class t (not ``ignore_index``), with lp = log_softmax(input) over the
    classes, w the class weights (ones if none), C the number of classes and ε = label_smoothing:

    .. math:: \ell = (1 - ε)\,(-w_t\, lp_t) + \frac{ε}{C} \Big(-\sum_c w_c\, lp_c\Big)

    ``'mean'`` divides the sum over positions by the summed weight :math:`\sum w_t` of the positions not
    ignored (NaN if all are ignored, as torch), ``'sum'`` adds up, ``'none'`` keeps one loss per position
    (0 where ignored).

    Args:
        weight (array, optional): a float weight per class, shape ``(C,)``.
        ignore_index (int): targets equal to it contribute nothing. Default: -100.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.
        label_smoothing (float): ε in [0, 1]. Default: 0.
        size_average, reduce: torch's deprecated spellings of ``reduction``.

    Call: ``loss = crit(input, target)``: a Python float (an array for ``reduction='none'``).

    Shape:
        - input: ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``: logits, any real float dtype.
        - target: class indices (any integer dtype) of shape ``()``, ``(N,)`` or ``(N, d1, ..., dk)``,
          each in ``[0, C)`` or equal to ``ignore_index``. (Class-probability targets are not supported.)

    Training: in training mode the forward keeps the softmax probabilities; ``backward(grad=None)``
    returns the gradient w.r.t. the input (for ``reduction='none'`` pass ``grad``, the gradient w.r.t. the
    per-position losses, as torch requires for a non-scalar loss).

    Raises:
        ValueError: a target or weight of the wrong shape, an invalid reduction or label_smoothing.
        IndexError: a target outside ``[0, C)`` that is not ``ignore_index``.
        TypeError: non-integer targets or non-float input.
    """

    if TYPE_CHECKING:  # for type checkers only: the attributes __init__ sets; a call runs forward
        weight: Optional[np.ndarray]
        ignore_index: int
        reduction: str
        label_smoothing: float
        def __call__(self, input: Any, target: Any) -> Union[float, np.ndarray]: ...

    def __init__(self, weight: Any = None, size_average: Optional[bool] = None, ignore_index: int = -100,
                 reduce: Optional[bool] = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        _reduction_code(reduction)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
            raise TypeError(f"label_smoothing must be a float, got {type(label_smoothing).__name__}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.weight = None if weight is None else _as_float32(weight, "weight")
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"expected a 1-d weight (one per class), got shape {self.weight.shape}")
        if not -2**63 <= ignore_index < 2**63:  # the targets are int64
            raise ValueError(f"ignore_index must be a 64-bit integer, got {ignore_index}")
        self.ignore_index = int(ignore_index)
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Any, target: Any) -> Union[float, np.ndarray]:
        """``loss = criterion(logits, target)``; call the module rather than this.

        Args:
            input: logits ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
            target: class indices ``()``, ``(N,)`` or ``(N, d1, ...)``, in ``[0, C)`` or ``ignore_index``.

        Returns:
            A float for ``reduction='mean'`` / ``'sum'``; an array shaped like ``target`` for ``'none'``.
            In training mode the softmax is saved for ``backward``.

        Raises:
            ValueError: mismatched shapes. IndexError: a target outside ``[0, C)`` (other than ignore_index).
        """
        code = _reduction_code(self.reduction)
        records = self._records()
        loss, probs, target64, weight = _native.cross_entropy_forward(
            input, target, self.weight, self.ignore_index, code, self.label_smoothing, records)
        self._save_for_backward((probs, target64, weight, code, self.ignore_index, self.label_smoothing)
                                if records else None)
        return loss if code == 0 else float(loss)

    def backward(self, grad: Any = None) -> np.ndarray:
        """The gradient of the last training-mode forward's loss w.r.t. its input (shaped like the input).

        Args:
            grad: the gradient w.r.t. the loss: a number for ``'mean'`` / ``'sum'`` (default 1.0), or an
                array shaped like the per-position losses for ``'none'`` (required, as torch).

        Raises:
            RuntimeError: no training-mode forward to work from, or ``'none'`` without ``grad``.
            ValueError: ``grad`` of the wrong shape.
        """
        probs, target, weight, code, ignore_index, smoothing = self._saved_for_backward()
        if grad is None:
            if code == 0:
                raise RuntimeError("grad can be implicitly created only for scalar outputs: with reduction='none' "
                                   f"pass backward(grad) with the loss's shape {target.shape}")
            grad = 1.0
        result = _native.cross_entropy_backward(probs, target, weight, ignore_index, code, smoothing, grad)
        self._release_saved()
        return result

    def extra_repr(self) -> str:
        """The text inside ``CrossEntropyLoss(...)`` of the repr, as torch prints it."""
        return ""
