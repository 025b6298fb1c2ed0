"""The compiled kernels (numba): the same functions as `numpy_path`, same names and arguments, for float32.

A numpy formula is one pass over memory per ufunc; a loop compiled by numba is one pass for the whole formula, with
every intermediate in registers. The loops here are serial (`nogil=True`): the engine's own pool (`runtime.spread`)
cuts the arrays into one piece per thread at fixed boundaries, so numba starts no threads and results do not depend
on the number of threads. Each kernel is compiled at its first call, and cached on disk (`cache=True`, in
numba's cache directory), so only the first run on a machine pays the compile.

Compiler flags: `error_model="numpy"` (a division by zero gives inf, as in numpy, instead of raising; the loops then
vectorise). No fast-math on element-wise arithmetic: every element is computed by the IEEE operations written, in
the order written, whatever code surrounds it, so the forward without the slope (eval) gives the same bits as with
it, and LayerNorm without saving xhat the same as with. The one exception is the row sums (`_row_sum`,
`_row_squares`, `_row_dots`): `reassoc` lets them run in vector lanes; each row is summed by the same code in the
same order every time.

GELU uses the same tail polynomial as the numpy kernel, and an exp written out (Cody-Waite reduction, Cephes's
degree-7 polynomial, the power of two built from its bits) because a call to the C library's expf is not vectorised:
on this path GELU is within 3.5e-7 of the exact float64 value and its slope within 7e-7 (tests/engine/test_kernels.py
measures both paths).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ..runtime import spread
from . import numpy_path
from .numpy_path import NEG_TAIL, SCALE32, SHIFT32  # the GELU tail polynomial, shared with the numpy kernel

SUM_FLAGS = {"reassoc", "nsz"}  # for row sums only (see the module's docstring)
ELEMENT_UNIT = 1024  # element-wise work is cut at multiples of this many elements (whole cache lines)
LN_BLOCK = 64  # rows per partial sum of LayerNorm's weight and bias gradients


def kernel(function):
    """A compiled serial loop: no GIL, cached on disk, numpy's error model, no fast-math."""
    return numba.njit(nogil=True, cache=True, error_model="numpy")(function)


@intrinsic
def _int32_bits_as_float32(typingctx, value):
    """The float32 whose bits are the int32 `value` (a bitcast, as numpy's view)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


F32 = np.float32
ZERO, HALF, ONE = F32(0.0), F32(0.5), F32(1.0)
A0, A1, A2, A3 = NEG_TAIL
INV_SQRT_2PI = F32(1 / math.sqrt(2 * math.pi))
GELU_FAR = F32(9.0)  # beyond |x| = 9 the tail Phi(-|x|) < 1.2e-19: GELU is max(x, 0) and its slope 0 or 1, exactly
LOG2E, LN2_HIGH, LN2_LOW = F32(1.4426950408889634), F32(0.693359375), F32(-2.12194440e-4)
EXP_LOW = F32(-87.0)  # exp's argument is clamped here for the power of two (the GELU needs >= -40.5)
EXP_COEFFICIENTS = tuple(F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                          1.6666665459e-1, 5.0000001201e-1))
E0, E1, E2, E3, E4, E5 = EXP_COEFFICIENTS
EXPONENT_BIAS, MANTISSA_BITS = np.int32(127), np.int32(23)


@numba.njit(inline="always", error_model="numpy")
def _exp(w):
    """exp(w) for float32 w in [-87, 0] (nan stays nan): exp(w) = 2^k exp(r), k = round(w / ln 2), |r| <= ln(2)/2,
    r computed in two parts (Cody-Waite) and exp(r) by Cephes's expf polynomial."""
    clamped = w if w >= EXP_LOW else EXP_LOW  # also maps nan to a finite k; r keeps the nan
    k = np.floor(clamped * LOG2E + HALF)
    r = w - k * LN2_HIGH - k * LN2_LOW
    p = (((((E0 * r + E1) * r + E2) * r + E3) * r + E4) * r + E5) * r * r + r + ONE
    return p * _int32_bits_as_float32((np.int32(k) + EXPONENT_BIAS) << MANTISSA_BITS)


@numba.njit(inline="always", error_model="numpy")
def _gelu_parts(x):
    """(GELU(x), the tail term) for one float32: with z = |x| and q = Phi(-z) = exp(-z^2/2) R(z),
    GELU = max(x, 0) - z q. Returns GELU, -q and exp(-z^2/2) (for the slope), with q = 0 beyond GELU_FAR."""
    z = abs(x)
    far = z > GELU_FAR  # false for nan, which then runs through the formula and stays nan
    zc = GELU_FAR if far else z
    t = SCALE32 / (zc + SHIFT32)
    e = _exp(-HALF * zc * zc)
    neg_q = ((((t + A3) * t + A2) * t + A1) * t + A0) * e
    positive = ZERO if x < ZERO else x
    return positive + (ZERO if far else zc * neg_q), neg_q, e, zc, far


@kernel
def _gelu(x, out):
    for i in range(x.size):
        out[i] = _gelu_parts(x[i])[0]


@kernel
def _gelu_with_slope(x, out, slope):
    for i in range(x.size):
        value, neg_q, e, zc, far = _gelu_parts(x[i])
        out[i] = value
        # slope = Phi(x) + x phi(x) = 1/2 + sign(x) (1/2 - q + |x| phi(x)); exactly 0 or 1 beyond GELU_FAR
        half_odd = HALF if far else HALF + neg_q + zc * e * INV_SQRT_2PI
        slope[i] = HALF + math.copysign(half_odd, x[i])


@kernel
def _multiply(a, b, out):
    for i in range(a.size):
        out[i] = a[i] * b[i]


def _elementwise(loop, *arrays: np.ndarray) -> None:
    """Run `loop` over matching pieces of flat C-contiguous arrays, one piece per thread."""
    flats = [a.reshape(-1) for a in arrays]
    spread(lambda lo, hi: loop(*(f[lo:hi] for f in flats)), flats[0].size, ELEMENT_UNIT)


def gelu_forward(x: np.ndarray, with_slope: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """GELU(x) = x Phi(x), and (if `with_slope`) its derivative Phi(x) + x phi(x) for the backward; float32."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    if not with_slope:
        _elementwise(_gelu, x, out)
        return out, None
    slope = np.empty_like(x)
    _elementwise(_gelu_with_slope, x, out, slope)
    return out, slope


def gelu_backward(grad: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """grad * slope, with the slope the forward computed."""
    if grad.shape != slope.shape:
        return grad * slope
    grad = np.ascontiguousarray(grad)
    out = np.empty_like(slope)
    _elementwise(_multiply, grad, slope, out)
    return out


# -- LayerNorm -------------------------------------------------------------------------------------
@numba.njit(cache=True, fastmath=SUM_FLAGS, error_model="numpy")
def _row_sum(row):
    total = ZERO
    for j in range(row.size):
        total += row[j]
    return total


@numba.njit(cache=True, fastmath=SUM_FLAGS, error_model="numpy")
def _row_squares(row, mean):
    total = ZERO
    for j in range(row.size):
        centered = row[j] - mean
        total += centered * centered
    return total


@numba.njit(cache=True, fastmath=SUM_FLAGS, error_model="numpy")
def _row_dots(g_row, weight, xhat_row):
    """sum(g * weight) and sum(g * weight * xhat) over a row."""
    total = ZERO
    total_xhat = ZERO
    for j in range(g_row.size):
        gw = g_row[j] * weight[j]
        total += gw
        total_xhat += gw * xhat_row[j]
    return total, total_xhat


@kernel
def _layer_norm_rows(x, weight, bias, eps, out, xhat, rstd, keep, lo, hi):
    """Rows lo..hi: the mean, then the variance of x - mean (two passes over a row that sits in L1: no
    cancellation for rows far from zero), then one pass for the output (and xhat, if kept)."""
    inv_dim = ONE / F32(x.shape[1])
    for r in range(lo, hi):
        row, out_row = x[r], out[r]
        mean = _row_sum(row) * inv_dim
        scale = ONE / math.sqrt(_row_squares(row, mean) * inv_dim + eps)
        rstd[r] = scale
        if keep:
            xhat_row = xhat[r]
            for j in range(row.size):
                normalized = (row[j] - mean) * scale
                xhat_row[j] = normalized
                out_row[j] = normalized * weight[j] + bias[j]
        else:
            for j in range(row.size):
                out_row[j] = (row[j] - mean) * scale * weight[j] + bias[j]


@kernel
def _layer_norm_backward_rows(grad, xhat, rstd, weight, grad_x, weight_parts, bias_parts, needs_x, lo, hi):
    """Rows lo..hi: the weight and bias gradients added into the partial sums of the row's block of LN_BLOCK rows,
    the two row sums of the closed form, then one loop for the input gradient."""
    inv_dim = ONE / F32(grad.shape[1])
    for r in range(lo, hi):
        g_row, xhat_row = grad[r], xhat[r]
        weight_part, bias_part = weight_parts[r // LN_BLOCK], bias_parts[r // LN_BLOCK]
        for j in range(g_row.size):
            weight_part[j] += g_row[j] * xhat_row[j]
            bias_part[j] += g_row[j]
        if needs_x:
            sum_g, sum_g_xhat = _row_dots(g_row, weight, xhat_row)
            mean_g, mean_g_xhat, scale = sum_g * inv_dim, sum_g_xhat * inv_dim, rstd[r]
            grad_x_row = grad_x[r]
            for j in range(g_row.size):
                grad_x_row[j] = scale * (g_row[j] * weight[j] - mean_g - xhat_row[j] * mean_g_xhat)


def layer_norm_forward(rows: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float,
                       keep: bool) -> tuple[np.ndarray, tuple | None]:
    """(x - mean) * rstd * weight + bias over each row of (rows, dim); with `keep` also (xhat, rstd) for the
    backward. A missing weight is ones and a missing bias zeros (exact)."""
    count, dim = rows.shape
    rows = np.ascontiguousarray(rows)
    weight = np.ones(dim, dtype=np.float32) if weight is None else np.ascontiguousarray(weight)
    bias = np.zeros(dim, dtype=np.float32) if bias is None else np.ascontiguousarray(bias)
    out, rstd = np.empty_like(rows), np.empty(count, dtype=np.float32)
    xhat = np.empty_like(rows) if keep else np.empty((0, dim), dtype=np.float32)
    if count:
        spread(lambda lo, hi: _layer_norm_rows(rows, weight, bias, F32(eps), out, xhat, rstd, keep, lo, hi),
               count, LN_BLOCK, dim)
    return out, ((xhat, rstd) if keep else None)


def layer_norm_backward(saved: tuple, grad: np.ndarray, weight: np.ndarray | None, needs_x: bool,
                        needs_weight: bool, needs_bias: bool) -> tuple[np.ndarray | None, ...]:
    """The gradients of x, weight and bias (None where not needed):
        dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = grad * weight,
    the weight and bias gradients summed per block of LN_BLOCK rows in float32, then over the blocks in float64."""
    xhat, rstd = saved
    count, dim = xhat.shape
    grad = np.ascontiguousarray(grad)
    weight = np.ones(dim, dtype=np.float32) if weight is None else np.ascontiguousarray(weight)
    blocks = -(-count // LN_BLOCK)
    weight_parts, bias_parts = np.zeros((2, blocks, dim), dtype=np.float32)
    grad_x = np.empty_like(xhat) if needs_x else np.empty((0, dim), dtype=np.float32)
    if count:
        spread(lambda lo, hi: _layer_norm_backward_rows(grad, xhat, rstd, weight, grad_x, weight_parts, bias_parts,
                                                        needs_x, lo, hi), count, LN_BLOCK, dim)
    return (grad_x if needs_x else None,
            weight_parts.sum(axis=0, dtype=np.float64).astype(np.float32) if needs_weight else None,
            bias_parts.sum(axis=0, dtype=np.float64).astype(np.float32) if needs_bias else None)


# -- Linear's bias ---------------------------------------------------------------------------------
@kernel
def _add_bias_rows(out, bias, lo, hi):
    for r in range(lo, hi):
        row = out[r]
        for j in range(row.size):
            row[j] += bias[j]


@kernel
def _add_bias_columns(out, bias, lo, hi):
    for r in range(lo, hi):
        row, b = out[r], bias[r]
        for j in range(row.size):
            row[j] += b


def add_bias(out: np.ndarray, bias: np.ndarray, axis: int) -> None:
    """out += bias in place, along the last axis of a 2-D C-contiguous `out` (axis -1) or its first (axis 0)."""
    if not out.flags.c_contiguous:
        numpy_path.add_bias(out, bias, axis)
        return
    bias = np.ascontiguousarray(bias)
    if axis == -1:
        spread(lambda lo, hi: _add_bias_rows(out, bias, lo, hi), out.shape[0], max(1, 4096 // max(out.shape[1], 1)),
               out.shape[1])
    else:
        spread(lambda lo, hi: _add_bias_columns(out, bias, lo, hi), out.shape[0], 1, out.shape[1])


# -- Adam and AdamW --------------------------------------------------------------------------------
@kernel
def _adam(data, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, beta1, beta2, step_size, bias_correction2_sqrt,
          eps, l2, decay):
    one_minus_beta1, one_minus_beta2 = ONE - beta1, ONE - beta2
    for i in range(data.size):
        p = data[i] * decay
        g = grad[i] + l2 * p
        m = beta1 * exp_avg[i] + one_minus_beta1 * g
        v = beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = max(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        data[i] = p - step_size * (m / (math.sqrt(v) / bias_correction2_sqrt + eps))


def adam_update(data: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                max_exp_avg_sq: np.ndarray | None, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float, decoupled: bool, step: int) -> None:
    """One Adam step in place, in one pass (same rule as `numpy_path.adam_update`)."""
    amsgrad = max_exp_avg_sq is not None
    updated = (data, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ())
    if not all(a.flags.c_contiguous for a in updated):  # written in place: a copy would lose the update
        numpy_path.adam_update(data, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                               decoupled, step)
        return
    flats = [a.reshape(-1) for a in (data, np.ascontiguousarray(grad), exp_avg, exp_avg_sq)]
    maximum = max_exp_avg_sq.reshape(-1) if amsgrad else flats[3][:0]
    decay = F32(1 - lr * weight_decay) if decoupled else ONE
    l2 = ZERO if decoupled else F32(weight_decay)
    _adam(*flats, maximum, amsgrad, F32(beta1), F32(beta2), F32(lr / (1 - beta1**step)),
          F32(math.sqrt(1 - beta2**step)), F32(eps), l2, decay)
