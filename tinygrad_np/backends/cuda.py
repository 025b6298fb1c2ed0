"""`torch.backends.cuda`: not built. `matmul.allow_tf32` is PyTorch's switch between the "highest" and "high"
float32 matmul precision (`set_float32_matmul_precision`), and reads and writes that same setting."""

from __future__ import annotations

from .. import modes


class _Matmul:
    """PyTorch's `torch.backends.cuda.matmul` settings object."""

    def __init__(self) -> None:
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return modes.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        modes.set_float32_matmul_precision("high" if value else "highest")


matmul = _Matmul()


def is_built() -> bool:
    return False
