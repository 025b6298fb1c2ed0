"""Layers: small Modules over the functional ops, initialised as PyTorch initialises them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import Tensor, no_grad
from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b over the last dim (dim=-1, PyTorch's Linear), or y = W x + b over the first (dim=0, an
    extension: a model can keep (tokens, batch, channels) and mix tokens with one GEMM and no transpose).
    Weight (out_features, in_features): Kaiming-uniform with a = sqrt(5) and bias
    uniform(+-1/sqrt(in_features)), exactly PyTorch's default."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32, *,
                 dim: int = -1, generator: np.random.Generator | None = None):
        super().__init__()
        if dim not in (0, -1):
            raise ValueError(f"Linear: dim must be 0 or -1, got {dim}")
        self.in_features, self.out_features, self.dim = in_features, out_features, dim
        self.weight = init.kaiming_uniform_(Parameter(np.zeros((out_features, in_features)), dtype=dtype),
                                            a=math.sqrt(5), generator=generator)
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0.0
            self.bias = init.uniform_(Parameter(np.zeros(out_features), dtype=dtype), -bound, bound, generator)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias, dim=self.dim)

    def extra_repr(self) -> str:
        dim = ", dim=0" if self.dim == 0 else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{dim}"


class LayerNorm(Module):
    """Normalise over the last len(normalized_shape) dims (one fused op), then a learned scale (ones) and shift
    (zeros) of shape normalized_shape."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = np.float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape, self.eps = tuple(int(n) for n in shape), eps
        self.weight = Parameter(np.ones(shape), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape), dtype=dtype) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class Dropout(Module):
    """Zero elements with probability p while training; scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DropPath(Module):
    """Stochastic depth (timm's DropPath): drop a residual branch for whole samples (one draw per index of
    `batch_dim`), scaling kept samples by 1/(1-p); identity in eval."""

    def __init__(self, p: float = 0.0, batch_dim: int = 0, generator: np.random.Generator | None = None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"DropPath: p must be in [0, 1), got {p}")
        self.p, self.batch_dim, self.generator = p, batch_dim, generator

    def forward(self, x: Tensor) -> Tensor:
        return F.drop_path(x, self.p, self.training, self.batch_dim, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (f", batch_dim={self.batch_dim}" if self.batch_dim else "")


class Embedding(Module):
    """A table of `num_embeddings` vectors of size `embedding_dim` (normal(0, 1), as PyTorch), looked up by integer
    index; the gradient adds into the rows that were used. `padding_idx` (its row starts at zero and gets no
    gradient), `max_norm`, `norm_type` and `scale_grad_by_freq` as in `F.embedding`; `_weight` gives the table."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None):
        super().__init__()
        if sparse:
            raise ValueError("Embedding: sparse gradients are not supported (docs/pytorch.md); use sparse=False")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                                 f"{num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        if _weight is None:
            self.weight = init.normal_(Parameter(np.zeros((num_embeddings, embedding_dim)), dtype=dtype),
                                       generator=generator)
            if padding_idx is not None:
                with no_grad():
                    self.weight[padding_idx] = 0
        else:
            if tuple(np.shape(_weight)) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {tuple(np.shape(_weight))} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze,
                                    dtype=_weight.dtype if isinstance(_weight, Tensor) else dtype)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding holding a copy of the 2-D `embeddings` (frozen unless `freeze=False`)."""
        shape = tuple(np.shape(embeddings))
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {shape}")
        dtype = embeddings.dtype if isinstance(embeddings, (Tensor, np.ndarray)) else np.float32
        return cls(shape[0], shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze, dtype=dtype)

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class GELU(Module):
    """Exact GELU, x * Phi(x) (or approximate="tanh")."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    """max(x, 0); `inplace` is accepted and the result is a new tensor (docs/pytorch.md)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class SiLU(ReLU):
    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)


class Flatten(Module):
    """Merge dims start_dim..end_dim (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


# -- losses as modules (PyTorch's names; the functions are in `nn.functional`) -----------------------------------------
class CrossEntropyLoss(Module):
    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__()
        self.weight, self.ignore_index, self.reduction, self.label_smoothing = (weight, ignore_index, reduction,
                                                                                 label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__()
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None):
        super().__init__()
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(Module):
    """Binary cross-entropy of probabilities (F.binary_cross_entropy); prefer BCEWithLogitsLoss on logits."""

    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__()
        self.weight, self.reduction = weight, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class MSELoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(MSELoss):
    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(Module):
    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__()
        self.reduction, self.beta = reduction, beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(Module):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__()
        self.reduction, self.delta = reduction, delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
