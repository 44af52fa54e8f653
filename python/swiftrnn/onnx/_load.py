"""``swiftrnn.onnx.load``: an ONNX graph of a recurrent model, run with swiftrnn.

At load time the file is size-checked, parsed, every node is checked (one error lists every unsupported operator
or attribute), the RNN/LSTM/GRU operators become swiftrnn modules (their weights reordered from ONNX's gate
order to torch's and packed once), nodes that depend only on constants are evaluated, and the rest becomes a
flat list of steps over numbered slots: a call runs that list and nothing else.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from .. import _native, nn
from ..nn.utils import rnn as rnn_utils
from .. import random as _random
from . import UnsupportedModelError, _require_onnx

__all__ = ["load", "OnnxModel"]

#: Files larger than this are refused before they are read (protobuf itself stops at 2 GiB).
DEFAULT_MAX_BYTES = 1 << 31
#: An operator that materialises a tensor from a shape (ConstantOfShape) refuses more elements than this.
MAX_ELEMENTS = 1 << 28

_Fn = Callable[..., Any]

# ONNX's gate blocks -> torch's: LSTM i,o,f,c -> i,f,g(c),o; GRU z,r,h -> r,z,n.
_GATE_ORDER = {"RNN": [0], "LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2]}
_RECURRENT = ("RNN", "LSTM", "GRU")
_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}

# Tensor element types (onnx.TensorProto's numbers) a graph input or initializer may have here.
_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 11: np.float64, 9: np.bool_}


class _Node:
    """One node, its attributes decoded (str for bytes)."""

    def __init__(self, proto: Any, helper: Any) -> None:
        self.op: str = proto.op_type
        self.domain: str = proto.domain
        self.inputs: List[str] = list(proto.input)
        self.outputs: List[str] = list(proto.output)
        self.name: str = proto.name or f"{self.op} -> {self.outputs[0] if self.outputs else '?'}"
        self.attrs: Dict[str, Any] = {}
        for a in proto.attribute:
            value = helper.get_attribute_value(a)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8", "replace") for v in value]
            self.attrs[a.name] = value

    def input(self, i: int) -> str:
        return self.inputs[i] if i < len(self.inputs) else ""


class _Context:
    """What the node builders share: the opset, the constants known at load, and the problems found."""

    def __init__(self, opset: int, onnx: Any) -> None:
        self.opset = opset
        self.onnx = onnx
        self.consts: Dict[str, np.ndarray] = {}
        self.problems: List[str] = []
        self.modules: List[Tuple[str, nn.Module]] = []

    def const(self, name: str) -> Optional[np.ndarray]:
        return self.consts.get(name) if name else None

    def bad(self, node: _Node, what: str) -> None:
        self.problems.append(f"{node.op} ({node.name}): {what}")


# --- the file ------------------------------------------------------------------------------------

def _read_model(source: Union[str, "os.PathLike[str]", bytes], onnx: Any, max_bytes: int) -> Any:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        where = "the ONNX bytes"
    else:
        path = os.fspath(source)
        where = repr(path)
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ValueError(f"{where} is {size} bytes, more than max_bytes={max_bytes}: not loaded")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{where} is {len(data)} bytes or more, more than max_bytes={max_bytes}: not loaded")
    if not data:
        raise ValueError(f"{where} is empty: not an ONNX model")
    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError and friends: a truncated or corrupt file
        raise ValueError(f"{where} is not a valid ONNX model (truncated or corrupt?): {e}") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ValueError(f"{where} is not a valid ONNX model: it has no graph (truncated or not ONNX?)")
    return model


def _tensor(proto: Any, onnx: Any, what: str) -> np.ndarray:
    """An initializer or Constant as a NumPy array, its declared size checked against the bytes it holds
    before anything of that size is allocated."""
    dtype = _DTYPES.get(proto.data_type)
    if dtype is None:
        raise UnsupportedModelError(f"{what}: element type {onnx.TensorProto.DataType.Name(proto.data_type)} "
                                    "is not supported (float32, float64, int32, int64 and bool are)")
    if proto.data_location == onnx.TensorProto.EXTERNAL:
        raise UnsupportedModelError(f"{what}: the tensor's data is in an external file; swiftrnn reads "
                                    "self-contained models only (onnx.save without save_as_external_data)")
    count = 1
    for d in proto.dims:
        if d < 0:
            raise ValueError(f"{what}: negative dimension {d}")
        count *= d
    itemsize = np.dtype(dtype).itemsize
    if proto.raw_data:
        held = len(proto.raw_data) // itemsize
    else:
        field = {1: proto.float_data, 11: proto.double_data, 7: proto.int64_data}.get(proto.data_type, proto.int32_data)
        held = len(field)
    if held != count:
        raise ValueError(f"{what}: declares shape {tuple(proto.dims)} ({count} elements) but holds {held}")
    return np.asarray(onnx.numpy_helper.to_array(proto))


# --- the operators around the recurrent ones ------------------------------------------------------

def _ints(x: Any) -> List[int]:
    return [int(v) for v in np.asarray(x).reshape(-1)]


def _axes(node: _Node, ctx: _Context, index: int, attr_until: int) -> Tuple[bool, Optional[List[int]]]:
    """Axes of Squeeze/Unsqueeze/Slice-like operators: an attribute before opset `attr_until`, an input after.
    Returns (from_input, axes known at load)."""
    if ctx.opset < attr_until:
        axes = node.attrs.get("axes")
        return False, None if axes is None else [int(a) for a in axes]
    return True, None


def _build_simple(node: _Node, ctx: _Context) -> Optional[_Fn]:
    op, a = node.op, node.attrs
    if op == "Identity":
        return lambda x: x
    if op == "Constant":
        if "value" in a:
            value = _tensor(a["value"], ctx.onnx, f"Constant {node.name}")
        elif "value_float" in a:
            value = np.array(a["value_float"], dtype=np.float32)
        elif "value_floats" in a:
            value = np.array(a["value_floats"], dtype=np.float32)
        elif "value_int" in a:
            value = np.array(a["value_int"], dtype=np.int64)
        elif "value_ints" in a:
            value = np.array(a["value_ints"], dtype=np.int64)
        else:
            ctx.bad(node, f"a constant of kind {sorted(a)} (tensor, float(s) and int(s) are supported)")
            return None
        return lambda: value
    if op == "Shape":
        start, end = a.get("start", 0), a.get("end")
        return lambda x: np.array(x.shape[start:end], dtype=np.int64)
    if op == "Gather":
        axis = a.get("axis", 0)
        return lambda x, i: np.asarray(np.take(x, i, axis=axis))
    if op in ("Squeeze", "Unsqueeze"):
        from_input, axes = _axes(node, ctx, 1, 13)
        if op == "Unsqueeze":
            if from_input:
                return lambda x, ax: np.expand_dims(x, tuple(_ints(ax)))
            if axes is None:
                ctx.bad(node, "no axes")
                return None
            unsq = tuple(axes)
            return lambda x: np.expand_dims(x, unsq)
        if from_input:
            return lambda x, ax=None: np.squeeze(x) if ax is None else np.squeeze(x, tuple(_ints(ax)))
        sq = None if axes is None else tuple(axes)
        return lambda x: np.squeeze(x, sq)
    if op == "Transpose":
        perm = a.get("perm")
        return lambda x: np.transpose(x, perm)
    if op == "Reshape":
        allowzero = a.get("allowzero", 0)

        def reshape(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
            s = _ints(shape)
            if not allowzero:
                s = [x.shape[i] if d == 0 else d for i, d in enumerate(s)]
            return x.reshape(s)
        return reshape
    if op == "Concat":
        axis = a["axis"]
        return lambda *xs: np.concatenate(xs, axis=axis)
    if op == "Slice":
        if ctx.opset < 10:
            starts, ends, axes = a["starts"], a["ends"], a.get("axes")
            return lambda x: _slice(x, starts, ends, axes, None)
        return lambda x, s, e, ax=None, st=None: _slice(x, _ints(s), _ints(e), None if ax is None else _ints(ax),
                                                       None if st is None else _ints(st))
    if op == "ConstantOfShape":
        fill = _tensor(a["value"], ctx.onnx, f"ConstantOfShape {node.name}") if "value" in a \
            else np.zeros(1, dtype=np.float32)

        def constant_of_shape(shape: np.ndarray) -> np.ndarray:
            s = _ints(shape)
            if any(d < 0 for d in s) or int(np.prod(s, dtype=object)) > MAX_ELEMENTS:
                raise ValueError(f"ConstantOfShape ({node.name}): shape {s} is negative or has more than "
                                 f"{MAX_ELEMENTS} elements")
            return np.full(s, fill.reshape(-1)[0], dtype=fill.dtype)
        return constant_of_shape
    if op == "Expand":
        def expand(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
            s = np.broadcast_shapes(x.shape, tuple(_ints(shape)))  # ONNX's Expand broadcasts both ways
            if int(np.prod(s, dtype=object)) > MAX_ELEMENTS:
                raise ValueError(f"Expand ({node.name}): shape {list(s)} has more than {MAX_ELEMENTS} elements")
            return np.ascontiguousarray(np.broadcast_to(x, s))
        return expand
    if op == "Cast":
        to = _DTYPES.get(a.get("to", 0))
        if to is None:
            ctx.bad(node, f"to={a.get('to')} (float32, float64, int32, int64 and bool are supported)")
            return None
        return lambda x: x.astype(to, copy=False)
    if op == "Add":
        return np.add
    if op == "MatMul":
        w = ctx.const(node.input(1))
        if w is not None and w.ndim == 2 and w.dtype == np.float32:
            return _linear(np.ascontiguousarray(w.T), None)
        return np.matmul
    if op == "Gemm":
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        trans_a, trans_b = a.get("transA", 0), a.get("transB", 0)
        w, c = ctx.const(node.input(1)), ctx.const(node.input(2))
        if (alpha == 1.0 and beta == 1.0 and not trans_a and w is not None and w.dtype == np.float32
                and (c is None and not node.input(2) or c is not None and c.shape == (w.shape[0 if trans_b else 1],))):
            weight = np.ascontiguousarray(w if trans_b else w.T)
            bias = None if c is None else np.ascontiguousarray(c, dtype=np.float32)
            return _linear(weight, bias, takes_extra=2 if node.input(2) else 1)

        def gemm(x: np.ndarray, y: np.ndarray, z: Optional[np.ndarray] = None) -> np.ndarray:
            out = (x.T if trans_a else x) @ (y.T if trans_b else y)
            if alpha != 1.0:
                out = out * np.float32(alpha)
            if z is not None:
                out = out + (z if beta == 1.0 else np.float32(beta) * z)
            return np.asarray(out, dtype=x.dtype)
        return gemm
    if op in ("Softmax", "LogSoftmax"):
        log = op == "LogSoftmax"
        if ctx.opset >= 13:
            axis = a.get("axis", -1)

            def softmax(x: np.ndarray) -> np.ndarray:
                return _native.softmax(x, axis, log)
            softmax.fusable = (axis, log)  # type: ignore[attr-defined]  # see _fuse_linear_softmax
            return softmax
        axis = a.get("axis", 1)  # before opset 13: over the input flattened to 2-d at axis

        def coerced(x: np.ndarray) -> np.ndarray:
            ax = axis + x.ndim if axis < 0 else axis
            return _native.softmax(x.reshape(int(np.prod(x.shape[:ax], dtype=np.int64)), -1), 1, log).reshape(x.shape)
        return coerced
    raise AssertionError(op)


def _linear(weight: np.ndarray, bias: Optional[np.ndarray], takes_extra: int = 1) -> _Fn:
    """y = x W^T + b through swiftrnn's Linear kernel, W packed once (MatMul by a constant, Gemm with transB)."""
    packed = _native.pack_weight(weight)

    def linear(x: np.ndarray, *_constants: Any) -> np.ndarray:
        return _native.linear_forward(x, weight, bias, packed)
    linear.fusable = (weight, bias, packed)  # type: ignore[attr-defined]  # see _fuse_linear_softmax
    return linear


def _fuse_linear_softmax(plan: List["_Step"], outputs: List[int]) -> List["_Step"]:
    """A linear step whose output only a Softmax/LogSoftmax right after it reads becomes one step: the core's
    Linear with the softmax of each row fused in (the same bits, without a second pass over the logits)."""
    fused: List[_Step] = []
    k = 0
    while k < len(plan):
        op, fn, ins, outs = plan[k]
        nxt = plan[k + 1] if k + 1 < len(plan) else None
        if (nxt is not None and hasattr(fn, "fusable") and hasattr(nxt[1], "fusable") and len(outs) == 1
                and nxt[2] == outs and outs[0] not in outputs
                and not any(outs[0] in step[2] for step in plan[k + 2:])):
            weight, bias, packed = fn.fusable
            axis, log = nxt[1].fusable

            def linear_softmax(x: np.ndarray, *_constants: Any, _w: Any = weight, _b: Any = bias, _p: Any = packed,
                               _axis: int = axis, _log: bool = log) -> np.ndarray:
                if _axis in (-1, x.ndim - 1):
                    return _native.linear_forward(x, _w, _b, _p, False, 2 if _log else 1)
                return _native.softmax(_native.linear_forward(x, _w, _b, _p), _axis, _log)
            fused.append((f"{op}+{nxt[0]}", linear_softmax, ins, nxt[3]))
            k += 2
        else:
            fused.append(plan[k])
            k += 1
    return fused


def _slice(x: np.ndarray, starts: Sequence[int], ends: Sequence[int], axes: Optional[Sequence[int]],
           steps: Optional[Sequence[int]]) -> np.ndarray:
    index = [slice(None)] * x.ndim
    for k, (s, e) in enumerate(zip(starts, ends)):
        axis = axes[k] if axes is not None else k
        step = steps[k] if steps is not None else 1
        # ONNX clamps like Python's slices, with INT64 extremes for "to the end".
        index[axis] = slice(s, None if (step > 0 and e >= x.shape[axis]) or (step < 0 and e < -x.shape[axis])
                            else e, step)
    return x[tuple(index)]


# What each operator may carry: the attributes understood (anything else is reported).
_ATTRIBUTES: Dict[str, Tuple[str, ...]] = {
    "Identity": (), "Constant": ("value", "value_float", "value_floats", "value_int", "value_ints"),
    "Shape": ("start", "end"), "Gather": ("axis",), "Squeeze": ("axes",), "Unsqueeze": ("axes",),
    "Transpose": ("perm",), "Reshape": ("allowzero",), "Concat": ("axis",), "Slice": ("starts", "ends", "axes"),
    "ConstantOfShape": ("value",), "Expand": (), "Cast": ("to", "saturate"), "Add": (), "MatMul": (), "Gemm": ("alpha", "beta", "transA", "transB"),
    "Softmax": ("axis",), "LogSoftmax": ("axis",),
    "RNN": ("hidden_size", "direction", "activations", "layout"),
    "LSTM": ("hidden_size", "direction", "activations", "layout", "input_forget"),
    "GRU": ("hidden_size", "direction", "activations", "layout", "linear_before_reset"),
}
_RECURRENT_HELP = {
    "clip": "cell clipping is not supported (torch's and Keras's layers do not clip)",
    "activation_alpha": "parametrised activations are not supported",
    "activation_beta": "parametrised activations are not supported",
}


# --- the recurrent operators ---------------------------------------------------------------------

def _build_recurrent(node: _Node, ctx: _Context, squeezed: bool) -> Optional[_Fn]:
    op, a = node.op, node.attrs
    problems = len(ctx.problems)
    direction = a.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        ctx.bad(node, f"direction={direction!r}")
    D = 2 if direction == "bidirectional" else 1
    layout = a.get("layout", 0)
    if layout not in (0, 1):
        ctx.bad(node, f"layout={layout}")
    nonlinearity = "tanh"
    acts = a.get("activations")
    if op == "RNN":
        acts = acts or ["Tanh"]
        if len(set(acts)) != 1 or acts[0] not in ("Tanh", "Relu") or len(acts) not in (1, D):
            ctx.bad(node, f"activations={acts} (Tanh or Relu, the same for both directions, are supported)")
        else:
            nonlinearity = acts[0].lower()
    elif acts is not None and list(acts) not in (_DEFAULT_ACTIVATIONS[op], _DEFAULT_ACTIVATIONS[op] * D):
        ctx.bad(node, f"activations={acts} (only the default {_DEFAULT_ACTIVATIONS[op]} is supported)")
    if op == "GRU" and a.get("linear_before_reset", 0) != 1:
        ctx.bad(node, "linear_before_reset=0 (ONNX's default GRU cell applies the reset gate before the recurrent "
                      "product; swiftrnn's GRU is torch's and Keras's reset_after cell, linear_before_reset=1)")
    if op == "LSTM" and a.get("input_forget", 0):
        ctx.bad(node, "input_forget=1 (coupled input and forget gates)")
    W, R, B = (ctx.const(node.input(i)) for i in (1, 2, 3))
    if W is None or R is None or node.input(3) and B is None:
        ctx.bad(node, "the weights W, R and B must be initializers or constants")
        return None
    if op == "LSTM" and node.input(7):
        P = ctx.const(node.input(7))
        if P is None or np.any(P):
            ctx.bad(node, "peephole weights P (only absent or all-zero P is supported)")
    G = len(_GATE_ORDER[op])
    H: int = int(a["hidden_size"]) if "hidden_size" in a else int(R.shape[-1]) if R.ndim == 3 else 0
    I: int = int(W.shape[-1]) if W.ndim == 3 else 0
    if (W.shape != (D, G * H, I) or R.shape != (D, G * H, H) or B is not None and B.shape != (D, 2 * G * H)
            or H < 1 or W.dtype != np.float32):
        ctx.bad(node, f"weights of shapes W {W.shape}, R {R.shape}, B {None if B is None else B.shape}, dtype "
                      f"{W.dtype} for hidden_size={H}, direction={direction} (want float32 W ({D}, {G * H}, I), "
                      f"R ({D}, {G * H}, {H}), B ({D}, {2 * G * H}))")
    if len(ctx.problems) > problems:
        return None

    # The module, built without touching swiftrnn's random stream (its initial values are overwritten).
    state = _random.get_rng_state()
    try:
        kwargs: Dict[str, Any] = dict(bias=B is not None, batch_first=layout == 1, bidirectional=D == 2)
        if op == "RNN":
            module: nn.RNNBase = nn.RNN(I, H, nonlinearity=nonlinearity, **kwargs)
        else:
            module = (nn.LSTM if op == "LSTM" else nn.GRU)(I, H, **kwargs)
    finally:
        _random.set_rng_state(state)
    rows = np.concatenate([np.arange(g * H, (g + 1) * H) for g in _GATE_ORDER[op]])
    for d in range(D):
        suffix = "_l0" + ("_reverse" if d else "")
        setattr(module, "weight_ih" + suffix, W[d][rows])
        setattr(module, "weight_hh" + suffix, R[d][rows])
        if B is not None:
            setattr(module, "bias_ih" + suffix, B[d][:G * H][rows])
            setattr(module, "bias_hh" + suffix, B[d][G * H:][rows])
    module.eval()
    ctx.modules.append((node.name, module))
    return _recurrent_step(module, op, D, H, layout, direction == "reverse", squeezed)


def _recurrent_step(module: nn.RNNBase, op: str, D: int, H: int, layout: int, reverse: bool,
                    squeezed: bool) -> _Fn:
    """The call of one recurrent operator: (Y, Y_h[, Y_c]) in ONNX's shapes, views of swiftrnn's outputs.
    ``squeezed``: Y is wanted as (T, N, H), the unidirectional output with its direction axis squeezed away
    (torch's Squeeze after the operator, folded into it at load)."""
    flat, desc = module._flat, module._desc
    # W_ih and W_hh packed once for the GEMM kernel (bit-identical to packing them on every call).
    packed = tuple(_native.pack_weight(w) for group in module.all_weights for w in group[:2])
    time_axis = layout  # X: (T, N, I) for layout 0, (N, T, I) for layout 1

    def check(x: np.ndarray, seq_lens: Optional[np.ndarray]) -> bool:
        """Whether the call runs sequences of their own lengths (sequence_lens below X's time axis)."""
        if x.ndim != 3:
            raise ValueError(f"{op}: X must be 3-d ({'(N, T, I)' if layout else '(T, N, I)'}), got shape {x.shape}")
        if seq_lens is None or not seq_lens.size or np.all(seq_lens == x.shape[time_axis]):
            return False
        T, N = x.shape[time_axis], x.shape[1 - time_axis]
        if seq_lens.shape != (N,) or seq_lens.dtype.kind not in "iu" or seq_lens.min() < 1 or seq_lens.max() > T:
            raise ValueError(f"{op}: sequence_lens must hold one length in [1, {T}] (X's time axis) per sequence of "
                             f"the batch ({N}), got {seq_lens.tolist()}")
        return True

    def state(s: Optional[np.ndarray]) -> Optional[np.ndarray]:
        if s is None:
            return None
        return np.ascontiguousarray(np.swapaxes(s, 0, 1)) if layout else s  # layout 1: (N, D, H)

    def onnx_outputs(out: np.ndarray, finals: Tuple[np.ndarray, ...]) -> Tuple[Any, ...]:
        """(Y, Y_h[, Y_c]) in ONNX's shapes from swiftrnn's output, in the module's layout ((T, N, D·H), or
        (N, T, D·H) for layout 1), and final states (D, N, H)."""
        if squeezed:  # layout 0 only
            return (out,) + finals
        if layout:
            return (out.reshape(out.shape[0], out.shape[1], D, H),) + tuple(np.swapaxes(f, 0, 1) for f in finals)
        return (out.reshape(out.shape[0], out.shape[1], D, H).transpose(0, 2, 1, 3),) + finals

    def own_lengths(x: np.ndarray, lens: np.ndarray, h0: Optional[np.ndarray],
                    c0: Optional[np.ndarray]) -> Tuple[Any, ...]:
        """(Y, Y_h[, Y_c]) in ONNX's layout for sequences of their own lengths: the packed recurrence (each sequence
        stops at its length, a reverse direction starts there), Y zero past each length, as ONNX specifies."""
        xt = np.swapaxes(x, 0, 1) if layout else x  # (T, N, I)
        T, N = xt.shape[0], xt.shape[1]
        lens = lens.astype(np.int64)
        cols = np.arange(N)
        flip = np.clip(lens[None, :] - 1 - np.arange(T)[:, None], 0, T - 1)  # step t of a sequence read backwards
        if reverse:  # a reverse-only operator: each sequence flipped within its own length
            xt = xt[flip, cols]
        states = [state(h0), state(c0)]
        if op == "LSTM" and (states[0] is not None or states[1] is not None):
            hx: Any = tuple(np.zeros((D, N, H), np.float32) if s is None else s for s in states)
        else:
            hx = states[0]
        out, *final = module(rnn_utils.pack_padded_sequence(xt, lens, enforce_sorted=False), hx)
        y, _ = rnn_utils.pad_packed_sequence(out, total_length=T)  # (T, N, D·H), zeros past each length
        if reverse:
            y = np.where((np.arange(T)[:, None] < lens[None, :])[..., None], y[flip, cols], 0).astype(np.float32)
        return onnx_outputs(np.swapaxes(y, 0, 1) if layout else y, tuple(final[0]) if op == "LSTM" else (final[0],))

    if not layout and not reverse:  # what torch exports: the shortest path
        def step_forward(x: np.ndarray, _w: Any, _r: Any, _b: Any = None, seq_lens: Optional[np.ndarray] = None,
                         h0: Optional[np.ndarray] = None, c0: Optional[np.ndarray] = None,
                         _p: Any = None) -> Tuple[Any, ...]:
            if (x.ndim != 3 or seq_lens is not None) and check(x, seq_lens):
                return own_lengths(x, seq_lens, h0, c0)  # type: ignore[arg-type]
            result = _native.rnn_forward(x, h0, flat, desc, None, None, packed, c0)
            out = result[0]  # onnx_outputs, written out: this path is the per-token call of a generation loop
            if squeezed:
                return (out,) + result[1:]
            return (out.reshape(out.shape[0], out.shape[1], D, H).transpose(0, 2, 1, 3),) + result[1:]
        return step_forward

    def step(x: np.ndarray, _w: Any, _r: Any, _b: Any = None, seq_lens: Optional[np.ndarray] = None,
             h0: Optional[np.ndarray] = None, c0: Optional[np.ndarray] = None, _p: Any = None) -> Tuple[Any, ...]:
        if check(x, seq_lens):
            return own_lengths(x, seq_lens, h0, c0)  # type: ignore[arg-type]
        if reverse:  # a reverse-only operator: the forward recurrence over the flipped sequence, flipped back
            x = x[::-1] if time_axis == 0 else x[:, ::-1]
        result = _native.rnn_forward(x, state(h0), flat, desc, None, None, packed, state(c0))
        out = result[0]
        if reverse:
            out = out[::-1] if time_axis == 0 else out[:, ::-1]
        return onnx_outputs(out, result[1:])
    return step


# --- the graph -----------------------------------------------------------------------------------

# One node of the plan: (operator, function, input slots, output slots); -1 is an output nobody reads.
_Step = Tuple[str, _Fn, Tuple[int, ...], Tuple[int, ...]]


def _compile(inputs: List[Tuple[str, Any, Tuple[Optional[int], ...]]], plan: List[_Step], outputs: List[int],
             slots: List[Any], bad_input: Callable[[int, np.ndarray], None]) -> _Fn:
    """The plan as one Python function, ``run(v0, v1, ...) -> outputs``: each step a line calling its
    operator's function on locals (values computed in the call) or bound constants, with the input checks
    unrolled. An interpreted loop over the plan costs microseconds per call, which matter for one time step
    of a small RNN."""
    env: Dict[str, Any] = {"_asarray": np.asarray, "_bad": bad_input}
    local = set(range(len(inputs)))

    def ref(j: int) -> str:
        if j in local:
            return f"v{j}"
        if slots[j] is None:
            return "None"
        env[f"c{j}"] = slots[j]
        return f"c{j}"

    lines = [f"def run({', '.join(f'v{i}' for i in range(len(inputs)))}):"]
    for i, (_, dtype, dims) in enumerate(inputs):
        env[f"t{i}"] = dtype
        checks = [f"v{i}.ndim != {len(dims)}"] + [f"v{i}.shape[{a}] != {d}" for a, d in enumerate(dims) if d is not None]
        lines += [f"    v{i} = _asarray(v{i}, t{i})", f"    if {' or '.join(checks)}:", f"        _bad({i}, v{i})"]
    for k, (op, fn, ins, outs) in enumerate(plan):
        args = ", ".join(ref(j) for j in ins)
        targets = [f"v{j}" if j >= 0 else "_" for j in outs]
        local.update(j for j in outs if j >= 0)
        if op in _RECURRENT:  # returns (Y, Y_h[, Y_c]); the node may name fewer outputs
            lines.append(f"    {', '.join(targets)}, *_ = f{k}({args})")
        elif op == "Identity":
            lines.append(f"    {targets[0]} = {args}")
        else:
            lines.append(f"    {targets[0]} = f{k}({args})")
        env[f"f{k}"] = fn
    lines.append(f"    return ({''.join(ref(j) + ', ' for j in outputs)})")
    exec(compile("\n".join(lines), "<swiftrnn.onnx plan>", "exec"), env)  # noqa: S102 - our own generated code
    run: _Fn = env["run"]
    return run


class OnnxModel(nn.Module):
    """An ONNX graph loaded by ``swiftrnn.onnx.load``: call it with NumPy arrays, positionally in the order of
    ``input_names`` or by name (``model(input=x, h0=h)``); it returns a tuple of NumPy arrays in the order of
    ``output_names``. Its recurrent operators are swiftrnn modules (``named_modules()`` lists them, in eval
    mode); the execution plan is fixed at load, so changing their parameters afterwards has no effect."""

    input_names: Tuple[str, ...]
    output_names: Tuple[str, ...]

    def __init__(self, inputs: List[Tuple[str, Any, Tuple[Optional[int], ...]]], outputs: List[int],
                 output_names: List[str], slots: List[Any], plan: List[_Step],
                 modules: List[Tuple[str, nn.Module]]) -> None:
        super().__init__()
        self.input_names = tuple(name for name, _, _ in inputs)
        self.output_names = tuple(output_names)
        self._inputs = inputs
        self._input_index = {name: i for i, (name, _, _) in enumerate(inputs)}
        self._run = _compile(inputs, plan, outputs, slots, self._bad_input)
        self._operators = tuple(op for op, *_ in plan)  # what a call runs, after folding and fusion
        for i, (name, module) in enumerate(modules):
            self.add_module(f"{type(module).__name__.lower()}{i}", module)
        self.eval()

    def __call__(self, *args: Any, **kwargs: Any) -> Tuple[np.ndarray, ...]:
        if not kwargs and len(args) == len(self._inputs):
            return self._run(*args)  # type: ignore[no-any-return]
        if not args and len(kwargs) == len(self._inputs):
            try:  # every input by name, the common serving call
                return self._run(*[kwargs[name] for name in self.input_names])  # type: ignore[no-any-return]
            except KeyError:
                pass  # an unknown name: _arrange says which
        return self._run(*self._arrange(args, kwargs))  # type: ignore[no-any-return]

    def forward(self, *args: Any, **kwargs: Any) -> Tuple[np.ndarray, ...]:
        """Runs the graph: inputs positionally or by ONNX input name; returns the outputs in graph order."""
        return self(*args, **kwargs)

    def _bad_input(self, i: int, x: np.ndarray) -> None:
        name, _, dims = self._inputs[i]
        raise ValueError(f"input {name!r}: expected shape ({', '.join('?' if d is None else str(d) for d in dims)}), "
                         f"got {x.shape}")

    def _arrange(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> List[Any]:
        """The inputs in graph order from positional and named arguments (TypeError: unknown, twice, missing)."""
        names = list(self.input_names)
        if len(args) > len(names):
            raise TypeError(f"the model takes {len(names)} inputs {names}, got {len(args)}")
        given = list(args) + [None] * (len(names) - len(args))
        for name, value in kwargs.items():
            i = self._input_index.get(name)
            if i is None:
                raise TypeError(f"unknown input {name!r}; the model's inputs are {names}")
            if i < len(args):
                raise TypeError(f"input {name!r} given twice (positionally and by name)")
            given[i] = value
        missing = [names[i] for i, v in enumerate(given) if v is None]
        if missing:
            raise TypeError(f"missing input(s) {missing}; the model's inputs are {names}")
        return given

    def extra_repr(self) -> str:
        """The graph's input and output names, as shown in the model's ``repr``."""
        return f"inputs={list(self.input_names)}, outputs={list(self.output_names)}"


def load(source: Union[str, "os.PathLike[str]", bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> OnnxModel:
    """Loads an ONNX model (a path or the file's bytes) into an ``OnnxModel`` run by swiftrnn.

    Supported: ``RNN`` (Tanh/Relu), ``LSTM`` and ``GRU`` (``linear_before_reset=1``: torch's and Keras's GRU)
    with any direction, ``initial_h``/``initial_c``, ``layout`` 0 or 1 and ``sequence_lens`` (each sequence
    stops at its own length through the packed recurrence, Y is zero past it, as ONNX specifies); and ``Gather``, ``MatMul``, ``Gemm``, ``Add``, ``Softmax``, ``LogSoftmax``, ``Squeeze``,
    ``Unsqueeze``, ``Transpose``, ``Reshape``, ``Concat``, ``Slice``, ``Shape``, ``ConstantOfShape``,
    ``Expand``, ``Cast``, ``Constant``, ``Identity`` (the operators of torch's and tf2onnx's exports of recurrent models).

    Raises:
        ImportError: the ``onnx`` package is absent.
        UnsupportedModelError (a ValueError): the model uses operators or attributes swiftrnn does not run;
            the message lists all of them. Raised before anything runs.
        ValueError: the file is larger than ``max_bytes``, truncated, corrupt, or declares tensors larger
            than the data it holds (checked before allocating them).
    """
    onnx = _require_onnx()
    model = _read_model(source, onnx, max_bytes)
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if not 7 <= opset <= 22:
        raise UnsupportedModelError(f"ONNX opset {opset} is not supported (7 to 22 are)")
    ctx = _Context(opset, onnx)
    for init in graph.initializer:
        ctx.consts[init.name] = _tensor(init, onnx, f"initializer {init.name!r}")

    inputs: List[Tuple[str, Any, Tuple[Optional[int], ...]]] = []
    for vi in graph.input:
        if vi.name in ctx.consts:
            continue  # IR < 4 lists initializers as inputs too
        ttype = vi.type.tensor_type
        dtype = _DTYPES.get(ttype.elem_type)
        if dtype is None:
            ctx.problems.append(f"input {vi.name!r}: element type {ttype.elem_type} (float32, float64, int32, "
                                "int64 and bool are supported)")
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim)
        inputs.append((vi.name, dtype, dims))

    nodes = [_Node(n, onnx.helper) for n in graph.node]
    # Values that an unsupported node produces, or that depend on one: their nodes are not built (the
    # problems are collected across the whole graph and reported together at the end, before any call).
    tainted: Set[str] = set()
    unbuildable: Set[int] = set()  # nodes of unknown operators: not built at all
    for node in nodes:
        if node.domain not in ("", "ai.onnx") or node.op not in _ATTRIBUTES:
            ctx.problems.append(f"operator {node.domain + '.' if node.domain else ''}{node.op} ({node.name}) "
                                "is not supported")
            unbuildable.add(id(node))
            continue
        for attr in node.attrs:
            if attr not in _ATTRIBUTES[node.op]:
                ctx.bad(node, f"attribute {attr}={node.attrs[attr]!r} is not supported"
                        + (f": {_RECURRENT_HELP[attr]}" if attr in _RECURRENT_HELP else ""))

    # Slots: the inputs first, then every other value; constants pre-filled.
    slot_of: Dict[str, int] = {name: i for i, (name, _, _) in enumerate(inputs)}
    slots: List[Any] = [None] * len(inputs)
    plan: List[_Step] = []
    dynamic = set(slot_of)

    def slot(name: str) -> int:
        if name not in slot_of:
            slot_of[name] = len(slots)
            slots.append(ctx.consts.get(name))
        return slot_of[name]

    folded = _fold_squeezes(nodes, ctx, {o.name for o in graph.output})
    for node in nodes:
        if id(node) in folded:
            continue
        if id(node) in unbuildable or tainted.intersection(node.inputs):
            tainted.update(node.outputs)
            continue
        if node.op in _RECURRENT:
            fn = _build_recurrent(node, ctx, squeezed=node.outputs[0] in folded.values() if node.outputs else False)
        else:
            fn = _build_simple(node, ctx)
        if fn is None:
            tainted.update(node.outputs)
            continue
        for name in node.inputs:
            if name and name not in ctx.consts and name not in slot_of:
                ctx.problems.append(f"{node.op} ({node.name}): input {name!r} is produced by no node before it")
        # Optional inputs left empty are trailing Nones (the builders' defaults).
        used = list(node.inputs)
        while used and not used[-1]:
            used.pop()
        ins = tuple(slot(name) for name in used)  # "" (an omitted optional input) holds None
        outs = tuple(slot(name) if name else -1 for name in node.outputs)
        if not any(name in dynamic for name in used):
            # Depends on constants only: evaluated now, once.
            try:
                result = fn(*[slots[j] for j in ins])
            except (ValueError, IndexError, TypeError) as e:
                raise ValueError(f"{node.op} ({node.name}) fails on the model's constants: {e}") from None
            for name, r in zip(node.outputs, result if node.op in _RECURRENT else (result,)):
                if name:
                    slots[slot_of[name]] = ctx.consts[name] = r
        else:
            plan.append((node.op, fn, ins, outs))
            dynamic.update(node.outputs)
    if ctx.problems:
        raise UnsupportedModelError(_unsupported(ctx.problems))
    missing = [o.name for o in graph.output if o.name not in slot_of]
    if missing:
        raise ValueError(f"graph outputs {missing} are produced by no node")
    outputs = [slot_of[o.name] for o in graph.output]
    plan = _fuse_linear_softmax(plan, outputs)
    return OnnxModel(inputs, outputs, [o.name for o in graph.output], slots, plan, ctx.modules)


def _fold_squeezes(nodes: List[_Node], ctx: _Context, graph_outputs: Any) -> Dict[int, str]:
    """torch follows a unidirectional RNN/LSTM/GRU with Squeeze(Y, axes=[1]): that Squeeze is folded into the
    operator, whose Y then is swiftrnn's (T, N, H) output as it is. Returns {id(Squeeze node): its output}, the
    operators' first outputs renamed to them."""
    producer = {out: n for n in nodes for out in n.outputs}
    consumers: Dict[str, List[_Node]] = {}
    for n in nodes:
        for name in n.inputs:
            consumers.setdefault(name, []).append(n)

    def constant(name: str) -> Optional[List[int]]:
        if ctx.const(name) is not None:
            return _ints(ctx.const(name))
        p = producer.get(name)
        if p is None or p.op != "Constant" or p.inputs:
            return None
        fn = _build_simple(p, ctx)
        return None if fn is None else _ints(fn())

    folded: Dict[int, str] = {}
    for n in nodes:
        if (n.op not in _RECURRENT or n.attrs.get("direction", "forward") == "bidirectional"
                or n.attrs.get("layout", 0) or not n.outputs or not n.outputs[0] or n.outputs[0] in graph_outputs):
            continue
        users = consumers.get(n.outputs[0], [])
        if len(users) != 1 or users[0].op != "Squeeze" or len(users[0].outputs) != 1:
            continue
        sq = users[0]
        axes = sq.attrs.get("axes") if ctx.opset < 13 else (constant(sq.input(1)) if sq.input(1) else None)
        if axes is not None and list(axes) in ([1], [-3]):
            folded[id(sq)] = sq.outputs[0]
            n.outputs[0] = sq.outputs[0]
    return folded


def _unsupported(problems: List[str]) -> str:
    return (f"the ONNX model uses {len(problems)} thing(s) swiftrnn cannot run:\n  - " + "\n  - ".join(problems))
