"""PyTorch's `torch.nn.utils`: gradient clipping over a model's parameters, in place, before the optimiser's step."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..engine import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Iterable[Tensor]) -> list[np.ndarray]:
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together, in place, so their global norm is at most `max_norm` (the
    optimiser then uses the clipped gradients). Returns the norm before clipping."""
    grads = _grads(parameters)
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.abs(g).max(initial=0)) for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= g.dtype.type(scale)
    return total


def clip_grad_value_(parameters: Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
