"""Attention as PyTorch's `torch.nn.functional` computes it: `scaled_dot_product_attention` and
`multi_head_attention_forward` (what `nn.MultiheadAttention` calls), composed from engine ops (matmul, softmax,
masked_fill, dropout), so autograd derives the backward.

Masks follow PyTorch, and its two conventions differ: in `scaled_dot_product_attention` a bool mask is True where a
query MAY attend; in `multi_head_attention_forward` (and the Transformer layers) a bool `attn_mask` or
`key_padding_mask` is True where it may NOT. A float mask is added to the scores in both (-inf blocks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import Tensor
from .errors import ArgumentValueError
from .functional import cat, dropout, linear, pad, softmax

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


def _array(x: Any) -> np.ndarray:
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def _check_mask(mask: Any, name: str) -> Any:
    """A bool or floating mask (a Tensor or array); anything else is an error."""
    kind = _array(mask).dtype.kind
    if kind not in "bf":
        raise TypeError(f"{name}: only bool and floating-point masks are supported, got {_array(mask).dtype}")
    return mask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query key^T * scale + mask) value over the last two dims: query (..., L, E), key (..., S, E),
    value (..., S, Ev) -> (..., L, Ev); `scale` defaults to 1 / sqrt(E).

    `attn_mask` broadcasts to (..., L, S): bool True where a query may attend, or floats added to the scores.
    `is_causal` lets query i see keys 0..i (the top-left causal mask; no attn_mask then). A query that may attend
    to nothing gets zeros, with zero gradient (PyTorch's safe softmax), not NaN. `dropout_p` drops attention weights
    whatever the mode (pass 0.0 when evaluating, as PyTorch code does). `enable_gqa`: key and value may have fewer
    heads (dim -3) than query, each shared by a group of query heads."""
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 dims (..., L, E), "
                         f"got shapes {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query {query.shape} and key {key.shape} need one embedding "
                         f"size, key and value {value.shape} one length")
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ArgumentValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
    if query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        heads, groups = query.shape[-3], key.shape[-3]
        if not enable_gqa or heads % groups or value.shape[-3] != groups:
            raise ValueError(f"scaled_dot_product_attention: query has {heads} heads, key {groups} and value "
                             f"{value.shape[-3]}: pass enable_gqa=True with query heads a multiple of key heads")
        key, value = (_repeat_heads(t, heads // groups) for t in (key, value))
    length, source = query.shape[-2], key.shape[-2]
    factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * factor) @ key.transpose(-2, -1)
    blocked = None  # where no key may be attended, as a constant bool array that broadcasts to the scores
    if is_causal:
        allowed = np.tril(np.ones((length, source), dtype=bool))
        scores = scores.masked_fill(~allowed, -math.inf)
        blocked = ~allowed.any(-1, keepdims=True)
    elif attn_mask is not None:
        mask = _check_mask(attn_mask, "scaled_dot_product_attention")
        array = _array(mask)
        if array.dtype == bool:
            scores = scores.masked_fill(~array, -math.inf)
            blocked = ~array.any(-1, keepdims=True)
        else:
            scores = scores + (mask if isinstance(mask, Tensor) else Tensor._wrap(array.astype(scores.dtype)))
            blocked = np.isneginf(array).all(-1, keepdims=True)
    if blocked is not None and blocked.any():
        weights = softmax(scores.masked_fill(blocked, 0.0), -1).masked_fill(blocked, 0.0)
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


def _repeat_heads(x: Tensor, times: int) -> Tensor:
    """(..., heads, S, E) -> (..., heads * times, S, E), each head repeated `times` times in a row."""
    *lead, heads, length, size = x.shape
    return x.unsqueeze(-3).expand(*lead, heads, times, length, size).reshape(*lead, heads * times, length, size)


def _same_op(tensors: tuple[Tensor, ...], op: Any) -> tuple[Tensor, ...]:
    """`op` applied to each tensor once, so that tensors that were one object still are (query is key is value marks
    self-attention, which projects them with one GEMM)."""
    done: dict[int, Tensor] = {}
    for t in tensors:
        if id(t) not in done:
            done[id(t)] = op(t)
    return tuple(done[id(t)] for t in tensors)


def _float_mask(mask: Any, dtype: np.dtype, name: str) -> Tensor | None:
    """PyTorch's canonical form of an MHA mask: a float mask as it is, a bool one as -inf where True, 0 elsewhere."""
    if mask is None:
        return None
    array = _array(_check_mask(mask, name))
    if array.dtype == bool:
        return Tensor._wrap(np.where(array, -np.inf, 0.0).astype(dtype))
    return mask if isinstance(mask, Tensor) else Tensor._wrap(array.astype(dtype))


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
                                 use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None,
                                 average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """PyTorch's multi-head attention on time-major inputs: query (L, N, E), key (S, N, Ek), value (S, N, Ev), or
    unbatched (L, E) ...; returns (output (L, N, E), the attention weights (N, L, S) averaged over heads, or
    (N, heads, L, S), or None without `need_weights`).

    The projections use `in_proj_weight` (3E, E), rows q then k then v (one GEMM when query, key and value are one
    tensor), or the separate q/k/v weights. `attn_mask` (L, S) or (N * heads, L, S) and `key_padding_mask` (N, S)
    are bool (True: may not attend) or float (added); `bias_k`/`bias_v` append a learned key and value,
    `add_zero_attn` a zero one. With `need_weights` the weights are a plain softmax (a query that may attend to
    nothing gives NaN, as PyTorch); without, the scaled_dot_product_attention path (zeros). `is_causal` is PyTorch's
    hint that `attn_mask` is the causal mask; it needs `attn_mask`."""
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"multi_head_attention_forward: query, key and value must all be 3-D (batched) or 2-D, got "
                         f"shapes {query.shape}, {key.shape}, {value.shape}")
    if not batched:
        query, key, value = _same_op((query, key, value), lambda t: t.unsqueeze(1))
        if key_padding_mask is not None:
            key_padding_mask = (key_padding_mask.unsqueeze(0) if isinstance(key_padding_mask, Tensor)
                                else np.asarray(key_padding_mask)[None])
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check or embed_dim % num_heads:
        raise ValueError(f"multi_head_attention_forward: query has {embed_dim} features, expected "
                         f"{embed_dim_to_check}, divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise ValueError(f"multi_head_attention_forward: key's sequence and batch dims {key.shape[:2]} do not match "
                         f"value's {value.shape[:2]}")
    head_dim = embed_dim // num_heads
    if key_padding_mask is not None and _array(key_padding_mask).shape != (bsz, src_len):
        raise ValueError(f"multi_head_attention_forward: key_padding_mask of shape {_array(key_padding_mask).shape}, "
                         f"expected {(bsz, src_len)}")
    kpm = _float_mask(key_padding_mask, query.dtype, "key_padding_mask")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and kpm is None and not need_weights:
        mask = None  # the scaled_dot_product_attention path with its own causal mask
    else:
        mask = _float_mask(attn_mask, query.dtype, "attn_mask")
        if kpm is not None:
            is_causal = False
    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                             q_proj_weight, k_proj_weight, v_proj_weight)
    if mask is not None:
        expected = (tgt_len, src_len) if mask.ndim == 2 else (bsz * num_heads, tgt_len, src_len)
        if mask.ndim not in (2, 3) or mask.shape != expected:
            raise RuntimeError(f"The shape of the attn_mask is {mask.shape}, but should be {expected}.")
        if mask.ndim == 2:
            mask = mask.unsqueeze(0)
    if (bias_k is None) != (bias_v is None):
        raise ValueError("multi_head_attention_forward: give both bias_k and bias_v, or neither")
    if bias_k is not None:
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        mask = pad(mask, (0, 1)) if mask is not None else None
        kpm = pad(kpm, (0, 1)) if kpm is not None else None
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = Tensor._wrap(np.zeros((bsz * num_heads, 1, head_dim), dtype=q.dtype))
        k, v = cat([k, zeros], dim=1), cat([v, zeros], dim=1)
        mask = pad(mask, (0, 1)) if mask is not None else None
        kpm = pad(kpm, (0, 1)) if kpm is not None else None
    src_len = k.shape[1]
    if kpm is not None:
        kpm = kpm.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len).reshape(bsz * num_heads, 1, src_len)
        mask = kpm if mask is None else mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
        weights = softmax(scores if mask is None else scores + mask, -1)
        if dropout_p > 0:
            weights = dropout(weights, dropout_p, True)
        out = (weights @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            return out.squeeze(1), weights.squeeze(0)
        return out, weights
    if mask is not None:
        mask = mask.unsqueeze(0) if mask.shape[0] == 1 else mask.reshape(bsz, num_heads, -1, src_len)
    out = scaled_dot_product_attention(q.reshape(bsz, num_heads, tgt_len, head_dim),
                                       k.reshape(bsz, num_heads, src_len, head_dim),
                                       v.reshape(bsz, num_heads, src_len, head_dim), mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    return (out if batched else out.squeeze(1)), None


def _in_projection(query: Tensor, key: Tensor, value: Tensor, embed_dim: int, in_proj_weight: Tensor | None,
                   in_proj_bias: Tensor | None, separate: bool, q_weight: Tensor | None, k_weight: Tensor | None,
                   v_weight: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v: one GEMM with the packed weight for self-attention, one for q and one for k and v when key is value,
    else three (PyTorch's `_in_projection_packed` and `_in_projection`)."""
    biases = [None] * 3 if in_proj_bias is None else list(in_proj_bias.chunk(3))
    if separate:
        if q_weight is None or k_weight is None or v_weight is None:
            raise ValueError("multi_head_attention_forward: use_separate_proj_weight needs q_, k_ and v_proj_weight")
        return (linear(query, q_weight, biases[0]), linear(key, k_weight, biases[1]),
                linear(value, v_weight, biases[2]))
    if in_proj_weight is None:
        raise ValueError("multi_head_attention_forward: in_proj_weight is None (pass use_separate_proj_weight=True)")
    if query is key and key is value:
        return linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    weights = in_proj_weight.chunk(3)
    if key is value:
        kv_bias = None if in_proj_bias is None else in_proj_bias[embed_dim:]
        k, v = linear(key, in_proj_weight[embed_dim:], kv_bias).chunk(2, -1)
        return linear(query, weights[0], biases[0]), k, v
    return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases, strict=True))
