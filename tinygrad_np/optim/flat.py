"""Parameters laid end to end in one array per dtype, PyTorch's "foreach"/"fused" idea in numpy.

A model has dozens to hundreds of small parameters; an optimiser that loops over them calls ~10 numpy functions per
parameter per step, and that Python overhead dominates small models. `FlatParameters` copies every parameter of one
dtype into one contiguous array and makes each parameter's `.data` a view of its slice; gradients get a home in a
second array of the same layout (a `Parameter`'s backward writes into it; any other gradient array is copied in),
and the optimiser's per-parameter buffers (Adam's moments, SGD's momentum) are views into arrays of that layout too.
A step then runs a few chunked passes over a handful of arrays, whatever the number of parameters.

Everything else keeps working on the views: `p.data += noise` (noisy updates), `np.copyto(p.data, saved)` (SAM),
in-place init. Code that *rebinds* `p.data` or a state buffer to a new array (an old checkpoint's state, a direct
assignment) is noticed at the next step and copied back into the layout (`bind`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..engine import Tensor

CHUNK = 1 << 15  # elements per chunk of a fused update: its temporaries stay in cache


class FlatParameters:
    """The parameters of one dtype, in the given order (group by group), as views into `data` and `grad`."""

    def __init__(self, params: Sequence[Tensor]):
        self.params = list(params)
        self.dtype = self.params[0].dtype
        sizes = [p.numel() for p in self.params]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.data = np.empty(self.bounds[-1], dtype=self.dtype)
        self.grad = np.zeros(self.bounds[-1], dtype=self.dtype)
        self.state: dict[str, np.ndarray] = {}
        self.data_views = [self.view(self.data, i) for i in range(len(self.params))]
        self.grad_views = [self.view(self.grad, i) for i in range(len(self.params))]
        for i, p in enumerate(self.params):
            np.copyto(self.data_views[i], p._data)
            p._data = self.data_views[i]
            if p._grad is not None:
                np.copyto(self.grad_views[i], p._grad._data)
                p._grad = Tensor._wrap(self.grad_views[i])
            if hasattr(p, "_grad_home"):
                p._grad_home = self.grad_views[i]

    def view(self, flat: np.ndarray, i: int) -> np.ndarray:
        return flat[self.bounds[i]:self.bounds[i + 1]].reshape(self.params[i].shape)

    def state_views(self, name: str) -> list[np.ndarray]:
        """Views of each parameter's slice of the state array `name` (zeros when first asked for)."""
        if name not in self.state:
            self.state[name] = np.zeros(self.bounds[-1], dtype=self.dtype)
        return [self.view(self.state[name], i) for i in range(len(self.params))]

    def bind(self) -> None:
        """Put back into the layout any parameter whose `.data` or gradient was rebound to another array."""
        for i, p in enumerate(self.params):
            if p._data is not self.data_views[i]:
                if p.dtype != self.dtype or p.shape != self.data_views[i].shape:
                    raise RuntimeError(f"a parameter changed to {p.dtype} {p.shape} after the optimiser was "
                                       f"built for {self.dtype} {self.data_views[i].shape}: build the optimiser after "
                                       "model.to(...)")
                np.copyto(self.data_views[i], p._data)
                p._data = self.data_views[i]
            if p._grad is not None and p._grad._data is not self.grad_views[i]:
                np.copyto(self.grad_views[i], p._grad._data)
                p._grad = Tensor._wrap(self.grad_views[i])

    def span(self, params: Sequence[Tensor]) -> tuple[int, int] | None:
        """The (start, stop) element range of `params` if they lie end to end in this layout, in order."""
        index = {id(p): i for i, p in enumerate(self.params)}
        positions = [index.get(id(p)) for p in params]
        if not positions or None in positions or positions != list(range(positions[0], positions[0] + len(positions))):
            return None
        return self.bounds[positions[0]], self.bounds[positions[-1] + 1]


def chunks(start: int, stop: int) -> list[slice]:
    return [slice(lo, min(lo + CHUNK, stop)) for lo in range(start, stop, CHUNK)]
