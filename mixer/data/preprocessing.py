"""UNSW-NB15 preprocessing: category codes and feature scaling, fitted on training rows only; and the checks that
tell a user when that fit, or the rows it is applied to, cannot be trusted.

The second of the data layers (files -> preprocessing -> splits): it works on the frames `files.read_table` returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .files import CATEGORICAL_COLUMNS, CATEGORICAL_POSITIONS, FEATURE_COLUMNS, N_FEATURES, DataError

PREPROCESS_MODES: tuple[str, ...] = ("seed", "log-standard", "quantile", "robust")
DEFAULT_PREPROCESS = "quantile"
QUANTILE_KNOTS = 1000
QUANTILE_CLIP = 1e-7
SMOOTH_CLIP = 3.0  # robust mode: the bound of the smooth clipping x / sqrt(1 + (x / 3)^2)

class CategoryEncoder:
    """Integer codes for proto/service/state: 1..K in sorted order of the training values, 0 for unseen ones."""

    def __init__(self, categories: Mapping[str, Sequence[str]] | None = None) -> None:
        self.categories: dict[str, list[str]] | None = None
        if categories is not None:
            self.categories = {column: list(categories[column]) for column in CATEGORICAL_COLUMNS}

    def fit(self, frame: pd.DataFrame) -> CategoryEncoder:
        """Learn the categories of each categorical column (from training rows only)."""
        self.categories = {column: sorted(set(frame[column])) for column in CATEGORICAL_COLUMNS}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, 3) float64 codes; a value never seen in training gets the unknown code 0."""
        categories = self._fitted()
        codes = [pd.Index(categories[column]).get_indexer(frame[column]).astype(np.float64) + 1.0
                 for column in CATEGORICAL_COLUMNS]
        return np.stack(codes, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"categories": {column: list(values) for column, values in self._fitted().items()}}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CategoryEncoder:
        categories = state.get("categories") if isinstance(state, Mapping) else None
        if not isinstance(categories, Mapping) or set(categories) != set(CATEGORICAL_COLUMNS):
            raise DataError(f"category encoder state must map {', '.join(CATEGORICAL_COLUMNS)} to category lists")
        for column, values in categories.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or len(set(values)) < len(
                    values):
                raise DataError(f"category encoder state for {column!r} must be a list of distinct strings")
        return cls(categories)

    def _fitted(self) -> dict[str, list[str]]:
        if self.categories is None:
            raise RuntimeError("CategoryEncoder is not fitted; call fit() on the training frame first")
        return self.categories


def feature_matrix(frame: pd.DataFrame, encoder: CategoryEncoder) -> np.ndarray:
    """The (N, 42) float64 feature matrix in file order, with the categorical columns replaced by their codes."""
    matrix = np.empty((len(frame), N_FEATURES), dtype=np.float64)
    for position, column in enumerate(FEATURE_COLUMNS):
        if column not in CATEGORICAL_COLUMNS:
            matrix[:, position] = frame[column].to_numpy(dtype=np.float64)
    matrix[:, list(CATEGORICAL_POSITIONS)] = encoder.transform(frame)
    return matrix


class Preprocessor:
    """Feature scaling fitted on training rows, in one of four modes.

    `seed` reproduces the original project: divide by one global max |x|, then subtract one global mean and divide by
    one global std; columns with small ranges end up nearly constant. `log-standard` compresses the heavy tails with
    sign(x) * log1p(|x|) and standardises each column (train mean/std, population std; constant columns keep std 1).
    `quantile` is scikit-learn's `QuantileTransformer(output_distribution="normal", n_quantiles=1000)` (rank-gauss):
    each column's training quantiles at `QUANTILE_KNOTS` evenly spaced levels become knots; a value maps to the level
    of its knot (the middle level when several knots tie), to the linear interpolation between neighbouring knots
    otherwise, the training minimum (or below) to level 0 and the maximum (or above) to level 1; the level goes
    through the normal quantile function, clipped to [QUANTILE_CLIP, 1 - QUANTILE_CLIP] (+-5.2). The extremes thus
    stand far apart from the rest (a column that is mostly 0 has its 0s at -5.2), which measured better than a plain
    mid-rank mapping; a constant column maps to 0.
    `robust` is RealMLP's robust scaling with smooth clipping (Holzmueller et al. 2024, arXiv:2407.04491, written as
    in their reference code): per column, subtract the training median and multiply by 1 / (q75 - q25) (numpy's
    linearly interpolated quartiles); where that interquartile range is 0 (a column that is one value in more than
    half of the rows: 6 of the 39 numeric columns of the coursework training file), multiply by 2 / (max - min)
    instead, so that the rare other values still spread out; a constant column gets the factor 0 and maps to 0.
    Then f(x) = x / sqrt(1 + (x / 3)^2) clips smoothly: |f(x)| < 3 and |f(x)| <= |x|, near-linear for |x| << 3, so
    that outliers stay finite without a hard cut.

    `keep_codes=True` leaves the category code columns (see `CategoryEncoder`) as their integer codes, for a model
    that embeds them; otherwise they are scaled like the numbers.
    """

    def __init__(self, mode: str = DEFAULT_PREPROCESS, keep_codes: bool = False) -> None:
        if mode not in PREPROCESS_MODES:
            raise ValueError(f"preprocess mode must be one of {', '.join(PREPROCESS_MODES)}, not {mode!r}")
        self.mode, self.keep_codes = mode, bool(keep_codes)
        self.scale: float | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.knots: list[np.ndarray] | None = None  # quantile mode: distinct knots, and the lowest and highest
        self.low: list[np.ndarray] | None = None    # level at which each knot occurs
        self.high: list[np.ndarray] | None = None
        self.median: np.ndarray | None = None   # robust mode: each column's training median and scale factor
        self.factor: np.ndarray | None = None
        self.minimum: np.ndarray | None = None  # each column's training range, for `far_out_of_range`
        self.maximum: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Preprocessor:
        """Learn the scaling statistics from the (N, 42) training matrix."""
        x = self._checked(x)
        if len(x) == 0:
            raise DataError("cannot fit the preprocessor on zero rows")
        self.minimum, self.maximum = x.min(axis=0), x.max(axis=0)
        if self.mode == "seed":
            peak = float(np.abs(x).max())
            self.scale = peak if peak > 0 else 1.0
            scaled = x / self.scale
            self.mean = np.array(scaled.mean())
            self.std = np.array(scaled.std() if scaled.max() > scaled.min() else 1.0)
        elif self.mode == "log-standard":
            logged = _signed_log1p(x)
            self.mean = logged.mean(axis=0)
            self.std = np.where(logged.max(axis=0) > logged.min(axis=0), logged.std(axis=0), 1.0)
        elif self.mode == "robust":
            self.median = np.median(x, axis=0)
            spread = np.quantile(x, 0.75, axis=0) - np.quantile(x, 0.25, axis=0)
            spread = np.where(spread > 0, spread, (self.maximum - self.minimum) / 2)
            self.factor = np.divide(1.0, spread, out=np.zeros_like(spread), where=spread > 0)
        else:
            self.knots, self.low, self.high = [], [], []
            levels = np.linspace(0.0, 1.0, min(QUANTILE_KNOTS, len(x)))
            for quantiles in np.quantile(x, levels, axis=0).T:  # sorted, ties repeated
                knots = np.unique(quantiles)
                self.knots.append(knots)
                self.low.append(levels[np.searchsorted(quantiles, knots, side="left")])
                self.high.append(levels[np.searchsorted(quantiles, knots, side="right") - 1])
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The scaled (N, 42) float32 matrix."""
        x = self._checked(x)
        if self.mode == "seed" and self.scale is not None:
            scaled = (x / self.scale - self.mean) / self.std
        elif self.mode == "log-standard" and self.mean is not None:
            scaled = (_signed_log1p(x) - self.mean) / self.std
        elif self.mode == "robust" and self.factor is not None:
            scaled = _smooth_clip((x - self.median) * self.factor)
        elif self.mode == "quantile" and self.knots is not None:
            levels = np.stack([_quantile_level(column, knots, low, high) for column, knots, low, high in
                               zip(x.T, self.knots, self.low, self.high, strict=True)], axis=1)
            scaled = special.ndtri(np.clip(levels, QUANTILE_CLIP, 1.0 - QUANTILE_CLIP))
        else:
            raise RuntimeError("Preprocessor is not fitted; call fit() on the training matrix first")
        if self.keep_codes:
            scaled[:, list(CATEGORICAL_POSITIONS)] = x[:, list(CATEGORICAL_POSITIONS)]
        return scaled.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"mode": self.mode, "keep_codes": self.keep_codes}
        if self.mode == "quantile" and self.knots is not None:
            state["knots"] = [knots.tolist() for knots in self.knots]
            state["low"] = [low.tolist() for low in self.low]
            state["high"] = [high.tolist() for high in self.high]
        elif self.mode == "robust" and self.factor is not None:
            state["median"], state["factor"] = self.median.tolist(), self.factor.tolist()
        elif self.mode in ("seed", "log-standard") and self.mean is not None:
            state["mean"], state["std"] = self.mean.tolist(), self.std.tolist()
            if self.mode == "seed":
                state["scale"] = float(self.scale)
        else:
            raise RuntimeError("Preprocessor is not fitted; nothing to save")
        if self.minimum is not None and self.maximum is not None:
            state["minimum"], state["maximum"] = self.minimum.tolist(), self.maximum.tolist()
        return state

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Preprocessor:
        mode = state.get("mode") if isinstance(state, Mapping) else None
        if mode not in PREPROCESS_MODES:
            raise DataError(f"preprocessor state has mode {mode!r}; expected one of {', '.join(PREPROCESS_MODES)}")
        keep_codes = state.get("keep_codes", False)
        if not isinstance(keep_codes, bool):
            raise DataError(f"preprocessor state has keep_codes {keep_codes!r}; expected true or false")
        preprocessor = cls(mode, keep_codes)
        if "minimum" in state or "maximum" in state:  # absent in states saved before the range was kept
            try:
                preprocessor.minimum = np.array(state["minimum"], dtype=np.float64)
                preprocessor.maximum = np.array(state["maximum"], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as error:
                raise DataError(f"preprocessor state has a malformed training range ({error!r})") from None
            if preprocessor.minimum.shape != (N_FEATURES,) or preprocessor.maximum.shape != (N_FEATURES,):
                raise DataError(f"preprocessor state needs a training minimum and maximum of shape ({N_FEATURES},)")
        try:
            if mode == "quantile":
                return preprocessor._restore_quantiles(state["knots"], state["low"], state["high"])
            if mode == "robust":
                return preprocessor._restore_robust(state["median"], state["factor"])
            preprocessor.mean = np.array(state["mean"], dtype=np.float64)
            preprocessor.std = np.array(state["std"], dtype=np.float64)
            if mode == "seed":
                preprocessor.scale = float(state["scale"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"preprocessor state is incomplete or malformed ({error!r})") from None
        shape: tuple[int, ...] = () if mode == "seed" else (N_FEATURES,)
        if preprocessor.mean.shape != shape or preprocessor.std.shape != shape:
            raise DataError(f"preprocessor state for mode {mode!r} needs mean and std of shape {shape}")
        return preprocessor

    def _restore_quantiles(self, knots: Any, low: Any, high: Any) -> Preprocessor:
        self.knots, self.low, self.high = ([np.array(values, dtype=np.float64) for values in lists]
                                           for lists in (knots, low, high))
        if not len(self.knots) == len(self.low) == len(self.high) == N_FEATURES or any(
                k.ndim != 1 or len(k) == 0 or k.shape != lo.shape or k.shape != hi.shape or np.any(np.diff(k) <= 0)
                or np.any((lo < 0) | (lo > hi) | (hi > 1))
                for k, lo, hi in zip(self.knots, self.low, self.high, strict=True)):
            raise DataError(f"preprocessor state for mode 'quantile' needs {N_FEATURES} increasing knot lists, each "
                            "with low <= high levels in [0, 1] of the same length")
        return self

    def _restore_robust(self, median: Any, factor: Any) -> Preprocessor:
        self.median, self.factor = np.array(median, dtype=np.float64), np.array(factor, dtype=np.float64)
        if self.median.shape != (N_FEATURES,) or self.factor.shape != (N_FEATURES,) or not (
                np.isfinite(self.median).all() and np.isfinite(self.factor).all() and (self.factor >= 0).all()):
            raise DataError(f"preprocessor state for mode 'robust' needs a finite median and a finite factor >= 0 "
                            f"for each of the {N_FEATURES} columns")
        return self

    def _checked(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != N_FEATURES:
            raise ValueError(f"expected an (N, {N_FEATURES}) feature matrix, got shape {x.shape}")
        return x


def _quantile_level(x: np.ndarray, knots: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The quantile level of each value: see `Preprocessor` (mode `quantile`)."""
    if len(knots) == 1:
        return np.full(len(x), 0.5)
    below = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    left, right = knots[below], knots[below + 1]
    between = high[below] + (x - left) / (right - left) * (low[below + 1] - high[below])
    levels = np.where(x == left, (low[below] + high[below]) / 2, between)
    return np.where(x <= knots[0], 0.0, np.where(x >= knots[-1], 1.0, levels))


def _smooth_clip(x: np.ndarray) -> np.ndarray:
    """x / sqrt(1 + (x / SMOOTH_CLIP)^2): about x near 0, bounded by +-SMOOTH_CLIP (robust mode). |x| is first capped
    at 1e100, where f is SMOOTH_CLIP to double precision, so that the square cannot overflow to inf (and f to 0)."""
    x = np.clip(x, -1e100, 1e100)
    return x / np.sqrt(1.0 + np.square(x / SMOOTH_CLIP))


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


# --------------------------------------------------------------------------------------------------- checks

def collapsed_columns(raw: np.ndarray, scaled: np.ndarray) -> list[str]:
    """The feature columns that vary in `raw` (the (N, 42) matrix a preprocessor was fitted on) but are constant in
    `scaled` (its float32 transform): whatever told their rows apart is below float32's resolution after scaling."""
    varies = raw.max(axis=0) > raw.min(axis=0)
    constant = scaled.max(axis=0) == scaled.min(axis=0)
    return [column for column, lost in zip(FEATURE_COLUMNS, varies & constant, strict=True) if lost]


def unseen_categories(frame: pd.DataFrame, encoder: CategoryEncoder) -> dict[str, Counter[str]]:
    """Per categorical column, the values the encoder never saw in training and how many rows hold each."""
    known = encoder.to_dict()["categories"]
    result = {}
    for column in CATEGORICAL_COLUMNS:
        values = frame[column].to_numpy(dtype=object)
        unseen = Counter(values[pd.Index(known[column]).get_indexer(values) < 0])
        if unseen:
            result[column] = unseen
    return result


def far_out_of_range(matrix: np.ndarray, preprocessor: Preprocessor) -> dict[str, int]:
    """Per numeric column, how many rows of the (N, 42) feature matrix lie farther outside the training range than
    the range is wide (below min - (max - min) or above max + (max - min)): values the model never saw anything
    like. Empty for a preprocessor saved without its training range."""
    if preprocessor.minimum is None or preprocessor.maximum is None:
        return {}
    span = preprocessor.maximum - preprocessor.minimum
    far = (matrix < preprocessor.minimum - span) | (matrix > preprocessor.maximum + span)
    far[:, list(CATEGORICAL_POSITIONS)] = False  # unseen categories are reported by `unseen_categories`
    counts = far.sum(axis=0)
    return {column: int(count) for column, count in zip(FEATURE_COLUMNS, counts, strict=True) if count}
