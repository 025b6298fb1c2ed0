"""Conv blocks and the conv / hybrid models: gradients through every block and model (float64 finite
differences), shapes, layouts, drop-path in eval, the registry with training's keys, and errors."""

import functools

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from mixer.models import (
    CONV_BLOCKS,
    MODELS,
    ConvNeXt1D,
    ConvNeXtBlock1D,
    HybridMixer,
    ResNetBlock1D,
    ResNeXt1D,
    ResNeXtBlock1D,
    build_model,
)
from mixer.models.conv import split_depth
from tinygrad_np import Tensor, gradcheck, optim

TINY = {"seq_len": 10, "dim": 4, "depth": 4}


def float64_input(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).normal(size=shape), dtype=np.float64, requires_grad=True)


@pytest.mark.parametrize("make_block", [
    lambda: ConvNeXtBlock1D(4, kernel_size=3, layer_scale_init=0.7),
    lambda: ConvNeXtBlock1D(4, kernel_size=5, expansion=2, layer_scale_init=0.0),
    lambda: ResNeXtBlock1D(4),  # depthwise grouped conv
    lambda: ResNeXtBlock1D(4, kernel_size=5, expansion=1.5, groups=2),
    lambda: ResNetBlock1D(4),
], ids=["convnext", "convnext-no-layer-scale", "resnext-depthwise", "resnext-groups", "resnet"])
def test_block_gradients(make_block):
    tg.manual_seed(0)
    block = make_block().to(np.float64)
    x = float64_input(2, 4, 6)
    out = block(x)
    assert out.shape == x.shape
    gradcheck(lambda x, *params: block(x), x, *block.parameters())


@pytest.mark.parametrize("name, config", [
    ("convnext", {"kernel_size": 3}),
    ("resnext", {"depths": (1, 1)}),
    ("hybrid", {}),
    ("hybrid", {"block": ResNeXtBlock1D, "patch_size": 2}),
    ("hybrid", {"block": ResNetBlock1D, "depths": (3, 2), "num_stages": 2, "in_channels": 2}),
])
def test_model_gradients(name, config):
    tg.manual_seed(0)
    model = build_model(name, **{**TINY, **config}).to(np.float64).eval()
    in_channels = config.get("in_channels", 1)
    x = float64_input(3, 10, in_channels) if in_channels > 1 else float64_input(3, 10)
    gradcheck(lambda x, *params: model(x), x, *model.parameters(), mode="projection", n_projections=3)
    gradcheck(lambda x: model(x), x)  # every input element


def test_hybrid_model_gradient_every_parameter_element():
    tg.manual_seed(1)
    block = functools.partial(ConvNeXtBlock1D, kernel_size=3, expansion=1)
    model = HybridMixer(seq_len=6, dim=2, depth=4, block=block).to(np.float64).eval()
    assert model.stages[0].conv_blocks[0].dwconv.kernel_size == (3,)
    gradcheck(lambda *params: model(np.linspace(-1, 1, 12).reshape(2, 6)), *model.parameters())


@pytest.mark.parametrize("model_class", [ConvNeXt1D, ResNeXt1D, HybridMixer])
@pytest.mark.parametrize("patch_size", [1, 3])
def test_output_shapes_and_input_layouts(model_class, patch_size):
    tg.manual_seed(0)
    model = model_class(dim=8, depth=4, patch_size=patch_size, num_classes=3)
    x = np.random.default_rng(0).normal(size=(5, 42)).astype(np.float32)
    out = model(x)
    assert out.shape == (5, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(model(x[:, :, None]).numpy(), out.numpy())
    three_channels = model_class(dim=8, depth=4, in_channels=3, patch_size=patch_size)
    assert three_channels(np.zeros((2, 42, 3), dtype=np.float32)).shape == (2, 1)
    with pytest.raises(ValueError, match=r"expected \(batch, 42, 1\) or \(batch, 42\)"):
        model(np.zeros((5, 41)))


@pytest.mark.parametrize("name, config", [("convnext", {}), ("resnext", {}), ("hybrid", {}),
                                          ("hybrid", {"block": ResNeXtBlock1D}), ("hybrid", {"block": ResNetBlock1D})])
def test_float32_matches_float64(name, config):
    """The float32 path (chunked GELU kernels, C-ordered conv outputs) computes what float64 computes."""
    tg.manual_seed(0)
    model = build_model(name, dim=8, depth=6, **config).eval()
    x = np.random.default_rng(1).normal(size=(4, 42))
    single = model(x.astype(np.float32)).numpy()
    np.testing.assert_allclose(single, model.to(np.float64)(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["convnext", "resnext", "hybrid"])
def test_drop_path_is_off_in_eval(name):
    tg.manual_seed(0)
    dropping = build_model(name, dim=8, depth=4, drop_path=0.5, dropout=0.3)
    plain = build_model(name, dim=8, depth=4)
    plain.load_state_dict(dropping.state_dict())
    x = np.random.default_rng(2).normal(size=(16, 42)).astype(np.float32)
    dropping.train()
    assert not np.array_equal(dropping(x).numpy(), dropping(x).numpy())  # samples dropped at random while training
    dropping.eval()
    np.testing.assert_array_equal(dropping(x).numpy(), dropping(x).numpy())
    np.testing.assert_array_equal(dropping(x).numpy(), plain.eval()(x).numpy())


def test_drop_path_rises_linearly_over_all_blocks():
    model = HybridMixer(dim=4, depths=(3, 2), drop_path=0.4)
    blocks = [b for stage in model.stages for b in (*stage.conv_blocks, *stage.mixer_blocks)]
    np.testing.assert_allclose([b.drop_path.p for b in blocks], np.linspace(0, 0.4, 5))


def test_hybrid_stages_put_conv_blocks_first():
    model = HybridMixer(dim=4, depth=6, num_stages=2)
    assert [(len(s.conv_blocks), len(s.mixer_blocks)) for s in model.stages] == [(3, 1), (1, 1)]
    model = HybridMixer(dim=4, depths=(4, 3, 3), mixers_per_stage=2, block=CONV_BLOCKS["resnet"])
    assert [(len(s.conv_blocks), len(s.mixer_blocks)) for s in model.stages] == [(2, 2), (1, 2), (1, 2)]
    assert all(isinstance(b, ResNetBlock1D) for s in model.stages for b in s.conv_blocks)
    # channels double and lengths halve (rounded up) between stages: 42 -> 21 -> 11 tokens
    assert [s.mixer_blocks[0].token_mixing.fc1.in_features for s in model.stages] == [42, 21, 11]
    assert [s.mixer_blocks[0].channel_norm.normalized_shape for s in model.stages] == [(4,), (8,), (16,)]


def test_split_depth_front_loads():
    assert split_depth(4, 2) == (3, 1)
    assert split_depth(6, 3) == (3, 2, 1)
    assert split_depth(6, 2, minimum=2) == (4, 2)
    assert split_depth(4, 2, minimum=2) == (2, 2)
    assert sum(split_depth(17, 4)) == 17
    with pytest.raises(ValueError, match="depth=3 cannot fill num_stages=2 stages of at least 2 blocks"):
        split_depth(3, 2, minimum=2)


def test_registry_accepts_the_keys_training_passes():
    keys = {"dim": 8, "depth": 4, "patch_size": 3, "dropout": 0.1, "drop_path": 0.1, "num_classes": 1}
    assert set(MODELS) >= {"mlp-mixer", "convnext", "hybrid", "resnext"}
    for name in ("convnext", "resnext", "hybrid"):
        model = build_model(name, seq_len=42, in_channels=1, **keys)
        assert model(np.zeros((2, 42), dtype=np.float32)).shape == (2, 1)


@pytest.mark.parametrize("make, message", [
    (lambda: ConvNeXtBlock1D(4, kernel_size=4), "kernel_size must be odd"),
    (lambda: ResNeXtBlock1D(6, groups=4), r"groups=4 must divide the bottleneck width 6"),
    (lambda: HybridMixer(depths=(2, 1)), r"depths \(2, 1\) must be non-empty with at least 2 blocks per stage"),
    (lambda: ConvNeXt1D(dim=0), "must be >= 1"),
])
def test_errors_are_clear(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def held_out_accuracy(name, position_embedding):
    """120 Adam steps on 512 rows labelled by feature 5 > feature 30 (a rule on two feature
    IDENTITIES, further apart than any receptive field here), accuracy on 512 other rows."""
    tg.manual_seed(0)
    x = np.random.default_rng(3).normal(size=(1024, 42)).astype(np.float32)
    y = (x[:, 5] > x[:, 30]).astype(np.float32)[:, None]
    model = build_model(name, dim=8, depth=2, num_stages=1, position_embedding=position_embedding)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for step in range(120):
        rows = np.arange(step * 64, step * 64 + 64) % 512
        F.binary_cross_entropy_with_logits(model(x[rows]), y[rows]).backward()
        opt.step()
        opt.zero_grad()
    with tg.no_grad():
        return float(((model.eval()(x[512:]).numpy() > 0) == y[512:]).mean())


@pytest.mark.parametrize("name", ["convnext", "resnext", "hybrid"])
@pytest.mark.slow
def test_models_learn_a_rule_on_feature_positions(name):
    assert held_out_accuracy(name, position_embedding=True) > 0.6


@pytest.mark.slow
def test_position_embedding_lets_a_pure_conv_net_tell_features_apart():
    """Global average pooling makes a conv stack (nearly) blind to where a pattern is (measured:
    0.53 held-out accuracy without the embedding, 0.85 with it)."""
    assert held_out_accuracy("convnext", True) > held_out_accuracy("convnext", False) + 0.15
