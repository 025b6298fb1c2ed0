"""The activation functions of `torch.nn.functional` that are not plain element-wise math: the ELU family, the
leaky and hard (piecewise-linear) ones, mish, silu and logsigmoid. Each keeps what its backward needs from the
forward; at a kink the gradient takes the side PyTorch's derivative takes (noted per op)."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..engine import Function

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class Elu(Function):
    """scale * x for x > 0, scale * alpha * (exp(input_scale * x) - 1) otherwise: ELU, SELU (its fixed alpha and
    scale) and CELU (input_scale 1 / alpha) in one op, as PyTorch writes them; at 0 the gradient is the negative
    side's, scale * alpha * input_scale."""

    def forward(self, x, alpha=1.0, scale=1.0, input_scale=1.0):
        t = x.dtype.type
        self.positive = x > 0
        self.negative_part = t(alpha * scale) * np.exp(np.minimum(x, t(0)) * t(input_scale))  # scale * alpha * exp
        self.scale, self.input_scale = t(scale), t(input_scale)
        return np.where(self.positive, x * self.scale, self.negative_part - t(alpha * scale))

    def backward(self, grad):
        return grad * np.where(self.positive, self.scale, self.negative_part * self.input_scale)


class LeakyRelu(Function):
    """x for x > 0, negative_slope * x otherwise (the gradient at 0 is negative_slope, as PyTorch's)."""

    def forward(self, x, negative_slope=0.01):
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.slope

    def backward(self, grad):
        return grad * self.slope


class Hardtanh(Function):
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside and 0 at the bounds and outside, PyTorch's
    convention (clamp's passes the gradient at the bounds)."""

    def forward(self, x, min_val=-1.0, max_val=1.0):
        self.inside = (x > min_val) & (x < max_val)
        return np.clip(x, x.dtype.type(min_val), x.dtype.type(max_val))

    def backward(self, grad):
        return np.where(self.inside, grad, grad.dtype.type(0))


class Hardsigmoid(Function):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (gradient 1/6 strictly inside)."""

    def forward(self, x):
        t = x.dtype.type
        self.inside = (x > -3) & (x < 3)
        return np.clip(x / t(6) + t(0.5), t(0), t(1))

    def backward(self, grad):
        return np.where(self.inside, grad / grad.dtype.type(6), grad.dtype.type(0))


class Hardswish(Function):
    """x * relu6(x + 3) / 6; the gradient is 0 up to -3, x / 3 + 1/2 between, and 1 from 3 on (PyTorch's sides)."""

    def forward(self, x):
        t = x.dtype.type
        self.x = x
        return x * np.clip(x + t(3), t(0), t(6)) / t(6)

    def backward(self, grad):
        x, t = self.x, self.x.dtype.type
        return grad * np.where(x <= -3, t(0), np.where(x < 3, x / t(3) + t(0.5), t(1)))


class Mish(Function):
    """x * tanh(softplus(x)); the derivative is tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)^2)."""

    def forward(self, x):
        self.x = x
        self.tanh_sp = np.tanh(np.logaddexp(x.dtype.type(0), x))
        return x * self.tanh_sp

    def backward(self, grad):
        return grad * (self.tanh_sp + self.x * special.expit(self.x) * (1 - self.tanh_sp * self.tanh_sp))


class Silu(Function):
    """x * sigmoid(x) (swish); the derivative is sigmoid(x) * (1 + x * (1 - sigmoid(x)))."""

    def forward(self, x):
        self.x, self.sigmoid = x, special.expit(x)
        return x * self.sigmoid

    def backward(self, grad):
        return grad * self.sigmoid * (1 + self.x * (1 - self.sigmoid))


class LogSigmoid(Function):
    """log(sigmoid(x)) = -softplus(-x), without overflow; the derivative is sigmoid(-x)."""

    def forward(self, x):
        self.x = x
        return -np.logaddexp(x.dtype.type(0), -x)

    def backward(self, grad):
        return grad * special.expit(-self.x)
