"""PyTorch's public surface: factories and dtypes, the Tensor methods with PyTorch's semantics, nn and optim
signatures. Every new differentiable method goes through the same hypothesis gradient check as the ops; where
PyTorch is installed, results are compared with it (skipped without it)."""

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn, optim
from tinygrad_np.testing import broadcastable_shapes, check_op

one_shape = broadcastable_shapes(1)
nonempty_shape = broadcastable_shapes(1, min_dims=1)


def a_dim(shapes):
    ndim = len(shapes[0])
    return st.fixed_dictionaries({"dim": st.integers(-ndim, ndim - 1)})


# -- factories and dtypes -------------------------------------------------------------------------------------------
def test_tensor_infers_dtypes_as_pytorch():
    assert tg.tensor([1.0, 2.0]).dtype == tg.float32 and tg.tensor(2.5).dtype == tg.float32
    assert tg.tensor([1, 2]).dtype == tg.int64 == tg.long and tg.tensor([True, False]).dtype == tg.bool
    assert tg.tensor(np.zeros(2)).dtype == tg.float64 and tg.tensor(np.zeros(2, np.float32)).dtype == tg.float32
    assert tg.tensor(np.arange(3, dtype=np.int32)).dtype == tg.int32
    assert tg.tensor([1, 2], dtype=tg.float64).dtype == np.float64
    source = np.ones(3)
    copied, shared = tg.tensor(source), tg.from_numpy(source)
    source[0] = 5
    assert copied.tolist() == [1.0, 1.0, 1.0] and shared.tolist() == [5.0, 1.0, 1.0]
    assert tg.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2], requires_grad=True)
    assert Tensor([1, 2]).dtype == np.float32  # the constructor keeps torch.Tensor's float32


def test_factories():
    assert tg.zeros(2, 3).shape == tg.ones((2, 3)).shape == tg.empty([2, 3]).shape == (2, 3)
    assert tg.zeros(2, dtype=tg.int64).dtype == np.int64 and tg.ones(1).dtype == np.float32
    assert tg.full((2,), 7).dtype == np.int64 and tg.full((2,), 0.5).tolist() == [0.5, 0.5]
    x = tg.tensor([[1, 2], [3, 4]])
    assert tg.zeros_like(x).dtype == np.int64 and tg.ones_like(x, dtype=tg.float32).dtype == np.float32
    assert tg.full_like(x, 9).tolist() == [[9, 9], [9, 9]] and tg.empty_like(x).shape == (2, 2)
    assert tg.arange(4).tolist() == [0, 1, 2, 3] and tg.arange(4).dtype == np.int64
    assert tg.arange(1, 2, 0.5).dtype == np.float32 and tg.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    np.testing.assert_allclose(tg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert tg.eye(3).numpy().trace() == 3 and tg.eye(2, 3).shape == (2, 3)
    assert tg.zeros(3, requires_grad=True).requires_grad


def test_random_factories_follow_manual_seed():
    def draw():
        tg.manual_seed(7)
        return tg.rand(3, 2), tg.randn(4), tg.randint(0, 10, (5,)), tg.randperm(6)

    first, second = draw(), draw()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    rand, randn, randint, perm = first
    assert rand.dtype == np.float32 and 0 <= rand.numpy().min() and rand.numpy().max() < 1
    assert randint.dtype == np.int64 and 0 <= randint.numpy().min() and randint.numpy().max() < 10
    assert sorted(perm.tolist()) == list(range(6)) and randn.shape == (4,)


def test_comparisons_logic_and_masks():
    x = tg.tensor([-1.0, 0.0, 2.0])
    mask = x > 0
    assert mask.dtype == bool and not mask.requires_grad
    assert (x == 0).tolist() == [False, True, False] and (x != 0).tolist() == [True, False, True]
    assert (mask | (x < 0)).tolist() == [True, False, True] and (~mask).tolist() == [True, True, False]
    assert (mask & (x >= 2)).tolist() == [False, False, True] and (mask ^ True).tolist() == [True, True, False]
    assert x[mask].tolist() == [2.0] and x[tg.tensor([2, 0])].tolist() == [2.0, -1.0]
    assert mask.any().item() and not mask.all().item()
    assert tg.where(mask, x, -x).tolist() == [1.0, 0.0, 2.0] and tg.where(mask, 1.0, 0.0).dtype == np.float32
    with pytest.raises(TypeError, match="bool or integer"):
        x & x
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(mask)
    assert bool(tg.tensor([3]) > 2)


def test_conversions_and_accessors():
    x = tg.tensor([[1.5, -2.0]], requires_grad=True)
    assert x.long().tolist() == [[1, -2]] and x.int().dtype == np.int32 and x.bool().dtype == bool
    assert x.double().dtype == np.float64 and x.to(tg.float64).dtype == np.float64 and x.to("cpu") is x
    assert x.float() is x and x.type_as(tg.tensor([1])).dtype == np.int64 and x.cpu() is x
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    assert x.size() == (1, 2) and x.size(-1) == 2 and x.dim() == 2 and x.numel() == 2 and x.device.type == "cpu"
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert float(x.sum()) == -0.5 and int(tg.tensor(3)) == 3 and [1, 2, 3][tg.tensor(1)] == 2
    assert x.detach().requires_grad is False and x.grad_fn is None and (x * 2).grad_fn is not None
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    assert [row.tolist() for row in tg.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]


def test_in_place_ops_follow_pytorchs_rules():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)
    with tg.no_grad():
        w.mul_(2).add_(1, alpha=2).clamp_(max=5.0)
        w -= tg.tensor([1.0, 1.0])
        w[0] = 10.0
    assert w.tolist() == [10.0, 4.0] and w.is_leaf and w.requires_grad
    h = w * 1.0
    with pytest.raises(RuntimeError, match="recorded op"):
        h.zero_()
    h += 1.0  # on a computed tensor: a new tensor, recorded like h = h + 1
    h.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]
    buffer = tg.zeros(3)
    buffer.fill_(2.0).copy_(tg.tensor([1.0, 2.0, 3.0]))
    buffer /= 2
    assert buffer.tolist() == [0.5, 1.0, 1.5]


def test_set_grad_enabled_as_call_and_context():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()


# -- shape methods with PyTorch's semantics --------------------------------------------------------------------------
def test_shape_methods_match_numpy():
    values = np.arange(24.0).reshape(2, 3, 4)
    x = tg.tensor(values)
    assert x.view(4, 6).shape == x.reshape(-1, 6).shape == (4, 6) and x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4) and x.unflatten(2, (2, 2)).shape == (2, 3, 2, 2)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert tg.zeros(1, 3, 1).squeeze().shape == (3,) and tg.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert tg.zeros(2, 3).squeeze(0).shape == (2, 3)  # not size 1: unchanged, as PyTorch
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), values.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.expand(3, -1, -1, -1).numpy(), np.broadcast_to(values, (3, 2, 3, 4)))
    np.testing.assert_array_equal(x.repeat(1, 2, 1).numpy(), np.tile(values, (1, 2, 1)))
    np.testing.assert_array_equal(x.repeat(2, 1, 1, 1).numpy(), np.tile(values, (2, 1, 1, 1)))
    assert [c.shape for c in x.chunk(2, dim=2)] == [(2, 3, 2)] * 2 and len(x.chunk(4, dim=1)) == 3
    assert [c.shape[1] for c in x.split(2, dim=1)] == [2, 1] and [c.shape[2] for c in x.split([1, 3], 2)] == [1, 3]
    assert [u.shape for u in x.unbind(1)] == [(2, 4)] * 3
    np.testing.assert_array_equal(x.index_select(2, tg.tensor([3, 0])).numpy(), values[:, :, [3, 0]])
    np.testing.assert_array_equal(tg.tile(x, (2,)).numpy(), np.tile(values, 2))
    with pytest.raises(ValueError, match="do not add up"):
        x.split([1, 1], dim=1)
    with pytest.raises(IndexError, match="out of range"):
        x.unsqueeze(4)


def test_new_differentiable_methods_pass_the_gradient_check():
    check_op(lambda x: x.repeat(2, *[1] * x.ndim) if x.ndim else x.repeat(3), shapes=one_shape)
    check_op(lambda x, dim: x.chunk(2, dim)[-1] * 2 + x.chunk(2, dim)[0].sum(), shapes=nonempty_shape, kwargs=a_dim)
    check_op(lambda x, dim: x.split(1, dim)[0] * x.split(1, dim)[-1], shapes=nonempty_shape, kwargs=a_dim)
    check_op(lambda x, dim: x.unbind(dim)[0], shapes=nonempty_shape, kwargs=a_dim)
    check_op(lambda x: x.clone() * x, shapes=one_shape)
    check_op(lambda x: x.expand(2, *[-1] * x.ndim), shapes=one_shape)
    check_op(lambda x, dim: x.index_select(dim, np.array([0, 0])), shapes=nonempty_shape, kwargs=a_dim)
    check_op(lambda x: x.masked_fill(x.numpy() > 0.5, 2.0), shapes=one_shape, avoid=(0.5,))
    check_op(lambda x, y: x.where(x.numpy() > y.numpy(), y), 2, distinct=True)
    check_op(lambda x, low, high: x.clamp(low, low + high.abs() + 0.5), 3, distinct=True)
    check_op(lambda x: x.sin() * x.cos(), shapes=one_shape)
    check_op(lambda x: x.rsqrt() + x.square() + x.reciprocal(), domain=(0.3, 3))
    check_op(lambda x: F.gelu(x, approximate="tanh") + F.silu(x))
    check_op(lambda x: x.norm() + x.norm(p=1, dim=-1).sum() + x.norm(p=float("inf")), shapes=nonempty_shape,
             avoid=(0.0,), distinct=True)


def test_gelu_tanh_is_the_tanh_formula():
    x = np.linspace(-4, 4, 101)
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(F.gelu(tg.tensor(x), approximate="tanh").numpy(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(tg.tensor(x), approximate="erf")


def test_max_with_a_tensor_is_elementwise_and_one_hot():
    a, b = tg.tensor([1.0, 5.0]), tg.tensor([3.0, 2.0])
    assert a.max(b).tolist() == [3.0, 5.0] and tg.min(a, b).tolist() == [1.0, 2.0]
    assert F.one_hot(tg.tensor([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert F.one_hot(tg.tensor([1, 3])).shape == (2, 4)


# -- nn ---------------------------------------------------------------------------------------------------------------
def test_layer_norm_takes_a_shape_and_embedding_takes_integer_tensors():
    norm = nn.LayerNorm((3, 4))
    assert norm.weight.shape == (3, 4) and norm(tg.randn(2, 3, 4)).shape == (2, 3, 4)
    table = nn.Embedding(num_embeddings=5, embedding_dim=2)
    assert table(tg.tensor([[0, 4]])).shape == (1, 2, 2)
    with pytest.raises(TypeError, match="integers"):
        table(tg.tensor([0.0]))


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("running", tg.zeros(2))
        self.register_buffer("cache", tg.zeros(2), persistent=False)
        self.layers = nn.ModuleDict({"out": nn.Linear(2, 1)})

    def forward(self, x):
        return self.layers["out"](self.linear(x) + self.running + self.cache)


def test_module_buffers_apply_requires_grad_and_to():
    model = Scaled()
    assert [name for name, _ in model.named_buffers()] == ["running", "cache"]
    assert list(model.state_dict()) == ["running", "linear.weight", "linear.bias", "layers.out.weight",
                                        "layers.out.bias"]
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Linear", "ModuleDict", "Scaled"]
    model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert all(not p.numpy().any() for name, p in model.named_parameters() if name.endswith("bias"))
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.double()
    assert model.running.dtype == model.cache.dtype == model.linear.weight.dtype == np.float64
    assert model(tg.randn(4, 3, dtype=tg.float64)).shape == (4, 1)


def test_loss_modules_and_nll_options_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 4)), np.array([0, 3, -100, 1, 1, 2])
    weight = np.array([0.5, 1.0, 2.0, 1.5])
    ours = nn.CrossEntropyLoss(weight=weight)(tg.tensor(logits), tg.tensor(labels))
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight))(torch.tensor(logits), torch.tensor(labels))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    ours = F.cross_entropy(tg.tensor(logits), tg.tensor(labels), label_smoothing=0.2, reduction="sum")
    theirs = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), label_smoothing=0.2,
                                               reduction="sum")
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    targets = rng.random((6, 4))
    for ours_loss, theirs_loss in ((nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()),
                                   (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")),
                                   (nn.L1Loss(), torch.nn.L1Loss())):
        np.testing.assert_allclose(ours_loss(tg.tensor(logits), tg.tensor(targets)).item(),
                                   theirs_loss(torch.tensor(logits), torch.tensor(targets)).item(), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_smoothing_with_class_weights_and_ignore_index_matches_pytorch(reduction, weighted):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    weight = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    spatial_labels = rng.integers(0, 4, (3, 5))
    spatial_labels[0, 2] = -100
    for logits, labels in ((rng.standard_normal((6, 4)) * 3, np.array([0, 3, -100, 1, 1, 2])),
                           (rng.standard_normal((3, 4, 5)), spatial_labels)):  # (N, C) and (N, C, d)
        x = tg.tensor(logits, requires_grad=True)
        ours = nn.CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=0.2)(x, tg.tensor(labels))
        t = torch.tensor(logits, requires_grad=True)
        theirs = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.tensor(weight),
                                           reduction=reduction, label_smoothing=0.2)(t, torch.tensor(labels))
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_nll_loss_weights_and_ignore_index_gradient():
    labels = np.array([0, 2, -100, 1])
    weight = np.array([0.5, 1.0, 2.0])
    check_op(lambda x: F.cross_entropy(x, labels, weight), shapes=st.just(((4, 3),)))
    check_op(lambda x: F.cross_entropy(x, labels, label_smoothing=0.3), shapes=st.just(((4, 3),)))


# -- optim ------------------------------------------------------------------------------------------------------------
def test_step_with_a_closure_param_groups_and_integer_state_keys():
    tg.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = tg.randn(8, 3), tg.randn(8, 1)
    for optimizer in (optim.SGD(model.parameters(), lr=0.1), optim.Adam(model.parameters(), lr=0.1),
                      optim.AdamW(model.parameters(), lr=0.1)):
        def closure(optimizer=optimizer):
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        before = model.weight.numpy().copy()
        loss = optimizer.step(closure)
        assert isinstance(loss, Tensor) and not np.array_equal(model.weight.numpy(), before)
    optimizer = optim.SGD([{"params": [model.weight]}], lr=0.1)
    optimizer.add_param_group({"params": model.bias, "lr": 0.0})
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.0]
    bias = model.bias.numpy().copy()
    F.mse_loss(model(x), y).backward()
    optimizer.step()
    np.testing.assert_array_equal(model.bias.numpy(), bias)  # its group's lr 0 holds it
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [model.bias]})
    adam = optim.Adam(model.parameters())
    F.mse_loss(model(x), y).backward()
    adam.step()
    assert sorted(adam.state_dict()["state"]) == [0, 1]
