"""Optimisers and learning-rate schedules (PyTorch's `torch.optim` names); gradient clipping is `nn.utils`'s."""

from . import lr_scheduler
from .noise import NoisyOptimizer
from .optimizer import SGD, Adam, AdamW, Optimizer
from .sam import SAM, OptimizerWrapper, SparseSAM

__all__ = ["SAM", "SGD", "Adam", "AdamW", "NoisyOptimizer", "Optimizer", "OptimizerWrapper", "SparseSAM",
           "lr_scheduler"]
