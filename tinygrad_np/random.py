"""One global numpy Generator for init, dropout, drop-path and the random factories, reseeded by `manual_seed`.
Its streams are numpy's, not PyTorch's: the same seed gives other numbers than PyTorch (docs/pytorch.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

_generator = np.random.Generator(np.random.PCG64())


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator in place (holders of it see the new stream)."""
    _generator.bit_generator.state = np.random.PCG64(seed).state
    return _generator


def default_generator() -> np.random.Generator:
    return _generator


def get_rng_state() -> dict[str, Any]:
    """The global generator's state, a JSON-serialisable dict."""
    return _generator.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    _generator.bit_generator.state = state
