"""The classifier: its model, loss and metrics, and `Trainer`, the run that trains it -- holdout model selection,
best and last checkpoints, plots, predictions -- on the one training loop (`mixer.loop`) that pretraining uses too.
A pretrained model reaches it through its checkpoint only: the MAE's encoder initialises the classifier, the VAE
augments its training rows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn, optim

from . import data as unsw
from .averaging import SWA, ModelEma, WeightAverage
from .checkpoint import (
    CLASSIFIER,
    MAE,
    VAE,
    CheckpointError,
    atomic_write,
    load_checkpoint,
    load_model,
    load_weights,
    make_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from .config import TrainConfig
from .errors import UsageError
from .loop import StepLoss, TrainingLoop, UpdateMonitor, optimizer_by_name, parameter_groups, schedule_by_name
from .metrics import (
    best_threshold,
    binary_metrics,
    confusion_matrix,
    expected_calibration_error,
    multiclass_metrics,
    reliability_curve,
)
from .models import (
    CONV_BLOCKS,
    MODELS,
    STEMS,
    TOKEN_MIXERS,
    HybridMixer,
    LatentAugmenter,
    MixerMAE,
    MLPMixer1D,
    TabularVAE,
)
from .models.tabular import NumericEmbeddingLayer, PeriodicEmbedding, PiecewiseLinearEncoding, fit_ple_edges
from .prior import class_prior
from .report import (
    THRESHOLD_METRICS,
    format_confusion,
    format_metrics,
    format_threshold_table,
    plot_confusion,
    plot_history,
    plot_reliability,
)
from .run import Run, RunFolder
from .settings import ConfigError

__all__ = ["Trainer", "category_sizes", "checkpoint_threshold", "evaluate", "format_metrics", "load_mae_encoder",
           "load_trained", "loss_fn", "make_latent_augmenter", "make_model", "make_optimizer", "make_scheduler",
           "numeric_positions", "predict_proba", "predicted_classes", "split_metrics", "write_predictions"]


# -- building blocks ---------------------------------------------------------------------------------------------
def category_sizes(encoder: unsw.CategoryEncoder) -> dict[int, int]:
    """{feature position: number of codes} of the categorical columns (code 0 is the unknown category)."""
    return {position: len(encoder.categories[column]) + 1
            for position, column in zip(unsw.CATEGORICAL_POSITIONS, unsw.CATEGORICAL_COLUMNS, strict=True)}


def numeric_positions(config: TrainConfig) -> list[int]:
    """The feature positions a numerical embedding covers: all 42, but proto/service/state with --categorical embed
    (they keep their category vectors)."""
    embedded = set(unsw.CATEGORICAL_POSITIONS) if config.data.categorical == "embed" else set()
    return [position for position in range(unsw.N_FEATURES) if position not in embedded]


def make_model(config: TrainConfig, num_classes: int, categories: dict[int, int] | None = None,
               ple_edges: np.ndarray | None = None) -> nn.Module:
    """The configured model: the model options of the configuration (`TrainConfig.model_options`; it has already
    refused those that do not apply) as layers and arguments. With --categorical embed, `categories` ({position:
    number of codes}, see `category_sizes`) is required. With --numeric-embedding ple, `ple_edges` are the bin edges
    fitted on the training rows (`fit_ple_edges` of the `numeric_positions` columns); without them the model's edges
    stay unset until a checkpoint's state dict is loaded (its forward pass refuses to run before)."""
    model = config.model
    common: dict[str, Any] = {"dim": model.dim, "depth": model.depth, "patch_size": model.patch_size,
                              "dropout": config.regularisation.dropout, "drop_path": config.regularisation.drop_path,
                              "num_classes": 1 if num_classes == 2 else num_classes}
    if model.name == "mlp-mixer":
        if config.data.categorical == "embed" and categories is None:
            raise ValueError("--categorical embed: make_model needs the category sizes of the data (category_sizes)")
        return MLPMixer1D(**common, token_expansion=model.token_expansion, channel_expansion=model.channel_expansion,
                          token_mixer=TOKEN_MIXERS[model.token_mixer], stem=STEMS[model.stem],
                          categories=categories if config.data.categorical == "embed" else None,
                          tokens=model.tokens, numeric_embedding=numeric_embedding_layer(config, ple_edges),
                          ensemble_size=model.ensemble_size)
    kernel = {"kernel_size": model.kernel_size} if model.kernel_size else {}  # 0: the model's own default
    if model.name == "hybrid":
        block = CONV_BLOCKS[model.block]
        return HybridMixer(**common, num_stages=model.num_stages, mixers_per_stage=model.mixers_per_stage,
                           token_expansion=model.token_expansion, channel_expansion=model.channel_expansion,
                           block=functools.partial(block, **kernel) if kernel else block)
    return MODELS[model.name](**common, num_stages=model.num_stages, **kernel)  # convnext, resnext


def numeric_embedding_layer(config: TrainConfig, ple_edges: np.ndarray | None = None) -> NumericEmbeddingLayer | None:
    """The numerical embedding of --numeric-embedding with its options, as the mlp-mixer takes it (None: the
    values themselves)."""
    model = config.model
    if model.numeric_embedding == "ple":
        return functools.partial(PiecewiseLinearEncoding, n_bins=model.ple_bins, edges=ple_edges)
    if model.numeric_embedding == "periodic":
        return functools.partial(PeriodicEmbedding, frequencies=model.periodic_frequencies, dim=model.periodic_dim,
                                 sigma=model.periodic_sigma)
    return None


def make_optimizer(config: TrainConfig, model: nn.Module, steps_per_epoch: int = 1) -> optim.Optimizer:
    """The configured optimiser over `loop.parameter_groups` (weight decay by the package's one rule; frozen
    parameters left out). With --sam it is wrapped in SAM / ASAM / SparseSAM (its step then needs a closure), with
    --noise-scale in NoisyOptimizer; `steps_per_epoch` turns the epoch-based settings into steps."""
    settings, sam = config.optimisation, config.sam
    optimizer = optimizer_by_name(settings.optimizer, parameter_groups(model, settings.weight_decay), settings.lr)
    params = [p for p in model.parameters() if p.requires_grad]
    total_steps = config.schedule.epochs * steps_per_epoch
    if sam.variant in ("sam", "asam"):
        optimizer = optim.SAM(params, optimizer, rho=sam.sam_rho, adaptive=sam.variant == "asam")
    elif sam.variant in ("ssam-f", "ssam-d"):
        optimizer = optim.SparseSAM(params, optimizer, rho=sam.sam_rho, sparsity=sam.sam_sparsity,
                                    mask_rule="fisher" if sam.variant == "ssam-f" else "dynamic",
                                    update_freq=sam.sam_update_freq, num_samples=sam.sam_num_samples,
                                    drop_rate=sam.sam_drop_rate, total_steps=total_steps, generator=config.run.seed)
    if sam.noise_scale > 0:
        optimizer = optim.NoisyOptimizer(optimizer, sam.noise_scale, schedule=sam.noise_schedule,
                                         total_steps=total_steps, power=sam.noise_power,
                                         reference_steps=sam.noise_reference_epochs * steps_per_epoch,
                                         generator=config.run.seed)
    return optimizer


def make_scheduler(config: TrainConfig, optimizer: optim.Optimizer) -> Any:
    """The configured learning-rate schedule over (fractional) epochs, stepped after every optimiser step."""
    schedule = config.schedule
    return schedule_by_name(optimizer, schedule.scheduler, schedule.epochs, schedule.warmup_epochs,
                            schedule.eta_min, schedule.t0, schedule.t_mult)


def loss_fn(logits: Tensor, labels: np.ndarray, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of the logits: with one logit, sigmoid BCE against 0/1 labels; otherwise softmax cross-entropy
    against class indices. `label_smoothing` e mixes the one-hot target with the uniform distribution (PyTorch's
    definition): the binary target y becomes y (1 - e) + e / 2, the same rule for two classes. An ensemble's (batch,
    members, classes) logits give the mean over the members of each member's loss on the same rows ("none": per
    row)."""
    if logits.ndim == 3:
        batch, members, classes = logits.shape
        flat = loss_fn(logits.reshape(batch * members, classes), np.repeat(labels, members),
                       "none" if reduction == "none" else "sum", label_smoothing)
        return flat.reshape(batch, members).mean(dim=1) if reduction == "none" else \
            flat / (members * (batch if reduction == "mean" else 1))
    if logits.shape[1] == 1:
        target = labels.astype(logits.dtype)
        if label_smoothing:
            target = (labels * (1.0 - label_smoothing) + label_smoothing / 2).astype(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits[:, 0], target, reduction=reduction)
    return F.cross_entropy(logits, labels, reduction=reduction, label_smoothing=label_smoothing)


@tg.no_grad()
def predict_proba(model: nn.Module, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Probabilities in eval mode: P(attack) of shape (N,) for binary models, (N, C) otherwise; an ensemble's are the
    mean of its members' probabilities."""
    was_training = model.training
    model.eval()
    logits = np.concatenate([model(features[i:i + batch_size]).numpy() for i in range(0, len(features), batch_size)])
    model.train(was_training)
    if logits.ndim == 3:  # (N, members, C)
        return _probabilities(logits, axis=2).mean(axis=1)
    return _probabilities(logits, axis=1)


def _probabilities(logits: np.ndarray, axis: int) -> np.ndarray:
    """Sigmoid of a single logit (dropping that axis), else softmax along `axis`."""
    if logits.shape[axis] == 1:
        return 1 / (1 + np.exp(-logits.take(0, axis=axis).astype(np.float64)))
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)


def predicted_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class indices: attack where P(attack) >= `threshold` (binary), else the most probable class."""
    return (probabilities >= threshold if probabilities.ndim == 1 else probabilities.argmax(axis=1)).astype(np.int64)


def split_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Cross-entropy loss and classification metrics of predicted probabilities; `threshold` is the binary decision
    threshold on P(attack) (a multiclass model takes the most probable class and has none)."""
    eps = 1e-12
    if probabilities.ndim == 1:
        p = np.clip(probabilities, eps, 1 - eps)
        loss = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
        metrics = binary_metrics(labels, probabilities, threshold)
    else:
        if threshold != 0.5:
            raise ValueError("a decision threshold applies to binary models only")
        loss = -np.mean(np.log(np.clip(probabilities[np.arange(len(labels)), labels], eps, None)))
        metrics = multiclass_metrics(labels, probabilities)
    return {"loss": float(loss), **metrics}


def evaluate(model: nn.Module, split: unsw.Split, batch_size: int = 4096) -> dict[str, float]:
    """Loss and classification metrics of `model` on a labelled split (binary: at threshold 0.5)."""
    return split_metrics(split.labels, predict_proba(model, split.features, batch_size))


def write_predictions(path: Path, probabilities: np.ndarray, ids: np.ndarray, class_names: list[str],
                      threshold: float = 0.5) -> None:
    """CSV of id, probability (of attack, or of the predicted class) and predicted label (binary: 1 where
    P(attack) >= `threshold`)."""
    if probabilities.ndim == 1:
        labels = predicted_classes(probabilities, threshold)
        rows = [f"{i},{p:.6f},{label}" for i, p, label in zip(ids, probabilities, labels, strict=True)]
    else:
        best = probabilities.argmax(axis=1)
        rows = [f"{i},{p[k]:.6f},{class_names[k]}" for i, p, k in zip(ids, probabilities, best, strict=True)]
    text = "id,probability,predicted_label\n" + "".join(row + "\n" for row in rows)
    atomic_write(path, lambda file: file.write(text.encode()))


def checkpoint_threshold(checkpoint: dict[str, Any]) -> tuple[float, str]:
    """The decision threshold a classifier checkpoint holds, and where it came from: the one chosen on the holdout
    when its run finished (best.npz), else 0.5 (last.npz, checkpoints of earlier versions, multiclass models)."""
    if "threshold" in checkpoint:
        return float(checkpoint["threshold"]), checkpoint.get("threshold_rule", "stored in the checkpoint")
    return 0.5, "the checkpoint holds no threshold chosen on a holdout"


# -- pretrained models -------------------------------------------------------------------------------------------
def _check_preprocessing(source: str, checkpoint: dict[str, Any], config: TrainConfig, data: unsw.UNSWData,
                         log: Callable[[str], None]) -> None:
    saved = checkpoint["preprocessing"]["preprocessor"]
    if saved["mode"] != config.data.preprocess:
        raise UsageError(f"{source} was pretrained on --preprocess {saved['mode']} rows, this run uses "
                         f"{config.data.preprocess}; pass --preprocess {saved['mode']}")
    if saved != data.preprocessor.to_dict():
        log(f"warning: {source} was pretrained with preprocessing fitted on other rows (a different --holdout or "
            "--seed?); its holdout may overlap this run's")


def load_mae_encoder(model: nn.Module, config: TrainConfig, data: unsw.UNSWData,
                     log: Callable[[str], None] = print) -> list[str]:
    """Load the MAE encoder of `config.pretraining.init_from_mae` into the classifier `model`
    (`MixerMAE.classifier_state`) and, with `freeze_encoder`, freeze the loaded parameters (requires_grad off, so the
    optimiser and the backward pass leave them out). Returns the loaded names."""
    source = config.pretraining.init_from_mae
    mae, checkpoint = load_model(source, MAE, MixerMAE)
    expected = {"dim": mae.dim, "depth": mae.depth, "patch_size": mae.patch_size,
                "token_expansion": mae.token_expansion, "channel_expansion": mae.channel_expansion}
    wrong = [f"--{name.replace('_', '-')} {value:g}" for name, value in expected.items()
             if getattr(config.model, name) != value]
    if wrong:
        raise UsageError(f"{source} holds the encoder of a {mae.dim}-dim, depth-{mae.depth}, patch-{mae.patch_size} "
                         f"Mixer; pass {' '.join(wrong)}")
    _check_preprocessing(source, checkpoint, config, data, log)
    state = mae.classifier_state()
    unexpected = model.load_state_dict(state, strict=False)[1]
    if unexpected:
        raise UsageError(f"{source}: the classifier has no {', '.join(unexpected)}; fine-tune the plain MLP-Mixer "
                         "(default token mixer and stem)")
    parameters = dict(model.named_parameters())
    if config.pretraining.freeze_encoder:
        for name in state:
            parameters[name].requires_grad = False
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"initialised {len(state)} tensors from the {mae.encoder_tokens!r}-token MAE encoder {source}"
        + ("; they are frozen" if config.pretraining.freeze_encoder else "") + f"; {trainable:,} parameters train")
    return list(state)


def make_latent_augmenter(config: TrainConfig, data: unsw.UNSWData,
                          log: Callable[[str], None] = print) -> LatentAugmenter:
    """The classifier's latent-noise augmentation from `latent_model`, scale `latent_noise`, with its own generator
    seeded from the run's seed (the run's other random streams are untouched)."""
    pretrained = config.pretraining
    vae, checkpoint = load_model(pretrained.latent_model, VAE, TabularVAE)
    _check_preprocessing(pretrained.latent_model, checkpoint, config, data, log)
    log(f"latent augmentation: VAE {pretrained.latent_model} (latent dim {vae.latent_dim}), noise scale "
        f"{pretrained.latent_noise}, half of each batch replaced by decoded rows")
    return LatentAugmenter(vae, pretrained.latent_noise, np.random.default_rng([config.run.seed, 2]))


# -- the run -----------------------------------------------------------------------------------------------------
class Trainer(Run):
    """One classifier run: data, model, optimiser and schedule from a config, trained epoch by epoch; after each
    epoch the metrics line, `last.npz` and (when the holdout score improved) `best.npz` are written to the run
    folder, at the end the selected model's decision threshold (chosen on the holdout, stored in `best.npz`), the
    plots, `result.json` and the predictions for the unlabelled file.

    Building a Trainer validates everything (folder, data, model, pretrained checkpoints) and writes nothing; `fit`
    writes. Model selection and the threshold never look at the test file: the holdout's ROC-AUC (accuracy for
    multiclass), or without a holdout the training loss."""

    kind = CLASSIFIER
    config_class = TrainConfig
    command = ""
    checkpoint_name = "last.npz"

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print, *, folder: RunFolder | None = None,
                 overwrite: bool = False, notes: list[str] | tuple[str, ...] = ()):
        super().__init__(list(notes))
        self.config, self.log = config, log
        self.folder = folder or RunFolder.fresh(config.run.out, config.name, overwrite)
        data, run = config.data, config.run
        if run.cv and not run.fold:
            raise ValueError(f"--cv {run.cv} without --fold is a cross-validation of {run.cv} runs, not one run: "
                             "start it with mixer.crossval.CrossValidation (as train.py does), or give --fold")
        self.data = unsw.load_unsw(data.data_dir, preprocess=data.preprocess, task=data.task,
                                   holdout=0.0 if run.cv else data.holdout, seed=run.seed,
                                   keep_codes=data.categorical == "embed", fold=(run.fold, run.cv) if run.cv else None)
        data.data_dir = str(self.data.data_dir)
        config.run.out = str(self.folder.path)
        self.categories = category_sizes(self.data.encoder)
        tg.manual_seed(config.run.seed)
        order_rng = np.random.default_rng(config.run.seed)
        ple_edges = None
        if config.model.numeric_embedding == "ple":  # on the training rows only: never the holdout or test
            ple_edges = fit_ple_edges(self.data.train.features[:, numeric_positions(config)], config.model.ple_bins)
        try:
            self.model = make_model(config, len(self.data.class_names), self.categories, ple_edges)
        except ValueError as error:  # the model's constructor refuses the options it was given
            raise ConfigError([str(error)]) from error
        self.augmenter = None
        if config.pretraining.init_from_mae is not None:
            load_mae_encoder(self.model, config, self.data, log)
        if config.pretraining.latent_noise:
            self.augmenter = make_latent_augmenter(config, self.data, log)
        settings = config.optimisation
        steps_per_epoch = math.ceil(len(self.data.train.labels) / (settings.batch_size * settings.accum_steps))
        self.optimizer = make_optimizer(config, self.model, steps_per_epoch)
        self.scheduler = make_scheduler(config, self.optimizer)
        averaging = config.averaging
        self.averages: dict[str, WeightAverage] = {}
        if averaging.ema:
            self.averages["ema"] = ModelEma(self.model, averaging.ema, averaging.ema_warmup)
        if averaging.swa_epochs:
            self.averages["swa"] = SWA(self.model)
        # a model of the same shape that the averages are copied into to be evaluated and saved; built with the
        # global generator put back, so that the run's random streams are those of a run without averages
        self.averaged_model = None
        if self.averages:
            state = tg.get_rng_state()
            self.averaged_model = make_model(config, len(self.data.class_names), self.categories, ple_edges)
            tg.set_rng_state(state)
        self.loop = TrainingLoop(
            self.model, self.optimizer, self.scheduler, num_rows=len(self.data.train.labels),
            make_batch=self._batch, batch_loss=self._batch_loss, batch_size=settings.batch_size,
            order_rng=order_rng, accum_steps=settings.accum_steps, clip_grad_norm=settings.clip_grad_norm,
            needs_closure=config.sam.variant != "none", monitor=UpdateMonitor(self.model), evaluate=self._evaluate,
            after_step=self.averages["ema"].update if "ema" in self.averages else None,
            after_epoch=self._swa_update if "swa" in self.averages else None,
            generators={"latent": self.augmenter.rng} if self.augmenter is not None else None, log=log)
        self.best_score = -math.inf

    # the loop's parts --------------------------------------------------------------------------------------------
    def _batch(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features = self.data.train.features[rows]
        return (self.augmenter(features) if self.augmenter is not None else features), self.data.train.labels[rows]

    def _batch_loss(self, batch: tuple[np.ndarray, np.ndarray], step_rows: int) -> StepLoss:
        """Summed cross-entropy of the batch (label-smoothed with --label-smoothing); backward runs on it / the step's
        rows (the step's mean)."""
        features, labels = batch
        loss = loss_fn(self.model(features), labels, reduction="sum",
                       label_smoothing=self.config.regularisation.label_smoothing)
        return StepLoss(loss / step_rows, loss.item(), {})

    def _evaluate(self) -> dict[str, Any]:
        """The holdout's and the test file's metrics of the weights, and under "ema" / "swa" those of each weight
        average that has started."""
        splits = {name: split for name, split in (("holdout", self.data.holdout), ("test", self.data.test))
                  if split is not None}
        batch_size = self.config.run.eval_batch_size
        record: dict[str, Any] = {name: evaluate(self.model, split, batch_size) for name, split in splits.items()}
        for name, average in self.averages.items():
            if average.updates:
                model = average.copy_to(self.averaged_model)
                record[name] = {split_name: evaluate(model, split, batch_size) for split_name, split in splits.items()}
        return record

    def _swa_update(self, epoch: int) -> None:
        """SWA averages the weights at the end of each of the last --swa-epochs epochs."""
        if epoch > self.epochs - self.config.averaging.swa_epochs:
            self.averages["swa"].update()

    def train_epoch(self) -> dict[str, float]:
        """One epoch of the loop (for tests and notebooks; `fit` runs them all)."""
        return self.loop.train_epoch(self.epochs)

    # what a run saves --------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The checkpoint of the run as it is now."""
        averages = {"averages": {name: average.state_dict() for name, average in self.averages.items()}} \
            if self.averages else {}
        return make_checkpoint(CLASSIFIER, config=self.config.flat(), model=self.model,
                               preprocessing=unsw.data_state(self.data), epoch=self.loop.epoch,
                               history=self.loop.history, **self.loop.state(),
                               class_names=list(self.data.class_names), best_score=self.best_score,
                               class_prior=class_prior(self.data.train.labels, len(self.data.class_names)).tolist(),
                               **averages)

    def restore_extra(self, checkpoint: dict[str, Any]) -> None:
        self.best_score = checkpoint["best_score"]
        for name, average in self.averages.items():
            average.load_state_dict(checkpoint["averages"][name])
        swa = self.averages.get("swa")
        if swa is not None and swa.updates and checkpoint["epoch"] - swa.updates < self.epochs - \
                self.config.averaging.swa_epochs:
            swa.updates = 0  # the extended run's last epochs start later: its average starts again
            self.notes.append(f"the run is extended to {self.epochs} epochs: SWA averages epochs "
                              f"{self.epochs - self.config.averaging.swa_epochs + 1}-{self.epochs}, and starts again")
        saved = checkpoint.get("preprocessing")
        if saved is not None and saved != unsw.data_state(self.data):
            self.notes.append("the preprocessing fitted on the data now differs from the one saved with the "
                              "checkpoint (other data, or another --data-dir?); the model continues on the new one")

    def folder_created(self) -> None:
        """A run resumed into a new folder brings the selected checkpoint of its earlier epochs along, so that the
        selection goes on over all epochs."""
        if self.resumed is None or (self.folder.path / "best.npz").exists():
            return
        source = Path(self.resumed[0]).parent / "best.npz"
        try:
            earlier = load_checkpoint(source) if source.is_file() else None
        except CheckpointError:
            earlier = None
        if earlier is not None and earlier.get("epoch", math.inf) <= self.resumed[1]:
            atomic_write(self.folder.path / "best.npz", lambda file: file.write(source.read_bytes()))
        elif self.resumed[1]:
            self.notes.append(f"no selected checkpoint (best.npz) of epochs 1-{self.resumed[1]} beside "
                              f"{self.resumed[0]}: the selection starts again at epoch {self.resumed[1] + 1}")

    def selection_score(self, record: dict[str, Any]) -> float:
        """Model selection never looks at the test file: holdout ROC-AUC (accuracy for multiclass), or minus the
        training loss without a holdout. An undefined score (one class in the holdout) counts as the worst."""
        if "holdout" in record:
            score = record["holdout"]["roc_auc"] if self.data.task == "binary" else record["holdout"]["accuracy"]
        else:
            score = -record["train"]["loss"]
        return -math.inf if math.isnan(score) else score

    def selection_rule(self) -> str:
        if self.data.holdout is None:
            return "the lowest training loss (no holdout)"
        among = f" of the weights and their {' and '.join(name.upper() for name in self.averages)}" \
            if self.averages else ""
        return "the best holdout " + ("ROC-AUC" if self.data.task == "binary" else "accuracy") + among

    def averages_summary(self) -> dict[str, dict[str, Any]]:
        """For the weights and each weight average: the epoch of its best holdout score and that score (what model
        selection compared), from the run's history."""
        summary: dict[str, dict[str, Any]] = {}
        metric = "roc_auc" if self.data.task == "binary" else "accuracy"
        for record in self.loop.history:
            for name, score in self.candidates(record).items():
                if name not in summary or score > summary[name]["score"]:
                    summary[name] = {"epoch": record["epoch"], "score": score}
        return {name: {"epoch": entry["epoch"], f"holdout_{metric}": entry["score"]} if self.data.holdout is not None
                else {"epoch": entry["epoch"], "train_loss": -entry["score"]} for name, entry in summary.items()}

    def candidates(self, record: dict[str, Any]) -> dict[str, float]:
        """The selection score of each set of weights an epoch record measured: the weights ("raw"), then each weight
        average with metrics ("ema", "swa"; only with a holdout: without one the score is the training loss, which
        only the raw weights have)."""
        scores = {"raw": self.selection_score(record)}
        if self.data.holdout is not None:
            scores.update({name: self.selection_score(record[name]) for name in self.averages if name in record})
        return scores

    def save(self, record: dict[str, Any]) -> bool:
        candidates = self.candidates(record)
        weights = max(candidates, key=candidates.__getitem__)  # the first of equal scores: the raw weights first
        score = candidates[weights]
        selected = score > self.best_score or not (self.folder.path / "best.npz").exists()
        if selected:
            self.best_score = max(score, self.best_score)
        state = self.state()
        if selected and weights == "raw":
            save_checkpoint(self.folder.path / "best.npz", {**state, **self._weights_entry("raw")})
        elif selected:  # an average: its weights, and no training state (it cannot be resumed)
            model = self.averages[weights].copy_to(self.averaged_model)
            kept = {key: value for key, value in state.items() if key not in ("optimizer", "scheduler", "rng",
                                                                                 "averages")}
            save_checkpoint(self.folder.path / "best.npz", {**kept, "model": model.state_dict(),
                                                           **self._weights_entry(weights)})
        save_checkpoint(self.folder.path / "last.npz", state)  # last: a resume continues from here
        return selected

    def _weights_entry(self, weights: str) -> dict[str, str]:
        """best.npz says which weights it holds when the run averages weights."""
        return {"selected_weights": weights} if self.averages else {}

    def weights_description(self, weights: str) -> str:
        averaging = self.config.averaging
        return {"raw": "the weights themselves", "ema": f"the EMA of the weights, decay {averaging.ema:g}",
                "swa": f"the SWA of the weights over the last {averaging.swa_epochs} epoch"
                       + ("s" if averaging.swa_epochs > 1 else "")}[weights]

    # start and end -----------------------------------------------------------------------------------------------
    def describe(self) -> list[str]:
        data = self.data
        fold = f" (fold {self.config.run.fold} of {self.config.run.cv})" if self.config.run.cv else ""
        rows = [f"train {len(data.train.labels):,}"] + ([f"holdout {len(data.holdout.labels):,}{fold}"]
                                                        if data.holdout else []) + [f"test {len(data.test.labels):,}"]
        if data.unlabelled is not None:
            rows.append(f"unlabelled {len(data.unlabelled.ids):,}")
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        averages = [self.weights_description(name).removeprefix("the ") for name in self.averages]
        averaged = f"; beside the weights, {' and '.join(averages)}" if averages else ""
        return [f"model: {self.config.model.name} ({type(self.model).__name__}), {trainable:,} trainable parameters"
                + averaged,
                f"data: {data.data_dir} ({', '.join(rows)} rows; test is {Path(data.test.source).name}, reported "
                "only)", f"output: {self.folder.path}"]

    def warnings(self) -> list[str]:
        splits = [self.data.test, self.data.unlabelled]
        return self.data.warnings + [line for split in splits if split is not None for line in split.warnings]

    def columns(self) -> dict[str, list[str]]:
        metrics = ["loss", "accuracy", "roc_auc"]
        score = "roc_auc" if self.data.task == "binary" else "accuracy"
        averaged = {f"{name}.holdout": [score] for name in self.averages} if self.data.holdout is not None else {}
        return {"train": ["loss"], "holdout": metrics if self.data.holdout is not None else [], "test": metrics,
                **averaged}

    def choose_threshold(self, holdout_probabilities: np.ndarray | None) -> tuple[float, str]:
        """The decision threshold of the selected binary model, from its holdout probabilities only (the test file
        is never seen), by --threshold-criterion; and how it was chosen, in words. 0.5 with `none` or without a
        holdout."""
        criterion = self.config.data.threshold_criterion
        if criterion == "none":
            return 0.5, "--threshold-criterion none"
        if holdout_probabilities is None:
            return 0.5, "no holdout to choose it on"
        name = "F1" if criterion == "f1" else criterion
        return (best_threshold(self.data.holdout.labels, holdout_probabilities, criterion),
                f"the best holdout {name} of the selected model")

    def finish(self) -> dict[str, Any]:
        """Evaluate the selected model (best.npz): binary, choose its decision threshold on the holdout and store it
        in best.npz, and measure calibration; report the holdout and the test file at 0.5 and at the threshold;
        write the plots, the predictions for the unlabelled file and, last (so that it marks a finished run),
        result.json."""
        folder, data, batch_size = self.folder.path, self.data, self.config.run.eval_batch_size
        best_path = folder / "best.npz"
        best = read_checkpoint(best_path, CLASSIFIER)
        model = make_model(self.config, len(data.class_names), self.categories)
        load_weights(model, best["model"], best_path)
        epoch = best["epoch"]
        splits = {name: split for name, split in (("holdout", data.holdout), ("test", data.test)) if split is not None}
        probabilities = {name: predict_proba(model, split.features, batch_size) for name, split in splits.items()}
        result: dict[str, Any] = {"selected_epoch": epoch, "selected_by": self.selection_rule()}
        if self.averages:
            result["selected_weights"] = best.get("selected_weights", "raw")
            result["weights_compared"] = self.averages_summary()
        threshold, curves = 0.5, {}
        if data.task == "binary":
            threshold, rule = self.choose_threshold(probabilities.get("holdout"))
            best["threshold"], best["threshold_rule"] = threshold, rule
            save_checkpoint(best_path, best)  # atomically, as every checkpoint
            result["threshold"], result["threshold_rule"] = threshold, rule
            for name, split in splits.items():
                p = probabilities[name]
                result[name] = {**split_metrics(split.labels, p), "ece": expected_calibration_error(split.labels, p)}
                at_threshold = binary_metrics(split.labels, p, threshold)
                result[f"{name}_at_threshold"] = {key: at_threshold[key] for key in THRESHOLD_METRICS}
                curves[name] = reliability_curve(split.labels, p)
        else:
            result["test"] = split_metrics(data.test.labels, probabilities["test"])
        test_probabilities = probabilities["test"]
        result["confusion_matrix"] = confusion_matrix(data.test.labels, predicted_classes(test_probabilities),
                                                      len(data.class_names)).tolist()
        matrix = confusion_matrix(data.test.labels, predicted_classes(test_probabilities, threshold),
                                  len(data.class_names))
        if data.task == "binary":
            result["confusion_matrix_at_threshold"] = matrix.tolist()
        result["confusion_matrix_axes"] = {
            "rows": "true class", "columns": "predicted class", "classes": list(data.class_names),
            "counts": f"rows of the test file ({Path(data.test.source).name}), the selected model (epoch {epoch})",
            "confusion_matrix": "predicted at threshold 0.5" if data.task == "binary" else "the most probable class",
            **({"confusion_matrix_at_threshold": "predicted at the decision threshold (threshold)"}
               if data.task == "binary" else {})}
        test_name, rows = Path(data.test.source).name, len(data.test.labels)
        at = "" if data.task != "binary" else " at threshold 0.5"
        which = f", {self.weights_description(result['selected_weights'])}" if self.averages else ""
        self.log(f"selected epoch {epoch} of {self.epochs}{which} ({self.selection_rule()}); on test ({test_name}, "
                 f"{rows:,} rows){at}: " + format_metrics(result["test"]))
        if data.task == "binary":
            self.log(f"decision threshold {threshold:.4f} ({result['threshold_rule']}), stored in best.npz:")
            self.log(format_threshold_table(result, threshold))
        shown = f", threshold {threshold:.4f}" if data.task == "binary" else ""
        self.log(f"confusion matrix on test, epoch {epoch}{shown} (rows: true class, columns: predicted; % of the "
                 "row):")
        self.log(format_confusion(matrix, data.class_names))
        plot_history(folder / "loss_curves.png", self.loop.history, ["loss", "accuracy", "roc_auc"],
                     f"{self.config.model.name}: train, holdout and test per epoch", selected_epoch=epoch)
        plot_confusion(folder / "confusion_matrix.png", matrix, data.class_names,
                       f"test: {test_name} ({rows:,} rows)\nmodel of epoch {epoch} (best.npz, {self.selection_rule()})"
                       + (f"\nthreshold {threshold:.4f} ({result['threshold_rule']})" if data.task == "binary"
                          else ""))
        written = ["config.json", "metrics.jsonl", "best.npz", "last.npz", "result.json", "loss_curves.png",
                   "confusion_matrix.png"]
        if curves:
            eces = {name: result[name]["ece"] for name in curves}
            plot_reliability(folder / "reliability.png", curves, eces, f"{self.config.model.name}: calibration of "
                             f"the selected model (epoch {epoch}, best.npz)")
            written.append("reliability.png")
        if data.unlabelled is not None:
            write_predictions(folder / "predictions_testing2.csv", predict_proba(model, data.unlabelled.features),
                              data.unlabelled.ids, data.class_names, threshold)
            written.append("predictions_testing2.csv")
        self.folder.write_json("result.json", result)
        self.log(f"results in {folder}: {', '.join(written)}")
        return result


# -- using a saved model -----------------------------------------------------------------------------------------
def load_trained(checkpoint_path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a classifier checkpoint (in eval mode), and the checkpoint (config, preprocessing, class names)."""
    checkpoint = read_checkpoint(checkpoint_path, CLASSIFIER)
    config = TrainConfig.from_dict(TrainConfig.saved(checkpoint["config"]), given=())
    categories = None
    if config.data.categorical == "embed":
        categories = category_sizes(unsw.preprocessing_from_state(checkpoint["preprocessing"])[0])
    model = make_model(config, len(checkpoint["class_names"]), categories)
    load_weights(model, checkpoint["model"], checkpoint_path)
    return model.eval(), checkpoint
