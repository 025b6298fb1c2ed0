"""Import checkpoints written by the original hand-written numpy MLP-Mixer (the code this project
replaces) into this project's checkpoint format.

The original saved `np.save(path, {"model_state": ..., "optimizer_state": ...})`: a `.npy` file
holding a PICKLED dict. `model_state` maps `"<Class>_<weight|bias>_<python id>"` to arrays in the
order the model was traversed -- the same order as `MLPMixer1D.parameters()` -- and
`optimizer_state` maps each python id to Adam's `{"step", "exp_avg", "exp_avg_sq"}` (betas
0.9/0.99, eps 1e-8). The ids mean nothing outside the process that wrote them, so parameters are
matched by position and checked by shape.

Unpickling can run any code a file contains, so nothing is unpickled unless the caller says the
file is trusted; even then a restricted unpickler rebuilds numpy arrays and plain containers only.
"""

from __future__ import annotations

import builtins
import collections
import functools
import importlib
import math
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import data as unsw
from .checkpoint import CLASSIFIER, is_checkpoint, make_checkpoint, save_checkpoint
from .config import TrainConfig
from .errors import UserError, unwritable_reason
from .training import make_model, make_optimizer

ORIGINAL_BETAS = (0.9, 0.99)
ORIGINAL_EPS = 1e-8
ORIGINAL_LR = 1e-3

# Settings of an imported run that differ from TrainConfig's defaults: the original trained with plain
# Adam (no weight decay, no schedule) on its global-max preprocessing, which the `seed` mode re-implements.
IMPORT_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam", "lr": ORIGINAL_LR, "weight_decay": 0.0, "scheduler": "none", "warmup_epochs": 0.0,
    "dropout": 0.0, "drop_path": 0.0, "preprocess": "seed", "categorical": "numeric", "numeric_embedding": "none",
    "task": "binary",
}


class SeedCheckpointError(UserError, ValueError):
    """A file that is not a readable checkpoint of the original code, or that does not fit the model."""


def _pickle_warning(path: Path) -> str:
    return (f"{path} is a checkpoint of the original numpy code: a Python pickle inside a .npy file, and "
            "unpickling a file can run any code it contains. Import it only if you trust where it came from, "
            "by passing trust_pickle=True (on the command line: --trust-pickle); even then only numpy arrays "
            "and plain containers (dict, list, numbers, strings) are unpickled.")


@functools.cache
def _allowed_globals() -> dict[tuple[str, str], Any]:
    """What a checkpoint of the original code may name: numpy's array, dtype and scalar rebuilders (under
    numpy 1.x and 2.x module names) and the constructors of plain containers and numbers."""
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:
        multiarray = importlib.import_module("numpy.core.multiarray")
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                           ("collections", "OrderedDict"): collections.OrderedDict}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed.update({(module, name): getattr(multiarray, name) for name in ("_reconstruct", "scalar")})
    for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str", "bytes",
                 "bytearray"):
        allowed[("builtins", name)] = getattr(builtins, name)
    return allowed


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dtypes and scalars and plain containers -- no other class or function, so
    loading a file cannot call anything else."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays and plain "
                                         "containers are allowed in a checkpoint of the original code")
        return allowed[(module, name)]


def _read_npy_header(file: BinaryIO, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            raise SeedCheckpointError(f"{path}: .npy format version {version} is not supported (1.0 or 2.0)")
    except ValueError as error:
        if isinstance(error, SeedCheckpointError):
            raise
        raise SeedCheckpointError(f"{path} is not a .npy file ({error})") from None
    return shape, dtype


def _checked_contents(contents: Any, path: Path) -> dict[str, Any]:
    """The unpickled dict, checked to look like what the original's save_model_and_optimiser wrote."""
    if not isinstance(contents, dict) or "model_state" not in contents:
        found = sorted(map(str, contents)) if isinstance(contents, dict) else type(contents).__name__
        raise SeedCheckpointError(f"{path}: expected a dict with 'model_state' (and 'optimizer_state'), "
                                  f"found {found}")
    model_state = contents["model_state"]
    if not isinstance(model_state, dict) or not model_state:
        raise SeedCheckpointError(f"{path}: 'model_state' must be a non-empty dict of arrays")
    for key, value in model_state.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            kind = f"a {value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
            raise SeedCheckpointError(f"{path}: model_state[{key!r}] is {kind}, not a floating-point array")
    optimizer_state = contents.get("optimizer_state", {})
    if not isinstance(optimizer_state, dict):
        raise SeedCheckpointError(f"{path}: 'optimizer_state' must be a dict, found {type(optimizer_state).__name__}")
    return {"model_state": model_state, "optimizer_state": optimizer_state}


def read_seed_checkpoint(path: str | Path, trust_pickle: bool) -> dict[str, Any]:
    """The dict saved by the original code: {"model_state": {key: array}, "optimizer_state": {id: {...}}}.

    Refuses (SeedCheckpointError, before reading a byte) unless `trust_pickle`: the format is a pickle.
    With trust, a restricted unpickler loads arrays and plain containers only (never numpy's own
    unpickling load).
    """
    path = Path(path)
    if not path.is_file():
        raise SeedCheckpointError(f"checkpoint {path} does not exist")
    if not trust_pickle:
        raise SeedCheckpointError(_pickle_warning(path))
    with open(path, "rb") as file:
        shape, dtype = _read_npy_header(file, path)
        if dtype != np.dtype(object) or shape != ():
            raise SeedCheckpointError(f"{path} holds a {dtype} array of shape {shape}, not the pickled dict "
                                      "the original code saves (an object array of shape ())")
        try:
            wrapper = ArraysOnlyUnpickler(file).load()
        except pickle.UnpicklingError as error:
            raise SeedCheckpointError(f"{path}: {error}") from None
        except (EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as error:
            raise SeedCheckpointError(f"{path}: cannot unpickle the checkpoint ({type(error).__name__}: {error})") \
                from None
    contents = wrapper[()] if isinstance(wrapper, np.ndarray) and wrapper.shape == () else wrapper
    return _checked_contents(contents, path)


def _fit_hint(config: TrainConfig) -> str:
    model = config.model
    return (f"the model here is MLPMixer1D(dim={model.dim}, depth={model.depth}, "
            f"patch_size={model.patch_size}); check dim, depth and patch_size (--dim, --depth, --patch-size)")


def seed_parameters(checkpoint: Mapping[str, Any], model: Any, hint: str = "") -> dict[str, np.ndarray]:
    """Our parameter name -> the original's array, matched by position; the first parameter whose
    shape (or existence) does not fit is a SeedCheckpointError naming its index, key and both shapes."""
    original = list(checkpoint["model_state"].items())
    ours = list(model.named_parameters())
    suffix = f" ({hint})" if hint else ""
    for index, ((key, array), (name, param)) in enumerate(zip(original, ours, strict=False)):
        if array.shape != param.shape:
            raise SeedCheckpointError(f"parameter {index} does not fit: {key!r} in the file has shape {array.shape}, "
                                      f"{name} here expects {param.shape}{suffix}")
    if len(original) != len(ours):
        index = min(len(original), len(ours))
        if len(original) < len(ours):
            name, param = ours[index]
            problem = f"the file ends there, {name} here expects shape {param.shape}"
        else:
            key, array = original[index]
            problem = f"{key!r} in the file (shape {array.shape}) has no place in the model"
        raise SeedCheckpointError(f"parameter {index} does not fit: the file has {len(original)} parameters, the "
                                  f"model {len(ours)}; {problem}{suffix}")
    return {name: array for (name, _), (_, array) in zip(ours, original, strict=True)}


def seed_adam_state(checkpoint: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    """The original's Adam state per parameter, in model_state order (None: never stepped).

    Entries are found by the python id that ends each model_state key; if the ids do not match
    (a hand-edited file), by position, as the original wrote both in the same order.
    """
    keys = list(checkpoint["model_state"])
    optimizer_state = checkpoint["optimizer_state"]
    if not optimizer_state:
        return [None] * len(keys)
    ids = [key.rsplit("_", 1)[-1] for key in keys]
    by_id = {str(k): v for k, v in optimizer_state.items()}
    if all(i in by_id for i in ids):
        entries = [by_id[i] for i in ids]
    elif len(optimizer_state) == len(keys):
        entries = list(optimizer_state.values())
    else:
        raise SeedCheckpointError(f"optimizer_state has {len(optimizer_state)} entries for {len(keys)} parameters "
                                  "and its ids do not match the model_state keys")
    states: list[dict[str, Any] | None] = []
    for index, (key, entry) in enumerate(zip(keys, entries, strict=True)):
        shape = checkpoint["model_state"][key].shape
        if not isinstance(entry, dict) or not {"step", "exp_avg", "exp_avg_sq"} <= set(entry):
            raise SeedCheckpointError(f"optimizer state of parameter {index} ({key!r}) lacks step, exp_avg or "
                                      "exp_avg_sq")
        for buffer in ("exp_avg", "exp_avg_sq"):
            value = entry[buffer]
            if not isinstance(value, np.ndarray) or value.shape != shape:
                found = value.shape if isinstance(value, np.ndarray) else type(value).__name__
                raise SeedCheckpointError(f"optimizer state of parameter {index} ({key!r}): {buffer} has shape "
                                          f"{found}, the parameter {shape}")
        step = entry["step"]
        if not isinstance(step, int | np.integer) or step < 0:
            raise SeedCheckpointError(f"optimizer state of parameter {index} ({key!r}): step {step!r} is not a "
                                      "count >= 0")
        step = int(step)
        states.append({"step": step, "exp_avg": entry["exp_avg"], "exp_avg_sq": entry["exp_avg_sq"]} if step else None)
    return states


def import_seed_checkpoint(path: str | Path, dim: int, depth: int, patch_size: int, out: str | Path,
                           trust_pickle: bool, *, data_dir: str | Path | None = None,
                           config: Mapping[str, Any] | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Convert a checkpoint of the original code into ours (written to `out`) and return it.

    Weights go into `MLPMixer1D(dim, depth, patch_size)` (binary head), Adam's moments and per-parameter
    step counts into `tinygrad_np.optim.Adam` with the original's betas (0.9, 0.99) and eps 1e-8, laid
    out as `make_optimizer` builds it, so `load_trained`, `train.py evaluate` and `train.py --resume`
    read the result: a classifier checkpoint (`mixer.checkpoint.make_checkpoint`) at epoch 0. The run
    settings are `IMPORT_DEFAULTS`, overridden by `config` (option names). `out` must not exist (unless
    `overwrite`), and is never the input file or a folder.

    The original file holds no preprocessing. Given `data_dir`, the preprocessing a run with these
    settings fits (`seed` mode: the original's global-max rescaling, fitted on the training CSV) is
    stored, which `evaluate` and `predict` need; without it the checkpoint serves `load_trained` on
    already preprocessed arrays and `--resume` (which refits preprocessing from the data).
    """
    target = Path(out)
    if target.is_dir():
        raise SeedCheckpointError(f"--out {out} is a folder; give the checkpoint file to write (e.g. {target}/"
                                  "imported.npz)")
    if target.exists() and target.resolve() == Path(path).resolve():
        raise SeedCheckpointError(f"--out {out} is the file being imported; write the checkpoint elsewhere")
    if target.exists() and not overwrite:
        kind = "a checkpoint" if is_checkpoint(target) else "a file"
        raise SeedCheckpointError(f"--out {out} already exists ({kind}); choose another name or pass --overwrite")
    reason = unwritable_reason(target)
    if reason:
        raise SeedCheckpointError(f"--out {out}: cannot write there: {reason}")
    settings = {**IMPORT_DEFAULTS, **(config or {}), "dim": dim, "depth": depth, "patch_size": patch_size,
                "out": str(target.parent)}
    run_config = TrainConfig.from_dict(settings, given={*(config or {}), "dim", "depth", "patch_size"})
    if run_config.data.task != "binary" or run_config.optimisation.optimizer != "adam":
        raise ValueError("import_seed_checkpoint: the original models are binary classifiers trained with Adam; "
                         f"task={run_config.data.task!r}, optimizer={run_config.optimisation.optimizer!r} cannot hold "
                         "their state")

    original = read_seed_checkpoint(path, trust_pickle)
    class_names = list(unsw.BINARY_CLASS_NAMES)
    model = make_model(run_config, len(class_names))
    model.load_state_dict(seed_parameters(original, model, _fit_hint(run_config)))

    optimizer = make_optimizer(run_config, model)
    for group in optimizer.param_groups:
        group["betas"], group["eps"] = ORIGINAL_BETAS, ORIGINAL_EPS
    for param, state in zip(model.parameters(), seed_adam_state(original), strict=True):
        if state is not None:
            optimizer.state[id(param)] = {"step": state["step"],
                                          "exp_avg": np.array(state["exp_avg"], dtype=param.dtype),
                                          "exp_avg_sq": np.array(state["exp_avg_sq"], dtype=param.dtype)}

    preprocessing = None
    if data_dir is not None:
        data = unsw.load_unsw(data_dir, preprocess=run_config.data.preprocess, task=run_config.data.task,
                              holdout=run_config.data.holdout, seed=run_config.run.seed)
        preprocessing = unsw.data_state(data)
        run_config.data.data_dir = str(data.data_dir)

    seed = run_config.run.seed
    checkpoint = make_checkpoint(
        CLASSIFIER, config=run_config.flat(), model=model, preprocessing=preprocessing, epoch=0, history=[],
        optimizer=optimizer.state_dict(), scheduler=None,
        # the random streams a fresh run with this seed starts from
        rng={"global": np.random.PCG64(seed).state, "order": np.random.default_rng(seed).bit_generator.state},
        class_names=class_names, best_score=-math.inf,
        imported_from={"file": str(path), "format": "original numpy MLP-Mixer (pickled .npy)",
                       "keys": list(original["model_state"])})
    save_checkpoint(out, checkpoint)
    return checkpoint
