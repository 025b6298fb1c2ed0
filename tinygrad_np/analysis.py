"""The shape of a loss around the current weights: Hessian-vector products, the top of the Hessian's spectrum, its
trace, its spectral density with the share of negative eigenvalues, and filter-normalised loss surfaces.

Everything takes a loss closure and parameters: `loss_fn()` returns a scalar Tensor computed from the parameters'
current values, and `params` is a list of tensors or a Module (all of its parameters). Nothing about the model is
assumed; the closure holds the data, the loss and the mode. Put the model in eval mode first: dropout would make
the loss random, and `Hessian` refuses a closure that gives two values at the same weights.

`Hessian(loss_fn, params)` is the operator; `top_eigenvalues`, `hutchinson_trace` and `spectral_density` take it
(or a symmetric matrix, to check them on a known spectrum), `loss_surface` takes the closure and the parameters:

    with Hessian(loss_fn, model) as hessian:          # the parameters are float64 inside the block
        top = top_eigenvalues(hessian, k=3)
        trace = hutchinson_trace(hessian, samples=50)
    surface = loss_surface(loss_fn, model, [np.linspace(-1, 1, 21)])

Each function leaves the parameters exactly as it found them -- the same arrays, values, dtypes, gradients and
requires_grad flags -- also when the closure raises. Random vectors come from a numpy Generator (`generator`: a
Generator or a seed, 0 by default), so a seed reproduces every number. `stop`, a callable asked before every
Hessian-vector product or loss evaluation, ends a computation early: the function then returns what it has,
marked `complete=False` (train.py's `landscape --max-seconds` uses it).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import eigh_tridiagonal

from . import grad_mode
from .engine import Tensor
from .nn.module import Module, Parameter

__all__ = ["STEP", "Eigenvalues", "Hessian", "SpectralDensity", "Surface", "TraceEstimate",
           "filter_normalized_direction", "hutchinson_trace", "hvp", "loss_surface", "spectral_density",
           "top_eigenvalues"]

LossFn = Callable[[], Tensor]
Params = Module | Iterable[Tensor]
Stop = Callable[[], bool] | None

# The central difference's relative step: eps^(1/3) of float64 (6.1e-6) balances its truncation error
# (~ step^2) against the rounding of the two gradients (~ eps / step); see `Hessian`.
STEP = float(np.finfo(np.float64).eps) ** (1 / 3)
# The scale a tensor of (almost) zeros counts as when the step is set: a fresh bias has no scale of its own.
SCALE_FLOOR = 1e-2
# A Lanczos residual below this share of the spectrum's scale means the Krylov space holds an invariant subspace.
BREAKDOWN = 1e-9
# Eigenvalues within this share of the largest |eigenvalue| of zero count as zero in the density's shares.
ZERO_TOL = 1e-3


def _parameters(params: Params) -> list[Tensor]:
    """The distinct floating-point tensors of a Module or a list, in order."""
    tensors = list(params.parameters()) if isinstance(params, Module) else list(params)
    seen: set[int] = set()
    unique = []
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"params must be a Module or tensors, got a {type(tensor).__name__}")
        if tensor.dtype.kind != "f":
            raise TypeError(f"params: a {tensor.dtype} tensor of shape {tensor.shape} has no curvature; pass "
                            "floating-point parameters only")
        if id(tensor) not in seen:
            seen.add(id(tensor))
            unique.append(tensor)
    if not unique:
        raise ValueError("params holds no tensor")
    return unique


def _generator(generator: np.random.Generator | int) -> np.random.Generator:
    return generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)


def _rademacher(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 2, size).astype(np.float64) * 2 - 1


@contextlib.contextmanager
def _working_copies(tensors: list[Tensor], dtype: np.dtype | None) -> Iterator[list[np.ndarray]]:
    """Give each tensor a private copy of its array (in `dtype`, or its own dtype) for the block, and put back the very
    same arrays, gradients, requires_grad flags and optimiser gradient homes afterwards, however the block ends."""
    saved = [(t._data, t._grad, t._requires_grad, getattr(t, "_grad_home", None)) for t in tensors]
    work = [np.array(t._data, dtype=dtype or t.dtype, order="C") for t in tensors]
    try:
        for tensor, array in zip(tensors, work, strict=True):
            tensor._data, tensor._grad = array, None
            if isinstance(tensor, Parameter):
                tensor._grad_home = None  # float32 buffers of an optimiser: the float64 gradients go elsewhere
        yield work
    finally:
        for tensor, (data, grad, requires_grad, home) in zip(tensors, saved, strict=True):
            tensor._data, tensor._grad, tensor._requires_grad = data, grad, requires_grad
            if isinstance(tensor, Parameter):
                tensor._grad_home = home


def _scalar(loss: Any, where: str) -> Tensor:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = f"a Tensor of shape {loss.shape}" if isinstance(loss, Tensor) else f"a {type(loss).__name__}"
        raise TypeError(f"{where}: loss_fn() must return a one-element Tensor (the loss), it returned {shape}")
    return loss


class Hessian:
    """The Hessian of `loss_fn()` with respect to `params`, as a linear operator on flat float64 vectors (the
    parameters raveled and concatenated in order; `size` entries).

    The engine records first derivatives only, so a product is a central difference of two gradients, in float64:

        H v ~ (g(w + h v) - g(w - h v)) / (2 h)

    Its error is the truncation, ~ h^2 |third derivative| (zero for a quadratic), plus the rounding of the two
    gradients, ~ eps |g| / h: the best h is about eps^(1/3) (`step`) times the scale over which the loss changes,
    and that scale is the weights' own. So the perturbation h v has length `step` times the weights' scale seen
    from v: each parameter tensor contributes its RMS value (at least `SCALE_FLOOR`, for tensors of zeros) in
    proportion to how much of v falls on it, so LayerNorm gains near 1 and weights near 0.05 each move by the same
    ~6e-6 of their size. The relative error of a product is then ~ eps^(2/3), about 1e-10 for a smooth loss (a
    ReLU kink within h of a weight costs more, and is rare). An exact Hessian-vector product would need a second
    backward through the tape, which the engine does not record; the difference costs two gradients, about what
    that second pass would cost.

    Inside `with hessian:` the parameters hold float64 copies of their values (the closure's float32 inputs are
    promoted); on leaving, every parameter gets back its own array, gradient and requires_grad flag. The functions
    of this module enter it themselves when given an operator that is not entered, so a `with` block only saves
    repeating the switch when several analyses share one operator. `products` counts the products done.
    """

    def __init__(self, loss_fn: LossFn, params: Params, *, step: float = STEP):
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be a callable returning the loss, got a {type(loss_fn).__name__}")
        if not step > 0:
            raise ValueError(f"step must be positive, got {step}")
        self.loss_fn, self.step = loss_fn, float(step)
        self.params = _parameters(params)
        self.sizes = [t.numel() for t in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        self.products = 0
        self.loss = math.nan  # the loss at the weights, once entered
        self._depth = 0
        self._context: contextlib.ExitStack | None = None

    # -- entering: float64 copies, put back on exit -------------------------------------------------------------
    def __enter__(self) -> Hessian:
        if self._depth == 0:
            stack = contextlib.ExitStack()
            self._work = stack.enter_context(_working_copies(self.params, np.dtype(np.float64)))
            try:
                for tensor in self.params:
                    tensor._requires_grad = True
                self.origin = np.concatenate([array.ravel() for array in self._work])
                rms = [np.sqrt(np.mean(np.square(array))) if array.size else 0.0 for array in self._work]
                self._scales = np.maximum(np.array(rms), SCALE_FLOOR)
                first, second = self._loss_value(), self._loss_value()
                if not first == second:
                    raise ValueError(f"loss_fn() gave {first!r}, then {second!r} at the same weights: the Hessian "
                                     "needs a deterministic loss (dropout or drop-path in train mode? call "
                                     "model.eval() first)")
                self.loss = first
            except BaseException:
                stack.close()
                raise
            self._context = stack
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._context is not None:
            self._context.close()
            self._context = None

    # -- the pieces -----------------------------------------------------------------------------------------------
    def _require_entered(self) -> None:
        if self._depth == 0:
            raise RuntimeError("Hessian: use it inside `with hessian:` (the functions of tinygrad_np.analysis enter "
                               "it themselves)")

    def _set(self, flat: np.ndarray) -> None:
        for array, start, stop in zip(self._work, self.offsets[:-1], self.offsets[1:], strict=True):
            array.reshape(-1)[...] = flat[start:stop]

    def _loss_value(self) -> float:
        with grad_mode.no_grad():
            return float(_scalar(self.loss_fn(), "Hessian").item())

    def gradient(self) -> np.ndarray:
        """The flat float64 gradient of the loss at the parameters' current (working) values."""
        self._require_entered()
        for tensor in self.params:
            tensor._grad = None
        with grad_mode.enable_grad():
            loss = _scalar(self.loss_fn(), "Hessian")
        if loss.dtype != np.float64:
            raise TypeError(f"Hessian: the loss came out {loss.dtype} although the parameters are float64: the "
                            "closure rounds to a lower precision somewhere (a cast, or a float32 tensor made inside "
                            "it that is not promoted); finite differences of gradients need float64 throughout")
        if not loss.requires_grad:
            raise ValueError("Hessian: the loss does not depend on the parameters (computed under no_grad, or "
                             "detached?)")
        loss.backward()
        return np.concatenate([(t._grad._data if t._grad is not None else np.zeros(t.shape)).ravel()
                               for t in self.params])

    def scale(self, v: np.ndarray) -> float:
        """The weights' scale seen from direction v: the RMS value of each tensor, weighted by v's share on it."""
        shares = np.array([v[start:stop] @ v[start:stop] for start, stop in zip(self.offsets[:-1], self.offsets[1:],
                                                                                   strict=True)])
        return float(np.sqrt(np.sum(shares * self._scales ** 2) / np.sum(shares)))

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """H v for a flat vector v of `size` entries."""
        self._require_entered()
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.size != self.size:
            raise ValueError(f"Hessian.matvec: v has {v.size} entries, the parameters {self.size}")
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return np.zeros(self.size)
        h = self.step * self.scale(v) / norm
        try:
            self._set(self.origin + h * v)
            plus = self.gradient()
            self._set(self.origin - h * v)
            minus = self.gradient()
        finally:
            self._set(self.origin)
        self.products += 1
        return (plus - minus) / (2 * h)

    __matmul__ = matvec

    def matrix(self) -> np.ndarray:
        """The dense Hessian, column by column (`size` products: for small models and tests). Not symmetrised: the
        finite differences leave an asymmetry of the size of their error."""
        with self:
            return np.stack([self.matvec(column) for column in np.eye(self.size)], axis=1)

    def split(self, flat: np.ndarray) -> list[np.ndarray]:
        """A flat vector as one array per parameter, in the parameters' shapes."""
        return [flat[start:stop].reshape(t.shape)
                for t, start, stop in zip(self.params, self.offsets[:-1], self.offsets[1:], strict=True)]


def hvp(loss_fn: LossFn, params: Params, vector: Sequence[Any], *, step: float = STEP) -> list[np.ndarray]:
    """The Hessian-vector product H v of `loss_fn()` with respect to `params`, v given and returned as one array per
    parameter (see `Hessian` for how it is computed)."""
    hessian = Hessian(loss_fn, params, step=step)
    if len(vector) != len(hessian.params):
        raise ValueError(f"hvp: vector has {len(vector)} parts, params {len(hessian.params)}")
    parts = []
    for part, tensor in zip(vector, hessian.params, strict=True):
        array = np.asarray(part.numpy() if isinstance(part, Tensor) else part, dtype=np.float64)
        if array.shape != tensor.shape:
            raise ValueError(f"hvp: a part of shape {array.shape} for a parameter of shape {tensor.shape}")
        parts.append(array.ravel())
    with hessian:
        return hessian.split(hessian.matvec(np.concatenate(parts)))


# -- Lanczos ----------------------------------------------------------------------------------------------------
class _Operator:
    """A Hessian (entered for the block) or a symmetric matrix, as `matvec` and `size`."""

    def __init__(self, operator: Hessian | np.ndarray):
        self.hessian = operator if isinstance(operator, Hessian) else None
        if self.hessian is None:
            matrix = np.asarray(operator, dtype=np.float64)
            if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
                raise ValueError(f"expected a Hessian or a square matrix, got shape {matrix.shape}")
            self.matrix = matrix
        self.size = self.hessian.size if self.hessian is not None else self.matrix.shape[0]

    def __enter__(self) -> _Operator:
        if self.hessian is not None:
            self.hessian.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hessian is not None:
            self.hessian.__exit__(*exc)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return self.hessian.matvec(v) if self.hessian is not None else self.matrix @ v


class _Lanczos:
    """Lanczos on a symmetric operator with full reorthogonalisation: after j steps, A V_j = V_j T_j + r e_j^T with
    V_j orthonormal (j columns, kept as rows) and T_j tridiagonal (`alpha` on the diagonal, `beta` off it). A
    residual r that vanishes (an invariant subspace: at most as many steps as distinct eigenvalues) ends it, or with
    `restart` continues from a random direction orthogonal to V, so repeated eigenvalues are found too."""

    def __init__(self, operator: _Operator, start: np.ndarray, steps: int, restart: np.random.Generator | None = None):
        self.operator, self.restart = operator, restart
        self.capacity = min(steps, operator.size)
        self.basis = np.empty((self.capacity + 1, operator.size))
        self.basis[0] = start / np.linalg.norm(start)
        self.alpha: list[float] = []
        self.beta: list[float] = []  # beta[j]: the off-diagonal after step j+1 (0 at a restart)
        self.residual = math.inf  # the norm of r after the last step
        self.restarted = False  # the last step found an invariant subspace and went on from a random direction
        self.exhausted = False  # the Krylov space is invariant (and cannot or may not be extended)

    @property
    def steps(self) -> int:
        return len(self.alpha)

    @property
    def done(self) -> bool:
        return self.exhausted or self.steps == self.capacity

    def step(self) -> None:
        j = self.steps
        v = self.basis[j]
        w = self.operator.matvec(v)
        a = float(v @ w)
        w -= a * v
        if j:
            w -= self.beta[j - 1] * self.basis[j - 1]
        done = self.basis[:j + 1]
        for _ in range(2):  # twice is enough (Parlett's "twice is enough") to keep V orthonormal to rounding
            w -= done.T @ (done @ w)
        self.alpha.append(a)
        b = float(np.linalg.norm(w))
        self.restarted = False
        scale = max(max(abs(x) for x in self.alpha), max(self.beta, default=0.0), 1e-300)
        if b <= BREAKDOWN * scale:
            self.residual = b
            if self.restart is None or j + 1 >= self.capacity:
                self.exhausted = self.restart is None or j + 1 >= self.operator.size
                self.beta.append(0.0)
                return
            w = self.restart.standard_normal(self.operator.size)
            for _ in range(2):
                w -= done.T @ (done @ w)
            self.beta.append(0.0)
            self.basis[j + 1] = w / np.linalg.norm(w)
            self.restarted = True
            return
        self.residual = b
        self.beta.append(b)
        if j + 1 < self.basis.shape[0]:
            self.basis[j + 1] = w / b

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """The Ritz values (ascending) of T and T's eigenvectors (as columns)."""
        values, vectors = eigh_tridiagonal(np.array(self.alpha), np.array(self.beta[:self.steps - 1]))
        return values, vectors

    def residuals(self, vectors: np.ndarray) -> np.ndarray:
        """||A x - theta x|| of each Ritz pair: the last residual times the pair's last component in T."""
        return np.abs(self.residual * vectors[-1, :])


@dataclass
class Eigenvalues:
    """The top eigenvalues of a Hessian (largest first) and what backs them.

    `residuals[i]` is ||H x_i - values[i] x_i|| of the unit Ritz vector x_i (`vectors[i]`): some eigenvalue lies
    within it of values[i] (and within residual^2 / gap when the eigenvalue is separated by a gap). `lowest` is the
    smallest Ritz value of the same Krylov space with its residual: an upper bound on the smallest eigenvalue (a
    negative one shows the weights are not at a minimum). `converged`: every top residual is below the tolerance."""

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    lowest: float
    lowest_residual: float
    products: int
    converged: bool
    complete: bool  # False when `stop` ended it


def top_eigenvalues(hessian: Hessian | np.ndarray, k: int = 1, *, max_steps: int = 100, tol: float = 1e-6,
                    generator: np.random.Generator | int = 0, stop: Stop = None) -> Eigenvalues:
    """The k largest eigenvalues of a Hessian (or a symmetric matrix) by Lanczos, with full reorthogonalisation.

    It stops once each of the k Ritz residuals is below `tol` times the largest Ritz value in magnitude (the
    eigenvalues are then within that of the true ones, usually far closer), after `max_steps` products, or when
    `stop()` says so. Lanczos rather than power iteration: power iteration (PyHessian's method) converges by the ratio
    of the two largest eigenvalues per product, Lanczos by about its square root, and the same run also yields the
    bottom of the spectrum; an invariant subspace (as many steps as distinct eigenvalues) restarts from a random
    orthogonal direction, so a repeated eigenvalue is found as often as it occurs."""
    if k < 1:
        raise ValueError(f"top_eigenvalues: k must be at least 1, got {k}")
    rng = _generator(generator)
    with _Operator(hessian) as operator:
        if k > operator.size:
            raise ValueError(f"top_eigenvalues: k = {k} exceeds the {operator.size} parameters")
        if max_steps < k:
            raise ValueError(f"top_eigenvalues: max_steps ({max_steps}) must be at least k ({k})")
        lanczos = _Lanczos(operator, rng.standard_normal(operator.size), max_steps, restart=rng)
        complete, converged = True, False
        values = vectors = residuals = np.zeros(0)
        while not lanczos.done:
            if stop is not None and stop():
                complete = False
                break
            lanczos.step()
            if lanczos.steps < k:
                continue
            values, vectors = lanczos.ritz()
            residuals = lanczos.residuals(vectors)
            if lanczos.restarted and not lanczos.exhausted:
                continue  # an invariant subspace: further copies of its eigenvalues may lie outside it
            if np.all(residuals[-k:] <= tol * max(abs(values[-1]), abs(values[0]), 1e-300)) or lanczos.exhausted:
                converged = True
                break
        if lanczos.steps == 0:
            empty = np.zeros(0)
            return Eigenvalues(empty, np.zeros((0, operator.size)), empty, math.nan, math.nan, 0, False, False)
        if values.size != lanczos.steps:
            values, vectors = lanczos.ritz()
            residuals = lanczos.residuals(vectors)
        top = min(k, lanczos.steps)
        order = np.arange(lanczos.steps - 1, lanczos.steps - 1 - top, -1)
        ritz_vectors = (lanczos.basis[:lanczos.steps].T @ vectors[:, order]).T
        return Eigenvalues(values[order], ritz_vectors, residuals[order], float(values[0]), float(residuals[0]),
                           lanczos.steps, converged, complete)


# -- the trace ----------------------------------------------------------------------------------------------------
@dataclass
class TraceEstimate:
    """Hutchinson's estimate of the trace: the mean of z^T H z over random sign vectors z, and its standard error
    (the samples' standard deviation over the square root of their number; NaN for a single sample)."""

    value: float
    std_error: float
    samples: int
    complete: bool


def hutchinson_trace(hessian: Hessian | np.ndarray, samples: int = 50, *, generator: np.random.Generator | int = 0,
                     stop: Stop = None) -> TraceEstimate:
    """tr(H) ~ mean of z^T H z over `samples` Rademacher vectors z (entries +-1), one product each (Hutchinson 1990).
    Unbiased, with variance 2 * (sum of the squared off-diagonal entries of H) / samples: exact for a diagonal H,
    whatever the number of samples."""
    if samples < 1:
        raise ValueError(f"hutchinson_trace: samples must be at least 1, got {samples}")
    rng = _generator(generator)
    values = []
    with _Operator(hessian) as operator:
        for _ in range(samples):
            if stop is not None and stop():
                break
            z = _rademacher(rng, operator.size)
            values.append(float(z @ operator.matvec(z)))
    if not values:
        return TraceEstimate(math.nan, math.nan, 0, False)
    error = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else math.nan
    return TraceEstimate(float(np.mean(values)), error, len(values), len(values) == samples)


# -- the spectral density ------------------------------------------------------------------------------------------
@dataclass
class SpectralDensity:
    """The spectrum of a Hessian by stochastic Lanczos quadrature: per run, Gauss quadrature nodes (Ritz values) and
    weights (summing to 1) that approximate the distribution of its `size` eigenvalues (Ghorbani et al. 2019, as
    PyHessian computes it)."""

    nodes: list[np.ndarray]
    weights: list[np.ndarray]
    size: int
    complete: bool
    zero_tol: float = ZERO_TOL

    def _share(self, inside: Callable[[np.ndarray, float], np.ndarray]) -> float:
        if not self.nodes:
            return math.nan
        band = self.zero_tol * max(float(np.abs(n).max()) for n in self.nodes)
        return float(np.mean([w[inside(n, band)].sum() for n, w in zip(self.nodes, self.weights, strict=True)]))

    @property
    def negative_share(self) -> float:
        """The estimated share of the eigenvalues that are negative, beyond the band around zero: the quadrature
        weight on nodes below -zero_tol times the largest |node|, averaged over the runs (NaN without nodes).

        A network's Hessian has most of its eigenvalues at (almost) zero, and the quadrature lumps them into a node
        of a few thousandths whose sign is noise; counting that node would swing the share between ~0 and ~1 from
        one run to the next. So eigenvalues within the band count as zero (`zero_share`)."""
        return self._share(lambda nodes, band: nodes < -band)

    @property
    def zero_share(self) -> float:
        """The share of the eigenvalues within zero_tol times the largest |node| of zero."""
        return self._share(lambda nodes, band: np.abs(nodes) <= band)

    @property
    def trace(self) -> float:
        """The runs' trace estimate, size times the quadrature's mean: each run's is Hutchinson's with its own
        start vector, so this is a Hutchinson estimate with as many samples as runs. NaN without nodes."""
        if not self.nodes:
            return math.nan
        return float(self.size * np.mean([n @ w for n, w in zip(self.nodes, self.weights, strict=True)]))

    @property
    def extent(self) -> tuple[float, float]:
        """The smallest and largest node over the runs."""
        every = np.concatenate(self.nodes)
        return float(every.min()), float(every.max())

    def sigma(self) -> float:
        """PyHessian's kernel width: a variance of 1e-5 times the nodes' range (when the range exceeds 1)."""
        low, high = self.extent
        return float(np.sqrt(1e-5 * max(1.0, high - low)))

    def density(self, grid: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """The density on `grid`: every node a Gaussian of width `sigma` (default `sigma()`) and of its weight,
        averaged over the runs; it integrates to 1."""
        grid = np.asarray(grid, dtype=np.float64)
        sigma = self.sigma() if sigma is None else sigma
        total = np.zeros_like(grid)
        for nodes, weights in zip(self.nodes, self.weights, strict=True):
            kernel = np.exp(-0.5 * ((grid[:, None] - nodes[None, :]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
            total += kernel @ weights
        return total / len(self.nodes)


def spectral_density(hessian: Hessian | np.ndarray, runs: int = 1, steps: int = 80, *,
                     generator: np.random.Generator | int = 0, zero_tol: float = ZERO_TOL,
                     stop: Stop = None) -> SpectralDensity:
    """Stochastic Lanczos quadrature: `runs` Lanczos runs of `steps` products each, each from a random sign vector.
    Run r's nodes are the Ritz values of its tridiagonal T and its weights the squared first components of T's
    eigenvectors: the Gauss quadrature of the spectral measure seen from that start vector, exact for polynomials of
    degree below 2 * steps, whose average over start vectors is the eigenvalue distribution. A run that reaches an
    invariant subspace ends early with an exact quadrature; one cut short by `stop` keeps the nodes it has (a
    coarser quadrature, still a valid one). `zero_tol` sets the band around zero of the shares (`negative_share`)."""
    if runs < 1 or steps < 1:
        raise ValueError(f"spectral_density: runs and steps must be at least 1, got {runs} and {steps}")
    rng = _generator(generator)
    nodes, weights = [], []
    complete = True
    with _Operator(hessian) as operator:
        for _ in range(runs):
            lanczos = _Lanczos(operator, _rademacher(rng, operator.size), steps)
            while not lanczos.done:
                if stop is not None and stop():
                    complete = False
                    break
                lanczos.step()
            if lanczos.steps:
                values, vectors = lanczos.ritz()
                nodes.append(values)
                weights.append(vectors[0, :] ** 2)
            if not complete:
                break
        return SpectralDensity(nodes, weights, operator.size, complete and len(nodes) == runs, zero_tol)


# -- loss surfaces -------------------------------------------------------------------------------------------------
def filter_normalized_direction(params: Params, generator: np.random.Generator | int = 0, *,
                                move_1d: bool = False) -> list[np.ndarray]:
    """A random direction in weight space, normalised filter by filter (Li et al. 2018, "Visualizing the Loss
    Landscape of Neural Nets"): a Gaussian array per parameter, each slice along the first dimension (a filter of a
    conv, a neuron's weights of a Linear) rescaled to the norm of the same slice of the weights, so that the surface
    does not depend on the scale of each layer's weights (which normalisation layers leave free). 1-D parameters
    (biases, norm gains and shifts) stay fixed, as the paper's `ignore='biasbn'`; `move_1d=True` moves them along
    their own weights instead (its other choice). One array per parameter, float64."""
    rng = _generator(generator)
    direction = []
    for tensor in _parameters(params):
        weights = np.asarray(tensor.numpy(), dtype=np.float64)
        d = rng.standard_normal(weights.shape)
        if weights.ndim <= 1:
            d = weights.copy() if move_1d else np.zeros_like(weights)
        else:
            norms = np.linalg.norm(weights.reshape(len(weights), -1), axis=1)
            d_norms = np.linalg.norm(d.reshape(len(d), -1), axis=1)
            d *= (norms / (d_norms + 1e-10)).reshape(-1, *[1] * (weights.ndim - 1))
        direction.append(d)
    return direction


@dataclass
class Surface:
    """The loss at weights + sum_i coordinates_i[j_i] * directions[i], on the grid of the coordinates (1-D: a curve,
    2-D: `losses[a, b]` at alpha a, beta b); NaN where not evaluated (cut short by `stop`)."""

    coordinates: list[np.ndarray]
    directions: list[list[np.ndarray]]
    losses: np.ndarray
    complete: bool


def loss_surface(loss_fn: LossFn, params: Params, coordinates: Sequence[Sequence[float]], *,
                 directions: Sequence[list[np.ndarray]] | None = None, generator: np.random.Generator | int = 0,
                 move_1d: bool = False, stop: Stop = None) -> Surface:
    """The loss along one direction (1-D) or on a plane of two (2-D) through the current weights: `coordinates` holds
    the steps along each direction (e.g. `[np.linspace(-1, 1, 21)]`); `directions` (one array per parameter, each)
    are filter-normalised random ones (`filter_normalized_direction`, drawn in turn from `generator`) unless given.
    Forward passes only, under no_grad, in the parameters' own dtype: at a coordinate of 0 the weights are exactly
    the current ones, and so is the loss."""
    tensors = _parameters(params)
    axes = [np.asarray(c, dtype=np.float64) for c in coordinates]
    if len(axes) not in (1, 2) or any(axis.ndim != 1 or axis.size == 0 for axis in axes):
        raise ValueError("loss_surface: coordinates must be one or two non-empty 1-D sequences")
    if directions is None:
        rng = _generator(generator)
        directions = [filter_normalized_direction(tensors, rng, move_1d=move_1d) for _ in axes]
    if len(directions) != len(axes):
        raise ValueError(f"loss_surface: {len(axes)} coordinate axes but {len(directions)} directions")
    for direction in directions:
        if [np.shape(d) for d in direction] != [t.shape for t in tensors]:
            raise ValueError("loss_surface: a direction must have one array per parameter, in its shape")
    losses = np.full([axis.size for axis in axes], np.nan)
    origin = [np.asarray(t._data, dtype=np.float64) for t in tensors]
    complete = True
    with _working_copies(tensors, None) as work, grad_mode.no_grad():
        for index in np.ndindex(*losses.shape):
            if stop is not None and stop():
                complete = False
                break
            steps = [axis[i] for axis, i in zip(axes, index, strict=True)]
            for i, array in enumerate(work):
                point = origin[i] + sum(step * direction[i] for step, direction in zip(steps, directions, strict=True))
                array[...] = point
            losses[index] = float(_scalar(loss_fn(), "loss_surface").item())
    return Surface(axes, [list(d) for d in directions], losses, complete)
