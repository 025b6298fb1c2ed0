"""Numerical kernels shared by several ops (plain ndarray in, ndarray out)."""

from __future__ import annotations

import numpy as np
from scipy import special

INV_SQRT_2PI = 1 / np.sqrt(2 * np.pi)


def normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(x * x * x.dtype.type(-0.5)) * x.dtype.type(INV_SQRT_2PI)


def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GELU(x) = x * Phi(x), and Phi(x) itself (the backward needs it)."""
    cdf = special.ndtr(x)
    return x * cdf, cdf
