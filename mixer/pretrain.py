"""Self-supervised pretraining on the training rows of UNSW-NB15 (labels unused; the test and unlabelled files never
read) -- a Mixer masked autoencoder (He et al. 2022, arXiv:2111.06377) or a tabular VAE (Kingma & Welling 2014,
arXiv:1312.6114) -- on the same training loop as the classifier (`mixer.loop`). The classifier uses the results
through their checkpoints (`mixer.training`: initialise it from the MAE encoder, or augment its training rows in the
VAE's latent space).

A run writes to its folder (as a classifier run does: a new runs/<date>-<time>-mae unless --out names one):
`config.json`, `metrics.jsonl` (train and holdout loss per epoch), the plot, and the checkpoint (`mae.npz` or
`vae.npz`: weights, model config, the preprocessing it was trained with, and the loop's state, so that
`--resume` continues it), rewritten after every epoch. The holdout is the one the classifier takes with the same
`--holdout` and `--seed`, so a classifier fine-tuned with those settings is selected on rows pretraining never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import tinygrad_np as tg
from tinygrad_np import nn

from . import data as unsw
from .checkpoint import MAE, VAE, load_model, make_checkpoint, save_checkpoint
from .config import MAEPretrainConfig, PretrainConfig, VAEPretrainConfig
from .loop import StepLoss, TrainingLoop, optimizer_by_name, parameter_groups, schedule_by_name
from .models.mae import MixerMAE
from .models.vae import TabularVAE
from .report import plot_history
from .run import Run, RunFolder
from .settings import ConfigError

BatchLoss = Callable[[nn.Module, np.ndarray, np.random.Generator], tuple[Any, dict[str, float]]]


class Pretrainer(Run):
    """A pretraining run: the training rows (features only) through `batch_loss`, with AdamW (weight decay by the
    package's one rule), a linear warm-up and cosine decay; after every epoch the holdout loss is measured (in eval
    mode, with the same masks / noise every epoch) and the checkpoint rewritten."""

    config: PretrainConfig
    plot_name: ClassVar[str]
    panels: ClassVar[dict[str, str]]

    def __init__(self, config: PretrainConfig, log: Callable[[str], None] = print, *, folder: RunFolder | None = None,
                 overwrite: bool = False, notes: list[str] | tuple[str, ...] = ()):
        super().__init__(list(notes))
        self.config, self.log = config, log
        self.folder = folder or RunFolder.fresh(config.run.out, config.name, overwrite)
        settings = config.data
        self.data = unsw.load_unsw(settings.data_dir, preprocess=settings.preprocess, holdout=settings.holdout,
                                   seed=config.run.seed)
        settings.data_dir = str(self.data.data_dir)
        config.run.out = str(self.folder.path)
        train = self.data.train.features
        tg.manual_seed(config.run.seed)
        try:
            self.model = self.build()
        except ValueError as error:  # the model's constructor refuses the options it was given
            raise ConfigError([str(error)]) from error
        optimisation, schedule = config.optimisation, config.schedule
        optimizer = optimizer_by_name("adamw", parameter_groups(self.model, optimisation.weight_decay), optimisation.lr)
        self.rng = np.random.default_rng(config.run.seed)  # the row order, and the masks / noise of training
        self.loop = TrainingLoop(
            self.model, optimizer, schedule_by_name(optimizer, "cosine", schedule.epochs, schedule.warmup_epochs,
                                                 schedule.eta_min),
            num_rows=len(train), make_batch=lambda rows: train[rows], batch_loss=self._batch_loss,
            batch_size=optimisation.batch_size, order_rng=self.rng, clip_grad_norm=optimisation.clip_grad_norm,
            evaluate=self._evaluate, log=log)

    # to be provided ----------------------------------------------------------------------------------------------
    def build(self) -> nn.Module:
        raise NotImplementedError

    def loss(self, batch: np.ndarray, rng: np.random.Generator) -> tuple[Any, dict[str, float]]:
        """The batch's mean loss (a Tensor) and its terms (floats)."""
        raise NotImplementedError

    # the loop's parts --------------------------------------------------------------------------------------------
    def _batch_loss(self, batch: np.ndarray, step_rows: int) -> StepLoss:
        loss, parts = self.loss(batch, self.rng)
        rows = len(batch)
        return StepLoss(loss, loss.item() * rows, {name: value * rows for name, value in parts.items()})

    @tg.no_grad()
    def _evaluate(self) -> dict[str, Any]:
        """Row-weighted mean holdout loss (and its terms) in eval mode; the same masks / noise every epoch."""
        if self.data.holdout is None:
            return {}
        features, batch_size = self.data.holdout.features, self.config.run.eval_batch_size
        self.model.eval()
        rng = np.random.default_rng([self.config.run.seed, 1])
        totals: dict[str, float] = {}
        for start in range(0, len(features), batch_size):
            batch = features[start:start + batch_size]
            loss, parts = self.loss(batch, rng)
            for name, value in {"loss": loss.item(), **parts}.items():
                totals[name] = totals.get(name, 0.0) + value * len(batch)
        self.model.train()
        return {"holdout": {name: value / len(features) for name, value in totals.items()}}

    # what a run saves --------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return make_checkpoint(self.kind, config=self.config.flat(), model=self.model,
                               preprocessing=unsw.data_state(self.data), epoch=self.loop.epoch,
                               history=self.loop.history, model_config=self.model.config(), **self.loop.state())

    def save(self, record: dict[str, Any]) -> bool:
        save_checkpoint(self.folder.path / self.checkpoint_name, self.state())
        return False

    # start and end -----------------------------------------------------------------------------------------------
    def describe(self) -> list[str]:
        data = self.data
        rows = f"train {len(data.train.features):,}" + (f", holdout {len(data.holdout.features):,}"
                                                        if data.holdout is not None else "")
        return [f"model: {type(self.model).__name__}, {self.model.num_parameters():,} parameters",
                f"data: {data.data_dir} ({rows} rows of {Path(data.train.source).name}; labels unused)",
                f"output: {self.folder.path}"]

    def warnings(self) -> list[str]:
        return list(self.data.warnings)

    def columns(self) -> dict[str, list[str]]:
        names = list(self.panels)
        return {"train": names, "holdout": names if self.data.holdout is not None else []}

    def finish(self) -> dict[str, Any]:
        plot_history(self.folder.path / self.plot_name, self.loop.history, list(self.panels), self.title())
        checkpoint = self.folder.path / self.checkpoint_name
        self.log(f"results in {self.folder.path}: config.json, metrics.jsonl, {self.checkpoint_name}, "
                 f"{self.plot_name}")
        self.log(self.next_step(checkpoint))
        return {"checkpoint": str(checkpoint), "history": self.loop.history}

    def title(self) -> str:
        raise NotImplementedError

    def next_step(self, checkpoint: Path) -> str:
        raise NotImplementedError


# -- MAE ---------------------------------------------------------------------------------------------------------
class MAEPretrainer(Pretrainer):
    kind = MAE
    config_class = MAEPretrainConfig
    command = "pretrain-mae "
    checkpoint_name = "mae.npz"
    plot_name = "reconstruction_loss.png"
    panels = {"loss": "reconstruction loss (removed patches)"}
    config: MAEPretrainConfig

    def build(self) -> MixerMAE:
        model = self.config.model
        return MixerMAE(seq_len=unsw.N_FEATURES, patch_size=model.patch_size, dim=model.dim, depth=model.depth,
                        decoder_dim=model.decoder_dim, decoder_depth=model.decoder_depth, mask_ratio=model.mask_ratio,
                        norm_pix_loss=model.norm_pix_loss, encoder_tokens=model.encoder_tokens)

    def loss(self, batch: np.ndarray, rng: np.random.Generator) -> tuple[Any, dict[str, float]]:
        return self.model(batch, rng).loss, {}

    def title(self) -> str:
        return f"MixerMAE, mask ratio {self.config.model.mask_ratio}: reconstruction loss of the removed patches"

    def next_step(self, checkpoint: Path) -> str:
        model = self.config.model
        return (f"fine-tune with `python train.py --init-from-mae {checkpoint} --dim {model.dim} --depth "
                f"{model.depth} --patch-size {model.patch_size}` (add --freeze-encoder for a linear probe)")


def pretrain_mae(config: MAEPretrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Pretrain a MixerMAE on the training rows; writes mae.npz, metrics.jsonl and reconstruction_loss.png."""
    return MAEPretrainer(config, log).fit()


# -- VAE ---------------------------------------------------------------------------------------------------------
class VAEPretrainer(Pretrainer):
    kind = VAE
    config_class = VAEPretrainConfig
    command = "pretrain-vae "
    checkpoint_name = "vae.npz"
    plot_name = "elbo_loss.png"
    panels = {"loss": "negative ELBO", "reconstruction": "reconstruction (squared error per row)",
              "kl": "KL to the prior"}
    config: VAEPretrainConfig

    def build(self) -> TabularVAE:
        model = self.config.model
        return TabularVAE(in_features=unsw.N_FEATURES, latent_dim=model.latent_dim, hidden=model.hidden)

    def loss(self, batch: np.ndarray, rng: np.random.Generator) -> tuple[Any, dict[str, float]]:
        terms = self.model.loss(batch, beta=self.config.model.beta, rng=rng)
        return terms.loss, {"reconstruction": terms.reconstruction.item(), "kl": terms.kl.item()}

    def title(self) -> str:
        return f"TabularVAE, beta {self.config.model.beta}"

    def next_step(self, checkpoint: Path) -> str:
        return f"augment a classifier with `python train.py --latent-model {checkpoint} --latent-noise 0.5`"


def pretrain_vae(config: VAEPretrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Pretrain a TabularVAE on the training rows; writes vae.npz, metrics.jsonl and elbo_loss.png."""
    return VAEPretrainer(config, log).fit()


# -- loading them ---------------------------------------------------------------------------------------------
def load_mae(path: str | Path) -> tuple[MixerMAE, dict[str, Any]]:
    """The MixerMAE of a `pretrain-mae` checkpoint, and the checkpoint."""
    return load_model(path, MAE, MixerMAE)


def load_vae(path: str | Path) -> tuple[TabularVAE, dict[str, Any]]:
    """The TabularVAE of a `pretrain-vae` checkpoint, and the checkpoint."""
    return load_model(path, VAE, TabularVAE)
