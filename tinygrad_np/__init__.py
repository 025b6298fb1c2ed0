"""tinygrad_np: a small, fast reverse-mode autograd engine on numpy, with PyTorch's names.

`import tinygrad_np as torch`-style code works: `tensor`, `zeros`, `cat`, `where`, `no_grad`, `manual_seed`, the
dtype names, `nn`, `optim`. What differs from PyTorch, and why, is listed in docs/pytorch.md.

Importing it changes nothing outside it: no environment variables, no allocator settings, no threads. The speed
settings are explicit calls: `set_num_threads(n)` and `enable_memory_reuse()` (train.py and the benchmarks make them).
"""

from . import functional, losses, nn, optim, viz
from .allocator import enable_memory_reuse
from .dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from .engine import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .factories import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .functional import (
    abs,
    add,
    allclose,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    concat,
    concatenate,
    cos,
    div,
    erf,
    exp,
    flatten,
    gather,
    index_select,
    log,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    permute,
    pow,
    relu,
    reshape,
    rsqrt,
    sigmoid,
    sin,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    take_along_dim,
    tanh,
    tile,
    transpose,
    unbind,
    unsqueeze,
    var,
    where,
)
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .ops.kernels import get_num_threads, set_num_threads
from .random import default_generator, get_rng_state, manual_seed, set_rng_state
from .serialization import load, save

__all__ = [
    "Function", "GradcheckError", "GradcheckReport", "Tensor", "abs", "add", "allclose", "amax", "amin", "arange",
    "argmax", "argmin", "as_tensor", "bool", "broadcast_to", "cat", "chunk", "clamp", "clip", "concat", "concatenate",
    "cos", "default_generator", "div", "double", "empty", "empty_like", "enable_grad", "enable_memory_reuse", "erf",
    "exp", "eye", "flatten", "float", "float16", "float32", "float64", "from_numpy", "full", "full_like", "functional",
    "gather", "get_num_threads", "get_rng_state", "gradcheck", "half", "index_select", "int", "int8", "int16", "int32",
    "int64", "is_grad_enabled", "linspace", "load", "log", "log_softmax", "logsumexp", "long", "losses", "manual_seed",
    "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "nn", "no_grad", "ones",
    "ones_like", "optim", "permute", "pow", "rand", "randint", "randn", "randperm", "relu", "reshape", "rsqrt", "save",
    "set_grad_enabled", "set_num_threads", "set_rng_state", "short", "sigmoid", "sin", "softmax", "split", "sqrt",
    "squeeze", "stack", "std", "sub", "sum", "swapaxes", "take_along_dim", "tanh", "tensor", "tile", "transpose",
    "uint8", "unbind", "unsqueeze", "var", "viz", "where", "zeros", "zeros_like",
]
