"""Optimisers with PyTorch's names, equations and state layout. Updates run in place on the
parameters' arrays, in their own dtype (float32 stays float32)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import Tensor, enable_grad


class Optimizer:
    """Holds parameter groups (each a dict of params and hyperparameters) and per-parameter state.

    `params` is an iterable of Tensors, or of dicts `{"params": [...], "lr": ..., ...}` whose
    missing hyperparameters come from `defaults` -- e.g. no weight decay on biases and norms.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (those it does not set come from the defaults)."""
        name = type(self).__name__
        unknown = set(param_group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{name}: unknown option(s) {sorted(unknown)} in a parameter group")
        params = param_group["params"]
        group = {**self.defaults, **param_group, "params": [params] if isinstance(params, Tensor) else list(params)}
        held = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameters must be Tensors that require grad")
            if id(p) in held:
                raise ValueError(f"{name}: a parameter appears in more than one group")
            held.add(id(p))
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure` (optional, as in PyTorch) re-evaluates the model:
        it runs before the update, with gradients recorded, and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state.setdefault(id(p), {}), group)
        return loss

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: array or number}}, "param_groups": [hyperparameters + param indices]};
        parameters are numbered in group order, as PyTorch does. Arrays are copies."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[key]: {name: value.copy() if isinstance(value, np.ndarray) else value
                                   for name, value in entry.items()}
                 for key, entry in self.state.items() if key in index}
        groups = [{**{k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"},
                   "params": [index[id(p)] for p in group["params"]]} for group in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore moment buffers, step counts and hyperparameters (shapes and counts checked)."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: {len(groups)} parameter groups saved, "
                             f"{len(self.param_groups)} in this optimiser")
        for i, (saved, group) in enumerate(zip(groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(saved['params'])} parameters saved, "
                                 f"{len(group['params'])} here")
        params = self._params()
        new_state: dict[int, dict[str, Any]] = {}
        for key, entry in state_dict["state"].items():
            i = int(key)
            if i >= len(params):
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but there are {len(params)}")
            p = params[i]
            restored = {}
            for buffer, value in entry.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: parameter {i}: {buffer} has shape {value.shape}, "
                                         f"the parameter {p.shape}")
                    value = np.array(value, dtype=p.dtype)
                restored[buffer] = value
            new_state[id(p)] = restored
        self.state = new_state
        for saved, group in zip(groups, self.param_groups, strict=True):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(group.get(k), tuple) else v


def _scalar(value: float, like: np.ndarray) -> np.generic:
    return like.dtype.type(value)


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay:
    g += wd * p; buf = momentum * buf + (1 - dampening) * g; p -= lr * (g + momentum * buf if
    nesterov else buf)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
                                  "weight_decay": weight_decay})

    def update(self, p, grad, state, group):
        data = p.data
        if group["weight_decay"]:
            grad = grad + _scalar(group["weight_decay"], data) * data
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=data.dtype)
            else:
                buf *= _scalar(momentum, data)
                buf += _scalar(1 - group["dampening"], data) * grad
            grad = grad + _scalar(momentum, data) * buf if group["nesterov"] else buf
        data -= _scalar(group["lr"], data) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) as torch.optim.Adam computes it, weight decay as L2 added to the
    gradient (the original project's choice); optional AMSGrad.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: need lr, eps, weight_decay >= 0 and betas in [0, 1), got "
                             f"lr={lr}, eps={eps}, weight_decay={weight_decay}, betas={betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad})

    def update(self, p, grad, state, group):
        data = p.data
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        if wd and self.decoupled:
            data *= _scalar(1 - lr * wd, data)
        elif wd:
            grad = grad + _scalar(wd, data) * data
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(data), exp_avg_sq=np.zeros_like(data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(data)
        state["step"] += 1
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m *= _scalar(beta1, data)
        m += _scalar(1 - beta1, data) * grad
        v *= _scalar(beta2, data)
        v += _scalar(1 - beta2, data) * (grad * grad)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v)
        denom *= _scalar(1 / math.sqrt(1 - beta2**step), data)
        denom += _scalar(group["eps"], data)
        np.divide(m, denom, out=denom)
        denom *= _scalar(lr / (1 - beta1**step), data)
        data -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): p *= 1 - lr * wd, then Adam."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _grads(parameters: Iterable[Tensor]) -> list[np.ndarray]:
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together, in place, so their global norm is at most `max_norm` (the
    optimiser then uses the clipped gradients). Returns the norm before clipping."""
    grads = _grads(parameters)
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.abs(g).max(initial=0)) for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= g.dtype.type(scale)
    return total


def clip_grad_value_(parameters: Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
