"""Losses as in torch.nn: CrossEntropyLoss (the Swift core's kernel), NLLLoss, MSELoss, L1Loss, SmoothL1Loss,
HuberLoss, BCELoss, BCEWithLogitsLoss (vectorised NumPy, in float64, rounded to float32).

Every loss returns a NumPy float32 scalar (``loss.item()`` gives a Python float), or the float32 array of
per-element losses for ``reduction='none'``. In training mode (gradients enabled) a forward saves what
``backward(grad=None)`` needs; backward returns the gradient w.r.t. the input."""
from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union

import numpy as np

from ... import _native
from ._arrays import f32, float_input, grad_like, unbroadcast
from .module import Module, _as_float32

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss"]

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

    Call: ``loss = crit(input, target)``: a NumPy float32 scalar (an array for ``reduction='none'``).

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
        def __call__(self, input: Any, target: Any) -> Union[np.float32, np.ndarray]: ...

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

    def forward(self, input: Any, target: Any) -> Union[np.float32, np.ndarray]:
        """``loss = criterion(logits, target)``; call the module rather than this.

        Args:
            input: logits ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
            target: class indices ``()``, ``(N,)`` or ``(N, d1, ...)``, in ``[0, C)`` or ``ignore_index``.

        Returns:
            A NumPy float32 scalar for ``reduction='mean'`` / ``'sum'``; an array shaped like ``target`` for ``'none'``.
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
        return f32(loss) if code == 0 else np.float32(loss)

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


def _scalar_or_array(loss: np.ndarray, code: int) -> Union[np.float32, np.ndarray]:
    if code == 0:
        return loss.astype(np.float32)
    return np.float32(loss.sum() if code == 2 else loss.mean())


def _target_array(target: Any, what: str = "target") -> np.ndarray:
    """A real-valued target as a float64 array (torch tensors and lists included)."""
    if hasattr(target, "detach") and hasattr(target, "cpu"):
        target = target.detach().cpu().numpy()
    arr = np.asarray(target)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


class _Loss(Module):
    """A loss that is an elementwise function of (input, target), reduced: subclasses give ``_elementwise``
    returning (losses, d losses / d input), both float64 arrays of the broadcast shape."""

    if TYPE_CHECKING:
        reduction: str
        def __call__(self, input: Any, target: Any) -> Union[np.float32, np.ndarray]: ...

    def __init__(self, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        _reduction_code(reduction)
        self.reduction = reduction

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _check_shapes(self, x: np.ndarray, t: np.ndarray) -> None:
        if x.shape != t.shape:  # torch's warning; the shapes then broadcast (ValueError if they cannot)
            warnings.warn(f"Using a target size ({t.shape}) that is different to the input size ({x.shape}). "
                          "This will likely lead to incorrect results due to broadcasting. "
                          "Please ensure they have the same size.", UserWarning, stacklevel=4)
            try:
                np.broadcast_shapes(x.shape, t.shape)
            except ValueError:
                raise ValueError(f"The size of the input {x.shape} and of the target {t.shape} do not broadcast") from None

    def forward(self, input: Any, target: Any) -> Union[np.float32, np.ndarray]:
        """The loss of ``input`` against ``target``: a float32 scalar, or per-element losses for ``'none'``."""
        code = _reduction_code(self.reduction)
        x = float_input(input)
        t = _target_array(target)
        self._check_shapes(x, t)
        loss, d = self._elementwise(x.astype(np.float64), t)
        self._save_for_backward((d, x.shape, code) if self._records() else None)
        return _scalar_or_array(loss, code)

    def backward(self, grad: Any = None) -> np.ndarray:
        """The gradient of the most recent training-mode forward's loss w.r.t. its input (shaped like the input).

        Args:
            grad: the gradient w.r.t. the loss: a number for ``'mean'`` / ``'sum'`` (default 1.0), or an array
                shaped like the per-element losses for ``'none'`` (required, as torch).
        Raises:
            RuntimeError: no training-mode forward to work from, or ``'none'`` without ``grad``.
        """
        d, shape, code = self._saved_for_backward()
        scale = _loss_grad(grad, code, d.shape, d.size)
        result = unbroadcast(d * scale, shape).astype(np.float32)
        self._release_saved()
        return result


def _loss_grad(grad: Any, code: int, shape: Tuple[int, ...], count: float) -> Any:
    """The factor each element's derivative is multiplied by: grad (an array for 'none'), over ``count`` for
    'mean'."""
    if code == 0:
        if grad is None:
            raise RuntimeError("grad can be implicitly created only for scalar outputs: with reduction='none' "
                               f"pass backward(grad) with the loss's shape {shape}")
        return grad_like(grad, shape, "grad").astype(np.float64)
    g = 1.0 if grad is None else float(np.asarray(grad, dtype=np.float64).reshape(()))
    return g / count if code == 1 else g


class MSELoss(_Loss):
    """Mean squared error ``(x - y)^2``, as ``torch.nn.MSELoss(reduction='mean')``. A target of another shape
    broadcasts, with torch's warning."""

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        z = x - t
        return z * z, 2 * z


class L1Loss(_Loss):
    """Mean absolute error ``|x - y|``, as ``torch.nn.L1Loss`` (gradient ``sign(x - y)``, 0 at 0)."""

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        z = x - t
        return np.abs(z), np.sign(z)


def _check_nonnegative(value: Any, name: str, loss: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if value < 0:
        raise RuntimeError(f"{loss} does not support negative values for {name}.")
    return float(value)


class SmoothL1Loss(_Loss):
    """``0.5 z^2 / beta`` for ``|z| < beta``, else ``|z| - 0.5 beta`` (z = x - y), as ``torch.nn.SmoothL1Loss``;
    ``beta=0`` is L1."""

    if TYPE_CHECKING:
        beta: float

    def __init__(self, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = _check_nonnegative(beta, "beta", "smooth_l1_loss")

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        z = x - t
        a = np.abs(z)
        if self.beta == 0:
            return a, np.sign(z)
        quad = a < self.beta
        return (np.where(quad, 0.5 * z * z / self.beta, a - 0.5 * self.beta),
                np.where(quad, z / self.beta, np.sign(z)))


class HuberLoss(_Loss):
    """``0.5 z^2`` for ``|z| < delta``, else ``delta (|z| - 0.5 delta)`` (z = x - y), as ``torch.nn.HuberLoss``."""

    if TYPE_CHECKING:
        delta: float

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
            raise TypeError(f"delta must be a number, got {type(delta).__name__}")
        if not delta > 0:
            raise RuntimeError("huber_loss does not support non-positive values for delta.")
        self.delta = float(delta)

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        z = x - t
        a = np.abs(z)
        quad = a < self.delta
        return (np.where(quad, 0.5 * z * z, self.delta * (a - 0.5 * self.delta)),
                np.where(quad, z, self.delta * np.sign(z)))


def _optional_weight(weight: Any, name: str) -> Optional[np.ndarray]:
    return None if weight is None else _as_float32(weight, name).astype(np.float64)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities ``x`` in [0, 1] against targets ``y``:
    ``-w (y log x + (1 - y) log(1 - x))``, each log clamped at -100, as ``torch.nn.BCELoss``.

    Raises:
        ValueError: target and input of different shapes. RuntimeError: an input outside [0, 1].
    """

    if TYPE_CHECKING:
        weight: Optional[np.ndarray]

    def __init__(self, weight: Any = None, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = _optional_weight(weight, "weight")

    def _check_shapes(self, x: np.ndarray, t: np.ndarray) -> None:
        if x.shape != t.shape:
            raise ValueError(f"Using a target size ({t.shape}) that is different to the input size ({x.shape}) is "
                             "deprecated. Please ensure they have the same size.")

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        if not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError("all elements of input should be between 0 and 1")
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100.0)
            log_1x = np.maximum(np.log1p(-x), -100.0)
        loss = -(t * log_x + (1 - t) * log_1x)
        d = (x - t) / np.maximum((1 - x) * x, 1e-12)  # torch's EPSILON in binary_cross_entropy_backward
        if self.weight is not None:
            loss, d = loss * self.weight, d * self.weight
        return loss, d


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, ``BCELoss(sigmoid(x), y)`` computed stably (log-sum-exp), with an
    optional ``weight`` per element and ``pos_weight`` per class (broadcast over the last dimension), as
    ``torch.nn.BCEWithLogitsLoss``:
    ``w [(1 - y) x + (1 + (pos_weight - 1) y) log(1 + exp(-x))]``.

    Raises:
        ValueError: target and input of different shapes.
    """

    if TYPE_CHECKING:
        weight: Optional[np.ndarray]
        pos_weight: Optional[np.ndarray]

    def __init__(self, weight: Any = None, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = _optional_weight(weight, "weight")
        self.pos_weight = _optional_weight(pos_weight, "pos_weight")

    def _check_shapes(self, x: np.ndarray, t: np.ndarray) -> None:
        if x.shape != t.shape:
            raise ValueError(f"Target size ({t.shape}) must be the same as input size ({x.shape})")

    def _elementwise(self, x: np.ndarray, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        softplus_neg = np.logaddexp(0.0, -x)  # log(1 + exp(-x)), stable for both signs
        log_weight = 1.0 if self.pos_weight is None else 1 + (self.pos_weight - 1) * t
        loss = (1 - t) * x + log_weight * softplus_neg
        sig_neg = np.exp(-np.logaddexp(0.0, x))  # sigmoid(-x)
        d = (1 - t) - log_weight * sig_neg
        if self.weight is not None:
            loss, d = loss * self.weight, d * self.weight
        return loss, d


class NLLLoss(Module):
    """Negative log-likelihood of class log-probabilities against class indices, as ``torch.nn.NLLLoss``:
    ``-w[t] * input[n, t]`` per position; ``'mean'`` divides by the summed weights of the positions not
    ignored (NaN if all are), ``'sum'`` adds up, ``'none'`` keeps one loss per position (0 where ignored).

    Shape: input ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``; target ``()``, ``(N,)`` or ``(N, d1, ...)``.

    Raises:
        ValueError: mismatched shapes. IndexError: a target outside ``[0, C)`` (other than ``ignore_index``).
        TypeError: non-integer targets.
    """

    if TYPE_CHECKING:
        weight: Optional[np.ndarray]
        ignore_index: int
        reduction: str
        def __call__(self, input: Any, target: Any) -> Union[np.float32, np.ndarray]: ...

    def __init__(self, weight: Any = None, size_average: Optional[bool] = None, ignore_index: int = -100,
                 reduce: Optional[bool] = None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        _reduction_code(reduction)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
        self.weight = None if weight is None else _as_float32(weight, "weight")
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"expected a 1-d weight (one per class), got shape {self.weight.shape}")
        self.ignore_index = int(ignore_index)
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Union[np.float32, np.ndarray]:
        """The loss: a float32 scalar, or an array shaped like ``target`` for ``'none'``."""
        code = _reduction_code(self.reduction)
        x = float_input(input)
        t = np.asarray(target)
        if t.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
        if x.ndim == 0:
            raise ValueError("input must have at least 1 dimension (the classes)")
        batched = x.ndim >= 2
        expected = (x.shape[:1] + x.shape[2:]) if batched else ()
        if t.shape != expected:
            if batched and t.ndim >= 1 and t.shape[0] != x.shape[0]:
                raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size ({t.shape[0]}).")
            raise ValueError(f"expected target of shape {expected} for input of shape {x.shape}, got {t.shape}")
        C = x.shape[1] if batched else x.shape[0]
        if self.weight is not None and self.weight.shape != (C,):
            raise ValueError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                             f"weight tensor of shape: {list(self.weight.shape)}")
        rows = (np.moveaxis(x, 1, -1) if batched else x).reshape(-1, C).astype(np.float64)
        flat = t.reshape(-1).astype(np.int64)
        valid = flat != self.ignore_index
        bad = valid & ((flat < 0) | (flat >= C))
        if bad.any():
            raise IndexError(f"Target {int(flat[bad][0])} is out of bounds.")
        idx = np.where(valid, flat, 0)
        w = (np.ones(C) if self.weight is None else self.weight.astype(np.float64))[idx] * valid
        losses = -w * rows[np.arange(len(idx)), idx]
        if code == 0:
            result: Union[np.float32, np.ndarray] = losses.reshape(t.shape).astype(np.float32)
        elif code == 2:
            result = np.float32(losses.sum())
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                result = np.float32(losses.sum() / w.sum())
        self._save_for_backward((idx, w, x.shape, t.shape, code, batched) if self._records() else None)
        return result

    def backward(self, grad: Any = None) -> np.ndarray:
        """The gradient w.r.t. the input of the most recent training-mode forward (see ``_Loss.backward``)."""
        idx, w, shape, t_shape, code, batched = self._saved_for_backward()
        scale = _loss_grad(grad, code, t_shape, 1.0)
        if code == 0:
            coef = -w * scale.reshape(-1)
        else:
            total = w.sum()
            # all positions ignored: torch's loss is NaN (0/0) but its gradient zeros
            coef = -w * ((scale / total if total else 0.0) if code == 1 else scale)
        C = shape[1] if batched else shape[0]
        rows = np.zeros((len(idx), C))
        rows[np.arange(len(idx)), idx] = coef
        moved = (shape[:1] + shape[2:] + (C,)) if batched else shape
        result = rows.reshape(moved)
        if batched:
            result = np.moveaxis(result, -1, 1)
        self._release_saved()
        return np.ascontiguousarray(result, dtype=np.float32)
