"""`torch.backends.cudnn`: not available (`version()` is None); its flags hold PyTorch's defaults and can be set, as
scripts do (`cudnn.benchmark = True`, `cudnn.deterministic = True`), without changing a computation here."""

from __future__ import annotations

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
