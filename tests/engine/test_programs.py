"""Whole programs written for PyTorch (tests/programs/) run on the engine with only `torch` pointed at it, and take
the same steps as PyTorch from the same weights (PyTorch's run saves them with `torch.save`, the engine's run loads
them with `torch.load`). Without PyTorch, the engine's run is checked on its own."""

from __future__ import annotations

import importlib.util
import math
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


WORD_LM_MODELS = [  # (options, rtol of the losses): the Transformer's training magnifies 1-ulp differences the most
    pytest.param({"model": "LSTM"}, 1e-6, id="LSTM"),
    pytest.param({"model": "GRU", "tied": True}, 1e-6, id="GRU-tied"),
    pytest.param({"model": "Transformer"}, 1e-4, id="Transformer"),
]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # PyTorch's, for batch_first=False
@pytest.mark.parametrize("options, rtol", WORD_LM_MODELS)
def test_word_language_model(tmp_path, options, rtol):
    theirs, ours = both_engines("word_lm", tmp_path, dropout=0.0, **options)
    n, e = ours["ntokens"], 16
    keys = ours["state_keys"]
    if options["model"] == "Transformer":
        layer = (3 * e * e + 3 * e) + (e * e + e) + 2 * (e * e + e) + 4 * e  # attention, linear1/2 (nhid = e), norms
        assert keys[0] == "encoder.layers.0.self_attn.in_proj_weight" and "encoder.layers.1.norm2.bias" in keys
        # nn.Transformer's decoder stack replaced by the output layer keeps its place, before the later children
        assert keys[-6:] == ["encoder.norm.weight", "encoder.norm.bias", "decoder.weight", "decoder.bias",
                             "pos_encoder.pe", "input_emb.weight"]
        assert ours["num_params"] == 2 * layer + 2 * e + (n * e + n) + n * e
    else:
        gates = 4 if options["model"] == "LSTM" else 3
        rnn = [f"rnn.{name}_l{layer}" for layer in range(2)
               for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        # tied: decoder.weight is the embedding's, and keeps its place before decoder.bias
        assert keys == ["encoder.weight", *rnn, "decoder.weight", "decoder.bias"]
        decoder_weight = 0 if options.get("tied") else n * e  # tied: the embedding's, counted once
        assert ours["num_params"] == n * e + 2 * gates * e * (2 * e + 2) + decoder_weight + n
    assert (tmp_path / "engine" / "model.pt").exists()
    # the loss falls, and the model beats guessing uniformly (it starts near log n)
    assert np.mean(ours["losses"][-4:]) < np.mean(ours["losses"][:4]) - 0.2
    assert ours["test_loss"] < math.log(n) - 0.5 and min(ours["val_losses"]) < math.log(n) - 0.5
    assert ours["test_ppl"] == pytest.approx(math.exp(ours["test_loss"]))
    assert len(ours["sampled"]) == len(ours["greedy"]) == 12
    assert all(0 <= i < n for i in ours["sampled"] + ours["greedy"])
    if theirs is not None:
        assert keys == theirs["state_keys"] and ours["num_params"] == theirs["num_params"] and n == theirs["ntokens"]
        np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=rtol)
        np.testing.assert_allclose(ours["val_losses"], theirs["val_losses"], rtol=rtol)
        np.testing.assert_allclose(ours["test_loss"], theirs["test_loss"], rtol=rtol)
        assert ours["lrs"] == theirs["lrs"]
        # the first word's distribution, then the greedy words; the sampled words differ: the engines' random
        # streams are not the same (docs/pytorch.md)
        np.testing.assert_allclose(ours["first_weights"], theirs["first_weights"], rtol=10 * rtol)
        assert ours["greedy"] == theirs["greedy"]
