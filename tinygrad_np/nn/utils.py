"""PyTorch's `torch.nn.utils`: gradient clipping over a model's parameters, in place, before the optimiser's step."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..engine import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[np.ndarray]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p._grad._data for p in parameters if p._grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients together, in place, so that their global `norm_type`-norm is at most `max_norm` (the
    optimiser then uses the clipped gradients); returns the norm before clipping, as a 0-d tensor. With
    `error_if_nonfinite`, a nan or infinite norm is an error instead of scaling every gradient by it. `foreach`
    chooses among PyTorch's implementations and changes nothing here."""
    grads = _grads(parameters)
    if not grads:
        return Tensor._wrap(np.array(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == math.inf:
        norms = [float(np.abs(g).max(initial=0)) for g in grads]
        total = max(norms)
    elif norm_type == 2:  # BLAS's nrm2 per gradient (scaled, as accurate as PyTorch's), then the norm of the norms
        total = math.sqrt(sum(float(np.linalg.norm(g.reshape(-1))) ** 2 for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= g.dtype.type(scale)
    return Tensor._wrap(np.array(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: bool | None = None) -> None:
    """Clip every gradient element to [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
