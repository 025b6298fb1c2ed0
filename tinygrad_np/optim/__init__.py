"""Optimisers, gradient clipping and learning-rate schedules (PyTorch's `torch.optim` names)."""

from . import lr_scheduler
from .noise import NoisyOptimizer
from .optimizer import SGD, Adam, AdamW, Optimizer, clip_grad_norm_, clip_grad_value_
from .sam import SAM, OptimizerWrapper, SparseSAM

__all__ = ["SAM", "SGD", "Adam", "AdamW", "NoisyOptimizer", "Optimizer", "OptimizerWrapper", "SparseSAM",
           "clip_grad_norm_", "clip_grad_value_", "lr_scheduler"]
