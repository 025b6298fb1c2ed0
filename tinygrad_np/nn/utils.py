"""PyTorch's `torch.nn.utils` gradient clipping (the functions live in `tinygrad_np.optim`)."""

from ..optim.optimizer import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
