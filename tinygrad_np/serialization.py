"""`save` and `load` in PyTorch's own file format, without PyTorch.

A file that `torch.save` writes is a zip archive (stored, not compressed) whose records sit in one folder named
after the file ("archive" for a file object):

- `data.pkl`: a pickle (protocol 2) of the saved object, in which each tensor is a call of
  `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks)` (a Parameter wraps
  that in `torch._utils._rebuild_parameter`) and each storage is a persistent id
  `("storage", torch.FloatStorage, key, location, numel)`;
- `data/<key>`: one record per storage, its raw little-endian bytes, placed at a multiple of 64 bytes in the file
  (padding in a "FB" extra field) so that PyTorch can map it straight from disk;
- `.format_version`, `.storage_alignment`, `byteorder`, `version` and `.data/serialization_id`.

`save` lays out those records byte for byte as PyTorch 2.13 does (its zip writer is miniz: data descriptors after
each record, zip64 end records), so `torch.load(f, weights_only=True)` reads the files, memory-mapped or not.
`load` reads them back, turning the torch names in the pickle (storage classes, dtypes, the rebuild functions,
`torch.Size`, `torch.device`, `nn.Parameter`) into the engine's own objects. PyTorch is never imported.

`load` is restricted by default (`weights_only=True`), as PyTorch's is: the pickle is run by a small interpreter
of its own that calls only the functions and classes above plus `collections.OrderedDict` and a few builtins, so
a file can build tensors, containers, numbers and strings and nothing else; any other name in it is refused
before anything is called. `weights_only=False` unpickles whole objects (a model saved with `save(model, f)`)
with Python's unpickler, which runs whatever code the file names: only for files you trust.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import hashlib
import io
import os
import pickle
import secrets
import struct
import sys
import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import numpy as np

from .engine import Tensor
from .nn.module import Parameter

__all__ = ["SerializationError", "WeightsOnlyUnpicklingError", "load", "save"]

ALIGNMENT = 64  # where each record's data starts (PyTorch's storage alignment)
_ZIP64_LIMIT = 0xFFFFFFFF  # a size or offset from here on needs zip64 fields (miniz's rule)
_FORMAT_VERSION = b"1"  # storages numbered in the order they were first met
_VERSION = b"3\n"  # the archive format version torch.save writes
_STORAGE = "storage"  # the persistent-id tag and the location tag, one object each, so the pickle memo shares them
_CPU = "cpu"
_LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)  # opens a pre-1.6 (non-zip) torch.save file


class SerializationError(RuntimeError):
    """A file that `load` cannot read (not a PyTorch file, damaged, or holding what the engine cannot hold), or an
    object that `save` cannot write."""


class WeightsOnlyUnpicklingError(pickle.UnpicklingError):
    """`load(..., weights_only=True)` met a name or an instruction outside what it allows; nothing was called."""


# -- the torch names and the engine's objects they stand for --------------------------------------------------------
class StorageType:
    """What `torch.FloatStorage` and its kin stand for in a pickle: the dtype of a storage's elements
    (`torch.storage.UntypedStorage` holds bytes)."""

    __slots__ = ("module", "name", "dtype")

    def __init__(self, module: str, name: str, dtype: np.dtype):
        self.module, self.name, self.dtype = module, name, np.dtype(dtype)

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


_TYPED_STORAGES = {
    name: StorageType("torch", name, dtype) for name, dtype in (
        ("DoubleStorage", np.float64), ("FloatStorage", np.float32), ("HalfStorage", np.float16),
        ("LongStorage", np.int64), ("IntStorage", np.int32), ("ShortStorage", np.int16), ("CharStorage", np.int8),
        ("ByteStorage", np.uint8), ("BoolStorage", np.bool_), ("ComplexDoubleStorage", np.complex128),
        ("ComplexFloatStorage", np.complex64))}
_UNTYPED_STORAGE = StorageType("torch.storage", "UntypedStorage", np.uint8)
_STORAGE_OF_DTYPE = {storage.dtype: storage for storage in _TYPED_STORAGES.values()}
# torch's dtype names (str(torch.float32) is "torch.float32"); the unsigned ones beyond uint8 have no typed storage
# class, so torch saves them as bytes with the dtype beside (_rebuild_tensor_v3)
_DTYPE_OF_NAME = {name: np.dtype(name) for name in (
    "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex128", "complex64",
    "uint16", "uint32", "uint64")}
_NAME_OF_DTYPE = {dtype: name for name, dtype in _DTYPE_OF_NAME.items()}
_NOT_IN_NUMPY = ("bfloat16", "complex32", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                 "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4")


class _Unsupported:
    """A torch name the engine knows but cannot rebuild; meeting it is an error saying why."""

    def __init__(self, what: str):
        self.what = what


def _check_storage(storage: Any) -> _LoadedStorage:
    if type(storage) is not _LoadedStorage:
        raise SerializationError(f"a tensor's storage is a {type(storage).__name__}, not a storage record")
    return storage


def _strided(storage: _LoadedStorage, dtype: np.dtype, storage_offset: Any, size: Any, stride: Any) -> np.ndarray:
    """The view of `storage` that a tensor with this offset, size and stride (in elements) is, after checking that
    it stays inside the storage (a pickle cannot make it read past the end)."""
    flat = storage.as_dtype(dtype)
    numbers = (storage_offset, *size, *stride)
    if not all(type(n) is int and n >= 0 for n in numbers) or len(size) != len(stride):
        raise SerializationError(f"a tensor has a bad layout: offset {storage_offset!r}, size {size!r}, stride "
                                 f"{stride!r}")
    shape = tuple(size)
    if 0 in shape:
        return np.empty(shape, dtype=flat.dtype)
    last = storage_offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
    if last >= flat.size:
        raise SerializationError(f"a tensor of size {shape}, stride {tuple(stride)} at offset {storage_offset} "
                                 f"reaches past its storage of {flat.size} elements")
    return np.lib.stride_tricks.as_strided(flat[storage_offset:], shape=shape,
                                           strides=tuple(s * flat.itemsize for s in stride))


def _tensor(array: np.ndarray, requires_grad: Any, backward_hooks: Any, metadata: Any) -> Tensor:
    if type(requires_grad) is not bool:
        raise SerializationError(f"a tensor's requires_grad is {requires_grad!r}, not a bool")
    if backward_hooks:
        raise SerializationError("a tensor has backward hooks; the engine's tensors have none")
    if metadata:
        raise SerializationError(f"a tensor carries metadata {sorted(metadata)} the engine cannot keep")
    tensor = Tensor._wrap(array)
    return tensor.requires_grad_(True) if requires_grad else tensor


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> Tensor:
    """torch._utils._rebuild_tensor: a tensor viewing a typed storage (files of PyTorch before 1.0)."""
    storage = _check_storage(storage)
    return _tensor(_strided(storage, storage.dtype, storage_offset, size, stride), False, None, None)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, metadata: Any = None) -> Tensor:
    """torch._utils._rebuild_tensor_v2: a tensor viewing a typed storage, so tensors that share a storage share
    memory after loading too."""
    storage = _check_storage(storage)
    array = _strided(storage, storage.dtype, storage_offset, size, stride)
    return _tensor(array, requires_grad, backward_hooks, metadata)


def _rebuild_tensor_v3(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, dtype: Any, metadata: Any = None) -> Tensor:
    """torch._utils._rebuild_tensor_v3: a tensor viewing an untyped (byte) storage as `dtype`."""
    if not isinstance(dtype, np.dtype):
        raise SerializationError(f"a tensor's dtype is {dtype!r}")
    array = _strided(_check_storage(storage), dtype, storage_offset, size, stride)
    return _tensor(array, requires_grad, backward_hooks, metadata)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> Parameter:
    """torch._utils._rebuild_parameter: an `nn.Parameter` holding the rebuilt tensor's values."""
    if not isinstance(data, Tensor) or type(requires_grad) is not bool:
        raise SerializationError(f"a parameter is rebuilt from {type(data).__name__} and {requires_grad!r}")
    if backward_hooks:
        raise SerializationError("a parameter has backward hooks; the engine's parameters have none")
    return Parameter(data, requires_grad=requires_grad)


def _with_state(obj: Tensor, state: Any) -> Tensor:
    """Python attributes a tensor carried in PyTorch: the engine's tensors have none, so any is an error."""
    if isinstance(state, tuple) and len(state) == 2:
        names = [*(state[0] or {}), *(state[1] or {})]
    else:
        names = list(state or {})
    if names:
        raise SerializationError(f"a tensor carries Python attributes {names}; the engine's tensors cannot hold them")
    return obj


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any, state: Any) -> Parameter:
    """torch._utils._rebuild_parameter_with_state: a Parameter that had Python attributes."""
    return _with_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Tensor:
    """torch._tensor._rebuild_from_type_v2: a tensor of a subclass, or one with attributes: `func(*args)`, then made
    a `new_type` (Tensor or Parameter)."""
    if id(func) not in map(id, _REBUILD_FUNCTIONS) or (new_type is not Tensor and new_type is not Parameter) \
            or type(args) is not tuple:
        raise SerializationError(f"a tensor of type {new_type!r} rebuilt by {func!r}: not one the engine has")
    tensor = func(*args)
    if new_type is Parameter and not isinstance(tensor, Parameter):
        tensor = Parameter(tensor, requires_grad=tensor.requires_grad)
    return _with_state(tensor, state)


def _size(dims: Any = ()) -> tuple[int, ...]:
    """torch.Size: the engine's sizes are plain tuples."""
    return tuple(dims)


def _device(kind: Any, index: Any = None) -> str:
    """torch.device, as its string ("cpu", "cuda:0")."""
    return str(kind) if index is None else f"{kind}:{index}"


_REBUILD_FUNCTIONS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3)

# torch's name -> the engine's object; _Unsupported marks names the engine knows but cannot rebuild
_TORCH_GLOBALS: dict[str, Any] = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.Size": _size,
    "torch.device": _device,
    "torch.Tensor": Tensor,
    "torch.nn.parameter.Parameter": Parameter,
    "torch.storage.UntypedStorage": _UNTYPED_STORAGE,
    **{f"torch.{name}": storage for name, storage in _TYPED_STORAGES.items()},
    **{f"torch.{name}": dtype for name, dtype in _DTYPE_OF_NAME.items()},
    **{f"torch.{name}": _Unsupported(f"{name} tensors, which numpy cannot hold (convert them in PyTorch, e.g. "
                                     f".float(), before saving)") for name in _NOT_IN_NUMPY},
    "torch.BFloat16Storage": _Unsupported("bfloat16 tensors, which numpy cannot hold (convert them in PyTorch, "
                                          "e.g. .float(), before saving)"),
    **{f"torch._utils.{name}": _Unsupported(f"{what} tensors, which the engine does not have") for name, what in (
        ("_rebuild_qtensor", "quantized"), ("_rebuild_sparse_tensor", "sparse"), ("_rebuild_nested_tensor", "nested"),
        ("_rebuild_meta_tensor_no_storage", "meta"), ("_rebuild_wrapper_subclass", "wrapper-subclass"),
        ("_rebuild_device_tensor_from_numpy", "device"), ("_rebuild_device_tensor_from_cpu_tensor", "device"))},
}
# what weights_only=True allows besides the torch names: PyTorch's own list (containers, bytes as protocol 2 writes
# them, sets, complex numbers)
_SAFE_GLOBALS: dict[str, Any] = {
    **_TORCH_GLOBALS,
    "collections.OrderedDict": OrderedDict,
    "collections.Counter": Counter,
    "_codecs.encode": codecs.encode,
    "builtins.bytearray": bytearray,
    "builtins.set": set,
    "builtins.complex": complex,
}
_CALLABLE = {id(f) for f in (OrderedDict, Counter, codecs.encode, bytearray, set, complex, _size, _device,
                             *_REBUILD_FUNCTIONS, _rebuild_parameter, _rebuild_parameter_with_state,
                             _rebuild_from_type_v2)}
# the engine's functions and classes -> the torch name `save` writes for them
_SAVED_NAMES = {id(obj): tuple(name.rsplit(".", 1)) for name, obj in _TORCH_GLOBALS.items()
                if callable(obj) and not isinstance(obj, StorageType)}


def _global_name(module: str, name: str) -> str:
    """`module.name` as Python 3 spells it (protocol 2 pickles may carry Python 2's names, `__builtin__.set`)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


# -- save ------------------------------------------------------------------------------------------------------------
class _SavedStorage:
    """One `data/<key>` record to write: a flat little-endian array, and the persistent id the pickle holds."""

    __slots__ = ("key", "array", "pid")

    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, array
        typed = _STORAGE_OF_DTYPE.get(array.dtype.newbyteorder("="))
        numel = array.size if typed is not None else array.nbytes
        self.pid = (_STORAGE, typed or _UNTYPED_STORAGE, key, _CPU, numel)


class _Reduction:
    """A `(callable, args)` pair for the pickler to write as a call (the tensor inside a Parameter)."""

    __slots__ = ("call",)

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...]):
        self.call = (func, args)


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class _Storages:
    """The storages of the tensors being saved, one per memory region: tensors over the same region (the same
    tensor twice, a tied weight under two names, a weight and its transpose) share a record, as in PyTorch.

    A tensor whose elements fill their span of memory exactly (contiguous, or a permutation of contiguous) is saved
    as that span, with its own strides; any other (a slice with gaps, negative or zero strides, a non-native byte
    order) as a compact copy. Either way a view into a larger array (a parameter inside an optimiser's flat
    buffer) writes only its own elements, never the whole buffer."""

    def __init__(self) -> None:
        self.by_region: dict[tuple[Any, ...], _SavedStorage] = {}
        self.records: list[_SavedStorage] = []

    def _storage(self, region: tuple[Any, ...], make: Callable[[], np.ndarray]) -> _SavedStorage:
        storage = self.by_region.get(region)
        if storage is None:
            storage = self.by_region[region] = _SavedStorage(str(len(self.records)), make())
            self.records.append(storage)
        return storage

    def layout(self, array: np.ndarray) -> tuple[_SavedStorage, tuple[int, ...]]:
        """The storage holding `array` (found or added) and the array's strides in it, in elements (offset 0)."""
        dtype, itemsize, shape = array.dtype, array.dtype.itemsize, array.shape
        little = dtype.newbyteorder("<")
        if array.size == 0:
            return self._storage(("empty", id(array)), lambda: np.empty(0, little)), _contiguous_strides(shape)
        strides = tuple(s if n > 1 or (s >= 0 and s % itemsize == 0) else 0 for n, s in zip(shape, array.strides,
                                                                                                strict=True))
        span = sum((n - 1) * s for n, s in zip(shape, strides, strict=True)) + itemsize
        dense = (all(s >= 0 and s % itemsize == 0 for s in strides) and span == array.nbytes
                 and (dtype.byteorder in "|<" or (dtype.byteorder == "=" and sys.byteorder == "little")))
        address = array.__array_interface__["data"][0]
        if dense:  # the span itself, in memory order, from the array's first element (its lowest address)
            storage = self._storage(("span", address, span, little.str), lambda: np.lib.stride_tricks.as_strided(
                array, shape=(array.size,), strides=(itemsize,), writeable=False))
            return storage, tuple(s // itemsize for s in strides)
        storage = self._storage(("copy", address, shape, array.strides, dtype.str),
                                lambda: np.ascontiguousarray(array, dtype=little).reshape(-1))
        return storage, _contiguous_strides(shape)

    def reduction(self, tensor: Tensor) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The call that rebuilds `tensor` in PyTorch (and here)."""
        array = tensor.numpy()
        if array.dtype.newbyteorder("=") not in _NAME_OF_DTYPE:
            raise SerializationError(f"save: cannot save a tensor of dtype {array.dtype}")
        storage, stride = self.layout(array)
        is_parameter = isinstance(tensor, Parameter)
        requires_grad = bool(tensor.requires_grad) and not is_parameter
        hooks: OrderedDict[Any, Any] = OrderedDict()
        if storage.pid[1] is _UNTYPED_STORAGE:
            args: tuple[Any, ...] = (storage, 0, array.shape, stride, requires_grad, hooks,
                                     array.dtype.newbyteorder("="))
            call: tuple[Callable[..., Any], tuple[Any, ...]] = (_rebuild_tensor_v3, args)
        else:
            call = (_rebuild_tensor_v2, (storage, 0, array.shape, stride, requires_grad, hooks))
        if is_parameter:
            return _rebuild_parameter, (_Reduction(*call), bool(tensor.requires_grad), OrderedDict())
        return call


class _TorchPickler(pickle._Pickler):
    """Python's pickler (its pure-Python form, the one whose `save_global` can be told the names to write) with
    tensors written as PyTorch writes them and the engine's rebuild functions, storage types and dtypes written
    under torch's names."""

    def __init__(self, file: IO[bytes], storages: _Storages):
        super().__init__(file, protocol=2)
        self.storages = storages

    def persistent_id(self, obj: Any) -> Any:
        return obj.pid if type(obj) is _SavedStorage else None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            return self.storages.reduction(obj)
        if type(obj) is _Reduction:
            return obj.call
        if type(obj) is StorageType or id(obj) in _SAVED_NAMES:
            return "torch"  # any name: the pickler then calls save_global, which writes torch's
        if isinstance(obj, np.dtype) and obj in _NAME_OF_DTYPE and obj.isnative:
            return _NAME_OF_DTYPE[obj]
        return NotImplemented

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if type(obj) is StorageType:
            where: tuple[str, ...] | None = (obj.module, obj.name)
        elif isinstance(obj, np.dtype):
            where = ("torch", _NAME_OF_DTYPE[obj])
        else:
            where = _SAVED_NAMES.get(id(obj))
        if where is None:
            super().save_global(obj, name)
            return
        self.write(pickle.GLOBAL + f"{where[0]}\n{where[1]}\n".encode())
        self.memoize(obj)


def _tensors_for_arrays(obj: Any, seen: dict[int, Any]) -> Any:
    """`obj` with the numpy arrays and numpy scalars found through its dicts, lists and tuples made tensors and
    Python numbers: the engine's state_dicts hold arrays, and PyTorch's weights-only loader refuses numpy objects.
    Arrays inside other objects stay arrays; one array met twice becomes one tensor (they stay shared)."""
    key = id(obj)
    if key in seen:
        return seen[key]
    if isinstance(obj, np.ndarray) and obj.dtype.newbyteorder("=") in _NAME_OF_DTYPE:
        out: Any = Tensor._wrap(obj)
    elif isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
        out = obj.item()
    elif type(obj) in (dict, OrderedDict):
        out = seen[key] = type(obj)()
        out.update((_tensors_for_arrays(k, seen), _tensors_for_arrays(v, seen)) for k, v in obj.items())
        if type(obj) is OrderedDict:
            out.__dict__.update(vars(obj))  # a PyTorch state_dict's _metadata
    elif type(obj) is list:
        out = seen[key] = []
        out.extend(_tensors_for_arrays(v, seen) for v in obj)
    elif type(obj) is tuple:
        seen[key] = obj  # a tuple that contains itself (through a list) keeps its original inside
        out = tuple(_tensors_for_arrays(v, seen) for v in obj)
    else:
        out = obj
    seen[key] = out
    return out


class _ZipWriter:
    """A zip archive written front to back the way PyTorch's writer (miniz) lays it out, so PyTorch can also
    compute where each record's data starts without reading the directory (as it does when memory-mapping):
    stored records; each local header with zero CRC and sizes, an "FB" extra field of "Z"s padding the data to a
    multiple of 64 bytes, the data, then a data descriptor (none for an empty record); zip64 fields for sizes and
    offsets from 4 GiB; the central directory, then zip64 end records and the end record."""

    def __init__(self, out: IO[bytes], folder: str):
        self.out, self.folder, self.offset = out, folder, 0
        self.entries: list[tuple[bytes, int, int, int, int]] = []

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.offset += memoryview(data).nbytes

    def record(self, name: str, data: bytes | np.ndarray) -> None:
        view = memoryview(data.reshape(-1).view(np.uint8) if isinstance(data, np.ndarray) else data)
        size, offset, full = view.nbytes, self.offset, f"{self.folder}/{name}".encode()
        crc = zlib.crc32(view)
        fields = ((size, size) if size >= _ZIP64_LIMIT else ()) + ((offset,) if offset >= _ZIP64_LIMIT else ())
        zip64 = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
        padding = -(offset + 30 + len(full) + len(zip64) + 4) % ALIGNMENT
        extra = zip64 + b"FB" + struct.pack("<H", padding) + b"Z" * padding
        flags = 0x0808 if size else 0x0800  # UTF-8 names; sizes in a data descriptor
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, flags, 0, 0, 0, 0, 0, 0, len(full), len(extra))
                    + full + extra)
        self._write(view)
        if size:
            self._write(struct.pack("<IIQQ" if fields else "<IIII", 0x08074B50, crc, size, size))
        self.entries.append((full, flags, crc, size, offset))

    def finish(self) -> None:
        start = self.offset
        for full, flags, crc, size, offset in self.entries:
            big_size, big_offset = size >= _ZIP64_LIMIT, offset >= _ZIP64_LIMIT
            fields = ((size, size) if big_size else ()) + ((offset,) if big_offset else ())
            extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            stored_size = 0xFFFFFFFF if big_size else size
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, flags, 0, 0, 0, crc, stored_size,
                                    stored_size, len(full), len(extra), 0, 0, 0, 0,
                                    0xFFFFFFFF if big_offset else offset) + full + extra)
        end, count = self.offset, len(self.entries)
        self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, count, count, end - start, start))
        self._write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                                min(end - start, 0xFFFFFFFF), min(start, 0xFFFFFFFF), 0))


def _serialization_id(pickled: bytes, entries: list[tuple[bytes, int, int, int, int]]) -> bytes:
    """40 digits naming this file's contents: PyTorch draws two random 64-bit numbers; a digest of the pickle and
    of the records' CRCs and sizes keeps a saved file bit-for-bit repeatable, without another pass over the data."""
    digest = hashlib.sha256(pickled)
    for name, _, crc, size, _ in entries:
        digest.update(name + struct.pack("<IQ", crc, size))
    high, low = struct.unpack("<QQ", digest.digest()[:16])
    return f"{high:020d}{low:020d}".encode()


def _write_archive(out: IO[bytes], folder: str, pickled: bytes, storages: list[_SavedStorage]) -> None:
    writer = _ZipWriter(out, folder)
    writer.record("data.pkl", pickled)
    writer.record(".format_version", _FORMAT_VERSION)
    writer.record(".storage_alignment", str(ALIGNMENT).encode())
    writer.record("byteorder", b"little")
    for storage in storages:
        writer.record(f"data/{storage.key}", storage.array)
    writer.record("version", _VERSION)
    writer.record(".data/serialization_id", _serialization_id(pickled, writer.entries))
    writer.finish()


def _archive_name(path: str) -> str:
    """PyTorch's name for the archive's folder: the file name without its last extension."""
    stem = os.path.basename(path).rpartition(".")
    return (stem[0] if stem[1] else stem[2]) or "archive"


def save(obj: Any, f: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write `obj` to `f` in PyTorch's file format (`torch.save`): tensors, Parameters, state_dicts and any nesting
    of dicts, lists and tuples of them with numbers, strings, None and bools, which `torch.load(f,
    weights_only=True)` and `load(f)` read back; other objects (a whole model) are pickled whole, for
    `load(f, weights_only=False)`. Numpy arrays and numpy scalars among the dicts, lists and tuples are written as
    tensors and Python numbers.

    `f` is a path or a writable binary file. A path is written to a temporary file beside it, then renamed over
    it, so an existing file is replaced whole or not at all (as `torch.save` does, an existing file is
    replaced)."""
    storages = _Storages()
    buffer = io.BytesIO()
    try:
        _TorchPickler(buffer, storages).dump(_tensors_for_arrays(obj, {}))
    except (pickle.PicklingError, TypeError) as error:
        raise SerializationError(f"save: cannot pickle the object: {error}") from None
    pickled = buffer.getvalue()
    if not isinstance(f, (str, os.PathLike)):
        if isinstance(f, io.TextIOBase) or not hasattr(f, "write"):
            raise TypeError(f"save: f must be a path or a binary file opened for writing, got {type(f).__name__}")
        _write_archive(f, "archive", pickled, storages.records)
        return
    path = os.fspath(f)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise SerializationError(f"save: parent directory {directory} does not exist")
    temporary, handle = _create_beside(path)
    try:
        with os.fdopen(handle, "wb") as out:
            _write_archive(out, _archive_name(path), pickled, storages.records)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _create_beside(path: str) -> tuple[str, int]:
    """A new file next to `path` (same directory, so the rename is atomic), with the permissions a plain `open`
    gives (the umask's), unlike a temporary file's owner-only ones."""
    directory, name = os.path.split(path)
    while True:
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                                      0o666)
        except FileExistsError:
            continue


# -- load ------------------------------------------------------------------------------------------------------------
class _LoadedStorage:
    """A storage read from a `data/<key>` record: a flat array of its elements (native byte order). `cpu()` and
    `cuda()` let a `map_location` callable treat it as PyTorch's storages."""

    __slots__ = ("array", "dtype")

    def __init__(self, array: np.ndarray, dtype: np.dtype):
        self.array, self.dtype = array, dtype

    def as_dtype(self, dtype: np.dtype) -> np.ndarray:
        """The elements as `dtype` (an untyped storage is bytes that a tensor views as its own dtype)."""
        if dtype == self.array.dtype:
            return self.array
        raw = self.array.view(np.uint8)
        if raw.size % dtype.itemsize:
            raise SerializationError(f"a storage of {raw.size} bytes cannot hold {dtype} elements")
        return raw.view(dtype)

    def cpu(self) -> _LoadedStorage:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> _LoadedStorage:
        raise SerializationError(_unavailable("cuda"))


def _unavailable(location: str) -> str:
    """PyTorch's words for a storage whose location is a device this machine does not have."""
    backend = location.split(":")[0]
    if backend.isidentifier():
        return (f"Attempting to deserialize object on a {backend.upper()} device but "
                f"torch.{backend}.is_available() is False. If you are running on a CPU-only machine, please use "
                f"torch.load with map_location=torch.device('cpu') to map your storages to the CPU.")
    return f"don't know how to restore data location of a storage (tagged with {location!r})"


def _restorer(map_location: Any) -> Callable[[_LoadedStorage, str], _LoadedStorage]:
    """PyTorch's `map_location` rules, on a machine whose only device is the CPU: None keeps each storage's saved
    location, a string or device object names one location for all, a dict renames locations, a callable gets
    `(storage, location)` and returns a storage (or None for the default). Whatever location results must be the
    CPU; anything else is PyTorch's error for a device it does not have."""

    def at(storage: _LoadedStorage, location: Any) -> _LoadedStorage:
        location = location.decode("ascii") if isinstance(location, bytes) else str(location)
        if location != "cpu":
            raise SerializationError(_unavailable(location))
        return storage

    if map_location is None:
        return at
    if isinstance(map_location, dict):
        return lambda storage, location: at(storage, map_location.get(location, location))
    if isinstance(map_location, (str, bytes)) or not callable(map_location):
        return lambda storage, location: at(storage, map_location)

    def call(storage: _LoadedStorage, location: str) -> _LoadedStorage:
        result = map_location(storage, location)
        if result is None:
            return at(storage, location)
        if type(result) is not _LoadedStorage:
            raise SerializationError(f"map_location returned a {type(result).__name__}, not a storage")
        return result

    return call


def _describe(f: Any) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


class _Archive:
    """The records of a PyTorch zip archive, by name within its folder (the folder of its first entry, as PyTorch
    finds it)."""

    def __init__(self, zip_file: zipfile.ZipFile, mapped: np.memmap | None):
        self.zip, self.mapped = zip_file, mapped
        names = zip_file.namelist()
        if not names or "/" not in names[0]:
            raise SerializationError("a zip archive, but not a PyTorch file (no folder of records)")
        self.prefix = names[0].split("/")[0] + "/"
        present = set(names)
        if self.prefix + "constants.pkl" in present:
            raise SerializationError("a TorchScript archive (torch.jit.save); load reads torch.save files "
                                     "only")
        if self.prefix + "data.pkl" not in present:
            raise SerializationError(f"a zip archive, but not a PyTorch file (no {self.prefix}data.pkl)")
        order = self.read("byteorder") if self.prefix + "byteorder" in present else b"little"
        if order not in (b"little", b"big"):
            raise SerializationError(f"unknown byte order {order!r}")
        self.byteorder = "<" if order == b"little" else ">"

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self.zip.getinfo(self.prefix + name)
        except KeyError:
            raise SerializationError(f"the record {name} is missing (the file is incomplete or "
                                     "damaged)") from None

    def read(self, name: str) -> bytes:
        self._info(name)
        try:
            return self.zip.read(self.prefix + name)
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise SerializationError(f"the record {name} is damaged ({error})") from None

    def storage(self, name: str, nbytes: int) -> bytearray | np.ndarray:
        """A record's bytes, checked to be `nbytes` long: read into memory, or a copy-on-write map of the file."""
        info = self._info(name)
        if info.file_size != nbytes:
            raise SerializationError(f"the record {name} holds {info.file_size} bytes, its tensor "
                                     f"needs {nbytes}")
        if self.mapped is not None:
            if info.compress_type != zipfile.ZIP_STORED:
                raise SerializationError(f"the record {name} is compressed and cannot be mapped")
            header = bytes(self.mapped[info.header_offset:info.header_offset + 30])
            if header[:4] != b"PK\x03\x04":
                raise SerializationError(f"the record {name} has a damaged header")
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            return self.mapped[start:start + nbytes]
        data = bytearray(nbytes)
        try:
            with self.zip.open(info) as record:
                filled = 0
                while filled < nbytes:
                    chunk = record.readinto(memoryview(data)[filled:])
                    if not chunk:
                        raise EOFError(f"it ends after {filled} of {nbytes} bytes")
                    filled += chunk
                record.read()  # at the end: the CRC check
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise SerializationError(f"the record {name} is damaged ({error})") from None
        return data


class _StorageReader:
    """`persistent_load` for both unpicklers: each storage read once (tensors that share it share memory), mapped to
    its location."""

    def __init__(self, archive: _Archive, restore: Callable[[_LoadedStorage, str], _LoadedStorage]):
        self.archive, self.restore = archive, restore
        self.loaded: dict[str, _LoadedStorage] = {}

    def __call__(self, pid: Any) -> _LoadedStorage:
        if type(pid) is not tuple or len(pid) != 5 or _text(pid[0]) != "storage":
            raise SerializationError(f"a persistent id {pid!r} that is not a storage")
        _, storage_type, key, location, numel = pid
        key, location = _text(key), _text(location)
        if type(storage_type) is not StorageType or type(numel) is not int or numel < 0 or type(key) is not str:
            raise SerializationError(f"a bad storage id {pid!r}")
        if key in self.loaded:
            return self.loaded[key]
        dtype = storage_type.dtype
        data = self.archive.storage(f"data/{key}", numel * (1 if storage_type is _UNTYPED_STORAGE else dtype.itemsize))
        array = np.frombuffer(data, dtype=dtype.newbyteorder(self.archive.byteorder))
        if not array.dtype.isnative:
            array = array.astype(dtype)
        storage = self.restore(_LoadedStorage(array, dtype), str(location))
        self.loaded[key] = storage
        return storage


def _text(value: Any) -> Any:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


@contextmanager
def _opened(f: Any, mmap: bool | None) -> Iterator[_Archive]:
    """The archive in `f`, or the one clear error saying what `f` is instead."""
    if mmap and not isinstance(f, (str, os.PathLike)):
        raise ValueError("f must be a file path in order to use the mmap argument")
    with open(f, "rb") if isinstance(f, (str, os.PathLike)) else _as_file(f) as file:
        start = file.tell()
        head = file.read(512)
        file.seek(start)
        try:
            zip_file = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise SerializationError(_what_it_is(head, error)) from None
        with zip_file:
            mapped = np.memmap(f, dtype=np.uint8, mode="c") if mmap else None
            yield _Archive(zip_file, mapped)


def _as_file(f: Any) -> IO[bytes]:
    """A file object to read from as it is, or (not seekable) its remaining bytes in memory; closing it leaves the
    caller's file open."""
    if isinstance(f, io.TextIOBase) or not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path or a binary file opened for reading, got {type(f).__name__}")
    seekable = getattr(f, "seekable", None)
    if seekable is not None and seekable():
        return _Unclosed(f)
    return io.BytesIO(f.read())


class _Unclosed(io.BufferedIOBase):
    """The caller's file, read through without being closed at the end."""

    def __init__(self, file: IO[bytes]):
        self.file = file

    def read(self, size: int | None = -1) -> bytes:
        return self.file.read(size)

    def readinto(self, buffer: Any) -> int:
        return self.file.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def _what_it_is(head: bytes, error: Exception) -> str:
    if not head:
        return "empty file, not a PyTorch file"
    if head.startswith(_LEGACY_MAGIC):
        return ("a PyTorch file in the legacy format (written before PyTorch 1.6 or with "
                "_use_new_zipfile_serialization=False), which load does not read; load it in PyTorch and torch.save "
                "it again")
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive (PyTorch's oldest format, or not a PyTorch file), which load does not read"
    if head[:1] == b"\x80":
        return "a plain Python pickle, not a PyTorch file (torch.save writes a zip archive)"
    if head.startswith(b"PK"):
        return f"a truncated or damaged zip archive ({error})"
    return "not a PyTorch file (torch.save writes a zip archive)"


def load(f: str | os.PathLike[str] | IO[bytes], map_location: Any = None, *, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Read what `save` or `torch.save` wrote to `f` (a path or a readable binary file); tensors come back as the
    engine's Tensors (Parameters where PyTorch saved Parameters) with their dtype, shape and strides, sharing memory
    where they shared a storage.

    `weights_only=True` (the default, as in PyTorch; None means the same) rebuilds only tensors, Parameters, dtypes,
    sizes, devices, dicts, OrderedDicts, lists, tuples, sets, numbers, strings and bytes, and refuses any other
    name in the file before anything is called. `weights_only=False` unpickles whole objects with Python's
    unpickler, which runs the code the file names: only for files you trust. `map_location` follows PyTorch's rules
    (None, "cpu", a device, a dict or a callable), and everything must end up on the CPU: a file saved on a GPU
    loads with `map_location="cpu"`. `mmap=True` maps the storages from the file (a path) instead of reading
    them. `pickle_load_args` go to the unpickler (`encoding`; the rest only with `weights_only=False`)."""
    weights_only = True if weights_only is None else weights_only
    encoding = pickle_load_args.setdefault("encoding", "utf-8")
    if weights_only and set(pickle_load_args) != {"encoding"}:
        extra = sorted(set(pickle_load_args) - {"encoding"})
        raise TypeError(f"load: {', '.join(extra)} apply only with weights_only=False")
    restore = _restorer(map_location)
    try:
        with _opened(f, mmap) as archive:
            storages = _StorageReader(archive, restore)
            pickled = archive.read("data.pkl")
            if weights_only:
                return _WeightsOnlyUnpickler(pickled, storages, encoding).load()
            return _FullUnpickler(io.BytesIO(pickled), storages, **pickle_load_args).load()
    except (SerializationError, pickle.UnpicklingError) as error:  # one line, naming the file
        raise type(error)(f"{_describe(f)}: {error}") from None


class _FullUnpickler(pickle.Unpickler):
    """Python's unpickler, with torch's names mapped to the engine's objects and tensors' storages read from the
    archive. Any other torch name is refused: the engine never imports PyTorch."""

    def __init__(self, file: IO[bytes], storages: _StorageReader, **kwargs: Any):
        super().__init__(file, **kwargs)
        self.storages = storages

    def persistent_load(self, pid: Any) -> Any:
        return self.storages(pid)

    def find_class(self, module: str, name: str) -> Any:
        full = _global_name(module, name)
        found = _TORCH_GLOBALS.get(full)
        if isinstance(found, _Unsupported):
            raise SerializationError(f"holds {found.what} ({full})")
        if found is not None:
            return found
        if full.startswith("torch."):
            raise SerializationError(f"pickles {full}, a PyTorch object that only PyTorch can rebuild; "
                                     "save its state_dict() in PyTorch and load that")
        return super().find_class(module, name)


class _WeightsOnlyUnpickler:
    """A pickle interpreter that builds only what weights_only allows, as PyTorch's does: globals only from
    `_SAFE_GLOBALS` (looked up, never imported), calls only of the rebuild functions, containers and a few builtins,
    BUILD only on OrderedDicts and Counters, SETITEM only on dicts, APPEND only on lists. Anything else is refused
    with one line naming it, before anything of it is called."""

    def __init__(self, data: bytes, storages: _StorageReader, encoding: str):
        self.data, self.pos, self.storages, self.encoding = memoryview(data), 0, storages, encoding
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        ops = {
            pickle.PROTO: lambda: self.take(1), pickle.FRAME: lambda: self.take(8), pickle.MARK: self.mark,
            pickle.NONE: lambda: self.push(None), pickle.NEWTRUE: lambda: self.push(True),
            pickle.NEWFALSE: lambda: self.push(False),
            pickle.BININT: lambda: self.push(self.unpack("<i")), pickle.BININT1: lambda: self.push(self.take(1)[0]),
            pickle.BININT2: lambda: self.push(self.unpack("<H")),
            pickle.LONG1: lambda: self.push(pickle.decode_long(self.take(self.take(1)[0]))),
            pickle.LONG4: lambda: self.push(pickle.decode_long(self.take(self.unpack("<i")))),
            pickle.BINFLOAT: lambda: self.push(self.unpack(">d")),
            pickle.SHORT_BINUNICODE: lambda: self.push(self.text(self.take(1)[0])),
            pickle.BINUNICODE: lambda: self.push(self.text(self.unpack("<I"))),
            pickle.BINUNICODE8: lambda: self.push(self.text(self.unpack("<Q"))),
            pickle.SHORT_BINSTRING: lambda: self.push(self.legacy_string(self.take(1)[0])),
            pickle.BINSTRING: lambda: self.push(self.legacy_string(self.unpack("<i"))),
            pickle.SHORT_BINBYTES: lambda: self.push(bytes(self.take(self.take(1)[0]))),
            pickle.BINBYTES: lambda: self.push(bytes(self.take(self.unpack("<I")))),
            pickle.BINBYTES8: lambda: self.push(bytes(self.take(self.unpack("<Q")))),
            pickle.EMPTY_TUPLE: lambda: self.push(()), pickle.EMPTY_LIST: lambda: self.push([]),
            pickle.EMPTY_DICT: lambda: self.push({}), pickle.EMPTY_SET: lambda: self.push(set()),
            pickle.TUPLE: lambda: self.push(tuple(self.pop_mark())), pickle.TUPLE1: lambda: self.tuple_of(1),
            pickle.TUPLE2: lambda: self.tuple_of(2), pickle.TUPLE3: lambda: self.tuple_of(3),
            pickle.FROZENSET: lambda: self.push(frozenset(self.pop_mark())),
            pickle.APPEND: lambda: self.extend([self.stack.pop()]),
            pickle.APPENDS: lambda: self.extend(self.pop_mark()),
            pickle.SETITEM: lambda: self.set_items(self.stack.pop(-2), self.stack.pop()),
            pickle.SETITEMS: lambda: self.set_items(*self.pop_mark()), pickle.ADDITEMS: self.add_items,
            pickle.POP: lambda: self.stack.pop(), pickle.POP_MARK: self.pop_mark,
            pickle.BINPUT: lambda: self.put(self.take(1)[0]), pickle.LONG_BINPUT: lambda: self.put(self.unpack("<I")),
            pickle.MEMOIZE: lambda: self.put(len(self.memo)),
            pickle.BINGET: lambda: self.push(self.memo[self.take(1)[0]]),
            pickle.LONG_BINGET: lambda: self.push(self.memo[self.unpack("<I")]),
            pickle.GLOBAL: lambda: self.push(self.resolve(self.line(), self.line())),
            pickle.STACK_GLOBAL: self.stack_global, pickle.REDUCE: self.reduce, pickle.NEWOBJ: self.newobj,
            pickle.BUILD: self.build, pickle.BINPERSID: lambda: self.push(self.storages(self.stack.pop())),
        }
        self.ops = {op[0]: handler for op, handler in ops.items()}

    def refuse(self, what: str) -> WeightsOnlyUnpicklingError:
        return WeightsOnlyUnpicklingError(f"weights_only load refused {what}")

    def load(self) -> Any:
        try:
            while True:
                op = self.take(1)[0]
                if op == pickle.STOP[0]:
                    if len(self.stack) != 1 or self.marks:
                        raise SerializationError("data.pkl is damaged (it stops mid-object)")
                    return self.stack[0]
                handler = self.ops.get(op)
                if handler is None:
                    raise self.refuse(f"the pickle instruction {bytes([op])!r} at byte {self.pos - 1} (not one a "
                                      "torch.save file uses)")
                handler()
        except (IndexError, KeyError, ValueError, TypeError, struct.error) as error:
            raise SerializationError(f"data.pkl is damaged ({type(error).__name__} at byte "
                                     f"{self.pos})") from None

    # -- reading the pickle
    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise IndexError("past the end")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def unpack(self, layout: str) -> Any:
        return struct.unpack(layout, self.take(struct.calcsize(layout)))[0]

    def text(self, n: int) -> str:
        return str(self.take(n), "utf-8", "surrogatepass")

    def legacy_string(self, n: int) -> Any:
        data = bytes(self.take(n))
        return data if self.encoding == "bytes" else data.decode(self.encoding)

    def line(self) -> str:
        end = self.data.obj.index(b"\n", self.pos)  # type: ignore[union-attr]
        return self.text(end - self.pos + 1)[:-1]

    # -- the stack
    def push(self, value: Any) -> None:
        self.stack.append(value)

    def mark(self) -> None:
        self.marks.append(self.stack)
        self.stack = []

    def pop_mark(self) -> list[Any]:
        items, self.stack = self.stack, self.marks.pop()
        return items

    def tuple_of(self, n: int) -> None:
        if len(self.stack) < n:
            raise IndexError("stack underflow")
        self.stack[-n:] = [tuple(self.stack[-n:])]

    def put(self, index: int) -> None:
        self.memo[index] = self.stack[-1]

    # -- containers
    def extend(self, items: list[Any]) -> None:
        if type(self.stack[-1]) is not list:
            raise self.refuse(f"appending to a {type(self.stack[-1]).__name__} (only lists)")
        self.stack[-1].extend(items)

    def set_items(self, *items: Any) -> None:
        target = self.stack[-1]
        if type(target) not in (dict, OrderedDict, Counter) or len(items) % 2:
            raise self.refuse(f"setting items of a {type(target).__name__} (only dicts)")
        try:
            for i in range(0, len(items), 2):
                target[items[i]] = items[i + 1]
        except TypeError as error:
            raise SerializationError(f"data.pkl is damaged ({error})") from None

    def add_items(self) -> None:
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            raise self.refuse(f"adding items to a {type(self.stack[-1]).__name__} (only sets)")
        self.stack[-1].update(items)

    # -- globals and calls
    def resolve(self, module: str, name: str) -> Any:
        full = _global_name(module, name)
        found = _SAFE_GLOBALS.get(full)
        if isinstance(found, _Unsupported):
            raise SerializationError(f"holds {found.what} ({full})")
        if found is not None:
            return found
        if full.startswith("torch."):
            raise self.refuse(f"{full}: a PyTorch object that only PyTorch can rebuild (a whole torch model?); save "
                              "its state_dict() in PyTorch and load that")
        raise self.refuse(f"the global {full} (not a tensor, dtype, OrderedDict or plain Python value); if you trust "
                          "this file, load it with weights_only=False, which runs the code it names")

    def stack_global(self) -> None:
        name, module = self.stack.pop(), self.stack.pop()
        if type(module) is not str or type(name) is not str:
            raise self.refuse("a STACK_GLOBAL whose names are not strings")
        self.push(self.resolve(module, name))

    def call(self, func: Any, args: Any) -> Any:
        if type(args) is not tuple:
            raise SerializationError("data.pkl is damaged (arguments that are not a tuple)")
        try:
            return func(*args)
        except (SerializationError, WeightsOnlyUnpicklingError):
            raise
        except (TypeError, ValueError, OverflowError, MemoryError) as error:
            raise SerializationError(f"bad arguments to {getattr(func, '__name__', func)}: "
                                     f"{error}") from None

    def reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if id(func) not in _CALLABLE:
            raise self.refuse(f"a call of {func!r}")
        self.stack[-1] = self.call(func, args)

    def newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack[-1]
        if cls is Parameter:
            self.stack[-1] = self.call(Parameter, args)
        elif cls is OrderedDict or cls is Counter or cls is set:
            self.stack[-1] = self.call(lambda *a: cls.__new__(cls, *a), args)
        else:
            raise self.refuse(f"creating an instance of {cls!r}")

    def build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if type(target) not in (OrderedDict, Counter):
            raise self.refuse(f"setting the state of a {type(target).__name__} (only OrderedDicts)")
        if type(state) is not dict or not all(type(k) is str for k in state):
            raise self.refuse(f"an OrderedDict state of type {type(state).__name__}")
        target.__dict__.update(state)
