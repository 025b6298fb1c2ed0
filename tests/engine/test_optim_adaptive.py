"""Adadelta, RMSprop and Adagrad against torch.optim step by step from the same weights and gradients (float64 to
1e-10, float32 to 1e-5), with parameter groups; PyTorch's defaults and state names; state_dict round trips; the
flat-buffer step against the parameter-by-parameter one; validation."""

import inspect

import numpy as np
import pytest

from tinygrad_np import nn, optim

SHAPES = [(3, 4), (5,), (2, 2)]
CASES = [
    ("Adadelta", {}), ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.9, "centered": True, "weight_decay": 0.05}),
    ("RMSprop", {"alpha": 0.9, "centered": True, "maximize": True}), ("RMSprop", {"lr": 0.05, "momentum": 0.5}),
    ("Adagrad", {}), ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.3,
                                  "eps": 1e-8, "maximize": True}),
]
STEPS = 5


def start(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES], [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]


def groups(params, **second):
    """Two parameter groups: the first with the optimiser's options, the second with some of its own."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03, **second}]


def our_step(opt, params, grads):
    """Gradients through a backward (d/dp sum(p * g) = g), as training makes them."""
    opt.zero_grad()
    sum((p * g.astype(p.dtype)).sum() for p, g in zip(params, grads, strict=True)).backward()
    opt.step()


@pytest.mark.parametrize("dtype,tolerance", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{'-'.join(o)}" for n, o in CASES])
def test_matches_torch_step_by_step(torch, name, options, dtype, tolerance):
    weights, grads = start()
    theirs = [torch.tensor(w.astype(dtype), requires_grad=True) for w in weights]
    ours = [nn.Parameter(w, dtype=dtype) for w in weights]
    their_opt = getattr(torch.optim, name)(groups(theirs, eps=1e-7), **options)
    our_opt = getattr(optim, name)(groups(ours, eps=1e-7), **options)
    for step in grads:
        for t, g in zip(theirs, step, strict=True):
            t.grad = torch.tensor(g.astype(dtype))
        their_opt.step()
        our_step(our_opt, ours, step)
        for t, o in zip(theirs, ours, strict=True):
            assert o.dtype == dtype
            np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=tolerance, atol=tolerance)
    assert [sorted(g) for g in our_opt.state_dict()["param_groups"]] == \
        [sorted(g) for g in their_opt.state_dict()["param_groups"]]
    their_state, our_state = their_opt.state_dict()["state"], our_opt.state_dict()["state"]
    assert {k: sorted(v) for k, v in their_state.items()} == {k: sorted(v) for k, v in our_state.items()}
    for index, entry in our_state.items():
        for key, value in entry.items():
            np.testing.assert_allclose(np.asarray(value), their_state[index][key].numpy(), rtol=tolerance,
                                       atol=tolerance, err_msg=key)


@pytest.mark.parametrize("name", ["Adadelta", "RMSprop", "Adagrad"])
def test_defaults_are_pytorchs(torch, name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    shared = [key for key in ours if key != "params"]
    assert shared and all(ours[key].default == theirs[key].default for key in shared), shared


def test_adagrad_state_exists_from_the_start_as_in_pytorch(torch):
    p = nn.Parameter(np.ones(3))
    state = optim.Adagrad([p], initial_accumulator_value=0.25).state_dict()["state"][0]
    theirs = torch.optim.Adagrad([torch.ones(3, requires_grad=True)], initial_accumulator_value=0.25)
    assert float(state["step"]) == 0 and sorted(state) == sorted(theirs.state_dict()["state"][0])
    np.testing.assert_array_equal(np.asarray(state["sum"]), [0.25] * 3)
    their_groups = theirs.state_dict()["param_groups"][0]
    assert sorted(optim.Adagrad([p]).state_dict()["param_groups"][0]) == sorted(their_groups)


@pytest.mark.parametrize("name,options", CASES[1::2], ids=[n for n, _ in CASES[1::2]])
def test_state_dict_round_trip_resumes_bit_for_bit(name, options):
    weights, grads = start(1)
    straight = [nn.Parameter(w, dtype=np.float64) for w in weights]
    opt = getattr(optim, name)(groups(straight), **options)
    for step in grads:
        our_step(opt, straight, step)
    first = [nn.Parameter(w, dtype=np.float64) for w in weights]
    opt = getattr(optim, name)(groups(first), **options)
    for step in grads[:2]:
        our_step(opt, first, step)
    saved = opt.state_dict()
    resumed = [nn.Parameter(p.numpy().copy(), dtype=np.float64) for p in first]
    opt = getattr(optim, name)(groups(resumed), **options)
    opt.load_state_dict(saved)
    for step in grads[2:]:
        our_step(opt, resumed, step)
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{'-'.join(o)}" for n, o in CASES])
def test_flat_step_equals_the_step_parameter_by_parameter(name, options):
    """With every gradient present the update runs over the flat buffer; with one parameter lacking a gradient,
    parameter by parameter. Both give the same bits."""
    weights, grads = start(2)
    fused = [nn.Parameter(w) for w in weights]
    separate = [nn.Parameter(w) for w in weights]
    idle = nn.Parameter(np.zeros(1))
    fused_opt = getattr(optim, name)(fused, **options)
    separate_opt = getattr(optim, name)([*separate, idle], **options)
    for step in grads:
        our_step(fused_opt, fused, step)
        our_step(separate_opt, separate, step)
    for a, b in zip(fused, separate, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not idle.numpy().any()


def test_validation():
    p = [nn.Parameter(np.ones(2))]
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.RMSprop(p, lr=-1.0)
    with pytest.raises(ValueError, match=r"rho must be in \[0, 1\]"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        optim.Adagrad(p, initial_accumulator_value=-0.1)
    with pytest.raises(ValueError, match="unknown option"):
        optim.Adagrad([{"params": p, "betas": (0.9, 0.99)}])
