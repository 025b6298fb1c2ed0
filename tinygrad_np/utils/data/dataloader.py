"""PyTorch's `DataLoader`: batches of samples from a dataset, in the order of a sampler, collated into tensors.

Arguments are checked as PyTorch checks them (`batch_sampler` excludes `batch_size`, `shuffle`, `sampler` and
`drop_last`; `shuffle` excludes `sampler`; an IterableDataset takes neither; ...), and `len(loader)` and the batches
are PyTorch's. Data loads in the calling process: `num_workers > 0` is accepted and loads the same batches in the
same order there (no worker processes are started, so `worker_init_fn` is not called and `get_worker_info()` is
None), and `pin_memory` is accepted and changes nothing (pinned memory speeds copies to a GPU; there is none).

Batches of datasets whose samples are rows of arrays (a `TensorDataset`, a tensor or numpy array used as the
dataset, `Subset`s of those, as `random_split` makes) are fetched with one indexing per array for the whole batch
when the collation is the default one: no Python loop per row, and the same batch as collating row by row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import numpy as np

from ...engine import Tensor
from ...factories import from_numpy
from ._utils.collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _InfiniteConstantSampler

T_co = TypeVar("T_co", covariant=True)


def get_worker_info() -> None:
    """None: data loads in the calling process, never in a worker (see the module docstring)."""
    return None


def _batched(dataset: Any, index: list[Any]) -> Any:
    """The default collation of `[dataset[i] for i in index]`, fetched with one indexing per array, or None when
    `dataset` is not one whose samples are rows of arrays, or the indices are not integers."""
    rows = np.asarray(index)
    if rows.ndim != 1 or rows.dtype.kind not in "iu":
        return None
    while isinstance(dataset, Subset):
        if type(dataset).__getitem__ is not Subset.__getitem__ or type(dataset).__getitems__ is not Subset.__getitems__:
            return None
        positions = dataset._indices_as_array()
        if positions.ndim != 1 or positions.dtype.kind not in "iu":
            return None
        rows, dataset = positions[rows], dataset.dataset
    if isinstance(dataset, TensorDataset):
        if type(dataset).__getitem__ is not TensorDataset.__getitem__ or hasattr(type(dataset), "__getitems__"):
            return None
        return [t[rows] for t in dataset.tensors]
    if isinstance(dataset, Tensor):
        return dataset[rows]
    if isinstance(dataset, np.ndarray) and dataset.dtype.kind in "biuf":
        return from_numpy(dataset[rows])
    return None


class _MapFetcher:
    """Samples of a map-style dataset at the sampler's indices, collated."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any]) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.whole_batches = auto_collation and collate_fn is default_collate

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.whole_batches:
            batch = _batched(self.dataset, index)
            if batch is not None:
                return batch
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if getitems else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableFetcher:
    """Consecutive samples of an iterable dataset, as many as the batch's (placeholder) indices, collated."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool) -> None:
        self.samples = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.samples))
        data = []
        for _ in index:
            try:
                data.append(next(self.samples))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


class _DataLoaderIter:
    """One pass over a DataLoader: the next batch at each `next()`."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self._sampler_iter = iter(loader._index_sampler)
        if isinstance(loader.dataset, IterableDataset):
            self._fetcher: Any = _IterableFetcher(loader.dataset, loader._auto_collation, loader.collate_fn,
                                                  loader.drop_last)
        else:
            self._fetcher = _MapFetcher(loader.dataset, loader._auto_collation, loader.collate_fn)
        self._index_sampler = loader._index_sampler

    def __iter__(self) -> _DataLoaderIter:
        return self

    def __next__(self) -> Any:
        return self._fetcher.fetch(next(self._sampler_iter))

    def __len__(self) -> int:
        return len(self._index_sampler)


class DataLoader(Generic[T_co]):
    """Iterate over `dataset` in batches: PyTorch's `torch.utils.data.DataLoader`, with its arguments and checks.

    `batch_size` samples per batch (None: one sample at a time, uncollated but converted with `default_convert`);
    `shuffle=True` draws a new order each pass from `generator` or the global generator (`manual_seed` makes it
    repeatable); or give a `sampler` (indices) or a `batch_sampler` (lists of indices). `collate_fn` turns a list of
    samples into a batch (`default_collate`: tensors stacked, numbers to tensors, dicts, tuples and lists field by
    field). `drop_last` drops a short last batch. `num_workers`, `pin_memory`, `timeout`, `worker_init_fn`,
    `multiprocessing_context`, `prefetch_factor`, `persistent_workers`, `pin_memory_device` and `in_order` are
    accepted and checked as PyTorch checks them; loading happens in this process (see the module docstring).
    """

    __initialized = False

    def __init__(self, dataset: Dataset[T_co] | Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler[Any] | Iterable[Any] | None = None,
                 batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: np.random.Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing: let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but got "
                                 f"batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True

    @property
    def multiprocessing_context(self) -> Any:
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: Any) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            import multiprocessing  # only here: it is the one use, and an import costs every program

            if isinstance(context, str) and context not in multiprocessing.get_all_start_methods():
                raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                 f"{multiprocessing.get_all_start_methods()!r}, but got "
                                 f"multiprocessing_context={context!r}")
        self.__multiprocessing_context = context

    def __setattr__(self, attr: str, value: Any) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _DataLoaderIter:
        return _DataLoaderIter(self)

    def __len__(self) -> int:
        """The number of batches: the batch sampler's length, or for an IterableDataset its `len()` divided by
        `batch_size` (rounded down with `drop_last`, else up)."""
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
