"""tinygrad_np: a small, fast reverse-mode autograd engine on numpy, with PyTorch's names.

`import tinygrad_np as torch`-style code works: `tensor`, `zeros`, `cat`, `where`, `no_grad`, `manual_seed`, the
dtype names, `nn`, `optim`, `utils.data` (datasets and the DataLoader), and the answers of PyTorch's CPU-only build
to the device questions (`device`, `cuda`, `backends`, `accelerator`, `amp`, `distributed`). What differs from
PyTorch, and why, is listed in docs/pytorch.md.

Importing it changes nothing outside it: no environment variables, no allocator settings, no threads. The speed
settings are explicit calls: `set_num_threads(n)` and `enable_memory_reuse()` (train.py and the benchmarks make them).
"""

from . import accelerator, amp, backends, cuda, distributed, functional, losses, nn, onnx, optim, utils, viz
from .allocator import enable_memory_reuse
from .amp import autocast
from .device import device
from .dtypes import (
    bfloat16,
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
    is_tensor,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
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
from .random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    multinomial,
    seed,
    set_rng_state,
)
from .runtime import (
    compile,
    get_float32_matmul_precision,
    inference_mode,
    is_inference_mode_enabled,
    set_float32_matmul_precision,
)
from .serialization import load, save

__version__ = "0.1.0"  # the package's version (pyproject.toml)

__all__ = [
    "abs", "accelerator", "add", "allclose", "amax", "amin", "amp", "arange", "argmax", "argmin", "as_tensor",
    "autocast", "backends", "bfloat16", "bool", "broadcast_to", "cat", "chunk", "clamp", "clip", "compile", "concat",
    "concatenate", "cos", "cuda", "default_generator", "device", "distributed", "div", "double", "empty", "empty_like",
    "enable_grad", "enable_memory_reuse", "erf", "exp", "eye", "flatten", "float", "float16", "float32", "float64",
    "from_numpy", "full", "full_like", "Function", "functional", "gather", "Generator", "get_float32_matmul_precision",
    "get_num_threads", "get_rng_state", "gradcheck", "GradcheckError", "GradcheckReport", "half", "index_select",
    "inference_mode", "initial_seed", "int", "int16", "int32", "int64", "int8", "is_grad_enabled",
    "is_inference_mode_enabled", "is_tensor", "linspace", "load", "log", "log_softmax", "logsumexp", "long", "losses",
    "manual_seed", "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "multinomial", "neg",
    "nn", "no_grad", "ones", "ones_like", "onnx", "optim", "permute", "pow", "rand", "rand_like", "randint",
    "randint_like", "randn", "randn_like", "randperm", "relu", "reshape", "rsqrt", "save", "seed",
    "set_float32_matmul_precision", "set_grad_enabled", "set_num_threads", "set_rng_state", "short", "sigmoid", "sin",
    "softmax", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "swapaxes", "take_along_dim", "tanh", "Tensor",
    "tensor", "tile", "transpose", "uint8", "unbind", "unsqueeze", "utils", "var", "viz", "where", "zeros", "zeros_like"
]
