"""Tabular tokenization for the MLP-Mixer: per-feature tokens, embeddings of numerical features, and a
parameter-efficient ensemble head. Each layer works tokens-first, (features, batch, ...), like `MLPMixer1D`.

- `FeatureTokenizer`: FT-Transformer's feature tokenizer (Gorishniy et al. 2021, arXiv:2106.11959): every feature
  is one token with its own weights, token_j = e_j(x_j) W_j + b_j, as one batched matmul over the features (the
  engine's matmul takes a leading batch dim, backward included). A categorical feature's token is b_j alone here;
  `MLPMixer1D` adds the category's embedding vector to it.
- `PiecewiseLinearEncoding` (PLE) and `PeriodicEmbedding` (PLR): embeddings of numerical features (Gorishniy et al.
  2022, "On Embeddings for Numerical Features in Tabular Deep Learning", arXiv:2203.05556). PLE's bin edges are the
  training rows' quantiles (`fit_ple_edges`), kept in a buffer so that they travel with the state dict.
- `StackedLinear`: n separate Linear layers as one batched matmul: PLR's per-feature Linear, and the k heads of a
  TabM-mini ensemble (Gorishniy et al. 2024, arXiv:2410.24210), one per member.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn
from tinygrad_np.nn import init
from tinygrad_np.random import default_generator

TOKENS = ("patch", "feature")
NUMERIC_EMBEDDINGS = ("none", "ple", "periodic")


def place(values: Tensor, positions: Sequence[int], total: int) -> Tensor:
    """(len(positions), ...) -> (total, ...): row i of `values` at `positions[i]`, zeros at the other positions (the
    categorical features, which are not embedded as numbers)."""
    zero = Tensor(np.zeros((1, *values.shape[1:]), dtype=values.dtype))
    order = np.full(total, len(positions), dtype=np.int64)
    order[list(positions)] = np.arange(len(positions))
    return F.cat([values, zero], dim=0)[order]


# -- per-feature linear layers -----------------------------------------------------------------------------------
class StackedLinear(nn.Module):
    """n separate Linear(in_features, out_features) applied side by side, one per slice of the leading axis -- one
    per feature (PLR's per-feature Linear) or one per ensemble member (TabM's heads): (n, batch, in) -> (n, batch,
    out) as one batched matmul. Weight (n, in, out) and bias (n, out), uniform(+-1/sqrt(in)) as each Linear's."""

    def __init__(self, n: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = init.uniform_(nn.Parameter(np.zeros((n, in_features, out_features))), -bound, bound)
        self.bias = init.uniform_(nn.Parameter(np.zeros((n, out_features))), -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight + self.bias.unsqueeze(1)


class FeatureTokenizer(nn.Module):
    """One token per feature, tokens-first: token_j = e_j W_j + b_j for the numerical features at
    `numeric_positions` (e_j: the feature's value, or its embedding of `in_features` entries), b_j alone for the
    others (categorical features, whose category vector the model adds). Weight (n_numeric, in_features, dim), bias
    (seq_len, dim), both uniform(+-1/sqrt(dim)) as FT-Transformer initialises its tokenizer.

    (n_numeric, batch, in_features) -> (seq_len, batch, dim)."""

    def __init__(self, seq_len: int, numeric_positions: Sequence[int], in_features: int, dim: int):
        super().__init__()
        self.seq_len, self.numeric_positions = seq_len, list(numeric_positions)
        bound = 1 / math.sqrt(dim)
        self.weight = init.uniform_(nn.Parameter(np.zeros((len(self.numeric_positions), in_features, dim))), -bound,
                                    bound)
        self.bias = init.uniform_(nn.Parameter(np.zeros((seq_len, dim))), -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        tokens = x @ self.weight
        if len(self.numeric_positions) < self.seq_len:
            tokens = place(tokens, self.numeric_positions, self.seq_len)
        return tokens + self.bias.unsqueeze(1)


# -- numerical feature embeddings --------------------------------------------------------------------------------
def fit_ple_edges(features: np.ndarray, n_bins: int) -> np.ndarray:
    """PLE bin edges of each column of `features` (the training rows only): the quantiles at levels 0, 1/T, ..., 1
    (T = n_bins), in float32, with duplicate edges merged, so a column with few distinct values gets fewer bins. A
    column with one value gets one bin of width 1 from it. Rows are padded to T + 1 entries by repeating the last
    edge (a bin of width 0 marks padding): shape (columns, n_bins + 1)."""
    features = np.asarray(features)
    if features.ndim != 2 or len(features) == 0 or n_bins < 1:
        raise ValueError(f"fit_ple_edges: need a (rows, columns) matrix with rows and n_bins >= 1, got shape "
                         f"{features.shape} and n_bins {n_bins}")
    if not np.isfinite(features).all():
        raise ValueError("fit_ple_edges: the features hold NaN or infinite values")
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for column in features.T:
        edges = np.unique(np.quantile(column.astype(np.float64), levels).astype(np.float32))
        if len(edges) == 1:
            edges = np.array([edges[0], edges[0] + 1], dtype=np.float32)
        rows.append(np.concatenate([edges, np.full(n_bins + 1 - len(edges), edges[-1], dtype=np.float32)]))
    return np.stack(rows)


class PiecewiseLinearEncoding(nn.Module):
    """PLE (the paper's Eq. 1): with feature j's bins [e_0, e_1), ..., [e_{n-1}, e_n], component t of x is
    (x - e_t) / (e_{t+1} - e_t) clipped to [0, 1] -- 1 once x passes the bin, 0 before it -- except that, as in the
    paper, the first component is not clipped below (it goes negative for x < e_0) and the last real one not above
    (it exceeds 1 for x > e_n); a feature with one bin is not clipped at all. Components past a feature's n bins
    (padding, see `fit_ple_edges`) stay 0. No trainable parameters: the edges are a buffer, in the state dict.

    (n_features, batch) -> (n_features, batch, n_bins). Built without `edges` (to load a state dict into), the
    edges are NaN and the forward pass refuses to run until they are loaded."""

    def __init__(self, n_features: int, n_bins: int, edges: np.ndarray | None = None):
        super().__init__()
        if edges is None:
            edges = np.full((n_features, n_bins + 1), np.nan, dtype=np.float32)
        else:
            edges = np.asarray(edges, dtype=np.float32)
            check_ple_edges(edges, n_features, n_bins)
        self.register_buffer("edges", Tensor(edges.copy(), dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        edges = self.edges.numpy()
        if np.isnan(edges).any():
            raise RuntimeError("PiecewiseLinearEncoding: the bin edges are not set; pass edges= (fit_ple_edges on "
                               "the training rows) or load a state dict that holds them")
        widths = np.diff(edges, axis=1)
        real = widths > 0  # (n_features, n_bins): False for padding
        component = np.arange(widths.shape[1])
        lower = np.where(component == 0, -np.inf, 0.0)  # the first component is open below
        upper = np.where(component == real.sum(axis=1, keepdims=True) - 1, np.inf, 1.0)  # the last real one above
        scaled = (x.unsqueeze(-1) - edges[:, None, :-1]) / np.where(real, widths, 1)[:, None]
        return scaled.maximum(lower).minimum(upper[:, None]) * real[:, None]

    def extra_repr(self) -> str:
        return f"n_features={self.edges.shape[0]}, n_bins={self.edges.shape[1] - 1}"


def check_ple_edges(edges: np.ndarray, n_features: int, n_bins: int) -> None:
    """ValueError unless `edges` is (n_features, n_bins + 1), finite, with a first bin of positive width and padding
    (bins of width 0) only at the end, as `fit_ple_edges` makes them."""
    if edges.shape != (n_features, n_bins + 1):
        raise ValueError(f"PLE edges of shape {edges.shape}; expected ({n_features}, {n_bins + 1}) ({n_features} "
                         f"features, {n_bins} bins)")
    widths = np.diff(edges, axis=1)
    if not np.isfinite(edges).all() or (widths < 0).any() or (widths[:, 0] <= 0).any() or \
            (np.diff((widths > 0).astype(np.int8), axis=1) > 0).any():
        raise ValueError("PLE edges must be finite and increasing, at least one bin per feature, padded at the end "
                         "by repeating the last edge (see fit_ple_edges)")


class PeriodicEmbedding(nn.Module):
    """PLR: v = [sin(2 pi c x), cos(2 pi c x)] with `frequencies` learned c per feature (initialised N(0, sigma^2)),
    then a per-feature Linear(2 * frequencies, dim) and ReLU (the paper's full PLR, not the "lite" variant that
    shares the Linear across features). (n_features, batch) -> (n_features, batch, dim)."""

    def __init__(self, n_features: int, frequencies: int, dim: int, sigma: float):
        if frequencies < 1 or dim < 1 or not sigma > 0:
            raise ValueError(f"PeriodicEmbedding: frequencies and dim must be >= 1 and sigma > 0, got {frequencies}, "
                             f"{dim}, {sigma}")
        super().__init__()
        self.frequencies = init.normal_(nn.Parameter(np.zeros((n_features, frequencies))), 0.0, sigma)
        self.linear = StackedLinear(n_features, 2 * frequencies, dim)

    def forward(self, x: Tensor) -> Tensor:
        angles = x.unsqueeze(-1) * self.frequencies.unsqueeze(1) * (2 * math.pi)
        return F.relu(self.linear(F.cat([angles.sin(), angles.cos()], dim=-1)))


# -- TabM-mini ---------------------------------------------------------------------------------------------------
def random_signs(shape: tuple[int, ...]) -> np.ndarray:
    """+-1 with equal probability, from the global generator (TabM's "random-signs" initialisation)."""
    return default_generator().integers(0, 2, size=shape).astype(np.float32) * 2 - 1

