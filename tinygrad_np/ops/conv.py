"""Convolution, transposed convolution, pooling and im2col over 1 to 3 spatial axes in PyTorch's layouts
(batch, channels, *spatial).

Convolution is im2col: the windows of the padded input are a strided view (no copy), gathered
once into a (groups, positions, in_channels/groups * kernel) matrix and multiplied by the weight
in ONE `np.matmul` (a plain GEMM when groups == 1). The backward is one matmul for the weight
gradient and one for the window gradients, which col2im adds back into the input one strided
slice per kernel offset (K or KH*KW iterations), so overlapping windows sum. Pools reuse the
same windows and col2im; adaptive average pooling is one product with a fixed pooling matrix.
Transposed convolution is the adjoint: its forward is the convolution's input gradient and its
input gradient the convolution's forward. The ops are written once for any number of spatial axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import product
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..engine import Function
from ..errors import ArgumentValueError, ShapeError

Pads = tuple[tuple[int, int], ...]


def ntuple(value: int | Sequence[int], n: int, name: str, op: str) -> tuple[int, ...]:
    """An int or a length-n tuple or list of ints as a tuple of n ints."""
    values = (value,) * n if isinstance(value, (int, np.integer)) else \
        tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(values) != n or not all(isinstance(v, (int, np.integer)) for v in values):
        raise ArgumentValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in values)


def spatial_names(nd: int) -> str:
    return "length" if nd == 1 else ", ".join(("depth", "height", "width")[3 - nd:])


def output_size(size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int = 1) -> int:
    return (size + pads[0] + pads[1] - dilation * (kernel - 1) - 1) // stride + 1


def pad_spatial(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """x with its spatial axes (2, 3, ...) padded by `pads` ((before, after) per axis) with `value`."""
    if not any(before or after for before, after in pads):
        return x
    shape = x.shape[:2] + tuple(n + before + after for n, (before, after) in zip(x.shape[2:], pads, strict=True))
    padded = np.full(shape, value, dtype=x.dtype)
    padded[crop(pads, shape)] = x
    return padded


def crop(pads: Pads, padded_shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The index of the unpadded part of a padded (batch, channels, *spatial) array."""
    return (slice(None), slice(None)) + tuple(slice(before, n - after)
                                              for n, (before, after) in zip(padded_shape[2:], pads, strict=True))


def window_view(padded: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                dilation: tuple[int, ...], out: tuple[int, ...]) -> np.ndarray:
    """A read-only (batch, channels, *out, *kernel) view of the windows of `padded` (no copy)."""
    spatial = padded.strides[2:]
    strides = (padded.strides[:2] + tuple(s * step for s, step in zip(stride, spatial, strict=True))
               + tuple(d * step for d, step in zip(dilation, spatial, strict=True)))
    return as_strided(padded, padded.shape[:2] + out + kernel, strides, writeable=False)


def add_windows(window_grads: np.ndarray, padded_shape: tuple[int, ...], pads: Pads, stride: tuple[int, ...],
                dilation: tuple[int, ...]) -> np.ndarray:
    """col2im: the gradient of the unpadded input from the gradients of its windows.

    `window_grads` has shape (*kernel, batch, channels, *out) (any strides): for each kernel
    offset, the slab it read is added back into the strided slice it came from, so positions that
    several windows share receive the sum. One iteration per kernel offset, none per position.
    """
    nd = len(stride)
    kernel, out = window_grads.shape[:nd], window_grads.shape[nd + 2:]
    grad = np.zeros(padded_shape, dtype=window_grads.dtype)
    for offset in product(*(range(k) for k in kernel)):
        region = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                       for o, d, s, n in zip(offset, dilation, stride, out, strict=True))
        grad[(slice(None), slice(None)) + region] += window_grads[offset]
    return grad[crop(pads, padded_shape)]


def conv_pads(op: str, padding: object, kernel: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...]) -> Pads:
    """(before, after) per spatial axis from an int, a tuple, "valid" or "same" (stride 1 only;
    an odd total puts the extra zero after, as PyTorch does)."""
    nd = len(kernel)
    if padding == "valid":
        return ((0, 0),) * nd
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ArgumentValueError(f"{op}: padding='same' needs stride 1, got stride={stride}")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return tuple((total // 2, total - total // 2) for total in totals)
    if isinstance(padding, str):
        raise ArgumentValueError(f"{op}: padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}")
    pads = ntuple(padding, nd, "padding", op)
    if any(p < 0 for p in pads):
        raise ArgumentValueError(f"{op}: padding must be >= 0, got {padding!r}")
    return tuple((p, p) for p in pads)


def conv_geometry(op: str, nd: int, x_shape: tuple[int, ...], kernel: tuple[int, ...], stride: object,
                  padding: object, dilation: object) -> tuple[tuple[int, ...], tuple[int, ...], Pads, tuple[int, ...]]:
    """(stride, dilation, pads, output sizes) of a convolution, checked."""
    stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ArgumentValueError(f"{op}: stride and dilation must be >= 1, got stride={stride}, dilation={dilation}")
    pads = conv_pads(op, padding, kernel, stride, dilation)
    out = tuple(output_size(n, k, s, p, d)
                for n, k, s, p, d in zip(x_shape[2:], kernel, stride, pads, dilation, strict=True))
    return stride, dilation, pads, out


def im2col(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], pads: Pads,
           out: tuple[int, ...], groups: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The windows of the padded x as a (groups, batch * positions, channels / groups * kernel) matrix (one copy),
    and the padded shape."""
    nd, batch = len(kernel), x.shape[0]
    padded = pad_spatial(x, pads)
    windows = window_view(padded, kernel, stride, dilation, out)
    windows = windows.reshape(batch, groups, x.shape[1] // groups, *out, *kernel)
    order = (1, 0, *range(3, 3 + nd), 2, *range(3 + nd, 3 + 2 * nd))
    return windows.transpose(order).reshape(groups, batch * math.prod(out), -1), padded.shape


def col2im(window_grads: np.ndarray, kernel: tuple[int, ...], out: tuple[int, ...], padded_shape: tuple[int, ...],
           pads: Pads, stride: tuple[int, ...], dilation: tuple[int, ...]) -> np.ndarray:
    """The adjoint of im2col: (groups, channels / groups * kernel, batch * positions) window values added back into
    an array of the unpadded shape."""
    nd, batch = len(kernel), padded_shape[0]
    window_grads = window_grads.reshape(-1, *kernel, batch, *out)
    window_grads = window_grads.transpose(*range(1, nd + 2), 0, *range(nd + 2, 2 * nd + 2))
    return add_windows(window_grads, padded_shape, pads, stride, dilation)


def channels_first(result: np.ndarray, batch: int, out: tuple[int, ...]) -> np.ndarray:
    """(groups, batch * positions, channels / groups) as a C-contiguous (batch, channels, *out): ops downstream (the
    chunked element-wise kernels) expect C order."""
    groups, _, group_channels = result.shape
    nd = len(out)
    result = result.reshape(groups, batch, *out, group_channels).transpose(1, 0, 2 + nd, *range(2, 2 + nd))
    return np.ascontiguousarray(result).reshape(batch, groups * group_channels, *out)


def grouped_rows(a: np.ndarray, groups: int) -> np.ndarray:
    """(batch, channels, *spatial) as (groups, channels / groups, batch * positions)."""
    batch, channels = a.shape[:2]
    return a.reshape(batch, groups, channels // groups, -1).transpose(1, 2, 0, 3).reshape(groups, channels // groups,
                                                                                           -1)


class Conv(Function):
    """Cross-correlation of x (N, C_in, *spatial) with weight (C_out, C_in/groups, *kernel) plus
    bias (C_out,), PyTorch's conv1d/2d/3d, as one im2col matmul batched over groups."""

    def forward(self, x, weight, bias=None, *, nd, stride=1, padding=0, dilation=1, groups=1):
        op = f"conv{nd}d"
        self.check_shapes(op, nd, x.shape, weight.shape, None if bias is None else bias.shape, groups)
        kernel = weight.shape[2:]
        stride, dilation, pads, out = conv_geometry(op, nd, x.shape, kernel, stride, padding, dilation)
        if any(n < 1 for n in out):
            raise ShapeError(f"{op}: input of shape {x.shape} with padding {pads} is too short for weight of shape "
                             f"{weight.shape} (kernel {kernel}, dilation {dilation}): output size would be {out}")
        cols, padded_shape = im2col(x, kernel, stride, dilation, pads, out, groups)
        weight_mat = weight.reshape(groups, weight.shape[0] // groups, -1)
        result = np.matmul(cols, weight_mat.transpose(0, 2, 1))  # (groups, batch * positions, group_out)
        if bias is not None:
            result += bias.reshape(groups, 1, -1)
        self.cols = cols if self.needs_input_grad[1] else None
        self.weight_mat = weight_mat
        self.padded_shape, self.pads, self.stride, self.dilation = padded_shape, pads, stride, dilation
        self.weight_shape, self.groups, self.has_bias = weight.shape, groups, bias is not None
        return channels_first(result, x.shape[0], out)

    @staticmethod
    def check_shapes(op: str, nd: int, x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                     bias_shape: tuple[int, ...] | None, groups: int, transposed: bool = False) -> None:
        names = spatial_names(nd)
        if len(x_shape) != nd + 2:
            raise ShapeError(f"{op}: input of shape {x_shape} must be (batch, in_channels, {names})")
        kernel = 'kernel' if nd == 1 else 'kernel ' + names
        layout = (f"(in_channels, out_channels / groups, {kernel})" if transposed
                  else f"(out_channels, in_channels / groups, {kernel})")
        if len(weight_shape) != nd + 2 or 0 in weight_shape:
            raise ShapeError(f"{op}: weight of shape {weight_shape} must be {layout} with sizes >= 1")
        if not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ArgumentValueError(f"{op}: groups must be an int >= 1, got {groups!r}")
        in_channels = x_shape[1]
        out_channels = weight_shape[1] * groups if transposed else weight_shape[0]
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"{op}: groups={groups} must divide in_channels={in_channels} (input of shape {x_shape}) "
                             f"and out_channels={out_channels} (weight of shape {weight_shape})")
        expected = weight_shape[0] if transposed else weight_shape[1] * groups
        if expected != in_channels:
            raise ShapeError(f"{op}: input of shape {x_shape} has {in_channels} channels, but weight of shape "
                             f"{weight_shape} with groups={groups} expects {expected}")
        if bias_shape is not None and bias_shape != (out_channels,):
            raise ShapeError(f"{op}: bias of shape {bias_shape} does not fit weight of shape {weight_shape} "
                             f"(needs ({out_channels},))")

    def backward(self, grad):
        nd = len(self.stride)
        kernel = self.weight_shape[2:]
        grad_t = grouped_rows(grad, self.groups)  # (groups, group_out, batch * positions)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            window_grads = contract(self.weight_mat.transpose(0, 2, 1), grad_t)
            grad_x = col2im(window_grads, kernel, grad.shape[2:], self.padded_shape, self.pads, self.stride,
                            self.dilation)
        if self.needs_input_grad[1]:
            grad_weight = np.matmul(grad_t, self.cols).reshape(self.weight_shape)
        if self.has_bias and self.needs_input_grad[2]:
            grad_bias = grad.sum(axis=(0, *range(2, 2 + nd)))
        return (grad_x, grad_weight, grad_bias) if self.has_bias else (grad_x, grad_weight)


class ConvTranspose(Function):
    """The adjoint of `Conv` with respect to its input (PyTorch's conv_transpose1d/2d/3d): x (N, C_in, *spatial)
    with weight (C_in, C_out/groups, *kernel) gives (N, C_out, *out), out = (in - 1) * stride - 2 * padding +
    dilation * (kernel - 1) + output_padding + 1. Its forward is Conv's input gradient (one matmul, then col2im);
    its input gradient is Conv's forward (im2col, one matmul); its weight gradient Conv's with the roles swapped."""

    def forward(self, x, weight, bias=None, *, nd, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        op = f"conv_transpose{nd}d"
        self.check(op, nd, x.shape, weight.shape, bias, groups)
        kernel = weight.shape[2:]
        stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
        pads, extra = ntuple(padding, nd, "padding", op), ntuple(output_padding, nd, "output_padding", op)
        if any(s < 1 for s in stride) or any(d < 1 for d in dilation) or any(p < 0 for p in pads + extra):
            raise ArgumentValueError(f"{op}: need stride and dilation >= 1, padding and output_padding >= 0, got "
                                     f"stride={stride}, dilation={dilation}, padding={pads}, "
                                     f"output_padding={extra}")
        if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation, strict=True)):
            raise ArgumentValueError(f"{op}: output padding must be smaller than either stride or dilation, got "
                                     f"output_padding={extra}, stride={stride}, dilation={dilation}")
        out = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1
                    for n, k, s, p, d, e in zip(x.shape[2:], kernel, stride, pads, dilation, extra, strict=True))
        if any(n < 1 for n in out):
            raise ShapeError(f"{op}: input of shape {x.shape} with weight of shape {weight.shape} and padding {pads} "
                             f"gives output size {out}")
        batch, out_channels = x.shape[0], weight.shape[1] * groups
        self.weight_mat = weight.reshape(groups, weight.shape[0] // groups, -1)  # (groups, group_in, group_out * K)
        self.x_rows = grouped_rows(x, groups) if self.needs_input_grad[1] else None
        window_grads = contract(self.weight_mat.transpose(0, 2, 1), grouped_rows(x, groups))
        self.pads = tuple((p, p) for p in pads)
        padded_shape = (batch, out_channels) + tuple(n + 2 * p for n, p in zip(out, pads, strict=True))
        result = col2im(window_grads, kernel, x.shape[2:], padded_shape, self.pads, stride, dilation)
        if bias is not None:
            result += bias.reshape(-1, *(1,) * nd)
        self.kernel, self.stride, self.dilation, self.in_sizes = kernel, stride, dilation, x.shape[2:]
        self.weight_shape, self.groups, self.has_bias = weight.shape, groups, bias is not None
        return result

    @staticmethod
    def check(op: str, nd: int, x_shape: tuple[int, ...], weight_shape: tuple[int, ...], bias: np.ndarray | None,
              groups: int) -> None:
        Conv.check_shapes(op, nd, x_shape, weight_shape, None if bias is None else bias.shape, groups,
                          transposed=True)

    def backward(self, grad):
        nd = len(self.stride)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            cols, _ = im2col(grad, self.kernel, self.stride, self.dilation, self.pads, self.in_sizes, self.groups)
            if self.needs_input_grad[0]:
                grad_x = channels_first(np.matmul(cols, self.weight_mat.transpose(0, 2, 1)), grad.shape[0],
                                        self.in_sizes)
            if self.needs_input_grad[1]:
                grad_weight = np.matmul(self.x_rows, cols).reshape(self.weight_shape)
        if self.has_bias and self.needs_input_grad[2]:
            grad_bias = grad.sum(axis=(0, *range(2, 2 + nd)))
        return (grad_x, grad_weight, grad_bias) if self.has_bias else (grad_x, grad_weight)


def contract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b over stacked matrices; a contraction of length 1 (depthwise convs) as a broadcast
    product, where numpy's matmul would be slow."""
    return a * b if a.shape[-1] == 1 else np.matmul(a, b)


class PoolGeometry(NamedTuple):
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    pads: Pads  # (before, after) per axis; after covers ceil_mode's extra windows too
    out: tuple[int, ...]


def pool_geometry(op: str, nd: int, x_shape: tuple[int, ...], kernel_size: object, stride: object, padding: object,
                  dilation: object = 1, ceil_mode: bool = False) -> PoolGeometry:
    """The windows of a pool, checked as PyTorch checks them. With `ceil_mode` the output rounds up, so a last window
    may run past the padded input (it must start inside the input or the left padding); the padding after each axis
    grows to hold it."""
    if len(x_shape) != nd + 2:
        raise ShapeError(f"{op}: input of shape {x_shape} must be (batch, channels, {spatial_names(nd)})")
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not len(stride)) \
        else ntuple(stride, nd, "stride", op)
    padding, dilation = ntuple(padding, nd, "padding", op), ntuple(dilation, nd, "dilation", op)
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(p < 0 for p in padding) or \
            any(d < 1 for d in dilation):
        raise ArgumentValueError(f"{op}: need kernel_size, stride and dilation >= 1 and padding >= 0, got "
                                 f"kernel_size={kernel}, stride={stride}, dilation={dilation}, padding={padding}")
    if any(2 * p > d * (k - 1) + 1 for p, k, d in zip(padding, kernel, dilation, strict=True)):
        raise ArgumentValueError(f"{op}: pad should be at most half of effective kernel size, got padding={padding}, "
                                 f"kernel_size={kernel} and dilation={dilation}")
    out, pads = [], []
    for n, k, s, p, d in zip(x_shape[2:], kernel, stride, padding, dilation, strict=True):
        size = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (size - 1) * s >= n + p:
            size -= 1
        out.append(size)
        pads.append((p, p + max(0, (size - 1) * s + d * (k - 1) + 1 - (n + 2 * p))))
    if any(n < 1 for n in out):
        raise ShapeError(f"{op}: input of shape {x_shape} with padding {padding} is too small for kernel_size "
                         f"{kernel} and dilation {dilation}: output size would be {tuple(out)}")
    return PoolGeometry(kernel, stride, dilation, padding, tuple(pads), tuple(out))


def window_counts(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """How many elements each of the `out` windows along one axis averages: the window clipped to the padded input
    (PyTorch's count with padding), or to the input itself."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if not include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, n)
    return end - start


class AvgPool(Function):
    """Mean over each window. The divisor is PyTorch's: the window size clipped to the padded input
    (`count_include_pad=True`, the default) or to the input itself, or `divisor_override`."""

    def forward(self, x, *, nd, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        geometry = pool_geometry(f"avg_pool{nd}d", nd, x.shape, kernel_size, stride, padding, 1, ceil_mode)
        kernel, stride, pads, out = geometry.kernel, geometry.stride, geometry.pads, geometry.out
        padded = pad_spatial(x, pads)
        windows = window_view(padded, kernel, stride, (1,) * nd, out)
        if divisor_override is not None:
            if divisor_override == 0:
                raise ArgumentValueError(f"avg_pool{nd}d: divisor_override must be nonzero")
            divisor = np.asarray(divisor_override, dtype=x.dtype)
        else:
            divisor = np.ones((1,) * nd, dtype=x.dtype)
            for axis, (n, k, s, p, o) in enumerate(zip(x.shape[2:], kernel, stride, geometry.padding, out,
                                                       strict=True)):
                counts = window_counts(n, k, s, p, o, count_include_pad).astype(x.dtype)
                divisor = divisor * counts.reshape([-1 if a == axis else 1 for a in range(nd)])
        self.divisor, self.kernel, self.stride, self.pads, self.padded_shape = divisor, kernel, stride, pads, \
            padded.shape
        return windows.sum(axis=tuple(range(2 + nd, 2 + 2 * nd))) / divisor

    def backward(self, grad):
        share = grad / self.divisor
        window_grads = np.broadcast_to(share, self.kernel + share.shape)
        return add_windows(window_grads, self.padded_shape, self.pads, self.stride, (1,) * len(self.kernel))


def lowest(dtype: np.dtype) -> object:
    """The padding a max never picks: -inf, or the smallest value of an integer dtype."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min if dtype.kind in "iu" else False


class MaxPool(Function):
    """Max over each (dilated) window; padding is never picked; the gradient goes to the first maximum of each
    window, as in PyTorch (a NaN counts as the maximum). `indices()` gives PyTorch's return_indices: each maximum's
    flat position in its (unpadded) plane."""

    def forward(self, x, *, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, record=None):
        if record is not None:  # the caller wants the indices: it keeps this op
            record.append(self)
        geometry = pool_geometry(f"max_pool{nd}d", nd, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
        padded = pad_spatial(x, geometry.pads, lowest(x.dtype))
        windows = window_view(padded, geometry.kernel, geometry.stride, geometry.dilation, geometry.out)
        windows = windows.reshape(*x.shape[:2], *geometry.out, -1)
        self.argmax = windows.argmax(axis=-1)
        self.geometry, self.padded_shape, self.spatial = geometry, padded.shape, x.shape[2:]
        return np.take_along_axis(windows, self.argmax[..., None], axis=-1)[..., 0]

    def indices(self) -> np.ndarray:
        """The flat index (within its channel's plane) of each output's maximum, int64."""
        g = self.geometry
        offsets = np.unravel_index(self.argmax, g.kernel)
        nd = len(g.kernel)
        coordinates = []
        for axis in range(nd):
            starts = np.arange(g.out[axis]) * g.stride[axis] - g.padding[axis]
            starts = starts.reshape([-1 if a == axis else 1 for a in range(nd)])
            coordinates.append(starts + offsets[axis] * g.dilation[axis])
        return np.ravel_multi_index(tuple(coordinates), self.spatial).astype(np.int64)

    def backward(self, grad):
        g = self.geometry
        offsets = np.arange(math.prod(g.kernel)).reshape(-1, *([1] * grad.ndim))
        window_grads = np.where(offsets == self.argmax, grad, grad.dtype.type(0))
        window_grads = window_grads.reshape(g.kernel + grad.shape)
        return add_windows(window_grads, self.padded_shape, g.pads, g.stride, g.dilation)


class MaxUnpool(Function):
    """The inverse of max pooling: zeros of `output_size` with each input value at the flat position its index
    names (PyTorch's max_unpool); the gradient reads those positions back."""

    def forward(self, x, *, indices, output_size):
        batch, channels = x.shape[:2]
        plane = math.prod(output_size)
        flat = indices.reshape(batch, channels, -1)
        if flat.size and (flat.min() < 0 or flat.max() >= plane):
            bad = flat.min() if flat.min() < 0 else flat.max()
            raise ArgumentValueError(f"max_unpool: found an invalid max index {bad} (output planes are of size "
                                     f"{'x'.join(map(str, output_size))})")
        out = np.zeros((batch, channels, plane), dtype=x.dtype)
        np.put_along_axis(out, flat, x.reshape(batch, channels, -1), axis=2)
        self.flat, self.input_shape = flat, x.shape
        return out.reshape(batch, channels, *output_size)

    def backward(self, grad):
        rows = grad.reshape(*grad.shape[:2], -1)
        return np.take_along_axis(rows, self.flat, axis=2).reshape(self.input_shape)


def adaptive_pool_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """(out, size) averaging matrix: row i averages [floor(i*size/out), ceil((i+1)*size/out)),
    PyTorch's adaptive pooling windows."""
    matrix = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1 / (end - start)
    return matrix


class AdaptiveAvgPool(Function):
    """Average pooling to a fixed output size: one (batch * channels, positions) @ pooling-matrix
    product, the matrix being the Kronecker product of the per-axis averaging matrices."""

    def forward(self, x, *, nd, output_size):
        op = f"adaptive_avg_pool{nd}d"
        if len(x.shape) != nd + 2:
            raise ShapeError(f"{op}: input of shape {x.shape} must be (batch, channels, {spatial_names(nd)})")
        sizes = (output_size,) * nd if output_size is None or isinstance(output_size, (int, np.integer)) \
            else tuple(output_size)
        if len(sizes) != nd:
            raise ArgumentValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
        out = tuple(n if s is None else int(s) for n, s in zip(x.shape[2:], sizes, strict=True))
        if any(n < 1 for n in out) or any(n < 1 for n in x.shape[2:]):
            raise ShapeError(f"{op}: input of shape {x.shape} and output_size {out} must have sizes >= 1")
        matrix = np.ones((1, 1), dtype=x.dtype)
        for n, o in zip(x.shape[2:], out, strict=True):
            matrix = np.kron(matrix, adaptive_pool_matrix(n, o, x.dtype))
        self.matrix, self.input_shape = matrix, x.shape
        rows = x.reshape(x.shape[0] * x.shape[1], -1)
        return (rows @ matrix.T).reshape(*x.shape[:2], *out)

    def backward(self, grad):
        rows = grad.reshape(grad.shape[0] * grad.shape[1], -1)
        return (rows @ self.matrix).reshape(self.input_shape)


def adaptive_windows(size: int, out: int) -> np.ndarray:
    """(out, longest window) indices of PyTorch's adaptive windows [floor(i n / out), ceil((i + 1) n / out)) along
    one axis, shorter windows padded by repeating their last index (which leaves a max unchanged)."""
    starts = np.arange(out) * size // out
    ends = -(-(np.arange(out) + 1) * size // out)
    longest = int((ends - starts).max())
    return np.minimum(starts[:, None] + np.arange(longest), ends[:, None] - 1)


class AdaptiveMaxPool(Function):
    """Max pooling to a fixed output size over PyTorch's adaptive windows; the gradient goes to each window's first
    maximum. `indices` holds PyTorch's return_indices (flat positions in each plane)."""

    def forward(self, x, *, nd, output_size, record=None):
        if record is not None:  # the caller wants the indices: it keeps this op
            record.append(self)
        op = f"adaptive_max_pool{nd}d"
        if x.ndim != nd + 2 or 0 in x.shape[2:]:
            raise ShapeError(f"{op}: input of shape {x.shape} must be (batch, channels, {spatial_names(nd)}) with "
                             "sizes >= 1")
        sizes = (output_size,) * nd if output_size is None or isinstance(output_size, (int, np.integer)) \
            else tuple(output_size)
        if len(sizes) != nd:
            raise ArgumentValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
        out = tuple(n if s is None else int(s) for n, s in zip(x.shape[2:], sizes, strict=True))
        if any(n < 1 for n in out):
            raise ArgumentValueError(f"{op}: output_size {out} must have sizes >= 1")
        axes = [adaptive_windows(n, o) for n, o in zip(x.shape[2:], out, strict=True)]
        # index each axis with an (out, window) array, laid out so the result is (N, C, o1, w1, o2, w2, ...)
        index = [slice(None), slice(None)]
        for axis, windows in enumerate(axes):
            index.append(windows.reshape([1] * (2 * axis) + list(windows.shape) + [1] * (2 * (nd - axis - 1))))
        windows = x[tuple(index)]
        order = (0, 1, *range(2, 2 + 2 * nd, 2), *range(3, 3 + 2 * nd, 2))
        windows = windows.transpose(order).reshape(*x.shape[:2], *out, -1)
        pick = windows.argmax(axis=-1)
        offsets = np.unravel_index(pick, tuple(w.shape[1] for w in axes))
        coordinates = []
        for axis, windows_axis in enumerate(axes):
            rows = np.arange(out[axis]).reshape([-1 if a == axis else 1 for a in range(nd)])
            coordinates.append(windows_axis[rows, offsets[axis]])
        self.indices = np.ravel_multi_index(tuple(coordinates), x.shape[2:]).astype(np.int64)
        self.input_shape = x.shape
        return np.take_along_axis(windows, pick[..., None], axis=-1)[..., 0]

    def backward(self, grad):
        batch, channels = grad.shape[:2]
        full = np.zeros((batch, channels, math.prod(self.input_shape[2:])), dtype=grad.dtype)
        rows = np.arange(batch * channels).reshape(batch, channels, *([1] * (grad.ndim - 2)))
        np.add.at(full.reshape(batch * channels, -1), (np.broadcast_to(rows, grad.shape), self.indices), grad)
        return full.reshape(self.input_shape)


class Im2col(Function):
    """PyTorch's unfold (nn.Unfold): the windows of (N, C, *spatial) as columns, (N, C * prod(kernel), windows),
    channel-major; the backward adds each column back where it was read (col2im)."""

    def forward(self, x, *, kernel_size, dilation=1, padding=0, stride=1):
        nd = x.ndim - 2
        kernel = ntuple(kernel_size, nd, "kernel_size", "unfold")
        stride, dilation, pads, out = conv_geometry("unfold", nd, x.shape, kernel, stride, padding, dilation)
        if any(n < 1 for n in out):
            raise ShapeError(f"unfold: input of shape {x.shape} with padding {pads} is too small for kernel_size "
                             f"{kernel} and dilation {dilation}: {out} blocks")
        padded = pad_spatial(x, pads)
        windows = window_view(padded, kernel, stride, dilation, out)
        order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        self.kernel, self.out, self.stride, self.dilation, self.pads = kernel, out, stride, dilation, pads
        self.padded_shape = padded.shape
        return windows.transpose(order).reshape(x.shape[0], -1, math.prod(out))

    def backward(self, grad):
        nd = len(self.kernel)
        window_grads = grad.reshape(grad.shape[0], -1, *self.kernel, *self.out)
        window_grads = window_grads.transpose(*range(2, 2 + nd), 0, 1, *range(2 + nd, 2 + 2 * nd))
        return add_windows(window_grads, self.padded_shape, self.pads, self.stride, self.dilation)


class Col2im(Function):
    """PyTorch's fold (nn.Fold), the adjoint of `Im2col`: columns (N, C * prod(kernel), windows) summed into
    (N, C, *output_size), overlapping windows adding up; the backward reads the windows again."""

    def forward(self, x, *, output_size, kernel_size, dilation=1, padding=0, stride=1):
        nd = len(output_size)
        kernel = ntuple(kernel_size, nd, "kernel_size", "fold")
        shape = (x.shape[0], 1, *output_size)
        stride, dilation, pads, out = conv_geometry("fold", nd, shape, kernel, stride, padding, dilation)
        if x.ndim != 3 or x.shape[1] % math.prod(kernel):
            raise ShapeError(f"fold: input of shape {x.shape} must be (batch, channels * {math.prod(kernel)}, blocks), "
                             f"its second dim divisible by the kernel size {kernel}")
        if any(n < 1 for n in out) or math.prod(out) != x.shape[2]:
            raise ShapeError(f"fold: expected {math.prod(out)} blocks ({out}) for output_size {tuple(output_size)}, "
                             f"kernel_size {kernel}, dilation {dilation}, padding {pads} and stride {stride}, but the "
                             f"input has {x.shape[2]}")
        channels = x.shape[1] // math.prod(kernel)
        padded_shape = (x.shape[0], channels) + tuple(n + a + b for n, (a, b) in zip(output_size, pads, strict=True))
        window_grads = x.reshape(x.shape[0], channels, *kernel, *out)
        window_grads = window_grads.transpose(*range(2, 2 + nd), 0, 1, *range(2 + nd, 2 + 2 * nd))
        self.kernel, self.out, self.stride, self.dilation, self.pads = kernel, out, stride, dilation, pads
        return add_windows(window_grads, padded_shape, pads, stride, dilation)

    def backward(self, grad):
        nd = len(self.kernel)
        windows = window_view(pad_spatial(grad, self.pads), self.kernel, self.stride, self.dilation, self.out)
        order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))
        return windows.transpose(order).reshape(grad.shape[0], -1, math.prod(self.out))
