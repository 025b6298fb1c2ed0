"""Tabular tokenization for the MLP-Mixer: how a row of features becomes tokens, embeddings of numerical features,
and a parameter-efficient ensemble head. Each layer works tokens-first, (features, batch, ...), like `MLPMixer1D`.

- `TabularEmbedding`: the one module that turns rows into tokens -- patches through one shared Linear, or one token
  per feature -- with an optional embedding of each numerical feature and an optional stem over the sequence.
- `FeatureTokenizer`: FT-Transformer's feature tokenizer (Gorishniy et al. 2021, "Revisiting Deep Learning Models
  for Tabular Data", arXiv:2106.11959): every feature is one token with its own weights, token_j = e_j(x_j) W_j +
  b_j, as one batched matmul over the features (the engine's matmul takes a leading batch dim, backward included).
- `CategoryEmbedding`: a learned vector per category of each categorical feature, added to the token that holds it
  (the categorical half of FT-Transformer's tokenizer).
- `PiecewiseLinearEncoding` (PLE) and `PeriodicEmbedding` (PLR): embeddings of numerical features (Gorishniy et al.
  2022, "On Embeddings for Numerical Features in Tabular Deep Learning", arXiv:2203.05556). PLE's bin edges are the
  training rows' quantiles (`fit_ple_edges`), kept in a buffer so that they travel with the state dict.
- `StackedLinear`: n separate Linear layers as one batched matmul: PLR's per-feature Linear, and the k heads of a
  TabM-mini ensemble (Gorishniy et al. 2024, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient
  Ensembling", arXiv:2410.24210), one per member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn, no_grad
from tinygrad_np.nn import init
from tinygrad_np.random import default_generator

TOKENS = ("patch", "feature")  # a token per patch of features | a token per feature
NUMERIC_EMBEDDINGS = ("none", "ple", "periodic")  # a numerical feature as its value | PLE | PLR

# Layer factories (functools.partial of a layer with its options bound, as timm passes layers):
NumericEmbeddingLayer = Callable[[int], nn.Module]
"""(n_features) -> a module mapping (n_features, batch) values to (n_features, batch, out_features), with an
`out_features` attribute: `PiecewiseLinearEncoding` or `PeriodicEmbedding`."""
StemLayer = Callable[[int], nn.Module]
"""(in_channels) -> a module mapping (batch, in_channels, length) to (batch, out_channels, length), with an
`out_channels` attribute, e.g. `functools.partial(InceptionBlock1D, out_channels=16)`."""


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
        self.out_features = n_bins
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
        self.out_features = dim
        self.frequencies = init.normal_(nn.Parameter(np.zeros((n_features, frequencies))), 0.0, sigma)
        self.linear = StackedLinear(n_features, 2 * frequencies, dim)

    def forward(self, x: Tensor) -> Tensor:
        angles = x.unsqueeze(-1) * self.frequencies.unsqueeze(1) * (2 * math.pi)
        return F.relu(self.linear(F.cat([angles.sin(), angles.cos()], dim=-1)))


# -- rows into tokens --------------------------------------------------------------------------------------------
class TabularEmbedding(nn.Module):
    """Rows (batch, seq_len) or (batch, seq_len, in_channels) -> tokens-first (num_tokens, batch, dim), on one path:

    1. the numerical features (all but `categorical_positions`), one row per feature, (features, batch, channels):
       their values, or each value through `numeric_embedding` (channels: its out_features);
    2. `tokens="patch"`: the features placed back at their positions (zeros at the categorical ones), through `stem`
       over the sequence if one is given, zero-padded at the end to a multiple of `patch_size` and cut into tokens of
       patch_size consecutive features (token t holds features t*p ... t*p + p - 1), each projected to `dim` by one
       shared Linear, `proj`; `tokens="feature"`: one token per feature with its own weights (`FeatureTokenizer` as
       `proj`, a categorical feature's token being its bias alone), patch_size then being 1 and no stem allowed.

    A categorical feature's category vector is `CategoryEmbedding`'s, added to these tokens by the model."""

    def __init__(self, seq_len: int, dim: int, *, in_channels: int = 1, patch_size: int = 3, tokens: str = "patch",
                 categorical_positions: Sequence[int] = (), numeric_embedding: NumericEmbeddingLayer | None = None,
                 stem: StemLayer | None = None):
        if tokens not in TOKENS:
            raise ValueError(f"TabularEmbedding: tokens must be one of {TOKENS}, got {tokens!r}")
        if (tokens != "patch" or numeric_embedding is not None or categorical_positions) and in_channels != 1:
            raise ValueError(f"TabularEmbedding: feature tokens, a numerical embedding and categorical features need "
                             f"scalar features (in_channels 1), got {in_channels}")
        if tokens == "feature" and stem is not None:
            raise ValueError("TabularEmbedding: tokens='feature' makes one token per feature; it takes no stem")
        if not all(0 <= p < seq_len for p in categorical_positions):
            raise ValueError(f"TabularEmbedding: categorical positions must lie in [0, {seq_len}), got "
                             f"{tuple(categorical_positions)}")
        super().__init__()
        self.seq_len, self.in_channels, self.tokens = seq_len, in_channels, tokens
        self.patch_size = 1 if tokens == "feature" else patch_size
        self.num_tokens = math.ceil(seq_len / self.patch_size)
        self.padding = self.num_tokens * self.patch_size - seq_len
        self.numeric_positions = [p for p in range(seq_len) if p not in set(categorical_positions)]
        self.numeric_index = np.array(self.numeric_positions) if categorical_positions else None
        self.numeric_embedding = None if numeric_embedding is None else numeric_embedding(len(self.numeric_positions))
        channels = in_channels if self.numeric_embedding is None else self.numeric_embedding.out_features
        self.stem = None if stem is None else stem(channels)
        if tokens == "feature":
            self.proj: nn.Module = FeatureTokenizer(seq_len, self.numeric_positions, channels, dim)
        else:
            self.proj = nn.Linear(self.patch_size * (channels if self.stem is None else self.stem.out_channels), dim)

    def forward(self, x: Tensor) -> Tensor:
        features = self.checked_input(x).transpose(0, 1)  # (seq_len, batch, in_channels): a row per feature
        if self.numeric_index is not None:
            features = features[self.numeric_index]
        if self.numeric_embedding is not None:
            features = self.numeric_embedding(features.squeeze(-1))
        return self.proj(features if self.tokens == "feature" else self.patches(features))

    def checked_input(self, x: Tensor) -> Tensor:
        """x as (batch, seq_len, in_channels), or a clear error."""
        shape = x.shape
        if x.ndim == 2:
            x = x.reshape(*x.shape, 1)
        if x.ndim != 3 or x.shape[1:] != (self.seq_len, self.in_channels):
            raise ValueError(f"input of shape {shape} does not fit seq_len={self.seq_len}, in_channels="
                             f"{self.in_channels}; expected (batch, {self.seq_len}, {self.in_channels})"
                             + (f" or (batch, {self.seq_len})" if self.in_channels == 1 else ""))
        return x

    def patches(self, features: Tensor) -> Tensor:
        """The numerical features' rows (features, batch, channels) -> tokens-first patches (num_tokens, batch,
        patch_size * channels), channels being the stem's output channels when there is a stem."""
        if self.numeric_index is not None:
            features = place(features, self.numeric_positions, self.seq_len)
        x = features.transpose(0, 1)  # (batch, seq_len, channels)
        if self.stem is not None:
            x = self.stem(x.transpose(1, 2)).transpose(1, 2)
        if self.padding:
            x = F.pad(x, (0, 0, 0, self.padding))
        return x.reshape(x.shape[0], self.num_tokens, -1).transpose(0, 1)

    def extra_repr(self) -> str:
        return f"seq_len={self.seq_len}, tokens={self.tokens!r}, num_tokens={self.num_tokens}"


class CategoryEmbedding(nn.Embedding):
    """A learned vector per category of each categorical feature, added to the token that holds the feature (the
    categorical half of FT-Transformer's tokenizer, arXiv:2106.11959). `categories`: {position: number of codes};
    those input positions hold integer codes 0..n_codes-1, 0 being the unknown category, whose vector starts at zero
    and, never seen in training, stays there. One table for all the features (feature i's codes from its offset on);
    the others start normal(0, 0.02).

    forward: rows (batch, seq_len[, 1]) -> (num_tokens, batch, dim), each token the sum of the vectors of the
    categories it holds (tokens of `patch_size` consecutive positions)."""

    def __init__(self, categories: Mapping[int, int], dim: int, seq_len: int, patch_size: int):
        self.categories = dict(sorted((int(k), int(v)) for k, v in categories.items()))
        positions, sizes = list(self.categories), list(self.categories.values())
        if not positions or not all(0 <= p < seq_len for p in positions) or min(sizes) < 1:
            raise ValueError(f"CategoryEmbedding: categories must map positions in [0, {seq_len}) to code counts >= "
                             f"1, got {self.categories}")
        super().__init__(sum(sizes), dim)
        self.offsets = np.cumsum([0, *sizes[:-1]])
        init.normal_(self.weight, std=0.02)
        with no_grad():
            self.weight[self.offsets] = 0.0
        num_tokens = math.ceil(seq_len / patch_size)
        self.token_of = np.zeros((num_tokens, len(positions)), dtype=np.float32)  # token t holds category i: 1
        self.token_of[np.array(positions) // patch_size, np.arange(len(positions))] = 1.0

    def codes(self, x: Tensor) -> np.ndarray:
        """The (batch, n_categorical) integer codes of rows x, checked: whole numbers within each feature's range."""
        rows = x.numpy()
        values = rows.reshape(len(rows), -1)[:, list(self.categories)]
        codes = np.rint(values).astype(np.int64)
        bad = (codes != values) | (codes < 0) | (codes >= np.array(list(self.categories.values())))
        if bad.any():
            row, column = np.argwhere(bad)[0]
            position = list(self.categories)[column]
            raise ValueError(f"input row {row}, feature {position} should be a category code in "
                             f"0..{self.categories[position] - 1}, got {float(values[row, column])}; categorical "
                             "features must reach an embedding model unscaled (Preprocessor(..., keep_codes=True))")
        return codes

    def forward(self, x: Tensor) -> Tensor:
        codes = self.codes(x)
        looked_up = super().forward(codes + self.offsets)  # (batch, n_categorical, dim)
        n_categorical, batch, dim = codes.shape[1], codes.shape[0], self.embedding_dim
        per_token = Tensor(self.token_of, dtype=looked_up.dtype) @ looked_up.permute(1, 0, 2).reshape(
            n_categorical, batch * dim)
        return per_token.reshape(len(self.token_of), batch, dim)

    def extra_repr(self) -> str:
        return f"categories={self.categories}, dim={self.embedding_dim}"


# -- TabM-mini ---------------------------------------------------------------------------------------------------
def random_signs(shape: tuple[int, ...]) -> np.ndarray:
    """+-1 with equal probability, from the global generator (TabM's "random-signs" initialisation)."""
    return default_generator().integers(0, 2, size=shape).astype(np.float32) * 2 - 1

