"""A lambda layer over a 1-D sequence of tokens (Bello 2021, "LambdaNetworks: Modeling Long-Range
Interactions without Attention", arXiv:2102.08602).

Each position n gets a linear function ("lambda") of its context, applied to its query:

    q = x W_q (heads x dim_k);  k = softmax over positions of x W_k (dim_u x dim_k);  v = x W_v (dim_u x dim_v)
    content lambda   lambda^c   = sum_m k_m^T v_m       (dim_k x dim_v, shared by all n)
    position lambda  lambda^p_n = sum_m E_{n,m} v_m     (dim_k x dim_v; E_{n,m} = R[n - m], dim_k x dim_u)
    y_n (each head)  = q_n (lambda^c + lambda^p_n)

with dim_v = dim / heads, so the heads' outputs concatenate back to `dim`. R is a learned relative
position embedding: global, R of shape (2n - 1, dim_k, dim_u) over all n positions, or local with
radius r, R of shape (2r + 1, dim_k, dim_u) and E_{n,m} = 0 where |n - m| > r (the paper's lambda
convolution, zero-padded at the ends). Every sum above is one batched matmul over our Tensors (no
einsum), so the backward comes from the engine.

Differences from the paper, on purpose: no batch norm on queries and values (the engine has none;
in a Mixer block the input is already layer-normalised), and R starts at normal(0, 1 / sqrt(context * dim_u))
so that position lambdas start on the scale of the content lambda, a softmax-weighted mean of values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn


class LambdaLayer1D(nn.Module):
    """Lambda layer of (tokens, batch, dim) -> (tokens, batch, dim) (`batch_first=True`: (batch,
    tokens, dim)), the layout the Mixer blocks keep, so it can replace their token MLP.

    `r=None` is the global variant and needs `num_positions` (n, the number of tokens); an int r is
    the local variant, which works for any number of tokens.
    """

    def __init__(self, dim: int, dim_k: int, heads: int, dim_u: int = 1, r: int | None = None,
                 num_positions: int | None = None, batch_first: bool = False, dtype: Any = np.float32):
        if min(dim, dim_k, heads, dim_u) < 1:
            raise ValueError(f"LambdaLayer1D: dim, dim_k, heads and dim_u must be >= 1, got dim={dim}, dim_k={dim_k}, "
                             f"heads={heads}, dim_u={dim_u}")
        if dim % heads:
            raise ValueError(f"LambdaLayer1D: heads={heads} must divide dim={dim} (each head's values are "
                             "dim / heads wide)")
        if r is None and (num_positions is None or num_positions < 1):
            raise ValueError("LambdaLayer1D: the global variant (r=None) needs num_positions >= 1, "
                             f"got {num_positions!r}")
        if r is not None and r < 0:
            raise ValueError(f"LambdaLayer1D: the local radius r must be >= 0, got {r}")
        super().__init__()
        self.dim, self.dim_k, self.heads, self.dim_u, self.dim_v = dim, dim_k, heads, dim_u, dim // heads
        self.r, self.num_positions, self.batch_first = r, num_positions, batch_first
        self.to_queries = nn.Linear(dim, heads * dim_k, bias=False, dtype=dtype)
        self.to_keys = nn.Linear(dim, dim_u * dim_k, bias=False, dtype=dtype)
        self.to_values = nn.Linear(dim, dim_u * self.dim_v, bias=False, dtype=dtype)
        offsets = 2 * num_positions - 1 if r is None else 2 * r + 1
        context = num_positions if r is None else 2 * r + 1
        self.relative_embedding = nn.init.normal_(nn.Parameter(np.zeros((offsets, dim_k, dim_u)), dtype=dtype),
                                                  std=1 / math.sqrt(context * dim_u))
        self._gathers: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def _gather_index(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """For n tokens: the (n, n) row of R that E_{i,j} reads, and (local only) the |i - j| <= r mask."""
        if n not in self._gathers:
            offset = np.arange(n)[:, None] - np.arange(n)[None, :]
            if self.r is None:
                self._gathers[n] = (offset + n - 1, None)
            else:
                inside = np.abs(offset) <= self.r
                self._gathers[n] = (np.clip(offset + self.r, 0, 2 * self.r), inside[:, :, None, None])
        return self._gathers[n]

    def position_embeddings(self, n: int) -> Tensor:
        """E of shape (n, n, dim_k, dim_u): E[i, j] = R[i - j], zero outside the radius (local)."""
        index, inside = self._gather_index(n)
        embeddings = self.relative_embedding[index]
        return embeddings if inside is None else embeddings * inside.astype(embeddings.dtype)

    def forward(self, x: Tensor) -> Tensor:
        if self.batch_first:
            x = x.transpose(0, 1)
        if x.ndim != 3 or x.shape[2] != self.dim:
            raise ValueError(f"LambdaLayer1D(dim={self.dim}): input of shape {x.shape} must be "
                             + ("(batch, tokens, dim)" if self.batch_first else "(tokens, batch, dim)"))
        n, batch = x.shape[:2]
        if self.r is None and n != self.num_positions:
            raise ValueError(f"LambdaLayer1D: built for {self.num_positions} tokens (global relative embedding), "
                             f"got {n}")
        h, k, u, v = self.heads, self.dim_k, self.dim_u, self.dim_v
        queries = self.to_queries(x).reshape(n, batch, h, k)
        keys = F.softmax(self.to_keys(x).reshape(n, batch, u, k), dim=0)  # normalised over the context
        values = self.to_values(x).reshape(n, batch, u, v)
        # content lambda (batch, k, v) = sum over context m and u of keys[m, b, u, k] values[m, b, u, v]
        content = F.matmul(keys.permute(1, 3, 0, 2).reshape(batch, k, n * u),
                           values.transpose(0, 1).reshape(batch, n * u, v))
        # position lambdas (n, batch, k, v) = sum over m and u of E[n, m, k, u] values[m, b, u, v]
        embeddings = self.position_embeddings(n).transpose(1, 2).reshape(n * k, n * u)
        position = F.matmul(embeddings, values.transpose(1, 2).reshape(n * u, batch * v))
        position = position.reshape(n, k, batch, v).transpose(1, 2)
        lambdas = position + content.reshape(1, batch, k, v)
        out = F.matmul(queries, lambdas).reshape(n, batch, h * v)  # (n, batch, heads, v): heads side by side
        return out.transpose(0, 1) if self.batch_first else out

    def extra_repr(self) -> str:
        context = f"num_positions={self.num_positions}" if self.r is None else f"r={self.r}"
        return f"dim={self.dim}, dim_k={self.dim_k}, heads={self.heads}, dim_u={self.dim_u}, {context}"


def lambda_token_mixer(dim_k: int = 16, heads: int = 4, dim_u: int = 1,
                       radius: int | None = None) -> Callable[[int, int], nn.Module]:
    """A Mixer block's token mixer (`MixerBlock(token_mixer=...)`): (num_tokens, dim) -> LambdaLayer1D(dim, dim_k,
    heads, dim_u, radius) over those tokens, tokens-first; global (`radius` None) or local."""
    def lambda_layer(num_tokens: int, dim: int) -> nn.Module:
        return LambdaLayer1D(dim, dim_k, heads, dim_u, radius, num_positions=num_tokens)
    return lambda_layer
