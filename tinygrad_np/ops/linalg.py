"""Matrix products, shaped so that the hot cases are single 2-D GEMMs."""

from __future__ import annotations

import numpy as np

from ..engine import Function
from ..errors import ShapeError


def check_matmul(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    if len(a_shape) < 2 or len(b_shape) < 2 or a_shape[-1] != b_shape[-2]:
        raise ShapeError(f"matmul: shapes {a_shape} and {b_shape} do not fit "
                         "(need (..., n, k) @ (..., k, m))")
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: batch dimensions of {a_shape} and {b_shape} do not broadcast") from None


def swap(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)


SUM_BLOCK = 1024  # rows summed by one matrix-vector product before the partial sums are added


def column_sums(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=0) of a 2-D array as matrix-vector products with ones over blocks of SUM_BLOCK rows, then the sum
    of the blocks' sums: faster than numpy's reduction, and the error grows with SUM_BLOCK plus the number of
    blocks rather than with the number of rows."""
    rows, columns = a.shape
    whole = rows - rows % SUM_BLOCK
    ones = np.ones(min(rows, SUM_BLOCK), dtype=a.dtype)
    total = ones[:rows - whole] @ a[whole:]
    if whole:
        total += (ones @ a[:whole].reshape(-1, SUM_BLOCK, columns)).sum(axis=0)
    return total


class Matmul(Function):
    """a @ b for operands of 2 or more dimensions with broadcast batch axes (1-D is promoted by
    `Tensor.matmul`). (..., n, k) @ (k, m) runs as one (N, k) @ (k, m) GEMM, and so does
    its weight gradient."""

    def forward(self, a, b):
        check_matmul(a.shape, b.shape)
        self.a, self.b = a, b
        if b.ndim == 2 and a.ndim > 2:
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[1])
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        grad_a = grad_b = None
        if b.ndim == 2 and a.ndim > 2:
            grad_2d = grad.reshape(-1, grad.shape[-1])
            if self.needs_input_grad[0]:
                grad_a = (grad_2d @ b.T).reshape(a.shape)
            if self.needs_input_grad[1]:
                grad_b = a.reshape(-1, a.shape[-1]).T @ grad_2d
            return grad_a, grad_b
        if self.needs_input_grad[0]:
            grad_a = grad @ swap(b)  # batch axes b added are summed by un-broadcasting
        if self.needs_input_grad[1]:
            grad_b = swap(a) @ grad
        return grad_a, grad_b


class Linear(Function):
    """x @ weight.T + bias along the last axis (axis=-1, PyTorch's layout), or
    weight @ x + bias along the first axis (axis=0). Either way one GEMM forward and one per
    gradient, with no transposed copy: axis=0 lets a model keep (tokens, batch, channels)
    and mix tokens without moving data. The bias gradient, a sum over every row, runs as
    matrix-vector products with ones (BLAS is several times faster than numpy's reduction,
    and blocked like PyTorch's float32 sum, about as accurate)."""

    def forward(self, x, weight, bias=None, axis=-1):
        out_features, in_features = weight.shape
        if axis not in (0, -1):
            raise ValueError(f"linear: axis must be 0 or -1, got {axis}")
        if x.ndim == 0 or x.shape[axis] != in_features:
            raise ShapeError(f"linear: input of shape {x.shape} has {x.shape[axis] if x.ndim else 'no'} features along "
                             f"dim {axis}, the layer's in_features is {in_features} (weight {weight.shape})")
        if bias is not None and bias.shape != (out_features,):
            raise ShapeError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
        self.x, self.weight, self.axis = x, weight, axis
        if axis == -1:
            out = x.reshape(-1, in_features) @ weight.T
            if bias is not None:
                out += bias
            return out.reshape(*x.shape[:-1], out_features)
        out = weight @ x.reshape(in_features, -1)
        if bias is not None:
            out += bias[:, None]
        return out.reshape(out_features, *x.shape[1:])

    def backward(self, grad):
        x, weight = self.x, self.weight
        out_features, in_features = weight.shape
        needs_x, needs_weight = self.needs_input_grad[:2]
        needs_bias = len(self.needs_input_grad) == 3 and self.needs_input_grad[2]
        grad_x = grad_weight = grad_bias = None
        if self.axis == -1:
            grad_2d = grad.reshape(-1, out_features)
            if needs_x:
                grad_x = (grad_2d @ weight).reshape(x.shape)
            if needs_weight:
                grad_weight = grad_2d.T @ x.reshape(-1, in_features)
            if needs_bias:
                grad_bias = column_sums(grad_2d)
        else:
            grad_2d = grad.reshape(out_features, -1)
            if needs_x:
                grad_x = (weight.T @ grad_2d).reshape(x.shape)
            if needs_weight:
                grad_weight = grad_2d @ x.reshape(in_features, -1).T
            if needs_bias:
                grad_bias = grad_2d @ np.ones(grad_2d.shape[1], dtype=grad.dtype)  # row sums: one BLAS GEMV
        return (grad_x, grad_weight) if len(self.needs_input_grad) == 2 else (grad_x, grad_weight, grad_bias)


class Einsum(Function):
    """numpy's einsum over operands whose subscripts each name distinct dims and agree on every size (the caller,
    `functional.einsum`, takes diagonals and broadcasts first). The gradient of each operand is the einsum of the
    output gradient with the other operands; a dim summed within that operand alone comes back broadcast."""

    def forward(self, *arrays, inputs, output):
        self.arrays, self.inputs, self.output = arrays, inputs, output
        return np.einsum(",".join(inputs) + "->" + output, *arrays, optimize=len(arrays) > 1)

    def backward(self, grad):
        grads = []
        for k, (letters, array) in enumerate(zip(self.inputs, self.arrays, strict=True)):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(self.output, grad)] + [(s, a) for j, (s, a) in enumerate(zip(self.inputs, self.arrays,
                                                                                   strict=True)) if j != k]
            present = set("".join(s for s, _ in others))
            kept = "".join(c for c in letters if c in present)
            g = np.einsum(",".join(s for s, _ in others) + "->" + kept, *(a for _, a in others),
                          optimize=len(others) > 1)
            missing = tuple(i for i, c in enumerate(letters) if c not in present)
            if missing:
                g = np.broadcast_to(np.expand_dims(g, missing), array.shape)
            grads.append(np.ascontiguousarray(g, dtype=array.dtype))
        return tuple(grads)
