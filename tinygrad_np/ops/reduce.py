"""Reductions over any axes (numpy's `axis` and `keepdims`), and the softmax family."""

from __future__ import annotations

import numpy as np

from ..engine import Function
from ..errors import ArgumentValueError, IndexOutOfRange


def normalize_axes(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """`axis` as a sorted tuple of non-negative axes; None and () mean all (PyTorch's rule for sum, mean, amax, var,
    ...). A 0-d tensor takes axis 0 or -1, as in PyTorch, which reduces nothing."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not axes:
        return tuple(range(ndim))
    normalized = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexOutOfRange(f"dim {a} is out of range for a tensor of {ndim} dimensions (expected in "
                                  f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
        normalized.append(int(a) % max(ndim, 1))
    if len(set(normalized)) != len(normalized):
        raise ArgumentValueError(f"dim {axis}: a dim appears more than once in the list of dims")
    return tuple(sorted(normalized)) if ndim else ()


class Reduction(Function):
    """Shared bookkeeping: the reduced axes and how to put them back for the backward."""

    def setup(self, x: np.ndarray, axis, keepdims: bool) -> tuple[int, ...]:
        self.input_shape = x.shape
        self.axes = normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.count = int(np.prod([x.shape[a] for a in self.axes]))
        return self.axes

    def expand(self, grad: np.ndarray) -> np.ndarray:
        """The output gradient with the reduced axes back as size 1."""
        return grad if self.keepdims else np.expand_dims(grad, self.axes)


class Sum(Reduction):
    def forward(self, x, axis=None, keepdims=False):
        return x.sum(axis=self.setup(x, axis, keepdims), keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(self.expand(grad), self.input_shape)


class Mean(Reduction):
    def forward(self, x, axis=None, keepdims=False):
        return x.mean(axis=self.setup(x, axis, keepdims), keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(self.expand(grad) / grad.dtype.type(self.count), self.input_shape)


class Max(Reduction):
    """Max over axes; tied maxima share the gradient evenly. Integer and bool tensors too (they take no gradient)."""

    pick = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        if x.size == 0 and axes and any(x.shape[a] == 0 for a in axes):
            raise ArgumentValueError(f"max/min: cannot reduce over an empty dim (shape {x.shape}, dims {axes}): "
                                     "there is no identity for max and min; give a dim of non-zero size")
        out = self.pick(x, axis=axes, keepdims=True)
        if self.needs_input_grad[0]:
            self.winners = (x == out).astype(x.dtype)
            self.winners /= self.winners.sum(axis=axes, keepdims=True)
        return out if keepdims else np.squeeze(out, axis=axes)

    def backward(self, grad):
        return self.expand(grad) * self.winners


class Min(Max):
    pick = staticmethod(np.min)


class Var(Reduction):
    """Variance with numpy's `ddof` (0: population, 1: sample), divided by max(0, N - ddof) as PyTorch: a correction
    of N or more gives inf (nan where all values are equal), and so does an empty dim."""

    def forward(self, x, axis=None, ddof=0, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        mean = x.sum(axis=axes, keepdims=True) / x.dtype.type(self.count)
        self.centered = x - mean
        self.divisor = x.dtype.type(max(0, self.count - ddof))
        return (self.centered * self.centered).sum(axis=axes, keepdims=keepdims) / self.divisor

    def backward(self, grad):
        return self.expand(grad) * (2 / self.divisor) * self.centered


class Prod(Reduction):
    """The product over axes. Its gradient is the product of the other elements, computed from prefix and suffix
    products, so it is exact where some elements are 0 (dividing the product by each element is not)."""

    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        if self.needs_input_grad[0]:
            self.x = x
        return x.prod(axis=axes, keepdims=keepdims)

    def backward(self, grad):
        x, axes = self.x, self.axes
        kept = [a for a in range(x.ndim) if a not in axes]
        kept_shape = tuple(x.shape[a] for a in kept)
        moved = x.transpose([*kept, *axes]).reshape(kept_shape + (self.count,))
        ones = np.ones(kept_shape + (1,), dtype=x.dtype)
        before = np.cumprod(np.concatenate([ones, moved], axis=-1), axis=-1)[..., :-1]
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(moved, -1)], axis=-1), axis=-1)[..., :-1], -1)
        others = (before * after).reshape(kept_shape + tuple(x.shape[a] for a in axes))
        others = others.transpose(np.argsort([*kept, *axes]).astype(int))
        return self.expand(grad) * others


def stable_exp(x: np.ndarray, axis: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(x - max) along `axis`, its sum, and the max (taken as 0 where all of x is -inf)."""
    shift = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, x.dtype.type(0))
    exps = np.exp(x - shift)
    return exps, exps.sum(axis=axis, keepdims=True), shift


class LogSumExp(Reduction):
    """log(sum(exp(x))) with the max subtracted; a slice of all -inf gives -inf and zero gradient."""

    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        exps, total, shift = stable_exp(x, axes)
        out = np.log(total) + shift
        self.softmax = np.divide(exps, total, out=np.zeros_like(exps), where=total > 0)
        return out if keepdims else np.squeeze(out, axis=axes)

    def backward(self, grad):
        return self.expand(grad) * self.softmax


class Softmax(Function):
    def forward(self, x, axis=-1):
        exps, total, _ = stable_exp(x, axis)
        self.axis, self.out = axis, exps / total
        return self.out

    def backward(self, grad):
        weighted = grad * self.out
        return weighted - self.out * weighted.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    def forward(self, x, axis=-1):
        exps, total, shift = stable_exp(x, axis)
        self.axis, self.softmax = axis, exps / total
        return x - shift - np.log(total)

    def backward(self, grad):
        return grad - self.softmax * grad.sum(axis=self.axis, keepdims=True)
