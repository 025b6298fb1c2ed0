"""PyTorch's shape and indexing ops: flip, roll, diagonals and triangles, Tensor.unfold, repeat_interleave,
masked_select, the scatter family, sorting, einsum, meshgrid, and advanced indexing placed as PyTorch places it.

Gradients go through `check_op` (float64, hypothesis shapes, distinct values where an op picks among them); the
same ops are compared with PyTorch (forward and gradient) where it is installed, and so are the error classes.
"""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np.testing import broadcastable_shapes, check_op

nonempty = broadcastable_shapes(1, min_dims=1)
matrices = broadcastable_shapes(1, min_dims=2, max_dims=4)


def a_dim(shapes):
    ndim = len(shapes[0])
    return st.integers(-ndim, ndim - 1)


def dims_subset(shapes):
    return hnp.valid_tuple_axes(len(shapes[0]))


def scatter_kwargs(shapes, unique=False):
    """A dim and an integer index no larger than the tensor outside dim (PyTorch's rule), values in range; `unique`:
    one entry along dim, so no position is written twice (overwriting scatter's gradient is PyTorch's convention,
    not the derivative, where a position is written twice)."""
    shape = shapes[0]

    def for_dim(dim):
        sides = st.tuples(*[st.just(1) if unique and k == dim else st.integers(1, n) for k, n in enumerate(shape)])
        return sides.flatmap(lambda sides: hnp.arrays(np.int64, sides, elements=st.integers(0, shape[dim] - 1))
                             ).map(lambda index: {"dim": dim, "index": index})

    return st.integers(0, len(shape) - 1).flatmap(for_dim)


# -- gradients over hypothesis shapes -------------------------------------------------------------------------------
MOVEMENT = [
    ("flip", lambda x, dims: x.flip(dims), nonempty, lambda s: st.fixed_dictionaries({"dims": dims_subset(s)})),
    ("roll", lambda x, shifts, dim: x.roll(shifts, dim), nonempty,
     lambda s: st.fixed_dictionaries({"shifts": st.integers(-7, 7), "dim": a_dim(s)})),
    ("roll_flat", lambda x, shifts: x.roll(shifts), nonempty, st.fixed_dictionaries({"shifts": st.integers(-7, 7)})),
    ("diagonal", lambda x, offset: x.diagonal(offset, -2, -1), matrices,
     st.fixed_dictionaries({"offset": st.integers(-2, 2)})),
    ("diag_embed", lambda x, k: x.reshape(-1).diag(k), nonempty, st.fixed_dictionaries({"k": st.integers(-2, 2)})),
    ("tril", lambda x, k: x.tril(k), matrices, st.fixed_dictionaries({"k": st.integers(-3, 3)})),
    ("triu", lambda x, k: F.triu(x, k), matrices, st.fixed_dictionaries({"k": st.integers(-3, 3)})),
    ("unfold", lambda x, dim, size, step: x.unfold(dim, min(size, x.shape[dim]), step), nonempty,
     lambda s: st.fixed_dictionaries({"dim": a_dim(s), "size": st.integers(1, 3), "step": st.integers(1, 3)})),
    ("repeat_interleave", lambda x, r, dim: x.repeat_interleave(r, dim), nonempty,
     lambda s: st.fixed_dictionaries({"r": st.integers(0, 3), "dim": st.one_of(st.none(), a_dim(s))})),
    ("masked_select", lambda x, mask: x.masked_select(tg.tensor(mask)), nonempty,
     lambda s: hnp.arrays(bool, s[0][1:]).map(lambda mask: {"mask": mask})),
]


@pytest.mark.parametrize("name, op, shapes, kwargs", MOVEMENT, ids=[case[0] for case in MOVEMENT])
def test_movement_gradients(name, op, shapes, kwargs):
    check_op(op, shapes=shapes, kwargs=kwargs, max_examples=5)


def test_sort_family_gradients():
    check_op(lambda x, dim, descending: x.sort(dim, descending).values, shapes=nonempty, distinct=True,
             kwargs=lambda s: st.fixed_dictionaries({"dim": a_dim(s), "descending": st.booleans()}), max_examples=5)
    check_op(lambda x, k, largest: x.reshape(-1).topk(min(k, x.numel()), largest=largest).values, shapes=nonempty,
             distinct=True, kwargs=st.fixed_dictionaries({"k": st.integers(1, 4), "largest": st.booleans()}),
             max_examples=5)
    check_op(lambda x, k, keepdim: x.kthvalue(min(k, x.shape[-1]), -1, keepdim).values, shapes=nonempty,
             distinct=True, kwargs=st.fixed_dictionaries({"k": st.integers(1, 5), "keepdim": st.booleans()}),
             max_examples=5)


SCATTERS = [
    ("scatter", lambda x, s, dim, index: x.scatter(dim, index, s), {"unique": True}),
    ("scatter_value", lambda x, s, dim, index: x.scatter(dim, index, value=2.5) * s.sum(), {}),
    ("scatter_add", lambda x, s, dim, index: x.scatter_add(dim, index, s), {}),
    ("sum", lambda x, s, dim, index: x.scatter_reduce(dim, index, s, "sum", include_self=False), {}),
    ("mean", lambda x, s, dim, index: x.scatter_reduce(dim, index, s, "mean"), {}),
    ("mean_exclusive", lambda x, s, dim, index: x.scatter_reduce(dim, index, s, "mean", include_self=False), {}),
    ("prod", lambda x, s, dim, index: x.scatter_reduce(dim, index, s, "prod"), {"domain": (0.5, 1.5)}),
    ("amax", lambda x, s, dim, index: x.scatter_reduce(dim, index, s, "amax"), {"distinct": True}),
    ("amin_exclusive", lambda x, s, dim, index: x.scatter_reduce(dim, index, s, "amin", include_self=False),
     {"distinct": True}),
]


@pytest.mark.parametrize("name, op, options", SCATTERS, ids=[case[0] for case in SCATTERS])
def test_scatter_gradients(name, op, options):
    same = nonempty.map(lambda s: (s[0], s[0]))
    options = dict(options)
    unique = options.pop("unique", False)
    check_op(op, 2, shapes=same, kwargs=lambda s: scatter_kwargs(s, unique), max_examples=5, **options)


def test_index_add_index_fill_and_take_along_dim_gradients():
    def index_kwargs(s):
        return st.fixed_dictionaries({"dim": st.integers(0, len(s[0]) - 1),
                                      "index": hnp.arrays(np.int64, st.integers(1, 4), elements=st.integers(0, 99))})

    check_op(lambda x, dim, index: x.index_fill(dim, index % x.shape[dim], -1.0), shapes=nonempty,
             kwargs=index_kwargs, max_examples=4)
    check_op(lambda x, v, dim, index: x.index_fill(dim, index % x.shape[dim], v.sum()), 2,
             shapes=nonempty.map(lambda s: (s[0], (2,))), kwargs=index_kwargs, max_examples=4)
    for dim in (0, 1):  # repeated entries add up
        check_op(lambda x, source, dim=dim: x.index_add(dim, np.array([1, 0, 1]), source, alpha=1.5), 2,
                 shapes=st.just(((3, 3), (3, 3))), max_examples=3)
    check_op(lambda x, dim, index: x.take_along_dim(index, dim), shapes=nonempty, kwargs=take_along_kwargs,
             max_examples=5)


def take_along_kwargs(shapes):
    """A dim and indices that broadcast against the tensor outside dim (size 1 or the tensor's), any length
    along dim."""
    shape = shapes[0]

    def for_dim(dim):
        sides = st.tuples(*[st.integers(1, 4) if k == dim else st.sampled_from([1, n]) for k, n in enumerate(shape)])
        return sides.flatmap(lambda sides: hnp.arrays(np.int64, sides, elements=st.integers(0, shape[dim] - 1))
                             ).map(lambda index: {"dim": dim, "index": index})

    return st.integers(0, len(shape) - 1).flatmap(for_dim)


EQUATIONS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ii->i", [(3, 3)]),
             ("...ii->...", [(2, 3, 3)]), ("i,j->ij", [(3,), (2,)]), ("ij,ij->", [(2, 3), (2, 3)]),
             ("ik,jkl,il->ij", [(2, 3), (2, 3, 2), (2, 2)]), ("ij->", [(1, 3)]),
             ("i...j,ji...->...", [(2, 3, 1), (1, 2, 3)])]


@pytest.mark.parametrize("equation, shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_gradients(equation, shapes):
    check_op(lambda *xs: F.einsum(equation, *xs), len(shapes), shapes=st.just(tuple(shapes)), max_examples=3)


def test_meshgrid_gradients():
    for indexing in ("ij", "xy"):
        check_op(lambda a, b, c, indexing=indexing: sum(g * (k + 1) for k, g in enumerate(F.meshgrid(
            a, b, c, indexing=indexing))), 3,
                 shapes=st.tuples(*[st.integers(1, 4).map(lambda n: (n,))] * 2, st.just(())), max_examples=5)


# -- what PyTorch does, compared with PyTorch -------------------------------------------------------------------------
def compare(torch, op, arrays, grad=True, **tensor_options):
    """op(lib, *tensors) on both engines from the same float64 arrays: same forward (values, dtype and shape), and
    the same gradients of a random weighted sum."""
    ours = [tg.tensor(a, requires_grad=grad and a.dtype.kind == "f", **tensor_options) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    expected, got = op(torch, *theirs), op(tg, *ours)
    expected_list = expected if isinstance(expected, tuple) else (expected,)
    got_list = got if isinstance(got, tuple) else (got,)
    assert len(expected_list) == len(got_list)
    for e, g in zip(expected_list, got_list, strict=True):
        assert tuple(e.shape) == g.shape and str(e.dtype).removeprefix("torch.") == str(g.dtype)
        np.testing.assert_allclose(g.numpy(), e.detach().numpy(), rtol=1e-12, atol=1e-12)
    if grad and expected_list[0].requires_grad:
        weights = np.random.default_rng(0).normal(size=got_list[0].shape)
        (expected_list[0] * torch.tensor(weights)).sum().backward()
        (got_list[0] * tg.tensor(weights)).sum().backward()
        for t, o in zip(theirs, ours, strict=True):
            if t.requires_grad:
                np.testing.assert_allclose(np.asarray(o.grad) if o.grad is not None else 0,
                                           t.grad.numpy() if t.grad is not None else 0, rtol=1e-10, atol=1e-12)


rng = np.random.default_rng(42)
X = rng.normal(size=(3, 4, 5))
INDEX = rng.integers(0, 3, (2, 4, 3))
PARITY = [
    ("flip", lambda t, x: x.flip((0, 2)), [X]),
    ("flip_empty", lambda t, x: t.flip(x, ()), [X]),
    ("fliplr", lambda t, x: t.fliplr(x), [X]),
    ("roll", lambda t, x: x.roll(shifts=(2, -3), dims=(0, 2)), [X]),
    ("roll_flat", lambda t, x: t.roll(x, 7), [X]),
    ("diag_vector", lambda t, x: x[0, 0].diag(-2), [X]),
    ("diag_matrix", lambda t, x: t.diag(x[0], 1), [X]),
    ("diagonal", lambda t, x: x.diagonal(offset=-1, dim1=2, dim2=0), [X]),
    ("tril", lambda t, x: x.tril(-1), [X]),
    ("triu", lambda t, x: t.triu(x, 2), [X]),
    ("unfold", lambda t, x: x.unfold(-1, 2, 2), [X]),
    ("unfold_empty", lambda t, x: x.unfold(1, 0, 8), [X]),
    ("repeat_interleave", lambda t, x: x.repeat_interleave(2, -2), [X]),
    ("repeat_interleave_flat", lambda t, x: t.repeat_interleave(x, 3), [X]),
    ("repeat_interleave_counts", lambda t, x: x.repeat_interleave(t.tensor([1, 0, 3]), dim=0), [X]),
    ("repeat_interleave_indices", lambda t: t.repeat_interleave(t.tensor([2, 0, 1])), []),
    ("masked_select", lambda t, x: x.masked_select(x > 0.5), [X]),
    ("masked_select_broadcast", lambda t, x: t.masked_select(x, t.tensor([True, False, True, True, False])), [X]),
    ("nonzero", lambda t, x: (x > 0.5).nonzero(), [X]),
    ("nonzero_tuple", lambda t, x: t.nonzero(x > 0.5, as_tuple=True), [X]),
    ("argwhere", lambda t, x: t.argwhere(x[0] > 0), [X]),
    ("scatter", lambda t, x: x.scatter(1, t.tensor(INDEX), x[:2, :, :3] * 2), [X]),
    ("scatter_larger_src", lambda t, x: x.scatter(1, t.tensor(INDEX), x.detach() * 2), [X]),
    ("scatter_value", lambda t, x: x.scatter(dim=2, index=t.tensor(INDEX), value=-1.5), [X]),
    ("scatter_add_reduce", lambda t, x: x.detach().scatter(0, t.tensor(INDEX), x.detach(), reduce="add"), [X]),
    ("scatter_multiply", lambda t, x: x.detach().scatter(0, t.tensor(INDEX), 1.5, reduce="multiply"), [X]),
    ("scatter_add", lambda t, x: t.scatter_add(x, 0, t.tensor(INDEX), x[:2, :, :3] * 3), [X]),
    ("index_add", lambda t, x: x.index_add(1, t.tensor([3, 0, 3]), x[:, :3] * 2, alpha=-2.0), [X]),
    ("index_fill", lambda t, x: x.index_fill(2, t.tensor([4, -1, 0]), 7.0), [X]),
    ("index_fill_tensor", lambda t, x: x.index_fill(0, t.tensor([1]), x[0, 0, 0]), [X]),
    ("take_along_dim", lambda t, x: t.take_along_dim(x, t.tensor([[[0], [2], [4], [1]]]), 2), [X]),
    ("take_along_dim_flat", lambda t, x: t.take_along_dim(x, t.tensor([5, 0, 59])), [X]),
    ("gather", lambda t, x: x.gather(2, t.tensor(INDEX)), [X]),
    ("sort", lambda t, x: tuple(x.sort(dim=1, descending=True, stable=True)), [X]),
    ("sort_ties", lambda t, x: tuple(x.sort(stable=True, descending=True)), [np.array([0.0, 1] * 9)]),
    ("argsort", lambda t, x: t.argsort(x, dim=0, stable=True), [X]),
    ("msort", lambda t, x: t.msort(x), [X]),
    ("topk", lambda t, x: tuple(x.topk(2, dim=1, largest=False)), [X]),
    # among ties PyTorch's order is unspecified: the values only
    ("topk_ties", lambda t, x: x.detach().topk(3).values, [np.array([1.0, 1, 0, 1, 0, 1, 0, 0, 1])]),
    ("kthvalue", lambda t, x: tuple(t.kthvalue(x, 2, 0, True)), [X]),
    ("einsum", lambda t, a, b: t.einsum("pqr,sq->rps", a, b), [X, X[0].T.copy()]),
    ("einsum_list", lambda t, a: t.einsum("i...j,j...->...", [a, a[0].t()]), [X]),
    ("meshgrid", lambda t, a, b: t.meshgrid(a, b, indexing="xy"), [X[0, 0], X[1, 1, :3]]),
    ("view_dtype", lambda t, x: x.float().view(t.int32), [X]),
    ("view_dtype_wider", lambda t, x: x.float().view(t.float64), [X[..., :4]]),
    ("half", lambda t, x: x.half(), [X]),
    ("type", lambda t, x: x.type(t.int32), [X]),
]


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("name, op, arrays", PARITY, ids=[case[0] for case in PARITY])
def test_matches_pytorch(name, op, arrays):
    torch = pytest.importorskip("torch")
    compare(torch, op, arrays)


def test_scatter_reduce_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.round(rng.normal(size=(3, 4, 5)), 1)  # rounded: ties inside the windows for amax/amin
    x[0, 0] = 0  # zeros for prod
    src = np.round(rng.normal(size=INDEX.shape), 1)  # PyTorch's gradient needs src of the index's shape
    src[1, 1] = 0
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            compare(torch, lambda t, a, b, reduce=reduce, include_self=include_self: a.scatter_reduce(
                1, t.tensor(INDEX), b, reduce, include_self=include_self), [x, src])


def test_type_strings_and_dtype_views():
    x = tg.tensor([1.0, 2.0])
    assert x.type() == "torch.FloatTensor" and x.double().type() == "torch.DoubleTensor"
    assert x.long().type() == "torch.LongTensor" and x.bool().type() == "torch.BoolTensor"
    assert x.type("torch.IntTensor").dtype == np.int32 and x.half().dtype == np.float16
    assert x.view(tg.int32).tolist() == [1065353216, 1073741824]
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.Nonsense")
    with pytest.raises(RuntimeError, match="whole number"):
        tg.tensor([1.0, 2.0, 3.0]).view(tg.float64)


def test_in_place_scatter_forms():
    x = tg.zeros(2, 4)
    x.scatter_(1, tg.tensor([[1], [3]]), 1.0)  # one-hot rows, the common use
    assert x.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    x.index_fill_(0, tg.tensor([0]), 2.0).tril_()
    assert x.tolist() == [[2, 0, 0, 0], [0, 0, 0, 0]]  # the 1 above the diagonal is gone
    w = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.index_add_(0, tg.tensor([1]), tg.ones(1))


# -- advanced indexing as PyTorch places the dims --------------------------------------------------------------------
def test_advanced_indexing_places_dims_as_pytorch():
    """Random index tuples mixing ints, slices, None, Ellipsis, 0-d and n-d integer tensors, lists and masks: shapes,
    values and gradients match PyTorch (integers are basic indexing there, so `x[1, :, idx]` keeps idx's dims after
    the slice where numpy would put them first)."""
    torch = pytest.importorskip("torch")
    generator = np.random.default_rng(1)
    x = generator.normal(size=(2, 5, 6, 5, 3, 4))
    arrays = [generator.integers(-2, 2, (2, 1, 1, 1)), generator.integers(0, 5, (1, 3, 1, 1)),
              generator.integers(-6, 6, (1, 1, 4, 1)), generator.integers(0, 3, (2, 1, 1, 6))]
    items = [slice(None), 1, -1, None, Ellipsis, slice(1, 3), slice(None, None, 2), "array", "list", "scalar", "mask"]
    checked = 0
    while checked < 100:
        choice = [items[k] for k in generator.integers(0, len(items), generator.integers(1, 6))]
        if choice.count(Ellipsis) > 1:
            continue

        def index(lib, choice=choice):
            out = []
            for k, item in enumerate(choice):
                if item == "array":
                    out.append(lib.tensor(arrays[k % len(arrays)]))
                elif item == "list":
                    out.append([1, 0, -1])
                elif item == "scalar":
                    out.append(lib.tensor(1))
                elif item == "mask":
                    out.append(lib.tensor([True, False]))
                else:
                    out.append(item)
            return tuple(out)

        try:
            expected_source = torch.tensor(x, requires_grad=True)
            expected = expected_source[index(torch)]
        except (IndexError, RuntimeError, ValueError):
            with pytest.raises((IndexError, RuntimeError, ValueError)):
                tg.tensor(x)[index(tg)]
            continue
        source = tg.tensor(x, requires_grad=True)
        got = source[index(tg)]
        assert got.shape == tuple(expected.shape), choice
        np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())
        weights = generator.normal(size=got.shape)
        (expected * torch.tensor(weights)).sum().backward()
        (got * tg.tensor(weights)).sum().backward()
        np.testing.assert_allclose(np.asarray(source.grad), expected_source.grad.numpy(), rtol=1e-12)
        checked += 1


def test_setitem_uses_the_same_placement():
    torch = pytest.importorskip("torch")
    ours, theirs = tg.zeros(2, 5, 6), torch.zeros(2, 5, 6)
    value = np.arange(10.0).reshape(5, 2)
    ours[1, :, [0, 3]] = tg.tensor(value)
    theirs[1, :, [0, 3]] = torch.tensor(value, dtype=torch.float32)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# -- errors: PyTorch's classes ---------------------------------------------------------------------------------------
ERRORS = [
    ("gather_negative", lambda t, x: x.gather(0, t.tensor([[-1, 0, 0, 0]])), RuntimeError),
    ("gather_too_big", lambda t, x: x.gather(1, t.tensor([[4]])), RuntimeError),
    ("scatter_negative", lambda t, x: x.scatter(0, t.tensor([[-1]]), 1.0), RuntimeError),
    ("scatter_add_too_big", lambda t, x: x.scatter_add(0, t.tensor([[3]]), x), RuntimeError),
    ("scatter_reduce_name", lambda t, x: x.scatter_reduce(0, t.tensor([[0]]), x, "median"), RuntimeError),
    ("scatter_dtype", lambda t, x: x.half().scatter(0, t.tensor([[0]]), x), RuntimeError),
    ("index_add_negative", lambda t, x: x.index_add(0, t.tensor([-1]), x[:1]), RuntimeError),
    ("index_select_negative", lambda t, x: x.index_select(0, t.tensor([-1])), IndexError),
    ("index_fill_too_big", lambda t, x: x.index_fill(0, t.tensor([3]), 1.0), IndexError),
    ("flip_repeated", lambda t, x: x.flip((1, -1)), RuntimeError),
    ("roll_unaligned", lambda t, x: x.roll(shifts=(1, 2), dims=0), RuntimeError),
    ("roll_without_dims", lambda t, x: x.roll((1, 2)), RuntimeError),
    ("diagonal_same_dims", lambda t, x: x.diagonal(dim1=0, dim2=0), RuntimeError),
    ("unfold_too_big", lambda t, x: x.unfold(0, 9, 3), RuntimeError),
    ("unfold_step", lambda t, x: x.unfold(0, 1, -1), RuntimeError),
    ("unfold_dim", lambda t, x: x.unfold(2, 1, 1), IndexError),
    ("topk_too_many", lambda t, x: x.topk(5), RuntimeError),
    ("einsum_operands", lambda t, x: t.einsum("ij,jk->ik", x), RuntimeError),
    ("einsum_sizes", lambda t, x: t.einsum("ij,ij->", x, x.t()), RuntimeError),
    ("meshgrid_indexing", lambda t, x: t.meshgrid(x[0], indexing="bad"), RuntimeError),
    ("div_rounding", lambda t, x: x.div(2, rounding_mode="up"), RuntimeError),
]


@pytest.mark.parametrize("name, op, error", ERRORS, ids=[case[0] for case in ERRORS])
def test_errors_are_pytorchs_classes(name, op, error):
    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(error):
        op(tg, tg.tensor(x))
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        op(torch, torch.tensor(x))


def test_div_rounding_modes_match_pytorch():
    torch = pytest.importorskip("torch")
    for numerator in ([5, 6, 7, 0, -5, -6, -7], [5.5, 6, -7.25, 0, -5, -6.5, 7]):
        for denominator in ([3], [-2], [2.5]):
            for mode in ("trunc", "floor", None):
                compare(torch, lambda t, a, b, mode=mode: a.div(b, rounding_mode=mode),
                        [np.array(numerator), np.array(denominator)], grad=False)
