"""Run settings, each option written once: its type, default, help, choices, the rule its value must follow and when
it applies. The options sit in groups (model, data, optimisation, schedule, regularisation, SAM and noisy updates,
pretrained models, run) that `train.py --help` shows as argparse groups and that a `--config` file (JSON or TOML) may
use as sections; a file may also list the options flat, under the flag names (`dim = 16`, `warmup-epochs = 0.5`).

A configuration is checked as a whole before anything runs: a value of the wrong type, a value outside its rule, a
flag that does not apply to the chosen model or schedule, or two flags that contradict each other give a
`ConfigError` whose lines name the flags and the rule. `config.json` of a run holds the groups with only the options
that apply to it, and is itself a valid `--config` file.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from tinygrad_np.optim.noise import NOISE_SCHEDULES

from .data import DEFAULT_PREPROCESS, N_FEATURES, PREPROCESS_MODES, TASKS
from .errors import UserError
from .metrics import THRESHOLD_CRITERIA
from .models import MODELS
from .models.mae import ENCODER_TOKENS, kept_token_count
from .models.tabular import NUMERIC_EMBEDDINGS, TOKENS

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "sharp-cosine", "warm-restarts")
CATEGORICAL_MODES = ("auto", "embed", "numeric")  # auto: embed where the model can, numeric otherwise
SAM_VARIANTS = ("none", "sam", "asam", "ssam-f", "ssam-d")  # ssam-*: SparseSAM's Fisher / dynamic masks
TOKEN_MIXERS = ("mlp", "lambda")
STEMS = ("linear", "inception")
CONV_BLOCKS = ("convnext", "resnext", "resnet")
THRESHOLD_CHOICES = (*THRESHOLD_CRITERIA, "none")  # none: the threshold stays 0.5


class ConfigError(UserError, ValueError):
    """Settings that cannot make a run; each line names the flags involved and the rule."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration: " + problems[0] if len(problems) == 1 else
                         "invalid configuration:\n  " + "\n  ".join(problems))


# -- declaring options -------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Rule:
    """What a value must satisfy, and how the error says it ("must be > 0")."""

    test: Callable[[Any], bool]
    text: str


def above(bound: float) -> Rule:
    return Rule(lambda value: value > bound, f"must be > {bound}")


def at_least(bound: float) -> Rule:
    return Rule(lambda value: value >= bound, f"must be >= {bound}")


def in_range(low: float, high: float, high_included: bool = False) -> Rule:
    if high_included:
        return Rule(lambda value: low <= value <= high, f"must be in [{low}, {high}]")
    return Rule(lambda value: low <= value < high, f"must be in [{low}, {high})")


# Why an option does not apply to a configuration (None: it applies), e.g. "to --model convnext".
Applies = Callable[[Any], "str | None"]


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, rule: Rule | None = None,
           applies: Applies | None = None, key: str | None = None) -> Any:
    """A dataclass field that is a run option. `key` is its name in files and flags when it differs from the field's
    (the flag is `--` + key with dashes); `applies` says when it does not apply (setting it to anything but its
    default is then an error, and config.json leaves it out)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "rule": rule,
                                                        "applies": applies, "key": key})


@dataclasses.dataclass(frozen=True)
class Option:
    """One option as the parser, the file reader and the checks see it."""

    group: str
    field: str
    key: str
    kind: str  # "int", "float", "str", "bool" or "path" (a string or None)
    default: Any
    help: str
    choices: tuple[str, ...] | None
    rule: Rule | None
    applies: Applies | None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    def shown(self, value: Any) -> str:
        """`--flag value` as a user would type it."""
        if isinstance(value, bool):
            return self.flag if value else "--no-" + self.flag[2:]
        return f"{self.flag} {value:g}" if isinstance(value, float) else f"{self.flag} {value}"


_KINDS = {"int": "int", "float": "float", "str": "str", "bool": "bool", "str | None": "path"}
_EXPECTED = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
             "path": "a path (a string) or null"}


_WRONG_TYPE = object()


def _check_type(option: Option, value: Any) -> Any:
    """The value converted to the option's type (an integer where a number is expected becomes a float), or
    `_WRONG_TYPE`."""
    kind, is_bool = option.kind, isinstance(value, bool)
    if kind == "bool":
        ok = is_bool
    elif kind == "int":
        ok = isinstance(value, int) and not is_bool
    elif kind == "float":
        ok = isinstance(value, int | float) and not is_bool
        value = float(value) if ok else value
    elif kind == "str":
        ok = isinstance(value, str)
    else:
        ok = value is None or isinstance(value, str)
    return value if ok else _WRONG_TYPE


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


# -- a configuration ---------------------------------------------------------------------------------------------
@functools.cache
def _options(config_class: type) -> dict[str, Option]:
    """key -> Option of a Settings class, in group order (built once per class)."""
    result = {}
    for group, group_class in config_class.group_classes().items():
        for f in dataclasses.fields(group_class):
            key = f.metadata["key"] or f.name
            result[key] = Option(group, f.name, key, _KINDS[str(f.type)], f.default, f.metadata["help"],
                                 f.metadata["choices"], f.metadata["rule"], f.metadata["applies"])
    return result


S = TypeVar("S", bound="Settings")


class Settings:
    """A configuration made of option groups (each a dataclass of `option` fields). Subclasses are dataclasses whose
    fields are the groups, and add their cross-option rules in `_resolve`."""

    group_titles: ClassVar[dict[str, str]] = {}  # argparse group titles that differ from the group names
    # Options whose default changed after runs were saved without them: the value such a saved configuration meant.
    saved_defaults: ClassVar[dict[str, Any]] = {}

    @property
    def name(self) -> str:
        """What a fresh run folder is named after (runs/<date>-<time>-<name>)."""
        raise NotImplementedError

    @classmethod
    def group_classes(cls) -> dict[str, type]:
        return {f.name: f.default_factory for f in dataclasses.fields(cls)}  # type: ignore[misc]

    @classmethod
    def options(cls) -> dict[str, Option]:
        """key -> Option, in group order."""
        return _options(cls)

    # reading ---------------------------------------------------------------------------------------------------
    @classmethod
    def typed_values(cls, values: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
        """Flat {key: value} from flat or grouped `values` (file names may use dashes), each value of its option's
        type; unknown keys and wrong types are a ConfigError naming the key and what it expects."""
        options, groups = cls.options(), cls.group_classes()
        flat: dict[str, Any] = {}
        problems = []
        prefix = f"{source}: " if source else ""

        def take(name: str, value: Any, section: str | None) -> None:
            key = name.replace("-", "_")
            option = options.get(key)
            where = f"[{section}] " if section else ""
            if option is None:
                close = difflib.get_close_matches(key, options, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{prefix}unknown key {where}{name!r}{hint}")
            elif section is not None and option.group != section:
                problems.append(f"{prefix}key {name!r} belongs in [{option.group}], not [{section}]")
            elif key in flat:
                problems.append(f"{prefix}key {name!r} is given twice")
            else:
                typed = _check_type(option, value)
                if typed is _WRONG_TYPE:
                    problems.append(f"{prefix}key {where}{name!r} ({option.flag}) must be {_EXPECTED[option.kind]}"
                                    f", not {value!r} ({_type_name(value)})")
                else:
                    flat[key] = typed

        for name, value in values.items():
            section = name.replace("-", "_")
            if section in groups and isinstance(value, Mapping):
                for inner, inner_value in value.items():
                    take(inner, inner_value, section)
            else:
                take(name, value, None)
        if problems:
            raise ConfigError(problems)
        return flat

    @classmethod
    def parse(cls: type[S], values: Mapping[str, Any], given: Collection[str] | None = None) -> tuple[S, list[str]]:
        """The checked configuration from flat or grouped `values` (defaults for the rest), and notes for the user
        about what was adjusted. `given`: the keys the user set (default: all of `values`). An option given a value
        other than its default must apply to the configuration (no flag is silently ignored); a default the user did
        not set may be adjusted to fit (with a note) where a value they set is an error."""
        flat = cls.typed_values(values)
        given = set(flat) if given is None else {key.replace("-", "_") for key in given}
        options = cls.options()
        groups = {name: group_class(**{options[key].field: value for key, value in flat.items()
                                       if options[key].group == name})
                  for name, group_class in cls.group_classes().items()}
        config = cls(**groups)
        problems = []
        for key, option in options.items():
            value = config.get(key)
            if option.choices is not None and value not in option.choices:
                problems.append(f"{option.shown(value)}: must be one of {', '.join(option.choices)}")
            elif option.rule is not None and value is not None and not option.rule.test(value):
                problems.append(f"{option.shown(value)} {option.rule.text}")
        if problems:
            raise ConfigError(problems)
        notes: list[str] = []
        problems = list(config._resolve(given, notes))
        for key in sorted(given, key=list(options).index):
            option = options[key]
            reason = option.applies(config) if option.applies is not None else None
            if reason is not None and config.get(key) != option.default:
                problems.append(f"{option.flag} does not apply {reason}")
        if problems:
            raise ConfigError(problems)
        return config, notes

    @classmethod
    def saved(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """A saved configuration (a checkpoint's, cv.json's) as it was meant: options it predates take the value they
        had then (`saved_defaults`), not today's default. Flat or grouped, as `typed_values` reads it."""
        keys = {name for name, value in values.items() if not isinstance(value, Mapping)} | {
            name for value in values.values() if isinstance(value, Mapping) for name in value}
        present = {key.replace("-", "_") for key in keys}
        return {**{key: value for key, value in cls.saved_defaults.items() if key not in present}, **values}

    @classmethod
    def from_dict(cls: type[S], values: Mapping[str, Any], given: Collection[str] | None = None) -> S:
        return cls.parse(values, given)[0]

    def _resolve(self, given: set[str], notes: list[str]) -> Iterator[str]:
        """Cross-option rules: yield a problem per broken rule; adjust defaults the user did not set (with a note)."""
        return iter(())

    # writing ---------------------------------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        option = self.options()[key]
        return getattr(getattr(self, option.group), option.field)

    def set(self, key: str, value: Any) -> None:
        option = self.options()[key]
        setattr(getattr(self, option.group), option.field, value)

    def flat(self) -> dict[str, Any]:
        """Every option, {key: value}: what a checkpoint stores to rebuild the run exactly."""
        return {key: self.get(key) for key in self.options()}

    def applicable(self) -> dict[str, dict[str, Any]]:
        """{group: {key: value}} of the options that apply to this configuration and are set (not None), without the
        output folder (a run's config.json sits in it): config.json, and a valid --config file."""
        result: dict[str, dict[str, Any]] = {}
        for key, option in self.options().items():
            value = self.get(key)
            if key == "out" or value is None or (option.applies is not None and option.applies(self) is not None):
                continue
            result.setdefault(option.group, {})[key] = value
        return result


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The values of a JSON or TOML (.toml) config file, as written (checked by `Settings.typed_values`)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError([f"config file {path} does not exist" if not file.exists() else
                           f"config file {path} is not a file"])
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"config file {path} cannot be read ({error})"]) from None
    try:
        if file.suffix == ".toml":
            import tomllib

            values = tomllib.loads(text)
        else:
            values = json.loads(text)
    except ValueError as error:  # json.JSONDecodeError and tomllib.TOMLDecodeError
        raise ConfigError([f"config file {path}: {error}"]) from None
    if not isinstance(values, dict):
        raise ConfigError([f"config file {path} must hold a table of settings, not {_type_name(values)}"])
    return values


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
def _model_takes(name: str) -> Applies:
    """Applies when the chosen model's constructor has a parameter `name`."""
    def applies(config: Any) -> str | None:
        model = config.model.name
        if name in inspect.signature(MODELS[model]).parameters:
            return None
        takers = [other for other, cls in MODELS.items() if name in inspect.signature(cls).parameters]
        return f"to --model {model} (only to --model {', '.join(takers)})"
    return applies


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


def _tabular(name: str) -> Applies:
    """Applies to a model that takes `name` (the mlp-mixer), unless a pretrained model is used: the MAE's encoder and
    the VAE work on the plain patch Mixer's inputs."""
    takes = _model_takes(name)

    def applies(config: Any) -> str | None:
        if config.pretraining.init_from_mae is not None:
            return "with --init-from-mae (the MAE's encoder is a patch Mixer on raw features)"
        if config.pretraining.latent_noise > 0:
            return "with --latent-noise (the VAE augments the plain patch Mixer's raw features)"
        return takes(config)
    return applies


def _with_numeric_embedding(name: str) -> Applies:
    tabular = _tabular("numeric_embedding")

    def applies(config: Any) -> str | None:
        reason = tabular(config)
        embedding = config.model.numeric_embedding
        if reason is None and embedding != name:
            reason = f"to --numeric-embedding {embedding} (only to --numeric-embedding {name})"
        return reason
    return applies


def _numeric_embedding_applies(config: Any) -> str | None:
    """An embedding applies to the mlp-mixer without a pretrained model; "none" (the plain scalar, what `auto` gives
    the others) applies everywhere."""
    return None if config.model.numeric_embedding == "none" else _tabular("numeric_embedding")(config)


def _patches(config: Any) -> str | None:
    return "with --tokens feature (one token per feature)" if config.model.tokens == "feature" else None


def _stem_applies(config: Any) -> str | None:
    return _model_takes("stem")(config) or _patches(config)


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
                              choices=TOKEN_MIXERS, applies=_model_takes("token_mixer"))
    stem: str = option("linear", "embedding of the mlp-mixer: linear (patches) | inception (InceptionBlock1D, then "
                                 "patches)", choices=STEMS, applies=_stem_applies)
    tokens: str = option("patch", "tokens of the mlp-mixer: patch (--patch-size features per token, one shared "
                                  "Linear) | feature (one token per feature with its own weights: FT-Transformer's "
                                  "feature tokenizer; 42 tokens, so each block costs more)", choices=TOKENS,
                         applies=_tabular("tokens"))
    numeric_embedding: str = option("auto", "numerical features into the mlp-mixer as: none (the scalar) | ple "
                                            "(piecewise-linear encoding over quantile bins of the training rows) | "
                                            "periodic (PLR: sin/cos of learned frequencies, per-feature Linear, "
                                            "ReLU); Gorishniy et al. 2022 | auto (periodic, chosen on the holdout; "
                                            "none for the conv models and with a pretrained model). With "
                                            "--categorical numeric the category codes are embedded as numbers too",
                                    choices=("auto", *NUMERIC_EMBEDDINGS), applies=_numeric_embedding_applies)
    ple_bins: int = option(16, "ple: quantile bins per feature (duplicate edges merged: a feature with few distinct "
                               "values gets fewer)", rule=at_least(2), applies=_with_numeric_embedding("ple"))
    periodic_frequencies: int = option(48, "periodic: learned frequencies per feature (k)", rule=at_least(1),
                                       applies=_with_numeric_embedding("periodic"))
    periodic_dim: int = option(24, "periodic: size of each feature's embedding", rule=at_least(1),
                               applies=_with_numeric_embedding("periodic"))
    periodic_sigma: float = option(0.01, "periodic: std of the frequencies' initialisation (sigma: the paper tunes it "
                                         "per dataset; 0.01 is its official package's default, smaller values the "
                                         "safer side)", rule=above(0),
                                   applies=_with_numeric_embedding("periodic"))
    ensemble_size: int = option(1, "TabM-mini ensemble of k members sharing the mlp-mixer (each its own scaling of "
                                   "the tokens and its own head; loss: the members' mean, prediction: their mean "
                                   "probability); 1: off. Costs about k times the time per step",
                                rule=at_least(1), applies=_tabular("ensemble_size"))
    block: str = option("convnext", "conv block of --model hybrid", choices=CONV_BLOCKS,
                        applies=_model_takes("block"))
    kernel_size: int = option(0, "conv kernel size (0: the model's default)", rule=at_least(0),
                              applies=_model_takes("kernel_size"))
    num_stages: int = option(2, "stages of the conv models (each halves the length and doubles the channels)",
                             rule=at_least(1), applies=_model_takes("num_stages"))
    mixers_per_stage: int = option(1, "Mixer blocks after the conv blocks of each stage", rule=at_least(0),
                                   applies=_model_takes("mixers_per_stage"))


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
    sam: SAMOptions = dataclasses.field(default_factory=SAMOptions)
    pretraining: PretrainedOptions = dataclasses.field(default_factory=PretrainedOptions)
    run: TrainRunOptions = dataclasses.field(default_factory=TrainRunOptions)

    group_titles: ClassVar[dict[str, str]] = {"sam": "SAM and noisy updates", "pretraining": "pretrained models"}
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
        embeds = "categories" in inspect.signature(MODELS[self.model.name]).parameters
        if self.data.categorical == "auto":
            self.data.categorical = "embed" if embeds and not uses_pretrained else "numeric"
        elif self.data.categorical == "embed" and not embeds:
            yield f"--categorical embed does not apply to --model {self.model.name}; use --categorical numeric"
        elif self.data.categorical == "embed" and uses_pretrained:
            yield ("--init-from-mae and --latent-noise work on numeric categorical columns (the pretrained models do "
                   "not embed them); use --categorical numeric")
        if self.model.numeric_embedding == "auto":
            tabular = "numeric_embedding" in inspect.signature(MODELS[self.model.name]).parameters
            self.model.numeric_embedding = "periodic" if tabular and not uses_pretrained else "none"
        if self.model.name == "mlp-mixer" and self.model.tokens == "patch":
            _padding_note(self.model.patch_size, notes)
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
