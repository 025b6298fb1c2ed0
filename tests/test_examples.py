"""The examples run as scripts and reach their results: a fitted line near y = 3x + 2, a toy MLP above
90% accuracy. The UNSW-NB15 example needs the data and takes a minute, so it is only checked to compile
and to stay short."""

import os
import py_compile
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str) -> str:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60,
                            env=environment, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_fit_line_finds_slope_3_and_intercept_2():
    output = run_example("fit_line.py")
    slope, intercept = map(float, re.search(r"fitted y = (\S+) x \+ (\S+)", output).groups())
    assert abs(slope - 3) < 0.05 and abs(intercept - 2) < 0.05, output


def test_toy_mlp_separates_the_two_moons():
    output = run_example("toy_mlp.py")
    accuracy = float(re.search(r"test accuracy (\S+)", output).group(1))
    assert accuracy > 0.9, output


def test_mixer_example_compiles_and_stays_under_40_lines(tmp_path):
    source = EXAMPLES / "mixer_unsw.py"
    py_compile.compile(str(source), cfile=str(tmp_path / "mixer_unsw.pyc"), doraise=True)
    assert len(source.read_text().splitlines()) < 40
