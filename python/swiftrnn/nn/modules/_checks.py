"""Argument checks shared by the module constructors (one wording for every module)."""
from __future__ import annotations

import functools
import numbers
import os
from typing import Any, Optional, Sequence

import numpy as np

from ..._device import is_cpu


def check_size(value: Any, name: str, minimum: int = 0) -> int:
    """A Python int (not bool) >= minimum, else TypeError / ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    size = int(value)
    if size < minimum:
        bound = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {size}")
    return size


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
    if device is not None and not is_cpu(device):
        raise ValueError(f"swiftrnn runs on the CPU only; got device={device!r}")
    if dtype is not None:
        name = str(dtype).replace("torch.", "")
        if name not in ("float32", "float", "<class 'numpy.float32'>"):
            raise TypeError(f"swiftrnn computes in float32 only; got dtype={dtype!r}")


_INT64_MAX = 2**63 - 1


# The Python objects of one parameter array besides its data (the ndarray, the Parameter's attributes, its
# name, the module's dict entries): ~1.1 KB measured on CPython 3.11. RNN(1, 1, num_layers=10**7) holds
# 160 MB of numbers but ~45 GB of objects.
_PARAMETER_OVERHEAD = 1024


@functools.lru_cache(maxsize=None)
def _memory_bytes() -> Optional[int]:
    """This machine's RAM plus swap in bytes (what an allocation can ever be backed by), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return (int(fields["MemTotal"].split()[0]) + int(fields.get("SwapTotal", "0 kB").split()[0])) * 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _format_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            return f"{n} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} EiB"  # pragma: no cover


def check_parameter_memory(owner: str, shapes: Sequence[Sequence[int]], repeats: Optional[Sequence[int]] = None) -> None:
    """Checks, before anything is allocated, that float32 parameters of these shapes can exist here.

    ``repeats[i]`` (default 1) says how many parameters have ``shapes[i]`` (an RNN's later layers).

    Computed with exact Python ints: OverflowError if the total size in bytes does not fit in 64 bits,
    ValueError for a shape NumPy cannot represent (even with zero elements), MemoryError if the total
    exceeds this machine's memory (RAM + swap). So e.g. ``Embedding(2**40, 2**20)`` fails at once
    instead of attempting a 4 EiB allocation (or, with overcommit, being killed while initialising).
    """
    itemsize = 4
    total = 0
    arrays = 0
    for i, shape in enumerate(shapes):
        count, nonzero = 1 if repeats is None else repeats[i], 1
        if count == 0:
            continue
        arrays += count
        for d in shape:
            count *= d
            nonzero *= d or 1
        # NumPy refuses a shape whose non-zero dimensions overflow in bytes even with zero elements
        # (checked for 8-byte items: initialisation may make float64 temporaries of the same shape).
        if count == 0 and nonzero * 8 > _INT64_MAX:
            raise ValueError(f"{owner}: a parameter of shape {tuple(shape)} cannot be represented "
                             f"(its non-zero dimensions exceed 64 bits in bytes)")
        total += count
    nbytes = total * itemsize
    if nbytes > _INT64_MAX:
        raise OverflowError(f"{owner} needs {total} parameters ({nbytes} bytes), more than a 64-bit size can hold")
    nbytes += arrays * _PARAMETER_OVERHEAD
    limit = _memory_bytes()
    if limit is not None and nbytes > limit:
        raise MemoryError(f"{owner} needs {_format_bytes(nbytes)} for its parameters, more than this "
                          f"machine's memory ({_format_bytes(limit)})")
