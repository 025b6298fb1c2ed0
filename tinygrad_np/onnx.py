"""`torch.onnx`: importable, so a program that mentions it loads; exporting is refused (there is no tracer here)."""

from __future__ import annotations

from typing import Any


def export(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("onnx.export: exporting to ONNX is not available (this engine has no graph tracer); save the "
                       "weights with state_dict() instead")


def is_in_onnx_export() -> bool:
    return False
