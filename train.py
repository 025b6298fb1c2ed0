"""Train, evaluate and use MLP-Mixer models on UNSW-NB15: `python train.py --help`."""

import os
import sys

# before numpy loads: OpenBLAS threads must not spin between GEMMs (see tinygrad_np/__init__.py)
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from mixer.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
