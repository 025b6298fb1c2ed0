"""Time one training step of PyTorch's word-level LSTM language model (pytorch/examples word_language_model: an
embedding of 200, 2 LSTM layers of 200, dropout 0.2, a decoder to a vocabulary of 10,000, untied or tied to the
embedding, log_softmax + NLL loss, gradient clipping at 0.25 and the example's plain SGD update with lr 20) on a
batch of 20 sequences of 35 tokens: ours and PyTorch's, side by side in one run.

    python bench/bench_lstm.py              # untied and tied; about 3 minutes
    python bench/bench_lstm.py --quick      # fewer, shorter rounds; about a minute
    python bench/bench_lstm.py --markdown   # the table only, as the README prints it
    python bench/bench_lstm.py --json results.jsonl
    python bench/bench_lstm.py --threads 1  # both engines on one thread (OpenBLAS's too): steadier on a busy machine

The model and the step are written once, as PyTorch code (`word_model`, `train_step`), and run on each engine by
passing its module (`tinygrad_np` or `torch`): only the import differs. Both start from the same weights (ours,
seed 0, loaded into PyTorch's model) and train on the same tokens. Before timing, each engine takes two steps with
dropout off (the engines draw different masks): PyTorch's first loss and its loss after one step (the gradients,
the clipping and the update together) must be within LOSS_RTOL of ours. The timed steps run with dropout on, as the
example trains.

Each engine runs in its own process with its speed settings (all cores, or --threads; our heap reuse), and the two
take turns:
a round of steps of one, then a round of the other, so that both see the same share of a busy machine. The ratio
is the median of the rounds' ratios (each round's median step time over the other engine's next round); the times
are medians over the rounds. The forward, backward and clip-and-update phases are timed on extra steps. OpenBLAS
keeps its default thread timeout: train.py's short one suits the Mixer's few large GEMMs, but here about 140 small
GEMMs a step alternate with numpy work, and threads put to sleep after each one would be woken 140 times a step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_np as tg  # noqa: E402
from bench.machine import machine_line  # noqa: E402

REPORTED_PACKAGES = ["numpy", "torch"]  # their versions head the table

VOCAB, EMBED, HIDDEN, LAYERS, DROPOUT = 10_000, 200, 200, 2, 0.2
BATCH, BPTT, LR, CLIP = 20, 35, 20.0, 0.25
CONFIGS = {"untied": False, "tied": True}
ENGINES = ("ours", "torch")
LOSS_RTOL = 1e-5  # float32 losses of ~9.2 over 700 tokens: the two engines agree to a few 1e-7
# per mode (key: --quick): rounds per engine, steps per round, steps whose phases are timed
ROUNDS, ROUND_STEPS, PHASE_STEPS = {False: 9, True: 4}, {False: 5, True: 3}, {False: 10, True: 3}


def word_model(torch: Any, tied: bool) -> Any:
    """The example's RNNModel (its LSTM branch), written against `torch`: either engine's module."""
    nn, F = torch.nn, torch.nn.functional

    class RNNModel(nn.Module):
        def __init__(self, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float, tie_weights: bool):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:
                self.decoder.weight = self.encoder.weight
            self.init_weights()
            self.nhid, self.nlayers = nhid, nlayers

        def init_weights(self) -> None:
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input: Any, hidden: Any) -> Any:  # noqa: A002 - the example's names
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output).view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz: int) -> tuple[Any, Any]:
            return torch.zeros(self.nlayers, bsz, self.nhid), torch.zeros(self.nlayers, bsz, self.nhid)

    return RNNModel(VOCAB, EMBED, HIDDEN, LAYERS, DROPOUT, tied)


def repackage_hidden(torch: Any, h: Any) -> Any:
    """The example's: cut the hidden state off from its history."""
    return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(torch, v) for v in h)


def train_step(torch: Any, model: Any, data: Any, targets: Any, hidden: Any, phases: dict[str, float] | None = None):
    """One step of the example's train(): forward, NLL loss, backward, clip_grad_norm_, p -= lr * grad. Returns
    (loss, hidden); adds each phase's seconds to `phases` if given."""
    start = time.perf_counter()
    hidden = repackage_hidden(torch, hidden)
    model.zero_grad()
    output, hidden = model(data, hidden)
    loss = torch.nn.NLLLoss()(output, targets)
    forward = time.perf_counter()
    loss.backward()
    backward = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-LR)
    value = loss.item()
    if phases is not None:
        end = time.perf_counter()
        for name, seconds in (("forward", forward - start), ("backward", backward - forward),
                              ("update", end - backward)):
            phases[name] = phases.get(name, 0.0) + seconds
    return value, hidden


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """BPTT x BATCH input tokens and the BPTT * BATCH next tokens (the example's get_batch layout)."""
    tokens = np.random.default_rng(seed).integers(0, VOCAB, (BPTT + 1, BATCH))
    return tokens[:-1], tokens[1:].reshape(-1)


def our_weights(tied: bool) -> dict[str, np.ndarray]:
    """Our model's initial weights (seed 0) as arrays, under PyTorch's names (a tied weight under both)."""
    tg.manual_seed(0)
    return {name: np.array(value.numpy()) for name, value in word_model(tg, tied).state_dict().items()}


def engine_setup(engine: str, threads: int) -> Any:
    """The engine's module, with its speed settings made as its users make them, on `threads` threads."""
    if engine == "torch":
        import torch

        torch.set_num_threads(threads)
        return torch
    tg.set_num_threads(threads)
    tg.enable_memory_reuse()
    return tg


def time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def serve(config: str, engine: str, quick: bool, reference: Path, threads: int) -> None:
    """One engine at one config in this process: the check (ours writes the reference losses, PyTorch is compared
    with them), then, on each line "round" read from stdin, one round of timed steps, answering its median; on
    "phases", the mean time of each phase over PHASE_STEPS steps. Answers are JSON lines on stdout."""
    tied = CONFIGS[config]
    torch = engine_setup(engine, threads)
    weights = our_weights(tied)
    if engine == "ours":
        tg.manual_seed(0)
        model = word_model(tg, tied)
    else:
        model = word_model(torch, tied)
        model.load_state_dict({name: torch.from_numpy(w) for name, w in weights.items()})
    tokens, next_tokens = batch()
    data, targets = torch.from_numpy(tokens), torch.from_numpy(next_tokens)
    hidden = model.init_hidden(BATCH)
    model.eval()  # the check: no dropout, so both engines compute the same function
    losses = []
    for _ in range(2):
        loss, hidden = train_step(torch, model, data, targets, hidden)
        losses.append(loss)
    record: dict[str, Any] = {"config": config, "what": engine, "losses": losses}
    if engine == "ours":
        np.save(reference, np.array(losses))
    else:
        ours = np.load(reference)
        gaps = [abs(a - b) / abs(b) for a, b in zip(losses, ours, strict=True)]
        if max(gaps) > LOSS_RTOL:
            raise RuntimeError(f"{engine} does not compute the same step as ours: losses {losses} against ours "
                               f"{list(ours)} (relative gaps {gaps}, allowed {LOSS_RTOL})")
        record["loss_rel_gaps"] = gaps
    model.train()
    state = {"hidden": hidden}

    def step(phases: dict[str, float] | None = None) -> None:
        state["hidden"] = train_step(torch, model, data, targets, state["hidden"], phases)[1]

    step()  # warm: the first training step allocates what the others reuse
    print(json.dumps(record), flush=True)
    for command in sys.stdin:
        if command.strip() == "round":
            answer = {"median": statistics.median(time_once(step) for _ in range(ROUND_STEPS[quick]))}
        elif command.strip() == "phases":
            phases: dict[str, float] = {}
            for _ in range(PHASE_STEPS[quick]):
                step(phases)
            answer = {"phases": {name: seconds / PHASE_STEPS[quick] for name, seconds in phases.items()}}
        else:
            return
        print(json.dumps(answer), flush=True)


class Child:
    """A `serve` process: its first answer (the check) on start, then one answer per command."""

    def __init__(self, config: str, engine: str, quick: bool, reference: str, threads: int | None):
        options = (["--quick"] if quick else []) + (["--threads", str(threads)] if threads else [])
        # OpenBLAS reads its thread count when numpy loads it: in the child's environment
        environment = {**os.environ, **({"OPENBLAS_NUM_THREADS": str(threads)} if threads else {})}
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", config, engine, "--reference",
                                         reference, *options], env=environment, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answer(self, command: str | None = None) -> dict:
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line.startswith("{"):
            self.process.kill()
            message = (self.process.communicate()[1].strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(message)
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.communicate("quit\n", timeout=60)


def measure_pair(config: str, quick: bool, scratch: str, threads: int | None) -> list[dict]:
    """Both engines at `config`, taking turns round by round; one record per engine."""
    reference = str(Path(scratch) / f"ours_{config}.npy")
    children: dict[str, Child] = {}
    records: dict[str, dict] = {}
    try:
        for engine in ENGINES:  # ours first: it writes the reference PyTorch is checked against
            children[engine] = Child(config, engine, quick, reference, threads)
            try:
                records[engine] = children[engine].answer()
            except RuntimeError as error:
                records[engine] = {"config": config, "what": engine, "error": str(error)}
        if any("error" in record for record in records.values()):
            return list(records.values())
        rounds: dict[str, list[float]] = {engine: [] for engine in ENGINES}
        for _ in range(ROUNDS[quick]):
            for engine in ENGINES:
                rounds[engine].append(children[engine].answer("round")["median"])
        for engine in ENGINES:
            times = rounds[engine]
            records[engine].update({"min": min(times), "median": statistics.median(times), "max": max(times),
                                    "rounds": len(times), "steps_per_round": ROUND_STEPS[quick],
                                    **children[engine].answer("phases")})
        ratios = [a / b for a, b in zip(rounds["ours"], rounds["torch"], strict=True)]
        records["ours"]["ratio_to_torch"] = statistics.median(ratios)
        records["ours"]["round_ratios"] = ratios
    finally:
        for child in children.values():
            child.close()
    return list(records.values())


def print_table(records: list[dict]) -> None:
    by = {(r["config"], r["what"]): r for r in records}

    def ms(record: dict | None) -> str:
        if record is None:
            return "-"
        return f"{record['median'] * 1e3:.1f}" if "median" in record else "failed"

    def split(record: dict | None) -> str:
        if record is None or "phases" not in record:
            return "-"
        return " / ".join(f"{record['phases'][name] * 1e3:.1f}" for name in ("forward", "backward", "update"))

    print("| word-level LSTM step (batch 20, 35 steps, 2 x 200, vocabulary 10,000) | ours (ms) | torch (ms) | "
          "ours/torch | ours forward / backward / clip+update (ms) | torch forward / backward / clip+update (ms) |")
    print("|---|---|---|---|---|---|")
    for config in CONFIGS:
        ours, theirs = by.get((config, "ours")), by.get((config, "torch"))
        ratio = f"{ours['ratio_to_torch']:.2f}" if ours and "ratio_to_torch" in ours else "-"
        print(f"| {config} decoder | {ms(ours)} | {ms(theirs)} | {ratio} | {split(ours)} | {split(theirs)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), help="what to run (default: both)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--json", help="also append the JSON records to this file")
    parser.add_argument("--markdown", action="store_true", help="print only the table and its header line")
    parser.add_argument("--threads", type=int, help="threads of both engines, OpenBLAS's included (default: all "
                        "cores, OpenBLAS as it starts)")
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve, args.quick, args.reference, args.threads or os.cpu_count() or 1)
        return
    header = machine_line(REPORTED_PACKAGES) + (f"; --threads {args.threads}" if args.threads else "; all cores")
    say = (lambda *a, **k: None) if args.markdown else print
    say(f"# {header}", flush=True)
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        for config in args.configs or list(CONFIGS):
            for record in measure_pair(config, args.quick, scratch, args.threads):
                records.append(record)
                say(json.dumps(record), flush=True)
    print(f"{header}\n" if args.markdown else "")
    print_table(records)
    if args.json:
        with open(args.json, "a") as file:
            file.writelines(json.dumps({**r, "machine": header}) + "\n" for r in records)
    failed = [r for r in records if "error" in r]
    if failed:
        sys.exit("failed: " + "; ".join(f"{r['config']} {r['what']}: {r['error']}" for r in failed))


if __name__ == "__main__":
    main()
