"""k-fold cross-validation (`train.py --cv K`) and label smoothing (`--label-smoothing`): the folds, the fold runs,
cv.json, resuming, --overwrite, the configuration rules; the smoothed training loss."""

import json
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import REAL, needs_data, sample_folder

import tinygrad_np.nn.functional as F
from mixer import data as unsw
from mixer.checkpoint import load_checkpoint
from mixer.cli import main
from mixer.config import ConfigError, TrainConfig
from mixer.crossval import CrossValidation
from mixer.loop import TrainingLoop
from mixer.training import Trainer, load_trained, loss_fn
from tinygrad_np import Tensor

TINY = ["--dim", "8", "--depth", "1", "--batch-size", "64", "--seed", "2", "--epochs", "2", "--warmup-epochs", "0.5"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """300 training rows (every 60th), 100 test rows, 25 unlabelled rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(300, 60), test=(100, 40), unlabelled_rows=25)


def lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


# -- the folds ---------------------------------------------------------------------------------------------------
def copies_rows():
    """59 rows: row 0 five times, row 1 three times, 51 others once each."""
    rows = np.arange(106, dtype=float).reshape(53, 2)
    return np.repeat(rows, [5, 3] + [1] * 51, axis=0)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_kfold_folds_partition_the_rows_keep_copies_together_and_are_balanced(k):
    rows = copies_rows()
    for seed in range(4):
        splits = unsw.kfold_splits(rows, k, seed)
        assert len(splits) == k
        held = np.concatenate([holdout for _, holdout in splits])
        assert np.array_equal(np.sort(held), np.arange(len(rows)))  # every row in exactly one fold
        for train, holdout in splits:
            assert np.array_equal(np.sort(np.concatenate([train, holdout])), np.arange(len(rows)))
            assert set(map(tuple, rows[train])).isdisjoint(map(tuple, rows[holdout]))  # no copy on both sides
        sizes = [len(holdout) for _, holdout in splits]
        assert max(sizes) - min(sizes) <= 1  # the single rows even out the groups of 5 and 3
    first = unsw.kfold_splits(rows, k, 0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, unsw.kfold_splits(rows, k, 0), strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, unsw.kfold_splits(rows, k, 1), strict=True))


def test_kfold_refuses_too_few_folds_or_rows():
    with pytest.raises(ValueError, match="k >= 2"):
        unsw.kfold_splits(copies_rows(), 1, 0)
    with pytest.raises(unsw.DataError, match="--cv 4 needs at least 4 distinct rows .* it has 3"):
        unsw.kfold_splits(np.array([[1.0], [1.0], [2.0], [3.0]]), 4, 0)


@needs_data
def test_kfold_on_the_training_file_groups_identical_rows():
    frame = unsw.read_table(REAL["train"], require_label=True)
    keys = list(frame.drop(columns=["id"]).itertuples(index=False, name=None))
    splits = unsw.kfold_splits(frame, 5, 0)
    assert sorted(np.concatenate([h for _, h in splits]).tolist()) == list(range(len(frame)))
    folds_of: dict[tuple, set[int]] = {}
    for fold, (_, holdout) in enumerate(splits):
        for row in holdout:
            folds_of.setdefault(keys[row], set()).add(fold)
    assert len(folds_of) < len(frame)  # the file has copies, and each copy sits in one fold
    assert all(len(folds) == 1 for folds in folds_of.values())
    sizes = [len(h) for _, h in splits]
    assert max(sizes) - min(sizes) <= 1


@needs_data
def test_a_fold_holds_out_its_rows_fits_on_the_others_and_never_touches_test(small_data):
    frame = unsw.read_table(small_data / REAL["train"].name, require_label=True)
    test_frame = unsw.read_table(small_data / REAL["test"].name, require_label=True)
    splits = unsw.kfold_splits(frame, 3, 5)
    seen = []
    for fold in (1, 2, 3):
        loaded = unsw.load_unsw(small_data, preprocess="log-standard", holdout=0.0, seed=5, fold=(fold, 3))
        train_rows, holdout_rows = splits[fold - 1]
        assert loaded.holdout.ids.tolist() == frame["id"].to_numpy()[holdout_rows].tolist()
        assert loaded.train.ids.tolist() == frame["id"].to_numpy()[train_rows].tolist()
        assert loaded.test.ids.tolist() == test_frame["id"].tolist()  # the test file whole, in no fold
        encoder = unsw.CategoryEncoder().fit(frame.iloc[train_rows])
        fitted = unsw.Preprocessor("log-standard").fit(unsw.feature_matrix(frame.iloc[train_rows], encoder))
        np.testing.assert_array_equal(loaded.preprocessor.mean, fitted.mean)  # fitted on the other folds only
        seen += loaded.holdout.ids.tolist()
    assert sorted(seen) == sorted(frame["id"].tolist())
    with pytest.raises(ValueError, match="holdout 0"):
        unsw.load_unsw(small_data, holdout=0.1, fold=(1, 3))


# -- configuration -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "expected"), [
    ({"cv": 1}, "--cv 1 must be 0 (off) or >= 2"),
    ({"cv": 3, "holdout": 0.2}, "--holdout does not apply with --cv"),
    ({"fold": 2}, "--fold does not apply without --cv"),
    ({"cv": 2, "fold": 3}, "--fold 3 must not be above --cv 2"),
    ({"label_smoothing": 1.0}, "--label-smoothing 1 must be in [0, 1)"),
    ({"label_smoothing": -0.1}, "--label-smoothing -0.1 must be in [0, 1)"),
])
def test_configuration_rules(values, expected):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_dict(values)
    assert expected in str(error.value)


def test_cv_options_round_trip_and_holdout_leaves_config_json():
    config = TrainConfig.from_dict({"cv": 5, "fold": 2, "label_smoothing": 0.1})
    assert TrainConfig.from_dict(config.flat()) == config == TrainConfig.from_dict(config.applicable())
    assert "holdout" not in config.applicable()["data"] and config.applicable()["run"]["cv"] == 5
    assert config.applicable()["regularisation"]["label_smoothing"] == 0.1
    assert "fold" not in TrainConfig.from_dict({}).applicable()["run"]


@needs_data
def test_cli_config_errors_write_nothing(small_data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--cv", "2", "--holdout", "0.3", "--data-dir", str(small_data)]) == 1
    assert "--holdout does not apply with --cv" in capsys.readouterr().err
    assert main(["--cv", "500", "--data-dir", str(small_data), *TINY]) == 1  # 300 rows cannot make 500 folds
    assert "--cv 500 needs at least 500 distinct rows" in capsys.readouterr().err
    (tmp_path / "cv.json").write_text("{}")
    assert main(["--resume", "cv.json", "--epochs", "3"]) == 1
    assert "only --data-dir may be given, not --epochs" in capsys.readouterr().err
    assert main(["--resume", "cv.json"]) == 1
    assert "is not the cv.json of a cross-validation" in capsys.readouterr().err
    (tmp_path / "cv.json").unlink()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="without --fold is a cross-validation"):
        Trainer(TrainConfig.from_dict({"cv": 2, "data_dir": str(small_data)}), log=lambda text: None)


# -- the cross-validation run ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cv_run(small_data, tmp_path_factory):
    """A 2-fold cross-validation of the tiny model, 2 epochs, label smoothing 0.1; (folder, printed lines)."""
    out = tmp_path_factory.mktemp("cv") / "run"
    printed = []
    config = TrainConfig.from_dict({"dim": 8, "depth": 1, "batch_size": 64, "seed": 2, "epochs": 2,
                                    "warmup_epochs": 0.5, "label_smoothing": 0.1, "cv": 2,
                                    "data_dir": str(small_data), "out": str(out)})
    CrossValidation(config, log=printed.append).fit()
    return out, printed


@needs_data
@pytest.mark.slow
def test_a_two_fold_run_writes_one_run_per_fold_and_the_summary(cv_run, small_data, capsys):
    out, printed = cv_run
    for fold in (1, 2):
        for name in ("config.json", "metrics.jsonl", "best.npz", "last.npz", "result.json", "predictions_testing2.csv"):
            assert (out / f"fold-{fold}" / name).is_file(), (fold, name)
        saved = json.loads((out / f"fold-{fold}" / "config.json").read_text())
        assert saved["run"]["cv"] == 2 and saved["run"]["fold"] == fold and "holdout" not in saved["data"]
    assert json.loads((out / "config.json").read_text())["run"] == {"seed": 2, "eval_batch_size": 4096, "cv": 2,
                                                                     "fold": 0}
    summary = json.loads((out / "cv.json").read_text())
    assert summary["complete"] and [f["fold"] for f in summary["folds"]] == [1, 2]
    assert sum(f["holdout_rows"] for f in summary["folds"]) == 300
    holdout, test = [], []
    for fold in (1, 2):  # recomputed from each fold's own files
        result = json.loads((out / f"fold-{fold}" / "result.json").read_text())
        records = lines(out / f"fold-{fold}" / "metrics.jsonl")
        holdout.append(next(r for r in records if r["epoch"] == result["selected_epoch"])["holdout"])
        test.append(result["test"])
    for split, values in (("holdout", holdout), ("test", test)):
        for name in ("loss", "accuracy", "f1", "roc_auc"):
            column = [v[name] for v in values]
            assert summary[split]["mean"][name] == pytest.approx(np.mean(column), rel=1e-12)
            assert summary[split]["std"][name] == pytest.approx(np.std(column, ddof=1), rel=1e-12)
    assert "reported only" in summary["test"]["note"]
    text = "\n".join(printed)
    assert "holdout, mean +- std: loss" in text and "test, mean +- std: loss" in text and "reported only" in text
    assert printed[-1] == f"results in {out}: config.json, cv.json, fold-1/, fold-2/"
    # each fold is an ordinary run: load_trained, evaluate and predict work on it
    model, checkpoint = load_trained(out / "fold-2" / "best.npz")
    assert checkpoint["config"]["fold"] == 2 and checkpoint["config"]["label_smoothing"] == 0.1
    assert main(["evaluate", "--checkpoint", str(out / "fold-1" / "best.npz")]) == 0
    assert f"roc_auc {summary['folds'][0]['test']['roc_auc']:.4f}" in capsys.readouterr().out
    assert main(["predict", "--checkpoint", str(out / "fold-1" / "best.npz"), "--csv",
                 str(small_data / REAL["unlabelled"].name), "--output", str(out.parent / "p.csv")]) == 0


@needs_data
@pytest.mark.slow
def test_an_interrupted_cross_validation_resumes_without_redoing_finished_folds(cv_run, small_data, tmp_path,
                                                                               capsys, monkeypatch):
    out = tmp_path / "cut"
    calls = []
    real_epoch = TrainingLoop.train_epoch

    def epoch_then_ctrl_c(loop, epochs):
        calls.append(1)
        if len(calls) == 4:  # fold 1's two epochs, fold 2's first, then Ctrl-C in fold 2's second
            raise KeyboardInterrupt
        return real_epoch(loop, epochs)
    monkeypatch.setattr(TrainingLoop, "train_epoch", epoch_then_ctrl_c)
    args = ["--cv", "2", "--label-smoothing", "0.1", "--data-dir", str(small_data), *TINY, "--out", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted in fold 2 of 2 (") and "keeps epoch 1" in err
    assert err.strip().endswith(f"continue the cross-validation with: python train.py --resume {out / 'cv.json'} "
                                "(finished folds are kept)")
    assert not json.loads((out / "cv.json").read_text())["complete"]
    fold1 = {path.name: path.read_bytes() for path in (out / "fold-1").iterdir()}
    monkeypatch.setattr(TrainingLoop, "train_epoch", real_epoch)
    calls.clear()
    assert main(["--resume", str(out / "cv.json")]) == 0
    printed = capsys.readouterr().out
    assert "fold 1 of 2: finished earlier" in printed and "resuming" in printed
    assert {path.name: path.read_bytes() for path in (out / "fold-1").iterdir()} == fold1  # not redone
    # the same numbers as the uninterrupted cross-validation of the same settings
    reference, _ = cv_run
    for fold in (1, 2):
        ours, theirs = load_checkpoint(out / f"fold-{fold}" / "last.npz"), load_checkpoint(
            reference / f"fold-{fold}" / "last.npz")
        for name, array in theirs["model"].items():
            np.testing.assert_array_equal(ours["model"][name], array, err_msg=f"fold {fold} {name}")
    ours, theirs = (json.loads((folder / "cv.json").read_text()) for folder in (out, reference))
    assert ours["holdout"] == theirs["holdout"] and ours["test"] == theirs["test"]


@needs_data
@pytest.mark.slow
def test_overwrite_replaces_a_cross_validation_and_leaves_other_files(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--data-dir", str(small_data), *TINY, "--epochs", "1", "--out", str(out)]
    assert main(["--cv", "2", *args]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "fold-2" / "mine.txt").write_text("mine too")
    assert main(args) == 1
    assert f"--resume {out / 'cv.json'}" in capsys.readouterr().err  # says how to continue what is there
    assert main([*args, "--overwrite"]) == 0  # a plain run replaces the cross-validation
    assert "--overwrite: removed the previous run's" in capsys.readouterr().out
    assert not (out / "cv.json").exists() and not (out / "fold-1").exists()
    assert sorted(path.name for path in (out / "fold-2").iterdir()) == ["mine.txt"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "last.npz").is_file()


# -- label smoothing ---------------------------------------------------------------------------------------------
def test_binary_label_smoothing_is_bce_against_the_smoothed_targets():
    rng = np.random.default_rng(0)
    logits, labels, eps = rng.normal(size=(9, 1)) * 3, rng.integers(0, 2, 9), 0.2
    target = labels * (1 - eps) + eps / 2
    p = 1 / (1 + np.exp(-logits[:, 0]))
    expected = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    out = loss_fn(Tensor(logits, dtype=np.float64), labels, reduction="none", label_smoothing=eps)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    plain = loss_fn(Tensor(logits, dtype=np.float32), labels)
    assert plain.item() == F.binary_cross_entropy_with_logits(Tensor(logits[:, 0], dtype=np.float32),
                                                              labels.astype(np.float32)).item()
    multi = rng.normal(size=(9, 4))
    classes = rng.integers(0, 4, 9)
    np.testing.assert_allclose(loss_fn(Tensor(multi, dtype=np.float64), classes, label_smoothing=eps).item(),
                               F.cross_entropy(Tensor(multi, dtype=np.float64), classes, label_smoothing=eps).item(),
                               rtol=1e-15)


@needs_data
def test_only_the_training_loss_is_smoothed(small_data, tmp_path):
    """Two trainers of the same seed start from the same weights: the smoothed one's batch loss is the BCE against
    y (1 - e) + e / 2, and both evaluate the holdout and test alike (unsmoothed)."""
    def trainer(eps):
        return Trainer(TrainConfig.from_dict({"dim": 8, "depth": 1, "seed": 4, "holdout": 0.3, "dropout": 0.0,
                                              "drop_path": 0.0, "label_smoothing": eps, "data_dir": str(small_data),
                                              "out": str(tmp_path / f"run{eps}")}), log=lambda text: None)
    plain, smoothed = trainer(0.0), trainer(0.3)
    rows = np.arange(40)
    batch = smoothed._batch(rows)
    logits = smoothed.model(batch[0]).numpy()[:, 0].astype(np.float64)
    target = batch[1] * 0.7 + 0.15
    expected = np.sum(np.logaddexp(0, logits) - target * logits)  # BCE with logits, summed
    assert smoothed._batch_loss(batch, len(rows)).total == pytest.approx(expected, rel=1e-5)
    assert plain._batch_loss(plain._batch(rows), len(rows)).total != pytest.approx(expected, rel=1e-3)
    assert plain._evaluate() == smoothed._evaluate()
