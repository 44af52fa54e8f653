"""The one rule for torch's ``device=`` arguments: swiftrnn computes on the CPU only."""
from __future__ import annotations

import re
from typing import Any

_CPU = re.compile(r"cpu(:(0|[1-9][0-9]*))?")


def is_cpu(device: Any) -> bool:
    """Whether ``device`` names the CPU as torch spells it: ``'cpu'``, ``'cpu:0'`` (torch accepts any
    index for the CPU and ignores it), or a ``torch.device`` of those (its ``str``)."""
    return _CPU.fullmatch(str(device)) is not None
