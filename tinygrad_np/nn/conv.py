"""Convolution layers and the channels-first LayerNorm, initialised as PyTorch initialises them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..device import check_device
from ..engine import Tensor
from ..errors import ShapeError
from ..ops.conv import conv_pads, ntuple
from . import functional as F
from . import init
from .module import Module, Parameter


class _ConvNd(Module):
    """Weight (out_channels, in_channels / groups, *kernel) (transposed: (in_channels, out_channels / groups,
    *kernel)): Kaiming-uniform with a = sqrt(5), i.e. uniform(+-1/sqrt(fan_in)) with fan_in = weight.shape[1] *
    prod(kernel_size), and bias uniform(+-1/sqrt(fan_in)): PyTorch's default. `padding_mode` "zeros", "reflect",
    "replicate" or "circular" (the non-zero modes pad with F.pad first); `device` the CPU; `generator` seeds the
    initialisation (an extension)."""

    nd = 0
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] | str = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, *, generator: np.random.Generator | None = None):
        super().__init__()
        name = type(self).__name__
        check_device(device, name)
        kernel = ntuple(kernel_size, self.nd, "kernel_size", name)
        if in_channels < 1 or out_channels < 1 or groups < 1 or min(kernel) < 1:
            raise ValueError(f"{name}: in_channels, out_channels, groups and kernel_size must be >= 1, got "
                             f"in_channels={in_channels}, out_channels={out_channels}, groups={groups}, "
                             f"kernel_size={kernel}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{name}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got "
                             f"{padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only 'zeros' padding mode is supported")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups)) + kernel
        dtype = np.float32 if dtype is None else dtype
        self.weight = init.kaiming_uniform_(Parameter(np.zeros(shape), dtype=dtype), a=math.sqrt(5),
                                            generator=generator)
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(init.fan_in_and_out(shape)[0])
            self.bias = init.uniform_(Parameter(np.zeros(out_channels), dtype=dtype), -bound, bound, generator)

    def _padded(self, x: Tensor) -> tuple[Tensor, Any]:
        """x padded by padding_mode (and the conv then unpadded), or x and the padding for the conv itself."""
        if self.padding_mode == "zeros":
            return x, self.padding
        kernel, dilation = self.kernel_size, ntuple(self.dilation, self.nd, "dilation", type(self).__name__)
        stride = ntuple(self.stride, self.nd, "stride", type(self).__name__)
        pads = conv_pads(type(self).__name__, self.padding, kernel, stride, dilation)
        widths = [w for before_after in reversed(pads) for w in before_after]
        return F.pad(x, widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        options = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"]
        defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}
        if self.transposed:
            defaults["output_padding"] = 0
        options += [f"{name}={getattr(self, name)}" for name, default in defaults.items()
                    if getattr(self, name) != default]
        if self.padding_mode != "zeros":
            options.append(f"padding_mode={self.padding_mode}")
        return ", ".join(options) + ("" if self.bias is not None else ", bias=False")


class Conv1d(_ConvNd):
    """1-D convolution of (batch, in_channels, length), PyTorch's nn.Conv1d (padding: int, "valid", "same")."""

    nd = 1

    def forward(self, x: Tensor) -> Tensor:
        x, padding = self._padded(x)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution of (batch, in_channels, height, width), PyTorch's nn.Conv2d."""

    nd = 2

    def forward(self, x: Tensor) -> Tensor:
        x, padding = self._padded(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution of (batch, in_channels, depth, height, width), PyTorch's nn.Conv3d."""

    nd = 3

    def forward(self, x: Tensor) -> Tensor:
        x, padding = self._padded(x)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """PyTorch's nn.ConvTranspose: its constructor (in_channels, out_channels, kernel_size, stride, padding,
    output_padding, groups, bias, dilation, padding_mode, device, dtype); forward(input, output_size=None), where
    output_size (the spatial sizes, or with batch and channels) picks the output_padding that reaches it."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 output_padding: int | Sequence[int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | Sequence[int] = 1, padding_mode: str = "zeros", device: Any = None, dtype: Any = None,
                 *, generator: np.random.Generator | None = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, generator=generator)
        self.output_padding = output_padding

    def _output_padding(self, x: Tensor, output_size: Sequence[int] | None) -> Any:
        if output_size is None:
            return self.output_padding
        name, nd = type(self).__name__, self.nd
        sizes = tuple(output_size)[len(output_size) - nd:]
        stride, padding = ntuple(self.stride, nd, "stride", name), ntuple(self.padding, nd, "padding", name)
        dilation = ntuple(self.dilation, nd, "dilation", name)
        extra = []
        for n, size, k, s, p, d in zip(x.shape[x.ndim - nd:], sizes, self.kernel_size, stride, padding, dilation,
                                       strict=True):
            smallest = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= size < smallest + s:
                raise ValueError(f"{name}: requested an output size of {tuple(sizes)}, but valid sizes range from "
                                 f"{smallest} to {smallest + s - 1} for an input of {x.shape}")
            extra.append(size - smallest)
        return tuple(extra)

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        convolve = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self.nd - 1]
        return convolve(x, self.weight, self.bias, self.stride, self.padding, self._output_padding(x, output_size),
                        self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """The adjoint of Conv1d (a learned upsampling), PyTorch's nn.ConvTranspose1d."""

    nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """The adjoint of Conv2d, PyTorch's nn.ConvTranspose2d."""

    nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    """The adjoint of Conv3d, PyTorch's nn.ConvTranspose3d."""

    nd = 3


class ChannelsFirstLayerNorm(Module):
    """LayerNorm over the channels of (batch, channels, *spatial) at each position, with a learned
    scale (ones) and shift (zeros) per channel: ConvNeXt's `LayerNorm(data_format="channels_first")`
    (eps 1e-6, ConvNeXt's value). It runs the fused last-dim LayerNorm on a channels-last view
    (`F.channels_first_layer_norm`) and permutes back."""

    def __init__(self, num_channels: int, eps: float = 1e-6, dtype: Any = np.float32):
        super().__init__()
        self.num_channels, self.eps = num_channels, eps
        self.weight = Parameter(np.ones(num_channels), dtype=dtype)
        self.bias = Parameter(np.zeros(num_channels), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"ChannelsFirstLayerNorm({self.num_channels}): input of shape {x.shape} must be "
                             f"(batch, {self.num_channels}, ...)")
        return F.channels_first_layer_norm(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}"
