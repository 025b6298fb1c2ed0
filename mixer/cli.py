"""The command line of train.py: `train` (the default: `python train.py --help` shows its flags), `evaluate`,
`predict`, `import-seed-checkpoint`, `pretrain-mae`, `pretrain-vae` and `landscape`.

Errors a user can fix (`mixer.errors.UserError`: bad flags and files, a folder in use, a disk that is full) print as
one `error: ...` line (exit code 1); Ctrl-C, SIGTERM and SIGHUP print what was saved and how to continue (exit code
128 + the signal: 130, 143, 129); neither prints a traceback unless --debug or MIXER_DEBUG=1 asks for it. Any other
exception is a bug and shows its traceback. A mistyped command or flag gets "did you mean" and the list of commands
rather than the usage of every flag; flags are never abbreviated (`--epoch` is not taken for --epochs).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinygrad_np import nn

from . import data as unsw
from .checkpoint import CheckpointError, is_checkpoint
from .config import TrainConfig
from .crossval import CV_FILE, CrossValidation
from .errors import UsageError, UserError, unwritable_reason
from .landscape import SPLITS, run_landscape
from .landscape import Settings as LandscapeSettings
from .metrics import confusion_matrix, expected_calibration_error
from .pretrain import MAEPretrainer, VAEPretrainer
from .prior import PRIOR_ADAPTATIONS, PriorShift, em_prior_shift
from .report import format_confusion, format_metrics, format_threshold_table
from .run import Run, by
from .seed_import import import_seed_checkpoint
from .settings import ConfigError, Settings, read_config_file
from .signals import signal_of, stop_signals
from .training import (
    Trainer,
    checkpoint_threshold,
    load_trained,
    predict_proba,
    predicted_classes,
    split_metrics,
    write_predictions,
)

COMMANDS = ("train", "evaluate", "predict", "import-seed-checkpoint", "pretrain-mae", "pretrain-vae", "landscape")
METAVARS = {"data_dir": "DIR", "out": "DIR", "init_from_mae": "MAE.npz", "latent_model": "VAE.npz", "cv": "K",
            "fold": "I", "ema": "DECAY", "swa_epochs": "K"}
RESUMABLE = {"epochs", "data_dir", "out"}  # what --resume lets change
DEBUG_ENV = "MIXER_DEBUG"  # set to 1: errors show their traceback, as with --debug


# -- parsers -----------------------------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse without abbreviations (`--epoch` is refused, not taken for --epochs), whose errors are two lines
    instead of the usage of every flag: the problem, with "did you mean" for a mistyped flag or choice, then where
    the help is and the list of commands. Every parser has --debug."""

    def __init__(self, **kwargs: Any):
        super().__init__(allow_abbrev=False, **kwargs)
        self.add_argument("--debug", action="store_true", help=f"on an error, show its traceback too (also: "
                          f"{DEBUG_ENV}=1)")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.given = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if message.startswith(("unrecognized arguments: ", "the following arguments are required: ")):
            # a mistyped flag first: a mistyped required flag is then named as such, not as one missing
            unknown = [word for word in getattr(self, "given", []) if word.startswith("--")
                       and word.split("=", 1)[0] not in self._option_string_actions]
            message = "; ".join(self._unknown_flag(word) for word in unknown) if unknown else message
        choice = re.fullmatch(r"argument (\S+): invalid choice: '(.*)' \(choose from (.*)\)", message)
        if choice:
            choices = [name.strip("'") for name in choice.group(3).split(", ")]
            message += did_you_mean(choice.group(2), choices)
        self.exit(2, f"{self.prog}: error: {message}\n{help_hint(self.prog)}\n")

    def _unknown_flag(self, word: str) -> str:
        flag = word.split("=", 1)[0]
        text = f"unknown flag {flag}" + did_you_mean(flag, [name for name in self._option_string_actions
                                                              if name.startswith("--")])
        elsewhere = [command for command in COMMANDS if command != self.command and flag in
                     PARSERS[command]()._option_string_actions]
        if elsewhere:
            text += f" ({flag} is a flag of {', '.join(elsewhere)})"
        return text

    @property
    def command(self) -> str:
        return self.prog.split()[-1] if " " in self.prog else "train"


def did_you_mean(word: str, names: list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def help_hint(prog: str) -> str:
    return (f"`python {prog} --help` lists its flags; the commands: train (the default), "
            f"{', '.join(COMMANDS[1:])} (`python train.py COMMAND --help`)")


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type[Settings]) -> dict[str, Any]:
    """One flag per option of `config_class`, in one argparse group per option group, with its help, type, real
    `choices` and default shown; the default is None so that only the flags given count (a bool is a switch:
    --name / --no-name). Returns the argparse groups by name."""
    groups: dict[str, Any] = {}
    classes = config_class.group_classes()
    titles = config_class.group_titles
    for key, option in config_class.options().items():
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(titles.get(option.group, option.group),
                                                             classes[option.group].__doc__)
        default = "none" if option.default is None else option.default
        help_text = f"{option.help} (default: {default})"
        if option.kind == "bool":
            groups[option.group].add_argument(option.flag, dest=key, action=argparse.BooleanOptionalAction,
                                              default=None, help=help_text)
            continue
        kind = {"int": int, "float": float}.get(option.kind, str)
        groups[option.group].add_argument(option.flag, dest=key, type=kind, choices=option.choices, default=None,
                                          metavar=METAVARS.get(key, "PATH" if option.kind == "path" else None),
                                          help=help_text)
    return groups


def run_parser(prog: str, description: str, config_class: type[Settings], checkpoint: str,
               resume_extra: str = "") -> argparse.ArgumentParser:
    """The parser of a training command: the options by group, and --config, --resume (`resume_extra` ends its
    help), --overwrite."""
    parser = Parser(prog=prog, description=description)
    groups = add_config_arguments(parser, config_class)
    run = groups["run"]
    run.add_argument("--config", metavar="FILE", help="a JSON or TOML file of settings, flat (dim = 16) or by group "
                     "([model] dim = 16), under the flag names; flags given win (a run's config.json is one)")
    run.add_argument("--resume", metavar="CKPT", help=f"continue the run saved in this checkpoint (runs/NAME/"
                     f"{checkpoint}) in its own folder, with its own settings; --epochs N extends a finished or "
                     "interrupted run to N epochs (the schedule then runs as planned for N epochs), --out continues "
                     f"it in a new folder, --data-dir reads the data from another folder{resume_extra}")
    run.add_argument("--overwrite", action="store_true", help="allow --out to be a folder that holds a run: that "
                     "run's files are replaced (other files are left alone); with --resume, continue in place even "
                     "if the folder holds later epochs")
    return parser


def train_parser() -> argparse.ArgumentParser:
    return run_parser("train.py", "Train a classifier on UNSW-NB15 (the default command; `python train.py train` is "
                      "the same). Other commands: evaluate, predict, import-seed-checkpoint, pretrain-mae, "
                      "pretrain-vae, landscape; `python train.py COMMAND --help` shows each.", Trainer.config_class,
                      "last.npz",
                      "; runs/NAME/cv.json continues a --cv cross-validation (finished folds are kept; only "
                      "--data-dir may be given)")


def pretrain_parser(command: str, description: str, run_class: type[Run]) -> argparse.ArgumentParser:
    return run_parser(f"train.py {command}", description, run_class.config_class, run_class.checkpoint_name)


ADAPT_PRIOR_HELP = ("none | em: re-weight the probabilities to the attack rate (binary; the class prior) of the rows "
                    "scored, estimated from the model's probabilities alone by EM (Saerens, Latinne & Decaestecker "
                    "2002; no label is read), before the decision threshold (default: none)")
CHECKPOINTS_HELP = ("one or more classifier checkpoints (runs/NAME/best.npz: the selected epoch, with the decision "
                    "threshold chosen on its holdout; last.npz decides at 0.5). Several (e.g. the runs of several "
                    "seeds) form an ensemble: each model preprocesses the CSV with its own saved fit, their "
                    "probabilities are averaged, and the threshold is the mean of their stored thresholds")


def evaluate_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="train.py evaluate", description="Metrics (at threshold 0.5 and at the "
                    "checkpoint's stored decision threshold), calibration (ECE) and the confusion "
                    "matrix of a classifier checkpoint, or an ensemble of several, on the test file "
                    "of its data or on a labelled CSV.")
    parser.add_argument("--checkpoint", required=True, nargs="+", metavar="CKPT", help=CHECKPOINTS_HELP)
    parser.add_argument("--csv", help="a labelled CSV to evaluate on (default: the test file, testing1, of the "
                        "run's data folder)")
    parser.add_argument("--data-dir", metavar="DIR", help="the data folder whose test file is evaluated (default: "
                        "the one the (first) run recorded)")
    parser.add_argument("--adapt-prior", choices=PRIOR_ADAPTATIONS, default="none", help=ADAPT_PRIOR_HELP + "; the "
                        "metrics are shown without and with it")
    return parser


def predict_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="train.py predict", description="Write id, probability and predicted "
                    "label (binary: attack where P(attack) >= the checkpoint's stored threshold) "
                    "for every row of a CSV, preprocessed as the model's training data.")
    parser.add_argument("--checkpoint", required=True, nargs="+", metavar="CKPT", help=CHECKPOINTS_HELP)
    parser.add_argument("--csv", required=True, help="the rows to predict (UNSW-NB15 columns; labels optional)")
    parser.add_argument("--output", required=True, metavar="FILE", help="the CSV to write; never the input, a "
                        "checkpoint or a folder")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument("--adapt-prior", choices=PRIOR_ADAPTATIONS, default="none", help=ADAPT_PRIOR_HELP)
    return parser


def import_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="train.py import-seed-checkpoint", description="Convert a checkpoint "
                    "(.npy) of the original numpy code into a classifier checkpoint of ours.")
    parser.add_argument("file", metavar="FILE.npy", help="a checkpoint saved by the original numpy code")
    parser.add_argument("--dim", type=int, required=True, help="channels per token of the saved model")
    parser.add_argument("--depth", type=int, required=True, help="Mixer blocks of the saved model")
    parser.add_argument("--patch-size", type=int, required=True, help="features per token of the saved model")
    parser.add_argument("--out", required=True, metavar="CKPT", help="the checkpoint to write (.npz)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--trust-pickle", action="store_true", help="the file is a pickle, and unpickling can run "
                        "code from it: load it only if you trust its source")
    parser.add_argument("--data-dir", metavar="DIR", help="UNSW-NB15 folder: store the preprocessing that evaluate "
                        "and predict need (seed mode, fitted on its training CSV)")
    parser.add_argument("--lr", type=float, help="learning rate for continued training (default 1e-3)")
    parser.add_argument("--epochs", type=int, help="epochs a --resume of the imported checkpoint trains "
                        "(default 20)")
    return parser


def landscape_parser() -> argparse.ArgumentParser:
    defaults = LandscapeSettings()
    parser = Parser(prog="train.py landscape", description="Where classifier checkpoints sit on the loss landscape: "
                    "the top Hessian eigenvalues, the trace, the spectral density with its share of negative "
                    "eigenvalues, and filter-normalised 1-D and 2-D loss surfaces, on one fixed batch of rows "
                    "(the same rows for every checkpoint). Writes landscape.json, landscape_1d.png, "
                    "landscape_2d.png and hessian_density.png.")
    parser.add_argument("--checkpoint", required=True, nargs="+", metavar="CKPT", help="one or more classifier "
                        "checkpoints (runs/NAME/best.npz), measured one beside the other")
    parser.add_argument("--out", metavar="DIR", help="the folder to write (default: a new runs/<date>-<time>-"
                        "landscape); it must be new or empty, or hold an earlier landscape (with --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace the earlier landscape in --out")
    parser.add_argument("--data-dir", metavar="DIR", help="the data folder whose training file gives the rows "
                        "(default: the one the first checkpoint's run recorded)")
    rows = parser.add_argument_group("rows")
    rows.add_argument("--rows", type=int, default=defaults.rows, help="rows of the fixed batch (default: %(default)s)")
    rows.add_argument("--split", choices=SPLITS, default=defaults.split, help="draw them among the rows every "
                      "checkpoint's run trained on, or held out (default: %(default)s)")
    rows.add_argument("--seed", type=int, default=defaults.seed, help="draws the rows, the random vectors and the "
                      "directions; the same seed gives the same numbers (default: %(default)s)")
    work = parser.add_argument_group("what is computed, per checkpoint")
    work.add_argument("--top-k", type=int, default=defaults.top_k, help="top eigenvalues (default: %(default)s)")
    work.add_argument("--lanczos-steps", type=int, default=defaults.lanczos_steps, help="most Hessian-vector "
                      "products for them (Lanczos; it stops sooner once converged) (default: %(default)s)")
    work.add_argument("--tol", type=float, default=defaults.tol, help="converged: every top Ritz residual below "
                      "this share of the largest eigenvalue (default: %(default)s)")
    work.add_argument("--trace-samples", type=int, default=defaults.trace_samples, help="Hutchinson samples of the "
                      "trace, one product each (default: %(default)s)")
    work.add_argument("--density-runs", type=int, default=defaults.density_runs, help="stochastic Lanczos quadrature "
                      "runs of the spectral density (default: %(default)s)")
    work.add_argument("--density-steps", type=int, default=defaults.density_steps, help="products per density run "
                      "(default: %(default)s)")
    work.add_argument("--points-1d", type=int, default=defaults.points_1d, help="points of the 1-D surface "
                      "(default: %(default)s)")
    work.add_argument("--points-2d", type=int, default=defaults.points_2d, help="points per side of the 2-D surface "
                      "(default: %(default)s)")
    work.add_argument("--span", type=float, default=defaults.span, help="the surfaces reach from -span to +span along "
                      "each direction (default: %(default)s)")
    work.add_argument("--max-seconds", type=float, default=defaults.max_seconds, help="stop computing after this "
                      "long and write what was computed, marked incomplete (default: %(default)s)")
    return parser


PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "train": train_parser, "evaluate": evaluate_parser, "predict": predict_parser,
    "import-seed-checkpoint": import_parser,
    "pretrain-mae": lambda: pretrain_parser("pretrain-mae", "Pretrain a Mixer masked autoencoder (He et al. 2022) on "
                                            "the training rows (labels unused).", MAEPretrainer),
    "pretrain-vae": lambda: pretrain_parser("pretrain-vae", "Pretrain a tabular VAE (Kingma & Welling 2014) on the "
                                            "training rows (labels unused).", VAEPretrainer),
    "landscape": landscape_parser,
}


# -- commands ----------------------------------------------------------------------------------------------------
def _start(args: argparse.Namespace, run_class: type[Run]) -> Run | CrossValidation:
    """A new run from --config and the flags, or the run of --resume; for `train` with --cv K (and no --fold), or
    --resume of a cv.json, the cross-validation."""
    config_class = run_class.config_class
    flags = {key: getattr(args, key) for key in config_class.options() if getattr(args, key) is not None}
    if args.resume:
        if args.config:
            raise ConfigError([f"--config does not go with --resume: {args.resume} continues with its own settings"])
        if run_class is Trainer and Path(args.resume).name == CV_FILE:
            fixed = [config_class.options()[key].flag for key in flags if key != "data_dir"]
            if fixed:
                raise ConfigError([f"--resume {args.resume} continues a cross-validation with its own settings; only "
                                   f"--data-dir may be given, not {', '.join(fixed)}"])
            return CrossValidation.resume(args.resume, data_dir=flags.get("data_dir"), overwrite=args.overwrite)
        fixed = sorted(set(flags) - RESUMABLE, key=list(config_class.options()).index)
        if fixed:
            shown = ", ".join(config_class.options()[key].flag for key in fixed)
            raise ConfigError([f"--resume continues a run with its own settings; only --epochs (to extend it), "
                               f"--data-dir and --out may be given, not {shown}"])
        return run_class.resume(args.resume, epochs=flags.get("epochs"), out=flags.get("out"),
                                data_dir=flags.get("data_dir"), overwrite=args.overwrite)
    values = {}
    if args.config:
        values = config_class.typed_values(read_config_file(args.config), source=f"config file {args.config}")
    config, notes = config_class.parse({**values, **flags}, given={*values, *flags})
    if isinstance(config, TrainConfig) and config.run.cv and not config.run.fold:
        return CrossValidation(config, overwrite=args.overwrite, notes=notes)
    return run_class(config, overwrite=args.overwrite, notes=notes)  # type: ignore[call-arg]


def run_train(args: argparse.Namespace) -> int:
    _start(args, Trainer).fit()
    return 0


def run_pretrain_mae(args: argparse.Namespace) -> int:
    _start(args, MAEPretrainer).fit()
    return 0


def run_pretrain_vae(args: argparse.Namespace) -> int:
    _start(args, VAEPretrainer).fit()
    return 0


def _split_for(checkpoint_path: str, checkpoint: dict[str, Any], csv: str | Path, labelled: bool = True,
               warning_prefix: str = "") -> unsw.Split:
    """A CSV preprocessed exactly as the checkpoint's training data was; its warnings go to stderr."""
    if checkpoint["preprocessing"] is None:
        raise CheckpointError(f"{checkpoint_path} holds no preprocessing (imported without --data-dir): import it "
                              "again with --data-dir to evaluate or predict with it")
    encoder, preprocessor = unsw.preprocessing_from_state(checkpoint["preprocessing"])
    multiclass = labelled and checkpoint["config"]["task"] == "multiclass"
    split = unsw.load_prediction_csv(csv, encoder, preprocessor,
                                     class_names=checkpoint["class_names"] if multiclass else None)
    for warning in split.warnings:
        print(f"warning: {warning_prefix}{warning}", file=sys.stderr)
    return split


@dataclass
class Predictions:
    """What one checkpoint, or an ensemble of several, predicts for the rows of a CSV."""

    probabilities: np.ndarray  # P(attack) (N,), or class probabilities (N, C): the mean over the models
    split: unsw.Split  # the rows (ids, labels) as the first model preprocessed them
    checkpoints: list[dict[str, Any]]
    threshold: float  # binary: attack where P(attack) >= threshold
    who: str  # "model of epoch 7 (runs/X/best.npz)" or "ensemble of 3 models (...)"
    threshold_rule: str  # where the threshold comes from, in words


def load_models(paths: list[str]) -> list[tuple[nn.Module, dict[str, Any]]]:
    """The models and checkpoints of `load_trained`; several (an ensemble) must predict one task's same classes."""
    loaded = [load_trained(path) for path in paths]
    first = loaded[0][1]
    for path, (_, checkpoint) in zip(paths[1:], loaded[1:], strict=True):
        if checkpoint["config"]["task"] != first["config"]["task"] or checkpoint["class_names"] != first["class_names"]:
            raise CheckpointError(f"{path} predicts {checkpoint['config']['task']} classes {checkpoint['class_names']}"
                                  f", {paths[0]} {first['config']['task']} classes {first['class_names']}: an "
                                  "ensemble needs models of one task and one set of classes")
    return loaded


def predict_with(paths: list[str], loaded: list[tuple[nn.Module, dict[str, Any]]], csv: str | Path,
                 labelled: bool = True) -> Predictions:
    """The probabilities of the models loaded from `paths` (`load_models`) for a CSV. Several (a seed ensemble):
    each preprocesses the CSV with its own saved fit (runs of other seeds fitted it on other rows), their
    probabilities are averaged, and the decision threshold is the mean of their stored thresholds."""
    first = loaded[0][1]
    ensemble = len(paths) > 1
    splits, probabilities = [], []
    for path, (model, checkpoint) in zip(paths, loaded, strict=True):
        splits.append(_split_for(path, checkpoint, csv, labelled, f"{path}: " if ensemble else ""))
        probabilities.append(predict_proba(model, splits[-1].features))
    checkpoints = [checkpoint for _, checkpoint in loaded]
    thresholds = [checkpoint_threshold(checkpoint) for checkpoint in checkpoints]
    if not ensemble:
        threshold, rule = thresholds[0]
        return Predictions(probabilities[0], splits[0], checkpoints, threshold,
                           f"model of epoch {first['epoch']} ({paths[0]})", rule)
    epochs = ", ".join(f"{path} (epoch {checkpoint['epoch']})" for path, checkpoint in zip(paths, checkpoints,
                                                                                            strict=True))
    shown = ", ".join(f"{value:.4f}" for value, _ in thresholds)
    return Predictions(np.mean(probabilities, axis=0), splits[0], checkpoints,
                       float(np.mean([value for value, _ in thresholds])),
                       f"ensemble of {len(paths)} models (the mean of their probabilities): {epochs}",
                       f"the mean of the {len(paths)} models' stored thresholds {shown}")


def adapt_prior(predictions: Predictions) -> PriorShift:
    """EM prior adaptation of the predictions (`mixer.prior`), from the training prior the checkpoints store (the
    mean over an ensemble's models); prints what it estimated."""
    priors = [checkpoint.get("class_prior") for checkpoint in predictions.checkpoints]
    if any(prior is None for prior in priors):
        raise CheckpointError("--adapt-prior em needs the class prior of the model's training rows, which checkpoints "
                              "store since prior adaptation exists; this one predates it (train it again)")
    shift = em_prior_shift(predictions.probabilities, np.mean(priors, axis=0))
    names = predictions.checkpoints[0]["class_names"]
    shown = ", ".join(f"{name} {estimated:.4f} (training {trained:.4f})"
                      for name, estimated, trained in zip(names, shift.prior, shift.training_prior, strict=True))
    print(f"prior adaptation (EM, no label read, {shift.iterations} iterations): class prior of these rows {shown}")
    return shift


def run_evaluate(args: argparse.Namespace) -> int:
    loaded = load_models(args.checkpoint)
    if args.csv:
        csv = Path(args.csv)
    else:
        csv = unsw.dataset_files(unsw.find_data_dir(args.data_dir or loaded[0][1]["config"]["data_dir"]))["test"]
    predictions = predict_with(args.checkpoint, loaded, csv)
    split, probabilities, threshold = predictions.split, predictions.probabilities, predictions.threshold
    if split.labels is None:
        raise unsw.DataError(f"{csv} has no label column; use `predict` for unlabelled rows")
    name = "test" if not args.csv else "labelled rows"
    class_names = predictions.checkpoints[0]["class_names"]
    metrics = split_metrics(split.labels, probabilities)
    header = f"{name} ({csv}, {len(split.labels):,} rows), {predictions.who}: "
    adapted = adapt_prior(predictions).probabilities if args.adapt_prior == "em" else None
    if probabilities.ndim == 1:
        metrics["ece"] = expected_calibration_error(split.labels, probabilities)
        table = {name: metrics, f"{name}_at_threshold": split_metrics(split.labels, probabilities, threshold)}
        if adapted is not None:
            table[f"{name} (EM)"] = {**split_metrics(split.labels, adapted),
                                     "ece": expected_calibration_error(split.labels, adapted)}
            table[f"{name} (EM)_at_threshold"] = split_metrics(split.labels, adapted, threshold)
        print(header + format_metrics({key: metrics[key] for key in ("loss", "roc_auc", "ece")}))
        print(f"decision threshold {threshold:.4f} ({predictions.threshold_rule}); at 0.5 and at it"
              + (", without and with prior adaptation:" if adapted is not None else ":"))
        print(format_threshold_table(table, threshold))
    else:
        print(header + format_metrics(metrics))
        if adapted is not None:
            print(f"{name} with prior adaptation (EM): " + format_metrics(split_metrics(split.labels, adapted)))
    if adapted is not None:
        probabilities = adapted
    matrix = confusion_matrix(split.labels, predicted_classes(probabilities, threshold), len(class_names))
    at = f" at threshold {threshold:.4f}" if probabilities.ndim == 1 else ""
    at += ", prior-adapted" if adapted is not None else ""
    print(f"confusion matrix{at} (rows: true class, columns: predicted; % of the row):")
    print(format_confusion(matrix, class_names))
    return 0


def _check_output(output: Path, inputs: list[tuple[str, str]], overwrite: bool) -> None:
    """predict never writes onto its input, a checkpoint or a folder, nor onto any file without --overwrite, and
    finds out before reading anything that it could not write there."""
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder; give the CSV file to write")
    reason = unwritable_reason(output)
    if reason:
        raise UsageError(f"--output {output}: cannot write there: {reason}")
    if not output.exists():
        return
    for flag, path in inputs:
        if Path(path).exists() and output.resolve() == Path(path).resolve():
            raise UsageError(f"--output {output} is the {flag} file; write the predictions elsewhere")
    if is_checkpoint(output):
        raise UsageError(f"--output {output} is a checkpoint; write the predictions elsewhere")
    if not overwrite:
        raise UsageError(f"--output {output} exists; pass --overwrite to replace it")


def run_predict(args: argparse.Namespace) -> int:
    output = Path(args.output)
    _check_output(output, [("--csv", args.csv), *(("--checkpoint", path) for path in args.checkpoint)],
                  args.overwrite)
    predictions = predict_with(args.checkpoint, load_models(args.checkpoint), args.csv, labelled=False)
    split = predictions.split
    if args.adapt_prior == "em":
        predictions.probabilities = adapt_prior(predictions).probabilities
    write_predictions(output, predictions.probabilities, split.ids, predictions.checkpoints[0]["class_names"],
                      predictions.threshold)
    if predictions.probabilities.ndim == 1:
        rule = (f"predicted label 1 where P(attack) >= {predictions.threshold:.4f}, the decision threshold "
                f"({predictions.threshold_rule})")
    else:
        rule = "predicted label: the most probable class"
    print(f"wrote {len(split.ids):,} predictions of the {predictions.who} to {output}; {rule}")
    return 0


def run_import_seed_checkpoint(args: argparse.Namespace) -> int:
    """Convert a checkpoint of the original numpy code into a checkpoint of ours."""
    overrides = {name: value for name, value in (("lr", args.lr), ("epochs", args.epochs)) if value is not None}
    checkpoint = import_seed_checkpoint(args.file, dim=args.dim, depth=args.depth, patch_size=args.patch_size,
                                        out=args.out, trust_pickle=args.trust_pickle, data_dir=args.data_dir,
                                        config=overrides, overwrite=args.overwrite)
    steps = sorted({int(entry["step"]) for entry in checkpoint["optimizer"]["state"].values()})
    print(f"wrote {args.out}: {len(checkpoint['model'])} parameters of MLPMixer1D(dim={args.dim}, depth={args.depth}, "
          f"patch_size={args.patch_size}), Adam state with step counts {steps or 'none'}")
    if checkpoint["preprocessing"] is None:
        print("no preprocessing stored (the original file has none): use it with load_trained on preprocessed "
              "arrays or with --resume; for evaluate and predict import again with --data-dir")
    return 0


def run_landscape_command(args: argparse.Namespace) -> int:
    settings = LandscapeSettings(**{key: getattr(args, key) for key in LandscapeSettings.__dataclass_fields__})
    run_landscape(args.checkpoint, settings, out=args.out, overwrite=args.overwrite, data_dir=args.data_dir,
                  argv=args.argv)
    return 0


RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": run_train, "evaluate": run_evaluate, "predict": run_predict,
    "import-seed-checkpoint": run_import_seed_checkpoint, "pretrain-mae": run_pretrain_mae,
    "pretrain-vae": run_pretrain_vae, "landscape": run_landscape_command,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    if command == "train" and argv and not argv[0].startswith("-"):
        train_parser().error(f"unknown command {argv[0]!r}{did_you_mean(argv[0], list(COMMANDS))}")
    args = PARSERS[command]().parse_args(argv)
    args.argv = argv  # the command's own words, for outputs that record how they were made
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    with stop_signals():
        try:
            return RUNNERS[command](args)
        except KeyboardInterrupt as stop:
            if debug:
                traceback.print_exc()
            signum = signal_of(stop)
            print(getattr(stop, "message", f"interrupted{by(signum)} before anything was written"), file=sys.stderr)
            return 128 + signum
        except UserError as error:
            if debug:
                traceback.print_exc()
            print(f"error: {error}", file=sys.stderr)
            return 1
