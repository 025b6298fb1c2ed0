"""The core of reverse-mode autograd: a Tensor, the tape, and the backward walk.

Every op is a `Function` (in `tinygrad_np/ops/`): `forward` maps ndarrays to an ndarray and keeps
what its backward needs on `self`; `backward` maps the gradient of the output to one gradient per
input. `Function.apply` runs the forward and, when a gradient is wanted, records the op on the
output tensor (`out._ctx`). That record -- parents plus saved context -- is the whole tape.
`Tensor.backward` sorts the recorded graph topologically (without recursion), walks it in reverse,
un-broadcasts each input gradient in one place, and frees the saved arrays as it goes.

Below `Function` comes `Tensor`, with every operator and method written out: each one turns its
arguments into tensors of one dtype (PyTorch's promotion rules) and applies one op class. The
argument names are PyTorch's (`dim`, `keepdim`); numpy's (`axis`, `keepdims`) are accepted too.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

_grad_enabled = True


class no_grad(contextlib.ContextDecorator):
    """Record nothing on the tape inside this block (also usable as a decorator)."""

    def _recreate_cm(self) -> no_grad:
        return type(self)()  # a fresh instance per decorated call, so nesting restores correctly

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


class enable_grad(no_grad):
    """Record again inside a `no_grad` block."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, True


class set_grad_enabled(no_grad):
    """Turn recording on or off: at once when called (`set_grad_enabled(False)`), or for a `with` block."""

    def __init__(self, mode: bool):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, bool(mode)
        self.mode = bool(mode)

    def _recreate_cm(self) -> set_grad_enabled:
        return type(self)(self.mode)

    def __enter__(self) -> None:
        pass


def is_grad_enabled() -> bool:
    return _grad_enabled


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added, so it takes the input's `shape`.

    Broadcasting prepends axes and stretches size-1 axes; the gradient of a stretched
    input is the sum over the copies.
    """
    if grad.shape == shape:
        return grad
    leading = grad.ndim - len(shape)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[leading + i] != 1)
    if leading:
        grad = grad.sum(axis=tuple(range(leading)))
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    assert grad.shape == shape, f"gradient of shape {grad.shape} cannot be reduced to {shape}"
    return grad


class Function:
    """One differentiable op: `forward` and `backward` side by side.

    Subclasses implement `forward(self, *arrays, **options) -> ndarray` and
    `backward(self, grad) -> gradient or tuple of gradients` (one per input, None for an
    input that needs none; `self.needs_input_grad[i]` says which are needed).
    """

    released = False

    def __init__(self, *parents: Tensor):
        self.parents = parents
        # inside no_grad nothing needs a gradient, so a forward can skip what only its backward would use
        self.needs_input_grad = tuple([p.requires_grad for p in parents]) if _grad_enabled else (False,) * len(parents)

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | tuple[np.ndarray | None, ...] | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Tensor:
        ctx = cls(*inputs)
        out = Tensor._wrap(ctx.forward(*[t.data for t in inputs], **options))
        if any(ctx.needs_input_grad):
            # The graph keeps a leaf that requires grad as itself (backward fills its .grad) and any other input as
            # its Node (no array): an input's array lives on only if some op saved it for its backward.
            ctx.parents = tuple([p if p._ctx is None and p.requires_grad else p._graph_node() for p in inputs])
            out.requires_grad = True
            out._ctx = ctx
            out._node = Node(out)
        return out

    def release(self, leaves: dict[int, Node]) -> None:
        """Drop the saved arrays, keep the record of the inputs (leaves become Nodes too, one per leaf shared by
        every op that used it), so `explain()` and `viz` still show the graph; a later backward through here fails
        clearly."""
        parents = []
        for p in self.parents:
            if type(p) is not Node:
                node = leaves.get(id(p))
                if node is None:
                    node = leaves[id(p)] = Node(p)
                p = node
            parents.append(p)
        self.__dict__.clear()
        self.parents, self.released = tuple(parents), True


class Node:
    """A tensor as the graph remembers it: its shape, dtype, whether it requires grad and the op that made it, but not
    its array (PyTorch's graph keeps only what the ops saved, too). `retained` is the tensor itself when
    `retain_grad()` asked for its gradient."""

    __slots__ = ("shape", "dtype", "requires_grad", "_ctx", "retained")

    def __init__(self, tensor: Tensor | Node):
        self.shape, self.dtype, self.requires_grad, self._ctx = (tensor.shape, tensor.dtype, tensor.requires_grad,
                                                                 tensor._ctx)
        self.retained: Tensor | None = None

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None


def topological_order(root: Tensor | Node, follow_constants: bool = False) -> list[Tensor | Node]:
    """Every tensor `root` depends on, parents before children (iterative depth-first search, inputs in argument
    order); only those that require grad unless `follow_constants`."""
    order: list[Tensor | Node] = []
    visited = {id(root)}
    stack: list[tuple[Any, Iterator[Any]]] = [(root, iter(_parents(root)))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if (follow_constants or parent.requires_grad) and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(_parents(parent))))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _parents(node: Tensor | Node) -> tuple[Any, ...]:
    return node._ctx.parents if node._ctx is not None else ()


# The ops subclass Function (above), and the Tensor methods (below) apply them.
from .ops import elementwise as ew  # noqa: E402
from .ops import fused, linalg, movement, reduce  # noqa: E402

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating, as PyTorch promotes


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of an op on tensors of dtypes a and b: the higher kind wins, or the wider of one kind."""
    rank_a, rank_b = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if rank_a != rank_b:
        return a if rank_a > rank_b else b
    return np.promote_types(a, b)


def _constant_dtype(value: np.ndarray, like: Tensor) -> np.dtype:
    """The dtype of a Python number, list or ndarray meeting a tensor: the tensor's, unless the value is of a higher
    kind (a float meeting an integer tensor), then that kind's default (float32, int64)."""
    if _KIND_RANK[value.dtype.kind] <= _KIND_RANK[like.dtype.kind]:
        return like.dtype
    return DEFAULT_FLOAT if value.dtype.kind == "f" else DEFAULT_INT


def _pair(a: Tensor, b: Any) -> tuple[Tensor, Tensor]:
    """`a` and `b` as tensors of one dtype; a non-Tensor `b` is a constant."""
    if isinstance(b, Tensor):
        if a.data.dtype == b.data.dtype:
            return a, b
        dtype = promote_types(a.dtype, b.dtype)
        return a.to(dtype), b.to(dtype)
    if isinstance(b, (int, float)) and a.data.dtype.kind == "f":
        return a, Tensor._wrap(np.asarray(b, dtype=a.data.dtype))
    value = np.asarray(b)
    if value.dtype.kind not in _KIND_RANK:
        raise TypeError(f"cannot combine a tensor with {type(b).__name__} {b!r}")
    dtype = _constant_dtype(value, a)
    return a.to(dtype), Tensor._wrap(value.astype(dtype, copy=False))


def _binary(op: type[Function], a: Tensor, b: Tensor) -> Tensor:
    """`op` on two tensors that broadcast; shapes that do not are named in the error."""
    try:
        return op.apply(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op.__name__.lower()}: shapes {a.shape} and {b.shape} do not broadcast") from None
        raise


def _dims(dim: Any, axis: Any, name: str) -> Any:
    """PyTorch's `dim` or numpy's `axis` (not both)."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{name}: give dim or its numpy alias axis, not both")
    return axis


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    return keepdim if keepdims is None else keepdims


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)) / f([2, 3])."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _dim_index(dim: int, ndim: int, name: str) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % max(ndim, 1)


def _check_floating(x: Tensor, name: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: needs a floating-point tensor, got {x.dtype}; convert with .float()")


class MaxMin(NamedTuple):
    """What `max(dim)` and `min(dim)` return: the values and their indices along `dim`."""

    values: Tensor
    indices: Tensor


class Tensor:
    """An ndarray (`.data`) that remembers the op that produced it (`._ctx`), so gradients can flow back.

    `Tensor(data)` makes float32, as `torch.Tensor` does; `tinygrad_np.tensor(data)` keeps a numpy array's dtype
    and infers float32 / int64 / bool from Python values, as `torch.tensor` does. Only floating-point tensors take
    gradients; integer and bool tensors hold indices, labels and masks. `.data` and `.grad` are numpy arrays, not
    tensors (docs/pytorch.md lists this and every other difference from PyTorch).
    """

    __array_ufunc__ = None  # make `ndarray (op) Tensor` call our reflected operators
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_node", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=DEFAULT_FLOAT if dtype is None else dtype)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got {array.dtype}")
        self.data: np.ndarray = array
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._ctx: Function | None = None
        self._node: Node | None = None

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A tensor around an op's result, kept as it is (no dtype conversion, no copy)."""
        out = cls.__new__(cls)
        out.data = array if type(array) is np.ndarray else np.asarray(array)
        out.grad, out.requires_grad, out._ctx, out._node = None, False, None, None
        return out

    # -- the backward walk -------------------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Fill `.grad` of every leaf that requires grad with d(self)/d(leaf), summed in.

        Leaf gradients accumulate across calls until zeroed (gradient accumulation); interior tensors keep none
        unless `retain_grad()` was called. The saved arrays of the graph are freed unless `retain_graph=True`.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward(): a gradient must be given for a non-scalar output "
                                   f"(shape {self.shape}); pass gradient=... of that shape")
            gradient = np.ones_like(self.data)
        grad = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): gradient has shape {grad.shape}, output has shape {self.shape}")

        root = self if self._ctx is None else self._node
        grads: dict[int, np.ndarray] = {id(root): grad}
        leaves: dict[int, Node] = {}
        order = topological_order(root)
        while order:
            node = order.pop()  # from the output back; the list lets go of each node once it is done
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None:  # a leaf that requires grad
                node._accumulate(g)
                continue
            if node.retained is not None:
                node.retained._accumulate(g)
            if ctx.released:
                raise RuntimeError("backward(): trying to go through a graph a second time after its "
                                   "saved arrays were freed; pass retain_graph=True to the first backward")
            input_grads = ctx.backward(g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, needed, pg in zip(ctx.parents, ctx.needs_input_grad, input_grads, strict=True):
                if needed and pg is not None:
                    assert pg.dtype == parent.dtype, f"{type(ctx).__name__} returned a {pg.dtype} gradient"
                    pg = unbroadcast(pg, parent.shape)
                    key = id(parent)
                    grads[key] = grads[key] + pg if key in grads else pg
            if not retain_graph:
                ctx.release(leaves)

    def _accumulate(self, g: np.ndarray) -> None:
        if self.grad is None:
            self.grad = np.array(g, dtype=self.dtype)  # a copy: g may be shared with other inputs
        else:
            self.grad += g

    def retain_grad(self) -> None:
        """Keep `.grad` on this interior tensor after backward (a leaf keeps its gradient anyway)."""
        if self._node is not None:
            self._node.retained = self

    def _graph_node(self) -> Node:
        """The Node that stands for this tensor in graphs (made once, shared by every op that uses it)."""
        if self._node is None:
            self._node = Node(self)
        return self._node

    def explain(self) -> str:
        """The ops backward() would run from here, one line each, in its order (see `tinygrad_np.viz`)."""
        from .viz import format_tape

        return format_tape(self)

    # -- what it is ----------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        """The op that made this tensor (None for a leaf)."""
        return self._ctx

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or its length along `dim`."""
        return self.shape if dim is None else self.shape[_dim_index(dim, self.ndim, "size")]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python number, this one has shape "
                             f"{self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def numpy(self) -> np.ndarray:
        """The array itself (no copy)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only a one-element integer tensor can be used as an index, got {self.dtype} {self.shape}")
        return int(self.item())

    def __repr__(self) -> str:
        extra = f", grad_fn={type(self._ctx).__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"tensor({np.array2string(self.data, precision=4, threshold=20, separator=', ')}, " \
               f"dtype={self.dtype}{extra})"

    __hash__ = object.__hash__  # by identity, as PyTorch (== is element-wise)

    # -- dtype and graph ----------------------------------------------------------------------------------------
    def to(self, *args: Any, dtype: Any = None) -> Tensor:
        """`to(dtype)`, `to(other)` (its dtype) or `to("cpu")`. A cast of a tensor that requires grad is an op:
        the gradient is cast back."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and arg == "cpu":
                continue
            elif isinstance(arg, str) and arg.split(":")[0] in ("cuda", "mps", "xpu", "meta"):
                raise ValueError(f"to({arg!r}): this engine runs on the CPU only")
            else:
                dtype = arg
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if self.requires_grad and dtype.kind == "f" and _grad_enabled:
            return ew.Cast.apply(self, dtype=dtype)
        return Tensor._wrap(self.data.astype(dtype))

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def astype(self, dtype: Any) -> Tensor:
        """numpy's name for `to(dtype)`."""
        return self.to(dtype)

    def cpu(self) -> Tensor:
        return self

    def contiguous(self) -> Tensor:
        return self

    def detach(self) -> Tensor:
        """The same data, cut off from the tape."""
        return Tensor._wrap(self.data)

    def clone(self) -> Tensor:
        """A copy of the data; the gradient passes through."""
        return movement.Copy.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def _floating(self) -> Tensor:
        """Self, or a float32 copy of an integer or bool tensor (PyTorch's rule for exp, log, /, mean, ...)."""
        return self if self.data.dtype.kind == "f" else self.to(DEFAULT_FLOAT)

    # -- arithmetic ---------------------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _binary(ew.Add, *_pair(self, other))

    def __radd__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return _binary(ew.Add, b, a)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(ew.Sub, *_pair(self, other))

    def __rsub__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return _binary(ew.Sub, b, a)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(ew.Mul, *_pair(self, other))

    def __rmul__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return _binary(ew.Mul, b, a)

    def __truediv__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return _binary(ew.Div, a._floating(), b._floating())

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return _binary(ew.Div, b._floating(), a._floating())

    def __floordiv__(self, other: Any) -> Tensor:
        """Floor division (no gradient)."""
        a, b = _pair(self, other)
        return Tensor._wrap(np.floor_divide(a.data, b.data))

    def __mod__(self, other: Any) -> Tensor:
        """Remainder with the divisor's sign, as Python and PyTorch (no gradient)."""
        a, b = _pair(self, other)
        return Tensor._wrap(np.mod(a.data, b.data))

    def __pow__(self, exponent: Any) -> Tensor:
        """x ** exponent; a Python-number exponent is a constant, a Tensor exponent gets a gradient."""
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            base = self if isinstance(exponent, int) or self.dtype.kind == "f" else self._floating()
            return ew.PowScalar.apply(base, exponent=exponent)
        return _binary(ew.Pow, *_pair(self, exponent))

    def __rpow__(self, base: Any) -> Tensor:
        a, b = _pair(self, base)
        return _binary(ew.Pow, b, a)

    def __neg__(self) -> Tensor:
        return ew.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def add(self, other: Any, *, alpha: float = 1) -> Tensor:
        """self + alpha * other."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        return self ** exponent

    def neg(self) -> Tensor:
        return -self

    def maximum(self, other: Any) -> Tensor:
        """Element-wise max; ties split the gradient evenly."""
        return _binary(ew.Maximum, *_pair(self, other))

    def minimum(self, other: Any) -> Tensor:
        return _binary(ew.Minimum, *_pair(self, other))

    def matmul(self, other: Any) -> Tensor:
        """numpy's and PyTorch's matmul: 1-D operands are promoted and the added axis removed again; leading axes
        broadcast."""
        a, b = _pair(self, other)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: scalar operands are not allowed (shapes {a.shape} and {b.shape})")
        if a.ndim == 1 and b.ndim == 1:
            if a.shape != b.shape:
                raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not fit")
            return (a * b).sum()
        if a.ndim == 1:
            return linalg.Matmul.apply(a.unsqueeze(0), b).squeeze(-2)
        if b.ndim == 1:
            return linalg.Matmul.apply(a, b.unsqueeze(-1)).squeeze(-1)
        return linalg.Matmul.apply(a, b)

    def __matmul__(self, other: Any) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return b.matmul(a)

    # -- comparisons and logic (no gradient; bool results) --------------------------------------------------------
    def _compare(self, other: Any, compare: np.ufunc) -> Tensor:
        return Tensor._wrap(compare(self.data, other.data if isinstance(other, Tensor) else other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def _logic(self, other: Any, op: np.ufunc) -> Tensor:
        if self.dtype.kind not in "biu":
            raise TypeError(f"{op.__name__}: needs bool or integer tensors, got {self.dtype}")
        return Tensor._wrap(op(self.data, other.data if isinstance(other, Tensor) else other))

    def __and__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_and)

    def __or__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_or)

    def __xor__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_xor)

    def __invert__(self) -> Tensor:
        if self.dtype.kind not in "biu":
            raise TypeError(f"~: needs a bool or integer tensor, got {self.dtype}")
        return Tensor._wrap(np.invert(self.data))

    def logical_not(self) -> Tensor:
        return Tensor._wrap(np.logical_not(self.data))

    def all(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.all(self.data, axis=dim, keepdims=keepdim))

    def any(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.any(self.data, axis=dim, keepdims=keepdim))

    def isnan(self) -> Tensor:
        return Tensor._wrap(np.isnan(self.data))

    def isfinite(self) -> Tensor:
        return Tensor._wrap(np.isfinite(self.data))

    # -- element-wise functions ---------------------------------------------------------------------------------
    def exp(self) -> Tensor:
        return ew.Exp.apply(self._floating())

    def log(self) -> Tensor:
        return ew.Log.apply(self._floating())

    def sqrt(self) -> Tensor:
        return ew.Sqrt.apply(self._floating())

    def rsqrt(self) -> Tensor:
        return 1 / self.sqrt()

    def square(self) -> Tensor:
        return self ** 2

    def abs(self) -> Tensor:
        return ew.Abs.apply(self)

    def sin(self) -> Tensor:
        return ew.Sin.apply(self._floating())

    def cos(self) -> Tensor:
        return ew.Cos.apply(self._floating())

    def relu(self) -> Tensor:
        return ew.Relu.apply(self)

    def sigmoid(self) -> Tensor:
        return ew.Sigmoid.apply(self._floating())

    def tanh(self) -> Tensor:
        return ew.Tanh.apply(self._floating())

    def erf(self) -> Tensor:
        return ew.Erf.apply(self._floating())

    def gelu(self, approximate: str = "none") -> Tensor:
        """GELU(x) = x * Phi(x) with the exact normal CDF (one fused op), or with approximate="tanh" the tanh
        formula 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
        if approximate == "none":
            return fused.Gelu.apply(self._floating())
        if approximate == "tanh":
            x = self._floating()
            return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)).tanh())
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")

    def softplus(self) -> Tensor:
        """log(1 + exp(x)), without overflow."""
        return fused.Softplus.apply(self._floating())

    def softsign(self) -> Tensor:
        """x / (1 + |x|): squashes to (-1, 1) like tanh, with polynomial tails."""
        return ew.Softsign.apply(self._floating())

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        """Clamp to [min, max] (either may be None; tensor bounds go element-wise); the gradient passes where
        min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clamp: give min, max or both")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        return ew.Clip.apply(self, low=min, high=max)

    clip = clamp

    def where(self, condition: Any, other: Any) -> Tensor:
        """self where `condition` holds, else `other` (PyTorch's `x.where(condition, y)`)."""
        condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
        a, b = _pair(self, other)
        try:
            return ew.Where.apply(a, b, condition=condition)
        except ValueError:
            raise ValueError(f"where: shapes {condition.shape}, {a.shape} and {b.shape} do not broadcast") from None

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """`value` where the bool `mask` holds (broadcast), self elsewhere."""
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != bool:
            raise TypeError(f"masked_fill: the mask must be a bool tensor, got {mask.dtype}")
        fill = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=self.dtype))
        return fill.where(mask, self)

    # -- shape ----------------------------------------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        shape = _shape_args(shape)
        if shape == self.shape:
            return self
        return movement.Reshape.apply(self, shape=shape)

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """reshape (a copy where numpy needs one, where PyTorch's view would refuse: docs/pytorch.md)."""
        return self.reshape(*shape)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims start_dim..end_dim (inclusive) into one; all dims by default."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _dim_index(start_dim, self.ndim, "flatten"), _dim_index(end_dim, self.ndim, "flatten")
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1:])

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        """Split dim `dim` into `sizes`."""
        d = _dim_index(dim, self.ndim, "unflatten")
        return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1:])

    def squeeze(self, dim: int | Sequence[int] | None = None, *, axis: int | None = None) -> Tensor:
        """Remove size-1 dims: all of them, or those of `dim` (an int or tuple) that have size 1."""
        dim = _dims(dim, axis, "squeeze")
        dims = range(self.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
        drop = {_dim_index(d, self.ndim, "squeeze") for d in dims}
        return self.reshape(*[n for i, n in enumerate(self.shape) if not (i in drop and n == 1)])

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dim at `dim` (-1: last)."""
        d = _dim_index(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(*self.shape[:d], 1, *self.shape[d:])

    def expand_dims(self, axis: int) -> Tensor:
        """numpy's name for `unsqueeze`."""
        return self.unsqueeze(axis)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """Reorder all dims: `x.permute(1, 0, 2)`."""
        dims = _shape_args(dims)
        if len(dims) != self.ndim:
            raise ValueError(f"permute: {len(dims)} dims given for a tensor of shape {self.shape}")
        return movement.Permute.apply(self, axes=dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dims (PyTorch's transpose; for a full reordering use `permute`)."""
        dims = list(range(self.ndim))
        a, b = _dim_index(dim0, self.ndim, "transpose"), _dim_index(dim1, self.ndim, "transpose")
        dims[a], dims[b] = dims[b], dims[a]
        return self if a == b else movement.Permute.apply(self, axes=tuple(dims))

    swapaxes = swapdims = transpose

    def t(self) -> Tensor:
        """The transpose of a matrix (a 0-d or 1-d tensor is returned as it is)."""
        if self.ndim > 2:
            raise ValueError(f"t(): needs at most 2 dims, got shape {self.shape}; use transpose(dim0, dim1)")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's and numpy's name
        """All dims reversed (numpy's .T; for matrices the transpose)."""
        return self if self.ndim < 2 else movement.Permute.apply(self, axes=tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two dims swapped (a batch of matrices transposed)."""
        return self.transpose(-2, -1)

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """Broadcast to `sizes` without copying; -1 keeps a dim's size, new dims may be added in front."""
        sizes = _shape_args(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes given for a tensor of shape {self.shape}")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        return self.broadcast_to(shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def broadcast_to(self, *shape: int | Sequence[int]) -> Tensor:
        shape = _shape_args(shape)
        return self if shape == self.shape else movement.Expand.apply(self, shape=shape)

    def repeat(self, *repeats: int | Sequence[int]) -> Tensor:
        """Tile the tensor `repeats[i]` times along dim i (numpy's tile); extra leading repeats add dims."""
        repeats = _shape_args(repeats)
        if len(repeats) < self.ndim:
            raise ValueError(f"repeat: {len(repeats)} repeats given for a tensor of {self.ndim} dims "
                             "(need at least one per dim)")
        return movement.Repeat.apply(self, repeats=repeats)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along `dim`: of `split_size` each (the last may be smaller), or of the given sizes."""
        d = _dim_index(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections < 1:
                raise ValueError(f"split: split_size must be >= 1, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, n - start) for start in range(0, n, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the length of dim {dim}")
        lead = (slice(None),) * d
        starts = np.cumsum([0, *sizes[:-1]])
        return tuple(self[lead + (slice(int(s), int(s) + k),)] for s, k in zip(starts, sizes, strict=True))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """`chunks` pieces of ceil(n / chunks) along `dim` (fewer when they run out, as PyTorch)."""
        if chunks < 1:
            raise ValueError(f"chunk: chunks must be >= 1, got {chunks}")
        n = self.shape[_dim_index(dim, self.ndim, "chunk")]
        return self.split(max(1, -(-n // chunks)), dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along `dim`, with that dim removed."""
        d = _dim_index(dim, self.ndim, "unbind")
        lead = (slice(None),) * d
        return tuple(self[lead + (i,)] for i in range(self.shape[d]))

    # -- selection ------------------------------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Tensor:
        return movement.Getitem.apply(self, index=_index(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        """In-place assignment into the data (allowed where PyTorch allows it without a graph: see `_in_place`)."""
        self._in_place("__setitem__")
        self.data[_index(index)] = value.data if isinstance(value, Tensor) else value

    def gather(self, dim: int, index: Any) -> Tensor:
        """PyTorch's gather: out[i][j][k] = self[index[i][j][k]][j][k] for dim 0 (and so on); the output has the
        index's shape, which may be smaller than self's in the other dims. The gradient scatters back and adds
        where an element was picked more than once."""
        index = _integer_array(index, "gather")
        d = _dim_index(dim, self.ndim, "gather")
        if index.ndim != self.ndim or any(i > n for k, (i, n) in enumerate(zip(index.shape, self.shape,
                                                                                strict=True)) if k != d):
            raise ValueError(f"gather: index of shape {index.shape} must have the tensor's {self.ndim} dims and be "
                             f"no larger than its shape {self.shape} outside dim {dim}")
        if any(k != d and i < n for k, (i, n) in enumerate(zip(index.shape, self.shape, strict=True))):
            source = self[tuple(slice(None) if k == d else slice(0, i) for k, i in enumerate(index.shape))]
        else:
            source = self
        return movement.Gather.apply(source, index=index, axis=d)

    def take_along_dim(self, indices: Any, dim: int) -> Tensor:
        """numpy's take_along_axis: like gather, but `indices` broadcasts against self outside `dim`."""
        indices = _integer_array(indices, "take_along_dim")
        if indices.ndim != self.ndim:
            raise ValueError(f"take_along_dim: indices of shape {indices.shape} must have the tensor's {self.ndim} "
                             f"dims (shape {self.shape})")
        return movement.Gather.apply(self, index=indices, axis=_dim_index(dim, self.ndim, "take_along_dim"))

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries `index` (1-D integers) along `dim`."""
        index = _integer_array(index, "index_select")
        if index.ndim != 1:
            raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
        return self[(slice(None),) * _dim_index(dim, self.ndim, "index_select") + (index,)]

    # -- reductions -----------------------------------------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None) -> Tensor:
        """Sum over `dim` (an int, a tuple, or None for all dims)."""
        return reduce.Sum.apply(self, axis=_dims(dim, axis, "sum"), keepdims=_keep(keepdim, keepdims))

    def mean(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None) -> Tensor:
        _check_floating(self, "mean")
        return reduce.Mean.apply(self, axis=_dims(dim, axis, "mean"), keepdims=_keep(keepdim, keepdims))

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None, axis: Any = None, ddof: float | None = None,
            keepdims: bool | None = None) -> Tensor:
        """Variance over `dim` divided by N - correction: correction 1 (unbiased, PyTorch's default) unless
        `unbiased=False`, `correction=0` or numpy's `ddof=0` says otherwise."""
        _check_floating(self, "var")
        given = [c for c in (correction, ddof, None if unbiased is None else int(unbiased)) if c is not None]
        if len(given) > 1:
            raise TypeError("var: give one of unbiased, correction and ddof")
        return reduce.Var.apply(self, axis=_dims(dim, axis, "var"), ddof=given[0] if given else 1,
                                keepdims=_keep(keepdim, keepdims))

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None, axis: Any = None, ddof: float | None = None,
            keepdims: bool | None = None) -> Tensor:
        """sqrt of `var` (same arguments)."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis, ddof=ddof, keepdims=keepdims).sqrt()

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Max over `dim` (an int, a tuple or all); tied maxima share the gradient evenly."""
        return reduce.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return reduce.Min.apply(self, axis=dim, keepdims=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor | MaxMin:
        """Three forms, as PyTorch: `max()` the largest value (ties share the gradient); `max(dim)` the values and
        indices along an int `dim` (`.values`, `.indices`; the gradient goes to the index); `max(other)` the
        element-wise maximum. numpy's `max(axis=...)` gives the values only."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if axis is not None or dim is None:
            return self.amax(_dims(dim, axis, "max"), _keep(keepdim, keepdims))
        return self._pick(dim, keepdim, np.argmax)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor | MaxMin:
        """As `max`, for the smallest values."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if axis is not None or dim is None:
            return self.amin(_dims(dim, axis, "min"), _keep(keepdim, keepdims))
        return self._pick(dim, keepdim, np.argmin)

    def _pick(self, dim: int, keepdim: bool, arg: Any) -> MaxMin:
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"max/min: dim must be an int (for several dims use amax/amin), got {dim!r}")
        d = _dim_index(dim, self.ndim, "max/min")
        indices = np.expand_dims(arg(self.data, axis=d), d)
        values = movement.Gather.apply(self, index=indices, axis=d)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return MaxMin(values, Tensor._wrap(indices))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value along `dim` (of the flattened tensor when None); the first among ties."""
        return Tensor._wrap(np.argmax(self.data, axis=dim, keepdims=keepdim and dim is not None).astype(np.int64))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.argmin(self.data, axis=dim, keepdims=keepdim and dim is not None).astype(np.int64))

    def logsumexp(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
                  keepdims: bool | None = None) -> Tensor:
        """log(sum(exp(x))) over `dim`, computed with the max subtracted."""
        return reduce.LogSumExp.apply(self._floating(), axis=_dims(dim, axis, "logsumexp"),
                                      keepdims=_keep(keepdim, keepdims))

    def softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) over `dim` (the last by default)."""
        d = _dims(dim, axis, "softmax")
        return reduce.Softmax.apply(self._floating(), axis=_dim_index(-1 if d is None else d, self.ndim, "softmax"))

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """x - logsumexp(x) over `dim` (the last by default): never softmax-then-log."""
        d = _dims(dim, axis, "log_softmax")
        return reduce.LogSoftmax.apply(self._floating(), axis=_dim_index(-1 if d is None else d, self.ndim,
                                                                         "log_softmax"))

    def norm(self, p: float = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The p-norm over `dim` (all dims by default): p = 2, 1 or inf."""
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p == math.inf:
            return self.abs().amax(dim, keepdim)
        raise ValueError(f"norm: p must be 1, 2 or inf, got {p}")

    # -- in place (on data that no graph has recorded) --------------------------------------------------------------
    def _in_place(self, name: str) -> None:
        """PyTorch refuses in-place changes to a leaf that requires grad while recording; this engine also refuses
        them on a tensor an op produced (its consumers saved its data for their backward)."""
        if self._ctx is not None:
            raise RuntimeError(f"{name}: a tensor computed by a recorded op cannot be changed in place "
                               "(its data may be saved for backward); use the out-of-place form")
        if self.requires_grad and _grad_enabled:
            raise RuntimeError(f"{name}: a leaf tensor that requires grad cannot be changed in place while "
                               "gradients are recorded; do it inside `with no_grad():`")

    def zero_(self) -> Tensor:
        self._in_place("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value: Any) -> Tensor:
        self._in_place("fill_")
        self.data[...] = value
        return self

    def copy_(self, source: Any) -> Tensor:
        self._in_place("copy_")
        self.data[...] = source.data if isinstance(source, Tensor) else source
        return self

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        self._in_place("add_")
        self.data += np.asarray(other.data if isinstance(other, Tensor) else other) * self.dtype.type(alpha)
        return self

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self.add_(other, alpha=-alpha)

    def mul_(self, other: Any) -> Tensor:
        self._in_place("mul_")
        self.data *= other.data if isinstance(other, Tensor) else other
        return self

    def div_(self, other: Any) -> Tensor:
        self._in_place("div_")
        self.data /= other.data if isinstance(other, Tensor) else other
        return self

    # `x += y` changes a leaf's data in place (as PyTorch: inside no_grad for one that requires grad); on a tensor
    # an op produced it gives a new tensor instead, recorded like `x = x + y` (see docs/pytorch.md).
    def __iadd__(self, other: Any) -> Tensor:
        return self + other if self._ctx is not None else self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self - other if self._ctx is not None else self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self * other if self._ctx is not None else self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self / other if self._ctx is not None else self.div_(other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        self._in_place("clamp_")
        np.clip(self.data, min, max, out=self.data)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with normal(mean, std) draws from the global generator (seeded by `manual_seed`)."""
        from .random import default_generator

        self._in_place("normal_")
        self.data[...] = default_generator().normal(mean, std, self.shape)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        from .random import default_generator

        self._in_place("uniform_")
        self.data[...] = default_generator().uniform(a, b, self.shape)
        return self


def _index(index: Any) -> Any:
    """Tensors inside an index become arrays; lists become integer or boolean arrays."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        if index.dtype == bool or index.dtype.kind in "iu":
            return index.data
        raise IndexError(f"tensors used as indices must be integer or bool, got {index.dtype}")
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _integer_array(index: Any, name: str) -> np.ndarray:
    index = np.asarray(index.data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be integers, got {index.dtype}")
    return index
