"""A variational autoencoder for UNSW-NB15 rows (Kingma & Welling 2014, "Auto-Encoding Variational Bayes",
arXiv:1312.6114), and the latent-space augmentation that uses it to make new training rows for a classifier.

Written forward-only like every model here: the ELBO's gradient comes from the tape.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import tinygrad_np.nn.functional as F
from tinygrad_np import Tensor, nn, no_grad
from tinygrad_np.random import default_generator


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per row, in closed form (Kingma & Welling 2014, appendix B):
    0.5 * sum(exp(logvar) + mean^2 - 1 - logvar) over the latent dim."""
    return 0.5 * (logvar.exp() + mean * mean - 1.0 - logvar).sum(dim=-1)


def reparameterize(mean: Tensor, logvar: Tensor, noise: np.ndarray) -> Tensor:
    """z = mean + exp(logvar / 2) * noise with noise ~ N(0, I) drawn outside the tape (the reparameterisation
    trick, section 2.4), so the gradient reaches mean and logvar."""
    if noise.shape != mean.shape:
        raise ValueError(f"reparameterize: noise of shape {noise.shape} does not match mean of shape {mean.shape}")
    return mean + (0.5 * logvar).exp() * noise.astype(mean.dtype, copy=False)


class VAEOutput(NamedTuple):
    reconstruction: Tensor
    mean: Tensor
    logvar: Tensor
    z: Tensor


class ELBOTerms(NamedTuple):
    """loss = reconstruction + beta * kl (the negative ELBO), each averaged over the batch's rows."""

    loss: Tensor
    reconstruction: Tensor
    kl: Tensor


class TabularVAE(nn.Module):
    """MLP encoder (Linear -> GELU) to the mean and log-variance of a diagonal Gaussian posterior, the
    reparameterised sample, MLP decoder (Linear -> GELU -> Linear) back to `in_features` values.

    The reconstruction term is the squared error summed over a row's features: the Gaussian log-likelihood with a
    fixed variance of 1/2, up to a constant. `beta` (Higgins et al. 2017's beta-VAE) weights the KL term.
    """

    def __init__(self, in_features: int = 42, latent_dim: int = 8, hidden: int = 64):
        if min(in_features, latent_dim, hidden) < 1:
            raise ValueError(f"TabularVAE: in_features, latent_dim and hidden must be >= 1, got {in_features}, "
                             f"{latent_dim}, {hidden}")
        super().__init__()
        self.in_features, self.latent_dim, self.hidden = in_features, latent_dim, hidden
        self.encoder = nn.Linear(in_features, hidden)
        self.to_mean = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder_hidden = nn.Linear(latent_dim, hidden)
        self.decoder_out = nn.Linear(hidden, in_features)

    def config(self) -> dict[str, int]:
        """The constructor arguments, to rebuild this model from a checkpoint."""
        return {"in_features": self.in_features, "latent_dim": self.latent_dim, "hidden": self.hidden}

    def _input(self, x: Tensor | np.ndarray) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.encoder.weight.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"TabularVAE: expected input of shape (batch, {self.in_features}), got {x.shape}")
        return x

    def encode(self, x: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """(mean, logvar) of the posterior, each (batch, latent_dim)."""
        h = F.gelu(self.encoder(self._input(x)))
        return self.to_mean(h), self.to_logvar(h)

    def decode(self, z: Tensor | np.ndarray) -> Tensor:
        """Latent codes (batch, latent_dim) -> rows (batch, in_features)."""
        if not isinstance(z, Tensor):
            z = Tensor(z, dtype=self.encoder.weight.dtype)
        return self.decoder_out(F.gelu(self.decoder_hidden(z)))

    def forward(self, x: Tensor | np.ndarray, rng: np.random.Generator | None = None,
                noise: np.ndarray | None = None) -> VAEOutput:
        """Encode, sample z with `noise` (or standard normal draws from `rng`, the global seeded generator by
        default) and decode."""
        mean, logvar = self.encode(x)
        if noise is None:
            noise = (rng or default_generator()).standard_normal(mean.shape)
        z = reparameterize(mean, logvar, noise)
        return VAEOutput(self.decode(z), mean, logvar, z)

    def loss(self, x: Tensor | np.ndarray, beta: float = 1.0, rng: np.random.Generator | None = None,
             noise: np.ndarray | None = None) -> ELBOTerms:
        """The negative ELBO of a batch with a one-sample estimate of the reconstruction term (section 2.3)."""
        x = self._input(x)
        out = self.forward(x, rng, noise)
        difference = out.reconstruction - x
        reconstruction = (difference * difference).sum(dim=-1).mean()
        kl = kl_divergence(out.mean, out.logvar).mean()
        return ELBOTerms(reconstruction + beta * kl, reconstruction, kl)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, latent_dim={self.latent_dim}, hidden={self.hidden}"


class LatentAugmenter:
    """Make new training rows near the real ones: encode each row to its posterior mean, add Gaussian noise of
    standard deviation `noise_scale` in latent space (units of the N(0, I) prior), decode; each row of a batch is
    replaced by its decoded neighbour with probability `mix` (so a batch mixes originals and decoded rows).
    All draws come from `rng`, so a seeded run repeats exactly."""

    def __init__(self, vae: TabularVAE, noise_scale: float, rng: np.random.Generator, mix: float = 0.5):
        if noise_scale < 0 or not 0 <= mix <= 1:
            raise ValueError(f"LatentAugmenter: need noise_scale >= 0 and mix in [0, 1], got {noise_scale}, {mix}")
        self.vae, self.noise_scale, self.rng, self.mix = vae.eval(), noise_scale, rng, mix

    def noisy_latents(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(posterior means, the means plus noise_scale * N(0, I)), each (batch, latent_dim)."""
        with no_grad():
            mean = self.vae.encode(features)[0].numpy()
        return mean, mean + self.noise_scale * self.rng.standard_normal(mean.shape).astype(mean.dtype)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """A copy of the (batch, in_features) rows with about `mix` of them replaced by decoded noisy neighbours."""
        _, noisy = self.noisy_latents(features)
        replace = self.rng.random(len(features)) < self.mix
        with no_grad():
            decoded = self.vae.decode(noisy[replace]).numpy()
        mixed = np.array(features, copy=True)
        mixed[replace] = decoded.astype(mixed.dtype, copy=False)
        return mixed
