"""Optimisers against the published update equations, computed independently here in float64;
clipping; state round trips. Schedulers against their closed forms."""

import math

import numpy as np
import pytest

from tinygrad_np import from_numpy, nn, optim
from tinygrad_np.optim import lr_scheduler

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.3, -0.7]), np.array([-1.5, 0.2, 0.0]),
         np.array([0.4, -0.4, 1.1])]
START = np.array([1.0, -2.0, 0.5])


def run(make, steps=4, dtype=np.float64):
    p = nn.Parameter(START, dtype=dtype)
    opt = make([p])
    for g in GRADS[:steps]:
        p.grad = from_numpy(g.astype(dtype))
        opt.step()
    return p.numpy()


def adam_reference(lr, b1, b2, eps, wd, decoupled=False, amsgrad=False):
    p, m, v, v_max = START.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        m_hat, v_hat = m / (1 - b1**t), (v_max if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("wd,amsgrad", [(0.0, False), (0.1, False), (0.0, True)])
def test_adam_matches_the_equations(wd, amsgrad):
    got = run(lambda ps: optim.Adam(ps, lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=wd, amsgrad=amsgrad))
    np.testing.assert_allclose(got, adam_reference(0.1, 0.9, 0.99, 1e-8, wd, amsgrad=amsgrad), rtol=1e-12)


def test_adamw_decouples_weight_decay():
    got = run(lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.2))
    np.testing.assert_allclose(got, adam_reference(0.05, 0.9, 0.999, 1e-8, 0.2, decoupled=True), rtol=1e-12)


@pytest.mark.parametrize("momentum,nesterov,wd,dampening", [(0, False, 0, 0), (0.9, False, 0.01, 0.1),
                                                            (0.9, True, 0.05, 0)])
def test_sgd_matches_the_equations(momentum, nesterov, wd, dampening):
    got = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=wd,
                                   dampening=dampening))
    p, buf = START.copy(), None
    for g in GRADS:
        g = g + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - 0.1 * g
    np.testing.assert_allclose(got, p, rtol=1e-12)


def test_torch_agrees():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True),
                          lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True)),
                         (lambda ps: optim.AdamW(ps, lr=0.1), lambda ps: torch.optim.AdamW(ps, lr=0.1)),
                         (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                          lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True))]:
        p = torch.tensor(START, requires_grad=True)
        opt = theirs([p])
        for g in GRADS:
            p.grad = torch.tensor(g)
            opt.step()
        np.testing.assert_allclose(run(ours), p.detach().numpy(), rtol=1e-10)


def test_float32_stays_float32_and_grads_are_not_modified():
    p = nn.Parameter(START)
    opt = optim.Adam([p], lr=0.1, weight_decay=0.5)
    g = GRADS[0].astype(np.float32)
    p.grad = from_numpy(g.copy())
    opt.step()
    assert p.dtype == np.float32 and opt.state[id(p)]["exp_avg"].dtype == np.float32
    np.testing.assert_array_equal(p.grad, g)


def test_param_groups_zero_grad_and_missing_grads():
    a, b, c = (nn.Parameter(START) for _ in range(3))
    opt = optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b, c], "weight_decay": 1.0}], lr=0.1)
    a.grad, b.grad = from_numpy(np.ones(3, np.float32)), from_numpy(np.ones(3, np.float32))
    opt.step()
    np.testing.assert_allclose(a.numpy(), START - 1.0, rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), START - 0.1 * (1 + START), rtol=1e-6)
    np.testing.assert_array_equal(c.numpy(), START.astype(np.float32))  # no grad: untouched
    opt.zero_grad(set_to_none=False)
    assert (a.grad == 0).all() and c.grad is None
    opt.zero_grad()
    assert a.grad is None
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True),
                                  lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)])
def test_state_dict_round_trip_resumes_exactly(make):
    full = run(make)
    p = nn.Parameter(START, dtype=np.float64)
    opt = make([p])
    for g in GRADS[:2]:
        p.grad = from_numpy(g.copy())
        opt.step()
    saved, saved_p = opt.state_dict(), p.numpy().copy()
    q = nn.Parameter(saved_p, dtype=np.float64)
    resumed = make([q])
    resumed.load_state_dict(saved)
    for g in GRADS[2:]:
        q.grad = from_numpy(g.copy())
        resumed.step()
    np.testing.assert_array_equal(q.numpy(), full)
    bad = {"state": {0: {**saved["state"][0]}}, "param_groups": saved["param_groups"]}
    key = next(k for k, v in bad["state"][0].items() if v.ndim)
    bad["state"][0][key] = np.zeros(4)
    with pytest.raises(ValueError, match=r"parameter 0.*\(4,\)"):
        make([nn.Parameter(START)]).load_state_dict(bad)


def flat_model(seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(shape), dtype=np.float32) for shape in ((4, 3), (3,), (2, 2, 5), (1,))]


MAKERS = [lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True), lambda ps: optim.AdamW(ps, lr=0.05),
          lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01),
          lambda ps: optim.SGD([{"params": ps[:2], "nesterov": True, "momentum": 0.8}, {"params": ps[2:], "lr": 0.3}],
                               lr=0.1)]


@pytest.mark.parametrize("make", MAKERS)
def test_one_flat_step_equals_a_step_per_parameter_bit_for_bit(make):
    """The fused step over one flat buffer and the same update run parameter by parameter give the same bits;
    parameters and gradients live in one buffer, reused across steps."""
    fused, separate = flat_model(), flat_model()
    fused_opt = make(fused)
    position = {id(p): i for i, p in enumerate(fused)}
    # with a second parameter that never gets a gradient, each of these runs the parameter-by-parameter path
    separate_opts = [type(fused_opt)([separate[position[id(p)]], nn.Parameter(np.zeros(1))],
                                     **{k: v for k, v in group.items() if k not in ("params", "initial_lr")})
                     for group in fused_opt.param_groups for p in group["params"]]
    rng = np.random.default_rng(1)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in fused]
        for params, opts in ((fused, [fused_opt]), (separate, separate_opts)):
            for opt in opts:
                opt.zero_grad()
            loss = sum((p * g).sum() for p, g in zip(params, grads, strict=True))  # d loss / d p = g
            loss.backward()
            for opt in opts:
                opt.step()
        for a, b in zip(fused, separate, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    layout = fused_opt.layout()[0].layout
    assert all(np.shares_memory(p.numpy(), layout.data) and np.shares_memory(p.grad, layout.grad) for p in fused)
    home = fused[0].grad
    fused_opt.zero_grad()
    (fused[0] * 2.0).sum().backward()
    # the next backward writes into the same buffer
    assert fused[0].grad.numpy() is home.numpy() and (home == 2.0).all()


def test_flat_buffers_take_back_rebound_data_and_skip_parameters_without_gradients():
    params = flat_model()
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = from_numpy(np.ones(p.shape, np.float32))
    opt.step()
    replaced = np.full(params[0].shape, 3.0, np.float32)
    params[0].data = from_numpy(replaced)  # rebound, as old code might: copied back into the layout at the next step
    params[1].grad, params[2].grad = None, from_numpy(np.ones(params[2].shape, np.float32))
    untouched = params[1].numpy().copy()
    opt.step()
    assert np.shares_memory(params[0].numpy(), opt.layout()[0].layout.data)
    assert (params[0].numpy() < 3.0).all() and opt.state[id(params[0])]["step"] == 2
    np.testing.assert_array_equal(params[1].numpy(), untouched)
    assert opt.state[id(params[1])]["step"] == 1  # no gradient: no step, as PyTorch
    params[0].data = from_numpy(np.zeros((2, 2), np.float64))
    with pytest.raises(RuntimeError, match="build the optimiser after"):
        opt.step()


def test_clip_grad_norm_changes_the_grads_the_optimiser_uses():
    a, b = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros((2, 2)))
    a.grad = from_numpy(np.array([3.0, 0, 0], np.float32))
    b.grad = from_numpy(np.array([[0, 4.0], [0, 0]], np.float32))
    norm = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert math.isclose(norm, 5.0, rel_tol=1e-6)
    total = math.sqrt(float((a.grad**2).sum() + (b.grad**2).sum()))
    assert math.isclose(total, 1.0, rel_tol=1e-5)
    optim.SGD([a, b], lr=1.0).step()
    np.testing.assert_allclose(a.numpy(), [-0.6, 0, 0], rtol=1e-5)
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)  # under: unchanged
    assert math.isclose(float(np.abs(b.grad).max()), 0.8, rel_tol=1e-5)
    assert nn.utils.clip_grad_norm_([a, b], 0.4, norm_type=math.inf) == pytest.approx(0.8, rel=1e-5)
    assert math.isclose(float(np.abs(b.grad).max()), 0.4, rel_tol=1e-4)
    nn.utils.clip_grad_value_([a, b], 0.1)
    assert np.abs(a.grad).max() <= 0.1 and np.abs(b.grad).max() <= 0.1


# -- schedulers ------------------------------------------------------------------------------
def optimizer(lrs=(0.1, 0.02)):
    return optim.SGD([{"params": [nn.Parameter(np.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])


def cosine(t, T, base, eta_min):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * min(t, T) / T)) / 2


def trace(scheduler, steps):
    lrs = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs)


def test_cosine_and_sharp_cosine_closed_forms():
    got = trace(lr_scheduler.CosineAnnealingLR(optimizer(), T_max=10, eta_min=0.001), 14)
    for base, column in zip((0.1, 0.02), got.T, strict=True):
        np.testing.assert_allclose(column, [cosine(t, 10, base, 0.001) for t in range(15)], rtol=1e-12)
    sharp = trace(lr_scheduler.SharpCosineLR(optimizer(), total_steps=98, fraction=0.15), 98)[:, 0]
    np.testing.assert_allclose(sharp, [cosine(t, 14.7, 0.1, 0.0) for t in range(99)], rtol=1e-12, atol=1e-15)
    assert sharp[15:].max() == 0


def test_warmup_then_cosine_like_the_original():
    """2 warm-up epochs, then the cosine over 15% of the remaining 98, stepped per iteration (10 per epoch)."""
    opt = optimizer()
    sched = lr_scheduler.LinearWarmup(opt, warmup_steps=2, after=lr_scheduler.SharpCosineLR(opt, total_steps=98))
    for i in range(1, 1001):
        sched.step(i / 10)
        t = i / 10
        expected = 0.1 * t / 2 if t < 2 else cosine(t - 2, 14.7, 0.1, 0.0)
        assert math.isclose(sched.get_last_lr()[0], expected, rel_tol=1e-12, abs_tol=1e-15), t


@pytest.mark.parametrize("T_0,T_mult", [(3, 1), (2, 2), (1.5, 3)])
def test_warm_restarts(T_0, T_mult):
    sched = lr_scheduler.CosineAnnealingWarmRestarts(optimizer(), T_0=T_0, T_mult=T_mult, eta_min=0.01)
    for i in range(1, 200):
        t = i / 7
        sched.step(t)
        start, period = 0.0, T_0
        while t >= start + period:
            start, period = start + period, period * T_mult
        assert math.isclose(sched.get_last_lr()[0], cosine(t - start, period, 0.1, 0.01), rel_tol=1e-9), t


def test_step_lr_and_one_cycle():
    got = trace(lr_scheduler.StepLR(optimizer(), step_size=3, gamma=0.5), 10)[:, 1]
    np.testing.assert_allclose(got, [0.02 * 0.5 ** (t // 3) for t in range(11)])
    got = trace(lr_scheduler.OneCycleLR(optimizer(), max_lr=1.0, total_steps=20), 19)[:, 0]
    peak = 0.3 * 20 - 1
    expected = [cosine(peak - t, peak, 1.0, 1 / 25) if t <= peak else cosine(t - peak, 19 - peak, 1.0, 1 / 25 / 1e4)
                for t in range(20)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_schedulers_agree_with_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs, steps in [
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 10),
        (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01), 30),
        (lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.3),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.3), 20),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=30),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=30), 29),
    ]:
        torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        torch_sched = theirs(torch_opt)
        expected = [torch_sched.get_last_lr()[0]]
        for _ in range(steps):
            torch_opt.step()
            torch_sched.step()
            expected.append(torch_sched.get_last_lr()[0])
        np.testing.assert_allclose(trace(ours(optimizer((0.1,))), steps)[:, 0], expected, rtol=1e-9, atol=1e-12)


def test_scheduler_state_round_trip_and_validation():
    opt = optimizer()
    sched = lr_scheduler.LinearWarmup(opt, 1.5, after=lr_scheduler.CosineAnnealingLR(opt, T_max=5))
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = optimizer()
    resumed = lr_scheduler.LinearWarmup(opt2, 1.5, after=lr_scheduler.CosineAnnealingLR(opt2, T_max=5))
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(trace(sched, 4), trace(resumed, 4))
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        lr_scheduler.LinearWarmup(opt, -1)
