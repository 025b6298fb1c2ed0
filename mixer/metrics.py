"""Classification metrics computed from labels and scores with numpy (no scikit-learn needed): accuracy, F1,
ROC-AUC, the confusion matrix, calibration (expected calibration error, reliability curve) and the decision
threshold chosen on holdout rows."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative),
    ties counting half (Mann-Whitney U with average ranks). NaN when only one class is present."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes on the rows and predicted classes on the columns."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (attack = positive) and ROC-AUC."""
    labels = np.asarray(labels).astype(np.int64)
    predicted = (np.asarray(probabilities) >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, 2)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {"accuracy": _ratio(tp + tn, len(labels)), "precision": precision, "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall), "roc_auc": roc_auc(labels, probabilities)}


def multiclass_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1 over the classes present, and one-vs-rest macro ROC-AUC."""
    labels = np.asarray(labels).astype(np.int64)
    num_classes = probabilities.shape[1]
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), num_classes)
    present = matrix.sum(axis=1) > 0
    tp = np.diag(matrix).astype(float)
    precision = np.array([_ratio(t, s) for t, s in zip(tp, matrix.sum(axis=0), strict=True)])
    recall = np.array([_ratio(t, s) for t, s in zip(tp, matrix.sum(axis=1), strict=True)])
    f1 = np.array([_ratio(2 * p * r, p + r) for p, r in zip(precision, recall, strict=True)])
    aucs = [roc_auc(labels == k, probabilities[:, k]) for k in range(num_classes) if present[k]]
    return {"accuracy": _ratio(tp.sum(), len(labels)), "precision": float(precision[present].mean()),
            "recall": float(recall[present].mean()), "f1": float(f1[present].mean()),
            "roc_auc": float(np.nanmean(aucs)) if aucs else float("nan")}


# -- calibration -------------------------------------------------------------------------------------------------
class ReliabilityCurve(NamedTuple):
    """Per equal-width bin of P(attack): its edges (bins + 1), the mean probability and the fraction of attacks
    among the rows in it (NaN for an empty bin), and how many rows fell in it."""

    edges: np.ndarray
    mean_probability: np.ndarray
    fraction_positive: np.ndarray
    count: np.ndarray


def _binary_pair(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0/1) and probabilities (in [0, 1]) as 1-D arrays of one length; anything else is a ValueError."""
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=np.float64)
    if labels.ndim != 1 or probabilities.ndim != 1 or len(labels) != len(probabilities):
        raise ValueError(f"labels and probabilities must be 1-D arrays of one length (binary: P(attack) per row), not "
                         f"shapes {labels.shape} and {probabilities.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not ((probabilities >= 0) & (probabilities <= 1)).all():
        raise ValueError("probabilities must lie in [0, 1]")
    return labels.astype(np.int64), probabilities


def reliability_curve(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> ReliabilityCurve:
    """The reliability diagram's points: the rows grouped into `bins` equal-width bins of P(attack) over [0, 1]
    (bin k holds k/bins <= p < (k+1)/bins, the last one also p = 1, as scikit-learn's `calibration_curve`), and per
    bin the mean probability, the fraction of attacks and the count. A calibrated model has the two equal."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, not {bins}")
    labels, probabilities = _binary_pair(labels, probabilities)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], probabilities, side="right")
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_probability = np.bincount(which, weights=probabilities, minlength=bins) / count
        fraction_positive = np.bincount(which, weights=labels, minlength=bins) / count
    return ReliabilityCurve(edges, mean_probability, fraction_positive, count)


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of binary probabilities: over the equal-width bins of `reliability_curve`,
    sum_k (n_k / N) |mean label in bin k - mean P(attack) in bin k|, empty bins contributing nothing. 0 for a
    calibrated model; it measures how far the probabilities are from the attack rates they claim, which accuracy
    and ROC-AUC do not see. NaN without rows."""
    curve = reliability_curve(labels, probabilities, bins)
    total = curve.count.sum()
    if total == 0:
        return float("nan")
    filled = curve.count > 0
    gaps = np.abs(curve.fraction_positive[filled] - curve.mean_probability[filled])
    return float(np.sum(curve.count[filled] / total * gaps))


# -- the decision threshold --------------------------------------------------------------------------------------
THRESHOLD_CRITERIA = ("accuracy", "f1")


def best_threshold(labels: np.ndarray, probabilities: np.ndarray, criterion: str) -> float:
    """The decision threshold t (attack when P(attack) >= t) that maximises `criterion` (accuracy or F1, attack =
    positive) on these rows. The candidates are the midpoints between consecutive distinct probabilities, and 0.5;
    of the candidates with the best score the one closest to 0.5 wins (the lower one if two are equally close), so
    the threshold leaves 0.5 only for a real gain. Meant for holdout rows: a threshold chosen on the rows it is then
    scored on is tuned to them."""
    if criterion not in THRESHOLD_CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(THRESHOLD_CRITERIA)}, not {criterion!r}")
    labels, probabilities = _binary_pair(labels, probabilities)
    if len(labels) == 0:
        raise ValueError("best_threshold needs at least one row")
    distinct = np.unique(probabilities)
    candidates = np.unique(np.append((distinct[:-1] + distinct[1:]) / 2, 0.5))
    positives = np.sort(probabilities[labels == 1])
    negatives = np.sort(probabilities[labels == 0])
    tp = len(positives) - np.searchsorted(positives, candidates, side="left")  # attacks at or above t
    fp = len(negatives) - np.searchsorted(negatives, candidates, side="left")
    fn, tn = len(positives) - tp, len(negatives) - fp
    if criterion == "accuracy":
        score = (tp + tn).astype(np.float64)  # integer counts: ties are exact
    else:
        denominator = 2 * tp + fp + fn  # F1 = 2TP / (2TP + FP + FN); division of integers rounds ties alike
        score = np.divide(2 * tp, denominator, out=np.zeros(len(candidates)), where=denominator > 0)
    best = np.flatnonzero(score == score.max())
    distance = np.abs(candidates[best] - 0.5)
    return float(candidates[best[np.flatnonzero(distance == distance.min())[0]]])
