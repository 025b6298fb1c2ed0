"""`torch.distributed`: not available, as in a PyTorch build without it. The engine trains in one process, so
`is_available()` and `is_initialized()` are False, and starting a process group is refused with one line."""

from __future__ import annotations

from typing import Any


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def init_process_group(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("distributed.init_process_group: distributed training is not available here (this engine "
                       "trains in one process; distributed.is_available() is False)")


def get_rank(group: Any = None) -> int:
    raise ValueError("distributed.get_rank: default process group has not been initialized (distributed training is "
                     "not available here)")


def get_world_size(group: Any = None) -> int:
    raise ValueError("distributed.get_world_size: default process group has not been initialized (distributed "
                     "training is not available here)")
