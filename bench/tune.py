"""A small hyperparameter search for train.py's default, chosen on the holdout only: successive halving (or a random
search) over learning rate, weight decay, drop-path, dim, depth, patch size, epochs, batch size and the periodic
embedding's sigma, each configuration scored by the mean holdout ROC-AUC of its runs over the seeds.

    python bench/tune.py --out runs/tune                         # successive halving: 9 / 3 / 1 configurations
                                                                 # at 5 / 10 / 20 epochs, seeds 0 1 2: 39 runs
    python bench/tune.py --out runs/tune --method random --trials 13 --seeds 0 1 2
    python bench/tune.py --out runs/tune --cv 3 --trials 3 --rung-epochs 5 20  # scored by 3-fold cross-validation
    python bench/tune.py --out runs/tune --table --markdown      # the table of what is finished, nothing run
    python bench/tune.py --out runs/tune --dry-run               # the plan, nothing run

Every run is an ordinary `train.py` run (its folder: OUT/trial-NN/epochs-E/seed-S, its console output beside it in
seed-S.log), so model selection, the threshold and the protocol are train.py's: the test file is scored by each run
but never read here -- the table shows holdout numbers only. With --cv K a configuration's score is instead the mean
holdout ROC-AUC over the folds of `train.py --cv K` (one cross-validation of K runs per seed; seed 0 alone unless
--seeds says otherwise). The search is resumable: run the same command again
and finished runs are read, not repeated; an interrupted run continues from its last.npz (`train.py --resume`).
The plan (the configurations drawn from --search-seed) is saved in OUT/tune.json and a later call with other
search settings is refused. Configuration 0 is train.py's default, so the winner is measured beside it.

Successive halving (Jamieson & Talwalkar 2016; Li et al. 2017, Hyperband's inner loop): rung r trains the
configurations still in the race for --rung-epochs[r] epochs (fresh runs: a longer run has its own schedule), and the
best 1 / --eta of them by mean holdout ROC-AUC go on to the next rung. The ranking at the last rung is the result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as train.py does, before numpy loads OpenBLAS

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_np  # noqa: E402
from mixer.cli import main as train_main  # noqa: E402
from mixer.config import ConfigError, TrainConfig  # noqa: E402

# name: (kind, arguments) -- "log": log-uniform in [low, high]; "uniform": uniform in [low, high]; "choice"
SPACE: dict[str, tuple[str, tuple[Any, ...]]] = {
    "lr": ("log", (5e-4, 5e-3)),
    "weight_decay": ("log", (0.005, 0.2)),
    "drop_path": ("uniform", (0.0, 0.3)),
    "dim": ("choice", (32, 48, 64, 96, 128)),
    "depth": ("choice", (2, 3, 4, 6)),
    "patch_size": ("choice", (2, 3, 6)),
    "batch_size": ("choice", (64, 128, 256)),
    "periodic_sigma": ("log", (0.003, 0.1)),
    "epochs": ("choice", (10, 15, 20, 25)),  # random search only: successive halving sets the epochs per rung
}
PLAN_FILE = "tune.json"


class TuneError(Exception):
    """A problem the user can fix, said in one line."""


# -- the plan ------------------------------------------------------------------------------------------------------
def draw(rng: np.random.Generator, fixed: dict[str, Any], with_epochs: bool) -> dict[str, Any]:
    """One configuration: every searched option not in `fixed`, rounded to 3 significant digits."""
    values: dict[str, Any] = {}
    for name, (kind, arguments) in SPACE.items():
        if name in fixed or (name == "epochs" and not with_epochs):
            continue
        if kind == "choice":
            values[name] = arguments[int(rng.integers(len(arguments)))]
        else:
            low, high = arguments
            value = math.exp(rng.uniform(math.log(low), math.log(high))) if kind == "log" else rng.uniform(low, high)
            values[name] = float(f"{value:.3g}")
    return values


def default_values(with_epochs: bool) -> dict[str, Any]:
    """train.py's defaults of the searched options (configuration 0)."""
    config = TrainConfig.parse({})[0]
    return {name: config.get(name) for name in SPACE if with_epochs or name != "epochs"}


def make_plan(args: argparse.Namespace) -> dict[str, Any]:
    """The configurations (configuration 0: the defaults; the others drawn from --search-seed) and the settings
    that decide the runs, as tune.json stores them."""
    fixed = dict(args.fixed)
    halving = args.method == "halving"
    count = args.trials if args.trials is not None else (args.eta ** (len(args.rung_epochs) - 1) if halving else 13)
    rng = np.random.default_rng(args.search_seed)
    configurations = [{**default_values(not halving), **fixed}]
    configurations += [{**draw(rng, fixed, not halving), **fixed} for _ in range(count - 1)]
    plan = {"method": args.method, "seeds": list(args.seeds), "cv": args.cv, "search_seed": args.search_seed,
            "fixed": fixed, "data_dir": args.data_dir, "configurations": configurations}
    if halving:
        plan.update(rung_epochs=list(args.rung_epochs), eta=args.eta)
    for index, values in enumerate(configurations):
        try:
            TrainConfig.parse({**values, **({"epochs": max(args.rung_epochs)} if halving else {})})
        except ConfigError as error:
            raise TuneError(f"configuration {index} ({flags(values)}) is refused by train.py: {error}") from None
    return plan


def runs_planned(plan: dict[str, Any]) -> int:
    """How many runs of train.py the plan makes at most (a cross-validation is K runs)."""
    seeds = len(plan["seeds"]) * max(1, plan["cv"])
    if plan["method"] == "random":
        return len(plan["configurations"]) * seeds
    alive, total = len(plan["configurations"]), 0
    for _ in plan["rung_epochs"]:
        total += alive * seeds
        alive = max(1, math.ceil(alive / plan["eta"]))
    return total


def load_plan(out: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan of an earlier call in `out`, which must be this one; else `plan`, saved."""
    path = out / PLAN_FILE
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != json.loads(json.dumps(plan)):
            raise TuneError(f"{path} holds a search with other settings; give another --out, or the same settings "
                            "to continue it")
        return saved
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=1) + "\n")
    return plan


def flags(values: dict[str, Any]) -> str:
    return " ".join(f"--{name.replace('_', '-')} {value:g}" if isinstance(value, float) else
                    f"--{name.replace('_', '-')} {value}" for name, value in values.items())


# -- the runs ------------------------------------------------------------------------------------------------------
def run_folder(out: Path, trial: int, epochs: int, seed: int) -> Path:
    return out / f"trial-{trial:02d}" / f"epochs-{epochs}" / f"seed-{seed}"


def minutes(folder: Path) -> float:
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return sum(record["seconds"] for record in history) / 60


def read_result(folder: Path, cv: int) -> dict[str, Any] | None:
    """The holdout ROC-AUC and the training minutes of a finished run, or of a finished cross-validation (the mean
    over its folds, and its folds' minutes together); None before it finishes."""
    if cv:
        summary = json.loads((folder / "cv.json").read_text()) if (folder / "cv.json").is_file() else {}
        if "holdout" not in summary:
            return None
        return {"roc_auc": summary["holdout"]["mean"]["roc_auc"],
                "minutes": sum(minutes(folder / f"fold-{fold}") for fold in range(1, cv + 1))}
    if not (folder / "result.json").is_file():
        return None
    return {"roc_auc": json.loads((folder / "result.json").read_text())["holdout"]["roc_auc"],
            "minutes": minutes(folder)}


def train(values: dict[str, Any], epochs: int, seed: int, folder: Path, data_dir: str | None, cv: int) -> None:
    """One train.py run (or cross-validation) into `folder`, or the rest of an interrupted one; its console output
    in seed-S.log."""
    saved = folder / ("cv.json" if cv else "last.npz")
    argv = ["train", "--resume", str(saved)] if saved.is_file() else \
        ["train", "--out", str(folder), "--seed", str(seed), "--epochs", str(epochs), *flags(values).split(),
         *(["--cv", str(cv)] if cv else []), *(["--data-dir", data_dir] if data_dir else [])]
    folder.parent.mkdir(parents=True, exist_ok=True)
    log = folder.parent / f"{folder.name}.log"
    with open(log, "a") as file, contextlib.redirect_stdout(file), contextlib.redirect_stderr(file):
        code = train_main(argv)
    if code != 0:
        raise TuneError(f"train.py {' '.join(argv)} failed (exit code {code}); see {log}")


def score(out: Path, trial: int, epochs: int, seeds: Sequence[int], run: bool, plan: dict[str, Any],
          log: Callable[[str], None]) -> dict[str, Any]:
    """The runs of one configuration at `epochs` over the seeds (trained when `run` and not yet finished)."""
    values = {key: value for key, value in plan["configurations"][trial].items() if key != "epochs"}
    results = []
    for seed in seeds:
        folder = run_folder(out, trial, epochs, seed)
        result = read_result(folder, plan["cv"])
        if result is None and run:
            start = time.perf_counter()
            train(values, epochs, seed, folder, plan["data_dir"], plan["cv"])
            result = read_result(folder, plan["cv"])
            log(f"trial {trial}, {epochs} epochs, seed {seed}: holdout ROC-AUC {result['roc_auc']:.4f} "
                f"({time.perf_counter() - start:.0f} s)")
        if result is not None:
            results.append(result)
    aucs = [r["roc_auc"] for r in results]
    return {"trial": trial, "epochs": epochs, "seeds": len(results), "flags": flags(values),
            "mean": statistics.mean(aucs) if aucs else math.nan,
            "std": statistics.stdev(aucs) if len(aucs) > 1 else math.nan,
            "minutes": statistics.mean(r["minutes"] for r in results) if results else math.nan,
            "complete": len(results) == len(seeds)}


def search(out: Path, plan: dict[str, Any], run: bool, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every configuration's score at every budget it reached (successive halving promotes by the finished rungs
    only), best first within the last rung each reached."""
    seeds = plan["seeds"]
    if plan["method"] == "random":
        rows = [score(out, trial, values["epochs"], seeds, run, plan, log)
                for trial, values in enumerate(plan["configurations"])]
        return sorted(rows, key=lambda row: (best_first(row), row["trial"]))
    alive = list(range(len(plan["configurations"])))
    rows: list[dict[str, Any]] = []
    for rung, epochs in enumerate(plan["rung_epochs"]):
        rung_rows = [score(out, trial, epochs, seeds, run, plan, log) for trial in alive]
        for row in rung_rows:
            row["rung"] = rung
        rows.extend(rung_rows)
        if not all(row["complete"] for row in rung_rows):
            break  # the next rung waits for this one
        ranked = sorted(rung_rows, key=lambda row: (best_first(row), row["trial"]))
        alive = [row["trial"] for row in ranked[:max(1, math.ceil(len(alive) / plan["eta"]))]]
    return sorted(rows, key=lambda row: (-row["rung"], best_first(row), row["trial"]))


def best_first(row: dict[str, Any]) -> float:
    """A sort key: the higher the mean holdout ROC-AUC the earlier; configurations without a finished run last."""
    return math.inf if math.isnan(row["mean"]) else -row["mean"]


# -- the table -----------------------------------------------------------------------------------------------------
def table(rows: list[dict[str, Any]], markdown: bool, seeds: int) -> str:
    header = ["trial", "epochs", "seeds", "holdout ROC-AUC", "minutes / run", "options (configuration 0: the default)"]
    lines = []
    for row in rows:
        auc = "-" if math.isnan(row["mean"]) else f"{row['mean']:.4f}" + (
            "" if math.isnan(row["std"]) else f" ± {row['std']:.4f}")
        minutes = "-" if math.isnan(row["minutes"]) else f"{row['minutes']:.1f}"
        lines.append([str(row["trial"]), str(row["epochs"]), f"{row['seeds']}/{seeds}", auc, minutes, row["flags"]])
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *lines])


def key_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return key.replace("-", "_"), kind(value)
    return key.replace("-", "_"), value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, metavar="DIR", help="the search's folder (tune.json and the runs)")
    parser.add_argument("--method", choices=("halving", "random"), default="halving",
                        help="successive halving (default) or a random search")
    parser.add_argument("--trials", type=int, help="configurations, the default one included (default: eta ^ "
                        "(rungs - 1) for halving, 13 for random)")
    parser.add_argument("--rung-epochs", type=int, nargs="+", default=[5, 10, 20], metavar="E",
                        help="halving: the epochs of each rung (default: 5 10 20)")
    parser.add_argument("--eta", type=int, default=3, help="halving: 1 / eta of a rung go on (default: 3)")
    parser.add_argument("--seeds", type=int, nargs="+", help="the seeds of every configuration (default: 0 1 2, "
                        "with --cv: 0); its score is the mean holdout ROC-AUC over them")
    parser.add_argument("--cv", type=int, default=0, metavar="K", help="score a configuration by train.py --cv K "
                        "(the mean holdout ROC-AUC over K folds) instead of one run per seed (default: 0, off)")
    parser.add_argument("--search-seed", type=int, default=0, help="draws the configurations (default: 0)")
    parser.add_argument("--fixed", type=key_value, nargs="+", default=[], metavar="KEY=VALUE",
                        help="options every run takes and the search leaves alone (train.py's names, e.g. dim=64)")
    parser.add_argument("--max-runs", type=int, default=40, help="refuse a plan of more runs (default: 40)")
    parser.add_argument("--data-dir", metavar="DIR", help="the UNSW-NB15 folder (default: as train.py finds it)")
    parser.add_argument("--table", action="store_true", help="show the table of the finished runs; run nothing")
    parser.add_argument("--dry-run", action="store_true", help="show the plan; run nothing")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments, with the seeds' default (0 1 2, or 0 with --cv)."""
    args = parser().parse_args(argv)
    if args.seeds is None:
        args.seeds = [0] if args.cv else [0, 1, 2]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    out = Path(args.out)
    try:
        if args.trials is not None and args.trials < 1 or args.eta < 2 or min(args.rung_epochs) < 1 or \
                args.cv == 1 or args.cv < 0:
            raise TuneError("--trials must be >= 1, --eta >= 2, every --rung-epochs >= 1 and --cv 0 (off) or >= 2")
        if args.method == "halving" and "epochs" in dict(args.fixed):
            raise TuneError("successive halving sets the epochs of each rung (--rung-epochs), not --fixed epochs=")
        plan = make_plan(args)
        planned = runs_planned(plan)
        if planned > args.max_runs:
            raise TuneError(f"the plan makes up to {planned} runs, more than --max-runs {args.max_runs}: fewer "
                            "--trials, --seeds or rungs")
        if args.dry_run:
            for index, values in enumerate(plan["configurations"]):
                print(f"configuration {index}: {flags(values)}")
            scored = f"{args.cv}-fold cross-validation" if args.cv else "one run"
            print(f"{plan['method']}: up to {planned} runs of train.py; per configuration and seed "
                  f"({' '.join(map(str, args.seeds))}), {scored}")
            return 0
        plan = load_plan(out, plan)
        rows = search(out, plan, run=not args.table, log=lambda line: print(line, file=sys.stderr))
    except TuneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table(rows, args.markdown, len(plan["seeds"])))
    return 0


if __name__ == "__main__":
    tinygrad_np.set_num_threads(os.cpu_count() or 1)  # the engine's speed settings, as train.py makes them
    tinygrad_np.enable_memory_reuse()
    sys.exit(main())
