"""Loss functions with PyTorch's names and reductions."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import functional as F
from .engine import Tensor, as_tensor
from .ops import nn

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


def _check_same_shape(input: Tensor, target: Tensor, op: str) -> None:  # noqa: A002 - PyTorch's name
    if input.shape != target.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} differ")


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, weight: Any = None, pos_weight: Any = None,
                                     reduction: str = "mean") -> Tensor:
    """Sigmoid + binary cross-entropy in one stable fused op (finite for logits of +-1000).
    `pos_weight` scales the positive term (e.g. n_negative / n_positive); `weight` each element."""
    op = "binary_cross_entropy_with_logits"
    target = as_tensor(target, like=logits)
    if target.dtype != logits.dtype:
        target = Tensor._wrap(target.data.astype(logits.dtype))
    _check_same_shape(logits, target, op)
    loss = nn.BinaryCrossEntropyWithLogits.apply(logits, target, weight=_constant(weight, logits, "weight", op),
                                                 pos_weight=_constant(pos_weight, logits, "pos_weight", op))
    return _reduce(loss, reduction, op)


def cross_entropy(logits: Tensor, target: Any, label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits (or (N, C, d...)) against class indices (N,) (or
    (N, d...)), through a max-shifted log_softmax. With label smoothing e the target is
    (1 - e) * one_hot + e / C, as in PyTorch."""
    op = "cross_entropy"
    indices = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim < 2 or indices.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"{op}: logits of shape {logits.shape} need class indices of shape "
                         f"{(logits.shape[0], *logits.shape[2:]) if logits.ndim >= 2 else '(N,)'}, got {indices.shape}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: class indices must be integers, got {indices.dtype}")
    n_classes = logits.shape[1]
    if indices.size and (indices.min() < 0 or indices.max() >= n_classes):
        raise ValueError(f"{op}: class indices must be in [0, {n_classes}), got values from "
                         f"{indices.min()} to {indices.max()}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    log_probs = F.log_softmax(logits, axis=1)
    loss = -F.gather(log_probs, np.expand_dims(indices, 1), axis=1).squeeze(1)
    if label_smoothing:
        loss = (1 - label_smoothing) * loss - (label_smoothing / n_classes) * log_probs.sum(axis=1)
    return _reduce(loss, reduction, op)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    target = as_tensor(target, like=input)
    _check_same_shape(input, target, "mse_loss")
    difference = input - target
    return _reduce(difference * difference, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    target = as_tensor(target, like=input)
    _check_same_shape(input, target, "l1_loss")
    return _reduce(F.abs(input - target), reduction, "l1_loss")
