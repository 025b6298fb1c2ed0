"""Activation modules, PyTorch's `torch.nn.modules.activation`: the element-wise activations over
`nn.functional`'s (with PyTorch's names, constructor arguments and reprs; `inplace` is accepted and the result is a
new tensor, docs/pytorch.md), and `MultiheadAttention` with PyTorch's parameters (`in_proj_weight` (3E, E) with q, k,
v rows in that order, or `q_proj_weight`, `k_proj_weight`, `v_proj_weight` when kdim or vdim differ;
`in_proj_bias`; `out_proj`; `bias_k`, `bias_v`), initialisation and forward
(`attention.multi_head_attention_forward`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..attention import _same_op, multi_head_attention_forward
from ..engine import Tensor
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter


class _Inplace(Module):
    """An activation with only PyTorch's `inplace` flag."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    def forward(self, x: Tensor) -> Tensor:
        return F.celu(x, self.alpha)


class SELU(_Inplace):
    def forward(self, x: Tensor) -> Tensor:
        return F.selu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} cannot be greater than max_val {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(_Inplace):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(x)


class Hardsigmoid(_Inplace):
    def forward(self, x: Tensor) -> Tensor:
        return F.hardsigmoid(x)


class Hardswish(_Inplace):
    def forward(self, x: Tensor) -> Tensor:
        return F.hardswish(x)


class Mish(_Inplace):
    def forward(self, x: Tensor) -> Tensor:
        return F.mish(x)


class LogSigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.logsigmoid(x)


class Softsign(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.softsign(x)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmin(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017): project query, key and value, attend in `num_heads` heads of
    embed_dim / num_heads features, project the heads' concatenation with `out_proj`.

    Inputs are (L, N, E) (or (N, L, E) with `batch_first`, or unbatched (L, E)); `forward` returns
    (output, attention weights or None) as PyTorch does. Initialisation as PyTorch: Xavier-uniform projection
    weights, zero biases, `out_proj.weight` as a Linear's, Xavier-normal `bias_k` and `bias_v`. `dropout` drops
    attention weights while training."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim)), dtype=dtype)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = Parameter(np.zeros((embed_dim, embed_dim)), dtype=dtype)
            self.k_proj_weight = Parameter(np.zeros((embed_dim, self.kdim)), dtype=dtype)
            self.v_proj_weight = Parameter(np.zeros((embed_dim, self.vdim)), dtype=dtype)
            self.in_proj_weight = None
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim), dtype=dtype) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, generator=generator)
        if add_bias_kv:
            self.bias_k = Parameter(np.zeros((1, 1, embed_dim)), dtype=dtype)
            self.bias_v = Parameter(np.zeros((1, 1, embed_dim)), dtype=dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters(generator)

    def _reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        for weight in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if weight is not None:
                init.xavier_uniform_(weight, generator=generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra, generator=generator)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(attention output, weights): the weights (N, L, S) averaged over heads, (N, heads, L, S) with
        `average_attn_weights=False`, or None with `need_weights=False`."""
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = _same_op((query, key, value), lambda t: t.transpose(0, 1))
        separate = not self._qkv_same_embed_dim
        output, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
            self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            output = output.transpose(0, 1)
        return output, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + (
            f", dropout={self.dropout}" if self.dropout else "") + (", batch_first=True" if self.batch_first else "")
