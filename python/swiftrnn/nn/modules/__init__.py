from .linear import Linear
from .loss import CrossEntropyLoss
from .module import Module
from .rnn import RNN
from .sparse import Embedding

__all__ = ["Module", "Embedding", "RNN", "Linear", "CrossEntropyLoss"]
