"""A run of any kind -- the classifier, the MAE, the VAE -- from its folder to its last line: `Run` is what they share
(start, the epoch table, saving after every epoch, Ctrl-C, resuming and extending), `RunFolder` the folder it writes.

The rules that keep runs apart: a fresh run gets a new folder (runs/<date>-<time>-<model> unless --out names one), an
existing non-empty folder is refused unless the run continues it (--resume) or --overwrite replaces the run in it, and
`metrics.jsonl` only ever holds the epochs of one run; one run at a time writes in a folder (`mixer.lock`). Deciding
on a folder writes nothing: `RunFolder.fresh` / `RunFolder.continuing` only check (including that the folder is
writable and not in use), and `create` (called once everything else about the run has been validated) makes and
claims the folder, checks it again and, with --overwrite, removes the previous run's files. A write the operating
system refuses (disk full, quota, file size limit) ends the run with one line saying what is saved and how to go on.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from .checkpoint import CheckpointError, atomic_write, current_record, load_checkpoint, load_weights, read_checkpoint
from .errors import UsageError, UserError, WriteError, unwritable_reason
from .lock import LOCK_NAME, FolderInUse, FolderLock, describe, in_use_message
from .loop import TrainingDiverged, TrainingLoop
from .report import EpochTable
from .settings import Settings
from .signals import critical, signal_of

RUNS_DIR = Path("runs")
# Everything a run of train.py writes into its folder (what --overwrite removes; other files are left alone).
# What `train.py landscape` writes into its folder.
LANDSCAPE_FILES = ("landscape.json", "landscape_1d.png", "landscape_2d.png", "hessian_density.png")
RUN_FILES = ("config.json", "metrics.jsonl", "result.json", "best.npz", "last.npz", "mae.npz", "vae.npz",
             "loss_curves.png", "confusion_matrix.png", "reliability.png", "reconstruction_loss.png", "elbo_loss.png",
             "predictions_testing2.csv", "cv.json", *LANDSCAPE_FILES)
FOLD_FOLDER = re.compile(r"fold-[1-9][0-9]*")  # the runs of a cross-validation (--cv), one folder per fold
# the temporary file of a write that a killed run left (mixer.checkpoint.atomic_write; earlier: tempfile's names)
LEFTOVER = re.compile(r"\.(" + "|".join(map(re.escape, RUN_FILES)) + r")\.[A-Za-z0-9_]{8}\.tmp")
# the checkpoints --resume continues, and the command that does: {file: "python train.py " + command + "--resume"}
RESUMABLE_FILES = {"cv.json": "", "last.npz": "", "mae.npz": "pretrain-mae ", "vae.npz": "pretrain-vae "}


class RunFolderError(UserError, ValueError):
    """An output folder that a run may not use."""


def _entries(path: Path) -> list[str]:
    """The names in a run folder that count: all but the lock (mixer.lock) and a killed run's temporary files."""
    return sorted(entry.name for entry in path.iterdir()
                  if entry.name != LOCK_NAME and not LEFTOVER.fullmatch(entry.name))


def _files_in(path: Path) -> list[str]:
    names = _entries(path)
    return names[:5] + [f"... ({len(names) - 5} more)"] if len(names) > 5 else names


def _holds_no_epoch(path: Path) -> bool:
    """A folder with nothing but the start of a run that never finished an epoch (config.json, an empty
    metrics.jsonl): nothing in it can be lost, so a new run may use it."""
    names = set(_entries(path))
    metrics = path / "metrics.jsonl"
    return bool(names) and names <= {"config.json", "metrics.jsonl"} and (
        not metrics.exists() or metrics.stat().st_size == 0)


def _previous_run(path: Path) -> list[Path]:
    """The files of a run in `path` (RUN_FILES) and the fold folders of a cross-validation (fold-1, ...)."""
    return [path / name for name in RUN_FILES if (path / name).exists()] + sorted(
        entry for entry in path.iterdir() if entry.is_dir() and FOLD_FOLDER.fullmatch(entry.name))


def _refuse_if_in_use(path: Path, flag: str) -> None:
    holder = FolderLock.holder(path)
    if holder is not None:
        raise RunFolderError(f"{flag}{in_use_message(path, holder)}")


def _fresh_replace(path: Path, out: str, name: str, overwrite: bool) -> list[Path]:
    """What a new run in the folder `out` replaces: nothing in a new or empty folder, the start of a run that never
    finished an epoch, or (with `overwrite`) a previous run's files; any other folder is refused."""
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    if not path.is_dir():
        return []
    if _holds_no_epoch(path):
        return [path / name for name in ("config.json", "metrics.jsonl") if (path / name).exists()]
    if not _entries(path):
        return []
    if not overwrite:
        saved = [f"`python train.py {command}--resume {shlex.quote(str(path / file))}`"
                 for file, command in RESUMABLE_FILES.items() if (path / file).is_file()]
        resume = f", continue the run in it with {saved[0]}" if saved else ""
        raise RunFolderError(
            f"--out {out} is not empty (it holds {', '.join(_files_in(path))}); choose another --out (or none: each "
            f"run gets a new runs/<date>-<time>-{name}){resume}, or pass --overwrite to replace the run in it (files "
            "that are not a run's are left alone)")
    return _previous_run(path)


class RunFolder:
    """Where a run writes; `replace` lists the previous run's files and fold folders that `create` removes
    (--overwrite). Deciding on a folder (`fresh`, `continuing`) checks it and writes nothing; `create` claims it
    (mixer.lock: one run per folder) and checks it again, since another run may have written there in between;
    `release` lets it go."""

    def __init__(self, path: Path, replace: list[Path] | None = None):
        self.path, self.replace = path, replace or []
        self.numbered: Path | None = None  # runs/<date>-<time>-<name>: numbered -2, -3, ... if taken at `create`
        self.recheck: Callable[[], list[Path]] | None = None  # what `create` checks again, returning `replace`
        self.lock: FolderLock | None = None
        self.flag = ""  # how the messages name the folder's origin ("--out ", "--resume CKPT: ")

    @classmethod
    def fresh(cls, out: str | None, name: str, overwrite: bool = False) -> RunFolder:
        """The folder of a new run: `out`, which must not exist or be empty (or, with `overwrite`, may hold a
        previous run) and must be writable, or a new runs/<date>-<time>-<name>."""
        if out is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            path, number = RUNS_DIR / f"{stamp}-{name}", 1
            while path.exists():
                number += 1
                path = RUNS_DIR / f"{stamp}-{name}-{number}"
            reason = unwritable_reason(path)
            if reason:
                raise RunFolderError(f"cannot create the run folder {path}: {reason}; pass --out a folder you can "
                                     "write")
            folder = cls(path)
            folder.numbered = RUNS_DIR / f"{stamp}-{name}"
            return folder
        path = Path(out)
        if path.is_dir():
            _refuse_if_in_use(path, "--out ")
        folder = cls(path, _fresh_replace(path, out, name, overwrite))
        reason = unwritable_reason(path)
        if reason:
            raise RunFolderError(f"--out {out}: cannot write there: {reason}")
        folder.recheck = lambda: _fresh_replace(path, out, name, overwrite)
        folder.flag = "--out "
        return folder

    @classmethod
    def for_outputs(cls, out: str | None, name: str, files: tuple[str, ...], overwrite: bool = False) -> RunFolder:
        """The folder of a command that writes only `files` (train.py landscape): a new runs/<date>-<time>-<name>, or
        `out`, which must not exist, be empty, or hold nothing but an earlier output of the same command (which
        `overwrite` replaces). A folder holding anything else is refused even with `overwrite`, so that it never
        removes a run's checkpoints."""
        if out is None:
            return cls.fresh(None, name)
        path = Path(out)

        def check() -> list[Path]:
            if path.exists() and not path.is_dir():
                raise RunFolderError(f"--out {out} is a file, not a folder")
            if not path.is_dir():
                return []
            names = _entries(path)
            others = [entry for entry in names if entry not in files]
            if others:
                shown = others[:5] + [f"... ({len(others) - 5} more)"] if len(others) > 5 else others
                raise RunFolderError(f"--out {out} holds other files than {name}'s ({', '.join(shown)}); choose a "
                                     f"new or empty folder (or none: each {name} gets a new runs/<date>-<time>-{name})")
            if names and not overwrite:
                raise RunFolderError(f"--out {out} holds an earlier {name} ({', '.join(names)}); pass --overwrite to "
                                     "replace it, or choose another --out")
            return [path / entry for entry in names]

        if path.is_dir():
            _refuse_if_in_use(path, "--out ")
        folder = cls(path, check())
        reason = unwritable_reason(path)
        if reason:
            raise RunFolderError(f"--out {out}: cannot write there: {reason}")
        folder.recheck = check
        folder.flag = "--out "
        return folder

    @classmethod
    def continuing(cls, checkpoint_path: Path, checkpoint: dict[str, Any], out: str | None, name: str,
                   overwrite: bool = False) -> RunFolder:
        """The folder of a resumed run: the checkpoint's own folder unless `out` names another (which must then be
        fresh, as for a new run). Continuing in place is refused when the folder holds later epochs of the run (or
        of another run) than the checkpoint, which the resumed run would replace, unless `overwrite`; and when
        another run is using the folder or it cannot be written."""
        own = checkpoint_path.resolve().parent
        if out is not None and Path(out).resolve() != own:
            return cls.fresh(out, name, overwrite)
        folder = cls(checkpoint_path.parent)
        folder.flag = f"--resume {checkpoint_path}: "
        _refuse_if_in_use(folder.path, folder.flag)
        reason = unwritable_reason(folder.path)
        if reason:
            raise RunFolderError(f"--resume {checkpoint_path} continues the run in its folder, but {reason}; "
                                 "continue it in a folder you can write with --out DIR")
        if not overwrite:
            _check_in_place(folder.path, checkpoint_path, checkpoint)
            folder.recheck = lambda: _check_in_place(folder.path, checkpoint_path, checkpoint)
        return folder

    @classmethod
    def existing(cls, path: Path, flag: str) -> RunFolder:
        """A folder that a run continues as it is (a cross-validation's, on --resume): refused if another run uses it
        or it cannot be written; `flag` starts the messages."""
        _refuse_if_in_use(path, flag)
        reason = unwritable_reason(path)
        if reason:
            raise RunFolderError(f"{flag}cannot continue in {path}: {reason}")
        folder = cls(path)
        folder.flag = flag
        return folder

    def create(self) -> list[str]:
        """Make and claim the folder (refused if another run holds it), check it again now that no other run can
        write there, remove the previous run's files it is to replace (of a fold folder: its run's files, and the
        folder once empty) and the temporary files of a run that was killed while writing. Returns the names
        removed."""
        if self.numbered is not None:
            number = 1
            while True:
                try:
                    self.path.mkdir(parents=True)
                    break
                except FileExistsError:  # another run took this name since `fresh`
                    number += 1
                    self.path = self.numbered.with_name(f"{self.numbered.name}-{number}")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(self.path)
        try:
            lock.acquire()
        except FolderInUse as error:
            raise RunFolderError(f"{self.flag}{error}") from None
        self.lock = lock
        try:
            if self.recheck is not None:
                self.replace = self.recheck()
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
            for entry in self.path.iterdir():
                if LEFTOVER.fullmatch(entry.name):
                    entry.unlink()
        except BaseException:
            self.release()
            raise
        self.replace = []
        return removed

    def took_over(self) -> str | None:
        """A note on the stale lock `create` took over, if it did."""
        if self.lock is None or self.lock.took_over is None:
            return None
        return (f"{self.path} held the lock of {describe(self.lock.took_over)}, which ended without releasing it "
                "(killed, or out of memory?); this run took it over")

    def release(self) -> None:
        """Let go of the folder (nothing if not claimed)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def write_json(self, name: str, value: Any) -> None:
        atomic_write(self.path / name, lambda file: file.write((json.dumps(value, indent=1) + "\n").encode()))

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        """metrics.jsonl with exactly these records (a fresh run: none; a resumed run: the checkpoint's epochs)."""
        text = "".join(json.dumps(record) + "\n" for record in history)
        atomic_write(self.path / "metrics.jsonl", lambda file: file.write(text.encode()))

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Add one epoch's line to metrics.jsonl; a failed write is undone (the file keeps whole lines only)."""
        path = self.path / "metrics.jsonl"
        data = (json.dumps(record) + "\n").encode()
        with critical():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            except OSError as error:
                raise WriteError(path, error) from error
            try:
                size = os.fstat(fd).st_size
                try:
                    written = 0
                    while written < len(data):
                        written += os.write(fd, data[written:])
                except OSError as error:
                    os.ftruncate(fd, size)
                    raise WriteError(path, error) from error
            finally:
                os.close(fd)


def _check_in_place(path: Path, checkpoint_path: Path, checkpoint: dict[str, Any]) -> list[Path]:
    """Refuse to continue `checkpoint` in its folder when the folder holds later epochs (of this run or of another)
    than the checkpoint, which the resumed run would replace. Returns what it replaces: nothing."""
    epoch, history = checkpoint["epoch"], checkpoint["history"]
    metrics = path / "metrics.jsonl"
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
    last = path / "last.npz"
    if last.is_file() and last.resolve() != checkpoint_path.resolve():
        try:
            last_epoch = load_checkpoint(last).get("epoch")
        except CheckpointError:
            last_epoch = None
        if last_epoch is None or last_epoch > epoch:
            raise RunFolderError(
                f"{last} holds epoch {last_epoch}, later than {checkpoint_path} (epoch {epoch}): resuming here "
                "would replace it. Resume into a new folder with --out, or pass --overwrite to replace it")
    return []


# -- the run -----------------------------------------------------------------------------------------------------
def by(signum: int) -> str:
    """" by SIGTERM" for the messages of a stopped run; "" for Ctrl-C."""
    return "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or another stop signal (`mixer.signals`); the message says what was saved and how to
    continue, `signum` is the signal."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.message, self.signum = message, signum


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
            raise UsageError(f"--epochs {epochs} is fewer than the {done} epochs {path} has already trained; "
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
        """Claim and fill the folder, train the remaining epochs (saving after each), then finish; the folder is
        released however it ends. Ctrl-C, SIGTERM or SIGHUP anywhere in it raise `Interrupted`, whose message says
        what is saved and how to continue; a write the operating system refuses raises a WriteError saying the same."""
        try:
            self._start()
            self.loop.run(self.epochs, self._end_of_epoch)
            return self.finish()
        except KeyboardInterrupt as stop:
            raise Interrupted(self._interrupted(signal_of(stop)), signal_of(stop)) from None
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error}; {self._kept()}") from None
        except OSError as error:
            raise self._write_failed(error) from error
        finally:
            self.folder.release()

    def _start(self) -> None:
        removed = self.folder.create()
        self.config.set("out", str(self.folder.path))
        took_over = self.folder.took_over()
        if took_over:
            self.notes.insert(0, took_over)
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
        """Save the epoch: its checkpoints and its line of metrics.jsonl, which a stop signal never separates."""
        with critical():
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
        """The command that continues this run from what is saved: its folder's checkpoint once this run saved an
        epoch there, else the checkpoint it resumed (with the --epochs and --out it was given)."""
        if self.resumed is None or self.saved_epoch > self.resumed[1]:
            return self.resume_command()
        path, _, planned = self.resumed
        command = f"python train.py {self.command}--resume {shlex.quote(path)}"
        if self.epochs != planned:
            command += f" --epochs {self.epochs}"
        if Path(path).resolve().parent != self.folder.path.resolve():
            command += f" --out {shlex.quote(str(self.folder.path))}"
        return command

    def _interrupted(self, signum: int = signal.SIGINT) -> str:
        if self.saved_epoch == self.epochs:
            return (f"interrupted{by(signum)} after the last epoch, while writing the results: {self._kept()}; write "
                    f"them with: {self.continue_command()}")
        done = max(self.saved_epoch, self.resumed[1] if self.resumed is not None else 0)
        where = f"interrupted{by(signum)} in epoch {done + 1} of {self.epochs}"  # the first epoch not saved
        if not self.saved_epoch and self.resumed is None:
            return (f"{where}, before any epoch finished: nothing to resume; start it again (--out "
                    f"{self.folder.path} may be reused: it holds no epoch)")
        return f"{where}: {self._kept()}; continue with: {self.continue_command()}"

    def _write_failed(self, error: OSError) -> WriteError:
        """The one-line error of a write the operating system refused during the run: the file and the cause, what
        is saved, and how to go on once the cause is fixed."""
        cause = error.cause if isinstance(error, WriteError) else error
        path = error.path if isinstance(error, WriteError) else error.filename or self.folder.path
        if self.saved_epoch == self.epochs:
            advice = f"{self._kept()}; once that is fixed, write the results with: {self.continue_command()}"
        elif not self.saved_epoch and self.resumed is None:
            advice = "no epoch finished, so nothing was saved; start the run again once it can write there"
        else:
            advice = f"{self._kept()}; once that is fixed, continue with: {self.continue_command()}"
        return WriteError(path, cause, advice)
