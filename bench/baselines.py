"""scikit-learn baselines on UNSW-NB15, run under the protocol of train.py, beside the MLP-Mixer runs.

    python bench/baselines.py --seeds 0 1 2                          # the three baselines, three seeds each
    python bench/baselines.py --seeds 0 1 2 --runs runs/A runs/B ...  # and train.py's runs in the same table
    python bench/baselines.py --models --runs runs/*                  # the runs alone (no scikit-learn needed)
    python bench/baselines.py --seeds 0 1 2 --markdown --json baselines.json

The protocol is the one of train.py: for each seed the data comes from the project's own loader
(`mixer.data.load_unsw(preprocess="quantile", holdout=0.1, seed=seed, keep_codes=False)`), so the holdout rows are
those of a run with that seed (the trees do not care about the monotone quantile transform; the logistic regression
needs it). Each model is fitted on the train rows only: a random forest (300 trees), histogram gradient boosting
and a logistic regression, each with random_state = seed where it has one. Its decision threshold is chosen on the
holdout with `mixer.metrics.best_threshold`, as train.py chooses a run's; the test file (testing1) is only scored,
never used to choose anything.

Per model and seed: holdout accuracy and ROC-AUC (at 0.5), the threshold, and on test accuracy and F1 at 0.5 and at
the threshold, ROC-AUC and ECE (which do not depend on it); the table shows mean +- std (ddof 1) over the seeds.
`--runs` reads result.json and config.json of train.py run folders; runs whose config.json differ only in the seed
form one row, "mlp-mixer (the flags that differ from the default)", with mean and std over their seeds.

`--adapt-prior em` treats every row alike, as `train.py evaluate --adapt-prior em` does: the test rows' attack rate
is estimated from the model's test probabilities alone by EM (`mixer.prior`, Saerens et al. 2002; the training
prior is the attack rate of the model's training rows), the probabilities are re-weighted to it, and the table adds
that attack rate, accuracy and F1 at the threshold, and ECE after adaptation (ROC-AUC does not change). For the runs,
the test probabilities come from their best.npz.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as train.py does, before numpy loads OpenBLAS

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mixer import data as unsw  # noqa: E402
from mixer.checkpoint import CheckpointError  # noqa: E402
from mixer.config import ConfigError, TrainConfig, read_config_file  # noqa: E402
from mixer.metrics import THRESHOLD_CRITERIA, best_threshold, binary_metrics, expected_calibration_error  # noqa: E402
from mixer.prior import PRIOR_ADAPTATIONS, class_prior, em_prior_shift  # noqa: E402

MODELS = ("random-forest", "gradient-boosting", "logistic-regression")
# (record key, column header): one row per model (or group of runs) and seed
COLUMNS = (("holdout_accuracy", "holdout acc"), ("holdout_roc_auc", "holdout AUC"), ("threshold", "threshold"),
           ("test_accuracy", "test acc@0.5"), ("test_f1", "F1@0.5"), ("test_accuracy_at_threshold", "acc@thr"),
           ("test_f1_at_threshold", "F1@thr"), ("test_roc_auc", "ROC-AUC"), ("test_ece", "ECE"))
EM_COLUMNS = (("em_attack_rate", "EM attack rate"), ("test_accuracy_em", "acc@0.5 EM"),
              ("test_accuracy_at_threshold_em", "acc@thr EM"), ("test_f1_at_threshold_em", "F1@thr EM"),
              ("test_ece_em", "ECE EM"))
NOT_COMPARED = {"seed", "data_dir", "out"}  # what may differ between the runs of one row


class BenchError(Exception):
    """A problem the user can fix (a run folder, a missing package), said in one line."""


# -- the baselines -----------------------------------------------------------------------------------------------
def make_estimator(name: str, seed: int, jobs: int = -1, trees: int = 300) -> Any:
    """The scikit-learn model `name` (one of MODELS) with its seed; BenchError when scikit-learn is missing."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise BenchError("bench/baselines.py needs scikit-learn: pip install -e '.[bench]'") from None
    if name == "random-forest":
        return RandomForestClassifier(n_estimators=trees, n_jobs=jobs, random_state=seed)
    if name == "gradient-boosting":
        return HistGradientBoostingClassifier(random_state=seed)
    if name == "logistic-regression":
        return LogisticRegression(max_iter=2000)
    raise ValueError(f"unknown model {name!r}; one of {', '.join(MODELS)}")


def attack_probability(estimator: Any, features: np.ndarray) -> np.ndarray:
    """P(attack) of a fitted binary classifier, in float64."""
    column = list(estimator.classes_).index(1)
    return estimator.predict_proba(features)[:, column].astype(np.float64)


def prior_adapted(labels: np.ndarray, probabilities: np.ndarray, training_attack_rate: float,
                  threshold: float) -> dict[str, float]:
    """The EM columns (`EM_COLUMNS`): the test rows' probabilities re-weighted to the attack rate EM estimates from
    them alone, then scored with `labels` at 0.5 and at `threshold`."""
    shift = em_prior_shift(probabilities, training_attack_rate)
    at_half = binary_metrics(labels, shift.probabilities)
    at_threshold = binary_metrics(labels, shift.probabilities, threshold)
    return {"em_attack_rate": float(shift.prior[1]), "test_accuracy_em": at_half["accuracy"],
            "test_accuracy_at_threshold_em": at_threshold["accuracy"], "test_f1_at_threshold_em": at_threshold["f1"],
            "test_ece_em": expected_calibration_error(labels, shift.probabilities)}


def evaluate_baseline(estimator: Any, data: unsw.UNSWData, criterion: str = "accuracy",
                      adapt_prior: str = "none") -> dict[str, float]:
    """Fit `estimator` on the train rows, choose its decision threshold on the holdout rows by `criterion`, and score
    the test rows at 0.5 and at that threshold (with `adapt_prior` "em", also after prior adaptation). Nothing but
    the scores reads the test rows' labels."""
    if data.holdout is None:
        raise ValueError("the baselines choose their threshold on a holdout: load the data with holdout > 0")
    estimator.fit(data.train.features, data.train.labels)
    holdout = attack_probability(estimator, data.holdout.features)
    threshold = best_threshold(data.holdout.labels, holdout, criterion)
    at_half = binary_metrics(data.holdout.labels, holdout)
    test = attack_probability(estimator, data.test.features)
    test_half = binary_metrics(data.test.labels, test)
    test_threshold = binary_metrics(data.test.labels, test, threshold)
    record = {"holdout_accuracy": at_half["accuracy"], "holdout_roc_auc": at_half["roc_auc"], "threshold": threshold,
              "test_accuracy": test_half["accuracy"], "test_f1": test_half["f1"],
              "test_accuracy_at_threshold": test_threshold["accuracy"], "test_f1_at_threshold": test_threshold["f1"],
              "test_roc_auc": test_half["roc_auc"], "test_ece": expected_calibration_error(data.test.labels, test)}
    if adapt_prior == "em":
        record.update(prior_adapted(data.test.labels, test, class_prior(data.train.labels, 2)[1], threshold))
    return record


def run_baselines(models: Sequence[str], seeds: Sequence[int], *, data_dir: str | None = None, holdout: float = 0.1,
                  criterion: str = "accuracy", jobs: int = -1, trees: int = 300, adapt_prior: str = "none",
                  log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One row per model: its records per seed (see `evaluate_baseline`), each seed's data loaded once."""
    per_seed: dict[str, list[dict[str, float]]] = {name: [] for name in models}
    for name in models:
        make_estimator(name, 0, jobs, trees)  # scikit-learn present, before any data is loaded
    with thread_limit(jobs):
        for seed in seeds:
            _run_seed(seed, models, per_seed, data_dir=data_dir, holdout=holdout, criterion=criterion, jobs=jobs,
                      trees=trees, adapt_prior=adapt_prior, log=log)
    return [{"name": name, "kind": "baseline", "seeds": list(seeds), "per_seed": per_seed[name]} for name in models]


def thread_limit(jobs: int) -> contextlib.AbstractContextManager[Any]:
    """With jobs > 0, at most that many threads in the OpenMP and BLAS pools (gradient boosting and the logistic
    regression use them; on a busy machine more threads than free cores slow them down many times)."""
    if jobs <= 0:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    return threadpool_limits(limits=jobs)


def _run_seed(seed: int, models: Sequence[str], per_seed: dict[str, list[dict[str, float]]], *,
              data_dir: str | None, holdout: float, criterion: str, jobs: int, trees: int, adapt_prior: str,
              log: Callable[[str], None]) -> None:
    """The records of every model for one seed, appended to `per_seed`."""
    data = unsw.load_unsw(data_dir, preprocess="quantile", holdout=holdout, seed=seed, keep_codes=False)
    for name in models:
        start = time.perf_counter()
        record = evaluate_baseline(make_estimator(name, seed, jobs, trees), data, criterion, adapt_prior)
        record["seconds"] = time.perf_counter() - start
        per_seed[name].append(record)
        log(f"seed {seed}: {name} in {record['seconds']:.1f} s, test accuracy {record['test_accuracy']:.4f} "
            f"(at 0.5) / {record['test_accuracy_at_threshold']:.4f} (at {record['threshold']:.4f}), ROC-AUC "
            f"{record['test_roc_auc']:.4f}")


# -- train.py's runs ---------------------------------------------------------------------------------------------
def run_record(result: dict[str, Any]) -> dict[str, float]:
    """The record of one train.py run from its result.json (NaN for what a run of an earlier version lacks)."""
    def value(split: str, metric: str) -> float:
        return float(result.get(split, {}).get(metric, math.nan))

    return {"holdout_accuracy": value("holdout", "accuracy"), "holdout_roc_auc": value("holdout", "roc_auc"),
            "threshold": float(result.get("threshold", math.nan)), "test_accuracy": value("test", "accuracy"),
            "test_f1": value("test", "f1"), "test_accuracy_at_threshold": value("test_at_threshold", "accuracy"),
            "test_f1_at_threshold": value("test_at_threshold", "f1"), "test_roc_auc": value("test", "roc_auc"),
            "test_ece": value("test", "ece")}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BenchError(f"{path} does not exist: --runs takes folders of finished train.py runs")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise BenchError(f"{path} is not valid JSON ({error})") from None


def run_seconds(folder: Path) -> float:
    """The seconds of a run's epochs, from its metrics.jsonl (NaN if it has none)."""
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return math.nan
    return sum(json.loads(line).get("seconds", math.nan) for line in path.read_text().splitlines() if line.strip())


def config_label(config: TrainConfig, default: TrainConfig) -> str:
    """"mlp-mixer (default)" or "mlp-mixer (--dim 128 --dropout 0.1)": the model and the flags that differ from
    the default configuration (seed and folders aside)."""
    options, mine, defaults = TrainConfig.options(), config.flat(), default.flat()
    changed = [options[key].shown(value) for key, value in mine.items()
               if key not in NOT_COMPARED | {"model"} and value != defaults[key]]
    return f"{config.model.name} ({' '.join(changed) or 'default'})"


def run_prior_adapted(folder: Path, data_dir: str | None) -> dict[str, float]:
    """The EM columns of a run: its best.npz's probabilities on the test file of its data (or of `data_dir`),
    adapted from the training prior the checkpoint stores, at its stored threshold."""
    from mixer.cli import load_models, predict_with

    path = str(folder / "best.npz")
    try:
        loaded = load_models([path])
    except CheckpointError as error:
        raise BenchError(str(error)) from None
    checkpoint = loaded[0][1]
    if "class_prior" not in checkpoint:
        raise BenchError(f"{path} predates prior adaptation (it stores no training prior): run it again")
    test = unsw.dataset_files(unsw.find_data_dir(data_dir or checkpoint["config"]["data_dir"]))["test"]
    predictions = predict_with([path], loaded, test)
    return prior_adapted(predictions.split.labels, predictions.probabilities, checkpoint["class_prior"][1],
                         predictions.threshold)


def read_runs(folders: Sequence[str | Path], adapt_prior: str = "none",
              data_dir: str | None = None) -> list[dict[str, Any]]:
    """One row per configuration: the runs whose config.json differ only in the seed (and folders), in the order
    first given, each with its records per seed (with `adapt_prior` "em", also the EM columns of its best.npz)."""
    default = TrainConfig.parse({})[0]
    groups: dict[str, dict[str, Any]] = {}
    for folder in map(Path, folders):
        result = _read_json(folder / "result.json")
        try:
            config = TrainConfig.parse(TrainConfig.saved(read_config_file(folder / "config.json")))[0]
        except ConfigError as error:
            raise BenchError(f"{folder / 'config.json'}: {error}") from None
        if config.data.task != "binary":
            raise BenchError(f"{folder} is a --task {config.data.task} run; the table compares binary classifiers")
        key = json.dumps({name: value for name, value in config.flat().items() if name not in NOT_COMPARED},
                         sort_keys=True)
        group = groups.setdefault(key, {"name": config_label(config, default), "kind": "run", "seeds": [],
                                        "runs": [], "per_seed": []})
        group["seeds"].append(config.run.seed)
        group["runs"].append(str(folder))
        record = run_record(result)
        record["seconds"] = run_seconds(folder)
        if adapt_prior == "em":
            record.update(run_prior_adapted(folder, data_dir))
        group["per_seed"].append(record)
    return list(groups.values())


# -- the table ---------------------------------------------------------------------------------------------------
def columns(rows: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """COLUMNS, and EM_COLUMNS when the records have them (--adapt-prior em)."""
    adapted = bool(rows) and all(EM_COLUMNS[0][0] in record for row in rows for record in row["per_seed"])
    return COLUMNS + (EM_COLUMNS if adapted else ())


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with the mean and std (ddof 1; NaN for one seed) of every column over its seeds."""
    for row in rows:
        values = {key: np.array([record[key] for record in row["per_seed"]], dtype=np.float64)
                  for key, _ in columns(rows)}
        row["mean"] = {key: float(np.mean(array)) for key, array in values.items()}
        row["std"] = {key: float(np.std(array, ddof=1)) if len(array) > 1 else math.nan
                      for key, array in values.items()}
    return rows


def _cell(row: dict[str, Any], key: str) -> str:
    mean, std = row["mean"][key], row["std"][key]
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def _seeds(row: dict[str, Any]) -> str:
    return " ".join(map(str, row["seeds"]))


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as aligned text: model, seeds, then mean ± std of every column."""
    header = ["model", "seeds", *(title for _, title in columns(rows))]
    cells = [[row["name"], _seeds(row), *(_cell(row, key) for key, _ in columns(rows))] for row in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) if i < 2 else text.rjust(width)
                               for i, (text, width) in enumerate(zip(line, widths, strict=True))).rstrip()
                     for line in [header, *cells])


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table for the README."""
    header = ["model", "seeds", *(title for _, title in columns(rows))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([row["name"], _seeds(row), *(_cell(row, key) for key, _ in columns(rows))]) + " |"
              for row in rows]
    return "\n".join(lines)


# -- the adoption rule -------------------------------------------------------------------------------------------
def adoption(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each group of runs against the default's runs of the same seeds, on the holdout only: the mean of the paired
    differences of holdout ROC-AUC and their standard error (std ddof 1 / sqrt(n)). The rule (docs/results.md): an
    option is adopted if it gains more than 2 standard errors and the default run stays under 5 minutes on 2 cores;
    it is worse if it loses more than 2 standard errors, and under the bar in between.
    Empty without a default group."""
    runs = [row for row in rows if row["kind"] == "run"]
    default = next((row for row in runs if row["name"].endswith("(default)")), None)
    if default is None:
        return []
    reference = dict(zip(default["seeds"], default["per_seed"], strict=True))
    table = []
    for row in runs:
        pairs = [(record, reference[seed]) for seed, record in zip(row["seeds"], row["per_seed"], strict=True)
                 if seed in reference]
        changes = np.array([mine["holdout_roc_auc"] - theirs["holdout_roc_auc"] for mine, theirs in pairs])
        standard_error = float(np.std(changes, ddof=1) / math.sqrt(len(changes))) if len(changes) > 1 else math.nan
        change = float(np.mean(changes)) if len(changes) else math.nan
        if row is default:
            verdict = "the reference"
        elif len(changes) < 2:
            verdict = "fewer than 2 paired seeds: no verdict"
        elif change > 2 * standard_error:
            verdict = "passes (gain > 2 SE)"
        elif change < -2 * standard_error:
            verdict = "worse (loss > 2 SE)"
        else:
            verdict = "under the bar"
        table.append({"name": row["name"], "seeds": [seed for seed in row["seeds"] if seed in reference],
                      "holdout_roc_auc": float(np.mean([mine["holdout_roc_auc"] for mine, _ in pairs])),
                      "change": change, "standard_error": standard_error, "verdict": verdict,
                      "minutes": float(np.mean([mine["seconds"] for mine, _ in pairs])) / 60})
    return table


def format_adoption(table: list[dict[str, Any]], markdown: bool) -> str:
    """The adoption table as Markdown or as aligned text."""
    header = ["runs", "seeds", "holdout ROC-AUC", "paired change", "minutes per run", "verdict"]
    cells = [[row["name"], " ".join(map(str, row["seeds"])), f"{row['holdout_roc_auc']:.4f}",
              "-" if row["verdict"] == "the reference" else f"{row['change']:+.4f}" + (
                  "" if math.isnan(row["standard_error"]) else f" ± {row['standard_error']:.4f}"),
              f"{row['minutes']:.1f}", row["verdict"]] for row in table]
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] +
                         ["| " + " | ".join(line) + " |" for line in cells])
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *cells])


def _without_nan(value: Any) -> Any:
    """`value` with every NaN replaced by None (null in JSON, which has no NaN)."""
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="The holdout chooses every "
                                     "threshold; the test file (testing1) is only scored.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds: each loads the data with its own "
                        "holdout (as train.py --seed) and seeds the models (default: 0)")
    parser.add_argument("--models", nargs="*", choices=MODELS, default=list(MODELS), help="the baselines to run "
                        "(default: all; none with a bare --models, for the --runs alone)")
    parser.add_argument("--runs", nargs="+", default=[], metavar="DIR", help="train.py run folders to show beside "
                        "them (their result.json and config.json); runs differing only in the seed form one row")
    parser.add_argument("--data-dir", metavar="DIR", help="the UNSW-NB15 folder (default: as train.py finds it)")
    parser.add_argument("--holdout", type=float, default=0.1, help="fraction of the training file held out to "
                        "choose the threshold (default: 0.1, train.py's)")
    parser.add_argument("--criterion", choices=THRESHOLD_CRITERIA, default="accuracy", help="what the threshold "
                        "maximises on the holdout (default: accuracy, train.py's --threshold-criterion)")
    parser.add_argument("--jobs", type=int, default=-1, help="threads of the random forest and, when > 0, the limit "
                        "on the threads of gradient boosting and the logistic regression (default: -1, all cores)")
    parser.add_argument("--trees", type=int, default=300, help="trees of the random forest (default: 300)")
    parser.add_argument("--adapt-prior", choices=PRIOR_ADAPTATIONS, default="none", help="em: also score every row "
                        "after label-free prior adaptation to the test rows' attack rate, as `train.py evaluate "
                        "--adapt-prior em` (default: none)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    parser.add_argument("--json", metavar="FILE", help="write the rows (per seed, mean and std) to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.models and not args.runs:
        print("error: nothing to show: give --models or --runs", file=sys.stderr)
        return 1
    try:
        rows = run_baselines(args.models, args.seeds, data_dir=args.data_dir, holdout=args.holdout,
                             criterion=args.criterion, jobs=args.jobs, trees=args.trees, adapt_prior=args.adapt_prior,
                             log=lambda line: print(line, file=sys.stderr)) if args.models else []
        rows = summarise(rows + read_runs(args.runs, args.adapt_prior, args.data_dir))
    except (BenchError, unsw.DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(format_markdown(rows) if args.markdown else format_table(rows))
    table = adoption(rows)
    if len(table) > 1:
        print("\nThe adoption rule, on the holdout only (each group of runs against the default's runs of the same "
              "seeds):\n")
        print(format_adoption(table, args.markdown))
    if args.json:
        protocol = {"holdout": args.holdout, "criterion": args.criterion, "trees": args.trees,
                    "preprocess": "quantile", "test": "reported only", "adapt_prior": args.adapt_prior}
        Path(args.json).write_text(json.dumps(_without_nan({"protocol": protocol, "rows": rows, "adoption": table}),
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
