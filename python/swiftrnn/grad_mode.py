"""Gradient mode, shaped like ``torch.no_grad`` / ``torch.enable_grad`` / ``torch.set_grad_enabled``.

swiftrnn has no autograd graph: a module's forward in training mode saves what its ``backward`` needs. With
gradients disabled (``with swiftrnn.no_grad():``) a forward saves nothing, as torch records no graph then:
inference in training mode costs no copies, and a ``backward`` afterwards raises ``RuntimeError`` saying
why. Dropout still follows the module's training mode, as in torch. The mode is per thread, as torch's.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]

_F = TypeVar("_F", bound=Callable[..., Any])

_state = threading.local()  # .disabled: True while gradients are off in this thread (absent: on)


def is_grad_enabled() -> bool:
    """Whether forwards in this thread save what ``backward`` needs (True unless inside ``no_grad``)."""
    return not getattr(_state, "disabled", False)


def _set(enabled: bool) -> None:
    _state.disabled = not enabled


class _GradMode:
    """Sets the mode for a ``with`` block (or for every call of a decorated function), then restores the
    previous one, also when the block raises."""

    _enabled = True

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        _set(self._enabled)

    def __exit__(self, *exc: Any) -> None:
        _set(self._previous)

    def _fresh(self) -> "_GradMode":
        """A new context manager with the same setting (each decorated call gets its own)."""
        return type(self)()

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]


class _BareDecorator(_GradMode):
    """Also usable as a bare decorator (``@no_grad`` as well as ``@no_grad()``), as torch's."""

    def __new__(cls, orig_func: Any = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments (or a function to decorate), got {orig_func!r}")
        return super().__new__(cls)(orig_func)

    def __init__(self, orig_func: Any = None) -> None:
        pass


class no_grad(_BareDecorator):
    """Context manager and decorator: forwards inside save nothing for ``backward``, as under
    ``torch.no_grad()``.

        >>> with swiftrnn.no_grad():
        ...     output, hn = rnn(x)
    """

    _enabled = False


class enable_grad(_BareDecorator):
    """Context manager and decorator: forwards inside save what ``backward`` needs (in training mode), even
    within ``no_grad``; as ``torch.enable_grad()``."""

    _enabled = True


class inference_mode(_GradMode):
    """``torch.inference_mode(mode=True)``: here the same as ``no_grad`` (``mode=False``: no change)."""

    def __init__(self, mode: bool = True) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode(mode) takes a bool, got {type(mode).__name__}")
        self._mode = mode

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        if self._mode:
            _set(False)

    def _fresh(self) -> "_GradMode":
        return inference_mode(self._mode)


class set_grad_enabled(_GradMode):
    """``torch.set_grad_enabled(mode)``: as a function call it sets the mode of this thread at once; as a
    context manager (``with set_grad_enabled(False):``) it restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(mode) takes a bool, got {type(mode).__name__}")
        self._previous = is_grad_enabled()
        self._enabled = mode
        _set(mode)

    def __enter__(self) -> None:
        pass  # already set by the constructor; __exit__ restores what was before it

    def _fresh(self) -> "_GradMode":
        return set_grad_enabled(self._enabled)

    def __call__(self, fn: _F) -> _F:
        _set(self._previous)  # used as a decorator: the mode applies to the calls only
        return super().__call__(fn)
