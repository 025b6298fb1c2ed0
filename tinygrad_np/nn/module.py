"""`Module`: models as Python objects whose parameters, buffers and sub-modules are registered, as in PyTorch.

Assigning a `Parameter` or a `Module` to an attribute registers it (`__setattr__` files it in `_parameters` or
`_modules`); `register_buffer` registers a tensor the module keeps but does not train. Nothing else is registered:
a plain Python list of modules is invisible to `parameters()` and `state_dict()` (use `ModuleList`, `ModuleDict`,
`ParameterList`, `ParameterDict`). Names and order are PyTorch's: a module's own parameters and buffers first, then
its children, each named by its attribute path ("blocks.0.fc1.weight"). A weight shared by two modules (a tied
embedding and output layer) is yielded once by `parameters()` and appears under each of its names in `state_dict()`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import device as _device
from ..engine import Tensor
from ..errors import ShapeError


class Parameter(Tensor):
    """A Tensor that a Module trains: it requires grad (unless told otherwise), and owns a copy of its data
    (optimisers update it in place, so it must never alias the caller's array). A Tensor keeps its dtype; numpy
    arrays and Python values become float32 unless `dtype` is given.

    An optimiser gives the parameter a home for its gradient in a flat buffer (`_grad_home`): a backward after
    zero_grad writes there instead of allocating a new array."""

    __slots__ = ("_grad_home",)

    def __init__(self, data: Any = None, requires_grad: bool = True, dtype: Any = None):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if dtype is None and isinstance(data, Tensor):
            dtype = data.dtype
        array = np.array(data._data if isinstance(data, Tensor) else data, dtype=np.float32 if dtype is None else dtype)
        super().__init__(array, requires_grad=requires_grad, dtype=array.dtype)
        self._grad_home: np.ndarray | None = None

    def _accumulate(self, g: np.ndarray) -> None:
        home = self._grad_home
        if self._grad is None and home is not None and home.shape == g.shape and home.dtype == self.dtype:
            np.copyto(home, g)
            self._grad = Tensor._wrap(home)
        else:
            super()._accumulate(g)

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        new = super().__deepcopy__(memo)
        new._grad_home = None
        return new

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(..., strict=False)` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclasses register parameters and sub-modules by assigning them in
    `__init__` and define `forward`; calling the module calls `forward`. (Calling `super().__init__()` first is
    what PyTorch requires; here the registries are also made on the first assignment if it was forgotten.)"""

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers_set: set[str]
    _modules: dict[str, Module | None]

    def __init__(self) -> None:
        state = self.__dict__
        state["training"] = True
        state["_parameters"] = {}
        state["_buffers"] = {}
        state["_non_persistent_buffers_set"] = set()
        state["_modules"] = {}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- registration: what an assignment does ---------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__
        if "_parameters" not in state:
            Module.__init__(self)
        params, buffers, modules = state["_parameters"], state["_buffers"], state["_modules"]
        if isinstance(value, Parameter):
            self._forget(name, "_parameters")
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, "_modules")
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            members = state.get(registry)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in state.get(registry, ()):
                del state[registry][name]
                state["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _forget(self, name: str, keep: str) -> None:
        """Remove `name` from the plain attributes and every registry but `keep`, the one it is about to be
        registered in anew: there it keeps its place, so a member assigned again (`self.decoder.weight =
        self.encoder.weight`, a child module replaced) stays where it was in `state_dict()` and `parameters()`,
        as in PyTorch."""
        state = self.__dict__
        state.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                state[registry].pop(name, None)
        state["_non_persistent_buffers_set"].discard(name)

    def _check_new_name(self, name: Any, kind: str, registry: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain \".\", got {name!r}")
        if hasattr(self, name) and name not in getattr(self, registry):
            raise KeyError(f"attribute {name!r} already exists")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor the module keeps and converts with `.to()` but does not train; saved in the state dict unless
        `persistent=False`. (A plain Tensor attribute is neither, as in PyTorch.)"""
        if "_buffers" not in self.__dict__:
            Module.__init__(self)
        self._check_new_name(name, "buffer", "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} object to buffer {name!r} (Tensor or None "
                            "required)")
        self._forget(name, "_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if "_parameters" not in self.__dict__:
            Module.__init__(self)
        self._check_new_name(name, "parameter", "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} (nn.Parameter or "
                            "None required)")
        self._forget(name, "_parameters")
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        if "_modules" not in self.__dict__:
            Module.__init__(self)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name(name, "module", "_modules")
        self._forget(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path `target` ("" is this module)."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r}")
        return module._parameters[name]

    # -- walking the registries --------------------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first (a shared module once, unless `remove_duplicate` is
        False)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen: set[int] = set()
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), e.g. ("blocks.3.token_mixing.fc1.weight", ...); a shared one once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """The registered buffers (saved or not), with their dotted names."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, tensor in self.named_buffers(recurse=recurse):
            yield tensor

    def num_parameters(self) -> int:
        """The number of trainable numbers (a shared parameter counted once)."""
        return sum(p.numel() for p in self.parameters())

    # -- modes, gradients, dtypes ----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set `training` on this module and every module below it (dropout, drop-path obey it)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module, then on this one (e.g. a custom init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """`to(dtype)`, `to(device)`, `to(tensor)` or `to(device, dtype)`: converts every floating parameter and
        buffer in place, keeping the Parameter objects (float64 for gradient checks); the CPU is the only device."""
        dtype, _ = _device.to_arguments(args, kwargs, Tensor)
        if dtype is not None:
            self._convert(np.dtype(dtype))
        return self

    def _convert(self, dtype: np.dtype) -> None:
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for tensor in registry.values():
                    if tensor is not None and tensor.dtype.kind == "f" and tensor.dtype != dtype:
                        tensor._data = tensor._data.astype(dtype)
                        if tensor._grad is not None:
                            tensor._grad = Tensor._wrap(tensor._grad._data.astype(dtype))
                        if isinstance(tensor, Parameter):
                            tensor._grad_home = None

    def type(self, dst_type: Any) -> Module:
        self._convert(np.dtype(dst_type))
        return self

    def float(self) -> Module:
        return self.type(np.float32)

    def double(self) -> Module:
        return self.type(np.float64)

    def half(self) -> Module:
        return self.type(np.float16)

    def cpu(self) -> Module:
        return self

    def cuda(self, device: Any = None) -> Module:
        raise RuntimeError("Torch not compiled with CUDA enabled: this engine runs on the CPU only")

    def share_memory(self) -> Module:
        """Nothing to do: there is one process."""
        return self

    # -- state -----------------------------------------------------------------------------------------------------
    def state_dict(self, *, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Dotted name -> tensor, for parameters and persistent buffers, in PyTorch's order. The tensors share
        memory with the module's (`detach()`ed unless `keep_vars`): copy them (`copy.deepcopy`) to keep a
        snapshot. A weight shared by two modules appears under each name."""
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=out, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy tensors (or arrays) into the module's parameters and buffers, in place and keeping their dtype;
        gradients are left alone. A shape that differs is always an error; with `strict`, so are missing and
        unexpected names (all listed in one error). `assign=True` makes the module hold the given tensors instead
        of copying into its own."""
        own = self.state_dict(keep_vars=True)
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        wrong_shape = [f"{name}: checkpoint {tuple(np.shape(state_dict[name]))}, model {own[name].shape}"
                       for name in own if name in state_dict and tuple(np.shape(state_dict[name])) != own[name].shape]
        if wrong_shape or (strict and (missing or unexpected)):
            problems = [f"{label}: {', '.join(names)}" for label, names in
                        (("missing", missing), ("unexpected", unexpected), ("size mismatch", wrong_shape)) if names]
            raise ShapeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(problems))
        for name, tensor in own.items():
            if name in state_dict:
                value = state_dict[name]
                array = np.asarray(value._data if isinstance(value, Tensor) else value)
                if assign:
                    tensor._data = array.astype(tensor.dtype, copy=False)
                else:
                    # in place, as PyTorch copies: an optimiser's flat buffers keep holding the parameter
                    np.copyto(tensor._data, array, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another, named "0", "1", ... (or by the keys of an OrderedDict)."""

    def __init__(self, *args: Module | Mapping[str, Module]):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        items = list(self._modules.values())
        items.insert(index if index >= 0 else len(items) + index + 1, module)
        self._modules.clear()
        for i, item in enumerate(items):
            self._modules[str(i)] = item
        return self

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return type(self)(OrderedDict(items[index]))
        return items[_list_index(index, len(items), "Sequential")][1]

    def __setitem__(self, index: int, module: Module) -> None:
        key = list(self._modules)[_list_index(index, len(self), "Sequential")]
        setattr(self, key, module)

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)
        for key in keys[index] if isinstance(index, slice) else [keys[_list_index(index, len(keys), "Sequential")]]:
            del self._modules[key]
        if all(key.isdigit() for key in self._modules):
            values = list(self._modules.values())
            self._modules.clear()
            self._modules.update((str(i), v) for i, v in enumerate(values))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules, indexed like a list and named "0", "1", ... in state dicts."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(items))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[_list_index(index, len(items), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(_list_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        del items[index]
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(items))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, named by their keys in state dicts; each is an attribute too (`blocks.wte`)."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        for key, module in (modules.items() if isinstance(modules, Mapping) else modules):
            self[key] = module

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()


def _as_parameter(value: Any) -> Any:
    return value if isinstance(value, Parameter) or not isinstance(value, Tensor) else Parameter(value)


class ParameterList(Module):
    """A list of parameters, named "0", "1", ...; a Tensor put in becomes a Parameter (as in PyTorch)."""

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def append(self, value: Any) -> ParameterList:
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._parameters.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[_list_index(index, len(items), "ParameterList")]

    def __setitem__(self, index: int, value: Any) -> None:
        self.register_parameter(str(_list_index(index, len(self), "ParameterList")), _as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def extra_repr(self) -> str:
        return "\n".join(f"({name}): Parameter of shape {tuple(p.shape)}, dtype {p.dtype}"
                         for name, p in self._parameters.items())


class ParameterDict(Module):
    """A dict of parameters, named by their keys; each is an attribute too. A Tensor put in becomes a Parameter."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def keys(self) -> Iterable[str]:
        return self._parameters.keys()

    def values(self) -> Iterable[Parameter]:
        return self._parameters.values()

    def items(self) -> Iterable[tuple[str, Parameter]]:
        return self._parameters.items()

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        for key, value in (parameters.items() if isinstance(parameters, Mapping) else parameters):
            self[key] = value

    def pop(self, key: str) -> Parameter:
        return self._parameters.pop(key)


def _list_index(index: int, length: int, name: str) -> int:
    if not -length <= index < length:
        raise IndexError(f"{name} index {index} is out of range (length {length})")
    return index % length


__all__ = ["IncompatibleKeys", "Module", "ModuleDict", "ModuleList", "Parameter", "ParameterDict", "ParameterList",
           "Sequential"]
