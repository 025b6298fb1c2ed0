"""The pure-numpy kernels of the fused ops: the reference path, and the one taken without numba (or for float64).

numpy runs one pass over memory per ufunc; a formula of 20 ufuncs over a 45 MB array is 20 trips to RAM.
`map_chunks` runs the whole formula on cache-sized chunks instead, spread over the engine's threads
(`runtime.spread`: numpy releases the GIL inside ufuncs). Every element is computed by the same sequence of
operations whatever the chunking, so results are bit-for-bit repeatable. Row kernels (LayerNorm) run on blocks of
rows (`map_row_blocks`) with their row sums as BLAS matrix-vector products.

Each function here has a twin of the same name and arguments in `compiled.py` when the compiled path accelerates
it; what a forward saves for its backward is private to its path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import special
from scipy.linalg import blas

from ..runtime import spread

INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
CHUNK = 1 << 15  # elements per chunk of an element-wise kernel: its ~8 arrays of 128 KiB stay in L2
ROW_BLOCK = 1 << 16  # elements per block of rows (LayerNorm); its partial sums are per block
SUM_BLOCK = 1024  # rows summed by one matrix-vector product before the partial sums are added


def map_chunks(kernel: Callable[..., None], *arrays: np.ndarray, scratch: int = 0,
               constants: Sequence[float] = ()) -> None:
    """Call `kernel(*chunks, scratch_rows)` over matching chunks of C-contiguous arrays of one size and dtype
    (inputs and outputs alike), spread over the thread pool. `scratch_rows` holds `scratch` rows of scratch space
    followed by one row per entry of `constants`, filled with it once per thread (a ufunc against a constant array
    runs faster than against a scalar for some ufuncs, e.g. minimum)."""
    if not all(a.flags.c_contiguous for a in arrays):
        raise ValueError("map_chunks: arrays must be C-contiguous (a reshaped view must not be a copy)")
    flats = [a.reshape(-1) for a in arrays]
    size = flats[0].size

    def work(start: int, stop: int) -> None:
        rows = np.empty((scratch + len(constants), min(CHUNK, stop - start)), dtype=flats[0].dtype)
        for row, value in zip(rows[scratch:], constants, strict=True):
            row.fill(value)
        for lo in range(start, stop, CHUNK):
            hi = min(lo + CHUNK, stop)
            kernel(*(f[lo:hi] for f in flats), rows[:, :hi - lo])

    spread(work, size, 1024)


def map_row_blocks(kernel: Callable[..., None], *arrays: np.ndarray, scratch: int = 0) -> None:
    """Call `kernel(block_index, *row_blocks, scratch_blocks)` over blocks of about ROW_BLOCK elements' worth of
    rows of 2-D arrays with the same number of rows, spread over the thread pool; `scratch_blocks` holds `scratch`
    scratch arrays of a block's shape (one set per thread). Blocks do not depend on the number of threads, so
    per-block partial sums add up the same way."""
    rows, width = arrays[0].shape
    block = block_rows(width)

    def work(start: int, stop: int) -> None:
        space = np.empty((scratch, min(block, stop - start), width), dtype=arrays[0].dtype)
        for lo in range(start, stop, block):
            hi = min(lo + block, stop)
            kernel(lo // block, *(a[lo:hi] for a in arrays), space[:, :hi - lo])

    spread(work, rows, block, width)


def block_rows(width: int) -> int:
    """Rows per block of `map_row_blocks` for rows of `width` elements."""
    return max(1, ROW_BLOCK // max(width, 1))


def row_blocks(rows: int, width: int) -> int:
    """How many blocks `map_row_blocks` cuts `rows` rows of `width` elements into."""
    return -(-rows // block_rows(width))


# BLAS matrix products for rank-1 matrices: an outer product u v^T, or a rank-1 update A += alpha u v^T, as a
# product of inner size 1 (gemm). numpy's broadcasting runs one short inner loop per row, and its matmul takes a slow
# path for inner size 1: both cost two to four times as much per element. gemm rather than ger (BLAS's own rank-1
# update): OpenBLAS runs ger on all its threads from 32K elements up, which on a busy machine can take a thousand
# times longer; gemm keeps one thread up to 256K multiply-adds, more than a block of rows.
_GEMM = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}


def outer_into(out: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """out[i, j] = u[i] * v[j], into a C-contiguous matrix."""
    gemm = _GEMM.get(out.dtype)
    if gemm is None or out.size == 0:
        np.multiply(u[:, None], v, out=out)
        return
    gemm(1.0, v[:, None], u[None, :], beta=0.0, c=out.T, overwrite_c=True)  # out^T = v u^T, F-ordered


def add_outer(a: np.ndarray, u: np.ndarray, v: np.ndarray, alpha: float = 1.0) -> None:
    """a[i, j] += alpha * u[i] * v[j], in place, for a C-contiguous matrix."""
    gemm = _GEMM.get(a.dtype)
    if gemm is None or a.size == 0:
        a += a.dtype.type(alpha) * u[:, None] * v
        return
    gemm(alpha, v[:, None], u[None, :], beta=1.0, c=a.T, overwrite_c=True)


# -- GELU in float32 --------------------------------------------------------------------------
# The normal tail Phi(-z), z = |x|, is written as exp(-z^2/2) * R(z) with R the scaled Mills ratio
# Phi(-z) exp(z^2/2), a smooth function that falls from 1/2 to 0 like 1/(z sqrt(2 pi)). R is a quartic in
# u = 1/(z + 2.5):
#     R(z) ~ b0 + b1 u + b2 u^2 + b3 u^3 + b4 u^4,
# fitted as a weighted minimax polynomial (Lawson's iteratively reweighted least squares in float64 on 40,000 points
# of [0, 16], Chebyshev-spaced plus uniform on [0, 7]) against scipy's 0.5 * erfcx(z / sqrt 2), with weight
# exp(-z^2/2) * max(z, 0.4): the absolute error the fit puts into GELU = x Phi(x) (and, divided by 0.4, into its
# slope near 0). Max weighted error 2.14e-7 (checked on 2 million points of [0, 16]), so GELU is within 2.2e-7 and
# its slope within 5.4e-7 before float32 rounding; tests/engine/test_kernels.py measures the float32 kernel itself.
# The shift 2.5 was the best on a grid of 0.02 steps (2.49 gains 15%). One exp serves the tail and the density
# phi(x) = exp(-x^2/2) / sqrt(2 pi) that the slope needs.
_TAIL_SHIFT = 2.5
_TAIL_COEFFICIENTS = (-0.008514287676317673, 0.5725613800560126, -0.3987827800265591, 7.457352407246756,
                      -5.23341153300913)
# Evaluated as -R = t^4 + a3 t^3 + a2 t^2 + a1 t + a0 with t = alpha u, alpha = (-b4)^(1/4), a_j = -b_j / alpha^j:
# the leading coefficient 1 saves a multiply.
_TAIL_SCALE = (-_TAIL_COEFFICIENTS[4]) ** 0.25
NEG_TAIL = tuple(np.float32(-b / _TAIL_SCALE**j) for j, b in enumerate(_TAIL_COEFFICIENTS[:4]))
SHIFT32, SCALE32 = np.float32(_TAIL_SHIFT), np.float32(_TAIL_SCALE)
_HALF32, _MINUS_HALF32, _INV_SQRT_2PI32 = np.float32(0.5), np.float32(-0.5), np.float32(INV_SQRT_2PI)
# |x| is clamped here: exp(-x^2/2) is already 0 in float32, and an infinite x then gives no inf * 0.
_GELU_CLAMP = 16.0
_SIGN_BIT = np.uint32(0x80000000)


def _gelu_chunk(x: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    _gelu_kernel(x, out, None, scratch)


def _gelu_with_slope_chunk(x: np.ndarray, out: np.ndarray, slope: np.ndarray, scratch: np.ndarray) -> None:
    _gelu_kernel(x, out, slope, scratch)


def _gelu_kernel(x: np.ndarray, out: np.ndarray, slope: np.ndarray | None, scratch: np.ndarray) -> None:
    """GELU(x) = x Phi(x) of a float32 chunk into `out`, and with `slope` also Phi(x) + x phi(x).

    With q = Phi(-|x|) (the small tail, computed without cancellation):
        GELU(x) = max(x, 0) - |x| q,
        slope   = 1/2 + sign(x) (1/2 - q + |x| phi(x)),
    the sign applied by flipping the float's sign bit. 18 ufunc passes for the forward alone, 25 with the slope;
    every binary pass writes into one of its inputs (cheaper than a third array)."""
    z, t, e, r, zeros, clamp = scratch
    np.abs(x, out=z)
    np.minimum(z, clamp, out=z)  # against a constant array: twice as fast as against a scalar
    np.add(z, SHIFT32, out=t)
    np.divide(SCALE32, t, out=t)
    np.square(z, out=e)
    e *= _MINUS_HALF32
    np.exp(e, out=e)
    a0, a1, a2, a3 = NEG_TAIL
    np.add(t, a3, out=r)
    r *= t
    r += a2
    r *= t
    r += a1
    r *= t
    r += a0
    r *= e  # r = -q
    if slope is not None:
        e *= z
        e *= _INV_SQRT_2PI32
        e += r
        e += _HALF32  # 1/2 - q + |x| phi(x)
        sign = t.view(np.uint32)
        np.bitwise_and(x.view(np.uint32), _SIGN_BIT, out=sign)
        flipped = e.view(np.uint32)
        flipped ^= sign
        np.add(e, _HALF32, out=slope)
    r *= z
    np.maximum(x, zeros, out=out)
    out += r


def gelu_forward(x: np.ndarray, with_slope: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """GELU(x) = x Phi(x), and (if `with_slope`) its derivative Phi(x) + x phi(x) for the backward.

    float32 runs the chunked kernel above: within 2e-6 of the exact value (PyTorch's own float32 GELU is off by
    about 1e-6), the slope within 5e-6; GELU(-inf) = 0, GELU(inf) = inf. Other dtypes go through scipy's ndtr in
    double precision: exact, for gradient checks."""
    if x.dtype != np.float32:
        return _gelu_exact(x, with_slope)
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    if with_slope:
        slope = np.empty_like(x)
        map_chunks(_gelu_with_slope_chunk, x, out, slope, scratch=4, constants=(0.0, _GELU_CLAMP))
        return out, slope
    map_chunks(_gelu_chunk, x, out, scratch=4, constants=(0.0, _GELU_CLAMP))
    return out, None


def _gelu_exact(x: np.ndarray, with_slope: bool) -> tuple[np.ndarray, np.ndarray | None]:
    cdf = special.ndtr(x).astype(x.dtype, copy=False)
    infinite = np.isinf(x)
    if infinite.any():  # GELU(-inf) = 0 and GELU(inf) = inf, the slope 0 and 1: no inf * 0
        finite_x = np.where(infinite, 0, x)
        out = finite_x * cdf
        out[infinite] = np.maximum(x[infinite], 0)
    else:
        finite_x, out = x, x * cdf
    if not with_slope:
        return out, None
    return out, cdf + finite_x * normal_pdf(finite_x)


def normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(x * x * x.dtype.type(-0.5)) * x.dtype.type(INV_SQRT_2PI)


def _multiply_chunk(a: np.ndarray, b: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    np.multiply(a, b, out=out)


def gelu_backward(grad: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """grad * slope, with the slope the forward computed."""
    if grad.dtype != np.float32 or grad.shape != slope.shape:
        return grad * slope
    grad = np.ascontiguousarray(grad)
    out = np.empty_like(slope)
    map_chunks(_multiply_chunk, grad, slope, out)
    return out


# -- LayerNorm over the last axis of (rows, dim) -------------------------------------------------
def layer_norm_forward(rows: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float,
                       keep: bool) -> tuple[np.ndarray, tuple | None]:
    """(x - mean) * rstd * weight + bias over each row, rstd = 1 / sqrt(var + eps) (biased variance); with `keep`
    also what `layer_norm_backward` needs (x - mean and rstd).

    Both passes run on blocks of rows on the thread pool, with the row-wise pieces in BLAS: every row sum (the
    mean, and in the backward mean(g), mean(g * xhat)) and column sum is a matrix-vector product (much faster than
    numpy's reductions over rows of 48-198 elements); products with a per-row factor go through an outer product
    (rstd * weight, made by one BLAS call) and terms constant along a row are rank-1 updates in place. So the
    forward keeps x - mean and rstd, not xhat, and never scales a row by itself."""
    dim = rows.shape[1]
    centered = np.empty_like(rows) if keep else None
    out, rstd = np.empty_like(rows), np.empty(len(rows), dtype=rows.dtype)
    ones, eps = np.ones(dim, dtype=rows.dtype), rows.dtype.type(eps)
    ones_rows = np.ones(min(len(rows), block_rows(dim)), dtype=rows.dtype)
    scale = ones if weight is None else weight

    def normalize(_, x, rstd, out, *rest):
        *kept, scratch = rest
        centered = kept[0] if kept else scratch[0]
        mean = x @ ones
        mean /= dim
        np.copyto(centered, x)
        add_outer(centered, mean, ones, -1.0)
        np.einsum("ij,ij->i", centered, centered, out=rstd)
        rstd /= dim
        rstd += eps
        np.sqrt(rstd, out=rstd)
        np.reciprocal(rstd, out=rstd)
        outer_into(out, rstd, scale)
        out *= centered  # (x - mean) * rstd * weight
        if bias is not None:
            add_outer(out, ones_rows[:len(x)], bias)

    if rows.size:
        map_row_blocks(normalize, rows, rstd, out, *([centered] if keep else []), scratch=0 if keep else 1)
    return out, ((centered, rstd) if keep else None)


def layer_norm_backward(saved: tuple, grad: np.ndarray, weight: np.ndarray | None, needs_x: bool,
                        needs_weight: bool, needs_bias: bool) -> tuple[np.ndarray | None, ...]:
    """The gradients of x, weight and bias (None where not needed) from the closed form
        dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = grad * weight,
    and the column sums of grad * xhat and of grad, summed per block of rows, then over the blocks."""
    centered, rstd = saved
    rows, dim = centered.shape
    blocks = row_blocks(rows, dim)
    grad_x = np.empty_like(centered) if needs_x else None
    weight_parts = np.empty((blocks, dim), dtype=centered.dtype) if needs_weight else None
    bias_parts = np.empty((blocks, dim), dtype=centered.dtype) if needs_bias else None
    ones = np.ones(dim, dtype=centered.dtype)
    scale = ones if weight is None else weight
    ones_rows = np.ones(min(rows, block_rows(dim)), dtype=centered.dtype)

    def backward_block(k, grad, centered, rstd, *rest):
        *kept, scratch = rest
        if needs_bias:
            np.matmul(ones_rows[:len(grad)], grad, out=bias_parts[k])
        if not (needs_weight or needs_x):
            return
        product = scratch[0]
        np.multiply(grad, centered, out=product)  # grad * xhat / rstd
        if needs_weight:
            np.matmul(rstd, product, out=weight_parts[k])
        if needs_x:
            (out,) = kept
            rstd_mean_g = grad @ scale  # rstd * mean(g), per row
            rstd_mean_g *= rstd / dim
            factor = product @ scale  # rstd^3 * mean(g * (x - mean)), per row: (x - mean) * factor is
            factor *= rstd * rstd * rstd / dim  # rstd * xhat * mean(g * xhat)
            outer_into(out, rstd, scale)
            out *= grad  # rstd * g
            outer_into(product, factor, ones)
            product *= centered
            out -= product  # - rstd * xhat * mean(g * xhat)
            add_outer(out, rstd_mean_g, ones, -1.0)  # - rstd * mean(g)

    if rows and (needs_x or needs_weight or needs_bias):
        map_row_blocks(backward_block, grad, centered, rstd, *([grad_x] if needs_x else []), scratch=1)
    return (grad_x, weight_parts.sum(axis=0) if needs_weight else None,
            bias_parts.sum(axis=0) if needs_bias else None)


# -- Linear's bias ---------------------------------------------------------------------------------
def add_bias(out: np.ndarray, bias: np.ndarray, axis: int) -> None:
    """out += bias in place, along the last axis of a 2-D `out` (axis -1) or its first (axis 0)."""
    out += bias if axis == -1 else bias[:, None]


def column_sums(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=0) of a 2-D array as matrix-vector products with ones over blocks of SUM_BLOCK rows, then the sum
    of the blocks' sums: faster than numpy's reduction, and the error grows with SUM_BLOCK plus the number of
    blocks rather than with the number of rows (PyTorch's float32 sum is blocked the same way)."""
    rows, columns = a.shape
    whole = rows - rows % SUM_BLOCK
    ones = np.ones(min(rows, SUM_BLOCK), dtype=a.dtype)
    total = ones[:rows - whole] @ a[whole:]
    if whole:
        total += (ones @ a[:whole].reshape(-1, SUM_BLOCK, columns)).sum(axis=0)
    return total


# -- softplus --------------------------------------------------------------------------------------
def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: numpy's logaddexp(0, x), computed as max(x, 0) + log1p(exp(-|x|))."""
    return np.logaddexp(x.dtype.type(0), x)


# -- Adam and AdamW --------------------------------------------------------------------------------
def adam_update(data: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                max_exp_avg_sq: np.ndarray | None, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float, decoupled: bool, step: int) -> None:
    """One Adam step in place, as torch.optim.Adam computes it (AdamW's decay with `decoupled`; AMSGrad with
    `max_exp_avg_sq`):
        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
        p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
    scalar = data.dtype.type
    if weight_decay and decoupled:
        data *= scalar(1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + scalar(weight_decay) * data
    exp_avg *= scalar(beta1)
    exp_avg += scalar(1 - beta1) * grad
    exp_avg_sq *= scalar(beta2)
    exp_avg_sq += scalar(1 - beta2) * (grad * grad)
    v = exp_avg_sq
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    denom = np.sqrt(v)
    denom *= scalar(1 / math.sqrt(1 - beta2**step))
    denom += scalar(eps)
    np.divide(exp_avg, denom, out=denom)
    denom *= scalar(lr / (1 - beta1**step))
    data -= denom
