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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import special

INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
CHUNK = 1 << 17  # elements per chunk of an element-wise kernel: fewer, longer ufunc calls pay best
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
        raise ValueError(f"set_num_threads: threads must be an int >= 1, got {threads!r}")
    if threads == _threads:
        return
    if _pool is not None:
        _pool.shutdown(wait=True)
    _threads = threads
    _pool = ThreadPoolExecutor(threads, thread_name_prefix="tinygrad_np") if threads > 1 else None


def get_num_threads() -> int:
    return _threads


def _spread(work: Callable[[int, int], None], size: int, unit: int, elements_per_unit: int = 1) -> None:
    """Run `work(start, stop)` over [0, size), cut into one piece per thread at multiples of `unit`."""
    if _pool is None or size * elements_per_unit < MIN_PARALLEL or size < 2 * unit:
        work(0, size)
        return
    per_thread = -(-size // (_threads * unit)) * unit
    futures = [_pool.submit(work, lo, min(lo + per_thread, size)) for lo in range(0, size, per_thread)]
    for future in futures:
        future.result()


def map_chunks(kernel: Callable[..., None], out: np.ndarray, *inputs: np.ndarray,
               scratch: int = 0, scratch_dtype: type = np.float32) -> np.ndarray:
    """Call `kernel(*input_chunks, out_chunk, scratch_rows)` over matching chunks of C-contiguous
    arrays of one size, spread over the thread pool; returns `out`."""
    if not out.flags.c_contiguous or not all(a.flags.c_contiguous for a in inputs):
        raise ValueError("map_chunks: arrays must be C-contiguous (a reshaped view must not be a copy)")
    flat_out = out.reshape(-1)
    flats = [a.reshape(-1) for a in inputs]

    def work(start: int, stop: int) -> None:
        rows = np.empty((scratch, min(CHUNK, stop - start)), dtype=scratch_dtype)
        for lo in range(start, stop, CHUNK):
            hi = min(lo + CHUNK, stop)
            kernel(*(f[lo:hi] for f in flats), flat_out[lo:hi], rows[:, :hi - lo])

    _spread(work, flat_out.size, 1024)
    return out


def map_row_blocks(kernel: Callable[..., None], *arrays: np.ndarray) -> None:
    """Call `kernel(block_index, *row_blocks)` over blocks of about ROW_BLOCK elements' worth of
    rows of 2-D arrays with the same number of rows, spread over the thread pool. Blocks do
    not depend on the number of threads, so per-block partial sums add up the same way."""
    rows, width = arrays[0].shape
    block = max(1, ROW_BLOCK // max(width, 1))

    def work(start: int, stop: int) -> None:
        for lo in range(start, stop, block):
            kernel(lo // block, *(a[lo:lo + block] for a in arrays))

    _spread(work, rows, block, width)


def row_blocks(rows: int, width: int) -> int:
    """How many blocks `map_row_blocks` cuts `rows` rows of `width` elements into."""
    block = max(1, ROW_BLOCK // max(width, 1))
    return -(-rows // block)


# Numerical Recipes' erfc (Press et al., "erfcc"): erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2),
# z >= 0, with fractional error below 1.2e-7 everywhere -- including the far tails.
_ERFC_COEFFICIENTS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
                      -1.13520398, 1.48851587, -0.82215223, 0.17087277)
_SQRT_HALF = math.sqrt(0.5)


def _normal_cdf_kernel(x: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """Phi(x) of a float32 chunk, evaluated in float64: within 2e-7 (relative) of the exact value."""
    z, t, p = scratch
    np.abs(x, out=z)
    z *= _SQRT_HALF
    np.multiply(z, 0.5, out=t)
    t += 1.0
    np.reciprocal(t, out=t)
    np.multiply(t, _ERFC_COEFFICIENTS[-1], out=p)
    for c in _ERFC_COEFFICIENTS[-2:0:-1]:
        p += c
        p *= t
    p += _ERFC_COEFFICIENTS[0]
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t
    p *= 0.5  # Phi(-|x|) = erfc(|x| / sqrt 2) / 2
    # Phi(x) = Phi(-|x|) for x <= -0.0, 1 - Phi(-|x|) otherwise: (not signbit) - copysign(q, x)
    np.copysign(p, x, out=p)
    np.subtract(~np.signbit(x), p, out=out, casting="unsafe")


def normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(x * x * x.dtype.type(-0.5)) * x.dtype.type(INV_SQRT_2PI)


def _gelu_forward_kernel(x: np.ndarray, cdf: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    _normal_cdf_kernel(x, cdf, scratch)
    np.multiply(x, cdf, out=out)


def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GELU(x) = x * Phi(x), and Phi(x) itself (the backward needs it). float64 goes through scipy
    (exact to double precision); float32 through the chunked kernel above in one pass (within 2e-7
    relative of scipy's double result; scipy's own float32 ndtr is 5x slower)."""
    if x.dtype != np.float32:
        cdf = special.ndtr(x)
        return x * cdf, cdf
    x = np.ascontiguousarray(x)
    cdf = np.empty_like(x)
    out = map_chunks(_gelu_forward_kernel, np.empty_like(x), x, cdf, scratch=3, scratch_dtype=np.float64)
    return out, cdf


def _gelu_backward_kernel(grad: np.ndarray, x: np.ndarray, cdf: np.ndarray, out: np.ndarray,
                          scratch: np.ndarray) -> None:
    (pdf,) = scratch
    np.multiply(x, x, out=pdf)
    pdf *= np.float32(-0.5)
    np.exp(pdf, out=pdf)
    pdf *= np.float32(INV_SQRT_2PI)
    pdf *= x
    pdf += cdf
    np.multiply(grad, pdf, out=out)


def gelu_backward(grad: np.ndarray, x: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """grad * (Phi(x) + x * phi(x))."""
    if grad.dtype != np.float32 or grad.shape != x.shape:
        return grad * (cdf + x * normal_pdf(x))
    grad, x, cdf = (np.ascontiguousarray(a) for a in (grad, x, cdf))
    return map_chunks(_gelu_backward_kernel, np.empty_like(x), grad, x, cdf, scratch=1)
