"""Batching shaped like ``torch.utils.data``: Dataset, TensorDataset, samplers and a DataLoader that yields
NumPy batches.

Shuffling draws from swiftrnn's torch-identical generator exactly as torch's DataLoader draws: at each
``iter(loader)`` one 64-bit base seed from ``generator`` (or the default generator), then, for
``shuffle=True`` without a generator, a seed for a private generator, and a ``randperm`` per pass over the
data (one more when a pass ends, as torch's RandomSampler). So after the same ``manual_seed`` the batch
order equals torch's, epoch after epoch, and the generators are left where torch leaves them.

Everything loads in the calling process: ``num_workers`` is accepted and the batches are those torch's
workers would give (its order does not depend on them), but no worker processes start.
"""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Mapping, Sequence as SequenceABC
from typing import Any, Callable, Generic, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from .. import random as _random

__all__ = ["Dataset", "TensorDataset", "Sampler", "SequentialSampler", "RandomSampler", "BatchSampler", "DataLoader",
           "default_collate"]

T = TypeVar("T")


class Dataset(Generic[T]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__``, as torch's."""

    def __getitem__(self, index: int) -> T:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")


class TensorDataset(Dataset[Tuple[np.ndarray, ...]]):
    """Samples are tuples of rows: ``dataset[i] == (a[i], b[i], ...)`` for arrays (or torch tensors, lists)
    with the same first dimension, as ``torch.utils.data.TensorDataset``. The arrays are kept as NumPy
    arrays of their own dtype (no copy when they already are)."""

    def __init__(self, *tensors: Any) -> None:
        arrays = tuple(np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t) for t in tensors)
        if not arrays or any(a.ndim == 0 for a in arrays):
            raise ValueError("TensorDataset needs at least one array, each with a first (sample) dimension")
        if any(a.shape[0] != arrays[0].shape[0] for a in arrays):
            raise ValueError("Size mismatch between tensors: first dimensions "
                             f"{[a.shape[0] for a in arrays]} differ")
        self.tensors = arrays

    def __getitem__(self, index: Any) -> Tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Sampler(Generic[T]):
    """Base class of the index samplers."""

    def __iter__(self) -> Iterator[T]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """Indices 0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Indices in random order (``replacement=False``: randperms; True: ``randint`` draws), from ``generator``
    or, without one, from a new generator seeded from the default one at each pass, exactly as torch's."""

    def __init__(self, data_source: Any, replacement: bool = False, num_samples: Optional[int] = None,
                 generator: Optional[_random.Generator] = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        """How many indices a pass yields (the dataset's length unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        if self.generator is None:
            generator = _random.Generator()
            generator.manual_seed(_random._random_int64())
        else:
            generator = self.generator
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from _random.randint(0, n, (32,), generator=generator).tolist()
            yield from _random.randint(0, n, (self.num_samples % 32,), generator=generator).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from _random._randperm(n, generator).tolist()
            yield from _random._randperm(n, generator).tolist()[: self.num_samples % n]  # drawn even if empty, as torch

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[List[int]]):
    """Groups a sampler's indices into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[List[int]]:
        sampler_iter = iter(self.sampler)
        if self.drop_last:
            for full in zip(*[sampler_iter] * self.batch_size):
                yield [*full]
        else:
            batch = [*itertools.islice(sampler_iter, self.batch_size)]
            while batch:
                yield batch
                batch = [*itertools.islice(sampler_iter, self.batch_size)]

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size


def default_collate(batch: Sequence[Any]) -> Any:
    """torch's default_collate on NumPy: arrays are stacked (a new leading batch dimension), numbers become
    an array (ints int64, floats float64, as torch), strings stay a list; dicts, tuples and lists are collated
    field by field (a tuple becomes a list, as torch; a namedtuple stays one)."""
    elem = batch[0]
    if hasattr(elem, "detach") and hasattr(elem, "cpu"):
        return np.stack([b.detach().cpu().numpy() for b in batch])
    if isinstance(elem, np.ndarray):
        return np.stack(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, (bool, np.bool_)):
        return np.array(batch, dtype=bool)
    if isinstance(elem, (numbers.Integral, np.integer)):
        return np.array(batch, dtype=np.int64) if isinstance(elem, int) else np.array(batch)
    if isinstance(elem, (numbers.Real, np.floating)):
        return np.array(batch, dtype=np.float64) if isinstance(elem, float) else np.array(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, SequenceABC):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain arrays, numbers, dicts or lists; found {type(elem)}")


class DataLoader(Generic[T]):
    """Iterates over a dataset in batches, as ``torch.utils.data.DataLoader``: ``for x, y in loader:``.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``), e.g. a TensorDataset.
        batch_size (int or None): samples per batch (None: single samples, uncollated). Default: 1.
        shuffle (bool): a new random order each epoch (a RandomSampler). Default: False.
        sampler, batch_sampler: custom index orders (exclusive with shuffle / batch_size, as torch).
        collate_fn: turns a list of samples into a batch. Default: ``default_collate`` (NumPy stacks).
        drop_last (bool): drop the last incomplete batch. Default: False.
        generator (swiftrnn.random.Generator): the generator shuffling draws from (default: the default one).
        num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor, persistent_workers: accepted for
            ported code; everything loads in the calling process.

    Raises:
        ValueError: torch's errors for incompatible options (shuffle with a sampler, batch_sampler with
            batch_size/shuffle/sampler/drop_last, a negative num_workers).
    """

    def __init__(self, dataset: Any, batch_size: Optional[int] = 1, shuffle: Optional[bool] = None,
                 sampler: Optional[Iterable[Any]] = None, batch_sampler: Optional[Iterable[List[Any]]] = None,
                 num_workers: int = 0, collate_fn: Optional[Callable[[List[Any]], Any]] = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Optional[Callable[[int], None]] = None, multiprocessing_context: Any = None,
                 generator: Optional[_random.Generator] = None, *, prefetch_factor: Optional[int] = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if generator is not None and not isinstance(generator, _random.Generator):
            raise TypeError(f"generator must be a swiftrnn.random.Generator, got {type(generator).__name__}")
        if sampler is not None and shuffle:
            raise ValueError(f"sampler option is mutually exclusive with shuffle, but got shuffle={shuffle}")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else _default_convert)

    @property
    def _index_sampler(self) -> Iterable[Any]:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __iter__(self) -> Iterator[Any]:
        indices = iter(self._index_sampler)  # lazy: the sampler draws at the first batch, as torch's
        _random._random_int64(self.generator)  # torch's per-iterator base seed (for workers): drawn, unused here
        return self._batches(indices)

    def _batches(self, indices: Iterator[Any]) -> Iterator[Any]:
        dataset, collate, batched = self.dataset, self.collate_fn, self.batch_sampler is not None
        for index in indices:
            yield collate([dataset[i] for i in index]) if batched else collate(dataset[index])

    def __len__(self) -> int:
        return len(self._index_sampler)  # type: ignore[arg-type]


def _default_convert(sample: Any) -> Any:
    """Without auto-batching torch converts NumPy arrays to tensors and leaves the rest; here samples stay."""
    return sample
