"""Resampling (`interpolate`): each spatial axis is resampled on its own, every output position a weighted sum of a
few input positions along that axis (taps). The taps are PyTorch's for each mode, computed in the input's
floating dtype as PyTorch's CPU kernels compute them, so the results agree to the last bits: nearest and
nearest-exact take one input each, linear two, cubic four (clamped at the edges). The forward gathers the taps;
the backward multiplies by the transposed (out, in) interpolation matrix along each axis. uint8 images follow
PyTorch's uint8 kernel instead (integer weights, rounding after each axis), which it matches exactly.
"""

from __future__ import annotations

import numpy as np

from ..engine import Function

Taps = list[tuple[np.ndarray, np.ndarray | None]]  # (input index per output position, weight or None for 1)

CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution coefficient


def source_scale(size: int, out: int, align_corners: bool, scale_factor: float | None, dtype: np.dtype):
    """PyTorch's area_pixel_compute_scale: the step in input coordinates per output position."""
    t = dtype.type
    if align_corners:
        return t(size - 1) / t(out - 1) if out > 1 else t(0)
    return t(1.0 / scale_factor) if scale_factor is not None and scale_factor > 0 else t(size) / t(out)


def nearest_taps(size: int, out: int, scale_factor: float | None, exact: bool) -> Taps:
    """floor(dst * scale) (nearest) or floor((dst + 0.5) * scale) (nearest-exact), in float32 as PyTorch."""
    if out == size or (out == 2 * size and not exact):  # PyTorch's shortcuts
        return [(np.arange(out) * size // out, None)]
    scale = source_scale(size, out, False, scale_factor, np.dtype(np.float32))
    dst = np.arange(out, dtype=np.float32) + (np.float32(0.5) if exact else np.float32(0))
    return [(np.minimum(np.floor(dst * scale).astype(np.int64), size - 1), None)]


def linear_taps(size: int, out: int, align_corners: bool, scale_factor: float | None, dtype: np.dtype) -> Taps:
    """Two taps: the source coordinate (clamped at 0) split between its floor and the next position."""
    t = dtype.type
    if out == size:
        return [(np.arange(out), None)]
    scale = source_scale(size, out, align_corners, scale_factor, dtype)
    dst = np.arange(out, dtype=dtype)
    source = dst * scale if align_corners else np.maximum(scale * (dst + t(0.5)) - t(0.5), t(0))
    low = np.minimum(source.astype(np.int64), size - 1)
    high = low + (low < size - 1)
    weight_high = np.clip(source - low.astype(dtype), t(0), t(1))
    return [(low, t(1) - weight_high), (high, weight_high)]


def cubic_taps(size: int, out: int, align_corners: bool, scale_factor: float | None, dtype: np.dtype) -> Taps:
    """Four taps around the source coordinate with the cubic convolution weights (A = -0.75), indices clamped."""
    t = dtype.type
    if out == size:
        return [(np.arange(out), None)]
    scale = source_scale(size, out, align_corners, scale_factor, dtype)
    dst = np.arange(out, dtype=dtype)
    source = dst * scale if align_corners else scale * (dst + t(0.5)) - t(0.5)
    floor = np.floor(source)
    x = source - floor
    a = t(CUBIC_A)

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    weights = [far(x + 1), near(x), near(1 - x), far(2 - x)]
    base = floor.astype(np.int64)
    return [(np.clip(base + k - 1, 0, size - 1), w) for k, w in enumerate(weights)]


def fixed_point_axis(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """One axis of PyTorch's uint8 resampling (Pillow's scheme): the weights as integers scaled by 2^precision, the
    largest precision that keeps them within int16, the sums rounded back to uint8 after this axis."""
    precision = 0
    while np.abs(matrix).max() * (1 << (precision + 1)) < (1 << 15) and precision < 22:
        precision += 1
    weights = np.floor(matrix * (1 << precision) + 0.5).astype(np.int64)
    sums = np.moveaxis(x, axis, -1).astype(np.int64) @ weights.T
    return np.moveaxis(np.clip((sums + (1 << (precision - 1))) >> precision, 0, 255).astype(np.uint8), -1, axis)


def taps_matrix(taps: Taps, size: int, dtype: np.dtype) -> np.ndarray:
    """The (out, size) matrix the taps apply."""
    out = taps[0][0].shape[0]
    matrix = np.zeros((out, size), dtype=dtype)
    rows = np.arange(out)
    for index, weight in taps:
        np.add.at(matrix, (rows, index), dtype.type(1) if weight is None else weight)
    return matrix


class Resample(Function):
    """Apply per-axis taps to the spatial axes of (N, C, *spatial). A uint8 input is resampled as PyTorch's uint8
    kernel does it (`fixed_point_axis`); nearest taps only gather, so they keep any dtype."""

    def forward(self, x, *, taps):
        self.taps, self.input_shape = taps, x.shape
        out = x
        order = range(x.ndim - 1, 1, -1) if x.dtype == np.uint8 else range(2, x.ndim)
        for axis in order:
            axis_taps = taps[axis - 2]
            if len(axis_taps) == 1 and axis_taps[0][1] is None:
                out = np.take(out, axis_taps[0][0], axis=axis)
            elif x.dtype == np.uint8:
                out = fixed_point_axis(out, taps_matrix(axis_taps, out.shape[axis], np.dtype(np.float64)), axis)
            else:
                shape = [-1 if a == axis else 1 for a in range(x.ndim)]
                total = None
                for index, weight in axis_taps:
                    term = np.take(out, index, axis=axis) * weight.reshape(shape)
                    total = term if total is None else total + term
                out = total
        return out.astype(x.dtype, copy=False)

    def backward(self, grad):
        for axis in reversed(range(2, grad.ndim)):
            matrix = taps_matrix(self.taps[axis - 2], self.input_shape[axis], grad.dtype)
            grad = np.moveaxis(np.moveaxis(grad, axis, -1) @ matrix, -1, axis)
        return np.ascontiguousarray(grad)
