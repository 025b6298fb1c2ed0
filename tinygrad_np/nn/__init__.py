"""Modules, layers and initialisers (PyTorch's `torch.nn` names)."""

from . import functional, init
from .conv import ChannelsFirstLayerNorm, Conv1d, Conv2d
from .layers import GELU, Dropout, DropPath, Embedding, Identity, LayerNorm, Linear, ReLU, Sigmoid, Tanh
from .module import Module, ModuleList, Parameter, Sequential

__all__ = ["GELU", "ChannelsFirstLayerNorm", "Conv1d", "Conv2d", "DropPath", "Dropout", "Embedding", "Identity",
           "LayerNorm", "Linear", "Module", "ModuleList", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
           "functional", "init"]
