"""train.py as a user meets it: the help, run folders that are never reused by accident (nor used by two runs at
once), errors that name the flag and the rule before anything is written, predict that never writes onto its inputs,
Ctrl-C, SIGTERM and kill -9."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import REAL, needs_data, sample_folder

from mixer.checkpoint import load_checkpoint, save_checkpoint
from mixer.cli import COMMANDS, PARSERS, main
from mixer.config import TrainConfig
from mixer.run import RunFolder
from mixer.training import Trainer

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dim", "8", "--depth", "1", "--batch-size", "64", "--seed", "2"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """300 training rows (every 60th), 100 test rows, 25 unlabelled rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(300, 60), test=(100, 40), unlabelled_rows=25)


def train(args, capsys):
    """main(args) -> (exit code, stdout, stderr)."""
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the help ----------------------------------------------------------------------------------------------------
def test_help_shows_the_train_flags_in_groups_with_real_choices(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for title in ("model:", "data:", "optimisation:", "schedule:", "regularisation:", "SAM and noisy updates:",
                  "pretrained models:", "run:"):
        assert f"\n{title}\n" in text, title
    assert "--model {mlp-mixer,convnext,hybrid,resnext}" in text
    assert "--scheduler {none,cosine,sharp-cosine,warm-restarts}" in text
    assert "$UNSW_NB15_DIR, then data/unsw-nb15, then" in " ".join(text.split())  # --data-dir's search order
    assert "evaluate, predict, import-seed-checkpoint, pretrain-mae" in " ".join(text.split())
    with pytest.raises(SystemExit):
        main(["--model", "transformer"])
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_of_every_command_has_help(command):
    parser = PARSERS[command]()
    for action in parser._actions:
        assert action.help and action.help.strip(), f"{command}: {action.option_strings or action.dest} has no help"


# -- configuration errors, before anything is written ------------------------------------------------------------
@pytest.mark.parametrize(("flags", "expected"), [
    (["--epochs", "1", "--warmup-epochs", "1"], "--warmup-epochs 1 must be shorter than --epochs 1"),
    (["--lr", "0"], "--lr 0 must be > 0"),
    (["--drop-path", "2"], "--drop-path 2 must be in [0, 1)"),
    (["--eval-batch-size", "0"], "--eval-batch-size 0 must be >= 1"),
    (["--eta-min", "0.1"], "--eta-min 0.1 must not be above --lr 0.002"),
    (["--t0", "3"], "--t0 does not apply to --scheduler cosine (only to --scheduler warm-restarts)"),
    (["--resume", "x.npz", "--dim", "8"], "only --epochs (to extend it), --data-dir and --out may be given, not --dim"),
])
def test_configuration_errors_name_the_flags_and_the_rule_and_write_nothing(flags, expected, tmp_path, capsys,
                                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = train(flags, capsys)
    assert code == 1 and expected in err and err.startswith("error: ") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # not even runs/


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("cfg.json", '{"dim": "sixteen"}', "key 'dim' (--dim) must be an integer, not 'sixteen' (a string)"),
    ("cfg.toml", 'lr = "fast"', "key 'lr' (--lr) must be a number, not 'fast' (a string)"),
    ("cfg.toml", "[model]\nlr = 0.1", "key 'lr' belongs in [optimisation], not [model]"),
    ("cfg.json", '{"dim": 8, "bogus": 1}', "unknown key 'bogus'"),
    ("cfg.json", '{"warmup_epoch": 1}', "unknown key 'warmup_epoch' (did you mean 'warmup_epochs'?)"),
    ("cfg.json", '{"freeze-encoder": 1}', "key 'freeze-encoder' (--freeze-encoder) must be true or false, not 1"),
    ("cfg.json", '{"dim": 8,', "config file"),
])
def test_a_config_file_with_a_wrong_key_or_type_names_the_file_key_and_type(name, text, expected, tmp_path, capsys,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    code, _, err = train(["--config", name], capsys)
    assert code == 1 and expected in err and "Traceback" not in err
    assert f"config file {name}" in err


def test_grouped_and_flat_config_files_give_the_same_configuration(tmp_path):
    from mixer.config import read_config_file

    (tmp_path / "flat.json").write_text(json.dumps({"dim": 16, "warmup-epochs": 0.5, "lr": 1}))
    (tmp_path / "grouped.toml").write_text("[model]\ndim = 16\n[schedule]\nwarmup_epochs = 0.5\n"
                                           "[optimisation]\nlr = 1\n")
    flat = TrainConfig.from_dict(read_config_file(tmp_path / "flat.json"))
    grouped = TrainConfig.from_dict(read_config_file(tmp_path / "grouped.toml"))
    assert flat == grouped and flat.optimisation.lr == 1.0 and isinstance(flat.optimisation.lr, float)


# -- run folders -------------------------------------------------------------------------------------------------
@needs_data
@pytest.mark.slow
def test_one_epoch_trains_into_a_fresh_folder_named_at_start_and_end(small_data, tmp_path, capsys, monkeypatch):
    """--epochs 1 is shorter than the default warm-up: the warm-up is shortened and the run says so. Without --out
    each run gets its own folder."""
    monkeypatch.chdir(tmp_path)
    code, out, err = train(["--epochs", "1", "--data-dir", str(small_data), *TINY], capsys)
    assert code == 0, err
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.endswith("-mlp-mixer")
    folder = Path("runs") / folders[0].name
    assert f"output: {folder}" in out and f"results in {folder}:" in out
    assert "shortened to 0.5 epochs" in out
    assert json.loads((folder / "config.json").read_text())["schedule"]["warmup_epochs"] == 0.5
    assert [json.loads(line)["epoch"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == [1]
    first, second = RunFolder.fresh(None, "mlp-mixer"), RunFolder.fresh(None, "mlp-mixer")
    first.create()
    third = RunFolder.fresh(None, "mlp-mixer")
    assert first.path == second.path != third.path and not third.path.exists()  # never an existing folder


@needs_data
@pytest.mark.slow
def test_an_existing_run_is_never_overwritten_or_mixed(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--epochs", "2", "--warmup-epochs", "0.5", "--data-dir", str(small_data), "--out", str(out), *TINY]
    assert train(args, capsys)[0] == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    code, _, err = train(["--epochs", "3", "--dim", "16", *args[2:]], capsys)  # the typo'd second run
    assert code == 1 and f"--out {out} is not empty" in err and "--overwrite" in err and "--resume" in err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # not a byte changed
    code, _, err = train([*args, "--data-dir", str(tmp_path / "nowhere")], capsys)
    assert code == 1 and {path.name: path.read_bytes() for path in out.iterdir()} == before

    # resuming in place from an earlier checkpoint would replace the later epochs: refused unless --overwrite
    earlier = load_checkpoint(out / "last.npz")
    earlier["epoch"], earlier["history"] = 1, earlier["history"][:1]
    save_checkpoint(out / "epoch1.npz", earlier)
    code, _, err = train(["--resume", str(out / "epoch1.npz")], capsys)
    assert code == 1 and "resuming here would replace" in err and "--overwrite" in err
    (out / "epoch1.npz").unlink()

    (out / "notes.txt").write_text("mine")
    code, printed, err = train(["--epochs", "1", *args[2:], "--overwrite"], capsys)
    assert code == 0, err
    assert "--overwrite: removed the previous run's" in printed
    assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1]
    assert load_checkpoint(out / "last.npz")["config"]["epochs"] == 1 and (out / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def trained(small_data, tmp_path_factory):
    """A 1-epoch run of the tiny model on the small data."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["--epochs", "1", "--data-dir", str(small_data), "--out", str(out), *TINY]) == 0
    return out


@needs_data
@pytest.mark.slow
def test_predict_never_writes_onto_its_input_a_checkpoint_or_a_folder(small_data, trained, tmp_path, capsys):
    out = trained
    rows = small_data / REAL["unlabelled"].name
    original = rows.read_bytes()
    checkpoint = out / "best.npz"
    kept = checkpoint.read_bytes()

    def predict(output, *extra):
        return train(["predict", "--checkpoint", str(checkpoint), "--csv", str(rows), "--output", str(output),
                      *extra], capsys)

    for target, expected in ((rows, "is the --csv file"), (checkpoint, "is the --checkpoint file"),
                             (out / "last.npz", "is a checkpoint"), (out, "is a folder")):
        code, _, err = predict(target, "--overwrite")
        assert code == 1 and expected in err, err
    assert rows.read_bytes() == original and checkpoint.read_bytes() == kept
    assert predict(tmp_path / "p.csv")[0] == 0
    code, _, err = predict(tmp_path / "p.csv")
    assert code == 1 and "exists; pass --overwrite" in err
    assert predict(tmp_path / "p.csv", "--overwrite")[0] == 0


@needs_data
@pytest.mark.slow
def test_predict_warns_in_one_line_per_kind_about_rows_unlike_the_training_rows(small_data, trained, tmp_path,
                                                                                 capsys):
    out = trained
    header, *rows = (small_data / REAL["unlabelled"].name).read_text().splitlines()
    columns = header.split(",")
    odd = []
    for number, row in enumerate(rows[:6]):
        cells = row.split(",")
        if number < 2:
            cells[columns.index("state")] = "NEW"
        if number == 3:
            cells[columns.index("sbytes")] = "1e15"
        odd.append(",".join(cells))
    (tmp_path / "odd.csv").write_text("\n".join([header, *odd]) + "\n")
    code, _, err = train(["predict", "--checkpoint", str(out / "best.npz"), "--csv", str(tmp_path / "odd.csv"),
                          "--output", str(tmp_path / "p.csv")], capsys)
    assert code == 0
    warnings = err.splitlines()
    assert any("categories never seen in training" in line and "state 'NEW' x2" in line for line in warnings)
    assert any("far outside the training range" in line and "sbytes 1 row(s)" in line for line in warnings)
    assert all(line.startswith("warning: ") for line in warnings)


# -- Ctrl-C and kill -9 ------------------------------------------------------------------------------------------
def start(args, cwd):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


@needs_data
@pytest.mark.slow
def test_of_two_runs_on_one_folder_one_refuses_and_ctrl_c_stops_the_other_with_the_resume_line(small_data, tmp_path):
    """Two runs started at the same moment with the same --out: one refuses in one line naming the other's process;
    Ctrl-C then stops the other (exit 130) with one line saying what is saved and how to continue, and releases the
    folder. metrics.jsonl holds each epoch once."""
    out = tmp_path / "run"
    args = ["--epochs", "1000", "--warmup-epochs", "0", "--data-dir", str(small_data), "--out", str(out), *TINY]
    first, second = start(args, tmp_path), start(args, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while first.poll() is None and second.poll() is None:
            assert time.monotonic() < deadline, "neither run ended"
            time.sleep(0.02)
        loser, winner = (first, second) if first.poll() is not None else (second, first)
        _, refusal = loser.communicate()
        assert loser.returncode == 1 and refusal.count("\n") == 1, refusal
        assert refusal.startswith(f"error: --out {out} is in use by process {winner.pid} on host "
                                  f"{socket.gethostname()}, started ")
        wait_for(out / "last.npz", winner)
        winner.send_signal(signal.SIGINT)
        _, stderr = winner.communicate(timeout=60)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert winner.returncode == 130, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    saved = load_checkpoint(out / "last.npz")["epoch"]
    assert stderr.strip().endswith(f"{out / 'last.npz'} keeps epoch {saved}; continue with: "
                                   f"python train.py --resume {out / 'last.npz'}")
    assert stderr.startswith(f"interrupted in epoch {saved + 1} of 1000")
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, saved + 1))
    assert sorted(os.listdir(out)) == ["best.npz", "config.json", "last.npz", "metrics.jsonl"]  # lock released


@needs_data
@pytest.mark.slow
def test_resume_after_kill_9_or_sigterm_ends_bit_identical_to_the_uninterrupted_run(small_data, tmp_path, capsys):
    """kill -9 right after the first epoch was saved; SIGTERM at a random moment after it (in the second epoch or
    while the results are written). SIGTERM exits 143 with the one line that continues the run, and leaves its
    folder whole: no temporary file, no lock, a metrics line for each epoch last.npz holds. kill -9 leaves a stale
    lock, which the resumed run takes over."""
    args = ["--epochs", "2", "--warmup-epochs", "0.5", "--data-dir", str(small_data), *TINY]
    killed, stopped = tmp_path / "killed", tmp_path / "stopped"
    processes = {killed: start([*args, "--out", str(killed)], tmp_path),
                 stopped: start([*args, "--out", str(stopped)], tmp_path)}
    wait_for(killed / "last.npz", processes[killed])
    processes[killed].send_signal(signal.SIGKILL)
    processes[killed].communicate(timeout=60)
    assert processes[killed].returncode == -signal.SIGKILL
    assert load_checkpoint(killed / "last.npz")["epoch"] == 1  # killed before the end
    wait_for(stopped / "last.npz", processes[stopped])
    delay = random.uniform(0.0, 0.3)
    time.sleep(delay)
    processes[stopped].send_signal(signal.SIGTERM)
    _, stderr = processes[stopped].communicate(timeout=60)
    last = stopped / "last.npz"
    assert processes[stopped].returncode == 143, (delay, stderr)
    assert stderr.startswith("interrupted by SIGTERM ") and stderr.count("\n") == 1, (delay, stderr)
    assert stderr.endswith(f"{last} keeps epoch {load_checkpoint(last)['epoch']}; "
                           f"{'write them' if 'the last epoch' in stderr else 'continue'} with: python train.py "
                           f"--resume {last}\n"), (delay, stderr)
    assert sorted(os.listdir(stopped)) == ["best.npz", "config.json", "last.npz", "metrics.jsonl"], delay
    assert [json.loads(line)["epoch"] for line in (stopped / "metrics.jsonl").read_text().splitlines()] == list(
        range(1, load_checkpoint(last)["epoch"] + 1)), delay

    code, printed, _ = train(["--resume", str(killed / "last.npz")], capsys)  # in its own folder
    assert code == 0 and f"note: {killed} held the lock of process {processes[killed].pid} on host " in printed
    assert train(["--resume", str(last)], capsys)[0] == 0
    assert train([*args, "--out", str(tmp_path / "whole")], capsys)[0] == 0
    whole = load_checkpoint(tmp_path / "whole" / "last.npz")
    for folder in (killed, stopped):
        resumed = load_checkpoint(folder / "last.npz")
        assert resumed["epoch"] == whole["epoch"] == 2
        for name, array in whole["model"].items():
            np.testing.assert_array_equal(resumed["model"][name], array, err_msg=f"{folder.name}: {name}")
        assert [r["epoch"] for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())] == [1, 2]
        assert (folder / "result.json").is_file() and not (folder / ".lock").exists()


@needs_data
def test_a_trainer_validates_everything_before_writing(small_data, tmp_path):
    """A model that cannot be built (here: a hybrid too shallow for its stages) fails before the folder exists."""
    with pytest.raises(ValueError, match="depth"):
        Trainer(TrainConfig.from_dict({"model": "hybrid", "depth": 1, "data_dir": str(small_data),
                                       "out": str(tmp_path / "run")}), log=lambda text: None)
    assert not (tmp_path / "run").exists()


def test_a_folder_holding_no_epoch_may_be_used_again_one_holding_epochs_may_not(tmp_path):
    """A run stopped before its first epoch leaves config.json and an empty metrics.jsonl: nothing to lose."""
    from mixer.run import RunFolderError

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "metrics.jsonl").write_text("")
    folder = RunFolder.fresh(str(tmp_path), "mlp-mixer")
    assert sorted(path.name for path in folder.replace) == ["config.json", "metrics.jsonl"]
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n')
    with pytest.raises(RunFolderError, match="is not empty"):
        RunFolder.fresh(str(tmp_path), "mlp-mixer")
    (tmp_path / "metrics.jsonl").write_text("")
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(RunFolderError, match="is not empty"):
        RunFolder.fresh(str(tmp_path), "mlp-mixer")
