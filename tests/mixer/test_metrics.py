"""Calibration and the decision threshold (mixer.metrics): the expected calibration error and the reliability curve
against a hand-worked example, a plain loop and scikit-learn; `best_threshold` against a brute force in exact
fractions."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixer.metrics import best_threshold, binary_metrics, expected_calibration_error, reliability_curve


# -- calibration -------------------------------------------------------------------------------------------------
def test_ece_of_a_hand_worked_example():
    """Four bins of width 0.25. Bin [0, 0.25): p 0.1, 0.2 (mean 0.15), labels 0, 1 (0.5): gap 0.35, weight 2/6.
    Bin [0.5, 0.75): p 0.6 (0.6), label 1: gap 0.4, weight 1/6. Bin [0.75, 1]: p 0.8, 0.9, 1.0 (0.9), labels 1, 1, 0
    (2/3): gap 0.9 - 2/3, weight 3/6. ECE = (2 * 0.35 + 0.4 + 3 * (0.9 - 2/3)) / 6 = 0.3 exactly."""
    labels = np.array([0, 1, 1, 1, 1, 0])
    probabilities = np.array([0.1, 0.2, 0.6, 0.8, 0.9, 1.0])
    assert expected_calibration_error(labels, probabilities, bins=4) == pytest.approx(0.3, abs=1e-12)
    curve = reliability_curve(labels, probabilities, bins=4)
    np.testing.assert_array_equal(curve.count, [2, 0, 1, 3])
    np.testing.assert_allclose(curve.mean_probability[[0, 2, 3]], [0.15, 0.6, 0.9])
    np.testing.assert_allclose(curve.fraction_positive[[0, 2, 3]], [0.5, 1.0, 2 / 3])
    assert np.isnan(curve.mean_probability[1]) and np.isnan(curve.fraction_positive[1])
    np.testing.assert_allclose(curve.edges, [0, 0.25, 0.5, 0.75, 1])


def test_ece_is_zero_when_every_bin_is_right_and_large_when_confidently_wrong():
    labels = np.array([0, 0, 0, 1] * 5 + [1] * 10)  # 25% attacks where p = 0.25, all attacks where p = 1
    probabilities = np.array([0.25] * 20 + [1.0] * 10)
    assert expected_calibration_error(labels, probabilities, bins=10) == pytest.approx(0.0, abs=1e-15)
    assert expected_calibration_error(1 - labels, probabilities, bins=10) == pytest.approx((20 * 0.5 + 10) / 30)


def ece_by_loop(labels, probabilities, bins):
    """The definition, one row at a time."""
    total, n = 0.0, len(labels)
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = [(y, p) for y, p in zip(labels, probabilities, strict=True)
                  if low <= p < high or (k == bins - 1 and p == 1.0)]
        if inside:
            mean_label = sum(y for y, _ in inside) / len(inside)
            mean_p = sum(p for _, p in inside) / len(inside)
            total += len(inside) / n * abs(mean_label - mean_p)
    return total


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), bins=st.integers(1, 20), seed=st.integers(0, 2**31 - 1))
def test_ece_matches_a_loop_over_the_rows(n, bins, seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.random(n)
    probabilities[rng.random(n) < 0.1] = 1.0  # the closed right end
    labels = (rng.random(n) < probabilities ** 2).astype(int)
    assert expected_calibration_error(labels, probabilities, bins) == pytest.approx(
        ece_by_loop(labels, probabilities, bins), abs=1e-12)


def test_reliability_curve_matches_scikit_learn():
    calibration = pytest.importorskip("sklearn.calibration")
    rng = np.random.default_rng(0)
    probabilities = rng.beta(0.5, 0.5, 2000)
    labels = (rng.random(2000) < probabilities).astype(int)
    curve = reliability_curve(labels, probabilities, bins=15)
    fraction, mean = calibration.calibration_curve(labels, probabilities, n_bins=15, strategy="uniform")
    filled = curve.count > 0
    np.testing.assert_allclose(curve.fraction_positive[filled], fraction, rtol=1e-12)
    np.testing.assert_allclose(curve.mean_probability[filled], mean, rtol=1e-12)
    assert curve.count.sum() == 2000


@pytest.mark.parametrize(("labels", "probabilities", "message"), [
    ([0, 1], [0.2, 1.2], r"\[0, 1\]"), ([0, 2], [0.2, 0.3], "0 or 1"), ([0, 1, 1], [0.2, 0.3], "one length"),
    ([[0, 1]], [[0.2, 0.3]], "1-D")])
def test_calibration_refuses_what_is_not_binary_probabilities(labels, probabilities, message):
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(np.array(labels), np.array(probabilities))


# -- the decision threshold --------------------------------------------------------------------------------------
def brute_force_threshold(labels, probabilities, criterion):
    """Every candidate scored with exact fractions; the best, closest to 0.5, lower first."""
    distinct = sorted(set(probabilities.tolist()))
    candidates = sorted({(a + b) / 2 for a, b in zip(distinct, distinct[1:], strict=False)} | {0.5})

    def score(t):
        predicted = [p >= t for p in probabilities]
        tp = sum(1 for y, q in zip(labels, predicted, strict=True) if y == 1 and q)
        fp = sum(1 for y, q in zip(labels, predicted, strict=True) if y == 0 and q)
        fn = sum(1 for y, q in zip(labels, predicted, strict=True) if y == 1 and not q)
        if criterion == "accuracy":
            return Fraction(sum(1 for y, q in zip(labels, predicted, strict=True) if y == int(q)), len(labels))
        return Fraction(2 * tp, 2 * tp + fp + fn) if tp + fp + fn else Fraction(0)

    scores = {t: score(t) for t in candidates}
    best = max(scores.values())
    return min((t for t in candidates if scores[t] == best), key=lambda t: (abs(t - 0.5), t))


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 40), levels=st.integers(2, 12), seed=st.integers(0, 2**31 - 1),
       criterion=st.sampled_from(["accuracy", "f1"]))
def test_best_threshold_matches_brute_force(n, levels, seed, criterion):
    """Probabilities on a coarse grid (many ties, candidates equally far from 0.5) and skewed labels."""
    rng = np.random.default_rng(seed)
    probabilities = rng.integers(0, levels + 1, n) / levels
    labels = (rng.random(n) < rng.random()).astype(int)
    expected = brute_force_threshold(labels, probabilities, criterion)
    assert best_threshold(labels, probabilities, criterion) == expected


def test_best_threshold_reaches_the_best_score_and_beats_half_when_the_scores_are_shifted():
    rng = np.random.default_rng(1)
    labels = (rng.random(500) < 0.6).astype(int)
    probabilities = np.clip(0.25 + 0.3 * labels + rng.normal(0, 0.1, 500), 0, 1)  # attacks centred on 0.55
    threshold = best_threshold(labels, probabilities, "accuracy")
    at_threshold = binary_metrics(labels, probabilities, threshold)["accuracy"]
    assert 0.3 < threshold < 0.5 and at_threshold > binary_metrics(labels, probabilities)["accuracy"] + 0.05
    grid = np.linspace(0, 1, 1001)
    assert at_threshold >= max(binary_metrics(labels, probabilities, t)["accuracy"] for t in grid)


def test_best_threshold_keeps_half_when_nothing_beats_it_and_refuses_unknown_criteria():
    labels, probabilities = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    assert best_threshold(labels, probabilities, "accuracy") == 0.5  # 0.5 and the midpoint 0.5 both separate
    assert best_threshold(np.array([1, 1]), np.array([0.7, 0.7]), "f1") == 0.5  # a single candidate
    # candidates 0.375, 0.5, 0.625: accuracy 3/4, 2/4, 3/4; the two best are equally close to 0.5, the lower wins
    assert best_threshold(np.array([0, 1, 0, 1]), np.array([0.3, 0.45, 0.55, 0.7]), "accuracy") == 0.375
    with pytest.raises(ValueError, match="accuracy, f1"):
        best_threshold(labels, probabilities, "recall")
    with pytest.raises(ValueError, match="at least one row"):
        best_threshold(np.array([], dtype=int), np.array([]), "f1")
