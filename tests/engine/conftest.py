"""Fixtures of the engine's tests: `torch` (PyTorch for the parity tests, skipped without it, on one thread while a
module's tests run: on tiny tensors its thread pool costs more than it saves) and `kernel_path` (a test run once on
each path of the fused kernels, numpy and compiled; the compiled case skipped, with its reason, without numba)."""

import importlib.util

import pytest

import tinygrad_np
from tinygrad_np import kernels

HAS_NUMBA = importlib.util.find_spec("numba") is not None
KERNEL_PATHS = ["numpy", pytest.param("compiled", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="numba is not installed (pip install -e '.[fast]'): the compiled kernels are not tested"))]


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(params=KERNEL_PATHS)
def kernel_path(request):
    """The fused kernels forced onto one path for the test, and the previous setting restored after it."""
    previous = kernels._mode
    tinygrad_np.set_kernels(request.param)
    try:
        yield request.param
    finally:
        kernels._mode = previous
