"""optim.SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .. import _native
from ..nn.parameter import Parameter
from .optimizer import Optimizer, _check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD`` (its single-tensor CPU update, step for step):

    .. code-block:: text

        g = grad (−grad if maximize) + weight_decay · p
        buf = g (first step), else momentum · buf + (1 − dampening) · g      [if momentum != 0]
        g = g + momentum · buf if nesterov, else buf                           [if momentum != 0]
        p = p − lr · g

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        lr (float): learning rate. Default: 1e-3.
        momentum (float), dampening (float), weight_decay (float): Default: 0.
        nesterov (bool): Nesterov momentum (needs momentum > 0 and dampening 0). Default: False.
        maximize (bool): ascend instead of descend. Default: False.

    State per parameter: ``"momentum_buffer"`` (when momentum != 0).
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=bool(nesterov), maximize=bool(maximize))
        super().__init__(params, defaults)

    def _check_group(self, group: Dict[str, Any]) -> None:
        _check_number("learning rate", group["lr"])
        _check_number("momentum", group["momentum"])
        _check_number("dampening", group["dampening"], low=float("-inf"))
        _check_number("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p: Parameter, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        momentum = float(group["momentum"])
        buf = state.get("momentum_buffer") if momentum != 0 else None
        is_new = momentum != 0 and buf is None
        if is_new:
            buf = np.empty(p.shape, dtype=np.float32)
        _native.sgd_step(p, p.grad, buf, is_new, float(group["lr"]), momentum, float(group["dampening"]),
                         float(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"]))
        if momentum != 0:
            state["momentum_buffer"] = buf
