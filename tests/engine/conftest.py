"""The `torch` fixture of the parity tests: PyTorch (the test is skipped without it), on one thread while a module's
tests run -- on tiny tensors its thread pool costs more than it saves, a second per test on a busy machine."""

import pytest


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
