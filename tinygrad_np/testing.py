"""Property-test an op's gradient over random shapes with hypothesis (a test-time helper).

    from tinygrad_np.testing import check_op
    def test_softsign():
        check_op(softsign, domain=(-3, 3))

hypothesis draws the input shapes (0 to 4 dimensions of sizes 1 to 5, mutually
broadcastable, so size-1 and missing axes are exercised), any keyword arguments, and a
seed from which the values are drawn inside `domain`, pushed away from `avoid` (kinks)
and, with `distinct=True`, free of ties. Each example is checked in float64 with
`gradcheck`, checked not to mutate its inputs, and run once in float32 to check that
the output and gradients stay float32. Needs `hypothesis` (the `test` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import Tensor
from .gradcheck import gradcheck

Shape = tuple[int, ...]


def broadcastable_shapes(n_inputs: int, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 5):
    """A strategy for `n_inputs` mutually broadcastable shapes (hypothesis.extra.numpy)."""
    from hypothesis.extra.numpy import mutually_broadcastable_shapes

    return mutually_broadcastable_shapes(num_shapes=n_inputs, min_dims=min_dims, max_dims=max_dims,
                                         min_side=min_side, max_side=max_side).map(lambda s: s.input_shapes)


def _near(values: np.ndarray, avoid: Sequence[float], margin: float) -> np.ndarray:
    return np.any([np.abs(values - kink) < margin for kink in avoid], axis=0) if avoid else \
        np.zeros(values.shape, dtype=bool)


def draw_values(rng: np.random.Generator, shapes: Sequence[Shape], domains: Sequence[tuple[float, float]],
                avoid: Sequence[float] = (), margin: float = 1e-2, distinct: bool = False) -> list[np.ndarray]:
    """float64 arrays inside each input's domain, at least `margin` away from each value in
    `avoid` (kinks), and with `distinct` no two values (across all inputs) tied."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    if distinct:
        if len(set(domains)) != 1:
            raise ValueError("distinct values need one domain shared by all inputs")
        (low, high), total = domains[0], sum(sizes)
        # a shuffled grid, jittered by a quarter step: neighbours stay half a step apart
        grid = np.linspace(low, high, 4 * total + 8)
        step = grid[1] - grid[0]
        grid = grid[~_near(grid, avoid, margin + step / 4)]
        if grid.size < total:
            raise ValueError("check_op: the domain leaves no room for distinct values away from the kinks")
        flat = rng.choice(grid, size=total, replace=False) + rng.uniform(-step / 4, step / 4, total)
        return [part.reshape(shape) for part, shape in
                zip(np.split(flat, np.cumsum(sizes)[:-1]), shapes, strict=True)]
    arrays = []
    for shape, size, (low, high) in zip(shapes, sizes, domains, strict=True):
        values = rng.uniform(low, high, size)
        for _ in range(1000):
            bad = _near(values, avoid, margin)
            if not bad.any():
                break
            values[bad] = rng.uniform(low, high, int(bad.sum()))
        else:
            raise ValueError("check_op: the domain leaves no room away from the kinks")
        arrays.append(values.reshape(shape))
    return arrays


def check_op(op: Callable[..., Tensor], n_inputs: int = 1, *, shapes: Any = None,
             kwargs: Callable[[tuple[Shape, ...]], Any] | Any = None,
             domain: tuple[float, float] | Sequence[tuple[float, float]] = (-3.0, 3.0),
             avoid: Sequence[float] = (), margin: float = 1e-2, distinct: bool = False,
             eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
             max_examples: int | None = None, check_float32: bool = True) -> None:
    """Property-test `op(*tensors, **kwargs)`: tape gradient == finite differences on every
    example hypothesis draws.

    shapes: a strategy for a tuple of `n_inputs` shapes (default: mutually broadcastable,
        0-4 dims, sides 1-5).
    kwargs: a strategy for keyword arguments, or a function from the drawn shapes to one
        (for arguments like `axis` that depend on the shape).
    domain: (low, high) for every input, or one pair per input.
    avoid / margin: values (kinks) that inputs keep `margin` away from.
    distinct: no ties between any two input values (max, min, sorting-like ops).
    """
    from hypothesis import given, settings
    from hypothesis import strategies as st

    shape_strategy = shapes if shapes is not None else broadcastable_shapes(n_inputs)
    domains = [tuple(domain)] * n_inputs if np.ndim(domain[0]) == 0 else [tuple(d) for d in domain]
    if len(domains) != n_inputs:
        raise ValueError(f"check_op: {len(domains)} domains given for {n_inputs} inputs")

    def kwargs_for(drawn_shapes):
        if kwargs is None:
            return st.just({})
        return kwargs(drawn_shapes) if callable(kwargs) and not isinstance(kwargs, st.SearchStrategy) else kwargs

    @settings(deadline=None, **({"max_examples": max_examples} if max_examples else {}))
    @given(data=st.data())
    def property_test(data):
        drawn_shapes = tuple(data.draw(shape_strategy, label="shapes"))
        op_kwargs = data.draw(kwargs_for(drawn_shapes), label="kwargs")
        seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
        rng = np.random.default_rng(seed)
        values = draw_values(rng, drawn_shapes, domains, avoid, margin, distinct)
        inputs = [Tensor(v.copy(), dtype=np.float64, requires_grad=True) for v in values]
        op(*inputs, **op_kwargs)  # first on its own: an op that writes into its inputs would spoil gradcheck
        for k, (x, v) in enumerate(zip(inputs, values, strict=True)):
            assert np.array_equal(x._data, v), f"op mutated its input {k}"
        gradcheck(lambda *xs: op(*xs, **op_kwargs), *inputs, eps=eps, atol=atol, rtol=rtol, rng=rng)
        if check_float32:
            singles = [Tensor(v, requires_grad=True) for v in values]
            out = op(*singles, **op_kwargs)
            assert out.dtype == np.float32, f"float32 inputs gave a {out.dtype} output"
            out.backward(np.ones(out.shape, dtype=np.float32))
            for k, x in enumerate(singles):
                assert x.grad is None or x.grad.dtype == np.float32, f"input {k} got a {x.grad.dtype} gradient"

    property_test()
