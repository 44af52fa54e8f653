"""optim.AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from typing import Any, Tuple

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, as ``torch.optim.AdamW``: Adam whose weight decay shrinks the parameter directly,
    ``p = p · (1 − lr · weight_decay)``, before the Adam update (instead of adding to the gradient).

    Args: as ``Adam``, with ``weight_decay`` defaulting to 1e-2.
    """

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
