"""Fused neural-network ops with analytic backward passes."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..engine import Function
from .kernels import map_row_blocks, row_blocks


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) over the last axis, then * weight + bias (both optional).

    One op instead of a dozen: the backward is the closed form
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g the gradient w.r.t. xhat.
    Both passes run on cache-sized blocks of rows on all cores (`map_row_blocks`): each
    formula makes one trip to memory instead of one per ufunc.
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
        rows = np.ascontiguousarray(x).reshape(-1, dim)
        xhat, out = np.empty_like(rows), np.empty_like(rows)
        rstd = np.empty((len(rows), 1), dtype=x.dtype)
        inv_dim, eps = x.dtype.type(1 / dim), x.dtype.type(eps)

        def normalize(_, x, xhat, rstd, out):
            np.subtract(x, x.mean(axis=1, keepdims=True), out=xhat)
            np.einsum("ij,ij->i", xhat, xhat, out=rstd[:, 0])
            rstd *= inv_dim
            rstd += eps
            np.sqrt(rstd, out=rstd)
            np.reciprocal(rstd, out=rstd)
            xhat *= rstd
            if weight is None:
                out[...] = xhat
            else:
                np.multiply(xhat, weight, out=out)
            if bias is not None:
                out += bias

        if rows.size:
            map_row_blocks(normalize, rows, xhat, rstd, out)
        self.xhat, self.rstd, self.weight, self.has_bias = xhat, rstd, weight, bias is not None
        return out.reshape(x.shape)

    def backward(self, grad):
        xhat, rstd, weight = self.xhat, self.rstd, self.weight
        rows, dim = xhat.shape
        blocks = row_blocks(rows, dim)
        needs_x = self.needs_input_grad[0]
        needs_weight = weight is not None and self.needs_input_grad[1]
        needs_bias = self.has_bias and self.needs_input_grad[-1]
        grad_rows = np.ascontiguousarray(grad).reshape(rows, dim)
        grad_x = np.empty_like(xhat) if needs_x else None
        weight_parts = np.zeros((blocks, dim), dtype=xhat.dtype) if needs_weight else None
        bias_parts = np.zeros((blocks, dim), dtype=xhat.dtype) if needs_bias else None
        inv_dim = xhat.dtype.type(1 / dim)

        def backward_block(k, grad, xhat, rstd, *grad_x):
            g = np.empty_like(grad)
            if needs_weight:
                np.multiply(grad, xhat, out=g)
                g.sum(axis=0, out=weight_parts[k])
            if needs_bias:
                grad.sum(axis=0, out=bias_parts[k])
            if grad_x:
                (out,) = grad_x
                if weight is None:
                    np.copyto(g, grad)
                else:
                    np.multiply(grad, weight, out=g)
                mean_gx = np.einsum("ij,ij->i", g, xhat)[:, None]
                mean_gx *= inv_dim
                np.subtract(g, g.mean(axis=1, keepdims=True), out=out)
                np.multiply(xhat, mean_gx, out=g)
                out -= g
                out *= rstd

        if rows:
            map_row_blocks(backward_block, grad_rows, xhat, rstd, *([grad_x] if needs_x else []))
        grads = [grad_x.reshape(grad.shape) if needs_x else None]
        if weight is not None:
            grads.append(weight_parts.sum(axis=0) if needs_weight else None)
        if self.has_bias:
            grads.append(bias_parts.sum(axis=0) if needs_bias else None)
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
