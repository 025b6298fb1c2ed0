"""Every op as a function, with PyTorch's names and arguments: the `torch.*` ones (`cat`, `where`, `exp`, ...) are
exported by `tinygrad_np` itself, the `torch.nn.functional` ones (`gelu`, `layer_norm`, `linear`, ...) by
`tinygrad_np.nn.functional`. Each calls the Tensor method or the op class that does the work; inputs that are not
Tensors (Python numbers, ndarrays) become constants.
"""

from __future__ import annotations

import builtins
import math
import string
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import _dim_index, _dims
from .engine import MaxMin, Tensor, _pair, no_grad
from .errors import ArgumentValueError, IndexOutOfRange, ShapeError, UnsupportedDtype
from .ops import activation, fused, linalg, movement, nn, resample
from .ops import conv as conv_ops
from .random import default_generator

Dim = int | tuple[int, ...] | None
IntOrTuple = int | Sequence[int]

__all__ = [
    "abs", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "add", "allclose", "amax", "amin", "argmax", "argmin", "argsort",
    "argwhere", "avg_pool1d", "avg_pool2d", "avg_pool3d", "broadcast_to", "cat", "celu",
    "channels_first_layer_norm", "chunk", "clamp", "clip", "concat", "concatenate", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "cos", "diag", "diagonal", "div", "drop_path",
    "dropout", "einsum", "elu", "embedding", "erf", "exp", "flatten", "flip", "fliplr", "flipud", "fold", "gather",
    "gelu", "glu", "hardsigmoid", "hardswish", "hardtanh", "index_add", "index_fill", "index_select", "interpolate",
    "kthvalue", "layer_norm", "leaky_relu", "linear", "log", "log_softmax", "logsigmoid", "logsumexp",
    "masked_fill", "masked_select", "matmul", "max", "max_pool1d", "max_pool2d", "max_pool3d", "max_unpool1d",
    "max_unpool2d", "max_unpool3d", "maximum", "mean", "meshgrid", "min", "minimum", "mish", "msort", "mul", "neg",
    "nonzero", "one_hot", "pad", "permute", "pow", "reciprocal", "relu", "relu6", "repeat_interleave", "reshape",
    "roll", "rsqrt", "scatter", "scatter_add", "scatter_reduce", "selu", "sigmoid", "silu", "sin", "softmax",
    "softmin", "softplus", "softsign", "sort", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "swapaxes",
    "take_along_dim", "tanh", "tile", "topk", "transpose", "tril", "triu", "unbind", "unfold", "unsqueeze",
    "upsample", "var", "where",
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


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other, or rounded with rounding_mode "trunc" or "floor" (see `Tensor.div`)."""
    if rounding_mode is not None:
        return (input if isinstance(input, Tensor) else tensor_like(input, other)).div(other,
                                                                                      rounding_mode=rounding_mode)
    return input / other if isinstance(input, Tensor) else _tensor(other).__rtruediv__(input)


def tensor_like(value: Any, other: Any) -> Tensor:
    """A Python number or array as a tensor of `other`'s dtype when `other` is a tensor (float32 otherwise)."""
    return Tensor._wrap(np.asarray(value, dtype=other.dtype)) if isinstance(other, Tensor) else Tensor(value)


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


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).reciprocal()


def abs(input: Tensor) -> Tensor:  # noqa: A001, A002
    return _tensor(input).abs()


def sin(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sin()


def cos(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).cos()


def erf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).erf()


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0); `inplace` is accepted and the result is a new tensor (docs/pytorch.md)."""
    return _tensor(input).relu()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """Exact GELU, x * Phi(x) with the normal CDF (one fused op), or approximate="tanh"."""
    return _tensor(input).gelu(approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (swish), one fused op."""
    return activation.Silu.apply(_tensor(input)._floating())


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).tanh()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sigmoid()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    return _tensor(input).softplus(beta, threshold)


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|): squashes to (-1, 1) like tanh, but with polynomial tails."""
    return _tensor(input).softsign()


# -- the activations of torch.nn.functional (ops/activation.py); `inplace` is accepted, results are new tensors ----
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return activation.Elu.apply(_tensor(input)._floating(), alpha=alpha)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ArgumentValueError("celu: alpha cannot be 0")
    return activation.Elu.apply(_tensor(input)._floating(), alpha=alpha, input_scale=1 / alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with SELU's self-normalising constants (alpha 1.6733, scale 1.0507)."""
    return activation.Elu.apply(_tensor(input)._floating(), alpha=activation.SELU_ALPHA, scale=activation.SELU_SCALE)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, negative_slope * x otherwise."""
    return activation.LeakyRelu.apply(_tensor(input), negative_slope=negative_slope)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val] (zero gradient at the bounds, as PyTorch's)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val {max_val}")
    return activation.Hardtanh.apply(_tensor(input), min_val=min_val, max_val=max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return activation.Hardtanh.apply(_tensor(input), min_val=0.0, max_val=6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6."""
    return activation.Hardsigmoid.apply(_tensor(input)._floating())


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6 (MobileNetV3's)."""
    return activation.Hardswish.apply(_tensor(input)._floating())


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x))."""
    return activation.Mish.apply(_tensor(input)._floating())


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log(sigmoid(x)), without overflow."""
    return activation.LogSigmoid.apply(_tensor(input)._floating())


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """The gated linear unit: a * sigmoid(b), a and b the two halves of `dim`."""
    x = _tensor(input)
    d = _dim_index(dim, x.ndim, "glu")
    if x.ndim == 0 or x.shape[d] % 2:
        raise ArgumentValueError(f"glu: halving dimension must be even, but dimension {dim} of shape {x.shape} is "
                                 "not")
    a, b = x.chunk(2, d)
    return a * b.sigmoid()


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:  # noqa: A002
    """softmax(-x) over `dim` (the last by default), after casting to `dtype` if given."""
    x = _tensor(input) if dtype is None else _tensor(input).to(dtype)
    return (-x).softmax(-1 if dim is None else dim)


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
        condition = np.asarray(condition._data if isinstance(condition, Tensor) else condition, dtype=bool)
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


def take_along_dim(input: Tensor, indices: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """Gather along `dim` after broadcasting (see `Tensor.take_along_dim`)."""
    return input.take_along_dim(indices, dim)


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:  # noqa: A002
    return input.index_select(dim, index)


# -- shape and indexing: PyTorch's op surface ---------------------------------------------------------------------
def flip(input: Tensor, dims: Sequence[int]) -> Tensor:  # noqa: A002
    return input.flip(dims)


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    return input.fliplr()


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    return input.flipud()


def roll(input: Tensor, shifts: IntOrTuple, dims: IntOrTuple | None = None) -> Tensor:  # noqa: A002
    return input.roll(shifts, dims)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return input.diag(diagonal)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    return input.diagonal(offset, dim1, dim2)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return input.tril(diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return input.triu(diagonal)


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,  # noqa: A002
                      output_size: int | None = None) -> Tensor:
    """Each element repeated `repeats` times along `dim`; `repeat_interleave(counts)` alone repeats each index i of
    the 1-D integer `counts` counts[i] times (PyTorch's form)."""
    if repeats is None:
        counts = _tensor(input)
        indices = Tensor._wrap(np.arange(counts.shape[0], dtype=np.int64))
        return indices.repeat_interleave(counts, 0, output_size=output_size)
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def masked_select(input: Tensor, mask: Any) -> Tensor:  # noqa: A002
    return input.masked_select(mask)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:  # noqa: A002
    return _tensor(input).nonzero(as_tuple=as_tuple)


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).nonzero()


def scatter(input: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,  # noqa: A002
            reduce: str | None = None) -> Tensor:
    return input.scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:  # noqa: A002
    return input.scatter_add(dim, index, src)


def scatter_reduce(input: Tensor, dim: int, index: Any, src: Tensor, reduce: str, *,  # noqa: A002
                   include_self: bool = True) -> Tensor:
    return input.scatter_reduce(dim, index, src, reduce, include_self=include_self)


def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: float = 1) -> Tensor:  # noqa: A002
    return input.index_add(dim, index, source, alpha=alpha)


def index_fill(input: Tensor, dim: int, index: Any, value: Any) -> Tensor:  # noqa: A002
    return input.index_fill(dim, index, value)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> MaxMin:  # noqa: A002
    return input.sort(dim, descending, stable=stable)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:  # noqa: A002
    return input.argsort(dim, descending, stable=stable)


def msort(input: Tensor) -> Tensor:  # noqa: A002
    return input.msort()


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> MaxMin:  # noqa: A002
    return input.topk(k, dim, largest, sorted)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> MaxMin:  # noqa: A002
    return input.kthvalue(k, dim, keepdim)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, PyTorch's form: `einsum("ij,jk->ik", a, b)` or with the operands in one list; "..."
    stands for broadcast dims; without "->" the output is the ellipsis dims and then the subscripts used once, in
    alphabetical order; a subscript repeated within an operand takes its diagonal; dims of size 1 broadcast."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = _joined(operands, "einsum")
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(tensors):
        raise ShapeError(f"einsum(): the equation {equation!r} has {len(terms)} operands, {len(tensors)} were given")
    used = set(c for c in lhs + rhs if c.isalpha())
    ellipsis_dims = []
    for term, t in zip(terms, tensors, strict=True):
        named = term.replace("...", "")
        if term.count("...") > 1 or not builtins.all(c.isalpha() for c in named):
            raise ShapeError(f"einsum(): invalid subscripts {term!r} (letters and at most one '...')")
        extra = t.ndim - len(named)
        if extra < 0 or (extra and "..." not in term):
            raise ShapeError(f"einsum(): subscripts {term!r} do not fit an operand of shape {t.shape}")
        ellipsis_dims.append(extra)
    fresh = "".join(c for c in string.ascii_letters if c not in used)[:builtins.max(ellipsis_dims)]
    terms = [term.replace("...", fresh[len(fresh) - e:]) for term, e in zip(terms, ellipsis_dims, strict=True)]
    if arrow:
        output = rhs.replace("...", fresh)
        for c in output:
            if output.count(c) > 1 or not builtins.any(c in term for term in terms):
                raise ShapeError(f"einsum(): output subscript {c} " + ("appears more than once in the output"
                                 if output.count(c) > 1 else "does not appear in the equation for any input operand"))
    else:
        counts = "".join(terms)
        output = fresh + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in fresh))
    sizes: dict[str, int] = {}
    for term, t in zip(terms, tensors, strict=True):
        for c, n in zip(term, t.shape, strict=True):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ShapeError(f"einsum(): operands do not broadcast: subscript {c} has sizes {sizes[c]} and {n}")
            sizes[c] = builtins.max(sizes.get(c, 1), n)
    prepared, inputs = [], []
    for term, t in zip(terms, tensors, strict=True):
        letters = list(term)
        for c in dict.fromkeys(term):
            while letters.count(c) > 1:
                first = letters.index(c)
                second = letters.index(c, first + 1)
                if t.shape[first] != t.shape[second]:
                    raise ShapeError(f"einsum(): subscript {c} is repeated for an operand but the sizes don't match, "
                                     f"{t.shape[first]} != {t.shape[second]}")
                t = t.diagonal(0, first, second)
                letters = [x for k, x in enumerate(letters) if k not in (first, second)] + [c]
        full = tuple(sizes[c] for c in letters)
        prepared.append(t if t.shape == full else t.broadcast_to(full))
        inputs.append("".join(letters))
    return linalg.Einsum.apply(*prepared, inputs=tuple(inputs), output=output)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from 0-d or 1-D tensors: with indexing "ij" output i varies along dim i; with "xy" the first
    two dims are swapped (numpy's default). Without `indexing` it is "ij" and PyTorch's warning is given."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ArgumentValueError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    tensors = [_tensor(t) for t in tensors]
    for t in tensors:
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expected 0-d or 1-D tensors, got shape {t.shape}")
    positions = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        positions[0], positions[1] = 1, 0
    shape = [0] * len(tensors)
    for t, position in zip(tensors, positions, strict=True):
        shape[position] = t.numel()
    grids = []
    for t, position in zip(tensors, positions, strict=True):
        view = [1] * len(tensors)
        view[position] = t.numel()
        grids.append(t.reshape(view).broadcast_to(tuple(shape)))
    return tuple(grids)


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


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Sequence[Any], mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """PyTorch's F.pad. `pad` is (left, right) of the last dim, then (left, right) of the one before, and so on
    (numpy's `np.pad` form, one (before, after) pair per dim, is accepted too); negative widths crop. Modes:
    "constant" (with `value`, any dims), and on the last 1 to 3 dims of a (batched or not) input "reflect" (mirror
    without repeating the edge; widths below the dim's size), "replicate" (repeat the edge) and "circular" (wrap
    around, at most once; widths cropped first)."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    x = _tensor(input)
    if len(pad) and isinstance(pad[0], (tuple, list)):
        if len(pad) != x.ndim:
            raise ArgumentValueError(f"pad: numpy's form needs one (before, after) pair per dim ({x.ndim}), got "
                                     f"{len(pad)}")
        widths = [tuple(builtins.int(w) for w in pair) for pair in pad]
        padded_dims = x.ndim
    else:
        if len(pad) % 2:
            raise ArgumentValueError(f"pad: padding length must be divisible by 2, got {tuple(pad)}")
        if len(pad) // 2 > x.ndim:
            raise ArgumentValueError(f"pad: padding length should be less than or equal to two times the input "
                                     f"dimension but got padding length {len(pad)} and input of dimension {x.ndim}")
        pairs = [(builtins.int(pad[i]), builtins.int(pad[i + 1])) for i in range(0, len(pad), 2)]
        widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
        padded_dims = len(pairs)
    if mode == "constant":
        return _pad_constant(x, widths, 0.0 if value is None else value)
    if value is not None:
        raise ArgumentValueError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
    if not 1 <= padded_dims <= 3 or x.ndim not in (padded_dims + 1, padded_dims + 2):
        raise NotImplementedError(f"pad: padding size {2 * padded_dims} is not supported for {x.ndim}-D input with "
                                  f"mode {mode!r}: it pads the last 1, 2 or 3 dims of a 2-D/3-D, 3-D/4-D or 4-D/5-D "
                                  "input")
    for axis, ((before, after), n) in enumerate(zip(widths, x.shape, strict=True)):
        if before or after:
            x = movement.Getitem.apply(x, index=(slice(None),) * axis + (_pad_index(mode, n, before, after, axis),))
    return x


def _pad_constant(x: Tensor, widths: list[tuple[int, int]], value: float) -> Tensor:
    """Crop the negative widths, then pad the positive ones with `value`."""
    for (before, after), n in zip(widths, x.shape, strict=True):
        if n + before + after < 0:
            raise ArgumentValueError(f"pad: widths ({before}, {after}) would leave a dim of size {n} with a negative "
                                     "size")
    if builtins.any(before < 0 or after < 0 for before, after in widths):
        x = x[tuple(slice(-builtins.min(before, 0), n + builtins.min(after, 0))
                    for (before, after), n in zip(widths, x.shape, strict=True))]
    return movement.Pad.apply(x, pad_width=[(builtins.max(before, 0), builtins.max(after, 0))
                                            for before, after in widths], value=value)


def _pad_index(mode: str, n: int, before: int, after: int, axis: int) -> np.ndarray:
    """The input position of each output position along one padded dim."""
    if mode == "reflect" and (before >= n or after >= n):
        raise ArgumentValueError(f"pad: padding size should be less than the corresponding input dimension, but got "
                                 f"padding ({before}, {after}) at dimension {axis} of size {n}")
    if mode == "circular" and (before > n or after > n):
        raise ArgumentValueError(f"pad: padding ({before}, {after}) at dimension {axis} of size {n} causes wrapping "
                                 "around more than once")
    if n + before + after < 0 or (n == 0 and before + after > 0):
        raise ArgumentValueError(f"pad: widths ({before}, {after}) do not fit dimension {axis} of size {n}")
    if mode == "circular":
        start = builtins.max(-before, 0)
        kept = n - start - builtins.max(-after, 0)
        if before > kept or after > kept:
            raise ArgumentValueError(f"pad: circular padding ({before}, {after}) at dimension {axis} wraps around the "
                                     f"{kept} elements left after cropping more than once")
        return (np.arange(n + before + after) - builtins.max(before, 0)) % builtins.max(kept, 1) + start
    position = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(position, 0, n - 1)
    return np.where(position < 0, -position, np.where(position >= n, 2 * (n - 1) - position, position))


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


def allclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8,  # noqa: A002
             equal_nan: builtins.bool = False) -> builtins.bool:
    """Whether `isclose` holds everywhere."""
    return _tensor(input).allclose(other, rtol, atol, equal_nan)


# -- neural-network ops ----------------------------------------------------------------------------------------------
def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) dims (one fused op), then scale and shift by weight and bias
    (each of shape normalized_shape, optional)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim or not shape:
        raise ShapeError(f"layer_norm: normalized_shape {shape} must be the last dims of the input, shape "
                         f"{input.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ShapeError(f"layer_norm: {name} of shape {p.shape} does not fit normalized_shape {shape}")
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


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,  # noqa: A002
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of `weight` picked by the integer `input` (any shape; the output adds the row dim); the gradient
    adds into the rows used (one fused op). As PyTorch: row `padding_idx` gets no gradient; `max_norm` first
    rescales, in place in `weight`, every picked row whose `norm_type`-norm exceeds it to max_norm / (norm + 1e-7)
    times itself; `scale_grad_by_freq` divides each lookup's gradient by its index's count in `input`. Sparse
    gradients are not supported."""
    indices = np.asarray(input.numpy() if isinstance(input, Tensor) else input)
    rows = weight.shape[0]
    if indices.dtype.kind not in "iu":
        raise UnsupportedDtype(f"embedding: indices must be integers, got {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        raise IndexOutOfRange(f"embedding: indices must be in [0, {rows}), got values from {indices.min()} "
                         f"to {indices.max()}")
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported (docs/pytorch.md); use sparse=False")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within [-{rows}, {rows})")
        padding_idx %= rows
    if max_norm is not None:
        table = weight.numpy()
        used = np.unique(indices)
        norms = np.linalg.norm(table[used], ord=norm_type, axis=1)
        over = norms > max_norm
        if over.any():
            with no_grad():
                weight[used[over]] = table[used[over]] * (max_norm / (norms[over] + 1e-7))[:, None].astype(table.dtype)
    return nn.Embedding.apply(weight, indices=indices, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows of the integer `tensor` (num_classes -1: the largest value + 1)."""
    indices = np.asarray(tensor._data if isinstance(tensor, Tensor) else tensor)
    if indices.dtype.kind not in "iu":
        raise UnsupportedDtype(f"one_hot: needs integer class indices, got {indices.dtype}")
    classes = int(indices.max()) + 1 if num_classes == -1 else num_classes
    if indices.size and (indices.min() < 0 or indices.max() >= classes):
        raise ArgumentValueError(f"one_hot: class values must be in [0, {classes}), got {indices.min()} to "
                                 f"{indices.max()}")
    return Tensor._wrap((indices[..., None] == np.arange(classes)).astype(np.int64))


# -- convolution and pooling (PyTorch's layouts: (batch, channels, *spatial), or (channels, *spatial) unbatched) --
def _batched(x: Any, nd: int, compute: Any) -> Any:
    """compute(x) with a batch dim added to an unbatched (channels, *spatial) input and removed from the result(s)."""
    if isinstance(x, Tensor) and x.ndim == nd + 1:
        out = compute(x.unsqueeze(0))
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)
    return compute(x)


def _conv(nd: int, x: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
          padding: IntOrTuple | str, dilation: IntOrTuple, groups: int) -> Tensor:
    params = (weight,) if bias is None else (weight, bias)
    x = _pair(x, weight)[0] if isinstance(x, Tensor) else Tensor(x, dtype=weight.dtype)
    return _batched(x, nd, lambda x: conv_ops.Conv.apply(x, *params, nd=nd, stride=stride, padding=padding,
                                                         dilation=dilation, groups=groups))


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


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,  # noqa: A002
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv3d: input (N, C_in, D, H, W), weight (C_out, C_in/groups, KD, KH, KW)."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(nd: int, x: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
                    padding: IntOrTuple, output_padding: IntOrTuple, groups: int, dilation: IntOrTuple) -> Tensor:
    params = (weight,) if bias is None else (weight, bias)
    x = _pair(x, weight)[0] if isinstance(x, Tensor) else Tensor(x, dtype=weight.dtype)
    return _batched(x, nd, lambda x: conv_ops.ConvTranspose.apply(
        x, *params, nd=nd, stride=stride, padding=padding, output_padding=output_padding, groups=groups,
        dilation=dilation))


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,  # noqa: A002
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """PyTorch's F.conv_transpose1d, the adjoint of conv1d: input (N, C_in, L), weight (C_in, C_out/groups, K) ->
    (N, C_out, (L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1)."""
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,  # noqa: A002
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """PyTorch's F.conv_transpose2d: input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW)."""
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,  # noqa: A002
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """PyTorch's F.conv_transpose3d: input (N, C_in, D, H, W), weight (C_in, C_out/groups, KD, KH, KW)."""
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups, dilation)


def _avg_pool(nd: int, x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None, padding: IntOrTuple,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    return _batched(x, nd, lambda x: conv_ops.AvgPool.apply(
        x, nd=nd, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override))


def avg_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L); stride defaults to kernel_size; zero padding is counted unless
    count_include_pad=False; ceil_mode rounds the output length up."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over windows of (N, C, H, W), as avg_pool1d; divisor_override replaces every window's divisor."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over windows of (N, C, D, H, W), as avg_pool2d."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _max_pool(nd: int, x: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None, padding: IntOrTuple,
              dilation: IntOrTuple, ceil_mode: bool, return_indices: bool) -> Tensor | tuple[Tensor, Tensor]:
    def pool(x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        ops: list[Any] = []
        out = conv_ops.MaxPool.apply(x, nd=nd, kernel_size=kernel_size, stride=stride, padding=padding,
                                     dilation=dilation, ceil_mode=ceil_mode, record=ops)
        return (out, Tensor._wrap(ops[0].indices())) if return_indices else out

    return _batched(x, nd, pool)


def max_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of (N, C, L); stride defaults to kernel_size; padding is at most half the (dilated)
    kernel; return_indices also gives each maximum's position in its row (for max_unpool1d)."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of (N, C, H, W), as max_pool1d (indices are flat positions in each H x W plane)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of (N, C, D, H, W), as max_pool2d."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _max_unpool(nd: int, x: Tensor, indices: Any, kernel_size: IntOrTuple, stride: IntOrTuple | None,
                padding: IntOrTuple, output_size: Sequence[int] | None) -> Tensor:
    op = f"max_unpool{nd}d"
    kernel = conv_ops.ntuple(kernel_size, nd, "kernel_size", op)
    steps = kernel if stride is None else conv_ops.ntuple(stride, nd, "stride", op)
    pads = conv_ops.ntuple(padding, nd, "padding", op)
    index = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if index.shape != x.shape:
        raise ShapeError(f"{op}: indices of shape {index.shape} must have the input's shape {x.shape}")
    spatial = x.shape[x.ndim - nd:]
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(spatial, steps, pads, kernel, strict=True))
    if output_size is None:
        sizes = default
    else:
        sizes = tuple(output_size)[len(output_size) - nd:]
        if len(sizes) != nd:
            raise ArgumentValueError(f"{op}: output_size {tuple(output_size)} must give {nd} sizes")
        for d, (n, base, s) in enumerate(zip(sizes, default, steps, strict=True)):
            if not base - s < n < base + s:
                raise ArgumentValueError(f'{op}: invalid output_size "{tuple(sizes)}" (dim {d} must be between '
                                         f"{base - s + 1} and {base + s - 1})")
    return _batched(x, nd, lambda x: conv_ops.MaxUnpool.apply(x, indices=index.reshape(x.shape),
                                                              output_size=tuple(sizes)))


def max_unpool1d(input: Tensor, indices: Any, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
                 padding: IntOrTuple = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """The inverse of max_pool1d with return_indices: zeros with each value back at its index."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Any, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
                 padding: IntOrTuple = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """The inverse of max_pool2d with return_indices; output_size (its last two sizes) picks among the sizes that
    pool to the input's."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Any, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,  # noqa: A002
                 padding: IntOrTuple = 0, output_size: Sequence[int] | None = None) -> Tensor:
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:  # noqa: A002
    """Average (N, C, L) down to (N, C, output_size) with PyTorch's windows
    [floor(i L / out), ceil((i + 1) L / out))."""
    return _batched(input, 1, lambda x: conv_ops.AdaptiveAvgPool.apply(x, nd=1, output_size=output_size))


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:  # noqa: A002
    """Average (N, C, H, W) down to (N, C, *output_size); None keeps that axis' size."""
    return _batched(input, 2, lambda x: conv_ops.AdaptiveAvgPool.apply(x, nd=2, output_size=output_size))


def adaptive_avg_pool3d(input: Tensor, output_size: int | tuple[int | None, ...]) -> Tensor:  # noqa: A002
    return _batched(input, 3, lambda x: conv_ops.AdaptiveAvgPool.apply(x, nd=3, output_size=output_size))


def _adaptive_max_pool(nd: int, x: Tensor, output_size: Any, return_indices: bool) -> Tensor | tuple[Tensor, Tensor]:
    def pool(x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        ops: list[Any] = []
        out = conv_ops.AdaptiveMaxPool.apply(x, nd=nd, output_size=output_size, record=ops)
        return (out, Tensor._wrap(ops[0].indices)) if return_indices else out

    return _batched(x, nd, pool)


def adaptive_max_pool1d(input: Tensor, output_size: int, return_indices: bool = False  # noqa: A002
                        ) -> Tensor | tuple[Tensor, Tensor]:
    """Max over PyTorch's adaptive windows of (N, C, L) down to (N, C, output_size)."""
    return _adaptive_max_pool(1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False  # noqa: A002
                        ) -> Tensor | tuple[Tensor, Tensor]:
    """Max over PyTorch's adaptive windows of (N, C, H, W) down to (N, C, *output_size)."""
    return _adaptive_max_pool(2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False  # noqa: A002
                        ) -> Tensor | tuple[Tensor, Tensor]:
    return _adaptive_max_pool(3, input, output_size, return_indices)


def unfold(input: Tensor, kernel_size: IntOrTuple, dilation: IntOrTuple = 1, padding: IntOrTuple = 0,  # noqa: A002
           stride: IntOrTuple = 1) -> Tensor:
    """PyTorch's F.unfold (im2col): the sliding windows of (N, C, H, W) as columns (N, C * KH * KW, windows)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"unfold: input of shape {input.shape} must be 4-D (N, C, H, W) or unbatched 3-D")
    return _batched(input, 2, lambda x: conv_ops.Im2col.apply(x, kernel_size=kernel_size, dilation=dilation,
                                                              padding=padding, stride=stride))


def fold(input: Tensor, output_size: IntOrTuple, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,  # noqa: A002
         padding: IntOrTuple = 0, stride: IntOrTuple = 1) -> Tensor:
    """PyTorch's F.fold (col2im), the adjoint of unfold: columns (N, C * KH * KW, windows) summed into
    (N, C, *output_size), overlaps adding up."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"fold: input of shape {input.shape} must be 3-D (N, C * kernel, blocks) or "
                                  "unbatched 2-D")
    sizes = conv_ops.ntuple(output_size, 2, "output_size", "fold")
    if input.ndim == 2:
        return conv_ops.Col2im.apply(input.unsqueeze(0), output_size=sizes, kernel_size=kernel_size,
                                     dilation=dilation, padding=padding, stride=stride).squeeze(0)
    return conv_ops.Col2im.apply(input, output_size=sizes, kernel_size=kernel_size, dilation=dilation,
                                 padding=padding, stride=stride)


_INTERPOLATION_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate(input: Tensor, size: IntOrTuple | None = None,  # noqa: A002
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """PyTorch's F.interpolate of (N, C, *spatial) with 1 to 3 spatial dims: modes "nearest", "nearest-exact",
    "linear" (3-D input), "bilinear" and "bicubic" (4-D), "trilinear" (5-D) and "area" (adaptive average pooling);
    to `size`, or to floor(size * scale_factor), the coordinates then mapped with 1 / scale_factor as PyTorch does
    (unless recompute_scale_factor). align_corners only for the linear and cubic modes."""
    x = _tensor(input)
    nd = x.ndim - 2
    modes = ("nearest", "nearest-exact", "area", *_INTERPOLATION_DIMS)
    if mode not in modes:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not one of {', '.join(modes)}")
    if not 1 <= nd <= 3:
        raise NotImplementedError(f"interpolate: only 3-D, 4-D and 5-D inputs are supported (got {x.ndim}-D) for the "
                                  f"mode {mode!r}")
    if mode in _INTERPOLATION_DIMS and _INTERPOLATION_DIMS[mode] != nd:
        raise NotImplementedError(f"interpolate: got {x.ndim}-D input, but {mode} mode needs "
                                  f"{_INTERPOLATION_DIMS[mode] + 2}-D input")
    if align_corners is not None and mode not in _INTERPOLATION_DIMS:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported (docs/pytorch.md)")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    spatial = x.shape[2:]
    if size is not None:
        sizes = conv_ops.ntuple(size, nd, "size", "interpolate")
        factors: tuple[float | None, ...] = (None,) * nd
    else:
        factors = tuple(float(f) for f in (scale_factor if isinstance(scale_factor, (tuple, list))
                                           else (scale_factor,) * nd))
        if len(factors) != nd:
            raise ValueError(f"interpolate: scale_factor {scale_factor} must give {nd} factors")
        sizes = tuple(builtins.int(math.floor(n * f)) for n, f in zip(spatial, factors, strict=True))
        if recompute_scale_factor:
            factors = (None,) * nd
    if builtins.any(n < 1 for n in sizes):
        raise ValueError(f"interpolate: output size {sizes} must be positive (input {x.shape})")
    if x.dtype.kind != "f" and (x.dtype != np.uint8 or mode in ("linear", "trilinear", "area")):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented for {x.dtype} (floating inputs, and "
                                  "uint8 for nearest, bilinear and bicubic, as PyTorch)")
    if mode == "area":
        return conv_ops.AdaptiveAvgPool.apply(x, nd=nd, output_size=sizes)
    # the weights in float32 or float64 as PyTorch's kernels compute them (float16 in float32; uint8's in float64)
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32 if x.dtype.kind == "f"
                                                                          else np.float64)
    corners = builtins.bool(align_corners)
    taps = []
    for n, out, factor in zip(spatial, sizes, factors, strict=True):
        if mode in ("nearest", "nearest-exact"):
            taps.append(resample.nearest_taps(n, out, factor, mode == "nearest-exact"))
        elif mode == "bicubic":
            taps.append(resample.cubic_taps(n, out, corners, factor, dtype))
        else:
            taps.append(resample.linear_taps(n, out, corners, factor, dtype))
    return resample.Resample.apply(x, taps=taps)


def upsample(input: Tensor, size: IntOrTuple | None = None, scale_factor: Any = None,  # noqa: A002
             mode: str = "nearest", align_corners: bool | None = None) -> Tensor:
    """PyTorch's deprecated name for interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def channels_first_layer_norm(input: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-6) -> Tensor:  # noqa: A002
    """LayerNorm over the channel dim (dim 1) of (N, C, *spatial) at every position, then a per-channel scale and
    shift (ConvNeXt's channels-first LayerNorm): the fused last-dim layer_norm on a channels-last view."""
    x = input
    if x.ndim < 2 or weight.shape != (x.shape[1],) or bias.shape != (x.shape[1],):
        raise ShapeError(f"channels_first_layer_norm: input of shape {x.shape} must be (batch, channels, ...) "
                         f"with weight and bias of shape (channels,), got {weight.shape} and {bias.shape}")
    channels_last = x.permute(0, *range(2, x.ndim), 1)
    return layer_norm(channels_last, x.shape[1], weight, bias, eps=eps).permute(0, x.ndim - 1, *range(1, x.ndim - 1))


# -- the op surface: element-wise math, logic and bits --------------------------------------------------------------
def tan(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).tan()


def asin(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).asin()


def acos(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).acos()


def atan(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).atan()


def sinh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sinh()


def cosh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).cosh()


def asinh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).asinh()


def acosh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).acosh()


def atanh(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).atanh()


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def atan2(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """The angle of the point (other, input), in (-pi, pi]."""
    return _tensor(input).atan2(other)


arctan2 = atan2


def hypot(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor(input).hypot(other)


def exp2(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).exp2()


def expm1(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).expm1()


def log2(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).log2()


def log10(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).log10()


def log1p(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).log1p()


def logaddexp(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor(input).logaddexp(other)


def floor(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).floor()


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).ceil()


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).trunc()


fix = trunc


def round_(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A002
    """`torch.round` (exported under that name by `tinygrad_np`; named apart here so that the builtin `round` stays
    itself in this module)."""
    return _tensor(input).round(decimals)


def sign(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).sign()


def frac(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).frac()


def copysign(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor(input).copysign(other)


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input - other * floor(input / other) (Python's `%`); `input` may be a number."""
    return input.remainder(other) if isinstance(input, Tensor) else _tensor(other).__rmod__(input)


def fmod(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """input - other * trunc(input / other) (C's fmod)."""
    return _tensor(input).fmod(other)


def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:  # noqa: A002
    """input + weight * (end - input)."""
    return _tensor(input).lerp(end, weight)


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).isinf()


def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).isposinf()


def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).isneginf()


def isnan(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).isnan()


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).isfinite()


def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
            equal_nan: builtins.bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| element-wise."""
    return _tensor(input).isclose(other, rtol, atol, equal_nan)


def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input).logical_not()


def logical_and(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor(input).logical_and(other)


def logical_or(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor(input).logical_or(other)


def logical_xor(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor(input).logical_xor(other)


def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    return ~input


def bitwise_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input & other


def bitwise_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input | other


def bitwise_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input ^ other


def bitwise_left_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input << other


def bitwise_right_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input >> other


# -- the op surface: reductions and scans -------------------------------------------------------------------------
def prod(input: Tensor, dim: int | None = None, keepdim: builtins.bool = False, *,  # noqa: A002
         dtype: Any = None) -> Tensor:
    return input.prod(dim, keepdim, dtype=dtype)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    return input.cumsum(dim, dtype=dtype)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    return input.cumprod(dim, dtype=dtype)


def cummax(input: Tensor, dim: int) -> MaxMin:  # noqa: A002
    return input.cummax(dim)


def cummin(input: Tensor, dim: int) -> MaxMin:  # noqa: A002
    return input.cummin(dim)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return input.logcumsumexp(dim)


def all_(input: Tensor, dim: Dim = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:  # noqa: A002
    """`torch.all` (exported under that name by `tinygrad_np`; the builtin `all` stays itself in this module)."""
    return input.all(dim, keepdim, **aliases)


def any_(input: Tensor, dim: Dim = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:  # noqa: A002
    """`torch.any` (exported under that name by `tinygrad_np`; the builtin `any` stays itself in this module)."""
    return input.any(dim, keepdim, **aliases)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: builtins.bool = False) -> Any:  # noqa: A002
    """(min, max) over `dim` (all elements when None)."""
    return input.aminmax(dim=dim, keepdim=keepdim)


def median(input: Tensor, dim: int | None = None, keepdim: builtins.bool = False) -> Any:  # noqa: A002
    return input.median(dim, keepdim)


def mode(input: Tensor, dim: int = -1, keepdim: builtins.bool = False) -> MaxMin:  # noqa: A002
    return input.mode(dim, keepdim)


def var_mean(input: Tensor, dim: Dim = None, unbiased: builtins.bool | None = None,  # noqa: A002
             keepdim: builtins.bool = False, **options: Any) -> tuple[Tensor, Tensor]:
    """(var, mean) over `dim`, with `Tensor.var`'s arguments."""
    keep = options.pop("keepdims", keepdim)
    dims = _dims(dim, options.pop("axis", None), "var_mean")
    return input.var(dims, unbiased, keep, **options), input.mean(dims, keep)


def std_mean(input: Tensor, dim: Dim = None, unbiased: builtins.bool | None = None,  # noqa: A002
             keepdim: builtins.bool = False, **options: Any) -> tuple[Tensor, Tensor]:
    """(std, mean) over `dim`, with `Tensor.std`'s arguments."""
    keep = options.pop("keepdims", keepdim)
    dims = _dims(dim, options.pop("axis", None), "std_mean")
    return input.std(dims, unbiased, keep, **options), input.mean(dims, keep)


# -- the op surface: matrix products, views, distinct values ---------------------------------------------------------
def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    return input.mm(mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    return input.bmm(mat2)


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:  # noqa: A002
    return input.narrow(dim, start, length)


def numel(input: Tensor) -> int:  # noqa: A002
    return input.numel()


def unique(input: Tensor, sorted: builtins.bool = True, return_inverse: builtins.bool = False,  # noqa: A001, A002
           return_counts: builtins.bool = False, dim: int | None = None) -> Tensor | tuple[Tensor, ...]:
    """The distinct values in ascending order (of the flattened tensor, or the distinct slices along `dim`), with
    `return_inverse` the index of each element (or slice) among them, with `return_counts` how often each occurs
    (int64, as PyTorch). `sorted=False` sorts too (as PyTorch on the CPU). No gradient."""
    x = input._data
    if dim is None:
        values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True, return_counts=True,
                                            equal_nan=False)
        inverse = inverse.reshape(x.shape)
    else:
        d = _dim_index(dim, x.ndim, "unique")
        values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=d)
        inverse = inverse.reshape(-1)
    out = [Tensor._wrap(values)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


__all__ += [
    "acos", "acosh", "aminmax", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_left_shift", "bitwise_not",
    "bitwise_or", "bitwise_right_shift", "bitwise_xor", "bmm", "ceil", "copysign", "cosh", "cummax", "cummin",
    "cumprod", "cumsum", "exp2", "expm1", "fix", "floor", "fmod", "frac", "hypot", "isclose", "isfinite", "isinf",
    "isnan", "isneginf", "isposinf", "lerp", "log10", "log1p", "log2", "logaddexp", "logcumsumexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "median", "mm", "mode", "narrow", "numel", "prod", "remainder",
    "sign", "sinh", "std_mean", "tan", "trunc", "unique", "var_mean",
]
