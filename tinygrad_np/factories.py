"""Creating tensors, with PyTorch's names and dtype rules: `tensor([1.0, 2.0])` is float32, `tensor([1, 2])` int64,
`tensor(np_array)` keeps the array's dtype. Random factories draw from the global generator that `manual_seed`
seeds."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import DEFAULT_FLOAT, DEFAULT_INT, _shape_args
from .engine import Tensor
from .random import default_generator

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


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (PyTorch's `torch.tensor`)."""
    array = _inferred(data) if dtype is None else np.array(data._data if isinstance(data, Tensor) else data,
                                                          dtype=dtype)
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """A tensor sharing `data`'s memory where it can (a numpy array of the right dtype), else a new one."""
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


def _made(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def _dtype(dtype: Any, default: np.dtype = DEFAULT_FLOAT) -> np.dtype:
    return default if dtype is None else np.dtype(dtype)


def zeros(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.zeros(_shape_args(size), dtype=_dtype(dtype)), requires_grad)


def ones(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.ones(_shape_args(size), dtype=_dtype(dtype)), requires_grad)


def empty(*size: Size, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.empty(_shape_args(size), dtype=_dtype(dtype)), requires_grad)


def full(size: Size, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`size` filled with `fill_value`; the dtype follows the value (float32, int64 or bool) unless given."""
    if dtype is None:
        dtype = _inferred(fill_value).dtype
    return _made(np.full(_shape_args((size,)), fill_value, dtype=dtype), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return zeros(input.shape, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return ones(input.shape, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return empty(input.shape, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """[start, end) in steps (`arange(n)` is 0..n-1): int64 when all arguments are ints, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        every_int = all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step))
        dtype = DEFAULT_INT if every_int else DEFAULT_FLOAT
    return _made(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*size: Size, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform on [0, 1), from `generator` or the global one (`manual_seed`)."""
    dtype = _dtype(dtype)
    return _made((generator or default_generator()).random(_shape_args(size), dtype=np.float64).astype(dtype),
                 requires_grad)


def randn(*size: Size, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal draws, from `generator` or the global one (`manual_seed`)."""
    dtype = _dtype(dtype)
    return _made((generator or default_generator()).standard_normal(_shape_args(size)).astype(dtype), requires_grad)


def randint(low: int, high: int | None = None, size: Size = (), dtype: Any = None,
            generator: np.random.Generator | None = None) -> Tensor:
    """Integers in [low, high) (`randint(high, size)` starts at 0), int64 unless told."""
    if high is None:
        low, high = 0, low
    return _made((generator or default_generator()).integers(low, high, _shape_args((size,))).astype(
        _dtype(dtype, DEFAULT_INT)), False)


def randperm(n: int, dtype: Any = None, generator: np.random.Generator | None = None) -> Tensor:
    """A random permutation of 0..n-1."""
    return _made((generator or default_generator()).permutation(n).astype(_dtype(dtype, DEFAULT_INT)), False)
