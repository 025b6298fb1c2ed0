"""The engine's runtime: its thread pool and its memory setting, the two things that outlive a single op.

Threads. The fused kernels (`tinygrad_np/kernels/`) split their work over a pool of threads, numpy's kernels
between ufunc calls (numpy releases the GIL inside each) and the compiled ones for a whole loop (they hold no GIL).
It is the only pool the engine has: the compiled kernels are serial loops that this pool spreads, so numba never
starts threads of its own, and nothing competes with OpenBLAS's threads but this pool, which is idle while a GEMM
runs. `set_num_threads(n)` sets its size (PyTorch's name). A user who never calls it gets what PyTorch would use:
`OMP_NUM_THREADS` or `MKL_NUM_THREADS` if set, else the physical cores this process may run on. The pool itself
starts at the first kernel call big enough to split, never at import.

Work is cut at fixed boundaries (multiples of a unit of elements or rows that do not depend on the number of
threads), so every element and every partial sum is computed the same way on 1 thread or 8: results are
bit-for-bit the same whatever `set_num_threads` says.

Memory. `enable_memory_reuse()` keeps freed memory for reuse instead of handing it back to the OS after every op.
glibc serves each allocation above 128 KiB-32 MiB with a fresh `mmap` and unmaps it on free, so every large
activation or gradient array of a training step costs one page fault per 4 KiB page the first time it is written
(the kernel zeroes each page). A training step allocates the same arrays every time, so heap reuse removes that
cost (bench/bench_step.py measures it). The heap is never trimmed either: with any finite threshold glibc hands
back the memory above it when a step's activations are freed, and the next step faults it in again. PyTorch's CPU
caching allocator does the same job. The cost: the process keeps its peak memory until it exits, which is why it
is an explicit call (`train.py` and the benchmarks make it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .errors import ArgumentValueError

MIN_PARALLEL = 1 << 17  # elements below which a second thread costs more than it saves
_threads: int | None = None  # None: not decided yet (the default is worked out at first use)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_fork_handler_registered = False


def default_num_threads() -> int:
    """What PyTorch uses when not told: OMP_NUM_THREADS, overridden by MKL_NUM_THREADS, if set to a positive
    number; else the physical cores among the CPUs this process may run on (one thread per core: a core's second
    hardware thread shares its arithmetic units)."""
    chosen = 0
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            chosen = int(value)
    return chosen or physical_cores()


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (Linux's CPU topology); the CPU count elsewhere."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                       topology.joinpath("core_id").read_text().strip()))
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


def set_num_threads(threads: int) -> None:
    """Run the engine's kernels on `threads` threads (PyTorch's name): the calling thread and a pool of
    `threads - 1`. A speed setting only: results do not depend on it. numpy's BLAS threads are not affected."""
    global _threads
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ArgumentValueError(f"set_num_threads: threads must be an int >= 1, got {threads!r}")
    if threads == _threads:
        return
    _shutdown()
    _threads = threads


def get_num_threads() -> int:
    """The number of threads the kernels run on (the default if `set_num_threads` was never called)."""
    global _threads
    if _threads is None:
        _threads = default_num_threads()
    return _threads


def _shutdown() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


def _started_pool() -> ThreadPoolExecutor:
    """The pool, started if it was not (at most once, whatever the threads calling)."""
    global _pool, _fork_handler_registered
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(get_num_threads() - 1, thread_name_prefix="tinygrad_np")
            if not _fork_handler_registered and hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forget_pool)  # a forked child has none of the pool's threads
                _fork_handler_registered = True
        return _pool


def _forget_pool() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


def spread(work: Callable[[int, int], None], size: int, unit: int, elements_per_unit: int = 1) -> None:
    """Run `work(start, stop)` over [0, size), cut into one piece per thread at multiples of `unit`; the first
    piece on the calling thread while the pool runs the rest. Small work (below MIN_PARALLEL elements, or less
    than two units) runs here in one piece, without starting the pool."""
    threads = get_num_threads()
    if threads == 1 or size * elements_per_unit < MIN_PARALLEL or size < 2 * unit:
        work(0, size)
        return
    pool = _started_pool()
    per_thread = -(-size // (threads * unit)) * unit
    futures = [pool.submit(work, lo, min(lo + per_thread, size)) for lo in range(per_thread, size, per_thread)]
    try:
        work(0, min(per_thread, size))
    finally:
        for future in futures:
            future.result()


# -- memory ----------------------------------------------------------------------------------------------------------
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters from glibc's malloc.h
NEVER_TRIM = -1  # M_TRIM_THRESHOLD -1: never hand the top of the heap back (mallopt(3))


def enable_memory_reuse() -> bool:
    """Tell glibc's malloc to reuse heap memory for large arrays, for the rest of the process; True if it took
    effect (Linux with glibc), False elsewhere (musl and other C libraries have no mallopt)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
