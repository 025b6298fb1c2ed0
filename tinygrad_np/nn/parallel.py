"""`torch.nn.parallel`, as PyTorch's CPU-only build has it: `DataParallel` wraps a module and, with no GPU to spread
over, calls it (its state dict names carry the `module.` prefix, as PyTorch's do); `DistributedDataParallel`
needs a process group, which this one-process engine does not have, and refuses at construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .module import Module


class DataParallel(Module):
    """Holds `module` as `.module` and returns its outputs: `device_ids` is empty (there is no GPU), as in PyTorch's
    CPU build; `output_device` and `dim` are accepted (PyTorch's signature)."""

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None, output_device: Any = None,
                 dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list[Any] = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    """Refused at construction: distributed training is not available (tinygrad_np.distributed)."""

    def __init__(self, module: Module, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DistributedDataParallel: distributed training is not available here (this engine trains "
                           "in one process; distributed.is_available() is False); use the module itself")


__all__ = ["DataParallel", "DistributedDataParallel"]
