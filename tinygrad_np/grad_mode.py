"""Whether ops are recorded on the tape: `no_grad`, `enable_grad`, `set_grad_enabled`, `inference_mode`.

`Function.apply` reads `enabled` when it runs an op; inside `no_grad` nothing is recorded, so a forward can skip
what only its backward would use.
"""

from __future__ import annotations

import contextlib

enabled = True


class no_grad(contextlib.ContextDecorator):
    """Record nothing on the tape inside this block (also usable as a decorator)."""

    def _recreate_cm(self) -> no_grad:
        return type(self)()  # a fresh instance per decorated call, so nesting restores correctly

    def __enter__(self) -> None:
        global enabled
        self._previous, enabled = enabled, False

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self._previous


class enable_grad(no_grad):
    """Record again inside a `no_grad` block."""

    def __enter__(self) -> None:
        global enabled
        self._previous, enabled = enabled, True


class set_grad_enabled(no_grad):
    """Turn recording on or off: at once when called (`set_grad_enabled(False)`), or for a `with` block."""

    def __init__(self, mode: bool):
        global enabled
        self._previous, enabled = enabled, bool(mode)
        self.mode = bool(mode)

    def _recreate_cm(self) -> set_grad_enabled:
        return type(self)(self.mode)

    def __enter__(self) -> None:
        pass


def is_grad_enabled() -> bool:
    return enabled
