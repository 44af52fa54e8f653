"""Optimizers shaped like ``torch.optim``: SGD, Adam, AdamW, updating ``nn.Parameter`` objects in place, and
``optim.lr_scheduler``."""
from . import lr_scheduler
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
