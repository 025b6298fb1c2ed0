"""Averages of a model's weights along its training run, kept beside the model and evaluated like it:

- `ModelEma`: an exponential moving average updated after every optimiser step (timm's ModelEmaV3, whose decay warms
  up with the step count: at update t the average moves by 1 - decay_t towards the weights, with decay_t = 0 at the
  first update -- the average starts as the weights -- then min(decay, 1 - (1 + s)^(-power)) at s = t - 1 steps
  after it, so that a short run is not dominated by its initial weights).
- `SWA`: stochastic weight averaging (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and Better
  Generalization", arXiv:1803.05407): the equal average of the weights at the end of each of the last epochs
  (PyTorch's `AveragedModel` running mean); the run's own learning-rate schedule drives those epochs.

Both average every floating-point parameter and buffer of the model under its state-dict name, in the model's dtype,
and carry their state in `state_dict()` (a checkpoint stores it; `load_state_dict` continues bit for bit).
`copy_to(model)` puts the averaged weights into a model of the same shape, to evaluate them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_np import Tensor, from_numpy, nn, no_grad


def _float_tensors(model: nn.Module) -> Iterator[tuple[str, Tensor]]:
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if np.issubdtype(tensor.dtype, np.floating):
            yield name, tensor


class WeightAverage:
    """What both averages share: the averaged arrays by name, how many updates made them, copying them into a model,
    and their state."""

    def __init__(self, model: nn.Module):
        self.tensors = dict(_float_tensors(model))  # the model's own tensors, read at every update
        self.weights = {name: tensor.numpy().copy() for name, tensor in self.tensors.items()}
        self.updates = 0

    def _lerp(self, weight: float) -> None:
        """average += weight * (model - average), in place; weight 1 copies the model's weights."""
        for name, tensor in self.tensors.items():
            average, current = self.weights[name], tensor.numpy()
            if weight == 1.0:
                np.copyto(average, current)
            else:
                average += average.dtype.type(weight) * (current - average)
        self.updates += 1

    def copy_to(self, model: nn.Module) -> nn.Module:
        """Put the averaged weights into `model` (same names and shapes); returns it."""
        own = dict(_float_tensors(model))
        if own.keys() != self.weights.keys():
            raise ValueError(f"{type(self).__name__}.copy_to: the model's tensors {sorted(own)[:3]}... are not the "
                             f"averaged ones {sorted(self.weights)[:3]}...")
        with no_grad():
            for name, tensor in own.items():
                tensor.copy_(from_numpy(self.weights[name]))
        return model

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "weights": {name: array.copy() for name, array in self.weights.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        weights = state["weights"]
        if weights.keys() != self.weights.keys():
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved average holds other tensors than "
                             "the model's")
        for name, array in weights.items():
            if np.shape(array) != self.weights[name].shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name} has shape {np.shape(array)}, the "
                                 f"model's {self.weights[name].shape}")
            np.copyto(self.weights[name], array, casting="unsafe")
        self.updates = int(state["updates"])


class ModelEma(WeightAverage):
    """An exponential moving average of the weights, updated after every optimiser step (`update`), with timm's
    ModelEmaV3 decay warm-up (see the module docstring; `warmup=False`: `decay` from the second update on)."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True, warmup_power: float = 2 / 3):
        if not 0 <= decay < 1:
            raise ValueError(f"ModelEma: decay must be in [0, 1), got {decay}")
        super().__init__(model)
        self.decay, self.warmup, self.warmup_power = decay, warmup, warmup_power

    def decay_at(self, update: int) -> float:
        """The decay of the `update`-th update (1-based): 0 at the first, then warming up to `decay`."""
        steps = update - 1
        if steps <= 0:
            return 0.0
        if not self.warmup:
            return self.decay
        return min(self.decay, 1 - (1 + steps) ** -self.warmup_power)

    def update(self) -> None:
        """Move the average towards the model's current weights (call after each optimiser step)."""
        self._lerp(1.0 - self.decay_at(self.updates + 1))


class SWA(WeightAverage):
    """The equal average of the weights at the updates so far (call `update` at the end of each averaged epoch): the
    running mean average += (weights - average) / (n + 1), starting as the first weights it sees."""

    def update(self) -> None:
        self._lerp(1.0 / (self.updates + 1))
