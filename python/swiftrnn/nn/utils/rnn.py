r"""Variable-length batches as ``torch.nn.utils.rnn``: PackedSequence and the pack/pad functions, on NumPy arrays.

A batch of sequences of different lengths is held either *padded* (one array ``(T, B, *)``, or ``(B, T, *)``
with ``batch_first=True``, plus the lengths) or *packed*: the steps of all sequences, sorted longest first, laid
out step by step in one array ``data`` of ``sum(lengths)`` rows, with ``batch_sizes[t]`` the number of sequences
that have a step ``t``. A packed batch wastes nothing on padding. Example::

    >>> import numpy as np
    >>> from swiftrnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
    >>> a, b, c = np.ones((2, 3)), np.full((4, 3), 2.0), np.full((1, 3), 3.0)
    >>> padded = pad_sequence([a, b, c], batch_first=True)          # (3, 4, 3), zeros after each end
    >>> packed = pack_padded_sequence(padded, [2, 4, 1], batch_first=True, enforce_sorted=False)
    >>> packed.batch_sizes, packed.sorted_indices, packed.data.shape
    (array([3, 2, 1, 1]), array([1, 0, 2]), (7, 3))
    >>> out, lengths = pad_packed_sequence(packed, batch_first=True)  # the batch order given: a, b, c
    >>> bool((out == padded).all()), lengths
    (True, array([2, 4, 1]))

As in torch 2.15: the same functions, arguments, defaults, outputs and errors, with these differences.

- Arrays are NumPy arrays: inputs may be arrays, nested lists or torch tensors (lengths as lists, tuples,
  arrays or tensors). Floating inputs give float32 data (swiftrnn computes in float32); integer and bool inputs
  keep their dtype (targets packed like the inputs, for a loss on ``packed.data``). Index arrays are int64.
- A length longer than the input's time axis is a ValueError (torch returns a PackedSequence whose
  ``batch_sizes`` do not match its ``data``); errors about lengths name the offending position.
- ``pad_sequence`` requires equal trailing shapes (torch broadcasts some mismatches); ``unpad_sequence`` does
  not transpose its argument in place and checks its lengths.
- ``enforce_sorted=False`` sorts by length with a stable sort: equal lengths keep their batch order. torch's
  sort is stable up to 16 sequences; beyond that it may order equal lengths differently (the packed rows of
  those sequences then come in another order, which ``pad_packed_sequence`` undoes the same way).
- The PackedSequence constructor checks that its fields fit together (torch's does not).
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable, List, NamedTuple, NoReturn, Optional, Sequence, Tuple, TypeVar

import numpy as np

from ..._creation import _numpy_dtype
from ..._device import is_cpu
from ..modules._checks import check_bool, check_float
from ..modules.module import _names_device

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]

_P = TypeVar("_P", bound="PackedSequence")

# torch's dtype names that NumPy spells otherwise (np.dtype("float") would be float64).
_TORCH_DTYPE_NAMES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
                      "short": "int16", "char": "int8", "byte": "uint8"}


def _as_array(value: Any) -> np.ndarray:
    """A NumPy array of an array-like; a torch tensor through ``detach().cpu().numpy()`` (np.asarray refuses one
    that requires grad)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _data_dtype(dtype: np.dtype, where: str) -> np.dtype:
    """The dtype of packed/padded data made from values of ``dtype``: float32 for floats, else kept."""
    if dtype.kind == "f":
        return np.dtype(np.float32)
    if dtype.kind in "biu":
        return dtype
    raise TypeError(f"{where} has dtype {dtype}; expected real numbers (float, integer or bool)")


def _lengths(lengths: Any, fname: str) -> np.ndarray:
    """``lengths`` as a 1-D int64 array (integral floats accepted, as torch's int64 conversion would)."""
    arr = _as_array(lengths)
    if arr.ndim != 1:
        raise RuntimeError(f"{fname}: 'lengths' should be 1-D (one length per sequence), but got {arr.ndim}-D "
                           f"of shape {arr.shape}")
    if arr.dtype.kind == "f" or (arr.dtype.kind == "O" and arr.size):
        try:
            values = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{fname}: lengths must be integers, got {arr.tolist()!r}") from None
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.floor(values)))
        if bad.size:
            raise ValueError(f"{fname}: lengths must be integers, but lengths[{bad[0]}] = {values[bad[0]]}")
        return values.astype(np.int64)
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{fname}: lengths must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_lengths(lengths: np.ndarray, steps: int, enforce_sorted: bool, label: Callable[[int], str]) -> None:
    """torch's checks of a pack's lengths (all > 0; non-increasing if enforce_sorted), naming the first offending
    position as ``label(i)``, and none longer than the ``steps`` the data has (ValueError: torch has no check)."""
    bad = np.flatnonzero(lengths <= 0)
    if bad.size:
        i = int(bad[0])
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           f"that is <= 0: {label(i)} = {lengths[i]}")
    bad = np.flatnonzero(lengths > steps)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{label(i)} = {lengths[i]} is longer than the {steps} steps of the input")
    if enforce_sorted:
        bad = np.flatnonzero(lengths[:-1] < lengths[1:])
        if bad.size:
            i = int(bad[0])
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                f"if you do not need ONNX exportability. Here {label(i)} = {lengths[i]} < {label(i + 1)} = "
                f"{lengths[i + 1]}.")


def _sort_order(lengths: np.ndarray, enforce_sorted: bool) -> Optional[np.ndarray]:
    """sorted_indices: None when the lengths must already be sorted, else longest first (stable)."""
    return None if enforce_sorted else np.argsort(-lengths, kind="stable").astype(np.int64)


def _step_mask(batch_sizes: np.ndarray) -> np.ndarray:
    """(T, B) bool: whether sorted sequence b has step t (b < batch_sizes[t]). Its nonzero() pairs, row-major,
    are the packed rows in order."""
    return np.arange(int(batch_sizes[0]))[None, :] < batch_sizes[:, None]


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """batch_sizes[t] = how many of the (sorted, positive) lengths exceed t."""
    counts = np.bincount(sorted_lengths, minlength=int(sorted_lengths[0]) + 1)  # sequences per length
    return (len(sorted_lengths) - np.cumsum(counts)[:-1]).astype(np.int64)


def _check_permutation(perm: np.ndarray, size: int, name: str) -> None:
    if perm.ndim != 1 or len(perm) != size or perm.dtype.kind not in "iu" or \
            not np.array_equal(np.sort(perm), np.arange(size)):
        raise ValueError(f"PackedSequence: {name} must be a permutation of range({size}) (batch_sizes[0] = {size} "
                         f"sequences), got {perm.tolist()!r}")


def invert_permutation(permutation: Any) -> Optional[np.ndarray]:
    """The inverse of ``permutation`` (None for None), as int64: converts between ``sorted_indices`` and
    ``unsorted_indices``."""
    if permutation is None:
        return None
    perm = _as_array(permutation).astype(np.int64)
    out = np.empty_like(perm)
    out[perm] = np.arange(len(perm), dtype=np.int64)
    return out


class _PackedSequenceFields(NamedTuple):
    data: np.ndarray
    batch_sizes: np.ndarray
    sorted_indices: Optional[np.ndarray]
    unsorted_indices: Optional[np.ndarray]


class PackedSequence(_PackedSequenceFields):
    r"""A packed batch of variable-length sequences, as ``torch.nn.utils.rnn.PackedSequence``: a named tuple
    ``(data, batch_sizes, sorted_indices, unsorted_indices)``.

    Made by :func:`pack_padded_sequence` and :func:`pack_sequence` rather than by hand.

    Attributes:
        data: ``(sum(lengths), *)``, the steps of the sequences sorted longest first, step by step: the rows of
            step 0 of every sequence, then step 1 of those that have one, ... (float32 for float inputs).
        batch_sizes: int64 ``(T,)``: how many sequences have step t (non-increasing, all > 0).
        sorted_indices: int64 ``(B,)`` or None: sequence ``sorted_indices[i]`` of the original batch is the
            i-th longest. None when the batch was given sorted.
        unsorted_indices: int64 ``(B,)`` or None: the inverse permutation, which restores the original order;
            computed from ``sorted_indices`` when not given.

    The constructor also takes ``PackedSequence((data, batch_sizes), sorted_indices=...)`` as torch's does, and
    checks that the fields fit together (ValueError): ``batch_sizes`` 1-D, positive, non-increasing, summing to
    ``len(data)``; the indices permutations of ``range(batch_sizes[0])`` and inverse to each other.

    The device and dtype methods of torch's (``to``, ``cpu``, ``float``, ``is_cuda``, ``is_pinned``, ...)
    accept what ported code passes for CPU data and return the object unchanged; integer conversions
    (``long()``, ``to(torch.int64)``) convert ``data``; a GPU or a float dtype other than float32 is an error.
    """

    def __new__(cls: type[_P], data: Any, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> _P:
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), sorted_indices, unsorted_indices)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2 (data, batch_sizes) when "
                                     "batch_sizes is not given")
            data, batch_sizes = data
        data_arr = _as_array(data)
        data_arr = data_arr.astype(_data_dtype(data_arr.dtype, "PackedSequence: data"), copy=False)
        if data_arr.ndim == 0:
            raise ValueError("PackedSequence: data must have at least 1 dimension (one row per step of a "
                             "sequence), got a scalar")
        sizes = _as_array(batch_sizes)
        if sizes.ndim != 1 or sizes.size == 0 or sizes.dtype.kind not in "iu":
            raise ValueError(f"PackedSequence: batch_sizes must be a non-empty 1-D integer array, got "
                             f"{sizes.dtype} of shape {sizes.shape}")
        sizes = sizes.astype(np.int64, copy=False)
        if sizes[-1] < 1 or (sizes[:-1] < sizes[1:]).any():
            raise ValueError(f"PackedSequence: batch_sizes must be positive and non-increasing, got {sizes.tolist()}")
        if int(sizes.sum()) != data_arr.shape[0]:
            raise ValueError(f"PackedSequence: batch_sizes sum to {int(sizes.sum())} steps but data has "
                             f"{data_arr.shape[0]} rows (shape {data_arr.shape})")
        batch = int(sizes[0])
        order = None if sorted_indices is None else _as_array(sorted_indices)
        restore = None if unsorted_indices is None else _as_array(unsorted_indices)
        if order is not None:
            _check_permutation(order, batch, "sorted_indices")
            order = order.astype(np.int64, copy=False)
        if restore is None:
            restore = invert_permutation(order)
        else:
            _check_permutation(restore, batch, "unsorted_indices")
            restore = restore.astype(np.int64, copy=False)
            if order is not None and not np.array_equal(restore[order], np.arange(batch)):
                raise ValueError(f"PackedSequence: unsorted_indices {restore.tolist()} is not the inverse of "
                                 f"sorted_indices {order.tolist()}")
        return super().__new__(cls, data_arr, sizes, order, restore)

    # --- torch's device and dtype methods -------------------------------------------------------------
    def to(self: _P, *args: Any, **kwargs: Any) -> _P:
        """torch's ``to(device=None, dtype=None, non_blocking=False, copy=False)``, ``to(dtype)`` or
        ``to(tensor)``, applied to ``data``: self when nothing changes, else a PackedSequence with ``data``
        converted (the other fields shared).

        Raises:
            ValueError: a device other than the CPU.
            TypeError: a float dtype other than float32 (swiftrnn computes in float32), or an unknown keyword.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        copy = bool(kwargs.pop("copy", False))
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        flags = [arg for arg in args if isinstance(arg, bool)]  # non_blocking, then copy, given by position
        copy = copy or (len(flags) > 1 and flags[1])
        for arg in args:
            if isinstance(arg, bool):
                continue
            if _names_device(arg):
                device = arg
            elif not isinstance(arg, type) and hasattr(arg, "dtype") and hasattr(arg, "shape"):
                dtype, device = arg.dtype, getattr(arg, "device", None)  # to(tensor): its dtype and device
            else:
                dtype = arg
        if device is not None and not is_cpu(device):
            raise ValueError(f"swiftrnn runs on the CPU only; got device={device!r}")
        target = self.data.dtype if dtype is None else _resolve_dtype(dtype)
        if target == self.data.dtype and not copy:
            return self
        return type(self)(self.data.astype(target), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self: _P) -> _P:
        """Returns self: the arrays are in CPU memory."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Raises ValueError: swiftrnn runs on the CPU only."""
        raise ValueError("swiftrnn runs on the CPU only; cuda() is not available (use the PackedSequence as it is)")

    def pin_memory(self: _P) -> _P:
        """Returns self: pinned memory only speeds up copies to a GPU, which swiftrnn does not use."""
        return self

    def float(self: _P) -> _P:
        """``data`` as float32 (self if it is already)."""
        return self.to(np.float32)

    def double(self) -> NoReturn:
        """Raises TypeError: swiftrnn computes in float32 only."""
        raise TypeError("swiftrnn computes in float32 only; double() is not available")

    def half(self) -> NoReturn:
        """Raises TypeError: swiftrnn computes in float32 only."""
        raise TypeError("swiftrnn computes in float32 only; half() is not available")

    def long(self: _P) -> _P:
        """``data`` as int64 (class indices, for targets packed like the inputs)."""
        return self.to(np.int64)

    def int(self: _P) -> _P:
        """``data`` as int32."""
        return self.to(np.int32)

    def short(self: _P) -> _P:
        """``data`` as int16."""
        return self.to(np.int16)

    def char(self: _P) -> _P:
        """``data`` as int8."""
        return self.to(np.int8)

    def byte(self: _P) -> _P:
        """``data`` as uint8."""
        return self.to(np.uint8)

    @property
    def is_cuda(self) -> bool:
        """False: the data is in CPU memory."""
        return False

    def is_pinned(self) -> bool:
        """False: swiftrnn does not pin memory."""
        return False


def _resolve_dtype(dtype: Any) -> np.dtype:
    """A NumPy dtype for a torch dtype, NumPy dtype or name that ``data`` may be converted to."""
    name = _numpy_dtype(dtype)
    try:
        resolved = np.dtype(_TORCH_DTYPE_NAMES.get(name, name) if isinstance(name, str) else name)
    except TypeError:
        raise TypeError(f"PackedSequence.to(): {dtype!r} is not a dtype") from None
    if resolved.kind == "f" and resolved != np.float32 or resolved.kind not in "biuf":
        raise TypeError(f"swiftrnn computes in float32 only; got dtype={dtype!r}")
    return resolved


def _packed(x: np.ndarray, sorted_lengths: np.ndarray, order: Optional[np.ndarray], batch_first: bool,
            dtype: np.dtype) -> PackedSequence:
    """The PackedSequence of padded ``x`` ((T, B, *) or (B, T, *)) whose sequence ``order[i]`` (i if order is
    None) has length ``sorted_lengths[i]``: one gather of the rows (t, b) with t < length."""
    batch_sizes = _batch_sizes(sorted_lengths)
    t, b = np.nonzero(_step_mask(batch_sizes))
    if order is not None:
        b = order[b]
    rows = x[b, t] if batch_first else x[t, b]
    return PackedSequence(rows.astype(dtype, copy=False), batch_sizes, order, None)


def pack_padded_sequence(input: Any, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    r"""Packs a padded batch of variable-length sequences, as ``torch.nn.utils.rnn.pack_padded_sequence``.

    Args:
        input: ``(T, B, *)``, or ``(B, T, *)`` if ``batch_first``; steps past a sequence's length are ignored.
        lengths: the length of each sequence (B integers: list, tuple, array or tensor).
        batch_first: whether ``input`` is ``(B, T, *)``. Default: False.
        enforce_sorted: if True the lengths must be non-increasing (sorted_indices is None); if False the
            sequences are sorted here (stable, longest first) and sorted_indices records how. Default: True.

    Returns:
        a PackedSequence (``data`` float32 for float input; integer and bool inputs keep their dtype).

    Raises:
        RuntimeError (as torch): an empty input, ``len(lengths)`` not the batch size, a length <= 0, unsorted
            lengths with ``enforce_sorted``; lengths not 1-D.
        ValueError: a length longer than the input's time axis; lengths that are not integers.
        IndexError: an input with fewer than 2 dimensions.
    """
    x = _as_array(input)
    if x.ndim < 2:
        raise IndexError(f"pack_padded_sequence: input must have at least 2 dimensions (time and batch), got "
                         f"shape {x.shape}")
    dtype = _data_dtype(x.dtype, "pack_padded_sequence: input")
    lengths = _lengths(lengths, "pack_padded_sequence")
    batch_first, enforce_sorted = check_bool(batch_first, "batch_first"), check_bool(enforce_sorted, "enforce_sorted")
    steps, batch = (x.shape[1], x.shape[0]) if batch_first else x.shape[:2]
    if x.size == 0:
        raise RuntimeError(f"Cannot pack empty tensors. (input of shape {x.shape})")
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                           f"(batch_size={batch})")
    _check_lengths(lengths, steps, enforce_sorted, lambda i: f"lengths[{i}]")
    order = _sort_order(lengths, enforce_sorted)
    return _packed(x, lengths if order is None else lengths[order], order, batch_first, dtype)


def _sort_inverse(sequence: PackedSequence) -> Optional[np.ndarray]:
    """Where the i-th longest sequence goes in the original batch (None: it stays at i)."""
    if sequence.sorted_indices is not None:
        return sequence.sorted_indices
    return invert_permutation(sequence.unsorted_indices)


def _check_packed(sequence: Any, fname: str) -> PackedSequence:
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fname} expects a PackedSequence (from pack_padded_sequence or pack_sequence), got "
                        f"{type(sequence).__name__}")
    return sequence


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    r"""Pads a packed batch, as ``torch.nn.utils.rnn.pad_packed_sequence``: the inverse of
    :func:`pack_padded_sequence`.

    Args:
        sequence: the PackedSequence.
        batch_first: whether the output is ``(B, T, *)`` rather than ``(T, B, *)``. Default: False.
        padding_value: the value of the steps past each sequence's end. Default: 0.0.
        total_length: if given, T (at least the longest length): pads to a fixed length. Default: the longest.

    Returns:
        ``(padded, lengths)``: the padded array (``data``'s dtype), sequences in their original batch order
        (``unsorted_indices``), and their lengths (int64).

    Raises:
        ValueError: ``total_length`` shorter than the longest sequence (torch's message).
        TypeError: ``total_length`` not an int, or ``sequence`` not a PackedSequence.
    """
    sequence = _check_packed(sequence, "pad_packed_sequence")
    batch_first = check_bool(batch_first, "batch_first")
    value = check_float(padding_value, "padding_value")
    sizes = sequence.batch_sizes
    steps = len(sizes)
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral):
            raise TypeError(f"pad_packed_sequence: total_length must be an int or None, got "
                            f"{type(total_length).__name__}")
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = int(total_length)
    mask = _step_mask(sizes)
    t, b = np.nonzero(mask)
    order = _sort_inverse(sequence)
    if order is not None:
        b = order[b]
    batch, features = int(sizes[0]), sequence.data.shape[1:]
    shape = (batch, steps) if batch_first else (steps, batch)
    padded = np.full(shape + features, value, dtype=sequence.data.dtype)
    if batch_first:
        padded[b, t] = sequence.data
    else:
        padded[t, b] = sequence.data
    lengths = mask.sum(axis=0, dtype=np.int64)
    if sequence.unsorted_indices is not None:
        lengths = lengths[sequence.unsorted_indices]
    return padded, lengths


def _sequence_arrays(sequences: Any, fname: str) -> Tuple[List[np.ndarray], np.dtype]:
    """The sequences as arrays of equal trailing shapes, and the dtype of data made of them."""
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise RuntimeError(f"{fname}: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    arrays = [_as_array(s) for s in sequences]
    if not arrays:
        raise RuntimeError("received an empty list of sequences")
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise RuntimeError(f"{fname}: sequences[{i}] is a scalar; each sequence needs a time dimension "
                               f"(shape (L, *))")
        if a.shape[1:] != arrays[0].shape[1:]:
            raise RuntimeError(f"{fname}: sequences[{i}] has shape {a.shape} but sequences[0] has "
                               f"{arrays[0].shape}: all must have the same trailing dimensions")
    return arrays, _data_dtype(np.result_type(*arrays), f"{fname}: sequences")


def pad_sequence(sequences: Iterable[Any], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> np.ndarray:
    r"""Stacks sequences of shapes ``(L_i, *)`` into one padded array, as ``torch.nn.utils.rnn.pad_sequence``.

    Args:
        sequences: arrays, nested lists or tensors ``(L_i, *)`` with the same trailing shape (lengths may be 0).
        batch_first: whether the output is ``(B, T, *)`` rather than ``(T, B, *)``, T the longest length.
        padding_value: the value of the padding. Default: 0.0.
        padding_side: ``'right'`` (padding after each sequence, the default) or ``'left'`` (before).

    Returns:
        the padded array: float32 for float sequences; integer and bool sequences keep their common dtype.

    Raises:
        RuntimeError (as torch): no sequences, a bad ``padding_side``, a non-iterable ``sequences``; a scalar
            sequence or different trailing shapes (naming the sequence).
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    batch_first = check_bool(batch_first, "batch_first")
    value = check_float(padding_value, "padding_value")
    arrays, dtype = _sequence_arrays(sequences, "pad_sequence")
    steps = max(a.shape[0] for a in arrays)
    out = np.full(((len(arrays), steps) if batch_first else (steps, len(arrays))) + arrays[0].shape[1:], value,
                  dtype=dtype)
    by_sequence = out if batch_first else out.swapaxes(0, 1)  # (B, T, *) view
    for i, a in enumerate(arrays):  # one copy per sequence
        if padding_side == "right":
            by_sequence[i, :a.shape[0]] = a
        else:
            by_sequence[i, steps - a.shape[0]:] = a
    return out


def unpad_sequence(padded_sequences: Any, lengths: Any, batch_first: bool = False) -> List[np.ndarray]:
    r"""Splits a padded batch into its sequences, as ``torch.nn.utils.rnn.unpad_sequence``: the inverse of
    :func:`pad_sequence` (right padding).

    Args:
        padded_sequences: ``(T, B, *)``, or ``(B, T, *)`` if ``batch_first``. Not modified.
        lengths: the length of each sequence (B integers, 0 allowed).
        batch_first: whether ``padded_sequences`` is ``(B, T, *)``. Default: False.

    Returns:
        a list of B new arrays ``(lengths[i], *)`` (float32 for float input).

    Raises:
        ValueError: a length count other than B, or a length below 0 or above T (naming it).
    """
    x = _as_array(padded_sequences)
    if x.ndim < 2:
        raise IndexError(f"unpad_sequence: padded_sequences must have at least 2 dimensions (time and batch), "
                         f"got shape {x.shape}")
    dtype = _data_dtype(x.dtype, "unpad_sequence: padded_sequences")
    lengths = _lengths(lengths, "unpad_sequence")
    steps, batch = (x.shape[1], x.shape[0]) if check_bool(batch_first, "batch_first") else x.shape[:2]
    if len(lengths) != batch:
        raise ValueError(f"unpad_sequence: got {len(lengths)} lengths for a batch of {batch} sequences "
                         f"(padded_sequences of shape {x.shape})")
    bad = np.flatnonzero((lengths < 0) | (lengths > steps))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"unpad_sequence: lengths[{i}] = {lengths[i]} is outside [0, {steps}], the padded length")
    if batch_first:
        return [np.array(x[i, :n], dtype=dtype) for i, n in enumerate(lengths.tolist())]
    return [np.array(x[:n, i], dtype=dtype) for i, n in enumerate(lengths.tolist())]


def pack_sequence(sequences: Sequence[Any], enforce_sorted: bool = True) -> PackedSequence:
    r"""Packs sequences of shapes ``(L_i, *)``, as ``torch.nn.utils.rnn.pack_sequence``: the same as
    ``pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)``, without the
    padded intermediate.

    Raises:
        RuntimeError (as torch): no sequences, an empty batch, a sequence of length 0, lengths not
            non-increasing with ``enforce_sorted`` (naming the sequences); different trailing shapes.
    """
    arrays, dtype = _sequence_arrays(sequences, "pack_sequence")
    enforce_sorted = check_bool(enforce_sorted, "enforce_sorted")
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    if int(lengths.max()) * len(arrays) * int(np.prod(arrays[0].shape[1:])) == 0:
        raise RuntimeError(f"Cannot pack empty tensors. (sequences of shapes {[a.shape for a in arrays]})")
    _check_lengths(lengths, int(lengths.max()), enforce_sorted, lambda i: f"len(sequences[{i}])")
    order = _sort_order(lengths, enforce_sorted)
    sorted_lengths = lengths if order is None else lengths[order]
    # Row (t, i) of the packed data is step t of the i-th longest sequence: one gather from their concatenation.
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    batch_sizes = _batch_sizes(sorted_lengths)
    t, i = np.nonzero(_step_mask(batch_sizes))
    source = starts[i if order is None else order[i]] + t
    data = np.concatenate(arrays, dtype=dtype, casting="unsafe")[source]
    return PackedSequence(data, batch_sizes, order, None)


def unpack_sequence(packed_sequences: PackedSequence) -> List[np.ndarray]:
    r"""Splits a PackedSequence into its sequences in the original batch order, as
    ``torch.nn.utils.rnn.unpack_sequence``: the inverse of :func:`pack_sequence`.

    Returns:
        a list of B new arrays ``(L_i, *)`` of ``data``'s dtype.
    """
    packed = _check_packed(packed_sequences, "unpack_sequence")
    sizes = packed.batch_sizes
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))  # the row of step t of the longest sequence
    lengths = _step_mask(sizes).sum(axis=0)
    order = _sort_inverse(packed)
    out: List[np.ndarray] = [packed.data[:0]] * len(lengths)
    for i, n in enumerate(lengths.tolist()):  # the i-th longest: rows starts[t] + i
        out[i if order is None else int(order[i])] = packed.data[starts[:n] + i]
    return out
