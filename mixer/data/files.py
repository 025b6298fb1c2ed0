"""UNSW-NB15 files: find the folder that holds the CSVs and read each CSV with strict validation.

The first of the data layers (files -> preprocessing -> splits). Every problem with input data raises `DataError`
with a message naming the file and, where relevant, the column and the data row (1-based, counting rows after the
header) together with its line in the file, so that a user can fix the file without reading a traceback.

A CSV may be compressed as pandas reads one, by its suffix: `.gz`, `.bz2`, `.zip` (one file inside) or `.xz`; it is
decompressed first and then validated as any CSV, and the data folder may hold each file under its name with one of
these suffixes.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import math
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError

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

# The roles of the files: "train" (fits everything, and gives the holdout), "test" (labelled, reported only: testing1
# of the coursework) and "unlabelled" (rows to predict: testing2).
COURSEWORK_FILES: dict[str, str] = {
    "train": "UNSWNB15_training_coursework.csv",
    "test": "UNSWNB15_testing1_coursework.csv",
    "unlabelled": "UNSWNB15_testing2_coursework_no_label.csv",
}
PUBLIC_FILES: dict[str, str] = {
    "train": "UNSW_NB15_training-set.csv",
    "test": "UNSW_NB15_testing-set.csv",
}

# compressed CSVs, named as pandas infers their compression from the suffix (compression="infer")
COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}
UNSUPPORTED_COMPRESSIONS: dict[str, str] = {".tar": "tar", ".tar.gz": "tar", ".tar.bz2": "tar", ".tar.xz": "tar",
                                            ".tgz": "tar", ".zst": "zstd"}

DATA_DIR_ENV = "UNSW_NB15_DIR"
DEFAULT_DATA_DIRS: tuple[Path, ...] = (Path("data/unsw-nb15"), Path("../shared/data/unsw-nb15"))
REPO_ROOT = Path(__file__).resolve().parents[2]

_STRING_COLUMNS = frozenset(CATEGORICAL_COLUMNS) | {ATTACK_CATEGORY_COLUMN}
_KNOWN_COLUMNS = frozenset(FEATURE_COLUMNS) | {ID_COLUMN, LABEL_COLUMN, ATTACK_CATEGORY_COLUMN}


class DataError(UserError, ValueError):
    """A problem with the input data (missing file, malformed CSV, bad value), described for the user."""


# --------------------------------------------------------------------------------------------------- locating

def _find(directory: Path, name: str) -> Path | None:
    """The file `name` in `directory`, plain or compressed (`name` + a suffix of COMPRESSIONS); None if there is
    none, an error if there are several (which one is meant?)."""
    found = [directory / (name + suffix) for suffix in ("", *COMPRESSIONS) if (directory / (name + suffix)).is_file()]
    if len(found) > 1:
        raise DataError(f"{directory} holds {' and '.join(path.name for path in found)}: keep one of them (the same "
                        "rows, plain or compressed?)")
    return found[0] if found else None


def _holds_dataset(directory: Path) -> bool:
    return any(_find(directory, files["train"]) is not None for files in (COURSEWORK_FILES, PUBLIC_FILES))


def _expected_files_text() -> str:
    return (f"the coursework files ({', '.join(COURSEWORK_FILES.values())}) "
            f"or the public UNSW-NB15 files ({', '.join(PUBLIC_FILES.values())}), each plain or compressed "
            f"({', '.join(COMPRESSIONS)})")


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
    candidates = list(dict.fromkeys(Path(os.path.abspath(base / relative)) for base in (Path.cwd(), REPO_ROOT)
                                    for relative in DEFAULT_DATA_DIRS))  # once each (the cwd may be the repository)
    for candidate in candidates:
        if _holds_dataset(candidate):
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(f"no UNSW-NB15 data found (looked in {looked}). Put {_expected_files_text()} in data/unsw-nb15/, "
                    f"or set the {DATA_DIR_ENV} environment variable or pass --data-dir to the folder that holds them")


def dataset_files(directory: Path) -> dict[str, Path | None]:
    """Paths of the train / test / unlabelled files in `directory`: the coursework split if present, else the public
    one (which has no unlabelled file: None)."""
    names: Mapping[str, str]
    if _find(directory, COURSEWORK_FILES["train"]) is not None:
        names, kind = COURSEWORK_FILES, "coursework"
    else:
        names, kind = PUBLIC_FILES, "public UNSW-NB15"
    found = {split: _find(directory, name) for split, name in names.items()}
    paths: dict[str, Path | None] = {split: path or directory / names[split] for split, path in found.items()}
    missing = [names[split] for split, path in found.items() if path is None]
    if missing:
        raise DataError(f"{directory} holds the {kind} training file but not {', '.join(missing)}; "
                        f"the {kind} split needs all of {', '.join(names.values())}")
    paths.setdefault("unlabelled", None)
    return paths


# --------------------------------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class _Layout:
    """What the structural CSV pass learnt: the header and the file line on which each data row starts."""

    header: list[str]
    row_lines: list[int]


def compression_of(path: str | Path) -> str | None:
    """The compression pandas infers from the file name (gzip, bz2, zip, xz; tar and zstd, which are refused), or
    None for a plain file."""
    name = Path(path).name.lower()
    for table in (UNSUPPORTED_COMPRESSIONS, COMPRESSIONS):
        for suffix, kind in table.items():
            if name.endswith(suffix):
                return kind
    return None


def _decompressed(path: Path, kind: str) -> bytes:
    """The bytes of a compressed file (of a zip: its one file, as pandas reads it)."""
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) != 1:
                raise DataError(f"{path}: a zip archive must hold exactly one file (the CSV), as for pandas; it holds "
                                f"{len(names)}" + (f": {', '.join(names[:5])}" if names else ""))
            return archive.read(names[0])
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    with opener(path, "rb") as file:
        return file.read()


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    kind = compression_of(path)
    if kind in UNSUPPORTED_COMPRESSIONS.values():
        raise DataError(f"{path}: {kind} archives are not read here; decompress it, or compress the CSV as "
                        f"{', '.join(COMPRESSIONS)}")
    try:
        data = path.read_bytes() if kind is None else _decompressed(path, kind)
    except (PermissionError, IsADirectoryError) as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror})") from None
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error) as error:
        if kind is None:
            raise DataError(f"{path}: cannot read the file ({getattr(error, 'strerror', None) or error})") from None
        raise DataError(f"{path}: not a readable {kind} file ({error}); its name says {kind}-compressed (as pandas "
                        "reads it): is it damaged, or not compressed?") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        after = " after decompression" if kind else ""
        raise DataError(f"{path}: not UTF-8 text{after} (bad byte at offset {error.start}); is it a CSV file?"
                        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as a file opened as text


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
        # low_memory=False: one type per column for the whole file, so a bad cell far down gives our error below
        # instead of pandas' DtypeWarning about mixed chunks first
        raw = pd.read_csv(io.StringIO(text), header=0, names=layout.header, index_col=False, na_filter=False,
                          dtype={name: str for name in layout.header if name in _STRING_COLUMNS}, low_memory=False)
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

