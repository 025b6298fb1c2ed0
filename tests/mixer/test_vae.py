"""The tabular VAE (Kingma & Welling 2014): closed-form KL, seeded reparameterisation, gradients of the ELBO, and
the classifier's latent-noise augmentation (off: bit-identical to the plain run; on: noise of the set scale)."""

import json
from pathlib import Path

import numpy as np
import pytest
from unsw_sample import needs_data, sample_folder

import tinygrad_np as tg
from mixer.models.vae import LatentAugmenter, TabularVAE, kl_divergence, reparameterize
from mixer.pretrain import VAEPretrainConfig, load_vae, pretrain_vae
from mixer.training import TrainConfig, Trainer
from tinygrad_np import Tensor, gradcheck


def test_kl_closed_form_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mean, logvar = rng.normal(size=(3, 4)), rng.normal(scale=0.7, size=(3, 4))
    closed = kl_divergence(Tensor(mean, dtype=np.float64), Tensor(logvar, dtype=np.float64)).numpy()
    std = np.exp(0.5 * logvar)
    z = mean + std * rng.standard_normal((200_000, 3, 4))
    log_q = -0.5 * (((z - mean) / std) ** 2 + logvar + np.log(2 * np.pi))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    samples = (log_q - log_p).sum(axis=-1)  # (samples, rows)
    standard_error = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - closed) < 5 * standard_error)
    assert kl_divergence(Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 4)))).numpy() == pytest.approx(0.0)


def test_reparameterisation_is_repeatable_with_the_seed():
    tg.manual_seed(0)
    model = TabularVAE(in_features=6, latent_dim=3, hidden=5)
    x = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    first = model(x, rng=np.random.default_rng(7))
    again = model(x, rng=np.random.default_rng(7))
    other = model(x, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(first.z.numpy(), again.z.numpy())
    np.testing.assert_array_equal(first.reconstruction.numpy(), again.reconstruction.numpy())
    assert not np.array_equal(first.z.numpy(), other.z.numpy())
    noise = np.random.default_rng(7).standard_normal((4, 3))
    expected = first.mean.numpy() + np.exp(0.5 * first.logvar.numpy()) * noise
    np.testing.assert_allclose(first.z.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        reparameterize(first.mean, first.logvar, noise[:2])


def test_elbo_is_reconstruction_plus_beta_kl():
    tg.manual_seed(1)
    model = TabularVAE(in_features=5, latent_dim=2, hidden=4).to(np.float64)
    x = np.random.default_rng(2).normal(size=(6, 5))
    noise = np.random.default_rng(3).standard_normal((6, 2))
    terms = model.loss(x, beta=0.3, noise=noise)
    out = model(x, noise=noise)
    reconstruction = ((out.reconstruction.numpy() - x) ** 2).sum(axis=1).mean()
    kl = (0.5 * (np.exp(out.logvar.numpy()) + out.mean.numpy() ** 2 - 1 - out.logvar.numpy()).sum(axis=1)).mean()
    assert terms.reconstruction.item() == pytest.approx(reconstruction, rel=1e-12)
    assert terms.kl.item() == pytest.approx(kl, rel=1e-12)
    assert terms.loss.item() == pytest.approx(reconstruction + 0.3 * kl, rel=1e-12)


def test_gradcheck_of_the_elbo_with_a_fixed_noise_draw():
    tg.manual_seed(2)
    model = TabularVAE(in_features=5, latent_dim=2, hidden=4).to(np.float64)
    x = Tensor(np.random.default_rng(4).normal(size=(3, 5)), dtype=np.float64, requires_grad=True)
    noise = np.random.default_rng(5).standard_normal((3, 2))
    params = list(model.parameters())
    report = gradcheck(lambda x, *_: model.loss(x, beta=0.5, noise=noise).loss, x, *params, atol=1e-6, rtol=1e-4)
    assert report.checked == x.numel() + sum(p.numel() for p in params)


def test_latent_noise_has_the_set_scale_and_mixes_decoded_rows_with_originals():
    tg.manual_seed(3)
    vae = TabularVAE(in_features=6, latent_dim=4, hidden=8)
    rows = np.random.default_rng(6).normal(size=(5000, 6)).astype(np.float32)
    mean, noisy = LatentAugmenter(vae, 0.3, np.random.default_rng(0)).noisy_latents(rows)
    np.testing.assert_allclose(mean, vae.encode(rows)[0].numpy())
    shift = noisy - mean
    assert abs(shift.mean()) < 0.01 and shift.std() == pytest.approx(0.3, rel=0.02)
    np.testing.assert_allclose(shift.std(axis=0), 0.3, rtol=0.05)  # the same scale in every latent direction

    augmented = LatentAugmenter(vae, 0.3, np.random.default_rng(1))(rows)
    repeated = LatentAugmenter(vae, 0.3, np.random.default_rng(1))(rows)
    np.testing.assert_array_equal(augmented, repeated)
    replaced = np.any(augmented != rows, axis=1)
    assert 0.45 < replaced.mean() < 0.55  # about half of the rows are decoded neighbours
    rng = np.random.default_rng(1)
    expected_noisy = vae.encode(rows)[0].numpy() + 0.3 * rng.standard_normal((5000, 4)).astype(np.float32)
    chosen = rng.random(5000) < 0.5
    np.testing.assert_array_equal(replaced, chosen)
    np.testing.assert_allclose(augmented[chosen], vae.decode(expected_noisy[chosen]).numpy(), rtol=1e-5, atol=1e-6)


# -- the classifier's augmentation on real rows ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """200 training rows (every 100th, so both classes) and 100 testing1 rows."""
    return sample_folder(tmp_path_factory.mktemp("unsw"), train=(200, 100), test=(100, 40), unlabelled_rows=25)


@pytest.fixture(scope="module")
def vae_checkpoint(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("vae")
    result = pretrain_vae(VAEPretrainConfig.from_dict(dict(epochs=2, batch_size=64, warmup_epochs=0.5, latent_dim=4,
                                                           hidden=16, seed=5, data_dir=str(small_data), out=str(out))),
                          log=lambda text: None)
    return Path(result["checkpoint"])


def classifier_config(folder, out, **overrides):
    values = dict(dim=8, depth=1, patch_size=3, epochs=2, batch_size=64, warmup_epochs=0.5, seed=5, dropout=0.1,
                  categorical="numeric", numeric_embedding="none", data_dir=str(folder), out=str(out))
    return TrainConfig.from_dict({**values, **overrides})


def trained_state(config):
    trainer = Trainer(config, log=lambda text: None)
    trainer.fit()
    return trainer.state()


@pytest.fixture(scope="module")
def plain(small_data, tmp_path_factory):
    """The classifier's state after a run without latent augmentation."""
    return trained_state(classifier_config(small_data, tmp_path_factory.mktemp("plain") / "run"))


@needs_data
@pytest.mark.slow
def test_vae_pretraining_writes_checkpoint_metrics_and_plot(vae_checkpoint):
    out = vae_checkpoint.parent
    for name in ("vae.npz", "metrics.jsonl", "elbo_loss.png", "config.json"):
        assert (out / name).is_file(), name
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 2 and {"loss", "reconstruction", "kl"} == set(history[0]["train"]) == set(
        history[0]["holdout"])
    model, checkpoint = load_vae(vae_checkpoint)
    assert model.latent_dim == 4 and checkpoint["epoch"] == 2


@needs_data
@pytest.mark.slow
def test_latent_augmentation_off_is_bit_identical_to_the_plain_run(small_data, vae_checkpoint, plain, tmp_path):
    off = trained_state(classifier_config(small_data, tmp_path / "off", latent_noise=0.0,
                                          latent_model=str(vae_checkpoint)))
    for name, array in plain["model"].items():
        np.testing.assert_array_equal(off["model"][name], array, err_msg=name)
    assert off["rng"] == plain["rng"] and "latent" not in off["rng"]


@needs_data
@pytest.mark.slow
def test_latent_augmentation_on_changes_training_and_repeats_with_the_seed(small_data, vae_checkpoint, plain,
                                                                          tmp_path):
    settings = {"latent_noise": 0.5, "latent_model": str(vae_checkpoint)}
    on = trained_state(classifier_config(small_data, tmp_path / "on", **settings))
    again = trained_state(classifier_config(small_data, tmp_path / "again", **settings))
    assert not np.array_equal(on["model"]["head.weight"], plain["model"]["head.weight"])
    for name, array in on["model"].items():
        np.testing.assert_array_equal(again["model"][name], array, err_msg=name)
    assert on["rng"]["global"] == plain["rng"]["global"] and "latent" in on["rng"]  # its own random stream


@needs_data
@pytest.mark.slow
def test_latent_augmentation_needs_a_vae_with_the_same_preprocessing(small_data, vae_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="--latent-noise 0.5 needs --latent-model"):
        TrainConfig.from_dict({"latent_noise": 0.5})
    with pytest.raises(ValueError, match="--preprocess quantile"):
        Trainer(classifier_config(small_data, tmp_path / "seed", preprocess="seed", latent_noise=0.5,
                                  latent_model=str(vae_checkpoint)), log=lambda text: None)
