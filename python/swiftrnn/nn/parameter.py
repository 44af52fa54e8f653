"""nn.Parameter: a module's trainable array, with ``.grad`` and ``.requires_grad`` as ``torch.nn.Parameter``."""
from __future__ import annotations

import threading
from typing import Any, Iterable, List, Literal, Optional, Sequence, SupportsIndex, Tuple

import numpy as np

from .. import _native

__all__ = ["Parameter"]


def _plain(x: Any) -> Any:
    """Parameters (also inside tuples and lists) as plain ndarray views of the same memory."""
    if isinstance(x, Parameter):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _as_array(value: Any, what: str, expected: str = "an array of real numbers") -> np.ndarray:
    """`value` as an ndarray (a torch tensor through NumPy, without importing torch); TypeError naming `what`
    for what NumPy cannot read as an array."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor, without importing torch
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{what}: expected {expected}, got {type(value).__name__} ({e})") from None


def _to_float32_copy(value: Any, what: str) -> np.ndarray:
    arr = _as_array(value, what)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{what}: expected an array of real numbers, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.float32, order="C", copy=True)


class Parameter(np.ndarray):
    r"""A trainable array: a float32, C-contiguous NumPy array with a gradient, as ``torch.nn.Parameter``.

    ``Parameter(data, requires_grad=True)`` holds a float32 copy of ``data`` (any array-like of real
    numbers, torch tensors included). Modules keep their weights as Parameters; optimizers update them
    in place, so every module sharing one sees the update.

    Attributes:
        grad (np.ndarray or None): None until a backward computes this parameter's gradient, then a
            float32 array of the same shape, which later backward calls add to (as in torch) until
            ``zero_grad()``. Assigning checks the shape (ValueError naming expected and actual shapes).
        requires_grad (bool): if False (e.g. a frozen ``Embedding.from_pretrained`` weight) no backward
            computes a gradient for it and optimizers leave it alone.

    Arithmetic on a Parameter (``p * 2``, ``p + q``, ``np.dot(p, x)``, ``p.sum()``) and indexing
    (``p[0]``) return plain ndarrays; in-place operations (``p += 1``, ``p[...] = 0``) change the
    Parameter itself.
    """

    _grad: Optional[np.ndarray]
    requires_grad: bool

    def __new__(cls, data: Any = None, requires_grad: bool = True) -> "Parameter":
        arr = np.empty((0,), dtype=np.float32) if data is None else _to_float32_copy(data, "Parameter data")
        obj = arr.view(cls)
        obj._grad = None
        obj.requires_grad = bool(requires_grad)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        # Arrays numpy derives from a Parameter (reshape, astype, ...) start without a gradient.
        self._grad = None
        self.requires_grad = bool(getattr(obj, "requires_grad", True))

    # --- gradient -------------------------------------------------------------------------------
    @property
    def grad(self) -> Optional[np.ndarray]:
        """The accumulated gradient: a float32 array shaped like the parameter, or None before any backward
        (and after ``zero_grad(set_to_none=True)``). Every backward adds to it; assigning an array of another
        shape is a ``ValueError``.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        g = value if isinstance(value, np.ndarray) else _to_float32_copy(value, "grad")
        if g.shape != self.shape:
            raise ValueError(f"expected a grad of shape {self.shape} (the parameter's), got {g.shape}")
        if (type(g) is not np.ndarray or g.dtype != np.float32 or not g.flags.c_contiguous
                or not g.flags.writeable):
            g = np.array(g, dtype=np.float32, order="C", copy=True)
        self._grad = g

    def requires_grad_(self, requires_grad: bool = True) -> "Parameter":
        """Sets ``requires_grad`` in place; returns self."""
        self.requires_grad = bool(requires_grad)
        return self

    # --- torch's tensor idioms ported code calls on parameters ----------------------------------
    @property  # type: ignore[override]
    def data(self) -> np.ndarray:
        """The parameter's own values as a plain float32 ndarray sharing its memory: writes go through
        (``p.data *= 2``, ``p.data[:] = w``, ``nn.init.zeros_(p.data)``), as torch's ``.data``. Assigning
        (``p.data = w``) copies ``w`` in (its shape must match: a Parameter's size is fixed)."""
        return self.view(np.ndarray)

    @data.setter
    def data(self, value: Any) -> None:
        new = _to_float32_copy(value, "data")
        if new.shape != self.shape:
            raise ValueError(f"expected data of shape {self.shape} (the parameter's), got {new.shape}")
        np.copyto(self.view(np.ndarray), new)

    def detach(self) -> np.ndarray:
        """The values as a plain ndarray sharing the parameter's memory (no gradient), as torch's ``detach()``."""
        return self.view(np.ndarray)

    def numpy(self) -> np.ndarray:
        """The values as a plain ndarray sharing the parameter's memory, as ``tensor.detach().numpy()``."""
        return self.view(np.ndarray)

    @property
    def size(self) -> "_Size":
        """NumPy's element count (an int), which can also be called as torch's ``size()``: ``p.size()`` is the
        shape, ``p.size(0)`` one dimension; so both ``sum(p.size for p in ...)`` and ``p.size(-1)`` work."""
        return _Size(self.view(np.ndarray).size, self.shape)

    def dim(self) -> int:
        """The number of dimensions (``ndim``), as torch's ``dim()``."""
        return self.ndim

    def numel(self) -> int:
        """The number of elements, as torch's ``numel()``."""
        return int(self.view(np.ndarray).size)

    # --- numpy protocol: results are plain ndarrays ---------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out is not None:
            # In-place: hand back the caller's own output objects (so `p += 1` keeps p a Parameter).
            return out[0] if len(out) == 1 else tuple(out)
        return result

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        result = np.asarray(array).view(np.ndarray)
        return result[()] if return_scalar else result

    def __getitem__(self, index: Any) -> Any:
        return self.view(np.ndarray)[index]

    def copy(self, order: Literal["K", "A", "C", "F"] = "C") -> np.ndarray:  # type: ignore[override]
        """A plain ndarray copy of the data (no gradient)."""
        return self.view(np.ndarray).copy(order=order)

    # --- Python protocol ------------------------------------------------------------------------
    def __repr__(self) -> str:
        return "Parameter containing:\n" + repr(self.view(np.ndarray)) + (
            "" if self.requires_grad else " (requires_grad=False)")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild_parameter, (self.view(np.ndarray).copy(), self.requires_grad, self._grad))

    def __reduce_ex__(self, protocol: SupportsIndex) -> Tuple[Any, ...]:
        return self.__reduce__()

    def __deepcopy__(self, memo: Any) -> "Parameter":
        p = Parameter(self.view(np.ndarray), self.requires_grad)
        p._grad = None if self._grad is None else self._grad.copy()
        memo[id(self)] = p
        return p


class _Size(int):
    """An element count that, called, answers torch's ``size()`` / ``size(dim)``."""

    _shape: Tuple[int, ...]

    def __new__(cls, count: int, shape: Tuple[int, ...]) -> "_Size":
        obj = super().__new__(cls, count)
        obj._shape = shape
        return obj

    def __call__(self, dim: Optional[int] = None) -> Any:
        if dim is None:
            return self._shape
        n = len(self._shape)
        if not -n <= dim < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
        return self._shape[dim]


def _rebuild_parameter(data: np.ndarray, requires_grad: bool, grad: Optional[np.ndarray]) -> Parameter:
    p = Parameter(data, requires_grad)
    p._grad = grad
    return p


# Held by every backward from taking its gradient buffers (_grad_accumulators) until they are committed
# (_commit_grads): the native call adds into .grad without the GIL, so two threads' backward calls on
# modules that share parameters would otherwise lose updates. Forward calls never take it.
_GRAD_LOCK = threading.RLock()


def _grad_accumulators(params: Sequence[Optional[Parameter]]) -> Tuple[List[Optional[np.ndarray]], List[Tuple[Parameter, np.ndarray]]]:
    """The arrays a backward accumulates into, one per parameter: its ``.grad``, a new zero array (to
    become ``.grad`` once the backward succeeds: see ``_commit_grads``), or None when the parameter is
    absent or needs no gradient."""
    buffers: List[Optional[np.ndarray]] = []
    fresh: List[Tuple[Parameter, np.ndarray]] = []
    for p in params:
        if p is None or not p.requires_grad:
            buffers.append(None)
        elif p._grad is None:
            g = _native.float32_zeros(p.shape)  # recycled memory: no fresh pages every step
            buffers.append(g)
            fresh.append((p, g))
        else:
            buffers.append(p._grad)
    return buffers, fresh


def _commit_grads(fresh: Iterable[Tuple[Parameter, np.ndarray]]) -> None:
    for p, g in fresh:
        p._grad = g
