"""tinygrad_np: a small, fast reverse-mode autograd engine on numpy."""

import os
import sys

if "numpy" not in sys.modules:
    # OpenBLAS threads otherwise spin ~0.1 s after every GEMM, starving the element-wise kernels
    # that run between GEMMs (measured: a config-(c) Mixer step 3.4 s -> 2.4 s on 2 cores).
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import allocator, functional, losses, nn, viz  # noqa: E402
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .random import default_generator, get_rng_state, manual_seed, set_rng_state
from .tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad

allocator.keep_freed_memory()

__all__ = [
    "Function", "GradcheckError", "GradcheckReport", "Tensor", "default_generator", "enable_grad",
    "functional", "get_rng_state", "gradcheck", "is_grad_enabled", "losses", "manual_seed", "nn", "no_grad",
    "set_rng_state", "viz",
]
