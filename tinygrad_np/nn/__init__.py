"""Modules, layers, losses and initialisers (PyTorch's `torch.nn` names)."""

from . import functional, init, utils
from .activation import MultiheadAttention
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
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = ["GELU", "BCEWithLogitsLoss", "ChannelsFirstLayerNorm", "Conv1d", "Conv2d", "CrossEntropyLoss", "DropPath",
           "Dropout", "Embedding", "Flatten", "Identity", "L1Loss", "LayerNorm", "Linear", "LogSoftmax", "MSELoss",
           "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid",
           "Softmax", "Tanh", "functional", "init", "utils",
           "GRU", "GRUCell", "LSTM", "LSTMCell", "MultiheadAttention", "RNN", "RNNBase", "RNNCell", "RNNCellBase",
           "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]
