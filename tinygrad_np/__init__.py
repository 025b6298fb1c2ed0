"""tinygrad_np: a small, fast reverse-mode autograd engine on numpy."""

from . import functional
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .random import default_generator, get_rng_state, manual_seed, set_rng_state
from .tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad

__all__ = [
    "Function", "GradcheckError", "GradcheckReport", "Tensor", "default_generator", "enable_grad",
    "functional", "get_rng_state", "gradcheck", "is_grad_enabled", "manual_seed", "no_grad", "set_rng_state",
]
