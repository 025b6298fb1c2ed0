"""The fused ops: one Function where a textbook formula would be several, for speed and numerical stability.

Each runs its arithmetic through a kernel of `tinygrad_np/kernels/` (`kernels.for_dtype` picks the compiled kernels
for float32 when numba is installed, numpy's otherwise; float64 always runs numpy's exact kernels) and keeps the
kernel module its forward used, so its backward reads what that forward saved. `Gelu.composed` and
`LayerNorm.composed` are the same functions written from the engine's plain ops, as a learner would write them:
the tests check the fused ops against them on both kernel paths.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import kernels
from ..engine import Function
from ..errors import ShapeError
from ..kernels import numpy_path
from .elementwise import Erf


class Gelu(Function):
    """Exact GELU, x * Phi(x) with Phi the normal CDF (not the tanh approximation).

    The forward also computes the slope Phi(x) + x phi(x) that the backward multiplies by, sharing one exp with
    the CDF, unless no input needs a gradient (eval, `no_grad`). float32 is within 2e-6 of the exact value and its
    slope within 5e-6 on either kernel path; float64 is exact (scipy's ndtr)."""

    def forward(self, x):
        self.kernels = kernels.for_dtype(x.dtype)
        out, self.slope = self.kernels.gelu_forward(x, with_slope=self.needs_input_grad[0])
        return out

    def backward(self, grad):
        return self.kernels.gelu_backward(grad, self.slope)

    @staticmethod
    def composed(x):
        """The textbook GELU, x * (1 + erf(x / sqrt 2)) / 2, built from the engine's Erf, Mul and Add ops: autograd
        derives its backward from theirs. Same function as the fused op (tests/engine/test_kernels.py checks it);
        slower, because every op is a pass over memory with its own saved arrays."""
        return x * 0.5 * (1 + Erf.apply(x * (1 / math.sqrt(2))))


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) over the last axis, then * weight + bias (both optional).

    One op instead of a dozen: with xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), the backward is the
    closed form
        dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = grad * weight,
    and the weight and bias gradients are column sums of grad * xhat and of grad (the kernels say how each path
    computes them). `LayerNorm.composed` is the same function written from engine ops.
    """

    def forward(self, x, *affine, eps=1e-5, has_weight=False, has_bias=False):
        params = iter(affine)
        weight = next(params) if has_weight else None
        bias = next(params) if has_bias else None
        dim = x.shape[-1]
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and p.shape != (dim,):
                raise ShapeError(f"layer_norm: {name} of shape {p.shape} does not fit the last axis "
                                 f"of input shape {x.shape}")
        rows = np.ascontiguousarray(x).reshape(-1, dim)
        self.kernels = kernels.for_dtype(x.dtype)
        out, self.saved = self.kernels.layer_norm_forward(rows, weight, bias, eps, keep=any(self.needs_input_grad))
        self.weight, self.has_bias = weight, bias is not None
        return out.reshape(x.shape)

    def backward(self, grad):
        weight = self.weight
        needs_weight = weight is not None and self.needs_input_grad[1]
        needs_bias = self.has_bias and self.needs_input_grad[-1]
        dim = grad.shape[-1]
        grad_x, grad_weight, grad_bias = self.kernels.layer_norm_backward(
            self.saved, np.ascontiguousarray(grad).reshape(-1, dim), weight, self.needs_input_grad[0], needs_weight,
            needs_bias)
        grads = [None if grad_x is None else grad_x.reshape(grad.shape)]
        if weight is not None:
            grads.append(grad_weight)
        if self.has_bias:
            grads.append(grad_bias)
        return tuple(grads)

    @staticmethod
    def composed(x, weight=None, bias=None, eps=1e-5):
        """The textbook LayerNorm built from engine ops (mean, sub, mul, add, sqrt, div): autograd derives its
        backward from theirs. Same function as the fused op (tests/engine/test_kernels.py checks it); slower, with a
        dozen passes and saved arrays where the fused op has a few."""
        mean = x.mean(-1, keepdim=True)
        centered = x - mean
        variance = (centered * centered).mean(-1, keepdim=True)  # biased, as LayerNorm's definition has it
        out = centered / (variance + eps).sqrt()
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
        return out


class Linear(Function):
    """x @ weight.T + bias along the last axis (axis=-1, PyTorch's layout), or
    weight @ x + bias along the first axis (axis=0). Either way one GEMM forward and one per
    gradient, with no transposed copy: axis=0 lets a model keep (tokens, batch, channels)
    and mix tokens without moving data. The bias is added in place into the GEMM's output (a kernel); its
    gradient, a sum over every row, runs as matrix-vector products with ones (BLAS is several times faster than
    numpy's reduction, and blocked like PyTorch's float32 sum, about as accurate)."""

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
            shape = (*x.shape[:-1], out_features)
        else:
            out = weight @ x.reshape(in_features, -1)
            shape = (out_features, *x.shape[1:])
        if bias is not None:
            kernels.for_dtype(out.dtype).add_bias(out, bias, axis)
        return out.reshape(shape)

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
                grad_bias = numpy_path.column_sums(grad_2d)
        else:
            grad_2d = grad.reshape(out_features, -1)
            if needs_x:
                grad_x = (weight.T @ grad_2d).reshape(x.shape)
            if needs_weight:
                grad_weight = grad_2d @ x.reshape(in_features, -1).T
            if needs_bias:
                grad_bias = grad_2d @ np.ones(grad_2d.shape[1], dtype=grad.dtype)  # row sums: one BLAS GEMV
        return (grad_x, grad_weight) if len(self.needs_input_grad) == 2 else (grad_x, grad_weight, grad_bias)


class Softplus(Function):
    """log(1 + exp(beta * x)) / beta, computed without overflow (`numpy_path.softplus`), and x itself where
    beta * x > threshold (PyTorch's switch to the linear function); the derivative is sigmoid(beta * x), 1 past the
    threshold."""

    def forward(self, x, beta=1.0, threshold=20.0):
        t = x.dtype.type
        self.z = x if beta == 1 else x * t(beta)
        self.linear = self.z > threshold
        soft = numpy_path.softplus(self.z)
        return np.where(self.linear, x, soft if beta == 1 else soft / t(beta))

    def backward(self, grad):
        return grad * np.where(self.linear, grad.dtype.type(1), special.expit(self.z))


class BinaryCrossEntropyWithLogits(Function):
    """Element-wise -[pos_weight * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x))] * weight,
    written with softplus so logits of +-1000 give finite losses and exact gradients:
    loss = pos_weight * y * softplus(-x) + (1 - y) * softplus(x). `weight` and `pos_weight` are
    constants (arrays); the target may require grad (soft targets)."""

    def forward(self, x, target, weight=None, pos_weight=None):
        self.x, self.target, self.weight, self.pos_weight = x, target, weight, pos_weight
        self.softplus_neg = numpy_path.softplus(-x)
        positive = target if pos_weight is None else pos_weight * target
        loss = positive * self.softplus_neg + (1 - target) * (self.softplus_neg + x)  # softplus(x) = softplus(-x) + x
        return loss if weight is None else loss * weight

    def backward(self, grad):
        x, target, pos_weight = self.x, self.target, self.pos_weight
        if self.weight is not None:
            grad = grad * self.weight
        grad_x = grad_target = None
        if self.needs_input_grad[0]:
            sig = special.expit(x)
            grad_x = grad * (sig - target if pos_weight is None else sig * (pos_weight * target + 1 - target)
                             - pos_weight * target)
        if self.needs_input_grad[1]:
            positive = self.softplus_neg if pos_weight is None else pos_weight * self.softplus_neg
            grad_target = grad * (positive - self.softplus_neg - x)
        return grad_x, grad_target
