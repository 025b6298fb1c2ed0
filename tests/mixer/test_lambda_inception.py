"""LambdaLayer1D against an einsum reference and gradient checks, InceptionBlock1D, and the Mixer with a lambda
token mixer or an inception stem -- with the defaults unchanged."""

import functools

import numpy as np
import pytest

import tinygrad_np as tg
from mixer.models import (
    STEMS,
    TOKEN_MIXERS,
    InceptionBlock1D,
    LambdaLayer1D,
    MixerBlock,
    MLPMixer1D,
    build_model,
    lambda_token_mixer,
    mlp_token_mixer,
)
from tinygrad_np import Tensor, gradcheck


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def lambda_reference(layer, x):
    """The lambda layer written with einsum from the paper's equations, on (tokens, batch, dim) float64."""
    n, b, _ = x.shape
    h, k, u, v = layer.heads, layer.dim_k, layer.dim_u, layer.dim_v
    q = (x @ layer.to_queries.weight.numpy().T).reshape(n, b, h, k)
    keys = softmax((x @ layer.to_keys.weight.numpy().T).reshape(n, b, u, k), axis=0)
    values = (x @ layer.to_values.weight.numpy().T).reshape(n, b, u, v)
    table = layer.relative_embedding.numpy()
    embeddings = np.zeros((n, n, k, u))
    for i in range(n):
        for j in range(n):
            if layer.r is None:
                embeddings[i, j] = table[i - j + n - 1]
            elif abs(i - j) <= layer.r:
                embeddings[i, j] = table[i - j + layer.r]
    content = np.einsum("mbuk,mbuv->bkv", keys, values)
    position = np.einsum("nmku,mbuv->nbkv", embeddings, values)
    return np.einsum("nbhk,nbkv->nbhv", q, content[None] + position).reshape(n, b, h * v)


def tiny_lambda(r=None, batch_first=False):
    tg.manual_seed(1)
    return LambdaLayer1D(dim=4, dim_k=3, heads=2, dim_u=2, r=r, num_positions=5, batch_first=batch_first).to(np.float64)


@pytest.mark.parametrize("r", [None, 1])
def test_lambda_layer_matches_the_einsum_reference_in_both_layouts(r):
    x = np.random.default_rng(0).normal(size=(5, 3, 4))
    expected = lambda_reference(tiny_lambda(r), x)
    np.testing.assert_allclose(tiny_lambda(r)(Tensor(x, dtype=np.float64)).numpy(), expected, rtol=1e-12, atol=1e-12)
    batch_first = tiny_lambda(r, batch_first=True)(Tensor(x.transpose(1, 0, 2), dtype=np.float64)).numpy()
    np.testing.assert_allclose(batch_first, expected.transpose(1, 0, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("r", [None, 0, 2])
def test_lambda_layer_gradients(r):
    layer = tiny_lambda(r)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 2, 4)), dtype=np.float64, requires_grad=True)
    gradcheck(lambda x, *params: layer(x), x, *layer.parameters())


def test_local_lambda_is_banded_works_for_any_length_and_equals_global_at_full_radius():
    local = tiny_lambda(r=1)
    embeddings = local.position_embeddings(6).numpy()
    band = np.abs(np.arange(6)[:, None] - np.arange(6)[None, :]) <= 1
    assert embeddings.shape == (6, 6, 3, 2)
    assert not embeddings[~band].any() and embeddings[band].all()
    assert local(Tensor(np.ones((9, 2, 4)), dtype=np.float64)).shape == (9, 2, 4)  # no fixed length when local
    full = tiny_lambda(r=4)  # radius n - 1: the same table shape and indexing as the global variant
    full.load_state_dict(tiny_lambda().state_dict())
    x = Tensor(np.random.default_rng(2).normal(size=(5, 2, 4)), dtype=np.float64)
    np.testing.assert_array_equal(full(x).numpy(), tiny_lambda()(x).numpy())


def test_lambda_layer_errors():
    with pytest.raises(ValueError, match="divide"):
        LambdaLayer1D(dim=6, dim_k=2, heads=4, num_positions=3)
    with pytest.raises(ValueError, match="num_positions"):
        LambdaLayer1D(dim=4, dim_k=2, heads=2)
    with pytest.raises(ValueError, match="radius"):
        LambdaLayer1D(dim=4, dim_k=2, heads=2, r=-1)
    with pytest.raises(ValueError, match="built for 5 tokens"):
        tiny_lambda()(Tensor(np.zeros((4, 2, 4)), dtype=np.float64))
    with pytest.raises(ValueError, match=r"\(tokens, batch, dim\)"):
        tiny_lambda()(Tensor(np.zeros((5, 2, 3)), dtype=np.float64))


def test_inception_block_shapes_branches_and_gradients():
    tg.manual_seed(2)
    block = InceptionBlock1D(2, 5).to(np.float64)
    assert block.branch_channels == (2, 1, 1, 1)
    x = Tensor(np.random.default_rng(3).normal(size=(2, 2, 7)), dtype=np.float64, requires_grad=True)
    out = block(x)
    assert out.shape == (2, 5, 7)
    gradcheck(lambda x, *params: block(x), x, *block.parameters())
    wide = InceptionBlock1D(3, 12, branch_channels=(6, 2, 2, 2), reduce_channels=4)
    assert wide(np.zeros((1, 3, 9), np.float32)).shape == (1, 12, 9)
    assert wide.branch3[0].out_channels == 4
    with pytest.raises(ValueError, match="four branch widths"):
        InceptionBlock1D(1, 3)
    with pytest.raises(ValueError, match=r"\(batch, 3, length\)"):
        wide(np.zeros((1, 2, 9), np.float32))


@pytest.mark.parametrize("options", [dict(token_mixer=lambda_token_mixer(heads=2, dim_k=2)),
                                     dict(token_mixer=lambda_token_mixer(heads=2, dim_k=2, radius=1, dim_u=2)),
                                     dict(stem=functools.partial(InceptionBlock1D, out_channels=4))])
def test_mixer_gradients_with_a_lambda_token_mixer_or_an_inception_stem(options):
    tg.manual_seed(3)
    model = MLPMixer1D(seq_len=7, dim=4, depth=2, patch_size=2, num_classes=2, **options).to(np.float64).eval()
    assert model.num_tokens == 4 and model.padding == 1
    x = Tensor(np.random.default_rng(4).normal(size=(3, 7)), dtype=np.float64, requires_grad=True)
    assert model(x).shape == (3, 2)
    gradcheck(lambda x, *params: model(x), x, *model.parameters())


def test_lambda_mixer_block_and_the_registry_of_choices():
    block = MixerBlock(num_tokens=6, dim=8, channel_expansion=0.5, token_mixer=lambda_token_mixer(heads=2))
    assert isinstance(block.token_mixing, LambdaLayer1D) and block.token_mixing.num_positions == 6
    assert block.token_mixing.heads == 2 and block.channel_mixing.fc1.out_features == 4
    assert block(Tensor(np.zeros((6, 3, 8)))).shape == (6, 3, 8)
    model = build_model("mlp-mixer", dim=8, depth=1, patch_size=3, token_mixer=TOKEN_MIXERS["lambda"],
                        stem=STEMS["inception"])
    assert model(np.zeros((2, 42), np.float32)).shape == (2, 1)
    assert model.embed.proj.in_features == 3 * 16  # the inception stem's 16 channels per feature
    assert isinstance(model.embed.stem, InceptionBlock1D)
    assert all(isinstance(b.token_mixing, LambdaLayer1D) for b in model.blocks)
    assert TOKEN_MIXERS["mlp"] is None and STEMS["linear"] is None  # the defaults: the token MLP, linear patches


# Recorded from the code before token_mixer/stem existed: tg.manual_seed(123), MLPMixer1D(seq_len=10,
# dim=8, depth=2, patch_size=3, num_classes=2) in float64, eval, on default_rng(5).normal(size=(3, 10)).
DEFAULT_LOGITS = [[-0.2869110794857342, -0.1157814413059648], [-0.5254822656276674, 0.13383304131281043],
                  [-0.22148037929749417, 0.4445448753679384]]
BLOCK_PARAMETERS = ["token_norm.weight", "token_norm.bias", "token_mixing.fc1.weight", "token_mixing.fc1.bias",
                    "token_mixing.fc2.weight", "token_mixing.fc2.bias", "channel_norm.weight", "channel_norm.bias",
                    "channel_mixing.fc1.weight", "channel_mixing.fc1.bias", "channel_mixing.fc2.weight",
                    "channel_mixing.fc2.bias"]
DEFAULT_PARAMETERS = ["embed.proj.weight", "embed.proj.bias",
                      *[f"blocks.{i}.{name}" for i in range(2) for name in BLOCK_PARAMETERS],
                      "norm.weight", "norm.bias", "head.weight", "head.bias"]


@pytest.mark.parametrize("options", [{}, dict(token_mixer=mlp_token_mixer(), stem=None)])
def test_the_default_mlp_and_linear_paths_are_unchanged(options):
    tg.manual_seed(123)
    model = MLPMixer1D(seq_len=10, dim=8, depth=2, patch_size=3, num_classes=2, **options).to(np.float64).eval()
    assert [name for name, _ in model.named_parameters()] == DEFAULT_PARAMETERS
    x = np.random.default_rng(5).normal(size=(3, 10))
    np.testing.assert_allclose(model(x).numpy(), DEFAULT_LOGITS, rtol=1e-10, atol=1e-12)
