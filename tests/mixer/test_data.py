"""Tests for mixer.data: locating, validating, encoding and preprocessing UNSW-NB15, fitted on train only.

Tests on the real coursework CSVs are skipped when they cannot be found; expected values are computed here
independently with pandas/numpy, never copied from the code under test.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from mixer import data
from mixer.data import (
    CATEGORICAL_COLUMNS,
    CATEGORICAL_POSITIONS,
    COURSEWORK_FILES,
    FEATURE_COLUMNS,
    PUBLIC_FILES,
    CategoryEncoder,
    DataError,
    Preprocessor,
    data_state,
    feature_matrix,
    find_data_dir,
    holdout_split,
    load_prediction_csv,
    load_unsw,
    preprocessing_from_state,
    read_table,
)

TRAIN_NAME = "UNSWNB15_training_coursework.csv"
TEST_NAME = "UNSWNB15_testing1_coursework.csv"
UNLABELLED_NAME = "UNSWNB15_testing2_coursework_no_label.csv"


def _locate_coursework() -> Path | None:
    try:
        directory = find_data_dir()
    except DataError:
        return None
    return directory if (directory / TRAIN_NAME).is_file() else None


COURSEWORK_DIR = _locate_coursework()
requires_data = pytest.mark.skipif(
    COURSEWORK_DIR is None,
    reason="UNSW-NB15 coursework CSVs not found (looked via find_data_dir: $UNSW_NB15_DIR, data/unsw-nb15, "
           "../shared/data/unsw-nb15, also relative to the repository root)")


@pytest.fixture(scope="module")
def coursework() -> data.UNSWData:
    return load_unsw(COURSEWORK_DIR, preprocess="log-standard")


@pytest.fixture(scope="module")
def coursework_quantile() -> data.UNSWData:
    return load_unsw(COURSEWORK_DIR, preprocess="quantile", keep_codes=True)


@pytest.fixture(scope="module")
def coursework_seed() -> data.UNSWData:
    return load_unsw(COURSEWORK_DIR, preprocess="seed")


@pytest.fixture(scope="module")
def pandas_train() -> pd.DataFrame:
    return pd.read_csv(COURSEWORK_DIR / TRAIN_NAME)


@pytest.fixture(scope="module")
def pandas_test() -> pd.DataFrame:
    return pd.read_csv(COURSEWORK_DIR / TEST_NAME)


def _independent_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The 42 features with each category replaced by 1 + its rank among the sorted distinct values."""
    features = frame.drop(columns=["id", "label"]).copy()
    for column in ("proto", "service", "state"):
        features[column] = pd.factorize(features[column], sort=True)[0] + 1
    return features.astype(float)


# --------------------------------------------------------------------------------------------------- real data

@requires_data
def test_coursework_shapes_and_dtypes(coursework: data.UNSWData) -> None:
    assert coursework.train.features.shape == (20_000, 42)
    assert coursework.test.features.shape == (4_000, 42)
    assert coursework.unlabelled is not None and coursework.unlabelled.features.shape == (25, 42)
    assert coursework.holdout is None
    assert coursework.train.features.dtype == np.float32 and coursework.train.labels.dtype == np.int64
    assert coursework.unlabelled.labels is None and coursework.train.attack_cat is None
    assert coursework.class_names == ["normal", "attack"] and coursework.task == "binary"
    assert Path(coursework.test.source).name == TEST_NAME


@requires_data
def test_label_balance_matches_pandas_count(coursework: data.UNSWData, pandas_train: pd.DataFrame,
                                            pandas_test: pd.DataFrame) -> None:
    for split, frame in ((coursework.train, pandas_train), (coursework.test, pandas_test)):
        counts = frame["label"].value_counts()
        assert np.bincount(split.labels).tolist() == [counts[0], counts[1]]
        np.testing.assert_array_equal(split.ids, frame["id"].to_numpy())


@requires_data
def test_unseen_state_rst_gets_unknown_code_zero(coursework: data.UNSWData, pandas_train: pd.DataFrame,
                                                 pandas_test: pd.DataFrame) -> None:
    assert "RST" not in set(pandas_train["state"])
    is_rst = (pandas_test["state"] == "RST").to_numpy()
    assert is_rst.any()
    codes = coursework.encoder.transform(read_table(COURSEWORK_DIR / TEST_NAME, require_label=True))
    state = list(CATEGORICAL_COLUMNS).index("state")
    assert (codes[is_rst, state] == 0).all()
    assert (codes[~is_rst, state] >= 1).all()
    assert (coursework.encoder.transform(read_table(COURSEWORK_DIR / TRAIN_NAME, require_label=True)) >= 1).all()


@requires_data
def test_encoder_and_log_standard_statistics_match_independent_pandas_computation(
        coursework: data.UNSWData, pandas_train: pd.DataFrame) -> None:
    for column in ("proto", "service", "state"):
        assert coursework.encoder.to_dict()["categories"][column] == sorted(pandas_train[column].unique())
    matrix = _independent_matrix(pandas_train)
    logged = np.sign(matrix) * np.log1p(matrix.abs())
    state = coursework.preprocessor.to_dict()
    np.testing.assert_allclose(state["mean"], logged.mean().to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(state["std"], logged.std(ddof=0).to_numpy(), rtol=1e-9)


@requires_data
def test_log_standard_train_columns_have_mean_zero_and_std_one(coursework: data.UNSWData) -> None:
    features = coursework.train.features.astype(np.float64)
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(features.std(axis=0), 1.0, atol=1e-3)


@requires_data
@pytest.mark.parametrize("preprocess", ["log-standard", "quantile"])
def test_preprocessing_is_fitted_on_train_only(preprocess: str, coursework: data.UNSWData,
                                               coursework_quantile: data.UNSWData, pandas_test: pd.DataFrame,
                                               tmp_path: Path) -> None:
    loaded = coursework if preprocess == "log-standard" else coursework_quantile
    (tmp_path / TRAIN_NAME).symlink_to(COURSEWORK_DIR / TRAIN_NAME)
    (tmp_path / UNLABELLED_NAME).symlink_to(COURSEWORK_DIR / UNLABELLED_NAME)
    changed = pandas_test.copy()
    numeric = [c for c in FEATURE_COLUMNS if c not in ("proto", "service", "state")]
    changed[numeric] = changed[numeric] * 1000 + 7
    changed.loc[:10, "proto"] = "never-seen-proto"
    changed.to_csv(tmp_path / TEST_NAME, index=False)

    altered = load_unsw(tmp_path, preprocess=preprocess, keep_codes=loaded.preprocessor.keep_codes)
    assert altered.encoder.to_dict() == loaded.encoder.to_dict()
    assert altered.preprocessor.to_dict() == loaded.preprocessor.to_dict()
    np.testing.assert_array_equal(altered.train.features, loaded.train.features)
    assert not np.array_equal(altered.test.features, loaded.test.features)


@requires_data
def test_seed_mode_uses_one_global_scale_and_crushes_many_columns(coursework_seed: data.UNSWData,
                                                                  pandas_train: pd.DataFrame) -> None:
    matrix = _independent_matrix(pandas_train)
    global_max = matrix.abs().to_numpy().max()
    numeric = [c for c in matrix.columns if c not in ("proto", "service", "state")]
    assert len(numeric) == 39
    crushed = [c for c in numeric if matrix[c].abs().max() / global_max < 1e-6]
    assert len(crushed) >= 20

    scaled = matrix.to_numpy() / global_max
    state = coursework_seed.preprocessor.to_dict()
    assert state["scale"] == global_max
    np.testing.assert_allclose([state["mean"], state["std"]], [scaled.mean(), scaled.std()], rtol=1e-9)

    features = coursework_seed.train.features.astype(np.float64)
    assert abs(features.mean()) < 1e-3 and abs(features.std() - 1.0) < 1e-3
    positions = [list(matrix.columns).index(c) for c in crushed]
    assert (features[:, positions].std(axis=0) < 1e-4).all()


@requires_data
def test_holdout_split_is_disjoint_sized_grouped_and_reproducible(pandas_train: pd.DataFrame) -> None:
    keys = pd.Series(list(pandas_train.drop(columns=["id"]).itertuples(index=False, name=None)))
    group_sizes = keys.value_counts()
    assert group_sizes.max() > 1, "the training file is expected to contain duplicate rows"

    train_rows, held_rows = holdout_split(pandas_train, 0.25, seed=3)
    assert np.intersect1d(train_rows, held_rows).size == 0
    assert np.array_equal(np.sort(np.concatenate([train_rows, held_rows])), np.arange(len(pandas_train)))
    assert abs(len(held_rows) - 0.25 * len(pandas_train)) <= group_sizes.max()
    assert set(keys.iloc[train_rows]).isdisjoint(set(keys.iloc[held_rows]))

    again_train, again_held = holdout_split(pandas_train, 0.25, seed=3)
    np.testing.assert_array_equal(again_held, held_rows)
    np.testing.assert_array_equal(again_train, train_rows)
    assert not np.array_equal(holdout_split(pandas_train, 0.25, seed=4)[1], held_rows)


@requires_data
def test_load_unsw_holdout_fits_preprocessing_on_remaining_rows(coursework: data.UNSWData) -> None:
    with_holdout = load_unsw(COURSEWORK_DIR, preprocess="log-standard", holdout=0.2, seed=5)
    assert with_holdout.holdout is not None
    assert len(with_holdout.train.ids) + len(with_holdout.holdout.ids) == 20_000
    assert np.intersect1d(with_holdout.train.ids, with_holdout.holdout.ids).size == 0

    frame = read_table(COURSEWORK_DIR / TRAIN_NAME, require_label=True)
    kept = frame[~frame["id"].isin(with_holdout.holdout.ids)]
    encoder = CategoryEncoder().fit(kept)
    expected = Preprocessor("log-standard").fit(feature_matrix(kept, encoder))
    assert with_holdout.preprocessor.to_dict() == expected.to_dict()
    assert with_holdout.preprocessor.to_dict() != coursework.preprocessor.to_dict()
    labels_by_id = dict(zip(frame["id"], frame["label"], strict=True))
    assert [labels_by_id[i] for i in with_holdout.holdout.ids] == with_holdout.holdout.labels.tolist()


@requires_data
@pytest.mark.parametrize("preprocess", ["log-standard", "seed", "quantile"])
def test_state_round_trip_through_json_reproduces_transform_bitwise(preprocess: str,
                                                                    coursework: data.UNSWData,
                                                                    coursework_seed: data.UNSWData,
                                                                    coursework_quantile: data.UNSWData) -> None:
    loaded = {"log-standard": coursework, "seed": coursework_seed, "quantile": coursework_quantile}[preprocess]
    state = json.loads(json.dumps(data_state(loaded)))
    encoder, preprocessor = preprocessing_from_state(state)
    assert preprocessor.to_dict() == loaded.preprocessor.to_dict()
    split = load_prediction_csv(loaded.test.source, encoder, preprocessor)
    assert split.features.tobytes() == loaded.test.features.tobytes()
    np.testing.assert_array_equal(split.labels, loaded.test.labels)


@requires_data
def test_load_prediction_csv_on_unlabelled_testing2(coursework: data.UNSWData) -> None:
    split = load_prediction_csv(COURSEWORK_DIR / UNLABELLED_NAME, coursework.encoder, coursework.preprocessor)
    assert split.features.shape == (25, 42) and split.labels is None
    np.testing.assert_array_equal(split.ids, pd.read_csv(COURSEWORK_DIR / UNLABELLED_NAME)["id"].to_numpy())
    assert split.features.tobytes() == coursework.unlabelled.features.tobytes()


@requires_data
def test_multiclass_without_attack_cat_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="attack_cat") as caught:
        load_unsw(COURSEWORK_DIR, task="multiclass")
    assert TRAIN_NAME in str(caught.value)


# --------------------------------------------------------------------------------------------------- malformed files

def _base_lines() -> list[list[str]]:
    if COURSEWORK_DIR is None:
        pytest.skip("UNSW-NB15 coursework CSVs not found; malformed files are built from its first rows")
    with open(COURSEWORK_DIR / TRAIN_NAME) as handle:
        return [next(handle).rstrip("\n").split(",") for _ in range(51)]


def _set(row: int, column: str, value: str) -> Callable[[list[list[str]]], None]:
    def mutate(lines: list[list[str]]) -> None:
        lines[row][lines[0].index(column)] = value
    return mutate


def _drop_column(column: str) -> Callable[[list[list[str]]], None]:
    def mutate(lines: list[list[str]]) -> None:
        position = lines[0].index(column)
        for line in lines:
            del line[position]
    return mutate


def _add_column(name: str) -> Callable[[list[list[str]]], None]:
    def mutate(lines: list[list[str]]) -> None:
        for number, line in enumerate(lines):
            line.insert(5, name if number == 0 else "1")
    return mutate


def _truncate(row: int, keep: int) -> Callable[[list[list[str]]], None]:
    def mutate(lines: list[list[str]]) -> None:
        lines[row] = lines[row][:keep - 1] + [lines[row][keep - 1][:1]]
    return mutate


def _append_field(row: int) -> Callable[[list[list[str]]], None]:
    def mutate(lines: list[list[str]]) -> None:
        lines[row].append("7")
    return mutate


MALFORMED = {
    "missing_column": (_drop_column("sload"), ["sload", "missing"]),
    "extra_column": (_add_column("packets_total"), ["packets_total", "unknown"]),
    "non_numeric": (_set(7, "sbytes", "12kB"), ["'sbytes'", "data row 7", "line 8", "12kB"]),
    "nan_value": (_set(12, "dload", "NaN"), ["'dload'", "data row 12", "line 13", "NaN"]),
    "empty_cell": (_set(3, "rate", ""), ["'rate'", "data row 3", "line 4", "empty"]),
    "infinite_value": (_set(20, "dur", "-inf"), ["'dur'", "data row 20", "line 21", "infinite"]),
    "label_two": (_set(30, "label", "2"), ["'label'", "data row 30", "line 31", "'2'"]),
    "blank_category": (_set(9, "service", "  "), ["'service'", "data row 9", "line 10"]),
    "fractional_id": (_set(2, "id", "2.5"), ["'id'", "data row 2", "line 3"]),
    "truncated_last_line": (_truncate(50, 20), ["data row 50", "line 51", "'swin'", "20 fields"]),
    "ragged_extra_field": (_append_field(5), ["data row 5", "line 6", "'label'", "45 fields"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_raises_data_error_naming_file_column_and_row(case: str, tmp_path: Path) -> None:
    mutate, fragments = MALFORMED[case]
    lines = _base_lines()
    mutate(lines)
    path = tmp_path / f"{case}.csv"
    path.write_text("\n".join(",".join(line) for line in lines) + "\n")
    with pytest.raises(DataError) as caught:
        read_table(path, require_label=True)
    message = str(caught.value)
    for fragment in [path.name, *fragments]:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_empty_and_header_only_files_are_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty_file.csv"
    empty.write_text("")
    header_only = tmp_path / "header_only.csv"
    header_only.write_text(",".join(["id", *FEATURE_COLUMNS, "label"]) + "\n\n")
    with pytest.raises(DataError, match="empty") as caught:
        read_table(empty, require_label=True)
    assert "empty_file.csv" in str(caught.value)
    with pytest.raises(DataError, match="no data rows") as caught:
        read_table(header_only, require_label=True)
    assert "header_only.csv" in str(caught.value)
    with pytest.raises(DataError, match="not found"):
        read_table(tmp_path / "absent.csv", require_label=False)


def test_missing_label_is_an_error_only_when_required(tmp_path: Path) -> None:
    lines = _base_lines()
    _drop_column("label")(lines)
    path = tmp_path / "no_label.csv"
    path.write_text("\n".join(",".join(line) for line in lines) + "\n")
    assert "label" not in read_table(path, require_label=False).columns
    with pytest.raises(DataError, match="'label'"):
        read_table(path, require_label=True)


def test_row_and_line_numbers_differ_after_blank_lines(tmp_path: Path) -> None:
    lines = _base_lines()
    _set(7, "sbytes", "x")(lines)
    text = [",".join(line) for line in lines]
    path = tmp_path / "blank_lines.csv"
    path.write_text("\n".join(text[:3] + ["", ""] + text[3:]) + "\n")
    with pytest.raises(DataError, match=r"data row 7 \(line 10 of the file\)"):
        read_table(path, require_label=True)


def test_category_whitespace_is_stripped(tmp_path: Path) -> None:
    lines = _base_lines()
    original = lines[4][lines[0].index("proto")]
    _set(4, "proto", f"  {original} ")(lines)
    path = tmp_path / "padded.csv"
    path.write_text("\n".join(",".join(line) for line in lines) + "\n")
    assert read_table(path, require_label=True)["proto"].iloc[3] == original


# --------------------------------------------------------------------------------------------------- public format

PUBLIC_CATEGORIES = [" Generic", "Exploits ", " Fuzzers ", "DoS", "Reconnaissance"]


def _write_public_copy(source: Path, target: Path, rows: int, attack_names: list[str]) -> list[str]:
    """Copy the first `rows` rows of a coursework CSV with an attack_cat column before label; returns the names."""
    frame = pd.read_csv(source, nrows=rows, dtype=str)
    names = [" Normal " if label == "0" else attack_names[i % len(attack_names)]
             for i, label in enumerate(frame["label"])]
    frame.insert(len(frame.columns) - 1, "attack_cat", names)
    frame.to_csv(target, index=False)
    return names


@requires_data
def test_public_format_with_attack_cat_loads_for_both_tasks(tmp_path: Path) -> None:
    train_names = _write_public_copy(COURSEWORK_DIR / TRAIN_NAME, tmp_path / "UNSW_NB15_training-set.csv", 300,
                                     PUBLIC_CATEGORIES)
    test_names = _write_public_copy(COURSEWORK_DIR / TEST_NAME, tmp_path / "UNSW_NB15_testing-set.csv", 100,
                                    PUBLIC_CATEGORIES[:3])
    assert find_data_dir(tmp_path) == tmp_path.resolve()

    binary = load_unsw(tmp_path)
    assert binary.unlabelled is None and binary.class_names == ["normal", "attack"]
    assert binary.test.labels.tolist() == [int(name.strip() != "Normal") for name in test_names]

    multiclass = load_unsw(tmp_path, task="multiclass")
    expected_names = sorted({name.strip() for name in train_names})
    assert multiclass.class_names == expected_names
    assert multiclass.train.labels.tolist() == [expected_names.index(n.strip()) for n in train_names]
    assert multiclass.test.labels.tolist() == [expected_names.index(n.strip()) for n in test_names]
    assert multiclass.test.attack_cat.tolist() == [n.strip() for n in test_names]
    assert multiclass.train.features.shape == (300, 42)


@requires_data
def test_multiclass_category_unseen_in_train_is_an_error(tmp_path: Path) -> None:
    _write_public_copy(COURSEWORK_DIR / TRAIN_NAME, tmp_path / "UNSW_NB15_training-set.csv", 200, ["Generic"])
    _write_public_copy(COURSEWORK_DIR / TEST_NAME, tmp_path / "UNSW_NB15_testing-set.csv", 50, ["Worms"])
    with pytest.raises(DataError, match="'Worms'") as caught:
        load_unsw(tmp_path, task="multiclass")
    assert "UNSW_NB15_testing-set.csv" in str(caught.value) and "data row" in str(caught.value)


# --------------------------------------------------------------------------------------------------- locating

def _make_data_dir(directory: Path, file_name: str = TRAIN_NAME) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / file_name).write_text("")
    return directory


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory under tmp_path, with no env var and a repository root that holds no data."""
    monkeypatch.delenv("UNSW_NB15_DIR", raising=False)
    monkeypatch.setattr(data.files, "REPO_ROOT", tmp_path / "repo")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_find_data_dir_prefers_argument_then_env_then_local_then_shared(isolated: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    shared = _make_data_dir(tmp_path / "shared" / "data" / "unsw-nb15")
    local = _make_data_dir(isolated / "data" / "unsw-nb15", "UNSW_NB15_training-set.csv")
    from_env = _make_data_dir(tmp_path / "from_env")
    explicit = _make_data_dir(tmp_path / "explicit")
    monkeypatch.setenv("UNSW_NB15_DIR", str(from_env))

    assert find_data_dir(explicit) == explicit.resolve()
    assert find_data_dir(str(explicit)) == explicit.resolve()
    assert find_data_dir() == from_env.resolve()
    monkeypatch.delenv("UNSW_NB15_DIR")
    assert find_data_dir() == local.resolve()
    (local / "UNSW_NB15_training-set.csv").unlink()
    assert find_data_dir() == shared.resolve()


def test_find_data_dir_falls_back_to_the_repository_root(isolated: Path, tmp_path: Path) -> None:
    in_repo = _make_data_dir(tmp_path / "repo" / "data" / "unsw-nb15")
    assert find_data_dir() == in_repo.resolve()
    in_repo_shared = _make_data_dir(tmp_path / "shared" / "data" / "unsw-nb15")
    (in_repo / TRAIN_NAME).unlink()
    assert find_data_dir() == in_repo_shared.resolve()


def test_explicit_or_env_dir_without_data_does_not_fall_through(isolated: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _make_data_dir(isolated / "data" / "unsw-nb15")
    with pytest.raises(DataError, match="does not exist"):
        find_data_dir(tmp_path / "typo")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("UNSW_NB15_DIR", str(empty))
    with pytest.raises(DataError, match="UNSW_NB15_DIR") as caught:
        find_data_dir()
    assert TRAIN_NAME in str(caught.value)


def test_missing_data_dir_message_names_files_env_var_and_flag(isolated: Path) -> None:
    with pytest.raises(DataError) as caught:
        find_data_dir()
    message = str(caught.value)
    for expected in [TRAIN_NAME, TEST_NAME, UNLABELLED_NAME, "UNSW_NB15_training-set.csv", "UNSW_NB15_testing-set.csv",
                     "UNSW_NB15_DIR", "--data-dir", "data/unsw-nb15"]:
        assert expected in message


def test_coursework_dir_missing_a_file_is_an_error(tmp_path: Path) -> None:
    _make_data_dir(tmp_path)
    (tmp_path / UNLABELLED_NAME).write_text("")
    with pytest.raises(DataError, match=TEST_NAME):
        load_unsw(tmp_path)


def test_file_name_constants_match_the_dataset() -> None:
    assert COURSEWORK_FILES == {"train": TRAIN_NAME, "test": TEST_NAME, "unlabelled": UNLABELLED_NAME}
    assert PUBLIC_FILES == {"train": "UNSW_NB15_training-set.csv", "test": "UNSW_NB15_testing-set.csv"}
    assert len(FEATURE_COLUMNS) == 42 and FEATURE_COLUMNS[1:4] == CATEGORICAL_COLUMNS


# --------------------------------------------------------------------------------------------------- units

def _category_frame(proto: list[str], service: list[str], state: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"proto": proto, "service": service, "state": state})


def test_category_encoder_sorted_codes_with_unknown_zero() -> None:
    encoder = CategoryEncoder().fit(_category_frame(["udp", "tcp", "arp", "tcp"], ["-", "http", "-", "dns"],
                                                    ["INT", "FIN", "CON", "FIN"]))
    codes = encoder.transform(_category_frame(["arp", "tcp", "udp", "icmp"], ["dns", "-", "http", "ftp"],
                                              ["RST", "CON", "FIN", "INT"]))
    np.testing.assert_array_equal(codes, [[1, 2, 0], [2, 1, 1], [3, 3, 2], [0, 0, 3]])
    restored = CategoryEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert restored.to_dict() == encoder.to_dict()


def _heavy_tailed(rows: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((rows, 42)) * np.logspace(-3, 9, 42)
    x[:, 7] = 4.0
    return x


def test_log_standard_formula_and_constant_column() -> None:
    x = _heavy_tailed(64)
    preprocessor = Preprocessor("log-standard").fit(x)
    logged = np.sign(x) * np.log1p(np.abs(x))
    std = logged.std(axis=0)
    std[7] = 1.0
    expected = (logged - logged.mean(axis=0)) / std
    np.testing.assert_allclose(preprocessor.transform(x), expected, rtol=1e-5, atol=1e-5)
    assert np.abs(preprocessor.transform(x)[:, 7]).max() < 1e-6


def test_seed_formula_uses_single_global_statistics() -> None:
    x = _heavy_tailed(64)
    preprocessor = Preprocessor("seed").fit(x)
    scaled = x / np.abs(x).max()
    expected = (scaled - scaled.mean()) / scaled.std()
    np.testing.assert_allclose(preprocessor.transform(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["seed", "log-standard", "quantile", "robust"])
@pytest.mark.parametrize("keep_codes", [False, True])
def test_preprocessor_state_round_trip_is_bitwise_exact(mode: str, keep_codes: bool) -> None:
    x = _heavy_tailed(32)
    preprocessor = Preprocessor(mode, keep_codes).fit(x)
    restored = Preprocessor.from_dict(json.loads(json.dumps(preprocessor.to_dict())))
    fresh = _heavy_tailed(33) * 1.7
    assert restored.transform(fresh).tobytes() == preprocessor.transform(fresh).tobytes()


def _quantile_data(rows: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = _heavy_tailed(rows)
    x[:, 5] = rng.integers(0, 4, rows)  # heavy ties
    x[:, 10] = np.where(rng.random(rows) < 0.6, 0.0, np.abs(x[:, 10]))  # mostly 0, like many UNSW-NB15 columns
    return x


def test_quantile_formula_on_the_training_rows() -> None:
    """With at most QUANTILE_KNOTS rows every training value is a knot: its level is its mean 0-based rank over
    (rows - 1), the minimum's 0 and the maximum's 1, then the clipped normal quantile."""
    x = _quantile_data(300)
    level = (stats.rankdata(x, method="average", axis=0) - 1) / (len(x) - 1)
    level = np.where(x == x.min(axis=0), 0.0, np.where(x == x.max(axis=0), 1.0, level))
    expected = special.ndtri(np.clip(level, 1e-7, 1 - 1e-7))
    expected[:, 7] = 0.0  # a constant column maps to 0
    np.testing.assert_allclose(Preprocessor("quantile").fit(x).transform(x), expected, rtol=1e-6, atol=1e-6)
    assert expected[x[:, 10] == 0, 10].max() < -5.1  # the many 0s stand apart at the clipped minimum


def test_quantile_matches_scikit_learns_quantile_transformer() -> None:
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    x = _quantile_data(5000)  # more rows than QUANTILE_KNOTS: interpolation between knots
    probe = np.concatenate([x[:300], _heavy_tailed(300) * 3.0, x[:50] * (1 + 1e-7)])
    reference = preprocessing.QuantileTransformer(output_distribution="normal", n_quantiles=data.QUANTILE_KNOTS,
                                                  subsample=None).fit(x).transform(probe)
    ours = Preprocessor("quantile").fit(x).transform(probe)
    varying = np.ptp(x, axis=0) > 0  # scikit-learn sends a constant column to -5.2, we send it to 0
    np.testing.assert_allclose(ours[:, varying], reference[:, varying], rtol=0, atol=1e-6)


def test_quantile_is_monotone_and_clamped_outside_the_training_range() -> None:
    x = _quantile_data(5000)
    preprocessor = Preprocessor("quantile").fit(x)
    assert max(len(k) for k in preprocessor.knots) <= data.QUANTILE_KNOTS
    probe = np.sort(np.random.default_rng(4).standard_normal((400, 42)) * np.logspace(-3, 9, 42) * 3, axis=0)
    z = preprocessor.transform(probe)
    assert np.isfinite(z).all() and (np.diff(z, axis=0) >= 0).all()
    assert np.abs(z).max() <= special.ndtri(1 - 1e-7) + 1e-6


def _robust_reference(fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    """RealMLP's robust scaling and smooth clipping, column by column with pandas' quantiles (linear interpolation),
    written from the paper's case analysis."""
    frame, out = pd.DataFrame(fit), np.empty_like(x)
    for j in range(fit.shape[1]):
        column = frame[j]
        q25, median, q75 = column.quantile([0.25, 0.5, 0.75])
        if q75 != q25:
            factor = 1 / (q75 - q25)
        elif column.max() != column.min():
            factor = 2 / (column.max() - column.min())
        else:
            factor = 0.0
        z = factor * (x[:, j] - median)
        out[:, j] = z / np.sqrt(1 + (z / 3) ** 2)
    return out


def test_robust_matches_realmlps_formula_with_its_fallbacks() -> None:
    x = _quantile_data(301)
    x[:, 12] = np.where(np.random.default_rng(6).random(301) < 0.8, 0.0, x[:, 12])  # IQR 0, range not
    quartiles = np.percentile(x, [25, 75], axis=0)
    assert quartiles[0, 12] == quartiles[1, 12] and np.ptp(x[:, 12]) > 0 and np.ptp(x[:, 7]) == 0
    probe = np.concatenate([x, _heavy_tailed(100) * 5.0])
    preprocessor = Preprocessor("robust").fit(x)
    np.testing.assert_allclose(preprocessor.transform(probe), _robust_reference(x, probe), rtol=1e-6, atol=1e-6)
    assert preprocessor.transform(probe)[:, 7].tolist() == [0.0] * len(probe)  # constant in training: always 0
    assert data.collapsed_columns(x, preprocessor.transform(x)) == []  # the IQR-0 column keeps its variation


def test_robust_by_hand() -> None:
    """Column 0: 1..10 (median 5.5, quartiles 3.25 and 7.75: IQR 4.5); column 1: nine 0s and a 10 (IQR 0: the factor
    is 2 / (max - min) = 0.2); column 2: constant."""
    x = np.zeros((10, 42))
    x[:, 0] = np.arange(1, 11)
    x[9, 1] = 10.0
    x[:, 2] = 5.0
    preprocessor = Preprocessor("robust").fit(x)
    probe = np.zeros((3, 42))
    probe[:, 0] = [10.0, 5.5, 1.0]       # z = 1, 0, -1
    probe[:, 1] = [10.0, 0.0, -5.0]      # z = 2, 0, -1
    probe[:, 2] = [100.0, 5.0, -3.0]     # always 0
    out = preprocessor.transform(probe)
    f1, f2 = 3 / np.sqrt(10), 6 / np.sqrt(13)  # f(1) = 1 / sqrt(1 + 1/9), f(2) = 2 / sqrt(1 + 4/9)
    np.testing.assert_allclose(out[:, 0], [f1, 0, -f1], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [f2, 0, -f1], rtol=1e-6)
    assert out[:, 2].tolist() == [0.0, 0.0, 0.0]


def test_robust_keeps_heavy_tails_finite_bounded_and_ordered() -> None:
    x = _heavy_tailed(500)
    preprocessor = Preprocessor("robust").fit(x)
    probe = np.sort(np.concatenate([_heavy_tailed(400) * 1e6, [np.full(42, 1e300), np.full(42, -1e300)]]), axis=0)
    out = preprocessor.transform(probe)
    z = (probe - preprocessor.median) * preprocessor.factor  # before the smooth clipping
    assert np.isfinite(out).all() and np.abs(out).max() <= 3.0
    assert (np.abs(out) <= np.abs(z) * (1 + 1e-6) + 1e-12).all()
    assert (np.diff(out, axis=0) >= 0).all()  # monotone: the order of the rows within a column is kept
    np.testing.assert_allclose(out[-1, np.ptp(x, axis=0) > 0], 3.0)  # the huge values sit at the bound


@pytest.mark.parametrize("change", [
    lambda state: state.pop("median"),
    lambda state: state["factor"].pop(),
    lambda state: state["factor"].__setitem__(0, -1.0),
    lambda state: state["median"].__setitem__(3, float("nan")),
    lambda state: state.__setitem__("factor", "wide"),
])
def test_malformed_robust_state_is_rejected(change: Callable[[dict], object]) -> None:
    state = json.loads(json.dumps(Preprocessor("robust").fit(_heavy_tailed(32)).to_dict()))
    change(state)
    with pytest.raises(DataError, match="preprocessor state"):
        Preprocessor.from_dict(state)


def test_keep_codes_passes_category_codes_through_every_mode() -> None:
    x = _heavy_tailed(50)
    codes = np.random.default_rng(5).integers(0, 9, (50, 3)).astype(np.float64)
    x[:, list(CATEGORICAL_POSITIONS)] = codes
    for mode in data.PREPROCESS_MODES:
        scaled = Preprocessor(mode, keep_codes=True).fit(x).transform(x)
        np.testing.assert_array_equal(scaled[:, list(CATEGORICAL_POSITIONS)], codes)
        assert not np.array_equal(Preprocessor(mode).fit(x).transform(x)[:, list(CATEGORICAL_POSITIONS)], codes)


@requires_data
def test_coursework_quantile_keeps_codes_with_unknown_zero(coursework_quantile: data.UNSWData,
                                                           pandas_test: pd.DataFrame) -> None:
    codes = coursework_quantile.test.features[:, list(CATEGORICAL_POSITIONS)]
    expected = coursework_quantile.encoder.transform(read_table(COURSEWORK_DIR / TEST_NAME, require_label=True))
    np.testing.assert_array_equal(codes, expected)
    assert (codes[(pandas_test["state"] == "RST").to_numpy(), 2] == 0).all()
    numeric = np.delete(coursework_quantile.train.features, list(CATEGORICAL_POSITIONS), axis=1)
    assert np.isfinite(numeric).all() and np.abs(numeric).max() < 5.2
    np.testing.assert_allclose(numeric.min(axis=0), special.ndtri(1e-7), rtol=1e-6)  # no constant column here


@requires_data
def test_coursework_robust_is_bounded_and_collapses_nothing(coursework: data.UNSWData) -> None:
    robust = load_unsw(COURSEWORK_DIR, preprocess="robust", keep_codes=True)
    assert robust.warnings == []  # the collapsed-column check ran and found nothing
    numeric = np.delete(robust.train.features, list(CATEGORICAL_POSITIONS), axis=1)
    assert np.isfinite(numeric).all() and np.abs(numeric).max() <= 3.0
    assert (numeric.std(axis=0) > 0).all()
    np.testing.assert_array_equal(robust.test.features[:, list(CATEGORICAL_POSITIONS)],
                                  coursework.encoder.transform(read_table(COURSEWORK_DIR / TEST_NAME, True)))


@pytest.mark.parametrize("change", [
    lambda state: state.pop("knots"),
    lambda state: state["knots"].pop(),
    lambda state: state["knots"][0].reverse(),
    lambda state: state["high"][0].__setitem__(0, 1.5),
    lambda state: state["low"][3].pop(),
    lambda state: state.__setitem__("keep_codes", "yes"),
])
def test_malformed_quantile_state_is_rejected(change: Callable[[dict], object]) -> None:
    x = _heavy_tailed(32)
    x[:, 0] = np.arange(32)
    state = json.loads(json.dumps(Preprocessor("quantile").fit(x).to_dict()))
    change(state)
    with pytest.raises(DataError, match="preprocessor state"):
        Preprocessor.from_dict(state)


def test_preprocessing_state_with_wrong_version_is_rejected() -> None:
    with pytest.raises(DataError, match="version"):
        preprocessing_from_state({"version": 99})


def test_holdout_split_on_arrays_keeps_copies_together() -> None:
    rows = np.repeat(np.arange(40, dtype=float).reshape(20, 2), [5] + [1] * 19, axis=0)
    for seed in range(5):
        train_rows, held_rows = holdout_split(rows, 0.3, seed)
        copies = np.flatnonzero((rows == rows[0]).all(axis=1))
        assert set(copies) <= set(train_rows) or set(copies) <= set(held_rows)
        assert len(train_rows) + len(held_rows) == len(rows)
        assert abs(len(held_rows) - 0.3 * len(rows)) <= 5
    assert holdout_split(rows, 0.0, 0)[1].size == 0
    with pytest.raises(ValueError, match="fraction"):
        holdout_split(rows, 1.0, 0)


# --------------------------------------------------------------------------------------------------- what users see

def test_a_bad_cell_far_down_a_large_file_gives_our_error_and_no_pandas_warning(tmp_path: Path) -> None:
    """pandas reads large files in chunks and warns (DtypeWarning) when a column's chunks disagree in type; the
    error naming the cell must come alone."""
    lines = _base_lines()
    rows = [lines[1 + i % 50][:] for i in range(30_000)]
    for i, row in enumerate(rows):
        row[0] = str(i + 1)
    rows[28_000][lines[0].index("sbytes")] = "12kB"
    path = tmp_path / "large.csv"
    path.write_text("\n".join(",".join(line) for line in [lines[0], *rows]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(DataError, match=r"'sbytes', data row 28001 .*'12kB'"):
            read_table(path, require_label=True)


@requires_data
def test_a_seed_fit_that_collapses_the_columns_is_an_error_naming_the_value(tmp_path: Path) -> None:
    _write_public_copy(COURSEWORK_DIR / TRAIN_NAME, tmp_path / "UNSW_NB15_training-set.csv", 300, ["Generic"])
    _write_public_copy(COURSEWORK_DIR / TEST_NAME, tmp_path / "UNSW_NB15_testing-set.csv", 50, ["Generic"])
    assert load_unsw(tmp_path, preprocess="seed").train.features.std(axis=0).max() > 0.1  # the plain file works
    frame = pd.read_csv(tmp_path / "UNSW_NB15_training-set.csv", dtype=str)
    frame.loc[16, "sbytes"] = "1e30"
    frame.to_csv(tmp_path / "UNSW_NB15_training-set.csv", index=False)
    with pytest.raises(DataError) as caught:
        load_unsw(tmp_path, preprocess="seed")
    message = str(caught.value)
    for fragment in ("--preprocess seed", "constant", "sbytes = 1e+30", "data row 17", "UNSW_NB15_training-set.csv",
                     "--preprocess quantile"):
        assert fragment in message, (fragment, message)
    loaded = load_unsw(tmp_path, preprocess="quantile")  # rank-based: one huge value changes nothing else
    assert not data.collapsed_columns(data.feature_matrix(read_table(tmp_path / "UNSW_NB15_training-set.csv", True),
                                                          loaded.encoder), loaded.train.features)


def test_collapsed_columns_names_the_columns_that_lost_their_variation() -> None:
    raw = np.zeros((4, 42))
    raw[:, 0] = [1, 2, 3, 4]       # varies, stays varied
    raw[:, 5] = [1, 2, 3, 4]       # varies, scaled to a constant
    scaled = raw.astype(np.float32)
    scaled[:, 5] = 0.25
    assert data.collapsed_columns(raw, scaled) == [FEATURE_COLUMNS[5]]


@requires_data
def test_rows_unlike_the_training_rows_get_one_warning_line_per_kind_with_counts(coursework: data.UNSWData,
                                                                                  tmp_path: Path) -> None:
    frame = pd.read_csv(COURSEWORK_DIR / TEST_NAME, nrows=40, dtype=str)
    frame.loc[[1, 5, 9], "state"] = "XYZ"
    frame.loc[[2], "proto"] = "made-up"
    maximum = coursework.preprocessor.maximum[FEATURE_COLUMNS.index("sbytes")]
    frame.loc[[3, 4], "sbytes"] = str(3 * maximum)      # beyond max + (max - min)
    frame.loc[[6], "dur"] = str(1.5 * coursework.preprocessor.maximum[0])  # outside the range, but not far
    frame.to_csv(tmp_path / "odd.csv", index=False)
    split = load_prediction_csv(tmp_path / "odd.csv", coursework.encoder, coursework.preprocessor)
    assert len(split.warnings) == 2 and all("\n" not in line for line in split.warnings)
    unseen, far = split.warnings
    assert "4 row(s)" in unseen and "state 'XYZ' x3" in unseen and "proto 'made-up' x1" in unseen
    assert "in 1 column(s): sbytes 2 row(s)" in far and "dur" not in far
    plain = load_prediction_csv(COURSEWORK_DIR / UNLABELLED_NAME, coursework.encoder, coursework.preprocessor)
    assert plain.warnings == []
    restored = preprocessing_from_state(json.loads(json.dumps(data_state(coursework))))[1]
    np.testing.assert_array_equal(restored.maximum, coursework.preprocessor.maximum)
