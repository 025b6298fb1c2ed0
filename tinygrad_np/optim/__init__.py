"""Optimisers and learning-rate schedules (PyTorch's `torch.optim` names); gradient clipping is `nn.utils`'s."""

from . import lr_scheduler
from .adaptive import Adadelta, Adagrad, RMSprop
from .noise import NoisyOptimizer
from .optimizer import SGD, Adam, AdamW, Optimizer
from .sam import SAM, OptimizerWrapper, SparseSAM

__all__ = ["SAM", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "NoisyOptimizer", "Optimizer", "OptimizerWrapper",
           "RMSprop", "SparseSAM", "lr_scheduler"]
