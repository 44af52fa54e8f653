"""swiftrnn: recurrent networks with a fast Swift core, used like ``torch.nn`` and returning NumPy arrays.

    >>> from swiftrnn import nn
    >>> rnn = nn.RNN(128, 256)
"""
from . import _native
from ._version import __version__
from . import random
from .random import Generator, get_rng_state, initial_seed, manual_seed, rand, randint, randn, seed, set_rng_state
from ._creation import ones, tensor, zeros
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import nn, optim, utils
from ._summary import summary
from . import text, models


def set_num_threads(n: int) -> None:
    """Sets how many threads swiftrnn's kernels may use (1 to 64; ValueError otherwise). Process-wide."""
    _native.set_num_threads(n)


def get_num_threads() -> int:
    """How many threads swiftrnn's kernels may use."""
    return _native.get_num_threads()


__all__ = ["__version__", "nn", "optim", "utils", "random", "text", "models", "Generator", "manual_seed", "initial_seed", "seed", "get_rng_state",
           "set_rng_state", "rand", "randn", "randint", "zeros", "ones", "tensor", "set_num_threads", "get_num_threads", "summary",
           "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]
