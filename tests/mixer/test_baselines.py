"""bench/baselines.py: the scikit-learn baselines under train.py's protocol (the same holdout rows as a run of the
same seed, the threshold chosen on them), their numbers checked against scikit-learn's own metrics, and --runs
grouping train.py's runs by configuration."""

import importlib.util
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import needs_data, sample_folder

from mixer import data as unsw
from mixer.config import TrainConfig
from mixer.metrics import binary_metrics
from mixer.training import Trainer

BASELINES = Path(__file__).resolve().parents[2] / "bench" / "baselines.py"


@pytest.fixture(scope="module")
def baselines():
    spec = importlib.util.spec_from_file_location("baselines", BASELINES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """600 training rows (every 30th), 200 test rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(600, 30), test=(200, 20), unlabelled_rows=5)


@needs_data
@pytest.mark.slow
def test_baselines_score_what_scikit_learn_scores_with_the_threshold_of_the_holdout(baselines, small_data, tmp_path,
                                                                                   capsys):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    out = tmp_path / "baselines.json"
    assert baselines.main(["--data-dir", str(small_data), "--seeds", "0", "1", "--trees", "20", "--jobs", "1",
                           "--json", str(out)]) == 0
    printed = capsys.readouterr()
    table = printed.out.splitlines()
    assert table[0].split()[:2] == ["model", "seeds"] and [line.split()[0] for line in table[1:]] == list(
        baselines.MODELS)
    assert "seed 1: logistic-regression" in printed.err  # progress on stderr, the table alone on stdout
    rows = {row["name"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == set(baselines.MODELS)
    for seed_index, seed in enumerate((0, 1)):
        data = unsw.load_unsw(small_data, preprocess="quantile", holdout=0.1, seed=seed)
        # the logistic regression is deterministic: refit it and score it with scikit-learn's metrics
        model = baselines.make_estimator("logistic-regression", seed).fit(data.train.features, data.train.labels)
        record = rows["logistic-regression"]["per_seed"][seed_index]
        holdout = model.predict_proba(data.holdout.features)[:, 1]
        test = model.predict_proba(data.test.features)[:, 1]
        assert record["holdout_roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(data.holdout.labels, holdout))
        assert record["test_roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(data.test.labels, test))
        assert record["test_accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(data.test.labels, test >= 0.5))
        threshold = record["threshold"]
        assert record["test_f1_at_threshold"] == pytest.approx(
            sklearn_metrics.f1_score(data.test.labels, test >= threshold))
        # the threshold is the best on the holdout: no threshold of a fine grid does better there
        best = sklearn_metrics.accuracy_score(data.holdout.labels, holdout >= threshold)
        assert all(sklearn_metrics.accuracy_score(data.holdout.labels, holdout >= t) <= best
                   for t in np.linspace(0, 1, 401))
    for row in rows.values():
        for key, _ in baselines.COLUMNS:
            values = [record[key] for record in row["per_seed"]]
            assert row["mean"][key] == pytest.approx(statistics.mean(values))
            assert row["std"][key] == pytest.approx(statistics.stdev(values))


@needs_data
def test_the_baselines_hold_out_the_rows_a_run_of_the_same_seed_holds_out(small_data, tmp_path):
    for seed in (0, 4):
        trainer = Trainer(TrainConfig.from_dict({"data_dir": str(small_data), "out": str(tmp_path / "run"),
                                                 "seed": seed}), log=lambda text: None)
        ours = unsw.load_unsw(small_data, preprocess="quantile", holdout=0.1, seed=seed, keep_codes=False)
        np.testing.assert_array_equal(ours.holdout.ids, trainer.data.holdout.ids)
        np.testing.assert_array_equal(ours.train.ids, trainer.data.train.ids)
    assert not (tmp_path / "run").exists()


def write_run(folder: Path, result: dict, **options) -> Path:
    """A run folder as train.py leaves it: config.json (the applicable options) and result.json."""
    folder.mkdir(parents=True)
    config = TrainConfig.from_dict({"data_dir": "/data/unsw", **options})
    (folder / "config.json").write_text(json.dumps(config.applicable()))
    (folder / "result.json").write_text(json.dumps(result))
    return folder


def result_of(accuracy: float, threshold: float = 0.45) -> dict:
    return {"selected_epoch": 3, "threshold": threshold,
            "holdout": {"accuracy": accuracy + 0.05, "roc_auc": 0.99, "ece": 0.01},
            "holdout_at_threshold": {"accuracy": accuracy + 0.06},
            "test": {"accuracy": accuracy, "f1": accuracy + 0.02, "roc_auc": 0.98, "ece": 0.03},
            "test_at_threshold": {"accuracy": accuracy + 0.01, "f1": accuracy + 0.03}}


def test_runs_that_differ_only_in_the_seed_form_one_row(baselines, tmp_path, capsys):
    runs = [write_run(tmp_path / "a0", result_of(0.89), seed=0),
            write_run(tmp_path / "wide", result_of(0.80), seed=0, dim=128, dropout=0.1),
            write_run(tmp_path / "a1", result_of(0.90, threshold=0.40), seed=1),
            write_run(tmp_path / "a2", result_of(0.94), seed=2, out=str(tmp_path / "elsewhere"))]
    out = tmp_path / "rows.json"
    assert baselines.main(["--models", "--runs", *map(str, runs), "--json", str(out), "--markdown"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["name"] for row in rows] == ["mlp-mixer (default)", "mlp-mixer (--dim 128 --dropout 0.1)"]
    default, wide = rows
    assert default["seeds"] == [0, 1, 2] and wide["seeds"] == [0] and default["kind"] == "run"
    assert default["runs"] == [str(runs[0]), str(runs[2]), str(runs[3])]
    assert default["mean"]["test_accuracy"] == pytest.approx(0.91)
    assert default["std"]["test_accuracy"] == pytest.approx(0.026457513, abs=1e-8)  # sqrt(0.0014 / 2)
    assert default["mean"]["threshold"] == pytest.approx((0.45 + 0.40 + 0.45) / 3)
    assert default["mean"]["test_f1_at_threshold"] == pytest.approx(0.94)
    assert wide["std"]["test_accuracy"] is None  # one seed: no spread (NaN, null in JSON)
    markdown = capsys.readouterr().out.splitlines()
    assert markdown[0].startswith("| model | seeds |") and markdown[1].startswith("|---|")
    assert markdown[2].startswith("| mlp-mixer (default) | 0 1 2 | 0.9600 ± 0.0265 |")  # holdout acc = test + 0.05
    assert markdown[3].startswith("| mlp-mixer (--dim 128 --dropout 0.1) | 0 | 0.8500 |")


def test_a_run_of_an_earlier_version_shows_what_it_has(baselines, tmp_path, capsys):
    old = {"selected_epoch": 3, "test": {"accuracy": 0.9, "f1": 0.91, "roc_auc": 0.98}}
    run = write_run(tmp_path / "old", old)
    assert baselines.main(["--models", "--runs", str(run)]) == 0
    line = capsys.readouterr().out.splitlines()[1].split()
    assert line[:3] == ["mlp-mixer", "(default)", "0"]
    assert line[3:] == ["-", "-", "-", "0.9000", "0.9100", "-", "-", "0.9800", "-"]


def test_a_folder_that_is_not_a_run_is_one_line(baselines, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert baselines.main(["--models", "--runs", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "result.json does not exist" in err and len(err.splitlines()) == 1


def test_without_scikit_learn_one_line_names_the_bench_extra(baselines, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)  # import fails as if scikit-learn were missing
    assert baselines.main(["--data-dir", str(tmp_path), "--seeds", "0"]) == 1  # before any data is read
    err = capsys.readouterr().err
    assert err.strip() == "error: bench/baselines.py needs scikit-learn: pip install -e '.[bench]'"


@needs_data
def test_the_threshold_of_a_baseline_is_chosen_on_the_holdout(baselines, small_data):
    """Its holdout accuracy at the threshold is at least that at 0.5 (the threshold leaves 0.5 only for a gain)."""
    pytest.importorskip("sklearn")
    data = unsw.load_unsw(small_data, preprocess="quantile", holdout=0.2, seed=1)
    estimator = baselines.make_estimator("gradient-boosting", 1)
    with baselines.thread_limit(1):  # OpenMP threads on a busy machine slow it down many times
        record = baselines.evaluate_baseline(estimator, data, "f1")
    holdout = baselines.attack_probability(estimator, data.holdout.features)
    at_threshold = binary_metrics(data.holdout.labels, holdout, record["threshold"])["f1"]
    assert at_threshold >= binary_metrics(data.holdout.labels, holdout)["f1"]
    assert not math.isnan(record["test_ece"]) and 0 <= record["test_ece"] <= 1


def test_the_adoption_rule_pairs_runs_by_seed_and_asks_for_a_gain_over_two_standard_errors(baselines):
    def group(name, seeds, aucs, seconds=120.0):
        return {"name": name, "kind": "run", "seeds": seeds,
                "per_seed": [{"holdout_roc_auc": auc, "seconds": seconds} for auc in aucs]}

    rows = [{"name": "random-forest", "kind": "baseline", "seeds": [0, 1, 2], "per_seed": []},
            group("mlp-mixer (default)", [0, 1, 2], [0.990, 0.992, 0.994]),
            # changes +0.002, +0.003, +0.001: mean 0.002, std 0.001, SE 0.001 / sqrt(3) = 0.000577: passes
            group("mlp-mixer (--ema 0.999)", [0, 1, 2], [0.992, 0.995, 0.995], seconds=150.0),
            # changes +0.004, -0.002, -0.004: mean -0.000667, SE 0.0024: neither
            group("mlp-mixer (--swa-epochs 5)", [0, 1, 2], [0.994, 0.990, 0.990]),
            # changes -0.001, -0.002, -0.003: mean -0.002, SE 0.000577: worse
            group("mlp-mixer (--dim 32)", [0, 1, 2], [0.989, 0.990, 0.991]),
            group("mlp-mixer (--depth 2)", [2, 5], [0.990, 0.999])]  # one seed in common: no verdict
    table = {row["name"]: row for row in baselines.adoption(rows)}
    assert "random-forest" not in table and table["mlp-mixer (default)"]["verdict"] == "the reference"
    ema = table["mlp-mixer (--ema 0.999)"]
    assert ema["change"] == pytest.approx(0.002) and ema["standard_error"] == pytest.approx(0.001 / math.sqrt(3))
    assert ema["verdict"].startswith("passes") and ema["minutes"] == pytest.approx(2.5)
    swa = table["mlp-mixer (--swa-epochs 5)"]
    assert swa["change"] == pytest.approx(-0.002 / 3) and swa["verdict"] == "under the bar"
    assert table["mlp-mixer (--dim 32)"]["verdict"].startswith("worse")
    depth = table["mlp-mixer (--depth 2)"]
    assert depth["seeds"] == [2] and depth["change"] == pytest.approx(-0.004) and depth["verdict"].startswith("fewer")
    assert baselines.adoption(rows[:1] + rows[2:]) == []  # no default runs: nothing to compare with
    markdown = baselines.format_adoption(list(table.values()), markdown=True).splitlines()
    assert markdown[0].startswith("| runs | seeds | holdout ROC-AUC") and "| +0.0020 ± 0.0006 |" in markdown[3]
