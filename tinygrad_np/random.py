"""Random numbers: PyTorch's `Generator`, the global generator that `manual_seed` seeds, and `multinomial`.

A `Generator` is a numpy `Generator` on a PCG64 stream with PyTorch's methods added (`manual_seed`, `seed`,
`initial_seed`, `get_state`, `set_state`), so it goes wherever PyTorch takes `generator=` (the random factories,
`normal_`/`uniform_`, the samplers, `DataLoader`, `random_split`, `nn.init`) and wherever a numpy generator is
expected. Seeding follows PyTorch: the global generator starts from PyTorch's default seed, so an unseeded program
draws the same numbers run after run, and `manual_seed(s)` restarts the stream. The streams are numpy's, not
PyTorch's: the same seed gives other numbers than PyTorch, with the same distributions (docs/pytorch.md).
"""

from __future__ import annotations

import contextlib
import json
import operator
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np

from .device import CPU, check_device, device
from .engine import Tensor

DEFAULT_SEED = 67280421310721  # PyTorch's default seed: torch.initial_seed() of a fresh process


def _seed_value(seed: Any) -> int:
    """PyTorch's seed range: [-2**63, 2**64); a negative seed counts from 2**64."""
    try:
        seed = operator.index(seed)
    except TypeError:
        raise RuntimeError(f"manual_seed expected an int, but got {type(seed).__name__}") from None
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"manual_seed: seed {seed} is outside [-2**63, 2**64)")
    return seed % 2**64


class Generator(np.random.Generator):
    """PyTorch's `torch.Generator` (CPU): a random stream with its own state, for `generator=` arguments.

    `Generator().manual_seed(42)` gives a repeatable stream independent of the global one. A fresh generator starts
    from PyTorch's default seed, as PyTorch's does. It is a `numpy.random.Generator` too (its numpy methods draw from
    the same stream).
    """

    def __init__(self, device: str | device = "cpu") -> None:
        check_device(device, "Generator")
        super().__init__(np.random.PCG64(DEFAULT_SEED))
        self._initial_seed = DEFAULT_SEED

    @property
    def device(self) -> device:
        return CPU

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from `seed`; returns the generator, so `Generator().manual_seed(0)` chains."""
        seed = _seed_value(seed)
        self.bit_generator.state = np.random.PCG64(seed).state
        self._initial_seed = seed
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy (not repeatable) and return that seed."""
        value = secrets.randbits(64)
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._initial_seed

    def get_state(self) -> Tensor:
        """The state as a uint8 tensor (PyTorch's `ByteTensor` form), for `set_state` on any Generator."""
        blob = json.dumps({"bit_generator": self.bit_generator.state, "initial_seed": self._initial_seed})
        return Tensor._wrap(np.frombuffer(blob.encode(), dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from `get_state` (of this generator or another one)."""
        if not isinstance(new_state, Tensor) or new_state.dtype != np.uint8:
            got = f"a {new_state.dtype} tensor" if isinstance(new_state, Tensor) else type(new_state).__name__
            raise TypeError(f"set_state: expected the uint8 tensor get_state() returns, got {got}")
        try:
            state = json.loads(new_state.numpy().tobytes().decode())
            bit_generator, initial_seed = state["bit_generator"], int(state["initial_seed"])
            self.bit_generator.state = bit_generator
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise RuntimeError(f"set_state: not a state from Generator.get_state() ({error})") from None
        self._initial_seed = initial_seed
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (self.bit_generator.state, self._initial_seed)


def _rebuilt(state: dict[str, Any], initial_seed: int) -> Generator:
    generator = Generator()
    generator.bit_generator.state = state
    generator._initial_seed = initial_seed
    return generator


_generator = Generator()


def default_generator() -> Generator:
    """The global generator (PyTorch's `torch.default_generator`; here a function that returns it)."""
    return _generator


def manual_seed(seed: int) -> Generator:
    """Reseed the global generator in place (holders of it see the new stream) and return it. As PyTorch's
    `torch.manual_seed`, the seed goes through `int()` first."""
    return _generator.manual_seed(int(seed))


def seed() -> int:
    """Seed the global generator from the operating system's entropy and return that seed."""
    return _generator.seed()


def initial_seed() -> int:
    """The seed the global generator last started from."""
    return _generator.initial_seed()


def get_rng_state() -> dict[str, Any]:
    """The global generator's state, a JSON-serialisable dict (PyTorch returns a uint8 tensor)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    _generator.bit_generator.state = state


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True) -> Iterator[None]:
    """Draws inside the block leave the global generator as it was before it (PyTorch's `torch.random.fork_rng`;
    `devices` is accepted for its signature: there is only the CPU)."""
    if not enabled:
        yield
        return
    state, initial = get_rng_state(), _generator.initial_seed()
    try:
        yield
    finally:
        set_rng_state(state)
        _generator._initial_seed = initial


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002 - PyTorch's names
                generator: np.random.Generator | None = None) -> Tensor:
    """Category indices (int64) drawn from each row of (unnormalised) probabilities: `input` is one row (1-D) or one
    row per draw (2-D), the result (num_samples,) or (rows, num_samples). Without replacement a category is drawn at
    most once per row, each draw proportional to the weights left (PyTorch's semantics), so num_samples cannot exceed
    the number of categories."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {input.shape}")
    num_samples = operator.index(num_samples)
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    weights = np.atleast_2d(input.numpy()).astype(np.float64)
    rows, categories = weights.shape
    if not replacement and num_samples > categories:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"({num_samples} > {categories})")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = weights.sum(axis=1)
    if rows and np.any(totals <= 0):
        raise RuntimeError(f"multinomial: invalid multinomial distribution (sum of probabilities <= 0) in row "
                           f"{int(np.argmax(totals <= 0))}")
    rng = generator or _generator
    if replacement:
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        draws = rng.random((rows, num_samples))
        out = np.empty((rows, num_samples), dtype=np.int64)
        for row in range(rows):  # one search per row (not per draw): the first category whose cumulative weight > draw
            out[row] = np.searchsorted(cdf[row], draws[row], side="right")
    else:
        # weight / Exp(1) keys: ordering them descending orders the categories as successive draws without
        # replacement would (the exponential-race form of sequential sampling, PyTorch's CPU method)
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = -weights / rng.exponential(size=weights.shape)
        if num_samples < categories:
            top = np.argpartition(keys, num_samples - 1, axis=1)[:, :num_samples]
            out = np.take_along_axis(top, np.argsort(np.take_along_axis(keys, top, 1), axis=1, kind="stable"), 1)
        else:
            out = np.argsort(keys, axis=1, kind="stable")
    out = out.astype(np.int64)
    return Tensor._wrap(out if input.ndim == 2 else out[0])
