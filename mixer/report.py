"""What a run shows: the console lines (metrics, the epoch table, the confusion matrix) and the plots.

The splits are named as everywhere else: "train", "holdout" (rows of the training file kept out for model selection),
"test" (the labelled test file, testing1: reported, never used to choose). Each split keeps its colour in every plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SPLIT_COLOURS = {"train": "tab:blue", "holdout": "tab:orange", "test": "tab:green"}
METRIC_NAMES = {"loss": "loss", "accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1",
                "roc_auc": "ROC-AUC", "ece": "ECE", "reconstruction": "reconstruction", "kl": "KL"}
THRESHOLD_METRICS = ("accuracy", "precision", "recall", "f1")  # the metrics that depend on the decision threshold
SHORT_NAMES = {"loss": "loss", "accuracy": "acc", "roc_auc": "AUC", "f1": "F1", "reconstruction": "recon",
               "kl": "KL"}


def format_metrics(metrics: dict[str, float]) -> str:
    """"loss 0.3437 accuracy 0.8708 ..." for the metrics present."""
    return " ".join(f"{name} {metrics[name]:.4f}" for name in ("loss", "accuracy", "precision", "recall", "f1",
                                                               "roc_auc", "ece") if name in metrics)


def format_threshold_table(result: dict[str, Any], threshold: float) -> str:
    """The rows of a binary result (result.json: every split that has a "<split>_at_threshold" entry, e.g. holdout
    and test) at threshold 0.5 and at `threshold`, aligned: the threshold's metrics on every row, ROC-AUC and ECE
    (which do not depend on it) on the 0.5 rows."""
    splits = [name for name, value in result.items() if isinstance(value, dict) and f"{name}_at_threshold" in result]
    width = max(len("split"), *map(len, splits))
    header = f"{'split':<{width}} {'threshold':>9} " + " ".join(f"{METRIC_NAMES[name]:>9}"
                                                                 for name in THRESHOLD_METRICS)
    lines = [header + f" | {'ROC-AUC':>9} {'ECE':>9}"]
    for split in splits:
        rows = [(0.5, result[split])] + ([(threshold, result[f"{split}_at_threshold"])] if threshold != 0.5 else [])
        for value, metrics in rows:
            line = f"{split:<{width}} {value:>9.4f} " + " ".join(f"{metrics[name]:>9.4f}"
                                                                 for name in THRESHOLD_METRICS)
            if value == 0.5:
                line += f" | {metrics['roc_auc']:>9.4f} {metrics['ece']:>9.4f}"
            lines.append(line)
    return "\n".join(lines)


def _cell(value: float) -> str:
    """A metric in at most 7 characters: 4 decimals below 10, fewer above (losses of pretraining can be large)."""
    size = abs(value)
    if size < 10:
        return f"{value:.4f}"
    if size < 1000:
        return f"{value:.{3 if size < 100 else 2}f}"
    return f"{value:.1e}"


class EpochTable:
    """Short aligned epoch lines under a two-line header: the epoch, then per split the chosen metrics, the learning
    rate and the time; a `*` marks an epoch that became the selected one."""

    def __init__(self, columns: dict[str, Sequence[str]], epochs: int):
        self.columns = {split: list(names) for split, names in columns.items() if names}
        self.epoch_width = max(len("epoch"), 2 * len(str(epochs)) + 1)

    def header(self) -> str:
        splits = " | ".join(f"{split.split('.')[0]:<{8 * len(names) - 1}}" for split, names in self.columns.items())
        names = " | ".join(" ".join(f"{SHORT_NAMES.get(name, name):>7}" for name in names)
                           for names in self.columns.values())
        return (f"{'':>{self.epoch_width}}  {splits}".rstrip() + "\n"
                f"{'epoch':>{self.epoch_width}}  {names} | {'lr':>8} {'time':>6}")

    def row(self, record: dict[str, Any], epochs: int, selected: bool = False) -> str:
        """A split may be a dotted path ("ema.holdout": record["ema"]["holdout"]); one the record lacks is blank."""
        epoch = f"{record['epoch']}/{epochs}"

        def metrics(split: str) -> dict[str, Any]:
            found: Any = record
            for key in split.split("."):
                found = found.get(key, {})
            return found

        values = " | ".join(" ".join(f"{_cell(metrics(split)[name]) if name in metrics(split) else '':>7}"
                                     for name in names) for split, names in self.columns.items())
        return (f"{epoch:>{self.epoch_width}}  {values} | {record['lr']:8.2e} {record['seconds']:5.1f}s"
                + (" *" if selected else ""))


def format_confusion(matrix: np.ndarray, class_names: Sequence[str]) -> str:
    """Counts with the row percentages (of each true class), rows true, columns predicted."""
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    cells = [[f"{count:,} ({100 * count / total:.1f}%)" if total else f"{count:,}" for count, total in
              zip(row, np.broadcast_to(row_total, row.shape), strict=True)]
             for row, row_total in zip(matrix, totals, strict=True)]
    width = max(8, *(len(name) for name in class_names), *(len(cell) for row in cells for cell in row)) + 2
    corner = "true \\ predicted"
    label = max(len(corner), *(len(name) for name in class_names))
    lines = [f"{corner:<{label}}" + "".join(f"{name:>{width}}" for name in class_names)]
    lines += [f"{name:<{label}}" + "".join(f"{cell:>{width}}" for cell in row)
              for name, row in zip(class_names, cells, strict=True)]
    return "\n".join(lines)


# -- plots -------------------------------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def epoch_ticks(first: int, last: int, most: int = 8) -> list[int]:
    """Whole epochs for an epoch axis: every epoch when there are at most `most`, else round ones about evenly
    spaced; always the first and the last epoch (round ones too close to them make way)."""
    if last - first < most:
        return list(range(first, last + 1))
    step = next(step for step in (base * 10**power for power in range(10) for base in (1, 2, 5))
                if (last - first) / step <= most - 1)
    inner = [tick for tick in range(-(-first // step) * step, last + 1, step)
             if tick - first > step / 2 and last - tick > step / 2]
    return [first, *inner, last]


def plot_history(path: Path, history: list[dict[str, Any]], panels: Sequence[str], title: str,
                 selected_epoch: int | None = None) -> None:
    """One panel per metric (e.g. loss, accuracy, ROC-AUC) against the epoch, a curve per split that has it, each
    split in its colour in every panel; whole-epoch ticks from the first to the last epoch; the selected epoch
    marked in every panel; one legend for all panels, below them, where it hides no curve."""
    plt = _pyplot()
    epochs = [record["epoch"] for record in history]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.2), squeeze=False, layout="constrained")
    legend: dict[str, Any] = {}
    for ax, metric in zip(axes[0], panels, strict=True):
        for split, colour in SPLIT_COLOURS.items():
            if history and metric in history[0].get(split, {}):
                ax.plot(epochs, [record[split][metric] for record in history], marker="o", markersize=3,
                        color=colour, label=split)
        if selected_epoch is not None:
            ax.axvline(selected_epoch, color="black", linestyle="--", linewidth=1,
                       label=f"selected (epoch {selected_epoch})")
        if epochs:
            ax.set_xticks(epoch_ticks(epochs[0], epochs[-1]))
        ax.set(xlabel="epoch", ylabel=METRIC_NAMES.get(metric, metric), title=METRIC_NAMES.get(metric, metric))
        ax.grid(alpha=0.3)
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    if legend:
        figure.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=len(legend),
                      fontsize=8)
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_reliability(path: Path, curves: dict[str, Any], eces: dict[str, float], title: str) -> None:
    """The reliability diagram of each split (a `mixer.metrics.ReliabilityCurve`: fraction of attacks against mean
    P(attack) per non-empty bin, with the split's ECE in the legend) over the diagonal of perfect calibration, and
    below it the rows per bin, each split in its colour."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="perfectly calibrated")
    names = list(curves)
    for index, name in enumerate(names):
        curve, colour = curves[name], SPLIT_COLOURS.get(name, "tab:grey")
        filled = curve.count > 0
        top.plot(curve.mean_probability[filled], curve.fraction_positive[filled], marker="o", markersize=4,
                 color=colour, label=f"{name} (ECE {eces[name]:.4f})")
        width = np.diff(curve.edges) / len(names)
        bottom.bar(curve.edges[:-1] + index * width, curve.count, width=width, align="edge", color=colour,
                   label=name)
    top.set(ylabel="fraction of attacks", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title="reliability")
    bottom.set(xlabel="predicted P(attack)", ylabel="rows per bin", yscale="log")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _luminance(rgba: Sequence[float]) -> float:
    """Relative luminance of an sRGB colour (WCAG 2)."""
    channels = np.asarray(rgba[:3], dtype=np.float64)
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def _readable_on(background: Sequence[float]) -> str:
    """Black or white, whichever contrasts more with `background`."""
    luminance = _luminance(background)
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def plot_confusion(path: Path, matrix: np.ndarray, class_names: Sequence[str], title: str) -> None:
    """The confusion matrix coloured by row percentage, each cell with its count and row percentage in black or white,
    whichever contrasts more with the cell."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    size = len(class_names)
    figure, axes = plt.subplots(figsize=(1.3 * size + 3, 1.1 * size + 2))
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for (i, j), count in np.ndenumerate(matrix):
        colour = _readable_on(image.cmap(image.norm(share[i, j])))
        axes.text(j, i, f"{count:,}\n{100 * share[i, j]:.1f}%", ha="center", va="center", color=colour, fontsize=9)
    axes.set(xticks=range(size), yticks=range(size), xlabel="predicted", ylabel="true")
    axes.set_xticklabels(class_names, rotation=45 if size > 2 else 0, ha="right" if size > 2 else "center")
    axes.set_yticklabels(class_names)
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
