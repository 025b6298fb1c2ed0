"""The core of reverse-mode autograd: a Tensor, the tape, and the backward walk.

Read it in this order:
1. `Function`: one op, `forward` and `backward` side by side (the ops themselves live in `tinygrad_np/ops/`).
   `Function.apply` runs the forward and, when a gradient is wanted, records the op on its output (`out._ctx`):
   parents plus what the forward saved. That record is the whole tape.
2. `Tensor.backward`: sorts the recorded graph topologically (without recursion), walks it from the output back,
   un-broadcasts each input's gradient in one place (`unbroadcast`), sums the gradients of a tensor used twice, and
   frees the saved arrays as it goes.
3. The rest of `Tensor`: every operator and method written out, each turning its arguments into tensors of one
   dtype (PyTorch's promotion rules, `dtypes.py`) and applying one op class. The argument names are PyTorch's
   (`dim`, `keepdim`); numpy's (`axis`, `keepdims`) are accepted too.

As in PyTorch, `.data` and `.grad` are Tensors; the array inside a tensor is `._data` (`.numpy()` for users).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import device as _device
from . import grad_mode
from .dtypes import DEFAULT_FLOAT, _constant_dtype, _dim_index, _dims, _keep, _shape_args, promote_types
from .errors import ArgumentTypeError, ArgumentValueError, IndexOutOfRange, ShapeError, UnsupportedDtype
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "Node", "Tensor", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "topological_order", "unbroadcast"]



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
    input that needs none; `self.needs_input_grad[i]` says which are needed). Both run with numpy's floating-point
    warnings off: log(0), 1/0 and sqrt(-1) give inf and nan silently, as in PyTorch.
    """

    released = False

    def __init__(self, *parents: Tensor):
        self.parents = parents
        # inside no_grad nothing needs a gradient, so a forward can skip what only its backward would use
        self.needs_input_grad = (tuple([p.requires_grad for p in parents]) if grad_mode.enabled
                                 else (False,) * len(parents))

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | tuple[np.ndarray | None, ...] | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Tensor:
        ctx = cls(*inputs)
        with np.errstate(all="ignore"):  # log(0), 1/0, sqrt(-1): inf and nan without a warning, as in PyTorch
            out = Tensor._wrap(ctx.forward(*[t._data for t in inputs], **options))
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
from .ops import fused, indexing, linalg, movement, reduce, scan  # noqa: E402


class Tensor:
    """An ndarray (`._data`) that remembers the op that produced it (`._ctx`), so gradients can flow back.

    `Tensor(data)` makes float32, as `torch.Tensor` does; `tinygrad_np.tensor(data)` keeps a numpy array's dtype
    and infers float32 / int64 / bool from Python values, as `torch.tensor` does. Only floating-point tensors take
    gradients; integer and bool tensors hold indices, labels and masks.
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "_ctx", "_node", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        if isinstance(data, Tensor):
            data = data._data
        self._data: np.ndarray = np.asarray(data, dtype=DEFAULT_FLOAT if dtype is None else dtype)
        self._grad: Tensor | None = None
        self._requires_grad = False
        self._ctx: Function | None = None
        self._node: Node | None = None
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A tensor around an op's result, kept as it is (no dtype conversion, no copy)."""
        out = cls.__new__(cls)
        out._data = array if type(array) is np.ndarray else np.asarray(array)
        out._grad, out._requires_grad, out._ctx, out._node = None, False, None, None
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
            if self._data.size != 1:
                raise RuntimeError(f"backward(): a gradient must be given for a non-scalar output "
                                   f"(shape {self.shape}); pass gradient=... of that shape")
            gradient = np.ones_like(self._data)
        grad = np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ShapeError(f"backward(): gradient has shape {grad.shape}, output has shape {self.shape}")

        root = self if self._ctx is None else self._node
        grads: dict[int, np.ndarray] = {id(root): grad}
        leaves: dict[int, Node] = {}
        order = topological_order(root)
        with np.errstate(all="ignore"):  # as in the forward: inf and nan without a warning
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
        """Add a gradient array into `.grad` (a new Tensor the first time)."""
        if self._grad is None:
            self._grad = Tensor._wrap(np.array(g, dtype=self.dtype))  # a copy: g may be shared with other inputs
        else:
            self._grad._data += g

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

    # -- .grad, .data and requires_grad, as PyTorch has them --------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient backward() summed into this leaf: a Tensor of the same shape and dtype, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
            if value.shape != self.shape or value.dtype != self.dtype:
                raise ShapeError(f"assigned grad has {value.dtype} {value.shape}, the tensor is {self.dtype} "
                                 f"{self.shape}; they must match")
        self._grad = value

    @property
    def data(self) -> Tensor:
        """The same array as a tensor outside the graph (no copy): what changes it changes this tensor, and no
        gradient is recorded (PyTorch's `.data`; `detach()` is the safer spelling)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, this one is "
                               f"{self._data.dtype}")
        self._requires_grad = bool(value)

    # -- what it is ----------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        """The op that made this tensor (None for a leaf)."""
        return self._ctx

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or its length along `dim`."""
        return self.shape if dim is None else self.shape[_dim_index(dim, self.ndim, "size")]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def item(self) -> Any:
        if self._data.size != 1:
            raise ShapeError(f"item(): only a one-element tensor converts to a Python number, this one has shape "
                             f"{self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def numpy(self) -> np.ndarray:
        """The array itself (no copy)."""
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """numpy functions on tensors. The arithmetic and comparison ufuncs run as this engine's operators, so
        `array + tensor` is recorded on the tape like `tensor + array`; any other ufunc (`np.abs`, `np.exp`, ...)
        computes on the arrays and returns a tensor outside the graph, which a tensor that requires grad refuses
        (as PyTorch refuses `.numpy()` of one)."""
        operator = _UFUNC_OPERATORS.get(ufunc) if method == "__call__" and not kwargs and len(inputs) == 2 else None
        if operator is not None:
            a, b = inputs
            return getattr(a, operator[0])(b) if isinstance(a, Tensor) else getattr(b, operator[1])(a)
        if grad_mode.enabled and any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
            raise RuntimeError(f"numpy's {ufunc.__name__} cannot record a gradient: use the tensor method or call "
                               "detach() first")
        arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x._data if isinstance(x, Tensor) else x for x in kwargs["out"])
        result = getattr(ufunc, method)(*arrays, **kwargs)
        if isinstance(result, tuple):
            return tuple(Tensor._wrap(np.asarray(r)) for r in result)
        return None if result is None else Tensor._wrap(np.asarray(result))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(f"only a one-element integer tensor can be used as an index, got {self.dtype} {self.shape}")
        return int(self.item())

    def __repr__(self) -> str:
        """PyTorch's layout: `tensor([1.5000, 2.0000])`, the dtype named unless it is float32, int64 or bool, more
        than 1,000 elements abbreviated, then `grad_fn` or `requires_grad`."""
        body = np.array2string(self._data, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                               formatter=_float_formatter(self._data))
        implied = (DEFAULT_FLOAT,) if self._data.size == 0 else (DEFAULT_FLOAT, np.dtype(np.int64), np.dtype(np.bool_))
        extra = "" if self.dtype in implied else f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__  # by identity, as PyTorch (== is element-wise)

    # -- dtype and graph ----------------------------------------------------------------------------------------
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

    def half(self) -> Tensor:
        return self.to(np.float16)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> str | Tensor:
        """Without an argument PyTorch's type string ("torch.FloatTensor", ...); with a dtype (or such a string) the
        tensor in that dtype, as `to(dtype)`."""
        if dtype is None:
            name = _TYPE_NAMES.get(self.dtype)
            if name is None:
                raise TypeError(f"type(): PyTorch has no tensor type name for {self.dtype}")
            return f"torch.{name}"
        if isinstance(dtype, str):
            names = {f"torch.{name}": key for key, name in _TYPE_NAMES.items()}
            if dtype not in names:
                raise ValueError(f"type(): invalid type {dtype!r} (expected one of {', '.join(sorted(names))})")
            dtype = names[dtype]
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def astype(self, dtype: Any) -> Tensor:
        """numpy's name for `to(dtype)`."""
        return self.to(dtype)

    def contiguous(self) -> Tensor:
        return self

    def detach(self) -> Tensor:
        """The same data, cut off from the tape."""
        return Tensor._wrap(self._data)

    def detach_(self) -> Tensor:
        """Cut this tensor itself off from the tape: it becomes a leaf that does not require grad."""
        self._ctx, self._node, self._requires_grad = None, None, False
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """A new leaf with a copy of the data, of `requires_grad` and of the gradient (PyTorch copies only leaves)."""
        if self._ctx is not None:
            raise RuntimeError("only tensors created by the user (graph leaves) support the deepcopy protocol; "
                               "call detach() first")
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new._data, new._requires_grad, new._ctx, new._node = self._data.copy(), self._requires_grad, None, None
        new._grad = None if self._grad is None else self._grad.__deepcopy__(memo)
        return new

    def clone(self) -> Tensor:
        """A copy of the data; the gradient passes through."""
        return movement.Copy.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def _floating(self) -> Tensor:
        """Self, or a float32 copy of an integer or bool tensor (PyTorch's rule for exp, log, /, mean, ...)."""
        return self if self._data.dtype.kind == "f" else self.to(DEFAULT_FLOAT)

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
        return Tensor._wrap(np.floor_divide(a._data, b._data))

    def __rfloordiv__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return Tensor._wrap(np.floor_divide(b._data, a._data))

    def __mod__(self, other: Any) -> Tensor:
        """Remainder with the divisor's sign, as Python and PyTorch (`remainder`)."""
        return self.remainder(other)

    def __rmod__(self, other: Any) -> Tensor:
        a, b = _pair(self, other)
        return b.remainder(a)

    def __pow__(self, exponent: Any) -> Tensor:
        """x ** exponent; a Python-number exponent is a constant, a Tensor exponent gets a gradient."""
        if isinstance(exponent, int) and exponent < 0 and self.dtype.kind in "biu":
            raise ArgumentValueError(f"pow: integers to negative integer powers are not allowed ({self.dtype} "
                                     f"tensor ** {exponent}); convert to float first")
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

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """self / other; `rounding_mode="trunc"` rounds the quotient toward zero, `"floor"` down (integer tensors
        stay integers then). A rounded quotient carries no gradient (PyTorch's is zero)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ArgumentValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                                     f"{rounding_mode!r}")
        a, b = _pair(self, other)
        if a.dtype.kind in "biu":
            if a.dtype == bool:
                a, b = a.to(np.int64), b.to(np.int64)
            if (b._data == 0).any():
                raise ArgumentValueError("div: integer division by zero (ZeroDivisionError)")
            quotient = np.floor_divide(a._data, b._data)
            if rounding_mode == "trunc":
                quotient = quotient + ((np.remainder(a._data, b._data) != 0) & ((a._data < 0) != (b._data < 0)))
            return Tensor._wrap(quotient.astype(a.dtype, copy=False))
        with np.errstate(divide="ignore", invalid="ignore"):
            quotient = np.trunc(a._data / b._data) if rounding_mode == "trunc" else np.floor_divide(a._data, b._data)
        return Tensor._wrap(quotient)

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
            raise ShapeError(f"matmul: scalar operands are not allowed (shapes {a.shape} and {b.shape})")
        if a.ndim == 1 and b.ndim == 1:
            if a.shape != b.shape:
                raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not fit")
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
        if not isinstance(other, (Tensor, np.ndarray, np.generic, int, float, bool, list, tuple)):
            return NotImplemented  # let the other object compare (pytest.approx, a custom scalar type)
        return Tensor._wrap(compare(self._data, other._data if isinstance(other, Tensor) else other))

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

    def _logic(self, other: Any, op: np.ufunc, reflected: bool = False) -> Tensor:
        """A bitwise op on bool or integer tensors (`other` promoted with self, as PyTorch): floats are refused as
        PyTorch refuses them."""
        a, b = _pair(self, other)
        if a.dtype.kind not in "biu":
            raise UnsupportedDtype(f"{op.__name__}: not implemented for {a.dtype} (needs bool or integer tensors)")
        return Tensor._wrap(op(b._data, a._data) if reflected else op(a._data, b._data))

    def __and__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_and)

    def __or__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_or)

    def __xor__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_xor)

    def __rand__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_and, reflected=True)

    def __ror__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_or, reflected=True)

    def __rxor__(self, other: Any) -> Tensor:
        return self._logic(other, np.bitwise_xor, reflected=True)

    def __invert__(self) -> Tensor:
        if self.dtype.kind not in "biu":
            raise UnsupportedDtype(f"~: not implemented for {self.dtype} (needs a bool or integer tensor)")
        return Tensor._wrap(np.invert(self._data))

    def logical_not(self) -> Tensor:
        return Tensor._wrap(np.logical_not(self._data))

    def all(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        """Whether every element (over `dim`, an int or a tuple; all dims when None) is nonzero."""
        return self._every(np.all, _dims(dim, axis, "all"), _keep(keepdim, keepdims))

    def any(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        """Whether some element (over `dim`, an int or a tuple; all dims when None) is nonzero."""
        return self._every(np.any, _dims(dim, axis, "any"), _keep(keepdim, keepdims))

    def _every(self, test: Any, dim: Any, keepdim: bool) -> Tensor:
        if dim == ():  # PyTorch: an empty list of dims reduces none
            return Tensor._wrap(self._data.astype(np.uint8 if self.dtype == np.uint8 else bool))
        axes = None if dim is None else reduce.normalize_axes(dim, self.ndim)
        out = np.asarray(test(self._data, axis=axes, keepdims=keepdim))
        return Tensor._wrap(out.astype(np.uint8) if self.dtype == np.uint8 else out)  # PyTorch keeps uint8

    def isnan(self) -> Tensor:
        return Tensor._wrap(np.isnan(self._data))

    def isfinite(self) -> Tensor:
        return Tensor._wrap(np.isfinite(self._data))

    # -- element-wise functions ---------------------------------------------------------------------------------
    def exp(self) -> Tensor:
        return ew.Exp.apply(self._floating())

    def log(self) -> Tensor:
        return ew.Log.apply(self._floating())

    def sqrt(self) -> Tensor:
        return ew.Sqrt.apply(self._floating())

    def rsqrt(self) -> Tensor:
        return 1 / self.sqrt()

    def reciprocal(self) -> Tensor:
        return 1 / self._floating()

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
        raise ArgumentValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")

    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        """log(1 + exp(beta * x)) / beta, without overflow; x itself where beta * x > threshold (PyTorch's)."""
        return fused.Softplus.apply(self._floating(), beta=beta, threshold=threshold)

    def softsign(self) -> Tensor:
        """x / (1 + |x|): squashes to (-1, 1) like tanh, with polynomial tails."""
        return ew.Softsign.apply(self._floating())

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        """Clamp to [min, max] (either may be None; tensor bounds go element-wise); the gradient passes where
        min <= x <= max."""
        if min is None and max is None:
            raise ArgumentValueError("clamp: at least one of min and max must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        return ew.Clip.apply(self, low=min, high=max)

    clip = clamp

    def where(self, condition: Any, other: Any) -> Tensor:
        """self where `condition` holds, else `other` (PyTorch's `x.where(condition, y)`)."""
        condition = np.asarray(condition._data if isinstance(condition, Tensor) else condition, dtype=bool)
        a, b = _pair(self, other)
        try:
            return ew.Where.apply(a, b, condition=condition)
        except ValueError:
            raise ShapeError(f"where: shapes {condition.shape}, {a.shape} and {b.shape} do not broadcast") from None

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """`value` where the bool `mask` holds (broadcast), self elsewhere."""
        mask = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
        if mask.dtype != bool:
            raise UnsupportedDtype(f"masked_fill: the mask must be a bool tensor, got {mask.dtype}")
        fill = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=self.dtype))
        return fill.where(mask, self)

    # -- shape ----------------------------------------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        shape = _shape_args(shape)
        if shape == self.shape:
            return self
        return movement.Reshape.apply(self, shape=shape)

    def view(self, *shape: Any) -> Tensor:
        """reshape (a copy where numpy needs one, where PyTorch's view would refuse: docs/pytorch.md); `view(dtype)`
        reinterprets the bytes as another dtype (the last dim scales by the ratio of the item sizes; no gradient)."""
        if len(shape) == 1 and (isinstance(shape[0], np.dtype) or (isinstance(shape[0], type)
                                                                    and issubclass(shape[0], np.generic))):
            dtype = np.dtype(shape[0])
            if self.ndim == 0 and dtype.itemsize != self.dtype.itemsize:
                raise ShapeError(f"view(): a 0-d tensor of {self.dtype} cannot be viewed as {dtype} (its item size "
                                 "differs)")
            try:
                return Tensor._wrap(np.ascontiguousarray(self._data).view(dtype))
            except ValueError:
                raise ShapeError(f"view(): a tensor of shape {self.shape} and {self.dtype} cannot be viewed as "
                                 f"{dtype}: the last dim must hold a whole number of {dtype} items") from None
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
            raise ShapeError(f"permute: {len(dims)} dims given for a tensor of shape {self.shape}")
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
            raise ShapeError(f"t(): needs at most 2 dims, got shape {self.shape}; use transpose(dim0, dim1)")
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
            raise ShapeError(f"expand: {len(sizes)} sizes given for a tensor of shape {self.shape}")
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
            raise ShapeError(f"repeat: {len(repeats)} repeats given for a tensor of {self.ndim} dims "
                             "(need at least one per dim)")
        return movement.Repeat.apply(self, repeats=repeats)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along `dim`: of `split_size` each (the last may be smaller), or of the given sizes."""
        d = _dim_index(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections < 1:
                raise ArgumentValueError(f"split: split_size must be >= 1, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, n - start) for start in range(0, n, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ShapeError(f"split: sizes {sizes} do not add up to {n}, the length of dim {dim}")
        lead = (slice(None),) * d
        starts = np.cumsum([0, *sizes[:-1]])
        return tuple(self[lead + (slice(int(s), int(s) + k),)] for s, k in zip(starts, sizes, strict=True))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """`chunks` pieces of ceil(n / chunks) along `dim` (fewer when they run out, as PyTorch)."""
        if chunks < 1:
            raise ArgumentValueError(f"chunk: chunks must be >= 1, got {chunks}")
        n = self.shape[_dim_index(dim, self.ndim, "chunk")]
        return self.split(max(1, -(-n // chunks)), dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along `dim`, with that dim removed."""
        d = _dim_index(dim, self.ndim, "unbind")
        lead = (slice(None),) * d
        return tuple(self[lead + (i,)] for i in range(self.shape[d]))

    # -- selection ------------------------------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Tensor:
        """PyTorch's indexing: integers, slices, None, Ellipsis, integer and bool tensors (and lists); integers are
        basic indexing, so the dims of the index tensors land where PyTorch puts them (`indexing.torch_index_steps`)."""
        out = self
        for step in indexing.torch_index_steps(_index(index), self.ndim):
            out = movement.Getitem.apply(out, index=step)
        return out

    def __setitem__(self, index: Any, value: Any) -> None:
        """In-place assignment into the data (allowed where PyTorch allows it without a graph: see `_in_place`)."""
        self._in_place("__setitem__")
        *views, last = indexing.torch_index_steps(_index(index), self.ndim)
        target = self._data
        for step in views:  # integers, slices and None only: a view
            target = target[step]
        target[last] = value._data if isinstance(value, Tensor) else value

    def gather(self, dim: int, index: Any) -> Tensor:
        """PyTorch's gather: out[i][j][k] = self[index[i][j][k]][j][k] for dim 0 (and so on); the output has the
        index's shape, which may be smaller than self's in the other dims. The gradient scatters back and adds
        where an element was picked more than once. Index values outside [0, size) are refused (RuntimeError)."""
        index = _integer_array(index, "gather")
        d = _dim_index(dim, self.ndim, "gather")
        if index.ndim != self.ndim or any(i > n for k, (i, n) in enumerate(zip(index.shape, self.shape,
                                                                                strict=True)) if k != d):
            raise ShapeError(f"gather: index of shape {index.shape} must have the tensor's {self.ndim} dims and be "
                             f"no larger than its shape {self.shape} outside dim {dim}")
        if any(k != d and i < n for k, (i, n) in enumerate(zip(index.shape, self.shape, strict=True))):
            source = self[tuple(slice(None) if k == d else slice(0, i) for k, i in enumerate(index.shape))]
        else:
            source = self
        return movement.Gather.apply(source, index=index, axis=d)

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Tensor:
        """PyTorch's take_along_dim: gather along `dim` after broadcasting self and `indices` against each other in
        every other dim; with dim None, of the flattened tensor at the flattened indices. Index values outside
        [0, size) are refused (RuntimeError, as gather; PyTorch does not check them)."""
        indices = _integer_array(indices, "take_along_dim")
        if dim is None:
            return movement.Gather.apply(self.reshape(-1), index=indices.reshape(-1), axis=0)
        if indices.ndim != self.ndim:
            raise ShapeError(f"take_along_dim: indices of shape {indices.shape} must have the tensor's {self.ndim} "
                             f"dims (shape {self.shape})")
        d = _dim_index(dim, self.ndim, "take_along_dim")
        outside = [tuple(1 if k == d else n for k, n in enumerate(shape)) for shape in (self.shape, indices.shape)]
        try:
            shape = list(np.broadcast_shapes(*outside))
        except ValueError:
            raise ShapeError(f"take_along_dim: the tensor of shape {self.shape} and indices of shape {indices.shape} "
                             f"do not broadcast outside dim {dim}") from None
        source_shape, index_shape = shape.copy(), shape.copy()
        source_shape[d], index_shape[d] = self.shape[d], indices.shape[d]
        source = self.broadcast_to(source_shape) if tuple(source_shape) != self.shape else self
        return movement.Gather.apply(source, index=np.broadcast_to(indices, index_shape), axis=d)

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries `index` (1-D integers in [0, size)) along `dim`."""
        index = _integer_array(index, "index_select")
        if index.ndim > 1:
            raise IndexOutOfRange(f"index_select: index must be a vector (1-D), got shape {index.shape}")
        d = _dim_index(dim, self.ndim, "index_select")
        size = self.shape[d] if self.ndim else 1
        if index.size and (index.min() < 0 or index.max() >= size):
            raise IndexOutOfRange(f"index_select: index out of range in self (values from {index.min()} to "
                                  f"{index.max()}, dim {dim} of size {size})")
        if self.ndim == 0:
            return self.reshape(1)[index.reshape(-1)].reshape(index.shape)
        return self[(slice(None),) * d + (index.reshape(-1),)]

    # -- shape and indexing: PyTorch's op surface (ops/indexing.py) ------------------------------------------------
    def flip(self, *dims: int | Sequence[int]) -> Tensor:
        """Reverse the order of elements along `dims` (given as ints or one tuple); the gradient flips back."""
        dims = _shape_args(dims)
        axes = [_dim_index(d, self.ndim, "flip") for d in dims]
        if len(set(axes)) != len(axes):
            raise ShapeError(f"flip: dims {dims} name a dim more than once")
        return indexing.Flip.apply(self, axes=tuple(axes) if self.ndim else ())

    def fliplr(self) -> Tensor:
        return self.flip(1)

    def flipud(self) -> Tensor:
        return self.flip(0)

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        """Shift elements cyclically by `shifts` along `dims` (one shift per dim), or over the flattened tensor when
        dims is None."""
        shift_list = [shifts] if isinstance(shifts, (int, np.integer)) else list(shifts)
        if dims is None:
            if len(shift_list) != 1:
                raise ShapeError(f"roll: shifts {shifts} and dims None do not align (one shift without dims)")
            return indexing.Roll.apply(self, shifts=int(shift_list[0]), dims=None)
        dim_list = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
        if len(shift_list) != len(dim_list):
            raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
        axes = tuple(_dim_index(d, self.ndim, "roll") for d in dim_list)
        return indexing.Roll.apply(self, shifts=tuple(int(s) for s in shift_list), dims=axes)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal at `offset` of each (dim1, dim2) plane, as a new last dim."""
        a, b = _dim_index(dim1, self.ndim, "diagonal"), _dim_index(dim2, self.ndim, "diagonal")
        if a == b:
            raise ShapeError(f"diagonal: dim1 and dim2 cannot be the same dim ({dim1} and {dim2})")
        return indexing.Diagonal.apply(self, offset=int(offset), dim1=a, dim2=b)

    def diag(self, diagonal: int = 0) -> Tensor:
        """A 1-D tensor: the square matrix with it on the `diagonal`-th diagonal; a 2-D one: that diagonal."""
        if self.ndim == 1:
            return indexing.DiagEmbed.apply(self, offset=int(diagonal))
        if self.ndim == 2:
            return self.diagonal(diagonal)
        raise ShapeError(f"diag: needs a 1-D or 2-D tensor, got shape {self.shape}")

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dims (on and below the `diagonal`-th diagonal), zeros above."""
        if self.ndim < 2:
            raise ShapeError(f"tril: needs at least 2 dims, got shape {self.shape}")
        return indexing.Triangle.apply(self, diagonal=int(diagonal), lower=True)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dims (on and above the `diagonal`-th diagonal), zeros below."""
        if self.ndim < 2:
            raise ShapeError(f"triu: needs at least 2 dims, got shape {self.shape}")
        return indexing.Triangle.apply(self, diagonal=int(diagonal), lower=False)

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        """Every window of `size` elements `step` apart along `dimension`: that dim becomes the number of windows,
        and a last dim of `size` is added (a copy; overlapping windows sum their gradients)."""
        d = _dim_index(dimension, self.ndim, "unfold")
        length = self.shape[d] if self.ndim else 1
        if step <= 0:
            raise ArgumentValueError(f"unfold: step is {step} but must be > 0")
        if not 0 <= size <= length:
            raise ArgumentValueError(f"unfold: maximum size for the tensor at dimension {d} is {length} but size is "
                                     f"{size}")
        source = self if self.ndim else self.reshape(1)
        return indexing.UnfoldDim.apply(source, dim=d, size=int(size), step=int(step))

    def repeat_interleave(self, repeats: int | Any, dim: int | None = None, *,
                          output_size: int | None = None) -> Tensor:
        """Each element repeated `repeats` times (an int, or one count per element along `dim`), consecutively;
        over the flattened tensor when dim is None."""
        source = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else _dim_index(dim, self.ndim, "repeat_interleave")
        n = source.shape[d] if source.ndim else 1
        counts = np.asarray(repeats._data if isinstance(repeats, Tensor) else repeats)
        if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, n)):
            raise ShapeError(f"repeat_interleave: repeats must be an int or 1-D integers with one count per element "
                             f"({n}) along dim {dim}, got {repeats!r}")
        if (counts < 0).any():
            raise ArgumentValueError("repeat_interleave: repeats must be non-negative")
        index = np.repeat(np.arange(n), np.broadcast_to(counts.reshape(-1), (n,)))
        if output_size is not None and output_size != index.size:
            raise ShapeError(f"repeat_interleave: output_size {output_size} differs from the {index.size} repeats")
        return source.index_select(d, index)

    def masked_select(self, mask: Any) -> Tensor:
        """The elements where the bool `mask` (broadcast with self) holds, as a 1-D tensor."""
        mask = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
        if mask.dtype != bool:
            raise TypeError(f"masked_select: the mask must be a bool tensor, got {mask.dtype}")
        try:
            shape = np.broadcast_shapes(self.shape, mask.shape)
        except ValueError:
            raise ShapeError(f"masked_select: shapes {self.shape} and mask {mask.shape} do not broadcast") from None
        return movement.Getitem.apply(self.broadcast_to(shape), index=np.broadcast_to(mask, shape))

    def nonzero(self, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
        """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with `as_tuple` one 1-D tensor per
        dim (a 0-d tensor counts as 1-D)."""
        if as_tuple:
            return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(self._data)))
        return Tensor._wrap(np.argwhere(self._data).astype(np.int64))

    def argwhere(self) -> Tensor:
        return self.nonzero()

    def _scatter_args(self, op: str, dim: int, index: Any, src: Any) -> tuple[int, np.ndarray, Tensor | None]:
        d = _dim_index(dim, self.ndim, op)
        index = _integer_array(index, op)
        if isinstance(src, Tensor) and src.dtype != self.dtype:
            raise ShapeError(f"{op}: self ({self.dtype}) and src ({src.dtype}) must have the same dtype")
        indexing.check_scatter(op, self.shape, index, d, src.shape if isinstance(src, Tensor) else None)
        return d, index, src if isinstance(src, Tensor) else None

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce: str | None = None) -> Tensor:
        """self with `src` (a tensor, or a number `value`) written at the positions `index` points at along `dim`:
        out[index[i][j]][j] = src[i][j] for dim 0, and so on. `reduce="add"` or `"multiply"` combines instead of
        overwriting. The gradient of self is zero where it was overwritten; src's is the gradient at its positions."""
        if (src is None) == (value is None):
            raise TypeError("scatter: give src (a tensor or a number) or value, not both")
        source = value if src is None else src
        if reduce is not None:
            if reduce not in ("add", "multiply"):
                raise ArgumentValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
            full = source if isinstance(source, Tensor) else Tensor._wrap(np.full(np.shape(index), source,
                                                                                  dtype=self.dtype))
            return self.scatter_reduce(dim, index, full, "sum" if reduce == "add" else "prod")
        d, index, src_tensor = self._scatter_args("scatter", dim, index, source)
        if src_tensor is None:
            return indexing.Scatter.apply(self, dim=d, index=index, value=source)
        return indexing.Scatter.apply(self, src_tensor, dim=d, index=index)

    def scatter_add(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """self plus src added in at the positions `index` points at along `dim` (repeated positions add up)."""
        return self.scatter_reduce(dim, index, src, "sum")

    def scatter_reduce(self, dim: int, index: Any, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
        """src combined into self at the positions `index` points at along `dim` by `reduce`: "sum", "prod",
        "mean", "amax" or "amin"; `include_self=False` leaves self's values at those positions out."""
        if reduce not in indexing.ScatterReduce.ufuncs:
            raise ArgumentValueError(f"scatter_reduce: reduce argument must be either sum, prod, mean, amax or amin, "
                                     f"got {reduce!r}")
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_reduce: src must be a tensor, got {type(src).__name__}")
        d, index, src = self._scatter_args("scatter_reduce", dim, index, src)
        return indexing.ScatterReduce.apply(self, src, dim=d, index=index, reduce=reduce, include_self=include_self)

    def index_add(self, dim: int, index: Any, source: Tensor, *, alpha: float = 1) -> Tensor:
        """self plus alpha * source added into the slices `index` (1-D, values in [0, size)) selects along `dim`."""
        d = _dim_index(dim, self.ndim, "index_add")
        index = _integer_array(index, "index_add").reshape(-1)
        source = _pair(self, source)[1] if isinstance(source, Tensor) else Tensor._wrap(np.asarray(source,
                                                                                                  self.dtype))
        expected = self.shape[:d] + (index.size,) + self.shape[d + 1:]
        if source.shape != expected and not (self.ndim == 0 and source.size == index.size):
            raise ShapeError(f"index_add: source of shape {source.shape} must be {expected} for index of "
                             f"{index.size} entries along dim {dim} of a tensor of shape {self.shape}")
        indexing.check_index_range(index, self.shape[d] if self.ndim else 1, d, "index_add")
        if self.ndim == 0:
            return indexing.IndexAdd.apply(self.reshape(1), source.reshape(-1), dim=0, index=index,
                                           alpha=alpha).reshape(())
        return indexing.IndexAdd.apply(self, source, dim=d, index=index, alpha=alpha)

    def index_fill(self, dim: int, index: Any, value: Any) -> Tensor:
        """self with the slices `index` selects along `dim` set to `value` (a number or a 0-d tensor, which gets
        the summed gradient of those slices)."""
        d = _dim_index(dim, self.ndim, "index_fill")
        index = _integer_array(index, "index_fill").reshape(-1)
        size = self.shape[d] if self.ndim else 1
        indexing.check_index_range(index, size, d, "index_fill", IndexOutOfRange, negative=True)
        source = self if self.ndim else self.reshape(1)
        if isinstance(value, Tensor):
            if value.ndim:
                raise ShapeError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
            out = indexing.IndexFill.apply(source, value.to(self.dtype), dim=d, index=index)
        else:
            out = indexing.IndexFill.apply(source, dim=d, index=index, fill=value)
        return out if self.ndim else out.reshape(())

    def _sort_order(self, dim: int, descending: bool, op: str) -> tuple[int, np.ndarray]:
        """(dim, the stable sorting permutation along it); descending keeps equal elements in their order too."""
        d = _dim_index(dim, self.ndim, op)
        data = np.atleast_1d(self._data)
        if not descending:
            return d, np.argsort(data, axis=d, kind="stable")
        reversed_order = np.argsort(np.flip(data, d), axis=d, kind="stable")
        return d, data.shape[d] - 1 - np.flip(reversed_order, d)

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool = False) -> MaxMin:
        """The values sorted along `dim` and their indices (`.values`, `.indices`); always stable (equal elements
        keep their order), NaN sorted as the largest. The gradient goes back to each value's position."""
        d, order = self._sort_order(dim, descending, "sort")
        source = self if self.ndim else self.reshape(1)
        values = movement.Gather.apply(source, index=order, axis=d)
        if self.ndim == 0:
            return MaxMin(values.reshape(()), Tensor._wrap(order.reshape(())))
        return MaxMin(values, Tensor._wrap(order))

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
        """The indices that sort along `dim` (stable)."""
        order = self._sort_order(dim, descending, "argsort")[1]
        return Tensor._wrap(order.reshape(self.shape))

    def msort(self) -> Tensor:
        return self.sort(0).values

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> MaxMin:  # noqa: A002
        """The k largest (or smallest) values along `dim` and their indices, in order (ties by position)."""
        n = self.shape[_dim_index(dim, self.ndim, "topk")] if self.ndim else 1
        if not 0 <= k <= n:
            raise ArgumentValueError(f"topk: selected index k={k} out of range for dim {dim} of size {n}")
        d, order = self._sort_order(dim, largest, "topk")
        order = np.take(order, np.arange(k), axis=d)
        source = self if self.ndim else self.reshape(1)
        values, indices = movement.Gather.apply(source, index=order, axis=d), Tensor._wrap(order)
        return MaxMin(values.reshape(()), indices.reshape(())) if self.ndim == 0 else MaxMin(values, indices)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> MaxMin:
        """The k-th smallest value (k from 1) along `dim` and its index."""
        n = self.shape[_dim_index(dim, self.ndim, "kthvalue")] if self.ndim else 1
        if not 1 <= k <= n:
            raise ArgumentValueError(f"kthvalue: k={k} is out of range for dim {dim} of size {n} (expected 1 to {n})")
        d, order = self._sort_order(dim, False, "kthvalue")
        order = np.take(order, [k - 1], axis=d)
        source = self if self.ndim else self.reshape(1)
        values, indices = movement.Gather.apply(source, index=order, axis=d), Tensor._wrap(order)
        if self.ndim == 0:
            return MaxMin(values.reshape(()), indices.reshape(()))
        return MaxMin(values, indices) if keepdim else MaxMin(values.squeeze(d), indices.squeeze(d))

    # -- reductions -----------------------------------------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        """Sum over `dim` (an int, a tuple, or None for all dims), in `dtype` when given (the input is cast first);
        integer and bool tensors sum to int64, as in PyTorch."""
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x.dtype.kind in "biu" and x.dtype != np.int64:
            x = x.to(np.int64)
        return reduce.Sum.apply(x, axis=_dims(dim, axis, "sum"), keepdims=_keep(keepdim, keepdims))

    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        """Mean over `dim` (an int, a tuple, or None for all dims), in `dtype` when given."""
        x = self if dtype is None else self.to(dtype)
        _check_floating(x, "mean")
        return reduce.Mean.apply(x, axis=_dims(dim, axis, "mean"), keepdims=_keep(keepdim, keepdims))

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

    def amax(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        """Max over `dim` (an int, a tuple or all); tied maxima share the gradient evenly."""
        return reduce.Max.apply(self, axis=_dims(dim, axis, "amax"), keepdims=_keep(keepdim, keepdims))

    def amin(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        """Min over `dim` (an int, a tuple or all); tied minima share the gradient evenly."""
        return reduce.Min.apply(self, axis=_dims(dim, axis, "amin"), keepdims=_keep(keepdim, keepdims))

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor | MaxMin:
        """Three forms, as PyTorch: `max()` the largest value (ties share the gradient); `max(dim)` the values and
        indices along an int `dim` (`.values`, `.indices`; the gradient goes to the index); `max(other)` the
        element-wise maximum. `axis` and `keepdims` are PyTorch's aliases of `dim` and `keepdim`."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        dim = _dims(dim, axis, "max")
        if dim is None:
            return self.amax()
        return self._pick(dim, _keep(keepdim, keepdims), np.argmax)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor | MaxMin:
        """As `max`, for the smallest values."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        dim = _dims(dim, axis, "min")
        if dim is None:
            return self.amin()
        return self._pick(dim, _keep(keepdim, keepdims), np.argmin)

    def _pick(self, dim: int, keepdim: bool, arg: Any) -> MaxMin:
        if not isinstance(dim, (int, np.integer)):
            raise ArgumentTypeError(f"max/min: dim must be an int (for several dims use amax/amin), got {dim!r}")
        d = _dim_index(dim, self.ndim, "max/min")
        if self.ndim == 0:
            return MaxMin(movement.Copy.apply(self), Tensor._wrap(np.zeros((), dtype=np.int64)))
        if self.shape[d] == 0:
            raise IndexOutOfRange(f"max/min: cannot reduce dim {dim} of size 0 (shape {self.shape})")
        indices = np.expand_dims(arg(self._data, axis=d), d)
        values = movement.Gather.apply(self, index=indices, axis=d)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return MaxMin(values, Tensor._wrap(indices))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value along `dim` (of the flattened tensor when None); the first among ties."""
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return self._arg(np.argmin, dim, keepdim)

    def _arg(self, arg: Any, dim: int | None, keepdim: bool) -> Tensor:
        if self._data.size == 0:
            raise IndexOutOfRange(f"{arg.__name__}: cannot pick from an empty tensor (shape {self.shape})")
        if dim is None or self.ndim == 0:
            if dim is not None:
                _dim_index(dim, self.ndim, arg.__name__)
            index = np.asarray(arg(self._data)).astype(np.int64)
            return Tensor._wrap(index.reshape((1,) * self.ndim) if keepdim else index)
        d = _dim_index(dim, self.ndim, arg.__name__)
        return Tensor._wrap(arg(self._data, axis=d, keepdims=keepdim).astype(np.int64))

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
        if self.requires_grad and grad_mode.enabled:
            raise RuntimeError(f"{name}: a leaf tensor that requires grad cannot be changed in place while "
                               "gradients are recorded; do it inside `with no_grad():`")

    def zero_(self) -> Tensor:
        self._in_place("zero_")
        self._data[...] = 0
        return self

    def fill_(self, value: Any) -> Tensor:
        self._in_place("fill_")
        self._data[...] = value
        return self

    def copy_(self, source: Any) -> Tensor:
        self._in_place("copy_")
        self._data[...] = source._data if isinstance(source, Tensor) else source
        return self

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        self._in_place("add_")
        self._data += np.asarray(other._data if isinstance(other, Tensor) else other) * self.dtype.type(alpha)
        return self

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return self.add_(other, alpha=-alpha)

    def mul_(self, other: Any) -> Tensor:
        self._in_place("mul_")
        self._data *= other._data if isinstance(other, Tensor) else other
        return self

    def div_(self, other: Any) -> Tensor:
        self._in_place("div_")
        self._data /= other._data if isinstance(other, Tensor) else other
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
        np.clip(self._data, min, max, out=self._data)
        return self

    def _assign(self, name: str, compute: Any) -> Tensor:
        """Write the result of `compute()` (the out-of-place op) into this tensor's data, under the same rules as the
        other in-place methods; nothing is recorded."""
        self._in_place(name)
        with no_grad():
            self._data[...] = compute()._data
        return self

    def scatter_(self, dim: int, index: Any, src: Any = None, **options: Any) -> Tensor:
        return self._assign("scatter_", lambda: self.scatter(dim, index, src, **options))

    def scatter_add_(self, dim: int, index: Any, src: Tensor) -> Tensor:
        return self._assign("scatter_add_", lambda: self.scatter_add(dim, index, src))

    def scatter_reduce_(self, dim: int, index: Any, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
        return self._assign("scatter_reduce_", lambda: self.scatter_reduce(dim, index, src, reduce,
                                                                           include_self=include_self))

    def index_add_(self, dim: int, index: Any, source: Tensor, *, alpha: float = 1) -> Tensor:
        return self._assign("index_add_", lambda: self.index_add(dim, index, source, alpha=alpha))

    def index_fill_(self, dim: int, index: Any, value: Any) -> Tensor:
        return self._assign("index_fill_", lambda: self.index_fill(dim, index, value))

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        return self._assign("masked_fill_", lambda: self.masked_fill(mask, value))

    def tril_(self, diagonal: int = 0) -> Tensor:
        return self._assign("tril_", lambda: self.tril(diagonal))

    def triu_(self, diagonal: int = 0) -> Tensor:
        return self._assign("triu_", lambda: self.triu(diagonal))

    # -- devices and random numbers (tinygrad_np/device.py, tinygrad_np/random.py) -------------------------------
    @property
    def device(self) -> _device.device:
        """Always the CPU (`x.device.type == "cpu"`, `str(x.device) == "cpu"`)."""
        return _device.CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's forms: `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)` (its dtype), keywords `device=`,
        `dtype=`, `non_blocking=`, `copy=`. The tensor itself when nothing changes (unless `copy=True`); the CPU is the
        only device. A cast of a tensor that requires grad is an op: the gradient is cast back."""
        if len(args) == 1 and not kwargs and isinstance(args[0], (np.dtype, type)):  # a dtype alone: no parsing
            dtype, copy = args[0], False
        else:
            dtype, copy = _device.to_arguments(args, kwargs, Tensor)
        out = self
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            dtype = np.dtype(dtype)
            if self.requires_grad and dtype.kind == "f" and grad_mode.enabled:
                out = ew.Cast.apply(self, dtype=dtype)
            else:
                out = Tensor._wrap(self._data.astype(dtype))
        return out.clone() if copy and out is self else out

    def cpu(self) -> Tensor:
        """The tensor itself: it is already on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Refused: this engine runs on the CPU only."""
        raise _device.DeviceUnavailableError("cuda(): this engine runs on the CPU only (cuda.is_available() is False)")

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: np.random.Generator | None = None) -> Tensor:
        """Fill with normal(mean, std) draws from `generator` or the global one (seeded by `manual_seed`)."""
        from .random import default_generator

        self._in_place("normal_")
        self._data[...] = (generator or default_generator()).normal(mean, std, self.shape)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: np.random.Generator | None = None) -> Tensor:
        """Fill with uniform draws on [a, b) from `generator` or the global one."""
        from .random import default_generator

        self._in_place("uniform_")
        self._data[...] = (generator or default_generator()).uniform(a, b, self.shape)
        return self

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: np.random.Generator | None = None) -> Tensor:
        """`tinygrad_np.multinomial(self, ...)`: category indices drawn from rows of probabilities."""
        from .random import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)

    # -- the op surface: element-wise math (tinygrad_np/ops/elementwise.py) ------------------------------------------
    def tan(self) -> Tensor:
        return ew.Tan.apply(self._floating())

    def asin(self) -> Tensor:
        return ew.Asin.apply(self._floating())

    def acos(self) -> Tensor:
        return ew.Acos.apply(self._floating())

    def atan(self) -> Tensor:
        return ew.Atan.apply(self._floating())

    def sinh(self) -> Tensor:
        return ew.Sinh.apply(self._floating())

    def cosh(self) -> Tensor:
        return ew.Cosh.apply(self._floating())

    def asinh(self) -> Tensor:
        return ew.Asinh.apply(self._floating())

    def acosh(self) -> Tensor:
        return ew.Acosh.apply(self._floating())

    def atanh(self) -> Tensor:
        return ew.Atanh.apply(self._floating())

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

    def atan2(self, other: Any) -> Tensor:
        """The angle of the point (other, self), in (-pi, pi]."""
        a, b = _pair(self, other)
        return _binary(ew.Atan2, a._floating(), b._floating())

    arctan2 = atan2

    def hypot(self, other: Any) -> Tensor:
        """sqrt(self^2 + other^2), without overflow."""
        a, b = _pair(self, other)
        return _binary(ew.Hypot, a._floating(), b._floating())

    def exp2(self) -> Tensor:
        return ew.Exp2.apply(self._floating())

    def expm1(self) -> Tensor:
        """exp(x) - 1, exact for small x."""
        return ew.Expm1.apply(self._floating())

    def log2(self) -> Tensor:
        return ew.LogBase.apply(self._floating(), base=2)

    def log10(self) -> Tensor:
        return ew.LogBase.apply(self._floating(), base=10)

    def log1p(self) -> Tensor:
        """log(1 + x), exact for small x."""
        return ew.Log1p.apply(self._floating())

    def logaddexp(self, other: Any) -> Tensor:
        """log(exp(self) + exp(other)), without overflow."""
        a, b = _pair(self, other)
        return _binary(ew.LogAddExp, a._floating(), b._floating())

    def _rounded(self, kind: str, decimals: int = 0) -> Tensor:
        """floor, ceil, trunc, round, sign: gradient 0 (step functions); an integer tensor is returned as a copy, a
        bool one refused (as PyTorch)."""
        if self.dtype == np.bool_:
            raise UnsupportedDtype(f"{kind}: not implemented for bool")
        if self.dtype.kind in "iu" and kind != "sign":
            return Tensor._wrap(self._data.copy())
        return ew.Rounding.apply(self, kind=kind, decimals=decimals)

    def floor(self) -> Tensor:
        return self._rounded("floor")

    def ceil(self) -> Tensor:
        return self._rounded("ceil")

    def trunc(self) -> Tensor:
        return self._rounded("trunc")

    fix = trunc

    def round(self, decimals: int = 0) -> Tensor:
        """Round half to even (as PyTorch and numpy), to `decimals` places."""
        return self._rounded("round", decimals)

    def sign(self) -> Tensor:
        """-1, 0 or 1 (0 for nan, as PyTorch; bool tensors stay bool); gradient 0."""
        if self.dtype == np.bool_:
            return Tensor._wrap(self._data.copy())
        return self._rounded("sign")

    def frac(self) -> Tensor:
        """x - trunc(x); the gradient passes through."""
        if self.dtype.kind != "f":
            raise UnsupportedDtype(f"frac: not implemented for {self.dtype} (needs a floating-point tensor)")
        return ew.Frac.apply(self)

    def copysign(self, other: Any) -> Tensor:
        """|self| with the sign of `other` (float result); the gradient reaches self only."""
        a, b = _pair(self, other)
        return _binary(ew.CopySign, a._floating(), b._floating())

    def remainder(self, other: Any) -> Tensor:
        """self - other * floor(self / other): the divisor's sign, as Python's `%` (also `x % y`)."""
        a, b = _pair(self, other)
        self._broadcasts(a, b)
        return ew.Remainder.apply(a, b, rounding="floor")

    def fmod(self, other: Any) -> Tensor:
        """self - other * trunc(self / other): the dividend's sign, as C's fmod."""
        a, b = _pair(self, other)
        self._broadcasts(a, b)
        return ew.Remainder.apply(a, b, rounding="trunc")

    @staticmethod
    def _broadcasts(a: Tensor, b: Tensor) -> None:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ShapeError(f"shapes {a.shape} and {b.shape} do not broadcast") from None

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """self + weight * (end - self); `weight` a number or a tensor (each gets its gradient)."""
        start, end = _pair(self, end)
        if not isinstance(weight, Tensor):
            weight = Tensor._wrap(np.asarray(weight, dtype=start.dtype))
        start, weight = _pair(start, weight)
        end = end.to(start.dtype)
        self._broadcasts(start, end)
        self._broadcasts(start, weight)
        return ew.Lerp.apply(start, end, weight)

    def isinf(self) -> Tensor:
        return Tensor._wrap(np.isinf(self._data))

    def isposinf(self) -> Tensor:
        return Tensor._wrap(np.isposinf(self._data))

    def isneginf(self) -> Tensor:
        return Tensor._wrap(np.isneginf(self._data))

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        """|self - other| <= atol + rtol * |other| element-wise, in the tensors' dtype; equal infinities are close,
        nans only with `equal_nan`."""
        a, b = _pair(self, other)
        x, y = a._data, b._data
        if x.dtype.kind != "f":
            x, y = x.astype(np.float64), y.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.abs(x - y)
            close = (x == y) | (np.isfinite(error) & (error <= x.dtype.type(atol) + np.abs(x.dtype.type(rtol) * y)))
        if equal_nan:
            close |= np.isnan(x) & np.isnan(y)
        return Tensor._wrap(close)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        """Whether `isclose` holds everywhere."""
        return bool(self.isclose(other, rtol, atol, equal_nan)._data.all())

    def _logical(self, other: Any, op: np.ufunc) -> Tensor:
        other = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self._data, other))

    def logical_and(self, other: Any) -> Tensor:
        return self._logical(other, np.logical_and)

    def logical_or(self, other: Any) -> Tensor:
        return self._logical(other, np.logical_or)

    def logical_xor(self, other: Any) -> Tensor:
        return self._logical(other, np.logical_xor)

    def bitwise_not(self) -> Tensor:
        return ~self

    def bitwise_and(self, other: Any) -> Tensor:
        return self & other

    def bitwise_or(self, other: Any) -> Tensor:
        return self | other

    def bitwise_xor(self, other: Any) -> Tensor:
        return self ^ other

    def _shift(self, other: Any, left: bool, reflected: bool = False) -> Tensor:
        """x << s and x >> s on integer tensors, as PyTorch: shifting by the bit width or more gives 0 (>>: the
        sign, 0 or -1)."""
        a, b = _pair(self, other)
        if a.dtype.kind not in "iu":
            name = "bitwise_left_shift" if left else "bitwise_right_shift"
            raise UnsupportedDtype(f"{name}: not implemented for {a.dtype} (needs integer tensors)")
        x, s = (b._data, a._data) if reflected else (a._data, b._data)
        bits = x.dtype.itemsize * 8
        out_of_range = (s < 0) | (s >= bits)
        s = np.clip(s, 0, bits - 1).astype(x.dtype)
        if left:
            return Tensor._wrap(np.where(out_of_range, x.dtype.type(0), np.left_shift(x, s)))
        return Tensor._wrap(np.where(out_of_range, np.where(x < 0, x.dtype.type(-1), x.dtype.type(0)),
                                     np.right_shift(x, s)).astype(x.dtype))

    def __lshift__(self, other: Any) -> Tensor:
        return self._shift(other, left=True)

    def __rshift__(self, other: Any) -> Tensor:
        return self._shift(other, left=False)

    def __rlshift__(self, other: Any) -> Tensor:
        return self._shift(other, left=True, reflected=True)

    def __rrshift__(self, other: Any) -> Tensor:
        return self._shift(other, left=False, reflected=True)

    bitwise_left_shift, bitwise_right_shift = __lshift__, __rshift__

    # -- the op surface: reductions and scans (tinygrad_np/ops/reduce.py, tinygrad_np/ops/scan.py) -----------------
    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """The product over `dim` (all elements when None), in `dtype` when given; integer and bool tensors
        multiply in int64, as in PyTorch. The gradient is exact where elements are 0."""
        x = self if dtype is None else self.to(dtype)
        if dtype is None and x.dtype.kind in "biu" and x.dtype != np.int64:
            x = x.to(np.int64)
        if dim is not None:
            dim = _dim_index(dim, self.ndim, "prod")
        return reduce.Prod.apply(x, axis=dim, keepdims=keepdim)

    def _scan(self, op: type[Function], dim: int, name: str, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        d = _dim_index(dim, self.ndim, name)
        if self.ndim == 0:
            return op.apply(x.reshape(1), axis=0).reshape(())
        return op.apply(x, axis=d)

    def cumsum(self, dim: int, *, dtype: Any = None, axis: int | None = None) -> Tensor:
        """Running sum along `dim` (integer and bool tensors in int64, as in PyTorch)."""
        return self._scan(scan.Cumsum, _dims(dim, axis, "cumsum"), "cumsum", dtype)

    def cumprod(self, dim: int, *, dtype: Any = None, axis: int | None = None) -> Tensor:
        """Running product along `dim`; the gradient is exact where elements are 0."""
        return self._scan(scan.Cumprod, _dims(dim, axis, "cumprod"), "cumprod", dtype)

    def logcumsumexp(self, dim: int, *, axis: int | None = None) -> Tensor:
        """log(cumsum(exp(x))) along `dim`, without overflow."""
        return self._floating()._scan(scan.LogCumSumExp, _dims(dim, axis, "logcumsumexp"), "logcumsumexp")

    def cummax(self, dim: int, *, axis: int | None = None) -> MaxMin:
        """The running max along `dim` and the index it came from (the latest among ties; a nan stays, as in
        PyTorch); the gradient goes to those indices."""
        return self._running(np.maximum, _dims(dim, axis, "cummax"), "cummax")

    def cummin(self, dim: int, *, axis: int | None = None) -> MaxMin:
        """The running min along `dim` and the index it came from (the latest among ties)."""
        return self._running(np.minimum, _dims(dim, axis, "cummin"), "cummin")

    def _running(self, extreme: np.ufunc, dim: int, name: str) -> MaxMin:
        d = _dim_index(dim, self.ndim, name)
        if self.ndim == 0:
            return MaxMin(movement.Copy.apply(self), Tensor._wrap(np.zeros((), dtype=np.int64)))
        x = self._data
        running = extreme.accumulate(x, axis=d) if x.size else x
        position = np.arange(x.shape[d], dtype=np.int64).reshape([-1 if k == d else 1 for k in range(x.ndim)])
        reached = (x == running) | (np.isnan(x) if x.dtype.kind == "f" else False)
        indices = np.maximum.accumulate(np.where(reached, position, 0), axis=d) if x.size else \
            np.zeros(x.shape, dtype=np.int64)
        return MaxMin(movement.Gather.apply(self, index=indices, axis=d), Tensor._wrap(indices))

    def aminmax(self, *, dim: int | None = None, keepdim: bool = False) -> MinMax:
        """(min, max) over `dim` (all elements when None)."""
        return MinMax(self.amin(dim, keepdim), self.amax(dim, keepdim))

    def median(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxMin:
        """The lower median (the smaller of the two middle values for an even count, as PyTorch), of all elements
        or, with `dim`, along it with the index it came from; nan where a nan is present. The gradient goes to the
        element picked."""
        if dim is None:
            flat = self.reshape(-1)
            if flat.shape[0] == 0:
                return Tensor._wrap(np.asarray(np.nan, dtype=self.dtype))
            return flat.median(0).values
        d = _dim_index(dim, self.ndim, "median")
        if self.ndim == 0:
            return MaxMin(movement.Copy.apply(self), Tensor._wrap(np.zeros((), dtype=np.int64)))
        if self.shape[d] == 0:
            raise IndexOutOfRange(f"median: cannot take the median of dim {dim} of size 0 (shape {self.shape})")
        x = self._data
        order = np.argsort(x, axis=d, kind="stable")
        index = np.take(order, [(x.shape[d] - 1) // 2], axis=d)
        if x.dtype.kind == "f":
            nan = np.isnan(x)
            index = np.where(nan.any(axis=d, keepdims=True), np.argmax(nan, axis=d, keepdims=True), index)
        values = movement.Gather.apply(self, index=index, axis=d)
        if not keepdim:
            values, index = values.squeeze(d), index.squeeze(d)
        return MaxMin(values, Tensor._wrap(index.astype(np.int64)))

    def mode(self, dim: int = -1, keepdim: bool = False) -> MaxMin:
        """The most frequent value along `dim` (the smallest among equally frequent ones) and the index of its last
        occurrence, as PyTorch."""
        d = _dim_index(dim, self.ndim, "mode")
        if self.ndim == 0:
            return MaxMin(movement.Copy.apply(self), Tensor._wrap(np.zeros((), dtype=np.int64)))
        moved = np.moveaxis(self._data, d, -1)
        rows = moved.reshape(-1, moved.shape[-1])
        index = np.empty(rows.shape[0], dtype=np.int64)
        for r, row in enumerate(rows):
            values, counts = np.unique(row, return_counts=True)
            best = values[np.argmax(counts)]
            index[r] = np.flatnonzero(row == best)[-1]
        index = np.expand_dims(index.reshape(moved.shape[:-1]), d)
        values = movement.Gather.apply(self, index=index, axis=d)
        if not keepdim:
            values, index = values.squeeze(d), index.squeeze(d)
        return MaxMin(values, Tensor._wrap(index))

    # -- the op surface: matrix products, views and new tensors --------------------------------------------------------
    def mm(self, mat2: Tensor) -> Tensor:
        """The product of two matrices (2-D only; `matmul` broadcasts)."""
        if self.ndim != 2 or mat2.ndim != 2:
            raise ShapeError(f"mm: needs two matrices, got shapes {self.shape} and {mat2.shape}")
        return self.matmul(mat2)

    def bmm(self, mat2: Tensor) -> Tensor:
        """Batched matrix product of (b, n, m) and (b, m, p) (no broadcasting; `matmul` broadcasts)."""
        if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0]:
            raise ShapeError(f"bmm: needs two batches of matrices of the same length, got shapes {self.shape} and "
                             f"{mat2.shape}")
        return self.matmul(mat2)

    def nelement(self) -> int:
        """The number of elements (`numel`)."""
        return self._data.size

    def narrow(self, dim: int, start: Any, length: int) -> Tensor:
        """The `length` entries from `start` along `dim` (a negative start counts from the end)."""
        d = _dim_index(dim, self.ndim, "narrow")
        n = self.shape[d]
        start = int(start)
        if not -n <= start <= n:
            raise IndexOutOfRange(f"narrow: start {start} is out of range for dim {dim} of size {n}")
        if start < 0:
            start += n
        if length < 0 or start + length > n:
            raise ArgumentValueError(f"narrow: start ({start}) + length ({length}) exceeds dim {dim} of size {n}")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def _new(self, make: Any, dtype: Any, requires_grad: bool, device: Any, *args: Any) -> Tensor:
        from . import factories

        return getattr(factories, make)(*args, dtype=self.dtype if dtype is None else dtype,
                                        requires_grad=requires_grad, device=device)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of `size`, with this tensor's dtype unless `dtype` is given."""
        return self._new("zeros", dtype, requires_grad, device, _shape_args(size))

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self._new("ones", dtype, requires_grad, device, _shape_args(size))

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self._new("empty", dtype, requires_grad, device, _shape_args(size))

    def new_full(self, size: Sequence[int], fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return self._new("full", dtype, requires_grad, device, tuple(size), fill_value)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A new tensor holding a copy of `data`, with this tensor's dtype unless `dtype` is given."""
        return self._new("tensor", dtype, requires_grad, device, data)

    def unique(self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
               dim: int | None = None) -> Tensor | tuple[Tensor, ...]:
        """The distinct values, sorted (of the flattened tensor, or the distinct slices along `dim`); with
        `return_inverse` the index of each element's value, with `return_counts` how often each occurs."""
        from .functional import unique

        return unique(self, sorted, return_inverse, return_counts, dim)

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.4f}"`); any other tensor only with an empty spec, as in
        PyTorch."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)


def _float_formatter(array: np.ndarray) -> dict[str, Any] | None:
    """How PyTorch prints floats: `1.` when every value is integral, else 4 decimals, in scientific notation when
    the finite nonzero magnitudes span more than 1000x or leave [1e-4, 1e8]; right-aligned to one width."""
    if array.dtype.kind != "f" or array.size == 0:
        return None
    finite = array[np.isfinite(array)].astype(np.float64)
    magnitudes = np.abs(finite[finite != 0])
    if magnitudes.size and (magnitudes.max() / magnitudes.min() > 1000 or magnitudes.max() > 1e8
                            or magnitudes.min() < 1e-4):
        def text(v: float) -> str:
            return f"{v:.4e}"
    elif np.all(finite == np.round(finite)):
        def text(v: float) -> str:
            return f"{v:.0f}."
    else:
        def text(v: float) -> str:
            return f"{v:.4f}"
    candidates = [text(v) for v in (finite.min(), finite.max())] if finite.size else []
    candidates += [name for name, present in (("nan", np.isnan(array).any()), ("inf", np.isposinf(array).any()),
                                              ("-inf", np.isneginf(array).any())) if present]
    width = max(map(len, candidates))
    return {"float_kind": lambda v: (text(v) if np.isfinite(v) else str(v)).rjust(width)}


# numpy ufunc -> (the Tensor operator, its reflected form), for `__array_ufunc__`
_UFUNC_OPERATORS = {
    np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"), np.multiply: ("__mul__", "__rmul__"),
    np.true_divide: ("__truediv__", "__rtruediv__"), np.power: ("__pow__", "__rpow__"),
    np.matmul: ("__matmul__", "__rmatmul__"), np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
    np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"), np.greater: ("__gt__", "__lt__"),
    np.greater_equal: ("__ge__", "__le__"),
}


def _pair(a: Tensor, b: Any) -> tuple[Tensor, Tensor]:
    """`a` and `b` as tensors of one dtype; a non-Tensor `b` is a constant."""
    if isinstance(b, Tensor):
        if a._data.dtype == b._data.dtype:
            return a, b
        dtype = promote_types(a.dtype, b.dtype)
        return a.to(dtype), b.to(dtype)
    if isinstance(b, (int, float)) and a._data.dtype.kind == "f":
        return a, Tensor._wrap(np.asarray(b, dtype=a._data.dtype))
    value = np.asarray(b)
    if value.dtype.kind not in "buif":
        raise TypeError(f"cannot combine a tensor with {type(b).__name__} {b!r}")
    dtype = _constant_dtype(value, a.dtype)
    return a.to(dtype), Tensor._wrap(value.astype(dtype, copy=False))


def _binary(op: type[Function], a: Tensor, b: Tensor) -> Tensor:
    """`op` on two tensors that broadcast; shapes that do not are named in the error."""
    try:
        return op.apply(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ShapeError(f"{op.__name__.lower()}: shapes {a.shape} and {b.shape} do not broadcast") from None
        raise


def _check_floating(x: Tensor, name: str) -> None:
    if x.dtype.kind != "f":
        raise UnsupportedDtype(f"{name}: needs a floating-point tensor, got {x.dtype}; convert with .float()")


_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
               np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor",
               np.dtype(np.int16): "ShortTensor", np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
               np.dtype(np.bool_): "BoolTensor"}


class MaxMin(NamedTuple):
    """What `max(dim)`, `min(dim)`, `cummax`, `median(dim)`, ... return: the values and their indices along `dim`."""

    values: Tensor
    indices: Tensor


class MinMax(NamedTuple):
    """What `aminmax` returns."""

    min: Tensor
    max: Tensor



def _index(index: Any, top: bool = True) -> Any:
    """Tensors inside an index become arrays (a 0-d integer tensor an int, as PyTorch reads it); lists, and tuples
    inside the index tuple, become integer or boolean arrays."""
    if isinstance(index, tuple) and top:
        return tuple(_index(i, False) for i in index)
    if isinstance(index, Tensor):
        if index.dtype.kind in "iu" and index.ndim == 0:
            return int(index._data)
        if index.dtype == bool or index.dtype.kind in "iu":
            return index._data
        raise IndexOutOfRange(f"tensors used as indices must be integer or bool, got {index.dtype}")
    if isinstance(index, (list, tuple)):
        array = np.asarray([i._data if isinstance(i, Tensor) else i for i in index] if isinstance(index, list)
                           else index)
        if array.dtype.kind not in "biu" and array.size:
            raise IndexOutOfRange(f"lists used as indices must hold integers or bools, got {index!r}")
        return array.astype(np.int64) if array.dtype.kind not in "biu" else array
    return index


def _integer_array(index: Any, name: str) -> np.ndarray:
    index = np.asarray(index._data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise UnsupportedDtype(f"{name}: index must be integers, got {index.dtype}")
    return index
