"""bench/bench_lstm.py's harness at toy sizes: the word model written once runs on both engines, our weights load
strictly into PyTorch's model (tied or not), and the two take the same training steps -- what the benchmark checks
before it times anything. No timing is asserted."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_lstm.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_lstm", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.VOCAB, module.EMBED, module.HIDDEN, module.BATCH, module.BPTT = 30, 6, 6, 3, 4  # this copy only
    return module


@pytest.mark.parametrize("tied", [False, True])
def test_both_engines_take_the_same_steps_from_our_weights(bench, tied):
    torch = pytest.importorskip("torch")
    import tinygrad_np as tg

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # toy sizes: PyTorch's thread pool would cost more than the work
    try:
        run_both(bench, torch, tg, tied)
    finally:
        torch.set_num_threads(threads)


def run_both(bench, torch, tg, tied):

    weights = bench.our_weights(tied)
    assert np.array_equal(weights["decoder.weight"], weights["encoder.weight"]) == tied
    tg.manual_seed(0)
    ours = bench.word_model(tg, tied)
    theirs = bench.word_model(torch, tied)
    theirs.load_state_dict({name: torch.from_numpy(w) for name, w in weights.items()})
    tokens, next_tokens = bench.batch()
    losses = {}
    for name, engine, model in (("ours", tg, ours), ("torch", torch, theirs)):
        model.eval()
        data, targets = engine.from_numpy(tokens), engine.from_numpy(next_tokens)
        hidden, phases, trace = model.init_hidden(bench.BATCH), {}, []
        for _ in range(3):
            loss, hidden = bench.train_step(engine, model, data, targets, hidden, phases)
            trace.append(loss)
        losses[name] = trace
        assert set(phases) == {"forward", "backward", "update"}
    np.testing.assert_allclose(losses["ours"], losses["torch"], rtol=bench.LOSS_RTOL)
    assert abs(losses["ours"][2] - losses["ours"][0]) > 100 * bench.LOSS_RTOL * losses["ours"][0]
