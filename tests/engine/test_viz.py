"""tinygrad_np.viz: the DOT text of a known graph, the tape in backward's order, rendering without dot."""

import shutil
import stat
import sys

import numpy as np
import pytest

import tinygrad_np
from tinygrad_np import Tensor, no_grad, viz


def known_graph():
    """(a * b + a).sum() with a, b leaves of shape (2,): Mul(a, b), then Add(a*b, a), then Sum."""
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    return (a * b + a).sum()


# Topological order, parents first in argument order: t0 = a, t1 = b, t2 = a*b, t3 = a*b + a, t4 = the sum.
# Ops are numbered by the tensor they produce: op0 = Mul, op1 = Add, op2 = Sum. `a` feeds Mul and Add.
KNOWN_DOT = """\
digraph tape {
  rankdir=LR;
  t0 [shape=box, label="t0\\n(2,) float32\\nleaf, requires_grad"];
  t1 [shape=box, label="t1\\n(2,) float32\\nleaf, requires_grad"];
  op0 [shape=ellipse, label="Mul"];
  t0 -> op0;
  t1 -> op0;
  t2 [shape=box, label="t2\\n(2,) float32\\nrequires_grad"];
  op0 -> t2;
  op1 [shape=ellipse, label="Add"];
  t2 -> op1;
  t0 -> op1;
  t3 [shape=box, label="t3\\n(2,) float32\\nrequires_grad"];
  op1 -> t3;
  op2 [shape=ellipse, label="Sum"];
  t3 -> op2;
  t4 [shape=box, label="t4\\n() float32\\nrequires_grad"];
  op2 -> t4;
}
"""


def test_dot_text_of_a_known_graph():
    assert viz.to_dot(known_graph()) == KNOWN_DOT
    assert tinygrad_np.viz is viz


def test_dot_shows_constants_and_is_the_same_for_the_same_graph():
    x = Tensor(np.ones((2, 3)), dtype=np.float64, requires_grad=True)
    text = viz.to_dot((x * 2.0).exp())
    assert 't1 [shape=box, label="t1\\n() float64\\nleaf, constant"];' in text
    assert 'op1 [shape=ellipse, label="Exp"];' in text
    assert text == viz.to_dot((x * 2.0).exp())  # numbered by position in the graph, never by id()


def test_tape_is_listed_in_backward_order(capsys):
    out = known_graph()
    expected = ("1. Sum: inputs (2,) -> output ()\n"
                "2. Add: inputs (2,), (2,) -> output (2,)\n"
                "3. Mul: inputs (2,), (2,) -> output (2,)")
    assert out.explain() == expected
    viz.print_tape(out)
    assert capsys.readouterr().out == expected + "\n"


def test_tape_of_leaves_no_grad_results_and_freed_graphs():
    leaf = Tensor([1.0], requires_grad=True)
    assert "no ops on the tape" in leaf.explain()
    with no_grad():
        assert "no ops on the tape" in (leaf * 2).explain()
    out = known_graph()
    dot_before = viz.to_dot(out)
    out.backward()  # frees the saved arrays, keeps the record of the graph
    assert out.explain() == ("1. Sum (arrays freed by backward): inputs (2,) -> output ()\n"
                             "2. Add (arrays freed by backward): inputs (2,), (2,) -> output (2,)\n"
                             "3. Mul (arrays freed by backward): inputs (2,), (2,) -> output (2,)")
    assert viz.to_dot(out) == dot_before.replace('label="Sum"', 'label="Sum (arrays freed by backward)"').replace(
        'label="Add"', 'label="Add (arrays freed by backward)"').replace(
        'label="Mul"', 'label="Mul (arrays freed by backward)"')


def test_to_png_without_graphviz_says_how_to_get_the_dot_text(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"Graphviz's `dot` program, which is not installed.*viz.to_dot"):
        viz.to_png(known_graph(), tmp_path / "graph.png")
    assert not (tmp_path / "graph.png").exists()


def test_to_png_pipes_the_dot_text_to_dot(monkeypatch, tmp_path):
    """A stand-in `dot` that copies its standard input to the -o file shows what to_png passes it."""
    fake_dot = tmp_path / "dot"
    fake_dot.write_text(f"#!{sys.executable}\nimport sys\nopen(sys.argv[sys.argv.index('-o') + 1], 'w')"
                        ".write(' '.join(sys.argv[1:2]) + '\\n' + sys.stdin.read())\n")
    fake_dot.chmod(fake_dot.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake_dot) if name == "dot" else None)
    path = viz.to_png(known_graph(), tmp_path / "graph.png")
    assert path.read_text() == "-Tpng\n" + KNOWN_DOT
