"""Convolutional and hybrid conv + Mixer models for a 1-D sequence of features.

Blocks:
  * `ConvNeXtBlock1D`: ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s", arXiv:2201.03545).
  * `ResNeXtBlock1D`: a ResNeXt bottleneck (Xie et al. 2017, "Aggregated Residual Transformations for
    Deep Neural Networks", arXiv:1611.05431) whose grouped convolution is depthwise by default, i.e. a
    depthwise-separable convolution (Chollet 2017, arXiv:1610.02357) inside a bottleneck.
  * `ResNetBlock1D`: the basic ResNet block (He et al. 2016, arXiv:1512.03385).
Every block uses LayerNorm over channels instead of BatchNorm.

Models (all map (batch, seq_len) or (batch, seq_len, in_channels) to (batch, num_classes) logits):
  * `ConvNeXt1D`, `ResNeXt1D`: a conv stem, stages of conv blocks with a strided-conv downsampling
    between stages (channels doubling), global average pooling, LayerNorm, Linear head.
  * `HybridMixer`: the same stages, each ending in MLP-Mixer blocks (Tolstikhin et al. 2021,
    arXiv:2105.01601): conv blocks first, Mixer blocks last in every stage -- the "Alter-ResNet" /
    AlterNet rule of Park & Kim 2022, "How Do Vision Transformers Work?" (arXiv:2202.06709), with the
    Mixer's token MLP as the global-mixing block in place of self-attention.

Layouts: conv blocks keep activations channels-first (batch, channels, length), PyTorch's Conv1d
layout; Mixer blocks keep them tokens-first (length, batch, channels). A stage transposes once into
the Mixer layout, and the next stage once back.

Default stage depths, when only a total `depth` is given, put more blocks in the early stages
(`split_depth`). The conv block of a stage is a layer factory (`ConvBlockLayer`), as timm passes layers: a block
class, or `functools.partial` of one with its options bound.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn

from .mlp_mixer import MixerBlock

Activation = Callable[[Tensor], Tensor]
ConvBlockLayer = Callable[..., nn.Module]
"""(dim, drop_path=rate) -> a residual block mapping (batch, dim, length) to the same shape."""


def check_odd_kernel(block: str, kernel_size: int) -> None:
    """'Same' padding of kernel_size // 2 keeps the length only for odd kernels."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"{block}: kernel_size must be odd and >= 1 (padding kernel_size // 2 keeps the "
                         f"length), got {kernel_size}")


class ConvNeXtBlock1D(nn.Module):
    """x + DropPath(gamma * Linear(GELU(Linear(LN(DepthwiseConv(x)))))) on (batch, dim, length).

    The ConvNeXt block (Liu et al. 2022, arXiv:2201.03545): a depthwise conv of kernel_size (padding
    kernel_size // 2), LayerNorm over channels, a pointwise MLP widening `expansion` times with GELU,
    and a learned per-channel layer scale `gamma` (Touvron et al. 2021) initialised to
    `layer_scale_init` (0 turns it off). The LayerNorm and MLP run channels-last.
    """

    def __init__(self, dim: int, kernel_size: int = 7, expansion: float = 4, layer_scale_init: float = 1e-6,
                 drop_path: float = 0.0):
        check_odd_kernel("ConvNeXtBlock1D", kernel_size)
        super().__init__()
        hidden = max(1, int(dim * expansion))
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, hidden)
        self.pwconv2 = nn.Linear(hidden, dim)
        self.gamma = nn.Parameter(np.full(dim, layer_scale_init)) if layer_scale_init > 0 else None
        self.drop_path = nn.DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).transpose(1, 2)  # (batch, length, dim)
        h = self.pwconv2(F.gelu(self.pwconv1(self.norm(h))))
        if self.gamma is not None:
            h = h * self.gamma
        return x + self.drop_path(h.transpose(1, 2))


class ResNeXtBlock1D(nn.Module):
    """act(x + DropPath(LN(PW(act(LN(GroupedConv(act(LN(PW(x)))))))))) on (batch, dim, length).

    The ResNeXt bottleneck (Xie et al. 2017, arXiv:1611.05431): a pointwise conv to `width` =
    dim * expansion channels, a grouped conv of kernel_size with `groups` groups (None: one group
    per channel, i.e. depthwise, making the grouped conv and the pointwise conv after it a
    depthwise-separable convolution), a pointwise conv back to dim; each conv followed by a
    channels-first LayerNorm (not BatchNorm).
    """

    def __init__(self, dim: int, kernel_size: int = 3, expansion: float = 1.0, groups: int | None = None,
                 act_layer: Activation = F.gelu, drop_path: float = 0.0):
        check_odd_kernel("ResNeXtBlock1D", kernel_size)
        super().__init__()
        width = max(1, int(dim * expansion))
        groups = width if groups is None else groups
        if width % groups:
            raise ValueError(f"ResNeXtBlock1D: groups={groups} must divide the bottleneck width {width} "
                             f"(dim={dim} * expansion={expansion})")
        self.act = act_layer
        self.reduce = nn.Conv1d(dim, width, 1)
        self.norm1 = nn.ChannelsFirstLayerNorm(width)
        self.conv = nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2, groups=groups)
        self.norm2 = nn.ChannelsFirstLayerNorm(width)
        self.expand = nn.Conv1d(width, dim, 1)
        self.norm3 = nn.ChannelsFirstLayerNorm(dim)
        self.drop_path = nn.DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.norm1(self.reduce(x)))
        h = self.act(self.norm2(self.conv(h)))
        return self.act(x + self.drop_path(self.norm3(self.expand(h))))


class ResNetBlock1D(nn.Module):
    """act(x + DropPath(LN(Conv(act(LN(Conv(x))))))) on (batch, dim, length): the basic ResNet
    block (He et al. 2016, arXiv:1512.03385) with two convs of kernel_size and channels-first
    LayerNorm in place of BatchNorm."""

    def __init__(self, dim: int, kernel_size: int = 3, act_layer: Activation = F.gelu, drop_path: float = 0.0):
        check_odd_kernel("ResNetBlock1D", kernel_size)
        super().__init__()
        self.act = act_layer
        self.conv1 = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2)
        self.norm1 = nn.ChannelsFirstLayerNorm(dim)
        self.conv2 = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2)
        self.norm2 = nn.ChannelsFirstLayerNorm(dim)
        self.drop_path = nn.DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.norm1(self.conv1(x)))
        return self.act(x + self.drop_path(self.norm2(self.conv2(h))))


CONV_BLOCKS: dict[str, ConvBlockLayer] = {"convnext": ConvNeXtBlock1D, "resnext": ResNeXtBlock1D,
                                          "resnet": ResNetBlock1D}


def split_depth(depth: int, num_stages: int, minimum: int = 1) -> tuple[int, ...]:
    """`depth` blocks over `num_stages` stages, at least `minimum` each, the rest weighted
    num_stages : num_stages - 1 : ... : 1 so that early stages get more (ties to the earliest):
    4 over 2 -> (3, 1); 6 over 3 -> (3, 2, 1); with minimum 2, 6 over 2 -> (4, 2)."""
    if num_stages < 1 or depth < minimum * num_stages:
        raise ValueError(f"depth={depth} cannot fill num_stages={num_stages} stages of at least {minimum} blocks")
    rest = depth - minimum * num_stages
    weights = np.arange(num_stages, 0, -1)
    shares = rest * weights // weights.sum()
    shares[: rest - shares.sum()] += 1
    return tuple(int(minimum + s) for s in shares)


class Stage1D(nn.Module):
    """An optional downsampling (LayerNorm + Conv1d kernel 3, stride 2, padding 1: length
    ceil(L / 2), channels in_dim -> dim), conv blocks on (batch, dim, length), then Mixer blocks on
    (length, batch, dim). Takes channels-first input; returns tokens-first when it has Mixer blocks."""

    def __init__(self, in_dim: int, dim: int, downsample: bool, conv_blocks: list[nn.Module],
                 mixer_blocks: list[nn.Module]):
        super().__init__()
        self.downsample = nn.Sequential(nn.ChannelsFirstLayerNorm(in_dim),
                                        nn.Conv1d(in_dim, dim, 3, stride=2, padding=1)) if downsample else None
        self.conv_blocks, self.mixer_blocks = nn.ModuleList(conv_blocks), nn.ModuleList(mixer_blocks)

    @property
    def tokens_first(self) -> bool:
        return len(self.mixer_blocks) > 0

    def forward(self, x: Tensor) -> Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        for block in self.conv_blocks:
            x = block(x)
        if len(self.mixer_blocks):
            x = x.permute(2, 0, 1)
            for block in self.mixer_blocks:
                x = block(x)
        return x


class StagedConvNet1D(nn.Module):
    """The shared backbone: stem -> stages -> mean over positions -> LayerNorm -> dropout -> Linear.

    stem: Conv1d(in_channels, dim, stem_kernel, stride=patch_size, padding=stem_kernel // 2) and
    a channels-first LayerNorm (ConvNeXt's stem is a patchify conv + LN): patch_size 1 keeps all
    seq_len positions, patch_size p leaves ceil(seq_len / p). `position_embedding` adds a learned
    (dim, positions) embedding after the stem, truncated normal(0, 1) to match the LayerNorm'd stem
    output: the positions are different features, not a translation-invariant signal, and a conv
    stack ending in global average pooling otherwise tells them apart only through the zero padding
    at the ends (measured on a rule over features 5, 6 and 30, 400 Adam steps, dim 16: held-out
    accuracy ConvNeXt1D 0.52 without / with a std-0.02 embedding, 0.87 with std 1; ResNeXt1D 0.51
    without, 0.76-0.78 with).
    Stage i has dim * 2**i channels, conv_depths[i] conv blocks `block(stage_dim, drop_path=rate)` and then
    mixer_depths[i] Mixer blocks. Drop-path rises linearly from 0 to `drop_path` over all blocks;
    `dropout` acts inside Mixer blocks and before the head.
    """

    def __init__(self, *, seq_len: int, in_channels: int, dim: int, conv_depths: Sequence[int],
                 mixer_depths: Sequence[int], block: ConvBlockLayer, token_expansion: float,
                 channel_expansion: float, patch_size: int, stem_kernel: int,
                 position_embedding: bool, dropout: float, drop_path: float, num_classes: int):
        name = type(self).__name__
        if seq_len < 1 or in_channels < 1 or dim < 1 or patch_size < 1 or num_classes < 1:
            raise ValueError(f"{name}: seq_len, in_channels, dim, patch_size and num_classes must be >= 1, got "
                             f"seq_len={seq_len}, in_channels={in_channels}, dim={dim}, patch_size={patch_size}, "
                             f"num_classes={num_classes}")
        if len(conv_depths) != len(mixer_depths) or not conv_depths or min(conv_depths) < 0 or min(mixer_depths) < 0:
            raise ValueError(f"{name}: conv_depths {tuple(conv_depths)} and mixer_depths {tuple(mixer_depths)} must "
                             "be non-empty, of equal length and >= 0")
        check_odd_kernel(f"{name} stem", stem_kernel)
        super().__init__()
        self.seq_len, self.in_channels = seq_len, in_channels
        self.stem = nn.Conv1d(in_channels, dim, stem_kernel, stride=patch_size, padding=stem_kernel // 2)
        self.stem_norm = nn.ChannelsFirstLayerNorm(dim)
        length = (seq_len - 1) // patch_size + 1
        self.position_embedding = None
        if position_embedding:
            self.position_embedding = nn.init.trunc_normal_(nn.Parameter(np.zeros((dim, length))))
        rates = iter(np.linspace(0.0, drop_path, sum(conv_depths) + sum(mixer_depths)).tolist())
        self.stages = nn.ModuleList()
        in_dim = dim
        for i, (n_conv, n_mixer) in enumerate(zip(conv_depths, mixer_depths, strict=True)):
            stage_dim = dim * 2**i
            if i > 0:
                length = (length - 1) // 2 + 1
            convs = [block(stage_dim, drop_path=next(rates)) for _ in range(n_conv)]
            mixers = [MixerBlock(num_tokens=length, dim=stage_dim, token_expansion=token_expansion,
                                 channel_expansion=channel_expansion, dropout=dropout, drop_path=next(rates))
                      for _ in range(n_mixer)]
            self.stages.append(Stage1D(in_dim, stage_dim, i > 0, convs, mixers))
            in_dim = stage_dim
        self.norm = nn.LayerNorm(in_dim, eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(in_dim, num_classes)

    def channels_first(self, x: Tensor) -> Tensor:
        """(batch, seq_len[, in_channels]) -> (batch, in_channels, seq_len)."""
        if x.ndim == 2 and self.in_channels == 1 and x.shape[1] == self.seq_len:
            return x.reshape(x.shape[0], 1, self.seq_len)
        if x.ndim == 3 and x.shape[1:] == (self.seq_len, self.in_channels):
            return x.reshape(x.shape[0], 1, self.seq_len) if self.in_channels == 1 else x.transpose(1, 2)
        one_channel = f" or (batch, {self.seq_len})" if self.in_channels == 1 else ""
        raise ValueError(f"{type(self).__name__}: input of shape {x.shape} does not fit seq_len={self.seq_len}, "
                         f"in_channels={self.in_channels}; expected (batch, {self.seq_len}, {self.in_channels})"
                         f"{one_channel}")

    def forward(self, x: Tensor | np.ndarray) -> Tensor:
        """Logits of shape (batch, num_classes)."""
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.head.weight.dtype)
        h = self.stem_norm(self.stem(self.channels_first(x)))
        if self.position_embedding is not None:
            h = h + self.position_embedding
        tokens_first = False
        for stage in self.stages:
            if tokens_first:
                h = h.permute(1, 2, 0)
            h = stage(h)
            tokens_first = stage.tokens_first
        pooled = h.mean(dim=0 if tokens_first else -1)
        return self.head(self.dropout(self.norm(pooled)))


def stage_depths(name: str, depth: int, depths: Sequence[int] | None, num_stages: int,
                 minimum: int) -> tuple[int, ...]:
    if depths is None:
        return split_depth(depth, num_stages, minimum)
    depths = tuple(int(d) for d in depths)
    if not depths or min(depths) < minimum:
        raise ValueError(f"{name}: depths {depths} must be non-empty with at least {minimum} blocks per stage")
    return depths


class ConvNeXt1D(StagedConvNet1D):
    """ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s", arXiv:2201.03545) for a 1-D feature
    sequence: conv stem + LN (+ position embedding), stages of ConvNeXt blocks (channels doubling,
    length halving between stages), global average pooling, LayerNorm, Linear head.

    depths: blocks per stage; None splits `depth` over `num_stages`, front-loaded (4 over 2 -> (3, 1)).
    patch_size: the stem's stride (1: all seq_len positions; 3: 14 positions of 42).
    """

    def __init__(self, seq_len: int = 42, in_channels: int = 1, dim: int = 64, depth: int = 4,
                 depths: Sequence[int] | None = None, num_stages: int = 2, kernel_size: int = 7,
                 expansion: float = 4, patch_size: int = 1, stem_kernel: int = 3, position_embedding: bool = True,
                 dropout: float = 0.0, drop_path: float = 0.0, num_classes: int = 1):
        conv_depths = stage_depths("ConvNeXt1D", depth, depths, num_stages, 1)
        super().__init__(seq_len=seq_len, in_channels=in_channels, dim=dim, conv_depths=conv_depths,
                         mixer_depths=(0,) * len(conv_depths),
                         block=functools.partial(ConvNeXtBlock1D, kernel_size=kernel_size, expansion=expansion),
                         token_expansion=0.0, channel_expansion=0.0, patch_size=patch_size,
                         stem_kernel=stem_kernel, position_embedding=position_embedding, dropout=dropout,
                         drop_path=drop_path, num_classes=num_classes)


class ResNeXt1D(StagedConvNet1D):
    """ConvNeXt1D's macro design (stem, stages, downsampling, head) with ResNeXt bottleneck blocks
    (Xie et al. 2017, arXiv:1611.05431) whose grouped conv is depthwise: the "resnext" model.

    expansion: bottleneck width / dim; groups: the grouped conv's groups (None: depthwise);
    depths, depth, num_stages, patch_size as in ConvNeXt1D.
    """

    def __init__(self, seq_len: int = 42, in_channels: int = 1, dim: int = 64, depth: int = 4,
                 depths: Sequence[int] | None = None, num_stages: int = 2, kernel_size: int = 3,
                 expansion: float = 1.0, patch_size: int = 1, stem_kernel: int = 3, position_embedding: bool = True,
                 dropout: float = 0.0, drop_path: float = 0.0, num_classes: int = 1):
        conv_depths = stage_depths("ResNeXt1D", depth, depths, num_stages, 1)
        super().__init__(seq_len=seq_len, in_channels=in_channels, dim=dim, conv_depths=conv_depths,
                         mixer_depths=(0,) * len(conv_depths),
                         block=functools.partial(ResNeXtBlock1D, kernel_size=kernel_size, expansion=expansion),
                         token_expansion=0.0, channel_expansion=0.0, patch_size=patch_size,
                         stem_kernel=stem_kernel, position_embedding=position_embedding, dropout=dropout,
                         drop_path=drop_path, num_classes=num_classes)


class HybridMixer(StagedConvNet1D):
    """Conv blocks first, MLP-Mixer blocks last, in every stage: Park & Kim's "Alter-ResNet" design
    ("How Do Vision Transformers Work?", ICLR 2022, arXiv:2202.06709: local conv blocks at the start
    of a stage, global-mixing blocks at its end), with Mixer blocks (Tolstikhin et al. 2021,
    arXiv:2105.01601) as the global blocks and a conv stem on the raw sequence instead of patchify.

    depths: blocks per stage, conv and Mixer together; the last `mixers_per_stage` of each stage are
        Mixer blocks, the rest (at least one) conv blocks. None splits `depth` over `num_stages`,
        front-loaded (4 over 2 -> (2, 2): conv, Mixer | conv, Mixer; 6 -> (4, 2)).
    block: the conv block, a `ConvBlockLayer` (`CONV_BLOCKS` by name: ConvNeXtBlock1D, ResNeXtBlock1D or
        ResNetBlock1D; `functools.partial(ConvNeXtBlock1D, kernel_size=5)` for other options than the block's own).
    token_expansion, channel_expansion: the Mixer blocks' MLP widths, as in MLPMixer1D.
    patch_size: the stem's stride (1: all seq_len positions become tokens; 3: 14 tokens of 42).
    """

    def __init__(self, seq_len: int = 42, in_channels: int = 1, dim: int = 64, depth: int = 4,
                 depths: Sequence[int] | None = None, num_stages: int = 2, mixers_per_stage: int = 1,
                 block: ConvBlockLayer = ConvNeXtBlock1D, token_expansion: float = 4.0,
                 channel_expansion: float = 0.5, patch_size: int = 1, stem_kernel: int = 3,
                 position_embedding: bool = True, dropout: float = 0.0, drop_path: float = 0.0, num_classes: int = 1):
        if mixers_per_stage < 0:
            raise ValueError(f"HybridMixer: mixers_per_stage must be >= 0, got {mixers_per_stage}")
        totals = stage_depths("HybridMixer", depth, depths, num_stages, mixers_per_stage + 1)
        super().__init__(seq_len=seq_len, in_channels=in_channels, dim=dim,
                         conv_depths=[n - mixers_per_stage for n in totals],
                         mixer_depths=(mixers_per_stage,) * len(totals), block=block,
                         token_expansion=token_expansion, channel_expansion=channel_expansion,
                         patch_size=patch_size, stem_kernel=stem_kernel, position_embedding=position_embedding,
                         dropout=dropout, drop_path=drop_path, num_classes=num_classes)
