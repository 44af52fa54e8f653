from .linear import Linear
from .loss import CrossEntropyLoss
from .module import Module
from .rnn import GRU, LSTM, RNN, RNNBase
from .rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .sparse import Embedding

__all__ = ["Module", "Embedding", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "Linear", "CrossEntropyLoss"]
