"""Ops that move, select or combine elements without arithmetic."""

from __future__ import annotations

import numpy as np

from ..engine import Function
from ..errors import IndexOutOfRange, ShapeError
from .indexing import check_index_range


class Reshape(Function):
    def forward(self, x, shape):
        self.input_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into {tuple(shape)}") from None

    def backward(self, grad):
        return grad.reshape(self.input_shape)


class Permute(Function):
    def forward(self, x, axes):
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ShapeError(f"permute: axes {tuple(axes)} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {x.shape}")
        self.inverse = np.argsort([a % x.ndim for a in axes])
        return x.transpose(axes)

    def backward(self, grad):
        return grad.transpose(self.inverse)


class Expand(Function):
    """Broadcast to a larger shape (a view); the backward sum is done by un-broadcasting."""

    def forward(self, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"expand: cannot broadcast a tensor of shape {x.shape} to {tuple(shape)}") from None

    def backward(self, grad):
        return grad


class Copy(Function):
    """A copy of the data (`clone`); the gradient passes through."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


class Repeat(Function):
    """Tile `repeats[i]` times along axis i (numpy's tile; leading repeats add axes). The gradient of each
    element is the sum over its copies: the output gradient viewed as (r0, n0, r1, n1, ...) summed over the r's."""

    def forward(self, x, repeats):
        self.input_shape, self.repeats = x.shape, repeats
        self.padded_shape = (1,) * (len(repeats) - x.ndim) + x.shape
        return np.tile(x.reshape(self.padded_shape), repeats)

    def backward(self, grad):
        interleaved = [n for pair in zip(self.repeats, self.padded_shape, strict=True) for n in pair]
        return grad.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2))).reshape(self.input_shape)


def is_advanced(index) -> bool:
    """Whether a getitem index uses integer or boolean arrays (numpy's advanced indexing)."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


class Getitem(Function):
    """x[index] for ints, slices, None, Ellipsis, integer arrays and boolean masks."""

    def forward(self, x, index):
        self.input_shape, self.index = x.shape, index
        try:
            return x[index]
        except IndexError as error:
            raise IndexOutOfRange(f"getitem: {error} (tensor of shape {x.shape})") from None

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        if is_advanced(self.index):
            np.add.at(full, self.index, grad)  # repeated indices add up
        else:
            full[self.index] = grad
        return full


class Gather(Function):
    """Pick along `axis` with an integer index array of values in [0, size) (numpy's take_along_axis, torch's
    gather; PyTorch refuses negative values there, with RuntimeError).

    The backward scatters-adds: an element picked twice gets both gradients.
    """

    def forward(self, x, index, axis):
        if index.ndim != x.ndim:
            raise ShapeError(f"gather: index has {index.ndim} dimensions, the tensor has {x.ndim} "
                             f"(shapes {index.shape} and {x.shape})")
        check_index_range(index, x.shape[axis], axis, "gather")
        out = np.take_along_axis(x, index, axis=axis)
        grids = list(np.ogrid[tuple(slice(n) for n in out.shape)])
        for d, (n_in, n_out) in enumerate(zip(x.shape, out.shape, strict=True)):
            if n_in != n_out:
                grids[d] = 0  # x broadcast along d: every output row came from its single row
        grids[axis % x.ndim] = np.broadcast_to(index, out.shape)
        self.input_shape, self.scatter_index = x.shape, tuple(grids)
        return out

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        np.add.at(full, self.scatter_index, grad)
        return full


class Concatenate(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        try:
            return np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(f"concatenate: shapes {shapes} do not match except along axis {axis}") from None

    def backward(self, grad):
        return tuple(np.split(grad, self.bounds, axis=self.axis))


class Stack(Function):
    def forward(self, *arrays, axis):
        try:
            out = np.stack(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(f"stack: all tensors need one shape, got {shapes}") from None
        self.axis = axis % out.ndim
        return out

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(grad[lead + (i,)] for i in range(grad.shape[self.axis]))


class Pad(Function):
    """Constant padding with numpy's `pad_width` forms (int, (before, after), or one pair per axis)."""

    def forward(self, x, pad_width, value=0.0):
        if x.ndim == 0:
            self.inside = ()
            return x.copy()
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2)
                                 if np.ndim(pad_width) else np.asarray(pad_width), (x.ndim, 2))
        if (widths < 0).any():
            raise ValueError(f"pad: negative pad widths {pad_width}")
        self.inside = tuple(slice(int(before), int(before) + n) for (before, _), n in zip(widths, x.shape, strict=True))
        return np.pad(x, widths, constant_values=value)

    def backward(self, grad):
        return grad[self.inside]
