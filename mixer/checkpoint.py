"""Checkpoints as ONE `.npz` of plain arrays: every ndarray of a nested state (model, optimiser,
...) is stored under its path, and the rest -- numbers, strings, config -- as a JSON document in
the same file. Loading never unpickles. Files are written to a temporary name and renamed, so a
crash never leaves a half-written checkpoint."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

META_KEY = "__meta__.json"
ARRAY_MARK = "__array__"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not ours."""


def _split(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace every ndarray in a nested dict/list by a reference, collecting the arrays."""
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


def atomic_write(path: str | Path, write: Any) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a nested dict of arrays, numbers, strings, lists and dicts to `path` (.npz)."""
    arrays: dict[str, np.ndarray] = {}
    meta = _split(state, "", arrays)
    if META_KEY in arrays:
        raise ValueError(f"checkpoint: the name {META_KEY} is reserved")
    payload = {**arrays, META_KEY: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    atomic_write(path, lambda file: np.savez(file, **payload))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read what `save_checkpoint` wrote (no pickles are ever loaded)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if META_KEY not in archive.files:
                raise CheckpointError(f"{path} is not a tinygrad_np checkpoint (no {META_KEY} inside)")
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from None
    meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
    return _join(meta, arrays)
