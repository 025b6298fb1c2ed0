"""UNSW-NB15 splits: train, holdout, test and unlabelled rows, preprocessed by a fit on the training rows only.

The last of the data layers (files -> preprocessing -> splits), and the one the rest of the package uses: `load_unsw`
for training, `load_prediction_csv` for a trained model's input, `data_state` / `preprocessing_from_state` to keep a
model's preprocessing with its checkpoint. The words are the ones a run prints: "train" (fits the model and the
preprocessing), "holdout" (rows of the training file kept out for model selection), "test" (the labelled test file,
testing1 of the coursework: reported, never used to choose anything) and "unlabelled" (testing2: predicted only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .files import (
    ATTACK_CATEGORY_COLUMN,
    BINARY_CLASS_NAMES,
    FEATURE_COLUMNS,
    ID_COLUMN,
    LABEL_COLUMN,
    PUBLIC_FILES,
    DataError,
    dataset_files,
    find_data_dir,
    read_table,
)
from .preprocessing import (
    DEFAULT_PREPROCESS,
    PREPROCESS_MODES,
    CategoryEncoder,
    Preprocessor,
    collapsed_columns,
    far_out_of_range,
    feature_matrix,
    unseen_categories,
)

TASKS: tuple[str, ...] = ("binary", "multiclass")
STATE_VERSION = 1


@dataclass
class Split:
    """One preprocessed table: features (N, 42) float32, labels (N,) int64 or None, ids (N,) int64, and warnings
    about rows unlike the training rows (unseen categories, values far outside the training range)."""

    features: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray
    attack_cat: np.ndarray | None
    source: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class UNSWData:
    """The splits with the preprocessing fitted on the training rows, the folder they came from, and warnings about
    the fit (one line each, for the caller to print)."""

    train: Split
    holdout: Split | None
    test: Split
    unlabelled: Split | None
    encoder: CategoryEncoder
    preprocessor: Preprocessor
    task: str
    class_names: list[str]
    data_dir: Path
    warnings: list[str] = field(default_factory=list)


def _row_groups(frame_or_array: pd.DataFrame | np.ndarray) -> np.ndarray:
    """A group number per row: identical rows (same features and label; `id` and `attack_cat` of a frame are ignored)
    share one."""
    if isinstance(frame_or_array, pd.DataFrame):
        content = frame_or_array.drop(columns=[ID_COLUMN, ATTACK_CATEGORY_COLUMN], errors="ignore")
        return content.groupby(list(content.columns), sort=False, dropna=False).ngroup().to_numpy()
    rows = np.asarray(frame_or_array)
    rows = rows.reshape(len(rows), -1)
    return np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)


def holdout_split(frame_or_array: pd.DataFrame | np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Row indices (train, holdout) with about `fraction` of the rows held out, chosen by `seed`.

    Identical rows (same features and label; `id` and `attack_cat` of a frame are ignored) are kept on the same side,
    so that the holdout never contains a copy of a training row. Groups of rows are drawn in a random order until
    the holdout is as close to `fraction` of the rows as the group sizes allow.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), not {fraction}")
    groups = _row_groups(frame_or_array)
    n_rows = len(groups)
    if fraction == 0.0 or n_rows == 0:
        return np.arange(n_rows, dtype=np.int64), np.empty(0, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(groups.max() + 1)
    cumulative = np.cumsum(np.bincount(groups)[order])
    n_holdout_groups = int(np.argmin(np.abs(cumulative - fraction * n_rows))) + 1
    held = np.isin(groups, order[:n_holdout_groups])
    if held.all():
        raise DataError(f"a holdout fraction of {fraction} leaves no training rows")
    return np.flatnonzero(~held).astype(np.int64), np.flatnonzero(held).astype(np.int64)


def kfold_splits(frame_or_array: pd.DataFrame | np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices (train, holdout) of each of `k` folds, chosen by `seed`: every row is in exactly one fold's
    holdout, and identical rows (as in `holdout_split`) in the same fold, so that no holdout holds a copy of a row its
    run trains on.

    The groups of identical rows are dealt in a random order, the largest first (ties in a random order), each to the
    fold with the fewest rows so far (the lowest-numbered among equals): the folds end up as equal in size as the
    groups allow (they differ by at most the size of the largest group), and different seeds give different folds.
    """
    if k < 2:
        raise ValueError(f"k-fold cross-validation needs k >= 2 folds, not {k}")
    groups = _row_groups(frame_or_array)
    sizes = np.bincount(groups) if len(groups) else np.empty(0, dtype=np.int64)
    if len(sizes) < k:
        raise DataError(f"--cv {k} needs at least {k} distinct rows in the training file; it has {len(sizes)}")
    shuffled = np.random.default_rng(seed).permutation(len(sizes))
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
    fold_of_group = np.empty(len(sizes), dtype=np.int64)
    filled = np.zeros(k, dtype=np.int64)
    for group in order:
        fold = int(np.argmin(filled))
        fold_of_group[group] = fold
        filled[fold] += sizes[group]
    fold_of_row = fold_of_group[groups]
    return [(np.flatnonzero(fold_of_row != fold).astype(np.int64), np.flatnonzero(fold_of_row == fold).astype(np.int64))
            for fold in range(k)]


def _require_attack_categories(frame: pd.DataFrame, source: str | Path) -> None:
    if ATTACK_CATEGORY_COLUMN not in frame:
        raise DataError(f"{source}: task 'multiclass' needs an {ATTACK_CATEGORY_COLUMN!r} column, which this file "
                        "lacks (the coursework files carry only the binary label; the public files "
                        f"{', '.join(PUBLIC_FILES.values())} have attack categories)")


def _class_indices(frame: pd.DataFrame, class_names: Sequence[str], source: str) -> np.ndarray:
    _require_attack_categories(frame, source)
    index_of = {name: index for index, name in enumerate(class_names)}
    categories = frame[ATTACK_CATEGORY_COLUMN].to_numpy(dtype=object)
    unknown = [i for i, name in enumerate(categories) if name not in index_of]
    if unknown:
        first = unknown[0]
        raise DataError(f"{source}: column {ATTACK_CATEGORY_COLUMN!r}, data row {first + 1}: attack category "
                        f"{categories[first]!r} does not occur in the training file (known: {', '.join(class_names)})")
    return np.array([index_of[name] for name in categories], dtype=np.int64)


def drift_warnings(frame: pd.DataFrame, matrix: np.ndarray, encoder: CategoryEncoder, preprocessor: Preprocessor,
                   source: str | Path) -> list[str]:
    """One line per kind of row the model was not trained on: categories unseen in training (coded as unknown) and
    values far outside the training range, with per-column counts."""
    name = Path(source).name
    lines = []
    unseen = unseen_categories(frame, encoder)
    if unseen:
        rows = int(np.column_stack([frame[column].isin(list(values)).to_numpy() for column, values in unseen.items()])
                   .any(axis=1).sum())
        detail = "; ".join(f"{column} " + ", ".join(f"{value!r} x{count}" for value, count in values.most_common(5))
                           + (f" and {len(values) - 5} more" if len(values) > 5 else "")
                           for column, values in unseen.items())
        lines.append(f"{name}: {rows} row(s) hold categories never seen in training, encoded as unknown ({detail})")
    far = far_out_of_range(matrix, preprocessor)
    if far:
        counts = ", ".join(f"{column} {count} row(s)" for column, count in far.items())
        lines.append(f"{name}: values far outside the training range (beyond its minimum or maximum by more than its "
                     f"width) in {len(far)} column(s): {counts}")
    return lines


def _make_split(frame: pd.DataFrame, source: str | Path, encoder: CategoryEncoder, preprocessor: Preprocessor,
                labels: np.ndarray | None, check_drift: bool = True) -> Split:
    attack_cat = frame[ATTACK_CATEGORY_COLUMN].to_numpy(dtype=str) if ATTACK_CATEGORY_COLUMN in frame else None
    matrix = feature_matrix(frame, encoder)
    warnings = drift_warnings(frame, matrix, encoder, preprocessor, source) if check_drift else []
    return Split(features=preprocessor.transform(matrix), labels=labels, ids=frame[ID_COLUMN].to_numpy(dtype=np.int64),
                 attack_cat=attack_cat, source=str(source), warnings=warnings)


def _labels(frame: pd.DataFrame, task: str, class_names: Sequence[str], source: str | Path) -> np.ndarray:
    if task == "multiclass":
        return _class_indices(frame, class_names, str(source))
    return frame[LABEL_COLUMN].to_numpy(dtype=np.int64)


def _check_fit(preprocess: str, raw: np.ndarray, scaled: np.ndarray, rows: np.ndarray, source: Path) -> list[str]:
    """A DataError when the fitted scaling leaves most columns that vary in the training rows constant (the model
    would see the same input for every row); a warning line when it leaves some."""
    collapsed = collapsed_columns(raw, scaled)
    varying = int((raw.max(axis=0) > raw.min(axis=0)).sum())
    if not collapsed:
        return []
    listed = ", ".join(collapsed[:8]) + (f" and {len(collapsed) - 8} more" if len(collapsed) > 8 else "")
    what = (f"--preprocess {preprocess} leaves {len(collapsed)} of the {varying} feature columns that vary in the "
            f"training rows constant after scaling ({listed})")
    if 2 * len(collapsed) <= varying:
        return [f"{what}: the model cannot use them"]
    cause = ""
    if preprocess == "seed":  # one global scale: the largest value decides it
        row, position = np.unravel_index(int(np.abs(raw).argmax()), raw.shape)
        cause = (f"; its one global scale is set by the largest value, {FEATURE_COLUMNS[position]} = "
                 f"{raw[row, position]:.6g} in data row {int(rows[row]) + 1} of {source}, which dwarfs the rest")
    raise DataError(f"{what}{cause}. Check that value, or use --preprocess quantile or log-standard")


def load_unsw(data_dir: str | Path | None = None, *, preprocess: str = DEFAULT_PREPROCESS, task: str = "binary",
              holdout: float = 0.0, seed: int = 0, keep_codes: bool = False,
              fold: tuple[int, int] | None = None) -> UNSWData:
    """Load, validate and preprocess UNSW-NB15 (the coursework split when present, else the public one).

    The holdout is `holdout` of the training file (`holdout_split`), or with `fold=(i, k)` fold i (1..k) of
    `kfold_splits(training file, k, seed)`, the other folds being the training rows. The category encoder and the
    preprocessor are fitted on the training rows left after removing the holdout, and
    applied unchanged to every split; a fit that leaves most varying columns constant is a `DataError`. For
    `task="multiclass"` the labels are indices into `class_names`, the sorted attack categories of the training file.
    `keep_codes=True` leaves proto/service/state as integer category codes (0 for a category unseen in training) for a
    model that embeds them.
    """
    if preprocess not in PREPROCESS_MODES:
        raise ValueError(f"preprocess must be one of {', '.join(PREPROCESS_MODES)}, not {preprocess!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    if fold is not None and (holdout or not 1 <= fold[0] <= fold[1]):
        raise ValueError(f"fold {fold} must be (i, k) with 1 <= i <= k, and holdout 0 with it (not {holdout})")
    folder = find_data_dir(data_dir)
    paths = dataset_files(folder)
    train_frame = read_table(paths["train"], require_label=True)
    test_frame = read_table(paths["test"], require_label=True)
    unlabelled_frame = read_table(paths["unlabelled"], require_label=False) if paths["unlabelled"] else None

    if task == "multiclass":
        _require_attack_categories(train_frame, paths["train"])
        _require_attack_categories(test_frame, paths["test"])
        class_names = sorted(set(train_frame[ATTACK_CATEGORY_COLUMN]))
    else:
        class_names = list(BINARY_CLASS_NAMES)

    if fold is None:
        train_rows, holdout_rows = holdout_split(train_frame, holdout, seed)
    else:
        train_rows, holdout_rows = kfold_splits(train_frame, fold[1], seed)[fold[0] - 1]
    fit_frame = train_frame.iloc[train_rows]
    encoder = CategoryEncoder().fit(fit_frame)
    fit_matrix = feature_matrix(fit_frame, encoder)
    preprocessor = Preprocessor(preprocess, keep_codes).fit(fit_matrix)
    train_features = preprocessor.transform(fit_matrix)
    warnings = _check_fit(preprocess, fit_matrix, train_features, train_rows, paths["train"])
    train_labels = _labels(train_frame, task, class_names, paths["train"])

    def split_of(frame: pd.DataFrame, path: Path, labels: np.ndarray | None) -> Split:
        return _make_split(frame, path, encoder, preprocessor, labels)

    train = Split(features=train_features, labels=train_labels[train_rows],
                  ids=fit_frame[ID_COLUMN].to_numpy(dtype=np.int64), source=str(paths["train"]),
                  attack_cat=fit_frame[ATTACK_CATEGORY_COLUMN].to_numpy(dtype=str)
                  if ATTACK_CATEGORY_COLUMN in fit_frame else None)
    held = train_frame.iloc[holdout_rows]
    return UNSWData(
        train=train,
        holdout=_make_split(held, paths["train"], encoder, preprocessor, train_labels[holdout_rows], check_drift=False)
        if len(holdout_rows) else None,
        test=split_of(test_frame, paths["test"], _labels(test_frame, task, class_names, paths["test"])),
        unlabelled=split_of(unlabelled_frame, paths["unlabelled"], None) if unlabelled_frame is not None else None,
        encoder=encoder, preprocessor=preprocessor, task=task, class_names=class_names, data_dir=folder,
        warnings=warnings)


def load_prediction_csv(path: str | Path, encoder: CategoryEncoder, preprocessor: Preprocessor, *,
                        class_names: Sequence[str] | None = None) -> Split:
    """Read a CSV to predict on, preprocessed with a trained model's encoder and preprocessor; the split's warnings
    name rows unlike the training rows.

    Labels are optional: when the file has a `label` column the binary labels are kept, or, given the `class_names`
    of a multiclass model, the `attack_cat` column becomes class indices.
    """
    frame = read_table(path, require_label=False)
    labels = None
    if class_names is not None:
        labels = _class_indices(frame, class_names, str(path))
    elif LABEL_COLUMN in frame:
        labels = frame[LABEL_COLUMN].to_numpy(dtype=np.int64)
    return _make_split(frame, path, encoder, preprocessor, labels)


# --------------------------------------------------------------------------------------------------- state

def data_state(data: UNSWData) -> dict[str, Any]:
    """JSON-able preprocessing state, so that a saved model reproduces its input pipeline exactly."""
    return {"version": STATE_VERSION, "feature_columns": list(FEATURE_COLUMNS), "task": data.task,
            "class_names": list(data.class_names), "encoder": data.encoder.to_dict(),
            "preprocessor": data.preprocessor.to_dict()}


def preprocessing_from_state(state: Mapping[str, Any]) -> tuple[CategoryEncoder, Preprocessor]:
    """The encoder and preprocessor saved by `data_state`."""
    if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
        version = state.get("version") if isinstance(state, Mapping) else None
        raise DataError(f"preprocessing state has version {version!r}; this code reads version {STATE_VERSION}")
    if list(state.get("feature_columns", [])) != list(FEATURE_COLUMNS):
        raise DataError("preprocessing state was saved for a different set of feature columns")
    if "encoder" not in state or "preprocessor" not in state:
        raise DataError("preprocessing state lacks the encoder or the preprocessor")
    return CategoryEncoder.from_dict(state["encoder"]), Preprocessor.from_dict(state["preprocessor"])
