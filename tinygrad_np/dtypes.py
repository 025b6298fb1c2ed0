"""dtypes as PyTorch spells them, PyTorch's promotion rules, and the argument helpers every method shares.

The dtype names (`tinygrad_np.float32`, `tinygrad_np.long`, ...) are numpy dtypes, so `x.dtype ==
tinygrad_np.float32` and `x.dtype == np.float32` both hold. `bfloat16` is a name only: numpy has no bfloat16, so a
tensor of it cannot exist, and using it as a dtype says so (naming it is fine, e.g. in a table of choices or in
`autocast(dtype=...)`, which changes no dtype here).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .errors import IndexOutOfRange

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001 - PyTorch's names
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)  # noqa: A001
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001


class _NoNumpyType:
    """A PyTorch dtype numpy cannot hold: its name compares and prints, and numpy's use of it as a dtype (which asks
    for `.dtype`) raises one clear line."""

    def __init__(self, name: str, instead: str):
        self.name, self.instead = name, instead

    @property
    def dtype(self) -> np.dtype:
        raise TypeError(f"{self.name}: numpy, which holds this engine's tensors, has no {self.name} type; "
                        f"use {self.instead}")

    def __repr__(self) -> str:
        return self.name


bfloat16 = _NoNumpyType("bfloat16", "float32 (or float16 to halve the memory)")

DEFAULT_FLOAT = float32
DEFAULT_INT = int64
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating, as PyTorch promotes


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of an op on tensors of dtypes a and b: the higher kind wins, or the wider of one kind."""
    rank_a, rank_b = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if rank_a != rank_b:
        return a if rank_a > rank_b else b
    return np.promote_types(a, b)


def _constant_dtype(value: np.ndarray, like: np.dtype) -> np.dtype:
    """The dtype of a Python number, list or ndarray meeting a tensor of dtype `like`: the tensor's, unless the value
    is of a higher kind (a float meeting an integer tensor), then that kind's default (float32, int64)."""
    if _KIND_RANK[value.dtype.kind] <= _KIND_RANK[like.kind]:
        return like
    return DEFAULT_FLOAT if value.dtype.kind == "f" else DEFAULT_INT


def _dims(dim: Any, axis: Any, name: str) -> Any:
    """PyTorch's `dim` or numpy's `axis` (not both)."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{name}: give dim or its numpy alias axis, not both")
    return axis


def _keep(keepdim: builtins.bool, keepdims: builtins.bool | None) -> builtins.bool:
    return keepdim if keepdims is None else keepdims


def _shape_args(shape: tuple[Any, ...]) -> tuple[builtins.int, ...]:
    """Accept both f(2, 3) and f((2, 3)) / f([2, 3])."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(builtins.int(n) for n in shape)


def _dim_index(dim: builtins.int, ndim: builtins.int, name: str) -> builtins.int:
    """`dim` counted from 0 (negative dims count from the end); a 0-d tensor takes dim 0 or -1, as in PyTorch."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexOutOfRange(f"{name}: dim {dim} is out of range for a tensor of {ndim} dimensions "
                              f"(expected in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
    return dim % max(ndim, 1)


__all__ = ["bfloat16", "bool", "double", "float", "float16", "float32", "float64", "half", "int", "int8", "int16",
           "int32", "int64", "long", "promote_types", "short", "uint8"]
