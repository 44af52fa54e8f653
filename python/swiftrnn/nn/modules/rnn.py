"""nn.RNN: a multi-layer Elman RNN, h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import numpy as np

from ... import _native
from ... import random as _random
from ._checks import check_bool, check_factory_kwargs, check_parameter_memory, check_size
from ..parameter import _GRAD_LOCK, Parameter, _commit_grads, _grad_accumulators
from .module import Module

__all__ = ["RNN"]

_NONLINEARITY_CODES = {"tanh": 0, "relu": 1}
_MODE_CODES = {"RNN_TANH": 0, "RNN_RELU": 1}


class RNN(Module):
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

    if TYPE_CHECKING:  # for type checkers only: the attributes __init__ sets; a call runs forward
        mode: str
        input_size: int
        hidden_size: int
        num_layers: int
        nonlinearity: str
        bias: bool
        batch_first: bool
        dropout: float
        bidirectional: bool
        proj_size: int
        _desc: Tuple[int, ...]
        _flat: Tuple[Parameter, ...]

    def __call__(self, input: Any, hx: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
        # Module.__call__ without packing *args/**kwargs (most of a tiny RNN call is overhead). It still
        # looks up self.forward, so a forward patched on the instance runs, as in torch.
        return self.forward(input, hx)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._keep_direct_call(RNN)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_factory_kwargs(device, dtype)
        if not isinstance(nonlinearity, str) or nonlinearity not in _NONLINEARITY_CODES:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout!r}")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_size(num_layers, "num_layers", minimum=1)
        self.nonlinearity = nonlinearity
        self.bias = check_bool(bias, "bias")
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dropout = float(dropout)
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.proj_size = 0
        if dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={self.num_layers}", stacklevel=2)
        self._desc = self._make_desc()

        num_directions = 2 if self.bidirectional else 1
        H = self.hidden_size
        # Before any allocation (or a loop over a huge num_layers): per direction, layer 0 and the others.
        D, later = num_directions, num_directions * (self.num_layers - 1)
        biases = 2 * D * self.num_layers if self.bias else 0
        check_parameter_memory(f"RNN({self.input_size}, {H}, num_layers={self.num_layers})",
                               [(H, self.input_size), (H, D * H), (H, H), (H,)],
                               repeats=[D, later, D * self.num_layers, biases])
        params: List[Tuple[str, np.ndarray]] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else num_directions * H
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                params.append(("weight_ih" + suffix, np.empty((H, layer_input), dtype=np.float32)))
                params.append(("weight_hh" + suffix, np.empty((H, H), dtype=np.float32)))
                if self.bias:
                    params.append(("bias_ih" + suffix, np.empty((H,), dtype=np.float32)))
                    params.append(("bias_hh" + suffix, np.empty((H,), dtype=np.float32)))
        _random._init_rnn_([p for _, p in params], H)
        for name, p in params:
            self.register_parameter(name, p)

    # What the native call reads of the module's attributes. torch reads them on every forward, so a change
    # after construction (``rnn.batch_first = True``) takes effect: setting one rebuilds the description.
    _DESC_ATTRIBUTES = frozenset({"input_size", "hidden_size", "num_layers", "mode", "bias", "batch_first",
                                  "bidirectional"})

    def _make_desc(self) -> Tuple[int, ...]:
        if self.mode not in _MODE_CODES:
            raise ValueError(f"Unknown mode {self.mode!r}: expected 'RNN_TANH' or 'RNN_RELU'")
        return (check_size(self.input_size, "input_size"), check_size(self.hidden_size, "hidden_size", minimum=1),
                check_size(self.num_layers, "num_layers", minimum=1), _MODE_CODES[self.mode],
                int(bool(self.bias)), int(bool(self.batch_first)), int(bool(self.bidirectional)))

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in RNN._DESC_ATTRIBUTES or "_desc" not in self.__dict__:
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
        per = 4 if self.bias else 2
        flat = self._flat
        return [list(flat[i:i + per]) for i in range(0, len(flat), per)]

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
            TypeError: non-numeric, integer, bool or complex input.
        """
        masks = None
        if self.training and self.dropout > 0 and self.num_layers > 1:
            masks = self._dropout_masks(input)
        if not self._records():
            self._save_for_backward(None)
            return _native.rnn_forward(input, hx, self._flat, self._desc, masks, None)
        # A training forward: the native call keeps private copies of the input and h0 and every layer's
        # output (in the last backward's buffer when it fits: no fresh pages every step), and returns them.
        spare = self.__dict__.pop("_spare_saved", True)  # taken atomically: never two threads' buffer
        output, hn, saved = _native.rnn_forward(input, hx, self._flat, self._desc, masks, spare)
        self._save_for_backward(saved)
        return output, hn

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
        x, h0, masks, saved = self._saved_for_backward()  # what the training forward's native call returned
        with _GRAD_LOCK:
            grads, fresh = _grad_accumulators(self._flat)
            grad_input, grad_h0 = _native.rnn_backward(x, h0, self._flat, self._desc, masks, saved, grad_output,
                                                       grad_hn, tuple(grads))
            _commit_grads(fresh)
        self._release_saved()
        object.__setattr__(self, "_spare_saved", saved)
        return grad_input, grad_h0

    def _dropout_masks(self, input: Any) -> Optional[np.ndarray]:
        shape = np.shape(input)
        if len(shape) == 3:
            L, N = (shape[1], shape[0]) if self.batch_first else (shape[0], shape[1])
        elif len(shape) == 2:
            L, N = shape[0], 1
        else:
            return None  # the native call reports the bad shape
        D = 2 if self.bidirectional else 1
        return _random._dropout_mask((self.num_layers - 1, L, N, D * self.hidden_size), self.dropout)

    def extra_repr(self) -> str:
        """The text inside ``RNN(...)`` of the repr, as torch prints it."""
        s = f"{self.input_size}, {self.hidden_size}"
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
