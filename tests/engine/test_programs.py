"""Whole programs written for PyTorch (tests/programs/) run on the engine with only `torch` pointed at it, and take
the same steps as PyTorch from the same weights (PyTorch's run saves them with `torch.save`, the engine's run loads
them with `torch.load`). Without PyTorch, the engine's run is checked on its own."""

from __future__ import annotations

import importlib.util
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_np.as_torch import torch_is_the_engine

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def run_program(name: str, on_engine: bool, **kwargs: Any) -> dict[str, Any]:
    """Import tests/programs/<name>.py with `torch` as it is then (real or the engine) and call its main()."""
    if not on_engine:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny ops: a thread pool only adds waiting on a shared machine
        try:
            return runpy.run_path(str(PROGRAMS / f"{name}.py"), run_name=f"program_{name}")["main"](**kwargs)
        finally:
            torch.set_num_threads(threads)
    with torch_is_the_engine():
        return runpy.run_path(str(PROGRAMS / f"{name}.py"), run_name=f"program_{name}")["main"](**kwargs)


def both_engines(name: str, tmp_path: Path, **kwargs: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """PyTorch's run (None without PyTorch) and the engine's, from the weights PyTorch's run started with."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "engine").mkdir()
    init = tmp_path / "init.pt"
    if not HAVE_TORCH:
        return None, run_program(name, True, workdir=str(tmp_path / "engine"), **kwargs)
    theirs = run_program(name, False, save_init=str(init), workdir=str(tmp_path / "torch"), **kwargs)
    ours = run_program(name, True, init=str(init), workdir=str(tmp_path / "engine"), **kwargs)
    return theirs, ours


def test_quickstart_tutorial(tmp_path, capsys):
    theirs, ours = both_engines("quickstart", tmp_path)
    printed = capsys.readouterr().out
    assert "Shape of X [N, C, H, W]: (32, 1, 8, 8)" in printed or "torch.Size([32, 1, 8, 8])" in printed
    assert (tmp_path / "engine" / "model.pth").exists()
    assert ours["losses"][-1] < ours["losses"][0]
    if theirs is not None:
        np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-4)
        np.testing.assert_allclose(np.array(ours["test"]), np.array(theirs["test"]), rtol=1e-4)
        assert ours["predicted"] == theirs["predicted"]


def test_polynomial_regression_with_updates_by_hand(tmp_path):
    theirs, ours = both_engines("regression", tmp_path)
    assert ours["grads_zeroed"] and ours["losses"][59] < ours["losses"][0] and ours["losses"][-1] < ours["losses"][60]
    if theirs is not None:
        np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-4)
        np.testing.assert_allclose(ours["grad_norms"], theirs["grad_norms"], rtol=1e-4)
        np.testing.assert_allclose(ours["coefficients"], theirs["coefficients"], rtol=1e-4, atol=1e-6)


def test_mnist_cnn_example(tmp_path):
    theirs, ours = both_engines("mnist_cnn", tmp_path, dropout=False)
    assert (tmp_path / "engine" / "mnist_cnn.pt").exists() and ours["lr"] == pytest.approx(0.49)
    assert np.mean(ours["losses"][-3:]) < np.mean(ours["losses"][:3])
    if theirs is not None:
        np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=2e-4)
        assert [correct for _, correct in ours["tests"]] == [correct for _, correct in theirs["tests"]]


@pytest.mark.parametrize("flash", [True, False], ids=["scaled_dot_product_attention", "masked_softmax"])
def test_nanogpt(tmp_path, flash):
    theirs, ours = both_engines("nanogpt", tmp_path, flash=flash)
    assert ours["state_keys"][0] == "transformer.wte.weight" and ours["state_keys"][-1] == "lm_head.weight"
    assert ours["sampled_shape"] == (1, 11) and ours["sampled_in_vocab"] and len(ours["greedy"]) == 11
    assert ours["losses"][-1] < ours["losses"][0]
    if theirs is not None:
        assert ours["state_keys"] == theirs["state_keys"] and ours["num_params"] == theirs["num_params"]
        np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-4)
        assert ours["greedy"] == theirs["greedy"]
