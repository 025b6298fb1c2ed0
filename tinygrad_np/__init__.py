"""tinygrad_np: a small, fast reverse-mode autograd engine on numpy, with PyTorch's names.

`import tinygrad_np as torch`-style code works: `tensor`, `zeros`, `cat`, `where`, `no_grad`, `manual_seed`, the
dtype names, `nn`, `optim`. What differs from PyTorch, and why, is listed in docs/pytorch.md.

Importing it changes nothing outside it: no environment variables, no allocator settings, no threads, no numba. The
fused kernels run compiled (numba, `pip install tinygrad-np[fast]`) when numba is installed, numpy otherwise;
`set_kernels("numpy")` forces numpy. They run on as many threads as PyTorch would use (`set_num_threads(n)` to
change it), started at the first kernel call that needs them; `enable_memory_reuse()` keeps freed memory for reuse
(train.py and the benchmarks call it). docs/speed.md says more.
"""

from . import functional, losses, nn, optim, viz
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
from .kernels import get_kernels, set_kernels
from .random import default_generator, get_rng_state, manual_seed, set_rng_state
from .runtime import enable_memory_reuse, get_num_threads, set_num_threads

__all__ = [
    "Function", "GradcheckError", "GradcheckReport", "Tensor", "abs", "add", "allclose", "amax", "amin", "arange",
    "argmax", "argmin", "as_tensor", "bool", "broadcast_to", "cat", "chunk", "clamp", "clip", "concat",
    "concatenate", "cos", "default_generator", "div", "double", "empty", "empty_like", "enable_grad",
    "enable_memory_reuse", "erf", "exp", "eye", "flatten", "float", "float16", "float32", "float64", "from_numpy",
    "full", "full_like", "functional", "gather", "get_kernels", "get_num_threads", "get_rng_state", "gradcheck",
    "half",
    "index_select", "int", "int8", "int16", "int32", "int64", "is_grad_enabled", "linspace", "log", "log_softmax",
    "logsumexp", "long", "losses", "manual_seed", "masked_fill", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mul", "neg", "nn", "no_grad", "ones", "ones_like", "optim", "permute", "pow", "rand", "randint",
    "randn", "randperm", "relu", "reshape", "rsqrt", "set_grad_enabled", "set_kernels", "set_num_threads",
    "set_rng_state",
    "short", "sigmoid", "sin", "softmax", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "swapaxes",
    "take_along_dim", "tanh", "tensor", "tile", "transpose", "uint8", "unbind", "unsqueeze", "var", "viz", "where",
    "zeros", "zeros_like",
]
