"""Fused neural-network ops with analytic backward passes."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..engine import Function
from ..errors import ShapeError
from .kernels import add_outer, block_rows, map_row_blocks, outer_into, row_blocks


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) over the last axis, then * weight + bias (both optional).

    One op instead of a dozen: with xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), the backward is the
    closed form
        dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = grad * weight,
    and the weight and bias gradients are column sums of grad * xhat and of grad. Both passes run on cache-sized
    blocks of rows on the thread pool (`map_row_blocks`), with the row-wise pieces in BLAS: every row sum (the
    mean, mean(g), mean(g * xhat)) and column sum is a matrix-vector product (much faster than numpy's reductions
    over rows of 48-198 elements); products with a per-row factor go through an outer product (rstd * weight, made
    by one BLAS call) and terms constant along a row are rank-1 updates in place. So the forward keeps x - mean and
    rstd, not xhat, and never scales a row by itself. `LayerNorm.composed` is the same function written from
    engine ops.
    """

    def forward(self, x, *affine, eps=1e-5, has_weight=False, has_bias=False):
        params = iter(affine)
        weight = next(params) if has_weight else None
        bias = next(params) if has_bias else None
        dim = x.shape[-1]
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and p.shape != (dim,):
                raise ShapeError(f"layer_norm: {name} of shape {p.shape} does not fit the last axis "
                                 f"of input shape {x.shape}")
        rows = np.ascontiguousarray(x).reshape(-1, dim)
        keep = any(self.needs_input_grad)  # the backward needs x - mean and rstd; without it, a block's worth will do
        centered = np.empty_like(rows) if keep else None
        out, rstd = np.empty_like(rows), np.empty(len(rows), dtype=x.dtype)
        ones, eps = np.ones(dim, dtype=x.dtype), x.dtype.type(eps)
        ones_rows = np.ones(min(len(rows), block_rows(dim)), dtype=x.dtype)
        scale = ones if weight is None else weight

        def normalize(_, x, rstd, out, *rest):
            *kept, scratch = rest
            centered = kept[0] if kept else scratch[0]
            mean = x @ ones
            mean /= dim
            np.copyto(centered, x)
            add_outer(centered, mean, ones, -1.0)
            np.einsum("ij,ij->i", centered, centered, out=rstd)
            rstd /= dim
            rstd += eps
            np.sqrt(rstd, out=rstd)
            np.reciprocal(rstd, out=rstd)
            outer_into(out, rstd, scale)
            out *= centered  # (x - mean) * rstd * weight
            if bias is not None:
                add_outer(out, ones_rows[:len(x)], bias)

        if rows.size:
            map_row_blocks(normalize, rows, rstd, out, *([centered] if keep else []), scratch=0 if keep else 1)
        if keep:
            self.centered, self.rstd, self.weight, self.has_bias = centered, rstd, weight, bias is not None
        return out.reshape(x.shape)

    def backward(self, grad):
        centered, rstd, weight = self.centered, self.rstd, self.weight
        rows, dim = centered.shape
        blocks = row_blocks(rows, dim)
        needs_x = self.needs_input_grad[0]
        needs_weight = weight is not None and self.needs_input_grad[1]
        needs_bias = self.has_bias and self.needs_input_grad[-1]
        grad_rows = np.ascontiguousarray(grad).reshape(rows, dim)
        grad_x = np.empty_like(centered) if needs_x else None
        weight_parts = np.empty((blocks, dim), dtype=centered.dtype) if needs_weight else None
        bias_parts = np.empty((blocks, dim), dtype=centered.dtype) if needs_bias else None
        ones = np.ones(dim, dtype=centered.dtype)
        scale = ones if weight is None else weight
        ones_rows = np.ones(min(rows, block_rows(dim)), dtype=centered.dtype)

        def backward_block(k, grad, centered, rstd, *rest):
            *kept, scratch = rest
            if needs_bias:
                np.matmul(ones_rows[:len(grad)], grad, out=bias_parts[k])
            if not (needs_weight or needs_x):
                return
            product = scratch[0]
            np.multiply(grad, centered, out=product)  # grad * xhat / rstd
            if needs_weight:
                np.matmul(rstd, product, out=weight_parts[k])
            if needs_x:
                (out,) = kept
                rstd_mean_g = grad @ scale  # rstd * mean(g), per row
                rstd_mean_g *= rstd / dim
                factor = product @ scale  # rstd^3 * mean(g * (x - mean)), per row: (x - mean) * factor is
                factor *= rstd * rstd * rstd / dim  # rstd * xhat * mean(g * xhat)
                outer_into(out, rstd, scale)
                out *= grad  # rstd * g
                outer_into(product, factor, ones)
                product *= centered
                out -= product  # - rstd * xhat * mean(g * xhat)
                add_outer(out, rstd_mean_g, ones, -1.0)  # - rstd * mean(g)

        if rows and (needs_x or needs_weight or needs_bias):
            map_row_blocks(backward_block, grad_rows, centered, rstd, *([grad_x] if needs_x else []), scratch=1)
        grads = [grad_x.reshape(grad.shape) if needs_x else None]
        if weight is not None:
            grads.append(weight_parts.sum(axis=0) if needs_weight else None)
        if self.has_bias:
            grads.append(bias_parts.sum(axis=0) if needs_bias else None)
        return tuple(grads)

    @staticmethod
    def composed(x, weight=None, bias=None, eps=1e-5):
        """The textbook LayerNorm built from engine ops (mean, sub, mul, add, sqrt, div): autograd derives its
        backward from theirs. Same function as the fused op (tests/engine/test_kernels.py checks it);
        slower, with a dozen
        passes and saved arrays where the fused op has a few."""
        mean = x.mean(-1, keepdim=True)
        centered = x - mean
        variance = (centered * centered).mean(-1, keepdim=True)  # biased, as LayerNorm's definition has it
        out = centered / (variance + eps).sqrt()
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
        return out


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


class Embedding(Function):
    """weight[indices]: the rows picked by an integer array of any shape (the output adds the row dim).

    The backward adds each output row's gradient into the row it came from. It runs as one sparse-matrix product
    (a (rows, lookups) matrix of ones times the (lookups, dim) gradient), several times faster than np.add.at and
    without a dense one-hot. With `padding_idx` that row gets no gradient; with `scale_grad_by_freq` each lookup's
    gradient is divided by how often its index occurs in the batch (PyTorch's options)."""

    def forward(self, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        self.indices, self.rows = indices.reshape(-1), weight.shape[0]
        self.padding_idx, self.scale = padding_idx, scale_grad_by_freq
        return np.take(weight, indices, axis=0)

    def backward(self, grad):
        from scipy import sparse  # here, not at import: loading it takes a noticeable part of the engine's import

        indices = self.indices
        rows = grad.reshape(len(indices), -1)
        values = np.ones(len(indices), dtype=grad.dtype)
        if self.padding_idx is not None:
            values[indices == self.padding_idx] = 0
        if self.scale:
            values /= np.bincount(indices, minlength=self.rows)[indices].astype(grad.dtype)
        picks = sparse.csr_matrix((values, (indices, np.arange(len(indices)))), shape=(self.rows, len(indices)))
        return np.asarray(picks @ rows, dtype=grad.dtype)
class BinaryCrossEntropy(Function):
    """Element-wise -weight * [y * log(p) + (1 - y) * log(1 - p)] of probabilities p, with each log clamped at -100
    as PyTorch clamps it (so p = 0 or 1 gives a finite loss). The gradient for p is PyTorch's,
    weight * (p - y) / max(p * (1 - p), 1e-12); the target may require grad too (soft targets)."""

    def forward(self, p, target, weight=None):
        t = p.dtype.type
        with np.errstate(divide="ignore"):
            self.log_p, self.log_q = np.maximum(np.log(p), t(-100)), np.maximum(np.log1p(-p), t(-100))
        self.p, self.target, self.weight = p, target, weight
        loss = -(target * self.log_p + (1 - target) * self.log_q)
        return loss if weight is None else loss * weight

    def backward(self, grad):
        if self.weight is not None:
            grad = grad * self.weight
        p, target = self.p, self.target
        grad_p = grad_target = None
        if self.needs_input_grad[0]:
            grad_p = grad * (p - target) / np.maximum(p * (1 - p), p.dtype.type(1e-12))
        if self.needs_input_grad[1]:
            grad_target = grad * (self.log_q - self.log_p)
        return grad_p, grad_target
