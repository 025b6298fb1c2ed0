"""Time one training step of train.py's own configurations, side by side with the default's: what an option costs
per step, as a ratio to the default run.

    python bench/bench_configs.py                     # the configurations below, 5 passes; about 3 minutes
    python bench/bench_configs.py --markdown          # the table as docs print it
    python bench/bench_configs.py --only default feature-budget
    python bench/bench_configs.py --set feature-narrow tokens=feature token_expansion=1 depth=3

A step is the one `train.py` takes (`TrainingLoop.step`): the configured model, optimiser and gradient clipping,
the update monitor, batch 128 of rows shaped as UNSW-NB15's (normal values, category codes at proto/service/state:
a step's cost does not depend on the values) -- forward, loss, backward, clipping, optimiser step. Each
configuration runs in a fresh process with the engine's speed settings (as train.py makes them) and is timed by
the per-round median step time, after warm-up steps; the configurations take turns over --passes passes, and a
configuration's time is its least disturbed one, the minimum over its rounds and passes (as timeit advises: other
load on a shared machine only ever adds time, in bursts that a median over a few rounds does not remove). The ratios
to the default, measured in one run, are the numbers to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # as train.py does, before numpy loads OpenBLAS

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_np as tg  # noqa: E402
from mixer import data as unsw  # noqa: E402
from mixer.config import TrainConfig  # noqa: E402
from mixer.loop import StepLoss, TrainingLoop, UpdateMonitor  # noqa: E402
from mixer.models.tabular import fit_ple_edges  # noqa: E402
from mixer.training import loss_fn, make_model, make_optimizer, numeric_positions  # noqa: E402

# name: the options that differ from train.py's defaults
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "feature": {"tokens": "feature"},
    # 42 feature tokens within the default's budget: a token MLP sized for 42 tokens (42 hidden units, not 168),
    # a narrower channel MLP, fewer blocks
    "feature-budget": {"tokens": "feature", "token_expansion": 1.0, "channel_expansion": 0.25, "depth": 2},
    "feature-budget-3": {"tokens": "feature", "token_expansion": 1.0, "channel_expansion": 0.25, "depth": 3},
    "feature-dim32": {"tokens": "feature", "token_expansion": 1.0, "dim": 32},
}
CATEGORY_SIZES = (132, 14, 5)  # codes (with "unknown") of proto, service and state in the training file
BATCH = 128
WARMUP_STEPS, ROUNDS, ROUND_SECONDS = 3, 3, 1.0


def parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, unsw.N_FEATURES)).astype(np.float32)
    for position, size in zip(unsw.CATEGORICAL_POSITIONS, CATEGORY_SIZES, strict=True):
        x[:, position] = rng.integers(0, size, n)
    return x


def measure(values: dict[str, Any]) -> dict[str, Any]:
    """One configuration's step time (in this process)."""
    config = TrainConfig.from_dict(values)
    categories = dict(zip(unsw.CATEGORICAL_POSITIONS, CATEGORY_SIZES, strict=True))
    tg.manual_seed(0)
    ple_edges = None
    if config.model.numeric_embedding == "ple":
        ple_edges = fit_ple_edges(rows(2000, 1)[:, numeric_positions(config)], config.model.ple_bins)
    model = make_model(config, 2, categories, ple_edges)
    optimizer = make_optimizer(config, model, steps_per_epoch=100)
    features, labels = rows(BATCH, 2), np.random.default_rng(3).integers(0, 2, BATCH)

    def batch_loss(batch: np.ndarray, step_rows: int) -> StepLoss:
        loss = loss_fn(model(features[batch]), labels[batch], reduction="sum")
        return StepLoss(loss / step_rows, loss.item(), {})

    loop = TrainingLoop(model, optimizer, None, num_rows=BATCH, make_batch=lambda batch: batch, batch_loss=batch_loss,
                        batch_size=BATCH, order_rng=np.random.default_rng(0),
                        clip_grad_norm=config.optimisation.clip_grad_norm,
                        needs_closure=config.sam.variant != "none", monitor=UpdateMonitor(model))
    order = np.arange(BATCH)

    def step() -> float:
        start = time.perf_counter()
        loop.step(order, 0, 1)
        return time.perf_counter() - start

    for _ in range(WARMUP_STEPS):
        estimate = step()
    per_round = max(1, round(ROUND_SECONDS / max(estimate, 1e-6)))
    medians = [statistics.median(step() for _ in range(per_round)) for _ in range(ROUNDS)]
    return {"seconds": min(medians), "median": statistics.median(medians), "max": max(medians),
            "parameters": sum(p.numel() for p in model.parameters()), "tokens": model.num_tokens,
            "options": config.applicable()["model"]}


def run_child(values: dict[str, Any]) -> dict[str, Any]:
    """measure() in a fresh process, so that no configuration inherits another's heap."""
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(values)], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise RuntimeError(f"configuration {values} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: dict[str, dict[str, Any]], markdown: bool) -> str:
    base = results.get("default", next(iter(results.values())))["seconds"]
    header = ["configuration", "options (beside the defaults)", "tokens", "parameters", "ms / step", "x default"]
    lines = []
    for name, result in results.items():
        options = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in CONFIGURATIONS_USED[name].items())
        lines.append([name, options or "(train.py's defaults)", str(result["tokens"]), f"{result['parameters']:,}",
                      f"{1000 * result['seconds']:.1f}", f"{result['seconds'] / base:.2f}"])
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                     for row in [header, *lines])


CONFIGURATIONS_USED: dict[str, dict[str, Any]] = {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"some of {', '.join(CONFIGURATIONS)}")
    parser.add_argument("--set", nargs="+", action="append", metavar="NAME KEY=VALUE", default=[],
                        help="a configuration of your own: its name, then options (the flag names, e.g. depth=2)")
    parser.add_argument("--passes", type=int, default=5, help="turns each configuration takes (default: 5)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        tg.set_num_threads(os.cpu_count() or 1)  # the engine's speed settings, as train.py makes them
        tg.enable_memory_reuse()
        print(json.dumps(measure(json.loads(args.child))))
        return 0
    chosen = {name: CONFIGURATIONS[name] for name in (args.only or CONFIGURATIONS) if name in CONFIGURATIONS}
    unknown = sorted(set(args.only or ()) - set(CONFIGURATIONS))
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(unknown)}; choose from {', '.join(CONFIGURATIONS)}")
    for name, *pairs in args.set:
        if any("=" not in pair for pair in pairs):
            parser.error(f"--set {name}: options are KEY=VALUE, got {' '.join(pairs)}")
        chosen[name] = {key.replace("-", "_"): parse_value(value) for key, value in (p.split("=", 1) for p in pairs)}
    if "default" not in chosen:
        chosen = {"default": {}, **chosen}
    CONFIGURATIONS_USED.update(chosen)
    passes: dict[str, list[dict[str, Any]]] = {name: [] for name in chosen}
    for number in range(args.passes):
        for name, values in chosen.items():
            passes[name].append(run_child(values))
            print(f"pass {number + 1}: {name}: {1000 * passes[name][-1]['seconds']:.1f} ms/step", file=sys.stderr)
    results = {name: {**runs[0], "seconds": min(run["seconds"] for run in runs),
                      "passes": [run["seconds"] for run in runs]} for name, runs in passes.items()}
    print(table(results, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps({"batch": BATCH, "results": results, "configurations": chosen},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
