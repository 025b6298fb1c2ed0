"""train.py end to end on small copies of the real data: learning, resume, predict, checkpoints."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import REAL, ctrl_c_in_epoch, needs_data, sample_folder

from mixer import data as unsw
from mixer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mixer.cli import main
from mixer.config import ConfigError, TrainConfig
from mixer.loop import TrainingDiverged
from mixer.run import Interrupted
from mixer.training import Trainer, load_trained, make_model, make_optimizer, predict_proba


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """600 training rows (every 30th, so both classes), 400 test rows, the 25 unlabelled rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(600, 30), test=(400, 10), unlabelled_rows=100)


def config(folder, out, **overrides):
    values = dict(dim=16, depth=2, patch_size=3, epochs=3, batch_size=32, lr=3e-3, warmup_epochs=0.5,
                  holdout=0.2, data_dir=str(folder), out=str(out), seed=3, drop_path=0.1, dropout=0.1)
    return TrainConfig.from_dict({**values, **overrides})


def lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def quiet(config):
    return Trainer(config, log=lambda text: None)


@needs_data
@pytest.mark.slow
def test_short_run_learns_and_writes_everything(small_data, tmp_path):
    printed = []
    trainer = Trainer(config(small_data, tmp_path / "run", epochs=4), log=printed.append)
    result = trainer.fit()
    out = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "loss_curves.png", "confusion_matrix.png", "best.npz", "last.npz",
                 "predictions_testing2.csv", "result.json"):
        assert (out / name).is_file(), name
    history = lines(out / "metrics.jsonl")
    assert [r["epoch"] for r in history] == [1, 2, 3, 4] and history[-1]["train"]["loss"] < history[0]["train"]["loss"]
    test_labels = unsw.read_table(small_data / REAL["test"].name, require_label=True)["label"].to_numpy()
    majority = max(test_labels.mean(), 1 - test_labels.mean())
    assert result["test"]["accuracy"] > majority
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "loss"} <= set(history[0]["test"])
    assert "valid" not in history[0] and "valid" not in result  # testing1 is the test file, named so
    assert "holdout" in history[0] and set(history[0]["updates"]) >= {"embed.proj", "head", "blocks.1.token_mixing.fc2"}
    # the console: where the data came from and where the results went, short aligned epoch lines
    assert f"data: {small_data.resolve()}" in printed[1] and printed[2] == f"output: {out}"
    epoch_lines = [line for line in printed if line.lstrip().startswith(("1/4", "2/4", "3/4", "4/4"))]
    assert len(epoch_lines) == 4 and max(map(len, epoch_lines)) <= 90
    assert len({line.index("|") for line in epoch_lines}) == 1  # aligned columns
    assert any(line.startswith("selected epoch") and "on test" in line for line in printed)
    assert printed[-1].startswith(f"results in {out}")
    # config.json: the resolved data folder, and only what applies to an mlp-mixer with a cosine schedule
    saved = json.loads((out / "config.json").read_text())
    assert saved["data"]["data_dir"] == str(small_data.resolve())
    assert "block" not in saved["model"] and "kernel_size" not in saved["model"] and "t0" not in saved["schedule"]
    assert "sam_rho" not in saved.get("sam", {}) and "out" not in saved.get("run", {})
    assert TrainConfig.from_dict(saved).flat() == {**trainer.config.flat(), "out": None}  # a --config file


@needs_data
@pytest.mark.slow
def test_seed_makes_runs_identical_and_resume_equals_uninterrupted(small_data, tmp_path, capsys):
    quiet(config(small_data, tmp_path / "full")).fit()
    cut = quiet(config(small_data, tmp_path / "cut"))
    ctrl_c_in_epoch(cut, 3)
    with pytest.raises(Interrupted) as stop:
        cut.fit()
    last = tmp_path / "cut" / "last.npz"
    assert stop.value.message == (f"interrupted in epoch 3 of 3: {last} keeps epoch 2; continue with: "
                                  f"python train.py --resume {last}")

    def without_time(path):
        return [{key: value for key, value in record.items() if key != "seconds"} for record in lines(path)]
    full_metrics = without_time(tmp_path / "full" / "metrics.jsonl")
    assert without_time(tmp_path / "cut" / "metrics.jsonl") == full_metrics[:2]  # the same seed, the same epochs
    assert main(["train", "--resume", str(last), "--out", str(tmp_path / "resumed")]) == 0
    full, resumed = load_checkpoint(tmp_path / "full" / "last.npz"), load_checkpoint(tmp_path / "resumed" / "last.npz")
    for name, array in full["model"].items():
        np.testing.assert_array_equal(resumed["model"][name], array, err_msg=name)
    assert without_time(tmp_path / "resumed" / "metrics.jsonl") == full_metrics  # one run's epochs, once each
    assert resumed["optimizer"]["state"] and full["epoch"] == resumed["epoch"] == 3
    # the selection went on over all epochs: the resumed folder's best.npz is the uninterrupted run's
    assert (load_checkpoint(tmp_path / "resumed" / "best.npz")["epoch"]
            == load_checkpoint(tmp_path / "full" / "best.npz")["epoch"])


@needs_data
@pytest.mark.slow
def test_resume_with_more_epochs_extends_a_finished_run_on_the_replanned_schedule(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    quiet(config(small_data, out, epochs=1)).fit()
    finished = load_checkpoint(out / "last.npz")
    assert finished["history"][-1]["lr"] == pytest.approx(1e-5)  # the 1-epoch cosine ended at eta_min
    assert main(["--resume", str(out / "last.npz"), "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "resuming" in printed and "extending the run to 3 epochs" in printed
    history = lines(out / "metrics.jsonl")
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert history[:1] == [json.loads(json.dumps(r)) for r in finished["history"]]  # the first epoch kept as it was
    expected = make_lr_curve(small_data, tmp_path / "planned", epochs=3)
    assert [r["lr"] for r in history[1:]] == pytest.approx(expected[1:])  # epochs 2-3 follow a 3-epoch schedule
    assert history[1]["lr"] > 10 * history[0]["lr"]
    assert load_checkpoint(out / "last.npz")["config"]["epochs"] == 3
    assert main(["--resume", str(out / "last.npz"), "--epochs", "2"]) == 1
    assert "--epochs 2 is fewer than the 3 epochs" in capsys.readouterr().err


def make_lr_curve(folder, out, epochs):
    """The learning rate at the end of each epoch of a run planned for `epochs` from the start."""
    trainer = quiet(config(folder, out, epochs=epochs))
    result = []
    for epoch in range(epochs):
        trainer.scheduler.step(epoch + 1)
        result.append(trainer.optimizer.param_groups[0]["lr"])
    return result


@needs_data
@pytest.mark.slow
def test_checkpoint_round_trip_gives_identical_logits_and_predict_format(small_data, tmp_path, capsys):
    trainer = quiet(config(small_data, tmp_path / "run", epochs=1, holdout=0.0))
    trainer.fit()
    model, checkpoint = load_trained(tmp_path / "run" / "last.npz")
    features = trainer.data.test.features
    np.testing.assert_array_equal(predict_proba(model, features), predict_proba(trainer.model, features))

    output = tmp_path / "predictions.csv"
    unlabelled = small_data / REAL["unlabelled"].name
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "last.npz"), "--csv", str(unlabelled),
                 "--output", str(output)]) == 0
    rows = list(csv.DictReader(open(output)))
    ids = unsw.read_table(unlabelled, require_label=False)["id"].tolist()
    assert list(rows[0]) == ["id", "probability", "predicted_label"] and [int(r["id"]) for r in rows] == ids
    for row in rows:
        probability = float(row["probability"])
        assert 0 <= probability <= 1 and row["predicted_label"] == str(int(probability >= 0.5))
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / "last.npz"), "--data-dir", str(small_data)]) == 0
    assert "test (" in capsys.readouterr().out


@needs_data
@pytest.mark.slow
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(small_data, tmp_path):
    trainer = quiet(config(small_data, tmp_path / "run", epochs=2))
    run_epoch = trainer.loop.train_epoch

    def poison_after_the_first_epoch(epochs):
        if trainer.loop.epoch == 1:
            trainer.model.head.bias.numpy()[...] = np.nan
        return run_epoch(epochs)
    trainer.loop.train_epoch = poison_after_the_first_epoch
    with pytest.raises(TrainingDiverged, match=r"nan at epoch 2, step 1; \S+last.npz keeps epoch 1"):
        trainer.fit()
    kept = load_checkpoint(tmp_path / "run" / "last.npz")
    assert kept["epoch"] == 1 and np.isfinite(kept["model"]["head.bias"]).all()


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


@pytest.mark.parametrize(("make", "message"), [
    (lambda path: path.write_bytes(b""), r"is empty \(0 bytes\): not a tinygrad_np checkpoint"),
    (lambda path: path.write_bytes(b"not a zip"), r"not a tinygrad_np checkpoint .* it holds text"),
    (lambda path: np.save(open(path, "wb"), np.array([{"a": 1}], dtype=object)),  # a pickle inside a .npy
     r"not a tinygrad_np checkpoint .* a single numpy array"),
    (lambda path: np.savez(open(path, "wb"), weights=np.ones(3)), r"a .npz archive, but not one written by train.py"),
    (lambda path: np.savez(open(path, "wb"), weights=np.array([{"a": 1}], dtype=object), **{"__meta__.json": b"{}"}),
     r"not a readable tinygrad_np checkpoint \(it holds Python objects\)"),
])
def test_files_that_are_not_checkpoints_get_one_clear_line(tmp_path, capsys, make, message):
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    assert main(["evaluate", "--checkpoint", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "allow_pickle" not in err


def test_a_checkpoint_of_another_kind_says_which_it_is(tmp_path, capsys):
    save_checkpoint(tmp_path / "mae.npz", {"format": "tinygrad_np-mixer-mae", "version": 1})
    assert main(["evaluate", "--checkpoint", str(tmp_path / "mae.npz")]) == 1
    assert "is an MAE checkpoint of `train.py pretrain-mae`, not a classifier checkpoint" in capsys.readouterr().err


def test_weights_that_do_not_fit_the_model_are_one_short_line(tmp_path):
    model = make_model(TrainConfig.from_dict({"dim": 8, "depth": 1, "categorical": "numeric"}), 2)
    state = model.state_dict()
    state["head.weight"] = np.zeros((3, 8), dtype=np.float32)
    del state["norm.bias"]
    from mixer.checkpoint import load_weights

    with pytest.raises(CheckpointError) as caught:
        load_weights(model, state, "x.npz")
    assert str(caught.value) == ("x.npz: the saved weights do not fit MLPMixer1D: 1 tensor(s) of another shape "
                                 "(first: head.weight is (3, 8) in the file, (1, 8) in the model); 1 missing (first: "
                                 "norm.bias)")


def test_model_options_reach_the_models_that_take_them():
    """--block/--kernel-size/--num-stages/--mixers-per-stage go to the conv models; setting one for a
    model without it is an error."""
    from mixer.models.conv import HybridMixer

    default = make_model(TrainConfig.from_dict({"model": "hybrid"}), 2)
    chosen = make_model(TrainConfig.from_dict(dict(model="hybrid", block="resnet", kernel_size=5, num_stages=3,
                                                   depth=6)), 2)
    assert isinstance(chosen, HybridMixer)
    assert sum(p.numel() for p in chosen.parameters()) != sum(p.numel() for p in default.parameters())
    with pytest.raises(ConfigError, match="--kernel-size does not apply to --model mlp-mixer"):
        TrainConfig.from_dict({"kernel_size": 5})
    with pytest.raises(ConfigError, match="--block does not apply to --model convnext"):
        TrainConfig.from_dict({"model": "convnext", "block": "resnet"})


def test_categorical_embedding_is_chosen_where_the_model_can_embed():
    """--categorical auto embeds proto/service/state in the MLP-Mixer, keeps them numeric for the conv models
    and for the pretrained paths, and an explicit impossible choice is an error naming the flag."""
    assert TrainConfig.from_dict({}).data.categorical == "embed"
    assert TrainConfig.from_dict({"model": "convnext"}).data.categorical == "numeric"
    assert TrainConfig.from_dict({"init_from_mae": "mae.npz"}).data.categorical == "numeric"
    assert TrainConfig.from_dict({"latent_noise": 0.5, "latent_model": "vae.npz"}).data.categorical == "numeric"
    with pytest.raises(ConfigError, match="--categorical embed does not apply to --model resnext"):
        TrainConfig.from_dict({"model": "resnext", "categorical": "embed"})
    with pytest.raises(ConfigError, match="--categorical numeric"):
        TrainConfig.from_dict({"init_from_mae": "mae.npz", "categorical": "embed"})
    with pytest.raises(ConfigError, match="--categorical sometimes: must be one of auto, embed, numeric"):
        TrainConfig.from_dict({"categorical": "sometimes"})
    with pytest.raises(ValueError, match="category sizes"):
        make_model(TrainConfig.from_dict({}), 2)
    config = TrainConfig.from_dict({})
    model = make_model(config, 2, {1: 132, 2: 14, 3: 5})
    assert model.category_embedding.weight.shape == (151, config.model.dim)
    decayed = {id(p) for p in make_optimizer(config, model).param_groups[0]["params"]}
    assert id(model.category_embedding.weight) not in decayed
    assert "category_embedding" not in {name for name, _ in make_model(
        TrainConfig.from_dict({"categorical": "numeric"}), 2).named_parameters()}
