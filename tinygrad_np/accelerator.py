"""`torch.accelerator` as PyTorch's CPU-only build answers it: there is no accelerator."""

from __future__ import annotations

from typing import Any

from .device import DeviceUnavailableError, device


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False) -> device | None:
    return None


def device_count() -> int:
    return 0


def current_device_index() -> int:
    raise DeviceUnavailableError("accelerator.current_device_index: no accelerator is available (this engine runs "
                                 "on the CPU only)")


def synchronize(device: Any = None) -> None:
    raise DeviceUnavailableError("accelerator.synchronize: no accelerator is available (this engine runs on the CPU "
                                 "only)")
