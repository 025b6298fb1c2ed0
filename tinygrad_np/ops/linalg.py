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
