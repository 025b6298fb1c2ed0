"""Every op as a function, with PyTorch's names and arguments: the `torch.*` ones (`cat`, `where`, `exp`, ...) are
exported by `tinygrad_np` itself, the `torch.nn.functional` ones (`gelu`, `layer_norm`, `linear`, ...) by
`tinygrad_np.nn.functional`. Each calls the Tensor method or the op class that does the work; inputs that are not
Tensors (Python numbers, ndarrays) become constants.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import MaxMin, Tensor, _dim_index, _dims, _pair
from .ops import conv as conv_ops
from .ops import fused, movement, nn
from .random import default_generator

Dim = int | tuple[int, ...] | None
IntOrTuple = int | Sequence[int]

__all__ = [
    "abs", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "add", "allclose", "amax", "amin", "argmax", "argmin",
    "avg_pool1d", "avg_pool2d", "broadcast_to", "cat", "channels_first_layer_norm", "chunk", "clamp", "clip",
    "concat", "concatenate", "conv1d", "conv2d", "cos", "div", "drop_path", "dropout", "embedding", "erf", "exp",
    "flatten", "gather", "gelu", "index_select", "layer_norm", "linear", "log", "log_softmax", "logsumexp",
    "masked_fill", "matmul", "max", "max_pool1d", "max_pool2d", "maximum", "mean", "min", "minimum", "mul", "neg",
    "one_hot", "pad", "permute", "pow", "relu", "reshape", "rsqrt", "sigmoid", "silu", "sin", "softmax", "softplus",
    "softsign", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "swapaxes", "take_along_dim", "tanh",
    "tile", "transpose", "unbind", "unsqueeze", "var", "where",
]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# -- element-wise --------------------------------------------------------------------------------------------------
def add(input: Any, other: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002 - PyTorch's argument name
    """input + alpha * other."""
    if isinstance(input, Tensor):
        return input.add(other, alpha=alpha)
    scaled = _tensor(other) if alpha == 1 else _tensor(other) * alpha
    return scaled.__radd__(input)


def sub(input: Any, other: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """input - alpha * other."""
    if isinstance(input, Tensor):
        return input.sub(other, alpha=alpha)
    scaled = _tensor(other) if alpha == 1 else _tensor(other) * alpha
    return scaled.__rsub__(input)


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input * other if isinstance(input, Tensor) else _tensor(other).__rmul__(input)


def div(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input / other if isinstance(input, Tensor) else _tensor(other).__rtruediv__(input)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """input ** exponent; a Python-number exponent is a constant, a Tensor exponent gets a gradient."""
    return input ** exponent if isinstance(input, Tensor) else _tensor(exponent).__rpow__(input)


def neg(input: Tensor) -> Tensor:  # noqa: A002
    return -_tensor(input)


def exp(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).exp()


def log(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).log()


def sqrt(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sqrt()


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).rsqrt()


def abs(input: Tensor) -> Tensor:  # noqa: A001, A002
    return _tensor(input).abs()


def sin(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sin()


def cos(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).cos()


def erf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).erf()


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).relu()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """Exact GELU, x * Phi(x) with the normal CDF (one fused op), or approximate="tanh"."""
    return _tensor(input).gelu(approximate)


def silu(input: Tensor) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (swish)."""
    x = _tensor(input)
    return x * x.sigmoid()


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).tanh()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sigmoid()


def softplus(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).softplus()


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|): squashes to (-1, 1) like tanh, but with polynomial tails."""
    return _tensor(input).softsign()


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A001, A002
    """Clamp to [min, max]; the gradient passes where min <= x <= max."""
    return _tensor(input).clamp(min, max)


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Element-wise max; ties split the gradient evenly."""
    return input.maximum(other) if isinstance(input, Tensor) else _tensor(other).maximum(input)


def minimum(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input.minimum(other) if isinstance(input, Tensor) else _tensor(other).minimum(input)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """`input` where `condition` is true, else `other` (the condition is constant: no gradient)."""
    if isinstance(input, Tensor):
        return input.where(condition, other)
    if isinstance(other, Tensor):
        condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
        return other.where(~condition, input)
    return Tensor(np.asarray(input, dtype=np.float32)).where(condition, other)


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:  # noqa: A002
    return input.masked_fill(mask, value)


# -- matrix products -----------------------------------------------------------------------------------------------
def matmul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """numpy's and PyTorch's matmul: 1-D operands are promoted and the added axis removed again."""
    return input.matmul(other) if isinstance(input, Tensor) else _tensor(other).__rmatmul__(input)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None, *, dim: int = -1) -> Tensor:  # noqa: A002
    """input @ weight.T + bias over the last dim (PyTorch's F.linear), or weight @ input + bias over dim 0 (an
    extension: mixes the first dim in one GEMM without a transposed copy). weight is (out_features, in_features)."""
    params = (weight,) if bias is None else (weight, bias)
    x, _ = _pair(input, weight) if isinstance(input, Tensor) else (Tensor(input, dtype=weight.dtype), None)
    return fused.Linear.apply(x, *params, axis=dim)


# -- shape and selection --------------------------------------------------------------------------------------------
def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:  # noqa: A002
    return input.reshape(shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    return input.flatten(start_dim, end_dim)


def squeeze(input: Tensor, dim: Dim = None) -> Tensor:  # noqa: A002
    return input.squeeze(dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return input.unsqueeze(dim)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    return input.transpose(dim0, dim1)


swapaxes = transpose


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:  # noqa: A002
    return input.permute(*dims)


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:  # noqa: A002
    return input.broadcast_to(size)


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:  # noqa: A002
    """Repeat along each dim; fewer `dims` than the tensor has are padded with 1s in front (numpy's tile)."""
    dims = tuple(dims)
    return input.repeat(*(1,) * (input.ndim - len(dims)), *dims)


def gather(input: Tensor, dim: int, index: Any) -> Tensor:  # noqa: A002
    """PyTorch's gather (see `Tensor.gather`)."""
    return input.gather(dim, index)


def take_along_dim(input: Tensor, indices: Any, dim: int) -> Tensor:  # noqa: A002
    """numpy's take_along_axis (see `Tensor.take_along_dim`)."""
    return input.take_along_dim(indices, dim)


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:  # noqa: A002
    return input.index_select(dim, index)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    return input.chunk(chunks, dim)


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    return tensor.split(split_size_or_sections, dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    return input.unbind(dim)


def _joined(tensors: Sequence[Any], name: str) -> list[Tensor]:
    """The tensors, promoted to one dtype (constants take it)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}: need at least one tensor")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        return [Tensor(t) for t in tensors]
    for t in tensors:
        first, _ = _pair(first, t)
    return [_pair(first, t)[1] for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join along an existing dim (0 by default)."""
    tensors = _joined(tensors, "cat")
    d = _dim_index(_dims(dim, axis, "cat") or 0, tensors[0].ndim, "cat")
    return movement.Concatenate.apply(*tensors, axis=d)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join along a new dim (0 by default)."""
    tensors = _joined(tensors, "stack")
    d = _dim_index(_dims(dim, axis, "stack") or 0, tensors[0].ndim + 1, "stack")
    return movement.Stack.apply(*tensors, axis=d)


def pad(input: Tensor, pad: Sequence[Any], mode: str = "constant", value: float = 0.0) -> Tensor:  # noqa: A002
    """Constant padding. `pad` as PyTorch: (left, right) of the last dim, then (left, right) of the one before, and
    so on; numpy's `np.pad` form (one (before, after) pair per dim) is accepted too."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) and isinstance(pad[0], (tuple, list)):
        widths = [tuple(pair) for pair in pad]
    else:
        if len(pad) % 2 or len(pad) // 2 > input.ndim:
            raise ValueError(f"pad: {tuple(pad)} must hold (left, right) pairs for at most {input.ndim} dims")
        pairs = [tuple(pad[i:i + 2]) for i in range(0, len(pad), 2)]
        widths = [(0, 0)] * (input.ndim - len(pairs)) + pairs[::-1]
    return movement.Pad.apply(input, pad_width=widths, value=value)


# -- reductions (numpy's axis= and keepdims= are accepted as aliases) ---------------------------------------------
def sum(input: Tensor, dim: Dim = None, keepdim: bool = False, **aliases: Any) -> Tensor:  # noqa: A001, A002
    return input.sum(dim, keepdim, **aliases)


def mean(input: Tensor, dim: Dim = None, keepdim: bool = False, **aliases: Any) -> Tensor:  # noqa: A002
    return input.mean(dim, keepdim, **aliases)


def var(input: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False,  # noqa: A002
        **options: Any) -> Tensor:
    """See `Tensor.var` (correction=, or numpy's ddof=)."""
    return input.var(dim, unbiased, keepdim, **options)


def std(input: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False,  # noqa: A002
        **options: Any) -> Tensor:
    return input.std(dim, unbiased, keepdim, **options)


def max(input: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor | MaxMin:  # noqa: A001, A002
    """`max(x)`, `max(x, dim)` (values and indices) or `max(x, other)`, as `Tensor.max`."""
    return input.max(dim, keepdim, **aliases)


def min(input: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor | MaxMin:  # noqa: A001, A002
    return input.min(dim, keepdim, **aliases)


def amax(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.amax(dim, keepdim)


def amin(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.amin(dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.argmax(dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return input.argmin(dim, keepdim)


def logsumexp(input: Tensor, dim: Dim = None, keepdim: bool = False, **aliases: Any) -> Tensor:  # noqa: A002
    """log(sum(exp(x))) computed with the max subtracted."""
    return input.logsumexp(dim, keepdim, **aliases)


def softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) over `dim` (the last by default)."""
    return input.softmax(-1 if dim is None and axis is None else dim, axis=axis)


def log_softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:  # noqa: A002
    """x - logsumexp(x) over `dim` (the last by default): never softmax-then-log."""
    return input.log_softmax(-1 if dim is None and axis is None else dim, axis=axis)


def allclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8) -> builtins.bool:  # noqa: A002
    return builtins.bool(np.allclose(np.asarray(input), np.asarray(other), rtol=rtol, atol=atol))


# -- neural-network ops ----------------------------------------------------------------------------------------------
def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) dims (one fused op), then scale and shift by weight and bias
    (each of shape normalized_shape, optional)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim or not shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dims of the input, shape "
                         f"{input.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} of shape {p.shape} does not fit normalized_shape {shape}")
    x = input if len(shape) == 1 else input.reshape(*input.shape[:input.ndim - len(shape)], -1)
    params = [p if len(shape) == 1 else p.reshape(-1) for p in (weight, bias) if p is not None]
    out = fused.LayerNorm.apply(x, *params, eps=eps, has_weight=weight is not None, has_bias=bias is not None)
    return out if len(shape) == 1 else out.reshape(input.shape)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
            generator: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); identity when not training. The mask
    comes from `generator` (the global seeded one by default)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    keep = (generator or default_generator()).random(input.shape, dtype=input.dtype) >= p
    mask = keep * input.dtype.type(1 / (1 - p)) if p < 1 else np.zeros(input.shape, dtype=input.dtype)
    return nn.Dropout.apply(input, mask=mask)


def drop_path(input: Tensor, p: float = 0.0, training: bool = True, batch_dim: int = 0,  # noqa: A002
              generator: np.random.Generator | None = None) -> Tensor:
    """Stochastic depth (Huang et al. 2016; timm's drop_path): drop whole SAMPLES with probability p -- one Bernoulli
    draw per index of `batch_dim`, broadcast over the other dims -- and scale the kept ones by 1/(1-p). Identity when
    not training."""
    if not 0 <= p < 1:
        raise ValueError(f"drop_path: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return input
    shape = [1] * input.ndim
    shape[batch_dim] = input.shape[batch_dim]
    keep = (generator or default_generator()).random(shape, dtype=input.dtype) >= p
    return nn.Dropout.apply(input, mask=keep * input.dtype.type(1 / (1 - p)))


def embedding(input: Any, weight: Tensor) -> Tensor:  # noqa: A002
    """The rows of `weight` picked by the integer `input`; the gradient adds into the rows used."""
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError(f"embedding: indices must be in [0, {weight.shape[0]}), got values from {indices.min()} "
                         f"to {indices.max()}")
    return weight[indices]


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows of the integer `tensor` (num_classes -1: the largest value + 1)."""
    indices = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: needs integer class indices, got {indices.dtype}")
    classes = int(indices.max()) + 1 if num_classes == -1 else num_classes
    if indices.size and (indices.min() < 0 or indices.max() >= classes):
        raise ValueError(f"one_hot: class values must be in [0, {classes}), got {indices.min()} to {indices.max()}")
    return Tensor._wrap((indices[..., None] == np.arange(classes)).astype(np.int64))


# -- convolution and pooling (PyTorch's layouts: (batch, channels, length) or (batch, channels, height, width)) --
def _conv(nd: int, x: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
          padding: IntOrTuple | str, dilation: IntOrTuple, groups: int) -> Tensor:
    params = (weight,) if bias is None else (weight, bias)
    x = _pair(x, weight)[0] if isinstance(x, Tensor) else Tensor(x, dtype=weight.dtype)
    return conv_ops.Conv.apply(x, *params, nd=nd, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,  # noqa: A002
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv1d: input (N, C_in, L), weight (C_out, C_in/groups, K), bias (C_out,) -> (N, C_out, L_out).
    padding is an int, "valid" or "same" (stride 1); one im2col matmul forward, col2im backward."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,  # noqa: A002
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv2d: input (N, C_in, H, W), weight (C_out, C_in/groups, KH, KW) -> (N, C_out, H_out, W_out);
    stride, padding and dilation are ints or (height, width) pairs."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def avg_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0) -> Tensor:
    """Mean over windows of (N, C, L); stride defaults to kernel_size; zero padding is counted."""
    return conv_ops.AvgPool.apply(input, nd=1, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0) -> Tensor:
    """Mean over windows of (N, C, H, W); stride defaults to kernel_size; zero padding is counted."""
    return conv_ops.AvgPool.apply(input, nd=2, kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0) -> Tensor:
    """Max over windows of (N, C, L); stride defaults to kernel_size; padding is at most kernel_size / 2."""
    return conv_ops.MaxPool.apply(input, nd=1, kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0) -> Tensor:
    """Max over windows of (N, C, H, W); stride defaults to kernel_size; padding is at most kernel_size / 2."""
    return conv_ops.MaxPool.apply(input, nd=2, kernel_size=kernel_size, stride=stride, padding=padding)


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:  # noqa: A002
    """Average (N, C, L) down to (N, C, output_size) with PyTorch's windows
    [floor(i L / out), ceil((i + 1) L / out))."""
    return conv_ops.AdaptiveAvgPool.apply(input, nd=1, output_size=output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:  # noqa: A002
    """Average (N, C, H, W) down to (N, C, *output_size); None keeps that axis' size."""
    return conv_ops.AdaptiveAvgPool.apply(input, nd=2, output_size=output_size)


def channels_first_layer_norm(input: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-6) -> Tensor:  # noqa: A002
    """LayerNorm over the channel dim (dim 1) of (N, C, *spatial) at every position, then a per-channel scale and
    shift (ConvNeXt's channels-first LayerNorm): the fused last-dim layer_norm on a channels-last view."""
    x = input
    if x.ndim < 2 or weight.shape != (x.shape[1],) or bias.shape != (x.shape[1],):
        raise ValueError(f"channels_first_layer_norm: input of shape {x.shape} must be (batch, channels, ...) "
                         f"with weight and bias of shape (channels,), got {weight.shape} and {bias.shape}")
    channels_last = x.permute(0, *range(2, x.ndim), 1)
    return layer_norm(channels_last, x.shape[1], weight, bias, eps=eps).permute(0, x.ndim - 1, *range(1, x.ndim - 1))
