"""Devices, answered as PyTorch's CPU-only build answers: `device("cuda:0")` parses, but only the CPU holds tensors.

`device` objects behave as PyTorch's (`.type`, `.index`, str, repr, equality between devices), and every
`device=` argument, `.to(...)` and `Generator(device=...)` accepts the CPU (with or without an index) and refuses
any other device with one line, a `DeviceUnavailableError`: a RuntimeError that is also an AssertionError, because
PyTorch's CPU build raises AssertionError ("Torch not compiled with CUDA enabled") for CUDA and RuntimeError for the
rest. Programs that ask first (`cuda.is_available()`, `backends.mps.is_available()`) choose the CPU and run.
"""

from __future__ import annotations

import re
from typing import Any

DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_DEVICE_STRING = re.compile(r"([A-Za-z_]+)(?::(0|[1-9][0-9]*))?")
_builtin_type = type  # `type` is an argument name of device() (PyTorch's)


class DeviceUnavailableError(RuntimeError, AssertionError):
    """A device other than the CPU was asked to hold a tensor or run something: this engine runs on the CPU only."""


class device:  # noqa: N801 - PyTorch's name
    """PyTorch's `torch.device`: `device("cpu")`, `device("cuda:1")`, `device("cuda", 1)`, `device(type="mps")`.

    Parsing follows PyTorch (known type names, an optional non-negative index); a device compares equal to a device
    with the same type and index (not to a string, as in PyTorch: compare `.type` or `str(...)`). `with
    device("cpu"):` changes nothing (the CPU is already the default); entering any other device is refused.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: str | device | int, index: int | None = None) -> None:  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device")
            self._type, self._index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise DeviceUnavailableError(f"device({type}): an integer names an accelerator, and none is available "
                                         "(this engine runs on the CPU only)")
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a device type string such as 'cpu' or 'cuda:0', a device or an int, "
                            f"got {_builtin_type(type).__name__}")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise TypeError(f"device(): index must be an int, got {_builtin_type(index).__name__}")
        if not type:
            raise RuntimeError("Device string must not be empty")
        match = _DEVICE_STRING.fullmatch(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: {type!r}")
        if match.group(1) not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device string: "
                               f"{type}")
        if match.group(2) is not None and index is not None:
            raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self._type = match.group(1)
        self._index = int(match.group(2)) if match.group(2) is not None else index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type={self._type!r}{index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self) -> tuple[Any, ...]:
        return device, (str(self),)

    def __enter__(self) -> device:
        check_device(self, "with device(...)")
        return self

    def __exit__(self, *exc: object) -> None:
        return None


CPU = device("cpu")


def as_device(value: str | device | int) -> device:
    """`value` as a device object (parsing strings and checking them as `device(...)` does)."""
    return value if isinstance(value, device) else device(value)


def check_device(value: str | device | int | None, where: str) -> None:
    """Accept None or the CPU; refuse any other device with one line naming `where`."""
    if value is None:
        return
    parsed = as_device(value)
    if parsed.type != "cpu":
        raise DeviceUnavailableError(f"{where}: device {str(parsed)!r} is not available: this engine runs on the CPU "
                                     f"only (cuda.is_available() is False)")


def to_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], tensor_type: type) -> tuple[Any, bool]:
    """The dtype (None: keep it) and `copy` flag of a `.to(...)` call, in any of PyTorch's forms: `to(dtype)`,
    `to(device)`, `to(device, dtype)`, `to(other_tensor)`, `to(device=..., dtype=...)`, each optionally followed by
    `non_blocking` and `copy` (positional or keyword) and `memory_format=`. A device other than the CPU is refused.
    `non_blocking` and `memory_format` change nothing on the CPU (tensors here are always contiguous)."""
    kwargs = dict(kwargs)
    where = "to()"
    target = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    rest = list(args)
    if rest:
        first = rest.pop(0)
        if isinstance(first, tensor_type):
            dtype = first.dtype
        elif isinstance(first, (str, device)) or (isinstance(first, int) and not isinstance(first, bool)):
            target = first
            if rest and not isinstance(rest[0], bool):
                dtype = rest.pop(0)
        else:
            dtype = first
    if len(rest) > 2:
        raise TypeError(f"to() takes at most the flags non_blocking and copy after the device/dtype, got {len(rest)} "
                        "more arguments")
    flags = dict(zip(("non_blocking", "copy"), rest, strict=False))
    for name in ("non_blocking", "copy"):
        if name in kwargs:
            if name in flags:
                raise TypeError(f"to() got multiple values for argument {name!r}")
            flags[name] = kwargs.pop(name)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    if target is not None:
        where = f"to({str(as_device(target))!r})"
    check_device(target, where)
    return dtype, bool(flags.get("copy", False))
