"""Optimisers, gradient clipping and learning-rate schedules (PyTorch's `torch.optim` names)."""

from . import lr_scheduler
from .adaptive import Adadelta, Adagrad, RMSprop
from .noise import NoisyOptimizer
from .optimizer import SGD, Adam, AdamW, Optimizer, clip_grad_norm_, clip_grad_value_
from .sam import SAM, OptimizerWrapper, SparseSAM

__all__ = ["SAM", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "NoisyOptimizer", "Optimizer", "OptimizerWrapper",
           "RMSprop", "SparseSAM", "clip_grad_norm_", "clip_grad_value_", "lr_scheduler"]
