"""Losses: gradients against finite differences, values against their definitions, extremes."""

import math

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor
from tinygrad_np.testing import broadcastable_shapes, check_op

same_shapes = broadcastable_shapes(1, min_dims=1).map(lambda s: (s[0], s[0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_gradient(reduction):
    check_op(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction), 2,
             shapes=same_shapes, domain=[(-6, 6), (0, 1)])


def test_bce_with_logits_gradient_with_weights():
    def loss(x, y):
        weight = np.linspace(0.5, 2.0, x.numel()).reshape(x.shape)
        return F.binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=2.5)
    check_op(loss, 2, shapes=same_shapes, domain=[(-6, 6), (0, 1)])


def test_bce_with_logits_matches_definition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)) * 3, rng.integers(0, 2, (7, 3)).astype(float)
    w, pos = rng.uniform(0.5, 2, (7, 3)), rng.uniform(0.5, 3, 3)
    p = 1 / (1 + np.exp(-x))
    expected = -(pos * y * np.log(p) + (1 - y) * np.log(1 - p)) * w
    out = F.binary_cross_entropy_with_logits(Tensor(x, dtype=np.float64), y, weight=w, pos_weight=pos,
                                             reduction="none")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    mean = F.binary_cross_entropy_with_logits(Tensor(x, dtype=np.float64), y, weight=w, pos_weight=pos)
    assert math.isclose(mean.item(), expected.mean(), rel_tol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_extreme_logits(dtype):
    x = Tensor([1000.0, -1000.0, 1000.0, -1000.0, 0.0], dtype=dtype, requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="sum")
    # right answers: 0, 0, 1000 (confidently wrong), 1000, log 2
    assert math.isclose(loss.item(), 2000 + math.log(2), rel_tol=1e-6)
    loss.backward()
    # d/dx = sigmoid(x) - y: 0, 0, 1, -1, -0.5
    np.testing.assert_allclose(x.grad, [0, 0, 1, -1, -0.5], atol=1e-7)
    assert x.grad.dtype == dtype


def test_bce_with_logits_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.binary_cross_entropy_with_logits(Tensor(np.zeros((4, 1))), np.zeros(4))


def class_index_shapes():
    return st.tuples(st.integers(1, 5), st.integers(1, 5)).map(lambda s: ((s[0], s[1]),))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_gradient(label_smoothing):
    def loss(logits):
        indices = np.arange(logits.shape[0]) % logits.shape[1]
        return F.cross_entropy(logits, indices, label_smoothing=label_smoothing)
    check_op(loss, shapes=class_index_shapes(), domain=(-5, 5))


def test_cross_entropy_matches_definition():
    rng = np.random.default_rng(1)
    logits, target, eps = rng.normal(size=(6, 4)) * 4, rng.integers(0, 4, 6), 0.2
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    smoothed = np.full((6, 4), eps / 4) + (1 - eps) * np.eye(4)[target]
    expected = -(smoothed * log_p).sum(axis=1)
    out = F.cross_entropy(Tensor(logits, dtype=np.float64), target, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def _smoothed_cross_entropy_by_hand(logits, target, weight, eps, ignore_index=-100):
    """Per-row loss and the mean's denominator, from the smoothed target distribution q = (1 - eps) one_hot + eps / C
    weighted per class: loss = -sum_c w_c q_c log p_c; the mean divides by the summed w of the kept rows' targets."""
    n, c = logits.shape
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    losses, denominator = np.zeros(n), 0.0
    for i in range(n):
        if target[i] == ignore_index:
            continue
        q = np.full(c, eps / c)
        q[target[i]] += 1 - eps
        losses[i] = -(weight * q * log_p[i]).sum()
        denominator += weight[target[i]]
    return losses, denominator


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_with_smoothing_weights_and_ignore_index_matches_definition(reduction):
    rng = np.random.default_rng(2)
    logits, target, eps = rng.normal(size=(7, 4)) * 3, np.array([0, 3, -100, 1, 1, 2, -100]), 0.3
    weight = np.array([0.5, 1.0, 2.0, 1.5])
    losses, denominator = _smoothed_cross_entropy_by_hand(logits, target, weight, eps)
    expected = {"none": losses, "sum": losses.sum(), "mean": losses.sum() / denominator}[reduction]
    out = F.cross_entropy(Tensor(logits, dtype=np.float64), target, weight, label_smoothing=eps, reduction=reduction)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    unweighted = F.cross_entropy(Tensor(logits, dtype=np.float64), target, label_smoothing=eps, reduction=reduction)
    losses, denominator = _smoothed_cross_entropy_by_hand(logits, target, np.ones(4), eps)
    expected = {"none": losses, "sum": losses.sum(), "mean": losses.sum() / denominator}[reduction]
    np.testing.assert_allclose(unweighted.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_with_smoothing_weights_and_ignore_index_gradient(reduction):
    labels = np.array([0, 2, -100, 1, 2])
    weight = np.array([0.5, 1.0, 2.0])
    check_op(lambda x: F.cross_entropy(x, labels, weight, label_smoothing=0.25, reduction=reduction),
             shapes=st.just(((5, 3),)), domain=(-5, 5))
    spatial = np.array([[0, 2, 1, -100], [1, 1, 0, 2]])  # (N, d) targets of (N, C, d) logits
    check_op(lambda x: F.cross_entropy(x, spatial, weight, label_smoothing=0.25, reduction=reduction),
             shapes=st.just(((2, 3, 4),)), domain=(-5, 5))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = Tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(logits, [1])
    assert math.isclose(loss.item(), 2000.0, rel_tol=1e-6)
    loss.backward()
    np.testing.assert_allclose(logits.grad, [[1, -1, 0]], atol=1e-6)


def test_cross_entropy_spatial_and_errors():
    logits = Tensor(np.zeros((2, 3, 5)))
    assert F.cross_entropy(logits, np.zeros((2, 5), dtype=int), reduction="none").shape == (2, 5)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(logits, np.full((2, 5), 3))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(logits, np.zeros(2, dtype=int))
    with pytest.raises(RuntimeError, match="class-probability targets must have the logits' shape"):
        F.cross_entropy(logits, np.zeros((2, 5)))  # a floating target holds class probabilities


@pytest.mark.parametrize("loss_fn", [F.mse_loss, F.l1_loss])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(loss_fn, reduction):
    check_op(lambda x, y: loss_fn(x, y, reduction=reduction), 2, shapes=same_shapes, distinct=True)


def test_regression_loss_values():
    x, y = np.array([1.0, -2.0, 3.0]), np.array([0.5, 1.0, 3.0])
    assert math.isclose(F.mse_loss(Tensor(x, dtype=np.float64), y).item(), (0.25 + 9) / 3)
    assert math.isclose(F.l1_loss(Tensor(x, dtype=np.float64), y, reduction="sum").item(), 3.5)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(Tensor(x), y, reduction="avg")
