"""What a training script asks of the runtime besides devices: `inference_mode`, `compile` and the float32 matmul
precision, answered as PyTorch's CPU build answers them. Here every one of them leaves the computation as it is: the
engine has no graph compiler, and its float32 matmuls are always full precision."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable
from typing import Any

from .engine import set_grad_enabled

_inference = False
_matmul_precision = "highest"
_PRECISIONS = ("highest", "high", "medium")
_COMPILE_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


class inference_mode(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """`no_grad` under PyTorch's other name: nothing is recorded inside `with inference_mode():`, or in a function
    decorated with `@inference_mode` or `@inference_mode()`. `inference_mode(False)` records again (as PyTorch's:
    gradients on, inference mode off)."""

    def __new__(cls, mode: bool | Callable[..., Any] = True) -> Any:
        if callable(mode) and not isinstance(mode, bool):  # `@inference_mode` without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def _recreate_cm(self) -> inference_mode:
        return type(self)(self.mode)  # a fresh instance per decorated call, so nesting restores correctly

    def __enter__(self) -> None:
        global _inference
        self._previous, _inference = _inference, self.mode
        self._grad = set_grad_enabled(not self.mode)

    def __exit__(self, *exc: object) -> None:
        global _inference
        self._grad.__exit__(*exc)
        _inference = self._previous


def is_inference_mode_enabled() -> bool:
    return _inference


def compile(model: Callable[..., Any] | None = None, *, fullgraph: bool = False,  # noqa: A001 - PyTorch's name
            dynamic: bool | None = None, backend: str | Callable[..., Any] = "inductor", mode: str | None = None,
            options: dict[str, Any] | None = None, disable: bool = False) -> Any:
    """PyTorch's `torch.compile` without a compiler: returns `model` itself (a module or a function), so a program
    that compiles its model runs unchanged. Usable as `@compile` and `@compile(...)`. The options are checked as
    PyTorch checks them (`mode` and `options` are exclusive, `mode` is one of PyTorch's) and otherwise change
    nothing: `fullgraph`, `dynamic`, `backend` and `disable` name what a compiler would do."""
    if mode is not None and options is not None:
        raise RuntimeError("compile: either mode or options can be specified, but both can't be specified at the "
                           "same time")
    if mode is not None and mode not in _COMPILE_MODES:
        raise RuntimeError(f"compile: unrecognized mode={mode}, should be one of: {', '.join(_COMPILE_MODES)}")
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable)
    if not callable(model):
        raise TypeError(f"compile: a callable (a module or a function) is expected, got {type(model).__name__}")
    return model


def set_float32_matmul_precision(precision: str) -> None:
    """Record PyTorch's float32 matmul precision setting ("highest", "high", "medium"; anything else is ignored with
    a warning, as in PyTorch). The engine's float32 matmuls are full precision whatever it says: "high" and "medium"
    permit faster, less precise arithmetic (TF32, bfloat16) that the CPU path here does not use."""
    global _matmul_precision
    if precision not in _PRECISIONS:
        warnings.warn(f"set_float32_matmul_precision: {precision!r} is not one of 'highest', 'high', or 'medium'; "
                      "the call has no effect", stacklevel=2)
        return
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision
