"""dtype names as PyTorch spells them (`tinygrad_np.float32`, `tinygrad_np.long`, ...). They are numpy dtypes, so
`x.dtype == tinygrad_np.float32` and `x.dtype == np.float32` both hold. `bfloat16` is a name only: numpy has no
bfloat16, so a tensor of it cannot exist, and using it as a dtype says so (naming it is fine, e.g. in a table of
choices or in `autocast(dtype=...)`, which changes no dtype here)."""

import numpy as np

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

__all__ = ["bfloat16", "bool", "double", "float", "float16", "float32", "float64", "half", "int", "int8", "int16",
           "int32", "int64", "long", "short", "uint8"]
