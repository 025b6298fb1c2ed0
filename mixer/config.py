"""The run options, by group, like the argument groups of timm's train.py: model, data, optimisation, schedule,
regularisation, weight averaging, SAM and noisy updates, pretrained models, run. Each option is written once
(`mixer.settings.option`): its type, default, help, choices (the lists of the modules that implement them), the rule
its value must follow, the models it is an option of and when else it applies. `train.py --help` shows the groups as
argparse groups, and a `--config` file (JSON or TOML) may use them as sections or list the options flat, under the
flag names (`dim = 16`, `warmup-epochs = 0.5`). `config.json` of a run holds the groups with only the options that
apply to it, and is itself a valid `--config` file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

from tinygrad_np.optim.noise import NOISE_SCHEDULES

from .data import DEFAULT_PREPROCESS, N_FEATURES, PREPROCESS_MODES, TASKS
from .loop import OPTIMIZERS, SCHEDULERS
from .metrics import THRESHOLD_CRITERIA
from .models import CONV_BLOCKS, ENCODER_TOKENS, MODELS, NUMERIC_EMBEDDINGS, STEMS, TOKEN_MIXERS, TOKENS
from .models.mae import kept_token_count
from .settings import Applies, ConfigError, Rule, Settings, above, at_least, in_range, option, read_config_file

__all__ = ["ConfigError", "MAEPretrainConfig", "PretrainConfig", "TrainConfig", "VAEPretrainConfig",
           "read_config_file"]

CATEGORICAL_MODES = ("auto", "embed", "numeric")  # auto: embed where the model can, numeric otherwise
SAM_VARIANTS = ("none", "sam", "asam", "ssam-f", "ssam-d")  # ssam-*: SparseSAM's Fisher / dynamic masks
THRESHOLD_CHOICES = (*THRESHOLD_CRITERIA, "none")  # none: the threshold stays 0.5
MIXER = ("mlp-mixer",)  # the model of the tabular options (categories embedded, numerical embeddings, feature tokens)
CONV_MODELS = ("convnext", "hybrid", "resnext")  # the models of stages of conv blocks
MIXERS_OF_BLOCKS = ("mlp-mixer", "hybrid")  # the models with Mixer blocks


# -- shared options (written once, used by training and pretraining) --------------------------------------------
def _epochs(default: int) -> Any:
    return option(default, "training epochs", rule=at_least(1))


def _batch_size(default: int) -> Any:
    return option(default, "rows per batch", rule=at_least(1))


def _lr(default: float) -> Any:
    return option(default, "peak learning rate", rule=above(0))


def _weight_decay(default: float) -> Any:
    return option(default, "weight decay of the layers' weight matrices and kernels (never of biases, norms, "
                           "embeddings, position embeddings or mask tokens)", rule=at_least(0))


def _clip_grad_norm(default: float) -> Any:
    return option(default, "largest global gradient norm (0: no clipping)", rule=at_least(0))


def _warmup_epochs(default: float) -> Any:
    return option(default, "linear warm-up from 0 to --lr, in epochs (may be fractional); must be shorter than "
                           "--epochs (a default longer than the run is halved to fit, with a note)", rule=at_least(0))


def _eta_min(default: float, applies: Applies | None = None) -> Any:
    return option(default, "learning rate at the end of the schedule", rule=at_least(0), applies=applies)


def _preprocess(default: str, extra: str = "") -> Any:
    return option(default, "feature scaling fitted on the training rows: quantile (rank-gauss) | log-standard "
                           "(sign(x) log1p|x|, standardised) | robust (RealMLP: minus the median, over the IQR, "
                           "smoothly clipped to +-3) | seed (the original's one global scale)" + extra,
                  choices=PREPROCESS_MODES)


def _holdout(default: float, extra: str = "", applies: Applies | None = None) -> Any:
    return option(default, "fraction of the training file held out (identical rows on one side) for model "
                           "selection" + extra, rule=in_range(0, 1), applies=applies)


def _data_dir() -> Any:
    return option(None, "folder with the UNSW-NB15 CSVs. Without it: $UNSW_NB15_DIR, then data/unsw-nb15, then "
                        "../shared/data/unsw-nb15 (each relative to the current folder, then to the repository)")


def _seed() -> Any:
    return option(0, "seed of the initialisation, row order, holdout, dropout and masks: the same seed repeats a "
                     "run bit for bit")


def _out() -> Any:
    return option(None, "output folder (default: a new runs/<date>-<time>-<model>); an existing non-empty folder is "
                        "refused unless --resume continues it or --overwrite replaces its run")


def _eval_batch_size() -> Any:
    return option(4096, "rows per evaluation batch", rule=at_least(1))


def _dim(default: int, extra: str = "") -> Any:
    return option(default, "channels per token" + extra, rule=at_least(1))


def _depth(default: int, extra: str = "") -> Any:
    return option(default, "number of blocks" + extra, rule=at_least(0))


def _patch_size(default: int, extra: str = "", applies: Applies | None = None) -> Any:
    return option(default, "features per token; a size that does not divide the 42 features zero-pads the last "
                           "token" + extra, rule=at_least(1), applies=applies)


def _shorten_warmup(config: Any, given: set[str], notes: list[str]) -> Iterator[str]:
    """The rule --warmup-epochs < --epochs: an error when the user set the warm-up, else the default is halved."""
    schedule = config.schedule
    if schedule.warmup_epochs < schedule.epochs:
        return
    if "warmup_epochs" in given:
        yield (f"--warmup-epochs {schedule.warmup_epochs:g} must be shorter than --epochs {schedule.epochs} (the "
               "warm-up is part of the run)")
        return
    shortened = schedule.epochs / 2
    notes.append(f"the default warm-up of {schedule.warmup_epochs:g} epochs is not shorter than --epochs "
                 f"{schedule.epochs}: it is shortened to {shortened:g} epochs (set --warmup-epochs to choose)")
    schedule.warmup_epochs = shortened


def _padding_note(patch_size: int, notes: list[str]) -> None:
    if N_FEATURES % patch_size:
        tokens = -(-N_FEATURES // patch_size)
        notes.append(f"--patch-size {patch_size} does not divide the {N_FEATURES} features: the last token is "
                     f"zero-padded ({tokens} tokens of {patch_size}, {tokens * patch_size - N_FEATURES} zeros)")


# -- the classifier (`train.py`, `train.py train`) ---------------------------------------------------------------
def _scheduler_in(*names: str) -> Applies:
    def applies(config: Any) -> str | None:
        scheduler = config.schedule.scheduler
        return None if scheduler in names else f"to --scheduler {scheduler} (only to --scheduler {' | '.join(names)})"
    return applies


def _sam_in(*names: str) -> Applies:
    def applies(config: Any) -> str | None:
        sam = config.sam.variant
        return None if sam in names else f"to --sam {sam} (only to --sam {' | '.join(names)})"
    return applies


def _with_noise(config: Any) -> str | None:
    return None if config.sam.noise_scale > 0 else "without --noise-scale (> 0)"


def _with_power_noise(config: Any) -> str | None:
    if config.sam.noise_scale > 0 and config.sam.noise_schedule == "power":
        return None
    return "without --noise-scale (> 0) and --noise-schedule power"


def _binary_task(config: Any) -> str | None:
    task = config.data.task
    return None if task == "binary" else f"to --task {task} (it predicts the most probable class: no threshold)"


def _without_pretrained(config: Any) -> str | None:
    """The tabular options do not go with a pretrained model: the MAE's encoder and the VAE work on the plain patch
    Mixer's inputs."""
    if config.pretraining.init_from_mae is not None:
        return "with --init-from-mae (the MAE's encoder is a patch Mixer on raw features)"
    if config.pretraining.latent_noise > 0:
        return "with --latent-noise (the VAE augments the plain patch Mixer's raw features)"
    return None


def _with_numeric_embedding(name: str) -> Applies:
    def applies(config: Any) -> str | None:
        reason = _without_pretrained(config)
        embedding = config.model.numeric_embedding
        if reason is None and embedding != name:
            reason = f"to --numeric-embedding {embedding} (only to --numeric-embedding {name})"
        return reason
    return applies


def _numeric_embedding_applies(config: Any) -> str | None:
    """An embedding applies to the mlp-mixer without a pretrained model; "none" (the plain scalar, what `auto` gives
    the others) applies everywhere."""
    if config.model.numeric_embedding == "none":
        return None
    model = config.model.name
    return _without_pretrained(config) or (None if model in MIXER else
                                           f"to --model {model} (only to --model {', '.join(MIXER)})")


def _token_mlp(config: Any) -> str | None:
    mixer = config.model.token_mixer
    return None if mixer == "mlp" else f"to --token-mixer {mixer} (only to the token MLP, --token-mixer mlp)"


def _patches(config: Any) -> str | None:
    return "with --tokens feature (one token per feature)" if config.model.tokens == "feature" else None


def _with_mae(config: Any) -> str | None:
    return None if config.pretraining.init_from_mae is not None else "without --init-from-mae"


def _to_mixer(config: Any) -> str | None:
    model = config.model.name
    return None if model == "mlp-mixer" else f"to --model {model} (the MAE's encoder is an mlp-mixer)"


def _with_cv(config: Any) -> str | None:
    return None if config.run.cv else "without --cv"


def _without_cv(config: Any) -> str | None:
    return "with --cv (each fold is in turn the holdout)" if config.run.cv else None


@dataclasses.dataclass
class ModelOptions:
    """Which network, and its size."""

    name: str = option("mlp-mixer", "the network: mlp-mixer (MLP-Mixer over patches of features), convnext, "
                                    "resnext (1-D conv nets) or hybrid (conv blocks, then Mixer blocks, per stage)",
                       choices=tuple(MODELS), key="model")
    dim: int = _dim(64)
    depth: int = _depth(4, " (Mixer blocks; the conv models spread them over their stages)")
    patch_size: int = _patch_size(3, " (convolutional models: the stem's stride; not with --tokens feature)",
                                  applies=_patches)
    token_mixer: str = option("mlp", "token mixing of the mlp-mixer: mlp | lambda (LambdaLayer1D, Bello 2021)",
                              choices=tuple(TOKEN_MIXERS), models=MIXER)
    token_expansion: float = option(4.0, "hidden units of the token MLP per token (42 feature tokens are 3x the 14 "
                                         "patches: 1 keeps them affordable)", rule=above(0),
                                    models=MIXERS_OF_BLOCKS, applies=_token_mlp)
    channel_expansion: float = option(0.5, "hidden units of the channel MLP per channel", rule=above(0),
                                      models=MIXERS_OF_BLOCKS)
    stem: str = option("linear", "embedding of the mlp-mixer: linear (patches) | inception (InceptionBlock1D, then "
                                 "patches)", choices=tuple(STEMS), models=MIXER, applies=_patches)
    tokens: str = option("patch", "tokens of the mlp-mixer: patch (--patch-size features per token, one shared "
                                  "Linear) | feature (one token per feature with its own weights: FT-Transformer's "
                                  "feature tokenizer; 42 tokens, so each block costs more)", choices=TOKENS,
                         models=MIXER, applies=_without_pretrained)
    numeric_embedding: str = option("auto", "numerical features into the mlp-mixer as: none (the scalar) | ple "
                                            "(piecewise-linear encoding over quantile bins of the training rows) | "
                                            "periodic (PLR: sin/cos of learned frequencies, per-feature Linear, "
                                            "ReLU); Gorishniy et al. 2022 | auto (periodic, chosen on the holdout; "
                                            "none for the conv models and with a pretrained model). With "
                                            "--categorical numeric the category codes are embedded as numbers too",
                                    choices=("auto", *NUMERIC_EMBEDDINGS), applies=_numeric_embedding_applies)
    ple_bins: int = option(16, "ple: quantile bins per feature (duplicate edges merged: a feature with few distinct "
                               "values gets fewer)", rule=at_least(2), models=MIXER,
                           applies=_with_numeric_embedding("ple"))
    periodic_frequencies: int = option(48, "periodic: learned frequencies per feature (k)", rule=at_least(1),
                                       models=MIXER, applies=_with_numeric_embedding("periodic"))
    periodic_dim: int = option(24, "periodic: size of each feature's embedding", rule=at_least(1),
                               models=MIXER, applies=_with_numeric_embedding("periodic"))
    periodic_sigma: float = option(0.01, "periodic: std of the frequencies' initialisation (sigma: the paper tunes it "
                                         "per dataset; 0.01 is its official package's default, smaller values the "
                                         "safer side)", rule=above(0),
                                   models=MIXER, applies=_with_numeric_embedding("periodic"))
    ensemble_size: int = option(1, "TabM-mini ensemble of k members sharing the mlp-mixer (each its own scaling of "
                                   "the tokens and its own head; loss: the members' mean, prediction: their mean "
                                   "probability); 1: off. Costs about k times the time per step",
                                rule=at_least(1), models=MIXER, applies=_without_pretrained)
    block: str = option("convnext", "conv block of --model hybrid", choices=tuple(CONV_BLOCKS),
                        models=("hybrid",))
    kernel_size: int = option(0, "conv kernel size (0: the model's default)", rule=at_least(0),
                              models=CONV_MODELS)
    num_stages: int = option(2, "stages of the conv models (each halves the length and doubles the channels)",
                             rule=at_least(1), models=CONV_MODELS)
    mixers_per_stage: int = option(1, "Mixer blocks after the conv blocks of each stage", rule=at_least(0),
                                   models=("hybrid",))


@dataclasses.dataclass
class DataOptions:
    """Which rows, how they are encoded, and what is predicted."""

    data_dir: str | None = _data_dir()
    preprocess: str = _preprocess(DEFAULT_PREPROCESS)
    categorical: str = option("auto", "proto/service/state: embed (a learned vector per category; mlp-mixer) | "
                                      "numeric (codes scaled like numbers) | auto (embed where the model can)",
                              choices=CATEGORICAL_MODES)
    task: str = option("binary", "binary (attack or not) | multiclass (the attack category; needs attack_cat)",
                       choices=TASKS)
    holdout: float = _holdout(0.1, "; the test file is never used to choose", applies=_without_cv)
    threshold_criterion: str = option("accuracy", "decision threshold on P(attack), chosen after training on the "
                                                  "holdout only (never on the test file) for the selected model: the "
                                                  "one maximising accuracy | f1 there; none, or a run without a "
                                                  "holdout, keeps 0.5. Binary only (multiclass takes the most "
                                                  "probable class)",
                                      choices=THRESHOLD_CHOICES, applies=_binary_task)


@dataclasses.dataclass
class OptimisationOptions:
    """The optimiser and its steps."""

    optimizer: str = option("adamw", "adam | adamw | sgd (Nesterov momentum 0.9)", choices=OPTIMIZERS)
    lr: float = _lr(2e-3)
    weight_decay: float = _weight_decay(0.05)
    batch_size: int = _batch_size(128)
    accum_steps: int = option(1, "batches accumulated per optimiser step (effective batch = --batch-size x "
                                 "--accum-steps)", rule=at_least(1))
    clip_grad_norm: float = _clip_grad_norm(1.0)


@dataclasses.dataclass
class ScheduleOptions:
    """How long, and the learning rate over time (stepped after every optimiser step, in fractional epochs)."""

    epochs: int = _epochs(20)
    scheduler: str = option("cosine", "none | cosine | sharp-cosine (the original's) | warm-restarts",
                            choices=SCHEDULERS)
    warmup_epochs: float = _warmup_epochs(1.0)
    eta_min: float = _eta_min(1e-5, _scheduler_in("cosine", "sharp-cosine", "warm-restarts"))
    t0: float = option(10.0, "first restart period in epochs", rule=above(0), applies=_scheduler_in("warm-restarts"))
    t_mult: float = option(1.0, "growth of the restart period", rule=at_least(1),
                           applies=_scheduler_in("warm-restarts"))


@dataclasses.dataclass
class RegularisationOptions:
    """Dropout, stochastic depth and label smoothing."""

    dropout: float = option(0.0, "dropout inside the MLPs", rule=in_range(0, 1))
    drop_path: float = option(0.1, "stochastic-depth rate of the last block (rising linearly from 0 over the blocks)",
                              rule=in_range(0, 1))
    label_smoothing: float = option(0.0, "label smoothing e of the training loss: binary targets y (1 - e) + e / 2, "
                                         "multiclass as PyTorch's cross_entropy(label_smoothing=e); the holdout and "
                                         "test losses and metrics are not smoothed (0: off)", rule=in_range(0, 1))


def _with_ema(config: Any) -> str | None:
    return None if config.averaging.ema > 0 else "without --ema (> 0)"


@dataclasses.dataclass
class AveragingOptions:
    """Averages of the weights along the run, evaluated each epoch on the holdout (and test, reported) beside the
    weights themselves; model selection picks the best of all of them by the same rule."""

    ema: float = option(0.0, "decay of an exponential moving average of the weights, updated after every optimiser "
                             "step with timm's warm-up (see --ema-warmup); e.g. 0.999 (0: off)",
                        rule=in_range(0, 1))
    ema_warmup: bool = option(True, "warm the EMA decay up with the step count t: min(--ema, 1 - (1 + t)^(-2/3)), "
                                    "so a short run is not dominated by its first weights (timm's ModelEmaV3)",
                              applies=_with_ema)
    swa_epochs: int = option(0, "stochastic weight averaging: the equal average of the weights at the end of each of "
                                "the last K epochs (Izmailov et al. 2018), under the run's own schedule (0: off)",
                             rule=at_least(0))


@dataclasses.dataclass
class SAMOptions:
    """Sharpness-aware minimisation around the optimiser, and noisy updates."""

    variant: str = option("none", "none | sam | asam (adaptive) | ssam-f | ssam-d (SparseSAM with a Fisher / dynamic "
                                  "mask); doubles the forward and backward passes", choices=SAM_VARIANTS, key="sam")
    sam_rho: float = option(0.05, "SAM's neighbourhood radius", rule=at_least(0),
                            applies=_sam_in("sam", "asam", "ssam-f", "ssam-d"))
    sam_sparsity: float = option(0.5, "SparseSAM: fraction of the entries not perturbed", rule=in_range(0, 1, True),
                                 applies=_sam_in("ssam-f", "ssam-d"))
    sam_update_freq: int = option(100, "SparseSAM: steps between mask refreshes", rule=at_least(1),
                                  applies=_sam_in("ssam-f", "ssam-d"))
    sam_num_samples: int = option(16, "ssam-f: steps whose squared gradients make the Fisher score (at most "
                                      "--sam-update-freq)", rule=at_least(1), applies=_sam_in("ssam-f"))
    sam_drop_rate: float = option(0.5, "ssam-d: fraction of the mask dropped and regrown per refresh (cosine-decayed "
                                       "over the run)", rule=in_range(0, 1, True), applies=_sam_in("ssam-d"))
    noise_scale: float = option(0.0, "std of Gaussian noise added to every update (0: off)", rule=at_least(0))
    noise_schedule: str = option("constant", "noise std over the steps: constant | cosine | power",
                                 choices=NOISE_SCHEDULES, applies=_with_noise)
    noise_power: float = option(0.5, "power schedule: std x (t_ref / max(t, t_ref)) ^ power", rule=at_least(0),
                                applies=_with_power_noise)
    noise_reference_epochs: float = option(1.0, "power schedule: t_ref in epochs (constant noise before it)",
                                           rule=above(0), applies=_with_power_noise)


@dataclasses.dataclass
class PretrainedOptions:
    """Starting from, or augmenting with, a pretrained model (`pretrain-mae`, `pretrain-vae`)."""

    init_from_mae: str | None = option(None, "initialise the encoder from this `pretrain-mae` checkpoint "
                                             "(runs/NAME/mae.npz; same --dim, --depth, --patch-size)",
                                       applies=_to_mixer)
    freeze_encoder: bool = option(False, "train only what the MAE did not provide (a linear probe)",
                                  applies=_with_mae)
    latent_model: str | None = option(None, "the `pretrain-vae` checkpoint (runs/NAME/vae.npz) that --latent-noise "
                                            "uses")
    latent_noise: float = option(0.0, "std of the noise added in the VAE's latent space to replace half of each "
                                      "batch with decoded neighbours (0: off)", rule=at_least(0))


@dataclasses.dataclass
class RunOptions:
    """Where the run goes and how it repeats."""

    seed: int = _seed()
    out: str | None = _out()
    eval_batch_size: int = _eval_batch_size()


@dataclasses.dataclass
class TrainRunOptions(RunOptions):
    """Where the run goes, how it repeats, and cross-validation."""

    cv: int = option(0, "k-fold cross-validation of the training file: K runs in fold-1 .. fold-K of the output "
                        "folder, run i selected on fold i (identical rows in one fold) and trained on the others, "
                        "then cv.json with the mean and std over the folds; replaces --holdout (0: off)",
                     rule=Rule(lambda value: value == 0 or value >= 2, "must be 0 (off) or >= 2"))
    fold: int = option(0, "with --cv K: train only fold i (1..K) as the holdout, as one ordinary run (0: all folds)",
                       rule=at_least(0), applies=_with_cv)


@dataclasses.dataclass
class TrainConfig(Settings):
    """Everything that defines a classifier run; saved in config.json and in every checkpoint."""

    model: ModelOptions = dataclasses.field(default_factory=ModelOptions)
    data: DataOptions = dataclasses.field(default_factory=DataOptions)
    optimisation: OptimisationOptions = dataclasses.field(default_factory=OptimisationOptions)
    schedule: ScheduleOptions = dataclasses.field(default_factory=ScheduleOptions)
    regularisation: RegularisationOptions = dataclasses.field(default_factory=RegularisationOptions)
    averaging: AveragingOptions = dataclasses.field(default_factory=AveragingOptions)
    sam: SAMOptions = dataclasses.field(default_factory=SAMOptions)
    pretraining: PretrainedOptions = dataclasses.field(default_factory=PretrainedOptions)
    run: TrainRunOptions = dataclasses.field(default_factory=TrainRunOptions)

    group_titles: ClassVar[dict[str, str]] = {"sam": "SAM and noisy updates", "pretraining": "pretrained models",
                                              "averaging": "weight averaging"}
    model_key: ClassVar[str | None] = "model"
    saved_defaults: ClassVar[dict[str, Any]] = {"numeric_embedding": "none"}  # runs before --numeric-embedding

    @property
    def name(self) -> str:
        return self.model.name

    def _resolve(self, given: set[str], notes: list[str]) -> Iterator[str]:
        yield from _shorten_warmup(self, given, notes)
        if self.schedule.scheduler != "none" and self.schedule.eta_min > self.optimisation.lr:
            yield f"--eta-min {self.schedule.eta_min:g} must not be above --lr {self.optimisation.lr:g}"
        if self.sam.variant == "ssam-f" and self.sam.sam_num_samples > self.sam.sam_update_freq:
            yield (f"--sam-num-samples {self.sam.sam_num_samples} must not be above --sam-update-freq "
                   f"{self.sam.sam_update_freq} (the Fisher score is gathered within one refresh period)")
        pretrained = self.pretraining
        if pretrained.latent_noise > 0 and pretrained.latent_model is None:
            yield f"--latent-noise {pretrained.latent_noise:g} needs --latent-model (a `pretrain-vae` checkpoint)"
        uses_pretrained = pretrained.init_from_mae is not None or pretrained.latent_noise > 0
        embeds = self.model.name in MIXER
        if self.data.categorical == "auto":
            self.data.categorical = "embed" if embeds and not uses_pretrained else "numeric"
        elif self.data.categorical == "embed" and not embeds:
            yield f"--categorical embed does not apply to --model {self.model.name}; use --categorical numeric"
        elif self.data.categorical == "embed" and uses_pretrained:
            yield ("--init-from-mae and --latent-noise work on numeric categorical columns (the pretrained models do "
                   "not embed them); use --categorical numeric")
        if self.model.numeric_embedding == "auto":
            self.model.numeric_embedding = "periodic" if embeds and not uses_pretrained else "none"
        if self.model.name == "mlp-mixer" and self.model.tokens == "patch":
            _padding_note(self.model.patch_size, notes)
        if self.averaging.swa_epochs > self.schedule.epochs:
            yield (f"--swa-epochs {self.averaging.swa_epochs} must not be above --epochs {self.schedule.epochs} (it "
                   "averages the last epochs of the run)")
        if self.run.cv and self.run.fold > self.run.cv:
            yield f"--fold {self.run.fold} must not be above --cv {self.run.cv} (the folds are 1..{self.run.cv})"


# -- pretraining (`train.py pretrain-mae`, `train.py pretrain-vae`) ----------------------------------------------
@dataclasses.dataclass
class PretrainDataOptions:
    """Which rows (the training rows only; labels unused) and how they are scaled."""

    data_dir: str | None = _data_dir()
    preprocess: str = _preprocess(DEFAULT_PREPROCESS, " (use the classifier's)")
    holdout: float = _holdout(0.1, " (use the classifier's, with the same --seed, so that its holdout stays unseen)")


@dataclasses.dataclass
class PretrainOptimisationOptions:
    """AdamW and its steps."""

    lr: float = _lr(1e-3)
    weight_decay: float = _weight_decay(0.05)
    batch_size: int = _batch_size(256)
    clip_grad_norm: float = _clip_grad_norm(1.0)


@dataclasses.dataclass
class PretrainScheduleOptions:
    """How long, and the learning rate: linear warm-up, then cosine decay (as MAE)."""

    epochs: int = _epochs(20)
    warmup_epochs: float = _warmup_epochs(1.0)
    eta_min: float = _eta_min(1e-5)


@dataclasses.dataclass
class MAEModelOptions:
    """The Mixer masked autoencoder; --dim, --depth and --patch-size must match the classifier it initialises."""

    dim: int = _dim(64, " of the encoder (= the classifier's --dim)")
    depth: int = _depth(4, " of the encoder (= the classifier's --depth)")
    patch_size: int = _patch_size(3, " (= the classifier's --patch-size)")
    mask_ratio: float = option(0.5, "fraction of the tokens removed from each row", rule=in_range(0, 1))
    decoder_dim: int = option(32, "decoder channels per token", rule=at_least(1))
    decoder_depth: int = option(1, "decoder Mixer blocks", rule=at_least(0))
    norm_pix_loss: bool = option(False, "reconstruct per-patch normalised values")
    encoder_tokens: str = option("kept", "kept (MAE: the encoder sees the kept tokens only) | all (removed tokens "
                                         "become a mask token; every encoder weight transfers)",
                                 choices=ENCODER_TOKENS)


@dataclasses.dataclass
class VAEModelOptions:
    """The tabular VAE."""

    latent_dim: int = option(8, "size of the latent code", rule=at_least(1))
    hidden: int = option(64, "hidden units of the encoder and the decoder", rule=at_least(1))
    beta: float = option(1.0, "weight of the KL term", rule=at_least(0))


@dataclasses.dataclass
class PretrainConfig(Settings):
    """What both pretraining runs share."""

    def _resolve(self, given: set[str], notes: list[str]) -> Iterator[str]:
        yield from _shorten_warmup(self, given, notes)
        if self.schedule.eta_min > self.optimisation.lr:
            yield f"--eta-min {self.schedule.eta_min:g} must not be above --lr {self.optimisation.lr:g}"


@dataclasses.dataclass
class MAEPretrainConfig(PretrainConfig):
    """A MixerMAE pretraining run."""

    model: MAEModelOptions = dataclasses.field(default_factory=MAEModelOptions)
    data: PretrainDataOptions = dataclasses.field(default_factory=PretrainDataOptions)
    optimisation: PretrainOptimisationOptions = dataclasses.field(default_factory=PretrainOptimisationOptions)
    schedule: PretrainScheduleOptions = dataclasses.field(default_factory=PretrainScheduleOptions)
    run: RunOptions = dataclasses.field(default_factory=RunOptions)

    group_titles: ClassVar[dict[str, str]] = {"model": "the masked autoencoder"}

    @property
    def name(self) -> str:
        return "mae"

    def _resolve(self, given: set[str], notes: list[str]) -> Iterator[str]:
        yield from super()._resolve(given, notes)
        tokens = -(-N_FEATURES // self.model.patch_size)
        try:
            kept_token_count(tokens, self.model.mask_ratio)
        except ValueError:
            yield (f"--mask-ratio {self.model.mask_ratio:g} keeps no token of the {tokens} that --patch-size "
                   f"{self.model.patch_size} makes")
        _padding_note(self.model.patch_size, notes)


@dataclasses.dataclass
class VAEPretrainConfig(PretrainConfig):
    """A TabularVAE pretraining run."""

    model: VAEModelOptions = dataclasses.field(default_factory=VAEModelOptions)
    data: PretrainDataOptions = dataclasses.field(default_factory=PretrainDataOptions)
    optimisation: PretrainOptimisationOptions = dataclasses.field(default_factory=PretrainOptimisationOptions)
    schedule: PretrainScheduleOptions = dataclasses.field(default_factory=PretrainScheduleOptions)
    run: RunOptions = dataclasses.field(default_factory=RunOptions)

    group_titles: ClassVar[dict[str, str]] = {"model": "the variational autoencoder"}

    @property
    def name(self) -> str:
        return "vae"
