"""nn.Linear: y = x Wᵀ + b."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ... import _native
from ... import random as _random
from ._checks import check_bool, check_factory_kwargs, check_parameter_memory, check_size
from ..parameter import _GRAD_LOCK, Parameter, _commit_grads, _grad_accumulators
from .module import Module

__all__ = ["Linear"]


class Linear(Module):
    r"""Applies ``y = x Wᵀ + b`` over the last dimension, as ``torch.nn.Linear``.

    Args:
        in_features (int): size of each input sample.
        out_features (int): size of each output sample.
        bias (bool): if False, no additive bias. Default: True.

    Attributes:
        weight (Parameter): float32 ``(out_features, in_features)`` from U(-k, k), k = 1/sqrt(in_features).
        bias (Parameter or None): float32 ``(out_features,)`` from U(-k, k).

    Shape:
        - Input: ``(*, in_features)``, any real float dtype (cast to float32), any leading shape.
        - Output: ``(*, out_features)``, a new float32 array.

    Raises:
        ValueError: the input's last dimension is not ``in_features``.
        TypeError: integer, bool, complex or non-numeric input.

    Training: in training mode the forward keeps a copy of its input; ``backward(grad_output)`` then
    accumulates into ``weight.grad`` / ``bias.grad`` and returns the gradient w.r.t. the input.
    """

    if TYPE_CHECKING:  # for type checkers only: the attributes __init__ sets; a call runs forward
        in_features: int
        out_features: int
        weight: Parameter
        bias: Optional[Parameter]
        def __call__(self, input: Any) -> np.ndarray: ...

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

    def reset_parameters(self) -> None:
        """Draws the weight (kaiming_uniform_ with a=sqrt(5)) and the bias (U(+-1/sqrt(in_features))) again,
        in place, as torch's: after the same ``manual_seed``, torch's values."""
        _random._init_linear_(self.weight, self.bias)

    def forward(self, input: Any) -> np.ndarray:
        """``y = x W^T + b`` over the last dimension; call the module (``linear(x)``) rather than this.

        Args:
            input: ``(*, in_features)``: any leading shape, including none; any real float dtype (cast to
                float32), nested lists, objects with ``__array__`` or the buffer protocol, torch tensors.

        Returns:
            A new float32 array ``(*, out_features)``. In training mode the input is saved for ``backward``.

        Raises:
            ValueError: a last dimension other than ``in_features`` (expected and actual shapes named).
            TypeError: a non-numeric, integer, bool or complex input.
        """
        if not self._records():
            self._save_for_backward(None)
            return _native.linear_forward(input, self.weight, self.bias)
        out, x = _native.linear_forward(input, self.weight, self.bias, None, True)  # x: a private copy
        self._save_for_backward(x)
        return out

    def backward(self, grad_output: Any) -> np.ndarray:
        """Backward of the last training-mode forward: adds ``grad_outputᵀ · input`` to ``weight.grad``
        and the summed ``grad_output`` to ``bias.grad`` (parameters with ``requires_grad=False`` get
        none), and returns the gradient w.r.t. the input, ``grad_output · weight``.

        Args:
            grad_output: the gradient w.r.t. the output, shaped like it: ``(*, out_features)``.

        Raises:
            RuntimeError: no training-mode forward to work from (none yet, an eval-mode one, or its
                state already used by a backward).
            ValueError: ``grad_output`` of the wrong shape (expected and actual shapes named).
        """
        x = self._saved_for_backward()
        with _GRAD_LOCK:
            (gw, gb), fresh = _grad_accumulators([self.weight, self.bias])
            grad_input = _native.linear_backward(x, grad_output, self.weight, gw, gb, True)
            _commit_grads(fresh)
        self._release_saved()
        return grad_input

    def extra_repr(self) -> str:
        """The text inside ``Linear(...)`` of the repr, as torch prints it."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
