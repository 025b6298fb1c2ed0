"""Train, evaluate and use MLP-Mixer models on UNSW-NB15: `python train.py --help`."""

import os
import sys

# Before numpy loads OpenBLAS: its threads otherwise spin ~0.1 s after every GEMM, starving the engine's own
# element-wise kernels that run between GEMMs (bench/bench_step.py measures the difference).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import tinygrad_np  # noqa: E402
from mixer.cli import main  # noqa: E402

if __name__ == "__main__":
    tinygrad_np.enable_memory_reuse()  # the engine's one explicit speed setting (threads: PyTorch's default)
    sys.exit(main())
