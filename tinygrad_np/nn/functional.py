"""PyTorch's `torch.nn.functional` in one import: the engine's functions, the losses, attention and distances."""

from ..attention import multi_head_attention_forward, scaled_dot_product_attention
from ..distance import cosine_similarity, normalize, pairwise_distance
from ..functional import *  # noqa: F403 - re-export every op
from ..functional import __all__ as _ops
from ..losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)

__all__ = [*_ops, "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss", "mse_loss",
           "nll_loss", "cosine_similarity", "huber_loss", "kl_div", "multi_head_attention_forward", "normalize",
           "pairwise_distance", "scaled_dot_product_attention", "smooth_l1_loss"]
