"""Weight averaging: the EMA (timm's ModelEmaV3 decay warm-up) and SWA against their recursions written out in
float64, their state, and runs that evaluate, select, save and resume them."""

import json
import math

import numpy as np
import pytest
from unsw_sample import ctrl_c_in_epoch, needs_data, sample_folder

import tinygrad_np as tg
from mixer.averaging import SWA, ModelEma
from mixer.checkpoint import load_checkpoint
from mixer.cli import main
from mixer.config import ConfigError, TrainConfig
from mixer.run import Interrupted
from mixer.training import Trainer, evaluate, load_trained
from tinygrad_np import from_numpy, nn, no_grad


def small_model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))


def set_weights(model, rng):
    """New random weights in place (what an optimiser step does); returns them as float64 copies."""
    with no_grad():
        for p in model.parameters():
            p.copy_(from_numpy(rng.normal(size=p.shape).astype(np.float32)))
    return {name: p.numpy().astype(np.float64) for name, p in model.named_parameters()}


def test_ema_decay_warms_up_with_the_step_count_as_timm():
    ema = ModelEma(small_model(), decay=0.99)
    assert ema.decay_at(1) == 0.0  # the first update copies the weights
    assert ema.decay_at(2) == pytest.approx(1 - 2 ** (-2 / 3))
    assert ema.decay_at(101) == pytest.approx(1 - 101 ** (-2 / 3))  # 0.954: still below 0.99
    assert ema.decay_at(10**6) == 0.99  # capped at --ema
    plain = ModelEma(small_model(), decay=0.99, warmup=False)
    assert [plain.decay_at(t) for t in (1, 2, 50)] == [0.0, 0.99, 0.99]
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        ModelEma(small_model(), decay=1.0)


@pytest.mark.parametrize("warmup", [True, False])
def test_ema_follows_its_recursion(warmup):
    """ema_t = d_t ema_(t-1) + (1 - d_t) w_t over 30 steps of random weights, against float64 arithmetic."""
    model, rng = small_model(), np.random.default_rng(1)
    ema = ModelEma(model, decay=0.9, warmup=warmup)
    expected = None
    for t in range(1, 31):
        weights = set_weights(model, rng)
        ema.update()
        d = ema.decay_at(t)
        expected = weights if expected is None else {k: d * expected[k] + (1 - d) * w for k, w in weights.items()}
    assert ema.updates == 30
    for name, value in expected.items():
        np.testing.assert_allclose(ema.weights[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    last = set_weights(model, rng)
    assert not np.allclose(ema.weights["0.weight"], last["0.weight"])  # an average, not the last weights


def test_swa_is_the_mean_of_the_weights_it_saw():
    model, rng = small_model(), np.random.default_rng(2)
    swa = SWA(model)
    seen = []
    for _ in range(5):
        seen.append(set_weights(model, rng))
        swa.update()
    for name in seen[0]:
        np.testing.assert_allclose(swa.weights[name], np.mean([w[name] for w in seen], axis=0), rtol=1e-5, atol=1e-6)


def test_copy_to_and_state_continue_bit_for_bit():
    model, rng = small_model(), np.random.default_rng(3)
    ema = ModelEma(model, decay=0.95)
    for _ in range(4):
        set_weights(model, rng)
        ema.update()
    saved = ema.state_dict()
    again = ModelEma(model, decay=0.95)  # a fresh average of the same model, from the saved state
    again.load_state_dict(saved)
    for average in (ema, again):  # the same next steps from the saved state
        steps = np.random.default_rng(4)
        for _ in range(3):
            set_weights(model, steps)
            average.update()
    for name in ema.weights:
        np.testing.assert_array_equal(again.weights[name], ema.weights[name])
    target = ema.copy_to(small_model())
    for name, p in target.named_parameters():
        np.testing.assert_array_equal(p.numpy(), ema.weights[name])
    with pytest.raises(ValueError, match="other tensors"):
        ModelEma(nn.Linear(3, 4), 0.9).load_state_dict(saved)


def test_options_and_their_rules():
    config = TrainConfig.from_dict({"ema": 0.999, "swa_epochs": 3})
    assert config.applicable()["averaging"] == {"ema": 0.999, "ema_warmup": True, "swa_epochs": 3}
    with pytest.raises(ConfigError, match="--swa-epochs 30 must not be above --epochs 20"):
        TrainConfig.from_dict({"swa_epochs": 30})
    with pytest.raises(ConfigError, match="--ema-warmup does not apply without --ema"):
        TrainConfig.from_dict({"ema_warmup": False})
    with pytest.raises(ConfigError, match=r"--ema 1: must be in \[0, 1\)|--ema 1 must be in \[0, 1\)"):
        TrainConfig.from_dict({"ema": 1.0})


# -- runs ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(400, 45), test=(100, 40), unlabelled_rows=25)


def config(folder, out, **overrides):
    values = dict(dim=8, depth=1, epochs=2, batch_size=64, lr=3e-3, warmup_epochs=0.5, holdout=0.2,
                  data_dir=str(folder), out=str(out), seed=4)
    return TrainConfig.from_dict({**values, **overrides})


def quiet(config):
    return Trainer(config, log=lambda text: None)


OPTIONS = {"ema": 0.8, "swa_epochs": 2}  # SWA from epoch 1: its first average is the weights of epoch 1


@pytest.fixture(scope="module")
def averaged(small_data, tmp_path_factory):
    """A run with both averages, and its result."""
    trainer = quiet(config(small_data, tmp_path_factory.mktemp("averaged") / "run", **OPTIONS))
    return trainer, trainer.fit()


@needs_data
def test_averages_are_evaluated_selected_and_reported_without_changing_the_raw_run(small_data, averaged, tmp_path):
    plain = quiet(config(small_data, tmp_path / "plain"))
    plain.fit()
    trainer, result = averaged
    history = trainer.loop.history
    # the raw weights train exactly as without averages (the averages draw nothing from the run's random streams)
    for with_averages, without in zip(history, plain.loop.history, strict=True):
        assert with_averages["train"] == without["train"] and with_averages["holdout"] == without["holdout"]
    assert all("ema" in r and "swa" in r for r in history)
    assert history[0]["swa"]["holdout"] == history[0]["holdout"]  # an average of one epoch: its weights
    assert history[1]["ema"]["holdout"] != history[1]["holdout"]
    scores = {(r["epoch"], name): (r if name == "raw" else r[name])["holdout"]["roc_auc"] for r in history
              for name in ("raw", "ema", "swa")}
    best = max(scores.values())
    first_best = next(key for key in [(e, n) for e in (1, 2) for n in ("raw", "ema", "swa")] if scores[key] == best)
    assert (result["selected_epoch"], result["selected_weights"]) == first_best
    compared = result["weights_compared"]
    assert set(compared) == {"raw", "ema", "swa"}
    assert compared["swa"]["holdout_roc_auc"] == max(v for (_, n), v in scores.items() if n == "swa")
    folder = trainer.folder.path
    best_npz = load_checkpoint(folder / "best.npz")
    assert best_npz["selected_weights"] == result["selected_weights"]
    assert ("optimizer" in best_npz) == (result["selected_weights"] == "raw")  # an average is not resumable
    # the selected weights are the ones saved: best.npz reproduces the selected epoch's holdout metrics
    model, _ = load_trained(folder / "best.npz")
    epoch, weights = first_best
    record = history[epoch - 1] if weights == "raw" else history[epoch - 1][weights]
    assert evaluate(model, trainer.data.holdout)["roc_auc"] == record["holdout"]["roc_auc"]
    assert json.loads((folder / "result.json").read_text())["selected_weights"] == weights
    assert "selected_weights" not in json.loads((tmp_path / "plain" / "result.json").read_text())


@needs_data
def test_selection_takes_an_average_when_it_scores_best(small_data, tmp_path):
    """An EMA that is the raw weights shifted towards their start scores differently; forcing its score to the best
    makes best.npz hold the EMA weights and the report say so."""
    trainer = quiet(config(small_data, tmp_path / "run", ema=0.5))
    original = trainer.candidates
    trainer.candidates = lambda record: {**original(record), "ema": math.inf if record["epoch"] == 2 else -math.inf}
    result = trainer.fit()
    assert (result["selected_epoch"], result["selected_weights"]) == (2, "ema")
    best = load_checkpoint(tmp_path / "run" / "best.npz")
    for name, array in trainer.averages["ema"].weights.items():
        np.testing.assert_array_equal(best["model"][name], array)
    assert "optimizer" not in best
    assert main(["train", "--resume", str(tmp_path / "run" / "best.npz"), "--epochs", "3"]) == 1  # not resumable


@needs_data
def test_resume_restores_the_averages_bit_for_bit(small_data, averaged, tmp_path):
    full = averaged[0].folder.path
    cut = quiet(config(small_data, tmp_path / "cut", **OPTIONS))
    ctrl_c_in_epoch(cut, 2)
    with pytest.raises(Interrupted):
        cut.fit()
    assert main(["train", "--resume", str(tmp_path / "cut" / "last.npz"), "--out", str(tmp_path / "resumed")]) == 0
    expected, resumed = load_checkpoint(full / "last.npz"), load_checkpoint(tmp_path / "resumed" / "last.npz")
    for name in ("ema", "swa"):
        assert resumed["averages"][name]["updates"] == expected["averages"][name]["updates"]
        for key, array in expected["averages"][name]["weights"].items():
            np.testing.assert_array_equal(resumed["averages"][name]["weights"][key], array, err_msg=f"{name} {key}")
    assert resumed["averages"]["swa"]["updates"] == 2
    assert json.loads((tmp_path / "resumed" / "result.json").read_text()) == \
        json.loads((full / "result.json").read_text())
