"""UNSW-NB15 loading: find the CSVs, validate them strictly, encode categories and preprocess, fitted on train only.

Every problem with input data raises `DataError` with a message naming the file and, where relevant, the column and
the data row (1-based, counting rows after the header) together with its line in the file, so that a user can fix
the file without reading a traceback.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

FEATURE_COLUMNS: tuple[str, ...] = (
    "dur", "proto", "service", "state", "spkts", "dpkts", "sbytes", "dbytes", "rate", "sttl", "dttl", "sload",
    "dload", "sloss", "dloss", "sinpkt", "dinpkt", "sjit", "djit", "swin", "stcpb", "dtcpb", "dwin", "tcprtt",
    "synack", "ackdat", "smean", "dmean", "trans_depth", "response_body_len", "ct_srv_src", "ct_state_ttl",
    "ct_dst_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm", "ct_dst_src_ltm", "is_ftp_login", "ct_ftp_cmd",
    "ct_flw_http_mthd", "ct_src_ltm", "ct_srv_dst", "is_sm_ips_ports",
)
CATEGORICAL_COLUMNS: tuple[str, ...] = ("proto", "service", "state")
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c for c in FEATURE_COLUMNS if c not in CATEGORICAL_COLUMNS)
CATEGORICAL_POSITIONS: tuple[int, ...] = tuple(FEATURE_COLUMNS.index(c) for c in CATEGORICAL_COLUMNS)
N_FEATURES = len(FEATURE_COLUMNS)

ID_COLUMN = "id"
LABEL_COLUMN = "label"
ATTACK_CATEGORY_COLUMN = "attack_cat"
BINARY_CLASS_NAMES: tuple[str, ...] = ("normal", "attack")

COURSEWORK_FILES: dict[str, str] = {
    "train": "UNSWNB15_training_coursework.csv",
    "valid": "UNSWNB15_testing1_coursework.csv",
    "test": "UNSWNB15_testing2_coursework_no_label.csv",
}
PUBLIC_FILES: dict[str, str] = {
    "train": "UNSW_NB15_training-set.csv",
    "valid": "UNSW_NB15_testing-set.csv",
}

DATA_DIR_ENV = "UNSW_NB15_DIR"
DEFAULT_DATA_DIRS: tuple[Path, ...] = (Path("data/unsw-nb15"), Path("../shared/data/unsw-nb15"))
REPO_ROOT = Path(__file__).resolve().parent.parent

PREPROCESS_MODES: tuple[str, ...] = ("seed", "log-standard", "quantile")
DEFAULT_PREPROCESS = "quantile"
QUANTILE_KNOTS = 1000
QUANTILE_CLIP = 1e-7
TASKS: tuple[str, ...] = ("binary", "multiclass")
STATE_VERSION = 1

_STRING_COLUMNS = frozenset(CATEGORICAL_COLUMNS) | {ATTACK_CATEGORY_COLUMN}
_KNOWN_COLUMNS = frozenset(FEATURE_COLUMNS) | {ID_COLUMN, LABEL_COLUMN, ATTACK_CATEGORY_COLUMN}


class DataError(ValueError):
    """A problem with the input data (missing file, malformed CSV, bad value), described for the user."""


# --------------------------------------------------------------------------------------------------- locating

def _holds_dataset(directory: Path) -> bool:
    return (directory / COURSEWORK_FILES["train"]).is_file() or (directory / PUBLIC_FILES["train"]).is_file()


def _expected_files_text() -> str:
    return (f"the coursework files ({', '.join(COURSEWORK_FILES.values())}) "
            f"or the public UNSW-NB15 files ({', '.join(PUBLIC_FILES.values())})")


def _checked_dir(directory: Path, origin: str) -> Path:
    if not directory.is_dir():
        raise DataError(f"data directory {directory} (from {origin}) does not exist or is not a directory")
    if not _holds_dataset(directory):
        raise DataError(f"data directory {directory} (from {origin}) holds neither {COURSEWORK_FILES['train']} "
                        f"nor {PUBLIC_FILES['train']}; it should hold {_expected_files_text()}")
    return directory.resolve()


def find_data_dir(data_dir: str | Path | None = None) -> Path:
    """The directory holding the UNSW-NB15 CSVs: `data_dir`, else $UNSW_NB15_DIR, else the default places.

    The default places are data/unsw-nb15 and ../shared/data/unsw-nb15, first relative to the current directory,
    then relative to the repository root. An explicit `data_dir` or environment variable that does not hold the data
    is an error rather than a reason to look elsewhere, so a typo never silently loads another copy.
    """
    if data_dir is not None:
        return _checked_dir(Path(data_dir).expanduser(), "the data_dir argument / --data-dir")
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return _checked_dir(Path(from_env).expanduser(), f"${DATA_DIR_ENV}")
    candidates = [base / relative for base in (Path.cwd(), REPO_ROOT) for relative in DEFAULT_DATA_DIRS]
    for candidate in candidates:
        if _holds_dataset(candidate):
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(f"no UNSW-NB15 data found (looked in {looked}). Put {_expected_files_text()} in data/unsw-nb15/, "
                    f"or set the {DATA_DIR_ENV} environment variable or pass --data-dir to the folder that holds them")


def dataset_files(directory: Path) -> dict[str, Path | None]:
    """Paths of the train/valid/test files in `directory`: the coursework split if present, else the public one."""
    names: Mapping[str, str]
    if (directory / COURSEWORK_FILES["train"]).is_file():
        names, kind = COURSEWORK_FILES, "coursework"
    else:
        names, kind = PUBLIC_FILES, "public UNSW-NB15"
    paths: dict[str, Path | None] = {split: directory / name for split, name in names.items()}
    missing = [name for name in names.values() if not (directory / name).is_file()]
    if missing:
        raise DataError(f"{directory} holds the {kind} training file but not {', '.join(missing)}; "
                        f"the {kind} split needs all of {', '.join(names.values())}")
    paths.setdefault("test", None)
    return paths


# --------------------------------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class _Layout:
    """What the structural CSV pass learnt: the header and the file line on which each data row starts."""

    header: list[str]
    row_lines: list[int]


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {error.start}); is it a CSV file?") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror})") from None


def _is_blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _check_header(path: Path, header: list[str], line: int, require_label: bool) -> None:
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicated:
        raise DataError(f"{path}: header (line {line}) repeats column(s) {', '.join(map(repr, duplicated))}")
    unknown = [name for name in header if name not in _KNOWN_COLUMNS]
    if unknown:
        raise DataError(f"{path}: header (line {line}) has unknown column(s) {', '.join(map(repr, unknown))}; "
                        f"allowed are {ID_COLUMN!r}, the {N_FEATURES} UNSW-NB15 features, "
                        f"{ATTACK_CATEGORY_COLUMN!r} and {LABEL_COLUMN!r}")
    required = [ID_COLUMN, *FEATURE_COLUMNS] + ([LABEL_COLUMN] if require_label else [])
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(f"{path}: header (line {line}) is missing column(s) {', '.join(map(repr, missing))}; "
                        "the first line must be the UNSW-NB15 header")


def _ragged_message(path: Path, header: list[str], record: list[str], row: int, line: int) -> str:
    where = (f"{path}: data row {row} (line {line} of the file) has {len(record)} fields but the header has "
             f"{len(header)}")
    if len(record) < len(header):
        return f"{where}: the row stops before column {header[len(record)]!r} (truncated or ragged line)"
    return f"{where}: unexpected field(s) after the last column {header[-1]!r} (ragged line, stray comma?)"


def _scan_layout(path: Path, text: str, require_label: bool) -> _Layout:
    """Check the CSV structure row by row (pandas would silently pad short rows or drop extra fields)."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    row_lines: list[int] = []
    last_line = 0
    try:
        for record in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if _is_blank(record):
                continue
            if header is None:
                header = [name.strip() for name in record]
                _check_header(path, header, first_line, require_label)
            elif len(record) != len(header):
                raise DataError(_ragged_message(path, header, record, len(row_lines) + 1, first_line))
            else:
                row_lines.append(first_line)
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({error})") from None
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header line and data rows")
    if not row_lines:
        raise DataError(f"{path}: no data rows after the header")
    return _Layout(header, row_lines)


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _numeric_values(series: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for unparseable cells; pandas' own parse is kept when it found numbers."""
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_float_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64)
    return np.array([_parse_float(str(text)) for text in series], dtype=np.float64)


def _describe_number(text: str) -> str:
    """What is wrong with a cell that should hold a finite number."""
    stripped = text.strip()
    if not stripped:
        return "empty cell (missing value)"
    value = _parse_float(stripped)
    if math.isnan(value):
        return f"missing value {stripped!r} (NaN)" if stripped.lower() == "nan" else f"non-numeric value {stripped!r}"
    if math.isinf(value):
        return f"infinite value {stripped!r}"
    return f"value {stripped!r}"


def _describe_id(text: str) -> str:
    return _describe_number(text) if not text.strip() else f"id must be a whole number, found {text.strip()!r}"


def _describe_label(text: str) -> str:
    return _describe_number(text) if not text.strip() else f"label must be 0 or 1, found {text.strip()!r}"


def _describe_category(text: str) -> str:
    return "empty cell (missing value)"


@dataclass(frozen=True)
class _Problem:
    """The first bad cell of one column: its data row, column position and the message for the user."""

    row: int
    position: int
    message: str


def _first_bad_cell(path: Path, layout: _Layout, raw: pd.DataFrame, column: str, bad: np.ndarray,
                    describe: Callable[[str], str]) -> _Problem | None:
    if not bad.any():
        return None
    index = int(np.argmax(bad))
    count = int(bad.sum())
    what = describe(str(raw[column].iloc[index]))
    more = f" ({count} bad cells in this column)" if count > 1 else ""
    message = (f"{path}: column {column!r}, data row {index + 1} (line {layout.row_lines[index]} of the file): "
               f"{what}{more}")
    return _Problem(index + 1, layout.header.index(column), message)


def read_table(path: str | Path, require_label: bool) -> pd.DataFrame:
    """Read and validate one UNSW-NB15 CSV.

    Returns a frame with `id` (int64), the 42 features in file order (numbers as float64, categories as stripped
    strings), `attack_cat` (stripped strings) when the file has it, and `label` (int64, 0/1) when present. Raises
    `DataError` for a missing or empty file, a wrong header, ragged lines, and any cell that is not a finite number,
    a whole-number id, a 0/1 label or a non-empty category; the message names the file, column and row.
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty; expected a header line and data rows")
    layout = _scan_layout(path, text, require_label)
    try:
        raw = pd.read_csv(io.StringIO(text), header=0, names=layout.header, index_col=False, na_filter=False,
                          dtype={name: str for name in layout.header if name in _STRING_COLUMNS})
    except (pd.errors.ParserError, ValueError) as error:
        raise DataError(f"{path}: cannot parse the CSV ({str(error).strip()})") from None
    if len(raw) != len(layout.row_lines):
        raise DataError(f"{path}: found {len(layout.row_lines)} data rows but parsed {len(raw)}; check the quoting")

    problems: list[_Problem] = []
    columns: dict[str, Any] = {}
    for column in layout.header:
        describe: Callable[[str], str]
        if column in _STRING_COLUMNS:
            stripped = raw[column].str.strip()
            bad, describe = (stripped == "").to_numpy(dtype=bool), _describe_category
            columns[column] = stripped.to_numpy(dtype=object)
        else:
            values = _numeric_values(raw[column])
            bad, describe = ~np.isfinite(values), _describe_number
            if column == ID_COLUMN:
                bad, describe = bad | (np.nan_to_num(values) % 1 != 0) | (np.abs(values) >= 2.0**63), _describe_id
            elif column == LABEL_COLUMN:
                bad, describe = ~np.isin(values, (0.0, 1.0)), _describe_label
            columns[column] = values
        problem = _first_bad_cell(path, layout, raw, column, bad, describe)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise DataError(min(problems, key=lambda p: (p.row, p.position)).message)
    for column in (ID_COLUMN, LABEL_COLUMN):
        if column in columns:
            columns[column] = columns[column].astype(np.int64)

    order = [ID_COLUMN, *FEATURE_COLUMNS, ATTACK_CATEGORY_COLUMN, LABEL_COLUMN]
    return pd.DataFrame({name: columns[name] for name in order if name in columns})


# --------------------------------------------------------------------------------------------------- encoding

class CategoryEncoder:
    """Integer codes for proto/service/state: 1..K in sorted order of the training values, 0 for unseen ones."""

    def __init__(self, categories: Mapping[str, Sequence[str]] | None = None) -> None:
        self.categories: dict[str, list[str]] | None = None
        if categories is not None:
            self.categories = {column: list(categories[column]) for column in CATEGORICAL_COLUMNS}

    def fit(self, frame: pd.DataFrame) -> CategoryEncoder:
        """Learn the categories of each categorical column (from training rows only)."""
        self.categories = {column: sorted(set(frame[column])) for column in CATEGORICAL_COLUMNS}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, 3) float64 codes; a value never seen in training gets the unknown code 0."""
        categories = self._fitted()
        codes = [pd.Index(categories[column]).get_indexer(frame[column]).astype(np.float64) + 1.0
                 for column in CATEGORICAL_COLUMNS]
        return np.stack(codes, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"categories": {column: list(values) for column, values in self._fitted().items()}}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CategoryEncoder:
        categories = state.get("categories") if isinstance(state, Mapping) else None
        if not isinstance(categories, Mapping) or set(categories) != set(CATEGORICAL_COLUMNS):
            raise DataError(f"category encoder state must map {', '.join(CATEGORICAL_COLUMNS)} to category lists")
        for column, values in categories.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(set(values)) < len(
                    values):
                raise DataError(f"category encoder state for {column!r} must be a list of distinct strings")
        return cls(categories)

    def _fitted(self) -> dict[str, list[str]]:
        if self.categories is None:
            raise RuntimeError("CategoryEncoder is not fitted; call fit() on the training frame first")
        return self.categories


def feature_matrix(frame: pd.DataFrame, encoder: CategoryEncoder) -> np.ndarray:
    """The (N, 42) float64 feature matrix in file order, with the categorical columns replaced by their codes."""
    matrix = np.empty((len(frame), N_FEATURES), dtype=np.float64)
    for position, column in enumerate(FEATURE_COLUMNS):
        if column not in CATEGORICAL_COLUMNS:
            matrix[:, position] = frame[column].to_numpy(dtype=np.float64)
    matrix[:, list(CATEGORICAL_POSITIONS)] = encoder.transform(frame)
    return matrix


class Preprocessor:
    """Feature scaling fitted on training rows, in one of three modes.

    `seed` reproduces the original project: divide by one global max |x|, then subtract one global mean and divide by
    one global std; columns with small ranges end up nearly constant. `log-standard` compresses the heavy tails with
    sign(x) * log1p(|x|) and standardises each column (train mean/std, population std; constant columns keep std 1).
    `quantile` is scikit-learn's `QuantileTransformer(output_distribution="normal", n_quantiles=1000)` (rank-gauss):
    each column's training quantiles at `QUANTILE_KNOTS` evenly spaced levels become knots; a value maps to the level
    of its knot (the middle level when several knots tie), to the linear interpolation between neighbouring knots
    otherwise, the training minimum (or below) to level 0 and the maximum (or above) to level 1; the level goes
    through the normal quantile function, clipped to [QUANTILE_CLIP, 1 - QUANTILE_CLIP] (+-5.2). The extremes thus
    stand far apart from the rest (a column that is mostly 0 has its 0s at -5.2), which measured better than a plain
    mid-rank mapping; a constant column maps to 0.

    `keep_codes=True` leaves the category code columns (see `CategoryEncoder`) as their integer codes, for a model
    that embeds them; otherwise they are scaled like the numbers.
    """

    def __init__(self, mode: str = DEFAULT_PREPROCESS, keep_codes: bool = False) -> None:
        if mode not in PREPROCESS_MODES:
            raise ValueError(f"preprocess mode must be one of {', '.join(PREPROCESS_MODES)}, not {mode!r}")
        self.mode, self.keep_codes = mode, bool(keep_codes)
        self.scale: float | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.knots: list[np.ndarray] | None = None  # quantile mode: distinct knots, and the lowest and highest
        self.low: list[np.ndarray] | None = None    # level at which each knot occurs
        self.high: list[np.ndarray] | None = None

    def fit(self, x: np.ndarray) -> Preprocessor:
        """Learn the scaling statistics from the (N, 42) training matrix."""
        x = self._checked(x)
        if len(x) == 0:
            raise DataError("cannot fit the preprocessor on zero rows")
        if self.mode == "seed":
            peak = float(np.abs(x).max())
            self.scale = peak if peak > 0 else 1.0
            scaled = x / self.scale
            self.mean = np.array(scaled.mean())
            self.std = np.array(scaled.std() if scaled.max() > scaled.min() else 1.0)
        elif self.mode == "log-standard":
            logged = _signed_log1p(x)
            self.mean = logged.mean(axis=0)
            self.std = np.where(logged.max(axis=0) > logged.min(axis=0), logged.std(axis=0), 1.0)
        else:
            self.knots, self.low, self.high = [], [], []
            levels = np.linspace(0.0, 1.0, min(QUANTILE_KNOTS, len(x)))
            for quantiles in np.quantile(x, levels, axis=0).T:  # sorted, ties repeated
                knots = np.unique(quantiles)
                self.knots.append(knots)
                self.low.append(levels[np.searchsorted(quantiles, knots, side="left")])
                self.high.append(levels[np.searchsorted(quantiles, knots, side="right") - 1])
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The scaled (N, 42) float32 matrix."""
        x = self._checked(x)
        if self.mode == "seed" and self.scale is not None:
            scaled = (x / self.scale - self.mean) / self.std
        elif self.mode == "log-standard" and self.mean is not None:
            scaled = (_signed_log1p(x) - self.mean) / self.std
        elif self.mode == "quantile" and self.knots is not None:
            levels = np.stack([_quantile_level(column, knots, low, high) for column, knots, low, high in
                               zip(x.T, self.knots, self.low, self.high, strict=True)], axis=1)
            scaled = special.ndtri(np.clip(levels, QUANTILE_CLIP, 1.0 - QUANTILE_CLIP))
        else:
            raise RuntimeError("Preprocessor is not fitted; call fit() on the training matrix first")
        if self.keep_codes:
            scaled[:, list(CATEGORICAL_POSITIONS)] = x[:, list(CATEGORICAL_POSITIONS)]
        return scaled.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"mode": self.mode, "keep_codes": self.keep_codes}
        if self.mode == "quantile" and self.knots is not None:
            state["knots"] = [knots.tolist() for knots in self.knots]
            state["low"] = [low.tolist() for low in self.low]
            state["high"] = [high.tolist() for high in self.high]
        elif self.mode != "quantile" and self.mean is not None:
            state["mean"], state["std"] = self.mean.tolist(), self.std.tolist()
            if self.mode == "seed":
                state["scale"] = float(self.scale)
        else:
            raise RuntimeError("Preprocessor is not fitted; nothing to save")
        return state

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Preprocessor:
        mode = state.get("mode") if isinstance(state, Mapping) else None
        if mode not in PREPROCESS_MODES:
            raise DataError(f"preprocessor state has mode {mode!r}; expected one of {', '.join(PREPROCESS_MODES)}")
        keep_codes = state.get("keep_codes", False)
        if not isinstance(keep_codes, bool):
            raise DataError(f"preprocessor state has keep_codes {keep_codes!r}; expected true or false")
        preprocessor = cls(mode, keep_codes)
        try:
            if mode == "quantile":
                return preprocessor._restore_quantiles(state["knots"], state["low"], state["high"])
            preprocessor.mean = np.array(state["mean"], dtype=np.float64)
            preprocessor.std = np.array(state["std"], dtype=np.float64)
            if mode == "seed":
                preprocessor.scale = float(state["scale"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"preprocessor state is incomplete or malformed ({error!r})") from None
        shape: tuple[int, ...] = () if mode == "seed" else (N_FEATURES,)
        if preprocessor.mean.shape != shape or preprocessor.std.shape != shape:
            raise DataError(f"preprocessor state for mode {mode!r} needs mean and std of shape {shape}")
        return preprocessor

    def _restore_quantiles(self, knots: Any, low: Any, high: Any) -> Preprocessor:
        self.knots, self.low, self.high = ([np.array(values, dtype=np.float64) for values in lists]
                                           for lists in (knots, low, high))
        if not len(self.knots) == len(self.low) == len(self.high) == N_FEATURES or any(
                k.ndim != 1 or len(k) == 0 or k.shape != lo.shape or k.shape != hi.shape or np.any(np.diff(k) <= 0)
                or np.any((lo < 0) | (lo > hi) | (hi > 1))
                for k, lo, hi in zip(self.knots, self.low, self.high, strict=True)):
            raise DataError(f"preprocessor state for mode 'quantile' needs {N_FEATURES} increasing knot lists, each "
                            "with low <= high levels in [0, 1] of the same length")
        return self

    def _checked(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != N_FEATURES:
            raise ValueError(f"expected an (N, {N_FEATURES}) feature matrix, got shape {x.shape}")
        return x


def _quantile_level(x: np.ndarray, knots: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The quantile level of each value: see `Preprocessor` (mode `quantile`)."""
    if len(knots) == 1:
        return np.full(len(x), 0.5)
    below = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    left, right = knots[below], knots[below + 1]
    between = high[below] + (x - left) / (right - left) * (low[below + 1] - high[below])
    levels = np.where(x == left, (low[below] + high[below]) / 2, between)
    return np.where(x <= knots[0], 0.0, np.where(x >= knots[-1], 1.0, levels))


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


# --------------------------------------------------------------------------------------------------- splits

@dataclass
class Split:
    """One preprocessed table: features (N, 42) float32, labels (N,) int64 or None, ids (N,) int64."""

    features: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray
    attack_cat: np.ndarray | None
    source: str


@dataclass
class UNSWData:
    """Train/valid/test (and optional hold-out) splits with the preprocessing fitted on the training rows."""

    train: Split
    valid: Split
    test: Split | None
    holdout: Split | None
    encoder: CategoryEncoder
    preprocessor: Preprocessor
    task: str
    class_names: list[str]


def holdout_split(frame_or_array: pd.DataFrame | np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Row indices (train, hold-out) with about `fraction` of the rows held out, chosen by `seed`.

    Identical rows (same features and label; `id` and `attack_cat` of a frame are ignored) are kept on the same side,
    so that the hold-out never contains a copy of a training row. Groups of rows are drawn in a random order until
    the hold-out is as close to `fraction` of the rows as the group sizes allow.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"hold-out fraction must be in [0, 1), not {fraction}")
    if isinstance(frame_or_array, pd.DataFrame):
        content = frame_or_array.drop(columns=[ID_COLUMN, ATTACK_CATEGORY_COLUMN], errors="ignore")
        groups = content.groupby(list(content.columns), sort=False, dropna=False).ngroup().to_numpy()
    else:
        rows = np.asarray(frame_or_array)
        rows = rows.reshape(len(rows), -1)
        groups = np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)
    n_rows = len(groups)
    if fraction == 0.0 or n_rows == 0:
        return np.arange(n_rows, dtype=np.int64), np.empty(0, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(groups.max() + 1)
    cumulative = np.cumsum(np.bincount(groups)[order])
    n_holdout_groups = int(np.argmin(np.abs(cumulative - fraction * n_rows))) + 1
    held = np.isin(groups, order[:n_holdout_groups])
    if held.all():
        raise DataError(f"a hold-out fraction of {fraction} leaves no training rows")
    return np.flatnonzero(~held).astype(np.int64), np.flatnonzero(held).astype(np.int64)


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


def _make_split(frame: pd.DataFrame, source: str | Path, encoder: CategoryEncoder, preprocessor: Preprocessor,
                labels: np.ndarray | None) -> Split:
    attack_cat = frame[ATTACK_CATEGORY_COLUMN].to_numpy(dtype=str) if ATTACK_CATEGORY_COLUMN in frame else None
    return Split(features=preprocessor.transform(feature_matrix(frame, encoder)), labels=labels,
                 ids=frame[ID_COLUMN].to_numpy(dtype=np.int64), attack_cat=attack_cat, source=str(source))


def _labels(frame: pd.DataFrame, task: str, class_names: Sequence[str], source: str | Path) -> np.ndarray:
    if task == "multiclass":
        return _class_indices(frame, class_names, str(source))
    return frame[LABEL_COLUMN].to_numpy(dtype=np.int64)


def load_unsw(data_dir: str | Path | None = None, *, preprocess: str = DEFAULT_PREPROCESS, task: str = "binary",
              holdout: float = 0.0, seed: int = 0, keep_codes: bool = False) -> UNSWData:
    """Load, validate and preprocess UNSW-NB15 (the coursework split when present, else the public one).

    The category encoder and the preprocessor are fitted on the training rows left after removing the hold-out, and
    applied unchanged to every split. For `task="multiclass"` the labels are indices into `class_names`, the sorted
    attack categories of the training file. `keep_codes=True` leaves proto/service/state as integer category codes
    (0 for a category unseen in training) for a model that embeds them.
    """
    if preprocess not in PREPROCESS_MODES:
        raise ValueError(f"preprocess must be one of {', '.join(PREPROCESS_MODES)}, not {preprocess!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    paths = dataset_files(find_data_dir(data_dir))
    train_frame = read_table(paths["train"], require_label=True)
    valid_frame = read_table(paths["valid"], require_label=True)
    test_frame = read_table(paths["test"], require_label=False) if paths["test"] is not None else None

    if task == "multiclass":
        _require_attack_categories(train_frame, paths["train"])
        _require_attack_categories(valid_frame, paths["valid"])
        class_names = sorted(set(train_frame[ATTACK_CATEGORY_COLUMN]))
    else:
        class_names = list(BINARY_CLASS_NAMES)

    train_rows, holdout_rows = holdout_split(train_frame, holdout, seed)
    fit_frame = train_frame.iloc[train_rows]
    encoder = CategoryEncoder().fit(fit_frame)
    preprocessor = Preprocessor(preprocess, keep_codes).fit(feature_matrix(fit_frame, encoder))
    train_labels = _labels(train_frame, task, class_names, paths["train"])

    def split_of(frame: pd.DataFrame, path: Path, labels: np.ndarray | None) -> Split:
        return _make_split(frame, path, encoder, preprocessor, labels)

    held = train_frame.iloc[holdout_rows]
    return UNSWData(
        train=split_of(fit_frame, paths["train"], train_labels[train_rows]),
        valid=split_of(valid_frame, paths["valid"], _labels(valid_frame, task, class_names, paths["valid"])),
        test=split_of(test_frame, paths["test"], None) if test_frame is not None else None,
        holdout=split_of(held, paths["train"], train_labels[holdout_rows]) if len(holdout_rows) else None,
        encoder=encoder, preprocessor=preprocessor, task=task, class_names=class_names)


def load_prediction_csv(path: str | Path, encoder: CategoryEncoder, preprocessor: Preprocessor, *,
                        class_names: Sequence[str] | None = None) -> Split:
    """Read a CSV to predict on, preprocessed with a trained model's encoder and preprocessor.

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
