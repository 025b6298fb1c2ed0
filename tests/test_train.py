"""train.py end to end on small copies of the real data: learning, resume, predict, checkpoints."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import REAL, needs_data, sample_folder

from mixer import data as unsw
from mixer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mixer.cli import main
from mixer.training import TrainConfig, Trainer, TrainingDiverged, load_trained, predict_proba


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """600 training rows (every 30th, so both classes), 400 testing1 rows, the 25 testing2 rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(600, 30), valid=(400, 10), test_rows=100)


def config(folder, out, **overrides):
    values = dict(dim=16, depth=2, patch_size=3, epochs=3, batch_size=32, lr=3e-3, warmup_epochs=0.5,
                  holdout=0.2, data_dir=str(folder), out=str(out), seed=3, drop_path=0.1, dropout=0.1)
    return TrainConfig(**{**values, **overrides})


def lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@needs_data
def test_short_run_learns_and_writes_everything(small_data, tmp_path):
    result = Trainer(config(small_data, tmp_path / "run", epochs=4), log=lambda text: None).fit()
    out = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "loss_curves.png", "confusion_matrix.png", "best.npz", "last.npz",
                 "predictions_testing2.csv", "result.json"):
        assert (out / name).is_file(), name
    history = lines(out / "metrics.jsonl")
    assert len(history) == 4 and history[-1]["train_loss"] < history[0]["train_loss"]
    valid_labels = unsw.read_table(small_data / REAL["valid"].name, require_label=True)["label"].to_numpy()
    majority = max(valid_labels.mean(), 1 - valid_labels.mean())
    assert result["valid"]["accuracy"] > majority
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "loss"} <= set(history[0]["valid"])
    assert "holdout" in history[0] and set(history[0]["updates"]) >= {"proj", "head", "blocks.1.token_mixing.fc2"}


@needs_data
def test_seed_makes_runs_identical_and_resume_equals_uninterrupted(small_data, tmp_path):
    quiet = {"log": lambda text: None}
    Trainer(config(small_data, tmp_path / "full"), **quiet).fit()
    Trainer(config(small_data, tmp_path / "again"), **quiet).fit()
    cut = Trainer(config(small_data, tmp_path / "cut"), **quiet)
    epochs_run = []

    def train_epoch_then_crash():
        if len(epochs_run) == 2:
            raise KeyboardInterrupt  # the run is killed during epoch 3
        epochs_run.append(1)
        return Trainer.train_epoch(cut)
    cut.train_epoch = train_epoch_then_crash
    with pytest.raises(KeyboardInterrupt):
        cut.fit()
    assert main(["train", "--resume", str(tmp_path / "cut" / "last.npz"), "--out", str(tmp_path / "resumed")]) == 0
    full, again = load_checkpoint(tmp_path / "full" / "last.npz"), load_checkpoint(tmp_path / "again" / "last.npz")
    resumed = load_checkpoint(tmp_path / "resumed" / "last.npz")
    for name, array in full["model"].items():
        np.testing.assert_array_equal(again["model"][name], array, err_msg=name)
        np.testing.assert_array_equal(resumed["model"][name], array, err_msg=name)
    assert [r["train_loss"] for r in resumed["history"]] == [r["train_loss"] for r in full["history"]]
    assert resumed["optimizer"]["state"] and full["epoch"] == resumed["epoch"] == 3


@needs_data
def test_checkpoint_round_trip_gives_identical_logits_and_predict_format(small_data, tmp_path):
    trainer = Trainer(config(small_data, tmp_path / "run", epochs=1, holdout=0.0), log=lambda text: None)
    trainer.fit()
    model, checkpoint = load_trained(tmp_path / "run" / "last.npz")
    features = trainer.data.valid.features
    np.testing.assert_array_equal(predict_proba(model, features), predict_proba(trainer.model, features))

    output = tmp_path / "predictions.csv"
    test_csv = small_data / REAL["test"].name
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "last.npz"), "--csv", str(test_csv),
                 "--output", str(output)]) == 0
    rows = list(csv.DictReader(open(output)))
    ids = unsw.read_table(test_csv, require_label=False)["id"].tolist()
    assert list(rows[0]) == ["id", "probability", "predicted_label"] and [int(r["id"]) for r in rows] == ids
    for row in rows:
        probability = float(row["probability"])
        assert 0 <= probability <= 1 and row["predicted_label"] == str(int(probability >= 0.5))
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / "last.npz"), "--data-dir", str(small_data)]) == 0


@needs_data
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(small_data, tmp_path, monkeypatch):
    trainer = Trainer(config(small_data, tmp_path / "run", epochs=2), log=lambda text: None)
    trainer.config.epochs = 1
    trainer.fit()
    good = load_checkpoint(tmp_path / "run" / "last.npz")
    trainer.config.epochs = 2
    trainer.model.head.bias.data[...] = np.nan
    with pytest.raises(TrainingDiverged, match="epoch 2"):
        trainer.fit()
    kept = load_checkpoint(tmp_path / "run" / "last.npz")
    assert kept["epoch"] == 1
    np.testing.assert_array_equal(kept["model"]["head.bias"], good["model"]["head.bias"])


def test_checkpoint_format_is_plain_arrays_and_json(tmp_path):
    state = {"model": {"a.weight": np.arange(6.0).reshape(2, 3)}, "step": 3, "nested": [{"m": np.ones(2)}, "x"],
             "rng": {"state": 2**100}}
    save_checkpoint(tmp_path / "c.npz", state)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:  # no pickles inside
        assert set(archive.files) == {"model/a.weight", "nested/0/m", "__meta__.json"}
    loaded = load_checkpoint(tmp_path / "c.npz")
    np.testing.assert_array_equal(loaded["model"]["a.weight"], state["model"]["a.weight"])
    assert loaded["step"] == 3 and loaded["nested"][1] == "x" and loaded["rng"]["state"] == 2**100
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left behind
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="bad.npz"):
        load_checkpoint(tmp_path / "bad.npz")


def test_config_validation_and_cli_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1)
    (tmp_path / "cfg.json").write_text(json.dumps({"dim": 8, "bogus": 1}))
    assert main(["--config", str(tmp_path / "cfg.json")]) == 1
    assert "bogus" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_model_options_reach_the_models_that_take_them():
    """--block/--kernel-size/--num-stages/--mixers-per-stage go to the conv models; setting one for a
    model without it is an error, and position embeddings are kept out of weight decay."""
    from mixer.models.conv import HybridMixer
    from mixer.training import make_model, make_optimizer

    default = make_model(TrainConfig(model="hybrid"), 2)
    chosen = make_model(TrainConfig(model="hybrid", block="resnet", kernel_size=5, num_stages=3, depth=6), 2)
    assert isinstance(chosen, HybridMixer)
    assert sum(p.numel() for p in chosen.parameters()) != sum(p.numel() for p in default.parameters())
    with pytest.raises(ValueError, match="--kernel-size does not apply to --model mlp-mixer"):
        make_model(TrainConfig(kernel_size=5), 2)
    with pytest.raises(ValueError, match="--block does not apply"):
        make_model(TrainConfig(model="convnext", block="resnet"), 2)
    model = make_model(TrainConfig(model="convnext"), 2)
    decayed = {id(p) for p in make_optimizer(TrainConfig(model="convnext"), model).param_groups[0]["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.ndim >= 2 and "embedding" not in name), name


def test_categorical_embedding_is_chosen_where_the_model_can_embed():
    """--categorical auto embeds proto/service/state in the MLP-Mixer, keeps them numeric for the conv models
    and for the pretrained paths, and an explicit impossible choice is an error naming the flag."""
    from mixer.training import make_model, make_optimizer

    assert TrainConfig().categorical == "embed"
    assert TrainConfig(model="convnext").categorical == "numeric"
    assert TrainConfig(init_from_mae="mae.npz").categorical == "numeric"
    assert TrainConfig(latent_noise=0.5, latent_model="vae.npz").categorical == "numeric"
    with pytest.raises(ValueError, match="--categorical embed does not apply to --model resnext"):
        TrainConfig(model="resnext", categorical="embed")
    with pytest.raises(ValueError, match="--categorical numeric"):
        TrainConfig(init_from_mae="mae.npz", categorical="embed")
    with pytest.raises(ValueError, match="categorical='sometimes'"):
        TrainConfig(categorical="sometimes")
    with pytest.raises(ValueError, match="category sizes"):
        make_model(TrainConfig(), 2)
    config = TrainConfig()
    model = make_model(config, 2, {1: 132, 2: 14, 3: 5})
    assert model.category_embedding.weight.shape == (151, config.dim)
    decayed = {id(p) for p in make_optimizer(config, model).param_groups[0]["params"]}
    assert id(model.category_embedding.weight) not in decayed
    assert "category_embedding" not in {name for name, _ in make_model(TrainConfig(categorical="numeric"),
                                                                         2).named_parameters()}
