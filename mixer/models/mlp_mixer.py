"""MLP-Mixer for a 1-D sequence of features (Tolstikhin et al. 2021, "MLP-Mixer: An all-MLP Architecture for
Vision", arXiv:2105.01601), as the original UNSW-NB15 project used it, with tabular tokenisation.

Differences from the JAX reference, on purpose: exact erf GELU (not tanh) and LayerNorm eps 1e-5 (PyTorch's, and the
original's). The token MLP widens tokens 4x and the channel MLP halves channels (the original's factors; timm's
`mlp_ratio` would widen channels instead).

Activations are kept tokens-first, (tokens, batch, channels): LayerNorm and the channel MLP work on the last dim as
usual, and the token MLP is a `Linear(dim=0)` -- one GEMM over all samples with no transposed copies.

Layers are passed as factories, as timm does (`functools.partial` of a layer with its options bound):
- `token_mixer(num_tokens, dim)`: what mixes the tokens in each block; None is the token MLP above.
  `lambda_token_mixer()` mixes them with a LambdaLayer1D (Bello 2021, arXiv:2102.08602) instead.
- `stem(in_channels)`: a layer over the whole sequence before it is cut into patches, e.g.
  `partial(InceptionBlock1D, out_channels=16)` (the Incept-Mixer's embedding, arXiv:2402.17951).
- `numeric_embedding(n_features)`: each numerical feature as a vector, `partial(PiecewiseLinearEncoding, n_bins=16,
  edges=...)` or `partial(PeriodicEmbedding, frequencies=48, dim=24, sigma=0.01)` (Gorishniy et al. 2022,
  arXiv:2203.05556). With feature tokens the vector feeds the feature's own token weights; with patches it is the
  feature's channels, and a patch holds patch_size x those channels.
- `norm_layer(dim)`: the norm of every block and the final one (LayerNorm).
The defaults build exactly the original model, parameter for parameter.

Tabular options (`mixer.models.tabular`):
- `categories={position: n_codes}` embeds categorical features (as tabular transformers do, e.g. FT-Transformer,
  Gorishniy et al. 2021, arXiv:2106.11959): those input positions hold integer codes 0..n_codes-1 (0: unknown), they
  are left out of the numerical features and a learned vector per code is added to the token that holds the
  position (`CategoryEmbedding`).
- `tokens="feature"`: one token per feature with its own weights (FT-Transformer's feature tokenizer) instead of
  patches through one shared Linear; `patch_size` is then unused.
- `ensemble_size=k > 1`: TabM-mini (Gorishniy et al. 2024, arXiv:2410.24210): k members share every layer; member
  i multiplies the token embeddings by its own vector r_i (dim entries, initialised to random signs +-1, TabM's
  "random-signs") and has its own head. The batch runs through the blocks once per member (k times the cost), and
  the model returns logits of shape (batch, k, num_classes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn

from .tabular import CategoryEmbedding, NumericEmbeddingLayer, StackedLinear, StemLayer, TabularEmbedding, random_signs

TokenMixerLayer = Callable[[int, int], nn.Module]
"""(num_tokens, dim) -> a module mapping tokens-first (num_tokens, batch, dim) to the same shape."""
NormLayer = Callable[[int], nn.Module]
"""(dim) -> a norm over the last dim, e.g. `nn.LayerNorm`."""


class MlpBlock(nn.Module):
    """Linear -> GELU -> dropout -> Linear -> dropout, along `dim` (0: tokens, -1: channels)."""

    def __init__(self, features: int, hidden: int, dropout: float = 0.0, dim: int = -1):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden, dim=dim)
        self.fc2 = nn.Linear(hidden, features, dim=dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(x)))))


def mlp_token_mixer(expansion: float = 4.0, dropout: float = 0.0) -> TokenMixerLayer:
    """The Mixer's token MLP as a token mixer: an MlpBlock along the tokens with max(1, int(num_tokens * expansion))
    hidden units (the channels, `dim`, pass through it untouched)."""
    def token_mlp(num_tokens: int, dim: int) -> nn.Module:
        return MlpBlock(num_tokens, max(1, int(num_tokens * expansion)), dropout, dim=0)
    return token_mlp


class MixerBlock(nn.Module):
    """x + DropPath(TokenMixer(Norm(x))), then x + DropPath(ChannelMLP(Norm(x))), on tokens-first (num_tokens, batch,
    dim); Norm over channels.

    token_mixer: a `TokenMixerLayer`; None is the token MLP of `token_expansion` and `dropout`
        (`mlp_token_mixer`). Another token mixer takes neither (`dropout` then acts in the channel MLP only).
    channel_expansion: the channel MLP's hidden units, max(1, int(dim * channel_expansion)).
    """

    def __init__(self, *, num_tokens: int, dim: int, token_expansion: float = 4.0, channel_expansion: float = 0.5,
                 dropout: float = 0.0, drop_path: float = 0.0, token_mixer: TokenMixerLayer | None = None,
                 norm_layer: NormLayer = nn.LayerNorm):
        super().__init__()
        token_mixer = token_mixer or mlp_token_mixer(token_expansion, dropout)
        self.token_norm = norm_layer(dim)
        self.token_mixing = token_mixer(num_tokens, dim)
        self.channel_norm = norm_layer(dim)
        self.channel_mixing = MlpBlock(dim, max(1, int(dim * channel_expansion)), dropout, dim=-1)
        self.drop_path = nn.DropPath(drop_path, batch_dim=1)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.token_mixing(self.token_norm(x)))
        return x + self.drop_path(self.channel_mixing(self.channel_norm(x)))


class MLPMixer1D(nn.Module):
    """Rows (batch, seq_len[, in_channels]) -> logits (batch, num_classes): the tokens of `embed` (a
    `TabularEmbedding`: patches of `patch_size` consecutive features projected to `dim`, or one token per feature),
    plus the category vectors of `category_embedding` when there are categorical features; `depth` Mixer blocks
    (drop-path rising linearly from 0 to `drop_path`); a final norm, the mean over tokens and a Linear head.

    A `seq_len` that `patch_size` does not divide is zero-padded at the end to the next multiple.

    token_mixer, stem, numeric_embedding, norm_layer: layer factories (see the module docstring); None: the token
        MLP, no stem (linear patches), the values themselves.
    categories: {position: number of codes} of the categorical features to embed; needs in_channels 1.
    tokens: "patch" | "feature"; ensemble_size: the TabM-mini members (1: a plain model).
    """

    def __init__(self, seq_len: int = 42, in_channels: int = 1, dim: int = 64, depth: int = 4,
                 patch_size: int = 3, token_expansion: float = 4.0, channel_expansion: float = 0.5,
                 dropout: float = 0.0, drop_path: float = 0.0, num_classes: int = 1, *,
                 token_mixer: TokenMixerLayer | None = None, stem: StemLayer | None = None,
                 norm_layer: NormLayer = nn.LayerNorm, categories: Mapping[int, int] | None = None,
                 tokens: str = "patch", numeric_embedding: NumericEmbeddingLayer | None = None,
                 ensemble_size: int = 1):
        if seq_len < 1 or in_channels < 1 or dim < 1 or depth < 0 or patch_size < 1 or num_classes < 1:
            raise ValueError("MLPMixer1D: seq_len, in_channels, dim, patch_size and num_classes must be >= 1 "
                             f"and depth >= 0, got seq_len={seq_len}, in_channels={in_channels}, dim={dim}, "
                             f"depth={depth}, patch_size={patch_size}, num_classes={num_classes}")
        if ensemble_size < 1:
            raise ValueError(f"MLPMixer1D: ensemble_size must be >= 1, got {ensemble_size}")
        super().__init__()
        categories = dict(categories or {})
        self.embed = TabularEmbedding(seq_len, dim, in_channels=in_channels, patch_size=patch_size, tokens=tokens,
                                      categorical_positions=sorted(categories),
                                      numeric_embedding=numeric_embedding, stem=stem)
        self.num_tokens, self.ensemble_size = self.embed.num_tokens, ensemble_size
        if ensemble_size > 1:
            self.member_scales = nn.Parameter(random_signs((ensemble_size, dim)))
        rates = np.linspace(0.0, drop_path, depth) if depth > 1 else [drop_path] * depth
        self.blocks = nn.ModuleList(MixerBlock(num_tokens=self.num_tokens, dim=dim, token_expansion=token_expansion,
                                               channel_expansion=channel_expansion, dropout=dropout,
                                               drop_path=float(rate), token_mixer=token_mixer, norm_layer=norm_layer)
                                    for rate in rates)
        self.norm = norm_layer(dim)
        self.head = StackedLinear(ensemble_size, dim, num_classes) if ensemble_size > 1 else \
            nn.Linear(dim, num_classes)
        # Built last, as it always was: a seed draws the same initial weights, and the parameters keep their order
        # (which optimiser states, SparseSAM's masks and noisy updates index).
        self.category_embedding = CategoryEmbedding(categories, dim, seq_len, self.embed.patch_size) \
            if categories else None

    @property
    def patch_size(self) -> int:
        return self.embed.patch_size

    @property
    def padding(self) -> int:
        return self.embed.padding

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        """Logits of shape (batch, num_classes), or (batch, ensemble_size, num_classes) for an ensemble."""
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.head.weight.dtype)
        h = self.embed(x)
        if self.category_embedding is not None:
            h = h + self.category_embedding(x)
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

    @staticmethod
    def upgrade_state_dict(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A state dict saved before the tokenisation moved into `embed` (proj.*, stem.*, numeric_embedding.*), under
        today's names; a current one as it is."""
        moved = ("proj.", "stem.", "numeric_embedding.")
        return {("embed." + name if name.startswith(moved) else name): value for name, value in state.items()}
