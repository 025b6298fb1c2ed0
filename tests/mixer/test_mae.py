"""The Mixer masked autoencoder (He et al. 2022): MAE's masking, the loss on removed patches only, gradients of the
whole model, pretraining end to end, and fine-tuning from (and freezing) its encoder."""

import json

import numpy as np
import pytest
from unsw_sample import needs_data, sample_folder

import tinygrad_np as tg
from mixer.cli import main
from mixer.models.mae import MixerMAE, kept_token_count, masked_patch_loss, random_masking, restore_order
from mixer.pretrain import MAEPretrainConfig, load_mae, pretrain_mae
from mixer.training import TrainConfig, Trainer
from tinygrad_np import Tensor, gradcheck


def tokens(num_tokens=14, batch=5, dim=3, seed=0, dtype=np.float64, requires_grad=False):
    values = np.random.default_rng(seed).normal(size=(num_tokens, batch, dim))
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)


# -- masking ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("num_tokens", "mask_ratio", "len_keep"), [(14, 0.5, 7), (14, 0.75, 3), (10, 0.9, 1),
                                                                    (10, 0.7, 3), (7, 0.0, 7)])
def test_masking_keeps_len_keep_tokens_and_ids_restore_inverts_the_shuffle(num_tokens, mask_ratio, len_keep):
    x = tokens(num_tokens)
    masking = random_masking(x, mask_ratio, np.random.default_rng(1))
    batch = x.shape[1]
    assert kept_token_count(num_tokens, mask_ratio) == len_keep
    assert masking.kept.shape == (len_keep, batch, 3)
    identity = np.broadcast_to(np.arange(num_tokens), (batch, num_tokens))
    np.testing.assert_array_equal(np.take_along_axis(masking.ids_shuffle, masking.ids_restore, axis=1), identity)
    np.testing.assert_array_equal(np.take_along_axis(masking.ids_restore, masking.ids_shuffle, axis=1), identity)
    for b in range(batch):  # the kept tokens are x's tokens at ids_keep, in shuffled order
        np.testing.assert_array_equal(masking.kept.numpy()[:, b], x.numpy()[masking.ids_keep[b], b])
    np.testing.assert_array_equal(masking.mask.sum(axis=1), np.full(batch, num_tokens - len_keep))
    kept_positions = np.zeros((batch, num_tokens), dtype=bool)
    np.put_along_axis(kept_positions, masking.ids_keep, True, axis=1)
    np.testing.assert_array_equal(masking.mask == 0, kept_positions)  # 1 = removed, in the original order


def test_masking_draws_per_sample_and_repeats_with_the_seed():
    first = random_masking(tokens(batch=8), 0.5, np.random.default_rng(3))
    again = random_masking(tokens(batch=8), 0.5, np.random.default_rng(3))
    np.testing.assert_array_equal(first.ids_shuffle, again.ids_shuffle)
    assert len({tuple(row) for row in first.ids_keep}) > 1  # each sample has its own noise


def test_gradients_reach_the_kept_tokens_only():
    x = tokens(requires_grad=True)
    masking = random_masking(x, 0.5, np.random.default_rng(2))
    (masking.kept * masking.kept).sum().backward()
    kept = (masking.mask == 0).T[:, :, None]
    np.testing.assert_allclose(x.grad, np.where(kept, 2 * x.numpy(), 0.0))


def test_restore_order_puts_kept_tokens_back_and_the_mask_token_elsewhere():
    x = tokens()
    masking = random_masking(x, 0.75, np.random.default_rng(4))
    mask_token = Tensor(np.full((1, 1, 3), 7.0), dtype=np.float64)
    restored = restore_order(masking.kept, mask_token, masking.ids_restore).numpy()
    removed = masking.mask.T[:, :, None] == 1
    np.testing.assert_array_equal(restored, np.where(removed, 7.0, x.numpy()))


def test_mask_ratios_that_keep_nothing_are_refused():
    with pytest.raises(ValueError, match="keeps no token"):
        kept_token_count(3, 0.7)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        kept_token_count(14, 1.0)


# -- the loss ----------------------------------------------------------------------------------------------------
def test_loss_ignores_kept_patches():
    rng = np.random.default_rng(5)
    prediction = Tensor(rng.normal(size=(6, 4, 3)), dtype=np.float64, requires_grad=True)
    target = rng.normal(size=(6, 4, 3))
    mask = np.zeros((4, 6))
    mask[:, [1, 4]] = 1
    loss = masked_patch_loss(prediction, target, mask)
    expected = ((prediction.numpy() - target) ** 2).mean(axis=-1)[[1, 4]].mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    changed = prediction.numpy().copy()
    changed[0, 2] += 100.0  # token 0 of sample 2 was kept
    assert masked_patch_loss(Tensor(changed, dtype=np.float64), target, mask).item() == loss.item()
    changed[4, 2] += 1.0  # token 4 was removed
    assert masked_patch_loss(Tensor(changed, dtype=np.float64), target, mask).item() != loss.item()
    loss.backward()
    assert not prediction.grad[mask.T == 0].any() and prediction.grad[mask.T == 1].any()


def test_model_loss_is_the_masked_loss_of_its_prediction_and_norm_pix_targets_are_standardised():
    tg.manual_seed(0)
    model = MixerMAE(seq_len=12, patch_size=3, dim=8, depth=1, decoder_dim=4, norm_pix_loss=True)
    x = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    out = model(x, np.random.default_rng(1))
    assert out.prediction.shape == (4, 5, 3) and out.mask.shape == (5, 4)
    target = model.target(model.patchify(x).numpy())
    np.testing.assert_allclose(target.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(target.std(axis=-1, ddof=1), 1.0, rtol=1e-3)
    assert out.loss.item() == pytest.approx(masked_patch_loss(out.prediction, target, out.mask).item(), rel=1e-6)


# -- gradients of the whole model -------------------------------------------------------------------------------
@pytest.mark.parametrize(("encoder_tokens", "norm_pix_loss"), [("kept", False), ("all", True)])
def test_gradcheck_of_the_whole_mae(encoder_tokens, norm_pix_loss):
    tg.manual_seed(1)
    model = MixerMAE(seq_len=7, patch_size=2, dim=4, depth=1, decoder_dim=3, decoder_depth=1, mask_ratio=0.5,
                     norm_pix_loss=norm_pix_loss, encoder_tokens=encoder_tokens, token_expansion=1.0).to(np.float64)
    x = np.random.default_rng(2).normal(size=(3, 7))  # 7 features: the last patch is zero-padded
    params = list(model.parameters())

    def loss(*_):
        return model(x, np.random.default_rng(0)).loss  # the same masks on every evaluation

    report = gradcheck(loss, *params, atol=1e-6, rtol=1e-4)
    assert report.checked == sum(p.numel() for p in params)


# -- downstream use ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder_tokens", ["kept", "all"])
def test_features_are_unmasked_and_the_classifier_starts_from_the_encoder(encoder_tokens):
    tg.manual_seed(2)
    model = MixerMAE(seq_len=42, patch_size=3, dim=8, depth=2, decoder_dim=4, mask_ratio=0.75,
                     encoder_tokens=encoder_tokens)
    x = np.random.default_rng(3).normal(size=(6, 42)).astype(np.float32)
    features = model.features(x).numpy()
    assert features.shape == (6, 8)
    np.testing.assert_array_equal(features, model.features(x).numpy())  # no random masking
    np.testing.assert_allclose(features[:1], model.features(x[:1]).numpy(), rtol=1e-5, atol=1e-6)  # rows independent
    classifier = model.classifier(num_classes=1)
    own = classifier.state_dict()
    state = model.classifier_state()
    for name, array in state.items():
        np.testing.assert_array_equal(own[name], array)
    token_mixing = {name for name in own if ".token_mixing." in name}
    if encoder_tokens == "all":
        assert set(state) == set(own) - {"head.weight", "head.bias"}
        np.testing.assert_allclose(classifier.norm(classifier.blocks[1](classifier.blocks[0](
            classifier.embed(Tensor(x))))).mean(axis=0).numpy(), features, rtol=1e-5, atol=1e-6)
    else:
        assert set(state) == set(own) - {"head.weight", "head.bias"} - token_mixing


# -- pretraining and fine-tuning on real rows --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """200 training rows (every 100th, so both classes) and 100 testing1 rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(200, 100), test=(100, 40), unlabelled_rows=25)


TINY = {"dim": 8, "depth": 2, "patch_size": 3}


@pytest.fixture(scope="module")
def pretrained(small_data, tmp_path_factory):
    """A tiny MAE pretrained through the command line for 2 epochs."""
    out = tmp_path_factory.mktemp("mae")
    code = main(["pretrain-mae", "--out", str(out), "--epochs", "2", "--dim", "8", "--depth", "2", "--patch-size", "3",
                 "--decoder-dim", "8", "--mask-ratio", "0.5", "--batch-size", "64", "--warmup-epochs", "0.5",
                 "--seed", "4", "--norm-pix-loss", "--data-dir", str(small_data)])
    assert code == 0
    return out


def fine_tune_config(folder, out, checkpoint, **overrides):
    values = dict(**TINY, epochs=1, batch_size=64, warmup_epochs=0.5, seed=4, data_dir=str(folder), out=str(out),
                  init_from_mae=str(checkpoint) if checkpoint else None, numeric_embedding="none")  # the MAE's inputs
    return TrainConfig.from_dict({**values, **overrides})


@needs_data
@pytest.mark.slow
def test_pretraining_writes_checkpoint_metrics_and_plot_and_repeats_with_the_seed(pretrained, small_data, tmp_path):
    for name in ("mae.npz", "metrics.jsonl", "reconstruction_loss.png", "config.json"):
        assert (pretrained / name).is_file(), name
    history = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1, 2]
    assert all(np.isfinite(record["train"]["loss"]) and np.isfinite(record["holdout"]["loss"]) for record in history)
    model, checkpoint = load_mae(pretrained / "mae.npz")
    assert checkpoint["epoch"] == 2 and model.norm_pix_loss and model.len_keep == 7
    assert checkpoint["config"]["holdout"] == 0.1  # the classifier's hold-out stays out of pretraining
    again = pretrain_mae(MAEPretrainConfig.from_dict(dict(
        epochs=2, dim=8, depth=2, patch_size=3, decoder_dim=8, batch_size=64, warmup_epochs=0.5, seed=4,
        norm_pix_loss=True, data_dir=str(small_data), out=str(tmp_path / "again"))), log=lambda text: None)
    repeated, _ = load_mae(again["checkpoint"])
    for (name, array), other in zip(model.state_dict().items(), repeated.state_dict().values(), strict=True):
        np.testing.assert_array_equal(array, other, err_msg=name)


@needs_data
@pytest.mark.slow
def test_fine_tuning_starts_from_the_encoder_weights(pretrained, small_data, tmp_path):
    mae, _ = load_mae(pretrained / "mae.npz")
    trainer = Trainer(fine_tune_config(small_data, tmp_path / "ft", pretrained / "mae.npz"), log=lambda text: None)
    own = trainer.model.state_dict()
    state = mae.classifier_state()
    assert state and not any(".token_mixing." in name for name in state)  # "kept" encoder: token MLPs re-initialised
    for name, array in state.items():
        np.testing.assert_array_equal(own[name], array, err_msg=name)
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in trainer.model.parameters()}  # not frozen: everything trains
    scratch = Trainer(fine_tune_config(small_data, tmp_path / "scratch", None), log=lambda text: None)
    assert tg.get_rng_state() == scratch.state()["rng"]["global"]  # loading the MAE left the dropout stream alone
    np.testing.assert_array_equal(scratch.model.state_dict()["head.weight"], own["head.weight"])  # same fresh head


@needs_data
@pytest.mark.slow
def test_frozen_encoder_stays_unchanged_after_a_step(pretrained, small_data, tmp_path):
    config = fine_tune_config(small_data, tmp_path / "probe", pretrained / "mae.npz", freeze_encoder=True)
    trainer = Trainer(config, log=lambda text: None)
    frozen = set(load_mae(pretrained / "mae.npz")[0].classifier_state())
    before = trainer.model.state_dict()
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not optimised & {id(p) for name, p in trainer.model.named_parameters() if name in frozen}
    trainer.train_epoch()
    after = trainer.model.state_dict()
    for name in frozen:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert not np.array_equal(after["head.weight"], before["head.weight"])
    assert not np.array_equal(after["blocks.0.token_mixing.fc1.weight"], before["blocks.0.token_mixing.fc1.weight"])


@needs_data
@pytest.mark.slow
def test_fine_tuning_refuses_a_classifier_of_another_shape_and_freezing_without_an_encoder(pretrained, small_data,
                                                                                            tmp_path):
    with pytest.raises(ValueError, match="--dim 8"):
        Trainer(fine_tune_config(small_data, tmp_path / "wide", pretrained / "mae.npz", dim=16), log=lambda t: None)
    with pytest.raises(ValueError, match="--freeze-encoder does not apply without --init-from-mae"):
        TrainConfig.from_dict({"freeze_encoder": True})
    assert main(["--freeze-encoder", "--out", str(tmp_path / "x"), "--data-dir", str(small_data)]) == 1


@needs_data
@pytest.mark.slow
def test_pretraining_is_resumed_and_extended_like_a_classifier_run(pretrained, tmp_path, capsys):
    """mae.npz carries the loop's state: --resume --epochs 3 continues the 2-epoch run into a new folder."""
    out = tmp_path / "longer"
    assert main(["pretrain-mae", "--resume", str(pretrained / "mae.npz"), "--epochs", "3", "--out", str(out)]) == 0
    assert "extending the run to 3 epochs" in capsys.readouterr().out
    before = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    after = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in after] == [1, 2, 3] and after[:2] == before
    model, checkpoint = load_mae(out / "mae.npz")
    assert checkpoint["epoch"] == 3 and checkpoint["config"]["epochs"] == 3
    assert main(["pretrain-mae", "--resume", str(pretrained / "mae.npz"), "--dim", "16"]) == 1
    assert "only --epochs (to extend it), --data-dir and --out may be given, not --dim" in capsys.readouterr().err
