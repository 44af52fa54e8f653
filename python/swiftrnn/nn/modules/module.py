"""The Module base class: parameters, submodules, state_dict, train/eval and repr as in torch.nn.Module."""
from __future__ import annotations

import collections
import functools
import threading
import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, NoReturn, Optional, Set, Tuple, TypeVar, cast

import numpy as np

from ...grad_mode import is_grad_enabled
from ..parameter import Parameter, _to_float32_copy
from ._checks import check_factory_kwargs

__all__ = ["Module"]

_M = TypeVar("_M", bound="Module")  # methods that return self keep the caller's type (rnn.eval() is an RNN)


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as torch's: ``(missing_keys, unexpected_keys)``."""

    missing_keys: List[str]
    unexpected_keys: List[str]

    def __repr__(self) -> str:  # torch's repr
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, unexpected_keys={self.unexpected_keys!r})"

    def __str__(self) -> str:
        return self.__repr__()


# A new C-contiguous float32 copy of a parameter value (NumPy array, nested list or torch tensor).
_as_float32 = _to_float32_copy

# Serving (RNNLanguageModel.generate/evaluate): modules run as in eval mode in this thread only, without touching
# their shared `training` flags (flipping those let a thread training the same model lose its dropout meanwhile).
_serving_state = threading.local()
# How many threads are serving now: while none is, a forward's mode check skips the thread-local lookup (a
# per-call cost of ~0.4 us on the smallest calls).
_serving_threads = [0]
_serving_lock = threading.Lock()


class _ServingMode:
    """Context manager: modules run as in eval mode (no dropout, nothing saved) in the calling thread."""

    def __enter__(self) -> None:
        self._was = getattr(_serving_state, "on", False)
        _serving_state.on = True
        with _serving_lock:
            _serving_threads[0] += 1

    def __exit__(self, *exc: Any) -> None:
        _serving_state.on = self._was
        with _serving_lock:
            _serving_threads[0] -= 1


def serving_mode() -> _ServingMode:
    return _ServingMode()


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class _Unsaved:
    """Why a module has nothing saved for backward (never a training forward, or an eval one)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


_NEVER = _Unsaved("no forward has run in training mode since the last backward (each training-mode forward "
                  "saves what one backward needs)")
_EVAL = _Unsaved("the last forward ran in eval mode, which saves nothing for backward; call .train() and run "
                 "forward again")
_NO_GRAD = _Unsaved("the last forward ran with gradients disabled (swiftrnn.no_grad()), which saves nothing for "
                    "backward; run forward again outside it")


# torch's device types (torch.device(...).type), for telling `to('cuda')` from `to('float32')`.
_DEVICE_TYPES = {"cpu", "cuda", "mps", "xpu", "xla", "meta", "hip", "hpu", "ipu", "mtia", "vulkan", "privateuseone"}


def _names_device(arg: Any) -> bool:
    """Whether a positional argument of ``Module.to`` is a device: a torch.device, a device string
    (``'cuda:1'``) or a bare device index (an int)."""
    if type(arg).__name__ == "device":
        return True
    if isinstance(arg, str):
        return arg.split(":", 1)[0] in _DEVICE_TYPES
    return isinstance(arg, int)


def _deferring_parameter_hook(init: Callable[..., None]) -> Callable[..., None]:
    """A subclass's ``__init__`` that runs ``_parameters_changed`` once when it returns, not per registration."""
    @functools.wraps(init)
    def __init__(self: "Module", *args: Any, **kwargs: Any) -> None:
        d = self.__dict__
        outer = d.get("_constructing", False)  # a subclass's __init__ calling its base's
        d["_constructing"] = True
        try:
            init(self, *args, **kwargs)
        finally:
            if outer:
                d["_constructing"] = True
            else:
                d.pop("_constructing", None)
        if d.pop("_hook_pending", False):
            self._parameters_changed()  # once per constructor level: each returns a usable module
    return __init__


class Module:
    """Base class of swiftrnn's layers, shaped like ``torch.nn.Module``.

    Parameters are ``nn.Parameter`` objects (C-contiguous float32 NumPy arrays with ``.grad`` and
    ``.requires_grad``), registered under torch's names and reachable as attributes
    (``rnn.weight_ih_l0``). Assigning a Parameter to a parameter attribute makes the module use that very
    object (weight tying, as torch); assigning any other array copies it into the existing Parameter in
    place (its shape must match), so optimizers holding the Parameter see the change.
    ``load_state_dict`` copies into the existing Parameters in place.

    Training: each forward in training mode saves what one ``backward`` needs (an eval-mode forward, or
    any forward inside ``swiftrnn.no_grad()``, saves nothing). The saved states form a stack per module and
    thread: each backward consumes the most recent one (last in, first out), which is exactly the order of
    a reverse loop over the forwards, so a module applied k times (a cell in a time-step loop, one Linear
    used twice) gets autograd's gradients from k backwards in reverse order. Each backward accumulates into
    the parameters' ``.grad``.

    Saved states no backward consumes do not pile up without bound: a module keeps at most
    ``Module.max_saved_forwards`` (1024) per thread; past that the oldest is dropped with a
    ``RuntimeWarning`` (a backward that would need it then finds nothing). ``clear_saved()`` drops them.

    SERVING (inference only): call ``model.eval()`` once and run forwards inside ``swiftrnn.no_grad()``.
    A forward in training mode with gradients enabled (the default state of a new module) keeps its
    inputs and activations *per thread* until a backward uses them: a pool of server threads that never
    call backward would each hold up to ``max_saved_forwards`` batches' activations, and dropout would be
    applied. ``RNNLanguageModel.generate`` / ``evaluate`` and the command line do this themselves.
    """

    #: How many training-mode forwards a module keeps for backward per thread before it drops the oldest.
    max_saved_forwards: int = 1024

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- attributes -------------------------------------------------------------------------
    def register_parameter(self, name: str, value: Optional[Any]) -> None:
        """Adds a parameter: a Parameter (used as is), any other array (wrapped in a new Parameter
        holding a float32 copy), or None for an absent one such as a disabled bias."""
        if value is not None and not isinstance(value, Parameter):
            value = Parameter(_as_float32(value, name))
        self._parameters[name] = value
        self.__dict__[name] = value  # mirrored for plain (fast) attribute lookup; __setattr__ keeps both in step
        self._parameter_replaced()

    def _parameters_changed(self) -> None:
        """Hook for modules that cache views of their parameters: called once a constructor returns, and
        after each later change of a parameter object (not of its values)."""

    def _parameter_replaced(self) -> None:
        # Inside a constructor the hook runs once, when it returns (see __init_subclass__): a hook that
        # rebuilds an O(n) cache per registration made building n parameters O(n^2).
        if self.__dict__.get("_constructing"):
            self.__dict__["_hook_pending"] = True
        else:
            self._parameters_changed()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _deferring_parameter_hook(init)  # type: ignore[method-assign]

    if TYPE_CHECKING:
        # Parameters and submodules are plain instance attributes (register_parameter and __setattr__
        # mirror them into __dict__), so the runtime needs no __getattr__: defining one would send every
        # attribute load of every forward through Python's slow __getattr__ hook (CPython does not
        # specialise attribute access on such classes). Type checkers still see the dynamic names.
        def __getattr__(self, name: str) -> Any: ...

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is not None and name in params:
            current = params[name]
            if current is None:
                if value is not None:
                    raise AttributeError(f"{type(self).__name__} was built without {name}; it cannot be set")
                return
            if isinstance(value, Parameter):
                if value.shape != current.shape:
                    raise ValueError(f"expected {name} of shape {current.shape}, got {value.shape}")
                params[name] = value
                self.__dict__[name] = value
                self._parameter_replaced()
                return
            new = _as_float32(value, name)
            if new.shape != current.shape:
                raise ValueError(f"expected {name} of shape {current.shape}, got {new.shape}")
            np.copyto(current, new)
        elif isinstance(value, Module):
            if "_modules" not in self.__dict__:
                raise AttributeError("cannot assign a submodule before Module.__init__() is called")
            self._modules[name] = value
            self.__dict__[name] = value
        else:
            object.__setattr__(self, name, value)

    def add_module(self, name: str, module: "Module") -> None:
        """Adds a submodule under ``name``, as ``setattr(self, name, module)`` (torch's ``add_module``, for
        names chosen at run time, e.g. ``self.add_module(f"layer{i}", nn.RNN(...))``).

        Raises:
            TypeError: ``module`` is not a Module (swiftrnn keeps no empty slots, so not None either), or
                ``name`` is not a str.
            KeyError: ``name`` is empty, contains ``"."``, or is already an attribute other than a submodule.
        """
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, module)

    def register_module(self, name: str, module: "Module") -> None:
        """The same as ``add_module`` (torch's alias)."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> "Module":
        """The submodule at the dotted path ``target`` (``'encoder.rnn'``); ``''`` is this module.

        Raises:
            AttributeError: a name on the path is missing or is not a Module.
        """
        module: Module = self
        if target == "":
            return module
        for item in target.split("."):
            module = module._typed_attribute(item, Module, "nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (``'rnn.weight_hh_l0'``).

        Raises:
            AttributeError: the path does not lead to a Parameter (a disabled bias, which is None, included).
        """
        module_path, _, name = target.rpartition(".")
        param: Parameter = self.get_submodule(module_path)._typed_attribute(name, Parameter, "nn.Parameter")
        return param

    def _typed_attribute(self, name: str, kind: type, kind_name: str) -> Any:
        """``getattr(self, name)`` if it is a ``kind``, else torch's AttributeError (get_submodule, get_parameter)."""
        if not hasattr(self, name):
            raise AttributeError(f"{type(self).__name__} has no attribute `{name}`")
        value = getattr(self, name)
        if not isinstance(value, kind):
            raise AttributeError(f"`{name}` is not an {kind_name}")
        return value

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._modules:
            raise AttributeError(f"cannot delete {name}: parameters and submodules are fixed")
        object.__delattr__(self, name)

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))

    # --- calling ----------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module; subclasses define it. Call the module (``module(x)``) rather than
        this method, as in torch.

        Raises:
            NotImplementedError: the subclass defines no forward.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    @classmethod
    def _keep_direct_call(cls, owner: type) -> None:
        """For `owner`'s ``__init_subclass__``, when `owner` defines a direct ``__call__`` (its forward's own
        parameters: packing ``*args``/``**kwargs`` is a visible share of a small call). A subclass whose
        forward is not `owner`'s may take other arguments, so it gets the generic ``__call__`` back, unless
        it defines its own."""
        if cls.forward is not owner.forward and "__call__" not in cls.__dict__:  # type: ignore[attr-defined]
            cls.__call__ = Module.__call__  # type: ignore[method-assign]

    # --- traversal --------------------------------------------------------------------------
    def named_modules(self, memo: Optional[Set["Module"]] = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[Tuple[str, "Module"]]:
        """Yields ``(name, module)`` for this module (name ``prefix``) and every submodule, depth first;
        submodule names are dotted paths (``'rnn'``, ``'encoder.fc'``), as ``torch.nn.Module.named_modules``.
        A module registered twice (shared) is listed once, at its first path, unless ``remove_duplicate=False``.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """Yields this module and every submodule, depth first (``named_modules`` without the names)."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """Yields ``(name, module)`` for the direct submodules, in registration order; one registered under
        two names is yielded once, under the first (as torch)."""
        memo = set()
        for name, module in self._modules.items():
            if module not in memo:
                memo.add(module)
                yield name, module

    def children(self) -> Iterator["Module"]:
        """Yields the direct submodules, in registration order, each once."""
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(name, Parameter) pairs in torch's order: own parameters first, then each submodule's.
        A Parameter shared by several modules is listed once unless ``remove_duplicate=False``."""
        # without remove_duplicate a shared submodule's parameters appear under each of its paths (state_dict)
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else iter([(prefix, self)])
        seen = set()
        for module_prefix, module in modules:
            for name, p in module._parameters.items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                yield module_prefix + ("." if module_prefix else "") + name, p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yields the module's ``nn.Parameter`` objects in ``state_dict`` order (the objects themselves, not
        copies: what an optimizer updates). With ``recurse=True`` (the default) submodules' parameters too.
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # --- gradients --------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of all parameters: to None (the default, as torch), or to zeros in place."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.fill(0)

    def requires_grad_(self: _M, requires_grad: bool = True) -> _M:
        """Sets ``requires_grad`` of every parameter (False freezes them); returns self."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    # --- device and dtype -------------------------------------------------------------------
    # swiftrnn computes on the CPU in float32 only: these accept what torch code passes for that (so a
    # ported `model.to(device)` runs) and return the module unchanged; anything else is an error rather
    # than a silent no-op.
    def to(self: _M, *args: Any, **kwargs: Any) -> _M:
        """torch's ``Module.to(device=None, dtype=None, non_blocking=False)``, ``to(dtype)`` or ``to(tensor)``:
        returns self when the device is the CPU and the dtype float32 (``'cpu'``, ``torch.device('cpu')``,
        ``np.float32``, ``'float32'``, ``torch.float32``, a float32 CPU array or tensor).

        Raises:
            ValueError: any other device (``'cuda'``, ``0``, ...).
            TypeError: any other dtype, or an unknown keyword.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        for arg in args:
            if isinstance(arg, bool):  # non_blocking, given by position
                continue
            if _names_device(arg):
                device = arg
            elif not isinstance(arg, type) and hasattr(arg, "dtype") and hasattr(arg, "shape"):
                # to(tensor): its dtype and device (np.float32, a class, has `dtype` and `shape` too)
                dtype = arg.dtype
                device = getattr(arg, "device", None)
            else:
                dtype = arg
        check_factory_kwargs(device, dtype)
        return self

    def cpu(self: _M) -> _M:
        """Returns self: the parameters already live in CPU memory."""
        return self

    def cuda(self, device: Any = None) -> NoReturn:
        """Raises ValueError: swiftrnn runs on the CPU only."""
        raise ValueError("swiftrnn runs on the CPU only; cuda() is not available (use the module as it is)")

    def float(self: _M) -> _M:
        """Returns self: the parameters are float32 already."""
        return self

    def double(self) -> NoReturn:
        """Raises TypeError: swiftrnn computes in float32 only."""
        raise TypeError("swiftrnn computes in float32 only; double() is not available")

    def half(self) -> NoReturn:
        """Raises TypeError: swiftrnn computes in float32 only."""
        raise TypeError("swiftrnn computes in float32 only; half() is not available")

    def apply(self: _M, fn: Any) -> _M:
        """Calls ``fn(module)`` on every submodule, children before their parent, then on self (torch's order,
        e.g. for custom initialisation); returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[Tuple[str, np.ndarray]]:
        """Yields nothing: swiftrnn's layers have no buffers (neither have torch's Embedding, RNN and Linear)."""
        return iter(())

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        """Yields nothing: swiftrnn's layers have no buffers."""
        return iter(())

    # What a backward needs is kept per thread: each thread's forward/backward pair works from its own
    # forward, so many threads can train (or run forward) on one module at once.
    def _tape(self) -> threading.local:
        tape = self.__dict__.get("_tape_local")
        if tape is None:
            tape = self.__dict__.setdefault("_tape_local", threading.local())  # setdefault: atomic
        return cast(threading.local, tape)

    def __getstate__(self) -> Dict[str, Any]:
        # copy.deepcopy and pickle: the per-thread saved states stay behind (threading.local cannot be copied).
        state = self.__dict__.copy()
        state.pop("_tape_local", None)
        return state

    def _training_now(self) -> bool:
        """Training mode as this thread's forward sees it: the module's flag, off inside `serving_mode()`."""
        return self.training and not (_serving_threads[0] and getattr(_serving_state, "on", False))

    def _records(self) -> bool:
        """Whether a forward now saves what backward needs: in training mode, with gradients enabled."""
        # `_training_now()` written out: every forward asks, and the call would cost as much as the check.
        return (self.training and not (_serving_threads[0] and getattr(_serving_state, "on", False))
                and is_grad_enabled())

    def _save_for_backward(self, state: Any) -> None:
        """Pushes what one backward needs (None: a forward that saves nothing, in eval mode or with gradients
        disabled; a backward with nothing pending then says which)."""
        tape = self.__dict__.get("_tape_local") or self._tape()  # the common case without a method call
        if state is None:
            tape.reason = _NO_GRAD if self._training_now() else _EVAL
            return
        stack = tape.__dict__.get("stack")
        if stack is None:
            stack = tape.stack = collections.deque()
        stack.append(state)
        if len(stack) > self.max_saved_forwards:
            stack.popleft()
            if not tape.__dict__.get("warned"):
                tape.warned = True
                warnings.warn(f"{type(self).__name__} has kept {self.max_saved_forwards} training-mode forwards for "
                              "backward in this thread and dropped the oldest. For inference call .eval() or run "
                              "inside swiftrnn.no_grad(); to drop saved forwards call .clear_saved()",
                              RuntimeWarning, stacklevel=4)

    def _saved_for_backward(self) -> Any:
        """What this thread's most recent unconsumed training-mode forward saved (the stack's top; consumed by
        ``_release_saved``); RuntimeError saying why if there is nothing."""
        tape = self._tape()
        stack = tape.__dict__.get("stack")
        if not stack:
            reason = tape.__dict__.get("reason", _NEVER)
            raise RuntimeError(f"{type(self).__name__}.backward() has nothing to work from: {reason.reason}")
        return stack[-1]

    def _release_saved(self) -> None:
        tape = self._tape()
        tape.stack.pop()
        tape.reason = _NEVER

    def clear_saved(self, recurse: bool = True) -> None:
        """Drops this thread's saved training-mode forwards (of every submodule too, with ``recurse``): memory
        kept for backwards that will not come (torch frees a graph when its outputs go; here the module holds
        them until a backward)."""
        for m in (self.modules() if recurse else (self,)):
            tape = m.__dict__.get("_tape_local")
            if tape is not None:
                tape.__dict__.pop("stack", None)
                tape.reason = _NEVER

    @property
    def saved_forwards(self) -> int:
        """How many training-mode forwards of this thread wait for a backward (this module only)."""
        tape = self.__dict__.get("_tape_local")
        return len(tape.__dict__.get("stack") or ()) if tape is not None else 0

    # --- state ------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """An ordered mapping of parameter names to copies of the arrays, in torch's key order.

        Unlike torch's, the arrays are copies (plain ndarrays): changing them does not change the module.
        """
        return OrderedDict((name, np.array(p, copy=True)) for name, p in self.named_parameters(remove_duplicate=False))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copies parameters from ``state_dict`` (NumPy arrays, lists or torch tensors) into this module, in
        place; returns ``(missing_keys, unexpected_keys)`` as torch's ``_IncompatibleKeys``.

        All or nothing (stricter than torch, which copies the parameters before the first bad one): every
        key, shape, value and target is checked first, and on any error nothing changes.

        Raises:
            RuntimeError: torch's ``Error(s) in loading state_dict for RNN:`` with one line per problem, in
                torch's order and words: ``Missing key(s) in state_dict: "a", "b". `` and ``Unexpected
                key(s) in state_dict: ...`` (only with ``strict=True``), ``size mismatch for KEY: copying a
                param with shape (3,) from checkpoint, the shape in current model is (4,).`` (shapes as
                NumPy tuples where torch prints ``torch.Size([...])``), ``While copying the parameter named
                "KEY", ...`` for a value that is not an array of real numbers or a parameter that is read-only.
            TypeError: ``state_dict`` is not a mapping.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected = self._incompatible_keys(state_dict)
        errors: List[str] = []
        staged: List[Tuple[Parameter, np.ndarray]] = []
        for key, target in self.named_parameters(remove_duplicate=False):
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                new = _as_float32(value, key)
            except (TypeError, ValueError):
                errors.append(f'While copying the parameter named "{key}", expected an array of real numbers '
                              f"(NumPy array, nested list or torch.Tensor) from checkpoint but received "
                              f"{type(value)}" + (f" of dtype {value.dtype}" if hasattr(value, "dtype") else ""))
                continue
            if new.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {new.shape} from checkpoint, "
                              f"the shape in current model is {target.shape}.")
                continue
            if not target.flags.writeable:
                errors.append(f'While copying the parameter named "{key}", the parameter in the current model '
                              "is read-only (its array is not writeable)")
                continue
            staged.append((target, new))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        for target, new in staged:  # nothing below can fail
            np.copyto(target, new)
        return _IncompatibleKeys(missing, unexpected)

    def _incompatible_keys(self, state_dict: Mapping[Any, Any]) -> Tuple[List[str], List[Any]]:
        """torch's missing and unexpected keys, in its order: module by module (depth first), each module's
        missing parameters, then the keys under its prefix that name neither its parameter nor a submodule."""
        missing: List[str] = []
        unexpected: List[Any] = []
        str_keys = [k for k in state_dict if isinstance(k, str)]
        unexpected.extend(k for k in state_dict if not isinstance(k, str))
        for name, module in self.named_modules(remove_duplicate=False):
            prefix = name + "." if name else ""
            local = [n for n, p in module._parameters.items() if p is not None]
            local_set = set(local)
            missing.extend(prefix + n for n in local if prefix + n not in state_dict)
            for key in str_keys:
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)
                    if (head[0] not in module._modules) if len(head) > 1 else (head[0] not in local_set):
                        unexpected.append(key)
        return missing, unexpected

    # --- mode -------------------------------------------------------------------------------
    def train(self: _M, mode: bool = True) -> _M:
        """Sets training mode (dropout active) on this module and its children; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"training mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self: _M) -> _M:
        """Sets evaluation mode; returns self."""
        return self.train(False)

    # --- repr -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's ``repr`` parentheses (``'128, 256'`` for ``RNN(128, 256)``); subclasses
        override it, as in torch.
        """
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, child in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(child), 2))
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
