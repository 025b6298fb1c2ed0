"""Layers: small Modules over the functional ops, initialised as PyTorch initialises them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from ..engine import Tensor
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b over the last axis (axis=-1), or y = W x + b over the first (axis=0, so a
    model can keep (tokens, batch, channels) and mix tokens with one GEMM and no transpose).
    Weight (out_features, in_features): Kaiming-uniform with a = sqrt(5) and bias
    uniform(+-1/sqrt(in_features)), exactly PyTorch's default."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, axis: int = -1,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None):
        if axis not in (0, -1):
            raise ValueError(f"Linear: axis must be 0 or -1, got {axis}")
        self.in_features, self.out_features, self.axis = in_features, out_features, axis
        self.weight = init.kaiming_uniform_(Parameter(np.zeros((out_features, in_features)), dtype=dtype),
                                            a=math.sqrt(5), generator=generator)
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
            self.bias = init.uniform_(Parameter(np.zeros(out_features), dtype=dtype), -bound, bound, generator)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias, axis=self.axis)

    def extra_repr(self) -> str:
        axis = ", axis=0" if self.axis == 0 else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{axis}"


class LayerNorm(Module):
    """Normalise over the last axis (one fused op), then a learned scale (ones) and shift (zeros)."""

    def __init__(self, dim: int, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32):
        self.dim, self.eps = dim, eps
        self.weight = Parameter(np.ones(dim), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(dim), dtype=dtype) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"LayerNorm({self.dim}): input of shape {x.shape} has {x.shape[-1]} on its last axis")
        return F.layer_norm(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class Dropout(Module):
    """Zero elements with probability p while training; scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DropPath(Module):
    """Stochastic depth: drop a residual branch for whole samples (one draw per index of
    `batch_axis`), scaling kept samples by 1/(1-p); identity in eval."""

    def __init__(self, p: float = 0.0, batch_axis: int = 0, generator: np.random.Generator | None = None):
        if not 0 <= p < 1:
            raise ValueError(f"DropPath: p must be in [0, 1), got {p}")
        self.p, self.batch_axis, self.generator = p, batch_axis, generator

    def forward(self, x: Tensor) -> Tensor:
        return F.drop_path(x, self.p, self.training, self.batch_axis, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (f", batch_axis={self.batch_axis}" if self.batch_axis else "")


class Embedding(Module):
    """A table of `num_embeddings` vectors of size `dim` (normal(0, 1), as PyTorch), looked up by
    integer index; the gradient adds into the rows that were used."""

    def __init__(self, num_embeddings: int, dim: int, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None):
        self.num_embeddings, self.dim = num_embeddings, dim
        self.weight = init.normal_(Parameter(np.zeros((num_embeddings, dim)), dtype=dtype), generator=generator)

    def forward(self, indices: Any) -> Tensor:
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            raise IndexError(f"Embedding({self.num_embeddings}, {self.dim}): indices must be in "
                             f"[0, {self.num_embeddings}), got values from {indices.min()} to {indices.max()}")
        return self.weight[indices]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.dim}"


class GELU(Module):
    """Exact GELU, x * Phi(x), with the normal CDF from scipy's erf (not the tanh approximation)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x
