"""Datasets with PyTorch's contracts: a map-style `Dataset` answers `dataset[i]` (and usually `len(dataset)`), an
`IterableDataset` is iterated; `TensorDataset`, `Subset`, `ConcatDataset`, `ChainDataset` and `random_split` build
datasets from others."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from ...engine import Tensor
from ...factories import randperm

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map from keys (usually 0..len-1) to samples: subclasses define `__getitem__` and, for the default samplers,
    `__len__`. They may define `__getitems__(indices) -> list of samples` to fetch a batch at once, which the
    DataLoader then calls instead of `__getitem__` per index. `a + b` concatenates."""

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: subclasses define `__iter__` (and `__len__` if `len(loader)` is wanted). The DataLoader
    batches consecutive samples; it takes no sampler or shuffle for such a dataset. `a + b` chains."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are the rows of tensors of one length: `dataset[i]` is `(t[i] for t in tensors)` as a tuple. The
    DataLoader fetches a whole batch of it with one indexing per tensor."""

    def __init__(self, *tensors: Tensor) -> None:
        for position, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {position} is a {type(t).__name__}, not a Tensor (wrap a "
                                "numpy array with from_numpy)")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {position} is a 0-d tensor, which has no rows")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise AssertionError(f"TensorDataset: size mismatch between tensors: first dims "
                                 f"{[t.shape[0] for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after the other: index i falls in the first dataset whose cumulative length exceeds
    it (`cumulative_sizes`)."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset (chain them with ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not exceed dataset length "
                                 f"{len(self)}")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset[Any]):
    """Iterable datasets one after the other, chained as they are iterated."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset[T_co]):
    """The samples of `dataset` at `indices`, renumbered 0..len(indices)-1. As in PyTorch, a subclass that overrides
    `__getitem__` must override `__getitems__` too (the DataLoader fetches batches through it)."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        if type(self).__getitem__ is not Subset.__getitem__ and type(self).__getitems__ is Subset.__getitems__:
            raise NotImplementedError(f"{type(self).__name__} overrides __getitem__ but not __getitems__; the "
                                      "DataLoader fetches a Subset's batches with __getitems__, so override it too "
                                      "(e.g. `return [self[i] for i in indices]`)")
        self.dataset = dataset
        self.indices = indices
        self._index_array: tuple[Any, np.ndarray] | None = None  # (the indices it was made from, the array)

    def __getitem__(self, idx: Any) -> T_co:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[T_co]:
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def _indices_as_array(self) -> np.ndarray:
        """`indices` as an integer array (kept until `indices` is replaced), for fetching whole batches at once."""
        if self._index_array is None or self._index_array[0] is not self.indices:
            self._index_array = (self.indices, np.asarray(self.indices))
        return self._index_array[1]


def random_split(dataset: Dataset[T_co], lengths: Sequence[int | float],
                 generator: np.random.Generator | None = None) -> list[Subset[T_co]]:
    """Split `dataset` at random into non-overlapping Subsets of the given lengths, or of the given fractions
    (summing to 1): each gets floor(fraction * len) and the items left over go one each to the splits in turn, from
    the first (PyTorch's rule). The order comes from `generator` or the global one (`manual_seed`)."""
    total = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, fraction in enumerate(lengths):
            if fraction < 0 or fraction > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 (got {fraction})")
            sizes.append(math.floor(total * fraction))
        for i in range(total - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an empty "
                              "dataset", stacklevel=2)
        lengths = sizes
    if sum(lengths) != total:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length of the input "
                         f"dataset {total}")
    order = randperm(sum(lengths), generator=generator).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths, strict=True)]
