"""PyTorch's `torch.nn.functional` in one import: the engine's functions plus the losses."""

from ..functional import *  # noqa: F403 - re-export every op
from ..functional import __all__ as _ops
from ..losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)

__all__ = [*_ops, "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss", "mse_loss",
           "nll_loss"]
