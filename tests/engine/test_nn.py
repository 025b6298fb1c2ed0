"""Modules and layers: the parameter walker, state dicts, init formulas, drop-path, training."""

import copy
import math

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, gradcheck, nn
from tinygrad_np.testing import broadcastable_shapes, check_op


class Block(nn.Module):
    def __init__(self, dim):
        self.norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return x + self.fc2(self.drop(F.gelu(self.fc1(self.norm(x)))))


class Net(nn.Module):
    def __init__(self):
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.heads = nn.ModuleDict({"main": nn.Linear(4, 1), "aux": nn.Linear(4, 2)})
        self.scale = nn.Parameter(np.ones(1))
        self.register_buffer("offsets", Tensor(np.zeros(4)))  # saved, not trained
        self.scratch = Tensor(np.zeros(2))  # a plain tensor attribute: neither (as in PyTorch)
        self.name = "not a tensor"

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["main"](x + self.offsets) * self.scale


def test_parameters_found_through_module_lists_dicts_and_modules():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    # PyTorch's order: a module's own parameters first, then its children's, in attribute order
    assert names[:7] == ["scale", "blocks.0.norm.weight", "blocks.0.norm.bias", "blocks.0.fc1.weight",
                         "blocks.0.fc1.bias", "blocks.0.fc2.weight", "blocks.0.fc2.bias"]
    assert "blocks.1.fc2.bias" in names and names[-1] == "heads.aux.bias"
    assert [name for name, _ in net.named_buffers()] == ["offsets"]
    assert list(net.state_dict()) == ["scale", "offsets", *names[1:]]
    expected = 2 * (4 + 4 + 4 * 8 + 8 + 8 * 4 + 4) + (4 + 1) + (8 + 2) + 1
    assert net.num_parameters() == expected == sum(p.numel() for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())


def test_shared_parameter_listed_once():
    net = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    net.tied = net[0]
    assert len(list(net.parameters())) == 2


def test_a_member_assigned_again_keeps_its_place():
    """PyTorch re-registers a parameter, buffer or child module in place: tying `decoder.weight` to the embedding
    (word_language_model's RNNModel) or replacing a child (its TransformerModel's `decoder`) keeps the key order."""

    class Tied(nn.Module):
        def __init__(self):
            self.encoder = nn.Embedding(5, 3)
            self.decoder = nn.Linear(3, 5)
            self.head = nn.Linear(3, 2)
            self.register_buffer("first", Tensor(np.zeros(1)))
            self.register_buffer("second", Tensor(np.zeros(1)))
            self.decoder.weight = self.encoder.weight
            self.encoder = nn.Embedding(5, 3)  # a child replaced
            self.first = Tensor(np.ones(1))  # a buffer assigned again
            self.register_buffer("second", Tensor(np.ones(1)), persistent=False)
            self.head.register_parameter("weight", nn.Parameter(np.zeros((2, 3))))

    net = Tied()
    assert list(net.state_dict()) == ["first", "encoder.weight", "decoder.weight", "decoder.bias", "head.weight",
                                      "head.bias"]
    assert [name for name, _ in net.named_buffers()] == ["first", "second"]
    assert list(net._modules) == ["encoder", "decoder", "head"]


def test_train_eval_recursive_and_dropout_obeys():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    x = Tensor(np.random.default_rng(0).normal(size=(5, 4)))
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())
    net.train()
    assert all(m.training for m in net.modules())
    assert not np.array_equal(net(x).numpy(), net(x).numpy())


def test_zero_grad_and_backward_fill_every_parameter():
    net = Net()
    F.mean(net(Tensor(np.ones((3, 4)))) ** 2).backward()
    used = [p for name, p in net.named_parameters() if not name.startswith("heads.aux")]
    assert all(p.grad is not None and p.grad.shape == p.shape for p in used)
    assert net.heads["aux"].weight.grad is None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_errors():
    tg.manual_seed(0)
    a = Net()
    tg.manual_seed(1)
    b = Net()
    x = Tensor(np.random.default_rng(2).normal(size=(3, 4)))
    a.eval(), b.eval()
    assert not np.array_equal(a(x).numpy(), b(x).numpy())
    state = a.state_dict()
    state["offsets"] = np.full(4, 0.5)
    b.load_state_dict(state)
    a.offsets.numpy()[...] = 0.5
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    snapshot = copy.deepcopy(a.state_dict())
    a.state_dict()["blocks.0.fc1.weight"].fill_(7)  # the state dict shares memory with the model, as in PyTorch
    assert (a.blocks[0].fc1.weight.numpy() == 7).all() and not (snapshot["blocks.0.fc1.weight"].numpy() == 7).any()

    bad = dict(a.state_dict())
    del bad["scale"]
    bad["extra.weight"] = np.zeros(2)
    bad["heads.aux.bias"] = np.zeros(3)
    with pytest.raises(RuntimeError) as error:
        b.load_state_dict(bad)
    message = str(error.value)
    assert "missing: scale" in message and "unexpected: extra.weight" in message
    assert "heads.aux.bias: checkpoint (3,), model (2,)" in message
    del bad["heads.aux.bias"]
    missing, unexpected = b.load_state_dict(bad, strict=False)
    assert missing == ["scale", "heads.aux.bias"] and unexpected == ["extra.weight"]
    assert b.load_state_dict(bad, strict=False).missing_keys == missing


def test_repr_tree():
    text = repr(nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Dropout(0.1)))
    assert text.splitlines() == ["Sequential(", "  (0): Linear(in_features=3, out_features=4, bias=True)",
                                 "  (1): GELU()", "  (2): Dropout(p=0.1)", ")"]
    assert "(blocks): ModuleList(\n    (0): Block(" in repr(Net())


def test_to_float64_for_gradcheck():
    tg.manual_seed(3)
    net = Net().to(np.float64).eval()
    assert all(p.dtype == np.float64 for p in net.parameters())
    x = Tensor(np.random.default_rng(0).normal(size=(2, 4)), dtype=np.float64)
    params = list(net.parameters())
    gradcheck(lambda *ps: net(x).sum(), *params)


@pytest.mark.parametrize("in_features,out_features", [(64, 16), (200, 300)])
def test_linear_init_matches_pytorch_formula(in_features, out_features):
    tg.manual_seed(0)
    layer = nn.Linear(in_features, out_features)
    bound = 1 / math.sqrt(in_features)  # kaiming_uniform(a=sqrt(5)): gain sqrt(2/6) * sqrt(3/fan_in)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.shape == (out_features, in_features) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.95 * bound
    # uniform(-bound, bound) has variance bound^2 / 3; the sample variance has sd ~ sqrt(4/5 / n) relative
    n = w.size
    assert abs(w.var() / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / n)


def test_init_functions():
    g = np.random.default_rng(0)
    w = nn.Parameter(np.zeros((400, 300)))
    nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
    assert abs(w.numpy().std() / math.sqrt(2 / 300) - 1) < 0.02
    nn.init.xavier_uniform_(w, generator=g)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 700) and abs(w.numpy().var() / (6 / 700 / 3) - 1) < 0.02
    nn.init.xavier_normal_(w, gain=2.0, generator=g)
    assert abs(w.numpy().std() / (2 * math.sqrt(2 / 700)) - 1) < 0.02
    nn.init.trunc_normal_(w, std=0.02, a=-0.03, b=0.03, generator=g)
    assert np.abs(w.numpy()).max() <= 0.03 and np.abs(w.numpy()).max() > 0.029
    # truncated at 1.5 sd: variance = 1 - 2 * 1.5 * pdf(1.5) / (2 * cdf(1.5) - 1)
    pdf, cdf = math.exp(-1.125) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(1.5 / math.sqrt(2)))
    assert abs(w.numpy().var() / (0.02**2 * (1 - 3 * pdf / (2 * cdf - 1))) - 1) < 0.02
    conv = nn.Parameter(np.zeros((8, 4, 3, 3)))
    assert nn.init.fan_in_and_out(conv.shape) == (36, 72)
    assert math.isclose(nn.init.calculate_gain("tanh"), 5 / 3)
    assert math.isclose(nn.init.calculate_gain("leaky_relu", math.sqrt(5)), 1 / math.sqrt(3))
    nn.init.zeros_(w), nn.init.ones_(conv)
    assert not w.numpy().any() and (conv.numpy() == 1).all()


def test_manual_seed_makes_init_and_dropout_reproducible():
    def run():
        tg.manual_seed(42)
        net = Net()
        return net(Tensor(np.ones((2, 4)))).numpy()
    np.testing.assert_array_equal(run(), run())


def test_drop_path_drops_whole_samples_and_keeps_the_mean():
    layer = nn.DropPath(0.25, generator=np.random.default_rng(0))
    x = Tensor(np.ones((4000, 3, 5)))
    out = layer(x).numpy()
    per_sample = out.reshape(4000, -1)
    np.testing.assert_allclose(np.unique(per_sample), [0.0, 1 / 0.75], rtol=1e-6)
    assert (per_sample == per_sample[:, :1]).all()  # one draw per sample
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.03
    assert abs(out.mean() - 1) < 0.04
    drop = nn.DropPath(0.5, batch_dim=1, generator=np.random.default_rng(1))
    tokens_first = drop(Tensor(np.ones((3, 200, 2)))).numpy()
    assert (tokens_first == tokens_first[:1, :, :1]).all() and 0 < (tokens_first[0, :, 0] == 0).mean() < 1
    layer.eval()
    assert layer(x) is x


def test_drop_path_gradient():
    check_op(lambda x: F.drop_path(x, 0.3, True, 0, np.random.default_rng(5)),
                        shapes=broadcastable_shapes(1, min_dims=1))


def test_embedding_gradient_adds_into_used_rows():
    table = nn.Embedding(5, 3)
    out = table(np.array([[1, 1], [4, 1]]))
    assert out.shape == (2, 2, 3)
    out.sum().backward()
    np.testing.assert_array_equal(table.weight.grad[:, 0], [0, 3, 0, 0, 1])
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        table(np.array([5]))


def test_layer_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(4, 3\)"):
        nn.Linear(3, 4)(Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\) must be the last dims"):
        nn.LayerNorm(4)(Tensor(np.zeros((2, 5))))


def test_linear_dim0_equals_transposed_dim_minus1():
    tg.manual_seed(0)
    layer = nn.Linear(3, 5, dim=0)
    x = np.random.default_rng(0).normal(size=(3, 2, 4)).astype(np.float32)
    expected = np.einsum("oi,ibc->obc", layer.weight.numpy(), x) + layer.bias.numpy()[:, None, None]
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_small_mlp_trains_forward_only_to_99_percent():
    """A two-layer MLP on a separable problem, with nothing but forward code and plain SGD."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    y = ((x[:, 0] ** 2 + x[:, 1] ** 2) < 1.0).astype(np.float32)[:, None]  # a disc: not linearly separable
    net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
    for _ in range(1500):
        loss = F.binary_cross_entropy_with_logits(net(Tensor(x)), y)
        net.zero_grad()
        loss.backward()
        for p in net.parameters():
            p.data -= 0.5 * p.grad
    accuracy = ((net(Tensor(x)).numpy() > 0) == (y > 0.5)).mean()
    assert accuracy >= 0.99
