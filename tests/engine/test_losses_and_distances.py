"""smooth_l1_loss, huber_loss, kl_div, l1_loss (weighted), normalize, cosine_similarity, pairwise_distance,
embedding and one_hot: gradients in the property tests, values and gradients against PyTorch (float64 1e-10,
float32 1e-5), their modules, nn.Embedding's options, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import strategies as st
from torch_parity import check_function_against_torch

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn
from tinygrad_np.testing import broadcastable_shapes, check_op

same_shapes = broadcastable_shapes(1, min_dims=1).map(lambda s: (s[0], s[0]))
same_three = broadcastable_shapes(1, min_dims=1).map(lambda s: (s[0], s[0], s[0]))
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
PROBABILITIES = rng.dirichlet(np.ones(5), 4)


# -- gradients (property tests) -----------------------------------------------------------------------------------
def test_smooth_l1_loss_gradient():
    check_op(lambda x, y, reduction, beta: F.smooth_l1_loss(x, y, reduction=reduction, beta=beta), 2,
             shapes=same_shapes, kwargs=st.fixed_dictionaries({"reduction": REDUCTIONS,
                                                                "beta": st.sampled_from([0.0, 0.5, 2.0])}),
             max_examples=15)


def test_huber_loss_gradient_with_and_without_weights():
    check_op(lambda x, y, w, reduction: F.huber_loss(x, y, reduction=reduction, delta=0.8, weight=w), 3,
             shapes=same_three, kwargs=st.fixed_dictionaries({"reduction": REDUCTIONS}), max_examples=15)
    check_op(lambda x, y: F.huber_loss(x, y, delta=1.5), 2, shapes=same_shapes, max_examples=10)


def test_l1_loss_gradient_with_weights():
    check_op(lambda x, y, w, reduction: F.l1_loss(x, y, reduction=reduction, weight=w), 3, shapes=same_three,
             domain=[(-3, 3), (-3, 3), (0.5, 2)], kwargs=st.fixed_dictionaries({"reduction": REDUCTIONS}),
             max_examples=15)


def test_kl_div_gradient_in_input_and_target():
    def kl(x, t, reduction, log_target):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return F.kl_div(x, t, reduction=reduction, log_target=log_target)

    check_op(kl, 2, shapes=same_shapes, domain=[(-3, 3), (0.05, 2)], max_examples=20,
             kwargs=st.fixed_dictionaries({"reduction": st.sampled_from(["mean", "sum", "none", "batchmean"]),
                                           "log_target": st.booleans()}))


def shape_and_dim(min_dims=1):
    return broadcastable_shapes(1, min_dims=min_dims).flatmap(
        lambda s: st.tuples(st.just(s), st.integers(-len(s[0]), len(s[0]) - 1)))


def test_normalize_gradient():
    check_op(lambda x, p, dim: F.normalize(x, p=p, dim=dim), 1, shapes=st.just(((3, 4),)),
             kwargs=st.fixed_dictionaries({"p": st.sampled_from([1.0, 2.0, 3.0]), "dim": st.sampled_from([0, 1, -1])}),
             avoid=[0.0], margin=0.1, max_examples=15)


def test_cosine_similarity_gradient():
    check_op(lambda a, b, dim: F.cosine_similarity(a, b, dim=dim), 2,
             shapes=broadcastable_shapes(2, min_dims=1),
             kwargs=lambda shapes: st.integers(-max(len(s) for s in shapes), max(len(s) for s in shapes) - 1).map(
                 lambda d: {"dim": d}), max_examples=20)


def test_pairwise_distance_gradient():
    check_op(lambda a, b, p, keepdim: F.pairwise_distance(a, b, p=p, keepdim=keepdim), 2,
             shapes=st.sampled_from([((3, 4), (3, 4)), ((4,), (4,)), ((2, 3), (3,))]),
             kwargs=st.fixed_dictionaries({"p": st.sampled_from([1.0, 2.0, 3.0, np.inf]), "keepdim": st.booleans()}),
             distinct=True, max_examples=20)


def test_embedding_gradient():
    """The true gradient, with repeated indices (padding_idx and scale_grad_by_freq change it on purpose, as in
    PyTorch: they are checked against PyTorch below)."""
    indices = np.array([[0, 2, 2], [3, 1, 2]])
    check_op(lambda w: F.embedding(indices, w), 1, shapes=st.integers(1, 4).map(lambda d: ((4, d),)),
             max_examples=10)


# -- values and gradients against PyTorch ------------------------------------------------------------------------------
def both(name, weighted=False, **options):
    """F.<name>(*inputs, **options) in either engine; `weighted`: the last input is passed as weight=."""
    def fn(engine, *inputs):
        extra = {"weight": inputs[-1]} if weighted else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kl_div's 'mean' warns in both engines
            return getattr(engine.nn.functional, name)(*inputs[:len(inputs) - len(extra)], **options, **extra)
    return fn


CASES = {
    "smooth_l1 beta 0.5": (both("smooth_l1_loss", beta=0.5), [X, Y]),
    "smooth_l1 beta 0, sum": (both("smooth_l1_loss", beta=0.0, reduction="sum"), [X, Y]),
    "huber delta 0.8, none": (both("huber_loss", delta=0.8, reduction="none"), [X, Y]),
    "huber weighted mean": (both("huber_loss", weighted=True, delta=0.8), [X, Y, np.abs(Y)]),
    "l1 weighted mean": (both("l1_loss", weighted=True), [X, Y, np.abs(X)]),
    "l1 weighted sum": (both("l1_loss", weighted=True, reduction="sum"), [X, Y, np.abs(X)]),
    "kl_div batchmean": (both("kl_div", reduction="batchmean"), [X, PROBABILITIES]),
    "kl_div mean, log target": (both("kl_div", log_target=True), [X, np.log(PROBABILITIES[::-1] + 0.01)]),
    "kl_div none": (both("kl_div", reduction="none"), [X, PROBABILITIES]),
    "normalize p=3 dim 0": (both("normalize", p=3.0, dim=0), [X]),
    "cosine_similarity broadcast": (both("cosine_similarity", dim=-1), [X[:, None], Y[None, :3]]),
    "pairwise_distance p=1.5": (both("pairwise_distance", p=1.5, keepdim=True), [X, Y]),
    "pairwise_distance p=inf": (both("pairwise_distance", p=np.inf), [X, Y]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_pytorch(torch, case, dtype):
    fn, arrays = CASES[case]
    check_function_against_torch(torch, fn, arrays, dtype)


@pytest.mark.parametrize("options", [{}, {"padding_idx": 1}, {"scale_grad_by_freq": True},
                                     {"max_norm": 1.0, "norm_type": 1.0, "padding_idx": -1}])
def test_embedding_matches_pytorch(torch, options):
    weights = rng.standard_normal((6, 3))
    indices = np.array([[1, 2, 2], [5, 0, 2]])
    theirs, ours = torch.tensor(weights, requires_grad=True), Tensor(weights.copy(), dtype=np.float64,
                                                                    requires_grad=True)
    out_t = torch.nn.functional.embedding(torch.tensor(indices), theirs, **options)
    out_o = F.embedding(indices, ours, **options)
    upstream = np.cos(np.arange(out_t.numel())).reshape(out_t.shape)
    (out_t * torch.tensor(upstream)).sum().backward()
    out_o.backward(upstream)
    np.testing.assert_allclose(out_o.numpy(), out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)  # max_norm renormalises in place


def test_kl_div_of_a_zero_target_counts_nothing(torch):
    """xlogy(0, 0) = 0: a zero target probability adds no loss and no input gradient, as in PyTorch."""
    target = PROBABILITIES.copy()
    target[0] = [0.0, 0.5, 0.5, 0.0, 0.0]
    theirs, ours = torch.tensor(X, requires_grad=True), Tensor(X, dtype=np.float64, requires_grad=True)
    loss_t = torch.nn.functional.kl_div(theirs, torch.tensor(target), reduction="sum")
    loss_o = F.kl_div(ours, target, reduction="sum")
    loss_t.backward()
    loss_o.backward()
    assert np.isfinite(loss_o.item()) and abs(loss_o.item() - loss_t.item()) < 1e-12
    np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), rtol=1e-12)


def test_one_hot_matches_pytorch(torch):
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(labels).numpy(), torch.nn.functional.one_hot(torch.tensor(labels)))
    out = F.one_hot(tg.tensor(labels), num_classes=6)
    assert out.dtype == np.int64 and out.shape == (2, 2, 6)


# -- modules and nn.Embedding ----------------------------------------------------------------------------------------
def test_modules_call_their_functions():
    x, y = Tensor(X), Tensor(Y)
    pairs = [(nn.SmoothL1Loss(reduction="sum", beta=0.3), F.smooth_l1_loss(x, y, reduction="sum", beta=0.3)),
             (nn.HuberLoss(delta=2.0), F.huber_loss(x, y, delta=2.0)),
             (nn.KLDivLoss(reduction="batchmean", log_target=True), F.kl_div(x, y, reduction="batchmean",
                                                                              log_target=True)),
             (nn.CosineSimilarity(dim=0), F.cosine_similarity(x, y, dim=0)),
             (nn.PairwiseDistance(p=1.0, keepdim=True), F.pairwise_distance(x, y, p=1.0, keepdim=True))]
    for module, expected in pairs:
        np.testing.assert_array_equal(module(x, y).numpy(), expected.numpy())


def test_embedding_module_options():
    tg.manual_seed(0)
    table = nn.Embedding(5, 3, padding_idx=-2)
    assert table.padding_idx == 3 and not table.weight.numpy()[3].any() and table.weight.numpy()[2].any()
    table(np.array([3, 3, 1])).sum().backward()
    grad = np.asarray(table.weight.grad)
    assert not grad[3].any() and (grad[1] == 1).all()
    pretrained = nn.Embedding.from_pretrained(np.arange(6.0).reshape(3, 2))
    assert not pretrained.weight.requires_grad and pretrained(np.array([2])).tolist() == [[4.0, 5.0]]
    assert nn.Embedding.from_pretrained(np.ones((3, 2)), freeze=False).weight.requires_grad


def test_errors_name_the_problem():
    x, y = Tensor(X), Tensor(Y)
    with pytest.raises(ValueError, match="delta must be > 0"):
        F.huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        F.smooth_l1_loss(x, y, beta=-1.0)
    with pytest.raises(ValueError, match=r"weight of shape \(5,\)"):
        F.l1_loss(x, y, weight=np.ones(5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.kl_div(x, y, reduction="batch")
    with pytest.raises(ValueError, match="sparse gradients are not supported"):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(ValueError, match="padding_idx 4 must be within"):
        F.embedding(np.array([0]), Tensor(np.ones((4, 2))), padding_idx=4)
