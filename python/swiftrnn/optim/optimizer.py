"""Optimizer: parameter groups, per-parameter state, zero_grad and state_dict as ``torch.optim.Optimizer``."""
from __future__ import annotations

import copy
import numbers
from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Tuple

import numpy as np

from ..nn.parameter import Parameter

__all__ = ["Optimizer"]


class _ParameterState(MutableMapping[Any, Dict[str, Any]]):
    """``optimizer.state``: per-parameter state dicts keyed by the Parameter itself (by identity: NumPy
    arrays are not hashable), as torch's ``defaultdict`` keyed by tensors."""

    def __init__(self) -> None:
        self._items: Dict[int, Tuple[Parameter, Dict[str, Any]]] = {}

    def __getitem__(self, p: Parameter) -> Dict[str, Any]:
        entry = self._items.get(id(p))
        if entry is None:  # as a defaultdict(dict)
            entry = (p, {})
            self._items[id(p)] = entry
        return entry[1]

    def __setitem__(self, p: Parameter, value: Dict[str, Any]) -> None:
        self._items[id(p)] = (p, value)

    def __delitem__(self, p: Parameter) -> None:
        del self._items[id(p)]

    def __contains__(self, p: object) -> bool:
        return id(p) in self._items

    def __iter__(self) -> Iterator[Parameter]:
        return (p for p, _ in list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<optimizer state for {len(self)} parameters>"


def _check_number(name: str, value: Any, low: float = 0.0, low_open: bool = False, high: float = float("inf"),
                  high_open: bool = False) -> float:
    """A real number in the range torch accepts, else torch's ValueError wording."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    bad_low = v <= low if low_open else v < low
    bad_high = v >= high if high_open else v > high
    if bad_low or bad_high or v != v:
        raise ValueError(f"Invalid {name} value: {value}")
    return v


class Optimizer:
    """Base class of swiftrnn's optimizers, shaped like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of ``nn.Parameter`` objects (e.g. ``model.parameters()``), or of dicts, each
            a parameter group: ``{"params": [...], "lr": ...}`` with per-group hyperparameters.
        defaults: the hyperparameters of groups that do not set them.

    Attributes:
        param_groups (list of dict): each with ``"params"`` (a list of Parameters) and hyperparameters
            (``"lr"``, ...), which may be changed between steps (e.g. a learning-rate schedule).
        state: per-parameter state (momentum buffers, moments, step counts), ``optimizer.state[p]``.
    """

    def __init__(self, params: Any, defaults: Dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: _ParameterState = _ParameterState()
        self.param_groups: List[Dict[str, Any]] = []
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError("params argument given to the optimizer should be an iterable of Parameters or dicts, "
                            f"but got {type(params).__name__}")
        try:
            params = iter(params)
        except TypeError:  # torch's message rather than Python's "'int' object is not iterable"
            raise TypeError("params argument given to the optimizer should be an iterable of Parameters or dicts, "
                            f"but got {type(params).__name__}") from None
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """Adds a group: ``{"params": iterable of Parameters, **hyperparameters}``; missing
        hyperparameters come from the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters (swiftrnn.nn.Parameter), got {type(p).__name__}")
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_group(group)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _check_group(self, group: Dict[str, Any]) -> None:
        """Validates a group's hyperparameters (subclasses)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of every parameter: to None (default, as torch), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.fill(0)

    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient; ``closure`` (optional) is called first
        and its result returned, as torch."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group, self.state[p])
        return loss

    def _update(self, p: Parameter, group: Dict[str, Any], state: Dict[str, Any]) -> None:
        raise NotImplementedError

    # --- state_dict -----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as torch: parameters
        are numbered across the groups in order; arrays are copies."""
        index: Dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for p in self.state:
            if id(p) in index and self.state[p]:
                state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                       for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Loads a ``state_dict()`` (this optimizer's, or torch's for the same parameters: tensors are
        converted). All or nothing: everything is checked first and on any error nothing changes.

        Raises:
            ValueError: a different number of groups, a group of a different size, a state array
                whose shape differs from its parameter's (the message names it), or a ``step`` that is
                not a whole number >= 0 (NaN, inf and negative steps would break the next update).
            KeyError: a missing "state" or "param_groups" entry.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected an optimizer state_dict (a mapping), got {type(state_dict).__name__}")
        saved_groups = state_dict["param_groups"]
        saved_state = state_dict["state"]
        # The structure first (TypeError naming what is wrong), so junk never surfaces as AttributeError.
        if not isinstance(saved_groups, (list, tuple)) or not all(
                isinstance(g, Mapping) and isinstance(g.get("params"), (list, tuple)) for g in saved_groups):
            raise TypeError("state_dict['param_groups'] must be a list of dicts, each with a 'params' list")
        if not isinstance(saved_state, Mapping) or not all(isinstance(e, Mapping) for e in saved_state.values()):
            raise TypeError("state_dict['state'] must map parameter indices to dicts of state")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups: expected "
                             f"{len(self.param_groups)}, got {len(saved_groups)}")
        for i, (ours, theirs) in enumerate(zip(self.param_groups, saved_groups)):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(ours['params'])} parameters, the loaded one "
                                 f"{len(theirs['params'])}")
        by_index: Dict[Any, Parameter] = {}
        for ours, theirs in zip(self.param_groups, saved_groups):
            for p, k in zip(ours["params"], theirs["params"]):
                by_index[k] = p
        new_state: List[Tuple[Parameter, Dict[str, Any]]] = []
        for k, entry in saved_state.items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key not in by_index:
                continue
            p = by_index[key]
            converted: Dict[str, Any] = {}
            for name, value in entry.items():
                converted[name] = self._convert_state(p, name, value)
            new_state.append((p, converted))
        new_groups = []
        for ours, theirs in zip(self.param_groups, saved_groups):
            group = copy.deepcopy({k: v for k, v in theirs.items() if k != "params"})
            group["params"] = ours["params"]
            for name, default in self.defaults.items():
                group.setdefault(name, default)
            self._check_group(group)
            new_groups.append(group)
        # Nothing below can fail.
        self.param_groups = new_groups
        self.state = _ParameterState()
        for p, st in new_state:
            self.state[p] = st

    @staticmethod
    def _convert_state(p: Parameter, name: str, value: Any) -> Any:
        if value is None:
            return None
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
            value = value.detach().cpu().numpy()
        if name == "step":
            try:
                step = float(np.asarray(value))
            except (TypeError, ValueError):
                raise ValueError(f"state 'step' must be a number, got {value!r}") from None
            if not (0 <= step <= 2**53 and step == int(step)):  # NaN fails every comparison
                raise ValueError(f"state 'step' must be a whole number of steps >= 0, got {step!r}")
            return step
        arr = np.array(value, dtype=np.float32, order="C", copy=True)
        if arr.shape != p.shape:
            raise ValueError(f"size mismatch for state {name!r}: expected shape {p.shape} (the parameter's), "
                             f"got {arr.shape}")
        return arr

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
