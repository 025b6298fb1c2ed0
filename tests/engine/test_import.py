"""Importing the engine changes nothing outside it: no environment variables, no threads, no allocator calls."""

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent("""
    import ctypes, os, threading
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
    print(changed, threading.active_count() - threads, libc, tinygrad_np.get_num_threads())
""")


def test_import_sets_no_environment_variable_starts_no_thread_and_leaves_malloc_alone():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[] 0 [] 1", result.stdout + result.stderr


def test_set_num_threads_runs_kernels_on_a_pool_and_gives_the_same_bits():
    import threading

    import numpy as np

    import tinygrad_np as tg

    x = np.random.default_rng(0).normal(size=(600, 700)).astype(np.float32)
    single = tg.Tensor(x).gelu().numpy()
    try:
        tg.set_num_threads(2)
        assert tg.get_num_threads() == 2
        before = threading.active_count()
        pooled = tg.Tensor(x).gelu().numpy()
        assert threading.active_count() > before  # the work went to the pool's threads
    finally:
        tg.set_num_threads(1)
    assert np.array_equal(single, pooled)
