"""Neural-network ops that are not fused kernels (those live in `fused.py`)."""

from __future__ import annotations

from ..engine import Function


class Dropout(Function):
    """x * mask, where mask is 0 or 1/(1-p), drawn by the caller and kept for the backward."""

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return grad * self.mask
