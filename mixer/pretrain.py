"""Self-supervised pretraining on the training rows of UNSW-NB15 (labels unused; testing1 and testing2 never
read) -- a Mixer masked autoencoder (He et al. 2022, arXiv:2111.06377) or a tabular VAE (Kingma & Welling 2014,
arXiv:1312.6114) -- and the hooks that let `train.py` use the result: initialise the classifier from the MAE
encoder (optionally frozen) and augment its training rows in the VAE's latent space.

A run writes under `out`: `config.json`, `metrics.jsonl` (train and hold-out loss per epoch), the plot, and the
checkpoint (`mae.npz` or `vae.npz`: model config, weights, the preprocessing it was trained with), rewritten after
every epoch. The hold-out is the one `train.py` takes with the same `--holdout` and `--seed`, so a classifier
fine-tuned with those settings is selected on rows the pretraining never saw.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_np as tg
from tinygrad_np import Tensor, nn, optim
from tinygrad_np.optim import lr_scheduler

from . import data as unsw
from .checkpoint import load_checkpoint, save_checkpoint
from .models.mae import ENCODER_TOKENS, MixerMAE
from .models.vae import LatentAugmenter, TabularVAE
from .training import TrainConfig, TrainingDiverged, write_json

MAE_FORMAT = "tinygrad_np-mixer-mae"
VAE_FORMAT = "tinygrad_np-mixer-vae"


@dataclasses.dataclass
class PretrainConfig:
    """Settings shared by both pretraining runs (AdamW with linear warm-up and cosine decay, as MAE)."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    eta_min: float = 1e-5
    clip_grad_norm: float = 1.0
    preprocess: str = unsw.DEFAULT_PREPROCESS
    holdout: float = 0.1
    seed: int = 0
    data_dir: str | None = None
    out: str = "runs/pretrain"
    eval_batch_size: int = 4096

    def __post_init__(self) -> None:
        bad = [name for name, ok in self._checks().items() if not ok]
        if bad:
            raise ValueError("invalid pretraining configuration: "
                             + ", ".join(f"{name}={getattr(self, name)!r}" for name in bad))

    def _checks(self) -> dict[str, bool]:
        return {"epochs": self.epochs > 0, "batch_size": self.batch_size >= 1, "lr": self.lr > 0,
                "weight_decay": self.weight_decay >= 0, "warmup_epochs": 0 <= self.warmup_epochs < self.epochs,
                "eta_min": 0 <= self.eta_min <= self.lr, "clip_grad_norm": self.clip_grad_norm >= 0,
                "preprocess": self.preprocess in unsw.PREPROCESS_MODES, "holdout": 0 <= self.holdout < 1,
                "eval_batch_size": self.eval_batch_size >= 1}


@dataclasses.dataclass
class MAEPretrainConfig(PretrainConfig):
    """A MixerMAE pretraining run; dim, depth and patch_size must match the classifier it initialises."""

    dim: int = 64
    depth: int = 4
    patch_size: int = 3
    mask_ratio: float = 0.5
    decoder_dim: int = 32
    decoder_depth: int = 1
    norm_pix_loss: bool = False
    encoder_tokens: str = "kept"
    out: str = "runs/mae"

    def _checks(self) -> dict[str, bool]:
        return {**super()._checks(), "dim": self.dim >= 1, "depth": self.depth >= 0, "patch_size": self.patch_size >= 1,
                "mask_ratio": 0 <= self.mask_ratio < 1, "decoder_dim": self.decoder_dim >= 1,
                "decoder_depth": self.decoder_depth >= 0, "encoder_tokens": self.encoder_tokens in ENCODER_TOKENS}


@dataclasses.dataclass
class VAEPretrainConfig(PretrainConfig):
    """A TabularVAE pretraining run."""

    latent_dim: int = 8
    hidden: int = 64
    beta: float = 1.0
    out: str = "runs/vae"

    def _checks(self) -> dict[str, bool]:
        return {**super()._checks(), "latent_dim": self.latent_dim >= 1, "hidden": self.hidden >= 1,
                "beta": self.beta >= 0}


PRETRAIN_FLAG_HELP = {
    "epochs": "pretraining epochs", "batch_size": "rows per step", "lr": "peak learning rate (AdamW)",
    "weight_decay": "AdamW weight decay on weight matrices", "warmup_epochs": "linear warm-up length (epochs)",
    "eta_min": "final learning rate of the cosine decay", "clip_grad_norm": "max global gradient norm (0: off)",
    "preprocess": "quantile | log-standard | seed (use the classifier's)", "holdout": "fraction of train kept out "
    "(use the classifier's, with the same --seed, so its hold-out stays unseen)", "seed": "init, order and masks",
    "data_dir": "folder with the UNSW-NB15 CSVs", "out": "output folder", "eval_batch_size": "rows per eval batch",
    "dim": "encoder channels per token (= the classifier's --dim)", "depth": "encoder Mixer blocks (= --depth)",
    "patch_size": "features per token (= --patch-size)", "mask_ratio": "fraction of tokens removed per row",
    "decoder_dim": "decoder channels per token", "decoder_depth": "decoder Mixer blocks",
    "norm_pix_loss": "reconstruct per-patch normalised values", "encoder_tokens": "kept (MAE: the encoder sees "
    "the kept tokens only) | all (removed tokens become a mask token; every encoder weight transfers)",
    "latent_dim": "size of the latent code", "hidden": "hidden units of encoder and decoder",
    "beta": "weight of the KL term",
}


# -- the shared loop ---------------------------------------------------------------------------------------------
BatchLoss = Callable[[nn.Module, np.ndarray, np.random.Generator], tuple[Tensor, dict[str, float]]]


def _optimizer_and_schedule(config: PretrainConfig, model: nn.Module) -> tuple[optim.Optimizer, Any]:
    """AdamW with weight decay on the Linear weights only (not biases, norms, position embeddings, mask tokens)."""
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.ndim == 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim != 2], "weight_decay": 0.0}]
    optimizer = optim.AdamW(groups, lr=config.lr)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs - config.warmup_epochs,
                                            eta_min=config.eta_min)
    if config.warmup_epochs > 0:
        return optimizer, lr_scheduler.LinearWarmup(optimizer, warmup_steps=config.warmup_epochs, after=cosine)
    return optimizer, cosine


@tg.no_grad()
def _evaluate(model: nn.Module, features: np.ndarray, batch_loss: BatchLoss, seed: int,
              batch_size: int) -> dict[str, float]:
    """Row-weighted mean loss (and its parts) in eval mode; the same masks / noise every epoch (fixed seed)."""
    was_training = model.training
    model.eval()
    rng = np.random.default_rng([seed, 1])
    totals: dict[str, float] = {}
    for start in range(0, len(features), batch_size):
        batch = features[start:start + batch_size]
        loss, parts = batch_loss(model, batch, rng)
        for name, value in {"loss": loss.item(), **parts}.items():
            totals[name] = totals.get(name, 0.0) + value * len(batch)
    model.train(was_training)
    return {name: value / len(features) for name, value in totals.items()}


def _pretrain(config: PretrainConfig, build: Callable[[], nn.Module], batch_loss: BatchLoss, fmt: str,
              checkpoint_name: str, plot: Callable[[Path, list[dict[str, Any]]], None],
              log: Callable[[str], None]) -> dict[str, Any]:
    """Load the data, build the model under the seed, train with AdamW + warm-up + cosine, and after every epoch
    write the metrics line and the checkpoint. Only `data.train` feature rows are used (and the hold-out for the
    reported loss); the labels are never read."""
    out = Path(config.out)
    data = unsw.load_unsw(config.data_dir, preprocess=config.preprocess, holdout=config.holdout, seed=config.seed)
    train = data.train.features
    holdout = data.holdout.features if data.holdout is not None else None
    tg.manual_seed(config.seed)
    model = build()
    optimizer, schedule = _optimizer_and_schedule(config, model)
    rng = np.random.default_rng(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", dataclasses.asdict(config))
    (out / "metrics.jsonl").write_text("")
    log(f"{type(model).__name__}: {model.num_parameters():,} parameters; {len(train):,} training rows"
        + (f", {len(holdout):,} held out" if holdout is not None else ""))
    history: list[dict[str, Any]] = []
    steps = math.ceil(len(train) / config.batch_size)
    for epoch in range(config.epochs):
        start_time = time.perf_counter()
        model.train()
        order = rng.permutation(len(train))
        totals: dict[str, float] = {}
        for step in range(steps):
            batch = train[order[step * config.batch_size:(step + 1) * config.batch_size]]
            loss, parts = batch_loss(model, batch, rng)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"the pretraining loss became {value} at epoch {epoch + 1}, step {step + 1}")
            loss.backward()
            if config.clip_grad_norm:
                optim.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            optimizer.step()
            optimizer.zero_grad()
            schedule.step(epoch + (step + 1) / steps)
            for name, part in {"loss": value, **parts}.items():
                totals[name] = totals.get(name, 0.0) + part * len(batch)
        record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": totals["loss"] / len(train),
                                  "lr": optimizer.param_groups[0]["lr"]}
        record.update({f"train_{name}": value / len(train) for name, value in totals.items() if name != "loss"})
        if holdout is not None:
            evaluated = _evaluate(model, holdout, batch_loss, config.seed, config.eval_batch_size)
            record["holdout_loss"] = evaluated.pop("loss")
            record.update({f"holdout_{name}": value for name, value in evaluated.items()})
        record["seconds"] = time.perf_counter() - start_time
        history.append(record)
        log(f"epoch {epoch + 1}: " + " ".join(f"{name} {value:.4f}" for name, value in record.items()
                                              if name.endswith("loss") or name.startswith(("train_", "holdout_"))))
        with open(out / "metrics.jsonl", "a") as file:
            file.write(json.dumps(record) + "\n")
        save_checkpoint(out / checkpoint_name, {
            "format": fmt, "version": 1, "model_config": model.config(), "config": dataclasses.asdict(config),
            "model": model.state_dict(), "preprocessing": unsw.data_state(data), "epoch": epoch + 1,
            "history": history})
    plot(out, history)
    return {"checkpoint": str(out / checkpoint_name), "history": history}


def _plot_losses(path: Path, history: list[dict[str, Any]], panels: dict[str, str], title: str) -> None:
    """One panel per metric name (train and hold-out curves) against the epoch, written with matplotlib's Agg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [record["epoch"] for record in history]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (name, label) in zip(axes[0], panels.items(), strict=True):
        for split in ("train", "holdout"):
            key = f"{split}_{name}"
            if history and key in history[0]:
                ax.plot(epochs, [record[key] for record in history], marker="o", label=split)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- MAE ------------------------------------------------------------------------------------------------------
def _mae_batch_loss(model: nn.Module, batch: np.ndarray, rng: np.random.Generator) -> tuple[Tensor, dict[str, float]]:
    return model(batch, rng).loss, {}


def pretrain_mae(config: MAEPretrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Pretrain a MixerMAE on the training rows; writes mae.npz, metrics.jsonl and reconstruction_loss.png."""
    def build() -> MixerMAE:
        return MixerMAE(seq_len=unsw.N_FEATURES, patch_size=config.patch_size, dim=config.dim, depth=config.depth,
                        decoder_dim=config.decoder_dim, decoder_depth=config.decoder_depth,
                        mask_ratio=config.mask_ratio, norm_pix_loss=config.norm_pix_loss,
                        encoder_tokens=config.encoder_tokens)

    def plot(out: Path, history: list[dict[str, Any]]) -> None:
        _plot_losses(out / "reconstruction_loss.png", history, {"loss": "reconstruction loss (removed patches)"},
                     f"MixerMAE, mask ratio {config.mask_ratio}")

    return _pretrain(config, build, _mae_batch_loss, MAE_FORMAT, "mae.npz", plot, log)


def _rebuilt(model_class: type[nn.Module], config: dict[str, Any]) -> Any:
    """`model_class(**config)` with the global generator's state put back afterwards: the weights are about to be
    overwritten, and a classifier run loading this model must keep the same dropout stream as without it."""
    state = tg.get_rng_state()
    try:
        return model_class(**config)
    finally:
        tg.set_rng_state(state)


def _load(path: str | Path, model_class: type, checkpoint_format: str, command: str) -> tuple[Any, dict[str, Any]]:
    checkpoint = load_checkpoint(path)
    if checkpoint.get("format") != checkpoint_format:
        raise ValueError(f"{path} is not a checkpoint of `train.py {command}`")
    model = _rebuilt(model_class, checkpoint["model_config"])
    model.load_state_dict(checkpoint["model"])
    return model, checkpoint


def load_mae(path: str | Path) -> tuple[MixerMAE, dict[str, Any]]:
    """The MixerMAE of a `pretrain_mae` checkpoint, and the checkpoint."""
    return _load(path, MixerMAE, MAE_FORMAT, "pretrain-mae")


def _check_preprocessing(source: str, checkpoint: dict[str, Any], config: TrainConfig, data: unsw.UNSWData,
                         log: Callable[[str], None]) -> None:
    saved = checkpoint["preprocessing"]["preprocessor"]
    if saved["mode"] != config.preprocess:
        raise ValueError(f"{source} was pretrained on --preprocess {saved['mode']} rows, this run uses "
                         f"{config.preprocess}; pass --preprocess {saved['mode']}")
    if saved != data.preprocessor.to_dict():
        log(f"warning: {source} was pretrained with preprocessing fitted on other rows (a different --holdout or "
            "--seed?); its hold-out may overlap this run's")


def load_mae_encoder(model: nn.Module, config: TrainConfig, data: unsw.UNSWData,
                     log: Callable[[str], None] = print) -> list[str]:
    """Load the MAE encoder of `config.init_from_mae` into the classifier `model` (`MixerMAE.classifier_state`)
    and, with `config.freeze_encoder`, freeze the loaded parameters (requires_grad off, so the optimiser and the
    backward pass leave them out). Returns the loaded names."""
    mae, checkpoint = load_mae(config.init_from_mae)
    expected = {"model": "mlp-mixer", "dim": mae.dim, "depth": mae.depth, "patch_size": mae.patch_size}
    wrong = [f"--{name.replace('_', '-')} {value}" for name, value in expected.items()
             if getattr(config, name) != value]
    if wrong:
        raise ValueError(f"{config.init_from_mae} holds the encoder of a {mae.dim}-dim, depth-{mae.depth}, "
                         f"patch-{mae.patch_size} Mixer; pass {' '.join(wrong)}")
    _check_preprocessing(config.init_from_mae, checkpoint, config, data, log)
    state = mae.classifier_state()
    unexpected = model.load_state_dict(state, strict=False)[1]
    if unexpected:
        raise ValueError(f"{config.init_from_mae}: the classifier has no {', '.join(unexpected)}; fine-tune the "
                         "plain MLP-Mixer (default token mixer and stem)")
    parameters = dict(model.named_parameters())
    if config.freeze_encoder:
        for name in state:
            parameters[name].requires_grad = False
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"initialised {len(state)} tensors from the {mae.encoder_tokens!r}-token MAE encoder {config.init_from_mae}"
        + ("; they are frozen" if config.freeze_encoder else "") + f"; {trainable:,} parameters train")
    return list(state)


# -- VAE ------------------------------------------------------------------------------------------------------
def pretrain_vae(config: VAEPretrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Pretrain a TabularVAE on the training rows; writes vae.npz, metrics.jsonl and elbo_loss.png."""
    def build() -> TabularVAE:
        return TabularVAE(in_features=unsw.N_FEATURES, latent_dim=config.latent_dim, hidden=config.hidden)

    def batch_loss(model: nn.Module, batch: np.ndarray, rng: np.random.Generator) -> tuple[Tensor, dict[str, float]]:
        terms = model.loss(batch, beta=config.beta, rng=rng)
        return terms.loss, {"reconstruction": terms.reconstruction.item(), "kl": terms.kl.item()}

    def plot(out: Path, history: list[dict[str, Any]]) -> None:
        _plot_losses(out / "elbo_loss.png", history, {"loss": "negative ELBO", "reconstruction": "reconstruction "
                     "(squared error per row)", "kl": "KL to the prior"}, f"TabularVAE, beta {config.beta}")

    return _pretrain(config, build, batch_loss, VAE_FORMAT, "vae.npz", plot, log)


def load_vae(path: str | Path) -> tuple[TabularVAE, dict[str, Any]]:
    """The TabularVAE of a `pretrain_vae` checkpoint, and the checkpoint."""
    return _load(path, TabularVAE, VAE_FORMAT, "pretrain-vae")


def make_latent_augmenter(config: TrainConfig, data: unsw.UNSWData,
                          log: Callable[[str], None] = print) -> LatentAugmenter:
    """The classifier's latent-noise augmentation from `config.latent_model`, scale `config.latent_noise`, with its
    own generator seeded from `config.seed` (the run's other random streams are untouched)."""
    vae, checkpoint = load_vae(config.latent_model)
    _check_preprocessing(config.latent_model, checkpoint, config, data, log)
    log(f"latent augmentation: VAE {config.latent_model} (latent dim {vae.latent_dim}), noise scale "
        f"{config.latent_noise}, half of each batch replaced by decoded rows")
    return LatentAugmenter(vae, config.latent_noise, np.random.default_rng([config.seed, 2]))
