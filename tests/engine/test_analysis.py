"""tinygrad_np.analysis on problems whose answer is known: a quadratic with a given Hessian, logistic regression
(Hessian X^T diag(p (1 - p)) X / n), matrices with a given spectrum, and a small MLP-Mixer checked against PyTorch's
exact Hessian (`torch.autograd.functional.hessian`, skipped without PyTorch). And the promises every function makes:
the parameters come back exactly as they were, a seed reproduces every number, `stop` ends a computation with what it
has."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_np
import tinygrad_np.nn.functional as F
from tinygrad_np import nn, optim
from tinygrad_np.analysis import (
    Hessian,
    filter_normalized_direction,
    hutchinson_trace,
    hvp,
    loss_surface,
    spectral_density,
    top_eigenvalues,
)


def rotated(eigenvalues: np.ndarray, seed: int = 0) -> np.ndarray:
    """A symmetric matrix with these eigenvalues and random eigenvectors."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues), len(eigenvalues))))
    return (q * eigenvalues) @ q.T


def quadratic(matrix: np.ndarray, seed: int = 0):
    """Parameters W (4, 5) and b (n - 20,) and the loss 0.5 x^T A x + c^T x of x = [vec W, b]: its Hessian is A."""
    rng = np.random.default_rng(seed)
    weight = nn.Parameter(rng.standard_normal((4, 5)))
    bias = nn.Parameter(rng.standard_normal(len(matrix) - 20))
    a, c = tinygrad_np.tensor(matrix), tinygrad_np.tensor(rng.standard_normal(len(matrix)))

    def loss_fn():
        x = tinygrad_np.cat([weight.reshape(-1), bias])
        return 0.5 * (x @ (a @ x)) + c @ x

    return loss_fn, [weight, bias]


# -- Hessian-vector products and the spectrum of a known quadratic ------------------------------------------------
SPECTRUM = np.concatenate([[9.0, 7.5, 6.0], np.linspace(-1.5, 3.0, 23)])  # 26: W (4, 5) and b (6,)


def test_products_of_a_quadratic_are_its_matrix():
    matrix = rotated(SPECTRUM)
    loss_fn, params = quadratic(matrix)
    dense = Hessian(loss_fn, params).matrix()
    np.testing.assert_allclose(dense, matrix, rtol=0, atol=1e-8 * np.abs(matrix).max())
    v = [np.random.default_rng(1).standard_normal(p.shape) for p in params]
    product = hvp(loss_fn, params, v)
    expected = matrix @ np.concatenate([part.ravel() for part in v])
    np.testing.assert_allclose(np.concatenate([part.ravel() for part in product]), expected, rtol=1e-8, atol=1e-8)
    assert [part.shape for part in product] == [(4, 5), (6,)]


def test_top_eigenvalues_and_trace_of_a_quadratic_within_1e6():
    matrix = rotated(SPECTRUM)
    loss_fn, params = quadratic(matrix)
    top = top_eigenvalues(Hessian(loss_fn, params), k=3)
    assert top.converged and top.complete
    np.testing.assert_allclose(top.values, [9.0, 7.5, 6.0], rtol=1e-6)
    # the smallest Ritz value bounds the smallest eigenvalue from above, and some eigenvalue lies within its residual
    assert top.lowest >= -1.5 - 1e-9
    assert np.abs(SPECTRUM - top.lowest).min() <= top.lowest_residual + 1e-9
    for value, vector in zip(top.values, top.vectors, strict=True):  # Ritz vectors: unit eigenvectors
        np.testing.assert_allclose(matrix @ vector, value * vector, atol=1e-5)
    # Rademacher probes give z^T D z = tr D exactly for a diagonal D: the trace is exact up to the products' error
    diagonal = np.diag(SPECTRUM)
    loss_fn, params = quadratic(diagonal)
    trace = hutchinson_trace(Hessian(loss_fn, params), samples=3)
    assert trace.value == pytest.approx(SPECTRUM.sum(), rel=1e-6)


def test_hutchinson_is_unbiased_with_the_variance_it_reports():
    matrix = rotated(SPECTRUM, seed=3)
    samples = 400
    trace = hutchinson_trace(matrix, samples=samples, generator=5)
    off_diagonal = (matrix ** 2).sum() - (np.diag(matrix) ** 2).sum()
    theory = np.sqrt(2 * off_diagonal / samples)  # Var(z^T A z) = 2 sum_{i != j} A_ij^2
    assert abs(trace.value - SPECTRUM.sum()) < 4 * theory
    assert 0.75 < trace.std_error / theory < 1.33
    assert trace.samples == samples and trace.complete


def test_repeated_eigenvalues_are_found_as_often_as_they_occur():
    eigenvalues = np.array([5.0, 5.0, 5.0, 1.0, 1.0, -1.0, 0.5, 0.5])
    top = top_eigenvalues(rotated(eigenvalues), k=4, generator=2)
    np.testing.assert_allclose(top.values, [5.0, 5.0, 5.0, 1.0], rtol=1e-10)
    assert top.converged


# -- logistic regression: H = X^T diag(p (1 - p)) X / n ---------------------------------------------------------------
def test_logistic_regression_hessian_has_its_closed_form():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4))
    y = (x @ [1.0, -2.0, 0.5, 0.0] + rng.standard_normal(60) > 0).astype(np.float64)
    model = nn.Linear(4, 1)
    with tinygrad_np.no_grad():
        model.weight.copy_(tinygrad_np.tensor(rng.standard_normal((1, 4))))

    def loss_fn():
        return F.binary_cross_entropy_with_logits(model(tinygrad_np.tensor(x))[:, 0], tinygrad_np.tensor(y))

    features = np.hstack([x, np.ones((60, 1))])  # the weight's 4 entries, then the bias
    w = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()]).astype(np.float64)
    p = 1 / (1 + np.exp(-features @ w))
    closed_form = features.T @ (features * (p * (1 - p))[:, None]) / len(x)
    dense = Hessian(loss_fn, model).matrix()
    np.testing.assert_allclose(dense, closed_form, rtol=1e-7, atol=1e-9)
    top = top_eigenvalues(Hessian(loss_fn, model), k=2)
    np.testing.assert_allclose(top.values, np.linalg.eigvalsh(closed_form)[::-1][:2], rtol=1e-7)
    assert model.weight.dtype == np.float32  # back to float32


# -- the spectral density ---------------------------------------------------------------------------------------------
def test_density_of_a_diagonal_matrix_is_exact():
    # Rademacher start vectors see every eigenvalue with weight 1/n, and Lanczos ends after as many steps as there are
    # distinct eigenvalues with an exact quadrature: the negative share is the share of negative eigenvalues
    eigenvalues = np.repeat([-3.0, -0.5, 0.25, 1.0, 4.0], [10, 20, 30, 25, 15])
    density = spectral_density(np.diag(eigenvalues), runs=2, steps=40)
    assert density.negative_share == pytest.approx(0.30, abs=1e-12)
    assert density.trace == pytest.approx(eigenvalues.sum(), rel=1e-12)
    for nodes, weights in zip(density.nodes, density.weights, strict=True):
        np.testing.assert_allclose(nodes, [-3.0, -0.5, 0.25, 1.0, 4.0], atol=1e-12)
        np.testing.assert_allclose(weights, [0.1, 0.2, 0.3, 0.25, 0.15], atol=1e-12)


def test_eigenvalues_near_zero_count_as_zero_whatever_their_sign():
    # a network's spectrum: most eigenvalues at about zero, of either sign; the negative share counts the clearly
    # negative ones only
    eigenvalues = np.repeat([-2.0, -1e-7, 1e-7, 1.0, 3.0], [20, 80, 100, 40, 60])
    density = spectral_density(np.diag(eigenvalues), runs=1, steps=10)
    assert density.negative_share == pytest.approx(20 / 300, abs=1e-12)
    assert density.zero_share == pytest.approx(180 / 300, abs=1e-12)
    strict = spectral_density(np.diag(eigenvalues), runs=1, steps=10, zero_tol=0.0)
    # the weights of nodes 2e-7 apart come from eigenvectors of T good to ~eps * 3 / 2e-7
    assert strict.negative_share == pytest.approx(100 / 300, abs=1e-8)


def test_density_negative_share_of_a_rotated_spectrum():
    rng = np.random.default_rng(0)
    n, runs = 300, 10
    eigenvalues = np.concatenate([rng.uniform(-2, -1, 90), rng.uniform(1, 3, 210)])  # 30% negative, a gap at 0
    density = spectral_density(rotated(eigenvalues, seed=1), runs=runs, steps=30, generator=4)
    # for a Rademacher z, z^T P z / n (P: the negative eigenspace) has variance ~ 2 p (1 - p) / n
    sd = np.sqrt(2 * 0.3 * 0.7 / n / runs)
    assert abs(density.negative_share - 0.3) < 4 * sd
    grid = np.linspace(-4, 5, 2001)
    values = density.density(grid, sigma=0.05)
    assert np.trapezoid(values, grid) == pytest.approx(1.0, abs=1e-3)
    assert np.trapezoid(values[grid < 0], grid[grid < 0]) == pytest.approx(density.negative_share, abs=1e-3)
    assert density.extent[0] >= -2 - 1e-9 and density.extent[1] <= 3 + 1e-9  # Ritz values lie inside the spectrum


# -- loss surfaces ----------------------------------------------------------------------------------------------------
def small_mlp(seed: int = 0):
    tinygrad_np.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 2))
    rng = np.random.default_rng(seed)
    x = tinygrad_np.tensor(rng.standard_normal((32, 3)).astype(np.float32))
    y = tinygrad_np.tensor(rng.integers(0, 2, 32))

    def loss_fn():
        return F.cross_entropy(model(x), y)

    return model, loss_fn


def test_filter_normalised_direction_follows_li_et_al():
    model, _ = small_mlp()
    direction = filter_normalized_direction(model, generator=0)
    for (name, p), d in zip(model.named_parameters(), direction, strict=True):
        if p.ndim == 1:  # biases and LayerNorm's gain and shift stay put
            assert not d.any(), name
        else:  # each row (a neuron's incoming weights) has the norm of the weights' row
            np.testing.assert_allclose(np.linalg.norm(d, axis=1), np.linalg.norm(p.numpy(), axis=1), rtol=1e-6)
    moved = filter_normalized_direction(model, generator=0, move_1d=True)
    for p, d in zip(model.parameters(), moved, strict=True):
        if p.ndim == 1:
            np.testing.assert_array_equal(d, p.numpy())
    again = filter_normalized_direction(model, generator=0)
    assert all(np.array_equal(a, b) for a, b in zip(direction, again, strict=True))


def test_1d_surface_passes_through_the_loss_and_moves_along_its_direction():
    model, loss_fn = small_mlp()
    center = loss_fn().item()
    alphas = np.linspace(-1, 1, 5)
    surface = loss_surface(loss_fn, model, [alphas], generator=7)
    assert surface.losses[2] == center  # alpha = 0: the weights themselves, bit for bit
    assert surface.complete and np.all(np.isfinite(surface.losses)) and len(set(surface.losses)) == 5
    # alpha = 1 by hand: the weights plus the direction
    direction = surface.directions[0]
    saved = [p.numpy().copy() for p in model.parameters()]
    with tinygrad_np.no_grad():
        for p, d in zip(model.parameters(), direction, strict=True):
            p.copy_(tinygrad_np.tensor((p.numpy() + d).astype(np.float32)))
    assert surface.losses[4] == loss_fn().item()
    with tinygrad_np.no_grad():
        for p, s in zip(model.parameters(), saved, strict=True):
            p.copy_(tinygrad_np.tensor(s))
    plane = loss_surface(loss_fn, model, [alphas, alphas[:3]], generator=7)
    assert plane.losses.shape == (5, 3) and plane.losses[2, 2] == center
    np.testing.assert_array_equal(plane.losses[:, 2], surface.losses)  # beta = 0 is the same line (same generator)


# -- parameters come back exactly -------------------------------------------------------------------------------------
def snapshot(model):
    return [(p, p._data, p.numpy().copy(), p.grad, p.requires_grad, p._grad_home) for p in model.parameters()]


def assert_unchanged(before):
    for p, array, values, grad, requires_grad, home in before:
        assert p._data is array and p.dtype == values.dtype
        np.testing.assert_array_equal(p.numpy(), values)
        assert p.grad is grad and p.requires_grad == requires_grad and p._grad_home is home


def test_every_function_restores_the_parameters_exactly():
    model, loss_fn = small_mlp()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)  # flat buffers: the data are views, gradients have a home
    loss_fn().backward()
    optimizer.step()
    model[3].bias.requires_grad_(False)  # a frozen parameter: its curvature is measured, its flag kept
    before = snapshot(model)
    hessian = Hessian(loss_fn, model)
    top_eigenvalues(hessian, k=2, max_steps=10)
    hutchinson_trace(hessian, samples=2)
    spectral_density(hessian, runs=1, steps=3)
    hvp(loss_fn, model, [np.ones(p.shape) for p in model.parameters()])
    loss_surface(loss_fn, model, [np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)])
    with hessian:
        assert model[0].weight.dtype == np.float64
        hessian.matvec(np.ones(hessian.size))
    assert_unchanged(before)
    calls = []

    def failing():
        calls.append(1)
        if len(calls) == 5:
            raise FloatingPointError("boom")
        return loss_fn()

    for run in (lambda: top_eigenvalues(Hessian(failing, model)), lambda: loss_surface(failing, model, [range(9)])):
        calls.clear()
        with pytest.raises(FloatingPointError):
            run()
        assert_unchanged(before)
    optimizer.step()  # the optimiser still sees its views
    assert model[0].weight._data is before[0][1]


def test_a_seed_reproduces_every_number():
    model, loss_fn = small_mlp()
    first = top_eigenvalues(Hessian(loss_fn, model), k=2, max_steps=8, generator=3)
    second = top_eigenvalues(Hessian(loss_fn, model), k=2, max_steps=8, generator=3)
    np.testing.assert_array_equal(first.values, second.values)
    assert hutchinson_trace(Hessian(loss_fn, model), 3, generator=1) == hutchinson_trace(Hessian(loss_fn, model), 3,
                                                                                       generator=1)


# -- stopping early, refusing what cannot work -------------------------------------------------------------------------
def test_stop_ends_each_computation_with_what_it_has():
    matrix = rotated(SPECTRUM)

    def after(n):
        asked = []
        return lambda: asked.append(1) or len(asked) > n

    top = top_eigenvalues(matrix, k=3, stop=after(4))
    assert not top.complete and not top.converged and top.products == 4 and len(top.values) == 3
    assert top.values[0] <= 9.0 + 1e-9  # a Ritz value never exceeds the largest eigenvalue
    trace = hutchinson_trace(matrix, samples=10, stop=after(3))
    assert not trace.complete and trace.samples == 3 and np.isfinite(trace.value)
    density = spectral_density(matrix, runs=3, steps=5, stop=after(7))
    assert not density.complete and [len(n) for n in density.nodes] == [5, 2]
    loss_fn, params = quadratic(matrix)
    surface = loss_surface(loss_fn, params, [np.linspace(-1, 1, 4)], stop=after(2))
    assert not surface.complete and np.isfinite(surface.losses[:2]).all() and np.isnan(surface.losses[2:]).all()


def test_a_random_loss_is_refused():
    model, _ = small_mlp()
    drop = nn.Dropout(0.5)
    x = tinygrad_np.randn(16, 3)
    with pytest.raises(ValueError, match="model.eval"):
        top_eigenvalues(Hessian(lambda: drop(model(x)).sum(), model))


def test_a_loss_rounded_to_float32_is_refused():
    model, loss_fn = small_mlp()
    with pytest.raises(TypeError, match="float64"):
        hutchinson_trace(Hessian(lambda: loss_fn().float(), model), samples=1)
    with pytest.raises(TypeError, match="one-element Tensor"):
        Hessian(lambda: model(tinygrad_np.randn(2, 3)), model).matrix()


# -- a small MLP-Mixer against PyTorch's exact Hessian ----------------------------------------------------------------
FEATURES, PATCH, DIM = 6, 2, 4


def build_mixer(torch):
    """A one-block MLP-Mixer (patch embedding, token and channel MLPs with GELU, LayerNorms, mean pooling), written
    once for both engines."""
    nn_, F_ = torch.nn, torch.nn.functional

    class Mlp(nn_.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.fc1, self.fc2 = nn_.Linear(dim, hidden), nn_.Linear(hidden, dim)

        def forward(self, x):
            return self.fc2(F_.gelu(self.fc1(x)))

    class Mixer(nn_.Module):
        def __init__(self):
            super().__init__()
            tokens = FEATURES // PATCH
            self.embed = nn_.Linear(PATCH, DIM)
            self.norm1, self.token_mlp = nn_.LayerNorm(DIM), Mlp(tokens, 2 * tokens)
            self.norm2, self.channel_mlp = nn_.LayerNorm(DIM), Mlp(DIM, 2 * DIM)
            self.norm, self.head = nn_.LayerNorm(DIM), nn_.Linear(DIM, 3)

        def forward(self, x):
            h = self.embed(x.reshape(x.shape[0], -1, PATCH))
            h = h + self.token_mlp(self.norm1(h).transpose(1, 2)).transpose(1, 2)
            h = h + self.channel_mlp(self.norm2(h))
            return self.head(self.norm(h).mean(dim=1))

    return Mixer()


def test_small_mixer_eigenvalues_match_pytorch_exact_hessian():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, FEATURES)), rng.integers(0, 3, 24)
    tinygrad_np.manual_seed(0)
    ours = build_mixer(tinygrad_np)
    for p in ours.parameters():  # away from LayerNorm's unit gains and zero shifts: a generic point
        with tinygrad_np.no_grad():
            p.add_(tinygrad_np.tensor(rng.normal(0, 0.3, p.shape).astype(np.float32)))
    theirs = build_mixer(torch).double()
    names = [name for name, _ in theirs.named_parameters()]
    assert names == [name for name, _ in ours.named_parameters()]
    weights = {name: torch.tensor(p.numpy().astype(np.float64)) for name, p in ours.named_parameters()}
    shapes = [weights[name].shape for name in names]
    flat = torch.cat([weights[name].reshape(-1) for name in names])
    inputs, labels = torch.tensor(x), torch.tensor(y)

    def torch_loss(vector):
        parts, start = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            parts[name] = vector[start:start + shape.numel()].reshape(shape)
            start += shape.numel()
        return torch.nn.functional.cross_entropy(torch.func.functional_call(theirs, parts, (inputs,)), labels)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: PyTorch's thread pool only adds waiting on a shared machine
    try:
        exact = torch.autograd.functional.hessian(torch_loss, flat, vectorize=True).numpy()
    finally:
        torch.set_num_threads(threads)
    spectrum = np.linalg.eigvalsh(exact)

    def loss_fn():
        return F.cross_entropy(ours(tinygrad_np.tensor(x)), tinygrad_np.tensor(y))

    hessian = Hessian(loss_fn, ours)
    assert hessian.size == len(flat)
    v = rng.standard_normal(hessian.size)
    with hessian:
        np.testing.assert_allclose(hessian.matvec(v), exact @ v, rtol=1e-6, atol=1e-8 * np.abs(exact @ v).max())
    top = top_eigenvalues(hessian, k=3, max_steps=hessian.size)
    assert top.converged
    np.testing.assert_allclose(top.values, spectrum[::-1][:3], rtol=1e-4)
    assert top.lowest == pytest.approx(spectrum[0], rel=1e-4) and spectrum[0] < 0  # not a minimum: negative curvature
