"""Creating tensors, with PyTorch's names and dtype rules: `tensor([1.0, 2.0])` is float32, `tensor([1, 2])` int64,
`tensor(np_array)` keeps the array's dtype. Random factories draw from `generator=` (a `Generator`) or the global
generator that `manual_seed` seeds. Every factory takes PyTorch's `device=`: the CPU, or a one-line refusal of any
other device (tinygrad_np/device.py)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .device import check_device, device
from .dtypes import DEFAULT_FLOAT, DEFAULT_INT, _shape_args
from .engine import Tensor
from .random import default_generator

Device = str | device | None

Size = int | Sequence[int]


def _inferred(data: Any) -> np.ndarray:
    """The array `torch.tensor(data)` would hold: a numpy array or scalar keeps its dtype, Python floats become
    float32, Python ints int64, Python bools bool."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f":
        return array.astype(DEFAULT_FLOAT)
    if array.dtype.kind in "iu":
        return array.astype(DEFAULT_INT)
    if array.dtype.kind == "b":
        return array
    raise TypeError(f"tensor(): cannot make a tensor of {type(data).__name__} data (numpy dtype {array.dtype})")


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, *, device: Device = None) -> Tensor:
    """A new tensor holding a copy of `data` (PyTorch's `torch.tensor`)."""
    check_device(device, "tensor")
    array = _inferred(data) if dtype is None else np.array(data._data if isinstance(data, Tensor) else data,
                                                          dtype=dtype)
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def as_tensor(data: Any, dtype: Any = None, device: Device = None) -> Tensor:
    """A tensor sharing `data`'s memory where it can (a numpy array of the right dtype), else a new one."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return Tensor(data, dtype=data.dtype)
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing the numpy array's memory, with its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    return Tensor(array, dtype=array.dtype)


def is_tensor(obj: Any) -> bool:
    """Whether `obj` is a Tensor (a Parameter is one)."""
    return isinstance(obj, Tensor)


def _made(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def _dtype(dtype: Any, default: np.dtype = DEFAULT_FLOAT) -> np.dtype:
    return default if dtype is None else np.dtype(dtype)


def zeros(*size: Size, dtype: Any = None, requires_grad: bool = False, device: Device = None) -> Tensor:
    check_device(device, "zeros")
    return _made(np.zeros(_shape_args(size), dtype=_dtype(dtype)), requires_grad)


def ones(*size: Size, dtype: Any = None, requires_grad: bool = False, device: Device = None) -> Tensor:
    check_device(device, "ones")
    return _made(np.ones(_shape_args(size), dtype=_dtype(dtype)), requires_grad)


def empty(*size: Size, dtype: Any = None, requires_grad: bool = False, device: Device = None) -> Tensor:
    check_device(device, "empty")
    return _made(np.empty(_shape_args(size), dtype=_dtype(dtype)), requires_grad)


def full(size: Size, fill_value: Any, dtype: Any = None, requires_grad: bool = False, *,
         device: Device = None) -> Tensor:
    """`size` filled with `fill_value`; the dtype follows the value (float32, int64 or bool) unless given."""
    check_device(device, "full")
    if dtype is None:
        dtype = _inferred(fill_value).dtype
    return _made(np.full(_shape_args((size,)), fill_value, dtype=dtype), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False, *,  # noqa: A002
               device: Device = None) -> Tensor:
    check_device(device, "zeros_like")
    return zeros(input.shape, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False, *,  # noqa: A002
              device: Device = None) -> Tensor:
    check_device(device, "ones_like")
    return ones(input.shape, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype: Any = None, requires_grad: bool = False, *,  # noqa: A002
               device: Device = None) -> Tensor:
    check_device(device, "empty_like")
    return empty(input.shape, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None,  # noqa: A002
              requires_grad: bool = False, *, device: Device = None) -> Tensor:
    check_device(device, "full_like")
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False, *, device: Device = None) -> Tensor:
    """[start, end) in steps (`arange(n)` is 0..n-1): int64 when all arguments are ints, else float32."""
    check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign (start {start}, end "
                           f"{end}, step {step})")
    if dtype is None:
        every_int = all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step))
        dtype = DEFAULT_INT if every_int else DEFAULT_FLOAT
    return _made(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False, *,
             device: Device = None) -> Tensor:
    check_device(device, "linspace")
    return _made(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, *,
        device: Device = None) -> Tensor:
    check_device(device, "eye")
    return _made(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


# -- random factories -------------------------------------------------------------------------------------------------
def _floating(dtype: np.dtype, name: str) -> np.dtype:
    if dtype.kind != "f":
        raise TypeError(f"{name}: draws are floating point, got dtype {dtype}")
    return dtype


def rand(*size: Size, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None, device: Device = None) -> Tensor:
    """Uniform on [0, 1), from `generator` or the global one (`manual_seed`)."""
    check_device(device, "rand")
    dtype = _floating(_dtype(dtype), "rand")
    return _made((generator or default_generator()).random(_shape_args(size), dtype=np.float64).astype(dtype),
                 requires_grad)


def randn(*size: Size, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None, device: Device = None) -> Tensor:
    """Standard normal draws, from `generator` or the global one (`manual_seed`)."""
    check_device(device, "randn")
    dtype = _floating(_dtype(dtype), "randn")
    return _made((generator or default_generator()).standard_normal(_shape_args(size)).astype(dtype), requires_grad)


def randint(low: int = 0, high: int | Size | None = None, size: Size | None = None, *,
            generator: np.random.Generator | None = None, dtype: Any = None, requires_grad: bool = False,
            device: Device = None) -> Tensor:
    """Integers in [low, high), int64 unless told. PyTorch's forms: `randint(high, size)`, `randint(low, high, size)`,
    `randint(high=..., size=...)`; without a size, one number (a 0-d tensor)."""
    check_device(device, "randint")
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"randint: expects low < high, but got low={low} >= high={high}")
    values = (generator or default_generator()).integers(low, high, _shape_args((() if size is None else size,)))
    return _made(values.astype(_dtype(dtype, DEFAULT_INT)), requires_grad)


def randperm(n: int, *, generator: np.random.Generator | None = None, dtype: Any = None,
             requires_grad: bool = False, device: Device = None) -> Tensor:
    """A random permutation of 0..n-1."""
    check_device(device, "randperm")
    return _made((generator or default_generator()).permutation(n).astype(_dtype(dtype, DEFAULT_INT)),
                 requires_grad)


def rand_like(input: Tensor, *, generator: np.random.Generator | None = None, dtype: Any = None,  # noqa: A002
              requires_grad: bool = False, device: Device = None) -> Tensor:
    """`rand` in `input`'s shape and (unless told) dtype."""
    check_device(device, "rand_like")
    dtype = _floating(_dtype(input.dtype if dtype is None else dtype), "rand_like")
    return rand(input.shape, dtype=dtype, requires_grad=requires_grad,
                generator=generator)


def randn_like(input: Tensor, *, generator: np.random.Generator | None = None, dtype: Any = None,  # noqa: A002
               requires_grad: bool = False, device: Device = None) -> Tensor:
    """`randn` in `input`'s shape and (unless told) dtype."""
    check_device(device, "randn_like")
    dtype = _floating(_dtype(input.dtype if dtype is None else dtype), "randn_like")
    return randn(input.shape, dtype=dtype, requires_grad=requires_grad,
                 generator=generator)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *,  # noqa: A002
                 generator: np.random.Generator | None = None, dtype: Any = None, requires_grad: bool = False,
                 device: Device = None) -> Tensor:
    """`randint` in `input`'s shape and (unless told) dtype: `randint_like(x, high)` or `randint_like(x, low, high)`
    (a float tensor gets whole-number floats, as in PyTorch)."""
    check_device(device, "randint_like")
    return randint(low, high, input.shape, generator=generator, dtype=input.dtype if dtype is None else dtype,
                   requires_grad=requires_grad)
