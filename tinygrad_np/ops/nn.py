"""Neural-network ops that are not fused kernels (those live in `fused.py`)."""

from __future__ import annotations

import numpy as np

from ..engine import Function


class Dropout(Function):
    """x * mask, where mask is 0 or 1/(1-p), drawn by the caller and kept for the backward."""

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return grad * self.mask


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
