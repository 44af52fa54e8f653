"""The recurrent layers of ``torch.nn``: RNN (Elman), LSTM and GRU, on one native engine.

They share their configuration, parameter layout (torch's names and order), initialisation, shape rules (the
Swift core's, which every message comes from), dropout, training-mode saving and backward: ``RNNBase``.
"""
from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

import numpy as np

from ... import _native
from ... import random as _random
from ._checks import check_bool, check_factory_kwargs, check_parameter_memory, check_size
from ..parameter import _GRAD_LOCK, Parameter, _commit_grads, _grad_accumulators
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU"]

# torch's mode strings -> (the core's nonlinearity code, the core's cell code, gate blocks).
_MODES = {"RNN_TANH": (0, 0, 1), "RNN_RELU": (1, 0, 1), "LSTM": (0, 1, 4), "GRU": (0, 2, 3)}
_NONLINEARITIES = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}

_Hx = Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]


class RNNBase(Module):
    """What RNN, LSTM and GRU share, as torch's ``nn.RNNBase``: the constructor arguments, torch's parameter
    names and order (per layer, per direction: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, then an
    LSTM's ``weight_hr``), U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) initialisation in that order, the
    forward (``_run``) and the backward (``_backward``). Use the subclasses."""

    if TYPE_CHECKING:  # for type checkers only: the attributes __init__ sets; a call runs forward
        mode: str
        input_size: int
        hidden_size: int
        num_layers: int
        bias: bool
        batch_first: bool
        dropout: float
        bidirectional: bool
        proj_size: int
        _cell: int
        _desc: Tuple[int, ...]
        _flat: Tuple[Parameter, ...]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_factory_kwargs(device, dtype)
        if mode not in _MODES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout!r}")
        self.mode = mode
        object.__setattr__(self, "_cell", _MODES[mode][1])  # the recurrence this module's parameters are shaped for
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_size(num_layers, "num_layers", minimum=1)
        self.bias = check_bool(bias, "bias")
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dropout = float(dropout)
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.proj_size = check_size(proj_size, "proj_size")
        if self.proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if self.proj_size >= self.hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={self.num_layers}", stacklevel=3)
        self._desc = self._make_desc()

        D = 2 if self.bidirectional else 1
        H, P, G = self.hidden_size, self.proj_size or self.hidden_size, _MODES[mode][2]
        # Before any allocation (or a loop over a huge num_layers): per direction, layer 0 and the others.
        later = D * (self.num_layers - 1)
        biases = 2 * D * self.num_layers if self.bias else 0
        check_parameter_memory(f"{type(self).__name__}({self.input_size}, {H}, num_layers={self.num_layers})",
                               [(G * H, self.input_size), (G * H, D * P), (G * H, P), (G * H,), (P, H)],
                               repeats=[D, later, D * self.num_layers, biases,
                                        D * self.num_layers if self.proj_size else 0])
        params: List[Tuple[str, np.ndarray]] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else D * P
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                params.append(("weight_ih" + suffix, np.empty((G * H, layer_input), dtype=np.float32)))
                params.append(("weight_hh" + suffix, np.empty((G * H, P), dtype=np.float32)))
                if self.bias:
                    params.append(("bias_ih" + suffix, np.empty((G * H,), dtype=np.float32)))
                    params.append(("bias_hh" + suffix, np.empty((G * H,), dtype=np.float32)))
                if self.proj_size:
                    params.append(("weight_hr" + suffix, np.empty((P, H), dtype=np.float32)))
        _random._init_rnn_([p for _, p in params], H)
        for name, p in params:
            self.register_parameter(name, p)

    def __call__(self, input: Any, hx: Optional[Any] = None) -> Any:
        # Module.__call__ without packing *args/**kwargs (most of a tiny RNN call is overhead). It still
        # looks up self.forward, so a forward patched on the instance runs, as in torch.
        return self.forward(input, hx)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass of RNN, LSTM or GRU that defines another forward gets the generic __call__ back.
        for base in cls.__mro__[1:]:
            if base.__module__ == __name__ and "forward" in base.__dict__:
                cls._keep_direct_call(base)
                break

    # What the native call reads of the module's attributes. torch reads them on every forward, so a change
    # after construction (``rnn.batch_first = True``) takes effect: setting one rebuilds the description.
    _DESC_ATTRIBUTES = frozenset({"input_size", "hidden_size", "num_layers", "mode", "bias", "batch_first",
                                  "bidirectional", "proj_size"})

    def _make_desc(self) -> Tuple[int, ...]:
        allowed = [m for m, (_, cell, _) in _MODES.items() if cell == self._cell]
        if self.mode not in allowed:
            raise ValueError(f"Unknown mode {self.mode!r} for {type(self).__name__}: expected "
                             + " or ".join(map(repr, allowed)))
        nonlinearity, cell, _ = _MODES[self.mode]
        return (check_size(self.input_size, "input_size"), check_size(self.hidden_size, "hidden_size", minimum=1),
                check_size(self.num_layers, "num_layers", minimum=1), nonlinearity,
                int(bool(self.bias)), int(bool(self.batch_first)), int(bool(self.bidirectional)), cell,
                check_size(self.proj_size, "proj_size"))

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in RNNBase._DESC_ATTRIBUTES or "_desc" not in self.__dict__:
            super().__setattr__(name, value)
            return
        previous = self.__dict__[name]
        super().__setattr__(name, value)
        try:
            object.__setattr__(self, "_desc", self._make_desc())
        except (TypeError, ValueError):
            super().__setattr__(name, previous)  # a refused value leaves the module as it was
            raise

    def reset_parameters(self) -> None:
        """Draws every parameter again from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in state_dict
        order and in place (optimizers keep working), as torch's: after the same ``manual_seed``, torch's
        values."""
        _random._init_rnn_([p for p in self._parameters.values() if p is not None], self.hidden_size)

    def _parameters_changed(self) -> None:
        # The native call takes the parameters as one tuple in state_dict order; rebuilt only when an
        # array is replaced (load_state_dict copies in place and keeps it valid).
        object.__setattr__(self, "_flat", tuple(p for p in self._parameters.values() if p is not None))

    def flatten_parameters(self) -> None:
        """Does nothing, as torch's on the CPU (there it packs the weights for cuDNN); kept so ported code runs."""

    @property
    def all_weights(self) -> List[List[np.ndarray]]:
        """The parameters grouped per layer and direction, as torch's ``all_weights``."""
        per = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        flat = self._flat
        return [list(flat[i:i + per]) for i in range(0, len(flat), per)]

    def _run(self, input: Any, h0: Any, c0: Any) -> Tuple[Any, ...]:
        """The forward of every subclass: (output, hn) or, for an LSTM, (output, hn, cn). In training mode
        (with gradients enabled) what the backward needs is saved. A PackedSequence (swiftrnn's or torch's) runs
        packed: step t on the first batch_sizes[t] sequences, the output packed the same way, the states in the
        batch's original order."""
        packing = None
        if type(input) is not np.ndarray and type(input).__name__ == "PackedSequence":  # ndarray: the fast path
            input, packing = _unpack(input)
            h0, c0 = _permute_states(packing[1], h0, c0)
        masks = None
        if self.dropout > 0 and self._training_now() and self.num_layers > 1:
            masks = self._dropout_masks(input, packed=packing is not None)
        sizes = None if packing is None else packing[0]
        if not self._records():
            self._save_for_backward(None)
            results = _native.rnn_forward(input, h0, self._flat, self._desc, masks, None, None, c0, sizes)
        else:
            # A training forward: the native call keeps private copies of the input and the states and every
            # layer's output and gates (in the last backward's buffer when it fits: no fresh pages every step),
            # and returns them as its last element.
            spare = self.__dict__.pop("_spare_saved", True)  # taken atomically: never two threads' buffer
            with_saved = _native.rnn_forward(input, h0, self._flat, self._desc, masks, spare, None, c0, sizes)
            self._save_for_backward((with_saved[-1], packing))
            results = with_saved[:-1]
        if packing is None:
            return results
        output, *states = results
        return (PackedSequence._make((output, *packing)), *_permute_states(packing[2], *states))

    def _backward(self, grad_output: Any, grad_hn: Any, grad_cn: Any) -> Tuple[Any, ...]:
        """The backward of every subclass: (grad_input, grad_h0) or, for an LSTM, (grad_input, grad_h0, grad_c0).
        After a packed forward, grad_output may be a PackedSequence or its data, and grad_input is packed too."""
        (x, h0, masks, saved, *c0), packing = self._saved_for_backward()  # the training forward's native state
        sizes = None
        if packing is not None:
            if type(grad_output).__name__ == "PackedSequence":
                grad_output = grad_output.data
            grad_hn, grad_cn = _permute_states(packing[1], grad_hn, grad_cn)
            sizes = packing[0]
        extra = (c0[0], grad_cn, sizes) if self.mode == "LSTM" else (None, None, sizes)
        with _GRAD_LOCK:
            grads, fresh = _grad_accumulators(self._flat)
            result = _native.rnn_backward(x, h0, self._flat, self._desc, masks, saved, grad_output, grad_hn,
                                          tuple(grads), *extra)
            _commit_grads(fresh)
        self._release_saved()
        object.__setattr__(self, "_spare_saved", saved)
        if packing is None:
            return tuple(result)
        grad_input, *grad_states = result
        return (PackedSequence._make((grad_input, *packing)), *_permute_states(packing[2], *grad_states))

    def _single_state(self, hx: Any) -> Any:
        """RNN's and GRU's hx: one array (a tuple is an LSTM's (h_0, c_0): a TypeError that says so)."""
        if isinstance(hx, tuple):
            raise TypeError(f"{type(self).__name__} expects hx as one array h_0 of shape (D * num_layers, N, "
                            f"hidden_size), got a tuple of {len(hx)} (a tuple (h_0, c_0) is an LSTM's state)")
        return hx

    def _dropout_masks(self, input: Any, packed: bool = False) -> Optional[np.ndarray]:
        shape = np.shape(input)
        if packed:  # the packed data: (total, H_in), one row per step of each sequence
            L, N = (shape[0], 1) if len(shape) == 2 else (0, 0)
        elif len(shape) == 3:
            L, N = (shape[1], shape[0]) if self.batch_first else (shape[0], shape[1])
        elif len(shape) == 2:
            L, N = shape[0], 1
        else:
            return None  # the native call reports the bad shape
        D = 2 if self.bidirectional else 1
        return _random._dropout_mask((self.num_layers - 1, L, N, D * (self.proj_size or self.hidden_size)),
                                     self.dropout)

    def extra_repr(self) -> str:
        """The text inside ``RNN(...)`` / ``LSTM(...)`` / ``GRU(...)`` of the repr, as torch prints it."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    r"""A multi-layer Elman RNN with tanh or ReLU, as ``torch.nn.RNN``.

    For each element of the input sequence each layer computes

    .. math:: h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    Args:
        input_size (int): features of the input x.
        hidden_size (int): features of the hidden state h (> 0).
        num_layers (int): stacked recurrent layers. Default: 1.
        nonlinearity (str): ``'tanh'`` or ``'relu'``. Default: ``'tanh'``.
        bias (bool): if False, no ``b_ih`` / ``b_hh``. Default: True.
        batch_first (bool): if True, input and output are ``(N, L, *)`` instead of ``(L, N, *)``;
            h0 and hn are not affected. Default: False.
        dropout (float): in training mode, dropout with this probability on the outputs of each
            layer except the last. Default: 0. The masks are drawn from swiftrnn's generator as torch
            draws them: after the same ``manual_seed``, torch's masks.
        bidirectional (bool): if True, a reverse direction too (D = 2). Default: False.

    Call: ``output, hn = rnn(input, h0=None)``

    Shape (L: sequence length, N: batch, D: 2 if bidirectional else 1, H: hidden_size):
        - input: ``(L, N, input_size)``, ``(N, L, input_size)`` if batch_first, or unbatched
          ``(L, input_size)``; any real float dtype (cast to float32), nested lists or torch tensors.
        - h0: ``(D * num_layers, N, H)``, or ``(D * num_layers, H)`` unbatched; zeros if omitted.
        - output: ``(L, N, D * H)`` (``(N, L, D * H)`` if batch_first, ``(L, D * H)`` unbatched): the
          last layer's h_t for every t.
        - hn: shaped like h0: every layer's final hidden state.

    Attributes:
        weight_ih_l[k] (Parameter): ``(H, input_size)`` for k = 0, else ``(H, D * H)``.
        weight_hh_l[k] (Parameter): ``(H, H)``.
        bias_ih_l[k], bias_hh_l[k] (Parameter): ``(H,)``.
        ``..._reverse``: the same for the reverse direction. All initialised from U(-k, k), k = 1/sqrt(H).

    Raises:
        ValueError: an input that is not 2-d or 3-d, whose last dimension is not input_size, with
            sequence length 0, or an h0 of the wrong shape (the message gives expected and actual shapes).
        TypeError: integer, bool, complex or non-numeric input.

    Training: in training mode the forward keeps copies of its input and h0, every layer's outputs and
    the dropout masks; ``backward(grad_output, grad_hn=None)`` then runs backpropagation through time
    and returns ``(grad_input, grad_h0)``.

    Example::

        >>> from swiftrnn import nn
        >>> import numpy as np
        >>> rnn = nn.RNN(input_size=128, hidden_size=256)
        >>> output, hn = rnn(np.random.randn(5, 32, 128), np.zeros((1, 32, 256)))
        >>> output.shape, hn.shape
        ((5, 32, 256), (1, 32, 256))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        if not isinstance(nonlinearity, str) or nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(_NONLINEARITIES[nonlinearity], input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``output, hn = rnn(input, h0)``; call the module rather than this. Shapes are in the class
        docstring: input ``(L, N, H_in)`` (``(N, L, H_in)`` if batch_first, ``(L, H_in)`` unbatched), h0 and hn
        ``(D * num_layers, N, H)``, output ``(L, N, D * H)``.

        Args:
            input: the input sequence; any real float dtype (cast to float32), nested lists, objects with
                ``__array__`` or the buffer protocol, torch tensors.
            hx: the initial hidden state h0, or None for zeros.

        Returns:
            ``(output, hn)``: new float32 arrays. In training mode what ``backward`` needs is saved.

        Raises:
            ValueError: wrong rank or sizes of input or h0 (expected and actual shapes named).
            TypeError: non-numeric, integer, bool or complex input; a tuple for hx (an LSTM's state).
        """
        if isinstance(hx, tuple):
            self._single_state(hx)  # raises, saying which form it takes
        return self._run(input, hx, None)

    def backward(self, grad_output: Any, grad_hn: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Backpropagation through time for the last training-mode forward, through every layer and
        both directions, reusing that forward's dropout masks.

        Adds each parameter's gradient to its ``.grad`` (parameters with ``requires_grad=False`` get
        none) and returns ``(grad_input, grad_h0)``: the gradients w.r.t. the input (shaped like it,
        batch_first and unbatched included) and w.r.t. h0 (shaped like hn; also when h0 was omitted,
        i.e. zeros).

        Args:
            grad_output: the gradient w.r.t. ``output``, shaped like it.
            grad_hn: the gradient w.r.t. ``hn``, shaped like it, or None for zeros.

        Raises:
            RuntimeError: no training-mode forward to work from (none yet, an eval-mode one, or its
                state already used by a backward).
            ValueError: a gradient of the wrong shape (expected and actual shapes named).
        """
        return self._backward(grad_output, grad_hn, None)


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory RNN, as ``torch.nn.LSTM``.

    For each element of the input sequence each layer computes (gates in torch's row order i, f, g, o)

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}),\quad
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}),\\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}),\quad
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}),\\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t,\quad h_t = o_t \odot \tanh(c_t)

    and with ``proj_size > 0``, :math:`h_t = W_{hr} h_t`.

    Args: as ``nn.RNN`` (no ``nonlinearity``), plus
        proj_size (int): if > 0, h is projected to this size (P); must be smaller than hidden_size. Default: 0.

    Call: ``output, (h_n, c_n) = lstm(input, (h_0, c_0))`` (``hx=None``: zeros).

    Shape (P: proj_size or hidden_size H):
        - input: as ``nn.RNN``'s; output ``(L, N, D * P)`` (batch_first / unbatched as the input).
        - h_0, h_n: ``(D * num_layers, N, P)``; c_0, c_n: ``(D * num_layers, N, H)`` (unbatched: without N).

    Attributes:
        weight_ih_l[k]: ``(4H, input_size)`` for k = 0, else ``(4H, D * P)``; weight_hh_l[k]: ``(4H, P)``;
        bias_ih_l[k], bias_hh_l[k]: ``(4H,)``; weight_hr_l[k]: ``(P, H)`` with proj_size; ``..._reverse`` likewise.
        All initialised from U(-k, k), k = 1/sqrt(H), in this order (torch's values after the same seed).

    Raises:
        TypeError: an hx that is not a tuple ``(h_0, c_0)`` (the message says what to pass).
        ValueError: shapes, as ``nn.RNN`` (expected and actual shapes named).

    Training: ``backward(grad_output, grad_hx=None) -> (grad_input, (grad_h0, grad_c0))``, with
    ``grad_hx = (grad_h_n, grad_c_n)`` (either may be None).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """``output, (h_n, c_n) = lstm(input, (h_0, c_0))``; call the module rather than this (shapes in the class
        docstring). ``hx=None`` starts from zeros."""
        h0, c0 = _pair(hx, "LSTM", "hx", "(h_0, c_0)")
        output, hn, cn = self._run(input, h0, c0)
        return output, (hn, cn)

    def backward(self, grad_output: Any,
                 grad_hx: Optional[Any] = None) -> Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Backpropagation through time for the last training-mode forward: adds to every parameter's ``.grad``
        and returns ``(grad_input, (grad_h0, grad_c0))``. ``grad_hx``: ``(grad_h_n, grad_c_n)``, either None for
        zeros, or None for both."""
        grad_hn, grad_cn = _pair(grad_hx, "LSTM.backward", "grad_hx", "(grad_h_n, grad_c_n)")
        grad_input, grad_h0, grad_c0 = self._backward(grad_output, grad_hn, grad_cn)
        return grad_input, (grad_h0, grad_c0)


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit RNN, as ``torch.nn.GRU``.

    For each element of the input sequence each layer computes (gates in torch's row order r, z, n)

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}),\quad
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),\\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})),\quad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Args, call, shapes and training: as ``nn.RNN`` (no ``nonlinearity``): ``output, h_n = gru(input, h_0)``,
    ``backward(grad_output, grad_hn=None) -> (grad_input, grad_h0)``. Weights ``(3H, ...)``, biases ``(3H,)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``output, h_n = gru(input, h_0)``; call the module rather than this (shapes as ``nn.RNN``'s)."""
        if isinstance(hx, tuple):
            self._single_state(hx)  # raises, saying which form it takes
        return self._run(input, hx, None)

    def backward(self, grad_output: Any, grad_hn: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Backpropagation through time for the last training-mode forward (as ``RNN.backward``)."""
        return self._backward(grad_output, grad_hn, None)


def _unpack(sequence: Any) -> Tuple[np.ndarray, Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]]:
    """A PackedSequence's data and (batch_sizes, sorted_indices, unsorted_indices) as NumPy arrays (torch's
    PackedSequence too)."""
    def indices(v: Any) -> Optional[np.ndarray]:
        return None if v is None else np.asarray(v, dtype=np.int64)
    sizes = indices(sequence.batch_sizes)
    assert sizes is not None
    return sequence.data, (sizes, indices(sequence.sorted_indices), indices(sequence.unsorted_indices))


def _permute_states(order: Optional[np.ndarray], *states: Any) -> Tuple[Any, ...]:
    """States (D * num_layers, N, *) with their batch axis reordered by `order` (None: as they are)."""
    if order is None:
        return states
    return tuple(None if s is None else np.asarray(s, dtype=np.float32)[:, order] for s in states)


def _pair(value: Any, owner: str, name: str, form: str) -> Tuple[Any, Any]:
    """An LSTM's two states (or their gradients): None, or a tuple/list of two (each may be None)."""
    if value is None:
        return None, None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    got = f"a {type(value).__name__} of {len(value)}" if isinstance(value, (tuple, list)) else type(value).__name__
    raise TypeError(f"{owner} expects {name} as a tuple {form} of two arrays, got {got}")
