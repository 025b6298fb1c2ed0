"""The one training loop of the package: epochs of optimiser steps over shuffled rows, for the classifier and for the
pretrained models alike -- and the rules every run shares: which parameters get weight decay, the optimisers and the
learning-rate schedules.

What differs between runs is passed in: `make_batch` turns row indices into a batch (the classifier augments there),
`batch_loss` gives a batch's loss (cross-entropy, MAE's masked reconstruction, the VAE's negative ELBO), `after_step`
and `after_epoch` follow the weights (the classifier's weight averages), `evaluate` gives the metrics recorded after
each epoch, and `end_of_epoch` saves what the run saves.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import tinygrad_np as tg
from tinygrad_np import Tensor, nn, optim
from tinygrad_np.optim import lr_scheduler

from .errors import UserError


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite."""


# -- parameter groups, optimisers, schedules ---------------------------------------------------------------------
def decays(name: str, parameter: nn.Parameter, embedding_weights: set[int]) -> bool:
    """The weight-decay rule: the `weight` of a layer with 2 or more dims (Linear matrices, conv kernels) decays;
    biases, norm weights (1-D), embedding tables (nn.Embedding), and parameters held directly by a model rather than
    a layer (position embeddings, mask tokens, layer scales: not named `weight`) do not."""
    return name.rsplit(".", 1)[-1] == "weight" and parameter.ndim >= 2 and id(parameter) not in embedding_weights


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """[{decayed parameters, weight_decay}, {the rest, weight_decay 0}] by `decays`; frozen parameters (requires_grad
    off) are left out, so the optimiser never touches them."""
    embedding_weights = {id(module.weight) for module in model.modules() if isinstance(module, nn.Embedding)}
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    return [{"params": [p for name, p in named if decays(name, p, embedding_weights)], "weight_decay": weight_decay},
            {"params": [p for name, p in named if not decays(name, p, embedding_weights)], "weight_decay": 0.0}]


OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "sharp-cosine", "warm-restarts")


def optimizer_by_name(name: str, groups: list[dict[str, Any]], lr: float) -> optim.Optimizer:
    """adam | adamw | sgd (Nesterov momentum 0.9) over parameter groups."""
    if name == "adam":
        return optim.Adam(groups, lr=lr)
    if name == "adamw":
        return optim.AdamW(groups, lr=lr)
    if name == "sgd":
        return optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}")


def schedule_by_name(optimizer: optim.Optimizer, scheduler: str, epochs: int, warmup_epochs: float, eta_min: float,
                     t0: float = 10.0, t_mult: float = 1.0) -> Any:
    """A learning-rate schedule over (fractional) epochs, stepped after every optimiser step: a linear warm-up of
    `warmup_epochs`, then `scheduler` (none | cosine | sharp-cosine | warm-restarts) over the epochs left."""
    after_warmup = epochs - warmup_epochs
    schedule = None
    if scheduler == "cosine":
        schedule = lr_scheduler.CosineAnnealingLR(optimizer, T_max=after_warmup, eta_min=eta_min)
    elif scheduler == "sharp-cosine":
        schedule = lr_scheduler.SharpCosineLR(optimizer, total_steps=after_warmup, eta_min=eta_min)
    elif scheduler == "warm-restarts":
        schedule = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=t0, T_mult=t_mult, eta_min=eta_min)
    elif scheduler != "none":
        raise ValueError(f"unknown scheduler {scheduler!r}")
    if warmup_epochs > 0:
        return lr_scheduler.LinearWarmup(optimizer, warmup_steps=warmup_epochs, after=schedule)
    return schedule


# -- watching a run ----------------------------------------------------------------------------------------------
class UpdateMonitor:
    """The original's vanishing-gradient monitor: per layer, the largest |weight change| of every optimiser step
    relative to the layer's largest |weight|, summarised per epoch."""

    def __init__(self, model: nn.Module):
        self.layers: dict[str, list[nn.Parameter]] = {}
        for name, p in model.named_parameters():
            if p.requires_grad:
                self.layers.setdefault(name.rsplit(".", 1)[0], []).append(p)
        self.before: list[np.ndarray] = []
        self.ratios: dict[str, list[float]] = {name: [] for name in self.layers}

    def snapshot(self) -> None:
        self.before = [p.numpy().copy() for params in self.layers.values() for p in params]

    def record(self) -> None:
        before = iter(self.before)
        for name, params in self.layers.items():
            change = max(float(np.abs(p.numpy() - next(before)).max(initial=0)) for p in params)
            scale = max(float(np.abs(p.numpy()).max(initial=0)) for p in params)
            self.ratios[name].append(change / (scale + 1e-12))

    def summary(self) -> dict[str, float]:
        """Median over the epoch's steps of each layer's relative max update; then reset."""
        result = {name: float(np.median(values)) if values else 0.0 for name, values in self.ratios.items()}
        self.ratios = {name: [] for name in self.layers}
        return result


def stalled_layers(update_summary: dict[str, float], losses: list[float], threshold: float = 1e-6) -> list[str]:
    """Layers whose updates stay near zero while the training loss is flat (< 0.1% change)."""
    if len(losses) < 2 or abs(losses[-1] - losses[-2]) > 1e-3 * max(abs(losses[-2]), 1e-12):
        return []
    return [name for name, ratio in update_summary.items() if ratio < threshold]


class Progress:
    """A one-line progress bar on stderr (only on a terminal), with loss and samples/s."""

    def __init__(self, total: int, label: str, stream: Any = None):
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()

    def update(self, done: int, samples: int, loss: float) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / max(self.total, 1))
        rate = samples / max(time.perf_counter() - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"loss {loss:.4f} {rate:,.0f} samples/s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")  # the epoch's line replaces the bar
            self.stream.flush()


# -- the loop ----------------------------------------------------------------------------------------------------
class StepLoss(NamedTuple):
    """A batch's loss as the loop needs it: `objective` is what backward runs on (this batch's share of the mean
    loss over the optimiser step's rows), `total` the batch's summed loss and `parts` its summed loss terms, both
    for the epoch's report."""

    objective: Tensor
    total: float
    parts: dict[str, float]


MakeBatch = Callable[[np.ndarray], Any]
BatchLoss = Callable[[Any, int], StepLoss]  # (batch, rows in the optimiser step) -> StepLoss


class TrainingLoop:
    """Trains `model` epoch by epoch: each epoch visits the `num_rows` training rows in an order drawn from
    `order_rng`; an optimiser step takes `batch_size` x `accum_steps` rows as `accum_steps` batches, each
    forward and backward on its own (gradients add up), then clips the global gradient norm, steps the optimiser
    (with a closure that recomputes the gradients when `needs_closure`, as SAM does) and moves the schedule to the
    fractional epoch, then calls `after_step()`. After each epoch `after_epoch(epoch)` is called and a record
    {"epoch", "lr", "train": {"loss", parts}, evaluate()..., "updates" (with a monitor), "seconds"} joins `history`
    and goes to `end_of_epoch`.

    `state()` / `restore()` carry what makes a resumed run continue bit for bit: the optimiser's and the
    schedule's state, and every random stream (the global generator, the order, and `generators`)."""

    def __init__(self, model: nn.Module, optimizer: optim.Optimizer, schedule: Any, *, num_rows: int,
                 make_batch: MakeBatch, batch_loss: BatchLoss, batch_size: int, order_rng: np.random.Generator,
                 accum_steps: int = 1, clip_grad_norm: float = 0.0, needs_closure: bool = False,
                 monitor: UpdateMonitor | None = None, evaluate: Callable[[], dict[str, Any]] = dict,
                 after_step: Callable[[], None] | None = None, after_epoch: Callable[[int], None] | None = None,
                 generators: dict[str, np.random.Generator] | None = None, log: Callable[[str], None] = print):
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        self.num_rows, self.make_batch, self.batch_loss = num_rows, make_batch, batch_loss
        self.batch_size, self.accum_steps, self.clip_grad_norm = batch_size, accum_steps, clip_grad_norm
        self.order_rng, self.needs_closure, self.monitor = order_rng, needs_closure, monitor
        self.evaluate, self.generators, self.log = evaluate, generators or {}, log
        self.after_step, self.after_epoch = after_step, after_epoch
        self.steps_per_epoch = math.ceil(num_rows / (batch_size * accum_steps))
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    # state -------------------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """{"optimizer", "scheduler", "rng"} as a checkpoint stores them."""
        return {"optimizer": self.optimizer.state_dict(),
                "scheduler": self.schedule.state_dict() if self.schedule is not None else None,
                "rng": {"global": tg.get_rng_state(), "order": self.order_rng.bit_generator.state,
                        **{name: rng.bit_generator.state for name, rng in self.generators.items()}}}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Continue where `checkpoint` (with the entries of `state()`, "epoch" and "history") left off."""
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.schedule is not None and checkpoint["scheduler"] is not None:
            self.schedule.load_state_dict(checkpoint["scheduler"])
        tg.set_rng_state(checkpoint["rng"]["global"])
        self.order_rng.bit_generator.state = checkpoint["rng"]["order"]
        for name, rng in self.generators.items():
            rng.bit_generator.state = checkpoint["rng"][name]
        self.epoch, self.history = checkpoint["epoch"], list(checkpoint["history"])

    # one epoch ---------------------------------------------------------------------------------------------------
    def train_epoch(self, epochs: int) -> dict[str, float]:
        """One pass over the training rows; returns the mean loss and loss terms per row."""
        self.model.train()
        order = self.order_rng.permutation(self.num_rows)
        step_rows = self.batch_size * self.accum_steps
        steps = self.steps_per_epoch
        progress = Progress(steps, f"epoch {self.epoch + 1}/{epochs}")
        total, parts, seen = 0.0, {}, 0
        try:
            for step in range(steps):
                rows = order[step * step_rows:(step + 1) * step_rows]
                seen += len(rows)
                step_total, step_parts = self.step(rows, step, steps)
                total += step_total
                for name, value in step_parts.items():
                    parts[name] = parts.get(name, 0.0) + value
                progress.update(step + 1, seen, total / seen)
        finally:
            progress.close()
        return {"loss": total / seen, **{name: value / seen for name, value in parts.items()}}

    def step(self, rows: np.ndarray, step: int, steps: int) -> tuple[float, dict[str, float]]:
        """One optimiser step on `rows`: the gradient pass over its batches, the optimiser's step (with SAM's
        closure) and the schedule; returns the summed loss and loss terms."""
        batches = [self.make_batch(rows[start:start + self.batch_size])
                   for start in range(0, len(rows), self.batch_size)]
        result = self.gradient_pass(batches, len(rows), step)
        if self.monitor is not None:
            self.monitor.snapshot()
        if self.needs_closure:
            self.optimizer.step(functools.partial(self.closure, batches, len(rows), step))
        else:
            self.optimizer.step()
        self.optimizer.zero_grad()
        if self.monitor is not None:
            self.monitor.record()
        if self.schedule is not None:
            self.schedule.step(self.epoch + (step + 1) / steps)
        if self.after_step is not None:
            self.after_step()
        return result

    def gradient_pass(self, batches: list[Any], rows: int, step: int) -> tuple[float, dict[str, float]]:
        """Forward and backward over one step's batches, then clipping; returns the summed loss and loss terms."""
        total, parts = 0.0, {}
        for batch in batches:
            loss = self.batch_loss(batch, rows)
            if not math.isfinite(loss.total):
                raise TrainingDiverged(f"the training loss became {loss.total} at epoch {self.epoch + 1}, step "
                                       f"{step + 1}")
            loss.objective.backward()
            total += loss.total
            for name, value in loss.parts.items():
                parts[name] = parts.get(name, 0.0) + value
        if self.clip_grad_norm:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        return total, parts

    def closure(self, batches: list[Any], rows: int, step: int) -> float:
        """SAM's closure: the same rows' mean loss and gradients again, at the perturbed weights."""
        self.optimizer.zero_grad()
        return self.gradient_pass(batches, rows, step)[0] / rows

    # the run -----------------------------------------------------------------------------------------------------
    def run(self, epochs: int, end_of_epoch: Callable[[dict[str, Any]], None]) -> None:
        """Train until `epochs` epochs are done (from `self.epoch`, so a restored loop continues)."""
        while self.epoch < epochs:
            start = time.perf_counter()
            train = self.train_epoch(epochs)
            self.epoch += 1
            if self.after_epoch is not None:
                self.after_epoch(self.epoch)
            record: dict[str, Any] = {"epoch": self.epoch, "lr": self.optimizer.param_groups[0]["lr"],
                                      "train": train, **self.evaluate()}
            if self.monitor is not None:
                record["updates"] = self.monitor.summary()
            record["seconds"] = time.perf_counter() - start
            self.history.append(record)
            end_of_epoch(record)
            if self.monitor is not None:
                stalled = stalled_layers(record["updates"], [r["train"]["loss"] for r in self.history])
                if stalled:
                    self.log(f"warning: vanishing updates: {', '.join(stalled)} barely change while the loss is "
                             "flat")
