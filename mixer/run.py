"""A run of any kind -- the classifier, the MAE, the VAE -- from its folder to its last line: `Run` is what they share
(start, the epoch table, saving after every epoch, Ctrl-C, resuming and extending), `RunFolder` the folder it writes.

The rules that keep runs apart: a fresh run gets a new folder (runs/<date>-<time>-<model> unless --out names one), an
existing non-empty folder is refused unless the run continues it (--resume) or --overwrite replaces the run in it, and
`metrics.jsonl` only ever holds the epochs of one run. Deciding on a folder writes nothing: `RunFolder.fresh` /
`RunFolder.continuing` only check, and `create` (called once everything else about the run has been validated) makes
the folder and, with --overwrite, removes the previous run's files.
"""

from __future__ import annotations

import datetime
import json
import re
import shlex
from pathlib import Path
from typing import Any, ClassVar

from .checkpoint import CheckpointError, atomic_write, current_record, load_checkpoint, load_weights, read_checkpoint
from .loop import TrainingDiverged, TrainingLoop
from .report import EpochTable
from .settings import Settings

RUNS_DIR = Path("runs")
# Everything a run of train.py writes into its folder (what --overwrite removes; other files are left alone).
RUN_FILES = ("config.json", "metrics.jsonl", "result.json", "best.npz", "last.npz", "mae.npz", "vae.npz",
             "loss_curves.png", "confusion_matrix.png", "reliability.png", "reconstruction_loss.png", "elbo_loss.png",
             "predictions_testing2.csv", "cv.json")
FOLD_FOLDER = re.compile(r"fold-[1-9][0-9]*")  # the runs of a cross-validation (--cv), one folder per fold


class RunFolderError(ValueError):
    """An output folder that a run may not use."""


def _files_in(path: Path) -> list[str]:
    names = sorted(entry.name for entry in path.iterdir())
    return names[:5] + [f"... ({len(names) - 5} more)"] if len(names) > 5 else names


def _holds_no_epoch(path: Path) -> bool:
    """A folder with nothing but the start of a run that never finished an epoch (config.json, an empty
    metrics.jsonl): nothing in it can be lost, so a new run may use it."""
    names = {entry.name for entry in path.iterdir()}
    metrics = path / "metrics.jsonl"
    return bool(names) and names <= {"config.json", "metrics.jsonl"} and (
        not metrics.exists() or metrics.stat().st_size == 0)


def _previous_run(path: Path) -> list[Path]:
    """The files of a run in `path` (RUN_FILES) and the fold folders of a cross-validation (fold-1, ...)."""
    return [path / name for name in RUN_FILES if (path / name).exists()] + sorted(
        entry for entry in path.iterdir() if entry.is_dir() and FOLD_FOLDER.fullmatch(entry.name))


class RunFolder:
    """Where a run writes; `replace` lists the previous run's files and fold folders that `create` removes
    (--overwrite)."""

    def __init__(self, path: Path, replace: list[Path] | None = None):
        self.path, self.replace = path, replace or []

    @classmethod
    def fresh(cls, out: str | None, name: str, overwrite: bool = False) -> RunFolder:
        """The folder of a new run: `out`, which must not exist or be empty (or, with `overwrite`, may hold a
        previous run), or a new runs/<date>-<time>-<name>."""
        if out is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            path, number = RUNS_DIR / f"{stamp}-{name}", 1
            while path.exists():
                number += 1
                path = RUNS_DIR / f"{stamp}-{name}-{number}"
            return cls(path)
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"--out {out} is a file, not a folder")
        if path.is_dir() and _holds_no_epoch(path):
            return cls(path, [path / name for name in ("config.json", "metrics.jsonl") if (path / name).exists()])
        if path.is_dir() and any(path.iterdir()):
            if not overwrite:
                saved = path / ("cv.json" if (path / "cv.json").exists() else "last.npz")
                raise RunFolderError(
                    f"--out {out} is not empty (it holds {', '.join(_files_in(path))}); choose another --out (or "
                    f"none: each run gets a new runs/<date>-<time>-{name}), continue the run in it with --resume "
                    f"{saved}, or replace it with --overwrite")
            return cls(path, _previous_run(path))
        return cls(path)

    @classmethod
    def continuing(cls, checkpoint_path: Path, checkpoint: dict[str, Any], out: str | None, name: str,
                   overwrite: bool = False) -> RunFolder:
        """The folder of a resumed run: the checkpoint's own folder unless `out` names another (which must then be
        fresh, as for a new run). Continuing in place is refused when the folder holds later epochs of the run (or
        of another run) than the checkpoint, which the resumed run would replace, unless `overwrite`."""
        own = checkpoint_path.resolve().parent
        if out is not None and Path(out).resolve() != own:
            return cls.fresh(out, name, overwrite)
        folder = cls(checkpoint_path.parent)
        if overwrite:
            return folder
        epoch, history = checkpoint["epoch"], checkpoint["history"]
        metrics = folder.path / "metrics.jsonl"
        if metrics.is_file():
            try:
                saved = [(r["epoch"], r["train"]["loss"]) for r in
                         map(current_record, map(json.loads, metrics.read_text().splitlines()))]
            except (ValueError, KeyError, TypeError):
                saved = None
            ours = [(r["epoch"], r["train"]["loss"]) for r in history]
            if saved is None or saved != ours[:len(saved)]:
                what = f"epochs up to {saved[-1][0]}" if saved else "metrics"
                raise RunFolderError(
                    f"{metrics} holds {what} that the checkpoint (epoch {epoch}) does not: resuming here would "
                    "replace them. Resume into a new folder with --out, or pass --overwrite to replace them")
        last = folder.path / "last.npz"
        if last.is_file() and last.resolve() != checkpoint_path.resolve():
            try:
                last_epoch = load_checkpoint(last).get("epoch")
            except CheckpointError:
                last_epoch = None
            if last_epoch is None or last_epoch > epoch:
                raise RunFolderError(
                    f"{last} holds epoch {last_epoch}, later than {checkpoint_path} (epoch {epoch}): resuming here "
                    "would replace it. Resume into a new folder with --out, or pass --overwrite to replace it")
        return folder

    def create(self) -> list[str]:
        """Make the folder; remove the previous run's files it is to replace (of a fold folder: its run's files, and
        the folder once empty). Returns the names removed."""
        self.path.mkdir(parents=True, exist_ok=True)
        removed = []
        for entry in self.replace:
            if entry.is_dir():
                for file in (entry / name for name in RUN_FILES):
                    if file.is_file():
                        file.unlink()
                if not any(entry.iterdir()):
                    entry.rmdir()
                removed.append(entry.name + "/")
            elif entry.exists():
                entry.unlink()
                removed.append(entry.name)
        self.replace = []
        return removed

    def write_json(self, name: str, value: Any) -> None:
        atomic_write(self.path / name, lambda file: file.write((json.dumps(value, indent=1) + "\n").encode()))

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        """metrics.jsonl with exactly these records (a fresh run: none; a resumed run: the checkpoint's epochs)."""
        text = "".join(json.dumps(record) + "\n" for record in history)
        atomic_write(self.path / "metrics.jsonl", lambda file: file.write(text.encode()))

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.path / "metrics.jsonl", "a") as file:
            file.write(json.dumps(record) + "\n")


# -- the run -----------------------------------------------------------------------------------------------------
class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what was saved and how to continue."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Run:
    """What every kind of run shares. A subclass builds its data, model and `TrainingLoop` in `__init__` (validating
    everything, writing nothing), and says what to save after an epoch (`save`), what the epoch table shows
    (`columns`) and what happens at the end (`finish`); `fit` does the rest."""

    kind: ClassVar[str]  # the checkpoint format (mixer.checkpoint.CLASSIFIER, MAE, VAE)
    config_class: ClassVar[type[Settings]]
    command: ClassVar[str]  # how train.py is called for this kind of run ("", "pretrain-mae ", ...)
    checkpoint_name: ClassVar[str]  # the checkpoint that --resume continues from (last.npz, mae.npz, ...)

    config: Settings
    loop: TrainingLoop
    folder: RunFolder
    log: Any

    def __init__(self, notes: list[str]):
        self.notes = list(notes)
        self.resumed: tuple[str, int, int] | None = None  # (checkpoint, its epoch, its planned epochs)
        self.saved_epoch = 0

    # to be provided ----------------------------------------------------------------------------------------------
    def describe(self) -> list[str]:
        """The lines that open the run (model, data folder, output folder)."""
        raise NotImplementedError

    def columns(self) -> dict[str, list[str]]:
        raise NotImplementedError

    def warnings(self) -> list[str]:
        return []

    def save(self, record: dict[str, Any]) -> bool:
        """Write the checkpoints after an epoch; True if this epoch became the selected one."""
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        raise NotImplementedError

    def restore_extra(self, checkpoint: dict[str, Any]) -> None:
        """Restore what the subclass keeps beyond the model and the loop."""

    def folder_created(self) -> None:
        """Called once the folder exists, before the first epoch (e.g. to bring files of a resumed run along)."""

    # resuming ----------------------------------------------------------------------------------------------------
    @classmethod
    def resume(cls, path: str | Path, *, epochs: int | None = None, out: str | None = None,
               data_dir: str | None = None, overwrite: bool = False, log: Any = print) -> Run:
        """The run saved in `path`, ready to continue (in its own folder unless `out` names another); `epochs`
        extends it (the schedule is then planned for the new length), `data_dir` points it at moved data."""
        checkpoint = read_checkpoint(path, cls.kind)
        if "optimizer" not in checkpoint:
            raise CheckpointError(f"{path} was saved without its training state (optimiser, schedule, random "
                                  "streams): it can be used, but not resumed")
        done, planned = checkpoint["epoch"], checkpoint["config"]["epochs"]
        if epochs is not None and epochs < done:
            raise ValueError(f"--epochs {epochs} is fewer than the {done} epochs {path} has already trained; "
                             f"--resume continues a run (give --epochs {done} or more, or none for {planned})")
        overrides = {key: value for key, value in (("epochs", epochs), ("data_dir", data_dir)) if value is not None}
        config, notes = cls.config_class.parse({**cls.config_class.saved(checkpoint["config"]), **overrides},
                                                given=set(overrides))
        folder = RunFolder.continuing(Path(path), checkpoint, out, config.name, overwrite)
        config.set("out", str(folder.path))
        run = cls(config, log, folder=folder, notes=notes)  # type: ignore[call-arg]
        load_weights(run.loop.model, checkpoint["model"], path)
        run.loop.restore(checkpoint)
        run.restore_extra(checkpoint)
        if (folder.path / cls.checkpoint_name).resolve() == Path(path).resolve():
            run.saved_epoch = done  # the folder's own checkpoint already holds these epochs
        run.resumed = (str(path), done, planned)
        return run

    # the run -----------------------------------------------------------------------------------------------------
    @property
    def epochs(self) -> int:
        return self.config.get("epochs")

    def resume_command(self) -> str:
        return f"python train.py {self.command}--resume {shlex.quote(str(self.folder.path / self.checkpoint_name))}"

    def fit(self) -> dict[str, Any]:
        """Create the folder, train the remaining epochs (saving after each), then finish. Ctrl-C anywhere in it
        raises `Interrupted`, whose message says what is saved and how to continue."""
        try:
            self._start()
            self.loop.run(self.epochs, self._end_of_epoch)
            return self.finish()
        except KeyboardInterrupt:
            raise Interrupted(self._interrupted()) from None
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error}; {self._kept()}") from None

    def _start(self) -> None:
        removed = self.folder.create()
        if removed:
            self.log(f"--overwrite: removed the previous run's {', '.join(removed)} from {self.folder.path}")
        self.folder_created()
        self.folder.write_json("config.json", self.config.applicable())
        self.folder.write_metrics(self.loop.history)
        for line in self.describe():
            self.log(line)
        if self.resumed is not None:
            path, done, planned = self.resumed
            self.log(f"resuming {path} after epoch {done} of {planned}")
            if self.epochs != planned:
                self.log(f"extending the run to {self.epochs} epochs: the learning-rate schedule (and any schedule "
                         f"of the SAM mask or update noise) continues as planned for a {self.epochs}-epoch run")
        for note in self.notes:
            self.log(f"note: {note}")
        for warning in self.warnings():
            self.log(f"warning: {warning}")
        self.table = EpochTable(self.columns(), self.epochs)
        if self.loop.epoch < self.epochs:
            self.log(self.table.header())

    def _end_of_epoch(self, record: dict[str, Any]) -> None:
        selected = self.save(record)
        self.saved_epoch = record["epoch"]
        self.folder.append_metrics(record)
        self.log(self.table.row(record, self.epochs, selected))

    def _kept(self) -> str:
        """What is saved now, for the messages of an interrupted or diverged run."""
        if self.saved_epoch:
            return f"{self.folder.path / self.checkpoint_name} keeps epoch {self.saved_epoch}"
        if self.resumed is not None:
            return f"nothing new was saved; {self.resumed[0]} still holds epoch {self.resumed[1]}"
        return f"no epoch finished, so nothing was saved in {self.folder.path}"

    def continue_command(self) -> str:
        """The command that continues this run from what is saved."""
        if self.saved_epoch or self.resumed is None:
            return self.resume_command()
        path, _, planned = self.resumed
        command = f"python train.py {self.command}--resume {shlex.quote(path)}"
        if self.epochs != planned:
            command += f" --epochs {self.epochs}"
        if Path(path).resolve().parent != self.folder.path.resolve():
            command += f" --out {shlex.quote(str(self.folder.path))}"
        return command

    def _interrupted(self) -> str:
        if self.saved_epoch == self.epochs:
            return (f"interrupted after the last epoch, while writing the results: {self._kept()}; write them "
                    f"with: {self.continue_command()}")
        where = f"interrupted in epoch {self.loop.epoch + 1} of {self.epochs}"
        if not self.saved_epoch and self.resumed is None:
            return (f"{where}, before any epoch finished: nothing to resume; start it again (--out "
                    f"{self.folder.path} may be reused: it holds no epoch)")
        return f"{where}: {self._kept()}; continue with: {self.continue_command()}"
