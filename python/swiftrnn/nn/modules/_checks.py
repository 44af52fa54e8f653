"""Argument checks shared by the module constructors (one wording for every module)."""
from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np


def check_size(value: Any, name: str, minimum: int = 0) -> int:
    """A Python int (not bool) >= minimum, else TypeError / ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        bound = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_float(value: Any, name: str, optional: bool = False) -> Optional[float]:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number{' or None' if optional else ''}, got {type(value).__name__}")
    return float(value)


def check_factory_kwargs(device: Any, dtype: Any) -> None:
    """torch's device= and dtype= keywords: swiftrnn computes on the CPU in float32 only."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"swiftrnn runs on the CPU only; got device={device!r}")
    if dtype is not None:
        name = str(dtype).replace("torch.", "")
        if name not in ("float32", "float", "<class 'numpy.float32'>"):
            raise TypeError(f"swiftrnn computes in float32 only; got dtype={dtype!r}")
