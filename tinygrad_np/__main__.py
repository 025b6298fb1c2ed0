"""`python -m tinygrad_np SCRIPT [ARGS...]`: run a program written for PyTorch on the engine (see `as_torch`)."""

import sys

from .as_torch import main

sys.exit(main())
