"""Label-free prior adaptation: re-weight a classifier's probabilities to the class prior of the rows being scored,
estimated from those probabilities alone (Saerens, Latinne & Decaestecker 2002, "Adjusting the Outputs of a
Classifier to New a Priori Probabilities: A Simple Procedure", Neural Computation 14(1)).

A model's probability p(y|x) holds the training rows' prior q(y). On rows with another prior r(y) (the test file of
UNSW-NB15 holds 67% attacks, its training file 56%), Bayes' rule gives p_r(y|x) proportional to r(y) / q(y) p(y|x).
r is unknown, and EM estimates it without a label: starting from r = q, the E-step re-weights every row's
probabilities with r / q, the M-step sets r to the mean of the re-weighted probabilities; repeated until r stops
moving. The fixed point is the maximum-likelihood prior of the scored rows under the model: a good estimate for
calibrated probabilities; probabilities that say little about the class (a model barely trained) let it run to a
boundary (0 or 1), as any maximum-likelihood estimate of a mixture weight can. ROC-AUC does not change (one
monotone map for every row); accuracy and calibration do, and a decision threshold applies to the re-weighted
probabilities as to the original ones.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PRIOR_ADAPTATIONS = ("none", "em")


class PriorShift(NamedTuple):
    """The re-weighted probabilities (the shape given: (N,) P(attack) or (N, C)), the estimated prior of the scored
    rows and the training prior (both (C,)), and the EM iterations taken."""

    probabilities: np.ndarray
    prior: np.ndarray
    training_prior: np.ndarray
    iterations: int


def _columns(probabilities: np.ndarray) -> np.ndarray:
    """(N,) P(class 1) -> (N, 2); (N, C) as float64."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1:
        return np.stack([1 - probabilities, probabilities], axis=1)
    if probabilities.ndim != 2:
        raise ValueError(f"prior adaptation: probabilities must be (N,) or (N, classes), got shape "
                         f"{probabilities.shape}")
    return probabilities


def class_prior(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The class frequencies of `labels` (integer classes 0..num_classes-1): a training prior."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    return counts / counts.sum()


def reweight(probabilities: np.ndarray, training_prior: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Probabilities under `training_prior` re-weighted to `prior` (Bayes' rule), in the shape given."""
    columns = _columns(probabilities)
    weighted = columns * (np.asarray(prior, np.float64) / np.asarray(training_prior, np.float64))
    weighted /= np.maximum(weighted.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    return weighted[:, 1] if np.ndim(probabilities) == 1 else weighted


def em_prior_shift(probabilities: np.ndarray, training_prior: np.ndarray | float, tolerance: float = 1e-10,
                   max_iterations: int = 10_000) -> PriorShift:
    """Saerens et al.'s EM: the prior of the scored rows estimated from their probabilities alone (no label is an
    argument), and the probabilities re-weighted to it. `training_prior`: (C,) class frequencies of the training
    rows, or for binary probabilities the training attack rate. Stops when no class's prior moves by more than
    `tolerance` in an iteration."""
    columns = _columns(probabilities)
    if np.ndim(training_prior) == 0:
        training_prior = np.array([1 - float(training_prior), float(training_prior)])
    training_prior = np.asarray(training_prior, dtype=np.float64)
    if training_prior.shape != (columns.shape[1],) or not np.all(training_prior > 0) or \
            not np.isclose(training_prior.sum(), 1.0):
        raise ValueError(f"prior adaptation: the training prior {training_prior.tolist()} must hold one positive "
                         f"frequency per class ({columns.shape[1]}), adding up to 1")
    if len(columns) == 0:
        raise ValueError("prior adaptation: no rows to estimate a prior from")
    prior, iterations, moved = training_prior.copy(), 0, np.inf
    while moved > tolerance and iterations < max_iterations:
        updated = reweight(columns, training_prior, prior).mean(axis=0)
        moved = np.abs(updated - prior).max()
        prior, iterations = updated, iterations + 1
    adapted = reweight(columns, training_prior, prior)
    return PriorShift(adapted[:, 1] if np.ndim(probabilities) == 1 else adapted, prior, training_prior, iterations)
