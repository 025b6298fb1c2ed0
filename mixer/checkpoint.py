"""Checkpoints: the file format, and the one schema that training, pretraining and seed import write and read.

The format is ONE `.npz` of plain arrays: every ndarray of a nested state (model, optimiser, ...) is stored under its
path, and the rest -- numbers, strings, config -- as a JSON document in the same file. Loading never unpickles. Files
are written to a temporary name and renamed, so a crash never leaves a half-written checkpoint (`atomic_write`).

The schema (`make_checkpoint`, `read_checkpoint`): every checkpoint holds "format" (which kind: a classifier of
`train.py`, an MAE of `pretrain-mae`, a VAE of `pretrain-vae`), "version", "config" (every option of the run, flat),
"model" (the state dict), "model_config" (pretrained models: their constructor's arguments), "preprocessing" (the
fitted encoder and scaling, or None), "epoch" and "history" (the metrics records of the epochs so far). A checkpoint
that can be resumed adds the training loop's "optimizer", "scheduler" and "rng" states; a classifier adds
"class_names", "best_score" (its model-selection score) and "class_prior" (the class frequencies of its training
rows, which prior adaptation starts from), and the selected binary model of a finished run (best.npz) its decision
threshold on P(attack), chosen on the holdout: "threshold" and "threshold_rule" (how it was chosen, in words; a
checkpoint without them decides at 0.5). A run that averages its weights adds their state ("averages"), and its
best.npz says which weights it holds ("selected_weights": raw, ema or swa; an average's has no training state).
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

import tinygrad_np as tg
from tinygrad_np import Tensor, nn

from .errors import UserError, WriteError
from .signals import critical

META_KEY = "__meta__.json"
ARRAY_MARK = "__array__"

CLASSIFIER, MAE, VAE = "tinygrad_np-mixer-checkpoint", "tinygrad_np-mixer-mae", "tinygrad_np-mixer-vae"
KINDS: dict[str, str] = {CLASSIFIER: "a classifier checkpoint of `train.py`",
                         MAE: "an MAE checkpoint of `train.py pretrain-mae`",
                         VAE: "a VAE checkpoint of `train.py pretrain-vae`"}
VERSION = 1


class CheckpointError(UserError, ValueError):
    """A checkpoint file that is missing, unreadable, not ours, or not the kind asked for."""


# -- the file format ---------------------------------------------------------------------------------------------
def _split(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace every ndarray (or tensor) in a nested dict/list by a reference, collecting the arrays."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {ARRAY_MARK: path}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str | int):
                raise TypeError(f"checkpoint: key {key!r} at {path or 'top level'} is not a string or int")
        return {str(key): _split(item, f"{path}/{key}" if path else str(key), arrays) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_split(item, f"{path}/{i}", arrays) for i, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {ARRAY_MARK}:
            return arrays[value[ARRAY_MARK]]
        return {key: _join(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_join(item, arrays) for item in value]
    return value


def _temporary_beside(path: Path) -> tuple[int, Path]:
    """A new file `.<name>.<random>.tmp` beside `path`, open for writing; created with mode 0o666 less the umask,
    as any new file of the process (tempfile's files are 0o600 whatever the umask)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call `write(file)` on a new temporary file beside `path`, then rename it over `path`: a reader finds the old
    file or the new one, never part of one. The file gets the mode the user's umask gives a new file. A stop signal
    (`mixer.signals`) waits until the rename is done; a failed write leaves the old file and no temporary file, and
    an error of the operating system (disk full, quota, file size limit, permissions) is a WriteError naming
    `path`."""
    path = Path(path)
    with critical():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _temporary_beside(path)
        except OSError as error:
            raise WriteError(path, error) from error
        try:
            with os.fdopen(fd, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        except BaseException as error:
            tmp.unlink(missing_ok=True)
            if isinstance(error, OSError) and not isinstance(error, WriteError):
                raise WriteError(path, error) from error
            raise


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a nested dict of arrays, numbers, strings, lists and dicts to `path` (.npz)."""
    arrays: dict[str, np.ndarray] = {}
    meta = _split(state, "", arrays)
    if META_KEY in arrays:
        raise ValueError(f"checkpoint: the name {META_KEY} is reserved")
    payload = {**arrays, META_KEY: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    atomic_write(path, lambda file: np.savez(file, **payload))


def _what_it_is(path: Path) -> str:
    """A guess at what a file that is not a checkpoint holds, for the error message."""
    with open(path, "rb") as file:
        start = file.read(64)
    if start.startswith(b"\x93NUMPY"):
        return "a single numpy array (.npy)"
    if start[:1] == b"\x80":
        return "a Python pickle"
    try:
        start.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    return "text"


def is_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a file in our checkpoint format (a zip holding the JSON document)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return f"{META_KEY}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read what `save_checkpoint` wrote (no pickles are ever loaded); anything else is a CheckpointError that says
    what the file is instead."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a tinygrad_np checkpoint (an interrupted copy?)")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a tinygrad_np checkpoint (a .npz written by train.py); it holds "
                              f"{_what_it_is(path)}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if META_KEY not in archive.files:
                raise CheckpointError(f"{path} is not a tinygrad_np checkpoint: a .npz archive, but not one written "
                                      "by train.py (it lacks the checkpoint's description)")
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        reason = "it holds Python objects" if "allow_pickle" in str(error) else str(error)
        raise CheckpointError(f"{path} is not a readable tinygrad_np checkpoint ({reason})") from None
    return _join(meta, arrays)


# -- the schema --------------------------------------------------------------------------------------------------
def make_checkpoint(kind: str, *, config: dict[str, Any], model: nn.Module, preprocessing: dict[str, Any] | None,
                    epoch: int, history: list[dict[str, Any]], **parts: Any) -> dict[str, Any]:
    """A checkpoint of `kind` (CLASSIFIER, MAE or VAE) in the schema described above; `parts` adds the entries of
    its kind (optimizer, scheduler, rng, class_names, best_score, model_config, imported_from)."""
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    return {"format": kind, "version": VERSION, "config": config, "model": model.state_dict(),
            "preprocessing": preprocessing, "epoch": epoch, "history": history, **parts}


def read_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """The checkpoint at `path`, which must be of `kind`; another kind is an error that says which it is."""
    checkpoint = load_checkpoint(path)
    found = checkpoint.get("format")
    if found != kind:
        what = KINDS.get(found, "a checkpoint of unknown kind")
        raise CheckpointError(f"{path} is {what}, not {KINDS[kind]}")
    if checkpoint.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {checkpoint.get('version')!r}; this code reads "
                              f"version {VERSION}")
    checkpoint["history"] = [current_record(record) for record in checkpoint.get("history", [])]
    return checkpoint


def current_record(record: dict[str, Any]) -> dict[str, Any]:
    """An epoch record in today's layout ({"train": {...}, "holdout": {...}, "test": {...}}) from the flat one of
    earlier checkpoints ("train_loss", "holdout_loss", "valid" for the test file)."""
    if "train" in record:
        return record
    current: dict[str, Any] = {}
    for key, value in record.items():
        split, _, metric = key.partition("_")
        if key == "valid":
            current["test"] = value
        elif split in ("train", "holdout") and metric and not isinstance(value, dict):
            current.setdefault(split, {})[metric] = value
        else:
            current[key] = value
    return current


def load_weights(model: nn.Module, weights: dict[str, np.ndarray], source: str | Path) -> None:
    """Load a checkpoint's model state into `model`; tensors that are missing, unexpected or of another shape are one
    short CheckpointError naming the first of each. A model class that renamed its tensors reads the names of its
    earlier checkpoints through its `upgrade_state_dict`."""
    upgrade = getattr(model, "upgrade_state_dict", None)
    if upgrade is not None:
        weights = upgrade(weights)
    own = dict(model.state_dict())
    missing = [name for name in own if name not in weights]
    unexpected = [name for name in weights if name not in own]
    wrong = [name for name in own if name in weights and np.shape(weights[name]) != own[name].shape]
    if missing or unexpected or wrong:
        problems = []
        if wrong:
            problems.append(f"{len(wrong)} tensor(s) of another shape (first: {wrong[0]} is "
                            f"{tuple(np.shape(weights[wrong[0]]))} in the file, {own[wrong[0]].shape} in the model)")
        if missing:
            problems.append(f"{len(missing)} missing (first: {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
        raise CheckpointError(f"{source}: the saved weights do not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(weights)


def load_model(path: str | Path, kind: str, model_class: type[nn.Module]) -> tuple[Any, dict[str, Any]]:
    """The model of a checkpoint that holds its constructor's arguments ("model_config": the pretrained models, MAE and
    VAE), rebuilt as `model_class(**model_config)` with the saved weights, and the checkpoint. Building the model draws
    initial weights that the saved ones replace: the global generator is put back afterwards, so that a run loading a
    pretrained model keeps the random streams it would have had without it."""
    checkpoint = read_checkpoint(path, kind)
    state = tg.get_rng_state()
    try:
        model = model_class(**checkpoint["model_config"])
    finally:
        tg.set_rng_state(state)
    load_weights(model, checkpoint["model"], path)
    return model, checkpoint
