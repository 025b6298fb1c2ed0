"""Stopping a run: Ctrl-C (SIGINT), a job scheduler or `kill` (SIGTERM) and a closed terminal (SIGHUP) all stop it
the same way, and never in the middle of a write.

`stop_signals()` (train.py runs every command inside it) makes each of these signals raise `Stopped`, a
KeyboardInterrupt that knows its signal, wherever the program is: a run then abandons the step it is in (its
checkpoints hold the last finished epoch) and says what is saved and how to continue; the exit code is 128 + the
signal's number (130, 143, 129), as a shell reports a process the signal ended. `critical()` marks a section a
signal must not cut short -- a checkpoint write, the end of an epoch (its checkpoints and its line of
metrics.jsonl): a signal that arrives inside waits until the section ends. Outside `stop_signals` (the package used
from Python) signals keep their usual behaviour and `critical()` only counts.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                                                 if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; `signum` is the signal, `exit_code` 128 + its number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_of(stop: BaseException) -> int:
    """The signal behind a KeyboardInterrupt (a plain one is Ctrl-C: SIGINT)."""
    return getattr(stop, "signum", signal.SIGINT)


class _State:
    depth = 0  # how many critical sections are open
    pending: int | None = None  # the signal that arrived inside one
    active = False  # whether stop_signals' handlers are installed


def _handle(signum: int, frame: Any) -> None:
    if _State.depth:
        if _State.pending is None:
            _State.pending = signum
        return
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise `Stopped` (deferred to the end of a critical section); the previous
    handlers are put back after. Only the main thread can handle signals: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread() or _State.active:
        yield
        return
    previous = {signum: signal.signal(signum, _handle) for signum in STOP_SIGNALS}
    _State.active, _State.pending = True, None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _State.active, _State.pending = False, None


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A section no stop signal interrupts: one that arrives inside is raised as `Stopped` when the outermost
    critical section ends (under `stop_signals`)."""
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if not _State.depth and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise Stopped(signum)
