"""Gradients of the element-wise math functions, reductions and scans against central finite differences, over
shapes hypothesis draws (`tinygrad_np.testing.check_op`: float64, broadcasting shapes with size-1 axes, inputs
inside each op's domain and away from its kinks). Step functions (floor, round, sign, ...) are checked too: away
from their steps the finite differences are 0, as their gradient is. Small example budgets keep the file cheap."""

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import Tensor
from tinygrad_np.testing import broadcastable_shapes, check_op

one_shape = broadcastable_shapes(1)
nonempty_shape = broadcastable_shapes(1, min_dims=1)
FEW = 10  # examples per property: each op is also compared with PyTorch in test_pytorch_op_parity.py

INTEGERS = tuple(float(n) for n in range(-4, 5))
HALVES = tuple(n + 0.5 for n in range(-4, 4))


def one_dim(shapes):
    ndim = len(shapes[0])
    return st.fixed_dictionaries({"dim": st.integers(-max(ndim, 1), max(ndim, 1) - 1)})


def dim_or_all(shapes):
    ndim = len(shapes[0])
    dims = st.integers(-ndim, ndim - 1) if ndim else st.sampled_from([0, -1])
    return st.fixed_dictionaries({"dim": st.none() | dims, "keepdim": st.booleans()})


@pytest.mark.parametrize("op, domain", [
    (Tensor.tan, (-1.2, 1.2)), (Tensor.asin, (-0.9, 0.9)), (tg.acos, (-0.9, 0.9)), (Tensor.atan, (-3, 3)),
    (tg.sinh, (-3, 3)), (Tensor.cosh, (-3, 3)), (Tensor.asinh, (-3, 3)), (tg.acosh, (1.1, 4)),
    (Tensor.atanh, (-0.9, 0.9)), (tg.exp2, (-3, 3)), (Tensor.expm1, (-3, 3)), (tg.log2, (0.1, 4)),
    (Tensor.log10, (0.1, 4)), (tg.log1p, (-0.9, 3)),
], ids=lambda v: getattr(v, "__name__", None))
def test_smooth_unary(op, domain):
    check_op(op, domain=domain, max_examples=FEW)


@pytest.mark.parametrize("op, avoid", [
    (Tensor.floor, INTEGERS), (tg.ceil, INTEGERS), (Tensor.trunc, INTEGERS), (Tensor.frac, INTEGERS),
    (Tensor.round, HALVES), (lambda x: x.round(decimals=1), tuple(h / 10 for h in range(-35, 35, 1))),
    (tg.sign, (0.0,)),
], ids=["floor", "ceil", "trunc", "frac", "round", "round_decimals", "sign"])
def test_step_functions(op, avoid):
    check_op(lambda x: op(x) * x, domain=(-3.5, 3.5), avoid=avoid, margin=0.02, max_examples=FEW)


@pytest.mark.parametrize("op, domains, avoid", [
    (tg.atan2, [(0.3, 3), (-3, 3)], ()),
    (Tensor.hypot, [(0.3, 3), (-3, -0.3)], ()),
    (tg.logaddexp, [(-3, 3), (-3, 3)], ()),
    (Tensor.copysign, [(-3, 3), (-3, 3)], (0.0,)),
    (lambda a, b: a % b, [(2.2, 2.9), (1.0, 1.04)], ()),
    (lambda a, b: tg.fmod(a, b), [(-2.9, -2.2), (1.0, 1.04)], ()),
    (lambda a, b: a.lerp(b, 0.3), [(-3, 3), (-3, 3)], ()),
], ids=["atan2", "hypot", "logaddexp", "copysign", "remainder", "fmod", "lerp"])
def test_binary(op, domains, avoid):
    check_op(op, 2, domain=domains, avoid=avoid, max_examples=FEW)


def test_lerp_with_a_tensor_weight():
    check_op(lambda a, b, w: tg.lerp(a, b, w), 3, max_examples=FEW)


def test_reductions():
    check_op(lambda x, dim, keepdim: x.prod(dim, keepdim), shapes=one_shape, kwargs=dim_or_all,
             domain=(0.5, 1.5), max_examples=FEW)
    check_op(lambda x: tg.stack(tg.std_mean(x, dim=-1, keepdim=True)),
             shapes=broadcastable_shapes(1, min_dims=1, min_side=2), max_examples=FEW)
    check_op(lambda x: tg.stack(tg.var_mean(x, correction=0)), shapes=one_shape, max_examples=FEW)
    check_op(lambda x, dim: x.median(dim).values, shapes=nonempty_shape, kwargs=one_dim, distinct=True,
             max_examples=FEW)
    check_op(lambda x: tg.aminmax(x).min + x.aminmax().max * 2, distinct=True, max_examples=FEW)


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
def test_scans(name):
    check_op(lambda x, dim: getattr(x, name)(dim), shapes=one_shape, kwargs=one_dim, max_examples=FEW)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes(name):
    check_op(lambda x, dim: getattr(tg, name)(x, dim).values, shapes=one_shape, kwargs=one_dim, distinct=True,
             max_examples=FEW)


def test_cumprod_and_prod_gradients_are_exact_with_zeros():
    """Dividing the product by each element fails at 0; the gradients here are the products of the others."""
    values = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [1.5, -2.0, 0.5, 4.0, 0.0]])
    x = Tensor(values, dtype=np.float64, requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0, 0, 0], [0, 0, 0, 0, -6.0]])
    x.grad = None
    x.cumprod(1).sum().backward()
    # row 0: d/dx0 = 1 (only out[0] has no zero), d/dx1 = x0 + x0 x2 + x0 x2 x3 (= 2 + 6 + 0), after it 0
    np.testing.assert_array_equal(x.grad.numpy()[0], [1.0, 8.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(x.grad.numpy()[1], [1 - 2 - 1 - 4, 1.5 + 0.75 + 3, -3 - 12, -1.5, -6])


def test_matrix_products_and_narrow():
    check_op(lambda a, b: a.mm(b), 2, shapes=st.just(((3, 4), (4, 2))), max_examples=3)
    check_op(lambda a, b: tg.bmm(a, b), 2, shapes=st.just(((2, 3, 4), (2, 4, 1))), max_examples=3)
    check_op(lambda x: x.narrow(1, 1, 2) * 3, shapes=st.just(((2, 4, 3),)), max_examples=3)


def test_pow_at_zero_gives_pytorchs_gradients_not_nan():
    """0 ** 0 is the constant 1: its gradients are 0; 0 ** b for b > 0 has exponent gradient 0 (not 0 * -inf)."""
    base = Tensor([0.0, 0.0, 2.0], dtype=np.float64, requires_grad=True)
    exponent = Tensor([0.0, 1.5, 0.0], dtype=np.float64, requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(exponent.grad.numpy(), [0.0, 0.0, np.log(2.0)])
    x = Tensor([0.0, 3.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
