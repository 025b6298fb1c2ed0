"""`Module`: models as plain Python objects whose parameters are found, not declared.

One walker (`_members`) looks through a module's attributes -- Parameters, Tensors (buffers),
sub-modules, and lists, tuples and dicts of them -- and serves `parameters()`,
`state_dict()`, `train()`/`eval()` and the `repr` tree alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..engine import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: it always requires grad, and owns a copy of its data
    (optimisers update it in place, so it must never alias the caller's array)."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None):
        data = data.data if isinstance(data, Tensor) else data
        array = np.array(data, dtype=np.float32 if dtype is None else dtype)
        super().__init__(array, requires_grad=True, dtype=array.dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__` and define
    `forward`; calling the module calls `forward`."""

    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- the walker ----------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, value) for every Parameter, Tensor or Module held directly, looking inside
        lists, tuples and dicts (their items are named by index or key)."""
        stack = [(name, value) for name, value in vars(self).items() if not name.startswith("_")]
        stack.reverse()
        while stack:
            name, value = stack.pop()
            if isinstance(value, Tensor | Module):
                yield name, value
            elif isinstance(value, list | tuple):
                stack.extend(reversed([(f"{name}.{i}", v) for i, v in enumerate(value)]))
            elif isinstance(value, dict):
                stack.extend(reversed([(f"{name}.{k}", v) for k, v in value.items()]))

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in self._members():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_tensors(self, prefix: str = "", seen: set[int] | None = None) -> Iterator[tuple[str, Tensor]]:
        """Every tensor, depth first in attribute order; a shared one once, under its first name."""
        seen = set() if seen is None else seen
        for name, value in self._members():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Module):
                yield from value._named_tensors(full, seen)
            elif id(value) not in seen:
                seen.add(id(value))
                yield full, value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), e.g. ("blocks.3.token_mixing.fc1.weight", ...)."""
        for name, tensor in self._named_tensors():
            if isinstance(tensor, Parameter):
                yield name, tensor

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Tensors held by the module that are not Parameters (saved, not trained)."""
        for name, tensor in self._named_tensors():
            if not isinstance(tensor, Parameter):
                yield name, tensor

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # -- modes and gradients ---------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set `training` on this module and every module below it (dropout, drop-path obey it)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, dtype: Any) -> Module:
        """Convert every parameter and buffer to `dtype` in place (float64 for gradient checks)."""
        for _, tensor in self._named_tensors():
            tensor.data = tensor.data.astype(dtype)
            tensor.grad = None
        return self

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Dotted name -> a copy of the array, for parameters and buffers."""
        return {name: tensor.data.copy() for name, tensor in self._named_tensors()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy arrays into the module's tensors (keeping their dtype). With `strict`, any
        missing, unexpected or wrong-shaped name is an error listing them all; otherwise the
        matching names load and (missing, unexpected) is returned."""
        own = dict(self._named_tensors())
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        wrong_shape = [f"{name}: checkpoint {np.shape(state[name])}, model {own[name].shape}"
                       for name in own if name in state and np.shape(state[name]) != own[name].shape]
        if wrong_shape or (strict and (missing or unexpected)):
            problems = [f"{label}: {', '.join(names)}" for label, names in
                        (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)) if names]
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for name, tensor in own.items():
            if name in state:
                tensor.data = np.array(state[name], dtype=tensor.dtype)
                tensor.grad = None
        return missing, unexpected

    # -- printing --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def _members(self) -> Iterator[tuple[str, Any]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer


class ModuleList(Module):
    """A list of modules, indexed like a list and named "0", "1", ... in state dicts."""

    def __init__(self, modules: Iterable[Module] = ()):
        self.items = list(modules)

    def append(self, module: Module) -> ModuleList:
        self.items.append(module)
        return self

    def __getitem__(self, index: int) -> Module:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.items)

    def _members(self) -> Iterator[tuple[str, Any]]:
        for i, module in enumerate(self.items):
            yield str(i), module
