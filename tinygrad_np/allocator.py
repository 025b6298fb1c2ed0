"""Keep freed memory for reuse instead of handing it back to the OS after every op (an explicit speed setting).

glibc serves each allocation above 128 KiB-32 MiB with a fresh `mmap` and unmaps it on free,
so every large activation or gradient array of a training step costs one page fault per
4 KiB page the first time it is written (the kernel zeroes each page). A training step
allocates the same arrays every time, so heap reuse removes that cost (bench/bench_step.py
measures it). PyTorch's CPU caching allocator does the same job.

The cost: the process keeps its peak memory until it exits, which is why importing the engine
does not do this: `train.py` and the benchmarks call `enable_memory_reuse()`. Does nothing on
other C libraries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters from glibc's malloc.h
NEVER_TRIM = 1 << 30  # bytes of free memory at the top of the heap before glibc would return any


def enable_memory_reuse() -> bool:
    """Tell glibc's malloc to reuse heap memory for large arrays, for the rest of the process; True if it took
    effect (Linux with glibc), False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))
