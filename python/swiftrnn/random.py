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

import os
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _native
from ._creation import _check_dtype, _no_extra, _parse_size
from ._device import is_cpu

__all__ = ["Generator", "default_generator", "manual_seed", "initial_seed", "seed", "get_rng_state",
           "set_rng_state", "rand", "randn", "randint"]

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
# Random arrays (sizes, dtypes and keywords as torch's factories: ._creation)


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


def _random_int64(generator: Optional[Generator] = None) -> int:
    """``torch.empty((), dtype=torch.int64).random_(generator=g).item()``: one 64-bit draw modulo 2**63.

    Drawn as randint(-2**63, 2**63 - 1), which takes the same single 64-bit draw ``v`` and gives
    ``v mod (2**64 - 1) - 2**63``; the low 63 bits are then ``v mod 2**63`` (except for v = 2**64 - 1, once in
    2**64 draws)."""
    out = np.empty((1,), dtype=np.int64)
    _native.fill_randint(_gen(generator), out, -(2**63), 2**63 - 1)
    return int(out[0]) & (2**63 - 1)


def _randperm(n: int, generator: Optional[Generator] = None) -> np.ndarray:
    """``torch.randperm(n, generator=g)`` on the CPU (n < 2**32 / 20): torch's Fisher-Yates swaps, each index
    ``random() % (n - i)``, the 32-bit draw that randint(0, n - i) makes."""
    state = _gen(generator)
    perm = np.arange(n, dtype=np.int64)
    z = np.empty((1,), dtype=np.int64)
    for i in range(n - 1):
        _native.fill_randint(state, z, 0, n - i)
        j = i + int(z[0])
        perm[i], perm[j] = perm[j], perm[i]
    return perm
