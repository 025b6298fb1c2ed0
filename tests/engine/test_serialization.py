"""`save` and `load` in PyTorch's file format.

Files written by real PyTorch (tests/engine/fixtures/, made by make_torch_files.py, each with a companion .npz of
what PyTorch holds in it) load here in a process where importing torch is blocked; where PyTorch is installed,
files go both ways (ours through `torch.load(weights_only=True)`, PyTorch's through `load`) and our layout is
compared with PyTorch's record for record. `weights_only` refuses a malicious pickle without running it; files
that are not PyTorch files, or damaged ones, get one clear line each."""

import io
import itertools
import json
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import nn, serialization
from tinygrad_np.nn import Parameter
from tinygrad_np.serialization import SerializationError, WeightsOnlyUnpicklingError

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parents[2]


# -- checking a loaded object against what PyTorch wrote beside it --------------------------------------------------
def _nodes(obj, path=""):
    """(path, value) for `obj` and everything inside its dicts, lists and tuples, paths as make_torch_files.py
    writes them."""
    yield path, obj
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _nodes(value, f"{path}/{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _nodes(value, f"{path}/{i}")


def _storage_offset(array):
    """Where a loaded array starts in the buffer it views, in elements."""
    root = array
    while hasattr(root.base, "__array_interface__"):  # through numpy's views to the array over the record's bytes
        root = root.base
    start = root.__array_interface__["data"][0]
    return (array.__array_interface__["data"][0] - start) // array.itemsize


def check_against_companion(loaded, name):
    """Every value, dtype, shape, stride, storage offset, type and key order that PyTorch recorded for fixture
    `name`, and exactly its storage sharing."""
    with np.load(FIXTURES / f"{name}.npz") as companion:
        meta = json.loads(str(companion["__meta__"]))
        arrays = {key: companion[key] for key in companion.files if key != "__meta__"}
    nodes = dict(_nodes(loaded))
    tensors = []
    for path, info in meta["paths"].items():
        value, kind = nodes[path], info["kind"]
        if kind in ("tensor", "parameter"):
            assert isinstance(value, tg.Tensor) and isinstance(value, Parameter) == (kind == "parameter"), path
            array, expected = value.numpy(), arrays[path]
            assert array.dtype == expected.dtype and array.shape == expected.shape, path
            assert np.array_equal(array, expected), path
            offset, requires_grad, *stride = info["layout"]
            assert value.requires_grad == bool(requires_grad), path
            assert tuple(s // array.itemsize for s in array.strides) == tuple(stride), path
            if kind == "tensor":
                assert _storage_offset(array) == offset, path
                tensors.append(path)
        elif kind in ("dict", "OrderedDict"):
            assert type(value).__name__ == kind and [repr(k) for k in value] == info["keys"], path
        elif kind in ("list", "tuple"):
            assert type(value).__name__ == kind and len(value) == info["len"], path
        elif kind == "Size":
            assert type(value) is tuple and value == tuple(info["value"]), path
        elif kind == "device":
            assert value == info["value"], path
        elif kind == "bytes":
            assert value == bytes(info["value"]), path
        else:
            assert type(value).__name__ == kind and value == info["value"], path
    shared = {tuple(pair) for pair in meta["shared"]}
    for a, b in itertools.combinations(sorted(tensors), 2):
        assert np.shares_memory(nodes[a].numpy(), nodes[b].numpy()) == ((a, b) in shared), (a, b)


def check_all_fixtures():
    for name in ("tied_state_dict", "checkpoint", "noncontiguous", "dtypes"):
        check_against_companion(serialization.load(FIXTURES / f"{name}.pt"), name)
    check_against_companion(serialization.load(FIXTURES / "cuda_location.pt", map_location="cpu"), "cuda_location")


BLOCK_TORCH = """
import importlib.abc, importlib.util, sys
attempts = []
class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            attempts.append(name)
            raise ModuleNotFoundError(f"torch is blocked here: {name}")
sys.meta_path.insert(0, BlockTorch())
spec = importlib.util.spec_from_file_location("serialization_tests", sys.argv[1])
tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tests)
tests.check_all_fixtures()
print("torch imports attempted:", attempts)
"""


def test_files_written_by_pytorch_load_without_pytorch():
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH, __file__], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch imports attempted: []", result.stdout


def test_a_tied_weight_shares_memory_after_loading():
    state = serialization.load(FIXTURES / "tied_state_dict.pt")
    embed, head = state["embed.weight"].numpy(), state["head.weight"].numpy()
    embed[0, 0] = 42.0
    assert head[0, 0] == 42.0


# -- map_location -------------------------------------------------------------------------------------------------
class CpuDevice:
    """A device object as PyTorch's: its str() names the device."""

    def __str__(self):
        return "cpu"


@pytest.mark.parametrize("map_location", ["cpu", b"cpu", CpuDevice(), {"cuda:0": "cpu"}, lambda storage, loc: storage,
                                          lambda storage, loc: storage.cpu()])
def test_map_location_brings_a_gpu_file_to_the_cpu(map_location):
    loaded = serialization.load(FIXTURES / "cuda_location.pt", map_location=map_location)
    assert loaded["weight"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("map_location", [None, "cuda", {"cuda:1": "cpu"}, lambda storage, loc: None,
                                          lambda storage, loc: storage.cuda()])
def test_a_gpu_location_that_stays_a_gpu_is_refused_with_pytorchs_words(map_location):
    with pytest.raises(SerializationError, match=r"CUDA device but torch\.cuda\.is_available\(\) is False") as error:
        serialization.load(FIXTURES / "cuda_location.pt", map_location=map_location)
    assert "\n" not in str(error.value)


def test_a_cpu_file_mapped_to_cuda_is_refused():
    buffer = io.BytesIO()
    serialization.save(tg.ones(2), buffer)
    buffer.seek(0)
    with pytest.raises(SerializationError, match="CUDA device"):
        serialization.load(buffer, map_location="cuda:0")


# -- weights_only --------------------------------------------------------------------------------------------------
def _rewritten(data: bytes, records: dict) -> bytes:
    """The archive `data` with the records named in `records` replaced by their new bytes (None: left out)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            name = info.filename.split("/", 1)[1]
            if records.get(name, b"") is not None:
                target.writestr(info.filename, records.get(name) or source.read(info))
    return out.getvalue()


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    serialization.save(obj, buffer)
    return buffer.getvalue()


def _with_pickle(data_pkl: bytes, saved=None) -> bytes:
    """A valid file of ours (of `saved`) whose data.pkl is replaced by `data_pkl`."""
    return _rewritten(_saved({"w": tg.ones(2)} if saved is None else saved), {"data.pkl": data_pkl})


class _OpensAFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


class _RunsAShell:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch '{self.path}'",)


@pytest.mark.parametrize("payload, refused", [(_OpensAFile, f"{open.__module__}.open"),
                                              (_RunsAShell, f"{os.system.__module__}.system")])
def test_weights_only_refuses_a_malicious_pickle_without_running_it(tmp_path, payload, refused):
    target = tmp_path / "pwned"
    crafted = _with_pickle(pickle.dumps({"w": payload(str(target))}, protocol=2))
    with pytest.raises(WeightsOnlyUnpicklingError, match=rf"refused the global {refused}.*weights_only=False") as e:
        serialization.load(io.BytesIO(crafted))
    assert "\n" not in str(e.value)
    assert not target.exists()
    serialization.load(io.BytesIO(crafted), weights_only=False)  # the payload is real: unrestricted, it runs
    assert target.exists()


def test_weights_only_refuses_classes_and_instructions_outside_its_list():
    with pytest.raises(WeightsOnlyUnpicklingError, match="refused the global collections.UserDict"):
        serialization.load(io.BytesIO(_with_pickle(pickle.dumps(__import__("collections").UserDict(), protocol=2))))
    with pytest.raises(WeightsOnlyUnpicklingError, match="pickle instruction"):  # protocol 0's LIST
        serialization.load(io.BytesIO(_with_pickle(pickle.dumps([1], protocol=0))))
    with pytest.raises(WeightsOnlyUnpicklingError, match="refused torch.nn.modules.linear.Linear"):
        serialization.load(FIXTURES / "whole_module.pt")
    with pytest.raises(SerializationError, match="only PyTorch can rebuild"):  # and never imports torch for it
        serialization.load(FIXTURES / "whole_module.pt", weights_only=False)


def test_a_tensor_cannot_be_made_to_read_past_its_storage():
    buffer = io.BytesIO()
    serialization.save(tg.ones(4), buffer)
    with zipfile.ZipFile(buffer) as archive:
        data_pkl = archive.read("archive/data.pkl")
    assert data_pkl.count(b"K\x04\x85") == 1  # the size (4,): BININT1 4, TUPLE1
    with pytest.raises(SerializationError, match="reaches past its storage of 4 elements"):
        serialization.load(io.BytesIO(_with_pickle(data_pkl.replace(b"K\x04\x85", b"M\xe8\x03\x85"), tg.ones(4))))


def test_weights_only_keeps_pytorch_state_dict_metadata():
    state = serialization.load(FIXTURES / "checkpoint.pt")["model"]
    assert type(state) is OrderedDict and state._metadata[""] == {"version": 1}


# -- files that are not what they should be ---------------------------------------------------------------------
def _damaged(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("archive/data/0")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    return data[:start] + bytes([data[start] ^ 1]) + data[start + 1:]


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.ones(2))
    return buffer.getvalue()


@pytest.mark.parametrize("content, message", [
    (lambda: b"", "empty file"),
    (lambda: b"name,value\nx,1\n", "not a PyTorch file"),
    (lambda: pickle.dumps({"w": 1}, protocol=2), "a plain Python pickle"),
    (lambda: (FIXTURES / "legacy.pt").read_bytes(), "legacy format"),
    (_npz, "not a PyTorch file"),
    (lambda: _saved({"w": tg.ones(3)})[:400], "truncated or damaged zip archive"),
    (lambda: _rewritten(_saved({"w": tg.ones(3)}), {"data/0": None}), "the record data/0 is missing"),
    (lambda: _damaged(_saved({"w": tg.ones(3)})), "the record data/0 is damaged"),
])
def test_a_file_that_is_not_a_good_pytorch_file_gets_one_clear_line(tmp_path, content, message):
    path = tmp_path / "model.pt"
    path.write_bytes(content())
    with pytest.raises(SerializationError, match=message) as error:
        serialization.load(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


# -- paths, file objects, temp file then rename --------------------------------------------------------------------
def test_paths_and_file_objects(tmp_path):
    state = OrderedDict(w=tg.tensor([[1.0, 2.0]]), step=tg.tensor(3))
    for path in (tmp_path / "model.pt", str(tmp_path / "other.pth")):
        serialization.save(state, path)
        loaded = serialization.load(path)
        assert list(loaded) == ["w", "step"] and loaded["w"].tolist() == [[1.0, 2.0]] and loaded["step"].item() == 3
    with zipfile.ZipFile(tmp_path / "model.pt") as archive:
        assert archive.namelist()[0] == "model/data.pkl"  # PyTorch names the folder after the file
    with open(tmp_path / "model.pt", "rb") as file:
        assert serialization.load(file)["w"].tolist() == [[1.0, 2.0]]
        assert not file.closed

    class Stream(io.RawIOBase):  # a pipe: readable, not seekable
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self.data.readinto(buffer)

    assert serialization.load(Stream((tmp_path / "model.pt").read_bytes()))["step"].item() == 3
    with pytest.raises(TypeError, match="binary file"), open(tmp_path / "text", "w") as text:
        serialization.save(state, text)


def test_save_writes_a_temporary_file_and_renames_it(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    serialization.save({"w": tg.ones(2)}, path)
    good = path.read_bytes()
    with pytest.raises(SerializationError, match="cannot pickle"):  # fails before any file is made
        serialization.save({"w": tg.zeros(2), "f": lambda: 0}, path)
    original = serialization._ZipWriter.record

    def fail_at_the_data(self, name, data):
        if name.startswith("data/"):
            raise OSError("disk full")
        original(self, name, data)

    monkeypatch.setattr(serialization._ZipWriter, "record", fail_at_the_data)
    with pytest.raises(OSError, match="disk full"):
        serialization.save({"w": tg.zeros(2)}, path)
    assert sorted(os.listdir(tmp_path)) == ["model.pt"] and path.read_bytes() == good
    with pytest.raises(SerializationError, match="parent directory"):
        serialization.save({"w": tg.zeros(2)}, tmp_path / "missing" / "model.pt")


def test_mmap_maps_the_storages_from_the_file(tmp_path):
    path = tmp_path / "model.pt"
    serialization.save({"w": tg.tensor(np.arange(6.0).reshape(2, 3)), "t": tg.tensor(np.arange(4.0)).reshape(2, 2).T},
                       path)
    loaded = serialization.load(path, mmap=True)
    assert loaded["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and loaded["t"].tolist() == [[0, 2], [1, 3]]
    root = loaded["w"].numpy()
    while not isinstance(root, np.memmap):
        root = root.base
    loaded["w"].numpy()[0, 0] = 7.0  # copy-on-write: the file is untouched
    assert serialization.load(path)["w"].tolist()[0][0] == 0
    with pytest.raises(ValueError, match="must be a file path"):
        serialization.load(io.BytesIO(path.read_bytes()), mmap=True)


# -- what is saved ---------------------------------------------------------------------------------------------------
def _records(data: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename.removeprefix("archive/"): info.file_size for info in archive.infolist()}


def test_views_share_a_storage_or_are_saved_compactly():
    flat = np.arange(10_000, dtype=np.float32)
    inside = tg.from_numpy(flat[100:112].reshape(3, 4))  # a parameter's view into an optimiser's flat buffer
    weight = tg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    strided = tg.from_numpy(flat[::1000])
    data = _saved({"inside": inside, "weight": weight, "again": weight, "transposed": weight.T, "strided": strided})
    records = {name: size for name, size in _records(data).items() if name.startswith("data/")}
    assert records == {"data/0": 48, "data/1": 24, "data/2": 40}  # never the 40,000-byte buffer
    loaded = serialization.load(io.BytesIO(data))
    assert loaded["inside"].tolist() == flat[100:112].reshape(3, 4).tolist()
    assert loaded["strided"].tolist() == flat[::1000].tolist()
    assert loaded["weight"] is loaded["again"]
    assert loaded["transposed"].tolist() == [[0, 3], [1, 4], [2, 5]]
    assert np.shares_memory(loaded["weight"].numpy(), loaded["transposed"].numpy())


def test_round_trip_of_dtypes_parameters_and_a_checkpoint():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = tg.optim.Adam(model.parameters(), lr=0.01)
    model(tg.tensor(rng.normal(size=(5, 3)).astype(np.float32))).pow(2).mean().backward()
    optimizer.step()
    arrays = {str(dtype): rng.integers(0, 100, size=(2, 3)).astype(dtype) for dtype in
              (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
               np.uint32, np.uint64, np.bool_)}
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": np.int64(3),
                  "tensors": [tg.tensor(a) for a in arrays.values()], "big_endian": np.arange(3, dtype=">i4"),
                  "parameter": Parameter(np.ones(2)), "frozen": Parameter(np.ones(1), requires_grad=False),
                  "scalar": tg.tensor(2.5), "empty": tg.zeros(0, 3), "nested": ({"a": [None, True, "s"]},)}
    loaded = serialization.load(io.BytesIO(_saved(checkpoint)))
    for name, array in model.state_dict().items():
        assert np.array_equal(loaded["model"][name].numpy(), array)
    saved_state = optimizer.state_dict()
    for index, entry in saved_state["state"].items():
        for key, value in entry.items():
            restored = loaded["optimizer"]["state"][index][key]
            assert np.array_equal(restored.numpy() if isinstance(value, np.ndarray) else restored, value)
    assert loaded["optimizer"]["param_groups"] == saved_state["param_groups"]
    assert type(loaded["epoch"]) is int and loaded["epoch"] == 3  # numpy scalars become Python numbers
    for tensor, array in zip(loaded["tensors"], arrays.values(), strict=True):
        assert tensor.dtype == array.dtype and np.array_equal(tensor.numpy(), array)
    assert loaded["big_endian"].dtype == np.int32 and loaded["big_endian"].tolist() == [0, 1, 2]
    assert type(loaded["parameter"]) is Parameter and loaded["parameter"].requires_grad
    assert type(loaded["frozen"]) is Parameter and not loaded["frozen"].requires_grad
    assert loaded["scalar"].shape == () and loaded["scalar"].item() == 2.5 and loaded["empty"].shape == (0, 3)
    assert loaded["nested"] == ({"a": [None, True, "s"]},)


def test_a_big_endian_file_loads_in_native_order():
    little = _saved({"i": tg.tensor(np.array([1, -2, 70000], np.int32)), "h": tg.tensor(np.array([0.5], np.float16))})
    with zipfile.ZipFile(io.BytesIO(little)) as archive:
        swapped = {name: np.frombuffer(archive.read(f"archive/{name}"), dtype).byteswap().tobytes()
                   for name, dtype in (("data/0", np.int32), ("data/1", np.float16))}
    loaded = serialization.load(io.BytesIO(_rewritten(little, {"byteorder": b"big", **swapped})))
    assert loaded["i"].tolist() == [1, -2, 70000] and loaded["i"].numpy().dtype == np.dtype("=i4")
    assert loaded["h"].tolist() == [0.5]


def test_saving_is_repeatable_bit_for_bit():
    state = {"w": tg.tensor(np.arange(6.0).reshape(2, 3)), "n": 3}
    assert _saved(state) == _saved(state)


def test_a_whole_engine_model_loads_with_weights_only_false():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    data = _saved(model)
    with pytest.raises(WeightsOnlyUnpicklingError, match=r"refused the global tinygrad_np\.nn"):
        serialization.load(io.BytesIO(data))
    loaded = serialization.load(io.BytesIO(data), weights_only=False)
    x = tg.tensor(np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32))
    assert np.array_equal(loaded(x).numpy(), model(x).numpy())
    assert all(type(p) is Parameter for p in loaded.parameters())


def test_zip64_fields_are_written_past_the_limit(monkeypatch):
    monkeypatch.setattr(serialization, "_ZIP64_LIMIT", 100)  # as if every size and offset from 100 on were 4 GiB
    state = {"w": tg.tensor(np.arange(64.0)), "v": tg.tensor([1, 2, 3])}
    data = _saved(state)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert np.array_equal(np.frombuffer(archive.read("archive/data/0"), "<f8"), np.arange(64.0))
    loaded = serialization.load(io.BytesIO(data))
    assert loaded["w"].tolist() == list(np.arange(64.0)) and loaded["v"].tolist() == [1, 2, 3]


# -- against PyTorch ------------------------------------------------------------------------------------------------
def _torch_values(torch, obj):
    """`obj` with tensors as (numpy array, dtype name) pairs, for comparing with ours."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().numpy().tolist(), str(obj.dtype).removeprefix("torch."), type(obj).__name__
    if isinstance(obj, dict):
        return type(obj).__name__, [(k, _torch_values(torch, v)) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [_torch_values(torch, v) for v in obj]
    return obj


def _our_values(obj):
    if isinstance(obj, tg.Tensor):
        return obj.numpy().tolist(), str(obj.dtype), "Parameter" if isinstance(obj, Parameter) else "Tensor"
    if isinstance(obj, dict):
        return type(obj).__name__, [(k, _our_values(v)) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [_our_values(v) for v in obj]
    return obj


def test_pytorch_loads_our_files_with_weights_only():
    torch = pytest.importorskip("torch")
    tg.manual_seed(0)
    embed, norm = nn.Embedding(5, 4), nn.LayerNorm(4)
    flat = np.arange(100, dtype=np.float32)
    state = OrderedDict([("embed.weight", embed.weight), ("head.weight", embed.weight), ("norm.bias", norm.bias),
                         ("view", tg.from_numpy(flat[10:22].reshape(3, 4))), ("transposed", embed.weight.T),
                         ("half", tg.tensor(np.array([0.5, -2.0], np.float16))), ("mask", tg.tensor([True, False])),
                         ("labels", tg.tensor([3, 1])), ("small", tg.tensor(np.array([-3, 4], np.int8))),
                         ("wide", tg.tensor(np.array([7, 65535], np.uint16))), ("scalar", tg.tensor(1.5)),
                         ("plain", tg.tensor([[1.0, 2.0], [3.0, 4.0]])[:, 1])])
    checkpoint = {"model": state, "epoch": 3, "lr": 0.5, "name": "mixer", "history": [1.0, (2, "x")], "none": None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theirs = torch.load(io.BytesIO(_saved(checkpoint)), weights_only=True)
    assert _torch_values(torch, theirs) == _our_values(checkpoint)
    model = theirs["model"]
    assert model["embed.weight"] is model["head.weight"]  # the same Parameter object, as torch.save keeps it
    assert model["transposed"].untyped_storage().data_ptr() == model["embed.weight"].untyped_storage().data_ptr()
    assert model["transposed"].stride() == (1, 4) and not model["transposed"].is_contiguous()


def test_our_file_layout_is_pytorchs_record_for_record(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    ours = OrderedDict([("w", tg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))), ("i", tg.tensor([1, 2])),
                        ("p", Parameter(np.ones((2, 2), np.float32))), ("e", tg.zeros(0)),
                        ("h", tg.tensor(np.array([1.5], np.float16))), ("n", {"x": [1, 2.5, "s", None, True]})])
    theirs = OrderedDict([("w", torch.arange(6.0).reshape(2, 3)), ("i", torch.tensor([1, 2])),
                          ("p", torch.nn.Parameter(torch.ones(2, 2))), ("e", torch.zeros(0)),
                          ("h", torch.tensor([1.5], dtype=torch.float16)), ("n", {"x": [1, 2.5, "s", None, True]})])
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    serialization.save(ours, tmp_path / "ours" / "model.pt")
    torch.save(theirs, tmp_path / "theirs" / "model.pt")
    with zipfile.ZipFile(tmp_path / "ours" / "model.pt") as a, zipfile.ZipFile(tmp_path / "theirs" / "model.pt") as b:
        mine, its = a.infolist(), b.infolist()
        assert [i.filename.split("/", 1)[1] for i in mine] == [i.filename.split("/", 1)[1] for i in its]
        assert [(i.header_offset, i.flag_bits, len(i.extra)) for i in mine] == \
               [(i.header_offset, i.flag_bits, len(i.extra)) for i in its]
        for x, y in zip(mine, its, strict=True):
            if not x.filename.endswith("serialization_id"):
                assert a.read(x) == b.read(y), x.filename  # data.pkl included: the same pickle byte for byte
    assert (tmp_path / "ours" / "model.pt").stat().st_size == (tmp_path / "theirs" / "model.pt").stat().st_size
    # PyTorch's memory-mapped load computes each record's offset from the layout itself, and checks it when asked
    monkeypatch.setenv("TORCH_SERIALIZATION_DEBUG", "1")
    monkeypatch.setattr(torch.utils.serialization.config.load, "calculate_storage_offsets", True)
    mapped = torch.load(tmp_path / "ours" / "model.pt", mmap=True, weights_only=True)
    assert mapped["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and mapped["h"].dtype == torch.float16


def test_we_load_what_pytorch_saves():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    base = torch.randn(3, 4)
    saved = {"base": base, "t": base.t(), "col": base[:, 1], "param": torch.nn.Parameter(torch.randn(2)),
             "wide": torch.tensor([1, 2], dtype=torch.uint32), "c": torch.tensor([1 + 2j], dtype=torch.complex64),
             "expanded": torch.arange(3.0).expand(2, 3), "size": torch.Size([4, 5]), "s": {1, 2}, "z": 1 + 2j}
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    loaded = serialization.load(buffer)
    assert _our_values({k: v for k, v in loaded.items() if k not in ("size", "s", "z")}) == \
           _torch_values(torch, {k: v for k, v in saved.items() if k not in ("size", "s", "z")})
    assert loaded["size"] == (4, 5) and loaded["s"] == {1, 2} and loaded["z"] == 1 + 2j
    assert np.shares_memory(loaded["base"].numpy(), loaded["t"].numpy())
    assert np.shares_memory(loaded["base"].numpy(), loaded["col"].numpy())


def test_pytorch_gives_the_same_cuda_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this PyTorch has a GPU, so the file loads")
    with pytest.raises(RuntimeError) as theirs:
        torch.load(FIXTURES / "cuda_location.pt", weights_only=True)
    with pytest.raises(SerializationError) as ours:
        serialization.load(FIXTURES / "cuda_location.pt")
    assert str(ours.value).endswith(str(theirs.value))
