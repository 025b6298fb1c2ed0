"""Pooling, unpooling, im2col (Unfold/Fold), upsampling and padding layers over `nn.functional`, with PyTorch's
names, constructor arguments and reprs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine import Tensor
from ..ops.conv import ntuple
from . import functional as F
from .module import Module

IntOrTuple = int | Sequence[int]


def _options(module: Module, names: Sequence[str]) -> str:
    return ", ".join(f"{name}={getattr(module, name)}" for name in names)


class _MaxPoolNd(Module):
    nd = 0

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 dilation: IntOrTuple = 1, return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation, self.return_indices, self.ceil_mode = padding, dilation, return_indices, ceil_mode

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self.nd - 1]
        return pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return _options(self, ("kernel_size", "stride", "padding", "dilation", "ceil_mode"))


class MaxPool1d(_MaxPoolNd):
    nd = 1


class MaxPool2d(_MaxPoolNd):
    nd = 2


class MaxPool3d(_MaxPoolNd):
    nd = 3


class AvgPool1d(Module):
    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.stride = ntuple(kernel_size, 1, "kernel_size", "AvgPool1d"), \
            ntuple(kernel_size if stride is None else stride, 1, "stride", "AvgPool1d")
        self.padding = ntuple(padding, 1, "padding", "AvgPool1d")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return _options(self, ("kernel_size", "stride", "padding"))


class _AvgPoolNd(Module):
    nd = 0

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        pool = F.avg_pool2d if self.nd == 2 else F.avg_pool3d
        return pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                    self.divisor_override)

    def extra_repr(self) -> str:
        return _options(self, ("kernel_size", "stride", "padding"))


class AvgPool2d(_AvgPoolNd):
    nd = 2


class AvgPool3d(_AvgPoolNd):
    nd = 3


class _AdaptivePool(Module):
    function: Any = None

    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return type(self).function(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    function = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    function = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePool):
    function = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return type(self).function(x, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    function = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    function = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    function = staticmethod(F.adaptive_max_pool3d)


class _MaxUnpoolNd(Module):
    nd = 0

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = ntuple(kernel_size, self.nd, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else ntuple(stride, self.nd, "stride", name)
        self.padding = ntuple(padding, self.nd, "padding", name)

    def forward(self, x: Tensor, indices: Any, output_size: Sequence[int] | None = None) -> Tensor:
        unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self.nd - 1]
        return unpool(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return _options(self, ("kernel_size", "stride", "padding"))


class MaxUnpool1d(_MaxUnpoolNd):
    nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    nd = 3


class Unfold(Module):
    """im2col: the sliding windows of (N, C, H, W) as columns (N, C * KH * KW, windows)."""

    def __init__(self, kernel_size: IntOrTuple, dilation: IntOrTuple = 1, padding: IntOrTuple = 0,
                 stride: IntOrTuple = 1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return _options(self, ("kernel_size", "dilation", "padding", "stride"))


class Fold(Unfold):
    """col2im, the adjoint of Unfold: columns summed into (N, C, *output_size)."""

    def __init__(self, output_size: IntOrTuple, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
                 padding: IntOrTuple = 0, stride: IntOrTuple = 1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return _options(self, ("output_size", "kernel_size", "dilation", "padding", "stride"))


class Upsample(Module):
    """F.interpolate as a layer: to `size` or by `scale_factor`, with `mode` and `align_corners`."""

    def __init__(self, size: IntOrTuple | None = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = None if scale_factor is None else (
            tuple(float(f) for f in scale_factor) if isinstance(scale_factor, (tuple, list)) else float(scale_factor))
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor}" if self.scale_factor is not None else f"size={self.size}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size: IntOrTuple | None = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with align_corners=True (this layer's PyTorch definition)."""

    def __init__(self, size: IntOrTuple | None = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _PadNd(Module):
    """F.pad of the last `nd` dims by `padding`: an int for every side, or (left, right, top, bottom, front,
    back) as F.pad's order."""

    nd, mode = 0, "constant"

    def __init__(self, padding: IntOrTuple, value: float | None = None):
        super().__init__()
        self.padding = (padding,) * (2 * self.nd) if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2 * self.nd:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {2 * self.nd} ints, got {padding!r}")
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.padding, self.mode, self.value)

    def extra_repr(self) -> str:
        if type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _pad_class(name: str, nd: int, mode: str, constant_value: float | None = None) -> type[_PadNd]:
    """A padding layer: ConstantPad (a value), ZeroPad (zeros), ReflectionPad, ReplicationPad and CircularPad."""
    if mode == "constant" and constant_value is None:
        def init(self: _PadNd, padding: IntOrTuple, value: float) -> None:
            _PadNd.__init__(self, padding, value)
    elif mode == "constant":
        def init(self: _PadNd, padding: IntOrTuple) -> None:
            _PadNd.__init__(self, padding, constant_value)
    else:
        def init(self: _PadNd, padding: IntOrTuple) -> None:
            _PadNd.__init__(self, padding)
    return type(name, (_PadNd,), {"nd": nd, "mode": mode, "__init__": init, "__module__": __name__,
                                  "__doc__": f"PyTorch's nn.{name}: F.pad of the last {nd} dims, mode {mode!r}."})


ConstantPad1d, ConstantPad2d, ConstantPad3d = (_pad_class(f"ConstantPad{n}d", n, "constant") for n in (1, 2, 3))
ZeroPad1d, ZeroPad2d, ZeroPad3d = (_pad_class(f"ZeroPad{n}d", n, "constant", 0.0) for n in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_pad_class(f"ReflectionPad{n}d", n, "reflect") for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_pad_class(f"ReplicationPad{n}d", n, "replicate")
                                                        for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_pad_class(f"CircularPad{n}d", n, "circular") for n in (1, 2, 3))
