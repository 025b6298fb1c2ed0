"""Importing checkpoints of the original numpy code: same logits, Adam state kept, clear errors, no
unpickling without trust, and the `import-seed-checkpoint` subcommand end to end."""

import csv
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixer import data as unsw
from mixer import seed_import
from mixer.checkpoint import CLASSIFIER, load_checkpoint
from mixer.cli import main
from mixer.seed_import import SeedCheckpointError, import_seed_checkpoint, read_seed_checkpoint
from mixer.training import TrainConfig, load_trained, loss_fn, make_model, make_optimizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT.parent / "shared" / "fixtures" / "seed-checkpoint"
ORIGINAL = FIXTURE / "mlpmixer16_patch3_depth2.npy"
SHAPE = {"dim": 16, "depth": 2, "patch_size": 3}
needs_fixture = pytest.mark.skipif(not ORIGINAL.is_file(), reason=f"seed fixture not found at {FIXTURE}")

try:
    REAL = unsw.dataset_files(unsw.find_data_dir())
except unsw.DataError:
    REAL = None


def original_steps():
    """Adam step count of every parameter in the fixture, in file order (3, and 6 for block LayerNorms)."""
    state = read_seed_checkpoint(ORIGINAL, trust_pickle=True)["optimizer_state"]
    return [entry["step"] for entry in state.values()]


@needs_fixture
def test_imported_model_gives_the_original_logits(tmp_path):
    out = tmp_path / "imported.npz"
    import_seed_checkpoint(ORIGINAL, **SHAPE, out=out, trust_pickle=True)
    model, checkpoint = load_trained(out)
    expected = np.load(FIXTURE / "expected.npz")
    np.testing.assert_allclose(model(expected["inputs"]).numpy(), expected["logits"], rtol=0, atol=1e-5)
    assert checkpoint["config"]["optimizer"] == "adam" and checkpoint["config"]["preprocess"] == "seed"
    assert checkpoint["preprocessing"] is None and checkpoint["epoch"] == 0
    # the classifier checkpoint schema that training writes (mixer.checkpoint.make_checkpoint), plus its origin
    assert checkpoint["format"] == CLASSIFIER and set(checkpoint) == {
        "format", "version", "config", "model", "preprocessing", "epoch", "history", "optimizer", "scheduler", "rng",
        "class_names", "best_score", "imported_from"}


@needs_fixture
def test_an_imported_checkpoint_without_preprocessing_says_how_to_evaluate_with_it(tmp_path, capsys):
    out = tmp_path / "imported.npz"
    import_seed_checkpoint(ORIGINAL, **SHAPE, out=out, trust_pickle=True)
    assert main(["evaluate", "--checkpoint", str(out), "--csv", str(ORIGINAL)]) == 1
    assert "holds no preprocessing (imported without --data-dir): import it again with --data-dir" in (
        capsys.readouterr().err)
    with pytest.raises(SeedCheckpointError, match="already exists"):  # never onto an existing file
        import_seed_checkpoint(ORIGINAL, **SHAPE, out=out, trust_pickle=True)
    with pytest.raises(SeedCheckpointError, match="is a folder"):
        import_seed_checkpoint(ORIGINAL, **SHAPE, out=tmp_path, trust_pickle=True)


@needs_fixture
def test_training_continues_from_the_imported_adam_state(tmp_path):
    """Step counts are kept per parameter, betas (0.9, 0.99) and eps 1e-8 restored, and one more Adam step
    moves every parameter exactly as Adam would from the original's moments."""
    out = tmp_path / "imported.npz"
    import_seed_checkpoint(ORIGINAL, **SHAPE, out=out, trust_pickle=True)
    model, checkpoint = load_trained(out)
    optimizer = make_optimizer(TrainConfig.from_dict(checkpoint["config"]), model)
    optimizer.load_state_dict(checkpoint["optimizer"])
    params = list(model.parameters())
    steps = original_steps()
    assert [optimizer.state[id(p)]["step"] for p in params] == steps
    assert set(steps) == {3, 6}
    assert all(g["betas"] == (0.9, 0.99) and g["eps"] == 1e-8 and g["lr"] == 1e-3 for g in optimizer.param_groups)

    moments = [(optimizer.state[id(p)]["exp_avg"].astype(np.float64), optimizer.state[id(p)]["exp_avg_sq"]
                .astype(np.float64)) for p in params]
    before = [p.numpy().astype(np.float64) for p in params]
    expected = np.load(FIXTURE / "expected.npz")
    loss_fn(model.train()(expected["inputs"]), expected["labels"]).backward()
    grads = [p.grad.astype(np.float64) for p in params]
    optimizer.step()

    for p, step, (m, v), start, g in zip(params, steps, moments, before, grads, strict=True):
        t = step + 1
        assert optimizer.state[id(p)]["step"] == t
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g * g
        update = 1e-3 / (1 - 0.9**t) * m / (np.sqrt(v) / math.sqrt(1 - 0.99**t) + 1e-8)
        np.testing.assert_allclose(p.numpy(), start - update, rtol=1e-5, atol=1e-7)


@needs_fixture
@pytest.mark.parametrize("shape, message", [
    ({"dim": 18, "depth": 2, "patch_size": 3},
     r"parameter 0 does not fit: 'Linear_weight_140649403305200' in the file has shape \(16, 3\), "
     r"embed.proj.weight here expects \(18, 3\)"),
    ({"dim": 16, "depth": 2, "patch_size": 4}, r"parameter 0 .*\(16, 3\).*proj.weight here expects \(16, 4\)"),
    ({"dim": 16, "depth": 1, "patch_size": 3},
     r"parameter 16 does not fit: 'Linear_weight_140649403302416' .* \(56, 14\), head.weight here expects \(1, 16\)"),
])
def test_a_model_that_does_not_fit_names_the_first_parameter(tmp_path, shape, message):
    out = tmp_path / "imported.npz"
    with pytest.raises(SeedCheckpointError, match=message):
        import_seed_checkpoint(ORIGINAL, **shape, out=out, trust_pickle=True)
    assert not out.exists()


@needs_fixture
def test_a_file_with_fewer_parameters_names_the_missing_one(tmp_path):
    original = read_seed_checkpoint(ORIGINAL, trust_pickle=True)
    keys = list(original["model_state"])[:-2]
    truncated = {"model_state": {k: original["model_state"][k] for k in keys},
                 "optimizer_state": dict(list(original["optimizer_state"].items())[:-2])}
    path = tmp_path / "truncated.npy"
    np.save(path, truncated)  # np.save pickles object arrays by default
    with pytest.raises(SeedCheckpointError, match=r"parameter 28 does not fit: the file has 28 parameters, the model "
                                                  r"30; the file ends there, head.weight here expects shape \(1, 16\)"):
        import_seed_checkpoint(path, **SHAPE, out=tmp_path / "out.npz", trust_pickle=True)


@needs_fixture
def test_without_trust_nothing_is_read_or_unpickled(tmp_path, monkeypatch, capsys):
    def forbidden(*args, **kwargs):
        raise AssertionError("the file was opened or unpickled without trust_pickle")

    monkeypatch.setattr(seed_import, "open", forbidden, raising=False)
    monkeypatch.setattr(seed_import.ArraysOnlyUnpickler, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    for call in (lambda: read_seed_checkpoint(ORIGINAL, trust_pickle=False),
                 lambda: import_seed_checkpoint(ORIGINAL, **SHAPE, out=tmp_path / "a.npz", trust_pickle=False)):
        with pytest.raises(SeedCheckpointError, match=r"pickle.*can run any code.*--trust-pickle"):
            call()
    assert main(["import-seed-checkpoint", str(ORIGINAL), "--dim", "16", "--depth", "2", "--patch-size", "3",
                 "--out", str(tmp_path / "b.npz")]) == 1
    assert "--trust-pickle" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


CALLS = []


def record_call():
    CALLS.append("called")


class Payload:
    def __reduce__(self):
        return record_call, ()


def test_even_with_trust_only_arrays_and_containers_are_unpickled(tmp_path):
    path = tmp_path / "malicious.npy"
    np.save(path, {"model_state": {"Linear_weight_1": Payload()}})  # np.save pickles object arrays by default
    with pytest.raises(SeedCheckpointError, match=r"refusing to load \S*record_call"):
        read_seed_checkpoint(path, trust_pickle=True)
    assert CALLS == []


def test_files_that_are_not_checkpoints_of_the_original_code(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(SeedCheckpointError, match=r"holds a float64 array of shape \(3,\)"):
        read_seed_checkpoint(tmp_path / "plain.npy", trust_pickle=True)
    (tmp_path / "text.npy").write_text("hello")
    with pytest.raises(SeedCheckpointError, match="is not a .npy file"):
        read_seed_checkpoint(tmp_path / "text.npy", trust_pickle=True)
    np.save(tmp_path / "list.npy", {"weights": []})  # np.save pickles object arrays by default
    with pytest.raises(SeedCheckpointError, match=r"expected a dict with 'model_state'.*found \['weights'\]"):
        read_seed_checkpoint(tmp_path / "list.npy", trust_pickle=True)
    with pytest.raises(SeedCheckpointError, match="does not exist"):
        read_seed_checkpoint(tmp_path / "missing.npy", trust_pickle=True)


@needs_fixture
@pytest.mark.slow
def test_cli_imports_and_the_result_loads(tmp_path):
    out = tmp_path / "imported.npz"
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "import-seed-checkpoint", str(ORIGINAL),
                             "--dim", "16", "--depth", "2", "--patch-size", "3", "--out", str(out), "--trust-pickle"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 30 parameters" in result.stdout and "step counts [3, 6]" in result.stdout
    assert "no preprocessing stored" in result.stdout
    model, _ = load_trained(out)
    expected = np.load(FIXTURE / "expected.npz")
    np.testing.assert_allclose(model(expected["inputs"]).numpy(), expected["logits"], rtol=0, atol=1e-5)


def copy_rows(source: Path, target: Path, step: int) -> None:
    with open(source, newline="") as file_in, open(target, "w", newline="") as file_out:
        writer = csv.writer(file_out)
        for i, row in enumerate(csv.reader(file_in)):
            if i == 0 or i % step == 0:
                writer.writerow(row)


@needs_fixture
@pytest.mark.skipif(REAL is None, reason="UNSW-NB15 CSVs not found")
@pytest.mark.slow
def test_cli_import_with_data_then_evaluate_and_resume(tmp_path, capsys):
    """With --data-dir the imported checkpoint holds the preprocessing: `evaluate` works, and `--resume`
    trains on from the imported Adam state (every step count grows by the same number of steps)."""
    data = tmp_path / "unsw"
    data.mkdir()
    for path in REAL.values():
        if path is not None:
            copy_rows(path, data / path.name, step=20)
    out = tmp_path / "imported.npz"
    assert main(["import-seed-checkpoint", str(ORIGINAL), "--dim", "16", "--depth", "2", "--patch-size", "3",
                 "--out", str(out), "--trust-pickle", "--data-dir", str(data), "--epochs", "1"]) == 0
    assert "no preprocessing" not in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out

    assert main(["--resume", str(out), "--out", str(tmp_path / "run")]) == 0
    last = load_checkpoint(tmp_path / "run" / "last.npz")
    assert last["epoch"] == 1
    model = make_model(TrainConfig.from_dict(last["config"]), len(last["class_names"]))
    optimizer = make_optimizer(TrainConfig.from_dict(last["config"]), model)
    optimizer.load_state_dict(last["optimizer"])
    grown = {optimizer.state[id(p)]["step"] - before for p, before in zip(model.parameters(), original_steps(),
                                                                          strict=True)}
    assert len(grown) == 1 and grown.pop() > 0
