"""Indexing ops with PyTorch's semantics: its advanced-indexing layout, diagonals and triangles, rolling, sliding
windows, and the scatter family (scatter, scatter_add, scatter_reduce, index_add, index_fill) with their gradients.

Each scatter writes through a fancy index built once from the integer `index` (the index itself along `dim`, an
open grid along every other dim), so the forward is one numpy assignment or `ufunc.at` and the backward one read of
the same positions.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..engine import Function
from ..errors import IndexValueError, ShapeError


# -- PyTorch's advanced indexing ---------------------------------------------------------------------------------
def _is_integer(item) -> bool:
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _is_array(item) -> bool:
    return isinstance(item, np.ndarray) or isinstance(item, (bool, np.bool_))


def torch_index_steps(index, ndim: int) -> tuple:
    """The numpy indices that, applied one after the other, index as PyTorch does.

    PyTorch applies integers as basic indexing (they select and drop a dim) and only then places the dims of the
    advanced (array) indices: in front when they are separated by a slice, a None or an Ellipsis, in place when they
    are adjacent. numpy counts integers among the advanced indices, so `x[1, :, idx]` puts idx's dims first there and
    after the slice in PyTorch. With both integers and arrays present the index is split: first the integers, slices
    and Nones with each array replaced by full slices, then the arrays alone on the result. Otherwise numpy's rule is
    PyTorch's and the index is used as it is.
    """
    items = index if isinstance(index, tuple) else (index,)
    if not (any(_is_integer(i) for i in items) and any(_is_array(i) for i in items)):
        return (index,)
    consumed = sum(0 if i is None or i is Ellipsis or isinstance(i, (bool, np.bool_)) else
                   i.ndim if isinstance(i, np.ndarray) and i.dtype == bool else 1 for i in items)
    if sum(i is Ellipsis for i in items) > 1 or consumed > ndim:
        return (index,)  # numpy raises its own IndexError
    first, second = [], []
    for item in items:
        if item is Ellipsis:
            first.extend([slice(None)] * (ndim - consumed))
            second.extend([slice(None)] * (ndim - consumed))
        elif _is_integer(item):
            first.append(item)
        elif item is None or isinstance(item, slice):
            first.append(item)
            second.append(slice(None))
        elif isinstance(item, (bool, np.bool_)):
            second.append(item)
        else:
            first.extend([slice(None)] * (item.ndim if item.dtype == bool else 1))
            second.append(item)
    return tuple(first), tuple(second)


# -- movement -----------------------------------------------------------------------------------------------------
class Flip(Function):
    """The elements in reverse order along `axes` (a copy, as PyTorch's flip); the gradient flips back."""

    def forward(self, x, axes):
        self.axes = axes
        return np.flip(x, axes).copy()

    def backward(self, grad):
        return np.flip(grad, self.axes)


class Roll(Function):
    """Shift elements along dims cyclically (over the flattened tensor without dims); the gradient rolls back."""

    def forward(self, x, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return np.roll(x, shifts, axis=dims)

    def backward(self, grad):
        back = -self.shifts if isinstance(self.shifts, int) else tuple(-s for s in self.shifts)
        return np.roll(grad, back, axis=self.dims)


class Diagonal(Function):
    """The diagonal of the (dim1, dim2) planes at `offset`, as a new last dim; the gradient is written back onto it."""

    def forward(self, x, offset, dim1, dim2):
        self.input_shape, self.offset, self.dim1, self.dim2 = x.shape, offset, dim1, dim2
        return np.diagonal(x, offset, dim1, dim2).copy()

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        planes = np.moveaxis(full, (self.dim1, self.dim2), (-2, -1))  # a writable view
        n = grad.shape[-1]
        rows, cols = np.arange(n) + max(-self.offset, 0), np.arange(n) + max(self.offset, 0)
        planes[..., rows, cols] = grad
        return full


class DiagEmbed(Function):
    """A square matrix with the 1-D input on its `offset` diagonal (PyTorch's `diag` of a vector)."""

    def forward(self, x, offset):
        n = x.shape[0] + abs(offset)
        self.rows, self.cols = np.arange(x.shape[0]) + max(-offset, 0), np.arange(x.shape[0]) + max(offset, 0)
        out = np.zeros((n, n), dtype=x.dtype)
        out[self.rows, self.cols] = x
        return out

    def backward(self, grad):
        return grad[self.rows, self.cols]


class Triangle(Function):
    """The lower (`tril`) or upper (`triu`) triangle of the last two dims, zeros elsewhere; the gradient keeps the
    same triangle."""

    def forward(self, x, diagonal, lower):
        self.diagonal, self.lower = diagonal, lower
        return np.tril(x, diagonal) if lower else np.triu(x, diagonal)

    def backward(self, grad):
        return np.tril(grad, self.diagonal) if self.lower else np.triu(grad, self.diagonal)


class UnfoldDim(Function):
    """Every window of `size` elements, `step` apart, along `dim` (PyTorch's Tensor.unfold): that dim becomes the
    number of windows and a last dim of `size` is added. The backward adds each window offset's slab back into the
    strided slice it came from (one iteration per offset), so overlapping windows sum."""

    def forward(self, x, dim, size, step):
        windows = (x.shape[dim] - size) // step + 1
        shape = x.shape[:dim] + (windows,) + x.shape[dim + 1:] + (size,)
        strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:] + (x.strides[dim],)
        self.input_shape, self.dim, self.step = x.shape, dim, step
        return np.ascontiguousarray(as_strided(x, shape, strides, writeable=False))

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        windows, lead = grad.shape[self.dim], (slice(None),) * self.dim
        for k in range(grad.shape[-1]):
            full[lead + (slice(k, k + self.step * (windows - 1) + 1, self.step),)] += grad[..., k]
        return full


# -- the scatter family ---------------------------------------------------------------------------------------------
def check_index_range(index: np.ndarray, size: int, dim: int, op: str, error: type[Exception] = IndexValueError,
                      negative: bool = False) -> None:
    """Refuse index values outside [0, size) (or [-size, size) when `negative`), with PyTorch's message."""
    if index.size:
        low, high = int(index.min()), int(index.max())
        bad = low if low < (-size if negative else 0) else high if high >= size else None
        if bad is not None:
            raise error(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}")


def scatter_positions(index: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """The fancy index of the positions `index` points at: `index` along `dim`, an open grid along the others."""
    grids = list(np.ogrid[tuple(slice(n) for n in index.shape)])
    grids[dim] = index
    return tuple(grids)


def check_scatter(op: str, shape: tuple[int, ...], index: np.ndarray, dim: int,
                  src_shape: tuple[int, ...] | None) -> None:
    """PyTorch's rules: index has the tensor's dims, is no larger than src anywhere and than the tensor outside
    `dim`, and its values lie in [0, size along dim)."""
    if index.ndim != len(shape) or (src_shape is not None and len(src_shape) != len(shape)):
        raise ShapeError(f"{op}: index of shape {index.shape}" + ("" if src_shape is None else f", src of shape "
                         f"{src_shape}") + f" and the tensor of shape {shape} must have the same number of dims")
    for d, n in enumerate(index.shape):
        if (d != dim and n > shape[d]) or (src_shape is not None and n > src_shape[d]):
            raise ShapeError(f"{op}: index of shape {index.shape} must be no larger than the tensor {shape} outside "
                             f"dim {dim}" + ("" if src_shape is None else f" and than src {src_shape}"))
    check_index_range(index, shape[dim], dim, op)


def _leading(index_shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(0, n) for n in index_shape)


class Scatter(Function):
    """self with src's values (or a constant) written at the positions `index` points at along `dim`. The
    gradient of self is zero where it was overwritten; src's gradient is the output gradient at its positions."""

    def forward(self, x, *src, dim, index, value=None):
        self.positions, self.src_shape, self.index_shape = scatter_positions(index, dim), None, index.shape
        out = x.copy()
        if src:
            self.src_shape = src[0].shape
            out[self.positions] = src[0][_leading(index.shape)]
        else:
            out[self.positions] = value
        return out

    def backward(self, grad):
        grad_x = grad_src = None
        if self.needs_input_grad[0]:
            grad_x = grad.copy()
            grad_x[self.positions] = 0
        if self.src_shape is not None and self.needs_input_grad[1]:
            grad_src = np.zeros(self.src_shape, dtype=grad.dtype)
            grad_src[_leading(self.index_shape)] = grad[self.positions]
        return grad_x if self.src_shape is None else (grad_x, grad_src)


class ScatterReduce(Function):
    """self with src's values combined in at `index` along `dim` by sum, prod, mean, amax or amin; with
    `include_self=False` the values of self at the positions written are left out of the combination.

    The gradients are PyTorch's: sum passes the gradient through; mean divides it by the number combined; amax and
    amin share it evenly among the elements equal to the result; prod gives each element the product of the others
    (computed without dividing by a zero)."""

    identities = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}
    ufuncs = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}

    def forward(self, x, src, *, dim, index, reduce, include_self=True):
        positions = scatter_positions(index, dim)
        self.full_src_shape = src.shape
        src = src[_leading(index.shape)]
        touched = np.zeros(x.shape, dtype=bool)
        touched[positions] = True
        out = self.combine(x, src, positions, touched, reduce, include_self)
        count = None
        if reduce == "mean":
            count = np.zeros(x.shape, dtype=x.dtype)
            np.add.at(count, positions, 1)
            count += include_self
            count[count == 0] = 1
            out = out / count if x.dtype.kind == "f" else np.floor_divide(out, count.astype(x.dtype))
        self.x, self.src, self.out, self.count, self.positions, self.touched = x, src, out, count, positions, touched
        self.reduce, self.include_self, self.src_shape = reduce, include_self, src.shape
        return out

    @classmethod
    def identity(cls, reduce, dtype):
        """The value that leaves the combination unchanged (the extreme of an integer dtype for amax and amin)."""
        if reduce in ("amax", "amin") and dtype.kind != "f":
            if dtype.kind == "b":
                return reduce == "amin"
            info = np.iinfo(dtype)
            return info.min if reduce == "amax" else info.max
        return cls.identities[reduce]

    @classmethod
    def combine(cls, x, src, positions, touched, reduce, include_self):
        out = x.copy()
        if not include_self:
            out[touched] = cls.identity(reduce, x.dtype)
        cls.ufuncs[reduce].at(out, positions, src)
        return out

    def backward(self, grad):
        x, src, out, positions, touched = self.x, self.src, self.out, self.positions, self.touched
        reduce, include_self = self.reduce, self.include_self
        if reduce in ("sum", "mean"):
            if reduce == "mean":
                grad = grad / self.count
            grad_x, grad_src = grad, grad[positions]
        elif reduce == "prod":
            masked_x = np.where(x == 0, x.dtype.type(1), x)
            grad_x = grad * self.combine(masked_x, src, positions, touched, reduce, include_self) / masked_x
            zero = src == 0
            zeros_at = np.zeros(x.shape, dtype=np.int64)
            np.add.at(zeros_at, positions, zero.astype(np.int64))
            single_zero = zero & (zeros_at[positions] == 1)
            others = self.combine(x, np.where(single_zero, src.dtype.type(1), src), positions, touched, reduce,
                                  include_self)
            grad_src = np.where(single_zero, (grad * others)[positions],
                                (grad * out)[positions] / np.where(zero, src.dtype.type(1), src))
        else:
            x_is_result = x == out  # counted among the ties even when left out (PyTorch's convention)
            src_is_result = src == out[positions]
            shares = x_is_result.astype(grad.dtype)
            np.add.at(shares, positions, src_is_result.astype(grad.dtype))
            share = grad / np.where(shares == 0, grad.dtype.type(1), shares)
            grad_x, grad_src = share * x_is_result, share[positions] * src_is_result
        if not include_self and self.needs_input_grad[0]:
            grad_x = np.where(touched, grad.dtype.type(0), grad_x)
        full_src = None
        if self.needs_input_grad[1]:
            full_src = np.zeros(self.full_src_shape, dtype=grad.dtype)
            full_src[_leading(self.src_shape)] = grad_src
        return grad_x, full_src


class IndexAdd(Function):
    """self plus alpha * source added into the slices `index` selects along `dim` (repeated indices add up)."""

    def forward(self, x, source, *, dim, index, alpha=1):
        self.dim, self.index, self.alpha = dim, index, alpha
        out = x.copy()
        np.add.at(np.moveaxis(out, dim, 0), index, np.moveaxis(source, dim, 0) * x.dtype.type(alpha))
        return out

    def backward(self, grad):
        grad_source = np.take(grad, self.index, axis=self.dim) if self.needs_input_grad[1] else None
        if grad_source is not None and self.alpha != 1:
            grad_source = grad_source * grad.dtype.type(self.alpha)
        return grad, grad_source


class IndexFill(Function):
    """self with the slices `index` selects along `dim` set to a value (a number or a 0-d tensor, whose gradient
    is the sum of the output gradient over those slices)."""

    def forward(self, x, *value, dim, index, fill=None):
        self.region = (slice(None),) * dim + (index,)
        out = x.copy()
        out[self.region] = value[0] if value else fill
        self.has_value = bool(value)
        return out

    def backward(self, grad):
        grad_x = grad.copy()
        grad_x[self.region] = 0
        if not self.has_value:
            return grad_x
        mask = np.zeros(grad.shape, dtype=bool)
        mask[self.region] = True
        return grad_x, np.asarray(grad[mask].sum(), dtype=grad.dtype)
