"""The single-step cells of ``torch.nn``: RNNCell, LSTMCell, GRUCell — one time step of the layers in rnn.py.

A cell is a one-layer, one-direction recurrent layer run on a sequence of length 1: it takes the layer's
native calls (the same kernels, shape rules and saved state), with the cell's names (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``) and its input ``(N, input_size)`` or ``(input_size,)``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import numpy as np

from ... import _native
from ... import random as _random
from ._checks import check_bool, check_factory_kwargs, check_parameter_memory, check_size
from ..parameter import _GRAD_LOCK, Parameter, _commit_grads, _grad_accumulators
from .module import Module
from .rnn import _MODES, _NONLINEARITIES, _pair

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """What the cells share, as torch's ``nn.RNNCellBase``: ``weight_ih`` ``(G·H, input_size)``, ``weight_hh``
    ``(G·H, H)``, ``bias_ih``, ``bias_hh`` ``(G·H,)``, drawn from U(-1/sqrt(H), 1/sqrt(H)) in this order; the step
    runs as a one-layer recurrent layer over one time step."""

    if TYPE_CHECKING:
        input_size: int
        hidden_size: int
        bias: bool
        _desc: Tuple[int, ...]
        _flat: Tuple[Parameter, ...]

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_factory_kwargs(device, dtype)
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size", minimum=1)
        self.bias = check_bool(bias, "bias")
        nonlinearity, cell, gates = _MODES[mode]
        # The description of a one-layer, one-direction, time-major layer (see RNNBase._make_desc).
        object.__setattr__(self, "_desc", (self.input_size, self.hidden_size, 1, nonlinearity, int(self.bias), 0, 0,
                                           cell, 0))
        GH = gates * self.hidden_size
        check_parameter_memory(f"{type(self).__name__}({self.input_size}, {self.hidden_size})",
                               [(GH, self.input_size), (GH, self.hidden_size), (GH,)], repeats=[1, 1, 2 if bias else 0])
        params: List[Tuple[str, np.ndarray]] = [("weight_ih", np.empty((GH, self.input_size), np.float32)),
                                                ("weight_hh", np.empty((GH, self.hidden_size), np.float32))]
        if self.bias:
            params += [("bias_ih", np.empty((GH,), np.float32)), ("bias_hh", np.empty((GH,), np.float32))]
        _random._init_rnn_([p for _, p in params], self.hidden_size)
        for name, p in params:
            self.register_parameter(name, p)

    def reset_parameters(self) -> None:
        """Draws every parameter again from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in place, as torch's."""
        _random._init_rnn_([p for p in self._parameters.values() if p is not None], self.hidden_size)

    def _parameters_changed(self) -> None:
        object.__setattr__(self, "_flat", tuple(p for p in self._parameters.values() if p is not None))

    def _check_input(self, input: Any) -> np.ndarray:
        x = np.asarray(input) if not isinstance(input, np.ndarray) else input
        if x.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {x.ndim}D input of shape "
                             f"{tuple(x.shape)} instead")
        return x

    def _step(self, input: Any, h: Any, c: Any) -> Tuple[np.ndarray, ...]:
        """One step: the layer's forward on a sequence of length 1 (input as (1, N, I), states as (1, N, H)).
        Returns the new states without the sequence axis; saves what ``_step_backward`` needs."""
        x = self._check_input(input)
        unbatched = x.ndim == 1
        seq = x[None]                                   # (1, [N,] I)
        state = [None if s is None else np.asarray(s)[None] for s in (h, c)]
        records = self._records()
        if not records:
            self._save_for_backward(None)
        result = _native.rnn_forward(seq, state[0], self._flat, self._desc, None, True if records else None, None,
                                     state[1])
        if records:
            self._save_for_backward((result[-1], unbatched))  # (the layer's saved state, the cell's own fact)
            result = result[:-1]
        # result: (output, hn[, cn]); the new h is hn (= output's only step), c the new cell state.
        return tuple(r[0] for r in result[1:])

    def _step_backward(self, grad_h: Any, grad_c: Any) -> Tuple[np.ndarray, ...]:
        (x, h0, masks, saved, *c0), unbatched = self._saved_for_backward()
        hidden_shape = ((1,) if unbatched else (1, x.shape[1])) + (self.hidden_size,)
        # h' is the step's output and h_n at once: its gradient enters as the output's.
        grad_output = np.zeros(hidden_shape, np.float32) if grad_h is None else np.asarray(grad_h, np.float32)[None]
        extra = (c0[0], None if grad_c is None else np.asarray(grad_c, np.float32)[None]) if c0 else ()
        with _GRAD_LOCK:
            grads, fresh = _grad_accumulators(self._flat)
            result = _native.rnn_backward(x, h0, self._flat, self._desc, masks, saved, grad_output, None,
                                          tuple(grads), *extra)
            _commit_grads(fresh)
        self._release_saved()
        return tuple(r[0] for r in result)  # grad_input, grad_h0[, grad_c0], without the sequence axis

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell, as ``torch.nn.RNNCell``: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    Call: ``h1 = cell(input, hx=None)``: input ``(N, input_size)`` or ``(input_size,)``; hx and h1 ``(N, H)`` or
    ``(H,)``, zeros if omitted. Training: ``backward(grad_h1) -> (grad_input, grad_h0)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if not isinstance(nonlinearity, str) or nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(_NONLINEARITIES[nonlinearity], input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Optional[Any] = None) -> np.ndarray:
        """``h1 = cell(input, hx)``; call the module rather than this."""
        if isinstance(hx, tuple):
            raise TypeError(f"RNNCell expects hx as one array h of shape (N, {self.hidden_size}), got a tuple of "
                            f"{len(hx)} (a tuple (h, c) is an LSTMCell's state)")
        return self._step(input, hx, None)[0]

    def backward(self, grad_h1: Any) -> Tuple[np.ndarray, np.ndarray]:
        """The step's backward: adds to the parameters' ``.grad``; returns ``(grad_input, grad_h0)``."""
        grad_input, grad_h0 = self._step_backward(grad_h1, None)
        return grad_input, grad_h0


class LSTMCell(RNNCellBase):
    r"""An LSTM cell, as ``torch.nn.LSTMCell`` (gates i, f, g, o; :math:`c' = f c + i g`, :math:`h' = o \tanh c'`).

    Call: ``h1, c1 = cell(input, (h0, c0))`` (``hx=None``: zeros). Training:
    ``backward((grad_h1, grad_c1)) -> (grad_input, (grad_h0, grad_c0))``, either gradient may be None.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``h1, c1 = cell(input, (h0, c0))``; call the module rather than this."""
        h, c = _pair(hx, "LSTMCell", "hx", "(h, c)")
        h1, c1 = self._step(input, h, c)
        return h1, c1

    def backward(self, grad_hx: Any) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """The step's backward: ``grad_hx = (grad_h1, grad_c1)``; returns ``(grad_input, (grad_h0, grad_c0))``."""
        grad_h, grad_c = _pair(grad_hx, "LSTMCell.backward", "grad_hx", "(grad_h1, grad_c1)")
        grad_input, grad_h0, grad_c0 = self._step_backward(grad_h, grad_c)
        return grad_input, (grad_h0, grad_c0)


class GRUCell(RNNCellBase):
    r"""A GRU cell, as ``torch.nn.GRUCell`` (gates r, z, n; :math:`h' = (1 - z) n + z h`).

    Call: ``h1 = cell(input, hx=None)``. Training: ``backward(grad_h1) -> (grad_input, grad_h0)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> np.ndarray:
        """``h1 = cell(input, hx)``; call the module rather than this."""
        if isinstance(hx, tuple):
            raise TypeError(f"GRUCell expects hx as one array h of shape (N, {self.hidden_size}), got a tuple of "
                            f"{len(hx)} (a tuple (h, c) is an LSTMCell's state)")
        return self._step(input, hx, None)[0]

    def backward(self, grad_h1: Any) -> Tuple[np.ndarray, np.ndarray]:
        """The step's backward: adds to the parameters' ``.grad``; returns ``(grad_input, grad_h0)``."""
        grad_input, grad_h0 = self._step_backward(grad_h1, None)
        return grad_input, grad_h0
