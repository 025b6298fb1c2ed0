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
    """a ** b with a tensor exponent; d/db = a**b * log(a) is only computed when needed. At the points where the
    formulas give 0 * inf, PyTorch's convention holds: d/da is 0 where b == 0 (a ** 0 is the constant 1), d/db is 0
    where a == 0 and b >= 0."""

    def forward(self, a, b):
        self.a, self.b, self.out = a, b, a ** b
        return self.out

    def backward(self, grad):
        zero = grad.dtype.type(0)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = np.where(self.b == 0, zero, grad * self.b * self.a ** (self.b - 1))
        if self.needs_input_grad[1]:
            grad_b = np.where((self.a == 0) & (self.b >= 0), zero, grad * self.out * np.log(self.a))
        return grad_a, grad_b


class PowScalar(Function):
    """x ** c for a Python number c; for c == 0 the gradient is 0 everywhere (x ** 0 is the constant 1)."""

    def forward(self, x, exponent):
        self.x, self.exponent = x, exponent
        return x ** exponent

    def backward(self, grad):
        if self.exponent == 0:
            return np.zeros_like(grad)
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


# -- trigonometric and hyperbolic functions ------------------------------------------------------------------------
class Tan(Function):
    def forward(self, x):
        self.out = np.tan(x)
        return self.out

    def backward(self, grad):
        return grad * (1 + self.out * self.out)


class Asin(Function):
    def forward(self, x):
        self.x = x
        return np.arcsin(x)

    def backward(self, grad):
        return grad / np.sqrt(1 - self.x * self.x)


class Acos(Function):
    def forward(self, x):
        self.x = x
        return np.arccos(x)

    def backward(self, grad):
        return -grad / np.sqrt(1 - self.x * self.x)


class Atan(Function):
    def forward(self, x):
        self.x = x
        return np.arctan(x)

    def backward(self, grad):
        return grad / (1 + self.x * self.x)


class Sinh(Function):
    def forward(self, x):
        self.x = x
        return np.sinh(x)

    def backward(self, grad):
        return grad * np.cosh(self.x)


class Cosh(Function):
    def forward(self, x):
        self.x = x
        return np.cosh(x)

    def backward(self, grad):
        return grad * np.sinh(self.x)


class Asinh(Function):
    def forward(self, x):
        self.x = x
        return np.arcsinh(x)

    def backward(self, grad):
        return grad / np.sqrt(self.x * self.x + 1)


class Acosh(Function):
    def forward(self, x):
        self.x = x
        return np.arccosh(x)

    def backward(self, grad):
        return grad / np.sqrt(self.x * self.x - 1)


class Atanh(Function):
    def forward(self, x):
        self.x = x
        return np.arctanh(x)

    def backward(self, grad):
        return grad / (1 - self.x * self.x)


class Atan2(Function):
    """The angle of the point (b, a): d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.arctan2(a, b)

    def backward(self, grad):
        scaled = grad / (self.a * self.a + self.b * self.b)
        return (scaled * self.b if self.needs_input_grad[0] else None,
                -scaled * self.a if self.needs_input_grad[1] else None)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow: d/da = a / out, d/db = b / out."""

    def forward(self, a, b):
        self.a, self.b, self.out = a, b, np.hypot(a, b)
        return self.out

    def backward(self, grad):
        scaled = grad / self.out
        return (scaled * self.a if self.needs_input_grad[0] else None,
                scaled * self.b if self.needs_input_grad[1] else None)


# -- exponentials and logarithms in other bases ------------------------------------------------------------------
class Exp2(Function):
    def forward(self, x):
        self.out = np.exp2(x)
        return self.out

    def backward(self, grad):
        return grad * self.out * grad.dtype.type(math.log(2))


class Expm1(Function):
    """exp(x) - 1, exact for small x."""

    def forward(self, x):
        self.out = np.expm1(x)
        return self.out

    def backward(self, grad):
        return grad * (self.out + 1)


class LogBase(Function):
    """log(x) / log(base) for base 2 or 10 (numpy's exact log2 and log10)."""

    def forward(self, x, base):
        self.x, self.scale = x, x.dtype.type(1 / math.log(base))
        return np.log2(x) if base == 2 else np.log10(x)

    def backward(self, grad):
        return grad * self.scale / self.x


class Log1p(Function):
    """log(1 + x), exact for small x."""

    def forward(self, x):
        self.x = x
        return np.log1p(x)

    def backward(self, grad):
        return grad / (1 + self.x)


class LogAddExp(Function):
    """log(exp(a) + exp(b)) without overflow: d/da = exp(a - out), d/db = exp(b - out)."""

    def forward(self, a, b):
        self.a, self.b, self.out = a, b, np.logaddexp(a, b)
        return self.out

    def backward(self, grad):
        return (grad * np.exp(self.a - self.out) if self.needs_input_grad[0] else None,
                grad * np.exp(self.b - self.out) if self.needs_input_grad[1] else None)


# -- rounding, sign and remainders --------------------------------------------------------------------------------
class Rounding(Function):
    """floor, ceil, trunc, sign or round (half to even, `decimals` places): a step function, so its gradient is 0
    everywhere, as PyTorch defines it."""

    KINDS = {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
             "sign": lambda x: np.sign(np.nan_to_num(x, nan=0, posinf=1, neginf=-1))}  # PyTorch: sign(nan) = 0

    def forward(self, x, kind, decimals=0):
        if kind == "round":
            return np.round(x, decimals)
        return self.KINDS[kind](x)

    def backward(self, grad):
        return np.zeros_like(grad)


class Frac(Function):
    """x - trunc(x); the gradient passes through (the integer part is a step)."""

    def forward(self, x):
        return x - np.trunc(x)

    def backward(self, grad):
        return grad


class CopySign(Function):
    """|a| with the sign of b. The gradient of a is out / a (+-1), 0 where a == 0 (PyTorch's choice); b gets none
    (the result depends on b's sign only)."""

    def forward(self, a, b):
        out = np.copysign(a, b)
        if self.needs_input_grad[0]:
            self.ratio = np.divide(out, a, out=np.zeros_like(out), where=a != 0)
        return out

    def backward(self, grad):
        return (grad * self.ratio if self.needs_input_grad[0] else None,
                np.zeros_like(grad) if self.needs_input_grad[1] else None)


class Remainder(Function):
    """a - b * rounded(a / b): `floor` rounding is Python's and PyTorch's `%` / `remainder` (the divisor's sign),
    `trunc` is C's `fmod` (the dividend's sign). d/da = 1, d/db = -rounded(a / b)."""

    def forward(self, a, b, rounding):
        if self.needs_input_grad[1]:
            self.quotient = np.floor(a / b) if rounding == "floor" else np.trunc(a / b)
        return np.mod(a, b) if rounding == "floor" else np.fmod(a, b)

    def backward(self, grad):
        return grad, (-grad * self.quotient if self.needs_input_grad[1] else None)


class Lerp(Function):
    """start + weight * (end - start): d/dstart = 1 - weight, d/dend = weight, d/dweight = end - start."""

    def forward(self, start, end, weight):
        self.start, self.end, self.weight = start, end, weight
        return start + weight * (end - start)

    def backward(self, grad):
        return (grad * (1 - self.weight) if self.needs_input_grad[0] else None,
                grad * self.weight if self.needs_input_grad[1] else None,
                grad * (self.end - self.start) if self.needs_input_grad[2] else None)
