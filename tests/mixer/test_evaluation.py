"""The end of a run and what uses its checkpoint: the decision threshold chosen on the holdout for the selected model
(stored in best.npz, reported with the metrics at 0.5 beside it), calibration (ECE, reliability.png), and evaluate /
predict with the stored threshold, with old checkpoints, and with seed ensembles."""

import csv
import json

import numpy as np
import pytest
from unsw_sample import REAL, needs_data, sample_folder

from mixer import data as unsw
from mixer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mixer.cli import load_models, main
from mixer.config import ConfigError, TrainConfig
from mixer.metrics import best_threshold, binary_metrics, expected_calibration_error
from mixer.training import Trainer, load_trained, predict_proba


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """600 training rows (every 30th), 400 test rows, the 25 unlabelled rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(600, 30), test=(400, 10), unlabelled_rows=25)


def config(folder, out, **overrides):
    values = dict(dim=8, depth=1, patch_size=3, epochs=2, batch_size=32, lr=3e-3, warmup_epochs=0.5, holdout=0.2,
                  data_dir=str(folder), out=str(out), seed=3)
    return TrainConfig.from_dict({**values, **overrides})


@pytest.fixture(scope="module")
def runs(small_data, tmp_path_factory):
    """Two finished runs of seeds 3 and 5 (for an ensemble), with what the first printed and returned."""
    base = tmp_path_factory.mktemp("runs")
    printed = []
    first = Trainer(config(small_data, base / "seed3"), log=printed.append).fit()
    Trainer(config(small_data, base / "seed5", seed=5), log=lambda text: None).fit()
    return {"folders": [base / "seed3", base / "seed5"], "printed": printed, "result": first}


@needs_data
@pytest.mark.slow
def test_the_threshold_is_chosen_on_the_holdout_for_the_selected_model_and_stored(runs, small_data):
    folder = runs["folders"][0]
    result, saved = runs["result"], json.loads((folder / "result.json").read_text())
    assert saved == json.loads(json.dumps(result))
    model, checkpoint = load_trained(folder / "best.npz")
    assert checkpoint["epoch"] == result["selected_epoch"]
    data = unsw.load_unsw(small_data, holdout=0.2, seed=3, keep_codes=True)  # the run's own split
    holdout = predict_proba(model, data.holdout.features)
    threshold = best_threshold(data.holdout.labels, holdout, "accuracy")
    assert checkpoint["threshold"] == result["threshold"] == threshold
    assert "holdout" in checkpoint["threshold_rule"] and "accuracy" in checkpoint["threshold_rule"]
    test = predict_proba(model, data.test.features)
    for name, labels, p in (("holdout", data.holdout.labels, holdout), ("test", data.test.labels, test)):
        at_half, at_threshold = binary_metrics(labels, p), binary_metrics(labels, p, threshold)
        assert result[name]["accuracy"] == at_half["accuracy"] and result[name]["roc_auc"] == at_half["roc_auc"]
        assert result[f"{name}_at_threshold"] == {key: at_threshold[key] for key in ("accuracy", "precision",
                                                                                      "recall", "f1")}
        assert result[name]["ece"] == pytest.approx(expected_calibration_error(labels, p))
    for key, cut in (("confusion_matrix_at_threshold", threshold), ("confusion_matrix", 0.5)):
        truth, said = data.test.labels, test >= cut
        assert result[key] == [[int(np.sum((truth == true) & (said == predicted))) for predicted in (0, 1)]
                               for true in (0, 1)], key
    # the chosen threshold does at least as well on the holdout as 0.5 (it is chosen there)
    assert result["holdout_at_threshold"]["accuracy"] >= result["holdout"]["accuracy"]
    # last.npz holds the last epoch's training state and no threshold
    assert "threshold" not in load_checkpoint(folder / "last.npz")


@needs_data
@pytest.mark.slow
def test_the_console_labels_both_thresholds_and_the_run_draws_the_reliability_diagram(runs):
    printed, result, folder = runs["printed"], runs["result"], runs["folders"][0]
    threshold = result["threshold"]
    selected = next(line for line in printed if line.startswith("selected epoch"))
    assert "at threshold 0.5:" in selected and f"ece {result['test']['ece']:.4f}" in selected
    start = printed.index(next(line for line in printed if line.startswith("decision threshold")))
    assert printed[start].startswith(f"decision threshold {threshold:.4f} (the best holdout accuracy")
    table = printed[start + 1].splitlines()
    assert table[0].split() == ["split", "threshold", "accuracy", "precision", "recall", "F1", "|", "ROC-AUC", "ECE"]
    rows = {(line.split()[0], line.split()[1]): line.split() for line in table[1:]}
    if threshold != 0.5:
        test_at = rows[("test", f"{threshold:.4f}")]
        assert test_at[2] == f"{result['test_at_threshold']['accuracy']:.4f}"
    assert rows[("holdout", "0.5000")][-1] == f"{result['holdout']['ece']:.4f}"
    assert rows[("test", "0.5000")][-2] == f"{result['test']['roc_auc']:.4f}"
    assert (folder / "reliability.png").stat().st_size > 0
    assert "reliability.png" in printed[-1]
    # the unlabelled rows are labelled at the threshold
    for row in csv.DictReader(open(folder / "predictions_testing2.csv")):
        assert row["predicted_label"] == str(int(float(row["probability"]) >= threshold))


@needs_data
@pytest.mark.parametrize(("overrides", "rule"), [({"threshold_criterion": "none"}, "--threshold-criterion none"),
                                                 ({"holdout": 0.0}, "no holdout to choose it on")])
@pytest.mark.slow
def test_none_or_no_holdout_keeps_half(small_data, tmp_path, overrides, rule):
    result = Trainer(config(small_data, tmp_path / "run", epochs=1, **overrides), log=lambda text: None).fit()
    assert result["threshold"] == 0.5 and result["threshold_rule"] == rule
    assert load_checkpoint(tmp_path / "run" / "best.npz")["threshold"] == 0.5
    assert result["test_at_threshold"]["accuracy"] == result["test"]["accuracy"]
    assert ("holdout" in result) == ("holdout" not in overrides)


def test_the_criterion_is_an_option_of_binary_runs_only():
    with pytest.raises(ConfigError, match="--threshold-criterion does not apply to --task multiclass"):
        TrainConfig.from_dict({"task": "multiclass", "threshold_criterion": "f1"})
    with pytest.raises(ConfigError, match="--threshold-criterion median: must be one of accuracy, f1, none"):
        TrainConfig.from_dict({"threshold_criterion": "median"})
    assert "threshold_criterion" not in TrainConfig.from_dict({"task": "multiclass"}).applicable()["data"]
    binary = TrainConfig.from_dict({"threshold_criterion": "f1"})
    assert binary.applicable()["data"]["threshold_criterion"] == "f1"
    assert TrainConfig.from_dict(binary.applicable()).flat() == binary.flat()  # config.json round trip


@needs_data
@pytest.mark.slow
def test_resume_keeps_the_criterion_and_chooses_again_at_the_end(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    Trainer(config(small_data, out, epochs=1, threshold_criterion="f1"), log=lambda text: None).fit()
    assert load_checkpoint(out / "last.npz")["config"]["threshold_criterion"] == "f1"
    assert main(["--resume", str(out / "last.npz"), "--epochs", "2"]) == 0
    result = json.loads((out / "result.json").read_text())
    best = load_checkpoint(out / "best.npz")
    assert "best holdout F1" in result["threshold_rule"] and best["threshold"] == result["threshold"]
    assert best["epoch"] == result["selected_epoch"]


@needs_data
@pytest.mark.slow
def test_evaluate_uses_the_stored_threshold_and_says_so(runs, small_data, capsys):
    folder, result = runs["folders"][0], runs["result"]
    assert main(["evaluate", "--checkpoint", str(folder / "best.npz"), "--data-dir", str(small_data)]) == 0
    out = capsys.readouterr().out
    threshold = result["threshold"]
    assert f"model of epoch {result['selected_epoch']}" in out and f"ece {result['test']['ece']:.4f}" in out
    assert f"decision threshold {threshold:.4f} (the best holdout accuracy" in out
    assert f"confusion matrix at threshold {threshold:.4f}" in out
    (normal, attack) = result["confusion_matrix_at_threshold"]
    lines = out.splitlines()
    matrix = lines[lines.index(next(line for line in lines if line.startswith("true \\"))) + 1:]
    assert [int(cell.replace(",", "")) for cell in matrix[0].split()[1::2]] == normal
    assert [int(cell.replace(",", "")) for cell in matrix[1].split()[1::2]] == attack


@needs_data
@pytest.mark.slow
def test_a_checkpoint_without_a_threshold_decides_at_half(runs, small_data, tmp_path, capsys):
    old = load_checkpoint(runs["folders"][0] / "best.npz")
    del old["threshold"], old["threshold_rule"]
    save_checkpoint(tmp_path / "old.npz", old)
    assert main(["evaluate", "--checkpoint", str(tmp_path / "old.npz"), "--data-dir", str(small_data)]) == 0
    out = capsys.readouterr().out
    assert "decision threshold 0.5000 (the checkpoint holds no threshold chosen on a holdout)" in out
    assert "confusion matrix at threshold 0.5000" in out
    unlabelled = small_data / REAL["unlabelled"].name
    assert main(["predict", "--checkpoint", str(tmp_path / "old.npz"), "--csv", str(unlabelled), "--output",
                 str(tmp_path / "p.csv")]) == 0
    assert "P(attack) >= 0.5000" in capsys.readouterr().out
    for row in csv.DictReader(open(tmp_path / "p.csv")):
        assert row["predicted_label"] == str(int(float(row["probability"]) >= 0.5))


def own_probabilities(checkpoint_path, csv_path):
    """P(attack) of one checkpoint for a CSV preprocessed with that checkpoint's own saved fit."""
    model, checkpoint = load_trained(checkpoint_path)
    encoder, preprocessor = unsw.preprocessing_from_state(checkpoint["preprocessing"])
    split = unsw.load_prediction_csv(csv_path, encoder, preprocessor)
    return predict_proba(model, split.features), checkpoint["threshold"]


@needs_data
@pytest.mark.slow
def test_an_ensemble_averages_the_models_on_their_own_preprocessing_and_their_thresholds(runs, small_data, tmp_path,
                                                                                        capsys):
    paths = [str(folder / "best.npz") for folder in runs["folders"]]
    unlabelled = small_data / REAL["unlabelled"].name
    output = tmp_path / "ensemble.csv"
    assert main(["predict", "--checkpoint", *paths, "--csv", str(unlabelled), "--output", str(output)]) == 0
    said = capsys.readouterr().out
    (first, t1), (second, t2) = (own_probabilities(path, unlabelled) for path in paths)
    assert not np.array_equal(first, second)  # two different models
    threshold = (t1 + t2) / 2
    assert "ensemble of 2 models" in said and f"P(attack) >= {threshold:.4f}" in said
    assert f"the mean of the 2 models' stored thresholds {t1:.4f}, {t2:.4f}" in said
    rows = list(csv.DictReader(open(output)))
    np.testing.assert_allclose([float(row["probability"]) for row in rows], (first + second) / 2, atol=5e-7)
    assert [row["predicted_label"] for row in rows] == [str(int(p >= threshold)) for p in (first + second) / 2]

    test_csv = small_data / REAL["test"].name
    assert main(["evaluate", "--checkpoint", *paths, "--data-dir", str(small_data)]) == 0
    said = capsys.readouterr().out
    (first, _), (second, _) = (own_probabilities(path, test_csv) for path in paths)
    labels = unsw.read_table(test_csv, require_label=True)["label"].to_numpy()
    expected = binary_metrics(labels, (first + second) / 2, threshold)
    assert "ensemble of 2 models (the mean of their probabilities)" in said
    rows = {tuple(line.split()[:2]): line.split() for line in said.splitlines() if line.startswith("test ")}
    assert rows[("test", f"{threshold:.4f}")][2] == f"{expected['accuracy']:.4f}"


@needs_data
@pytest.mark.slow
def test_an_ensemble_of_models_of_other_classes_is_one_clear_line(runs, tmp_path, capsys):
    other = load_checkpoint(runs["folders"][1] / "best.npz")
    other["class_names"] = ["benign", "attack"]
    save_checkpoint(tmp_path / "other.npz", other)
    assert main(["evaluate", "--checkpoint", str(runs["folders"][0] / "best.npz"), str(tmp_path / "other.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "one set of classes" in err and len(err.splitlines()) == 1
    with pytest.raises(CheckpointError, match="one set of classes"):
        load_models([str(runs["folders"][0] / "best.npz"), str(tmp_path / "other.npz")])
