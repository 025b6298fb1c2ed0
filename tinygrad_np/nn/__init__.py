"""Modules, layers, losses and initialisers (PyTorch's `torch.nn` names)."""

from . import functional, init, modules, parallel, utils
from .activation import MultiheadAttention
from .conv import ChannelsFirstLayerNorm, Conv1d, Conv2d
from .distance import CosineSimilarity, PairwiseDistance
from .layers import (
    GELU,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    DropPath,
    Embedding,
    Flatten,
    HuberLoss,
    Identity,
    KLDivLoss,
    L1Loss,
    LayerNorm,
    Linear,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    ReLU,
    Sigmoid,
    SiLU,
    SmoothL1Loss,
    Softmax,
    Tanh,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .parallel import DataParallel
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = ["GELU", "BCEWithLogitsLoss", "ChannelsFirstLayerNorm", "Conv1d", "Conv2d", "CrossEntropyLoss",
           "DataParallel", "DropPath", "Dropout", "Embedding", "Flatten", "Identity", "L1Loss", "LayerNorm", "Linear",
           "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential",
           "SiLU", "Sigmoid", "Softmax", "Tanh", "functional", "init", "parallel", "utils",
           "CosineSimilarity", "GRU", "GRUCell", "HuberLoss", "KLDivLoss", "LSTM", "LSTMCell", "MultiheadAttention",
           "PairwiseDistance", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "SmoothL1Loss", "Transformer",
           "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer",
           "modules"]
