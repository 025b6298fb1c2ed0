"""Modules, layers, losses and initialisers (PyTorch's `torch.nn` names)."""

from . import functional, init, parallel, utils
from .conv import ChannelsFirstLayerNorm, Conv1d, Conv2d
from .layers import (
    GELU,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    DropPath,
    Embedding,
    Flatten,
    Identity,
    L1Loss,
    LayerNorm,
    Linear,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .parallel import DataParallel

__all__ = ["GELU", "BCEWithLogitsLoss", "ChannelsFirstLayerNorm", "Conv1d", "Conv2d", "CrossEntropyLoss",
           "DataParallel", "DropPath", "Dropout", "Embedding", "Flatten", "Identity", "L1Loss", "LayerNorm", "Linear",
           "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential",
           "SiLU", "Sigmoid", "Softmax", "Tanh", "functional", "init", "parallel", "utils"]
