"""Neural-network layers shaped like ``torch.nn``: Embedding, RNN, Linear, CrossEntropyLoss, Parameter,
``nn.functional``, ``nn.init`` (weight initialisation) and ``nn.utils`` (gradient clipping)."""
from . import functional, init, utils
from .modules import RNN, CrossEntropyLoss, Embedding, Linear, Module
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Embedding", "RNN", "Linear", "CrossEntropyLoss", "functional", "init", "utils"]
