"""The README's examples run as written (so they stay true)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples_and_the_two_commands():
    first_lines = README.read_text().splitlines()[:6]
    assert any("python train.py" in line for line in first_lines)
    assert any("pytest" in line for line in first_lines)
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(index, capsys):
    exec(compile(EXAMPLES[index], f"README example {index + 1}", "exec"), {})
