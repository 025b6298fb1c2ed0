"""The core of reverse-mode autograd: a Tensor, the tape, and the backward walk.

Every op is a `Function`: `forward` maps ndarrays to an ndarray and keeps what its
backward needs on `self`; `backward` maps the gradient of the output to one gradient
per input. `Function.apply` runs the forward and, when a gradient is wanted, records
the op on the output tensor (`out._ctx`). That record -- parents plus saved context --
is the whole tape. `Tensor.backward` sorts the recorded graph topologically (without
recursion), walks it in reverse, un-broadcasts each input gradient in one place, and
frees the saved arrays as it goes.

The math methods of Tensor (`x.exp()`, `x + y`, `x @ w`, ...) are attached in
`functional.py`, next to the functions they share their code with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

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

    def __init__(self, *parents: Tensor):
        self.parents = parents
        # inside no_grad nothing needs a gradient, so a forward can skip what only its backward would use
        self.needs_input_grad = tuple(p.requires_grad and _grad_enabled for p in parents)

    released = False

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | tuple[np.ndarray | None, ...] | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Tensor:
        check_float_inputs(cls.__name__, inputs)
        ctx = cls(*inputs)
        out = Tensor._wrap(ctx.forward(*[t.data for t in inputs], **options))
        if any(ctx.needs_input_grad):
            out.requires_grad = True
            out._ctx = ctx
        return out

    def release(self) -> None:
        """Drop the saved arrays and parent links; a later backward through here fails clearly."""
        self.__dict__.clear()
        self.released = True


def check_float_inputs(op: str, inputs: tuple[Tensor, ...]) -> None:
    """Differentiable ops take floating tensors of one dtype; say so clearly otherwise."""
    dtype = inputs[0].data.dtype
    for t in inputs:
        if t.data.dtype != dtype or dtype.kind != "f":
            dtypes = ", ".join(str(t.data.dtype) for t in inputs)
            raise TypeError(f"{op}: needs floating-point tensors of one dtype, got ({dtypes}); "
                            "convert with Tensor(x, dtype=...) or .astype(...)")


class Tensor:
    """An ndarray that remembers the op that produced it, so gradients can flow back.

    float32 by default; pass `dtype=np.float64` for float64 (gradient checks). Python
    scalars and ndarrays mix in freely and take the tensor's dtype.
    """

    __array_ufunc__ = None  # make `ndarray (op) Tensor` call our reflected operators
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retain_grad", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None):
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=np.float32 if dtype is None else dtype)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got {array.dtype}")
        self.data: np.ndarray = array
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._ctx: Function | None = None
        self._retain_grad = False

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A tensor around an op's result, kept as it is (no dtype conversion, no copy)."""
        out = cls.__new__(cls)
        out.data, out.grad, out.requires_grad, out._ctx, out._retain_grad = array, None, False, None, False
        return out

    # -- the backward walk -------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Fill `.grad` of every leaf that requires grad with d(self)/d(leaf), summed in.

        Leaf gradients accumulate across calls until zeroed (gradient accumulation);
        interior tensors keep none unless `retain_grad()` was called. The saved arrays of
        the graph are freed unless `retain_graph=True`.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward(): a gradient must be given for a non-scalar output "
                                   f"(shape {self.shape}); pass grad=... of that shape")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): grad has shape {grad.shape}, output has shape {self.shape}")

        grads: dict[int, np.ndarray] = {id(self): grad}
        for node in reversed(self._topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None or node._retain_grad:
                node._accumulate(g)
            if ctx is None:
                continue
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
                ctx.release()

    def _topological_order(self) -> list[Tensor]:
        """Every tensor the output depends on, parents before children (iterative DFS)."""
        order: list[Tensor] = []
        visited = {id(self)}
        stack: list[tuple[Tensor, Iterator[Tensor]]] = [(self, iter(self._parents()))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent.requires_grad and id(parent) not in visited:
                    visited.add(id(parent))
                    stack.append((parent, iter(parent._parents())))
                    break
            else:
                stack.pop()
                order.append(node)
        return order

    def _parents(self) -> tuple[Tensor, ...]:
        return getattr(self._ctx, "parents", ()) if self._ctx is not None else ()

    def _accumulate(self, g: np.ndarray) -> None:
        if self.grad is None:
            self.grad = np.array(g, dtype=self.dtype)  # a copy: g may be shared with other inputs
        else:
            self.grad += g

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this interior tensor after backward."""
        self._retain_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def explain(self) -> str:
        """The ops backward() would run from here, one line each, in its order (see `tinygrad_np.viz`)."""
        from .viz import format_tape

        return format_tape(self)

    # -- plain-array views -------------------------------------------------------------
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
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut off from the tape."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = f", grad_fn={type(self._ctx).__name__}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"

    __hash__ = object.__hash__


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor as it is, or a constant (no grad) taking the dtype of `like` (float32 if none)."""
    if isinstance(value, Tensor):
        return value
    return Tensor._wrap(np.asarray(value, dtype=like.dtype if like is not None else np.float32))
