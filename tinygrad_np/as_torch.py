"""Run a program written for PyTorch on the engine, changing nothing in it: `import torch` gives `tinygrad_np`.

    python -m tinygrad_np train_mnist.py --epochs 2     # the script's `import torch` is the engine

    from tinygrad_np.as_torch import torch_is_the_engine
    with torch_is_the_engine():
        import torch                                     # tinygrad_np
        from torch.utils.data import DataLoader          # tinygrad_np.utils.data.DataLoader

Every `torch` module name maps to the engine's module of the same path (`torch.nn.functional` to
`tinygrad_np.nn.functional`, `torch.nn.modules.rnn` to `tinygrad_np.nn.modules.rnn`); a name the engine lacks is a
`ModuleNotFoundError` naming both, never a silent fall back to a real PyTorch that may be installed beside it. Inside
the block, modules of a real PyTorch imported before are set aside, and put back after.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType


def _is_torch(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


class _Loader(importlib.abc.Loader):
    """Hands out the engine's module that already exists (or is imported now) for a `torch` name."""

    def __init__(self, module: ModuleType):
        self.module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        pass


class _TorchFinder(importlib.abc.MetaPathFinder):
    """Finds `torch` and `torch.<path>` as `tinygrad_np` and `tinygrad_np.<path>`."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not _is_torch(name):
            return None
        engine_name = "tinygrad_np" + name[len("torch"):]
        try:
            module = importlib.import_module(engine_name)
        except ModuleNotFoundError as error:
            if error.name is not None and error.name != engine_name and not engine_name.startswith(error.name + "."):
                raise  # the engine's module exists but failed to import something: a real error
            raise ModuleNotFoundError(f"No module named {name!r}: tinygrad_np has no {engine_name} (the parts of "
                                      "PyTorch the engine offers are listed in docs/pytorch.md)", name=name) from None
        return importlib.util.spec_from_loader(name, _Loader(module))


@contextlib.contextmanager
def torch_is_the_engine() -> Iterator[ModuleType]:
    """Inside this block, `import torch` (and every `torch.*` import) gives the engine's modules; yields the engine."""
    saved = {name: module for name, module in sys.modules.items() if _is_torch(name)}
    for name in saved:
        del sys.modules[name]
    finder = _TorchFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield importlib.import_module("torch")
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_torch(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tinygrad_np SCRIPT [ARGS...]`: run SCRIPT as `__main__` with `torch` pointing at the engine."""
    import runpy

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m tinygrad_np SCRIPT [ARGS...]\n\nRun a program written for PyTorch with its "
              "`import torch` giving tinygrad_np.")
        return 0 if args else 2
    script = args[0]
    sys.argv = args
    with torch_is_the_engine():
        runpy.run_path(script, run_name="__main__")
    return 0
