"""Optimisers, gradient clipping and learning-rate schedules (PyTorch's `torch.optim` names)."""

from . import lr_scheduler
from .optimizer import SGD, Adam, AdamW, Optimizer, clip_grad_norm_, clip_grad_value_

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm_", "clip_grad_value_", "lr_scheduler"]
