"""Where each model and optimiser of the results table sits on the loss landscape: top Hessian eigenvalue, trace and
share of negative eigenvalues (`train.py landscape`) beside test accuracy and ROC-AUC, one row per variant.

    python bench/landscape.py --markdown                         # train every variant (seed 0), then measure
    python bench/landscape.py --variants default sam ssam        # some of them
    python bench/landscape.py --run default=runs/A sam=runs/B    # runs that already exist
    python bench/landscape.py --markdown -- --rows 512           # flags after -- go to train.py landscape

Each variant is trained by train.py's own command (with `--seed`, default 0) into `--runs-dir`/<variant>-s<seed>,
after its pretraining where it has one (pretrain-mae, pretrain-vae, same seed); a folder that already holds a
finished run is used as it is, one that holds an interrupted run is resumed. Then one `train.py landscape` measures
every run's best.npz on the same rows (the runs share the seed, so their training rows are the same) into
`--runs-dir`/landscape-s<seed>, and the table is printed: the top eigenvalue, the trace (Hutchinson, +- its standard
error), the negative share (stochastic Lanczos quadrature), the number of parameters (the trace sums over them), and
the run's test accuracy at threshold 0.5 and ROC-AUC from its result.json. The command, the date and the machine
open the output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TRAIN_PY = Path(__file__).resolve().parent.parent / "train.py"

# name: (row label, train.py flags; "{mae}" / "{vae}" stand for the pretrained checkpoint, pretraining command)
VARIANTS: dict[str, tuple[str, list[str], str | None]] = {
    "default": ("MLP-Mixer (default)", [], None),
    "convnext": ("ConvNeXt", ["--model", "convnext"], None),
    "resnext": ("ResNeXt", ["--model", "resnext"], None),
    "hybrid": ("hybrid (conv, then Mixer blocks)", ["--model", "hybrid"], None),
    "mae": ("MAE fine-tuned", ["--init-from-mae", "{mae}"], "pretrain-mae"),
    "latent-noise": ("VAE latent noise", ["--latent-model", "{vae}", "--latent-noise", "0.5"], "pretrain-vae"),
    "sam": ("SAM", ["--sam", "sam"], None),
    "ssam": ("Sparse SAM (Fisher)", ["--sam", "ssam-f"], None),
    "noisy": ("noisy AdamW", ["--noise-scale", "1e-4", "--noise-schedule", "cosine"], None),
    "lambda": ("lambda token mixing", ["--token-mixer", "lambda"], None),
    "inception": ("inception stem", ["--stem", "inception"], None),
}
# pretraining command: (its placeholder, its checkpoint, the file it writes last, when it has finished)
PRETRAINED = {"pretrain-mae": ("mae", "mae.npz", "reconstruction_loss.png"),
              "pretrain-vae": ("vae", "vae.npz", "elbo_loss.png")}


class BenchError(Exception):
    """A problem the user can fix, said in one line."""


def call(words: list[str], log: Any) -> None:
    """Run `python train.py WORDS` as its own process, as a user would (its speed settings, its output on our
    stderr: stdout is the table's alone); a failure becomes a BenchError with its last line."""
    log("$ python train.py " + " ".join(shlex.quote(word) for word in words))
    try:
        output: Any = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a file (captured): pass the text on after
        output = subprocess.PIPE
    done = subprocess.run([sys.executable, str(TRAIN_PY), *words], stdout=output, stderr=subprocess.PIPE, text=True,
                          check=False)
    if output == subprocess.PIPE and done.stdout:
        print(done.stdout, end="", file=sys.stderr)
    if done.stderr:
        print(done.stderr, end="", file=sys.stderr)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        raise BenchError(f"python train.py {' '.join(words)} failed (exit code {done.returncode}): {last}")


def ensure_run(folder: Path, words: list[str], checkpoint: str, last_file: str, log: Any) -> None:
    """A finished run in `folder`: kept if it is there (it wrote `last_file`), resumed from `checkpoint` if it was
    interrupted, else trained by `python train.py WORDS --out folder`."""
    if (folder / last_file).is_file():
        log(f"using {folder} (already there)")
        return
    if (folder / checkpoint).is_file():
        command = [words[0]] if words[0] in PRETRAINED else []
        call([*command, "--resume", str(folder / checkpoint)], log)
        return
    call([*words, "--out", str(folder)], log)


def size_flags(args: argparse.Namespace, command: str) -> list[str]:
    """The flags that shrink or move every run (--epochs, --data-dir; --dim and --depth where the command has them)."""
    flags = []
    if args.epochs is not None:
        flags += ["--epochs", str(args.epochs)]
    if args.data_dir is not None:
        flags += ["--data-dir", args.data_dir]
    if command != "pretrain-vae":
        for name in ("dim", "depth"):
            if getattr(args, name) is not None:
                flags += [f"--{name}", str(getattr(args, name))]
    return flags


def train_variants(args: argparse.Namespace, log: Any) -> dict[str, Path]:
    """The run folder of every variant, trained (with its pretraining) where it is not there yet."""
    given = dict(parse_run(text) for text in args.run)
    runs_dir = Path(args.runs_dir)
    folders = {}
    for name in args.variants:
        if name in given:
            folders[name] = given[name]
            continue
        _, flags, pretraining = VARIANTS[name]
        replacements = {}
        if pretraining:
            key, file, last_file = PRETRAINED[pretraining]
            pretrained = runs_dir / f"{pretraining}-s{args.seed}"
            ensure_run(pretrained, [pretraining, "--seed", str(args.seed), *size_flags(args, pretraining)], file,
                       last_file, log)
            replacements[key] = str(pretrained / file)
        flags = [flag.format(**replacements) for flag in flags]
        folders[name] = runs_dir / f"{name}-s{args.seed}"
        ensure_run(folders[name], ["--seed", str(args.seed), *flags, *size_flags(args, "train")], "last.npz",
                   "result.json", log)
    return folders


def parse_run(text: str) -> tuple[str, Path]:
    name, _, folder = text.partition("=")
    if name not in VARIANTS or not folder:
        raise BenchError(f"--run {text}: give VARIANT=DIR with VARIANT one of {', '.join(VARIANTS)}")
    if not (Path(folder) / "result.json").is_file():
        raise BenchError(f"--run {text}: {folder} holds no finished train.py run (no result.json)")
    return name, Path(folder)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BenchError(f"cannot read {path}: {error}") from None


def table_rows(folders: dict[str, Path], landscape: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant: its landscape measurements and its run's test metrics."""
    measured = {entry["checkpoint"]: entry for entry in landscape["checkpoints"]}
    rows = []
    for name, folder in folders.items():
        entry = measured[str(folder / "best.npz")]
        result = read_json(folder / "result.json")
        top, trace, density = entry.get("top_eigenvalues"), entry.get("trace"), entry.get("density")
        rows.append({
            "variant": name, "label": VARIANTS[name][0], "folder": str(folder),
            "flags": " ".join(VARIANTS[name][1]).replace("{mae}", "MAE.npz").replace("{vae}", "VAE.npz"),
            "parameters": entry.get("parameters"),
            "top_eigenvalue": top["values"][0] if top and top["values"] else None,
            "top_converged": bool(top and top["converged"]),
            "trace": trace["value"] if trace else None, "trace_std_error": trace["std_error"] if trace else None,
            "negative_share": density["negative_share"] if density else None,
            "test_accuracy": result.get("test", {}).get("accuracy"), "test_roc_auc": result.get("test", {}).get(
                "roc_auc")})
    return rows


COLUMNS = ("model", "flags", "parameters", "top eigenvalue", "trace", "negative share", "test accuracy", "ROC-AUC")


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def cells(row: dict[str, Any]) -> list[str]:
    top = _number(row["top_eigenvalue"]) + ("" if row["top_converged"] or row["top_eigenvalue"] is None else "*")
    trace = _number(row["trace"]) + ("" if row["trace_std_error"] is None else f" ± {row['trace_std_error']:.2g}")
    return [row["label"], f"`{row['flags']}`" if row["flags"] else "", f"{row['parameters']:,}" if
            row["parameters"] else "-", top, trace,
            "-" if row["negative_share"] is None else f"{row['negative_share']:.4f}",
            "-" if row["test_accuracy"] is None else f"{row['test_accuracy']:.4f}",
            "-" if row["test_roc_auc"] is None else f"{row['test_roc_auc']:.4f}"]


def format_table(rows: list[dict[str, Any]], markdown: bool) -> str:
    lines = [list(COLUMNS), *map(cells, rows)]
    if markdown:
        return "\n".join(["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
                         + ["| " + " | ".join(line) + " |" for line in lines[1:]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def header(argv: Sequence[str], landscape: dict[str, Any]) -> str:
    machine = landscape["machine"]
    settings = landscape["settings"]
    return (f"`python bench/landscape.py {' '.join(shlex.quote(word) for word in argv)}` "
            f"({datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {machine['cpus']} cores, "
            f"{machine['processor']}, {machine['platform']}, Python {machine['python']}, numpy {machine['numpy']}); "
            f"landscape: `{landscape['command']}` on {landscape['rows']['rows']} {landscape['rows']['split']} rows, "
            f"top-{settings['top_k']} Lanczos (tol {settings['tol']:g}; * not converged), {settings['trace_samples']} "
            f"Hutchinson samples, {settings['density_runs']} x {settings['density_steps']} SLQ steps"
            + ("" if landscape["complete"] else f"; INCOMPLETE: {landscape['stopped']}"))


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Flags after -- go to train.py "
                                     "landscape (e.g. -- --rows 512 --lanczos-steps 60).")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="the rows (default: all)")
    parser.add_argument("--run", nargs="+", default=[], metavar="VARIANT=DIR", help="use this finished run folder "
                        "for the variant instead of training it")
    parser.add_argument("--seed", type=int, default=0, help="seed of every run and of the landscape (default: 0)")
    parser.add_argument("--runs-dir", default="runs/landscape-table", metavar="DIR", help="where the runs and the "
                        "landscape go (default: %(default)s)")
    parser.add_argument("--epochs", type=int, help="epochs of every run and pretraining (default: their own)")
    parser.add_argument("--dim", type=int, help="--dim of every classifier and MAE (default: train.py's)")
    parser.add_argument("--depth", type=int, help="--depth of every classifier and MAE (default: train.py's)")
    parser.add_argument("--data-dir", metavar="DIR", help="the UNSW-NB15 folder (default: as train.py finds it)")
    parser.add_argument("--max-seconds", type=float, default=3600, help="train.py landscape's limit (default: "
                        "%(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace the landscape of an earlier call")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", metavar="FILE", help="also write the rows and the header to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, landscape_flags = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = parser().parse_args(own)

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    out = Path(args.runs_dir) / f"landscape-s{args.seed}"
    try:
        if out.is_dir() and any(out.iterdir()) and not args.overwrite:  # found out before hours of training
            raise BenchError(f"{out} holds the landscape of an earlier call; pass --overwrite to replace it")
        folders = train_variants(args, log)
        words = ["landscape", "--checkpoint", *(str(folder / "best.npz") for folder in folders.values()), "--out",
                 str(out), "--seed", str(args.seed), "--max-seconds", str(args.max_seconds),
                 *(["--overwrite"] if args.overwrite else []), *landscape_flags]
        call(words, log)
        landscape = read_json(out / "landscape.json")
        rows = table_rows(folders, landscape)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = header(argv, landscape)
    print(text + "\n\n" + format_table(rows, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps({"header": text, "landscape": str(out), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
