"""ONNX in and out: run a recurrent ONNX model with swiftrnn, and export swiftrnn modules to ONNX.

    >>> import swiftrnn.onnx
    >>> model = swiftrnn.onnx.load("model.onnx")        # an RNN/LSTM/GRU model exported by torch or tf2onnx
    >>> y, h = model(x, h0)                              # NumPy in, NumPy out, in the graph's output order
    >>> swiftrnn.onnx.export(rnn, "rnn.onnx", (x,))      # a swiftrnn module -> an ONNX file (opset 17)

Both need the ``onnx`` package (``pip install 'swiftrnn[onnx]'``); importing this module does not.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["load", "export", "export_model_dir", "OnnxModel", "UnsupportedModelError", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'swiftrnn[onnx]'"


class UnsupportedModelError(ValueError):
    """An ONNX model that uses operators or attributes swiftrnn cannot run; the message lists every one."""


def _require_onnx() -> Any:
    """The ``onnx`` package (typed as Any: it may be absent where the type checker runs), or an ImportError
    that says how to install it."""
    try:
        return importlib.import_module("onnx")
    except ImportError as e:
        raise ImportError(f"swiftrnn.onnx needs the onnx package: {INSTALL_HINT}") from e


from ._load import OnnxModel, load  # noqa: E402  (after the helpers it uses)
from ._export import export, export_model_dir  # noqa: E402
