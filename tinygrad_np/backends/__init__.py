"""`torch.backends` as PyTorch's CPU-only build answers it: CUDA, cuDNN and MPS are not available; their settings
(`cuda.matmul.allow_tf32`, `cudnn.benchmark`, `cudnn.deterministic`, `cudnn.allow_tf32`) can be read and set, and
change no computation here (there is no GPU; the CPU kernels are deterministic and full precision)."""

from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
