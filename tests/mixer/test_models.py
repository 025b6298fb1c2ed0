"""The MLP-Mixer: the original's numbers reproduced, gradients through the whole model, shapes."""

import json
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
from mixer.models import MLPMixer1D, build_model
from mixer.seed_import import read_seed_checkpoint
from tinygrad_np import Tensor, gradcheck

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "seed-checkpoint"


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"seed fixture not found at {FIXTURE}")
def test_reproduces_the_original_codes_logits():
    """Parameters of a checkpoint written by the original hand-written code, loaded in file order,
    give the logits the original computed (eval mode) for the same 16 rows."""
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    config = manifest["config"]
    original = read_seed_checkpoint(FIXTURE / "mlpmixer16_patch3_depth2.npy", trust_pickle=True)
    model = MLPMixer1D(seq_len=config["seq_len"], in_channels=config["channels"], dim=config["dim"],
                       depth=config["depth"], patch_size=config["patch_size"], num_classes=config["num_classes"])
    names = [name for name, _ in model.named_parameters()]
    arrays = list(original["model_state"].values())
    assert [a.shape for a in arrays] == [p.shape for p in model.parameters()]
    model.load_state_dict(dict(zip(names, arrays, strict=True)))
    expected = np.load(FIXTURE / "expected.npz")
    logits = model.eval()(expected["inputs"]).numpy()
    np.testing.assert_allclose(logits, expected["logits"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("patch_size", [3, 4])
def test_gradients_through_the_whole_model(patch_size):
    tg.manual_seed(0)
    model = MLPMixer1D(seq_len=10, dim=6, depth=2, patch_size=patch_size).to(np.float64).eval()
    x = Tensor(np.random.default_rng(0).normal(size=(3, 10)), dtype=np.float64, requires_grad=True)
    gradcheck(lambda x, *params: model(x).sum(), x, *model.parameters())


def test_gradients_with_dropout_and_drop_path_in_training():
    model = MLPMixer1D(seq_len=8, dim=4, depth=3, patch_size=2, dropout=0.2, drop_path=0.3, num_classes=3)
    model.to(np.float64).train()
    x = np.random.default_rng(1).normal(size=(4, 8))

    def loss(*params):
        tg.manual_seed(5)  # the same masks on every evaluation
        return (model(Tensor(x, dtype=np.float64)) ** 2).sum()
    gradcheck(loss, *model.parameters())


def test_shapes_padding_and_errors():
    model = build_model("mlp-mixer", dim=8, depth=1, patch_size=5)
    assert model.num_tokens == 9 and model.padding == 3
    assert model(np.zeros((2, 42), np.float32)).shape == (2, 1)
    assert model(np.zeros((2, 42, 1), np.float32)).shape == (2, 1)
    with pytest.raises(ValueError, match=r"\(2, 40\)"):
        model(np.zeros((2, 40), np.float32))
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet", dim=8)
    multi = MLPMixer1D(in_channels=2, dim=8, depth=1, patch_size=3, num_classes=10)
    assert multi(np.zeros((5, 42, 2), np.float32)).shape == (5, 10)
    assert multi.embed.proj.in_features == 6


def test_drop_path_rises_linearly_and_token_mixing_is_over_tokens():
    model = MLPMixer1D(dim=8, depth=5, patch_size=3, drop_path=0.2)
    np.testing.assert_allclose([b.drop_path.p for b in model.blocks], [0, 0.05, 0.1, 0.15, 0.2])
    block = model.blocks[0]
    assert block.token_mixing.fc1.weight.shape == (56, 14) and block.channel_mixing.fc1.weight.shape == (4, 8)


def test_token_t_holds_features_3t_to_3t_plus_2():
    """Changing feature 7 changes only token 2 (features 6, 7, 8), as its middle value."""
    model = MLPMixer1D(dim=4, depth=1, patch_size=3)
    x = np.zeros((1, 42), np.float32)

    def patches(rows):
        return model.embed.patches(Tensor(rows.T[:, :, None])).numpy()  # from the features' rows (42, batch, 1)

    base, tokens = patches(x.copy()), model.embed(Tensor(x.copy())).numpy()
    x[0, 7] = 1
    assert np.argwhere(patches(x) != base).tolist() == [[2, 0, 1]]
    assert np.unique(np.argwhere(model.embed(Tensor(x)).numpy() != tokens)[:, 0]).tolist() == [2]


def test_training_steps_do_not_grow_memory_or_live_tensors():
    """Each step's tape is freed after backward: after warm-up, more Adam steps of a Mixer with
    dropout and drop-path hold no more traced memory and no more live Tensors."""
    import gc
    import tracemalloc

    from tinygrad_np import optim

    tg.manual_seed(0)
    model = MLPMixer1D(dim=16, depth=2, patch_size=3, dropout=0.1, drop_path=0.1)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 42)).astype(np.float32)
    y = (rng.random(64) < 0.5).astype(np.float32)

    def step():
        opt.zero_grad()
        loss = tg.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)
        loss.backward()
        opt.step()

    def live():
        gc.collect()
        return tracemalloc.get_traced_memory()[0], sum(issubclass(type(o), Tensor) for o in gc.get_objects())

    tracemalloc.start()
    try:
        for _ in range(3):
            step()
        memory, tensors = live()
        for _ in range(20):
            step()
        memory_after, tensors_after = live()
    finally:
        tracemalloc.stop()
    assert tensors_after <= tensors
    assert memory_after <= memory + 64 * 1024, f"traced memory grew by {memory_after - memory} bytes over 20 steps"


CATEGORIES = {1: 4, 2: 3, 6: 5}  # position: number of codes (0 is "unknown")


def _rows_with_codes(rows, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 10))
    for position, size in CATEGORIES.items():
        x[:, position] = rng.integers(0, size, rows)
    return x


def test_gradients_through_categorical_embeddings():
    tg.manual_seed(1)
    model = MLPMixer1D(seq_len=10, dim=6, depth=2, patch_size=3, categories=CATEGORIES).to(np.float64).eval()
    model.category_embedding.weight.numpy()[:] = np.random.default_rng(2).normal(size=(12, 6))
    x = Tensor(_rows_with_codes(5), dtype=np.float64)
    gradcheck(lambda *params: model(x).sum(), *model.parameters())


def test_categorical_embeddings_add_each_code_vector_to_its_token():
    tg.manual_seed(3)
    model = MLPMixer1D(seq_len=10, dim=4, depth=0, patch_size=3, categories=CATEGORIES).to(np.float64)
    x = _rows_with_codes(6, seed=4)
    weight = model.category_embedding.weight.numpy()
    np.testing.assert_array_equal(weight[[0, 4, 7]], 0.0)  # each column's unknown code starts at zero
    weight[:] = np.random.default_rng(5).normal(size=weight.shape)
    got = model.category_embedding(Tensor(x, dtype=np.float64)).numpy()
    expected = np.zeros((model.num_tokens, 6, 4))
    offsets = {1: 0, 2: 4, 6: 7}
    for row in range(6):
        for position, offset in offsets.items():
            expected[position // 3, row] += weight[offset + int(x[row, position])]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_categorical_positions_do_not_leak_their_code_into_the_patch_values():
    tg.manual_seed(6)
    embedded = MLPMixer1D(seq_len=10, dim=4, depth=1, patch_size=3, categories=CATEGORIES).to(np.float64).eval()
    plain = MLPMixer1D(seq_len=10, dim=4, depth=1, patch_size=3).to(np.float64).eval()
    plain.load_state_dict({k: v for k, v in embedded.state_dict().items() if "category" not in k})
    embedded.category_embedding.weight.numpy()[:] = 0.0
    x = _rows_with_codes(4, seed=7)
    zeroed = x.copy()
    zeroed[:, list(CATEGORIES)] = 0.0
    np.testing.assert_allclose(embedded(x).numpy(), plain(zeroed).numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("position", "value", "match"), [(2, 1.5, "feature 2 .* 0..2, got 1.5"),
                                                         (6, 5.0, "feature 6 .* 0..4, got 5.0"),
                                                         (1, -1.0, "feature 1 .* 0..3, got -1.0")])
def test_bad_category_codes_are_named(position, value, match):
    model = MLPMixer1D(seq_len=10, dim=4, depth=1, patch_size=3, categories=CATEGORIES)
    x = _rows_with_codes(3).astype(np.float32)
    x[2, position] = value
    with pytest.raises(ValueError, match=f"row 2, {match}"):
        model(x)
    with pytest.raises(ValueError, match=r"categorical positions must lie in \[0, 10\), got \(12,\)"):
        MLPMixer1D(seq_len=10, dim=4, depth=1, categories={12: 3})
    with pytest.raises(ValueError, match="code counts >= 1"):
        MLPMixer1D(seq_len=10, dim=4, depth=1, categories={2: 0})


def test_checkpoints_of_the_names_before_the_embedding_module_still_load():
    """Before `embed` held the tokenisation, its tensors were proj.*, stem.* and numeric_embedding.*: load_weights
    reads such a state dict into today's model (`MLPMixer1D.upgrade_state_dict`), and nothing else is renamed."""
    from mixer.checkpoint import load_weights
    from mixer.models import STEMS

    tg.manual_seed(2)
    model = MLPMixer1D(seq_len=10, dim=4, depth=1, patch_size=3, categories=CATEGORIES, stem=STEMS["inception"])
    saved = {name.removeprefix("embed."): array for name, array in model.state_dict().items()}
    assert {"proj.weight", "stem.branch1.weight", "category_embedding.weight", "blocks.0.token_norm.weight"} <= \
        set(saved)
    fresh = MLPMixer1D(seq_len=10, dim=4, depth=1, patch_size=3, categories=CATEGORIES, stem=STEMS["inception"])
    load_weights(fresh, saved, "old.npz")
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[name], array, err_msg=name)
    assert MLPMixer1D.upgrade_state_dict(model.state_dict()).keys() == model.state_dict().keys()
