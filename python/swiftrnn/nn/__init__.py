"""Neural-network layers shaped like ``torch.nn``: Embedding, RNN, LSTM, GRU, Linear, containers (Sequential,
ModuleList, ModuleDict), Dropout, activations, LayerNorm, losses, Parameter, ``nn.functional``, ``nn.init``
(weight initialisation) and ``nn.utils`` (gradient clipping)."""
from . import functional, init, utils
from .modules import (GELU, GRU, LSTM, RNN, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Flatten,
                      GRUCell, HuberLoss, Identity, L1Loss, LayerNorm, LeakyReLU, Linear, LogSoftmax, LSTMCell, Module,
                      ModuleDict, ModuleList, MSELoss, NLLLoss, ReLU, RNNBase, RNNCell, RNNCellBase, Sequential, Sigmoid,
                      SmoothL1Loss, Softmax, Tanh)
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Embedding", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "Linear", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten", "Dropout", "ReLU", "LeakyReLU",
           "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax", "LayerNorm", "CrossEntropyLoss", "NLLLoss", "MSELoss",
           "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "functional", "init", "utils"]
