"""See the graph behind a tensor: Graphviz DOT text, a PNG, or the tape as backward walks it.

    from tinygrad_np import viz
    print(viz.to_dot(loss))      # paste into any Graphviz viewer
    print(loss.explain())        # one line per op, in the order backward runs them

Nodes are numbered in topological order (parents first), never by `id()`, so the same graph
always gives the same text. After `backward()` the graph is still shown whole: backward frees the
arrays the ops saved, not the record of which op made what.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from .engine import Function, Node, Tensor, topological_order


def _inputs(tensor: Tensor | Node) -> tuple[Tensor | Node, ...]:
    """Every input of the op that made `tensor`, constants included (none for a leaf)."""
    return tensor._ctx.parents if tensor._ctx is not None else ()


def _root(tensor: Tensor) -> Tensor | Node:
    """Where the graph of `tensor` starts: its Node when an op made it, else the tensor."""
    return tensor._node if tensor._ctx is not None else tensor


def graph_order(tensor: Tensor) -> list[Tensor | Node]:
    """Every tensor `tensor` was computed from, constants included, parents before children."""
    return topological_order(_root(tensor), follow_constants=True)


def _op_name(ctx: Function) -> str:
    name = type(ctx).__name__
    return f"{name} (arrays freed by backward)" if ctx.released else name


def _tensor_label(name: str, tensor: Tensor | Node) -> str:
    if tensor.is_leaf:
        role = "leaf, requires_grad" if tensor.requires_grad else "leaf, constant"
    else:
        role = "requires_grad"
    return f"{name}\\n{tensor.shape} {tensor.dtype}\\n{role}"


def to_dot(tensor: Tensor) -> str:
    """Graphviz DOT text of the graph that produced `tensor`: a box per tensor (shape, dtype, leaf or
    not, requires_grad), an ellipse per op (its Function class), edges input -> op -> output."""
    order = graph_order(tensor)
    names = {id(t): f"t{i}" for i, t in enumerate(order)}
    lines = ["digraph tape {", "  rankdir=LR;"]
    op_count = 0
    for t in order:
        if t._ctx is not None:
            op = f"op{op_count}"
            op_count += 1
            lines.append(f'  {op} [shape=ellipse, label="{_op_name(t._ctx)}"];')
            lines += [f"  {names[id(parent)]} -> {op};" for parent in _inputs(t)]
        lines.append(f'  {names[id(t)]} [shape=box, label="{_tensor_label(names[id(t)], t)}"];')
        if t._ctx is not None:
            lines.append(f"  {op} -> {names[id(t)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def format_tape(tensor: Tensor) -> str:
    """The ops `tensor.backward()` would run (or ran), in its order (output first): one line per op with its name,
    input shapes and output shape."""
    ops = [t for t in reversed(topological_order(_root(tensor))) if t._ctx is not None] if tensor.requires_grad else []
    if not ops:
        return "no ops on the tape: this tensor is a leaf or was computed without gradients"
    lines = []
    for step, t in enumerate(ops, start=1):
        inputs = ", ".join(str(parent.shape) for parent in _inputs(t))
        lines.append(f"{step}. {_op_name(t._ctx)}: inputs {inputs} -> output {t.shape}")
    return "\n".join(lines)


def print_tape(tensor: Tensor, file: TextIO | None = None) -> None:
    """Print `format_tape(tensor)`."""
    print(format_tape(tensor), file=file or sys.stdout)


def to_png(tensor: Tensor, path: str | Path) -> Path:
    """Render `to_dot(tensor)` to a PNG with Graphviz's `dot` program; returns the path."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("to_png needs Graphviz's `dot` program, which is not installed (e.g. `apt-get install "
                           "graphviz`, `brew install graphviz` or `conda install graphviz`). Without it, "
                           "viz.to_dot(tensor) gives the DOT text: save it as a .dot file or paste it into any "
                           "Graphviz viewer.")
    path = Path(path)
    subprocess.run([dot, "-Tpng", "-o", str(path)], input=to_dot(tensor), text=True, check=True,
                   capture_output=True)
    return path
