"""Matrix products, shaped so that the hot cases are single 2-D GEMMs (Linear, a GEMM with its bias, is in
`fused.py`)."""

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
