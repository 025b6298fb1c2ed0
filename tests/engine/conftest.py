"""`kernel_path`: run a test once on each path of the fused kernels, numpy and compiled (skipped, with its reason,
when numba is not installed)."""

import importlib.util

import pytest

import tinygrad_np
from tinygrad_np import kernels

HAS_NUMBA = importlib.util.find_spec("numba") is not None
KERNEL_PATHS = ["numpy", pytest.param("compiled", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="numba is not installed (pip install -e '.[fast]'): the compiled kernels are not tested"))]


@pytest.fixture(params=KERNEL_PATHS)
def kernel_path(request):
    """The fused kernels forced onto one path for the test, and the previous setting restored after it."""
    previous = kernels._mode
    tinygrad_np.set_kernels(request.param)
    try:
        yield request.param
    finally:
        kernels._mode = previous
