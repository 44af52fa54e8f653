"""Neural-network layers shaped like ``torch.nn``: Embedding, RNN, LSTM, GRU, Linear, CrossEntropyLoss, Parameter,
``nn.functional``, ``nn.init`` (weight initialisation) and ``nn.utils`` (gradient clipping)."""
from . import functional, init, utils
from .modules import (GRU, LSTM, RNN, CrossEntropyLoss, Embedding, GRUCell, Linear, LSTMCell, Module, RNNBase, RNNCell,
                      RNNCellBase)
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Embedding", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "Linear", "CrossEntropyLoss", "functional", "init", "utils"]
