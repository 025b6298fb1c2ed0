"""MLP-Mixer for a 1-D sequence of features (Tolstikhin et al. 2021, "MLP-Mixer: An all-MLP
Architecture for Vision", arXiv:2105.01601), as the original UNSW-NB15 project used it.

Differences from the JAX reference, on purpose: exact erf GELU (not tanh) and LayerNorm eps
1e-5 (PyTorch's, and the original's). Token MLP widens tokens 4x and the channel MLP halves
channels (the original's factors; timm's `mlp_ratio` would widen channels instead).

Activations are kept tokens-first, (tokens, batch, channels): LayerNorm and the channel MLP
work on the last dim as usual, and the token MLP is a `Linear(dim=0)` -- one GEMM over all
samples with no transposed copies. Only the raw input is transposed, once.

Options: `token_mixer="lambda"` mixes tokens with a LambdaLayer1D (Bello 2021, arXiv:2102.08602)
instead of the token MLP, and `stem="inception"` runs an InceptionBlock1D over the raw sequence
before it is patchified (the Incept-Mixer's embedding, arXiv:2402.17951). The defaults ("mlp",
"linear") build exactly the original model, parameter for parameter.

`categories={position: n_codes}` embeds categorical features (as tabular transformers do, e.g. FT-Transformer,
Gorishniy et al. 2021, arXiv:2106.11959): those input positions hold integer codes 0..n_codes-1 (0: unknown), their
value in the patch is zeroed and a learned vector per code is added to the token that holds the position. Code 0's
vector starts at zero and, never seen in training, stays there.

Tabular options (`mixer.models.tabular`; the defaults build the model above):
- `tokens="feature"`: one token per feature with its own weights (FT-Transformer's feature tokenizer) instead of
  patches through one shared Linear; `patch_size` is then unused. A categorical feature's token is its bias plus its
  category's vector.
- `numeric_embedding="ple" | "periodic"`: each numerical feature becomes a vector (piecewise-linear encoding over
  `ple_bins` quantile bins with `ple_edges` fitted on the training rows, or PLR with `periodic_frequencies`
  frequencies of scale `periodic_sigma` and `periodic_dim` outputs; Gorishniy et al. 2022, arXiv:2203.05556). With
  feature tokens, the vector feeds the feature's own token weights; with patches, it is the feature's channels, and
  a patch holds patch_size x those channels. Categorical features (`categories`) are not embedded as numbers.
- `ensemble_size=k > 1`: TabM-mini (Gorishniy et al. 2024, arXiv:2410.24210): k members share every layer; member
  i multiplies the token embeddings by its own vector r_i (dim entries, initialised to random signs +-1, TabM's
  "random-signs") and has its own head. The batch runs through the blocks once per member (k times the cost), and
  the model returns logits of shape (batch, k, num_classes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn
from tinygrad_np.nn import init

from .inception import InceptionBlock1D
from .lambda_layer import LambdaLayer1D
from .tabular import (
    NUMERIC_EMBEDDINGS,
    TOKENS,
    FeatureTokenizer,
    PeriodicEmbedding,
    PiecewiseLinearEncoding,
    StackedLinear,
    place,
    random_signs,
)

TOKEN_MIXERS = ("mlp", "lambda")
STEMS = ("linear", "inception")


class MlpBlock(nn.Module):
    """Linear -> GELU -> dropout -> Linear -> dropout, along `dim` (0: tokens, -1: channels)."""

    def __init__(self, features: int, hidden: int, dropout: float = 0.0, dim: int = -1):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden, dim=dim)
        self.fc2 = nn.Linear(hidden, features, dim=dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(x)))))


class MixerBlock(nn.Module):
    """x + DropPath(TokenMLP(LN(x))), then x + DropPath(ChannelMLP(LN(x))); LN over channels.

    token_mixer="lambda" replaces the token MLP by LambdaLayer1D(dim, lambda_dim_k, lambda_heads,
    lambda_dim_u, lambda_radius) over the block's tokens (global when lambda_radius is None); `dropout`
    then applies to the channel MLP only."""

    def __init__(self, num_tokens: int, dim: int, token_hidden: int, channel_hidden: int,
                 dropout: float = 0.0, drop_path: float = 0.0, token_mixer: str = "mlp", lambda_heads: int = 4,
                 lambda_dim_k: int = 16, lambda_dim_u: int = 1, lambda_radius: int | None = None):
        if token_mixer not in TOKEN_MIXERS:
            raise ValueError(f"MixerBlock: token_mixer must be one of {TOKEN_MIXERS}, got {token_mixer!r}")
        super().__init__()
        self.token_norm = nn.LayerNorm(dim)
        if token_mixer == "mlp":
            self.token_mixing = MlpBlock(num_tokens, token_hidden, dropout, dim=0)
        else:
            self.token_mixing = LambdaLayer1D(dim, lambda_dim_k, lambda_heads, lambda_dim_u, lambda_radius,
                                              num_positions=num_tokens)
        self.channel_norm = nn.LayerNorm(dim)
        self.channel_mixing = MlpBlock(dim, channel_hidden, dropout, dim=-1)
        self.drop_path = nn.DropPath(drop_path, batch_dim=1)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.token_mixing(self.token_norm(x)))
        return x + self.drop_path(self.channel_mixing(self.channel_norm(x)))


class MLPMixer1D(nn.Module):
    """Patchify (batch, seq_len[, in_channels]) into tokens of `patch_size` consecutive
    features (token t holds features t*p ... t*p + p - 1, as the original reshaped them), project
    to `dim`, apply `depth` Mixer blocks (drop-path rising linearly from 0 to `drop_path`), a
    final LayerNorm, the mean over tokens and a Linear head giving `num_classes` logits.

    A `seq_len` that `patch_size` does not divide is zero-padded at the end to the next multiple.

    token_mixer: "mlp" (default) or "lambda" (see MixerBlock; lambda_* are its options).
    stem: "linear" (default: patches of the raw features) or "inception": InceptionBlock1D(in_channels,
        stem_channels) over the whole sequence first, its output patchified (patch_size * stem_channels
        features per token).
    categories: {position: number of codes} of the categorical features to embed (see the module docstring);
        needs in_channels 1.
    tokens, numeric_embedding, ple_bins, ple_edges, periodic_frequencies, periodic_dim, periodic_sigma,
        ensemble_size: the tabular options (see the module docstring); feature tokens and numerical embeddings
        need in_channels 1.
        ple_edges: (numerical features, ple_bins + 1) from `tabular.fit_ple_edges`; None leaves them unset, for a
        state dict to fill.
    """

    def __init__(self, seq_len: int = 42, in_channels: int = 1, dim: int = 64, depth: int = 4,
                 patch_size: int = 3, token_expansion: float = 4.0, channel_expansion: float = 0.5,
                 dropout: float = 0.0, drop_path: float = 0.0, num_classes: int = 1, token_mixer: str = "mlp",
                 lambda_heads: int = 4, lambda_dim_k: int = 16, lambda_dim_u: int = 1,
                 lambda_radius: int | None = None, stem: str = "linear", stem_channels: int = 16,
                 categories: Mapping[int, int] | None = None, tokens: str = "patch", numeric_embedding: str = "none",
                 ple_bins: int = 16, ple_edges: np.ndarray | None = None, periodic_frequencies: int = 48,
                 periodic_dim: int = 24, periodic_sigma: float = 0.01, ensemble_size: int = 1):
        if seq_len < 1 or in_channels < 1 or dim < 1 or depth < 0 or patch_size < 1 or num_classes < 1:
            raise ValueError("MLPMixer1D: seq_len, in_channels, dim, patch_size and num_classes must be >= 1 "
                             f"and depth >= 0, got seq_len={seq_len}, in_channels={in_channels}, dim={dim}, "
                             f"depth={depth}, patch_size={patch_size}, num_classes={num_classes}")
        if tokens not in TOKENS or numeric_embedding not in NUMERIC_EMBEDDINGS or ensemble_size < 1:
            raise ValueError(f"MLPMixer1D: tokens must be one of {TOKENS}, numeric_embedding one of "
                             f"{NUMERIC_EMBEDDINGS} and ensemble_size >= 1, got {tokens!r}, {numeric_embedding!r}, "
                             f"{ensemble_size}")
        if (tokens != "patch" or numeric_embedding != "none") and in_channels != 1:
            raise ValueError(f"MLPMixer1D: tokens={tokens!r} and numeric_embedding={numeric_embedding!r} need scalar "
                             f"features (in_channels 1), got {in_channels}")
        if tokens == "feature" and stem != "linear":
            raise ValueError("MLPMixer1D: tokens='feature' makes one token per feature; it takes no stem")
        super().__init__()
        self.tokens, self.ensemble_size = tokens, ensemble_size
        if tokens == "feature":
            patch_size = 1  # one feature per token: categories land on their own token
        self.seq_len, self.in_channels, self.patch_size = seq_len, in_channels, patch_size
        self.num_tokens = math.ceil(seq_len / patch_size)
        self.padding = self.num_tokens * patch_size - seq_len
        token_hidden = max(1, int(self.num_tokens * token_expansion))
        channel_hidden = max(1, int(dim * channel_expansion))
        if stem not in STEMS:
            raise ValueError(f"MLPMixer1D: stem must be one of {STEMS}, got {stem!r}")
        self.categories = dict(sorted((int(k), int(v)) for k, v in (categories or {}).items()))
        self.numeric_positions = [p for p in range(seq_len) if p not in self.categories]
        self.numeric_embedding = None
        channels = in_channels
        if numeric_embedding == "ple":
            self.numeric_embedding = PiecewiseLinearEncoding(len(self.numeric_positions), ple_bins, ple_edges)
            channels = ple_bins
        elif numeric_embedding == "periodic":
            self.numeric_embedding = PeriodicEmbedding(len(self.numeric_positions), periodic_frequencies,
                                                       periodic_dim, periodic_sigma)
            channels = periodic_dim
        self.stem = InceptionBlock1D(channels, stem_channels) if stem == "inception" else None
        if tokens == "feature":
            self.proj = FeatureTokenizer(seq_len, self.numeric_positions, channels, dim)
        else:
            self.proj = nn.Linear(patch_size * (channels if self.stem is None else stem_channels), dim)
        if ensemble_size > 1:
            self.member_scales = nn.Parameter(random_signs((ensemble_size, dim)))
        rates = np.linspace(0.0, drop_path, depth) if depth > 1 else [drop_path] * depth
        self.blocks = nn.ModuleList(MixerBlock(self.num_tokens, dim, token_hidden, channel_hidden, dropout,
                                               float(rate), token_mixer, lambda_heads, lambda_dim_k, lambda_dim_u,
                                               lambda_radius) for rate in rates)
        self.norm = nn.LayerNorm(dim)
        if ensemble_size > 1:
            self.head = StackedLinear(ensemble_size, dim, num_classes)
        else:
            self.head = nn.Linear(dim, num_classes)
        if self.categories:
            self._embed_categories_setup(dim)

    def _embed_categories_setup(self, dim: int) -> None:
        positions, sizes = list(self.categories), list(self.categories.values())
        if self.in_channels != 1 or not all(0 <= p < self.seq_len for p in positions) or min(sizes) < 1:
            raise ValueError(f"MLPMixer1D: categories must map positions in [0, {self.seq_len}) to code counts >= 1, "
                             f"with in_channels 1; got {self.categories} with in_channels {self.in_channels}")
        self.category_offsets = np.cumsum([0, *sizes[:-1]])
        self.category_embedding = nn.Embedding(sum(sizes), dim)
        weight = init.normal_(self.category_embedding.weight, std=0.02).numpy()
        weight[self.category_offsets] = 0.0
        self.category_tokens = np.zeros((self.num_tokens, len(positions)), dtype=np.float32)
        self.category_tokens[np.array(positions) // self.patch_size, np.arange(len(positions))] = 1.0
        self.numeric_mask = np.ones(self.seq_len, dtype=np.float32)
        self.numeric_mask[positions] = 0.0

    def category_codes(self, x: Tensor) -> np.ndarray:
        """The (batch, n_categorical) integer codes, checked: whole numbers within each feature's code range."""
        values = x.numpy().reshape(len(x), -1)[:, list(self.categories)]
        codes = np.rint(values).astype(np.int64)
        bad = (codes != values) | (codes < 0) | (codes >= np.array(list(self.categories.values())))
        if bad.any():
            row, column = np.argwhere(bad)[0]
            position = list(self.categories)[column]
            raise ValueError(f"MLPMixer1D: input row {row}, feature {position} should be a category code in "
                             f"0..{self.categories[position] - 1}, got {float(values[row, column])}; categorical "
                             "features must reach an embedding model unscaled (Preprocessor(..., keep_codes=True))")
        return codes

    def embed_categories(self, h: Tensor, codes: np.ndarray) -> Tensor:
        """Add each categorical feature's code vector to the token that holds it; h is (tokens, batch, dim)."""
        looked_up = self.category_embedding(codes + self.category_offsets)  # (batch, n_categorical, dim)
        n_categorical, batch, dim = codes.shape[1], h.shape[1], h.shape[2]
        per_token = Tensor(self.category_tokens, dtype=h.dtype) @ looked_up.permute(1, 0, 2).reshape(
            n_categorical, batch * dim)
        return h + per_token.reshape(self.num_tokens, batch, dim)

    def _checked_input(self, x: Tensor) -> Tensor:
        """x as (batch, seq_len, in_channels), or a clear error."""
        shape = x.shape
        if x.ndim == 2:
            x = x.reshape(*x.shape, 1)
        if x.ndim != 3 or x.shape[1:] != (self.seq_len, self.in_channels):
            raise ValueError(f"MLPMixer1D: input of shape {shape} does not fit seq_len={self.seq_len}, "
                             f"in_channels={self.in_channels}; expected (batch, {self.seq_len}, {self.in_channels})"
                             + (f" or (batch, {self.seq_len})" if self.in_channels == 1 else ""))
        return x

    def patchify(self, x: Tensor) -> Tensor:
        """(batch, seq_len[, in_channels]) -> tokens-first (num_tokens, batch, patch_size * channels), channels
        being in_channels, or stem_channels after the inception stem."""
        return self._patches(self._checked_input(x))

    def _patches(self, x: Tensor) -> Tensor:
        """(batch, seq_len, channels) -> (num_tokens, batch, patch_size * channels), through the stem if any."""
        if self.stem is not None:
            x = self.stem(x.transpose(1, 2)).transpose(1, 2)
        if self.padding:
            x = F.pad(x, (0, 0, 0, self.padding))
        return x.reshape(x.shape[0], self.num_tokens, -1).transpose(0, 1)

    def embed(self, x: Tensor) -> Tensor:
        """The tokens (num_tokens, batch, dim) of the tabular options: each numerical feature's value or embedding
        (numerical_features, batch, channels) through the feature tokenizer, or placed at its position (zeros at the
        categorical ones) and patchified; then each category's vector added to its token."""
        x = self._checked_input(x)
        values = x.reshape(x.shape[0], self.seq_len).transpose(0, 1)  # (seq_len, batch)
        codes = self.category_codes(x) if self.categories else None
        if self.categories:
            values = values[np.array(self.numeric_positions)]
        embedded = values.unsqueeze(-1) if self.numeric_embedding is None else self.numeric_embedding(values)
        if self.tokens == "feature":
            h = self.proj(embedded)
        else:
            if self.categories:
                embedded = place(embedded, self.numeric_positions, self.seq_len)
            h = self.proj(self._patches(embedded.transpose(0, 1)))
        return h if codes is None else self.embed_categories(h, codes)

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        """Logits of shape (batch, num_classes), or (batch, ensemble_size, num_classes) for an ensemble."""
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.proj.weight.dtype)
        if self.tokens == "feature" or self.numeric_embedding is not None:
            h = self.embed(x)
        elif not self.categories:
            h = self.proj(self.patchify(x))
        else:
            codes = self.category_codes(x)
            mask = self.numeric_mask if x.ndim == 2 else self.numeric_mask[:, None]
            h = self.embed_categories(self.proj(self.patchify(x * Tensor(mask, dtype=x.dtype))), codes)
        k = self.ensemble_size
        if k > 1:  # member i's copy of the batch, scaled by r_i: (tokens, k * batch, dim), member-major
            tokens, batch, dim = h.shape
            h = (h.unsqueeze(1) * self.member_scales.reshape(1, k, 1, dim)).reshape(tokens, k * batch, dim)
        for block in self.blocks:
            h = block(h)
        pooled = self.norm(h).mean(dim=0)
        if k > 1:
            return self.head(pooled.reshape(k, -1, pooled.shape[-1])).permute(1, 0, 2)
        return self.head(pooled)
