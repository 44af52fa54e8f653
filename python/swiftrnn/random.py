"""Random numbers for initialisation and dropout.

Interim implementation over NumPy's PCG64 with torch's distributions (not torch's stream); the
torch-exact mt19937 generator in the Swift core replaces it.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

_rng = np.random.default_rng(67280421310721)
_initial_seed = 67280421310721


def manual_seed(seed: int) -> None:
    global _rng, _initial_seed
    _initial_seed = int(seed)
    _rng = np.random.default_rng(_initial_seed)


def initial_seed() -> int:
    return _initial_seed


def _uniform_(arr: np.ndarray, a: float, b: float) -> None:
    arr[...] = _rng.uniform(a, b, size=arr.shape).astype(np.float32)


def _normal_(arr: np.ndarray, mean: float = 0.0, std: float = 1.0) -> None:
    arr[...] = _rng.normal(mean, std, size=arr.shape).astype(np.float32)


def _init_embedding_(weight: np.ndarray, padding_idx: Optional[int]) -> None:
    _normal_(weight)
    if padding_idx is not None:
        weight[padding_idx] = 0


def _init_linear_(weight: np.ndarray, bias: Optional[np.ndarray]) -> None:
    fan_in = weight.shape[1]
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    _uniform_(weight, -bound, bound)
    if bias is not None:
        _uniform_(bias, -bound, bound)


def _init_rnn_(params: Sequence[np.ndarray], hidden_size: int) -> None:
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in params:
        _uniform_(p, -stdv, stdv)


def _dropout_mask(shape: Sequence[int], p: float) -> np.ndarray:
    if p >= 1:
        return np.zeros(shape, dtype=np.float32)
    keep = _rng.random(shape) >= p
    return (keep / (1 - p)).astype(np.float32)
