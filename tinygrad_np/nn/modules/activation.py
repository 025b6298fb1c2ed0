"""`torch.nn.modules.activation`: the activation modules and MultiheadAttention."""

from ..activation import MultiheadAttention
from ..layers import GELU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh

__all__ = ["GELU", "LogSoftmax", "MultiheadAttention", "ReLU", "SiLU", "Sigmoid", "Softmax", "Tanh"]
