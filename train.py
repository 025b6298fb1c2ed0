"""Train, evaluate and use MLP-Mixer models on UNSW-NB15: `python train.py --help`."""

import os
import sys

# Before numpy loads OpenBLAS: its threads otherwise spin ~0.1 s after every GEMM, starving the engine's own
# element-wise kernels that run between GEMMs (bench/bench_step.py measures the difference).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
if sys.argv[1:2] == ["landscape"]:
    # Its float64 gradients (Hessian-vector products) ran 5-10x slower on OpenBLAS's two threads than on one on the
    # shared 2-core machine (0.15 s against 1.5 s per gradient of the default model on 256 rows), burning CPU besides.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import tinygrad_np  # noqa: E402
from mixer.cli import main  # noqa: E402

if __name__ == "__main__":
    tinygrad_np.enable_memory_reuse()  # the engine's one explicit speed setting (threads: PyTorch's default)
    sys.exit(main())
