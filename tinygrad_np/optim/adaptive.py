"""Adadelta, RMSprop and Adagrad with PyTorch's signatures, defaults, equations and state names, on the flat buffers of
`Optimizer` (each update written once, on arrays, in the parameters' dtype). `weight_decay` adds weight_decay * p to
the gradient (L2), as PyTorch does for all three; `maximize` is applied by `Optimizer`, and `foreach`, `fused`,
`capturable` and `differentiable` are PyTorch's switches between its implementations (see `_pytorch_flags`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _pytorch_flags


def _check(name: str, **values: float) -> None:
    for key, value in values.items():
        if not value >= 0:  # written so that NaN fails too
            raise ValueError(f"{name}: {key} must be >= 0, got {value}")


def _flags(maximize: bool, foreach: bool | None, differentiable: bool, **more: Any) -> dict[str, Any]:
    """PyTorch's shared switches, without `fused` (which Adadelta and RMSprop do not take), plus `more`."""
    flags = _pytorch_flags(maximize, foreach, differentiable, None)
    del flags["fused"]
    return {**flags, **more}


def _gradient(data: np.ndarray, grad: np.ndarray, group: dict[str, Any]) -> np.ndarray:
    """The gradient the update uses: plus weight_decay * p, never the caller's array changed in place."""
    if group["weight_decay"]:
        grad = grad + data.dtype.type(group["weight_decay"]) * data
    return grad


def _count_step(state: dict[str, Any]) -> None:
    state["step"] = state.get("step", 0) + 1


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012): a step whose size adapts per coordinate from running averages of squared gradients
    and squared updates.

        v = rho v + (1 - rho) g^2;  delta = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho u + (1 - rho) delta^2;
        p -= lr delta
    with v `square_avg` and u `acc_delta`."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False):
        _check("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0 <= rho <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho}")
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  **_flags(maximize, foreach, differentiable, capturable=capturable)})

    def buffer_names(self, group):
        return ("square_avg", "acc_delta")

    def advance(self, state, group):
        _count_step(state)

    def update_arrays(self, data, grad, buffers, state, group):
        scalar = data.dtype.type
        rho, eps = scalar(group["rho"]), scalar(group["eps"])
        grad = _gradient(data, grad, group)
        square_avg, acc_delta = buffers["square_avg"], buffers["acc_delta"]
        square_avg *= rho
        square_avg += scalar(1 - group["rho"]) * (grad * grad)
        std = square_avg + eps
        np.sqrt(std, out=std)
        delta = acc_delta + eps
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        acc_delta *= rho
        acc_delta += scalar(1 - group["rho"]) * (delta * delta)
        delta *= scalar(group["lr"])
        data -= delta


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e): divide the gradient by the root of a running average of its square.

        v = alpha v + (1 - alpha) g^2;  centered: m = m + (1 - alpha)(g - m), v~ = v - m^2, else v~ = v;
        a = sqrt(v~) + eps;  with momentum b = momentum b + g / a, p -= lr b;  else p -= lr g / a
    with v `square_avg`, m `grad_avg`, b `momentum_buffer` (PyTorch's names; m as PyTorch's lerp computes it)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False):
        _check("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered,
                                  **_flags(maximize, foreach, differentiable, capturable=capturable)})

    def buffer_names(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def advance(self, state, group):
        _count_step(state)

    def update_arrays(self, data, grad, buffers, state, group):
        scalar = data.dtype.type
        alpha = scalar(group["alpha"])
        grad = _gradient(data, grad, group)
        square_avg = buffers["square_avg"]
        square_avg *= alpha
        square_avg += scalar(1 - group["alpha"]) * (grad * grad)
        if group["centered"]:
            grad_avg = buffers["grad_avg"]
            grad_avg += scalar(1 - group["alpha"]) * (grad - grad_avg)
            avg = square_avg - grad_avg * grad_avg
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg)
        avg += scalar(group["eps"])
        np.divide(grad, avg, out=avg)
        if group["momentum"] > 0:
            buf = buffers["momentum_buffer"]
            buf *= scalar(group["momentum"])
            buf += avg
            avg = buf * scalar(group["lr"])
        else:
            avg *= scalar(group["lr"])
        data -= avg


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011): divide by the root of the running SUM of squared gradients, so often-updated
    coordinates slow down.

        s += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
    with s `sum`, which starts at `initial_accumulator_value` and, as in PyTorch, exists (with step 0) from the
    moment a parameter joins the optimiser."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None):
        _check("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
               initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                                  **_pytorch_flags(maximize, foreach, differentiable, fused)})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[id(p)] = {"step": 0, "sum": np.full(p.shape, group["initial_accumulator_value"],
                                                           dtype=p.dtype)}

    def buffer_names(self, group):
        return ("sum",)

    def advance(self, state, group):
        _count_step(state)

    def update_arrays(self, data, grad, buffers, state, group):
        scalar = data.dtype.type
        step = state.get("step", 0) + 1
        grad = _gradient(data, grad, group)
        total = buffers["sum"]
        total += grad * grad
        std = np.sqrt(total)
        std += scalar(group["eps"])
        np.divide(grad, std, out=std)
        std *= scalar(group["lr"] / (1 + (step - 1) * group["lr_decay"]))
        data -= std

