"""The examples run as scripts and reach their results: a fitted line near y = 3x + 2, a toy MLP above 90%
accuracy, the MLP-Mixer above the majority class on UNSW-NB15 (run on a small copy of the data, found through
$UNSW_NB15_DIR, so that it takes seconds)."""

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from unsw_sample import REAL, needs_data, sample_folder

from mixer import data as unsw

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def run_example(capsys, monkeypatch):
    """Run an example as a script (`__main__`) in this process and return what it printed."""
    def run(name: str) -> str:
        monkeypatch.chdir(ROOT)
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        return capsys.readouterr().out
    return run


def test_fit_line_finds_slope_3_and_intercept_2(run_example):
    output = run_example("fit_line.py")
    slope, intercept = map(float, re.search(r"fitted y = (\S+) x \+ (\S+)", output).groups())
    assert abs(slope - 3) < 0.05 and abs(intercept - 2) < 0.05, output


def test_toy_mlp_separates_the_two_moons(run_example):
    output = run_example("toy_mlp.py")
    accuracy = float(re.search(r"test accuracy (\S+)", output).group(1))
    assert accuracy > 0.9, output


@needs_data
@pytest.mark.slow
def test_mixer_example_learns_on_unsw_nb15_and_stays_short(tmp_path):
    source = EXAMPLES / "mixer_unsw.py"
    assert len(source.read_text().splitlines()) < 40
    folder = sample_folder(tmp_path, train=(2000, 10), test=(500, 8), unlabelled_rows=25)
    environment = {**os.environ, "UNSW_NB15_DIR": str(folder), "OPENBLAS_NUM_THREADS": "1",  # small GEMMs
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(source)], capture_output=True, text=True, timeout=300,
                            env=environment, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    epochs = re.findall(r"epoch (\d+): .*accuracy (\S+) .*roc_auc (\S+)", output)
    assert [int(epoch) for epoch, _, _ in epochs] == [1, 2, 3], output
    labels = unsw.read_table(folder / REAL["test"].name, require_label=True)["label"].to_numpy()
    majority = max(labels.mean(), 1 - labels.mean())
    accuracy, roc_auc = float(epochs[-1][1]), float(epochs[-1][2])
    assert accuracy > majority + 0.05 and roc_auc > 0.85, (output, majority)
