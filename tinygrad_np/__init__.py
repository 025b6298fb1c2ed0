"""tinygrad_np: a small, fast reverse-mode autograd engine on numpy.

Importing it changes nothing outside it: no environment variables, no allocator settings, no threads. The speed
settings are explicit calls: `set_num_threads(n)` and `enable_memory_reuse()` (train.py and the benchmarks make them).
"""

from . import functional, losses, nn, viz
from .allocator import enable_memory_reuse
from .engine import Function, Tensor, enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .ops.kernels import get_num_threads, set_num_threads
from .random import default_generator, get_rng_state, manual_seed, set_rng_state

__all__ = [
    "Function", "GradcheckError", "GradcheckReport", "Tensor", "default_generator", "enable_grad",
    "enable_memory_reuse", "functional", "get_num_threads", "get_rng_state", "gradcheck", "is_grad_enabled", "losses",
    "manual_seed", "nn", "no_grad", "set_num_threads", "set_rng_state", "viz",
]
