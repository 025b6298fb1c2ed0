"""Loss functions with PyTorch's names, arguments and reductions."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Tensor, _pair
from .ops import fused

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
    array = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=like.dtype)
    try:
        np.broadcast_shapes(array.shape, like.shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {array.shape} does not broadcast to "
                         f"input shape {like.shape}") from None
    return array


def _target(input: Tensor, target: Any, op: str) -> Tensor:  # noqa: A002 - PyTorch's name
    """The target as a tensor of the input's dtype and shape."""
    target = _pair(input, target)[1] if isinstance(target, Tensor) else Tensor(target, dtype=input.dtype)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    if input.shape != target.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")
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


def _class_weight(weight: Any, input: Tensor, op: str) -> np.ndarray:  # noqa: A002 - PyTorch's name
    """The (C,) class weights as an array of the input's dtype (ones when `weight` is None)."""
    n_classes = input.shape[1]
    if weight is None:
        return np.ones(n_classes, dtype=input.dtype)
    class_weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=input.dtype)
    if class_weight.shape != (n_classes,):
        raise ValueError(f"{op}: weight must have shape ({n_classes},), got {class_weight.shape}")
    return class_weight


def nll_loss(input: Tensor, target: Any, weight: Any = None, *, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of class indices `target` (N,) (or (N, d...)) under log-probabilities `input`
    (N, C) (or (N, C, d...)). `weight` (C,) weighs each class (the mean is then divided by the summed weights, as in
    PyTorch); targets equal to `ignore_index` count for nothing."""
    op = "nll_loss"
    indices = np.asarray(target.data if isinstance(target, Tensor) else target)
    if input.ndim < 2 or indices.shape != (input.shape[0], *input.shape[2:]):
        expected = (input.shape[0], *input.shape[2:]) if input.ndim >= 2 else "(N,)"
        raise ValueError(f"{op}: input of shape {input.shape} needs class indices of shape {expected}, got "
                         f"{indices.shape}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: class indices must be integers (a long tensor), got {indices.dtype}")
    n_classes = input.shape[1]
    kept = indices != ignore_index
    picked = np.where(kept, indices, 0)
    if picked.size and (picked.min() < 0 or picked.max() >= n_classes):
        raise ValueError(f"{op}: class indices must be in [0, {n_classes}) or ignore_index {ignore_index}, got "
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
    """Softmax cross-entropy of (N, C) logits (or (N, C, d...)) against class indices (N,) (or (N, d...)), through a
    max-shifted log_softmax; `weight` and `ignore_index` as in `nll_loss`.

    Label smoothing e is PyTorch's definition: the target is (1 - e) * one_hot + e / C (the one-hot mixed with the
    uniform distribution over the C classes), so each row's loss is (1 - e) * w[y] * -log p[y] + e / C * sum_c w[c] *
    -log p[c], with class weights w (all 1 without `weight`); rows whose target is `ignore_index` count for nothing,
    and the mean divides both terms by the summed w[y] of the rows kept (their number without `weight`)."""
    op = "cross_entropy"
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim < 2:
        raise ValueError(f"{op}: logits of shape {input.shape} need a class dim (N, C)")
    log_probs = input.log_softmax(dim=1)
    if not label_smoothing:
        return nll_loss(log_probs, target, weight, ignore_index=ignore_index, reduction=reduction)
    nll = nll_loss(log_probs, target, weight, ignore_index=ignore_index, reduction="none")  # checks the target
    indices = np.asarray(target.data if isinstance(target, Tensor) else target)
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


def mse_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:  # noqa: A002
    difference = input - _target(input, target, "mse_loss")
    return _reduce(difference * difference, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:  # noqa: A002
    return _reduce((input - _target(input, target, "l1_loss")).abs(), reduction, "l1_loss")
