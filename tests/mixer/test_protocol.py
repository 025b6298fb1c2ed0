"""The protocol: no row or label of the test file (testing1) reaches model selection or the decision threshold, in
train.py's runs and in bench/baselines.py. Each is run twice with the same seed, the second time with the test
file's labels flipped and its rows replaced; everything chosen must come out identical, and the test scores not."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import needs_data, sample_folder

from mixer import data as unsw
from mixer.checkpoint import load_checkpoint
from mixer.config import TrainConfig
from mixer.training import Trainer

BASELINES = Path(__file__).resolve().parents[2] / "bench" / "baselines.py"


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """600 training rows (every 30th, so both classes), 400 test rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(600, 30), test=(400, 10), unlabelled_rows=25)


def tampered(test: unsw.Split, train: unsw.Split, seed: int = 0) -> unsw.Split:
    """The test split with every label flipped and its rows replaced by training rows drawn at random (valid
    category codes, so that a model that embeds them still runs)."""
    rows = np.random.default_rng(seed).choice(len(train.labels), len(test.labels))
    return dataclasses.replace(test, labels=1 - test.labels, features=train.features[rows].copy())


def run(folder, out, tamper):
    config = TrainConfig.from_dict(dict(dim=16, depth=2, patch_size=3, epochs=3, batch_size=32, lr=3e-3,
                                        warmup_epochs=0.5, holdout=0.2, data_dir=str(folder), out=str(out), seed=3,
                                        drop_path=0.1, dropout=0.1))
    trainer = Trainer(config, log=lambda text: None)
    if tamper:
        trainer.data.test = tampered(trainer.data.test, trainer.data.train)
    return trainer.fit()


def holdout_and_train(path):
    return [{key: record[key] for key in ("epoch", "train", "holdout")}
            for record in map(json.loads, Path(path).read_text().splitlines())]


@needs_data
@pytest.mark.slow
def test_no_test_row_or_label_reaches_the_selected_epoch_the_threshold_or_the_weights(small_data, tmp_path):
    honest = run(small_data, tmp_path / "honest", tamper=False)
    other = run(small_data, tmp_path / "tampered", tamper=True)
    assert other["test"]["accuracy"] != honest["test"]["accuracy"]  # the test file did change
    assert other["test"]["roc_auc"] != honest["test"]["roc_auc"]
    assert other["selected_epoch"] == honest["selected_epoch"]
    assert other["threshold"] == honest["threshold"] and other["threshold_rule"] == honest["threshold_rule"]
    for key in ("holdout", "holdout_at_threshold"):
        assert other[key] == honest[key]
    for name in ("best.npz", "last.npz"):
        ours, theirs = load_checkpoint(tmp_path / "honest" / name), load_checkpoint(tmp_path / "tampered" / name)
        assert ours["epoch"] == theirs["epoch"] and ours.get("threshold") == theirs.get("threshold")
        assert ours["model"].keys() == theirs["model"].keys()
        for weight, array in ours["model"].items():
            np.testing.assert_array_equal(theirs["model"][weight], array, err_msg=f"{name}: {weight}")
    assert holdout_and_train(tmp_path / "tampered" / "metrics.jsonl") == holdout_and_train(
        tmp_path / "honest" / "metrics.jsonl")


@needs_data
@pytest.mark.parametrize("model", ["logistic-regression", "gradient-boosting"])
def test_no_test_row_or_label_reaches_the_threshold_of_a_baseline(small_data, model):
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("baselines", BASELINES)
    baselines = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baselines)
    data = unsw.load_unsw(small_data, preprocess="quantile", holdout=0.2, seed=2)
    changed = dataclasses.replace(data, test=tampered(data.test, data.train))
    with baselines.thread_limit(1):
        honest = baselines.evaluate_baseline(baselines.make_estimator(model, 2), data, "accuracy")
        other = baselines.evaluate_baseline(baselines.make_estimator(model, 2), changed, "accuracy")
    assert other["test_accuracy"] != honest["test_accuracy"]  # the test file did change
    for key in ("threshold", "holdout_accuracy", "holdout_roc_auc"):
        assert other[key] == honest[key], key
