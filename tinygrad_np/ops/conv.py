"""Convolution and pooling over 1 or 2 spatial axes in PyTorch's layouts (batch, channels, *spatial).

Convolution is im2col: the windows of the padded input are a strided view (no copy), gathered
once into a (groups, positions, in_channels/groups * kernel) matrix and multiplied by the weight
in ONE `np.matmul` (a plain GEMM when groups == 1). The backward is one matmul for the weight
gradient and one for the window gradients, which col2im adds back into the input one strided
slice per kernel offset (K or KH*KW iterations), so overlapping windows sum. Pools reuse the
same windows and col2im; adaptive average pooling is one product with a fixed pooling matrix.
The ops are written once for any number of spatial axes; `functional` exposes the 1-D and 2-D ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import product

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


class Conv(Function):
    """Cross-correlation of x (N, C_in, *spatial) with weight (C_out, C_in/groups, *kernel) plus
    bias (C_out,), PyTorch's conv1d/conv2d, as one im2col matmul batched over groups."""

    def forward(self, x, weight, bias=None, *, nd, stride=1, padding=0, dilation=1, groups=1):
        op = f"conv{nd}d"
        self.check_shapes(op, nd, x.shape, weight.shape, None if bias is None else bias.shape, groups)
        kernel = weight.shape[2:]
        stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
        if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
            raise ArgumentValueError(f"{op}: stride and dilation must be >= 1, got stride={stride}, "
                                     f"dilation={dilation}")
        pads = conv_pads(op, padding, kernel, stride, dilation)
        out = tuple(output_size(n, k, s, p, d)
                    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pads, dilation, strict=True))
        if any(n < 1 for n in out):
            raise ShapeError(f"{op}: input of shape {x.shape} with padding {pads} is too short for weight of shape "
                             f"{weight.shape} (kernel {kernel}, dilation {dilation}): output size would be {out}")
        batch, in_channels = x.shape[:2]
        out_channels, group_in = weight.shape[:2]
        group_out = out_channels // groups
        padded = pad_spatial(x, pads)
        windows = window_view(padded, kernel, stride, dilation, out)
        # im2col: (batch, groups, group_in, *out, *kernel) -> (groups, batch * positions, group_in * kernel)
        windows = windows.reshape(batch, groups, group_in, *out, *kernel)
        order = (1, 0, *range(3, 3 + nd), 2, *range(3 + nd, 3 + 2 * nd))
        cols = windows.transpose(order).reshape(groups, batch * math.prod(out), group_in * math.prod(kernel))
        weight_mat = weight.reshape(groups, group_out, -1)
        result = np.matmul(cols, weight_mat.transpose(0, 2, 1))  # (groups, batch * positions, group_out)
        if bias is not None:
            result += bias.reshape(groups, 1, group_out)
        self.cols = cols if self.needs_input_grad[1] else None
        self.weight_mat = weight_mat
        self.padded_shape, self.pads, self.stride, self.dilation = padded.shape, pads, stride, dilation
        self.weight_shape, self.groups, self.has_bias = weight.shape, groups, bias is not None
        # (groups, batch, *out, group_out) -> (batch, groups, group_out, *out), copied C-contiguous: ops
        # downstream (the chunked element-wise kernels) expect C order
        result = result.reshape(groups, batch, *out, group_out).transpose(1, 0, 2 + nd, *range(2, 2 + nd))
        return np.ascontiguousarray(result).reshape(batch, out_channels, *out)

    @staticmethod
    def check_shapes(op: str, nd: int, x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                     bias_shape: tuple[int, ...] | None, groups: int) -> None:
        names = spatial_names(nd)
        if len(x_shape) != nd + 2:
            raise ShapeError(f"{op}: input of shape {x_shape} must be (batch, in_channels, {names})")
        if len(weight_shape) != nd + 2 or 0 in weight_shape:
            raise ShapeError(f"{op}: weight of shape {weight_shape} must be (out_channels, in_channels / groups, "
                             f"{'kernel' if nd == 1 else 'kernel ' + names}) with sizes >= 1")
        if not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ArgumentValueError(f"{op}: groups must be an int >= 1, got {groups!r}")
        in_channels, out_channels = x_shape[1], weight_shape[0]
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"{op}: groups={groups} must divide in_channels={in_channels} (input of shape {x_shape}) "
                             f"and out_channels={out_channels} (weight of shape {weight_shape})")
        if weight_shape[1] * groups != in_channels:
            raise ShapeError(f"{op}: input of shape {x_shape} has {in_channels} channels, but weight of shape "
                             f"{weight_shape} with groups={groups} expects {weight_shape[1] * groups}")
        if bias_shape is not None and bias_shape != (out_channels,):
            raise ShapeError(f"{op}: bias of shape {bias_shape} does not fit weight of shape {weight_shape} "
                             f"(needs ({out_channels},))")

    def backward(self, grad):
        nd = len(self.stride)
        groups, kernel = self.groups, self.weight_shape[2:]
        batch, out_channels, *out = grad.shape
        # (batch, groups, group_out, *out) -> (groups, group_out, batch * positions)
        grad_t = grad.reshape(batch, groups, out_channels // groups, -1).transpose(1, 2, 0, 3).reshape(
            groups, out_channels // groups, -1)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            # (groups, group_in * kernel, batch * positions), read by col2im as (*kernel, batch, C_in, *out)
            window_grads = contract(self.weight_mat.transpose(0, 2, 1), grad_t)
            window_grads = window_grads.reshape(-1, *kernel, batch, *out)
            window_grads = window_grads.transpose(*range(1, nd + 2), 0, *range(nd + 2, 2 * nd + 2))
            grad_x = add_windows(window_grads, self.padded_shape, self.pads, self.stride, self.dilation)
        if self.needs_input_grad[1]:
            grad_weight = np.matmul(grad_t, self.cols).reshape(self.weight_shape)
        if self.has_bias and self.needs_input_grad[2]:
            grad_bias = grad.sum(axis=(0, *range(2, 2 + nd)))
        return (grad_x, grad_weight, grad_bias) if self.has_bias else (grad_x, grad_weight)


def contract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b over stacked matrices; a contraction of length 1 (depthwise convs) as a broadcast
    product, which numpy's matmul runs ~5x slower."""
    return a * b if a.shape[-1] == 1 else np.matmul(a, b)


def pool_geometry(op: str, nd: int, x_shape: tuple[int, ...], kernel_size: object, stride: object,
                  padding: object) -> tuple[tuple[int, ...], tuple[int, ...], Pads, tuple[int, ...]]:
    """(kernel, stride, pads, out) of a pool, checked as PyTorch checks them."""
    if len(x_shape) != nd + 2:
        raise ShapeError(f"{op}: input of shape {x_shape} must be (batch, channels, {spatial_names(nd)})")
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else ntuple(stride, nd, "stride", op)
    padding = ntuple(padding, nd, "padding", op)
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(p < 0 for p in padding):
        raise ArgumentValueError(f"{op}: need kernel_size >= 1, stride >= 1 and padding >= 0, "
                                 f"got kernel_size={kernel}, stride={stride}, padding={padding}")
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ArgumentValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    pads = tuple((p, p) for p in padding)
    out = tuple(output_size(n, k, s, p) for n, k, s, p in zip(x_shape[2:], kernel, stride, pads, strict=True))
    if any(n < 1 for n in out):
        raise ShapeError(f"{op}: input of shape {x_shape} with padding {padding} is too small for kernel_size "
                         f"{kernel}: output size would be {out}")
    return kernel, stride, pads, out


class AvgPool(Function):
    """Mean over each window (zero padding counted, PyTorch's count_include_pad=True default)."""

    def forward(self, x, *, nd, kernel_size, stride=None, padding=0):
        kernel, stride, pads, out = pool_geometry(f"avg_pool{nd}d", nd, x.shape, kernel_size, stride, padding)
        padded = pad_spatial(x, pads)
        windows = window_view(padded, kernel, stride, (1,) * nd, out)
        self.kernel, self.stride, self.pads, self.padded_shape = kernel, stride, pads, padded.shape
        return windows.mean(axis=tuple(range(2 + nd, 2 + 2 * nd)))

    def backward(self, grad):
        share = grad / grad.dtype.type(math.prod(self.kernel))
        window_grads = np.broadcast_to(share, self.kernel + share.shape)
        return add_windows(window_grads, self.padded_shape, self.pads, self.stride, (1,) * len(self.kernel))


class MaxPool(Function):
    """Max over each window (padding is -inf, never picked); the gradient goes to the first
    maximum of each window, as in PyTorch."""

    def forward(self, x, *, nd, kernel_size, stride=None, padding=0):
        kernel, stride, pads, out = pool_geometry(f"max_pool{nd}d", nd, x.shape, kernel_size, stride, padding)
        padded = pad_spatial(x, pads, -np.inf)
        windows = window_view(padded, kernel, stride, (1,) * nd, out).reshape(*x.shape[:2], *out, -1)
        self.argmax = windows.argmax(axis=-1)
        self.kernel, self.stride, self.pads, self.padded_shape = kernel, stride, pads, padded.shape
        return np.take_along_axis(windows, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, grad):
        offsets = np.arange(math.prod(self.kernel)).reshape(-1, *([1] * grad.ndim))
        window_grads = np.where(offsets == self.argmax, grad, grad.dtype.type(0))
        window_grads = window_grads.reshape(self.kernel + grad.shape)
        return add_windows(window_grads, self.padded_shape, self.pads, self.stride, (1,) * len(self.kernel))


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
