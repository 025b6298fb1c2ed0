"""What a run shows: aligned epoch lines, the confusion matrix with row percentages, and plots where a split keeps
its colour, epochs are whole numbers, the selected epoch is marked, ROC-AUC is drawn and every cell is readable."""

import matplotlib
import numpy as np
import pytest
from matplotlib import colors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mixer.metrics import reliability_curve
from mixer.report import (
    SPLIT_COLOURS,
    EpochTable,
    format_confusion,
    format_threshold_table,
    plot_confusion,
    plot_history,
    plot_reliability,
)

matplotlib.use("Agg")


def record(epoch, lr=1e-3, seconds=12.3):
    metrics = {"loss": 0.3 / epoch, "accuracy": 0.8 + epoch / 100, "roc_auc": 0.9 + epoch / 200}
    return {"epoch": epoch, "lr": lr, "train": {"loss": 0.5 / epoch}, "holdout": dict(metrics), "test": dict(metrics),
            "seconds": seconds}


def test_epoch_lines_are_short_and_aligned_under_their_header():
    table = EpochTable({"train": ["loss"], "holdout": ["loss", "accuracy", "roc_auc"],
                        "test": ["loss", "accuracy", "roc_auc"]}, epochs=120)
    header = table.header().splitlines()
    rows = [table.row(record(epoch, seconds=s), 120, selected=epoch == 7) for epoch, s in ((7, 3.0), (120, 104.2))]
    assert all(len(line) <= 90 for line in header + rows)
    assert header[1].index("| ") == rows[0].index("| ") == rows[1].index("| ")
    assert header[1].rindex("|") == rows[0].rindex("|") == rows[1].rindex("|")
    assert rows[0].lstrip().startswith("7/120") and rows[0].endswith(" *") and not rows[1].endswith("*")
    assert "holdout" in header[0] and "test" in header[0] and "AUC" in header[1]
    pretraining = EpochTable({"train": ["loss", "kl"], "holdout": ["loss", "kl"]}, epochs=5)
    large = {"epoch": 1, "lr": 1e-3, "seconds": 1.0, "train": {"loss": 10.3037, "kl": 1234.5},
             "holdout": {"loss": 5.7632, "kl": 0.25}}
    lines = [*pretraining.header().splitlines(), pretraining.row(large, 5)]
    assert len({line.index("|") for line in lines[1:]}) == 1 and "10.304" in lines[2] and "1.2e+03" in lines[2]


def test_the_confusion_matrix_shows_counts_and_row_percentages():
    text = format_confusion(np.array([[90, 10], [25, 75]]), ["normal", "attack"]).splitlines()
    assert text[1].split() == ["normal", "90", "(90.0%)", "10", "(10.0%)"]
    assert text[2].split() == ["attack", "25", "(25.0%)", "75", "(75.0%)"]


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures the plot functions save (closing a figure leaves it readable)."""
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *args, **kwargs: figures.append(self))
    return figures


def test_history_plot_keeps_split_colours_whole_epochs_the_selected_epoch_and_roc_auc(saved_figures, tmp_path):
    plot_history(tmp_path / "curves.png", [record(e) for e in range(1, 6)], ["loss", "accuracy", "roc_auc"],
                 "title", selected_epoch=4)
    (figure,) = saved_figures
    axes = figure.axes
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy", "ROC-AUC"]
    for ax in axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        for split in ("holdout", "test"):
            assert colors.same_color(lines[split].get_color(), SPLIT_COLOURS[split]), (ax.get_title(), split)
        marker = lines["selected (epoch 4)"]
        assert set(np.asarray(marker.get_xdata(), dtype=float)) == {4.0}
        ticks = [tick for tick in ax.get_xticks() if 1 <= tick <= 5]
        assert ticks and all(float(tick).is_integer() for tick in ticks)
    assert colors.same_color({line.get_label(): line for line in axes[0].get_lines()}["train"].get_color(),
                             SPLIT_COLOURS["train"])


@pytest.mark.parametrize("last", [2, 9, 47])
def test_the_epoch_axis_shows_the_first_and_last_epoch_and_one_legend_hides_no_curve(saved_figures, tmp_path, last):
    plot_history(tmp_path / "curves.png", [record(e) for e in range(3, last + 3)], ["loss", "accuracy", "roc_auc"],
                 "title", selected_epoch=4)
    (figure,) = saved_figures
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == ["train", "holdout", "test", "selected (epoch 4)"]
    box = legend.get_window_extent(renderer)
    for ax in figure.axes:
        assert ax.get_legend() is None and not box.overlaps(ax.get_tightbbox(renderer))  # beside, not on, the curves
        ticks = [float(tick) for tick in ax.get_xticks()]
        assert ticks[0] == 3 and ticks[-1] == last + 2 and all(tick.is_integer() for tick in ticks)
        assert ticks == sorted(set(ticks)) and len(ticks) <= 8
        labels = [label.get_window_extent(renderer) for label in ax.get_xticklabels() if label.get_text()]
        assert not any(a.overlaps(b) for a, b in zip(labels, labels[1:], strict=False)), ax.get_title()


def relative_luminance(rgb):
    channel = np.asarray(rgb[:3], dtype=float)
    linear = np.where(channel <= 0.03928, channel / 12.92, ((channel + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def contrast(first, second):
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_confusion_plot_has_a_title_counts_percentages_and_readable_text_in_every_cell(saved_figures, tmp_path):
    matrix = np.array([[3900, 100, 0, 0], [1, 999, 0, 0], [45, 55, 0, 0], [68, 22, 0, 10]])
    names = ["normal", "attack", "worms", "fuzzers"]
    plot_confusion(tmp_path / "cm.png", matrix, names, "test: t1.csv (5,000 rows)\nmodel of epoch 7")
    (figure,) = saved_figures
    axes = figure.axes[0]
    assert "test" in axes.get_title() and "epoch 7" in axes.get_title()
    image = axes.get_images()[0]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in axes.texts}
    for (i, j), count in np.ndenumerate(matrix):
        text = texts[(i, j)]
        assert text.get_text() == f"{count:,}\n{100 * count / matrix[i].sum():.1f}%"
        cell = image.cmap(image.norm(image.get_array()[i, j]))
        assert contrast(colors.to_rgb(text.get_color()), cell) >= 4.5, (i, j)  # WCAG AA for normal text


def test_the_threshold_table_labels_each_row_with_its_split_and_threshold():
    result = {"holdout": {"accuracy": 0.9, "precision": 0.8, "recall": 0.7, "f1": 0.75, "roc_auc": 0.95, "ece": 0.04},
              "holdout_at_threshold": {"accuracy": 0.92, "precision": 0.81, "recall": 0.72, "f1": 0.76},
              "test": {"accuracy": 0.6, "precision": 0.5, "recall": 0.4, "f1": 0.45, "roc_auc": 0.85, "ece": 0.14},
              "test_at_threshold": {"accuracy": 0.62, "precision": 0.51, "recall": 0.42, "f1": 0.46},
              "confusion_matrix": [[1, 2], [3, 4]], "confusion_matrix_at_threshold": [[1, 2], [3, 4]]}
    lines = format_threshold_table(result, 0.3125).splitlines()
    assert [line.split() for line in lines[1:]] == [
        ["holdout", "0.5000", "0.9000", "0.8000", "0.7000", "0.7500", "|", "0.9500", "0.0400"],
        ["holdout", "0.3125", "0.9200", "0.8100", "0.7200", "0.7600"],
        ["test", "0.5000", "0.6000", "0.5000", "0.4000", "0.4500", "|", "0.8500", "0.1400"],
        ["test", "0.3125", "0.6200", "0.5100", "0.4200", "0.4600"]]
    assert len({line.index("|") for line in lines if "|" in line}) == 1
    assert len(format_threshold_table(result, 0.5).splitlines()) == 3  # at 0.5 the two rows would be one


def test_reliability_plot_has_the_diagonal_both_splits_in_their_colours_and_the_bin_counts(saved_figures, tmp_path):
    rng = np.random.default_rng(0)
    curves = {}
    for split, size in (("holdout", 300), ("test", 500)):
        p = rng.random(size)
        curves[split] = reliability_curve((rng.random(size) < p).astype(int), p, bins=10)
    plot_reliability(tmp_path / "reliability.png", curves, {"holdout": 0.0123, "test": 0.0456}, "mixer (epoch 7)")
    (figure,) = saved_figures
    top, bottom = figure.axes
    lines = {line.get_label(): line for line in top.get_lines()}
    np.testing.assert_array_equal(lines["perfectly calibrated"].get_xydata(), [[0, 0], [1, 1]])
    for split, ece in (("holdout", "0.0123"), ("test", "0.0456")):
        line = lines[f"{split} (ECE {ece})"]
        assert colors.same_color(line.get_color(), SPLIT_COLOURS[split])
        filled = curves[split].count > 0
        np.testing.assert_allclose(line.get_xdata(), curves[split].mean_probability[filled])
        np.testing.assert_allclose(line.get_ydata(), curves[split].fraction_positive[filled])
    heights = {split: [] for split in curves}
    for container, split in zip(bottom.containers, curves, strict=True):
        heights[split] = [bar.get_height() for bar in container]
        assert colors.same_color(container[0].get_facecolor(), SPLIT_COLOURS[split])
    for split, curve in curves.items():
        np.testing.assert_array_equal(heights[split], curve.count)
    assert "epoch 7" in figure._suptitle.get_text()
