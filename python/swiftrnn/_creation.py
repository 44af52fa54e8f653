"""Array creation as torch's factories take it — sizes, dtypes, the device= and requires_grad= keywords — over
NumPy: ``zeros``, ``ones``, ``tensor``, and the argument rules the random factories (``swiftrnn.random``) share."""
from __future__ import annotations

import operator
from typing import Any, Dict, Tuple

import numpy as np

from ._device import is_cpu

__all__ = ["zeros", "ones", "tensor"]


def _parse_size(size: Tuple[Any, ...], size_kw: Any, fname: str) -> Tuple[int, ...]:
    # size_kw: the size= keyword, if given.
    """Sizes as torch takes them: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f(size=(2, 3))``, ``f(())``."""
    if size_kw is not None:
        if size:
            raise TypeError(f"{fname}() got sizes both positionally and as size=")
        size = (size_kw,)
    if not size:
        raise TypeError(f"{fname}() missing its size, e.g. {fname}(2, 3) or {fname}((2, 3))")
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        try:
            size = tuple(size[0])
        except TypeError:
            raise TypeError(f"{fname}(): size must be ints or one sequence of ints, "
                            f"got {type(size[0]).__name__}") from None
    dims = []
    for d in size:
        if isinstance(d, bool):
            raise TypeError(f"{fname}(): size must be ints, got bool")
        try:
            dims.append(operator.index(d))
        except TypeError:
            raise TypeError(f"{fname}(): size must be ints, got {type(d).__name__} {d!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{fname}(): negative dimension in size {tuple(dims)}")
    return tuple(dims)


def _check_dtype(dtype: Any, allowed: Any, fname: str) -> None:
    if dtype is not None and np.dtype(_numpy_dtype(dtype)) != np.dtype(allowed):
        raise TypeError(f"{fname}() returns {np.dtype(allowed)} arrays; got dtype={dtype!r}")


def _numpy_dtype(dtype: Any) -> Any:
    # Accept torch dtypes by name (torch.float32 -> "float32") without importing torch.
    name = str(dtype)
    return name[len("torch."):] if name.startswith("torch.") else dtype


def zeros(*size: Any, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """float32 zeros, sizes as ``torch.zeros``."""
    shape = _parse_size(size, kwargs.pop("size", None), "zeros")
    _no_extra(kwargs, "zeros")
    _check_dtype(dtype, np.float32, "zeros")
    return np.zeros(shape, dtype=np.float32)


def ones(*size: Any, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """float32 ones, sizes as ``torch.ones``."""
    shape = _parse_size(size, kwargs.pop("size", None), "ones")
    _no_extra(kwargs, "ones")
    _check_dtype(dtype, np.float32, "ones")
    return np.ones(shape, dtype=np.float32)


_INFERRED = {"b": np.bool_, "i": np.int64, "u": np.int64, "f": np.float32, "c": np.complex64}


def tensor(data: Any, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """A new NumPy array holding a copy of ``data``, with ``torch.tensor``'s dtype rules, so that
    ``embedding(swiftrnn.tensor([i]))`` reads as the tutorial's ``embedding(torch.tensor([i]))``.

    Python numbers and nested lists of them give int64 (ints), float32 (floats: torch's default dtype), bool
    or complex64; an array (NumPy, or anything with ``__array__``, e.g. a CPU torch tensor) keeps its dtype;
    ``dtype=`` (a NumPy dtype, its name, or a torch dtype) chooses one. ``device='cpu'`` and
    ``requires_grad=False`` are accepted, as in torch.
    """
    if kwargs.pop("pin_memory", False):
        raise ValueError("tensor(): pin_memory=True is not supported (NumPy arrays)")
    _no_extra(kwargs, "tensor")
    if dtype is not None:
        return np.array(data, dtype=_numpy_dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__array__"):
        return np.array(data, copy=True)
    arr = np.array(data)
    target = _INFERRED.get(arr.dtype.kind)
    if target is None:
        raise TypeError(f"tensor(): expected numbers or nested lists of numbers, got {type(data).__name__} "
                        f"(NumPy reads it as {arr.dtype})")
    return arr.astype(target, copy=False)


def _no_extra(kwargs: Dict[str, Any], fname: str) -> None:
    """Accepts torch's device="cpu" and requires_grad=False; anything else is a TypeError."""
    device = kwargs.pop("device", None)
    if device is not None and not is_cpu(device):
        raise ValueError(f"{fname}(): swiftrnn arrays live on the CPU; got device={device!r}")
    if kwargs.pop("requires_grad", False):
        raise ValueError(f"{fname}(): NumPy arrays do not track gradients; requires_grad=True is not supported")
    if kwargs:
        raise TypeError(f"{fname}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
