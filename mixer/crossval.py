"""k-fold cross-validation of the training file (`train.py --cv K`): K ordinary runs, one per fold, and a summary.

Run i (folder `fold-i` of the output folder) holds out fold i of `data.kfold_splits` (identical rows in one fold) and
trains on the other folds: its preprocessing is fitted, and its epoch selected, without fold i's labels ever being
trained on, and the test file is only reported, as in every run. Each fold folder is a complete run (config.json with
`--cv K --fold i`, checkpoints, result.json), so `evaluate`, `predict` and `--resume` work on it as on any run.
`cv.json` in the output folder holds the settings, the folds finished so far and, at the end, the mean and standard
deviation over the folds of the holdout metrics at each fold's selected epoch, and of the test metrics (reported
only). `--resume OUT/cv.json` continues an interrupted cross-validation: finished folds (those with a result.json)
are kept, an interrupted fold continues from its last.npz, the rest start.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import data as unsw
from .checkpoint import current_record
from .config import TrainConfig
from .errors import WriteError
from .loop import TrainingDiverged
from .report import format_metrics
from .run import Interrupted, RunFolder, RunFolderError, by
from .signals import signal_of
from .training import Trainer

CV_FILE = "cv.json"
METRICS = ("loss", "accuracy", "precision", "recall", "f1", "roc_auc")
TEST_NOTE = "reported only: the test file (testing1) never chooses anything"


def fold_folder(parent: Path, fold: int) -> Path:
    return parent / f"fold-{fold}"


def summarise(folds: list[dict[str, Any]], split: str) -> dict[str, dict[str, float]]:
    """{"mean": {metric: ...}, "std": {metric: ...}} of one split's metrics over the folds; the std is the sample
    standard deviation (ddof 1)."""
    names = [name for name in METRICS if all(name in fold[split] for fold in folds)]
    values = {name: np.array([fold[split][name] for fold in folds], dtype=np.float64) for name in names}
    return {"mean": {name: float(v.mean()) for name, v in values.items()},
            "std": {name: float(v.std(ddof=1)) for name, v in values.items()}}


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    """"accuracy 0.9712 +- 0.0021 ..." for the metrics present."""
    return " ".join(f"{name} {summary['mean'][name]:.4f} +- {summary['std'][name]:.4f}" for name in METRICS
                    if name in summary["mean"])


class CrossValidation:
    """`train.py --cv K`: the K fold runs one after another, then cv.json and the printed summary.

    Building it validates everything before anything is written: the output folder, that the training file has K
    distinct rows at least, and (by building it) the first fold run still to train -- its data, model and
    pretrained checkpoints; `fit` writes."""

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print, *, folder: RunFolder | None = None,
                 overwrite: bool = False, notes: list[str] | tuple[str, ...] = (), resuming: bool = False):
        if not config.run.cv or config.run.fold:
            raise ValueError("CrossValidation needs --cv K (>= 2) without --fold")
        self.config, self.log, self.k = config, log, config.run.cv
        self.overwrite, self.resuming, self.notes = overwrite, resuming, list(notes)
        self.folder = folder or RunFolder.fresh(config.run.out, f"{config.name}-cv{self.k}", overwrite)
        config.run.out = str(self.folder.path)
        paths = unsw.dataset_files(unsw.find_data_dir(config.data.data_dir))
        self.train_file = paths["train"]
        folds = unsw.kfold_splits(unsw.read_table(self.train_file, require_label=True), self.k, config.run.seed)
        self.fold_rows = [len(holdout) for _, holdout in folds]
        todo = [fold for fold in range(1, self.k + 1) if not self._finished(fold)]
        self.pending: tuple[int, Trainer] | None = (todo[0], self._fold_run(todo[0])) if todo else None
        if self.pending is not None:
            config.data.data_dir = self.pending[1].config.data.data_dir  # resolved

    @classmethod
    def resume(cls, path: str | Path, *, data_dir: str | None = None, overwrite: bool = False,
               log: Callable[[str], None] = print) -> CrossValidation:
        """The cross-validation whose cv.json is `path`, ready to continue in its folder: finished folds are kept,
        an interrupted fold continues from its last.npz (with `overwrite`: even if its folder holds later epochs),
        the others start. `data_dir` points it at moved data."""
        path = Path(path)
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RunFolderError(f"--resume {path}: cannot read it as the cv.json of a cross-validation ({error})"
                                 ) from None
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
            raise RunFolderError(f"--resume {path} is not the cv.json of a cross-validation (train.py --cv)")
        overrides = {"data_dir": data_dir} if data_dir is not None else {}
        config, notes = TrainConfig.parse({**TrainConfig.saved(saved["config"]), **overrides, "out": str(path.parent)},
                                          given=set(overrides))
        folder = RunFolder.existing(path.parent, f"--resume {path}: ")
        return cls(config, log, folder=folder, overwrite=overwrite, notes=notes, resuming=True)

    # the folds ---------------------------------------------------------------------------------------------------
    def fold_config(self, fold: int) -> TrainConfig:
        """The settings of fold `fold`'s run: this cross-validation's, with --fold and its own folder."""
        values = {**self.config.flat(), "fold": fold, "out": str(fold_folder(self.folder.path, fold))}
        return TrainConfig.parse(values, given=())[0]

    def _finished(self, fold: int) -> bool:
        """A fold run that wrote its result.json (written last) is finished; only a resumed cross-validation has
        any."""
        return self.resuming and (fold_folder(self.folder.path, fold) / "result.json").is_file()

    def _fold_run(self, fold: int) -> Trainer:
        path = fold_folder(self.folder.path, fold)
        if self.resuming and (path / "last.npz").is_file():
            return Trainer.resume(path / "last.npz", data_dir=self.config.data.data_dir, overwrite=self.overwrite,
                                  log=self.log)  # type: ignore[return-value]
        config = self.fold_config(fold)
        folder = RunFolder.fresh(str(path), config.name) if self.resuming else RunFolder(path)
        return Trainer(config, self.log, folder=folder)

    def _fold_entry(self, fold: int) -> dict[str, Any]:
        """A finished fold's line of cv.json, from its folder: the selected epoch, the holdout metrics at that epoch
        (from metrics.jsonl) and the test metrics (result.json)."""
        path = fold_folder(self.folder.path, fold)
        result = json.loads((path / "result.json").read_text())
        records = [current_record(json.loads(line)) for line in (path / "metrics.jsonl").read_text().splitlines()]
        selected = next(record for record in records if record["epoch"] == result["selected_epoch"])
        return {"fold": fold, "folder": path.name, "holdout_rows": self.fold_rows[fold - 1],
                "selected_epoch": result["selected_epoch"], "epochs": records[-1]["epoch"],
                "holdout": selected["holdout"], "test": result["test"]}

    # the run -----------------------------------------------------------------------------------------------------
    def resume_command(self) -> str:
        return f"python train.py --resume {shlex.quote(str(self.folder.path / CV_FILE))}"

    def _write(self, folds: list[dict[str, Any]]) -> dict[str, Any]:
        state: dict[str, Any] = {
            "k": self.k, "seed": self.config.run.seed, "train_file": str(self.train_file),
            "folds_by": "identical rows in the same fold (mixer.data.kfold_splits); fold i is the holdout of run "
                        "fold-i, which trains on the other folds",
            "complete": len(folds) == self.k, "folds": folds}
        if len(folds) == self.k:
            state["std"] = "sample standard deviation over the folds (ddof 1)"
            state["holdout"] = summarise(folds, "holdout")
            state["test"] = {**summarise(folds, "test"), "note": TEST_NOTE}
        state["config"] = self.config.flat()
        self.folder.write_json(CV_FILE, state)
        return state

    def fit(self) -> dict[str, Any]:
        """Claim the folder, run the folds still to run (each saving as an ordinary run, in its own claimed fold
        folder), then write cv.json and print the summary; the folder is released however it ends. Ctrl-C, SIGTERM
        or SIGHUP raise `Interrupted`, whose message says how to continue; a refused write is a WriteError saying
        the same."""
        started = False
        fold = 0
        try:
            removed = self.folder.create()
            started = True
            self._moved()
            took_over = self.folder.took_over()
            if took_over:
                self.notes.insert(0, took_over)
            if removed:
                self.log(f"--overwrite: removed the previous run's {', '.join(removed)} from {self.folder.path}")
            self.folder.write_json("config.json", self.config.applicable())
            self.log(f"cross-validation: {self.k} folds of {self.train_file.name} ({sum(self.fold_rows):,} rows; "
                     f"fold sizes {', '.join(f'{n:,}' for n in self.fold_rows)}; identical rows in one fold); each "
                     "fold is in turn the holdout of one run trained on the others")
            self.log(f"output: {self.folder.path}")
            for note in self.notes:
                self.log(f"note: {note}")
            folds: list[dict[str, Any]] = []
            self._write(folds)
            for fold in range(1, self.k + 1):
                path = fold_folder(self.folder.path, fold)
                if self._finished(fold):
                    self.log(f"fold {fold} of {self.k}: finished earlier ({path / 'result.json'})")
                else:
                    if self.pending is not None and self.pending[0] == fold:
                        run, self.pending = self.pending[1], None
                    else:
                        run = self._fold_run(fold)
                    self.log(f"\nfold {fold} of {self.k}: holdout = fold {fold} ({self.fold_rows[fold - 1]:,} rows), "
                             f"in {path}")
                    try:
                        run.fit()
                    except Interrupted as stop:
                        raise Interrupted(f"interrupted{by(stop.signum)} in fold {fold} of {self.k} ({run._kept()}); "
                                          f"continue the cross-validation with: {self.resume_command()} (finished "
                                          "folds are kept)", stop.signum) from None
                    except WriteError as error:
                        raise WriteError(error.path, error.cause, f"fold {fold} of {self.k}: {run._kept()}; once that "
                                         f"is fixed, continue the cross-validation with: {self.resume_command()} "
                                         "(finished folds are kept)") from error
                    except TrainingDiverged as error:
                        raise TrainingDiverged(f"fold {fold} of {self.k}: {error}") from None
                    del run
                folds.append(self._fold_entry(fold))
                state = self._write(folds)
        except (Interrupted, WriteError):
            raise
        except KeyboardInterrupt as stop:
            if not started:
                raise Interrupted(f"interrupted{by(signal_of(stop))} before anything was written",
                                  signal_of(stop)) from None
            raise Interrupted(f"interrupted{by(signal_of(stop))} "
                              f"{f'in fold {fold} of {self.k}' if fold else 'at the start'}; continue the "
                              f"cross-validation with: {self.resume_command()} (finished folds are kept)",
                              signal_of(stop)) from None
        except OSError as error:
            advice = (f"once that is fixed, continue the cross-validation with: {self.resume_command()} (finished "
                      "folds are kept)") if started else "nothing was written"
            raise WriteError(getattr(error, "path", None) or error.filename or self.folder.path,
                             getattr(error, "cause", error), advice) from error
        finally:
            self.folder.release()
        self._report(state)
        return state

    def _moved(self) -> None:
        """Follow the folder if `create` had to number it (another run took its name since it was chosen)."""
        if self.config.run.out == str(self.folder.path):
            return
        self.config.run.out = str(self.folder.path)
        if self.pending is not None:
            fold, run = self.pending
            run.folder.path = fold_folder(self.folder.path, fold)
            run.config.run.out = str(run.folder.path)

    def _report(self, state: dict[str, Any]) -> None:
        self.log(f"\ncross-validation over {self.k} folds; holdout = each fold's validation fold, at its selected "
                 "epoch:")
        for fold in state["folds"]:
            self.log(f"  fold {fold['fold']}: epoch {fold['selected_epoch']} of {fold['epochs']}: holdout "
                     + format_metrics(fold["holdout"]))
        self.log("  holdout, mean +- std: " + format_summary(state["holdout"]))
        self.log(f"test ({TEST_NOTE}):")
        for fold in state["folds"]:
            self.log(f"  fold {fold['fold']}: test " + format_metrics(fold["test"]))
        self.log("  test, mean +- std: " + format_summary(state["test"]))
        self.log(f"results in {self.folder.path}: config.json, {CV_FILE}, "
                 + ", ".join(f"fold-{fold}/" for fold in range(1, self.k + 1)))
