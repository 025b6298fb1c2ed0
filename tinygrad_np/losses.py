"""Loss functions with PyTorch's names, arguments and reductions."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .engine import Tensor, _pair
from .errors import ArgumentValueError, IndexOutOfRange, ShapeError, UnsupportedDtype
from .ops import fused, nn

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _constant(value: Any, like: Tensor, name: str, op: str) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value._data if isinstance(value, Tensor) else value, dtype=like.dtype)
    try:
        np.broadcast_shapes(array.shape, like.shape)
    except ValueError:
        raise ShapeError(f"{op}: {name} of shape {array.shape} does not broadcast to "
                         f"input shape {like.shape}") from None
    return array


def _target(input: Tensor, target: Any, op: str) -> Tensor:  # noqa: A002 - PyTorch's name
    """The target as a tensor of the input's dtype and shape."""
    target = _pair(input, target)[1] if isinstance(target, Tensor) else Tensor(target, dtype=input.dtype)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    if input.shape != target.shape:
        raise ShapeError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")
    return target


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None, *,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable fused op (finite for logits of +-1000). `pos_weight` scales the
    positive term (e.g. n_negative / n_positive); `weight` each element. Targets may be soft (floats in [0, 1])."""
    op = "binary_cross_entropy_with_logits"
    input = input._floating()
    loss = fused.BinaryCrossEntropyWithLogits.apply(input, _target(input, target, op),
                                                 weight=_constant(weight, input, "weight", op),
                                                 pos_weight=_constant(pos_weight, input, "pos_weight", op))
    return _reduce(loss, reduction, op)


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, *,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities `input` (in [0, 1]) against targets of the same shape (soft targets
    allowed): -weight * [y log p + (1 - y) log(1 - p)], each log clamped at -100 as PyTorch clamps it. Prefer
    `binary_cross_entropy_with_logits` on logits: it is stable where this one saturates."""
    op = "binary_cross_entropy"
    input = input._floating()
    target = _target(input, target, op)
    values = input.numpy()
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise ArgumentValueError(f"{op}: all elements of input should be between 0 and 1")
    loss = nn.BinaryCrossEntropy.apply(input, target, weight=_constant(weight, input, "weight", op))
    return _reduce(loss, reduction, op)


def _class_weight(weight: Any, input: Tensor, op: str) -> np.ndarray:  # noqa: A002 - PyTorch's name
    """The (C,) class weights as an array of the input's dtype (ones when `weight` is None)."""
    n_classes = input.shape[1]
    if weight is None:
        return np.ones(n_classes, dtype=input.dtype)
    class_weight = np.asarray(weight._data if isinstance(weight, Tensor) else weight, dtype=input.dtype)
    if class_weight.shape != (n_classes,):
        raise ShapeError(f"{op}: weight must have shape ({n_classes},), got {class_weight.shape}")
    return class_weight


def nll_loss(input: Tensor, target: Any, weight: Any = None, *, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of class indices `target` (N,) (or (N, d...)) under log-probabilities `input`
    (N, C) (or (N, C, d...)). `weight` (C,) weighs each class (the mean is then divided by the summed weights, as in
    PyTorch); targets equal to `ignore_index` count for nothing."""
    op = "nll_loss"
    indices = np.asarray(target._data if isinstance(target, Tensor) else target)
    if input.ndim < 2 or indices.shape != (input.shape[0], *input.shape[2:]):
        expected = (input.shape[0], *input.shape[2:]) if input.ndim >= 2 else "(N,)"
        raise ShapeError(f"{op}: input of shape {input.shape} needs class indices of shape {expected}, got "
                         f"{indices.shape}")
    if indices.dtype.kind not in "iu":
        raise UnsupportedDtype(f"{op}: class indices must be integers (a long tensor), got {indices.dtype}")
    n_classes = input.shape[1]
    kept = indices != ignore_index
    picked = np.where(kept, indices, 0)
    if picked.size and (picked.min() < 0 or picked.max() >= n_classes):
        raise IndexOutOfRange(f"{op}: class indices must be in [0, {n_classes}) or ignore_index {ignore_index}, got "
                         f"values from {indices.min()} to {indices.max()}")
    if weight is None and kept.all():
        return _reduce(-input.take_along_dim(np.expand_dims(picked, 1), 1).squeeze(1), reduction, op)
    row_weight = _class_weight(weight, input, op)[picked] * kept
    loss = -input.take_along_dim(np.expand_dims(picked, 1), 1).squeeze(1) * row_weight
    if reduction == "mean":
        return loss.sum() / loss.dtype.type(row_weight.sum())
    return _reduce(loss, reduction, op)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, *, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of (N, C) logits (or (N, C, d...), or unbatched (C,)) against class indices (N,) (or
    (N, d...)) or against class probabilities of the logits' shape (a floating target), through a max-shifted
    log_softmax; `weight` and `ignore_index` as in `nll_loss` (ignore_index only with class indices).

    Label smoothing e is PyTorch's definition: the target is (1 - e) * one_hot + e / C (the one-hot mixed with the
    uniform distribution over the C classes), so each row's loss is (1 - e) * w[y] * -log p[y] + e / C * sum_c w[c] *
    -log p[c], with class weights w (all 1 without `weight`); rows whose target is `ignore_index` count for nothing,
    and the mean divides both terms by the summed w[y] of the rows kept (their number without `weight`)."""
    op = "cross_entropy"
    if not 0 <= label_smoothing <= 1:
        raise ArgumentValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ShapeError(f"{op}: logits of shape {input.shape} need a class dim (N, C) or (C,)")
    target_dtype = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if input.ndim == 1:  # unbatched: (C,) logits with a 0-d class index or (C,) probabilities
        target = target.unsqueeze(0) if isinstance(target, Tensor) else np.expand_dims(np.asarray(target), 0)
        loss = cross_entropy(input.unsqueeze(0), target, weight, ignore_index=ignore_index, reduction=reduction,
                             label_smoothing=label_smoothing)
        return loss.squeeze(0) if reduction == "none" else loss
    log_probs = input.log_softmax(dim=1)
    if target_dtype.kind == "f":
        return _cross_entropy_probabilities(log_probs, target, weight, reduction, label_smoothing)
    if not label_smoothing:
        return nll_loss(log_probs, target, weight, ignore_index=ignore_index, reduction=reduction)
    nll = nll_loss(log_probs, target, weight, ignore_index=ignore_index, reduction="none")  # checks the target
    indices = np.asarray(target._data if isinstance(target, Tensor) else target)
    kept = indices != ignore_index
    n_classes = input.shape[1]
    if weight is None:
        smooth = -log_probs.sum(dim=1)
        normaliser = kept.sum()
    else:
        class_weight = _class_weight(weight, input, op)
        smooth = -(log_probs * class_weight.reshape((1, n_classes) + (1,) * (input.ndim - 2))).sum(dim=1)
        normaliser = class_weight[np.where(kept, indices, 0)][kept].sum()
    loss = (1 - label_smoothing) * nll + (label_smoothing / n_classes) * (smooth * kept.astype(input.dtype))
    if reduction == "mean":
        return loss.sum() / loss.dtype.type(normaliser)
    return _reduce(loss, reduction, op)


def _cross_entropy_probabilities(log_probs: Tensor, target: Any, weight: Any, reduction: str,
                                 label_smoothing: float) -> Tensor:
    """-sum_c weight[c] * target[c] * log p[c] per sample for class-probability targets of the logits' shape (mixed
    with the uniform distribution by label smoothing); the mean is over the samples (PyTorch's rule)."""
    op = "cross_entropy"
    probs = _pair(log_probs, target)[1] if isinstance(target, Tensor) else Tensor(target, dtype=log_probs.dtype)
    if probs.shape != log_probs.shape:
        raise ShapeError(f"{op}: class-probability targets must have the logits' shape {log_probs.shape}, got "
                         f"{probs.shape} (class indices must be an integer tensor)")
    n_classes = log_probs.shape[1]
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
    terms = log_probs * probs
    if weight is not None:
        class_weight = _class_weight(weight, log_probs, op)
        terms = terms * class_weight.reshape((1, n_classes) + (1,) * (log_probs.ndim - 2))
    loss = -terms.sum(dim=1)
    return _reduce(loss, reduction, op)


def mse_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:  # noqa: A002
    difference = input - _target(input, target, "mse_loss")
    return _reduce(difference * difference, reduction, "mse_loss")


def _weight(weight: Any, input: Tensor, op: str) -> Tensor | None:  # noqa: A002
    """Per-element weights of the input's shape (PyTorch requires the same size), as a tensor of its dtype."""
    if weight is None:
        return None
    weight = weight if isinstance(weight, Tensor) else Tensor(weight, dtype=input.dtype)
    if weight.shape != input.shape:
        raise ValueError(f"{op}: weight of shape {weight.shape} must have the input's shape {input.shape}")
    return weight


def l1_loss(input: Tensor, target: Any, *, reduction: str = "mean", weight: Any = None) -> Tensor:  # noqa: A002
    """|input - target|; with per-element `weight`, the mean is the weighted sum over the summed weights (PyTorch's
    definition)."""
    loss = (input - _target(input, target, "l1_loss")).abs()
    weight = _weight(weight, input, "l1_loss")
    if weight is None:
        return _reduce(loss, reduction, "l1_loss")
    if reduction == "mean":
        return (loss * weight).sum() / weight.sum()
    return _reduce(loss * weight, reduction, "l1_loss")


def _piecewise(difference: Tensor, threshold: float) -> Tensor:
    """0.5 d^2 where |d| < threshold, threshold * (|d| - threshold / 2) elsewhere: the Huber loss of d."""
    magnitude = difference.abs()
    inside = magnitude.numpy() < threshold
    return (0.5 * difference * difference).where(inside, threshold * (magnitude - 0.5 * threshold))


def smooth_l1_loss(input: Tensor, target: Any, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:  # noqa: A002
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (d = input - target): quadratic near zero, L1
    beyond; beta = 0 is the L1 loss (Girshick 2015's Fast R-CNN loss; PyTorch's definition)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    difference = input - _target(input, target, "smooth_l1_loss")
    loss = difference.abs() if beta == 0 else _piecewise(difference, beta) * (1 / beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Any, *, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight: Any = None) -> Tensor:
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere (Huber 1964): delta times smooth_l1_loss with
    beta = delta. Per-element `weight` multiplies the loss before the reduction (the mean stays a plain mean, as in
    PyTorch)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    loss = _piecewise(input - _target(input, target, "huber_loss"), delta)
    weight = _weight(weight, input, "huber_loss")
    return _reduce(loss if weight is None else loss * weight, reduction, "huber_loss")


def kl_div(input: Tensor, target: Any, *, reduction: str = "mean", log_target: bool = False) -> Tensor:  # noqa: A002
    """The Kullback-Leibler divergence KL(target || q) with `input` = log q: pointwise target * (log target - input)
    (0 where target is 0), or exp(target) * (target - input) with `log_target`. reduction "batchmean" divides the
    sum by the batch size (the divergence per sample); "mean", PyTorch's default, divides by every element (with
    PyTorch's warning)."""
    op = "kl_div"
    target = _target(input, target, op)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target.numpy() > 0
        safe = target.where(positive, 1.0)  # log only where target > 0: xlogy(0, 0) = 0 with no NaN gradient
        loss = (target * safe.log()).where(positive, 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / loss.dtype.type(input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    return _reduce(loss, reduction, op)
