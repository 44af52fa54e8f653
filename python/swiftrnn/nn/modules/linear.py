"""nn.Linear: y = x Wᵀ + b."""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import _native
from ... import random as _random
from ._checks import check_bool, check_factory_kwargs, check_parameter_memory, check_size
from .module import Module

__all__ = ["Linear"]


class Linear(Module):
    r"""Applies ``y = x Wᵀ + b`` over the last dimension, as ``torch.nn.Linear``.

    Args:
        in_features (int): size of each input sample.
        out_features (int): size of each output sample.
        bias (bool): if False, no additive bias. Default: True.

    Attributes:
        weight (np.ndarray): float32 ``(out_features, in_features)`` from U(-k, k), k = 1/sqrt(in_features).
        bias (np.ndarray or None): float32 ``(out_features,)`` from U(-k, k).

    Shape:
        - Input: ``(*, in_features)``, any real float dtype (cast to float32), any leading shape.
        - Output: ``(*, out_features)``, a new float32 array.

    Raises:
        ValueError: the input's last dimension is not ``in_features``.
        TypeError: integer, bool, complex or non-numeric input.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_factory_kwargs(device, dtype)
        self.in_features = check_size(in_features, "in_features")
        self.out_features = check_size(out_features, "out_features")
        has_bias = check_bool(bias, "bias")
        check_parameter_memory(f"Linear(in_features={self.in_features}, out_features={self.out_features})",
                               [(self.out_features, self.in_features)] + ([(self.out_features,)] if has_bias else []))
        weight = np.empty((self.out_features, self.in_features), dtype=np.float32)
        b = np.empty((self.out_features,), dtype=np.float32) if has_bias else None
        _random._init_linear_(weight, b)
        self.register_parameter("weight", weight)
        self.register_parameter("bias", b)

    def forward(self, input: Any) -> np.ndarray:
        return _native.linear_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
