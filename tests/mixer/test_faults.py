"""What a run meets on a shared machine, and what a newcomer meets on the command line: stop signals (SIGTERM,
SIGHUP) handled like Ctrl-C and never in the middle of a write, one run per folder, writes the operating system
refuses (permissions, a file size limit) as one line with what to do, files that keep the user's umask, compressed
CSVs read as pandas reads them; mistyped flags and commands, --debug, the "no data" and "not empty" messages.
(test_cli.py has the subprocess runs stopped by SIGINT, SIGTERM and kill -9, and two runs racing on one folder.)"""

import bz2
import ctypes
import errno
import gzip
import json
import lzma
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from unsw_sample import REAL, needs_data, sample_folder

from mixer import cli
from mixer.checkpoint import atomic_write, load_checkpoint, save_checkpoint
from mixer.cli import main
from mixer.data import DataError, dataset_files, files, find_data_dir, read_table
from mixer.errors import WriteError
from mixer.lock import LOCK_NAME, FolderInUse, FolderLock
from mixer.run import RunFolder, RunFolderError
from mixer.signals import Stopped, stop_signals
from mixer.training import Trainer, write_predictions

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dim", "8", "--depth", "1", "--batch-size", "64", "--seed", "2"]
RUN_OUTPUTS = ["best.npz", "config.json", "confusion_matrix.png", "last.npz", "loss_curves.png", "metrics.jsonl",
               "predictions_testing2.csv", "reliability.png", "result.json"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """300 training rows (every 60th), 100 test rows, 25 unlabelled rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(300, 60), test=(100, 40), unlabelled_rows=25)


@pytest.fixture(scope="module")
def finished(small_data, tmp_path_factory):
    """A finished 1-epoch run of the tiny model on the plain CSVs."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["--epochs", "1", "--data-dir", str(small_data), "--out", str(out), *TINY]) == 0
    return out


def run(args, capsys):
    """main(args) -> (exit code, stdout, stderr)."""
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def start(args, cwd, **options):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


def wait_for(path, process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


def modes(folder):
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()}


COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


def compress(source: Path, target: Path) -> Path:
    """`source` compressed as its suffix says, with the compressors of the standard library (a zip holds one file)."""
    if target.suffix == ".zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(source, source.name)
    else:
        target.write_bytes(COMPRESSORS[target.suffix](source.read_bytes()))
    return target


# -- stop signals ------------------------------------------------------------------------------------------------
def test_a_signal_during_a_write_waits_for_it_and_ctrl_c_outside_train_py_abandons_it(tmp_path):
    path = tmp_path / "state.bin"
    path.write_bytes(b"old")

    def write(file):
        file.write(b"new ")
        os.kill(os.getpid(), signal.SIGTERM)  # handled at once, in the middle of the write
        file.write(b"state")

    with pytest.raises(Stopped) as stop, stop_signals():
        atomic_write(path, write)
    assert stop.value.exit_code == 143 and path.read_bytes() == b"new state"
    assert os.listdir(tmp_path) == ["state.bin"]

    def interrupted(file):  # the package used from Python: Ctrl-C is Python's KeyboardInterrupt, wherever it lands
        file.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert path.read_bytes() == b"new state" and os.listdir(tmp_path) == ["state.bin"]

    def full(file):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(WriteError) as refused:
        atomic_write(path, full)
    assert str(refused.value) == f"cannot write {path}: No space left on device (the disk is full)"
    assert path.read_bytes() == b"new state" and os.listdir(tmp_path) == ["state.bin"]


@needs_data
@pytest.mark.slow
def test_a_signal_at_the_end_of_an_epoch_waits_until_its_checkpoints_and_metrics_are_written(small_data, tmp_path,
                                                                                            capsys, monkeypatch):
    """SIGHUP (a closed terminal) arrives just before the epoch's checkpoints are written: they and its metrics line
    are written, then the run stops (exit 129) with the line that continues it. Written under umask 022: every file
    0o644."""
    original = Trainer.save

    def save(self, record):
        os.kill(os.getpid(), signal.SIGHUP)
        return original(self, record)

    def not_handled(signum, frame):
        raise AssertionError("train.py did not handle SIGHUP")

    monkeypatch.setattr(Trainer, "save", save)
    out = tmp_path / "run"
    previous, umask = signal.signal(signal.SIGHUP, not_handled), os.umask(0o022)
    try:
        code, _, err = run(["--epochs", "3", "--warmup-epochs", "0", "--data-dir", str(small_data), "--out", str(out),
                            *TINY], capsys)
    finally:
        signal.signal(signal.SIGHUP, previous)
        os.umask(umask)
    last = out / "last.npz"
    assert code == 129
    assert err == (f"interrupted by SIGHUP in epoch 2 of 3: {last} keeps epoch 1; continue with: python train.py "
                   f"--resume {last}\n")
    assert load_checkpoint(last)["epoch"] == 1
    assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1]
    assert modes(out) == dict.fromkeys(["best.npz", "config.json", "last.npz", "metrics.jsonl"], 0o644)  # no lock


# -- one run per folder ------------------------------------------------------------------------------------------
def test_a_stale_lock_is_taken_over_a_live_one_refused_and_a_released_one_gone(tmp_path):
    assert FolderLock.holder(tmp_path) is None
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 12345, "host": "elsewhere"}))  # nobody holds its flock
    assert FolderLock.holder(tmp_path) is None
    first = FolderLock(tmp_path)
    first.acquire()
    assert first.took_over == {"pid": 12345, "host": "elsewhere"}
    assert FolderLock.holder(tmp_path)["pid"] == os.getpid()
    with pytest.raises(FolderInUse, match=f"{tmp_path} is in use by process {os.getpid()} on host "):
        FolderLock(tmp_path).acquire()
    first.release()
    assert os.listdir(tmp_path) == [] and FolderLock.holder(tmp_path) is None
    second = FolderLock(tmp_path)
    second.acquire()
    assert second.took_over is None
    second.release()


@needs_data
@pytest.mark.slow
def test_every_kind_of_run_refuses_a_folder_in_use_before_reading_anything(finished, capsys):
    before = {path.name: path.read_bytes() for path in finished.iterdir()}
    lock = FolderLock(finished)
    lock.acquire()
    try:
        for args in (["--out", str(finished), "--overwrite"], ["--resume", str(finished / "last.npz")],
                     ["--cv", "2", "--out", str(finished), "--overwrite"],
                     ["pretrain-mae", "--out", str(finished), "--overwrite"]):
            code, _, err = run(args, capsys)
            assert code == 1 and f"is in use by process {os.getpid()} on host {socket.gethostname()}" in err, args
            assert err.count("\n") == 1
    finally:
        lock.release()
    assert {path.name: path.read_bytes() for path in finished.iterdir()} == before


# -- operating-system errors -------------------------------------------------------------------------------------
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def give_up_root_file_access():
    """In the child, before exec: root ignores file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); dropping them
    from the bounding set makes the program it runs meet file modes as any user does."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@needs_data
@pytest.mark.slow
def test_outputs_that_cannot_be_written_are_refused_in_one_line_before_anything_is_read(finished, small_data,
                                                                                         tmp_path):
    """A folder of mode 0o555, met by train, predict and import-seed-checkpoint in a child process. As root the
    child first gives up the capabilities that let root ignore file modes (skipped where that is not allowed)."""
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    commands = [["--out", str(locked / "run"), "--data-dir", str(small_data), *TINY],
                ["predict", "--checkpoint", str(finished / "best.npz"), "--csv", str(small_data / REAL["test"].name),
                 "--output", str(locked / "p.csv")],
                ["import-seed-checkpoint", str(tmp_path / "none.npy"), "--dim", "8", "--depth", "1", "--patch-size",
                 "7", "--out", str(locked / "c.npz"), "--trust-pickle"]]
    script = ("import json, sys\nfrom mixer.cli import main\n"
              "for argv in json.loads(sys.argv[1]):\n    print(main(argv), flush=True)\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        child = subprocess.run([sys.executable, "-c", script, json.dumps(commands)], cwd=tmp_path, env=environment,
                               capture_output=True, text=True, timeout=120,
                               preexec_fn=give_up_root_file_access if os.geteuid() == 0 else None)
    except subprocess.SubprocessError as error:
        pytest.skip(f"root ignores file modes, and this process may not give up CAP_DAC_OVERRIDE ({error})")
    finally:
        locked.chmod(0o755)
    not_writable = f"cannot write there: the folder {locked} is not writable (permission denied)"
    assert child.stdout.split() == ["1", "1", "1"], child.stderr
    assert child.stderr.splitlines() == [f"error: --out {locked / 'run'}: {not_writable}",
                                         f"error: --output {locked / 'p.csv'}: {not_writable}",
                                         f"error: --out {locked / 'c.npz'}: {not_writable}"]
    assert os.listdir(locked) == [] and not (tmp_path / "runs").exists()


def test_an_output_below_a_file_is_refused_naming_the_file(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match=f"--out {tmp_path}/file/run: cannot write there: {tmp_path}/file is "
                                             "a file, not a folder"):
        RunFolder.fresh(str(tmp_path / "file" / "run"), "mlp-mixer")


@needs_data
@pytest.mark.slow
def test_a_write_refused_mid_run_is_one_line_with_what_is_saved_and_how_to_continue(finished, tmp_path):
    """A file size limit (RLIMIT_FSIZE) that the checkpoint of epoch 1 fits in and that of epoch 2 (one more epoch
    of history) does not: the write fails with EFBIG, as on a full disk."""
    folder = tmp_path / "run"
    shutil.copytree(finished, folder)
    last = folder / "last.npz"
    kept = last.read_bytes()
    limit = len(kept) + 300

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = start(["--resume", str(last), "--epochs", "3"], tmp_path, preexec_fn=limited)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.fullmatch(
        rf"error: cannot write {re.escape(str(folder))}/(best|last)\.npz: File too large \(the file size limit "
        rf"\(ulimit -f\) is reached\); {re.escape(str(last))} keeps epoch 1; once that is fixed, continue with: "
        rf"python train\.py --resume {re.escape(str(last))} --epochs 3\n", err), err
    assert last.read_bytes() == kept  # the checkpoint of epoch 1 survives
    assert sorted(os.listdir(folder)) == sorted(os.listdir(finished))  # no temporary file, no lock


# -- permissions -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_written_through_a_temporary_file_get_the_mode_of_the_umask(umask, tmp_path):
    previous = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "c.npz", {"weights": np.zeros(3)})
        write_predictions(tmp_path / "p.csv", np.array([0.2, 0.9]), np.array([1, 2]), ["normal", "attack"])
        folder = RunFolder(tmp_path)
        folder.write_json("r.json", {"a": 1})
        folder.append_metrics({"epoch": 1})
    finally:
        os.umask(previous)
    assert modes(tmp_path) == dict.fromkeys(["c.npz", "p.csv", "r.json", "metrics.jsonl"], 0o666 & ~umask)


@needs_data
@pytest.mark.slow
def test_a_run_on_compressed_csvs_matches_the_plain_run_and_every_file_keeps_the_umask(finished, small_data,
                                                                                     tmp_path, capsys):
    """Training (gzip, bzip2 and zip files in the data folder), evaluate (xz) and predict (xz) on compressed CSVs
    give what the plain CSVs give; every output, under umask 027, is 0o640; the stale lock of a killed run in --out
    is taken over with a note."""
    packed = tmp_path / "packed"
    packed.mkdir()
    for role, suffix in (("train", ".gz"), ("test", ".bz2"), ("unlabelled", ".zip")):
        compress(small_data / REAL[role].name, packed / (REAL[role].name + suffix))
    test_xz = compress(small_data / REAL["test"].name, tmp_path / (REAL["test"].name + ".xz"))
    unlabelled_xz = compress(small_data / REAL["unlabelled"].name, tmp_path / (REAL["unlabelled"].name + ".xz"))
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": 12345, "host": "elsewhere", "started": "2026-01-01 00:00:00"}))
    previous = os.umask(0o027)
    try:
        code, printed, err = run(["--epochs", "1", "--data-dir", str(packed), "--out", str(out), *TINY], capsys)
        assert code == 0, err
        assert run(["predict", "--checkpoint", str(out / "best.npz"), "--csv", str(unlabelled_xz), "--output",
                    str(out / "p.csv")], capsys)[0] == 0
        code, evaluated, _ = run(["evaluate", "--checkpoint", str(out / "best.npz"), "--csv", str(test_xz)], capsys)
        assert code == 0
    finally:
        os.umask(previous)
    assert (f"note: {out} held the lock of process 12345 on host elsewhere, started 2026-01-01 00:00:00, which "
            "ended without releasing it (killed, or out of memory?); this run took it over") in printed
    assert modes(out) == dict.fromkeys([*RUN_OUTPUTS, "p.csv"], 0o640)  # and no lock left
    result, reference = (json.loads((folder / "result.json").read_text()) for folder in (out, finished))
    axes = result.pop("confusion_matrix_axes")
    assert axes["rows"] == "true class" and axes["columns"] == "predicted class"
    assert axes["classes"] == ["normal", "attack"] == reference.pop("confusion_matrix_axes")["classes"]
    assert result == reference
    expected = (finished / "predictions_testing2.csv").read_bytes()
    assert (out / "predictions_testing2.csv").read_bytes() == expected == (out / "p.csv").read_bytes()
    assert f"loss {reference['test']['loss']:.4f} roc_auc {reference['test']['roc_auc']:.4f}" in evaluated


# -- compressed CSVs ---------------------------------------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zip", ".xz"])
def test_a_compressed_csv_reads_as_pandas_reads_it_and_is_validated_after_decompression(suffix, small_data,
                                                                                        tmp_path):
    plain = small_data / REAL["test"].name
    packed = compress(plain, tmp_path / (plain.name + suffix))
    pd.testing.assert_frame_equal(read_table(packed, require_label=True), read_table(plain, require_label=True))
    pd.testing.assert_frame_equal(pd.read_csv(packed), pd.read_csv(plain))  # pandas infers it from the suffix too

    lines = plain.read_text().splitlines()
    cells = lines[3].split(",")
    cells[5] = "many"
    bad_plain = tmp_path / "bad.csv"
    bad_plain.write_text("\n".join([*lines[:3], ",".join(cells), *lines[4:]]) + "\n")
    bad = compress(bad_plain, tmp_path / ("bad.csv" + suffix))
    with pytest.raises(DataError) as from_plain:
        read_table(bad_plain, require_label=True)
    with pytest.raises(DataError) as from_packed:
        read_table(bad, require_label=True)
    assert "non-numeric value 'many'" in str(from_plain.value)
    assert str(from_packed.value) == str(from_plain.value).replace(str(bad_plain), str(bad))

    damaged = tmp_path / ("damaged.csv" + suffix)
    damaged.write_bytes(packed.read_bytes()[:len(packed.read_bytes()) // 2])
    with pytest.raises(DataError) as caught:
        read_table(damaged, require_label=True)
    assert str(caught.value).startswith(f"{damaged}: not a readable ") and "\n" not in str(caught.value)


def test_archives_pandas_reads_otherwise_are_one_clear_line(tmp_path):
    two = tmp_path / "two.csv.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "id\n")
        archive.writestr("b.csv", "id\n")
    with pytest.raises(DataError, match=r"must hold exactly one file \(the CSV\), as for pandas; it holds 2: a.csv"):
        read_table(two, require_label=False)
    (tmp_path / "rows.csv.tar.gz").write_bytes(b"")
    with pytest.raises(DataError, match="tar archives are not read here; decompress it"):
        read_table(tmp_path / "rows.csv.tar.gz", require_label=False)


@needs_data
def test_the_data_folder_may_hold_compressed_files_but_not_two_copies_of_one(small_data, tmp_path):
    for role, suffix in (("train", ".xz"), ("test", ".gz"), ("unlabelled", ".bz2")):
        compress(small_data / REAL[role].name, tmp_path / (REAL[role].name + suffix))
    assert find_data_dir(tmp_path) == tmp_path.resolve()
    assert {role: path.name for role, path in dataset_files(tmp_path).items()} == {
        "train": REAL["train"].name + ".xz", "test": REAL["test"].name + ".gz",
        "unlabelled": REAL["unlabelled"].name + ".bz2"}
    shutil.copy(small_data / REAL["test"].name, tmp_path)
    with pytest.raises(DataError, match=f"holds {REAL['test'].name} and {REAL['test'].name}.gz: keep one of them"):
        dataset_files(tmp_path)


# -- the command line --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "expected"), [
    (["--epoch", "2"], "train.py: error: unknown flag --epoch (did you mean --epochs?)"),
    (["evalute", "--checkpoint", "x.npz"], "train.py: error: unknown command 'evalute' (did you mean evaluate?)"),
    (["--checkpoint", "x.npz"], "train.py: error: unknown flag --checkpoint (--checkpoint is a flag of evaluate, "
                                "predict, landscape)"),
    (["predict", "--csv", "a.csv", "--output", "p.csv", "--checkpiont", "x.npz"],
     "train.py predict: error: unknown flag --checkpiont (did you mean --checkpoint?)"),
    (["--model", "mlp-mixr"], "train.py: error: argument --model: invalid choice: 'mlp-mixr' (choose from "
                              "'mlp-mixer', 'convnext', 'hybrid', 'resnext') (did you mean mlp-mixer?)"),
])
def test_a_mistyped_flag_or_command_is_two_lines_with_did_you_mean_and_the_commands(argv, expected, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    lines = capsys.readouterr().err.splitlines()
    assert done.value.code == 2 and len(lines) == 2 and lines[0] == expected
    assert "the commands: train (the default), evaluate, predict, import-seed-checkpoint, pretrain-mae" in lines[1]


def test_debug_shows_the_traceback_of_a_user_error_and_a_bug_always_shows_its_own(tmp_path, capsys, monkeypatch):
    missing = str(tmp_path / "none.npz")
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert run(["evaluate", "--checkpoint", missing], capsys)[1:] == ("", f"error: checkpoint {missing} does not "
                                                                          "exist\n")
    for extra, environment in (["--debug"], "0"), ([], "1"):
        monkeypatch.setenv(cli.DEBUG_ENV, environment)
        code, _, err = run(["evaluate", "--checkpoint", missing, *extra], capsys)
        assert code == 1 and err.startswith("Traceback") and "mixer.checkpoint.CheckpointError" in err
        assert err.endswith(f"error: checkpoint {missing} does not exist\n")
    monkeypatch.delenv(cli.DEBUG_ENV)

    def bug(args):
        raise ValueError("an internal bug")

    monkeypatch.setitem(cli.RUNNERS, "evaluate", bug)
    with pytest.raises(ValueError, match="an internal bug"):  # not turned into one "error:" line
        main(["evaluate", "--checkpoint", missing])


def test_no_data_found_names_each_place_it_looked_once(tmp_path, monkeypatch):
    """From the repository's own folder the places relative to the current folder and to the repository are the
    same."""
    monkeypatch.delenv("UNSW_NB15_DIR", raising=False)
    monkeypatch.setattr(files, "REPO_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        find_data_dir()
    looked = str(caught.value).split("(looked in ", 1)[1].split(")", 1)[0].split(", ")
    assert looked == [str(tmp_path / "data" / "unsw-nb15"), str(tmp_path.parent / "shared" / "data" / "unsw-nb15")]


def test_refusing_an_out_suggests_resume_only_with_a_checkpoint_to_resume(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError) as caught:
        RunFolder.fresh(str(tmp_path), "mlp-mixer")
    assert "--resume" not in str(caught.value) and "pass --overwrite to replace the run in it" in str(caught.value)
    (tmp_path / "mae.npz").write_bytes(b"")
    with pytest.raises(RunFolderError, match=re.escape(f"continue the run in it with `python train.py pretrain-mae "
                                                       f"--resume {tmp_path / 'mae.npz'}`")):
        RunFolder.fresh(str(tmp_path), "mlp-mixer")
