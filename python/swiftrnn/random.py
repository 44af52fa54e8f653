"""PyTorch's CPU random stream, without PyTorch.

After ``manual_seed(s)``, ``rand``, ``randn``, ``randint`` and the parameter initialisation of
``nn.Embedding``, ``nn.RNN`` and ``nn.Linear`` give the numbers ``torch`` gives after
``torch.manual_seed(s)`` (bit for bit against torch 2.x's x86-64 wheels on AVX2/AVX-512 CPUs), and
``get_rng_state()`` / ``set_rng_state()`` use torch's byte layout, so states move both ways::

    >>> import swiftrnn
    >>> _ = swiftrnn.manual_seed(0)
    >>> swiftrnn.rand(3)
    array([0.4962566 , 0.7682218 , 0.08847743], dtype=float32)

The generator is mt19937 with torch's transformations, computed by the Swift core. Each generator's
state lives in a NumPy array owned by its :class:`Generator`. Calls into the core hold the GIL, so a
generator (the default one included) can be shared between threads: each call's draws are contiguous.

Like torch's, the default generator starts from a nondeterministic seed; call ``manual_seed`` for
reproducible runs. ``Generator()`` starts from torch's ``default_rng_seed_val`` (67280421310721).
"""
from __future__ import annotations

import operator
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _native
from ._device import is_cpu

__all__ = ["Generator", "default_generator", "manual_seed", "initial_seed", "seed", "get_rng_state",
           "set_rng_state", "rand", "randn", "randint", "zeros", "ones", "tensor"]

#: Seed of a new ``torch.Generator()`` (``default_rng_seed_val``).
DEFAULT_SEED = 67280421310721

_STATE_BYTES = _native.generator_size()
_TORCH_STATE_BYTES = 5056


def _normalise_seed(seed: Any) -> int:
    """``int(seed)`` taken as torch takes it: [-2**63, 2**64), negative values as two's complement."""
    if isinstance(seed, (str, bytes)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    value = int(seed)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"seed must be within [-2**63, 2**64), got {value}")
    return value & (2**64 - 1)


class Generator:
    """A random generator reproducing ``torch.Generator()`` (CPU): seed it, pass it as ``generator=``.

    >>> g = Generator().manual_seed(42)
    >>> randint(0, 10, (4,), generator=g)
    array([2, 7, 6, 4])
    """

    __slots__ = ("_state",)

    def __init__(self, device: Any = "cpu") -> None:
        if not is_cpu(device):
            raise ValueError(f"swiftrnn generators are CPU generators; got device={device!r}")
        self._state = np.zeros(_STATE_BYTES // 8, dtype=np.uint64)
        _native.generator_seed(self._state, DEFAULT_SEED)

    @property
    def device(self) -> str:
        """The generator's device: always ``'cpu'``."""
        return "cpu"

    def manual_seed(self, seed: int) -> "Generator":
        """Seeds the generator (and drops any cached normal sample); returns the generator."""
        _native.generator_seed(self._state, _normalise_seed(seed))
        return self

    def initial_seed(self) -> int:
        """The seed last set, as an int in [0, 2**64)."""
        return _native.generator_initial_seed(self._state)

    def seed(self) -> int:
        """Seeds from a nondeterministic 64-bit number (os.urandom, as torch reads /dev/urandom); returns it."""
        value = int.from_bytes(os.urandom(8), "little")
        _native.generator_seed(self._state, value)
        return value

    def get_state(self) -> np.ndarray:
        """The state as a uint8 array of torch's ``get_state()`` layout (5056 bytes)."""
        return _native.generator_get_state(self._state)

    def set_state(self, new_state: Any) -> "Generator":
        """Loads a state from ``get_state()`` here or in torch (a uint8 array, bytes, or a torch ByteTensor)."""
        _native.generator_set_state(self._state, _state_bytes(new_state))
        return self

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_generator_from_state, (bytes(self.get_state()),))

    def __repr__(self) -> str:
        return f"<swiftrnn.random.Generator initial_seed={self.initial_seed()}>"


def _generator_from_state(state: bytes) -> Generator:
    return Generator().set_state(state)


def _state_bytes(new_state: Any) -> np.ndarray:
    if isinstance(new_state, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(bytes(new_state), dtype=np.uint8)
    else:
        arr = np.asarray(new_state)
        if arr.dtype != np.uint8:
            raise TypeError(f"RNG state must be a uint8 array (torch.ByteTensor), got dtype {arr.dtype}")
    if arr.size != _TORCH_STATE_BYTES:
        raise ValueError(f"RNG state must have {_TORCH_STATE_BYTES} bytes (torch's CPU generator state), "
                         f"got {arr.size}")
    return np.ascontiguousarray(arr.reshape(-1))


#: The process-wide generator used when no ``generator=`` is given (torch's ``default_generator``).
default_generator = Generator()
default_generator.seed()


def _gen(generator: Optional[Generator]) -> np.ndarray:
    if generator is None:
        return default_generator._state
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a swiftrnn.random.Generator, got {type(generator).__name__}")
    return generator._state


def manual_seed(seed: int) -> Generator:
    """Seeds the default generator, as ``torch.manual_seed``; returns it."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    """The default generator's seed, as ``torch.initial_seed``."""
    return default_generator.initial_seed()


def seed() -> int:
    """Seeds the default generator nondeterministically and returns the seed, as ``torch.seed``."""
    return default_generator.seed()


def get_rng_state() -> np.ndarray:
    """The default generator's state (uint8, torch's layout: ``torch.set_rng_state(torch.from_numpy(s))`` works)."""
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    """Loads a state from ``get_rng_state()`` or ``torch.get_rng_state()`` into the default generator."""
    default_generator.set_state(new_state)


# ---------------------------------------------------------------------------------------------------
# Tensors


def _parse_size(size: Tuple[Any, ...], size_kw: Any, fname: str) -> Tuple[int, ...]:
    # size_kw: the size= keyword, if given.
    """Sizes as torch takes them: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f(size=(2, 3))``, ``f(())``."""
    if size_kw is not None:
        if size:
            raise TypeError(f"{fname}() got sizes both positionally and as size=")
        size = (size_kw,)
    if not size:
        raise TypeError(f"{fname}() missing its size, e.g. {fname}(2, 3) or {fname}((2, 3))")
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        try:
            size = tuple(size[0])
        except TypeError:
            raise TypeError(f"{fname}(): size must be ints or one sequence of ints, "
                            f"got {type(size[0]).__name__}") from None
    dims = []
    for d in size:
        if isinstance(d, bool):
            raise TypeError(f"{fname}(): size must be ints, got bool")
        try:
            dims.append(operator.index(d))
        except TypeError:
            raise TypeError(f"{fname}(): size must be ints, got {type(d).__name__} {d!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{fname}(): negative dimension in size {tuple(dims)}")
    return tuple(dims)


def _check_dtype(dtype: Any, allowed: Any, fname: str) -> None:
    if dtype is not None and np.dtype(_numpy_dtype(dtype)) != np.dtype(allowed):
        raise TypeError(f"{fname}() returns {np.dtype(allowed)} arrays; got dtype={dtype!r}")


def _numpy_dtype(dtype: Any) -> Any:
    # Accept torch dtypes by name (torch.float32 -> "float32") without importing torch.
    name = str(dtype)
    return name[len("torch."):] if name.startswith("torch.") else dtype


def rand(*size: Any, generator: Optional[Generator] = None, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """Uniform [0, 1) float32 array, as ``torch.rand``: ``rand(2, 3)`` or ``rand((2, 3))``."""
    shape = _parse_size(size, kwargs.pop("size", None), "rand")
    _no_extra(kwargs, "rand")
    _check_dtype(dtype, np.float32, "rand")
    out = np.empty(shape, dtype=np.float32)
    _native.fill_uniform(_gen(generator), out, 0.0, 1.0)
    return out


def randn(*size: Any, generator: Optional[Generator] = None, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """Standard normal float32 array, as ``torch.randn``: ``randn(5, 32, 128)`` or ``randn((5, 32, 128))``."""
    shape = _parse_size(size, kwargs.pop("size", None), "randn")
    _no_extra(kwargs, "randn")
    _check_dtype(dtype, np.float32, "randn")
    out = np.empty(shape, dtype=np.float32)
    _native.fill_normal(_gen(generator), out, 0.0, 1.0)
    return out


def randint(*args: Any, generator: Optional[Generator] = None, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """int64 array of values in [low, high), as ``torch.randint``: ``randint(high, size)`` or
    ``randint(low, high, size)`` (size a tuple, e.g. ``(3,)``)."""
    low = kwargs.pop("low", None)
    high = kwargs.pop("high", None)
    size = kwargs.pop("size", None)
    _no_extra(kwargs, "randint")
    positional = list(args)
    if size is None and positional:
        size = positional.pop()
    if high is None and positional:
        high = positional.pop()
    if low is None and positional:
        low = positional.pop()
    if positional or high is None or size is None:
        raise TypeError("randint() expects randint(high, size) or randint(low, high, size), e.g. randint(0, 10, (3,))")
    low = 0 if low is None else low
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"randint(): {name} must be an int, got {type(v).__name__}")
    low, high = int(low), int(high)
    for name, v in (("low", low), ("high", high)):
        if not -(2**63) <= v <= 2**63 - 1:
            raise ValueError(f"randint(): {name}={v} does not fit in int64")
    _check_dtype(dtype, np.int64, "randint")
    shape = _parse_size((size,), None, "randint")
    out = np.empty(shape, dtype=np.int64)
    _native.fill_randint(_gen(generator), out, low, high)
    return out


def zeros(*size: Any, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """float32 zeros, sizes as ``torch.zeros``."""
    shape = _parse_size(size, kwargs.pop("size", None), "zeros")
    _no_extra(kwargs, "zeros")
    _check_dtype(dtype, np.float32, "zeros")
    return np.zeros(shape, dtype=np.float32)


def ones(*size: Any, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """float32 ones, sizes as ``torch.ones``."""
    shape = _parse_size(size, kwargs.pop("size", None), "ones")
    _no_extra(kwargs, "ones")
    _check_dtype(dtype, np.float32, "ones")
    return np.ones(shape, dtype=np.float32)


_INFERRED = {"b": np.bool_, "i": np.int64, "u": np.int64, "f": np.float32, "c": np.complex64}


def tensor(data: Any, dtype: Any = None, **kwargs: Any) -> np.ndarray:
    """A new NumPy array holding a copy of ``data``, with ``torch.tensor``'s dtype rules, so that
    ``embedding(swiftrnn.tensor([i]))`` reads as the tutorial's ``embedding(torch.tensor([i]))``.

    Python numbers and nested lists of them give int64 (ints), float32 (floats: torch's default dtype), bool
    or complex64; an array (NumPy, or anything with ``__array__``, e.g. a CPU torch tensor) keeps its dtype;
    ``dtype=`` (a NumPy dtype, its name, or a torch dtype) chooses one. ``device='cpu'`` and
    ``requires_grad=False`` are accepted, as in torch.
    """
    if kwargs.pop("pin_memory", False):
        raise ValueError("tensor(): pin_memory=True is not supported (NumPy arrays)")
    _no_extra(kwargs, "tensor")
    if dtype is not None:
        return np.array(data, dtype=_numpy_dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__array__"):
        return np.array(data, copy=True)
    arr = np.array(data)
    target = _INFERRED.get(arr.dtype.kind)
    if target is None:
        raise TypeError(f"tensor(): expected numbers or nested lists of numbers, got {type(data).__name__} "
                        f"(NumPy reads it as {arr.dtype})")
    return arr.astype(target, copy=False)


def _no_extra(kwargs: Dict[str, Any], fname: str) -> None:
    """Accepts torch's device="cpu" and requires_grad=False; anything else is a TypeError."""
    device = kwargs.pop("device", None)
    if device is not None and not is_cpu(device):
        raise ValueError(f"{fname}(): swiftrnn arrays live on the CPU; got device={device!r}")
    if kwargs.pop("requires_grad", False):
        raise ValueError(f"{fname}(): NumPy arrays do not track gradients; requires_grad=True is not supported")
    if kwargs:
        raise TypeError(f"{fname}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")


# ---------------------------------------------------------------------------------------------------
# In-place fills and module initialisation, for swiftrnn.nn (arrays: C-contiguous float32, writable)


def _uniform_(arr: np.ndarray, a: float = 0.0, b: float = 1.0, generator: Optional[Generator] = None) -> np.ndarray:
    """``Tensor.uniform_(a, b)`` in place."""
    _native.fill_uniform(_gen(generator), arr, a, b)
    return arr


def _normal_(arr: np.ndarray, mean: float = 0.0, std: float = 1.0,
             generator: Optional[Generator] = None) -> np.ndarray:
    """``Tensor.normal_(mean, std)`` in place (the array counts as contiguous: torch's >= 16 path applies)."""
    _native.fill_normal(_gen(generator), arr, mean, std)
    return arr


def _bernoulli_(arr: np.ndarray, p: float, generator: Optional[Generator] = None) -> np.ndarray:
    """``Tensor.bernoulli_(p)`` in place: 1.0 with probability p, else 0.0."""
    _native.fill_bernoulli(_gen(generator), arr, p)
    return arr


def _dropout_mask(shape: Sequence[int], p: float, generator: Optional[Generator] = None) -> np.ndarray:
    """The mask ``F.dropout(x, p, training=True)`` multiplies x by (0 or 1/(1-p)), drawn as torch draws it.

    Several masks drawn one after another (e.g. one per RNN layer) equal one mask of their stacked shape.
    """
    out = np.empty(tuple(shape), dtype=np.float32)
    _native.fill_dropout_mask(_gen(generator), out, p)
    return out


def _init_linear_(weight: np.ndarray, bias: Optional[np.ndarray], generator: Optional[Generator] = None) -> None:
    """``nn.Linear.reset_parameters``: kaiming_uniform_(weight, a=sqrt(5)), then bias uniform(+-1/sqrt(in))."""
    _native.init_linear(_gen(generator), weight, bias)


def _init_rnn_(params: Sequence[np.ndarray], hidden_size: int, generator: Optional[Generator] = None) -> None:
    """``nn.RNN.reset_parameters``: each parameter (state_dict order) uniform(+-1/sqrt(hidden_size))."""
    _native.init_rnn(_gen(generator), list(params), int(hidden_size))


def _init_embedding_(weight: np.ndarray, padding_idx: Optional[int], generator: Optional[Generator] = None) -> None:
    """``nn.Embedding.reset_parameters``: normal_(weight), then row padding_idx zeroed (negative counts from the end)."""
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    _native.init_embedding(_gen(generator), weight, padding_idx)
