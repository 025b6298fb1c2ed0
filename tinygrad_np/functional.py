"""Every op as a function (`F.gelu(x)`), and the same functions bound as Tensor methods.

Arguments follow numpy's names (`axis`, `keepdims`). Inputs that are not Tensors
(Python numbers, ndarrays) become constants of the other operand's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import Function, Tensor, as_tensor
from .ops import elementwise as ew
from .ops import linalg, movement, nn, reduce
from .random import default_generator

__all__ = [
    "abs", "add", "astype", "broadcast_to", "cat", "clip", "concatenate", "div", "drop_path", "dropout",
    "erf", "exp", "expand", "expand_dims", "flatten", "gather", "gelu", "getitem", "layer_norm", "linear",
    "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg",
    "pad", "permute", "pow", "relu", "reshape", "sigmoid", "softmax", "softplus", "softsign", "sqrt", "squeeze",
    "stack", "std", "sub", "sum", "swapaxes", "tanh", "transpose", "unsqueeze", "var", "where",
]

Axis = int | tuple[int, ...] | None


# -- element-wise ------------------------------------------------------------------------
def _binary(op: type[Function], a: Any, b: Any) -> Tensor:
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    try:
        return op.apply(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op.__name__.lower()}: shapes {a.shape} and {b.shape} do not broadcast") from None
        raise


def add(a: Any, b: Any) -> Tensor:
    return _binary(ew.Add, a, b)


def sub(a: Any, b: Any) -> Tensor:
    return _binary(ew.Sub, a, b)


def mul(a: Any, b: Any) -> Tensor:
    return _binary(ew.Mul, a, b)


def div(a: Any, b: Any) -> Tensor:
    return _binary(ew.Div, a, b)


def pow(x: Any, exponent: Any) -> Tensor:  # noqa: A001 - numpy's name
    """x ** exponent; a Python-number exponent is a constant, a Tensor exponent gets a gradient."""
    if isinstance(exponent, (int, float)) and isinstance(x, Tensor):
        return ew.PowScalar.apply(x, exponent=exponent)
    return _binary(ew.Pow, x, exponent)


def maximum(a: Any, b: Any) -> Tensor:
    """Element-wise max; ties split the gradient evenly."""
    return _binary(ew.Maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    return _binary(ew.Minimum, a, b)


def neg(x: Any) -> Tensor:
    return ew.Neg.apply(as_tensor(x))


def exp(x: Any) -> Tensor:
    return ew.Exp.apply(as_tensor(x))


def log(x: Any) -> Tensor:
    return ew.Log.apply(as_tensor(x))


def sqrt(x: Any) -> Tensor:
    return ew.Sqrt.apply(as_tensor(x))


def abs(x: Any) -> Tensor:  # noqa: A001 - numpy's name
    return ew.Abs.apply(as_tensor(x))


def relu(x: Any) -> Tensor:
    return ew.Relu.apply(as_tensor(x))


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Clamp to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: give min, max or both")
    return ew.Clip.apply(as_tensor(x), low=min, high=max)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """`a` where `condition` is true, else `b` (condition is constant: no gradient)."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a, b = as_tensor(a, like=like), as_tensor(b, like=like)
    try:
        return ew.Where.apply(a, b, condition=condition)
    except ValueError:
        raise ValueError(f"where: shapes {condition.shape}, {a.shape} and {b.shape} do not broadcast") from None


def erf(x: Any) -> Tensor:
    return ew.Erf.apply(as_tensor(x))


def gelu(x: Any) -> Tensor:
    """Exact GELU: x * Phi(x) with the normal CDF (erf-based, not the tanh approximation)."""
    return ew.Gelu.apply(as_tensor(x))


def tanh(x: Any) -> Tensor:
    return ew.Tanh.apply(as_tensor(x))


def sigmoid(x: Any) -> Tensor:
    return ew.Sigmoid.apply(as_tensor(x))


def softplus(x: Any) -> Tensor:
    return ew.Softplus.apply(as_tensor(x))


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|): squashes to (-1, 1) like tanh, but with polynomial tails."""
    return ew.Softsign.apply(as_tensor(x))


def astype(x: Tensor, dtype: Any) -> Tensor:
    """A copy in another float dtype; gradients are cast back."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if not x.requires_grad or dtype.kind != "f":
        return Tensor._wrap(x.data.astype(dtype))
    return ew.Cast.apply(x, dtype=dtype)


# -- matrix products ---------------------------------------------------------------------
def matmul(a: Any, b: Any) -> Tensor:
    """numpy's matmul: 1-D operands are promoted and the added axis removed again."""
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: scalar operands are not allowed (shapes {a.shape} and {b.shape})")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape != b.shape:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not fit")
        return (a * b).sum()
    if a.ndim == 1:
        return squeeze(linalg.Matmul.apply(reshape(a, 1, -1), b) if b.ndim == 2 else
                       matmul(reshape(a, 1, -1), b), -2)
    if b.ndim == 1:
        return squeeze(linalg.Matmul.apply(a, reshape(b, -1, 1)), -1)
    return linalg.Matmul.apply(a, b)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, axis: int = -1) -> Tensor:
    """x @ weight.T + bias over the last axis (PyTorch's F.linear), or weight @ x + bias over
    axis 0. weight has shape (out_features, in_features)."""
    params = (weight,) if bias is None else (weight, bias)
    return linalg.Linear.apply(as_tensor(x, like=weight), *params, axis=axis)


# -- shape and selection -----------------------------------------------------------------
def _shape_args(shape: tuple) -> tuple[int, ...]:
    """Accept both f(x, 2, 3) and f(x, (2, 3))."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def reshape(x: Tensor, *shape: int | Sequence[int]) -> Tensor:
    shape = _shape_args(shape)
    if shape == x.shape:
        return x
    return movement.Reshape.apply(x, shape=shape)


def transpose(x: Tensor, *axes: int | Sequence[int]) -> Tensor:
    """numpy's transpose: no axes reverses them, else a permutation."""
    axes = _shape_args(axes) or tuple(reversed(range(x.ndim)))
    if len(axes) != x.ndim:
        raise ValueError(f"transpose: {len(axes)} axes given for a tensor of shape {x.shape}")
    return movement.Permute.apply(x, axes=axes)


permute = transpose


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes start_axis..end_axis (inclusive) into one; all axes by default."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_axis % x.ndim, end_axis % x.ndim
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def squeeze(x: Tensor, axis: Axis = None) -> Tensor:
    axes = reduce.normalize_axes(axis, x.ndim)
    return reshape(x, *[n for i, n in enumerate(x.shape) if not (i in axes and n == 1)])


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    return reshape(x, np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


expand_dims = unsqueeze


def broadcast_to(x: Tensor, *shape: int | Sequence[int]) -> Tensor:
    shape = _shape_args(shape)
    return x if shape == x.shape else movement.Expand.apply(x, shape=shape)


expand = broadcast_to


def _index(index: Any) -> Any:
    """Tensors inside an index become arrays; lists become integer or boolean arrays."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data if index.dtype == bool else index.data.astype(np.intp)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    return movement.Getitem.apply(x, index=_index(index))


def gather(x: Tensor, index: Any, axis: int) -> Tensor:
    """Pick `index` along `axis` (numpy's take_along_axis; torch's gather); the gradient
    scatters back and adds where an element was picked more than once."""
    index = np.asarray(index.data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be integers, got {index.dtype}")
    return movement.Gather.apply(x, index=index, axis=axis)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    return movement.Concatenate.apply(*[as_tensor(t, like=like) for t in tensors], axis=axis)


cat = concatenate


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    return movement.Stack.apply(*[as_tensor(t, like=like) for t in tensors], axis=axis)


def pad(x: Tensor, pad_width: Any, constant_values: float = 0.0) -> Tensor:
    """Constant padding; pad_width as numpy's np.pad takes it."""
    return movement.Pad.apply(x, pad_width=pad_width, value=constant_values)


# -- reductions --------------------------------------------------------------------------
def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return reduce.Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return reduce.Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Max over axes; tied maxima share the gradient evenly."""
    return reduce.Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return reduce.Min.apply(x, axis=axis, keepdims=keepdims)


def var(x: Tensor, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    return reduce.Var.apply(x, axis=axis, ddof=ddof, keepdims=keepdims)


def std(x: Tensor, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims))


def logsumexp(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) computed with the max subtracted."""
    return reduce.LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return reduce.Softmax.apply(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x): never softmax-then-log."""
    return reduce.LogSoftmax.apply(x, axis=axis)


# -- neural-network ops ------------------------------------------------------------------
def layer_norm(x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the last axis (one fused op), then scale and shift."""
    params = [p for p in (weight, bias) if p is not None]
    return nn.LayerNorm.apply(x, *params, eps=eps, has_weight=weight is not None, has_bias=bias is not None)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); identity when not
    training. The mask comes from `rng` (the global seeded generator by default)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    keep = (rng or default_generator()).random(x.shape, dtype=x.dtype) >= p
    mask = keep * x.dtype.type(1 / (1 - p)) if p < 1 else np.zeros(x.shape, dtype=x.dtype)
    return nn.Dropout.apply(x, mask=mask)


def drop_path(x: Tensor, p: float = 0.0, training: bool = True, batch_axis: int = 0,
              rng: np.random.Generator | None = None) -> Tensor:
    """Stochastic depth (Huang et al. 2016): drop whole SAMPLES with probability p -- one
    Bernoulli draw per index of `batch_axis`, broadcast over the other axes -- and scale the
    kept ones by 1/(1-p). Identity when not training."""
    if not 0 <= p < 1:
        raise ValueError(f"drop_path: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    shape = [1] * x.ndim
    shape[batch_axis] = x.shape[batch_axis]
    keep = (rng or default_generator()).random(shape, dtype=x.dtype) >= p
    return nn.Dropout.apply(x, mask=keep * x.dtype.type(1 / (1 - p)))


# -- Tensor methods and operators: the same functions --------------------------------------
def _reflected(fn):
    return lambda self, other: fn(other, self)


def _comparison(compare):
    def method(self: Tensor, other: Any) -> Tensor:
        return Tensor(compare(self.data, other.data if isinstance(other, Tensor) else other), dtype=bool)
    return method


for _name, _fn in {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__getitem__": getitem,
    "__lt__": _comparison(np.less), "__le__": _comparison(np.less_equal),
    "__gt__": _comparison(np.greater), "__ge__": _comparison(np.greater_equal),
    "astype": astype, "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow,
    "maximum": maximum, "minimum": minimum,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "relu": relu, "clip": clip, "erf": erf,
    "gelu": gelu, "tanh": tanh, "sigmoid": sigmoid, "softplus": softplus, "softsign": softsign, "matmul": matmul,
    "reshape": reshape, "transpose": transpose, "permute": permute, "swapaxes": swapaxes,
    "flatten": flatten, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand_dims": expand_dims,
    "broadcast_to": broadcast_to, "expand": expand, "gather": gather, "pad": pad,
    "sum": sum, "mean": mean, "max": max, "min": min, "var": var, "std": std,
    "logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
}.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: transpose(self))


# -- convolution and pooling (PyTorch's layouts: (batch, channels, length) or (batch, channels, height, width)) --
from .ops import conv as conv_ops  # noqa: E402 - this section is appended after the Tensor methods

__all__ += [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "channels_first_layer_norm",
    "conv1d", "conv2d", "max_pool1d", "max_pool2d",
]

IntOrTuple = int | Sequence[int]


def _conv(nd: int, x: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
          padding: IntOrTuple | str, dilation: IntOrTuple, groups: int) -> Tensor:
    params = (weight,) if bias is None else (weight, bias)
    return conv_ops.Conv.apply(as_tensor(x, like=weight), *params, nd=nd, stride=stride, padding=padding,
                               dilation=dilation, groups=groups)


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv1d: x (N, C_in, L), weight (C_out, C_in/groups, K), bias (C_out,) -> (N, C_out, L_out).
    padding is an int, "valid" or "same" (stride 1); one im2col matmul forward, col2im backward."""
    return _conv(1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv2d: x (N, C_in, H, W), weight (C_out, C_in/groups, KH, KW) -> (N, C_out, H_out, W_out);
    stride, padding and dilation are ints or (height, width) pairs."""
    return _conv(2, x, weight, bias, stride, padding, dilation, groups)


def avg_pool1d(x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0) -> Tensor:
    """Mean over windows of (N, C, L); stride defaults to kernel_size; zero padding is counted."""
    return conv_ops.AvgPool.apply(x, nd=1, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0) -> Tensor:
    """Mean over windows of (N, C, H, W); stride defaults to kernel_size; zero padding is counted."""
    return conv_ops.AvgPool.apply(x, nd=2, kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool1d(x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0) -> Tensor:
    """Max over windows of (N, C, L); stride defaults to kernel_size; padding is at most kernel_size / 2."""
    return conv_ops.MaxPool.apply(x, nd=1, kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool2d(x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0) -> Tensor:
    """Max over windows of (N, C, H, W); stride defaults to kernel_size; padding is at most kernel_size / 2."""
    return conv_ops.MaxPool.apply(x, nd=2, kernel_size=kernel_size, stride=stride, padding=padding)


def adaptive_avg_pool1d(x: Tensor, output_size: int) -> Tensor:
    """Average (N, C, L) down to (N, C, output_size) with PyTorch's windows
    [floor(i L / out), ceil((i + 1) L / out))."""
    return conv_ops.AdaptiveAvgPool.apply(x, nd=1, output_size=output_size)


def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average (N, C, H, W) down to (N, C, *output_size); None keeps that axis' size."""
    return conv_ops.AdaptiveAvgPool.apply(x, nd=2, output_size=output_size)


def channels_first_layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-6) -> Tensor:
    """LayerNorm over the channel axis (axis 1) of (N, C, *spatial) at every position, then a
    per-channel scale and shift (ConvNeXt's channels-first LayerNorm): the fused last-axis
    layer_norm on a channels-last view (as fast as a dedicated op at the Mixer's sizes)."""
    if x.ndim < 2 or weight.shape != (x.shape[1],) or bias.shape != (x.shape[1],):
        raise ValueError(f"channels_first_layer_norm: input of shape {x.shape} must be (batch, channels, ...) "
                         f"with weight and bias of shape (channels,), got {weight.shape} and {bias.shape}")
    channels_last = (0, *range(2, x.ndim), 1)
    back = (0, x.ndim - 1, *range(1, x.ndim - 1))
    return layer_norm(x.transpose(*channels_last), weight, bias, eps=eps).transpose(*back)
