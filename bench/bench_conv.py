"""Time the im2col convolutions against a naive loop, and one training step of each model.

    python bench/bench_conv.py             # conv shapes + every model at batch 64; about a minute
    python bench/bench_conv.py --quick     # fewer repeats
    python bench/bench_conv.py --json results.jsonl

Part 1: conv1d / conv2d forward + backward (input, weight and bias gradients) through the engine's
im2col op, against a naive implementation written here that loops over output positions (one
tensordot per position and group, forward and backward), at shapes the models use. The two are
checked to agree before timing.
Part 2: one training step (forward, BCE-with-logits loss, backward, Adam step) of each registered
model at batch 64 on (64, 42) inputs, with the constructors' small default sizes.
Every number is the median over `--repeats` timed runs after warm-up; a table is printed and each
row is also written as a JSON line (stdout, or appended to `--json`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from itertools import product
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_np as tg  # noqa: E402
import tinygrad_np.nn.functional as F  # noqa: E402
from mixer.models import build_model  # noqa: E402
from tinygrad_np import Tensor, optim  # noqa: E402

BATCH, SEQ_LEN = 64, 42


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- the naive reference: one Python iteration per output position ----------------------------------
def naive_conv_forward_backward(x: np.ndarray, w: np.ndarray, b: np.ndarray, grad: np.ndarray, stride: int,
                                padding: int, groups: int) -> tuple[np.ndarray, ...]:
    """Output and (input, weight, bias) gradients of a conv over 1 or 2 spatial axes, looping over
    output positions and groups."""
    nd = w.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(padding, padding)] * nd)
    kernel, out_size = w.shape[2:], grad.shape[2:]
    group_in, group_out = w.shape[1], w.shape[0] // groups
    out = np.empty(grad.shape, dtype=x.dtype)
    grad_xp, grad_w = np.zeros_like(xp), np.zeros_like(w)
    axes = list(range(1, nd + 2))
    for position in product(*(range(n) for n in out_size)):
        region = tuple(slice(i * stride, i * stride + k) for i, k in zip(position, kernel, strict=True))
        for g in range(groups):
            cin, cout = slice(g * group_in, (g + 1) * group_in), slice(g * group_out, (g + 1) * group_out)
            window = xp[(slice(None), cin) + region]
            out[(slice(None), cout) + position] = np.tensordot(window, w[cout], axes=(axes, axes))
            g_out = grad[(slice(None), cout) + position]  # (batch, group_out)
            grad_w[cout] += np.tensordot(g_out, window, axes=([0], [0]))
            grad_xp[(slice(None), cin) + region] += np.tensordot(g_out, w[cout], axes=([1], [0]))
    out += b.reshape(-1, *[1] * nd)
    crop = (slice(None), slice(None)) + tuple(slice(padding, padding + n) for n in x.shape[2:])
    return out, grad_xp[crop], grad_w, grad.sum(axis=(0, *range(2, 2 + nd)))


def engine_conv_forward_backward(x: np.ndarray, w: np.ndarray, b: np.ndarray, grad: np.ndarray, stride: int,
                                 padding: int, groups: int) -> tuple[np.ndarray, ...]:
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
    conv = F.conv1d if w.ndim == 3 else F.conv2d
    out = conv(xt, wt, bt, stride=stride, padding=padding, groups=groups)
    out.backward(grad)
    return out.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


CONV_CASES = [  # (label, x shape, weight shape, stride, padding, groups)
    ("stem 1->64 k3", (BATCH, 1, 42), (64, 1, 3), 1, 1, 1),
    ("depthwise 64 k7 (ConvNeXt)", (BATCH, 64, 42), (64, 1, 7), 1, 3, 64),
    ("dense 64->64 k3 (ResNet)", (BATCH, 64, 42), (64, 64, 3), 1, 1, 1),
    ("pointwise 64->64 k1", (BATCH, 64, 42), (64, 64, 1), 1, 0, 1),
    ("downsample 64->128 k3 s2", (BATCH, 64, 42), (128, 64, 3), 2, 1, 1),
    ("conv2d 16->32 k3 on 32x32", (16, 16, 32, 32), (32, 16, 3, 3), 1, 1, 1),
    ("conv2d depthwise 32 k3 s2 on 32x32", (16, 32, 32, 32), (32, 1, 3, 3), 2, 1, 32),
]


def bench_convs(repeats: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for label, x_shape, w_shape, stride, padding, groups in CONV_CASES:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32) * 0.1
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        out_size = tuple((n + 2 * padding - k) // stride + 1 for n, k in zip(x_shape[2:], w_shape[2:], strict=True))
        grad = rng.standard_normal((x_shape[0], w_shape[0], *out_size)).astype(np.float32)
        args = (x, w, b, grad, stride, padding, groups)
        for ours, reference in zip(engine_conv_forward_backward(*args), naive_conv_forward_backward(*args),
                                   strict=True):
            np.testing.assert_allclose(ours, reference, rtol=2e-3, atol=2e-3 * np.abs(reference).max())
        engine = median_seconds(lambda args=args: engine_conv_forward_backward(*args), repeats)
        naive = median_seconds(lambda args=args: naive_conv_forward_backward(*args), max(3, repeats // 4), warmup=1)
        rows.append({"bench": "conv", "case": label, "x": list(x_shape), "weight": list(w_shape), "stride": stride,
                     "padding": padding, "groups": groups, "im2col_ms": engine * 1e3, "naive_ms": naive * 1e3,
                     "speedup": naive / engine})
    return rows


# -- training steps ----------------------------------------------------------------------------------
MODEL_CASES = [  # (label, name, constructor keywords beyond the defaults)
    ("mlp-mixer (dim 64, depth 4, patch 3)", "mlp-mixer", {}),
    ("convnext (dim 64, depth 4, patch 1)", "convnext", {}),
    ("convnext (dim 64, depth 4, patch 3)", "convnext", {"patch_size": 3}),
    ("hybrid convnext (dim 64, depth 4, patch 1)", "hybrid", {}),
    ("hybrid convnext (dim 64, depth 4, patch 3)", "hybrid", {"patch_size": 3}),
    ("hybrid resnext (dim 64, depth 4, patch 3)", "hybrid", {"patch_size": 3, "block": "resnext"}),
    ("resnext (dim 64, depth 4, patch 1)", "resnext", {}),
    ("resnext (dim 64, depth 4, patch 3)", "resnext", {"patch_size": 3}),
]


def bench_models(repeats: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, SEQ_LEN)).astype(np.float32)
    y = (rng.random((BATCH, 1)) < 0.5).astype(np.float32)
    inputs = Tensor(x)
    for label, name, config in MODEL_CASES:
        tg.manual_seed(0)
        model = build_model(name, **config)
        opt = optim.Adam(model.parameters(), lr=1e-3)

        def step(model=model, opt=opt) -> None:
            loss = F.binary_cross_entropy_with_logits(model(inputs), y)
            loss.backward()
            opt.step()
            opt.zero_grad()

        seconds = median_seconds(step, repeats, warmup=3)
        rows.append({"bench": "train_step", "model": label, "name": name, "config": config, "batch": BATCH,
                     "parameters": model.num_parameters(), "step_ms": seconds * 1e3})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 20)")
    parser.add_argument("--json", type=Path, default=None, help="append JSON lines here instead of stdout")
    args = parser.parse_args()
    repeats = args.repeats or (6 if args.quick else 20)
    meta = {"numpy": np.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "repeats": repeats}

    conv_rows = bench_convs(repeats)
    print(f"\nconv forward + backward (x, weight, bias), float32, median of {repeats}:")
    print(f"{'case':38s} {'x':>18s} {'im2col ms':>10s} {'naive ms':>10s} {'speed-up':>9s}")
    for r in conv_rows:
        print(f"{r['case']:38s} {str(tuple(r['x'])):>18s} {r['im2col_ms']:10.2f} {r['naive_ms']:10.1f} "
              f"{r['speedup']:8.0f}x")

    model_rows = bench_models(repeats)
    print(f"\ntraining step (forward, BCE, backward, Adam), batch {BATCH}, float32, median of {repeats}:")
    print(f"{'model':46s} {'params':>9s} {'step ms':>9s}")
    for r in model_rows:
        print(f"{r['model']:46s} {r['parameters']:9d} {r['step_ms']:9.2f}")

    lines = [json.dumps({**row, **meta}) for row in conv_rows + model_rows]
    if args.json:
        with args.json.open("a") as file:
            file.write("\n".join(lines) + "\n")
    else:
        print()
        print("\n".join(lines))


if __name__ == "__main__":
    main()
