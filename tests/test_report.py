"""What a run shows: aligned epoch lines, the confusion matrix with row percentages, and plots where a split keeps
its colour, epochs are whole numbers, the selected epoch is marked, ROC-AUC is drawn and every cell is readable."""

import matplotlib
import numpy as np
import pytest
from matplotlib import colors
from matplotlib.figure import Figure

from mixer.report import SPLIT_COLOURS, EpochTable, format_confusion, plot_confusion, plot_history

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
