"""`Module`: models as plain Python objects whose parameters are found, not declared.

One walker (`_members`) looks through a module's attributes -- Parameters, registered buffers, sub-modules, and
lists, tuples and dicts of them -- and serves `parameters()`, `state_dict()`, `train()`/`eval()` and the `repr`
tree alike. Names and order are PyTorch's: a module's own parameters and buffers first, then its children, each
named by its attribute path ("blocks.0.fc1.weight").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..engine import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: it requires grad (unless told otherwise), and owns a copy of its data
    (optimisers update it in place, so it must never alias the caller's array). A Tensor keeps its dtype; numpy
    arrays and Python values become float32 unless `dtype` is given.

    An optimiser gives the parameter a home for its gradient in a flat buffer (`_grad_home`): a backward after
    zero_grad writes there instead of allocating a new array."""

    __slots__ = ("_grad_home",)

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None):
        if dtype is None and isinstance(data, Tensor):
            dtype = data.dtype
        data = data.data if isinstance(data, Tensor) else data
        array = np.array(data, dtype=np.float32 if dtype is None else dtype)
        super().__init__(array, requires_grad=requires_grad, dtype=array.dtype)
        self._grad_home: np.ndarray | None = None

    def _accumulate(self, g: np.ndarray) -> None:
        home = self._grad_home
        if self.grad is None and home is not None and home.shape == g.shape and home.dtype == self.dtype:
            np.copyto(home, g)
            self.grad = home
        else:
            super()._accumulate(g)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(..., strict=False)` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__` and define `forward`; calling the
    module calls `forward`. Calling `super().__init__()` is optional (and harmless). Parameters in plain lists and
    dicts are found too, and `state_dict()` holds numpy arrays (docs/pytorch.md)."""

    training: bool = True

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- registering what the walker would not find on its own ------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor the module keeps and moves with `.to()` but does not train; saved in the state dict unless
        `persistent=False`. (Plain Tensor attributes are neither, as in PyTorch.)"""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(tensor).__name__}")
        self.__dict__.setdefault("_buffer_persistence", {})[name] = persistent
        setattr(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got {type(param).__name__}")
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        setattr(self, name, module)

    # -- the walker ------------------------------------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, value) for every Parameter, registered buffer or Module held directly, looking inside lists,
        tuples and dicts (their items are named by index or key)."""
        buffers = self.__dict__.get("_buffer_persistence", {})
        stack = [(name, value) for name, value in vars(self).items()
                 if name not in ("_buffer_persistence", "training")]
        stack.reverse()
        while stack:
            name, value = stack.pop()
            if isinstance(value, Parameter | Module) or (isinstance(value, Tensor) and name in buffers):
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

    def _named_tensors(self, prefix: str = "", seen: set[int] | None = None,
                       persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        """Every parameter and buffer: this module's own parameters, then its own buffers, then each child's, depth
        first (PyTorch's order); a shared one once, under its first name."""
        seen = set() if seen is None else seen
        persistence = self.__dict__.get("_buffer_persistence", {})
        members = list(self._members())
        own = [(name, value) for name, value in members if isinstance(value, Parameter)]
        own += [(name, value) for name, value in members if isinstance(value, Tensor)
                and not isinstance(value, Parameter) and not (persistent_only and not persistence.get(name, True))]
        for name, value in own:
            if id(value) not in seen:
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value
        for name, value in members:
            if isinstance(value, Module):
                yield from value._named_tensors(f"{prefix}.{name}" if prefix else name, seen, persistent_only)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), e.g. ("blocks.3.token_mixing.fc1.weight", ...)."""
        for name, tensor in self._named_tensors(prefix):
            if isinstance(tensor, Parameter):
                yield name, tensor

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """The registered buffers (saved or not), with their dotted names."""
        for name, tensor in self._named_tensors(prefix):
            if not isinstance(tensor, Parameter):
                yield name, tensor

    def buffers(self) -> Iterator[Tensor]:
        for _, tensor in self.named_buffers():
            yield tensor

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- modes, gradients, dtypes ----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set `training` on this module and every module below it (dropout, drop-path obey it)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module, then on this one (e.g. a custom init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, dtype: Any = None) -> Module:
        """`to(dtype)` converts every floating parameter and buffer in place (float64 for gradient checks);
        `to("cpu")` changes nothing."""
        for arg in args:
            if isinstance(arg, str) and arg == "cpu":
                continue
            if isinstance(arg, str):
                raise ValueError(f"to({arg!r}): this engine runs on the CPU only")
            dtype = arg
        if dtype is not None:
            for _, tensor in self._named_tensors():
                if tensor.dtype.kind == "f":
                    tensor.data = tensor.data.astype(dtype)
                    tensor.grad = None
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def cpu(self) -> Module:
        return self

    # -- state -----------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Dotted name -> a copy of the array, for parameters and persistent buffers."""
        return {name: tensor.data.copy() for name, tensor in self._named_tensors(persistent_only=True)}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or tensors) into the module's tensors, keeping their dtype. With `strict`, any missing,
        unexpected or wrong-shaped name is an error listing them all; otherwise the matching names load and the
        others are returned."""
        own = dict(self._named_tensors(persistent_only=True))
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        wrong_shape = [f"{name}: checkpoint {tuple(np.shape(state[name]))}, model {own[name].shape}"
                       for name in own if name in state and tuple(np.shape(state[name])) != own[name].shape]
        if wrong_shape or (strict and (missing or unexpected)):
            problems = [f"{label}: {', '.join(names)}" for label, names in
                        (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)) if names]
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for name, tensor in own.items():
            if name in state:
                value = state[name]
                # in place, as PyTorch copies: an optimiser's flat buffers keep holding the parameter
                np.copyto(tensor.data, np.asarray(value.data if isinstance(value, Tensor) else value),
                          casting="unsafe")
                tensor.grad = None
        return IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another, named "0", "1", ... in state dicts."""

    def __init__(self, *layers: Module):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.layers.append(module)
        return self

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
        super().__init__()
        self.items = list(modules)

    def append(self, module: Module) -> ModuleList:
        self.items.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        self.items.extend(modules)
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


class ModuleDict(Module):
    """A dict of modules, named by their keys in state dicts."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        self.items_by_name = dict(modules or {})

    def __getitem__(self, key: str) -> Module:
        return self.items_by_name[key]

    def __getattr__(self, name: str) -> Module:
        """`modules.name` for `modules["name"]`, as PyTorch allows (nanoGPT writes `self.transformer.wte`)."""
        items = self.__dict__.get("items_by_name", {})
        if name in items:
            return items[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or module {name!r}")

    def __setitem__(self, key: str, module: Module) -> None:
        self.items_by_name[key] = module

    def __contains__(self, key: str) -> bool:
        return key in self.items_by_name

    def __len__(self) -> int:
        return len(self.items_by_name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items_by_name)

    def keys(self) -> Iterable[str]:
        return self.items_by_name.keys()

    def values(self) -> Iterable[Module]:
        return self.items_by_name.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self.items_by_name.items()

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from self.items_by_name.items()
