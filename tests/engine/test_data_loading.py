"""`tinygrad_np.utils.data` against PyTorch's contract: datasets, samplers, `random_split`, `default_collate`, the
DataLoader's argument checks, `len(loader)` and batches, its whole-batch fetch (the same batches as collating row by
row, with one indexing per array), and the random numbers behind them (`Generator`, `multinomial`, the `*_like`
factories). Where PyTorch is installed, results are compared with it (skipped without it); a small training loop
written in PyTorch's idioms runs on both engines from the same weights."""

import collections
import copy
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.utils.data as data
from tinygrad_np import Tensor
from tinygrad_np.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)

Point = collections.namedtuple("Point", ["x", "y"])


def as_plain(batch):
    """A batch (of either engine) as nested Python values, with each tensor as (dtype name, shape, values)."""
    if hasattr(batch, "shape") and hasattr(batch, "dtype") and hasattr(batch, "tolist"):
        return ("tensor", str(batch.dtype).removeprefix("torch."), tuple(batch.shape), batch.tolist())
    if isinstance(batch, dict):
        return {key: as_plain(value) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return (type(batch).__name__, *[as_plain(v) for v in batch])
    if isinstance(batch, (list, tuple)):
        return type(batch)(as_plain(v) for v in batch)
    return batch


def epoch(loader):
    return [as_plain(batch) for batch in loader]


class Numbers(Dataset):
    """Samples of every kind default_collate handles, built with `module`'s tensor type."""

    def __init__(self, module, n=7):
        self.module, self.n = module, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        return {"features": self.module.tensor(rng.normal(size=3).astype(np.float32)),
                "array": rng.integers(0, 9, size=(2, 2)).astype(np.int32),
                "scalar": np.float32(i / 4), "label": i % 3, "weight": i * 0.5, "flag": i % 2 == 0,
                "name": f"s{i}", "pair": (i, [float(i), -i]), "point": Point(np.int16(i), b"b")}


def stream_type(data_module):
    """An IterableDataset of 0..n-1 on `data_module` (this engine's utils.data or PyTorch's)."""

    class Stream(data_module.IterableDataset):
        def __init__(self, n, with_len=True):
            self.n, self.with_len = n, with_len

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            if not self.with_len:
                raise TypeError("no len")
            return self.n

    return Stream


Stream = stream_type(data)


# -- default_collate ------------------------------------------------------------------------------------------------
def test_default_collate_gives_pytorchs_structure_dtypes_and_values():
    torch = pytest.importorskip("torch")
    ours = [Numbers(tg)[i] for i in range(4)]
    theirs = [Numbers(torch)[i] for i in range(4)]
    assert as_plain(default_collate(ours)) == as_plain(torch.utils.data.default_collate(theirs))
    collated = default_collate(ours)
    assert collated["weight"].dtype == np.float64 and collated["label"].dtype == np.int64
    assert collated["flag"].dtype == np.bool_ and collated["array"].dtype == np.int32
    assert collated["scalar"].dtype == np.float32 and collated["name"] == ["s0", "s1", "s2", "s3"]
    for batch in ([1, 2.5], [np.float32(1), np.float64(2)], [[1, 2], [3, 4]], [(1, "a"), (2, "b")],
                  [np.arange(3, dtype=np.uint8)] * 2, [np.bool_(True), np.bool_(False)], [True, 3]):
        assert as_plain(default_collate(batch)) == as_plain(torch.utils.data.default_collate(batch)), batch


def test_default_collate_refuses_what_pytorch_refuses_with_the_sizes_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match=re.escape("[3] at entry 0 and [4] at entry 1")):
        default_collate([tg.ones(3), tg.ones(4)])
    with pytest.raises(RuntimeError, match=re.escape("[3] at entry 0 and [4] at entry 1")):
        torch.utils.data.default_collate([torch.ones(3), torch.ones(4)])
    for batch, error in (([np.array(["a"]), np.array(["b"])], TypeError), ([object(), object()], TypeError),
                         ([[1, 2], [3]], RuntimeError), ([np.ones(2), np.ones(3)], RuntimeError)):
        with pytest.raises(error):
            torch.utils.data.default_collate(batch)
        with pytest.raises(error) as raised:
            default_collate(batch)
        assert "\n" not in str(raised.value)


def test_collate_is_reachable_where_pytorch_has_it():
    from tinygrad_np.utils.data._utils.collate import collate, default_collate_fn_map
    from tinygrad_np.utils.data.dataloader import default_collate as from_dataloader

    assert data.default_collate is from_dataloader is default_collate
    custom = {**default_collate_fn_map, str: lambda batch, *, collate_fn_map=None: "+".join(batch)}
    assert collate([("a", 1), ("b", 2)], collate_fn_map=custom)[0] == "a+b"


def test_unbatched_loading_converts_as_pytorchs_default_convert():
    torch = pytest.importorskip("torch")
    samples = [(np.arange(3.0), {"k": np.int64(2)}, "x"), (np.ones((2, 2), np.float32), {"k": np.int64(5)}, "y")]
    ours = epoch(DataLoader(samples, batch_size=None))
    assert ours == epoch(torch.utils.data.DataLoader(samples, batch_size=None))
    assert ours[0][0] == ("tensor", "float64", (3,), [0.0, 1.0, 2.0])


# -- len(loader) and the batches ---------------------------------------------------------------------------------------
def test_len_of_loader_is_pytorchs_for_many_sizes():
    torch = pytest.importorskip("torch")
    for n in (1, 2, 5, 7, 16, 33):
        for batch_size in (1, 2, 3, 5, 8, 40):
            for drop_last in (False, True):
                ours = DataLoader(range(n), batch_size=batch_size, drop_last=drop_last)
                theirs = torch.utils.data.DataLoader(range(n), batch_size=batch_size, drop_last=drop_last)
                assert len(ours) == len(theirs) == len(list(ours)), (n, batch_size, drop_last)
                stream = DataLoader(Stream(n), batch_size=batch_size, drop_last=drop_last)
                their_stream = torch.utils.data.DataLoader(stream_type(torch.utils.data)(n), batch_size=batch_size,
                                                           drop_last=drop_last)
                assert len(stream) == len(their_stream) == len(list(stream)), (n, batch_size, drop_last)
                assert len(BatchSampler(range(n), batch_size, drop_last)) == len(ours)
    assert len(DataLoader(range(7), batch_size=None)) == 7 == len(DataLoader(Stream(7), batch_size=None))
    with pytest.raises(TypeError):
        len(DataLoader(Stream(4, with_len=False), batch_size=2))


def test_batches_are_pytorchs_for_samplers_batch_samplers_and_streams():
    torch = pytest.importorskip("torch")
    features = np.random.default_rng(0).normal(size=(11, 3)).astype(np.float32)
    labels = np.arange(11) % 4
    ours_ds = TensorDataset(tg.from_numpy(features), tg.from_numpy(labels))
    theirs_ds = torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    for kwargs in ({"batch_size": 4}, {"batch_size": 4, "drop_last": True}, {"batch_size": 20},
                   {"sampler": [10, 0, 3, 3, 7], "batch_size": 2}, {"batch_sampler": [[1, 2], [9], [0, 5, 6]]},
                   {"batch_size": None}, {"sampler": SequentialSampler(range(5)), "batch_size": 3}):
        assert epoch(DataLoader(ours_ds, **kwargs)) == epoch(torch.utils.data.DataLoader(theirs_ds, **kwargs)), kwargs
    their_stream = stream_type(torch.utils.data)
    for kwargs in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        assert epoch(DataLoader(Stream(8), **kwargs)) == epoch(torch.utils.data.DataLoader(their_stream(8), **kwargs))
    chained = Stream(3) + Stream(2)
    assert isinstance(chained, ChainDataset) and len(chained) == 5
    assert epoch(DataLoader(chained, batch_size=4)) == [("tensor", "int64", (4,), [0, 1, 2, 0]),
                                                        ("tensor", "int64", (1,), [1])]


def test_dataset_getitems_fetches_whole_batches_as_in_pytorch():
    torch = pytest.importorskip("torch")

    class Batched(Dataset):
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("the DataLoader should call __getitems__")

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [float(i) * 10 for i in indices]

    ours, theirs = Batched(), Batched()
    assert epoch(DataLoader(ours, batch_size=2)) == epoch(torch.utils.data.DataLoader(theirs, batch_size=2))
    assert ours.calls == theirs.calls == [[0, 1], [2, 3], [4]]


# -- argument checks ------------------------------------------------------------------------------------------------
INVALID_LOADERS = [
    {"batch_sampler": [[0]], "batch_size": 2}, {"batch_sampler": [[0]], "shuffle": True},
    {"batch_sampler": [[0]], "sampler": [0]}, {"batch_sampler": [[0]], "drop_last": True},
    {"sampler": [0, 1], "shuffle": True}, {"batch_size": None, "drop_last": True}, {"num_workers": -1},
    {"timeout": -1}, {"prefetch_factor": 2}, {"persistent_workers": True}, {"num_workers": 2, "prefetch_factor": -1},
    {"multiprocessing_context": "spawn"}, {"num_workers": 2, "multiprocessing_context": "nonsense"},
    {"batch_size": 0}, {"batch_size": 2.5}, {"drop_last": "yes"},
]
VALID_LOADERS = [
    {}, {"batch_size": None}, {"shuffle": True}, {"shuffle": False, "sampler": [2, 0]}, {"batch_sampler": [[0, 1]]},
    {"num_workers": 2, "pin_memory": True, "persistent_workers": True, "prefetch_factor": 4, "timeout": 5},
    {"num_workers": 1, "multiprocessing_context": "spawn", "worker_init_fn": print}, {"pin_memory_device": "cpu"},
]


def test_loader_arguments_are_refused_where_pytorch_refuses_them():
    torch = pytest.importorskip("torch")
    for kwargs in INVALID_LOADERS:
        with pytest.raises(ValueError):
            torch.utils.data.DataLoader(range(4), **kwargs)
        with pytest.raises(ValueError) as error:
            DataLoader(range(4), **kwargs)
        assert "\n" not in str(error.value), kwargs
    for kwargs in VALID_LOADERS:
        torch.utils.data.DataLoader(range(4), **kwargs)
        DataLoader(range(4), **kwargs)
    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        for module in (torch.utils.data, data):
            with pytest.raises(ValueError, match="IterableDataset"):
                module.DataLoader(stream_type(module)(3), **kwargs)
    for module in (torch.utils.data, data):
        loader = module.DataLoader(range(4), batch_size=2)
        for attribute in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset"):
            with pytest.raises(ValueError, match="after DataLoader is initialized"):
                setattr(loader, attribute, None)
        loader.collate_fn = default_collate  # the others can change, as in PyTorch


def test_sampler_arguments_are_refused_where_pytorch_refuses_them():
    torch = pytest.importorskip("torch")
    for module in (torch.utils.data, data):
        for make, error in ((lambda m: m.RandomSampler(range(3), num_samples=0), ValueError),
                            (lambda m: m.RandomSampler([], replacement=False), ValueError),
                            (lambda m: m.RandomSampler(range(3), replacement=1), TypeError),
                            (lambda m: m.BatchSampler(range(3), 0, False), ValueError),
                            (lambda m: m.BatchSampler(range(3), 2, None), ValueError),
                            (lambda m: m.WeightedRandomSampler([0.5, 0.5], 0), ValueError),
                            (lambda m: m.WeightedRandomSampler([[0.5, 0.5]], 2), ValueError),
                            (lambda m: m.WeightedRandomSampler([0.5, 0.5], 2, replacement=None), ValueError)):
            with pytest.raises(error):
                make(module)


# -- datasets ----------------------------------------------------------------------------------------------------------
def test_tensor_concat_and_subset_datasets_as_pytorchs():
    torch = pytest.importorskip("torch")
    first, second = TensorDataset(tg.arange(5)), TensorDataset(tg.arange(10, 13))
    theirs = torch.utils.data.ConcatDataset([torch.utils.data.TensorDataset(torch.arange(5)),
                                             torch.utils.data.TensorDataset(torch.arange(10, 13))])
    ours = first + second
    assert isinstance(ours, ConcatDataset) and ours.cumulative_sizes == theirs.cumulative_sizes == [5, 8]
    for i in (*range(8), -1, -8):
        assert ours[i][0].item() == theirs[i][0].item(), i
    for module, concat in ((torch.utils.data, theirs), (data, ours)):
        with pytest.raises(ValueError):
            concat[-9]
        with pytest.raises(AssertionError):
            module.ConcatDataset([])
        with pytest.raises(AssertionError):
            module.ConcatDataset([stream_type(module)(2)])
    with pytest.raises(AssertionError, match="size mismatch"):
        TensorDataset(tg.ones(3), tg.ones(4))
    with pytest.raises(TypeError, match="from_numpy"):
        TensorDataset(np.ones(3))
    nested = Subset(Subset(ours, [7, 6, 0, 2]), [3, 0])
    assert [nested[i][0].item() for i in range(len(nested))] == [2, 12]
    assert [s[0].item() for s in nested.__getitems__([1, 0])] == [12, 2]

    for module in (torch.utils.data, data):
        class Overridden(module.Subset):
            def __getitem__(self, idx):
                return idx

        with pytest.raises(NotImplementedError):
            Overridden(range(3), [0])


def test_random_split_lengths_are_pytorchs_and_the_splits_partition_the_dataset():
    torch = pytest.importorskip("torch")
    cases = [(10, [0.7, 0.3]), (11, [0.7, 0.3]), (7, [1 / 3] * 3), (30, [0.3, 0.3, 0.4]), (5, [0.1, 0.1, 0.8]),
             (101, [0.8, 0.1, 0.1]), (3, [0.5, 0.5]), (9, [3, 6]), (4, [0, 4]), (1000, [0.333, 0.333, 0.334])]
    for n, lengths in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = random_split(range(n), lengths, generator=tg.Generator().manual_seed(0))
            theirs = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
        assert [len(s) for s in ours] == [len(s) for s in theirs], (n, lengths)
        members = [i for split in ours for i in split]
        assert sorted(members) == list(range(n))
    for lengths in ([4, 5], [0.5, 0.6], [1.2, -0.2]):
        with pytest.raises(ValueError):
            torch.utils.data.random_split(range(10), lengths)
        with pytest.raises(ValueError):
            random_split(range(10), lengths)
    with pytest.warns(UserWarning, match="index 1 is 0"):
        random_split(range(3), [0.9, 0.1])


def test_random_split_follows_its_generator_or_the_global_one():
    splits = [random_split(range(20), [0.5, 0.5], generator=tg.Generator().manual_seed(4)) for _ in range(2)]
    assert splits[0][0].indices == splits[1][0].indices
    assert random_split(range(20), [10, 10], generator=tg.Generator().manual_seed(5))[0].indices != splits[0][0].indices
    tg.manual_seed(8)
    first = random_split(range(20), [10, 10])[0].indices
    tg.manual_seed(8)
    assert random_split(range(20), [10, 10])[0].indices == first


# -- the whole-batch fetch ---------------------------------------------------------------------------------------------
def row_by_row(batch):
    """A collate_fn that is not `default_collate` itself: the DataLoader then fetches and collates row by row."""
    return default_collate(batch)


def whole_batch_datasets():
    rng = np.random.default_rng(3)
    features = tg.from_numpy(rng.normal(size=(23, 4)).astype(np.float32))
    images = tg.from_numpy(rng.normal(size=(23, 2, 3)).astype(np.float64))
    labels = tg.from_numpy(rng.integers(0, 5, 23))
    tensors = TensorDataset(features, images, labels)
    train, _ = random_split(tensors, [0.6, 0.4], generator=tg.Generator().manual_seed(1))
    return {"TensorDataset": tensors, "Subset": train, "Subset of Subset": Subset(train, [4, 0, 9, 9, 2, 7, 1]),
            "tensor": images, "1-d tensor": labels, "float64 array": rng.normal(size=23),
            "int32 rows": rng.integers(0, 9, size=(23, 5)).astype(np.int32), "bool array": rng.random(23) > 0.5}


def test_whole_batch_fetch_gives_the_batches_of_row_by_row_collation():
    for name, dataset in whole_batch_datasets().items():
        for kwargs in ({"batch_size": 5}, {"batch_size": 4, "drop_last": True}, {"batch_size": 5, "shuffle": True},
                       {"sampler": [3, 1, 1, 0, 2], "batch_size": 2}, {"batch_sampler": [[0, 2], [1]]}):
            fast = DataLoader(dataset, **kwargs, generator=None if "shuffle" not in kwargs else
                              tg.Generator().manual_seed(2))
            slow = DataLoader(dataset, **kwargs, collate_fn=row_by_row, generator=None if "shuffle" not in kwargs
                              else tg.Generator().manual_seed(2))
            assert epoch(fast) == epoch(slow), (name, kwargs)


def test_whole_batch_fetch_matches_pytorchs_loader():
    torch = pytest.importorskip("torch")
    for name, dataset in whole_batch_datasets().items():
        if isinstance(dataset, Subset):
            continue
        theirs = dataset
        if isinstance(dataset, Tensor):
            theirs = torch.from_numpy(dataset.numpy())
        elif isinstance(dataset, TensorDataset):
            theirs = torch.utils.data.TensorDataset(*[torch.from_numpy(t.numpy()) for t in dataset.tensors])
        order = [5, 0, 22, 3, 3, 17, 9]
        assert epoch(DataLoader(dataset, sampler=order, batch_size=3)) == \
            epoch(torch.utils.data.DataLoader(theirs, sampler=order, batch_size=3)), name


def test_whole_batch_fetch_indexes_each_array_once_per_batch(monkeypatch):
    calls = []
    original = Tensor.__getitem__

    def counted(self, index):
        calls.append(index)
        return original(self, index)

    monkeypatch.setattr(Tensor, "__getitem__", counted)
    dataset = TensorDataset(tg.zeros(100, 3), tg.arange(100))
    batches = list(DataLoader(dataset, batch_size=32, shuffle=True))
    assert len(batches) == 4 and len(calls) == 4 * 2  # one indexing per tensor per batch, not per row
    calls.clear()
    list(DataLoader(dataset, batch_size=32, collate_fn=row_by_row))
    assert len(calls) == 100 * 2
    calls.clear()
    train, _ = random_split(dataset, [80, 20])
    assert len(list(DataLoader(train, batch_size=32))) == 3 and len(calls) == 3 * 2


def test_datasets_that_change_getitem_load_row_by_row():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            x, = super().__getitem__(index)
            return (x * 2,)

    loader = DataLoader(Doubled(tg.arange(5)), batch_size=5)
    assert next(iter(loader))[0].tolist() == [0, 2, 4, 6, 8]


def test_workers_and_pinned_memory_load_the_same_batches_in_this_process():
    initialised = []
    dataset = TensorDataset(tg.arange(10.0))
    plain = epoch(DataLoader(dataset, batch_size=3, shuffle=True, generator=tg.Generator().manual_seed(6)))
    workers = DataLoader(dataset, batch_size=3, shuffle=True, generator=tg.Generator().manual_seed(6), num_workers=4,
                         pin_memory=True, persistent_workers=True, worker_init_fn=initialised.append)
    assert epoch(workers) == plain and initialised == [] and data.get_worker_info() is None
    assert workers.prefetch_factor == 2 and workers.num_workers == 4


# -- shuffling and the samplers' random numbers ------------------------------------------------------------------------
def orders(loader, epochs=2):
    return [[int(i) for batch in loader for i in batch] for _ in range(epochs)]


def test_shuffle_order_follows_manual_seed_and_changes_each_epoch():
    loader = DataLoader(range(12), batch_size=5, shuffle=True)
    tg.manual_seed(11)
    first = orders(loader)
    tg.manual_seed(11)
    assert orders(loader) == first
    assert first[0] != first[1] and sorted(first[0]) == sorted(first[1]) == list(range(12))
    tg.manual_seed(12)
    assert orders(loader) != first


def test_a_loaders_generator_gives_its_own_order_and_leaves_the_global_stream_alone():
    def run(draw_between):
        tg.manual_seed(0)
        loader = DataLoader(range(12), batch_size=4, shuffle=True, generator=tg.Generator().manual_seed(3))
        order = orders(loader)
        if draw_between:
            tg.rand(5)
        return order, tg.rand(2).tolist()

    (order, after), (order_again, _) = run(False), run(True)
    tg.manual_seed(0)
    assert order == order_again and after == tg.rand(2).tolist()


def test_random_sampler_with_and_without_replacement():
    torch = pytest.importorskip("torch")
    generator = tg.Generator().manual_seed(1)
    draws = list(RandomSampler(range(5), replacement=True, num_samples=5000, generator=generator))
    counts = np.bincount(draws, minlength=5)
    assert len(draws) == 5000 and abs(counts - 1000).max() < 4 * np.sqrt(1000 * 0.8)
    for module, make_generator in ((data, tg.Generator), (torch.utils.data, torch.Generator)):
        order = list(module.RandomSampler(range(5), num_samples=12, generator=make_generator().manual_seed(2)))
        assert len(order) == 12 and sorted(order[:5]) == sorted(order[5:10]) == list(range(5))
        assert len(set(order[10:])) == 2
        assert len(module.RandomSampler(range(5), num_samples=12)) == 12
    weighted = list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=tg.Generator().manual_seed(3)))
    counts = np.bincount(weighted, minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 4000)
    assert sorted(WeightedRandomSampler([1, 2, 3, 4], 4, replacement=False)) == [0, 1, 2, 3]
    subset = list(SubsetRandomSampler([10, 20, 30, 40], generator=tg.Generator().manual_seed(4)))
    assert sorted(subset) == [10, 20, 30, 40]


# -- Generator ---------------------------------------------------------------------------------------------------------
def test_generator_seeding_state_and_copies():
    torch = pytest.importorskip("torch")
    assert tg.Generator().initial_seed() == torch.Generator().initial_seed()
    generator = tg.Generator()
    assert generator.manual_seed(42) is generator and generator.initial_seed() == 42
    first = tg.randn(5, generator=generator).tolist()
    assert tg.randn(5, generator=tg.Generator().manual_seed(42)).tolist() == first
    assert tg.Generator().manual_seed(-1).initial_seed() == torch.Generator().manual_seed(-1).initial_seed()
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises(ValueError):
            tg.Generator().manual_seed(bad)
    with pytest.raises(RuntimeError):
        tg.Generator().manual_seed(1.5)
    seed = generator.seed()
    assert generator.initial_seed() == seed and 0 <= seed < 2**64
    state = generator.get_state()
    assert isinstance(state, Tensor) and state.dtype == np.uint8
    ahead = tg.rand(4, generator=generator).tolist()
    assert tg.rand(4, generator=tg.Generator().set_state(state)).tolist() == ahead
    assert tg.Generator().set_state(state).initial_seed() == seed
    for make_clone in (copy.deepcopy, lambda g: pickle.loads(pickle.dumps(g))):
        clone = make_clone(generator)
        assert type(clone) is tg.Generator and clone.initial_seed() == seed
        assert tg.rand(3, generator=clone).tolist() == tg.rand(3, generator=generator).tolist()
    with pytest.raises(TypeError, match="uint8"):
        generator.set_state(tg.zeros(3))
    with pytest.raises(RuntimeError, match="not a state"):
        generator.set_state(tg.zeros(3, dtype=tg.uint8))
    assert generator.device.type == "cpu" and tg.Generator(device="cpu").device == tg.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        tg.Generator(device="cuda")


def test_global_seed_functions_as_pytorchs():
    torch = pytest.importorskip("torch")
    assert tg.random.DEFAULT_SEED == 67280421310721
    assert isinstance(tg.manual_seed(3), tg.Generator) and tg.initial_seed() == 3
    assert tg.manual_seed(4.0).initial_seed() == 4  # as torch.manual_seed, through int()
    assert isinstance(torch.manual_seed(3), torch.Generator)
    seed = tg.seed()
    assert tg.initial_seed() == seed
    tg.manual_seed(5)
    with tg.random.fork_rng():
        tg.rand(10)
    after_fork = tg.rand(2).tolist()
    tg.manual_seed(5)
    assert tg.rand(2).tolist() == after_fork and tg.initial_seed() == 5


def test_every_random_function_takes_a_generator_and_then_leaves_the_global_stream_alone():
    x = tg.zeros(3, 2)
    p = tg.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    draws = {
        "rand": lambda g: tg.rand(3, generator=g), "randn": lambda g: tg.randn(2, 2, generator=g),
        "randint": lambda g: tg.randint(3, 9, (4,), generator=g), "randperm": lambda g: tg.randperm(6, generator=g),
        "rand_like": lambda g: tg.rand_like(x, generator=g), "randn_like": lambda g: tg.randn_like(x, generator=g),
        "randint_like": lambda g: tg.randint_like(x, 5, generator=g),
        "normal_": lambda g: tg.zeros(4).normal_(1.0, 2.0, generator=g),
        "uniform_": lambda g: tg.zeros(4).uniform_(-1.0, 1.0, generator=g),
        "multinomial": lambda g: tg.multinomial(p, 2, generator=g),
        "Tensor.multinomial": lambda g: p.multinomial(5, replacement=True, generator=g),
    }
    for name, draw in draws.items():
        tg.manual_seed(0)
        expected = tg.rand(2).tolist()
        tg.manual_seed(0)
        first = draw(tg.Generator().manual_seed(9)).tolist()
        assert draw(tg.Generator().manual_seed(9)).tolist() == first, name
        assert tg.rand(2).tolist() == expected, name
        assert draw(tg.Generator().manual_seed(10)).tolist() != first, name


# -- random factories --------------------------------------------------------------------------------------------------
def test_like_factories_and_randint_forms_as_pytorchs():
    torch = pytest.importorskip("torch")
    for module in (tg, torch):
        x = module.zeros(2, 3, dtype=module.float64)
        for like in (module.rand_like, module.randn_like):
            made = like(x)
            assert tuple(made.shape) == (2, 3) and str(made.dtype).endswith("float64")
            assert like(x, dtype=module.float32).dtype == module.float32 and like(x, requires_grad=True).requires_grad
            with pytest.raises((TypeError, NotImplementedError)):
                like(module.zeros(2, dtype=module.int64))
        whole = module.randint_like(x, 3, 7)
        assert str(whole.dtype).endswith("float64") and (whole >= 3).all() and (whole < 7).all()
        assert (module.randint_like(x, 2).numpy() % 1 == 0).all()
        assert module.randint_like(module.zeros(4, dtype=module.int64), 5).dtype == module.int64
        for made in (module.randint(10, (3,)), module.randint(2, 10, (3,)), module.randint(high=10, size=(3,)),
                     module.randint(0, 5, (2, 2), dtype=module.float32)):
            assert made.numpy().min() >= 0 and made.numpy().max() < 10
        assert module.randint(0, 5, (2, 2), dtype=module.float32).dtype == module.float32
        with pytest.raises(RuntimeError):
            module.randint(5, 5, (2,))
    assert tg.is_tensor(tg.ones(1)) and tg.is_tensor(tg.nn.Parameter(tg.ones(1))) and not tg.is_tensor(np.ones(1))
    assert tg.is_tensor(tg.ones(1)) == torch.is_tensor(torch.ones(1)) and tg.is_tensor(1) == torch.is_tensor(1)


def test_version_is_the_packages():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert isinstance(tg.__version__, str)
    assert re.search(r'^version = "(.+)"$', pyproject, re.MULTILINE).group(1) == tg.__version__


# -- multinomial -------------------------------------------------------------------------------------------------------
def test_multinomial_refuses_what_pytorch_refuses():
    torch = pytest.importorskip("torch")
    cases = [([0.1, -0.1, 0.5], 1, False), ([0.0, 0.0], 1, True), ([[0.0, 0.0], [1.0, 1.0]], 1, False),
             ([float("inf"), 1.0], 1, False), ([float("nan"), 1.0], 1, True), ([0.1, 0.0, 0.9], 4, False),
             ([0.1, 0.9], 0, True), ([0.1, 0.9], -1, False), ([[[0.5, 0.5]]], 1, False), (0.5, 1, False)]
    for probabilities, n, replacement in cases:
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(probabilities), n, replacement)
        with pytest.raises(RuntimeError) as error:
            tg.multinomial(tg.tensor(probabilities), n, replacement)
        assert "\n" not in str(error.value)
    for module in (torch, tg):
        with pytest.raises(RuntimeError, match="floating"):
            module.multinomial(module.tensor([1, 2]), 1)


def test_multinomial_shapes_and_dtypes_are_pytorchs():
    torch = pytest.importorskip("torch")
    for probabilities, n, replacement in (([0.2, 0.8], 1, False), ([0.1, 0.0, 0.9], 3, False), ([1.0, 3.0], 6, True),
                                          ([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]], 2, False), (np.ones((0, 3)), 2, True)):
        ours = tg.multinomial(tg.tensor(probabilities, dtype=tg.float64), n, replacement)
        theirs = torch.multinomial(torch.tensor(probabilities, dtype=torch.float64), n, replacement)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == np.int64 and theirs.dtype == torch.int64
    # every category once when all are drawn without replacement, zero-probability ones last
    order = tg.multinomial(tg.tensor([0.1, 0.0, 0.9, 0.0]), 4).tolist()
    assert sorted(order) == [0, 1, 2, 3] and set(order[2:]) == {1, 3}


def test_multinomial_draws_with_pytorchs_distributions():
    p = np.array([0.1, 0.0, 0.3, 0.6])
    rows = tg.tensor(np.stack([p * 5, p[::-1]]))  # unnormalised weights, two rows of different distributions
    n = 20000
    draws = tg.multinomial(rows, n, replacement=True, generator=tg.Generator().manual_seed(0)).numpy()
    for row, expected in zip(draws, (p, p[::-1]), strict=True):
        frequency = np.bincount(row, minlength=4) / n
        assert np.all(np.abs(frequency - expected) <= 4 * np.sqrt(expected * (1 - expected) / n) + 1e-12)
    # without replacement: the first draw follows p; the second follows p_j * sum_i p_i / (1 - p_i) over i != j
    repeated = tg.tensor(np.tile(p, (n, 1)))
    pairs = tg.multinomial(repeated, 2, generator=tg.Generator().manual_seed(1)).numpy()
    assert np.all(pairs[:, 0] != pairs[:, 1]) and not np.any(pairs == 1)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
    for column, expected in ((pairs[:, 0], p), (pairs[:, 1], second)):
        frequency = np.bincount(column, minlength=4) / n
        assert np.all(np.abs(frequency - expected) <= 4 * np.sqrt(expected * (1 - expected) / n) + 1e-12)
    tg.manual_seed(2)
    seeded = tg.tensor(p).multinomial(8, replacement=True).tolist()
    tg.manual_seed(2)
    assert tg.multinomial(tg.tensor(p), 8, True).tolist() == seeded


# -- a training loop in PyTorch's idioms -------------------------------------------------------------------------------
def train_classifier(torch, initial_state):
    """A small classifier trained the way PyTorch's tutorials do (a DataLoader over a TensorDataset, the update
    written out as in "What is torch.nn really?"), with `torch` one engine or the other."""
    DataLoader, Subset, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.Subset, \
        torch.utils.data.TensorDataset
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(96, 6)).astype(np.float32)
    labels = (features[:, 0] + features[:, 1] > 0).astype(np.int64) + (features[:, 2] > 1).astype(np.int64)
    dataset = TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    order = rng.permutation(96).tolist()  # a split both engines make alike (random_split's streams differ)
    train_set, val_set = Subset(dataset, order[:72]), Subset(dataset, order[72:])
    train_loader = DataLoader(train_set, batch_size=16, sampler=list(range(72))[::-1])
    val_loader = DataLoader(val_set, batch_size=8)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

        def forward(self, x):
            return self.body(x)

    model = Net()
    model.load_state_dict({name: torch.tensor(value) for name, value in initial_state.items()})
    learning_rate = 0.2
    loss_fn = torch.nn.CrossEntropyLoss()
    losses, accuracies = [], []
    for _ in range(3):
        model.train()
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= learning_rate * p.grad
            model.zero_grad()
            losses.append(loss.item())
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in val_loader:
                correct += (model(xb.to(device)).argmax(dim=1) == yb.to(device)).sum().item()
        accuracies.append(correct / len(val_loader.dataset))
    return losses, accuracies, [len(train_loader), len(val_loader)]


def test_a_pytorch_style_training_loop_runs_and_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    initial = {"body.0.weight": rng.normal(0, 0.4, (16, 6)), "body.0.bias": np.zeros(16),
               "body.2.weight": rng.normal(0, 0.4, (3, 16)), "body.2.bias": np.zeros(3)}
    initial = {name: value.astype(np.float32) for name, value in initial.items()}
    ours = train_classifier(tg, initial)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: PyTorch's thread pool only adds waiting on a shared machine
    try:
        theirs = train_classifier(torch, initial)
    finally:
        torch.set_num_threads(threads)
    assert ours[2] == theirs[2] == [5, 3]
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-5)
    assert ours[1] == theirs[1] and ours[0][-1] < ours[0][0]
