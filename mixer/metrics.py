"""Classification metrics computed from labels and scores with numpy (no scikit-learn needed)."""

from __future__ import annotations

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
