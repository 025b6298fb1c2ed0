"""The one training loop and the rules every run shares: weight decay by one rule, gradient accumulation, SAM's
closure, divergence, exact resume from its state; and the package's import arrows."""

import ast
import copy
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from mixer.loop import StepLoss, TrainingDiverged, TrainingLoop, optimizer_by_name, parameter_groups
from mixer.models import CONV_BLOCKS, STEMS, TOKEN_MIXERS, MLPMixer1D, build_model
from mixer.models.mae import MixerMAE
from mixer.models.vae import TabularVAE
from tinygrad_np import nn, optim

ROOT = Path(__file__).resolve().parents[2]


# -- weight decay ------------------------------------------------------------------------------------------------
def models():
    tg.manual_seed(0)
    return {
        "mlp-mixer": MLPMixer1D(seq_len=42, dim=8, depth=1, patch_size=3, categories={1: 5, 2: 4, 3: 3}),
        "lambda+inception": MLPMixer1D(seq_len=42, dim=8, depth=1, patch_size=3, token_mixer=TOKEN_MIXERS["lambda"],
                                       stem=STEMS["inception"]),
        "convnext": build_model("convnext", dim=8, depth=2, patch_size=3),
        "hybrid": build_model("hybrid", dim=8, depth=4, patch_size=3, block=CONV_BLOCKS["resnet"]),
        "resnext": build_model("resnext", dim=8, depth=2, patch_size=3),
        "mae": MixerMAE(seq_len=42, patch_size=3, dim=8, depth=1, decoder_dim=4),
        "mae-all": MixerMAE(seq_len=42, patch_size=3, dim=8, depth=1, decoder_dim=4, encoder_tokens="all"),
        "vae": TabularVAE(in_features=42, latent_dim=4, hidden=8),
    }


@pytest.mark.parametrize("name", list(models()))
def test_weight_decay_falls_on_the_linear_and_conv_weights_only(name):
    """Decay: the weights of Linear and Conv layers. No decay: biases, norm weights, embedding tables, position
    embeddings, mask tokens, layer scales -- the same rule for classifiers and pretrained models."""
    model = models()[name]
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d)
    expected = {id(module.weight) for module in model.modules() if isinstance(module, layers)}
    decayed, other = parameter_groups(model, 0.05)
    assert {id(p) for p in decayed["params"]} == expected and decayed["weight_decay"] == 0.05
    assert other["weight_decay"] == 0.0
    named = dict(model.named_parameters())
    assert {id(p) for p in other["params"]} == {id(p) for p in named.values()} - expected
    for never in ("position_embedding", "pos_embed", "decoder_pos_embed", "mask_token", "encoder_mask_token",
                  "category_embedding.weight", "relative_embedding", "norm.weight", "head.bias"):
        for key, p in named.items():
            if key.endswith(never):
                assert id(p) not in expected, key


def test_frozen_parameters_are_left_out_of_the_groups():
    model = models()["mlp-mixer"]
    model.embed.proj.weight.requires_grad = False
    grouped = {id(p) for group in parameter_groups(model, 0.1) for p in group["params"]}
    assert id(model.embed.proj.weight) not in grouped and id(model.embed.proj.bias) in grouped


# -- the loop ----------------------------------------------------------------------------------------------------
def regression(rows=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5], dtype=np.float32) + 0.3).astype(np.float32)
    return x, y


def make_loop(batch_size=8, accum_steps=1, optimizer="adam", seed=0, calls=None, **options):
    x, y = regression()
    tg.manual_seed(seed)
    model = nn.Linear(3, 1)

    def batch_loss(batch, step_rows):
        features, target = batch
        if calls is not None:
            calls.append(len(features))
        loss = ((model(features)[:, 0] - target) ** 2).sum()
        return StepLoss(loss / step_rows, loss.item(), {"rows": float(len(features))})

    opt = optimizer_by_name(optimizer, parameter_groups(model, 0.0), 0.05)
    return TrainingLoop(model, opt, None, num_rows=len(x), make_batch=lambda rows: (x[rows], y[rows]),
                        batch_loss=batch_loss, batch_size=batch_size, accum_steps=accum_steps,
                        order_rng=np.random.default_rng(seed), **options)


def test_accumulated_batches_give_the_step_of_one_big_batch():
    big, accumulated = make_loop(batch_size=16), make_loop(batch_size=8, accum_steps=2)
    big.train_epoch(1), accumulated.train_epoch(1)
    assert big.steps_per_epoch == accumulated.steps_per_epoch == 2
    np.testing.assert_allclose(accumulated.model.weight.numpy(), big.model.weight.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(accumulated.model.bias.numpy(), big.model.bias.numpy(), rtol=1e-5, atol=1e-6)


def test_records_hold_the_epoch_its_losses_and_the_evaluation():
    seen = []
    loop = make_loop(evaluate=lambda: {"holdout": {"loss": 1.0}})
    loop.run(2, seen.append)
    assert [record["epoch"] for record in seen] == [1, 2] and loop.history == seen
    x, y = regression()
    first = seen[0]
    assert set(first) == {"epoch", "lr", "train", "holdout", "seconds"} and first["holdout"] == {"loss": 1.0}
    assert first["train"]["rows"] == 1.0  # each term is the sum over batches / rows: 32 rows, 1 per row
    mse = float(((loop.model(x).numpy()[:, 0] - y) ** 2).mean())
    assert seen[1]["train"]["loss"] > mse * 0.5  # the mean over the epoch, not a sum


def test_a_non_finite_loss_stops_with_the_epoch_and_step():
    loop = make_loop()
    loop.model.bias.numpy()[...] = np.nan
    with pytest.raises(TrainingDiverged, match="nan at epoch 1, step 1"):
        loop.train_epoch(1)


def test_sam_steps_call_the_batch_loss_again_at_the_perturbed_weights():
    calls = []
    loop = make_loop(calls=calls, needs_closure=True)
    loop.optimizer = optim.SAM(list(loop.model.parameters()), loop.optimizer, rho=0.05)
    loop.train_epoch(1)
    assert calls == [8] * 8  # 4 steps, each: the gradient pass, then the closure's


def test_a_restored_loop_continues_bit_for_bit():
    whole = make_loop(optimizer="adamw")
    whole.run(1, lambda record: None)
    saved = copy.deepcopy({**whole.state(), "epoch": whole.epoch, "history": whole.history,
                           "model": whole.model.state_dict()})
    whole.run(3, lambda record: None)
    again = make_loop(optimizer="adamw", seed=5)  # other initial weights and order: all replaced by the state
    again.model.load_state_dict(saved["model"])
    again.restore(saved)
    again.run(3, lambda record: None)
    np.testing.assert_array_equal(again.model.weight.numpy(), whole.model.weight.numpy())
    assert [r["train"]["loss"] for r in again.history] == [r["train"]["loss"] for r in whole.history]


def test_the_loss_passed_in_is_what_backward_runs_on():
    """The loop backpropagates StepLoss.objective: scaling it scales the first update of plain SGD."""
    x, y = regression()
    updates = []
    for scale in (1.0, 3.0):
        tg.manual_seed(0)
        model = nn.Linear(3, 1)
        before = model.weight.numpy().copy()

        def batch_loss(batch, step_rows, model=model, scale=scale):
            loss = F.mse_loss(model(batch[0])[:, 0], batch[1], reduction="sum")
            return StepLoss(loss * (scale / step_rows), loss.item(), {})

        loop = TrainingLoop(model, optim.SGD(model.parameters(), lr=0.01), None, num_rows=32,
                            make_batch=lambda rows: (x[rows], y[rows]), batch_loss=batch_loss, batch_size=32,
                            order_rng=np.random.default_rng(0))
        loop.train_epoch(1)
        updates.append(model.weight.numpy() - before)
    np.testing.assert_allclose(updates[1], 3 * updates[0], rtol=1e-5)


# -- import arrows -----------------------------------------------------------------------------------------------
def imports_of(path: Path, package: str) -> set[str]:
    """The modules of `package` that the file at `path` imports (absolute or relative), at any level."""
    here = path.relative_to(ROOT).with_suffix("").parts[:-1]  # the package the file belongs to (or is)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            anchor = list(here[:len(here) - node.level + 1]) if node.level else []
            base = ".".join(anchor + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if name == package or name.startswith(package + ".")}
    return found


def test_mixer_modules_import_each_other_without_a_cycle_and_arrows_point_one_way():
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / "mixer").rglob("*.py")}
    graph = {name: {target for target in imports_of(path, "mixer") if target in files and target != name}
             for name, path in files.items()}
    assert graph["mixer.pretrain"] and "mixer.training" not in graph["mixer.pretrain"]
    assert "mixer.pretrain" not in graph["mixer.training"]  # the classifier knows no pretext task: checkpoints only
    for name, targets in graph.items():  # the models know nothing of runs, options or checkpoints
        if name.startswith("mixer.models"):
            assert all(target.startswith("mixer.models") for target in targets), (name, targets)
    state: dict[str, str] = {}

    def visit(node, trail):
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":
                cycle = trail[trail.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
    for path in (ROOT / "tinygrad_np").rglob("*.py"):
        assert not imports_of(path, "mixer"), f"{path} imports mixer (arrows: mixer -> tinygrad_np)"
    for path in files.values():
        assert not imports_of(path, "train"), f"{path} imports train.py (arrows: train.py -> mixer)"
