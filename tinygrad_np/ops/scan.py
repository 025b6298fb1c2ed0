"""Scans: running sums, products and log-sum-exps along one axis. (cummax and cummin pick elements, so
`Tensor.cummax` gathers them with `movement.Gather`, which routes the gradient to the picked positions.)"""

from __future__ import annotations

import numpy as np

from ..engine import Function


def reverse_cumsum(x: np.ndarray, axis: int) -> np.ndarray:
    """out[i] = sum of x[j] for j >= i along `axis`."""
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


class Cumsum(Function):
    """Running sum along `axis`; the gradient of x[i] is the sum of the output gradients from i on."""

    def forward(self, x, axis):
        self.axis = axis
        return np.cumsum(x, axis=axis, dtype=np.int64 if x.dtype.kind in "biu" else x.dtype)

    def backward(self, grad):
        return reverse_cumsum(grad, self.axis)


class Cumprod(Function):
    """Running product along `axis`. Where x has no zero the gradient is reverse_cumsum(grad * out) / x; a zero at
    position z makes every later product 0, so the gradient is that formula before z, at z the sum of grad[j] times
    the product of x[:j + 1] without x[z], and 0 after z: exact with zeros, as PyTorch's."""

    def forward(self, x, axis):
        out = np.cumprod(x, axis=axis, dtype=np.int64 if x.dtype.kind in "biu" else x.dtype)
        if self.needs_input_grad[0]:
            self.x, self.out, self.axis = x, out, axis
        return out

    def backward(self, grad):
        x, out, axis = self.x, self.out, self.axis
        zeros = x == 0
        zeros_so_far = np.cumsum(zeros, axis=axis)
        before_zero = zeros_so_far == 0
        grad_in = np.divide(reverse_cumsum(grad * out, axis), x, out=np.zeros_like(x), where=before_zero)
        if zeros.any():
            first_zero = zeros & (zeros_so_far == 1)
            skipping_it = np.cumprod(np.where(first_zero, x.dtype.type(1), x), axis=axis)
            at_zero = reverse_cumsum(grad * skipping_it, axis)
            grad_in = np.where(first_zero, at_zero, grad_in)
        return grad_in


def _reverse_logcumsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """out[i] = log(sum of exp(x[j]) for j >= i) along `axis`."""
    return np.flip(np.logaddexp.accumulate(np.flip(x, axis), axis=axis), axis)


class LogCumSumExp(Function):
    """out[i] = log(sum of exp(x[j]) for j <= i) along `axis`, accumulated pairwise with logaddexp (no overflow, no
    loss of the small terms). The gradient, sum over j >= i of grad[j] exp(x[i] - out[j]), is computed in log space
    for the positive and the negative parts of grad separately, so it neither overflows nor underflows."""

    def forward(self, x, axis):
        self.x, self.axis = x, axis
        self.out = np.logaddexp.accumulate(x, axis=axis) if x.size else x.copy()
        return self.out

    def backward(self, grad):
        x, out, axis = self.x, self.out, self.axis
        result = np.zeros_like(x)
        for sign in (1, -1):
            part = np.maximum(sign * grad, 0)
            log_part = np.where(part > 0, np.log(part), -np.inf) - out
            weight = _reverse_logcumsumexp(log_part.astype(x.dtype), axis)
            result += sign * np.exp(x + weight)
        return result
