"""Noisy updates: isotropic Gaussian noise added to every parameter update, to escape saddle points.

Perturbed gradient methods (Jin et al. 2017, "How to Escape Saddle Points Efficiently",
arXiv:1703.00887; arXiv:2410.02017) add a small random kick to each step so that the iterates leave
strict saddle points, where the gradient alone stalls. `NoisyOptimizer` wraps any optimiser: after
the base update,

    w <- w + sigma_t * xi,   xi ~ N(0, I) drawn from a seeded numpy Generator,

for every parameter the step updated (those with a gradient), where t is the number of steps taken
before this one (the first step has t = 0) and the noise scale follows a closed-form schedule, like
the learning-rate schedulers:

    constant:  sigma_t = noise_scale
    cosine:    sigma_t = noise_scale * (1 + cos(pi * min(t / total_steps, 1))) / 2
    power:     sigma_t = noise_scale * (reference_steps / max(t, reference_steps)) ** power

The power-law decay is EDM2's learning-rate decay (Karras et al. 2024, "Analyzing and Improving the
Training Dynamics of Diffusion Models", arXiv:2312.02696: constant until t_ref, then ~ t^-power;
power 0.5 is its inverse square root). The noise does not scale with the learning rate. Where
sigma_t is 0 nothing is drawn and the step is exactly the base optimiser's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .optimizer import Optimizer
from .sam import OptimizerWrapper, as_generator

NOISE_SCHEDULES = ("constant", "cosine", "power")


def noise_std_at(t: float, noise_scale: float, schedule: str = "constant", total_steps: float | None = None,
                 power: float = 0.5, reference_steps: float = 1.0) -> float:
    """sigma_t of the schedules above at step t (closed form)."""
    if schedule == "constant":
        return noise_scale
    if schedule == "cosine":
        return noise_scale * (1 + math.cos(math.pi * min(t / total_steps, 1.0))) / 2
    if schedule == "power":
        return noise_scale * (reference_steps / max(t, reference_steps)) ** power
    raise ValueError(f"noise schedule must be one of {NOISE_SCHEDULES}, got {schedule!r}")


class NoisyOptimizer(OptimizerWrapper):
    """Run `base_optimizer.step()`, then add N(0, sigma_t^2) noise to every parameter that has a
    gradient (schedules in the module docstring). Shares the base optimiser's parameter groups, so
    learning-rate schedulers work on it; wraps SAM too (`step(closure)` passes the closure on).

    `state_dict()` is the base optimiser's plus {"noise": {"steps", "generator"}}, so a resumed run
    draws the same noise as an uninterrupted one.
    """

    def __init__(self, base_optimizer: Optimizer, noise_scale: float, schedule: str = "constant",
                 total_steps: int | None = None, power: float = 0.5, reference_steps: float = 1.0,
                 generator: np.random.Generator | int = 0):
        if not isinstance(base_optimizer, Optimizer):
            raise TypeError(f"NoisyOptimizer: base_optimizer must be an Optimizer, got {type(base_optimizer).__name__}")
        if not (math.isfinite(noise_scale) and noise_scale >= 0):
            raise ValueError(f"NoisyOptimizer: noise_scale must be a finite number >= 0, got {noise_scale!r}")
        if schedule not in NOISE_SCHEDULES:
            raise ValueError(f"NoisyOptimizer: schedule must be one of {NOISE_SCHEDULES}, got {schedule!r}")
        if schedule == "cosine" and (total_steps is None or total_steps <= 0):
            raise ValueError(f"NoisyOptimizer: the cosine schedule needs total_steps > 0, got {total_steps!r}")
        if schedule == "power" and not (power >= 0 and reference_steps > 0):
            raise ValueError(f"NoisyOptimizer: the power schedule needs power >= 0 and reference_steps > 0, "
                             f"got power={power!r}, reference_steps={reference_steps!r}")
        super().__init__(base_optimizer)
        self.noise_scale, self.schedule, self.total_steps = float(noise_scale), schedule, total_steps
        self.power, self.reference_steps = float(power), float(reference_steps)
        self.generator = as_generator(generator)
        self.steps = 0

    def noise_std_at(self, t: float) -> float:
        return noise_std_at(t, self.noise_scale, self.schedule, self.total_steps, self.power, self.reference_steps)

    @property
    def current_noise_std(self) -> float:
        """sigma_t of the next step."""
        return self.noise_std_at(self.steps)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """The base optimiser's step (with the closure, if one is given), then the noise."""
        loss = self.base_optimizer.step() if closure is None else self.base_optimizer.step(closure)
        std = self.current_noise_std
        self.steps += 1
        if std > 0:
            for p in self._params():
                if p.grad is None:
                    continue
                if p.dtype in (np.float32, np.float64):
                    noise = self.generator.standard_normal(p.shape, dtype=p.dtype)
                else:
                    noise = self.generator.standard_normal(p.shape).astype(p.dtype)
                noise *= p.dtype.type(std)
                p._data += noise
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {**self.base_optimizer.state_dict(),
                "noise": {"steps": self.steps, "generator": self.generator.bit_generator.state}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "noise" not in state_dict:
            raise ValueError("NoisyOptimizer.load_state_dict: no 'noise' entry (step count, generator state); "
                             "this state was not saved by NoisyOptimizer")
        self.base_optimizer.load_state_dict(state_dict)
        self.steps = int(state_dict["noise"]["steps"])
        self.generator.bit_generator.state = state_dict["noise"]["generator"]
