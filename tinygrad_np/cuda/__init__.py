"""`torch.cuda` as PyTorch's CPU-only build answers it: no GPU (`is_available()` is False, `device_count()` 0).

The calls PyTorch's CPU build allows without a GPU are here and do what it does: seeding (`manual_seed`,
`manual_seed_all`, `seed`, `seed_all`) is silently ignored, `empty_cache` does nothing, the memory counters are 0.
The calls it refuses (`synchronize`, `current_device`, `set_device`, `get_device_name`, ...) are refused with one
line, a `DeviceUnavailableError` (both a RuntimeError and the AssertionError PyTorch raises). `cuda.amp` holds the
deprecated `autocast` and `GradScaler` spellings.
"""

from __future__ import annotations

from typing import Any

from ..device import DeviceUnavailableError
from . import amp


def _refused(name: str) -> DeviceUnavailableError:
    return DeviceUnavailableError(f"cuda.{name}: there is no CUDA device: this engine runs on the CPU only "
                                  "(cuda.is_available() is False)")


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def get_arch_list() -> list[str]:
    return []


def manual_seed(seed: int) -> None:
    """Ignored without a GPU, as in PyTorch (the CPU's generator is seeded by `tinygrad_np.manual_seed`)."""


def manual_seed_all(seed: int) -> None:
    """Ignored without a GPU, as in PyTorch."""


def seed() -> None:
    """Ignored without a GPU, as in PyTorch."""


def seed_all() -> None:
    """Ignored without a GPU, as in PyTorch."""


def empty_cache() -> None:
    """Nothing to free without a GPU."""


def memory_allocated(device: Any = None) -> int:
    return 0


def max_memory_allocated(device: Any = None) -> int:
    return 0


def memory_reserved(device: Any = None) -> int:
    return 0


def max_memory_reserved(device: Any = None) -> int:
    return 0


def synchronize(device: Any = None) -> None:
    raise _refused("synchronize")


def current_device() -> int:
    raise _refused("current_device")


def set_device(device: Any) -> None:
    raise _refused("set_device")


def get_device_name(device: Any = None) -> str:
    raise _refused("get_device_name")


def get_device_capability(device: Any = None) -> tuple[int, int]:
    raise _refused("get_device_capability")


def get_device_properties(device: Any = None) -> Any:
    raise _refused("get_device_properties")


def init() -> None:
    raise _refused("init")


__all__ = ["amp", "current_device", "device_count", "empty_cache", "get_arch_list", "get_device_capability",
           "get_device_name", "get_device_properties", "init", "is_available", "is_bf16_supported", "is_initialized",
           "manual_seed", "manual_seed_all", "max_memory_allocated", "max_memory_reserved", "memory_allocated",
           "memory_reserved", "seed", "seed_all", "set_device", "synchronize"]
