"""`torch.cuda.amp`: PyTorch's older spellings of `amp.autocast("cuda", ...)` and `amp.GradScaler("cuda", ...)`.
Without a GPU both are pass-throughs (tinygrad_np/amp.py): autocast warns that it is off, the scaler is disabled."""

from __future__ import annotations

from typing import Any

from .. import amp as _amp
from ..dtypes import float16


class autocast(_amp.autocast):  # noqa: N801 - PyTorch's name
    """`amp.autocast("cuda", ...)`: warns that it is off, and changes nothing."""

    _stacklevel = 3

    def __init__(self, enabled: bool = True, dtype: Any = float16, cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """`amp.GradScaler("cuda", ...)`: disabled."""

    _stacklevel = 3

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
