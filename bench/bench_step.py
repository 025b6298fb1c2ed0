"""Time one MLP-Mixer training step (forward, BCE-with-logits, backward, Adam step) and one
evaluation pass, ours against PyTorch and against the "matmul floor", side by side in one run.

    python bench/bench_step.py            # configs (a), (b), (c), eval, peak RSS; a few minutes
    python bench/bench_step.py --quick    # fewer repeats, no RSS epochs; under a minute
    python bench/bench_step.py --configs a b --json results.jsonl
    python bench/bench_step.py --profile c   # time per op class, forward and backward

The matmul floor is the same GEMMs as one of our steps (every Linear's forward product and
its two gradient products, shapes recorded from a real forward pass) run alone with numpy
into preallocated outputs: no step can be faster than that without faster GEMMs. PyTorch
(CPU build, if importable) runs the same model with the same weights, written as a PyTorch
user would write it. Each config runs in a fresh process; each measurement is the median of
repeated steps after warm-up, over several rounds; min/median/max over rounds are printed and
written as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# as train.py does: before numpy loads OpenBLAS, so its threads stop spinning soon after each GEMM
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_np as tg  # noqa: E402
import tinygrad_np.nn.functional as F  # noqa: E402
from mixer.models import MLPMixer1D  # noqa: E402
from tinygrad_np import optim  # noqa: E402
from tinygrad_np.ops import linalg  # noqa: E402

tg.set_num_threads(os.cpu_count() or 1)  # the engine's speed settings, as train.py makes them
tg.enable_memory_reuse()

CONFIGS = {  # name: (dim, depth, patch_size, batch)
    "a": (198, 10, 3, 32),
    "b": (48, 10, 1, 64),
    "c": (198, 10, 3, 1024),
}
SEED_NUMPY_SECONDS = {"a": 0.35, "b": 0.59, "c": 15.5}  # the hand-written numpy, as quoted in the speed issue
SEQ_LEN, EVAL_ROWS = 42, 4000


def timed(fn: Callable[[], object], steps: int, rounds: int, warmup: int) -> dict[str, float]:
    """min / median / max over rounds of the per-round median step time (seconds)."""
    for _ in range(warmup):
        fn()
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return {"min": min(medians), "median": statistics.median(medians), "max": max(medians)}


def make_batch(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, SEQ_LEN, 1)).astype(np.float32)
    y = (rng.random(batch) < 0.5).astype(np.float32)
    return x, y


# -- ours ----------------------------------------------------------------------------------
def our_model(dim: int, depth: int, patch: int) -> MLPMixer1D:
    tg.manual_seed(0)
    return MLPMixer1D(seq_len=SEQ_LEN, dim=dim, depth=depth, patch_size=patch)


def our_step(model: MLPMixer1D, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    opt = optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    inputs = tg.Tensor(x)

    def step() -> None:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(inputs)[:, 0], y)
        loss.backward()
        opt.step()

    return step


def our_eval(model: MLPMixer1D, x: np.ndarray) -> Callable[[], None]:
    from mixer.training import predict_proba

    return lambda: predict_proba(model, x)


# -- the matmul floor ------------------------------------------------------------------------
def recorded_linears(model: MLPMixer1D, x: np.ndarray) -> list[tuple[tuple[int, ...], tuple[int, int], int, bool]]:
    """(input shape, weight shape, axis, input needs grad) of every Linear in one forward pass."""
    calls = []
    original = linalg.Linear.forward

    def record(self, x, weight, bias=None, axis=-1):
        calls.append((x.shape, weight.shape, axis, self.needs_input_grad[0]))
        return original(self, x, weight, bias, axis)

    linalg.Linear.forward = record
    try:
        model(tg.Tensor(x))
    finally:
        linalg.Linear.forward = original
    return calls


def floor_step(calls, rng: np.random.Generator) -> tuple[Callable[[], None], float]:
    """One step's GEMMs alone (forward, grad of input, grad of weight) and their FLOP count."""
    products = []
    flops = 0.0
    for x_shape, (out_features, in_features), axis, needs_x in calls:
        other = int(np.prod(x_shape)) // in_features
        w = rng.standard_normal((out_features, in_features)).astype(np.float32)
        if axis == -1:  # x (other, in): y = x W^T, dx = g W, dW = g^T x
            x, g = (rng.standard_normal(s).astype(np.float32) for s in ((other, in_features), (other, out_features)))
            shapes = [(x, w.T), (g.T, x)] + ([(g, w)] if needs_x else [])
        else:  # x (in, other): y = W x, dx = W^T g, dW = g x^T
            x, g = (rng.standard_normal(s).astype(np.float32) for s in ((in_features, other), (out_features, other)))
            shapes = [(w, x), (g, x.T)] + ([(w.T, g)] if needs_x else [])
        for a, b in shapes:
            products.append((a, b, np.empty((a.shape[0], b.shape[1]), dtype=np.float32)))
            flops += 2.0 * a.shape[0] * a.shape[1] * b.shape[1]

    def step() -> None:
        for a, b, out in products:
            np.matmul(a, b, out=out)

    return step, flops


# -- PyTorch -----------------------------------------------------------------------------------
def torch_model(ours: MLPMixer1D, torch):
    """The same MLP-Mixer in PyTorch (batch-first, transposes around the token MLP, as PyTorch
    code usually writes it), loaded with our weights so both compute the same function."""
    nn = torch.nn

    class Mlp(nn.Module):
        def __init__(self, features, hidden):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(features, hidden), nn.Linear(hidden, features)

        def forward(self, x):
            return self.fc2(nn.functional.gelu(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self, tokens, dim, token_hidden, channel_hidden):
            super().__init__()
            self.token_norm, self.token_mixing = nn.LayerNorm(dim), Mlp(tokens, token_hidden)
            self.channel_norm, self.channel_mixing = nn.LayerNorm(dim), Mlp(dim, channel_hidden)

        def forward(self, x):
            x = x + self.token_mixing(self.token_norm(x).transpose(1, 2)).transpose(1, 2)
            return x + self.channel_mixing(self.channel_norm(x))

    class Mixer(nn.Module):
        def __init__(self, model):
            super().__init__()
            block = model.blocks[0]
            self.tokens, self.patch = model.num_tokens, model.patch_size
            self.proj = nn.Linear(model.proj.in_features, model.proj.out_features)
            self.blocks = nn.Sequential(*[Block(model.num_tokens, model.norm.dim, block.token_mixing.fc1.out_features,
                                                block.channel_mixing.fc1.out_features) for _ in model.blocks])
            self.norm, self.head = nn.LayerNorm(model.norm.dim), nn.Linear(model.norm.dim, 1)

        def forward(self, x):
            x = self.proj(x.reshape(x.shape[0], self.tokens, self.patch))
            return self.head(self.norm(self.blocks(x)).mean(dim=1))

    model = Mixer(ours)
    with torch.no_grad():
        for theirs, mine in zip(model.parameters(), ours.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(mine.data.copy()))
    return model


def torch_step(model, x: np.ndarray, y: np.ndarray, torch) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(inputs)[:, 0], targets)
        loss.backward()
        opt.step()

    return step


def torch_eval(model, x: np.ndarray, torch) -> Callable[[], None]:
    inputs = torch.from_numpy(x)

    def run() -> None:
        with torch.no_grad():
            model.eval()
            torch.cat([torch.sigmoid(model(inputs[i:i + 4096])) for i in range(0, len(inputs), 4096)])
            model.train()

    return run


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


# -- memory ----------------------------------------------------------------------------------
def peak_rss_of_epoch(config: str) -> dict[str, float]:
    """Run one training epoch (20,000 rows) in a fresh process; its peak RSS and its RSS before."""
    result = subprocess.run([sys.executable, __file__, "--rss-child", config], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; getrusage's ru_maxrss would include the parent's peak,
    which survives exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(config: str) -> None:
    dim, depth, patch, batch = CONFIGS[config]
    model = our_model(dim, depth, patch)
    opt = optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    x, y = make_batch(20000)
    before = peak_rss_mib()
    for start in range(0, len(x), batch):
        opt.zero_grad()
        logits = model(tg.Tensor(x[start:start + batch]))
        F.binary_cross_entropy_with_logits(logits[:, 0], y[start:start + batch]).backward()
        opt.step()
    peak = peak_rss_mib()
    print(json.dumps({"rss_before_mib": round(before, 1), "peak_rss_mib": round(peak, 1)}))


# -- where the time goes --------------------------------------------------------------------
def profile_ops(config: str, steps: int) -> None:
    """Print the time per op class (forward and backward) and in the optimiser over `steps` steps."""
    from tinygrad_np import tensor

    forward_time: dict[str, float] = {}
    backward_time: dict[str, float] = {}
    apply = tensor.Function.apply.__func__

    def timed_apply(cls, *inputs, **options):
        start = time.perf_counter()
        out = apply(cls, *inputs, **options)
        forward_time[cls.__name__] = forward_time.get(cls.__name__, 0.0) + time.perf_counter() - start
        return out

    def timed_backward(backward):
        def run(self, grad):
            start = time.perf_counter()
            grads = backward(self, grad)
            name = type(self).__name__
            backward_time[name] = backward_time.get(name, 0.0) + time.perf_counter() - start
            return grads
        return run

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    dim, depth, patch, batch = CONFIGS[config]
    x, y = make_batch(batch)
    model = our_model(dim, depth, patch)
    opt = optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    inputs = tg.Tensor(x)
    originals = {cls: cls.__dict__["backward"] for cls in set(subclasses(tensor.Function))
                 if "backward" in cls.__dict__}
    tensor.Function.apply = classmethod(timed_apply)
    for cls, backward in originals.items():
        cls.backward = timed_backward(backward)
    optimizer_time = 0.0
    try:
        for step in range(steps + 1):
            if step == 1:  # the first step warms up
                forward_time.clear()
                backward_time.clear()
                optimizer_time, start = 0.0, time.perf_counter()
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(inputs)[:, 0], y).backward()
            begin = time.perf_counter()
            opt.step()
            optimizer_time += time.perf_counter() - begin
        total = (time.perf_counter() - start) / steps
    finally:
        tensor.Function.apply = classmethod(apply)
        for cls, backward in originals.items():
            cls.backward = backward
    print(f"config ({config}): {total * 1e3:.1f} ms per step")
    print("| op | forward (ms) | backward (ms) | share |\n|---|---|---|---|")
    names = sorted(set(forward_time) | set(backward_time),
                   key=lambda n: -(forward_time.get(n, 0) + backward_time.get(n, 0)))
    for name in names:
        spent = (forward_time.get(name, 0.0) + backward_time.get(name, 0.0)) / steps
        if spent * 1e3 >= 0.05:
            print(f"| {name} | {forward_time.get(name, 0.0) / steps * 1e3:.1f} | "
                  f"{backward_time.get(name, 0.0) / steps * 1e3:.1f} | {spent / total:.0%} |")
    print(f"| Adam step | {optimizer_time / steps * 1e3:.1f} | - | {optimizer_time / steps / total:.0%} |")


# -- main ------------------------------------------------------------------------------------
def measure_config(name: str, quick: bool, torch) -> list[dict]:
    """Floor, ours and PyTorch for one config (run in a fresh process by `main`)."""
    dim, depth, patch, batch = CONFIGS[name]
    small = batch <= 64
    steps, rounds = (10 if small else 2, 3) if quick else (30 if small else 5, 5)
    warmup = 3 if small else 1
    x, y = make_batch(batch)
    model = our_model(dim, depth, patch)
    config = {"config": name, "dim": dim, "depth": depth, "patch": patch, "batch": batch}
    calls = recorded_linears(model, x)
    # ours first: the floor's preallocated arrays, alive on the heap, slowed the next step by 10-30%
    ours_t = timed(our_step(model, x, y), steps, rounds, warmup)
    floor, flops = floor_step(calls, np.random.default_rng(0))
    floor_t = timed(floor, steps, rounds, warmup)
    records = [{**config, "what": "matmul_floor", **floor_t, "gflops": flops / 1e9,
                "gflop_per_s": flops / 1e9 / floor_t["median"]},
               {**config, "what": "ours_step", **ours_t, "step_over_floor": ours_t["median"] / floor_t["median"],
                "seed_numpy_quoted_s": SEED_NUMPY_SECONDS[name],
                "speedup_over_seed_numpy": SEED_NUMPY_SECONDS[name] / ours_t["median"]}]
    if torch is None:
        return records + [{**config, "what": "torch_step", "torch": "not installed"}]
    theirs = torch_model(our_model(dim, depth, patch), torch)
    with torch.no_grad():
        gap = np.abs(theirs(torch.from_numpy(x)).numpy() - our_model(dim, depth, patch)(x).data).max()
    torch_t = timed(torch_step(theirs, x, y, torch), steps, rounds, warmup)
    return records + [{**config, "what": "torch_step", **torch_t, "max_logit_gap": float(gap),
                       "ours_over_torch": ours_t["median"] / torch_t["median"]}]


def measure_eval(quick: bool, torch) -> list[dict]:
    """One evaluation pass over 4,000 rows at config (a), ours and PyTorch."""
    eval_x, _ = make_batch(EVAL_ROWS, seed=1)
    dim, depth, patch, _ = CONFIGS["a"]
    model = our_model(dim, depth, patch)
    ours_eval = timed(our_eval(model, eval_x), 1 if quick else 3, 3, 1)
    record = {"config": "a", "what": "ours_eval_4000_rows", **ours_eval, "seed_numpy_quoted_s": 11.0}
    if torch is None:
        return [record]
    torch_eval_t = timed(torch_eval(torch_model(model, torch), eval_x, torch), 1 if quick else 3, 3, 1)
    record["ours_over_torch"] = ours_eval["median"] / torch_eval_t["median"]
    return [{"config": "a", "what": "torch_eval_4000_rows", **torch_eval_t}, record]


def in_fresh_process(*args: str) -> list[dict]:
    """The JSON records a child run of this script prints: each measurement starts from a fresh heap,
    as a training run would (after other configs, fragmentation slowed config (c) by up to 40%)."""
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"bench child {args} failed:\n{result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--quick", action="store_true", help="fewer repeats and no RSS epochs")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--json", help="also append the JSON lines to this file")
    parser.add_argument("--profile", choices=list(CONFIGS), help="only print where one config's step spends time")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        profile_ops(args.profile, 3 if CONFIGS[args.profile][3] > 64 else 20)
        return
    if args.rss_child:
        rss_child(args.rss_child)
        return
    torch = None if args.no_torch else import_torch()
    if args.child:
        records = measure_eval(args.quick, torch) if args.child == "eval" else measure_config(args.child, args.quick,
                                                                                              torch)
        for record in records:
            print(json.dumps(record), flush=True)
        return

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}", flush=True)
    flags = [flag for flag, on in (("--quick", args.quick), ("--no-torch", args.no_torch)) if on]
    records = []
    for name in [*args.configs, "eval"]:
        for record in in_fresh_process("--child", name, *flags):
            records.append(record)
            print(json.dumps(record), flush=True)
    if not args.quick:
        for name in ("a", "c"):
            records.append({"config": name, "what": "peak_rss_training_epoch", **peak_rss_of_epoch(name)})
            print(json.dumps(records[-1]), flush=True)
    print_table(records, torch is not None)
    if args.json:
        with open(args.json, "a") as file:
            file.writelines(json.dumps(r) + "\n" for r in records)


def print_table(records: list[dict], have_torch: bool) -> None:
    by = {(r["config"], r["what"]): r for r in records}
    print("\n| config | ours (s) | torch (s) | floor (s) | ours/torch | step/floor | seed numpy / ours |")
    print("|---|---|---|---|---|---|---|")
    for name in CONFIGS:
        ours, floor = by.get((name, "ours_step")), by.get((name, "matmul_floor"))
        if ours is None:
            continue
        theirs = by.get((name, "torch_step"), {})
        torch_s = f"{theirs['median']:.4f}" if "median" in theirs else "not installed"
        ratio = f"{ours['median'] / theirs['median']:.2f}" if "median" in theirs else "-"
        print(f"| ({name}) | {ours['median']:.4f} | {torch_s} | {floor['median']:.4f} | {ratio} | "
              f"{ours['step_over_floor']:.2f} | {ours['speedup_over_seed_numpy']:.1f}x |")
    ours_eval = by.get(("a", "ours_eval_4000_rows"))
    if ours_eval:
        theirs = by.get(("a", "torch_eval_4000_rows"), {})
        torch_s = f"{theirs['median']:.4f}" if have_torch else "not installed"
        print(f"| eval 4,000 rows at (a) | {ours_eval['median']:.4f} | {torch_s} | - | "
              f"{ours_eval.get('ours_over_torch', float('nan')):.2f} | - | {11.0 / ours_eval['median']:.0f}x |")


if __name__ == "__main__":
    main()
