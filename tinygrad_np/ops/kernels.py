"""Numerical kernels shared by ops (plain ndarrays in and out), and the one piece of machinery
that makes element-wise work fast: `map_chunks`.

numpy runs one pass over memory per ufunc; a formula of 20 ufuncs over a 45 MB array is 20
trips to RAM. `map_chunks` runs the whole formula on cache-sized chunks instead, on the threads
that `set_num_threads` asks for (numpy releases the GIL inside ufuncs; one thread by default).
Every element is computed by the same sequence of operations whatever the chunking, so results
are bit-for-bit repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import special
from scipy.linalg import blas

from ..errors import ArgumentValueError

INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
CHUNK = 1 << 15  # elements per chunk of an element-wise kernel: its ~8 arrays of 128 KiB stay in L2
ROW_BLOCK = 1 << 16  # elements per block of rows (LayerNorm); its partial sums are per block
MIN_PARALLEL = 1 << 17  # elements below which a second thread costs more than it saves
_threads = 1
_pool: ThreadPoolExecutor | None = None


def set_num_threads(threads: int) -> None:
    """Run the fused element-wise and row kernels on `threads` threads (PyTorch's name). The default is 1: importing
    the engine starts no thread. Results do not depend on the number of threads (each element and each block of rows
    is computed the same way), so this is a speed setting only. numpy's own BLAS threads are not affected."""
    global _threads, _pool
    if not isinstance(threads, int) or threads < 1:
        raise ArgumentValueError(f"set_num_threads: threads must be an int >= 1, got {threads!r}")
    if threads == _threads:
        return
    if _pool is not None:
        _pool.shutdown(wait=True)
    _threads = threads
    # the calling thread works too: the pool holds the others
    _pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="tinygrad_np") if threads > 1 else None


def get_num_threads() -> int:
    return _threads


def _spread(work: Callable[[int, int], None], size: int, unit: int, elements_per_unit: int = 1) -> None:
    """Run `work(start, stop)` over [0, size), cut into one piece per thread at multiples of `unit`."""
    if _pool is None or size * elements_per_unit < MIN_PARALLEL or size < 2 * unit:
        work(0, size)
        return
    per_thread = -(-size // (_threads * unit)) * unit
    futures = [_pool.submit(work, lo, min(lo + per_thread, size)) for lo in range(per_thread, size, per_thread)]
    try:
        work(0, min(per_thread, size))  # the first piece here, while the pool does the rest
    finally:
        for future in futures:
            future.result()


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

    _spread(work, size, 1024)


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

    _spread(work, rows, block, width)


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
_NEG_TAIL = tuple(np.float32(-b / _TAIL_SCALE**j) for j, b in enumerate(_TAIL_COEFFICIENTS[:4]))
_SHIFT32, _SCALE32 = np.float32(_TAIL_SHIFT), np.float32(_TAIL_SCALE)
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
    np.add(z, _SHIFT32, out=t)
    np.divide(_SCALE32, t, out=t)
    np.square(z, out=e)
    e *= _MINUS_HALF32
    np.exp(e, out=e)
    a0, a1, a2, a3 = _NEG_TAIL
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
