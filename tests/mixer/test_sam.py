"""SAM, SparseSAM and noisy updates: SAM against its two-step update computed by hand, SparseSAM's
limits (sparsity 0 is SAM, 1 the base optimiser) and masks, the noise's scheduled standard
deviation, and exact resumption from state_dict."""

import math

import numpy as np
import pytest

import tinygrad_np.functional as F
from mixer.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_np import from_numpy, nn, optim
from tinygrad_np.optim import lr_scheduler

RNG = np.random.default_rng(0)
M = RNG.normal(size=(4, 4))
A = M @ M.T + np.eye(4)  # symmetric positive definite
W0 = np.array([1.0, -0.5, 0.25, 2.0])
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=(6, 2))


# -- SAM on a quadratic ------------------------------------------------------------------------
def quadratic(w):
    return 0.5 * (w * F.matmul(A, w)).sum()


def train_quadratic(make, steps=3, rho=0.1, adaptive=False):
    w = nn.Parameter(W0, dtype=np.float64)
    opt = make(w, rho, adaptive)

    def closure():
        opt.zero_grad()
        loss = quadratic(w)
        loss.backward()
        return loss.item()

    for _ in range(steps):
        closure()
        opt.step(closure)
    return w.numpy()


def sam_by_hand(steps=3, rho=0.1, adaptive=False, lr=0.05, momentum=0.9):
    """f(w) = w^T A w / 2, grad A w: e = rho g / ||g|| (ASAM: rho w^2 g / ||w g||); w -= lr * buf with
    buf = momentum * buf + A (w + e)."""
    w, buf = W0.copy(), None
    for _ in range(steps):
        g = A @ w
        if adaptive:
            e = rho * w**2 * g / (np.linalg.norm(w * g) + 1e-12)
        else:
            e = rho * g / (np.linalg.norm(g) + 1e-12)
        g_perturbed = A @ (w + e)
        buf = g_perturbed if buf is None else momentum * buf + g_perturbed
        w = w - lr * buf
    return w


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_on_a_quadratic_is_the_closed_form_two_step_update(adaptive):
    got = train_quadratic(lambda w, rho, adaptive: optim.SAM([w], optim.SGD([w], lr=0.05, momentum=0.9), rho=rho,
                                                             adaptive=adaptive), adaptive=adaptive)
    np.testing.assert_allclose(got, sam_by_hand(adaptive=adaptive), rtol=1e-12, atol=1e-14)
    assert not np.allclose(got, sam_by_hand(rho=0.0))  # the perturbation did change the path


def test_first_and_second_step_by_hand_equal_step_with_a_closure():
    via_step = train_quadratic(lambda w, rho, adaptive: optim.SAM([w], optim.Adam, rho=rho, lr=0.1))
    w = nn.Parameter(W0, dtype=np.float64)
    opt = optim.SAM([w], optim.Adam([w], lr=0.1), rho=0.1)
    for _ in range(3):
        quadratic(w).backward()
        opt.first_step(zero_grad=True)
        quadratic(w).backward()
        opt.second_step(zero_grad=True)
    np.testing.assert_array_equal(w.numpy(), via_step)


def test_sam_shares_param_groups_with_the_base_optimiser_and_its_scheduler():
    w = nn.Parameter(W0, dtype=np.float64)
    sam = optim.SAM([w], optim.SGD, rho=0.05, lr=0.2)
    assert sam.param_groups is sam.base_optimizer.param_groups and isinstance(sam.base_optimizer, optim.SGD)
    schedule = lr_scheduler.CosineAnnealingLR(sam, T_max=4)
    schedule.step()
    assert sam.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * (1 + math.cos(math.pi / 4)) / 2)
    assert sam.state_dict() == sam.base_optimizer.state_dict()


def test_sam_argument_errors():
    w, other = nn.Parameter(W0), nn.Parameter(W0)
    with pytest.raises(ValueError, match="rho"):
        optim.SAM([w], optim.SGD, rho=-0.1)
    with pytest.raises(ValueError, match="exactly the base optimiser's parameters"):
        optim.SAM([w, other], optim.SGD([w]))
    with pytest.raises(ValueError, match="already built"):
        optim.SAM([w], optim.SGD([w]), lr=0.1)
    with pytest.raises(TypeError, match="Optimizer"):
        optim.SAM([w], "sgd")
    with pytest.raises(ValueError, match="closure"):
        optim.SAM([w], optim.SGD([w])).step()


# -- SparseSAM ---------------------------------------------------------------------------------
def tiny_problem(seed=0):
    """Two float64 parameters and a smooth non-quadratic loss of them."""
    rng = np.random.default_rng(seed)
    weight = nn.Parameter(rng.normal(size=(3, 2)), dtype=np.float64)
    bias = nn.Parameter(rng.normal(size=2), dtype=np.float64)

    def loss():
        return ((F.tanh(F.matmul(X, weight) + bias) - Y) ** 2).mean()
    return [weight, bias], loss


def train_with(make_optimizer, steps=5, seed=0, calls=None):
    """Train `steps` SAM-style steps; returns the parameters' data."""
    params, loss = tiny_problem(seed)
    opt = make_optimizer(params)

    def closure():
        if calls is not None:
            calls.append(1)
        opt.zero_grad()
        value = loss()
        value.backward()
        return value.item()

    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step(closure)
    return [p.numpy().copy() for p in params]


def train_base(make_base, steps=5, seed=0):
    params, loss = tiny_problem(seed)
    opt = make_base(params)
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
    return [p.numpy().copy() for p in params]


def adam(params):
    return optim.Adam(params, lr=0.05, weight_decay=0.01)


SPARSE_RULES = [dict(mask_rule="fisher", update_freq=2, num_samples=2), dict(mask_rule="dynamic", update_freq=2)]


@pytest.mark.parametrize("rule", SPARSE_RULES)
def test_sparse_sam_with_sparsity_0_is_sam_and_with_sparsity_1_is_the_base_optimiser(rule):
    sam = train_with(lambda ps: optim.SAM(ps, adam(ps), rho=0.2))
    dense = train_with(lambda ps: optim.SparseSAM(ps, adam(ps), rho=0.2, sparsity=0.0, **rule))
    for a, b in zip(sam, dense, strict=True):
        np.testing.assert_array_equal(a, b)

    calls = []
    base = train_base(adam)
    empty = train_with(lambda ps: optim.SparseSAM(ps, adam(ps), rho=0.2, sparsity=1.0, **rule), calls=calls)
    for a, b in zip(base, empty, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not calls  # an empty mask perturbs nothing: no second pass
    half = train_with(lambda ps: optim.SparseSAM(ps, adam(ps), rho=0.2, sparsity=0.5, **rule))
    assert not any(np.array_equal(a, b) for a, b in zip(half, sam, strict=True))


def manual_params():
    return [nn.Parameter(np.ones((3, 4)), dtype=np.float64), nn.Parameter(np.ones(5), dtype=np.float64)]


def top_mask(scores, keep):
    """The `keep` largest of the concatenated scores, as one flat boolean array."""
    flat = np.concatenate([s.reshape(-1) for s in scores])
    mask = np.zeros(flat.size, dtype=bool)
    mask[np.argsort(-flat, kind="stable")[:keep]] = True
    return mask


def distinct_grads(rng, params):
    """Gradients with distinct magnitudes (no ties in the rankings)."""
    values = rng.permutation(np.linspace(-2, 2, sum(p.numel() for p in params)) + 1e-3)
    grads, offset = [], 0
    for p in params:
        grads.append(values[offset:offset + p.numel()].reshape(p.shape))
        offset += p.numel()
    return grads


def flat_mask(opt, params):
    return np.concatenate([opt.masks[id(p)].reshape(-1) for p in params])


def manual_step(opt, params, grads):
    """first_step with these gradients; returns what each parameter moved; then second_step."""
    before = [p.numpy().copy() for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad = from_numpy(g.copy())
    opt.first_step()
    moved = [p.numpy() - b for p, b in zip(params, before, strict=True)]
    opt.second_step()
    return moved


def test_fisher_mask_keeps_exactly_the_top_fraction_of_accumulated_squared_gradients():
    rng = np.random.default_rng(1)
    params = manual_params()  # 17 entries; sparsity 0.75 keeps round(4.25) = 4
    opt = optim.SparseSAM(params, optim.SGD(params, lr=0.0), rho=0.1, sparsity=0.75, update_freq=3, num_samples=2)
    assert opt.keep_count == 4
    grads = [distinct_grads(rng, params) for _ in range(4)]
    moved = manual_step(opt, params, grads[0])
    expected = top_mask([g**2 for g in grads[0]], 4)  # the first step: its own gradient alone
    np.testing.assert_array_equal(flat_mask(opt, params), expected)
    assert np.array_equal(np.concatenate([m.reshape(-1) for m in moved]) != 0, expected)  # perturbed on the mask
    manual_step(opt, params, grads[1])  # outside the 2-step window: not accumulated
    manual_step(opt, params, grads[2])
    np.testing.assert_array_equal(flat_mask(opt, params), expected)  # no refresh before step 3
    manual_step(opt, params, grads[3])
    window = [a**2 + b**2 for a, b in zip(grads[2], grads[3], strict=True)]
    np.testing.assert_array_equal(flat_mask(opt, params), top_mask(window, 4))
    assert opt.mask_density() == pytest.approx(4 / 17)


def test_fisher_mask_from_a_fisher_closure_keeps_the_steps_own_gradients():
    rng = np.random.default_rng(2)
    params = manual_params()
    batches = [distinct_grads(rng, params) for _ in range(3)]
    calls = []

    def fisher_closure():
        grads = batches[len(calls) % 3]
        calls.append(1)
        for p, g in zip(params, grads, strict=True):
            p.grad = from_numpy(g.copy())

    opt = optim.SparseSAM(params, optim.SGD(params, lr=0.0), rho=0.1, sparsity=0.5, update_freq=2, num_samples=3,
                          fisher_closure=fisher_closure)
    step_grads = distinct_grads(rng, params)
    moved = manual_step(opt, params, step_grads)
    assert len(calls) == 3
    expected = top_mask([sum(batch[i] ** 2 for batch in batches) for i in range(2)], opt.keep_count)
    np.testing.assert_array_equal(flat_mask(opt, params), expected)
    scale = 0.1 / (math.sqrt(sum(float(np.sum(g**2)) for g in step_grads)) + 1e-12)
    for m, g, mask in zip(moved, step_grads, (opt.masks[id(p)] for p in params), strict=True):
        np.testing.assert_allclose(m, np.where(mask, scale * g, 0.0), rtol=1e-12, atol=1e-15)
    manual_step(opt, params, step_grads)
    assert len(calls) == 3  # no refresh at step 1
    manual_step(opt, params, step_grads)
    assert len(calls) == 6


def test_a_fisher_closure_with_real_backward_leaves_the_steps_gradient_alone():
    """The base optimiser keeps each Parameter's gradient in a flat buffer that the next backward writes into, so the
    Fisher closure's backward must not overwrite the gradient at w that the perturbation uses."""
    params = manual_params()
    target = [np.linspace(-1, 1, p.numel()).reshape(p.shape) for p in params]

    def backward_on(scale):
        sum(((p - scale * t) ** 2).sum() for p, t in zip(params, target, strict=True)).backward()

    opt = optim.SparseSAM(params, optim.SGD(params, lr=0.0), rho=0.1, sparsity=0.0, update_freq=1, num_samples=1,
                          fisher_closure=lambda: backward_on(-3.0))
    for _ in range(2):  # the second step runs with the flat buffers in place
        opt.zero_grad()
        backward_on(1.0)
        at_w = [p.grad.numpy().copy() for p in params]
        before = [p.numpy().copy() for p in params]
        opt.first_step()
        moved = [p.numpy() - b for p, b in zip(params, before, strict=True)]
        opt.second_step(zero_grad=True)
        scale = 0.1 / (math.sqrt(sum(float(np.sum(g**2)) for g in at_w)) + 1e-12)
        for m, g in zip(moved, at_w, strict=True):
            np.testing.assert_allclose(m, scale * g, rtol=1e-12, atol=1e-15)


def test_dynamic_mask_keeps_its_density_drops_the_smallest_gradients_and_regrows_at_random():
    params = [nn.Parameter(np.ones((20, 10)), dtype=np.float64), nn.Parameter(np.ones(30), dtype=np.float64)]
    opt = optim.SparseSAM(params, optim.SGD(params, lr=0.0), rho=0.1, sparsity=0.6, mask_rule="dynamic",
                          update_freq=1, drop_rate=0.5, generator=7)
    keep = round(0.4 * 230)
    assert flat_mask(opt, params).sum() == keep
    rng = np.random.default_rng(3)
    for step in range(6):
        old = flat_mask(opt, params)
        grads = distinct_grads(rng, params)
        manual_step(opt, params, grads)
        new = flat_mask(opt, params)
        assert new.sum() == keep
        if step == 0:
            np.testing.assert_array_equal(new, old)  # the first step uses the initial random mask
            continue
        magnitude = np.abs(np.concatenate([g.reshape(-1) for g in grads]))
        dropped, kept, grown = old & ~new, old & new, new & ~old
        assert dropped.sum() == grown.sum() == math.floor(0.5 * keep)
        assert magnitude[dropped].max() < magnitude[kept].min()
    first, second = manual_params(), manual_params()
    masks = [optim.SparseSAM(ps, optim.SGD(ps, lr=0.0), sparsity=0.5, mask_rule="dynamic", generator=7).masks
             for ps in (first, second)]
    assert all(np.array_equal(a, b) for a, b in zip(masks[0].values(), masks[1].values(), strict=True))


def test_sparse_sam_argument_errors():
    params = manual_params()
    base = optim.SGD(params, lr=0.1)
    for options, message in [(dict(sparsity=1.5), "sparsity"), (dict(mask_rule="random"), "mask_rule"),
                             (dict(update_freq=0), "update_freq"),
                             (dict(num_samples=3, update_freq=2), "num_samples"),
                             (dict(drop_rate=-0.1), "drop_rate"),
                             (dict(mask_rule="dynamic", total_steps=0), "total_steps"),
                             (dict(mask_rule="dynamic", fisher_closure=lambda: None), "fisher_closure")]:
        with pytest.raises(ValueError, match=message):
            optim.SparseSAM(params, base, **options)


# -- noisy updates -----------------------------------------------------------------------------
N_NOISE = 200_000


def noise_of_one_step(noisy_kwargs, steps_before=0, dtype=np.float64):
    """The change of a zero-gradient SGD step (lr 0) under NoisyOptimizer: the noise alone."""
    p = nn.Parameter(np.zeros(N_NOISE), dtype=dtype)
    opt = optim.NoisyOptimizer(optim.SGD([p], lr=0.0), **noisy_kwargs)
    opt.steps = steps_before
    p.grad = from_numpy(np.zeros(N_NOISE, dtype=dtype))
    opt.step()
    return p.numpy().astype(np.float64), opt


@pytest.mark.parametrize("kwargs,t,std", [
    (dict(noise_scale=0.3), 0, 0.3),
    (dict(noise_scale=0.3), 50, 0.3),
    (dict(noise_scale=0.3, schedule="cosine", total_steps=100), 0, 0.3),
    (dict(noise_scale=0.3, schedule="cosine", total_steps=100), 50, 0.15),
    (dict(noise_scale=0.3, schedule="cosine", total_steps=100), 75, 0.3 * (1 + math.cos(0.75 * math.pi)) / 2),
    (dict(noise_scale=0.2, schedule="power", reference_steps=10, power=0.5), 5, 0.2),
    (dict(noise_scale=0.2, schedule="power", reference_steps=10, power=0.5), 40, 0.1),
    (dict(noise_scale=0.2, schedule="power", reference_steps=10, power=1.0), 80, 0.025),
])
def test_noise_has_the_scheduled_standard_deviation(kwargs, t, std):
    noise, opt = noise_of_one_step(kwargs, steps_before=t)
    assert opt.noise_std_at(t) == pytest.approx(std, rel=1e-12)
    # the sample std of n normals has relative standard error ~ 1/sqrt(2(n-1)); allow 5 of them
    assert abs(noise.std() / std - 1) < 5 / math.sqrt(2 * (N_NOISE - 1))
    assert abs(noise.mean()) < 5 * std / math.sqrt(N_NOISE)
    assert opt.steps == t + 1


def test_noise_is_exactly_zero_when_off_and_float32_stays_float32():
    for kwargs, t in [(dict(noise_scale=0.0), 0), (dict(noise_scale=0.5, schedule="cosine", total_steps=10), 10)]:
        noise, opt = noise_of_one_step(kwargs, steps_before=t)
        assert not noise.any()
        assert opt.generator.bit_generator.state == np.random.default_rng(0).bit_generator.state  # nothing drawn
    noise, _ = noise_of_one_step(dict(noise_scale=0.1), dtype=np.float32)
    assert noise.std() == pytest.approx(0.1, rel=0.02)
    p = nn.Parameter(np.zeros(3))
    opt = optim.NoisyOptimizer(optim.SGD([p], lr=0.1), noise_scale=0.1)
    p.grad = from_numpy(np.ones(3, np.float32))
    opt.step()
    assert p.dtype == np.float32
    base = train_base(adam)
    silent = train_base(lambda ps: optim.NoisyOptimizer(adam(ps), noise_scale=0.0))
    for a, b in zip(base, silent, strict=True):
        np.testing.assert_array_equal(a, b)


def test_noise_argument_errors():
    base = optim.SGD([nn.Parameter(W0)], lr=0.1)
    for kwargs, message in [(dict(noise_scale=-1.0), "noise_scale"),
                            (dict(noise_scale=0.1, schedule="linear"), "schedule"),
                            (dict(noise_scale=0.1, schedule="cosine"), "total_steps"),
                            (dict(noise_scale=0.1, schedule="power", reference_steps=0), "reference_steps")]:
        with pytest.raises(ValueError, match=message):
            optim.NoisyOptimizer(base, **kwargs)


# -- resuming ----------------------------------------------------------------------------------
RESUMABLE = {
    "sam-adam": lambda ps: optim.SAM(ps, adam(ps), rho=0.1),
    "ssam-fisher": lambda ps: optim.SparseSAM(ps, adam(ps), rho=0.1, sparsity=0.5, update_freq=3, num_samples=2),
    "ssam-dynamic": lambda ps: optim.SparseSAM(ps, adam(ps), rho=0.1, sparsity=0.5, mask_rule="dynamic",
                                               update_freq=1, generator=3),
    "noisy-ssam": lambda ps: optim.NoisyOptimizer(
        optim.SparseSAM(ps, adam(ps), rho=0.1, sparsity=0.3, mask_rule="dynamic", generator=4),
        noise_scale=0.01, schedule="power", reference_steps=2, generator=5),
}


@pytest.mark.parametrize("name", list(RESUMABLE))
def test_state_dict_round_trip_reproduces_the_next_steps(name, tmp_path):
    make = RESUMABLE[name]
    full = train_with(make, steps=5)
    params, _ = tiny_problem()
    opt = make(params)

    def run(opt, params, steps):
        def closure():
            opt.zero_grad()
            value = loss_of(params)
            value.backward()
            return value.item()
        for _ in range(steps):
            closure()
            opt.step(closure)

    def loss_of(ps):
        return ((F.tanh(F.matmul(X, ps[0]) + ps[1]) - Y) ** 2).mean()

    run(opt, params, 2)
    save_checkpoint(tmp_path / "state.npz", {"optimizer": opt.state_dict(), "params": [p.numpy() for p in params]})
    saved = load_checkpoint(tmp_path / "state.npz")
    resumed_params = [nn.Parameter(a, dtype=np.float64) for a in saved["params"]]
    resumed = make(resumed_params)
    resumed.load_state_dict(saved["optimizer"])
    run(resumed, resumed_params, 3)
    for a, b in zip(full, resumed_params, strict=True):
        np.testing.assert_array_equal(a, b.numpy())


def test_loading_a_state_without_the_wrappers_entry_is_an_error():
    params = manual_params()
    plain = optim.SGD(params, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="sparse_sam"):
        optim.SparseSAM(params, optim.SGD(params, lr=0.1)).load_state_dict(plain)
    with pytest.raises(ValueError, match="noise"):
        optim.NoisyOptimizer(optim.SGD(params, lr=0.1), noise_scale=0.1).load_state_dict(plain)
