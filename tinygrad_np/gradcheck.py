"""Check the tape's gradients against central finite differences, in float64.

`gradcheck(fn, *inputs)` evaluates `fn`, back-propagates a random upstream gradient `u`
(so any output shape works), and compares each input's gradient with
(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) projected on `u`, element by element.
`mode="projection"` compares one random direction `v` per input instead:
<tape gradient, v> against the finite difference along v -- two evaluations per input
whatever its size, which is how big tensors are checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Tensor, no_grad


@dataclass
class Mismatch:
    input: int
    index: tuple[int, ...] | str
    analytic: float
    numeric: float

    def __str__(self) -> str:
        return (f"input {self.input}, index {self.index}: tape {self.analytic:.8g}, "
                f"finite difference {self.numeric:.8g}, error {abs(self.analytic - self.numeric):.3g}")


@dataclass
class GradcheckReport:
    """What gradcheck compared and where the tape and finite differences disagreed."""

    ok: bool
    mode: str
    checked: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    mismatches: list[Mismatch] = field(default_factory=list)

    def __str__(self) -> str:
        head = (f"gradcheck ({self.mode}) {'passed' if self.ok else 'FAILED'}: {self.checked} values compared, "
                f"max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}")
        lines = [str(m) for m in self.mismatches[:10]]
        if len(self.mismatches) > 10:
            lines.append(f"... and {len(self.mismatches) - 10} more")
        return "\n  ".join([head, *lines])

    def __bool__(self) -> bool:
        return self.ok


class GradcheckError(AssertionError):
    def __init__(self, report: GradcheckReport):
        super().__init__(str(report))
        self.report = report


def _scalar_output(fn: Callable[..., Any], inputs: Sequence[Tensor], upstream: np.ndarray | None) -> float:
    out = fn(*inputs)
    return float(np.sum(out._data * upstream)) if upstream is not None else float(out._data)


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, mode: str = "full", n_projections: int = 2,
              rng: np.random.Generator | int | None = 0, raise_exception: bool = True) -> GradcheckReport:
    """Compare the gradients `fn`'s tape gives for every input that requires grad with
    central finite differences. Inputs must be float64 (float32 differences are noise).

    Inputs are perturbed in place and restored, so `fn` may also read them through a
    closure (e.g. pass `*model.parameters()` and call the model inside `fn`). Returns a
    report; raises GradcheckError with that report on a mismatch unless
    `raise_exception=False`.
    """
    if mode not in ("full", "projection"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'projection', got {mode!r}")
    rng = np.random.default_rng(rng)
    inputs = [x if isinstance(x, Tensor) else Tensor(x, dtype=np.float64, requires_grad=True) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 "
                            "(Tensor(x, dtype=np.float64)): float32 finite differences are noise")

    out = fn(*inputs)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise ValueError("gradcheck: fn must return a Tensor that depends on the inputs")
    upstream = rng.standard_normal(out.shape) if out.ndim else None
    saved_grads = [inputs[i].grad for i in checked]
    for i in checked:
        inputs[i].grad = None
    out.backward(upstream)
    analytic = {i: (inputs[i].grad._data if inputs[i].grad is not None else np.zeros(inputs[i].shape))
                for i in checked}
    for i, g in zip(checked, saved_grads, strict=True):
        inputs[i].grad = g

    def f() -> float:
        with no_grad():
            return _scalar_output(fn, inputs, upstream)

    report = GradcheckReport(ok=True, mode=mode)

    def compare(i: int, index: tuple[int, ...] | str, a: float, n: float) -> None:
        error = abs(a - n)
        report.checked += 1
        report.max_abs_error = max(report.max_abs_error, error)
        report.max_rel_error = max(report.max_rel_error, error / max(abs(n), 1e-12))
        if not error <= atol + rtol * abs(n):  # written so that NaN fails
            report.ok = False
            report.mismatches.append(Mismatch(i, index, a, n))

    for i in checked:
        data = inputs[i]._data
        if mode == "full":
            flat = data.reshape(-1)  # a view: writes reach the input
            if not np.shares_memory(flat, data):
                raise ValueError(f"gradcheck: input {i} is not contiguous; pass a contiguous array")
            for k in range(flat.size):
                original = flat[k]
                flat[k] = original + eps
                plus = f()
                flat[k] = original - eps
                minus = f()
                flat[k] = original
                compare(i, np.unravel_index(k, data.shape), float(analytic[i].reshape(-1)[k]),
                        (plus - minus) / (2 * eps))
        else:
            original = data.copy()
            for p in range(n_projections):
                direction = rng.standard_normal(data.shape)
                direction /= max(np.linalg.norm(direction), 1e-12)
                data[...] = original + eps * direction
                plus = f()
                data[...] = original - eps * direction
                minus = f()
                data[...] = original
                compare(i, f"projection {p}", float(np.sum(analytic[i] * direction)), (plus - minus) / (2 * eps))
    if raise_exception and not report.ok:
        raise GradcheckError(report)
    return report
