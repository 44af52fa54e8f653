"""Neural-network layers shaped like ``torch.nn``: Embedding, RNN, Linear, and ``nn.functional``."""
from . import functional
from .modules import RNN, Embedding, Linear, Module

__all__ = ["Module", "Embedding", "RNN", "Linear", "functional"]
