"""A masked autoencoder with MLP-Mixer blocks for UNSW-NB15 rows (He et al. 2022, "Masked Autoencoders Are
Scalable Vision Learners", arXiv:2111.06377), pretrained without labels and then used to initialise `MLPMixer1D`.

Layouts: activations are tokens-first, (tokens, batch, channels), as in `mlp_mixer.py`; the per-sample index
arrays of the masking (`ids_shuffle`, `ids_restore`) and the binary `mask` are (batch, tokens), as in MAE's code,
because each row of them is one sample's permutation.

Two encoders, chosen by `encoder_tokens`:

- "kept" (MAE's original, the default): the encoder sees only the kept tokens, so its token-mixing MLPs are sized
  for `len_keep` tokens and a learned position embedding tells each token where it came from (the kept tokens sit
  in random slots, MAE's shuffle order).
- "all": the encoder sees all N tokens in their own positions, the removed ones replaced by a learned mask token
  (as SimMIM and BEiT do; MAE drops them). Its token-mixing MLPs are sized for N tokens and it needs no position
  embedding (a Mixer's token MLP is tied to positions, which is why `MLPMixer1D` has none), so EVERY encoder
  weight carries over to the classifier and a frozen encoder is a true linear probe. The decoder is identical in
  both modes: it reads the encoder's outputs at the kept positions only, so nothing leaks from removed tokens.

Carrying over to the classifier (`MixerMAE.classifier`): "all" loads the patch embedding, every Mixer block and the
final norm. "kept" loads the patch embedding, the norms and the channel-mixing MLPs, and re-initialises the
token-mixing MLPs (they were sized for `len_keep` slots of shuffled tokens, so they have neither the shape nor
the positional meaning the N-token classifier needs); its position embedding has no place in `MLPMixer1D` and is
dropped.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn
from tinygrad_np.random import default_generator

from .mlp_mixer import MixerBlock, MLPMixer1D

ENCODER_TOKENS: tuple[str, ...] = ("kept", "all")


class Masking(NamedTuple):
    """What `random_masking` returns. kept: (len_keep, batch, dim), the kept tokens in shuffled order; mask:
    (batch, N), 1 where a token was removed, in the original order; ids_shuffle / ids_restore: (batch, N)."""

    kept: Tensor
    mask: np.ndarray
    ids_shuffle: np.ndarray
    ids_restore: np.ndarray

    @property
    def ids_keep(self) -> np.ndarray:
        """(batch, len_keep): original positions of the kept tokens, in the order they appear in `kept`."""
        return self.ids_shuffle[:, :self.kept.shape[0]]


def kept_token_count(num_tokens: int, mask_ratio: float) -> int:
    """MAE's len_keep = int(N * (1 - mask_ratio)); 1e-9 absorbs float error (int(10 * (1 - 0.9)) is 0 otherwise)."""
    if not 0 <= mask_ratio < 1:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    len_keep = int(num_tokens * (1 - mask_ratio) + 1e-9)
    if len_keep < 1:
        raise ValueError(f"mask_ratio {mask_ratio} keeps no token of {num_tokens}; lower it")
    return len_keep


def random_masking(x: Tensor, mask_ratio: float, rng: np.random.Generator) -> Masking:
    """MAE's per-sample random masking of tokens-first `x` (N, batch, dim): uniform noise per sample and token,
    ids_shuffle = argsort(noise), ids_restore = argsort(ids_shuffle), keep the first len_keep of the shuffle.
    The kept tokens are picked with `take_along_dim`, so gradients flow back to them (and only them)."""
    if x.ndim != 3:
        raise ValueError(f"random_masking: expected tokens-first (tokens, batch, dim), got shape {x.shape}")
    num_tokens, batch = x.shape[0], x.shape[1]
    len_keep = kept_token_count(num_tokens, mask_ratio)
    noise = rng.random((batch, num_tokens))
    ids_shuffle = np.argsort(noise, axis=1, kind="stable")
    ids_restore = np.argsort(ids_shuffle, axis=1, kind="stable")
    kept = x.take_along_dim(ids_shuffle[:, :len_keep].T[:, :, None], dim=0)
    mask = np.ones((batch, num_tokens), dtype=x.dtype)
    mask[:, :len_keep] = 0
    mask = np.take_along_axis(mask, ids_restore, axis=1)
    return Masking(kept, mask, ids_shuffle, ids_restore)


def restore_order(kept: Tensor, mask_token: Tensor, ids_restore: np.ndarray) -> Tensor:
    """MAE's un-shuffle: append one copy of `mask_token` (1, 1, dim) per removed token to the kept tokens
    (len_keep, batch, dim) and gather with `ids_restore` back to the original order, (N, batch, dim)."""
    num_tokens = ids_restore.shape[1]
    len_keep, batch, dim = kept.shape
    if num_tokens > len_keep:
        kept = tg.cat([kept, mask_token.expand(num_tokens - len_keep, batch, dim)], dim=0)
    return kept.take_along_dim(ids_restore.T[:, :, None], dim=0)


def masked_patch_loss(prediction: Tensor, target: Any, mask: np.ndarray) -> Tensor:
    """MAE's loss: the mean squared error of each patch (mean over its values), averaged over the REMOVED patches
    only. prediction and target are tokens-first (N, batch, patch_size); mask is (batch, N), 1 = removed."""
    if prediction.shape[:2] != mask.shape[::-1]:
        raise ValueError(f"masked_patch_loss: prediction of shape {prediction.shape} does not fit a mask of shape "
                         f"{mask.shape} (expected (batch, tokens))")
    difference = prediction - target
    per_patch = (difference * difference).mean(dim=-1)
    removed = np.ascontiguousarray(mask.T, dtype=prediction.dtype)
    return (per_patch * removed).sum() / max(float(removed.sum()), 1.0)


def _position_embedding(num_tokens: int, dim: int) -> nn.Parameter:
    """A learned (num_tokens, 1, dim) embedding, truncated normal with std 0.02 (MAE's init of learned tokens)."""
    return nn.init.trunc_normal_(nn.Parameter(np.zeros((num_tokens, 1, dim))), std=0.02, a=-0.04, b=0.04)


class MAEOutput(NamedTuple):
    """loss: the masked reconstruction loss; prediction: (N, batch, patch_size) for every token; mask: (batch, N)."""

    loss: Tensor
    prediction: Tensor
    mask: np.ndarray


class MixerMAE(nn.Module):
    """A masked autoencoder whose encoder and decoder are Mixer blocks (He et al. 2022, arXiv:2111.06377).

    Encoder: patch embedding (`proj`, as `MLPMixer1D` patchifies) + learned position embedding ("kept" mode), random
    masking, `depth` Mixer blocks over the kept tokens ("kept") or over all tokens with a mask token in the removed
    places ("all"; see the module docstring for why), a final LayerNorm. Decoder: Linear to `decoder_dim`, a learned
    mask token for every removed position, the original order restored with `ids_restore`, a learned decoder position
    embedding, `decoder_depth` Mixer blocks over all N tokens, LayerNorm and a Linear to `patch_size` values per
    token. Loss: the mean squared error on the removed patches only, against per-patch normalised targets when
    `norm_pix_loss` (MAE's option; unbiased variance, as in MAE's code).

    The encoder's parts are those of `MLPMixer1D` (`proj`, the classifier's `embed.proj`; `blocks`; `norm`), so its
    weights load into a classifier by name (`classifier_state`).
    """

    def __init__(self, seq_len: int = 42, patch_size: int = 3, dim: int = 64, depth: int = 4, decoder_dim: int = 32,
                 decoder_depth: int = 1, mask_ratio: float = 0.5, norm_pix_loss: bool = False,
                 encoder_tokens: str = "kept", token_expansion: float = 4.0, channel_expansion: float = 0.5):
        if min(seq_len, patch_size, dim, decoder_dim) < 1 or depth < 0 or decoder_depth < 0:
            raise ValueError("MixerMAE: seq_len, patch_size, dim and decoder_dim must be >= 1 and the depths >= 0, got "
                             f"seq_len={seq_len}, patch_size={patch_size}, dim={dim}, decoder_dim={decoder_dim}, "
                             f"depth={depth}, decoder_depth={decoder_depth}")
        if encoder_tokens not in ENCODER_TOKENS:
            raise ValueError(f"MixerMAE: encoder_tokens must be one of {', '.join(ENCODER_TOKENS)}, "
                             f"got {encoder_tokens!r}")
        if norm_pix_loss and patch_size < 2:
            raise ValueError("MixerMAE: norm_pix_loss normalises each patch over its values; it needs patch_size >= 2")
        super().__init__()
        self.seq_len, self.patch_size, self.dim, self.depth = seq_len, patch_size, dim, depth
        self.decoder_dim, self.decoder_depth = decoder_dim, decoder_depth
        self.mask_ratio, self.norm_pix_loss, self.encoder_tokens = mask_ratio, norm_pix_loss, encoder_tokens
        self.token_expansion, self.channel_expansion = token_expansion, channel_expansion
        self.num_tokens = math.ceil(seq_len / patch_size)
        self.padding = self.num_tokens * patch_size - seq_len
        self.len_keep = kept_token_count(self.num_tokens, mask_ratio)

        encoder_tokens_seen = self.len_keep if encoder_tokens == "kept" else self.num_tokens
        self.proj = nn.Linear(patch_size, dim)
        self.pos_embed = _position_embedding(self.num_tokens, dim) if encoder_tokens == "kept" else None
        self.encoder_mask_token = _position_embedding(1, dim) if encoder_tokens == "all" else None
        self.blocks = nn.ModuleList(self._block(encoder_tokens_seen, dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = _position_embedding(1, decoder_dim)
        self.decoder_pos_embed = _position_embedding(self.num_tokens, decoder_dim)
        self.decoder_blocks = nn.ModuleList(self._block(self.num_tokens, decoder_dim) for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, patch_size)

    def _block(self, num_tokens: int, dim: int) -> MixerBlock:
        return MixerBlock(num_tokens=num_tokens, dim=dim, token_expansion=self.token_expansion,
                          channel_expansion=self.channel_expansion)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild this model from a checkpoint."""
        return {"seq_len": self.seq_len, "patch_size": self.patch_size, "dim": self.dim, "depth": self.depth,
                "decoder_dim": self.decoder_dim, "decoder_depth": self.decoder_depth, "mask_ratio": self.mask_ratio,
                "norm_pix_loss": self.norm_pix_loss, "encoder_tokens": self.encoder_tokens,
                "token_expansion": self.token_expansion, "channel_expansion": self.channel_expansion}

    # -- patches --------------------------------------------------------------------------------------------------
    def patchify(self, x: Tensor | np.ndarray) -> Tensor:
        """(batch, seq_len) -> tokens-first (N, batch, patch_size), zero-padded at the end as `MLPMixer1D` does."""
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.proj.weight.dtype)
        if x.ndim != 2 or x.shape[1] != self.seq_len:
            raise ValueError(f"MixerMAE: expected input of shape (batch, {self.seq_len}), got {x.shape}")
        if self.padding:
            x = F.pad(x, (0, self.padding))
        return x.reshape(x.shape[0], self.num_tokens, self.patch_size).transpose(0, 1)

    def target(self, patches: np.ndarray) -> np.ndarray:
        """The reconstruction target of (N, batch, patch_size) patches: as they are, or per-patch normalised."""
        if not self.norm_pix_loss:
            return patches
        mean = patches.mean(axis=-1, keepdims=True)
        var = patches.var(axis=-1, ddof=1, keepdims=True)
        return (patches - mean) / np.sqrt(var + 1e-6)

    # -- encoder and decoder -----------------------------------------------------------------------------------
    def _run_blocks(self, h: Tensor) -> Tensor:
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def encode(self, x: Tensor | np.ndarray, rng: np.random.Generator | None = None) -> tuple[Tensor, Masking]:
        """Encode a randomly masked batch: (len_keep, batch, dim) features of the kept tokens in shuffled order, and
        the masking. Masks come from `rng` (the global seeded generator by default)."""
        return self._encode_patches(self.patchify(x), rng)

    def _encode_patches(self, patches: Tensor, rng: np.random.Generator | None) -> tuple[Tensor, Masking]:
        tokens = self.proj(patches)
        if self.pos_embed is not None:
            tokens = tokens + self.pos_embed
        masking = random_masking(tokens, self.mask_ratio, rng or default_generator())
        if self.encoder_tokens == "kept":
            return self._run_blocks(masking.kept), masking
        encoded = self._run_blocks(restore_order(masking.kept, self.encoder_mask_token, masking.ids_restore))
        return encoded.take_along_dim(masking.ids_keep.T[:, :, None], dim=0), masking

    def decode(self, latent: Tensor, ids_restore: np.ndarray) -> Tensor:
        """Kept-token features (len_keep, batch, dim) in shuffled order -> (N, batch, patch_size) predictions."""
        h = restore_order(self.decoder_embed(latent), self.mask_token, ids_restore) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            h = block(h)
        return self.decoder_pred(self.decoder_norm(h))

    def forward(self, x: Tensor | np.ndarray, rng: np.random.Generator | None = None) -> MAEOutput:
        """Mask, encode, decode and score one batch (batch, seq_len)."""
        patches = self.patchify(x)
        latent, masking = self._encode_patches(patches, rng)
        prediction = self.decode(latent, masking.ids_restore)
        loss = masked_patch_loss(prediction, self.target(patches.numpy()), masking.mask)
        return MAEOutput(loss, prediction, masking.mask)

    # -- downstream use --------------------------------------------------------------------------------------
    def features(self, x: Tensor | np.ndarray) -> Tensor:
        """Pooled encoder features (batch, dim) of every token, no masking: the mean over tokens after the final
        norm. A "kept" encoder only takes `len_keep` tokens at once, so the N tokens are cut, in order, into
        ceil(N / len_keep) windows (the last one wrapping around to the first tokens), each window is encoded on its
        own and the result is the mean over all windows' tokens."""
        tokens = self.proj(self.patchify(x))
        if self.encoder_tokens == "all":
            return self._run_blocks(tokens).mean(dim=0)
        tokens = tokens + self.pos_embed
        windows = math.ceil(self.num_tokens / self.len_keep)
        order = np.resize(np.arange(self.num_tokens), windows * self.len_keep)
        batch, dim = tokens.shape[1], tokens.shape[2]
        picked = tokens[order].reshape(windows, self.len_keep, batch, dim).transpose(0, 1)
        encoded = self._run_blocks(picked.reshape(self.len_keep, windows * batch, dim))
        return encoded.mean(dim=0).reshape(windows, batch, dim).mean(dim=0)

    def classifier_state(self) -> dict[str, np.ndarray]:
        """The encoder weights that carry over to an `MLPMixer1D`, under its names (see the module docstring): the
        patch embedding (`embed.proj` there), the blocks and the final norm."""
        def carried(name: str) -> bool:
            if not name.startswith(("proj.", "blocks.", "norm.")):
                return False
            return self.encoder_tokens == "all" or ".token_mixing." not in name

        return {("embed." + name if name.startswith("proj.") else name): array
                for name, array in self.state_dict().items() if carried(name)}

    def classifier(self, num_classes: int = 1, dropout: float = 0.0, drop_path: float = 0.0) -> MLPMixer1D:
        """An `MLPMixer1D` of the same shape initialised from this encoder (`classifier_state`); the head, and in
        "kept" mode the token-mixing MLPs, keep their fresh initialisation."""
        model = MLPMixer1D(seq_len=self.seq_len, dim=self.dim, depth=self.depth, patch_size=self.patch_size,
                           token_expansion=self.token_expansion, channel_expansion=self.channel_expansion,
                           dropout=dropout, drop_path=drop_path, num_classes=num_classes)
        model.load_state_dict(self.classifier_state(), strict=False)
        return model

    def extra_repr(self) -> str:
        return (f"tokens={self.num_tokens}, len_keep={self.len_keep}, mask_ratio={self.mask_ratio}, "
                f"encoder_tokens={self.encoder_tokens!r}, norm_pix_loss={self.norm_pix_loss}")
