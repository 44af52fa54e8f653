"""swiftrnn.summary: a model's layers as a table with parameter counts (torchinfo-like, without a forward)."""
from __future__ import annotations

from typing import List, Tuple

from .nn.modules.module import Module

__all__ = ["summary"]


def summary(model: Module) -> str:
    """A table of ``model``'s layers (every submodule, depth first, a shared one listed once) with their
    parameter counts, including their submodules', then the totals (a parameter shared by several layers
    counts once) and the parameters' float32 memory. ``print(swiftrnn.summary(model))``.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary() takes an nn.Module, got {type(model).__name__}")
    rows: List[Tuple[str, str, str]] = []
    for name, module in model.named_modules():
        depth = name.count(".") + 1 if name else 0
        label = "  " * depth + (name.rsplit(".", 1)[-1] if name else "(model)")
        count = sum(p.size for p in module.parameters())
        rows.append((label, type(module).__name__, f"{count:,}"))
    header = ("Layer", "Type", "Params")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]

    def line(r: Tuple[str, str, str]) -> str:
        return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}".rstrip()

    params = list(model.parameters())
    total = sum(p.size for p in params)
    trainable = sum(p.size for p in params if p.requires_grad)
    rule = "-" * (sum(widths) + 4)
    return "\n".join([line(header), rule, *map(line, rows), rule,
                      f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                      f"Non-trainable params: {total - trainable:,}",
                      f"Parameter memory: {total * 4 / 1024:,.1f} KiB (float32)"])
