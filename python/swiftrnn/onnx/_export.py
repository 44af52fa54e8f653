"""``swiftrnn.onnx.export``: swiftrnn modules as an ONNX graph (opset 17) of standard operators.

Embedding -> Gather; Linear -> MatMul (+ Add); RNN/LSTM/GRU -> one ONNX RNN/LSTM/GRU operator per layer, the
weights reordered from torch's gate order to ONNX's; softmax/log_softmax -> Softmax/LogSoftmax. Sequence length
and batch are dynamic by default.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import nn
from ..grad_mode import no_grad
from . import _require_onnx

__all__ = ["export", "export_model_dir", "OPSET"]

OPSET = 17

# torch's gate blocks -> ONNX's: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h.
_TO_ONNX_GATES = {"RNN_TANH": [0], "RNN_RELU": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}
_OP = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}

_Axes = Union[Mapping[int, str], Sequence[int]]


class _Graph:
    """Nodes and initializers being collected, with fresh value names."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: List[Any] = []
        self.initializers: List[Any] = []
        self.count = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def ints(self, values: Sequence[int], hint: str = "ints") -> str:
        return self.const(np.array(values, dtype=np.int64), hint)

    def add(self, op: str, inputs: Sequence[str], outputs: int = 1, name_hint: Optional[str] = None,
            out_names: Optional[Sequence[str]] = None, **attrs: Any) -> List[str]:
        outs = list(out_names) if out_names is not None else [self.fresh(name_hint or op) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs, name=self.fresh(op), **attrs))
        return outs


# --- the modules ---------------------------------------------------------------------------------

def _embedding(g: _Graph, module: nn.Embedding, ids: str) -> str:
    if module.max_norm is not None:
        raise ValueError("an Embedding with max_norm renormalises its weight in place on every lookup; "
                         "ONNX has no such operator: export a copy without max_norm")
    return g.add("Gather", [g.const(np.asarray(module.weight), "embedding_weight"), ids])[0]


def _linear(g: _Graph, module: nn.Linear, x: str) -> str:
    y = g.add("MatMul", [x, g.const(np.asarray(module.weight).T, "linear_weight_t")])[0]
    if module.bias is not None:
        y = g.add("Add", [y, g.const(np.asarray(module.bias), "linear_bias")])[0]
    return y


def _recurrent(g: _Graph, module: nn.RNNBase, x: str, h0: Optional[str], c0: Optional[str],
               unbatched: bool) -> Tuple[str, str, Optional[str]]:
    """Returns (output, hn, cn) value names, shaped as the module's."""
    if module.proj_size:
        raise ValueError("an LSTM with proj_size has no ONNX operator (ONNX's LSTM has no projection)")
    mode, H = module.mode, module.hidden_size
    D = 2 if module.bidirectional else 1
    rows = np.concatenate([np.arange(b * H, (b + 1) * H) for b in _TO_ONNX_GATES[mode]])
    attrs: Dict[str, Any] = {"hidden_size": H}
    if D == 2:
        attrs["direction"] = "bidirectional"
    if mode.startswith("RNN"):
        attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * D
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if unbatched:  # (L, H_in) -> (L, 1, H_in); states (S, H) -> (S, 1, H)
        axis1 = g.ints([1])
        x = g.add("Unsqueeze", [x, axis1])[0]
        h0 = None if h0 is None else g.add("Unsqueeze", [h0, axis1])[0]
        c0 = None if c0 is None else g.add("Unsqueeze", [c0, axis1])[0]
    elif module.batch_first:
        x = g.add("Transpose", [x], perm=[1, 0, 2])[0]
    hns: List[str] = []
    cns: List[str] = []
    groups = module.all_weights
    for layer in range(module.num_layers):
        params = groups[layer * D:(layer + 1) * D]
        W = np.stack([np.asarray(p[0])[rows] for p in params])
        R = np.stack([np.asarray(p[1])[rows] for p in params])
        inputs = [x, g.const(W, f"{mode.lower()}_W_l{layer}"), g.const(R, f"{mode.lower()}_R_l{layer}")]
        inputs.append(g.const(np.stack([np.concatenate([np.asarray(p[2])[rows], np.asarray(p[3])[rows]])
                                        for p in params]), f"{mode.lower()}_B_l{layer}") if module.bias else "")
        inputs.append("")  # sequence_lens: all the full length
        inputs.append(_layer_state(g, h0, layer, D))
        if mode == "LSTM":
            inputs.append(_layer_state(g, c0, layer, D))
        while not inputs[-1]:
            inputs.pop()
        outs = g.add(_OP[mode], inputs, outputs=3 if mode == "LSTM" else 2, **attrs)
        hns.append(outs[1])
        if mode == "LSTM":
            cns.append(outs[2])
        # Y (T, D, N, H) -> (T, N, D * H): the next layer's input.
        y = g.add("Transpose", [outs[0]], perm=[0, 2, 1, 3])[0]
        x = g.add("Reshape", [y, g.ints([0, 0, -1])])[0]
    hn = hns[0] if len(hns) == 1 else g.add("Concat", hns, axis=0)[0]
    cn = None if not cns else cns[0] if len(cns) == 1 else g.add("Concat", cns, axis=0)[0]
    if unbatched:
        axis1 = g.ints([1])
        x, hn = g.add("Squeeze", [x, axis1])[0], g.add("Squeeze", [hn, axis1])[0]
        cn = None if cn is None else g.add("Squeeze", [cn, axis1])[0]
    elif module.batch_first:
        x = g.add("Transpose", [x], perm=[1, 0, 2])[0]
    return x, hn, cn


def _layer_state(g: _Graph, state: Optional[str], layer: int, D: int) -> str:
    """One layer's rows of h0/c0 (D, N, H), or "" (zeros) when the model takes no state."""
    if state is None:
        return ""
    return g.add("Slice", [state, g.ints([layer * D]), g.ints([(layer + 1) * D]), g.ints([0])])[0]


def _softmax_dim(step: Any) -> Optional[Tuple[str, int]]:
    """(ONNX op, axis) for nn.functional.softmax/log_softmax, bare or as a functools.partial with dim."""
    fn, dim = step, -1
    if isinstance(step, functools.partial):
        fn, dim = step.func, step.keywords.get("dim", step.args[0] if step.args else -1)
    if fn is nn.functional.softmax:
        return "Softmax", int(dim)
    if fn is nn.functional.log_softmax:
        return "LogSoftmax", int(dim)
    return None


# --- the entry points ----------------------------------------------------------------------------

def export(module_or_model: Any, path: Union[str, "os.PathLike[str]"], example_inputs: Any,
           dynamic_axes: Optional[Mapping[str, _Axes]] = None, input_names: Optional[Sequence[str]] = None,
           output_names: Optional[Sequence[str]] = None) -> None:
    """Writes ``module_or_model`` to ``path`` as an ONNX model (opset 17), checked by ``onnx.checker``.

    Args:
        module_or_model: an ``nn.Embedding``, ``nn.Linear``, ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (any options but
            an LSTM's ``proj_size``), an ``RNNLanguageModel``, or a list/tuple of those and
            ``nn.functional.softmax``/``log_softmax`` (over the last dimension, or ``functools.partial(...,
            dim=k)``) applied in order, as a ``Sequential`` (a recurrent layer passes on its output only).
        path: the file to write.
        example_inputs: one array or a tuple of them, as the module is called: they fix the ranks and the
            dtypes (and the sizes of the dimensions that are not dynamic). A recurrent module's optional h0
            (and an LSTM's c0: a tuple ``(x, (h0, c0))``) become graph inputs when given.
        dynamic_axes: torch's form, ``{name: {axis: label}}`` or ``{name: [axes]}`` per input and output name;
            by default the batch and sequence dimensions of every input and output are dynamic.
        input_names, output_names: the graph's names (defaults: ``input``, ``h0``, ``c0`` / ``output``, ``hn``,
            ``cn``; ``ids``, ``h0`` / ``logits``, ``hn`` for an RNNLanguageModel).

    Raises:
        ImportError: ``onnx`` is absent. TypeError: something that cannot be exported. ValueError: options
        with no ONNX operator (LSTM proj_size, Embedding max_norm).
    """
    onnx = _require_onnx()
    from ..models import RNNLanguageModel

    args = list(example_inputs) if isinstance(example_inputs, tuple) else [example_inputs]
    if args and isinstance(module_or_model, (nn.LSTM,)) and len(args) == 2 and isinstance(args[1], tuple):
        args = [args[0], *args[1]]
    arrays = [np.asarray(a) for a in args]
    g = _Graph(onnx)
    steps: List[Any] = list(module_or_model) if isinstance(module_or_model, (list, tuple)) else [module_or_model]
    if not steps:
        raise TypeError("nothing to export: an empty list of modules")
    first = steps[0]
    is_lm = isinstance(first, RNNLanguageModel) and len(steps) == 1
    recurrent_alone = isinstance(first, nn.RNNBase) and len(steps) == 1
    if is_lm:
        default_in, default_out = ["ids", "h0"], ["logits", "hn"]
    elif recurrent_alone:
        default_in = ["input", "h0", "c0"] if isinstance(first, nn.LSTM) else ["input", "h0"]
        default_out = ["output", "hn", "cn"] if isinstance(first, nn.LSTM) else ["output", "hn"]
    else:
        default_in, default_out = ["input"], ["output"]
    max_inputs = len(default_in)
    if not 1 <= len(arrays) <= max_inputs:
        raise TypeError(f"example_inputs: expected 1 to {max_inputs} arrays for {type(first).__name__}, "
                        f"got {len(arrays)}")
    in_names = list(input_names) if input_names is not None else default_in[:len(arrays)]
    if len(in_names) != len(arrays):
        raise ValueError(f"input_names has {len(in_names)} names for {len(arrays)} inputs")

    graph_inputs = list(in_names)
    x = graph_inputs[0]
    results: List[str]
    with no_grad():
        if is_lm:
            lm: RNNLanguageModel = first
            e = _embedding(g, lm.embedding, x)
            out, hn, _ = _recurrent(g, lm.rnn, e, graph_inputs[1] if len(arrays) > 1 else None, None,
                                    unbatched=arrays[0].ndim == 1)
            results = [_linear(g, lm.fc, out), hn]
            expected = list(lm(*arrays))
        elif recurrent_alone:
            unbatched = arrays[0].ndim == 2
            out, hn, cn = _recurrent(g, first, x, graph_inputs[1] if len(arrays) > 1 else None,
                                     graph_inputs[2] if len(arrays) > 2 else None, unbatched)
            results = [out, hn] + ([cn] if cn is not None else [])
            hx = None if len(arrays) == 1 else arrays[1] if len(arrays) == 2 else (arrays[1], arrays[2])
            got = first(arrays[0], hx)
            expected = [got[0], got[1][0], got[1][1]] if isinstance(first, nn.LSTM) else list(got)
        else:
            value = arrays[0]
            for step in steps:
                soft = _softmax_dim(step)
                if isinstance(step, nn.Embedding):
                    x, value = _embedding(g, step, x), step(value)
                elif isinstance(step, nn.Linear):
                    x, value = _linear(g, step, x), step(value)
                elif isinstance(step, nn.RNNBase):
                    unbatched = np.ndim(value) == 2
                    x = _recurrent(g, step, x, None, None, unbatched)[0]
                    value = step(value)[0]
                elif soft is not None:
                    x = g.add(soft[0], [x], axis=soft[1])[0]
                    value = step(value) if isinstance(step, functools.partial) else step(value, dim=-1)
                else:
                    raise TypeError(f"cannot export {type(step).__name__}: Embedding, Linear, RNN, LSTM, GRU, "
                                    "RNNLanguageModel, nn.functional.softmax and log_softmax can be exported")
            results, expected = [x], [value]
    out_names = list(output_names) if output_names is not None else default_out[:len(results)]
    if len(out_names) != len(results):
        raise ValueError(f"output_names has {len(out_names)} names for {len(results)} outputs")
    for produced, name in zip(results, out_names):  # rename the last values to the graph's output names
        g.add("Identity", [produced], out_names=[name])

    batch_first = is_lm or any(getattr(s, "batch_first", False) for s in steps)
    infos_in = [_value_info(onnx, name, a, _axes_for(name, a, dynamic_axes, batch_first, state=i > 0))
                for i, (name, a) in enumerate(zip(in_names, arrays))]
    infos_out = [_value_info(onnx, name, v, _axes_for(name, v, dynamic_axes, batch_first, state=i > 0))
                 for i, (name, v) in enumerate(zip(out_names, map(np.asarray, expected)))]
    graph = onnx.helper.make_graph(g.nodes, "swiftrnn", infos_in, infos_out, g.initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="swiftrnn")
    model.ir_version = min(model.ir_version, 8)  # opset 17's IR: readable by older runtimes too
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.fspath(path))


def _axes_for(name: str, value: np.ndarray, dynamic_axes: Optional[Mapping[str, _Axes]], batch_first: bool,
              state: bool) -> Dict[int, str]:
    if dynamic_axes is not None:
        axes = dynamic_axes.get(name, {})
        return dict(axes) if isinstance(axes, Mapping) else {int(a): f"{name}_dim{a}" for a in axes}
    if state:  # h0/hn/c0/cn: (S, N, H), or unbatched (S, H): the batch is dynamic
        return {1: "batch"} if value.ndim == 3 else {}
    # Data: every dimension but the features (the last; token ids have none) is batch or sequence.
    labels = ["batch", "sequence"] if batch_first else ["sequence", "batch"]
    leading = value.ndim if value.dtype.kind in "iu" else value.ndim - 1
    if leading == 1:
        return {0: "sequence"}
    return {i: labels[i] if i < 2 else f"dim{i}" for i in range(leading)}


def _value_info(onnx: Any, name: str, value: np.ndarray, axes: Dict[int, str]) -> Any:
    elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype if value.dtype != np.float64 else np.dtype(np.float32))
    if value.dtype.kind in "iu":
        elem = onnx.TensorProto.INT64
    shape = [axes.get(i, value.shape[i]) for i in range(value.ndim)]
    return onnx.helper.make_tensor_value_info(name, elem, shape)


def export_model_dir(model_dir: Union[str, "os.PathLike[str]"], path: Union[str, "os.PathLike[str]"]) -> None:
    """Exports a saved ``RNNLanguageModel`` directory to ONNX: inputs ``ids`` (N, L) int64 and ``h0``
    (num_layers, N, hidden_size) float32, outputs ``logits`` (N, L, vocab_size) and ``hn``; N and L dynamic.
    What ``swiftrnn export MODEL_DIR model.onnx`` runs."""
    _require_onnx()
    from ..models import RNNLanguageModel

    model = RNNLanguageModel.load(model_dir)
    ids = np.zeros((1, 2), dtype=np.int64)
    h0 = np.zeros((model.num_layers, 1, model.hidden_size), dtype=np.float32)
    export(model, path, (ids, h0))
