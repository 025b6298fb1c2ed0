"""Importing the engine changes nothing outside it: no environment variables, no threads, no allocator calls, no
numba. The thread pool starts at the first kernel call that needs it, with the threads PyTorch would use; the
kernel path is chosen at the first kernel call, and TINYGRAD_NP_KERNELS=numpy forces numpy."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

CHECK = textwrap.dedent("""
    import ctypes, os, sys, threading
    env, threads = dict(os.environ), threading.active_count()
    loaded = []
    original = ctypes.CDLL
    class Recorder(original):
        def __init__(self, name, *args, **kwargs):
            loaded.append(name)
            super().__init__(name, *args, **kwargs)
    ctypes.CDLL = Recorder
    import tinygrad_np
    ctypes.CDLL = original
    changed = sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k))
    libc = [name for name in loaded if name and "libc" in str(name)]
    at_import, numba_loaded = threading.active_count() - threads, "numba" in sys.modules
    count = tinygrad_np.get_num_threads()  # asking starts nothing
    asked = threading.active_count() - threads
    import numpy as np
    tinygrad_np.tensor(np.ones((4, 8), dtype=np.float32)).gelu()  # too small to split: still no pool
    small = threading.active_count() - threads
    tinygrad_np.tensor(np.ones((1000, 1000), dtype=np.float32)).gelu()
    print(changed, libc, numba_loaded, at_import, asked, small, threading.active_count() - threads, count)
""")


def run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**environment, **env})
    return result.stdout.strip()


def test_import_changes_nothing_and_the_pool_starts_at_the_first_kernel_call_that_needs_it():
    changed, libc, numba_loaded, at_import, asked, small, started, count = _fields(run(CHECK))
    assert int(count) >= 1
    assert (changed, libc, numba_loaded) == ("[]", "[]", "False")
    assert (at_import, asked, small) == ("0", "0", "0")
    assert int(started) == int(count) - 1  # the calling thread works too: the pool holds the others


def _fields(line: str) -> list[str]:
    """The printed fields of CHECK: two lists, then six words."""
    first, rest = line.split("] ", 1)
    second, rest = rest.split("] ", 1)
    return [first + "]", second + "]", *rest.split()]


def test_default_thread_count_is_what_pytorch_uses(monkeypatch):
    """PyTorch's default: the physical cores this process may run on (checked against PyTorch's own default in
    this process), unless OMP_NUM_THREADS or MKL_NUM_THREADS (which wins) say otherwise."""
    from tinygrad_np import runtime

    torch = pytest.importorskip("torch")
    assert runtime.default_num_threads() == torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert runtime.default_num_threads() == 3
    monkeypatch.setenv("MKL_NUM_THREADS", "5")
    assert runtime.default_num_threads() == 5


def test_set_num_threads_runs_kernels_on_a_pool_and_gives_the_same_bits():
    import threading

    import numpy as np

    import tinygrad_np as tg

    x = np.random.default_rng(0).normal(size=(600, 700)).astype(np.float32)
    previous = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        single = tg.Tensor(x).gelu().numpy()
        tg.set_num_threads(2)
        assert tg.get_num_threads() == 2
        before = threading.active_count()
        pooled = tg.Tensor(x).gelu().numpy()
        assert threading.active_count() > before  # the work went to the pool's threads
    finally:
        tg.set_num_threads(previous)
    assert np.array_equal(single, pooled)
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        tg.set_num_threads(0)


KERNELS = "import sys, numpy as np, tinygrad_np as tg; tg.tensor(np.ones(8, np.float32)).gelu(); " \
          "print(tg.get_kernels(), 'numba' in sys.modules)"


def test_the_environment_variable_forces_numpy_and_is_checked():
    assert run(KERNELS, TINYGRAD_NP_KERNELS="numpy") == "numpy False"
    result = subprocess.run([sys.executable, "-c", KERNELS], capture_output=True, text=True,
                            env={**os.environ, "TINYGRAD_NP_KERNELS": "fast"})
    assert result.returncode != 0 and "TINYGRAD_NP_KERNELS='fast' must be one of" in result.stderr


def test_auto_takes_the_compiled_kernels_when_numba_is_installed():
    expected = "compiled True" if importlib.util.find_spec("numba") else "numpy False"
    assert run(KERNELS) == expected


def test_set_kernels_checks_its_mode():
    import tinygrad_np as tg

    with pytest.raises(ValueError, match="mode must be one of"):
        tg.set_kernels("fast")


FORK = textwrap.dedent("""
    import os, numpy as np, tinygrad_np as tg
    tg.set_num_threads(2)
    x = np.ones((600, 700), np.float32)
    tg.tensor(x).gelu()  # the pool runs in the parent
    pid = os.fork()
    if pid == 0:
        os._exit(0 if float(tg.tensor(x).gelu()[0, 0]) > 0.84 else 1)  # the child needs a pool of its own
    print(os.waitpid(pid, 0)[1])
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_a_forked_child_runs_kernels_on_a_pool_of_its_own():
    assert subprocess.run([sys.executable, "-c", FORK], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TINYGRAD_NP_KERNELS": "numpy"}).stdout.strip() == "0"
