"""train.py landscape: the Hessian spectrum and loss surfaces of checkpoints of a tiny 1-epoch run, written as the
project writes a user's files (a new folder, never over anything without --overwrite, never over a run), within
--max-seconds."""

import contextlib
import importlib.util
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import needs_data, sample_folder

from mixer.cli import main
from mixer.config import TrainConfig
from mixer.training import Trainer, load_trained, loss_fn

BENCH = Path(__file__).resolve().parents[2] / "bench" / "landscape.py"
OUTPUTS = ("landscape.json", "landscape_1d.png", "landscape_2d.png", "hessian_density.png")
SMALL = ["--rows", "48", "--top-k", "2", "--lanczos-steps", "6", "--trace-samples", "3", "--density-steps", "5",
         "--points-1d", "5", "--points-2d", "3"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 1-epoch run of a tiny Mixer (its best.npz and last.npz) on 300 training rows."""
    data = sample_folder(tmp_path_factory.mktemp("unsw"), train=(300, 60), test=(100, 40), unlabelled_rows=5)
    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig.from_dict(dict(dim=8, depth=1, patch_size=6, epochs=1, batch_size=64, holdout=0.2,
                                        numeric_embedding="none", data_dir=str(data), out=str(out), seed=3))
    Trainer(config, log=lambda text: None).fit()
    return out


@pytest.fixture(scope="module")
def landscape(run, tmp_path_factory):
    """`train.py landscape` of both checkpoints of the run: its folder and what it printed."""
    out = tmp_path_factory.mktemp("landscape") / "out"
    checkpoints = [str(run / "best.npz"), str(run / "last.npz")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["landscape", "--checkpoint", *checkpoints, "--out", str(out), *SMALL]) == 0
    return out, checkpoints, printed.getvalue()


@needs_data
def test_it_writes_the_plots_and_the_measurements_of_each_checkpoint(run, landscape):
    out, checkpoints, printed = landscape
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)
    for name in OUTPUTS[1:]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((out / "landscape.json").read_text())
    assert result["complete"] and result["stopped"] is None
    assert result["command"].startswith("python train.py landscape --checkpoint")
    assert {"date", "machine", "seconds", "settings", "loss"} <= set(result)
    assert result["rows"]["rows"] == 48 and len(set(result["rows"]["ids"])) == 48
    assert [entry["checkpoint"] for entry in result["checkpoints"]] == checkpoints
    model, checkpoint = load_trained(run / "best.npz")
    for entry in result["checkpoints"]:
        assert entry["parameters"] == sum(p.numel() for p in model.parameters())
        top = entry["top_eigenvalues"]
        assert len(top["values"]) == 2 and top["values"][0] >= top["values"][1] >= top["lowest"]
        assert top["products"] <= 6
        assert entry["trace"]["samples"] == 3 and np.isfinite(entry["trace"]["value"])
        density = entry["density"]
        assert 0 <= density["negative_share"] <= 1 and len(density["runs"]) == 1
        assert sum(density["runs"][0]["weights"]) == pytest.approx(1.0)
        line, plane = entry["surface_1d"], entry["surface_2d"]
        assert len(line["alphas"]) == 5 and len(plane["losses"]) == 3 and len(plane["losses"][0]) == 3
        assert line["losses"][2] == plane["losses"][1][1]  # the centre: the checkpoint's own weights
        assert line["losses"][2] == pytest.approx(entry["loss"], rel=1e-5)  # float32 forward vs float64
    # the loss is the mean cross-entropy of the checkpoint's model on the chosen training rows
    ids = set(result["rows"]["ids"])
    from mixer import data as unsw
    from mixer.data.splits import _make_split

    source = unsw.dataset_files(unsw.find_data_dir(checkpoint["config"]["data_dir"]))["train"]
    frame = unsw.read_table(source, require_label=True)
    picked = frame[frame[unsw.ID_COLUMN].isin(ids)]
    encoder, preprocessor = unsw.preprocessing_from_state(checkpoint["preprocessing"])
    features = _make_split(picked, source, encoder, preprocessor, None, check_drift=False).features
    expected = loss_fn(model(features), picked[unsw.LABEL_COLUMN].to_numpy()).item()
    assert result["checkpoints"][0]["surface_1d"]["losses"][2] == pytest.approx(expected, rel=1e-6)
    assert "estimated at most" in printed and "wrote landscape.json" in printed


@needs_data
def test_it_never_writes_over_anything_without_overwrite_and_never_over_a_run(run, landscape, tmp_path, capsys):
    out = tmp_path / "landscape"
    shutil.copytree(landscape[0], out)
    command = ["landscape", "--checkpoint", str(run / "best.npz"), "--out", str(out), *SMALL, "--seed", "1"]
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    assert main(command) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert main([*command, "--overwrite"]) == 0
    replaced = json.loads((out / "landscape.json").read_text())
    assert replaced["seed"] == 1 and len(replaced["checkpoints"]) == 1
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)
    # a run's folder is refused even with --overwrite: its checkpoints are not the landscape's to remove
    saved = (run / "best.npz").read_bytes()
    assert main(["landscape", "--checkpoint", str(run / "best.npz"), "--out", str(run), "--overwrite", *SMALL]) == 1
    assert "holds other files" in capsys.readouterr().err
    assert (run / "best.npz").read_bytes() == saved and not (run / "landscape.json").exists()
    # bad flags are one line, before anything is written
    assert main(["landscape", "--checkpoint", str(run / "best.npz"), "--out", str(tmp_path / "new"), "--rows",
                 "0"]) == 1
    assert "--rows 0 must be at least 1" in capsys.readouterr().err and not (tmp_path / "new").exists()
    assert main(["landscape", "--checkpoint", str(run / "best.npz"), "--out", str(tmp_path / "new"), "--split",
                 "holdout", "--rows", "100000"]) == 1
    assert "rows in common" in capsys.readouterr().err and not (tmp_path / "new").exists()


@needs_data
def test_max_seconds_stops_it_with_what_it_has(run, tmp_path, capsys):
    out = tmp_path / "landscape"
    # far more work than fits: 400 eigenvalues (at least 400 products), then thousands of samples and points
    many = ["--rows", "48", "--top-k", "400", "--lanczos-steps", "100000", "--trace-samples", "100000",
            "--points-2d", "300"]
    assert main(["landscape", "--checkpoint", str(run / "best.npz"), "--out", str(out), *many,
                 "--max-seconds", "1"]) == 0
    result = json.loads((out / "landscape.json").read_text())
    assert not result["complete"] and "--max-seconds 1 reached" in result["stopped"]
    assert result["seconds"] < 1 + 2  # the deadline is checked before every product (~0.02 s here)
    entry = result["checkpoints"][0]
    printed = capsys.readouterr().out
    assert "stopped: --max-seconds 1 reached" in printed
    if "top_eigenvalues" in entry:  # what it had is kept, marked incomplete
        assert not entry["top_eigenvalues"]["complete"] and entry["top_eigenvalues"]["products"] >= 1
        assert "top eigenvalues of tiny/best.npz (cut short)" in printed
    else:  # loading took the whole second
        assert "top eigenvalues of tiny/best.npz (not started)" in printed
    assert "trace" not in entry and "surface_2d" not in entry  # not started: left out, and said so
    assert "trace of tiny/best.npz (not started)" in printed
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)


@needs_data
def test_the_bench_table_puts_each_run_beside_its_landscape(run, landscape, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_landscape", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    measured = json.loads((landscape[0] / "landscape.json").read_text())
    (row,) = bench.table_rows({"default": run}, measured)
    entry = measured["checkpoints"][0]  # best.npz
    result = json.loads((run / "result.json").read_text())
    assert row["top_eigenvalue"] == entry["top_eigenvalues"]["values"][0]
    assert row["trace"] == entry["trace"]["value"] and row["negative_share"] == entry["density"]["negative_share"]
    assert row["test_accuracy"] == result["test"]["accuracy"] and row["test_roc_auc"] == result["test"]["roc_auc"]
    table = bench.format_table([row], markdown=True).splitlines()
    assert table[0].startswith("| model | flags | parameters | top eigenvalue") and len(table) == 3
    assert table[2].startswith("| MLP-Mixer (default) |")
    assert table[2].endswith(f"| {result['test']['accuracy']:.4f} | {result['test']['roc_auc']:.4f} |")
    header = bench.header(["--markdown"], measured)
    assert header.startswith("`python bench/landscape.py --markdown` (")
    assert measured["command"] in header and f"{measured['machine']['cpus']} cores" in header
    # a run folder that is not a finished run is refused before anything is trained
    assert bench.main(["--variants", "default", "--run", f"default={tmp_path}", "--runs-dir", str(tmp_path)]) == 1
    assert "holds no finished train.py run" in capsys.readouterr().err and not any(tmp_path.iterdir())
