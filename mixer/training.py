"""The training loop: forward, loss, backward, clip, step -- and everything around it that makes a
run trustworthy (hold-out model selection, metrics, checkpoints, resume, plots, predictions)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn, optim
from tinygrad_np.optim import lr_scheduler

from . import data as unsw
from .checkpoint import atomic_write, load_checkpoint, save_checkpoint
from .metrics import binary_metrics, confusion_matrix, multiclass_metrics
from .models import MODELS, build_model


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run; saved as config.json and inside every checkpoint."""

    model: str = "mlp-mixer"
    dim: int = 64
    depth: int = 4
    patch_size: int = 3
    block: str = "convnext"
    kernel_size: int = 0
    num_stages: int = 2
    mixers_per_stage: int = 1
    dropout: float = 0.0
    drop_path: float = 0.1
    epochs: int = 20
    batch_size: int = 128
    accum_steps: int = 1
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.05
    clip_grad_norm: float = 1.0
    scheduler: str = "cosine"
    warmup_epochs: float = 1.0
    eta_min: float = 1e-5
    t0: float = 10.0
    t_mult: float = 1.0
    preprocess: str = unsw.DEFAULT_PREPROCESS
    categorical: str = "auto"
    task: str = "binary"
    seed: int = 0
    holdout: float = 0.1
    data_dir: str | None = None
    out: str = "runs/default"
    eval_batch_size: int = 4096
    init_from_mae: str | None = None
    freeze_encoder: bool = False
    latent_noise: float = 0.0
    latent_model: str | None = None
    token_mixer: str = "mlp"
    stem: str = "linear"
    sam: str = "none"
    sam_rho: float = 0.05
    sam_sparsity: float = 0.5
    sam_update_freq: int = 100
    sam_num_samples: int = 16
    sam_drop_rate: float = 0.5
    noise_scale: float = 0.0
    noise_schedule: str = "constant"
    noise_power: float = 0.5
    noise_reference_epochs: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs > 0, "batch_size": self.batch_size >= 1, "accum_steps": self.accum_steps >= 1,
            "lr": self.lr > 0, "weight_decay": self.weight_decay >= 0, "clip_grad_norm": self.clip_grad_norm >= 0,
            "warmup_epochs": 0 <= self.warmup_epochs < self.epochs, "holdout": 0 <= self.holdout < 1,
            "optimizer": self.optimizer in OPTIMIZERS, "scheduler": self.scheduler in SCHEDULERS,
            "preprocess": self.preprocess in unsw.PREPROCESS_MODES, "task": self.task in ("binary", "multiclass"),
            "categorical": self.categorical in CATEGORICAL_MODES,
            "t0": self.t0 > 0, "t_mult": self.t_mult >= 1, "eta_min": 0 <= self.eta_min <= self.lr,
            "freeze_encoder": not self.freeze_encoder or self.init_from_mae is not None,
            "latent_noise": self.latent_noise >= 0 and (self.latent_noise == 0 or self.latent_model is not None),
            "token_mixer": self.token_mixer in ("mlp", "lambda"), "stem": self.stem in ("linear", "inception"),
            "sam": self.sam in SAM_VARIANTS, "sam_rho": self.sam_rho >= 0, "sam_sparsity": 0 <= self.sam_sparsity <= 1,
            "sam_update_freq": self.sam_update_freq >= 1,
            "sam_num_samples": 1 <= self.sam_num_samples <= self.sam_update_freq,
            "sam_drop_rate": 0 <= self.sam_drop_rate <= 1, "noise_scale": self.noise_scale >= 0,
            "noise_schedule": self.noise_schedule in optim.noise.NOISE_SCHEDULES, "noise_power": self.noise_power >= 0,
            "noise_reference_epochs": self.noise_reference_epochs > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError("invalid configuration: " + ", ".join(f"{name}={getattr(self, name)!r}" for name in bad))
        pretrained = self.init_from_mae is not None or self.latent_noise > 0
        embeds = self.model in MODELS and "categories" in inspect.signature(MODELS[self.model]).parameters
        if self.categorical == "auto":
            self.categorical = "embed" if embeds and not pretrained else "numeric"
        elif self.categorical == "embed" and not embeds:
            raise ValueError(f"--categorical embed does not apply to --model {self.model}; use --categorical numeric")
        elif self.categorical == "embed" and pretrained:
            raise ValueError("--init-from-mae and --latent-noise work on numeric categorical columns (the pretrained "
                             "models do not embed them); use --categorical numeric")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys: {', '.join(unknown)}")
        return cls(**values)


OPTIMIZERS = ("adam", "adamw", "sgd")
CATEGORICAL_MODES = ("auto", "embed", "numeric")  # auto: embed where the model can, numeric otherwise
SCHEDULERS = ("none", "cosine", "sharp-cosine", "warm-restarts")
SAM_VARIANTS = ("none", "sam", "asam", "ssam-f", "ssam-d")  # ssam-*: SparseSAM's Fisher / dynamic masks


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


# -- building blocks ---------------------------------------------------------------------------
MODEL_OPTIONS = {"block": "convnext", "kernel_size": 0, "num_stages": 2, "mixers_per_stage": 1,  # and defaults
                 "token_mixer": "mlp", "stem": "linear"}


def category_sizes(encoder: unsw.CategoryEncoder) -> dict[int, int]:
    """{feature position: number of codes} of the categorical columns (code 0 is the unknown category)."""
    return {position: len(encoder.categories[column]) + 1
            for position, column in zip(unsw.CATEGORICAL_POSITIONS, unsw.CATEGORICAL_COLUMNS, strict=True)}


def make_model(config: TrainConfig, num_classes: int, categories: dict[int, int] | None = None) -> nn.Module:
    """The configured model; the conv options go to the models that take them (kernel_size 0: the
    model's own default), and setting one for a model without it is an error, not silently ignored.
    With --categorical embed, `categories` ({position: number of codes}, see `category_sizes`) is required."""
    accepted = inspect.signature(MODELS[config.model]).parameters if config.model in MODELS else {}
    options = {}
    for name, default in MODEL_OPTIONS.items():
        value = getattr(config, name)
        if name in accepted and not (name == "kernel_size" and value == 0):
            options[name] = value
        elif name not in accepted and value != default:
            raise ValueError(f"--{name.replace('_', '-')} does not apply to --model {config.model}")
    if config.categorical == "embed":
        if categories is None:
            raise ValueError("--categorical embed: make_model needs the category sizes of the data (category_sizes)")
        options["categories"] = categories
    return build_model(config.model, **options, dim=config.dim, depth=config.depth, patch_size=config.patch_size,
                       dropout=config.dropout, drop_path=config.drop_path,
                       num_classes=1 if num_classes == 2 else num_classes)


def make_optimizer(config: TrainConfig, model: nn.Module, steps_per_epoch: int = 1) -> optim.Optimizer:
    """Weight decay on weight matrices and conv kernels only, not on biases, LayerNorm parameters and
    position embeddings. Frozen parameters (requires_grad off, --freeze-encoder) are left out. With --sam
    the optimiser is wrapped in SAM / ASAM / SparseSAM (its step then needs a closure), with --noise-scale
    in NoisyOptimizer; `steps_per_epoch` turns the epoch-based settings into steps."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    decay = [p for name, p in named if p.ndim >= 2 and "embedding" not in name]
    no_decay = [p for name, p in named if p.ndim < 2 or "embedding" in name]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adam":
        optimizer: optim.Optimizer = optim.Adam(groups, lr=config.lr)
    elif config.optimizer == "adamw":
        optimizer = optim.AdamW(groups, lr=config.lr)
    else:
        optimizer = optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    params = [p for _, p in named]
    total_steps = config.epochs * steps_per_epoch
    if config.sam in ("sam", "asam"):
        optimizer = optim.SAM(params, optimizer, rho=config.sam_rho, adaptive=config.sam == "asam")
    elif config.sam in ("ssam-f", "ssam-d"):
        optimizer = optim.SparseSAM(params, optimizer, rho=config.sam_rho, sparsity=config.sam_sparsity,
                                    mask_rule="fisher" if config.sam == "ssam-f" else "dynamic",
                                    update_freq=config.sam_update_freq, num_samples=config.sam_num_samples,
                                    drop_rate=config.sam_drop_rate, total_steps=total_steps, generator=config.seed)
    if config.noise_scale > 0:
        optimizer = optim.NoisyOptimizer(optimizer, config.noise_scale, schedule=config.noise_schedule,
                                         total_steps=total_steps, power=config.noise_power,
                                         reference_steps=config.noise_reference_epochs * steps_per_epoch,
                                         generator=config.seed)
    return optimizer


def make_scheduler(config: TrainConfig, optimizer: optim.Optimizer) -> Any:
    """A schedule over (fractional) epochs, stepped after every optimiser step."""
    after_warmup = config.epochs - config.warmup_epochs
    schedule = None
    if config.scheduler == "cosine":
        schedule = lr_scheduler.CosineAnnealingLR(optimizer, T_max=after_warmup, eta_min=config.eta_min)
    elif config.scheduler == "sharp-cosine":
        schedule = lr_scheduler.SharpCosineLR(optimizer, total_steps=after_warmup, eta_min=config.eta_min)
    elif config.scheduler == "warm-restarts":
        schedule = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=config.t0, T_mult=config.t_mult,
                                                            eta_min=config.eta_min)
    if config.warmup_epochs > 0:
        return lr_scheduler.LinearWarmup(optimizer, warmup_steps=config.warmup_epochs, after=schedule)
    return schedule


def loss_fn(logits: Tensor, labels: np.ndarray, reduction: str = "mean") -> Tensor:
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels.astype(logits.dtype), reduction=reduction)
    return F.cross_entropy(logits, labels, reduction=reduction)


@tg.no_grad()
def predict_proba(model: nn.Module, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Probabilities in eval mode: P(attack) of shape (N,) for binary models, (N, C) otherwise."""
    was_training = model.training
    model.eval()
    logits = np.concatenate([model(features[i:i + batch_size]).data for i in range(0, len(features), batch_size)])
    model.train(was_training)
    if logits.shape[1] == 1:
        return 1 / (1 + np.exp(-logits[:, 0].astype(np.float64)))
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)


def evaluate(model: nn.Module, split: unsw.Split, batch_size: int = 4096) -> dict[str, float]:
    """Loss and classification metrics of `model` on a labelled split."""
    probabilities = predict_proba(model, split.features, batch_size)
    eps = 1e-12
    if probabilities.ndim == 1:
        p = np.clip(probabilities, eps, 1 - eps)
        loss = -np.mean(split.labels * np.log(p) + (1 - split.labels) * np.log(1 - p))
        metrics = binary_metrics(split.labels, probabilities)
    else:
        loss = -np.mean(np.log(np.clip(probabilities[np.arange(len(split.labels)), split.labels], eps, None)))
        metrics = multiclass_metrics(split.labels, probabilities)
    return {"loss": float(loss), **metrics}


class UpdateMonitor:
    """The original's vanishing-gradient monitor: per layer, the largest |weight change| of every
    optimiser step relative to the layer's largest |weight|, summarised per epoch."""

    def __init__(self, model: nn.Module):
        self.layers: dict[str, list[nn.Parameter]] = {}
        for name, p in model.named_parameters():
            if p.requires_grad:
                self.layers.setdefault(name.rsplit(".", 1)[0], []).append(p)
        self.before: list[np.ndarray] = []
        self.ratios: dict[str, list[float]] = {name: [] for name in self.layers}

    def snapshot(self) -> None:
        self.before = [p.data.copy() for params in self.layers.values() for p in params]

    def record(self) -> None:
        before = iter(self.before)
        for name, params in self.layers.items():
            change = max(float(np.abs(p.data - next(before)).max(initial=0)) for p in params)
            scale = max(float(np.abs(p.data).max(initial=0)) for p in params)
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
            self.stream.write("\n")


# -- the run -------------------------------------------------------------------------------
class Trainer:
    """One training run: builds data, model, optimiser and schedule from a config, trains epoch by
    epoch and writes everything under `config.out`."""

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print):
        self.config, self.log = config, log
        self.out = Path(config.out)
        self.data = unsw.load_unsw(config.data_dir, preprocess=config.preprocess, task=config.task,
                                   holdout=config.holdout, seed=config.seed,
                                   keep_codes=config.categorical == "embed")
        self.categories = category_sizes(self.data.encoder)
        tg.manual_seed(config.seed)
        self.order_rng = np.random.default_rng(config.seed)
        self.model = make_model(config, len(self.data.class_names), self.categories)
        self.augmenter = None
        if config.init_from_mae or config.latent_noise:  # pretrained models (mixer/pretrain.py); off by default
            from .pretrain import load_mae_encoder, make_latent_augmenter
            if config.init_from_mae:
                load_mae_encoder(self.model, config, self.data, log)
            if config.latent_noise:
                self.augmenter = make_latent_augmenter(config, self.data, log)
        self.steps_per_epoch = math.ceil(len(self.data.train.labels) / (config.batch_size * config.accum_steps))
        self.optimizer = make_optimizer(config, self.model, self.steps_per_epoch)
        self.scheduler = make_scheduler(config, self.optimizer)
        self.monitor = UpdateMonitor(self.model)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best_score = -math.inf

    # checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"format": "tinygrad_np-mixer-checkpoint", "version": 1, "config": dataclasses.asdict(self.config),
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rng": {"global": tg.get_rng_state(), "order": self.order_rng.bit_generator.state,
                        **({"latent": self.augmenter.rng.bit_generator.state} if self.augmenter else {})},
                "preprocessing": unsw.data_state(self.data), "class_names": list(self.data.class_names),
                "epoch": self.epoch, "history": self.history, "best_score": self.best_score}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Continue a run exactly where `checkpoint` left it."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        tg.set_rng_state(checkpoint["rng"]["global"])
        self.order_rng.bit_generator.state = checkpoint["rng"]["order"]
        if self.augmenter is not None:
            self.augmenter.rng.bit_generator.state = checkpoint["rng"]["latent"]
        self.epoch, self.history = checkpoint["epoch"], checkpoint["history"]
        self.best_score = checkpoint["best_score"]

    # one epoch -----------------------------------------------------------------------------
    def train_epoch(self) -> float:
        config, train = self.config, self.data.train
        self.model.train()
        order = self.order_rng.permutation(len(train.labels))
        step_rows = config.batch_size * config.accum_steps
        steps = math.ceil(len(order) / step_rows)
        progress = Progress(steps, f"epoch {self.epoch + 1}/{config.epochs}")
        total_loss, seen = 0.0, 0
        for step in range(steps):
            rows = order[step * step_rows:(step + 1) * step_rows]
            augment = self.augmenter or (lambda features: features)
            micro_batches = [(augment(train.features[batch]), train.labels[batch])
                             for batch in (rows[start:start + config.batch_size]
                                           for start in range(0, len(rows), config.batch_size))]
            total_loss += self.gradient_pass(micro_batches, len(rows), step)
            seen += len(rows)
            self.monitor.snapshot()
            if config.sam != "none":
                self.optimizer.step(functools.partial(self.sam_closure, micro_batches, len(rows), step))
            else:
                self.optimizer.step()
            self.optimizer.zero_grad()
            self.monitor.record()
            if self.scheduler is not None:
                self.scheduler.step(self.epoch + (step + 1) / steps)
            progress.update(step + 1, seen, total_loss / seen)
        progress.close()
        return total_loss / seen

    def sam_closure(self, micro_batches: list[tuple[np.ndarray, np.ndarray]], rows: int, step: int) -> float:
        """SAM's closure: the same rows' mean loss and gradients again, at the perturbed weights."""
        self.optimizer.zero_grad()
        return self.gradient_pass(micro_batches, rows, step) / rows

    def gradient_pass(self, micro_batches: list[tuple[np.ndarray, np.ndarray]], rows: int, step: int) -> float:
        """Forward and backward over one step's micro-batches, then clipping; returns the summed loss.
        Each micro-batch's summed loss / `rows` backpropagates, so the gradients are of the mean over the step."""
        total = 0.0
        for features, labels in micro_batches:
            loss = loss_fn(self.model(features), labels, reduction="sum")
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"the training loss became {value} at epoch {self.epoch + 1}, "
                                       f"step {step + 1}; the last good checkpoint is kept in {self.out}")
            (loss / rows).backward()
            total += value
        if self.config.clip_grad_norm:
            optim.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        return total

    def selection_score(self, record: dict[str, Any]) -> float:
        """Model selection never looks at testing1: hold-out ROC-AUC, or minus the training loss."""
        if "holdout" in record:
            return record["holdout"]["roc_auc"] if self.data.task == "binary" else record["holdout"]["accuracy"]
        return -record["train_loss"]

    def fit(self) -> dict[str, Any]:
        config = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "config.json", dataclasses.asdict(config))
        self.log(f"{self.model.num_parameters():,} parameters; {len(self.data.train.labels):,} training rows"
                 + (f", {len(self.data.holdout.labels):,} held out" if self.data.holdout is not None else ""))
        if self.epoch:  # resumed: metrics.jsonl holds exactly the epochs the checkpoint saw
            text = "".join(json.dumps(record) + "\n" for record in self.history)
            atomic_write(self.out / "metrics.jsonl", lambda file: file.write(text.encode()))
        while self.epoch < config.epochs:
            start = time.perf_counter()
            train_loss = self.train_epoch()
            self.epoch += 1
            record: dict[str, Any] = {"epoch": self.epoch, "train_loss": train_loss,
                                      "lr": self.optimizer.param_groups[0]["lr"]}
            if self.data.holdout is not None:
                record["holdout"] = evaluate(self.model, self.data.holdout, config.eval_batch_size)
            record["valid"] = evaluate(self.model, self.data.valid, config.eval_batch_size)
            record["updates"] = self.monitor.summary()
            record["seconds"] = time.perf_counter() - start
            self.history.append(record)
            self.log(format_record(record))
            stalled = stalled_layers(record["updates"], [r["train_loss"] for r in self.history])
            if stalled:
                self.log(f"warning: vanishing updates -- {', '.join(stalled)} barely change while the loss is flat")
            score = self.selection_score(record)
            improved = score > self.best_score
            if improved:
                self.best_score = score
            with open(self.out / "metrics.jsonl", "a") as file:
                file.write(json.dumps(record) + "\n")
            state = self.state()
            if improved:
                save_checkpoint(self.out / "best.npz", state)
            save_checkpoint(self.out / "last.npz", state)
        return self.finish()

    def finish(self) -> dict[str, Any]:
        best = load_checkpoint(self.out / "best.npz")
        model = make_model(self.config, len(self.data.class_names), self.categories)
        model.load_state_dict(best["model"])
        result = {"best_epoch": best["epoch"], "valid": evaluate(model, self.data.valid, self.config.eval_batch_size)}
        probabilities = predict_proba(model, self.data.valid.features)
        predicted = probabilities >= 0.5 if probabilities.ndim == 1 else probabilities.argmax(axis=1)
        matrix = confusion_matrix(self.data.valid.labels, predicted.astype(np.int64), len(self.data.class_names))
        result["confusion_matrix"] = matrix.tolist()
        write_json(self.out / "result.json", result)
        self.log(f"best epoch {best['epoch']} (chosen on {'the hold-out' if self.data.holdout else 'training loss'}); "
                 f"on {Path(self.data.valid.source).name}: " + format_metrics(result["valid"]))
        self.log(format_confusion(matrix, self.data.class_names))
        save_plots(self.out, self.history, matrix, self.data.class_names)
        if self.data.test is not None:
            write_predictions(self.out / "predictions_testing2.csv", model, self.data.test, self.data.class_names)
        return result


# -- reporting ---------------------------------------------------------------------------------
def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda file: file.write((json.dumps(value, indent=1) + "\n").encode()))


def format_metrics(metrics: dict[str, float]) -> str:
    return " ".join(f"{name} {metrics[name]:.4f}" for name in ("loss", "accuracy", "precision", "recall", "f1",
                                                               "roc_auc") if name in metrics)


def format_record(record: dict[str, Any]) -> str:
    text = f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} lr {record['lr']:.2e}"
    for split in ("holdout", "valid"):
        if split in record:
            text += f" | {split}: " + format_metrics(record[split])
    return text + f" | {record['seconds']:.1f}s"


def format_confusion(matrix: np.ndarray, class_names: list[str]) -> str:
    width = max(8, *(len(name) for name in class_names)) + 1
    lines = ["confusion matrix (rows: true, columns: predicted)", " " * width + "".join(
        f"{name:>{width}}" for name in class_names)]
    lines += [f"{name:>{width}}" + "".join(f"{count:>{width}}" for count in row)
              for name, row in zip(class_names, matrix, strict=True)]
    return "\n".join(lines)


def save_plots(out: Path, history: list[dict[str, Any]], matrix: np.ndarray, class_names: list[str]) -> None:
    """loss_curves.png (loss and accuracy per epoch) and confusion_matrix.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs, [r["train_loss"] for r in history], label="train")
    for split in ("holdout", "valid"):
        if history and split in history[0]:
            loss_axes.plot(epochs, [r[split]["loss"] for r in history], label=split)
            accuracy_axes.plot(epochs, [r[split]["accuracy"] for r in history], label=split)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss_axes.legend(), accuracy_axes.legend()
    figure.tight_layout()
    figure.savefig(out / "loss_curves.png", dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(1.2 * len(class_names) + 2, 1.2 * len(class_names) + 1.5))
    axes.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha="center", va="center")
    axes.set(xticks=range(len(class_names)), yticks=range(len(class_names)), xlabel="predicted", ylabel="true")
    axes.set_xticklabels(class_names, rotation=45, ha="right")
    axes.set_yticklabels(class_names)
    figure.tight_layout()
    figure.savefig(out / "confusion_matrix.png", dpi=100)
    plt.close(figure)


def write_predictions(path: Path, model: nn.Module, split: unsw.Split, class_names: list[str]) -> None:
    """CSV of id, probability (of attack, or of the predicted class) and predicted label."""
    probabilities = predict_proba(model, split.features)
    if probabilities.ndim == 1:
        rows = [f"{i},{p:.6f},{int(p >= 0.5)}" for i, p in zip(split.ids, probabilities, strict=True)]
    else:
        best = probabilities.argmax(axis=1)
        rows = [f"{i},{p[k]:.6f},{class_names[k]}" for i, p, k in zip(split.ids, probabilities, best, strict=True)]
    text = "id,probability,predicted_label\n" + "".join(row + "\n" for row in rows)
    atomic_write(path, lambda file: file.write(text.encode()))


# -- using a saved model -----------------------------------------------------------------------
def load_trained(checkpoint_path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a checkpoint, and the checkpoint (config, preprocessing, class names, ...)."""
    checkpoint = load_checkpoint(checkpoint_path)
    if checkpoint.get("format") != "tinygrad_np-mixer-checkpoint":
        raise ValueError(f"{checkpoint_path} is not a training checkpoint of train.py")
    config = TrainConfig.from_dict(checkpoint["config"])
    categories = None
    if config.categorical == "embed":
        categories = category_sizes(unsw.preprocessing_from_state(checkpoint["preprocessing"])[0])
    model = make_model(config, len(checkpoint["class_names"]), categories)
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint
