"""The fused ops' kernels, on two paths with one interface: `numpy_path` (numpy and scipy only, the reference, and
what runs without numba) and `compiled` (numba loops, installed by `pip install tinygrad-np[fast]`).

The compiled path runs float32 when numba imports; everything else (float64, which must stay exact for gradient
checks, and other dtypes) runs on numpy. `set_kernels("numpy")`, or the environment variable
TINYGRAD_NP_KERNELS=numpy (read at the first kernel call, never set by the engine), forces the numpy path, for
teaching and for tests; `set_kernels("auto")` goes back to the default. numba is imported, and each compiled kernel
compiled (or loaded from numba's on-disk cache), at the first call that needs it: importing the engine imports no
numba.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

from . import numpy_path

MODES = ("auto", "numpy", "compiled")
ENVIRONMENT_VARIABLE = "TINYGRAD_NP_KERNELS"
_mode: str | None = None  # None: not decided yet (the environment variable is read at first use)
_compiled: ModuleType | None = None
_FLOAT32 = np.dtype(np.float32)


def set_kernels(mode: str) -> None:
    """Choose the kernels of the fused ops: "auto" (compiled when numba is installed, numpy otherwise), "numpy"
    (the pure-numpy kernels) or "compiled" (an ImportError if numba is missing). Results agree within the float32
    accuracy standard (docs/speed.md); a call overrides the environment variable TINYGRAD_NP_KERNELS."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"set_kernels: mode must be one of {MODES}, got {mode!r}")
    if mode == "compiled":
        _load_compiled(required=True)
    _mode = mode


def get_kernels() -> str:
    """The path the float32 kernels take now: "numpy" or "compiled"."""
    return "compiled" if _active_compiled() is not None else "numpy"


def for_dtype(dtype: np.dtype) -> ModuleType:
    """The kernel module for arrays of `dtype`: the compiled kernels for float32 when they are on, numpy's else."""
    if dtype == _FLOAT32:
        compiled = _active_compiled()
        if compiled is not None:
            return compiled
    return numpy_path


def _active_compiled() -> ModuleType | None:
    global _mode
    if _mode is None:
        value = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
        if value not in MODES:
            raise ValueError(f"the environment variable {ENVIRONMENT_VARIABLE}={value!r} must be one of {MODES}")
        _mode = value
    if _mode == "numpy":
        return None
    return _load_compiled(required=_mode == "compiled")


def _load_compiled(required: bool) -> ModuleType | None:
    global _compiled, _mode
    if _compiled is None:
        try:
            from . import compiled
        except ImportError as error:
            if required:
                raise ImportError("the compiled kernels need numba: pip install 'tinygrad-np[fast]' (or use "
                                  f"set_kernels('numpy')): {error}") from error
            _mode = "numpy"  # auto without numba: decided once
            return None
        _compiled = compiled
    return _compiled
