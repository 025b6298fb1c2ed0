"""Vector norms and distances along a dim, as PyTorch's `F.normalize`, `F.cosine_similarity` and
`F.pairwise_distance` define them, composed from engine ops."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import Tensor, _dim_index

__all__ = ["cosine_similarity", "normalize", "pairwise_distance"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _p_norm(x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    """(sum |x|^p)^(1/p) over `dim`; p = 2, 1 and inf by their own formulas, p = 0 the count of non-zeros (no
    gradient), any other p (negative too) by the general one."""
    if p == 2:
        return (x * x).sum(dim, keepdim).sqrt()
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == math.inf:
        return x.abs().amax(dim, keepdim)
    if p == 0:
        return Tensor._wrap((x.numpy() != 0).sum(dim, keepdims=keepdim).astype(x.dtype))
    return (x.abs() ** p).sum(dim, keepdim) ** (1 / p)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """input / max(||input||_p, eps) along `dim`: every vector scaled to unit p-norm (those shorter than eps are
    divided by eps instead)."""
    x = _tensor(input)
    d = _dim_index(dim, x.ndim, "normalize")
    return x / _p_norm(x, p, d, True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along `dim` of the broadcast shape; that dim is removed."""
    a, b = _tensor(x1), _tensor(x2)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = a.broadcast_to(shape), b.broadcast_to(shape)
    d = _dim_index(dim, len(shape), "cosine_similarity")
    a = a / _p_norm(a, 2, d, True).clamp(min=eps)
    b = b / _p_norm(b, 2, d, True).clamp(min=eps)
    return (a * b).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (of the broadcast shape): the distance between paired rows; eps keeps
    the norm of identical rows away from zero, where its gradient is undefined."""
    a, b = _tensor(x1), _tensor(x2)
    difference = a - b + eps
    return _p_norm(difference, p, difference.ndim - 1 if difference.ndim else 0, keepdim)
