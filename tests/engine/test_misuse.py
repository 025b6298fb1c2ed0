"""What PyTorch refuses, the engine refuses with PyTorch's class and rule in the message; what PyTorch accepts, it
accepts (issue: faults and misuse)."""

import importlib.util

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import nn, optim

HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.parametrize("route", ["Tensor", "tensor", "requires_grad_", "attribute", "Parameter", "zeros"])
def test_requires_grad_on_a_non_float_tensor_is_refused_by_every_route(route):
    with pytest.raises(RuntimeError, match="floating point"):
        if route == "Tensor":
            tg.Tensor([1, 2], dtype=np.int64, requires_grad=True)
        elif route == "tensor":
            tg.tensor([1, 2], requires_grad=True)
        elif route == "requires_grad_":
            tg.tensor([True, False]).requires_grad_()
        elif route == "attribute":
            tg.tensor([1, 2]).requires_grad = True
        elif route == "Parameter":
            nn.Parameter(np.array([1, 2]), dtype=np.int32)
        else:
            tg.zeros(2, dtype=tg.int64, requires_grad=True)
    assert not tg.tensor([1, 2]).requires_grad_(False).requires_grad  # turning it off is fine


def test_optimisers_check_their_params_as_pytorch():
    w = tg.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.AdamW([], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.warns(UserWarning, match="same parameter twice"):
        twice = optim.SGD([w, w], lr=0.1)
    (w * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    twice.step()
    np.testing.assert_allclose(w.numpy(), [-0.1, -0.2, -0.3], rtol=1e-6)  # stepped once, not twice
    frozen = tg.zeros(2)  # PyTorch accepts a leaf that does not require grad: it never moves
    optim.SGD([frozen], lr=0.1).step()
    assert frozen.tolist() == [0.0, 0.0]


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch, which is not installed")
@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_pytorch_optimiser_flags_are_accepted_and_maximize_ascends(name, maximize):
    import torch

    kwargs = {"lr": 0.1, "maximize": maximize, "foreach": True, "weight_decay": 0.01}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    ours, theirs = tg.tensor([1.0, -2.0, 3.0], requires_grad=True), torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    ours_opt, theirs_opt = getattr(optim, name)([ours], **kwargs), getattr(torch.optim, name)([theirs], **kwargs)
    for _ in range(3):
        (ours * ours * ours).sum().backward()
        (theirs * theirs * theirs).sum().backward()
        ours_opt.step(), theirs_opt.step()
        ours_opt.zero_grad(), theirs_opt.zero_grad()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5)


def test_arange_refuses_a_zero_step_and_a_step_of_the_wrong_sign():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        tg.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        tg.arange(5, 0)
    assert tg.arange(5, 0, -1).tolist() == [5, 4, 3, 2, 1] and tg.arange(2, 2).numel() == 0


def test_linear_names_in_features_when_the_input_does_not_fit():
    with pytest.raises(RuntimeError, match="in_features is 3"):
        nn.Linear(3, 2)(tg.zeros(4, 5))


@pytest.mark.parametrize("nd", [1, 2])
def test_unbatched_conv_inputs_are_accepted_as_pytorch(nd):
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((2,) + (9,) * nd), dtype=tg.float64)
    w = tg.tensor(rng.standard_normal((4, 2) + (3,) * nd), dtype=tg.float64)
    conv = F.conv1d if nd == 1 else F.conv2d
    np.testing.assert_allclose(conv(x, w, padding=1).numpy(), conv(x.unsqueeze(0), w, padding=1)[0].numpy())
    if HAVE_TORCH:
        import torch

        theirs = getattr(torch.nn.functional, f"conv{nd}d")(torch.tensor(x.numpy()), torch.tensor(w.numpy()), padding=1)
        np.testing.assert_allclose(conv(x, w, padding=1).numpy(), theirs.numpy(), rtol=1e-12)


def test_clip_grad_norm_refuses_a_non_finite_norm_when_asked_and_returns_a_tensor():
    w = tg.zeros(3, requires_grad=True)
    w.grad = tg.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    w.grad = tg.tensor([3.0, 4.0, 0.0])
    norm = nn.utils.clip_grad_norm_(w, 1.0, foreach=True)  # one tensor, as PyTorch takes it
    assert isinstance(norm, tg.Tensor) and norm.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)
