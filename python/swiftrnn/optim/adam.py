"""optim.Adam: adaptive moment estimation, with amsgrad and (coupled) weight decay."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from .. import _native
from ..nn.parameter import Parameter
from .optimizer import Optimizer, _check_number

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam`` (its single-tensor CPU update, step for step):

    .. code-block:: text

        g = grad (−grad if maximize) + weight_decay · p
        m = lerp(m, g, 1 − β1);   v = β2 · v + (1 − β2) · g²;   v̂ = max(v̂, v)   [amsgrad]
        p = p − lr / (1 − β1^t) · m / (sqrt(v or v̂) / sqrt(1 − β2^t) + eps)

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        lr (float): Default: 1e-3.   betas (float, float): (β1, β2). Default: (0.9, 0.999).
        eps (float): Default: 1e-8.  weight_decay (float): L2 penalty added to the gradient. Default: 0.
        amsgrad (bool): use the running maximum of v. Default: False.
        maximize (bool): Default: False.

    State per parameter: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"`` (and ``"max_exp_avg_sq"``).
    """

    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=bool(amsgrad),
                        maximize=bool(maximize))
        super().__init__(params, defaults)

    def _check_group(self, group: Dict[str, Any]) -> None:
        _check_number("learning rate", group["lr"])
        _check_number("epsilon", group["eps"])
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= float(b) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        _check_number("weight_decay", group["weight_decay"])

    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient; ``closure`` (optional) is called first and
        its result returned, as torch. Each group's parameters are updated by one native call (the same
        arithmetic as one call per parameter); a group is all or nothing: if its call raises, none of its
        parameters or step counts change."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            amsgrad = bool(group["amsgrad"])
            params: List[Parameter] = []
            grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, states, steps = [], [], [], [], [], []
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = self.state[p]
                self._init_state(p, state, amsgrad)
                params.append(p)
                grads.append(grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                if amsgrad:
                    max_exp_avg_sqs.append(state["max_exp_avg_sq"])
                states.append(state)
                steps.append(int(state["step"] + 1))
            if not params:
                continue
            beta1, beta2 = group["betas"]
            _native.adam_step_group(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None, steps,
                                    float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                                    float(group["weight_decay"]), self._decoupled, bool(group["maximize"]))
            for state in states:
                state["step"] += 1
        return loss

    @staticmethod
    def _init_state(p: Parameter, state: Dict[str, Any], amsgrad: bool) -> None:
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros(p.shape, dtype=np.float32)
            state["exp_avg_sq"] = np.zeros(p.shape, dtype=np.float32)
            if amsgrad:
                state["max_exp_avg_sq"] = np.zeros(p.shape, dtype=np.float32)
        if amsgrad and state.get("max_exp_avg_sq") is None:
            state["max_exp_avg_sq"] = np.zeros(p.shape, dtype=np.float32)

    def _update(self, p: Parameter, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        amsgrad = bool(group["amsgrad"])
        self._init_state(p, state, amsgrad)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        _native.adam_step(p, p.grad, state["exp_avg"], state["exp_avg_sq"],
                          state["max_exp_avg_sq"] if amsgrad else None, int(state["step"]), float(group["lr"]),
                          float(beta1), float(beta2), float(group["eps"]), float(group["weight_decay"]),
                          self._decoupled, bool(group["maximize"]))
