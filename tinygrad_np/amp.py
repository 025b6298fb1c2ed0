"""Automatic mixed precision, as PyTorch's CPU build runs it when no reduced-precision arithmetic is used.

`autocast(device_type, dtype=None, enabled=True)` is a context manager and decorator that changes nothing: the
engine computes in the tensors' own dtypes (float32 on the hot path), where PyTorch's CPU autocast would run matmuls
and convolutions in bfloat16. For a device other than the CPU it warns once, as PyTorch's CPU build does, that
autocast is off. `GradScaler` is PyTorch's disabled scaler: loss scaling protects float16 gradients on a GPU, and
nothing here computes in float16, so `scale` returns its input, `unscale_` and `update` do nothing and `step` calls
`optimizer.step()`. Asking for an enabled scaler warns that it is disabled (PyTorch warns the same on a CPU build
for CUDA, its default device).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

from .device import device


class autocast(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """PyTorch's `torch.autocast`: here a pass-through (see the module docstring). `device_type` is checked as a
    device type; `dtype` is remembered (`fast_dtype`) and `cache_enabled` accepted, neither changing a result."""

    _stacklevel = 2  # a warning points at the caller's line (subclasses that add a frame say 3)

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"autocast: expected device_type of type str, got {type(device_type).__name__}")
        self.device = device(device_type).type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and self.device != "cpu":
            warnings.warn(f"autocast: device_type {self.device!r} is not available (this engine runs on the CPU "
                          "only); autocast does nothing", stacklevel=self._stacklevel)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class GradScaler:
    """PyTorch's `torch.amp.GradScaler`, always disabled (see the module docstring). `device` and `init_scale` are
    accepted (PyTorch's signature); the growth settings are kept and returned by the getters; `state_dict()` is empty
    and `load_state_dict` ignores what it is given, as a disabled PyTorch scaler does."""

    _stacklevel = 2

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._growth_factor, self._backoff_factor, self._growth_interval = growth_factor, backoff_factor, \
            growth_interval
        if enabled:
            warnings.warn("GradScaler: loss scaling is for float16 training on a GPU; this engine trains in the "
                          "tensors' own dtypes on the CPU, so the scaler is disabled", stacklevel=self._stacklevel)

    def scale(self, outputs: Any) -> Any:
        """The outputs themselves (a disabled scaler multiplies by nothing)."""
        return outputs

    def unscale_(self, optimizer: Any) -> None:
        return None

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """`optimizer.step(*args, **kwargs)`, and its result."""
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        return None

    def get_scale(self) -> float:
        return 1.0

    def is_enabled(self) -> bool:
        return False

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        return None
