"""Element-wise ops. Binary ops broadcast; `Tensor.backward` un-broadcasts their gradients. The fused element-wise
ops (GELU, softplus) live in `fused.py`."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..engine import Function


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return (grad * self.b if self.needs_input_grad[0] else None,
                grad * self.a if self.needs_input_grad[1] else None)


class Div(Function):
    def forward(self, a, b):
        self.b, self.out = b, a / b
        return self.out

    def backward(self, grad):
        grad_a = grad / self.b
        return grad_a, (-grad_a * self.out if self.needs_input_grad[1] else None)


class Pow(Function):
    """a ** b with a tensor exponent; d/db = a**b * log(a) is only computed when needed."""

    def forward(self, a, b):
        self.a, self.b, self.out = a, b, a ** b
        return self.out

    def backward(self, grad):
        grad_a = grad * self.b * self.a ** (self.b - 1) if self.needs_input_grad[0] else None
        grad_b = grad * self.out * np.log(self.a) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class PowScalar(Function):
    """x ** c for a Python number c."""

    def forward(self, x, exponent):
        self.x, self.exponent = x, exponent
        return x ** exponent

    def backward(self, grad):
        if self.exponent == 2:
            return grad * (2 * self.x)
        return grad * (self.exponent * self.x ** (self.exponent - 1))


class Maximum(Function):
    """Element-wise max; where a == b the gradient is split evenly."""

    def forward(self, a, b):
        self.share_a = tie_split(a > b, a == b, a.dtype)
        return np.maximum(a, b)

    def backward(self, grad):
        return (grad * self.share_a if self.needs_input_grad[0] else None,
                grad * (1 - self.share_a) if self.needs_input_grad[1] else None)


class Minimum(Maximum):
    def forward(self, a, b):
        self.share_a = tie_split(a < b, a == b, a.dtype)
        return np.minimum(a, b)


def tie_split(wins: np.ndarray, ties: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """1 where the first input wins, 0.5 on ties, 0 where it loses."""
    return wins.astype(dtype) + ties.astype(dtype) * dtype.type(0.5)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Exp(Function):
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, grad):
        return grad / self.x


class Sqrt(Function):
    def forward(self, x):
        self.out = np.sqrt(x)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, grad):
        return grad * self.sign


class Sin(Function):
    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, grad):
        return grad * np.cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, grad):
        return -grad * np.sin(self.x)


class Relu(Function):
    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)

    def backward(self, grad):
        return grad * self.positive


class Clip(Function):
    """Clamp to [low, high] (either may be None); the gradient passes where x is inside."""

    def forward(self, x, low, high):
        self.inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return np.clip(x, low, high)

    def backward(self, grad):
        return grad * self.inside


class Where(Function):
    """`a` where `condition` holds, else `b` (condition is a constant boolean array)."""

    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad):
        zero = grad.dtype.type(0)
        return (np.where(self.condition, grad, zero) if self.needs_input_grad[0] else None,
                np.where(self.condition, zero, grad) if self.needs_input_grad[1] else None)


class Erf(Function):
    def forward(self, x):
        self.x = x
        return special.erf(x)

    def backward(self, grad):
        return grad * (2 / math.sqrt(math.pi)) * np.exp(-self.x * self.x)


class Tanh(Function):
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Sigmoid(Function):
    def forward(self, x):
        self.out = special.expit(x)
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class Cast(Function):
    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.source)


class Softsign(Function):
    """x / (1 + |x|), a cheap tanh-like squashing; its derivative is 1 / (1 + |x|)^2."""

    def forward(self, x):
        self.denominator = 1 + np.abs(x)
        return x / self.denominator

    def backward(self, grad):
        return grad / (self.denominator * self.denominator)
