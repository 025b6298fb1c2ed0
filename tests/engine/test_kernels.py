"""The fused float32 kernels (GELU, LayerNorm, Linear's bias, Adam) against float64 references, at the float32
accuracy standard, on both kernel paths (numpy and compiled: the `kernel_path` fixture runs each test on each).

GELU: within 2e-6 absolute of the exact x Phi(x) for every float32 input (PyTorch's own float32 GELU is off by about
1e-6), its slope Phi(x) + x phi(x) within 5e-6. LayerNorm: within 1.5x PyTorch's own float32 error (measured against
float64 on the same inputs, quoted at each test). Each fused op also agrees with its textbook composition from
engine ops (`Gelu.composed`, `LayerNorm.composed`), and float64 stays exact. Results do not depend on the number of
threads (same bits), and a whole training step on the numpy path agrees with the compiled one.
"""

import math

import numpy as np
import pytest
from scipy import special

import tinygrad_np as tg
import tinygrad_np.functional as F
from tinygrad_np import Tensor, kernels
from tinygrad_np.ops.fused import Gelu, LayerNorm

GELU_TOLERANCE, SLOPE_TOLERANCE = 2e-6, 5e-6


def gelu_forward(x, with_slope=True):
    """The float32 GELU kernel of the path in force."""
    return kernels.for_dtype(np.dtype(np.float32)).gelu_forward(x, with_slope)


def exact_gelu(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x Phi(x) and Phi(x) + x phi(x) in float64 from scipy's ndtr, with the limits at +-inf (0 and x; 0 and 1)."""
    x = x.astype(np.float64)
    finite = np.where(np.isinf(x), 0.0, x)
    cdf = special.ndtr(x)
    value = np.where(np.isinf(x), np.maximum(x, 0.0), finite * cdf)
    return value, cdf + finite * np.exp(-0.5 * finite * finite) / math.sqrt(2 * math.pi)


def float32_inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    dense = np.linspace(-10, 10, 4_000_001, dtype=np.float32)  # steps of 5e-6
    consecutive = (np.float32(2.0).view(np.int32) + np.arange(1 << 20, dtype=np.int32)).view(np.float32)  # [2, 2.25)
    normal = (rng.standard_normal(500_000) * 3).astype(np.float32)
    wide = (rng.choice([-1, 1], 200_000) * 10.0 ** rng.uniform(-45, 38.5, 200_000)).astype(np.float32)
    tiny = np.finfo(np.float32).smallest_subnormal
    special_values = [0.0, -0.0, tiny, -tiny, 1e-38, -1e-38, 5.5, -5.5, 10, -10, 16, -16, 17, -17, 1e6, -1e6,
                      np.finfo(np.float32).max, -np.finfo(np.float32).max]
    return np.concatenate([dense, consecutive, normal, wide, np.float32(special_values)])


@pytest.fixture(scope="module")
def gelu_cases():
    x = float32_inputs()
    return x, *exact_gelu(x)


def test_gelu_float32_meets_the_standard_for_every_kind_of_input(kernel_path, gelu_cases):
    x, value, exact_slope = gelu_cases
    out, slope = gelu_forward(x)
    assert out.dtype == slope.dtype == np.float32
    assert np.abs(out - value).max() <= GELU_TOLERANCE
    assert np.abs(slope - exact_slope).max() <= SLOPE_TOLERANCE
    far = np.abs(x) >= 16  # exactly max(x, 0) out there, and a slope of exactly 0 or 1
    np.testing.assert_array_equal(out[far], np.maximum(x[far], 0))
    np.testing.assert_array_equal(slope[far], x[far] > 0)


def test_gelu_float32_limits_nan_and_eval_path(kernel_path):
    x = np.float32([-np.inf, np.inf, np.nan, -0.0])
    out, slope = gelu_forward(x)
    np.testing.assert_array_equal(out[:2], [0.0, np.inf])
    np.testing.assert_array_equal(slope[:2], [0.0, 1.0])
    assert np.isnan(out[2]) and np.isnan(slope[2])
    assert out[3] == 0 and abs(slope[3] - 0.5) <= SLOPE_TOLERANCE
    big = float32_inputs()[::7]
    eval_out, no_slope = gelu_forward(big, with_slope=False)  # what no_grad runs: no slope computed
    assert no_slope is None
    np.testing.assert_array_equal(eval_out, gelu_forward(big)[0])


def test_gelu_gradient_through_the_engine_float32(kernel_path):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((64, 300)) * 3).astype(np.float32)
    upstream = rng.standard_normal(x.shape).astype(np.float32)
    t = Tensor(x, requires_grad=True)
    F.gelu(t).backward(upstream)
    assert t.grad.dtype == np.float32
    assert np.abs(t.grad - upstream * exact_gelu(x)[1]).max() <= SLOPE_TOLERANCE * np.abs(upstream).max()
    with tg.no_grad():
        np.testing.assert_array_equal(F.gelu(Tensor(x)).numpy(), F.gelu(t).numpy())


def test_gelu_float64_is_exact(kernel_path):
    x = np.concatenate([np.random.default_rng(2).normal(size=10_000) * 4, [-np.inf, np.inf, 0.0, -40.0, 40.0]])
    t = Tensor(x, dtype=np.float64, requires_grad=True)
    y = F.gelu(t)
    y.backward(np.ones_like(x))
    value, slope = exact_gelu(x)
    np.testing.assert_allclose(y.numpy(), value, rtol=1e-15, atol=0)
    np.testing.assert_allclose(t.grad, slope, rtol=1e-14, atol=1e-15)  # Phi and x phi add up, each exact to 1e-16


@pytest.mark.parametrize("dtype, value_tolerance, slope_tolerance",
                         [(np.float64, 1e-15, 1e-15), (np.float32, GELU_TOLERANCE, SLOPE_TOLERANCE)])
def test_gelu_fused_agrees_with_composed(kernel_path, dtype, value_tolerance, slope_tolerance):
    x = np.random.default_rng(3).normal(size=(200, 500)) * 3
    outputs = []
    for op in (F.gelu, Gelu.composed):
        t = Tensor(x, dtype=dtype, requires_grad=True)
        y = op(t)
        y.backward(np.ones(x.shape, dtype=dtype))
        outputs.append((y.numpy(), t.grad))
    (fused, fused_grad), (composed, composed_grad) = outputs
    assert fused.dtype == composed.dtype == dtype
    scale = 1.0 if dtype == np.float32 else np.abs(x) + 1  # float64: relative to the size of the values
    assert (np.abs(fused - composed) / scale).max() <= value_tolerance
    assert (np.abs(fused_grad - composed_grad) / scale).max() <= slope_tolerance


# -- LayerNorm ---------------------------------------------------------------------------------
def layer_norm_case(rows: int, dim: int, offset: float, spread: float, seed: int = 0):
    """Inputs (already float32-representable, so float64 sees the same numbers), a random upstream gradient."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dim)) * spread + offset * (1 + 0.1 * rng.standard_normal((rows, 1)))
    arrays = x, rng.standard_normal(dim), rng.standard_normal(dim), rng.standard_normal((rows, dim))
    return [a.astype(np.float32).astype(np.float64) for a in arrays]


def layer_norm(x, weight=None, bias=None, eps=1e-5):
    """The fused op itself, whatever the signature of F.layer_norm (it is moving to PyTorch's)."""
    params = [p for p in (weight, bias) if p is not None]
    return LayerNorm.apply(x, *params, eps=eps, has_weight=weight is not None, has_bias=bias is not None)


def layer_norm_run(op, x, weight, bias, upstream, dtype):
    """Output and the gradients of x, weight, bias (weight or bias None: left out)."""
    tensors = [None if a is None else Tensor(a, dtype=dtype, requires_grad=True) for a in (x, weight, bias)]
    y = op(tensors[0], tensors[1], tensors[2], eps=1e-5)
    y.backward(upstream.astype(dtype))
    return [y.numpy()] + [t.grad for t in tensors if t is not None]


def worst_relative_error(results, references):
    """Each result's largest error over its reference's largest magnitude; the worst of them."""
    return max(np.abs(r - ref).max() / np.abs(ref).max() for r, ref in zip(results, references, strict=True))


@pytest.mark.parametrize("dim", [7, 42, 48, 101, 198, 199])
@pytest.mark.parametrize("affine", ["weight and bias", "weight", "bias", "none"])
def test_layer_norm_float32_within_pytorch_error(kernel_path, dim, affine):
    """PyTorch 2.13's float32 layer_norm, measured against float64 on these inputs (rows of 7-199 channels, mean 0
    or 10 sd, sd 1 or 100), is off by up to 1.7e-6 of the largest value in the output, the input gradient and the
    weight and bias gradients: the tolerance is 1.5 times that."""
    weight_on, bias_on = affine in ("weight and bias", "weight"), affine in ("weight and bias", "bias")
    for offset, spread in [(0, 1), (10, 1), (0, 100)]:
        x, weight, bias, upstream = layer_norm_case(2000, dim, offset, spread)
        weight, bias = (weight if weight_on else None), (bias if bias_on else None)
        reference = layer_norm_run(layer_norm, x, weight, bias, upstream, np.float64)
        result = layer_norm_run(layer_norm, x, weight, bias, upstream, np.float32)
        assert all(r.dtype == np.float32 for r in result)
        assert worst_relative_error(result, reference) <= 2.5e-6, (offset, spread)


def test_layer_norm_float32_rows_far_from_zero(kernel_path):
    """Rows with a mean of 1000 sd lose digits to the float32 centring in any implementation: PyTorch's float32
    error there is up to 2.2e-4 of the largest value (measured as above); the tolerance is 1.5 times that."""
    for dim in (7, 48, 198):
        x, weight, bias, upstream = layer_norm_case(2000, dim, 1000, 1)
        reference = layer_norm_run(layer_norm, x, weight, bias, upstream, np.float64)
        result = layer_norm_run(layer_norm, x, weight, bias, upstream, np.float32)
        assert worst_relative_error(result, reference) <= 3.3e-4


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-13), (np.float32, 2.5e-6)])
def test_layer_norm_fused_agrees_with_composed(kernel_path, dtype, tolerance):
    x, weight, bias, upstream = layer_norm_case(300, 198, 3, 2, seed=4)
    fused = layer_norm_run(layer_norm, x, weight, bias, upstream, dtype)
    composed = layer_norm_run(LayerNorm.composed, x, weight, bias, upstream, dtype)
    assert worst_relative_error(fused, composed) <= tolerance


def test_layer_norm_float64_matches_the_closed_forms(kernel_path):
    x, weight, bias, upstream = layer_norm_case(50, 9, 2, 3, seed=5)
    out, grad_x, grad_weight, grad_bias = layer_norm_run(layer_norm, x, weight, bias, upstream, np.float64)
    rstd = 1 / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    xhat = (x - x.mean(axis=1, keepdims=True)) * rstd
    g = upstream * weight
    np.testing.assert_allclose(out, xhat * weight + bias, rtol=1e-12)
    expected = rstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(grad_x, expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(grad_weight, (upstream * xhat).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(grad_bias, upstream.sum(axis=0), rtol=1e-12)


def test_layer_norm_eval_gives_the_same_bits(kernel_path):
    x, weight, bias, _ = (a.astype(np.float32) for a in layer_norm_case(700, 48, 0, 1, seed=6))
    training = layer_norm(Tensor(x, requires_grad=True), Tensor(weight), Tensor(bias)).numpy()
    with tg.no_grad():
        np.testing.assert_array_equal(layer_norm(Tensor(x), Tensor(weight), Tensor(bias)).numpy(), training)


def test_kernels_give_the_same_bits_on_any_number_of_threads(kernel_path):
    """Work is cut at boundaries that do not depend on the number of threads (whole rows for LayerNorm's row sums,
    fixed blocks of rows for its column sums, any element for GELU and the bias), so 1 and 2 threads give the
    same bits for every output and gradient."""
    x, weight, bias, upstream = (a.astype(np.float32) for a in layer_norm_case(3000, 198, 0, 1, seed=7))
    linear_weight = np.random.default_rng(8).standard_normal((150, 198)).astype(np.float32) * 0.1
    linear_bias = np.random.default_rng(9).standard_normal(150).astype(np.float32)

    def run():
        tensors = [Tensor(a, requires_grad=True) for a in (x, weight, bias, linear_weight, linear_bias)]
        y = F.linear(layer_norm(F.gelu(tensors[0]), tensors[1], tensors[2]), tensors[3], tensors[4])
        y.backward(upstream[:, :150])
        return [y.numpy()] + [t.grad for t in tensors]

    previous = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        single = run()
        tg.set_num_threads(2)
        pooled = run()
    finally:
        tg.set_num_threads(previous)
    for a, b in zip(single, pooled, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dim", [0, -1])
def test_linear_bias_gradient_over_long_rows_meets_float32_accuracy(kernel_path, dim):
    """The bias gradient sums the output gradient over 100,000 rows or columns with BLAS matrix-vector products:
    within 1e-6 of the float64 sum, relative to its size (PyTorch's float32 sum: ~2e-7; numpy's: ~4e-6)."""
    rng = np.random.default_rng(0)
    rows, features = 100_000, 6
    x = rng.standard_normal((features, rows) if dim == 0 else (rows, features)).astype(np.float32)
    grad = (rng.standard_normal((4, rows) if dim == 0 else (rows, 4)) * 0.01 + 0.001).astype(np.float32)
    weight, bias = (Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
                    for shape in ((4, features), (4,)))
    F.linear(Tensor(x), weight, bias, dim=dim).backward(grad)
    exact = grad.astype(np.float64).sum(axis=1 if dim == 0 else 0)
    assert bias.grad.dtype == np.float32
    assert np.abs(bias.grad - exact).max() <= 1e-6 * np.abs(exact).max()


@pytest.mark.parametrize("axis", [0, -1])
def test_linear_bias_add(kernel_path, axis):
    """Linear's forward adds the bias in place into its GEMM's output: exactly x @ W^T + b (one rounding each)."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 3000) if axis == 0 else (3000, 5)).astype(np.float32)
    weight, bias = rng.standard_normal((7, 5)).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    out = F.linear(Tensor(x), Tensor(weight), Tensor(bias), dim=axis).numpy()
    expected = weight @ x + bias[:, None] if axis == 0 else x @ weight.T + bias
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("options", [{"weight_decay": 0.0}, {"weight_decay": 0.1, "amsgrad": True},
                                     {"weight_decay": 0.1, "decoupled": True}])
def test_adam_float32_update_within_float32_of_float64(kernel_path, options):
    """Adam's one-pass update (and the numpy one) against the same update in float64 from the same float32
    state: five steps, each parameter within a few float32 roundings of the float64 result."""
    options = dict(options)
    optimizer = tg.optim.AdamW if options.pop("decoupled", False) else tg.optim.Adam
    rng = np.random.default_rng(11)
    start = rng.standard_normal(5000).astype(np.float32)
    grads = [rng.standard_normal(5000).astype(np.float32) for _ in range(5)]
    results = []
    for dtype in (np.float32, np.float64):
        p = tg.nn.Parameter(start, dtype=dtype)
        opt = optimizer([p], lr=1e-2, betas=(0.9, 0.99), eps=1e-8, **options)
        for g in grads:
            p.grad = tg.from_numpy(g.astype(dtype))
            opt.step()
        results.append(p.numpy())
    single, double = results
    assert single.dtype == np.float32
    assert np.abs(single - double).max() <= 1e-6 * np.abs(double).max()


def test_a_training_step_agrees_on_both_paths():
    """A small Mixer-like model's forward, loss and backward on the numpy path and on the compiled one: logits and
    every gradient within the float32 standard of each other (relative to each array's size). (Adam's update is
    compared above: after one step its direction is sign(g), so a weight whose gradient is near 0 can move either
    way by lr on either path.)"""
    pytest.importorskip("numba")
    import tinygrad_np.nn.functional as NF
    from tinygrad_np import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm, self.fc1, self.fc2 = nn.LayerNorm(48), nn.Linear(48, 96), nn.Linear(96, 48)
            self.token_norm, self.token_fc = nn.LayerNorm(48), nn.Linear(14, 14, dim=0)

        def forward(self, h):
            h = h + self.token_fc(self.token_norm(h))
            return h + self.fc2(NF.gelu(self.fc1(self.norm(h))))

    x = np.random.default_rng(12).standard_normal((14, 64, 3)).astype(np.float32)
    y = (np.random.default_rng(13).random(64) < 0.5).astype(np.float32)
    results = []
    previous = kernels._mode
    try:
        for path in ("numpy", "compiled"):
            tg.set_kernels(path)
            tg.manual_seed(0)
            model = nn.Sequential(nn.Linear(3, 48), Block(), Block(), nn.LayerNorm(48))
            head = nn.Linear(48, 1)
            params = list(model.parameters()) + list(head.parameters())
            logits = head(model(Tensor(x)).mean(0))[:, 0]
            NF.binary_cross_entropy_with_logits(logits, Tensor(y)).backward()
            results.append([logits.numpy()] + [np.array(p.grad) for p in params])
    finally:
        kernels._mode = previous
    for a, b in zip(*results, strict=True):
        assert np.abs(a - b).max() <= 2e-5 * max(np.abs(b).max(), 1e-3)
