"""Small copies of the real UNSW-NB15 CSVs for end-to-end tests, and a Ctrl-C in the middle of a run (shared by the
test files)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from mixer import data as unsw

try:
    REAL: dict[str, Path] | None = unsw.dataset_files(unsw.find_data_dir())
except unsw.DataError:
    REAL = None
needs_data = pytest.mark.skipif(REAL is None or REAL.get("unlabelled") is None,
                                reason="UNSW-NB15 coursework CSVs not found")


def head(source: Path, target: Path, rows: int, step: int = 1) -> None:
    """Copy the header and every `step`-th row of `source` to `target`, `rows` rows in all."""
    with open(source, newline="") as file_in, open(target, "w", newline="") as file_out:
        reader, writer = csv.reader(file_in), csv.writer(file_out)
        writer.writerow(next(reader))
        for i, row in enumerate(reader):
            if i // step >= rows:
                break
            if i % step == 0:
                writer.writerow(row)


def sample_folder(folder: Path, train: tuple[int, int], test: tuple[int, int], unlabelled_rows: int) -> Path:
    """A data folder with (rows, step) samples of train and test (testing1) and the first rows of the unlabelled
    file (testing2)."""
    head(REAL["train"], folder / REAL["train"].name, *train)
    head(REAL["test"], folder / REAL["test"].name, *test)
    if REAL.get("unlabelled") is not None:
        head(REAL["unlabelled"], folder / REAL["unlabelled"].name, unlabelled_rows)
    return folder


def ctrl_c_in_epoch(trainer: Any, epoch: int) -> None:
    """Make `trainer` stop by KeyboardInterrupt (as Ctrl-C would) when its loop starts training epoch `epoch`."""
    started = []

    def train_epoch_then_interrupt(epochs):
        if len(started) == epoch - 1:
            raise KeyboardInterrupt
        started.append(1)
        return type(trainer.loop).train_epoch(trainer.loop, epochs)
    trainer.loop.train_epoch = train_epoch_then_interrupt
