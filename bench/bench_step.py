"""Time one MLP-Mixer training step (forward, BCE-with-logits, backward, Adam step) and one evaluation pass:
ours on each kernel path (numpy, and compiled with numba), PyTorch eager, HIPS autograd, MyGrad and the "matmul
floor", side by side in one run, with peak memory and the compiled kernels' compile time.

    python bench/bench_step.py                 # configs (a), (b), (c), eval and memory; about 8 minutes
    python bench/bench_step.py --quick         # fewer repeats, no memory rows; about 2-3 minutes
    python bench/bench_step.py --configs a b   # some of: a b c eval memory
    python bench/bench_step.py --markdown      # the table as the README prints it
    python bench/bench_step.py --json results.jsonl
    python bench/bench_step.py --profile b     # time per op class, ops per step, Python per op, CPU time per step
    python bench/bench_step.py --profile c --kernels numpy   # the same on the numpy path
    python bench/bench_step.py --threads 1     # every engine and BLAS on one thread (steadier on a busy machine)

Configs: (a) dim 198, depth 10, patch 3, batch 32; (b) dim 48, depth 10, patch 1, batch 64; (c) dim 198,
depth 10, patch 3, batch 1024; eval: 4,000 rows at (a) in chunks of 4,096, no gradient.

Every engine runs the same step from the same weights (our model's, seed 0): exact erf GELU, LayerNorm eps 1e-5,
mean BCE-with-logits, PyTorch's Adam (lr 1e-4, betas (0.9, 0.99), eps 1e-8). Each is checked against ours (the numpy
path) before it is timed: its logits (of the batch's first 64 rows, or of the 4,000 eval rows) within LOGIT_ATOL
(the tanh GELU would fail this), its first loss and its loss after one Adam step (gradients and update together)
within LOSS_RTOL; the gaps are in its JSON record. Written as each library's users write it:

- Ours: `set_kernels("numpy")` or `set_kernels("compiled")`, the default thread count (PyTorch's) and
  `enable_memory_reuse()`, as train.py runs.
- PyTorch: nn.Module, torch.optim.Adam (CPU build, its default thread count).
- HIPS autograd: a pure function of a dict of arrays in autograd.numpy with autograd.scipy.special.erf, and
  value_and_grad; the Adam update is torch's, in numpy (autograd's own `adam` drives a whole loop of flattened
  parameters, so it cannot time one step).
- MyGrad: the same numpy-style code on mygrad tensors (float32 constants, since MyGrad would turn float32 into
  float64 for a Python float), `backward()`, the same numpy Adam on `.data`. MyGrad has no erf: it is a custom
  `Operation` (scipy's erf forward, 2/sqrt(pi) exp(-x^2) backward), as MyGrad's docs show for new ops.

The matmul floor is the same GEMMs as one of our steps (every Linear's forward product and its gradient
products, shapes recorded from a real forward pass) run alone with numpy into preallocated outputs: no step is
faster than that without faster GEMMs.

Each (config, engine) runs in a fresh process, so no engine inherits another's heap; all share the process settings
made here (OPENBLAS_THREAD_TIMEOUT, and the engine's explicit speed setting: heap reuse), which can only help the
others. The compile time is that of the compiled path's first training step and first evaluation pass over a second
one (numba's import, and each kernel compiled or loaded from numba's disk cache), in a fresh process with an empty
cache (cold), then in another with the cache it left (cached). A measurement is the median over rounds of the
per-round median step time; a round is as many steps as fill ROUND_SECONDS (at least one), and there are as many rounds
as fit BUDGET_SECONDS (within MIN_ROUNDS..ROUNDS). With --quick, a step that alone exceeds the budget is timed once
(the second step of the check), and eval is timed on its first, cold call (10-30% slower than warm for PyTorch and
MyGrad): a rough view; the full run is the one to quote. Min/median/max and the checks go to --json lines. Memory:
peak RSS (VmHWM) of one training epoch of 20,000 rows at (c), ours and PyTorch, each in a fresh process, with its
rise over the RSS at the start of the epoch (PyTorch's process holds ~300 MiB more of libraries, so the rise is the
ratio shown); and ours' RSS and live tensors after 10 and after 100 steps at (a) (a leak of one step's graph would
add megabytes per step)."""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# as train.py does: before numpy loads OpenBLAS, so its threads stop spinning soon after each GEMM
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_np as tg  # noqa: E402
import tinygrad_np.nn.functional as F  # noqa: E402
from bench.machine import machine_line  # noqa: E402
from mixer.models import MLPMixer1D  # noqa: E402
from tinygrad_np import optim  # noqa: E402

REPORTED_PACKAGES = ["numpy", "numba", "torch", "autograd", "mygrad"]  # their versions head the table

CONFIGS = {  # name: (dim, depth, patch_size, batch)
    "a": (198, 10, 3, 32),
    "b": (48, 10, 1, 64),
    "c": (198, 10, 3, 1024),
}
CONFIG_TITLES = {"a": "(a) dim 198, depth 10, patch 3, batch 32", "b": "(b) dim 48, depth 10, patch 1, batch 64",
                 "c": "(c) dim 198, depth 10, patch 3, batch 1024", "eval": "eval, 4,000 rows at (a)"}
ENGINES = ("ours_numpy", "ours_compiled", "torch", "autograd", "mygrad", "floor")
OURS = {"ours_numpy": "numpy", "ours_compiled": "compiled"}  # engine: kernel path
PACKAGES = {"ours_compiled": "numba", "torch": "torch", "autograd": "autograd", "mygrad": "mygrad"}
SEQ_LEN, EVAL_ROWS, EVAL_CHUNK, EPOCH_ROWS = 42, 4000, 4096, 20000
LR, BETAS, EPS, LN_EPS = 1e-4, (0.9, 0.99), 1e-8, 1e-5
LOSS_RTOL = 1e-5  # float32 losses of the same step from the same weights: a few 1e-7 relative apart
LOGIT_ATOL = 1e-5  # logits of order 0.5: ours and PyTorch about 3e-7 apart; the tanh GELU would move them 1e-4
CHECK_ROWS = 64  # the training check compares the logits of the batch's first rows (eval compares all 4,000)
# per mode (key: --quick): rounds, seconds per round, steps per round at most, seconds per measurement
ROUNDS, MIN_ROUNDS, ROUND_SECONDS = {False: 5, True: 3}, {False: 3, True: 1}, {False: 3.0, True: 0.5}
MAX_STEPS, BUDGET_SECONDS = {False: 30, True: 10}, {False: 15.0, True: 1.5}


def use_engine_speed_settings(kernels: str = "auto") -> None:
    """The engine's explicit speed setting as train.py makes it (importing the engine changes nothing), and the
    kernel path; the thread count is the default, PyTorch's."""
    tg.set_kernels(kernels)
    tg.enable_memory_reuse()


def time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed(fn: Callable[[], object], estimate: float, quick: bool) -> dict[str, float]:
    """min / median / max over rounds of the per-round median time of fn(); `estimate` is one call's time (warm,
    except eval with --quick) and sets the steps per round and the rounds. With --quick, a call that alone exceeds
    the budget is the measurement."""
    estimate = max(estimate, 1e-9)
    if quick and estimate >= BUDGET_SECONDS[quick]:
        return {"min": estimate, "median": estimate, "max": estimate, "steps_per_round": 1, "rounds": 1}
    steps = max(1, min(MAX_STEPS[quick], round(ROUND_SECONDS[quick] / estimate)))
    rounds = max(MIN_ROUNDS[quick], min(ROUNDS[quick], int(BUDGET_SECONDS[quick] / (steps * estimate))))
    medians = [statistics.median(time_once(fn) for _ in range(steps)) for _ in range(rounds)]
    return {"min": min(medians), "median": statistics.median(medians), "max": max(medians),
            "steps_per_round": steps, "rounds": rounds}


def check_same(engine: str, logits: np.ndarray, losses: list[float], reference) -> dict:
    """Fail unless `engine`'s logits of the batch (same weights, before any step) are within LOGIT_ATOL of ours and
    its losses (first step, and after one Adam step) within LOSS_RTOL of ours; returns the gaps."""
    logit_gap = float(np.max(np.abs(np.asarray(logits, dtype=np.float64) - reference["logits"])))
    loss_gaps = [abs(a - b) / abs(b) for a, b in zip(losses, reference["losses"], strict=True)]
    if logit_gap > LOGIT_ATOL or max(loss_gaps, default=0.0) > LOSS_RTOL:
        raise RuntimeError(f"{engine} does not compute the same step as ours: logits differ by up to {logit_gap:.2e} "
                           f"(allowed {LOGIT_ATOL}), losses {losses} against ours {list(reference['losses'])} "
                           f"(relative gaps {loss_gaps}, allowed {LOSS_RTOL})")
    return {"max_logit_gap": logit_gap, "loss_rel_gaps": loss_gaps}


def make_batch(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, SEQ_LEN, 1)).astype(np.float32)
    y = (rng.random(rows) < 0.5).astype(np.float32)
    return x, y


def our_model(config: str) -> MLPMixer1D:
    """Seed 0: every engine starts from these weights."""
    dim, depth, patch, _ = CONFIGS[config]
    tg.manual_seed(0)
    return MLPMixer1D(seq_len=SEQ_LEN, dim=dim, depth=depth, patch_size=patch)


def weights_of(model: MLPMixer1D) -> dict[str, np.ndarray]:
    """Our parameters by name, copied (float32)."""
    return {name: np.array(p.detach().numpy(), dtype=np.float32) for name, p in model.named_parameters()}


def in_chunks(logits_of: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.concatenate([logits_of(rows[i:i + EVAL_CHUNK]) for i in range(0, len(rows), EVAL_CHUNK)])


# An engine: logits(rows) from the current weights (eval mode, no gradient, chunks of EVAL_CHUNK rows), and step()
# (one training step on its batch, returning the loss).
Engine = tuple[Callable[[np.ndarray], np.ndarray], Callable[[], float]]


# -- ours -------------------------------------------------------------------------------------
def ours_engine(model: MLPMixer1D, x: np.ndarray, y: np.ndarray) -> Engine:
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    inputs, targets = tg.Tensor(x), tg.Tensor(y)

    def logits(rows: np.ndarray) -> np.ndarray:
        model.eval()
        with tg.no_grad():
            out = in_chunks(lambda chunk: model(tg.Tensor(chunk)).numpy()[:, 0], rows)
        model.train()
        return out

    def step() -> float:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(inputs)[:, 0], targets)
        loss.backward()
        opt.step()
        return loss.item()

    return logits, step


# -- the matmul floor ---------------------------------------------------------------------------
def recorded_linears(model: MLPMixer1D, x: np.ndarray) -> list[tuple[tuple[int, ...], tuple[int, int], int, bool]]:
    """(input shape, weight shape, dim mixed (-1 or 0), input needs grad) of every Linear in one forward pass."""
    calls = []
    original = tg.nn.Linear.forward

    def record(self, inputs):
        calls.append((tuple(inputs.shape), tuple(self.weight.shape), self.dim, inputs.requires_grad))
        return original(self, inputs)

    tg.nn.Linear.forward = record
    try:
        model(tg.Tensor(x))
    finally:
        tg.nn.Linear.forward = original
    return calls


def floor_step(calls, rng: np.random.Generator) -> tuple[Callable[[], None], float]:
    """One step's GEMMs alone (forward, grad of weight, grad of input where needed) and their FLOP count."""
    products = []
    flops = 0.0
    for x_shape, (out_features, in_features), axis, needs_x in calls:
        other = math.prod(x_shape) // in_features
        w = rng.standard_normal((out_features, in_features)).astype(np.float32)
        if axis == -1:  # x (other, in): y = x W^T, dW = g^T x, dx = g W
            x, g = (rng.standard_normal(s).astype(np.float32) for s in ((other, in_features), (other, out_features)))
            shapes = [(x, w.T), (g.T, x)] + ([(g, w)] if needs_x else [])
        else:  # x (in, other): y = W x, dW = g x^T, dx = W^T g
            x, g = (rng.standard_normal(s).astype(np.float32) for s in ((in_features, other), (out_features, other)))
            shapes = [(w, x), (g, x.T)] + ([(w.T, g)] if needs_x else [])
        for a, b in shapes:
            products.append((a, b, np.empty((a.shape[0], b.shape[1]), dtype=np.float32)))
            flops += 2.0 * a.shape[0] * a.shape[1] * b.shape[1]

    def step() -> None:
        for a, b, out in products:
            np.matmul(a, b, out=out)

    return step, flops


# -- PyTorch ------------------------------------------------------------------------------------
def torch_model(config: str, weights: dict[str, np.ndarray], torch):
    """The same MLP-Mixer in PyTorch (batch-first, transposes around the token MLP, as PyTorch code usually
    writes it; parameter names match ours), loaded with our weights."""
    nn = torch.nn
    dim, depth, patch, _ = CONFIGS[config]
    tokens = SEQ_LEN // patch

    class Mlp(nn.Module):
        def __init__(self, features, hidden):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(features, hidden), nn.Linear(hidden, features)

        def forward(self, x):
            return self.fc2(nn.functional.gelu(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_norm, self.token_mixing = nn.LayerNorm(dim), Mlp(tokens, 4 * tokens)
            self.channel_norm, self.channel_mixing = nn.LayerNorm(dim), Mlp(dim, dim // 2)

        def forward(self, x):
            x = x + self.token_mixing(self.token_norm(x).transpose(1, 2)).transpose(1, 2)
            return x + self.channel_mixing(self.channel_norm(x))

    class Mixer(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(patch, dim)
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 1)

        def forward(self, x):
            x = self.proj(x.reshape(x.shape[0], tokens, patch))
            return self.head(self.norm(self.blocks(x)).mean(dim=1))

    model = Mixer()
    model.load_state_dict({name.removeprefix("embed."): torch.from_numpy(w) for name, w in weights.items()})
    return model


def import_torch():
    import torch

    return torch


def torch_engine(config: str, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Engine:
    torch = import_torch()
    model = torch_model(config, weights, torch)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)

    def logits(rows: np.ndarray) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            out = in_chunks(lambda chunk: model(torch.from_numpy(chunk))[:, 0].numpy(), rows)
        model.train()
        return out

    def step() -> float:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(inputs)[:, 0], targets)
        loss.backward()
        opt.step()
        return loss.item()

    return logits, step


# -- HIPS autograd and MyGrad: the same numpy-style model -------------------------------------------------
def numpy_style_logits(xp, erf, params: dict, x, config: str):
    """The Mixer in numpy style, batch-first, for any numpy-like namespace `xp` (autograd.numpy, mygrad, numpy) and
    its `erf`: what a user of either library writes. float32 constants keep float32 arrays float32 in all three."""
    _, depth, patch, _ = CONFIGS[config]
    one, half, inv_sqrt2, eps = np.float32(1), np.float32(0.5), np.float32(1 / math.sqrt(2)), np.float32(LN_EPS)

    def linear(h, name):
        return h @ params[name + ".weight"].T + params[name + ".bias"]

    def gelu(h):
        return half * h * (one + erf(h * inv_sqrt2))

    def layer_norm(h, name):
        centred = h - xp.mean(h, axis=-1, keepdims=True)
        variance = xp.mean(centred * centred, axis=-1, keepdims=True)
        return centred / xp.sqrt(variance + eps) * params[name + ".weight"] + params[name + ".bias"]

    def mlp(h, name):
        return linear(gelu(linear(h, name + ".fc1")), name + ".fc2")

    h = linear(xp.reshape(x, (x.shape[0], SEQ_LEN // patch, patch)), "embed.proj")
    for i in range(depth):
        block = f"blocks.{i}"
        h = h + xp.swapaxes(mlp(xp.swapaxes(layer_norm(h, block + ".token_norm"), 1, 2), block + ".token_mixing"),
                            1, 2)
        h = h + mlp(layer_norm(h, block + ".channel_norm"), block + ".channel_mixing")
    return linear(xp.mean(layer_norm(h, "norm"), axis=1), "head")[:, 0]


def numpy_style_bce(xp, logits, y):
    """Mean BCE-with-logits, the stable form: max(z, 0) - z y + log1p(exp(-|z|))."""
    return xp.mean(xp.maximum(logits, np.float32(0)) - logits * y + xp.log1p(xp.exp(-xp.abs(logits))))


class NumpyAdam:
    """torch.optim.Adam's update (no weight decay) on numpy arrays in place, for the engines without an optimiser."""

    def __init__(self, params: list[np.ndarray]):
        self.params, self.step_count = params, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.step_count += 1
        beta1, beta2 = BETAS
        step_size = LR / (1 - beta1**self.step_count)
        correction2_sqrt = math.sqrt(1 - beta2**self.step_count)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= step_size * m / (np.sqrt(v) / correction2_sqrt + EPS)


def autograd_engine(config: str, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Engine:
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import erf

    params = {name: w.copy() for name, w in weights.items()}
    loss_and_grad = autograd.value_and_grad(
        lambda p: numpy_style_bce(anp, numpy_style_logits(anp, erf, p, x, config), y))
    adam = NumpyAdam(list(params.values()))

    def logits(rows: np.ndarray) -> np.ndarray:
        return in_chunks(lambda chunk: numpy_style_logits(anp, erf, params, chunk, config), rows)

    def step() -> float:
        loss, grads = loss_and_grad(params)
        adam.step([grads[name] for name in params])
        return float(loss)

    return logits, step


def mygrad_erf():
    """erf as a MyGrad Operation (MyGrad has none): scipy's erf forward, 2/sqrt(pi) exp(-x^2) backward."""
    import mygrad as mg
    import scipy.special
    from mygrad.operation_base import Operation

    two_over_sqrt_pi = np.float32(2 / math.sqrt(math.pi))

    class Erf(Operation):
        def __call__(self, x):
            self.variables = (x,)
            return scipy.special.erf(x.data)

        def backward_var(self, grad, index, **kwargs):
            x = self.variables[index].data
            return grad * two_over_sqrt_pi * np.exp(-x * x)

    return lambda x: mg.Tensor._op(Erf, x)


def mygrad_engine(config: str, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Engine:
    import mygrad as mg

    erf = mygrad_erf()
    params = {name: mg.tensor(w.copy()) for name, w in weights.items()}
    adam = NumpyAdam([p.data for p in params.values()])

    def logits(rows: np.ndarray) -> np.ndarray:
        with mg.no_autodiff:
            return in_chunks(lambda chunk: np.asarray(numpy_style_logits(mg, erf, params, chunk, config)), rows)

    def step() -> float:
        loss = numpy_style_bce(mg, numpy_style_logits(mg, erf, params, x, config), y)
        loss.backward()
        adam.step([p.grad for p in params.values()])
        return loss.item()

    return logits, step


def build_engine(engine: str, config: str, x: np.ndarray, y: np.ndarray) -> Engine:
    """`engine` at `config` from our seed-0 weights, training on (x, y)."""
    model = our_model(config)
    if engine in OURS:
        return ours_engine(model, x, y)
    builders = {"torch": torch_engine, "autograd": autograd_engine, "mygrad": mygrad_engine}
    return builders[engine](config, weights_of(model), x, y)


# -- one measurement per process -------------------------------------------------------------------
def measure(config: str, engine: str, quick: bool, reference: Path) -> dict:
    """One engine at one config (or eval) in this process. Ours writes the reference (its logits of the batch
    before any step, and its two losses); any other engine is checked against it before it is timed."""
    record = {"config": config, "what": engine}
    x, y = make_batch(EVAL_ROWS, seed=1) if config == "eval" else make_batch(CONFIGS[config][3])
    model_config = "a" if config == "eval" else config
    if engine == "floor":
        step, flops = floor_step(recorded_linears(our_model(model_config), x), np.random.default_rng(0))
        step()
        timing = timed(step, time_once(step), quick)
        return {**record, **timing, "gflop": flops / 1e9, "gflop_per_s": flops / 1e9 / timing["median"]}
    logits, step = build_engine(engine, model_config, x, y)
    losses = []
    if config == "eval":  # the check's call is the warm-up, or with --quick the (cold) measurement
        start = time.perf_counter()
        first_logits = logits(x)
        estimate = time.perf_counter() - start
        run, estimate = (lambda: logits(x)), estimate if quick else time_once(lambda: logits(x))
    else:
        first_logits = logits(x[:CHECK_ROWS])
        losses.append(step())
        start = time.perf_counter()
        losses.append(step())
        run, estimate = step, time.perf_counter() - start
    if engine == "ours_numpy":
        np.savez(reference, logits=first_logits.astype(np.float64), losses=np.array(losses))
        check = {}
    else:
        with np.load(reference) as ours:
            check = check_same(engine, first_logits, losses, ours)
    return {**record, "losses": losses, **check, **timed(run, estimate, quick)}


def compile_time(config: str = "a") -> dict:
    """The compiled path's first training step and first evaluation pass, each less a second one: numba's import
    and every kernel's compile (or load from numba's cache, NUMBA_CACHE_DIR as the parent set it)."""
    x, y = make_batch(CONFIGS[config][3])
    logits, step = build_engine("ours_compiled", config, x, y)
    first_step, second_step = time_once(step), time_once(step)
    first_eval, second_eval = time_once(lambda: logits(x)), time_once(lambda: logits(x))
    return {"config": config, "what": "compile", "seconds": first_step - second_step + first_eval - second_eval}


def vm_mib(field: str) -> float:
    """This process's VmHWM (peak) or VmRSS (now) in MiB, from /proc (getrusage's peak would include the
    parent's, which survives exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status: the memory rows need Linux")


def epoch_memory(engine: str, config: str) -> dict:
    """Peak RSS over one training epoch (20,000 rows) in this fresh process, and RSS before it."""
    x, y = make_batch(EPOCH_ROWS)
    batch = CONFIGS[config][3]
    model = our_model(config)
    if engine == "ours":
        opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)

        def train_on(xb: np.ndarray, yb: np.ndarray) -> None:
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(tg.Tensor(xb))[:, 0], tg.Tensor(yb)).backward()
            opt.step()
    else:
        torch = import_torch()
        theirs = torch_model(config, weights_of(model), torch)
        del model
        opt = torch.optim.Adam(theirs.parameters(), lr=LR, betas=BETAS, eps=EPS)

        def train_on(xb: np.ndarray, yb: np.ndarray) -> None:
            opt.zero_grad()
            logits = theirs(torch.from_numpy(xb))[:, 0]
            torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(yb)).backward()
            opt.step()
    before = vm_mib("VmRSS")
    for start in range(0, len(x), batch):
        train_on(x[start:start + batch], y[start:start + batch])
    return {"config": config, "what": f"{engine}_epoch_memory", "rss_before_mib": round(before, 1),
            "peak_rss_mib": round(vm_mib("VmHWM"), 1)}


def leak_check(config: str = "a", steps: int = 100) -> dict:
    """Ours: RSS and live tensors after step 10 and after step `steps`, batches taken in turn from 20,000 rows."""
    x, y = make_batch(EPOCH_ROWS)
    batch = CONFIGS[config][3]
    model = our_model(config)
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    seen = {}
    for step in range(1, steps + 1):
        start = (step - 1) * batch % len(x)
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(tg.Tensor(x[start:start + batch]))[:, 0],
                                           tg.Tensor(y[start:start + batch])).backward()
        opt.step()
        if step in (10, steps):
            gc.collect()
            seen[step] = (round(vm_mib("VmRSS"), 1), sum(isinstance(o, tg.Tensor) for o in gc.get_objects()))
    return {"config": config, "what": "ours_leak_check", "steps": steps,
            "rss_after_10_mib": seen[10][0], f"rss_after_{steps}_mib": seen[steps][0],
            "live_tensors_after_10": seen[10][1], f"live_tensors_after_{steps}": seen[steps][1]}


# -- where the time goes ------------------------------------------------------------------------------
def profile_ops(config: str, kernels: str = "auto") -> None:
    """Print where ours' step spends its time at `config` on the kernel path `kernels`: CPU time per step (user and
    system, all threads) and page faults, op bodies per class (forward and backward), the optimiser, and the engine's
    Python around the ops, per op; then the same at batch 1, where numpy's arithmetic is negligible."""
    use_engine_speed_settings(kernels)
    print(f"# profile of ours ({tg.get_kernels()} kernels, {tg.get_num_threads()} threads) at "
          f"{CONFIG_TITLES[config]}; {machine_line(REPORTED_PACKAGES)}")
    full, single = profile_at(config, CONFIGS[config][3]), profile_at(config, 1)
    total = full["instrumented_step_s"]
    print(f"\nstep {full['step_s'] * 1e3:.2f} ms (median, not instrumented), {total * 1e3:.2f} ms instrumented "
          f"(mean; the timer costs {full['timer_cost_us_per_call']:.2f} us per call, subtracted below); "
          f"{full['forward_ops']} ops per step, {full['backward_ops']} backward calls")
    print(f"CPU time per step (not instrumented, all threads): user {full['user_s'] * 1e3:.0f} ms, system "
          f"{full['system_s'] * 1e3:.0f} ms, {full['minor_faults']:.0f} minor page faults; "
          f"{full['context_switches']:.0f} context switches")
    print("\n| op | calls per step | forward (ms) | backward (ms) | share of the step |\n|---|---|---|---|---|")
    rows = sorted(full["ops"].items(), key=lambda item: -(item[1]["forward_s"] + item[1]["backward_s"]))
    for name, op in rows:
        spent = op["forward_s"] + op["backward_s"]
        print(f"| {name} | {op['calls']} | {op['forward_s'] * 1e3:.2f} | {op['backward_s'] * 1e3:.2f} | "
              f"{spent / total:.0%} |")
    print(f"| optimiser (zero_grad + Adam step) | - | {full['optimiser_s'] * 1e3:.2f} | - | "
          f"{full['optimiser_s'] / total:.0%} |")
    print(f"| engine Python around the ops | {full['forward_ops']} ops | {full['python_s'] * 1e3:.2f} | - | "
          f"{full['python_s'] / total:.0%} |")
    print("\n| Python per op | step (ms) | op bodies (ms) | optimiser (ms) | around the ops (ms) | us per op |")
    print("|---|---|---|---|---|---|")
    for label, run in ((CONFIG_TITLES[config], full), (f"({config}) at batch 1", single)):
        print(f"| {label} | {run['instrumented_step_s'] * 1e3:.2f} | {run['bodies_s'] * 1e3:.2f} | "
              f"{run['optimiser_s'] * 1e3:.2f} | {run['python_s'] * 1e3:.2f} | "
              f"{run['python_s'] / run['forward_ops'] * 1e6:.1f} |")
    print(f"\nAt batch 1 the whole step is {single['step_s'] / single['forward_ops'] * 1e6:.1f} us per op "
          f"({single['step_s'] * 1e3:.2f} ms not instrumented): Python, numpy's per-call cost and tiny arithmetic. "
          "\"Around the ops\" is the instrumented step less the op bodies, the optimiser and the timer's own cost: "
          "Function.apply, the tape, the backward walk with its un-broadcast sums and gradient additions, and the "
          "modules' forward calls; us per op divides it by the forward ops.")


class OpTimer:
    """Times the bodies of every Function subclass's forward and backward (wrapping them while active), and knows
    its own cost per call, so that the time outside the bodies can be corrected for it."""

    def __init__(self):
        self.seconds: dict[str, dict[str, float]] = {"forward": {}, "backward": {}}
        self.calls: dict[str, dict[str, int]] = {"forward": {}, "backward": {}}
        self.depth = 0
        self.inside_cost, self.outside_cost = self.calibrate()

    def wrap(self, method: Callable, kind: str) -> Callable:
        def timed_method(op, *args, **kwargs):
            if self.depth:  # a subclass calling its parent's method: counted once, in the outer call
                return method(op, *args, **kwargs)
            self.depth += 1
            start = time.perf_counter()
            try:
                return method(op, *args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                name = type(op).__name__
                self.seconds[kind][name] = self.seconds[kind].get(name, 0.0) + spent
                self.calls[kind][name] = self.calls[kind].get(name, 0) + 1
                self.depth -= 1
        return timed_method

    def calibrate(self, calls: int = 20000) -> tuple[float, float]:
        """Seconds per call the wrapper adds inside the timed span (counted as op body) and outside it."""
        class Probe:
            def forward(self, array):
                return array

        probe, array, plain = Probe(), np.zeros(1), Probe.__dict__["forward"]
        best_plain = best_wrapped = best_recorded = math.inf
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(calls):
                probe.forward(array)
            best_plain = min(best_plain, (time.perf_counter() - start) / calls)
            Probe.forward = self.wrap(plain, "forward")
            self.seconds["forward"].clear()
            start = time.perf_counter()
            for _ in range(calls):
                probe.forward(array)
            best_wrapped = min(best_wrapped, (time.perf_counter() - start) / calls)
            best_recorded = min(best_recorded, self.seconds["forward"]["Probe"] / calls)
            Probe.forward = plain
        self.seconds["forward"].clear()
        self.calls["forward"].clear()
        return max(0.0, best_recorded - best_plain), max(0.0, best_wrapped - best_recorded)

    def __enter__(self) -> OpTimer:
        self.originals = []
        stack = [tg.Function]
        while stack:
            for cls in stack.pop().__subclasses__():
                stack.append(cls)
                self.originals += [(cls, kind, cls.__dict__[kind]) for kind in ("forward", "backward")
                                   if kind in cls.__dict__]
        for cls, kind, method in self.originals:
            setattr(cls, kind, self.wrap(method, kind))
        return self

    def __exit__(self, *exc) -> None:
        for cls, kind, method in self.originals:
            setattr(cls, kind, method)

    def clear(self) -> None:
        for table in (*self.seconds.values(), *self.calls.values()):
            table.clear()


def profile_at(config: str, batch: int) -> dict:
    """Ours' step at `config` with `batch` rows: its time without instrumentation (median), and, over the same
    number of instrumented steps, the op bodies, the optimiser and the rest (the engine's Python around the ops:
    apply, tape, backward walk, un-broadcast, gradient sums, modules), corrected for the timer's own cost."""
    x, y = make_batch(batch)
    model = our_model(config)
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    inputs, targets = tg.Tensor(x), tg.Tensor(y)
    optimiser_time = [0.0]

    def step() -> None:
        begin = time.perf_counter()
        opt.zero_grad()
        middle = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(model(inputs)[:, 0], targets)
        loss.backward()
        end = time.perf_counter()
        opt.step()
        optimiser_time[0] += middle - begin + time.perf_counter() - end

    step()
    steps = max(5, min(50, round(2.0 / max(1e-9, time_once(step)))))
    before = resource.getrusage(resource.RUSAGE_SELF)
    times = [time_once(step) for _ in range(steps)]
    after = resource.getrusage(resource.RUSAGE_SELF)
    step_s = statistics.median(times)
    usage = {"user_s": (after.ru_utime - before.ru_utime) / steps,
             "system_s": (after.ru_stime - before.ru_stime) / steps,
             "minor_faults": (after.ru_minflt - before.ru_minflt) / steps,
             "context_switches": (after.ru_nvcsw + after.ru_nivcsw - before.ru_nvcsw - before.ru_nivcsw) / steps}
    timer = OpTimer()
    with timer:
        step()
        timer.clear()
        optimiser_time[0] = 0.0
        total = sum(time_once(step) for _ in range(steps)) / steps
    calls = {kind: sum(table.values()) / steps for kind, table in timer.calls.items()}
    ops = {name: {"calls": timer.calls["forward"].get(name, 0) // steps,
                  **{f"{kind}_s": (timer.seconds[kind].get(name, 0.0) / steps
                                   - timer.inside_cost * timer.calls[kind].get(name, 0) / steps)
                     for kind in ("forward", "backward")}}
           for name in set(timer.seconds["forward"]) | set(timer.seconds["backward"])}
    bodies = sum(op["forward_s"] + op["backward_s"] for op in ops.values())
    optimiser = optimiser_time[0] / steps
    timer_cost = (timer.inside_cost + timer.outside_cost) * (calls["forward"] + calls["backward"])
    return {"batch": batch, "step_s": step_s, **usage, "instrumented_step_s": total, "ops": ops, "bodies_s": bodies,
            "optimiser_s": optimiser, "python_s": total - timer_cost - bodies - optimiser,
            "forward_ops": round(calls["forward"]), "backward_ops": round(calls["backward"]),
            "timer_cost_us_per_call": (timer.inside_cost + timer.outside_cost) * 1e6}


# -- the run ------------------------------------------------------------------------------------------
def installed(engine: str) -> bool:
    return engine not in PACKAGES or importlib.util.find_spec(PACKAGES[engine]) is not None


CHILD_ENVIRONMENT: dict[str, str] = {}  # added to every child's environment (--threads)


def in_fresh_process(*args: str, env: dict[str, str] | None = None) -> dict:
    """The JSON record a child run of this script prints (with `env` added to its environment); a failed child
    gives {"error": its last stderr line}."""
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            env={**os.environ, **CHILD_ENVIRONMENT, **(env or {})})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        message = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": message}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=[*CONFIGS, "eval", "memory"],
                        help="what to run (default: a b c eval memory; with --quick, a b c eval)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--json", help="also append the JSON records to this file")
    parser.add_argument("--markdown", action="store_true", help="print only the README's table and its header line")
    parser.add_argument("--profile", choices=list(CONFIGS), help="only print where ours' step spends its time")
    parser.add_argument("--threads", type=int, help="run every engine, and numpy's BLAS, on this many threads "
                        "(OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS in each child; default: each "
                        "library's own default). On a machine busy with other jobs, BLAS on 2 threads can stall "
                        "for tens of milliseconds waiting for a descheduled thread: --threads 1 compares steadily")
    parser.add_argument("--kernels", choices=["auto", "numpy", "compiled"], default="auto",
                        help="the kernel path --profile uses (default: compiled when numba is installed)")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, metavar=("ENGINE", "CONFIG"), help=argparse.SUPPRESS)
    parser.add_argument("--leak-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        profile_ops(args.profile, args.kernels)
        return
    if args.child or args.memory_child or args.leak_child or args.compile_child:
        use_engine_speed_settings(OURS.get(args.child[1], "auto") if args.child else "auto")
        if args.child:
            record = measure(*args.child, args.quick, args.reference)
        elif args.memory_child:
            record = epoch_memory(*args.memory_child)
        elif args.compile_child:
            record = compile_time()
        else:
            record = leak_check()
        print(json.dumps(record), flush=True)
        return

    if args.threads:
        CHILD_ENVIRONMENT.update({name: str(args.threads)
                                  for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    header = machine_line(REPORTED_PACKAGES) + (f"; every engine on {args.threads} thread(s)" if args.threads else "")
    say = (lambda *a, **k: None) if args.markdown else print
    say(f"# {header}", flush=True)
    configs = args.configs or [*CONFIGS, "eval", *([] if args.quick else ["memory"])]
    engines = [e for e in ENGINES if not (e == "torch" and args.no_torch)]
    quick = ["--quick"] if args.quick else []
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        for config in [c for c in configs if c != "memory"]:
            reference = str(Path(scratch) / f"ours_{config}.npz")  # ours writes it, the others are checked against it
            for engine in engines:
                if engine == "floor" and config == "eval":
                    continue
                record = {"config": config, "what": engine}
                if not installed(engine):
                    record["error"] = "not installed"
                else:
                    record.update(in_fresh_process("--child", config, engine, "--reference", reference, *quick))
                if engine in OURS and record.get("error", "not installed") != "not installed":
                    sys.exit(f"{engine} failed at {config}: {record['error']}")
                records.append(record)
                say(json.dumps(record), flush=True)
    if installed("ours_compiled") and configs != ["memory"]:
        with tempfile.TemporaryDirectory() as cache:
            for state in ("cold", "cached"):
                records.append({**in_fresh_process("--compile-child", env={"NUMBA_CACHE_DIR": cache}),
                                "what": f"compile_{state}"})
                say(json.dumps(records[-1]), flush=True)
    if "memory" in configs:
        for engine in ("ours", *([] if args.no_torch or not installed("torch") else ["torch"])):
            records.append({"config": "c", "what": f"{engine}_epoch_memory",
                            **in_fresh_process("--memory-child", engine, "c")})
            say(json.dumps(records[-1]), flush=True)
        records.append({"config": "a", "what": "ours_leak_check", **in_fresh_process("--leak-child")})
        say(json.dumps(records[-1]), flush=True)
    if args.markdown:
        print(f"{header}\n")
    else:
        print()
    print_table(records)
    if args.json:
        with open(args.json, "a") as file:
            file.writelines(json.dumps({**r, "machine": header}) + "\n" for r in records)
    failed = [r for r in records if "error" in r and r["error"] != "not installed"]
    if failed:
        sys.exit("failed: " + "; ".join(f"{r.get('config')} {r.get('what')}: {r['error']}" for r in failed))


def print_table(records: list[dict]) -> None:
    """One markdown table: time per step (or per eval pass) and the ratios; memory rows below."""
    by = {(r.get("config"), r.get("what")): r for r in records}

    def seconds(config: str, engine: str) -> float | None:
        return by.get((config, engine), {}).get("median")

    def cell(config: str, engine: str) -> str:
        record = by.get((config, engine))
        if record is None:
            return "-"
        if "median" in record:
            return f"{record['median']:.4f}"
        return "-" if record.get("error") == "not installed" else "failed"

    def ratio(top: float | None, bottom: float | None) -> str:
        return f"{top / bottom:.2f}" if top and bottom else "-"

    print("| config | ours, numpy (s) | ours, compiled (s) | torch (s) | autograd (s) | mygrad (s) | floor (s) | "
          "numpy/torch | compiled/torch | compiled/floor | autograd/compiled | mygrad/compiled |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for config in [*CONFIGS, "eval"]:
        if (config, "ours_numpy") not in by:
            continue
        fast = seconds(config, "ours_compiled")
        print(f"| {CONFIG_TITLES[config]} | " + " | ".join(cell(config, e) for e in ENGINES) + " | "
              + " | ".join([ratio(seconds(config, "ours_numpy"), seconds(config, "torch")),
                            ratio(fast, seconds(config, "torch")), ratio(fast, seconds(config, "floor")),
                            ratio(seconds(config, "autograd"), fast), ratio(seconds(config, "mygrad"), fast)])
              + " |")
    compile_cells = [f"{by[('a', w)]['seconds']:.2f} s" if "seconds" in by.get(("a", w), {}) else "-"
                     for w in ("compile_cold", "compile_cached")]
    if any(cell != "-" for cell in compile_cells):
        print(f"| compile time of the compiled path's first step and eval at (a): cold, cached | - | "
              f"{compile_cells[0]}, {compile_cells[1]} | - | - | - | - | - | - | - | - | - |")
    memory = {engine: by.get(("c", f"{engine}_epoch_memory"), {}) for engine in ("ours", "torch")}
    rise = {engine: record["peak_rss_mib"] - record["rss_before_mib"] for engine, record in memory.items()
            if "peak_rss_mib" in record}
    if memory["ours"]:
        def mib(engine: str) -> str:
            if engine not in rise:
                return "failed" if "error" in memory[engine] else "-"
            return f"{memory[engine]['peak_rss_mib']:.0f} MiB (+{rise[engine]:.0f})"

        print(f"| peak RSS of a training epoch at (c) (+ rise over its start; ratio of the rises) | - | "
              f"{mib('ours')} | {mib('torch')} | - | - | - | - | {ratio(rise.get('ours'), rise.get('torch'))} | "
              "- | - | - |")
    leak = by.get(("a", "ours_leak_check"))
    if leak and "steps" in leak:
        steps = leak["steps"]
        print(f"| RSS after step 10 / {steps} at (a), live tensors | - | {leak['rss_after_10_mib']:.0f} / "
              f"{leak[f'rss_after_{steps}_mib']:.0f} MiB, {leak['live_tensors_after_10']} / "
              f"{leak[f'live_tensors_after_{steps}']} | - | - | - | - | - | - | - | - | - |")


if __name__ == "__main__":
    main()
