"""nn.Embedding: a lookup table of vectors."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ... import _native
from ... import random as _random
from ._checks import check_bool, check_factory_kwargs, check_float, check_parameter_memory, check_size
from ..parameter import _GRAD_LOCK, Parameter, _commit_grads, _grad_accumulators
from .module import Module, _as_float32

__all__ = ["Embedding"]


class Embedding(Module):
    r"""A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, as ``torch.nn.Embedding``.

    Args:
        num_embeddings (int): size of the dictionary (rows of the table).
        embedding_dim (int): size of each vector.
        padding_idx (int, optional): a row that stands for padding; negative values count from the
            end. It is zeroed at initialisation (and gets no gradient in training).
        max_norm (float, optional): looked-up rows whose ``norm_type``-norm exceeds it are rescaled
            **in place in the weight** to norm ``max_norm`` before the lookup, as in torch.
        norm_type (float): the p of the p-norm for ``max_norm``. Default: 2.
        scale_grad_by_freq (bool): scale gradients by the inverse frequency of the indices in the batch.
        sparse (bool): accepted for compatibility; gradients are always dense here.

    Attributes:
        weight (Parameter): float32 ``(num_embeddings, embedding_dim)``, initialised from N(0, 1);
            ``requires_grad`` is False for a frozen ``from_pretrained`` weight.

    Shape:
        - Input: ``(*)`` integer indices of any integer dtype (Python int, list, NumPy array or torch
          tensor), any shape including 0-d.
        - Output: ``(*, embedding_dim)``, a new float32 array.

    Raises:
        IndexError: an index outside ``[0, num_embeddings)`` (negative indices are out of range, as in torch).
        TypeError: float, bool, complex or string indices.

    Example::

        >>> from swiftrnn import nn
        >>> embed = nn.Embedding(10, 4)
        >>> embed([[1, 2], [3, 4]]).shape
        (2, 2, 4)
    """

    if TYPE_CHECKING:  # for type checkers only: the attributes __init__ sets; a call runs forward
        num_embeddings: int
        embedding_dim: int
        padding_idx: Optional[int]
        max_norm: Optional[float]
        norm_type: float
        scale_grad_by_freq: bool
        sparse: bool
        weight: Parameter

    def __call__(self, input: Any) -> np.ndarray:
        # Module.__call__ without packing *args/**kwargs (a small lookup is mostly per-call overhead). It
        # still looks up self.forward, so a forward patched on the instance runs, as in torch.
        return self.forward(input)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._keep_direct_call(Embedding)

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 max_norm: Optional[float] = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_factory_kwargs(device, dtype)
        self.num_embeddings = check_size(num_embeddings, "num_embeddings")
        self.embedding_dim = check_size(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            padding_idx = check_size(padding_idx, "padding_idx", minimum=-(2**63))
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"padding_idx must be within num_embeddings: expected "
                                 f"{-self.num_embeddings} <= padding_idx < {self.num_embeddings}, got {padding_idx}")
            if padding_idx < 0:
                padding_idx += self.num_embeddings
        self.padding_idx = padding_idx
        # Stored as given (torch's repr shows max_norm=2, not 2.0); checked to be real numbers.
        checked_max_norm = check_float(max_norm, "max_norm", optional=True)
        if checked_max_norm is not None and checked_max_norm < 0:
            raise ValueError(f"max_norm must be non-negative, got {max_norm}")
        self.max_norm = max_norm
        check_float(norm_type, "norm_type")
        self.norm_type = norm_type
        self.scale_grad_by_freq = check_bool(scale_grad_by_freq, "scale_grad_by_freq")
        self.sparse = check_bool(sparse, "sparse")
        self._freeze = check_bool(_freeze, "_freeze")
        shape = (self.num_embeddings, self.embedding_dim)
        check_parameter_memory(f"Embedding({self.num_embeddings}, {self.embedding_dim})", [shape])
        if _weight is None:
            weight = np.empty(shape, dtype=np.float32)
            _random._init_embedding_(weight, self.padding_idx)
            self.register_parameter("weight", weight)
        else:
            weight = _as_float32(_weight, "_weight")
            if weight.shape != shape:
                raise ValueError(f"Shape of weight does not match num_embeddings and embedding_dim: "
                                 f"expected {shape}, got {weight.shape}")
            self.register_parameter("weight", weight)
        self.weight.requires_grad = not self._freeze

    def reset_parameters(self) -> None:
        """Draws the weight from N(0, 1) again and zeroes the padding_idx row, in place, as torch's: after the
        same ``manual_seed``, torch's values."""
        _random._init_embedding_(self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: Optional[int] = None,
                        max_norm: Optional[float] = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is a float32 copy of ``embeddings`` (2-d: rows, embedding_dim).

        With ``freeze=True`` (the default) the weight is not trained. The padding row is not zeroed.
        """
        weight = _as_float32(embeddings, "embeddings")
        if weight.ndim != 2:
            raise ValueError(f"Embeddings parameter is expected to be 2-dimensional, got shape {weight.shape}")
        rows, cols = weight.shape
        return cls(rows, cols, _weight=weight, _freeze=freeze, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)

    def forward(self, input: Any) -> np.ndarray:
        """Looks up rows of ``weight``; call the module (``embed(ids)``) rather than this.

        Args:
            input: integer indices of any shape ``(*)``: a Python int, nested lists, an array of any integer
                dtype, an object with ``__array__`` or the buffer protocol, or a torch tensor.

        Returns:
            A new float32 array ``(*, embedding_dim)``. With ``max_norm`` the looked-up rows of ``weight`` are
            renormalised in place first, as torch.

        Raises:
            IndexError: an index outside ``[0, num_embeddings)`` (the index and the valid range named).
            TypeError: non-integer indices.
        """
        if not self._records():
            self._save_for_backward(None)
            return _native.embedding_forward(self.weight, input, self.max_norm, self.norm_type)
        # One native call converts the indices, looks them up and returns a private copy of them for backward.
        out, indices = _native.embedding_forward(self.weight, input, self.max_norm, self.norm_type, True)
        self._save_for_backward(indices)
        return out

    def backward(self, grad_output: Any) -> None:
        """Backward of the last training-mode forward: adds to ``weight.grad`` the gradient of every
        looked-up row, the sum of ``grad_output`` over the positions that looked it up (divided by the
        row's count among the indices if ``scale_grad_by_freq``). The ``padding_idx`` row gets nothing;
        a frozen weight (``requires_grad=False``) gets no gradient at all.

        Args:
            grad_output: the gradient w.r.t. the output, ``(*indices.shape, embedding_dim)``.

        Raises:
            RuntimeError: no training-mode forward to work from.
            ValueError: ``grad_output`` of the wrong shape (expected and actual shapes named).
        """
        indices = self._saved_for_backward()
        if self.weight.requires_grad:
            with _GRAD_LOCK:
                (gw,), fresh = _grad_accumulators([self.weight])
                _native.embedding_backward(indices, grad_output, gw, self.padding_idx, self.scale_grad_by_freq)
                _commit_grads(fresh)
        else:
            expected = indices.shape + (self.embedding_dim,)
            got = np.shape(grad_output)
            if tuple(got) != expected:
                raise ValueError(f"expected grad_output of shape {expected}, got {tuple(got)}")
        self._release_saved()

    def extra_repr(self) -> str:
        """The text inside ``Embedding(...)`` of the repr, as torch prints it."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s
