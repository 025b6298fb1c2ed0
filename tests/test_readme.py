"""The README's examples run as written (so they stay true), and reach what they claim."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def example_with(marker: str) -> str:
    (code,) = [code for code in EXAMPLES if marker in code]
    return code


def test_readme_has_examples_and_the_two_commands():
    first_lines = README.read_text().splitlines()[:6]
    assert any("python train.py" in line for line in first_lines)
    assert any("pytest" in line for line in first_lines)
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(index, capsys):
    exec(compile(EXAMPLES[index], f"README example {index + 1}", "exec"), {})


def test_the_mlp_example_learns_the_rule_it_is_shown():
    """The MLP is trained on y = [x0 * x1 > 0]: it must get there, on points it has not seen too."""
    namespace: dict = {}
    exec(compile(example_with("class MLP"), "README MLP example", "exec"), namespace)
    import tinygrad_np as tg
    from tinygrad_np import Tensor

    model = namespace["model"].eval()
    assert namespace["loss"].item() < 0.25  # from log(2) = 0.69 at chance
    fresh = np.random.default_rng(1).normal(size=(2000, 2)).astype(np.float32)
    with tg.no_grad():
        predicted = model(Tensor(fresh)).numpy()[:, 0] > 0
    assert (predicted == (fresh[:, 0] * fresh[:, 1] > 0)).mean() > 0.9


def test_the_gradient_check_example_passes_its_check(capsys):
    exec(compile(example_with("class Cube"), "README gradcheck example", "exec"), {})
    assert capsys.readouterr().out.startswith("gradcheck (full) passed: 12 values compared")
