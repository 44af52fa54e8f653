"""Containers as in torch.nn: Sequential (with a backward that chains its layers' backwards in reverse),
ModuleList and ModuleDict. Their layers are registered submodules named as torch names them ("0", "1", ...
or the dict's keys), so parameters, state_dict keys, train/eval and repr follow."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Tuple, Union, overload

from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(idx: Any, size: int) -> int:
    i = operator.index(idx)
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of range")
    return i + size if i < 0 else i


def _drop(owner: Module, name: str) -> Module:
    """Unregisters a submodule (Module.__delattr__ keeps submodules fixed; containers may remove them)."""
    module: Module = owner._modules.pop(name)
    owner.__dict__.pop(name, None)
    return module


def _reset(owner: Module, modules: Iterable[Tuple[str, Module]]) -> None:
    for name in list(owner._modules):
        _drop(owner, name)
    for name, m in modules:
        owner.add_module(name, m)


class Sequential(Module):
    """Applies its layers in order, as ``torch.nn.Sequential``: ``Sequential(a, b, c)`` (named "0", "1", "2")
    or ``Sequential(OrderedDict(name=layer, ...))``.

    ``backward(grad)`` calls each layer's ``backward`` in reverse order, feeding each the previous result,
    and returns what the first layer's backward returns (the gradient w.r.t. the input; None when the first
    layer is an ``Embedding``, whose input has no gradient). Every layer must have a ``backward`` that takes
    and returns one array: a recurrent layer (which returns ``(output, h_n)``) belongs outside, with its
    last state or output fed to a Sequential head.

    Indexing gives a layer (``seq[-1]``), slicing a new Sequential of the same layers under their names;
    ``append``, ``extend``, ``insert``, ``len``, iteration and ``del seq[i]`` work as torch's.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    @overload
    def __getitem__(self, idx: slice) -> "Sequential": ...

    @overload
    def __getitem__(self, idx: int) -> Module: ...

    def __getitem__(self, idx: Union[slice, int]) -> Union["Sequential", Module]:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return type(self)(OrderedDict(items[idx]))
        module: Module = items[_index(idx, len(items))][1]
        return module

    def __setitem__(self, idx: int, module: Module) -> None:
        name = list(self._modules)[_index(idx, len(self._modules))]
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module
        self.__dict__[name] = module

    def __delitem__(self, idx: Union[slice, int]) -> None:
        names = list(self._modules)
        for name in (names[idx] if isinstance(idx, slice) else [names[_index(idx, len(names))]]):
            _drop(self, name)
        # torch renumbers the remaining layers "0", "1", ... (keeping their order)
        _reset(self, [(str(i), m) for i, m in enumerate(list(self._modules.values()))])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError("add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")
        return Sequential(*self, *other)

    def append(self, module: Module) -> "Sequential":
        """Adds ``module`` at the end (named ``str(len(self))``); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, sequential: Iterable[Module]) -> "Sequential":
        """Appends every layer of ``sequential``; returns self."""
        for m in sequential:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Inserts ``module`` before ``index`` (layers renumbered, as torch); returns self."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        layers = list(self._modules.values())
        layers.insert(index + n if index < 0 else index, module)
        _reset(self, [(str(i), m) for i, m in enumerate(layers)])
        return self

    def forward(self, input: Any) -> Any:
        """Each layer applied to the previous one's output."""
        for module in self._modules.values():
            input = module(input)
        return input

    def backward(self, grad_output: Any) -> Any:
        """Each layer's ``backward`` in reverse order, starting from ``grad_output`` (the gradient w.r.t. the
        Sequential's output); returns the first layer's result. Every layer's parameters get their gradients.

        Raises:
            TypeError: a layer has no ``backward``.
        """
        grad = grad_output
        for name, module in reversed(list(self._modules.items())):
            backward = getattr(module, "backward", None)
            if backward is None:
                raise TypeError(f"layer ({name}) {type(module).__name__} has no backward()")
            grad = backward(grad)
        return grad


class ModuleList(Module):
    """A list of modules registered as submodules "0", "1", ..., as ``torch.nn.ModuleList``: indexing,
    slicing (a new ModuleList), ``append``, ``extend``, ``insert``, ``len``, iteration, ``+``, ``del``.
    It has no forward: the owner's forward calls its layers."""

    def __init__(self, modules: Optional[Iterable[Module]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @overload
    def __getitem__(self, idx: slice) -> "ModuleList": ...

    @overload
    def __getitem__(self, idx: int) -> Module: ...

    def __getitem__(self, idx: Union[slice, int]) -> Union["ModuleList", Module]:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(values[idx])
        module: Module = values[_index(idx, len(values))]
        return module

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index(idx, len(self))), module)

    def __delitem__(self, idx: Union[slice, int]) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[idx]
        else:
            del values[_index(idx, len(values))]
        _reset(self, [(str(i), m) for i, m in enumerate(values)])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> "ModuleList":
        return ModuleList([*self, *other])

    def append(self, module: Module) -> "ModuleList":
        """Adds ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Appends each module of ``modules``; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend should be called with an iterable, but got " + type(modules).__name__)
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Inserts ``module`` before ``index``."""
        values = list(self._modules.values())
        values.insert(index, module)
        _reset(self, [(str(i), m) for i, m in enumerate(values)])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(): iterate over it in the owner's forward")


class ModuleDict(Module):
    """A dict of modules registered under its keys, as ``torch.nn.ModuleDict`` (insertion order kept):
    ``md[key]``, ``md[key] = m``, ``del md[key]``, ``in``, ``len``, iteration over keys, ``keys``, ``values``,
    ``items``, ``update``, ``pop``, ``clear``."""

    def __init__(self, modules: Optional[Union[Mapping[str, Module], Iterable[Tuple[str, Module]]]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        module: Module = self._modules[key]
        return module

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        _drop(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> List[str]:
        """The keys, in insertion order."""
        return list(self._modules.keys())

    def values(self) -> List[Module]:
        """The modules, in insertion order."""
        return list(self._modules.values())

    def items(self) -> List[Tuple[str, Module]]:
        """(key, module) pairs, in insertion order."""
        return list(self._modules.items())

    def update(self, modules: Union[Mapping[str, Module], Iterable[Tuple[str, Module]]]) -> None:
        """Adds (or replaces) modules from a mapping or an iterable of (key, module) pairs."""
        pairs: Iterable[Any] = modules.items() if isinstance(modules, Mapping) else modules
        for j, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]

    def pop(self, key: str) -> Module:
        """Removes ``key`` and returns its module."""
        return _drop(self, key)

    def clear(self) -> None:
        """Removes every module."""
        _reset(self, [])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(): look its layers up in the owner's forward")

