"""Optimisers with PyTorch's names, equations and state layout. Updates run in place on the parameters' arrays, in
their own dtype (float32 stays float32), over flat buffers (`flat.py`): each step is a few chunked passes over one
array per dtype instead of ~10 numpy calls per parameter."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

from .. import kernels
from ..engine import Tensor, enable_grad
from .flat import FlatParameters, chunks

Buffers = dict[str, np.ndarray]


class Span(NamedTuple):
    """The parameters of one group and one dtype: they lie end to end in `layout`, elements [start, stop)."""

    group: dict[str, Any]
    layout: FlatParameters
    params: list[Tensor]
    indices: list[int]
    start: int
    stop: int


class Optimizer:
    """Holds parameter groups (each a dict of params and hyperparameters) and per-parameter state.

    `params` is an iterable of Tensors, or of dicts `{"params": [...], "lr": ..., ...}` whose missing
    hyperparameters come from `defaults` -- e.g. no weight decay on biases and norms.

    A subclass defines the update once, on arrays (`update_arrays`): the step runs it on whole flat buffers when every
    parameter of a group has a gradient and the same state counters (the usual case), and parameter by parameter
    otherwise; both give the same bits. The parameters' `.data` become views into the flat buffers at the first step.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params argument given to the optimizer should be an iterable of Tensors or "
                            f"dicts, but got one Tensor of shape {params.shape}; pass [tensor] or "
                            "model.parameters()")
        params = list(params)
        if not params:
            raise ValueError(f"{name} got an empty parameter list")
        for option in ("capturable", "differentiable"):
            if defaults.get(option):
                raise ValueError(f"{name}: {option}=True has no meaning here (CPU only, no higher-order gradients)")
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        self._spans: list[Span] | None = None
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (those it does not set come from the defaults)."""
        name = type(self).__name__
        unknown = set(param_group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{name}: unknown option(s) {sorted(unknown)} in a parameter group")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        unique = list({id(p): p for p in params}.values())
        if len(unique) != len(params):
            warnings.warn(f"{name}: a parameter group holds the same parameter twice; it is updated once",
                          UserWarning, stacklevel=3)
        group = {**self.defaults, **param_group, "params": unique}
        held = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (one computed by an op, shape {p.shape}); "
                                 "optimize the leaf it was computed from")
            if id(p) in held:
                raise ValueError(f"{name}: some parameters appear in more than one parameter group")
            held.add(id(p))
        self.param_groups.append(group)
        self._spans = None  # laid out again at the next step

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (None, PyTorch's default), or set them to zero. Either way the next backward writes
        a Parameter's gradient into the same flat buffer: keep a copy of a gradient you need after zero_grad."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad._data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure` (optional, as in PyTorch) re-evaluates the model:
        it runs before the update, with gradients recorded, and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        spans = self.layout()
        for layout in {id(span.layout): span.layout for span in spans}.values():
            layout.bind()
        for span in spans:
            self._step_span(span)
        return loss

    def _step_span(self, span: Span) -> None:
        group, layout = span.group, span.layout
        names = self.buffer_names(group)
        states = [self.state.setdefault(id(p), {}) for p in span.params]
        counters = [{k: v for k, v in state.items() if not isinstance(v, np.ndarray)} for state in states]
        fused = (all(p.grad is not None for p in span.params) and all(c == counters[0] for c in counters)
                 and all(state.keys() == states[0].keys() for state in states))
        views = {name: layout.state_views(name) for name in names}
        for state, i in zip(states, span.indices, strict=True):
            for name in names:
                if name not in state:
                    views[name][i][...] = 0  # a fresh buffer starts at zero
                elif state[name] is not views[name][i]:
                    np.copyto(views[name][i], state[name])  # e.g. a loaded state: back into the layout
                    state[name] = views[name][i]
        if fused:
            before = dict(states[0])
            self.advance(states[0], group)
            for state, i in zip(states, span.indices, strict=True):
                state.update({k: v for k, v in states[0].items() if not isinstance(v, np.ndarray)})
                state.update({name: views[name][i] for name in names})
            for part in chunks(span.start, span.stop):
                self.update_arrays(layout.data[part], _ascent(layout.grad[part], group),
                                   {name: layout.state[name][part] for name in names}, before, group)
            return
        for p, state, i in zip(span.params, states, span.indices, strict=True):
            if p.grad is not None:
                before = dict(state)
                self.advance(state, group)
                state.update({name: views[name][i] for name in names})
                self.update_arrays(p._data, _ascent(p._grad._data, group), {name: views[name][i] for name in names},
                                   before, group)

    def layout(self) -> list[Span]:
        """The flat buffers (one per dtype, group by group), built at the first step."""
        if self._spans is None:
            params = self._params()
            layouts = {dtype: FlatParameters([p for p in params if p.dtype == dtype])
                       for dtype in dict.fromkeys(p.dtype for p in params)}
            self._spans = []
            for group in self.param_groups:
                for dtype, layout in layouts.items():
                    members = [p for p in group["params"] if p.dtype == dtype]
                    if members:
                        start, stop = layout.span(members)
                        index = {id(p): i for i, p in enumerate(layout.params)}
                        self._spans.append(Span(group, layout, members, [index[id(p)] for p in members], start, stop))
        return self._spans

    def buffer_names(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The per-parameter state arrays this optimiser keeps for `group` (laid out flat like the parameters)."""
        return ()

    def advance(self, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update a parameter's counters before its step (Adam's step count)."""

    def update_arrays(self, data: np.ndarray, grad: np.ndarray, buffers: Buffers, state: dict[str, Any],
                      group: dict[str, Any]) -> None:
        """One update, in place, of `data` (a parameter or a slice of a flat buffer) given its gradient, its state
        arrays and the state as it was before this step (its counters and which buffers existed)."""
        raise NotImplementedError

    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: tensor}}, "param_groups": [hyperparameters + param indices]}, PyTorch's layout:
        parameters numbered in group order, buffers as tensor copies, the step count as a float32 0-d tensor."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[key]: {name: _saved(name, value) for name, value in entry.items()}
                 for key, entry in self.state.items() if key in index and entry}
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
                if isinstance(value, Tensor):
                    value = value._data
                if buffer == "step":  # PyTorch keeps it as a 0-d float tensor; here it is an int
                    value = int(np.asarray(value).item())
                elif isinstance(value, np.ndarray):
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


def _ascent(grad: np.ndarray, group: dict[str, Any]) -> np.ndarray:
    """The gradient an update descends: negated for `maximize=True`."""
    return -grad if group.get("maximize") else grad


def _saved(name: str, value: Any) -> Any:
    """A state entry as `state_dict()` gives it: arrays as tensor copies, the step count as PyTorch keeps it."""
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value.copy())
    if name == "step":
        return Tensor._wrap(np.array(value, dtype=np.float32))
    return value


def _pytorch_flags(maximize: bool, foreach: bool | None, differentiable: bool, fused: bool | None) -> dict[str, Any]:
    """The options PyTorch's optimisers share: `maximize` (ascend the gradient) is honoured; `foreach` and `fused`
    choose among PyTorch's implementations, and every step here is already one pass over flat buffers, so they change
    nothing; `differentiable` must stay False."""
    return {"maximize": bool(maximize), "foreach": foreach, "differentiable": differentiable, "fused": fused}


def _scalar(value: float, like: np.ndarray) -> np.generic:
    return like.dtype.type(value)


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay:
    g += wd * p; buf = momentum * buf + (1 - dampening) * g (buf = g at the first step);
    p -= lr * (g + momentum * buf if nesterov else buf)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
                                  "weight_decay": weight_decay, **_pytorch_flags(maximize, foreach, differentiable,
                                                                                 fused)})

    def buffer_names(self, group):
        return ("momentum_buffer",) if group["momentum"] else ()

    def update_arrays(self, data, grad, buffers, state, group):
        if group["weight_decay"]:
            grad = grad + _scalar(group["weight_decay"], data) * data
        momentum = group["momentum"]
        if momentum:
            buf = buffers["momentum_buffer"]
            if "momentum_buffer" not in state:
                np.copyto(buf, grad)
            else:
                buf *= _scalar(momentum, data)
                buf += _scalar(1 - group["dampening"], data) * grad
            grad = grad + _scalar(momentum, data) * buf if group["nesterov"] else buf
        data -= _scalar(group["lr"], data) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) as torch.optim.Adam computes it: weight decay as L2 added to the gradient (AdamW
    decouples it); optional AMSGrad.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    The update runs as one kernel (`kernels/numpy_path.adam_update`, or its compiled twin: one pass over the flat
    buffers).
    """

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: need lr, eps, weight_decay >= 0 and betas in [0, 1), got "
                             f"lr={lr}, eps={eps}, weight_decay={weight_decay}, betas={betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "capturable": capturable,
                                  **_pytorch_flags(maximize, foreach, differentiable, fused)})

    def buffer_names(self, group):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def advance(self, state, group):
        state["step"] = state.get("step", 0) + 1

    def update_arrays(self, data, grad, buffers, state, group):
        beta1, beta2 = group["betas"]
        kernels.for_dtype(data.dtype).adam_update(
            data, grad, buffers["exp_avg"], buffers["exp_avg_sq"], buffers.get("max_exp_avg_sq"), group["lr"], beta1,
            beta2, group["eps"], group["weight_decay"], self.decoupled, state.get("step", 0) + 1)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): p *= 1 - lr * wd, then Adam."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused)

