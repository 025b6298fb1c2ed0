"""`train.py landscape`: where trained classifiers sit on the loss landscape -- the top Hessian eigenvalues, the
trace, the spectral density with its share of negative eigenvalues, and filter-normalised 1-D and 2-D loss surfaces
(`tinygrad_np.analysis`) -- of one or more checkpoints, on one fixed batch of rows.

The loss is the data loss the model was trained on, without what only training adds: mean cross-entropy on the
batch in eval mode (no dropout or drop-path, no label smoothing, no weight decay), with respect to every parameter of
the model. The batch is the same rows of the training file for every checkpoint (drawn by --seed among the rows that
are in every checkpoint's chosen split: train or holdout, as each run drew it), each preprocessed by the
checkpoint's own saved fit, so that checkpoints of different runs are measured on the same data.

The work runs phase by phase over all checkpoints (top eigenvalues, trace, density, 1-D surface, 2-D surface), so
that when --max-seconds ends it early every checkpoint has the same measurements; whatever is cut short is marked
incomplete in landscape.json and said on the console. Nothing is written until the end: the plots, then
landscape.json (which marks a finished command), into a new folder (runs/<date>-<time>-landscape) or --out.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_np as tg
from tinygrad_np import analysis, nn

from . import data as unsw
from .checkpoint import CheckpointError, atomic_write
from .config import TrainConfig
from .data.splits import _labels, _make_split
from .errors import UsageError
from .report import _pyplot
from .run import LANDSCAPE_FILES, RunFolder
from .training import load_trained, loss_fn

SPLITS = ("train", "holdout")
PHASES = ("top eigenvalues", "trace", "density", "1-D surface", "2-D surface")


@dataclass
class Settings:
    """What `landscape` computes, and within how long (the flags of `train.py landscape`)."""

    rows: int = 256
    split: str = "train"
    seed: int = 0
    top_k: int = 3
    lanczos_steps: int = 20
    tol: float = 1e-3
    trace_samples: int = 20
    density_runs: int = 1
    density_steps: int = 20
    points_1d: int = 21
    points_2d: int = 9
    span: float = 1.0
    max_seconds: float = 300.0

    def problems(self) -> list[str]:
        checks = [("--rows", self.rows, 1), ("--top-k", self.top_k, 1), ("--trace-samples", self.trace_samples, 1),
                  ("--density-runs", self.density_runs, 1), ("--density-steps", self.density_steps, 1),
                  ("--points-1d", self.points_1d, 2), ("--points-2d", self.points_2d, 2)]
        found = [f"{flag} {value} must be at least {least}" for flag, value, least in checks if value < least]
        if self.lanczos_steps < self.top_k:
            found.append(f"--lanczos-steps {self.lanczos_steps} must be at least --top-k {self.top_k}")
        if not self.tol > 0:
            found.append(f"--tol {self.tol:g} must be positive")
        if not (self.span > 0 and math.isfinite(self.span)):
            found.append(f"--span {self.span:g} must be a positive number")
        if not self.max_seconds > 0:
            found.append(f"--max-seconds {self.max_seconds:g} must be positive")
        if self.split not in SPLITS:
            found.append(f"--split {self.split} must be one of {', '.join(SPLITS)}")
        return found

    def work(self) -> dict[str, tuple[int, str]]:
        """Per checkpoint and phase: the most units it takes, and of which kind (a Hessian-vector product is two
        gradients in float64, a loss evaluation one forward pass)."""
        return {"top eigenvalues": (self.lanczos_steps, "product"), "trace": (self.trace_samples, "product"),
                "density": (self.density_runs * self.density_steps, "product"),
                "1-D surface": (self.points_1d, "loss"), "2-D surface": (self.points_2d ** 2, "loss")}


@dataclass
class Subject:
    """One checkpoint, its model (eval mode) and the loss on the fixed rows."""

    path: str
    label: str
    model: nn.Module
    checkpoint: dict[str, Any]
    loss: Callable[[], tg.Tensor]
    results: dict[str, Any] = field(default_factory=dict)  # what landscape.json holds for it
    density: analysis.SpectralDensity | None = None


def _labels_of(paths: list[str]) -> list[str]:
    """Short distinct names: runs/NAME/best.npz -> NAME/best.npz, unless two would be the same."""
    short = [str(Path(*Path(path).parts[-2:])) for path in paths]
    return short if len(set(short)) == len(short) else list(paths)


def _split_rows(frame: Any, config: TrainConfig, split: str) -> np.ndarray:
    """The row indices of the training file that the checkpoint's run put in `split`, as its run drew them."""
    run = config.run
    if run.cv:
        train, holdout = unsw.kfold_splits(frame, run.cv, run.seed)[run.fold - 1]
    else:
        train, holdout = unsw.holdout_split(frame, config.data.holdout, run.seed)
    return train if split == "train" else holdout


def choose_rows(frame: Any, configs: list[TrainConfig], paths: list[str], settings: Settings) -> np.ndarray:
    """`settings.rows` row indices of the training file, drawn by `settings.seed` among the rows that every
    checkpoint's run put in `settings.split`; sorted."""
    common: np.ndarray | None = None
    drawn: dict[tuple[Any, ...], np.ndarray] = {}  # runs of one seed and holdout share their split
    for path, config in zip(paths, configs, strict=True):
        key = (config.run.cv, config.run.fold, config.data.holdout, config.run.seed)
        if key not in drawn:
            drawn[key] = _split_rows(frame, config, settings.split)
        rows = drawn[key]
        if not len(rows):
            raise UsageError(f"--split {settings.split}: {path} was trained without a holdout (--holdout 0); use "
                             "--split train")
        common = rows if common is None else np.intersect1d(common, rows)
    assert common is not None
    if len(common) < settings.rows:
        every = "every checkpoint's" if len(paths) > 1 else "the checkpoint's"
        raise UsageError(f"--rows {settings.rows}: {every} {settings.split} split has only {len(common):,} rows in "
                         f"common; ask for fewer rows")
    chosen = np.random.default_rng(settings.seed).choice(common, size=settings.rows, replace=False)
    return np.sort(chosen)


def load_subjects(paths: list[str], data_dir: str | None, settings: Settings) -> tuple[list[Subject], dict[str, Any]]:
    """The checkpoints with their losses on the fixed rows, and where the rows come from. Everything that can be
    wrong with the checkpoints, the data or the flags is found here, before anything is computed or written."""
    loaded = [load_trained(path) for path in paths]
    configs = [TrainConfig.from_dict(TrainConfig.saved(checkpoint["config"]), given=()) for _, checkpoint in loaded]
    for path, (_, checkpoint) in zip(paths, loaded, strict=True):
        if checkpoint["preprocessing"] is None:
            raise CheckpointError(f"{path} holds no preprocessing (imported without --data-dir): import it again "
                                  "with --data-dir to measure its landscape")
    folder = unsw.find_data_dir(data_dir or configs[0].data.data_dir)
    source = unsw.dataset_files(folder)["train"]
    frame = unsw.read_table(source, require_label=True)
    rows = choose_rows(frame, configs, paths, settings)
    picked = frame.iloc[rows]
    subjects = []
    for path, label, (model, checkpoint) in zip(paths, _labels_of(paths), loaded, strict=True):
        encoder, preprocessor = unsw.preprocessing_from_state(checkpoint["preprocessing"])
        task, class_names = checkpoint["config"]["task"], checkpoint["class_names"]
        labels = _labels(picked, task, class_names, source)
        features = _make_split(picked, source, encoder, preprocessor, labels, check_drift=False).features
        subjects.append(Subject(path, label, model, checkpoint, _batch_loss(model, features, labels)))
    where = {"file": str(source), "split": settings.split, "rows": len(rows),
             "ids": frame[unsw.ID_COLUMN].to_numpy()[rows].tolist()}
    return subjects, where


def _batch_loss(model: nn.Module, features: np.ndarray, labels: np.ndarray) -> Callable[[], tg.Tensor]:
    def loss() -> tg.Tensor:
        return loss_fn(model(features), labels)

    return loss


# -- the clock: progress, estimate, --max-seconds ---------------------------------------------------------------
class Clock:
    """Counts the work done against the work planned, shows a progress bar with the time left (on a terminal), and
    says when --max-seconds is up. The time left is the units left times the measured time per unit of each kind."""

    def __init__(self, settings: Settings, subjects: int, start: float, stream: Any = None):
        self.deadline = start + settings.max_seconds
        self.start = start
        self.planned = {phase: units * subjects for phase, (units, _) in settings.work().items()}
        self.kinds = {phase: kind for phase, (_, kind) in settings.work().items()}
        self.done = dict.fromkeys(self.planned, 0)
        self.spent = {"product": 0.0, "loss": 0.0}
        self.counted = {"product": 0, "loss": 0}
        self.per_unit = {"product": math.nan, "loss": math.nan}  # seconds, measured before the work starts
        self.stream = stream or sys.stderr
        self.bar = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.expired = False
        self._phase = ""
        self._last: float | None = None

    def calibrate(self, kind: str, seconds: float) -> None:
        self.per_unit[kind] = seconds

    def seconds_per(self, kind: str) -> float:
        if self.counted[kind]:
            return self.spent[kind] / self.counted[kind]
        return self.per_unit[kind]

    def left(self) -> float:
        """Seconds the planned work still needs, at most (Lanczos may converge sooner)."""
        return sum((self.planned[phase] - self.done[phase]) * self.seconds_per(self.kinds[phase])
                   for phase in self.planned)

    def begin(self, phase: str) -> None:
        self._phase, self._last = phase, None

    def end(self, phase: str, skipped_units: int) -> None:
        """The phase of one checkpoint is over; the units it did not need (converged early) leave the plan."""
        self.planned[phase] -= skipped_units
        self._last = None

    def stop(self) -> bool:
        """Asked before every unit of work: counts the unit just finished, shows the bar, and says whether the time
        is up."""
        now = time.perf_counter()
        kind = self.kinds[self._phase]
        if self._last is not None:
            self.spent[kind] += now - self._last
            self.counted[kind] += 1
            self.done[self._phase] += 1
        if now >= self.deadline:
            self.expired, self._last = True, None
            return True
        self._last = now
        self.show(now)
        return False

    def stop_counting(self) -> None:
        """Count the last unit of a phase (`stop` counts a unit when asked about the next one)."""
        if self._last is not None:
            kind = self.kinds[self._phase]
            self.spent[kind] += time.perf_counter() - self._last
            self.counted[kind] += 1
            self.done[self._phase] += 1
            self._last = None

    def show(self, now: float) -> None:
        if not self.bar:
            return
        total = sum(self.planned.values())
        done = sum(self.done.values())
        width = 30
        filled = int(width * done / max(total, 1))
        left = self.left()
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self._phase:<15} {now - self.start:5.0f}s, "
                          f"about {left:.0f}s left ")
        self.stream.flush()

    def close(self) -> None:
        if self.bar:
            self.stream.write("\r\033[K")
            self.stream.flush()


# -- the phases -------------------------------------------------------------------------------------------------
def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _list(values: np.ndarray) -> Any:
    """An array as JSON: nested lists, NaN (not computed) as null."""
    return [_list(row) for row in values] if np.ndim(values) > 1 else [_finite(v) for v in np.asarray(values)]


Outcome = tuple[dict[str, Any], int, bool, str]  # (what landscape.json holds, units used, complete, console line)


def _top_eigenvalues(subject: Subject, settings: Settings, rng: np.random.Generator, stop: Callable[[], bool]
                     ) -> Outcome:
    hessian = analysis.Hessian(subject.loss, subject.model)
    top = analysis.top_eigenvalues(hessian, settings.top_k, max_steps=settings.lanczos_steps, tol=settings.tol,
                                   generator=rng, stop=stop)
    subject.results["parameters"], subject.results["loss"] = hessian.size, _finite(hessian.loss)
    shown = ", ".join(f"{v:.4g}" for v in top.values)
    state = "converged" if top.converged else "not converged"
    return ({"values": _list(top.values), "residuals": _list(top.residuals), "lowest": _finite(top.lowest),
             "lowest_residual": _finite(top.lowest_residual), "products": top.products, "converged": top.converged,
             "complete": top.complete}, top.products, top.complete,
            f"{shown}; lowest Ritz value {top.lowest:.4g} ({state} after {top.products} products; {hessian.size:,} "
            "parameters)")


def _trace(subject: Subject, settings: Settings, rng: np.random.Generator, stop: Callable[[], bool]) -> Outcome:
    hessian = analysis.Hessian(subject.loss, subject.model)
    trace = analysis.hutchinson_trace(hessian, settings.trace_samples, generator=rng, stop=stop)
    return ({"value": _finite(trace.value), "std_error": _finite(trace.std_error), "samples": trace.samples,
             "complete": trace.complete}, trace.samples, trace.complete,
            f"{trace.value:.4g} +- {trace.std_error:.2g} ({trace.samples} samples)")


def _density(subject: Subject, settings: Settings, rng: np.random.Generator, stop: Callable[[], bool]) -> Outcome:
    hessian = analysis.Hessian(subject.loss, subject.model)
    density = analysis.spectral_density(hessian, settings.density_runs, settings.density_steps, generator=rng,
                                        stop=stop)
    subject.density = density
    used = sum(len(nodes) for nodes in density.nodes)
    runs = [{"nodes": _list(n), "weights": _list(w)} for n, w in zip(density.nodes, density.weights, strict=True)]
    return ({"negative_share": _finite(density.negative_share), "zero_share": _finite(density.zero_share),
             "zero_tol": density.zero_tol, "sigma": density.sigma() if density.nodes else None, "runs": runs,
             "complete": density.complete}, used, density.complete,
            f"negative share {density.negative_share:.4f}, near zero {density.zero_share:.4f} ({len(runs)} run(s), "
            f"{used} products)")


def _surface(dimensions: int) -> Callable[[Subject, Settings, np.random.Generator, Callable[[], bool]], Outcome]:
    def run(subject: Subject, settings: Settings, rng: np.random.Generator, stop: Callable[[], bool]) -> Outcome:
        points = settings.points_1d if dimensions == 1 else settings.points_2d
        axes = [np.linspace(-settings.span, settings.span, points)] * dimensions
        surface = analysis.loss_surface(subject.loss, subject.model, axes, generator=rng, stop=stop)
        used = int(np.isfinite(surface.losses).sum())
        finite = surface.losses[np.isfinite(surface.losses)]
        line = (f"loss from {finite.min():.4f} to {finite.max():.4f} over {used} points" if finite.size
                else "no point computed")
        names = ("alphas", "betas")[:dimensions]
        return ({**{name: _list(axis) for name, axis in zip(names, axes, strict=True)},
                 "losses": _list(surface.losses), "complete": surface.complete}, used, surface.complete, line)

    return run


# phase: (its key in landscape.json, how it runs)
PHASE_RUNS = {"top eigenvalues": ("top_eigenvalues", _top_eigenvalues), "trace": ("trace", _trace),
              "density": ("density", _density), "1-D surface": ("surface_1d", _surface(1)),
              "2-D surface": ("surface_2d", _surface(2))}


def measure(subjects: list[Subject], settings: Settings, clock: Clock, log: Callable[[str], None]) -> list[str]:
    """Run the phases over the checkpoints, filling each subject's results; returns the phases (per checkpoint)
    that --max-seconds cut short or left out."""
    cut: list[str] = []
    for index, phase in enumerate(PHASES):
        key, run = PHASE_RUNS[phase]
        for subject in subjects:
            if clock.expired:
                cut.append(f"{phase} of {subject.label} (not started)")
                continue
            clock.begin(phase)
            started = time.perf_counter()
            # a generator per phase, the same for every checkpoint: the same seed draws the same vectors for each
            rng = np.random.default_rng([settings.seed, index])
            subject.results[key], used, complete, line = run(subject, settings, rng, clock.stop)
            clock.stop_counting()
            clock.end(phase, max(settings.work()[phase][0] - used, 0) if complete else 0)
            if not complete:
                cut.append(f"{phase} of {subject.label} (cut short)")
            clock.close()
            log(f"{subject.label}: {phase}: {line} [{time.perf_counter() - started:.1f}s]")
    return cut


# -- plots ------------------------------------------------------------------------------------------------------
def _save(figure: Any, path: Path) -> None:
    atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=100))


def line_style(index: int) -> dict[str, str]:
    """The colour and dash of the index-th checkpoint's line: matplotlib's ten colours, then the same colours
    dashed, dotted, ..., so that more than ten checkpoints stay apart."""
    return {"color": f"C{index % 10}", "linestyle": ("-", "--", ":", "-.")[index // 10 % 4]}


def plot_1d(path: Path, subjects: list[Subject], settings: Settings) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for index, subject in enumerate(subjects):
        surface = subject.results.get("surface_1d")
        if surface:
            losses = np.array([np.nan if v is None else v for v in surface["losses"]])
            axes.plot(surface["alphas"], losses, marker="o", markersize=3, label=subject.label, **line_style(index))
    axes.axvline(0, color="black", linewidth=0.8, linestyle="--")
    axes.set(xlabel="alpha (along a filter-normalised random direction)", ylabel="loss (mean cross-entropy)",
             title=f"1-D loss surface, {settings.rows} {settings.split} rows")
    axes.grid(alpha=0.3)
    if any("surface_1d" in s.results for s in subjects):
        figure.legend(fontsize=8, loc="outside right upper")  # beside the axes: never over the curves
    _save(figure, path)
    plt.close(figure)


def plot_2d(path: Path, subjects: list[Subject], settings: Settings) -> None:
    """A contour plot per checkpoint, all on the same loss levels (one colour bar), so that the panels compare."""
    plt = _pyplot()
    count = len(subjects)
    figure, axes = plt.subplots(1, count, figsize=(4.2 * count + 1.2, 4.2), squeeze=False, layout="constrained")
    surfaces = {}
    for subject in subjects:
        if "surface_2d" in subject.results:
            losses = subject.results["surface_2d"]["losses"]
            surfaces[subject.label] = np.ma.masked_invalid(np.array([[np.nan if v is None else v for v in row]
                                                                     for row in losses]))
    values = np.concatenate([s.compressed() for s in surfaces.values()]) if surfaces else np.zeros(0)
    levels = np.linspace(values.min(), values.max(), 21) if values.size and values.min() < values.max() else None
    contour = None
    for ax, subject in zip(axes[0], subjects, strict=True):
        ax.set(title=subject.label, xlabel="alpha", ylabel="beta")
        losses = surfaces.get(subject.label)
        if losses is None:
            ax.text(0.5, 0.5, "not computed (--max-seconds)", ha="center", va="center", transform=ax.transAxes)
            continue
        surface = subject.results["surface_2d"]
        if levels is not None and losses.count() >= 4:
            contour = ax.contourf(surface["alphas"], surface["betas"], losses.T, levels=levels, cmap="viridis")
            ax.contour(surface["alphas"], surface["betas"], losses.T, levels=levels, colors="white", linewidths=0.4)
        ax.plot([0], [0], marker="+", color="red", markersize=10)
    if contour is not None:
        figure.colorbar(contour, ax=axes[0].tolist(), label="loss (mean cross-entropy)")
    figure.suptitle(f"2-D loss surfaces (filter-normalised random directions), {settings.rows} {settings.split} rows",
                    fontsize=10)
    _save(figure, path)
    plt.close(figure)


def plot_density(path: Path, subjects: list[Subject]) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(9, 4.5), layout="constrained")
    densities = [(i, s, s.density) for i, s in enumerate(subjects) if s.density is not None and s.density.nodes]
    if densities:
        low = min(d.extent[0] for _, _, d in densities)
        high = max(d.extent[1] for _, _, d in densities)
        pad = 0.05 * (high - low) + max(d.sigma() for _, _, d in densities) * 3
        grid = np.linspace(low - pad, high + pad, 1000)
        peak = 0.0
        for index, subject, density in densities:
            values = density.density(grid)
            peak = max(peak, values.max())
            axes.semilogy(grid, np.maximum(values, 1e-300),
                          label=f"{subject.label} (negative share {density.negative_share:.3f})", **line_style(index))
        axes.set_ylim(peak * 1e-8, peak * 3)
        figure.legend(fontsize=8, loc="outside right upper")
    axes.axvline(0, color="black", linewidth=0.8, linestyle="--")
    axes.set(xlabel="eigenvalue", ylabel="density (stochastic Lanczos quadrature)", title="Hessian spectral density")
    axes.grid(alpha=0.3)
    _save(figure, path)
    plt.close(figure)


# -- the command ------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}


def run_landscape(checkpoints: list[str], settings: Settings, *, out: str | None = None, overwrite: bool = False,
                  data_dir: str | None = None, argv: list[str] | None = None,
                  log: Callable[[str], None] = print, stream: Any = None) -> dict[str, Any]:
    """Measure the checkpoints and write the plots and landscape.json; returns what landscape.json holds."""
    start = time.perf_counter()
    problems = settings.problems()
    if problems:
        raise UsageError("; ".join(problems))
    folder = RunFolder.for_outputs(out, "landscape", LANDSCAPE_FILES, overwrite)
    subjects, where = load_subjects(checkpoints, data_dir, settings)
    clock = Clock(settings, len(subjects), start, stream)
    calibrate(subjects[0], clock)
    estimate = time.perf_counter() - start + clock.left()
    work = settings.work()
    log(f"landscape of {len(subjects)} checkpoint(s) on {settings.rows} {settings.split} rows of {where['file']}: "
        f"per checkpoint at most {sum(u for u, k in work.values() if k == 'product')} Hessian-vector products "
        f"(float64, {clock.per_unit['product']:.2f}s each) and {sum(u for u, k in work.values() if k == 'loss')} "
        f"loss evaluations ({clock.per_unit['loss'] * 1000:.0f}ms each); estimated at most {estimate:.0f}s "
        f"(--max-seconds {settings.max_seconds:g})")
    if estimate > settings.max_seconds:
        log(f"note: that is more than --max-seconds {settings.max_seconds:g}: it will stop then and write what it has")
    try:
        cut = measure(subjects, settings, clock, log)
    finally:
        clock.close()  # a Ctrl-C leaves no progress bar behind its message
    seconds = time.perf_counter() - start
    stopped = None
    if clock.expired:
        stopped = (f"--max-seconds {settings.max_seconds:g} reached after {seconds:.0f}s; incomplete: "
                   f"{'; '.join(cut)}")
    result = {
        "command": "python train.py landscape " + " ".join(shlex.quote(a) for a in (argv or [])),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "loss": "mean cross-entropy in eval mode (no dropout, drop-path, label smoothing or weight decay), with "
                "respect to every parameter",
        "rows": where, "seed": settings.seed,
        "settings": {key: getattr(settings, key) for key in Settings.__dataclass_fields__},
        "complete": stopped is None, "stopped": stopped, "seconds": round(seconds, 1),
        "checkpoints": [{"checkpoint": s.path, "label": s.label, "model": s.checkpoint["config"].get("model"),
                         "epoch": s.checkpoint.get("epoch"), **s.results} for s in subjects],
    }
    try:
        removed = folder.create()
        if removed:
            log(f"--overwrite: removed the earlier {', '.join(removed)} from {folder.path}")
        plot_1d(folder.path / "landscape_1d.png", subjects, settings)
        plot_2d(folder.path / "landscape_2d.png", subjects, settings)
        plot_density(folder.path / "hessian_density.png", subjects)
        atomic_write(folder.path / "landscape.json",
                     lambda file: file.write((json.dumps(result, indent=1) + "\n").encode()))
    finally:
        folder.release()
    if stopped:
        log(f"stopped: {stopped}")
    log(f"wrote {', '.join(LANDSCAPE_FILES)} to {folder.path} ({seconds:.0f}s)")
    return result


def calibrate(subject: Subject, clock: Clock) -> None:
    """Time one Hessian-vector product and one loss evaluation of the first checkpoint, for the estimate."""
    with tg.no_grad():
        started = time.perf_counter()
        subject.loss()
        clock.calibrate("loss", time.perf_counter() - started)
    hessian = analysis.Hessian(subject.loss, subject.model)
    with hessian:
        started = time.perf_counter()
        hessian.matvec(np.ones(hessian.size))
        clock.calibrate("product", time.perf_counter() - started)
