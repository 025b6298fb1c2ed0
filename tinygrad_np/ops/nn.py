"""Fused neural-network ops with analytic backward passes."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..tensor import Function


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) over the last axis, then * weight + bias (both optional).

    One op instead of a dozen: the backward is the closed form
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g the gradient w.r.t. xhat.
    """

    def forward(self, x, *affine, eps=1e-5, has_weight=False, has_bias=False):
        params = iter(affine)
        weight = next(params) if has_weight else None
        bias = next(params) if has_bias else None
        dim = x.shape[-1]
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and p.shape != (dim,):
                raise ValueError(f"layer_norm: {name} of shape {p.shape} does not fit the last axis "
                                 f"of input shape {x.shape}")
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        var = np.einsum("...i,...i->...", centered, centered)[..., None] / x.dtype.type(dim)
        self.rstd = 1 / np.sqrt(var + x.dtype.type(eps))
        self.xhat = centered * self.rstd
        self.weight, self.has_weight, self.has_bias = weight, weight is not None, bias is not None
        out = self.xhat * weight if weight is not None else self.xhat.copy()
        if bias is not None:
            out += bias
        return out

    def backward(self, grad):
        xhat, dim = self.xhat, self.xhat.shape[-1]
        grads = []
        if self.needs_input_grad[0]:
            g = grad * self.weight if self.has_weight else grad
            mean_g = g.mean(axis=-1, keepdims=True)
            mean_gx = np.einsum("...i,...i->...", g, xhat)[..., None] / xhat.dtype.type(dim)
            grads.append(self.rstd * (g - mean_g - xhat * mean_gx))
        else:
            grads.append(None)
        batch_axes = tuple(range(grad.ndim - 1))
        if self.has_weight:
            grads.append((grad * xhat).sum(axis=batch_axes) if self.needs_input_grad[1] else None)
        if self.has_bias:
            grads.append(grad.sum(axis=batch_axes) if self.needs_input_grad[-1] else None)
        return tuple(grads)


class Dropout(Function):
    """x * mask, where mask is 0 or 1/(1-p), drawn by the caller and kept for the backward."""

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return grad * self.mask


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.logaddexp(x.dtype.type(0), x)


class BinaryCrossEntropyWithLogits(Function):
    """Element-wise -[pos_weight * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x))] * weight,
    written with softplus so logits of +-1000 give finite losses and exact gradients:
    loss = pos_weight * y * softplus(-x) + (1 - y) * softplus(x). `weight` and `pos_weight` are
    constants (arrays); the target may require grad (soft targets)."""

    def forward(self, x, target, weight=None, pos_weight=None):
        self.x, self.target, self.weight, self.pos_weight = x, target, weight, pos_weight
        self.softplus_neg = softplus(-x)
        positive = target if pos_weight is None else pos_weight * target
        loss = positive * self.softplus_neg + (1 - target) * (self.softplus_neg + x)  # softplus(x) = softplus(-x) + x
        return loss if weight is None else loss * weight

    def backward(self, grad):
        x, target, pos_weight = self.x, self.target, self.pos_weight
        if self.weight is not None:
            grad = grad * self.weight
        grad_x = grad_target = None
        if self.needs_input_grad[0]:
            sig = special.expit(x)
            grad_x = grad * (sig - target if pos_weight is None else sig * (pos_weight * target + 1 - target)
                             - pos_weight * target)
        if self.needs_input_grad[1]:
            positive = self.softplus_neg if pos_weight is None else pos_weight * self.softplus_neg
            grad_target = grad * (positive - self.softplus_neg - x)
        return grad_x, grad_target
