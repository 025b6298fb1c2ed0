"""PyTorch's `torch.nn.modules` paths (`torch.nn.modules.rnn.LSTM`, `torch.nn.modules.transformer.Transformer`,
...): the classes of `tinygrad_np.nn`, importable from the submodules where PyTorch programs import them."""

from . import activation, distance, loss, module, rnn, transformer
from .activation import GELU, LogSoftmax, MultiheadAttention, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .distance import CosineSimilarity, PairwiseDistance
from .loss import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = ["GELU", "GRU", "LSTM", "RNN", "BCEWithLogitsLoss", "CosineSimilarity", "CrossEntropyLoss", "GRUCell",
           "HuberLoss", "KLDivLoss", "L1Loss", "LSTMCell", "LogSoftmax", "MSELoss", "Module", "MultiheadAttention",
           "NLLLoss", "PairwiseDistance", "RNNBase", "RNNCell", "RNNCellBase", "ReLU", "SiLU", "Sigmoid",
           "SmoothL1Loss", "Softmax", "Tanh", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerEncoderLayer", "activation", "distance", "loss", "module", "rnn",
           "transformer"]
