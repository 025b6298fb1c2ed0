"""The op surface against PyTorch itself: element-wise math, logic and bits, reductions and scans, matrix products,
views and new tensors. Each case is one lambda written against PyTorch's API and run twice, with `m` = torch and
`m` = tinygrad_np, on the same float64 inputs (a few shapes, broadcasting ones for binary ops): the outputs must
match in shape, dtype and value, and so must the gradients of `out.sum()`. A second table does the same for the
exception classes PyTorch raises. Skipped without PyTorch."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_np as tg

torch = pytest.importorskip("torch")

UNARY_SHAPES = [(), (5,), (3, 4)]
BINARY_SHAPES = [((), ()), ((3, 4), (4,)), ((2, 1, 3), (4, 1))]


def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape)


def away_from_integers(rng, shape):
    """Values whose fractional part is in [0.1, 0.4] or [0.6, 0.9]: away from the steps of floor, ceil, round."""
    whole = rng.integers(-3, 3, shape)
    fraction = rng.uniform(0.1, 0.4, shape) + rng.integers(0, 2, shape) * 0.5
    return whole + fraction


def nonzero(rng, shape):
    return rng.uniform(0.3, 2.5, shape) * rng.choice([-1.0, 1.0], shape)


N = uniform(-2, 2)
UNARY = [  # (name, op, values)
    ("tan", lambda m, x: x.tan(), uniform(-1.2, 1.2)),
    ("asin", lambda m, x: x.asin(), uniform(-0.9, 0.9)),
    ("acos", lambda m, x: m.acos(x), uniform(-0.9, 0.9)),
    ("atan", lambda m, x: x.arctan(), N),
    ("sinh", lambda m, x: m.sinh(x), N),
    ("cosh", lambda m, x: x.cosh(), N),
    ("asinh", lambda m, x: x.asinh(), N),
    ("acosh", lambda m, x: m.arccosh(x), uniform(1.1, 4)),
    ("atanh", lambda m, x: x.atanh(), uniform(-0.9, 0.9)),
    ("exp2", lambda m, x: m.exp2(x), N),
    ("expm1", lambda m, x: x.expm1(), N),
    ("log2", lambda m, x: m.log2(x), uniform(0.1, 4)),
    ("log10", lambda m, x: x.log10(), uniform(0.1, 4)),
    ("log1p", lambda m, x: m.log1p(x), uniform(-0.9, 3)),
    ("floor", lambda m, x: x.floor() * x, away_from_integers),
    ("ceil", lambda m, x: m.ceil(x) * x, away_from_integers),
    ("trunc", lambda m, x: x.trunc() + x.fix(), away_from_integers),
    ("round", lambda m, x: x.round() * x, away_from_integers),
    ("round_decimals", lambda m, x: m.round(x * 10, decimals=-1) + x.round(decimals=2), away_from_integers),
    ("sign", lambda m, x: x.sign() * x, nonzero),
    ("frac", lambda m, x: m.frac(x), away_from_integers),
    ("prod", lambda m, x: x.prod(), uniform(0.5, 1.5)),
    ("prod_dim", lambda m, x: m.prod(x, -1, keepdim=True), N),
    ("cumsum", lambda m, x: x.cumsum(-1), N),
    ("cumprod", lambda m, x: m.cumprod(x, 0), N),
    ("logcumsumexp", lambda m, x: x.logcumsumexp(-1), uniform(-30, 30)),
    ("cummax", lambda m, x: m.cummax(x, -1).values * 2 + m.cummax(x, -1).indices, N),
    ("cummin", lambda m, x: x.cummin(0)[0] - x.cummin(0)[1], N),
    ("amax_axis", lambda m, x: x.amax(axis=-1, keepdims=True), N),
    ("max_axis", lambda m, x: x.max(axis=-1).values.sum() + x.max(axis=0, keepdims=True)[1].sum(), N),
    ("aminmax", lambda m, x: m.aminmax(x).min - x.aminmax(dim=-1).max.sum(), N),
    ("median", lambda m, x: x.median() + m.median(x, -1).values.sum() + x.median(0).indices, N),
    ("std_mean", lambda m, x: m.stack(m.std_mean(x, -1, keepdim=True)) if x.dim() else m.std_mean(x)[1], N),
    ("var_mean", lambda m, x: m.stack(m.var_mean(x, correction=0)), N),
    ("sum_dtype", lambda m, x: x.float().sum(dtype=m.float64) + x.sum(0), N),
    ("isclose", lambda m, x: x.isclose(x + 1e-7) + m.isclose(x, x * 1.1, rtol=0.2) + x, N),
    ("narrow", lambda m, x: x.narrow(-1, 1, 2) if x.dim() else x, N),
    ("lerp_scalar", lambda m, x: x.lerp(x * x, 0.3), N),
    ("pow_zero", lambda m, x: (x * 0) ** 0.5 + (x * 0) ** 0.0 + (x * 0) ** 2, N),
]

BINARY = [
    ("atan2", lambda m, a, b: m.atan2(a, b), uniform(0.3, 2), N),
    ("arctan2", lambda m, a, b: a.arctan2(b), N, uniform(0.3, 2)),
    ("hypot", lambda m, a, b: a.hypot(b), nonzero, nonzero),
    ("logaddexp", lambda m, a, b: m.logaddexp(a, b * 30), N, N),
    ("copysign", lambda m, a, b: a.copysign(b), nonzero, nonzero),
    ("remainder", lambda m, a, b: a % b.detach() + m.remainder(a, 1.5) + a.remainder(2), uniform(2.2, 2.9),
     uniform(1.0, 1.04)),
    ("fmod", lambda m, a, b: a.fmod(b) + m.fmod(-a, b), uniform(2.2, 2.9), uniform(1.0, 1.04)),
    ("lerp", lambda m, a, b: m.lerp(a, b, b * a), N, N),
    ("pow_at_zero", lambda m, a, b: (a * 0) ** b + (a * 0) ** (b * 0) + 0 ** b, N, uniform(0.3, 2)),
]


def _inputs(module, arrays, requires_grad=True):
    return [module.tensor(a, requires_grad=requires_grad) for a in arrays]


def _run(module, op, arrays):
    xs = _inputs(module, arrays)
    out = op(module, *xs)
    out.sum().backward()
    return out, [x.grad for x in xs]


def _numpy(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def _check(op, arrays):
    ours, our_grads = _run(tg, op, arrays)
    theirs, their_grads = _run(torch, op, arrays)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == _numpy(theirs).dtype
    np.testing.assert_allclose(ours.numpy(), _numpy(theirs), rtol=1e-10, atol=1e-12)
    for ours_g, theirs_g in zip(our_grads, their_grads, strict=True):
        theirs_g = np.zeros(ours.shape) if theirs_g is None else _numpy(theirs_g)
        ours_g = np.zeros_like(theirs_g) if ours_g is None else ours_g.numpy()
        np.testing.assert_allclose(ours_g, theirs_g, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, op, values", UNARY, ids=[c[0] for c in UNARY])
def test_unary_ops_and_reductions_match_pytorch(name, op, values):
    rng = np.random.default_rng(0)
    for shape in UNARY_SHAPES:
        _check(op, [values(rng, shape)])


@pytest.mark.parametrize("name, op, a_values, b_values", BINARY, ids=[c[0] for c in BINARY])
def test_binary_ops_match_pytorch(name, op, a_values, b_values):
    rng = np.random.default_rng(1)
    for a_shape, b_shape in BINARY_SHAPES:
        _check(op, [a_values(rng, a_shape), b_values(rng, b_shape)])


def test_lerp_with_a_tensor_weight_and_prod_with_zeros_match_pytorch():
    rng = np.random.default_rng(2)
    _check(lambda m, a, b, w: a.lerp(b, w), [rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.uniform(size=(3, 1))])
    with_zeros = rng.normal(size=(4, 5))
    with_zeros[1, 2] = with_zeros[3, 0] = with_zeros[3, 4] = 0.0
    for op in (lambda m, x: x.prod(), lambda m, x: x.prod(1), lambda m, x: x.prod(0, keepdim=True),
               lambda m, x: x.cumprod(1), lambda m, x: m.cumprod(x, 0) * m.arange(5.0, dtype=m.float64)):
        _check(op, [with_zeros])


def test_pow_gradients_at_zero_and_infinity_follow_pytorch():
    bases = np.array([0.0, 0.0, 0.0, -math.inf, math.inf, 0.0, 2.0, 1.0])
    exponents = np.array([0.0, 0.3, -0.3, 0.0, 0.0, 2.0, 0.0, 1.0])
    _check(lambda m, a, b: a ** b, [bases, exponents])
    for c in (0.0, 0.3, -0.3, -1.0, 1.1, 2, 0):
        _check(lambda m, x, c=c: x ** c, [np.array([0.0, -1.0, 1.0, -math.inf])])
    for base in (0, 0.0, 0.7):
        _check(lambda m, x, base=base: base ** x, [np.array([-2.0, -1.0, 0.0, 1.0, 2.0])])


def _forward(op, *values):
    ours = op(tg, *[tg.tensor(v) for v in values])
    theirs = op(torch, *[torch.tensor(v) for v in values])
    ours, theirs = (ours if isinstance(ours, tuple) else (ours,)), (theirs if isinstance(theirs, tuple) else (theirs,))
    for o, t in zip(ours, theirs, strict=True):
        assert o.shape == tuple(t.shape) and o.dtype == t.numpy().dtype, (o, t)
        if o.dtype.kind == "f":  # float32 transcendental functions may differ in the last bit
            np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-6, atol=0)
        else:
            np.testing.assert_array_equal(o.numpy(), t.numpy())


INTEGERS = np.array([[1, -8, 1, 7], [32, 1, 6, -2147483648]], dtype=np.int32)
FLAGS = np.array([True, False, True, False])
SPECIAL = np.array([-math.inf, -1.5, -0.0, 0.0, 2.5, math.inf, math.nan])


INTEGER_OPS = [
    "x & 0x1337", "0x1337 | x", "5 ^ x", "~x", "x.bitwise_not()", "m.bitwise_and(x, x >> 1)", "x.bitwise_xor(3)",
    "x << 2", "x >> 3", "x << 31", "x >> 40", "x << 40", "2 << (x & 7)",
    "x.bitwise_left_shift(m.tensor([0, 2, 8, 31]).int())", "m.bitwise_right_shift(x, 1)", "x % 3", "100 % (x | 1)",
    "x % -3", "x.fmod(3)", "m.remainder(x, 5)", "x // 3", "7 // (x | 1)", "x.floor()", "x.round()", "x.sign()",
    "x.isinf()", "x.tan()", "x.abs().log2()", "m.atan2(x, x)", "x.sum()", "x.prod(1)", "x.cumsum(0)", "x.cumprod(1)",
    "x.max()", "x.min(1)", "x.amax(0)", "x.aminmax()", "x.cummax(1)", "x.median()", "x.argmax(keepdim=True)",
    "x.argmin(1)", "x.all(1)", "x.any(dim=(0, 1), keepdim=True)", "m.logical_and(x, x > 1)", "x.logical_or(x > 5)",
    "m.logical_xor(x, x > 1)", "x.isclose(x + 1)", "x.copysign(-1)", "x.mode(1)",
    "x.unique()", "m.unique(x, return_inverse=True, return_counts=True)",
    "m.unique(m.cat([x, x], 1), dim=1, return_inverse=True)", "x.new_zeros(2, 3)",
    "x.new_ones((1, 2), dtype=m.float64)", "x.new_full((2,), 7)", "x.new_tensor([1.5, 2.0])", "x.new_empty(0)",
    "x.narrow(1, -3, 2)", "x.mm(x.T)", "m.bmm(x[None], x.T[None])",
]
BOOL_OPS = [
    "x & ~x", "True ^ x", "x.sign()", "x.sum()", "x.max()", "x.min()", "x.amax()", "x.cumsum(0)", "x.prod()",
    "m.logical_not(x)", "x.all(0)", "x.any()", "m.all(x, ())", "x.unique(return_counts=True)",
]
SPECIAL_OPS = [
    "x.isinf()", "x.isnan()", "m.isfinite(x)", "x.isposinf()", "m.isneginf(x)", "x.floor()", "x.ceil()", "x.round()",
    "x.trunc()", "x.sign()", "x.frac()", "x.exp2()", "x.log2()", "x.log10()", "x.log1p()", "x.expm1()",
    "x.copysign(-1.0)", "x.isclose(x)", "x.isclose(x, equal_nan=True)", "x.cummax(0)", "x.cummin(0)",
    "x.logcumsumexp(0)", "x.median()", "x.atan()", "m.logaddexp(x, x)", "m.hypot(x, x)", "x.atan2(x * -1)",
    "x % 1.5", "x.fmod(-1.5)", "x.logical_not()", "x.log()", "x.sqrt()", "x.rsqrt()", "1 / x", "x.reciprocal()",
    "x ** -1", "x.pow(0.5)", "x.acos()", "x.atanh()",
]


def _op(source):
    return eval(f"lambda m, x: {source}")  # noqa: S307 - the test's own table


@pytest.mark.parametrize("source", INTEGER_OPS)
def test_integer_ops_match_pytorch(source):
    _forward(_op(source), INTEGERS)


@pytest.mark.parametrize("source", BOOL_OPS)
def test_bool_ops_match_pytorch(source):
    _forward(_op(source), FLAGS)


@pytest.mark.parametrize("source", SPECIAL_OPS)
def test_special_values_match_pytorch(source):
    """inf, nan and out-of-domain inputs give PyTorch's values, and no warning (PyTorch gives none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _forward(_op(source), SPECIAL)


DTYPE_OPS = ["x.sum()", "x.prod()", "x.cumsum(1)", "x.cumprod(0)", "x.amax(1)", "x.max(0).values", "x.min()",
             "x.sign()", "x.isinf()", "x.all(1)", "x.any()"]
NUMBER_DTYPE_OPS = ["x.floor()", "x.exp2()", "x.log1p()", "m.atan2(x, x)", "x % 2", "x.fmod(2)", "x % 2.5",
                    "x.sum(dtype=m.float64)"]


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "uint8", "bool"])
def test_result_dtypes_follow_pytorch(dtype):
    values = np.array([[1, 0, 3], [2, 5, 1]]).astype(dtype)
    for source in DTYPE_OPS + (NUMBER_DTYPE_OPS if dtype != "bool" else []):
        _forward(_op(source), values)


def test_format_of_a_zero_dim_tensor_is_its_numbers():
    for value in (1.23456, 7):
        assert f"{tg.tensor(value):.3f}" == f"{torch.tensor(value):.3f}"
        assert f"{tg.tensor(value)}" == f"{torch.tensor(value)}"
    assert f"{tg.tensor([1.5, 2.0])}" == str(tg.tensor([1.5, 2.0]))
    with pytest.raises(TypeError):
        f"{tg.tensor([1.5]):.3f}"
    assert tg.tensor([1.5, 2.0]).allclose(tg.tensor([1.5, 2.0 + 1e-9])) is True
    assert tg.allclose(tg.tensor([1.0, math.nan]), tg.tensor([1.0, math.nan]), equal_nan=True) is True
    assert tg.tensor([[1, 2], [3, 4]]).nelement() == 4 == tg.numel(tg.zeros(2, 2))


# -- exception classes: each case is run on PyTorch and on the engine; the engine must raise the class PyTorch raises
ERRORS = {
    "shape: add": lambda m, F: m.ones(3, 4) + m.ones(5, 4),
    "shape: matmul": lambda m, F: m.ones(2, 4) @ m.ones(1, 3),
    "shape: matmul 0-d": lambda m, F: m.tensor(1.0) @ m.ones(2, 2),
    "shape: reshape": lambda m, F: m.ones(3, 4).reshape(5, 5),
    "shape: reshape two -1": lambda m, F: m.ones(3, 4).reshape(-1, -1, 2),
    "shape: expand": lambda m, F: m.ones(3, 4).expand(5, 4),
    "shape: permute": lambda m, F: m.ones(3, 4).permute(0),
    "shape: cat": lambda m, F: m.cat([m.ones(3, 4), m.ones(2, 3)]),
    "shape: stack": lambda m, F: m.stack([m.ones(3, 4), m.ones(2, 3)]),
    "shape: where": lambda m, F: m.where(m.ones(3, 4) > 0, m.ones(3, 4), m.ones(5, 4)),
    "shape: split sizes": lambda m, F: m.ones(3, 4).split([1, 1]),
    "shape: mm": lambda m, F: m.ones(2, 2, 2).mm(m.ones(2, 2)),
    "shape: bmm": lambda m, F: m.ones(2, 2, 2).bmm(m.ones(3, 2, 2)),
    "shape: lerp": lambda m, F: m.ones(3, 4).lerp(m.ones(5, 4), 0.5),
    "shape: fmod": lambda m, F: m.ones(3, 4).fmod(m.ones(5, 4)),
    "shape: atan2": lambda m, F: m.ones(3, 4).atan2(m.ones(5, 4)),
    "shape: item": lambda m, F: m.ones(3, 4).item(),
    "shape: linear": lambda m, F: F.linear(m.ones(3, 4), m.ones(2, 5)),
    "shape: layer_norm": lambda m, F: F.layer_norm(m.ones(3, 4), (5,)),
    "shape: conv2d too short": lambda m, F: F.conv2d(m.ones(1, 1, 6, 7), m.ones(6, 1, 3, 3), dilation=3),
    "shape: conv2d channels": lambda m, F: F.conv2d(m.ones(1, 2, 5, 5), m.ones(1, 1, 3, 3)),
    "shape: conv2d input dims": lambda m, F: F.conv2d(m.ones(1, 1, 1, 5, 5), m.ones(1, 1, 3, 3)),
    "shape: max_pool2d too small": lambda m, F: F.max_pool2d(m.ones(1, 1, 1, 1), 3),
    "shape: cross_entropy target": lambda m, F: F.cross_entropy(m.ones(4, 3), m.zeros(4, 1, dtype=m.long)),
    "shape: mse_loss": lambda m, F: F.mse_loss(m.ones(3, 4), m.ones(5, 4)),
    "index: dim": lambda m, F: m.ones(3, 4).sum(5),
    "index: 0-d dim": lambda m, F: m.tensor(1.0).sum(1),
    "index: cumsum dim": lambda m, F: m.ones(3).cumsum(-2),
    "index: transpose": lambda m, F: m.ones(3, 4).transpose(0, 5),
    "index: getitem": lambda m, F: m.ones(3, 4)[5],
    "index: index_select": lambda m, F: m.ones(3, 4).index_select(0, m.tensor([7])),
    "index: index_select 2-d": lambda m, F: m.ones(3, 4).index_select(0, m.tensor([[0]])),
    "index: embedding": lambda m, F: F.embedding(m.tensor([5]), m.ones(3, 2)),
    "index: cross_entropy class": lambda m, F: F.cross_entropy(m.ones(3, 4), m.tensor([0, 1, 9])),
    "index: narrow start": lambda m, F: m.ones(3, 4).narrow(0, 5, 0),
    "index: max of empty dim": lambda m, F: m.zeros(0, 3).max(0),
    "index: argmax of empty": lambda m, F: m.zeros(0).argmax(),
    "type: max over a tuple": lambda m, F: m.ones(3, 4).max((0, 1)),
    "type: var two corrections": lambda m, F: m.ones(3, 4).var(unbiased=True, correction=1),
    "value: clamp without bounds": lambda m, F: m.ones(3).clip(None, None),
    "value: negative int power": lambda m, F: m.tensor([1, 2]) ** -2,
    "value: narrow length": lambda m, F: m.ones(3, 4).narrow(0, 2, 3),
    "value: repeated dims": lambda m, F: m.ones(3, 4).sum((0, 0)),
    "value: split size 0": lambda m, F: m.ones(3, 4).split(0),
    "value: chunk 0": lambda m, F: m.ones(3, 4).chunk(0),
    "value: gelu approximate": lambda m, F: F.gelu(m.ones(3), approximate="x"),
    "value: conv2d stride": lambda m, F: F.conv2d(m.ones(1, 1, 5, 5), m.ones(1, 1, 3, 3), stride=0),
    "value: conv2d padding": lambda m, F: F.conv2d(m.ones(1, 1, 5, 5), m.ones(1, 1, 3, 3), padding=-1),
    "value: conv2d padding name": lambda m, F: F.conv2d(m.ones(1, 1, 5, 5), m.ones(1, 1, 3, 3), padding="foo"),
    "value: pool padding": lambda m, F: F.max_pool2d(m.ones(1, 1, 5, 5), 2, padding=2),
    "value: one_hot class": lambda m, F: F.one_hot(m.tensor([5]), 3),
    "value: label_smoothing": lambda m, F: F.cross_entropy(m.ones(3, 4), m.tensor([0, 1, 2]), label_smoothing=2.0),
    "value: linspace steps": lambda m, F: m.linspace(1, 2, -1),
    "value: arange step": lambda m, F: m.arange(0, 5, 0),
    "value: arange sign": lambda m, F: m.arange(5, 0),
    "value: zeros size": lambda m, F: m.zeros(-1),
    "value: eye size": lambda m, F: m.eye(-1),
    "value: max of empty": lambda m, F: m.zeros(0).max(),
    "value: set_num_threads": lambda m, F: m.set_num_threads(0),
    "dtype: float & int": lambda m, F: m.ones(2) & 2,
    "dtype: float << int": lambda m, F: m.tensor([1.0]) << 2,
    "dtype: int << float": lambda m, F: m.tensor([1]) << 1.0,
    "dtype: ~float": lambda m, F: ~m.ones(2),
    "dtype: frac of int": lambda m, F: m.tensor([1]).frac(),
    "dtype: floor of bool": lambda m, F: m.tensor([True]).floor(),
    "dtype: mean of int": lambda m, F: m.tensor([1, 2]).mean(),
    "dtype: masked_fill float mask": lambda m, F: m.ones(2).masked_fill(m.ones(2), 0.0),
    "dtype: gather float index": lambda m, F: m.ones(3, 4).gather(0, m.zeros(1, 4)),
    "dtype: embedding float": lambda m, F: F.embedding(m.tensor([0.0]), m.ones(3, 2)),
    "dtype: one_hot float": lambda m, F: F.one_hot(m.tensor([0.0])),
    "dtype: nll_loss float target": lambda m, F: F.nll_loss(m.ones(3, 4), m.tensor([0.0, 1, 2])),
    "dtype: randn int": lambda m, F: m.randn(2, dtype=m.int64),
    "dtype: linspace bool": lambda m, F: m.linspace(5, 10, 3, dtype=m.bool),
    "dtype: arange bool": lambda m, F: m.arange(5, dtype=m.bool),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_are_pytorchs_classes(name):
    case = ERRORS[name]
    with pytest.raises(Exception) as theirs:  # noqa: PT011 - the class is what is compared
        case(torch, torch.nn.functional)
    with pytest.raises(type(theirs.value)):
        case(tg, tg.nn.functional)


def test_the_error_classes_stay_value_errors_where_they_were():
    """Code written against the engine before it raised PyTorch's classes caught ValueError (shapes, indices)."""
    for case in ("shape: add", "shape: reshape", "shape: cat", "index: dim", "index: getitem", "value: narrow length",
                 "shape: conv2d channels"):
        with pytest.raises(ValueError):
            ERRORS[case](tg, tg.nn.functional)
