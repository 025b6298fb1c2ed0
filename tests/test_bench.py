"""The benchmark's harness (bench/bench_step.py) measures what it says: every engine takes the same training step
from the same weights, the loss check catches a different model, and the matmul floor covers every Linear. No
timing is asserted (benchmarks are never timed tests)."""

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.special

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_step.py"


@pytest.fixture(scope="module")
def bench():
    before = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    spec = importlib.util.spec_from_file_location("bench_step", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if before is None:  # the script sets it for its own processes; keep this one's environment as it was
        os.environ.pop("OPENBLAS_THREAD_TIMEOUT", None)
    module.CONFIGS["tiny"] = (24, 2, 3, 16)  # dim, depth, patch, batch: this module's own copy, for speed
    return module


@pytest.fixture(scope="module")
def batch(bench):
    return bench.make_batch(bench.CONFIGS["tiny"][3])


@pytest.fixture(scope="module")
def ours(bench, batch):
    """Ours' logits of the batch before any step, first loss and loss after one Adam step: the reference every
    other engine is checked against."""
    logits, step = bench.build_engine("ours_numpy", "tiny", *batch)
    return {"logits": logits(batch[0]).astype(np.float64), "losses": np.array([step(), step()])}


def test_the_second_loss_checks_something(bench, ours):
    """One Adam step moves the loss far more than the tolerance, so the second loss checks gradients and update."""
    first, second = ours["losses"]
    assert abs(second - first) > 100 * bench.LOSS_RTOL * first


@pytest.mark.parametrize("engine", ["torch", "autograd", "mygrad"])
def test_every_engine_takes_the_same_step_from_the_same_weights(bench, batch, ours, engine):
    pytest.importorskip(engine)
    logits, step = bench.build_engine(engine, "tiny", *batch)
    first_logits = logits(batch[0])
    losses = [step(), step()]
    assert all(isinstance(loss, float) for loss in losses)
    bench.check_same(engine, first_logits, losses, ours)  # raises on a gap above LOGIT_ATOL or LOSS_RTOL


def test_the_check_catches_the_tanh_gelu(bench):
    """At config (a), the numpy-style model (what autograd and MyGrad run) in plain numpy with scipy's erf passes
    the check; with the tanh approximation of GELU it does not (at (a) that moves the first loss by less than
    LOSS_RTOL, but the logits by more than LOGIT_ATOL)."""
    x, y = bench.make_batch(bench.CONFIGS["a"][3])
    weights = bench.weights_of(bench.our_model("a"))
    our_logits, _ = bench.build_engine("ours_numpy", "a", x, y)

    def tanh_erf(u):  # erf(u) as the tanh GELU approximates it: GELU(x) ~ x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
        x = u * np.float32(math.sqrt(2))
        return np.tanh(np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x**3))

    reference = {"logits": our_logits(x).astype(np.float64), "losses": []}
    bench.check_same("numpy", bench.numpy_style_logits(np, scipy.special.erf, weights, x, "a"), [], reference)
    with pytest.raises(RuntimeError, match="does not compute the same step"):
        bench.check_same("numpy with tanh GELU", bench.numpy_style_logits(np, tanh_erf, weights, x, "a"), [],
                         reference)


def test_the_matmul_floor_covers_every_linear(bench, batch):
    """Two Linears per MLP, two MLPs per block, plus the projection and the head; only the projection's input
    (the raw features) needs no gradient, so the floor leaves out its input-gradient GEMM."""
    depth = bench.CONFIGS["tiny"][1]
    calls = bench.recorded_linears(bench.our_model("tiny"), batch[0])
    assert len(calls) == 4 * depth + 2
    assert [needs_x for *_, needs_x in calls] == [False] + [True] * (4 * depth + 1)
    _, flops = bench.floor_step(calls, np.random.default_rng(0))
    assert flops == sum(2.0 * math.prod(x_shape) * w_shape[0] * (3 if needs_x else 2)
                        for x_shape, w_shape, _, needs_x in calls)


def test_bench_configs_times_the_step_train_py_takes(monkeypatch):
    """bench/bench_configs.py: a configuration's step is train.py's (its model, parameters and tokens), and the table
    divides by the default's time. No timing is asserted."""
    before = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    spec = importlib.util.spec_from_file_location("bench_configs", BENCH.parent / "bench_configs.py")
    configs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(configs)
    if before is None:
        os.environ.pop("OPENBLAS_THREAD_TIMEOUT", None)
    monkeypatch.setattr(configs, "ROUNDS", 1)
    monkeypatch.setattr(configs, "ROUND_SECONDS", 1e-3)
    monkeypatch.setattr(configs, "WARMUP_STEPS", 1)
    patches = configs.measure({"dim": 8, "depth": 1})
    features = configs.measure({"dim": 8, "depth": 1, "tokens": "feature", "token_expansion": 1.0})
    assert (patches["tokens"], features["tokens"]) == (14, 42) and patches["seconds"] > 0
    assert features["options"]["token_expansion"] == 1.0 and patches["parameters"] != features["parameters"]
    configs.CONFIGURATIONS_USED.update({"default": {}, "mine": {"tokens": "feature"}})
    text = configs.table({"default": {**patches, "seconds": 0.2}, "mine": {**features, "seconds": 0.3}}, True)
    assert text.splitlines()[3].startswith("| mine | --tokens feature | 42 |") and text.endswith("| 300.0 | 1.50 |")
def test_the_table_shows_both_kernel_paths_their_ratios_and_the_compile_time(bench, capsys):
    records = [{"config": "a", "what": "ours_numpy", "median": 0.3}, {"config": "a", "what": "ours_compiled",
                                                                       "median": 0.1},
               {"config": "a", "what": "torch", "median": 0.2}, {"config": "a", "what": "autograd", "median": 0.6},
               {"config": "a", "what": "mygrad", "error": "not installed"},
               {"config": "a", "what": "floor", "median": 0.05},
               {"config": "a", "what": "compile_cold", "seconds": 4.0},
               {"config": "a", "what": "compile_cached", "seconds": 0.25}]
    bench.print_table(records)
    lines = capsys.readouterr().out.splitlines()
    assert "ours, numpy (s) | ours, compiled (s)" in lines[0]
    cells = [cell.strip() for cell in lines[2].split("|")[1:-1]]
    # numpy/torch, compiled/torch, compiled/floor, autograd/compiled, mygrad/compiled
    assert cells[7:] == ["1.50", "0.50", "2.00", "6.00", "-"]
    assert "4.00 s, 0.25 s" in lines[3]
    assert all(line.count("|") == lines[0].count("|") for line in lines)
