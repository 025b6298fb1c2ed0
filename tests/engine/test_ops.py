"""Every op's gradient against central finite differences, over shapes hypothesis draws.

One helper (`tinygrad_np.testing.check_op`) serves every op: float64, random shapes of
0-4 dims and sides 1-5 (mutually broadcastable for binary ops), inputs kept inside each
op's domain and away from kinks and ties, inputs checked for mutation, float32 kept.
"""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_np.functional as F
from tinygrad_np import Tensor
from tinygrad_np.testing import broadcastable_shapes, check_op

one_shape = broadcastable_shapes(1)
nonempty_shape = broadcastable_shapes(1, min_dims=1)


def axis_kwargs(shapes, keepdims=True):
    """axis None, one int (possibly negative) or a tuple, with or without keepdims."""
    ndim = len(shapes[0])
    single = st.integers(-ndim, ndim - 1) if ndim else st.nothing()
    axes = st.one_of(st.none(), single, hnp.valid_tuple_axes(ndim))
    return st.fixed_dictionaries({"axis": axes, "keepdims": st.booleans() if keepdims else st.just(False)})


# -- element-wise ------------------------------------------------------------------------
@pytest.mark.parametrize("op", [F.add, F.sub, F.mul, lambda a, b: a + b, lambda a, b: a - b,
                                lambda a, b: a * b, lambda a, b: 2.5 - a * b + 1.5])
def test_arithmetic(op):
    check_op(op, 2)


def test_div():
    check_op(lambda a, b: a / b, 2, domain=[(-3, 3), (0.3, 3)])
    check_op(lambda a, b: F.div(a, b), 2, domain=[(-3, 3), (-3, -0.3)])


def test_rtruediv_by_scalar():
    check_op(lambda x: 2.0 / x, domain=(0.3, 3))


def test_pow_tensor_exponent():
    check_op(F.pow, 2, domain=[(0.3, 2.5), (-2, 2)])


def test_rpow():
    check_op(lambda x: 1.7 ** x)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 1.7])
def test_pow_scalar_exponent(exponent):
    check_op(lambda x: x ** exponent, domain=(0.3, 2.5))


def test_maximum_minimum():
    check_op(F.maximum, 2, distinct=True)
    check_op(F.minimum, 2, distinct=True)


def test_maximum_ties_split_the_gradient():
    a, b = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([1.0, 5.0, 0.0], requires_grad=True)
    F.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0, 0.0])


def test_neg():
    check_op(lambda x: -x)


@pytest.mark.parametrize("op, domain", [(F.exp, (-3, 3)), (F.log, (0.1, 4)), (F.sqrt, (0.1, 4)),
                                        (F.erf, (-3, 3)), (F.gelu, (-4, 4)), (F.tanh, (-3, 3)),
                                        (F.sigmoid, (-6, 6)), (F.softplus, (-6, 6))])
def test_smooth_unary(op, domain):
    check_op(op, domain=domain)


def test_tensor_methods_match_functions():
    check_op(lambda x: x.exp().log().sqrt().tanh().sigmoid().softplus().gelu().erf(), domain=(0.5, 2))


@pytest.mark.parametrize("op", [F.abs, F.relu])
def test_kinked_unary(op):
    check_op(op, avoid=(0.0,))


def test_clip():
    check_op(lambda x: F.clip(x, -1.0, 1.5), avoid=(-1.0, 1.5))
    check_op(lambda x: x.clip(min=0.5), avoid=(0.5,))
    check_op(lambda x: x.clip(max=-0.5), avoid=(-0.5,))


def test_where():
    def conditions(shapes):
        shape = np.broadcast_shapes(*shapes)
        return st.fixed_dictionaries({"condition": hnp.arrays(bool, shape)})

    check_op(lambda a, b, condition: F.where(condition, a, b), 2, kwargs=conditions)
    check_op(lambda a, condition: F.where(condition, a, 0.0), 1, kwargs=conditions)


# -- matrix products ---------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["2d", "batched", "nd@2d", "2d@nd", "vec@mat", "mat@vec", "vec@vec"]))
    if kind == "vec@vec":
        return (k,), (k,)
    if kind == "vec@mat":
        return (k,), draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) + (k, m)
    if kind == "mat@vec":
        return draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) + (n, k), (k,)
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    if kind == "2d":
        batch_a = batch_b = ()
    elif kind == "nd@2d":
        batch_a, batch_b = batch_a + (2,), ()
    elif kind == "2d@nd":
        batch_a, batch_b = (), batch_b + (2,)
    return batch_a + (n, k), batch_b + (k, m)


def test_matmul():
    check_op(lambda a, b: a @ b, 2, shapes=matmul_shapes())


def test_rmatmul_with_ndarray():
    w = np.random.default_rng(0).standard_normal((3, 4))
    check_op(lambda x: w @ x, shapes=st.tuples(st.sampled_from([(4, 2), (4,), (2, 4, 5)])))


@st.composite
def linear_shapes(draw, with_bias):
    axis = draw(st.sampled_from([0, -1]))
    rest = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    x_shape = (n_in, *rest) if axis == 0 else (*rest, n_in)
    return (x_shape, (n_out, n_in), (n_out,)) if with_bias else (x_shape, (n_out, n_in))


def fitting_dim(shapes):
    """Any dim (0 or -1) along which x fits the weight."""
    return st.fixed_dictionaries({"dim": st.sampled_from([a for a in (0, -1) if shapes[0][a] == shapes[1][1]])})


def test_linear():
    check_op(lambda x, w, b, dim: F.linear(x, w, b, dim=dim), 3, shapes=linear_shapes(True), kwargs=fitting_dim)
    check_op(lambda x, w, dim: F.linear(x, w, dim=dim), 2, shapes=linear_shapes(False), kwargs=fitting_dim)


def test_linear_equals_matmul_plus_bias():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    as_tensors = [Tensor(a, dtype=np.float64) for a in (x, w, b)]
    np.testing.assert_allclose(F.linear(*as_tensors).numpy(), x @ w.T + b, rtol=1e-12)
    x0 = rng.standard_normal((4, 2, 3))
    np.testing.assert_allclose(F.linear(Tensor(x0, dtype=np.float64), *as_tensors[1:], dim=0).numpy(),
                               np.einsum("oi,i...->o...", w, x0) + b[:, None, None], rtol=1e-12)


# -- shape and selection -----------------------------------------------------------------
def test_permute_and_transpose():
    check_op(lambda x, dims: x.permute(*dims), shapes=one_shape,
             kwargs=lambda s: st.fixed_dictionaries({"dims": st.permutations(range(len(s[0])))}))
    check_op(lambda x: x.T, shapes=one_shape)
    check_op(lambda x: x.t(), shapes=broadcastable_shapes(1, max_dims=2))
    check_op(lambda x: x.mT, shapes=broadcastable_shapes(1, min_dims=2))


def test_transpose_swaps_two_dims_as_pytorch():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(1, 2).shape == (2, 4, 3) and x.transpose(0, -1).shape == (4, 3, 2)
    np.testing.assert_array_equal(x.transpose(1, 2).numpy(), np.arange(24.0).reshape(2, 3, 4).swapaxes(1, 2))
    with pytest.raises(TypeError):
        x.transpose(1, 0, 2)  # a permutation is permute's job
    with pytest.raises(ValueError, match="t\\(\\): needs at most 2 dims"):
        x.t()


def test_swapaxes():
    def two_axes(s):
        n = len(s[0])
        return st.fixed_dictionaries({"a": st.integers(-n, n - 1), "b": st.integers(-n, n - 1)})

    check_op(lambda x, a, b: F.swapaxes(x, a, b), shapes=nonempty_shape, kwargs=two_axes)


def test_reshape():
    def new_shapes(s):
        dims = list(s[0])
        return st.fixed_dictionaries({"shape": st.one_of(
            st.permutations(dims).map(tuple),
            st.just((-1,)),
            st.permutations(dims + [1]).map(tuple),
        )})

    check_op(lambda x, shape: x.reshape(*shape) if shape else x.reshape(()), shapes=one_shape, kwargs=new_shapes)
    check_op(lambda x: x.flatten(), shapes=one_shape)
    check_op(lambda x: F.flatten(x, 1), shapes=broadcastable_shapes(1, min_dims=2))


def test_squeeze_unsqueeze():
    check_op(lambda x: F.unsqueeze(F.squeeze(x), 0), shapes=one_shape)


def test_broadcast_to():
    pairs = broadcastable_shapes(2)
    check_op(lambda x, target: x.broadcast_to(target), shapes=pairs.map(lambda s: (s[0],)),
             kwargs=lambda s: st.just({"target": s[0]}))
    check_op(lambda x, other: x.broadcast_to(np.broadcast_shapes(x.shape, other)),
             shapes=pairs.map(lambda s: (s[0],)), kwargs=lambda s: broadcastable_shapes(1).map(
                 lambda o: {"other": o[0]}).filter(lambda k: _broadcasts(s[0], k["other"])))


def _broadcasts(a, b):
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def test_getitem_basic():
    check_op(lambda x, index: x[index], shapes=one_shape,
             kwargs=lambda s: hnp.basic_indices(s[0], allow_newaxis=True).map(lambda i: {"index": i}))


def test_getitem_integer_arrays_with_repeats():
    def index(s):
        return hnp.integer_array_indices(s[0], result_shape=hnp.array_shapes(max_dims=2, max_side=6)).map(
            lambda i: {"index": i})

    check_op(lambda x, index: x[index], shapes=nonempty_shape, kwargs=index)


def test_getitem_boolean_mask():
    check_op(lambda x, mask: x[mask], shapes=nonempty_shape,
             kwargs=lambda s: hnp.arrays(bool, s[0]).map(lambda m: {"mask": m}))
    check_op(lambda x, mask: x[:, mask] if x.ndim > 1 else x[mask], shapes=broadcastable_shapes(1, min_dims=2),
             kwargs=lambda s: hnp.arrays(bool, s[0][1]).map(lambda m: {"mask": m}))


def test_getitem_repeated_index_adds_gradients():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def gather_kwargs(s, smaller=False):
    """A dim and an integer index with any length along it; with `smaller`, as PyTorch's gather allows, other
    sides may be shorter than the tensor's."""
    shape = s[0]

    def index(dim):
        sides = st.tuples(*[st.integers(1, n) if smaller and k != dim else st.just(n) for k, n in enumerate(shape)])
        return sides.flatmap(lambda sides: hnp.arrays(np.int64, sides[:dim] + (shape[dim] + 1,) + sides[dim + 1:],
                                                      elements=st.integers(0, shape[dim] - 1)))

    return st.integers(0, len(shape) - 1).flatmap(lambda dim: st.fixed_dictionaries({
        "dim": st.just(dim), "index": index(dim)}))


def test_gather():
    check_op(lambda x, index, dim: x.gather(dim, index), shapes=nonempty_shape,
             kwargs=lambda s: gather_kwargs(s, smaller=True))
    check_op(lambda x, index, dim: x.take_along_dim(index, dim), shapes=nonempty_shape, kwargs=gather_kwargs)


def test_gather_follows_pytorch_and_take_along_dim_broadcasts():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(x.gather(1, np.array([[2], [0]])).numpy(), [[2.0], [3.0]])
    np.testing.assert_array_equal(x.gather(0, np.array([[1, 0]])).numpy(), [[3.0, 1.0]])  # index smaller: a corner
    np.testing.assert_array_equal(x.take_along_dim(np.array([[2], [2]]), 1).numpy(), [[2.0], [5.0]])
    x.take_along_dim(np.array([[0, 0, 1]]), 1).sum().backward()  # the one index row serves both rows
    np.testing.assert_array_equal(x.grad, [[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="no larger than its shape"):
        x.gather(1, np.zeros((3, 1), dtype=np.int64))


@st.composite
def concat_shapes(draw, n, stacking):
    base = list(draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
    axis = draw(st.integers(0, len(base) - 1))
    return tuple(tuple(base[:axis]) + (base[axis] if stacking else draw(st.integers(1, 3)),) + tuple(base[axis + 1:])
                 for _ in range(n))


def joinable_axis(shapes):
    """Axes along which the shapes may be concatenated (all other sides equal), as +-axis."""
    ndim = len(shapes[0])
    axes = [a for a in range(ndim) if len({s[:a] + s[a + 1:] for s in shapes}) == 1]
    return st.fixed_dictionaries({"axis": st.sampled_from(axes + [a - ndim for a in axes])})


@pytest.mark.parametrize("n", [1, 2, 3])
def test_concatenate(n):
    check_op(lambda *xs, axis: F.cat(xs, dim=axis), n, shapes=concat_shapes(n, False), kwargs=joinable_axis)
    check_op(lambda *xs, axis: F.concatenate(xs, axis=axis), n, shapes=concat_shapes(n, False),
             kwargs=joinable_axis)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_stack(n):
    check_op(lambda *xs, axis: F.stack(xs, dim=axis), n, shapes=concat_shapes(n, True),
             kwargs=lambda s: st.fixed_dictionaries({"axis": st.integers(-len(s[0]) - 1, len(s[0]))}))


def test_pad():
    def widths(s):
        ndim = len(s[0])
        pair = st.tuples(st.integers(0, 2), st.integers(0, 2))
        return st.fixed_dictionaries({"pad_width": st.lists(pair, min_size=ndim, max_size=ndim),
                                      "value": st.floats(-1, 1)})

    check_op(lambda x, pad_width, value: F.pad(x, pad_width, value=value), shapes=one_shape, kwargs=widths)
    flat = [n for pair in reversed([(1, 2), (0, 3)]) for n in pair]  # PyTorch's form: last dim first
    ones = np.ones((2, 2))
    np.testing.assert_array_equal(F.pad(Tensor(ones), flat).numpy(), np.pad(ones, [(1, 2), (0, 3)]))
    np.testing.assert_array_equal(F.pad(Tensor(ones), (1, 0)).numpy(), np.pad(ones, [(0, 0), (1, 0)]))


# -- reductions --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp"])
def test_smooth_reductions(name):
    check_op(lambda x, axis, keepdims: getattr(x, name)(dim=axis, keepdim=keepdims), shapes=one_shape,
             kwargs=axis_kwargs)
    check_op(lambda x, axis, keepdims: getattr(x, name)(axis=axis, keepdims=keepdims), shapes=one_shape,
             kwargs=axis_kwargs)  # numpy's names


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_max_min(name):
    check_op(lambda x, axis, keepdims: getattr(x, name)(axis, keepdims), shapes=one_shape, kwargs=axis_kwargs,
             distinct=True)
    check_op(lambda x, axis, keepdims: getattr(x, name[1:])(axis=axis, keepdims=keepdims), shapes=one_shape,
             kwargs=axis_kwargs, distinct=True)  # numpy's max(axis=...): the values only


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_a_dim_give_values_and_indices(name):
    def one_dim(s):
        ndim = len(s[0])
        return st.fixed_dictionaries({"dim": st.integers(-ndim, ndim - 1), "keepdim": st.booleans()})

    check_op(lambda x, dim, keepdim: getattr(x, name)(dim, keepdim).values, shapes=nonempty_shape, kwargs=one_dim,
             distinct=True)
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True)
    values, indices = getattr(x, name)(dim=1)
    assert indices.dtype == np.int64 and getattr(x, name)(dim=1).indices is not None
    expected = {"max": ([5.0, 7.0], [1, 0], [[0, 1, 0], [1, 0, 0]]),
                "min": ([1.0, 0.0], [0, 1], [[1, 0, 0], [0, 1, 0]])}
    assert values.tolist() == expected[name][0] and indices.tolist() == expected[name][1]
    values.sum().backward()  # the gradient goes to the returned index only (the first 7 of a tie), as PyTorch
    np.testing.assert_array_equal(x.grad, expected[name][2])


def test_max_ties_split_evenly():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.amax(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])


def test_argmax_argmin():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 5.0]])
    assert x.argmax().item() == 5 and x.argmax(dim=1).tolist() == [1, 2] and x.argmin(dim=0).tolist() == [0, 1, 0]
    assert x.argmax(dim=1, keepdim=True).shape == (2, 1)


def test_var_and_std():
    check_op(lambda x, axis, keepdims: x.var(dim=axis, keepdim=keepdims, correction=0), shapes=one_shape,
             kwargs=axis_kwargs)
    check_op(lambda x: x.var(dim=-1), shapes=broadcastable_shapes(1, min_dims=1, min_side=2))  # unbiased
    check_op(lambda x: x.var(axis=-1, ddof=1), shapes=broadcastable_shapes(1, min_dims=1, min_side=2))
    check_op(lambda x: x.std(0, unbiased=False), shapes=broadcastable_shapes(1, min_dims=1, min_side=2))
    values = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]])
    x = Tensor(values, dtype=np.float64)
    np.testing.assert_allclose(x.var(dim=1).numpy(), values.var(axis=1, ddof=1))  # PyTorch's default: unbiased
    np.testing.assert_allclose(x.var(1, unbiased=False).numpy(), values.var(axis=1))
    np.testing.assert_allclose(x.std(correction=0).numpy(), values.std())


def test_logsumexp_of_all_minus_inf_is_finite_in_gradient():
    x = Tensor(np.array([[-np.inf, -np.inf], [0.0, 1.0]]), dtype=np.float64, requires_grad=True)
    out = x.logsumexp(axis=1)
    assert out.numpy()[0] == -np.inf
    np.testing.assert_allclose(out.numpy()[1], np.log(1 + np.e))
    out.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad[0], [0.0, 0.0])
    np.testing.assert_allclose(x.grad[1], np.exp([0.0, 1.0]) / (1 + np.e))


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax])
def test_softmax_family(op):
    check_op(lambda x, axis: op(x, dim=axis), shapes=nonempty_shape,
             kwargs=lambda s: st.fixed_dictionaries({"axis": st.integers(-len(s[0]), len(s[0]) - 1)}))


def test_log_softmax_is_stable_for_large_logits():
    out = F.log_softmax(Tensor([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.0, -1000.0, -2000.0]])


# -- neural-network ops ------------------------------------------------------------------
@st.composite
def layer_norm_shapes(draw, affine):
    x_shape = draw(broadcastable_shapes(1, min_dims=1))[0]
    return (x_shape, (x_shape[-1],), (x_shape[-1],)) if affine else (x_shape,)


def test_layer_norm():
    check_op(lambda x, w, b: F.layer_norm(x, w.shape, w, b, eps=1e-5), 3, shapes=layer_norm_shapes(True))
    check_op(lambda x: F.layer_norm(x, x.shape[-1]), shapes=layer_norm_shapes(False))
    check_op(lambda x, w: F.layer_norm(x, w.shape, weight=w), 2, shapes=layer_norm_shapes(True).map(lambda s: s[:2]))
    check_op(lambda x, b: F.layer_norm(x, b.shape, bias=b), 2, shapes=layer_norm_shapes(True).map(lambda s: s[::2]))


@st.composite
def trailing_shapes(draw):
    """An input shape and a normalized_shape of its last 1-3 dims."""
    x_shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
    k = draw(st.integers(1, len(x_shape)))
    return x_shape, x_shape[len(x_shape) - k:], x_shape[len(x_shape) - k:]


def test_layer_norm_over_several_trailing_dims():
    check_op(lambda x, w, b: F.layer_norm(x, w.shape, w, b), 3, shapes=trailing_shapes())
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4))
    out = F.layer_norm(Tensor(x, dtype=np.float64), (3, 4), Tensor(w, dtype=np.float64)).numpy()
    flat = x.reshape(2, 12)
    expected = ((flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(out, expected * w, rtol=1e-10)
    with pytest.raises(ValueError, match="normalized_shape \\(4, 3\\) must be the last dims"):
        F.layer_norm(Tensor(x), (4, 3))


def test_layer_norm_matches_definition():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4, 6)), rng.standard_normal(6), rng.standard_normal(6)
    x_t, w_t, b_t = (Tensor(a, dtype=np.float64) for a in (x, w, b))
    out = F.layer_norm(x_t, (6,), w_t, b_t, eps=1e-3).numpy()
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * w + b
    np.testing.assert_allclose(out, expected, rtol=1e-10)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_dropout(p):
    check_op(lambda x: F.dropout(x, p, training=True, generator=np.random.default_rng(7)), shapes=one_shape)


def test_dropout_scales_kept_values_and_is_identity_in_eval():
    x = Tensor(np.ones((200, 50)))
    out = F.dropout(x, 0.25, training=True, generator=np.random.default_rng(0)).numpy()
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.02
    assert F.dropout(x, 0.25, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0.0)


def test_softsign():
    """x / (1 + |x|): |x| has a kink at 0, so samples keep away from it; the method form is the same op."""
    check_op(F.softsign, avoid=(0,))
    check_op(lambda x: x.softsign(), avoid=(0,))


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_float32_kernels_on_non_contiguous_views(layout):
    """The chunked float32 kernels (GELU forward and backward, LayerNorm) give the same result for
    a transposed or strided view as for a contiguous copy of it."""
    base = np.random.default_rng(0).standard_normal((300, 8, 200)).astype(np.float32)
    view = base.transpose(2, 0, 1) if layout == "transposed" else base[::2, :, ::3]
    outputs = []
    for data in (view, np.ascontiguousarray(view)):
        x = Tensor(data, requires_grad=True)
        y = F.layer_norm(F.gelu(x), x.shape[-1])
        y.backward(np.ones(y.shape, dtype=np.float32) * np.linspace(-1, 1, y.shape[-1], dtype=np.float32))
        outputs.append((y.numpy(), x.grad))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
