"""Learning-rate schedules, each a closed form `lr_at(t, base_lr)` of the position t in steps or
epochs -- so stepping per iteration with fractional epochs works, and resuming is exact.

A scheduler sets every group's "lr" in place: at construction to its value at t = 0, then at
each `step()` (t += 1) or `step(t)` (jump to t, e.g. epoch + i / iterations_per_epoch).
"""

from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer


class LRScheduler:
    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.t = 0.0
        self._apply()

    def lr_at(self, t: float, base_lr: float) -> float:
        raise NotImplementedError

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = self.lr_at(self.t, base)

    def step(self, t: float | None = None) -> None:
        """Advance by one, or move to position `t` (may be fractional)."""
        self.t = self.t + 1 if t is None else float(t)
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.base_lrs = float(state["t"]), list(state["base_lrs"])
        self._apply()


def _positive(name: str, **values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{name}: {key} must be > 0, got {value}")


def _cosine(progress: float, base_lr: float, eta_min: float) -> float:
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2


class CosineAnnealingLR(LRScheduler):
    """eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2, then held at eta_min after T_max
    (PyTorch's would rise again; a run that goes past T_max wants the floor: docs/pytorch.md)."""

    def __init__(self, optimizer: Optimizer, T_max: float, eta_min: float = 0.0):  # noqa: N803 - PyTorch's name
        _positive("CosineAnnealingLR", T_max=T_max)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, t, base_lr):
        return _cosine(min(t / self.T_max, 1.0), base_lr, self.eta_min)


class SharpCosineLR(CosineAnnealingLR):
    """A "sharpened" cosine: the whole cosine decay happens in the first `fraction` of `total_steps`, and the lr
    then stays at eta_min (the schedule of the numpy MLP-Mixer this project replaces: 15% of the 98 epochs after a
    2-epoch `LinearWarmup`; `train.py --scheduler sharp-cosine`)."""

    def __init__(self, optimizer: Optimizer, total_steps: float, fraction: float = 0.15, eta_min: float = 0.0):
        _positive("SharpCosineLR", total_steps=total_steps, fraction=fraction)
        if fraction > 1:
            raise ValueError(f"SharpCosineLR: fraction must be <= 1, got {fraction}")
        self.total_steps, self.fraction = total_steps, fraction
        super().__init__(optimizer, T_max=fraction * total_steps, eta_min=eta_min)


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter 2017): cosine decays over periods T_0, T_0 T_mult, T_0 T_mult^2,
    ..., each restarting at the base lr."""

    def __init__(self, optimizer: Optimizer, T_0: float, T_mult: float = 1, eta_min: float = 0.0):  # noqa: N803
        _positive("CosineAnnealingWarmRestarts", T_0=T_0)
        if T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: T_mult must be >= 1, got {T_mult}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer)

    def cycle(self, t: float) -> tuple[float, float]:
        """(position inside the current period, the period's length)."""
        if self.T_mult == 1:
            return t % self.T_0, self.T_0
        n = int(math.log(t / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
        start = self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
        period = self.T_0 * self.T_mult**n
        if t - start >= period:  # floating-point edge at a restart
            start, period = start + period, period * self.T_mult
        return t - start, period

    def lr_at(self, t, base_lr):
        position, period = self.cycle(t)
        return _cosine(position / period, base_lr, self.eta_min)


class StepLR(LRScheduler):
    """base * gamma ** floor(t / step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: float, gamma: float = 0.1):
        _positive("StepLR", step_size=step_size)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, t, base_lr):
        return base_lr * self.gamma ** math.floor(t / self.step_size)


class OneCycleLR(LRScheduler):
    """Smith's one-cycle policy as PyTorch defines it: from max_lr / div_factor up to max_lr by step
    pct_start * total_steps - 1, then down to initial_lr / final_div_factor at total_steps - 1
    (cosine or linear). `max_lr` replaces the optimiser's lr."""

    def __init__(self, optimizer: Optimizer, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, anneal_strategy: str = "cos"):
        _positive("OneCycleLR", max_lr=max_lr, total_steps=total_steps)
        if not 0 < pct_start < 1 or anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: need 0 < pct_start < 1 and anneal_strategy 'cos' or 'linear', got "
                             f"{pct_start}, {anneal_strategy!r}")
        self.max_lr, self.total_steps, self.anneal_strategy = max_lr, total_steps, anneal_strategy
        self.initial_lr = max_lr / div_factor
        self.min_lr = self.initial_lr / final_div_factor
        self.peak_step = float(pct_start * total_steps) - 1
        for group in optimizer.param_groups:
            group["initial_lr"] = max_lr
        super().__init__(optimizer)

    def _anneal(self, start: float, end: float, progress: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2
        return start + (end - start) * progress

    def lr_at(self, t, base_lr):
        if t <= self.peak_step:
            return self._anneal(self.initial_lr, self.max_lr, t / self.peak_step if self.peak_step > 0 else 1.0)
        end = self.total_steps - 1
        return self._anneal(self.max_lr, self.min_lr, min((t - self.peak_step) / (end - self.peak_step), 1.0))


class LinearWarmup(LRScheduler):
    """A linear ramp from `start_lr` at t = 0 to the base lr at t = warmup_steps, then the `after`
    schedule (built on the same optimiser) evaluated at t - warmup_steps; without one, the base lr."""

    def __init__(self, optimizer: Optimizer, warmup_steps: float, start_lr: float = 0.0,
                 after: LRScheduler | None = None):
        if warmup_steps < 0:
            raise ValueError(f"LinearWarmup: warmup_steps must be >= 0, got {warmup_steps}")
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("LinearWarmup: the `after` schedule must drive the same optimiser")
        self.warmup_steps, self.start_lr, self.after = warmup_steps, start_lr, after
        super().__init__(optimizer)

    def lr_at(self, t, base_lr):
        if t < self.warmup_steps:
            return self.start_lr + (base_lr - self.start_lr) * t / self.warmup_steps
        return self.after.lr_at(t - self.warmup_steps, base_lr) if self.after is not None else base_lr

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "after": self.after.state_dict() if self.after is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.after is not None:
            self.after.load_state_dict(state["after"])
        super().load_state_dict(state)
