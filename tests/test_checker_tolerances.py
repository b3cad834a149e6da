"""Every checker's tolerance, from both sides: a near-correct wrong answer just outside a case's tolerance fails (on
that very case), and a correct answer with float noise (computed in another precision, or nudged well inside the
tolerance) passes. So a tolerance made a thousand times looser, or one so tight that rounding fails a right answer,
is noticed here.

Each row: (checker, the learner's function, True when it must pass, else a fragment of the case it must fail on).
The nudges are stated against the cases' tolerances: `atol + rtol * |expected|` (see `checks._core.Case`)."""
import copy
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from tutorial_lib import checks, conditional, divergences, gan, metrics, vae


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)  # a failing check returns False instead of raising


def _map(value, change):
    """`change` applied to every tensor and number in `value` (tuples and lists kept)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_map(v, change) for v in value)
    if torch.is_tensor(value) or isinstance(value, (float, int)) and not isinstance(value, bool):
        return change(value)
    return value


def nudged(fn, delta=0.0, factor=1.0, when=None):
    """fn with its outputs multiplied by `factor` and shifted by `delta` (only for inputs where `when(*args)`)."""
    def nudge(*args, **kwargs):
        out = fn(*args, **kwargs)
        if when is not None and not when(*args, **kwargs):
            return out
        return _map(out, lambda v: v * factor + delta)
    return nudge


def in_precision(fn, dtype):
    """fn computed with every float tensor argument cast to `dtype`, its outputs cast back to the inputs' dtype:
    a correct answer carrying the rounding of another precision."""
    def cast(*args, **kwargs):
        floats = [a for a in args if torch.is_tensor(a) and a.is_floating_point()]
        back = floats[0].dtype if floats else torch.float32
        args = [a.to(dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
        out = fn(*args, **kwargs)
        return _map(out, lambda v: v.to(back) if torch.is_tensor(v) and v.is_floating_point() else v)
    return cast


def _equal_densities(p, q, dx):
    return torch.equal(p, q)


# ---- learners' functions for the probing checkers ----

def reparameterize_with(mean_shift=0.0, std_factor=1.0, mu_slope=1.0, dtype=None):
    def reparameterize(mu, logvar):
        if dtype is not None:
            mu64, logvar64 = mu.to(dtype), logvar.to(dtype)
            return (mu64 + torch.exp(0.5 * logvar64) * torch.randn_like(mu64)).to(mu.dtype)
        eps = torch.randn_like(mu)
        slope = mu_slope * mu - (mu_slope - 1) * mu.detach()          # value mu, derivative mu_slope
        return slope + mean_shift + std_factor * torch.exp(0.5 * logvar) * eps
    return reparameterize


def _large(model, x, *args, **kwargs):
    """The checkers' statistical cases pass hundreds of copies of each image at once."""
    return len(x) > 100


class NudgedVAE(vae.VAE):
    """The course's VAE with a constant added to its decoder's logits, its logvar head scaled, or its eps scaled."""

    logit_shift, logvar_factor, eps_factor = 0.0, 1.0, 1.0

    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu, logvar * self.logvar_factor

    def decode(self, z):
        return super().decode(z) + self.logit_shift

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) * self.eps_factor
        return self.decode(z), mu, logvar


def nudged_vae(**attributes):
    return type("LearnersVAE", (NudgedVAE,), attributes)


def vae_step_with(loss_factor=1.0, step_factor=1.0, dtype=None):
    def step(model, optimizer, x, beta=1.0, elbo_fn=None):
        loss = -(elbo_fn or vae.elbo)(model, x, beta).to(dtype or torch.float32).mean()
        optimizer.zero_grad()
        (step_factor * loss).backward()
        optimizer.step()
        return loss.item() * loss_factor
    return step


def gan_step_with(weight_shift=0.0, loss_shift=0.0):
    def step(generator, discriminator, opt_g, opt_d, real):
        d_loss, g_loss = gan.gan_step(generator, discriminator, opt_g, opt_d, real)
        with torch.no_grad():
            for p in generator.parameters():
                p.add_(weight_shift)
        return d_loss + loss_shift, g_loss
    return step


def ema_with(shift=0.0, dtype=None):
    def update(average, module, decay):
        with torch.no_grad():
            for a, w in zip(average.parameters(), module.parameters()):
                new = decay * a.to(dtype or a.dtype) + (1 - decay) * w.to(dtype or w.dtype)
                a.copy_(new + shift)
            for a, w in zip(average.buffers(), module.buffers()):
                a.copy_(w)
    return update


def pack_reference(x, m):
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


def penalty_with(alpha_scale=1.0, shift=0.0, dtype=None):
    def penalty(critic, real, fake):
        alpha = torch.rand(len(real), dtype=dtype or real.dtype).to(real.dtype) * alpha_scale
        return gan.gradient_penalty(critic, real, fake, alpha=alpha) + shift
    return penalty


def frechet_with_sqrtm(mu1, cov1, mu2, cov2):
    """A learner's Fréchet distance by SciPy's sqrtm (the hint's way): other rounding than the library's eigh."""
    root = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root))


def conditional_sample_with(shift=0.0, z_scale=1.0, dtype=None):
    def sample(model, labels):
        z = torch.randn(len(labels), model.latent_dim, dtype=dtype or torch.float32) * z_scale
        if dtype is not None:
            model = copy.deepcopy(model).to(dtype)
        return torch.sigmoid(model.decode(z, labels)).float() + shift
    return sample


def vae_gan_step_with(shift):
    """The library's VAE-GAN step, its returned d_loss shifted by `shift` (the update itself is right)."""
    def step(*args, **kwargs):
        out = conditional.vae_gan_step(*args, **kwargs)
        return {**out, "d_loss": out["d_loss"] + shift}
    return step


# ---- learners' classes for the model checkers: the library's networks, nudged ----
# (value unchanged, gradient times f: t + (f - 1) (t - t.detach()); a spare parameter: one parameter too many, used
# so that it gets a gradient, starting at 0 so that the outputs stay right)

def _gradient_times(t, factor):
    return t if factor == 1.0 else t + (factor - 1.0) * (t - t.detach())


class NudgedConvVAE(vae.VAE):
    """The course's conv VAE as a learner's ``cls(latent_dim, width)``: the rescaled input, logvar, the logits and
    eps nudged; another LeakyReLU slope; a spare parameter."""

    rescale_factor, logvar_factor, logit_factor, logit_shift, eps_factor, slope, spare = 1.0, 1.0, 1.0, 0.0, 1.0, \
        None, False

    def __init__(self, latent_dim=20, width=32):
        super().__init__(latent_dim, arch="conv", channels=width)
        for layer in self.encoder:
            if isinstance(layer, nn.LeakyReLU) and self.slope is not None:
                layer.negative_slope = self.slope
        if self.spare:
            self.offset = nn.Parameter(torch.zeros(()))

    def encode(self, x):
        h = self.encoder((x * 2 - 1) * self.rescale_factor)
        return self.to_mu(h), self.to_logvar(h) * self.logvar_factor

    def decode(self, z):
        out = super().decode(z) * self.logit_factor + self.logit_shift
        return out + self.offset if self.spare else out

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) * self.eps_factor), mu, logvar


class NudgedCVAE(conditional.CVAE):
    """The course's CVAE with mu, the logits or eps nudged, or a spare parameter."""

    mu_factor, logit_shift, logit_factor, eps_factor, spare = 1.0, 0.0, 1.0, 1.0, False

    def __init__(self, latent_dim=16, hidden=400):
        super().__init__(latent_dim, hidden)
        if self.spare:
            self.offset = nn.Parameter(torch.zeros(()))

    def encode(self, x, labels):
        mu, logvar = super().encode(x, labels)
        return mu * self.mu_factor, logvar

    def decode(self, z, labels):
        out = super().decode(z, labels) * self.logit_factor + self.logit_shift
        return out + self.offset if self.spare else out

    def forward(self, x, labels):
        mu, logvar = self.encode(x, labels)
        return self.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) * self.eps_factor, labels), mu, logvar


class NudgedGenerator(gan.DCGANGenerator):
    """The course's DCGAN generator with its images scaled, their gradient scaled, tanh in float64, or a spare
    parameter."""

    scale, grad_factor, in_float64, spare = 1.0, 1.0, False, False

    def __init__(self, latent_dim=64, width=32):
        super().__init__(latent_dim, width)
        if self.spare:
            self.offset = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        a = self._last_layer(z)
        images = ((torch.tanh(a.double()) + 1) / 2).float() if self.in_float64 else (torch.tanh(a) + 1) / 2
        return _gradient_times(images * self.scale, self.grad_factor)


class NudgedDiscriminator(gan.DCGANDiscriminator):
    """The course's DCGAN discriminator with its logits shifted, their gradient scaled, the last layer in float64,
    or a spare parameter."""

    shift, grad_factor, in_float64, spare = 0.0, 1.0, False, False

    def __init__(self, width=32):
        super().__init__(width)
        if self.spare:
            self.offset = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        h, last = self.features(x), self.net[-1]
        if self.in_float64:
            logits = torch.nn.functional.linear(h.double(), last.weight.double(), last.bias.double()).float()
        else:
            logits = last(h)
        return _gradient_times(logits.squeeze(1) + self.shift, self.grad_factor)


class NudgedProjection(conditional.ConditionalDiscriminator):
    """The course's projection discriminator with its logits shifted, the projection scaled or in float64, the
    embedding drawn with another spread, or a spare parameter."""

    shift, projection_factor, in_float64, embed_std, spare = 0.0, 1.0, False, None, False

    def __init__(self, width=32):
        super().__init__(width)
        if self.embed_std is not None:
            nn.init.normal_(self.embed.weight, std=self.embed_std)
        if self.spare:
            self.offset = nn.Parameter(torch.zeros(()))

    def forward(self, x, labels):
        h = self.features(x)
        e = self.embed(labels)
        projection = (e.double() * h.double()).sum(dim=1).float() if self.in_float64 else (e * h).sum(dim=1)
        out = self.linear(h).squeeze(1) + self.shift + self.projection_factor * projection
        return out + self.offset if self.spare else out


def nudged_class(base, **attributes):
    return type("Learners" + base.__name__, (base,), attributes)


def wgan_gp_loop(weight_shift=0.0, loss_shift=0.0, extra_rows=0, in_float64=False):
    """The WGAN-GP loop of the exercise (Gulrajani et al. 2017, Algorithm 1), its generator's final weights and its
    returned losses shifted, its real batches `extra_rows` too large, or its d_losses averaged in float64."""
    def loop(generator, critic, data, recipe, steps, penalty, callback=None):
        opt_d = torch.optim.Adam(critic.parameters(), lr=recipe.lr_d, betas=recipe.betas)
        opt_g = torch.optim.Adam(generator.parameters(), lr=recipe.lr_g, betas=recipe.betas)
        n, latent = recipe.batch_size, generator.latent_dim
        d_losses, g_losses = [], []
        for step in range(1, steps + 1):
            losses = []
            for _ in range(recipe.n_critic):
                real = data[torch.randint(len(data), (n + extra_rows,))]
                with torch.no_grad():
                    fake = generator(torch.randn(len(real), latent))
                wasserstein = critic(fake).mean() - critic(real).mean()
                opt_d.zero_grad()
                (wasserstein + recipe.gp_weight * penalty(critic, real, fake)).backward()
                opt_d.step()
                losses.append(wasserstein.item())
            g_loss = -critic(generator(torch.randn(n, latent))).mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            mean = float(torch.tensor(losses, dtype=torch.float64).mean()) if in_float64 else sum(losses) / len(losses)
            d_losses.append(mean + loss_shift)
            g_losses.append(g_loss.item() + loss_shift)
            if callback is not None:
                callback(step, generator, critic)
        with torch.no_grad():
            for p in generator.parameters():
                p.add_(weight_shift)
        return d_losses, g_losses
    return loop


CASES = [
    # ---- setup ----
    ("ink_fraction, +3e-5 (the blank images' tolerance is 1e-5)", checks.check_ink_fraction,
     lambda x: (x > 0.5).float().flatten(1).mean(1) + 3e-5, "blank images"),
    ("ink_fraction, in float64", checks.check_ink_fraction, lambda x: (x > 0.5).double().flatten(1).mean(1), True),
    ("ink_fraction, +2e-6", checks.check_ink_fraction, lambda x: (x > 0.5).float().flatten(1).mean(1) + 2e-6, True),
    # ---- vae ----
    ("gaussian_kl, +3e-5 (the prior's KL is 0: tolerance 1e-5)", checks.check_gaussian_kl,
     nudged(vae.gaussian_kl, delta=3e-5), "the prior itself"),
    ("gaussian_kl, x (1 + 3e-4) (KL 8: tolerance 8.1e-4)", checks.check_gaussian_kl,
     nudged(vae.gaussian_kl, factor=1 + 3e-4), "a shifted mean"),
    ("gaussian_kl, in float64", checks.check_gaussian_kl, in_precision(vae.gaussian_kl, torch.float64), True),
    ("gaussian_kl, x (1 + 1e-6) + 1e-6", checks.check_gaussian_kl, nudged(vae.gaussian_kl, 1e-6, 1 + 1e-6), True),
    ("reparameterize, mean +0.2 (tolerance 0.09, 5 standard errors)", checks.check_reparameterize,
     reparameterize_with(mean_shift=0.2), "the mean of z"),
    ("reparameterize, variance x 1.12 (tolerance 6 %, 6 standard errors)", checks.check_reparameterize,
     reparameterize_with(std_factor=1.12 ** 0.5), "the variance of z"),
    ("reparameterize, d z / d mu = 1.001 (tolerance 1e-4)", checks.check_reparameterize,
     reparameterize_with(mu_slope=1.001), "gradients through z"),
    ("reparameterize, in float64", checks.check_reparameterize, reparameterize_with(dtype=torch.float64), True),
    ("elbo, +0.3 nats (tolerance 0.02 + 1e-4 |ELBO|)", checks.check_elbo, nudged(vae.elbo, delta=0.3),
     "a batch of 4 images, beta = 1"),
    ("elbo, +3 nats on the mean over 2,000 draws (tolerance 2)", checks.check_elbo,
     nudged(vae.elbo, delta=3.0, when=_large), "the mean over 2,000 draws"),
    ("elbo, +0.005 nats, +0.5 on the mean over draws", checks.check_elbo,
     nudged(nudged(vae.elbo, delta=0.005), delta=0.5, when=_large), True),
    ("elbo, returned in float64", checks.check_elbo, lambda model, x, beta=1.0: vae.elbo(model, x, beta).double(),
     True),
    ("iwae_bound, +0.05 nats (tolerance 0.01 + 1e-5 |bound|)", checks.check_iwae_bound,
     nudged(vae.iwae_bound, delta=0.05), "q equal to the posterior, k = 5"),
    ("iwae_bound, +1 nat on the mean over 500 draws (tolerance 0.4)", checks.check_iwae_bound,
     nudged(vae.iwae_bound, delta=1.0, when=_large), "the mean over 500 draws, k = 10"),
    ("iwae_bound, +1e-3 nats, +0.2 on the means over draws", checks.check_iwae_bound,
     nudged(nudged(vae.iwae_bound, delta=1e-3), delta=0.2, when=_large), True),
    ("vae_model, logits +1e-3 (tolerance 1e-5 + 1e-4 |logit|)", checks.check_vae_model,
     nudged_vae(logit_shift=1e-3), "the same network as the course's VAE"),
    ("vae_model, logvar x (1 + 1e-3) (a bias raised by 2 raises logvar by 2.002; tolerance 1e-4 + 1e-4 x 2)",
     checks.check_vae_model, nudged_vae(logvar_factor=1 + 1e-3), "logvar is unconstrained"),
    ("vae_model, eps x 1.25 (tolerance 10 % on the spread)", checks.check_vae_model, nudged_vae(eps_factor=1.25),
     "forward decodes a code drawn"),
    ("vae_model, logits +1e-7, eps x 1.01", checks.check_vae_model, nudged_vae(logit_shift=1e-7, eps_factor=1.01),
     True),
    ("vae_train_step, loss x (1 + 1e-3) (tolerance 1e-4)", checks.check_vae_train_step,
     vae_step_with(loss_factor=1 + 1e-3), "the returned loss divided by"),
    ("vae_train_step, step x 1.01 (tolerance 1e-3)", checks.check_vae_train_step, vae_step_with(step_factor=1.01),
     "the size of the step"),
    ("vae_train_step, the mean in float64", checks.check_vae_train_step, vae_step_with(dtype=torch.float64), True),
    ("vae_train_step, loss x (1 + 1e-6), step x (1 + 1e-5)", checks.check_vae_train_step,
     vae_step_with(loss_factor=1 + 1e-6, step_factor=1 + 1e-5), True),
    # conv_vae (latent_dim 3, width 4; the cases compare outputs with the course's VAE(arch="conv") whose weights
    # were copied in, to within 1e-5 + 1e-4 |value|; |logits| from 2.9e-5 to 2.7, |mu| from 8.8e-6). The shapes, the
    # number of normalization layers and the parameter count are exact (atol = rtol = 0): one parameter too many fails.
    ("conv_vae, the rescaled pixels x (1 + 3e-4) (2x - 1 = +-1 for binary images: tolerance 1e-6 + 1e-4)",
     checks.check_conv_vae, nudged_class(NudgedConvVAE, rescale_factor=1 + 3e-4), "scaled to [-1, 1], 2x - 1"),
    ("conv_vae, LeakyReLU slope 0.203 (tolerance 1e-3 + 1e-4 x 0.2)", checks.check_conv_vae,
     nudged_class(NudgedConvVAE, slope=0.203), "the encoder's activations"),
    ("conv_vae, one parameter too many (a logit offset starting at 0; exact count)", checks.check_conv_vae,
     nudged_class(NudgedConvVAE, spare=True), "the number of parameters"),
    ("conv_vae, logits x (1 + 3e-4) (the ratio to the course's logits: tolerance 1e-4)", checks.check_conv_vae,
     nudged_class(NudgedConvVAE, logit_factor=1 + 3e-4), "decode returns twice the last layer's output"),
    ("conv_vae, logvar x (1 + 1e-3) (a bias raised by 2 raises logvar by 2.002; tolerance 1e-4 + 1e-4 x 2)",
     checks.check_conv_vae, nudged_class(NudgedConvVAE, logvar_factor=1 + 1e-3), "logvar is unconstrained"),
    ("conv_vae, logits +3e-5 (a logit of 2.9e-5: tolerance 1e-5)", checks.check_conv_vae,
     nudged_class(NudgedConvVAE, logit_shift=3e-5), "the same network as the course's VAE"),
    ("conv_vae, eps x 1.25 (the codes' spread 1.25 for 1: tolerance 10 %)", checks.check_conv_vae,
     nudged_class(NudgedConvVAE, eps_factor=1.25), "forward decodes a code drawn"),
    ("conv_vae, rescale and logvar x (1 + 1e-6), logits x (1 + 1e-6) + 1e-7, eps x 1.01", checks.check_conv_vae,
     nudged_class(NudgedConvVAE, rescale_factor=1 + 1e-6, logvar_factor=1 + 1e-6, logit_factor=1 + 1e-6,
                  logit_shift=1e-7, eps_factor=1.01), True),
    # ---- gan ----
    ("optimal_discriminator, +3e-5 where the data has no mass (D* = 0: tolerance 1e-5)",
     checks.check_optimal_discriminator,
     nudged(gan.optimal_discriminator, delta=3e-5, when=lambda p_data, p_model: not bool(p_data.any())),
     "where the data has no mass"),
    ("optimal_discriminator, x (1 + 3e-4) (D* up to 1: tolerance 1.1e-4)", checks.check_optimal_discriminator,
     nudged(gan.optimal_discriminator, factor=1 + 3e-4), "two Gaussian densities"),
    ("optimal_discriminator, in float32", checks.check_optimal_discriminator,
     in_precision(gan.optimal_discriminator, torch.float32), True),
    ("discriminator_loss, +1e-5 (a sure discriminator's loss 6.7e-4: tolerance 1e-6)",
     checks.check_discriminator_loss, nudged(gan.discriminator_loss, delta=1e-5), "right and sure"),
    ("discriminator_loss, x (1 + 1e-3) (loss 30: tolerance 3e-3)", checks.check_discriminator_loss,
     nudged(gan.discriminator_loss, factor=1 + 1e-3, when=lambda r, f: bool(r.abs().max() > 20)),
     "confidently wrong"),
    ("discriminator_loss, in float64", checks.check_discriminator_loss,
     in_precision(gan.discriminator_loss, torch.float64), True),
    ("generator_loss, +3e-4 (tolerance 1e-5 + 1e-4 |loss|)", checks.check_generator_loss,
     nudged(gan.generator_loss, delta=3e-4), "random logits"),
    ("generator_loss, in float64, +1e-6", checks.check_generator_loss,
     nudged(in_precision(gan.generator_loss, torch.float64), delta=1e-6), True),
    ("kl_divergence, +3e-8 (KL of a density with itself is 0: tolerance 1e-8)", checks.check_kl_divergence,
     nudged(gan.kl_divergence, delta=3e-8, when=_equal_densities), "N(0, 1) against itself"),
    ("kl_divergence, x (1 + 3e-4) (closed forms: tolerance 1e-6 + 1e-4 KL)", checks.check_kl_divergence,
     nudged(gan.kl_divergence, factor=1 + 3e-4), "closed form"),
    ("kl_divergence, +1e-10, x (1 + 1e-7)", checks.check_kl_divergence,
     nudged(gan.kl_divergence, delta=1e-10, factor=1 + 1e-7), True),
    ("gan_step, weights +1e-4 (tolerance 1e-5)", checks.check_gan_step, gan_step_with(weight_shift=1e-4),
     "weights differ"),
    ("gan_step, returned loss +1e-4 (tolerance 1e-5)", checks.check_gan_step, gan_step_with(loss_shift=1e-4),
     "returned"),
    ("gan_step, weights +1e-8, loss +1e-7", checks.check_gan_step, gan_step_with(1e-8, 1e-7), True),
    # dcgan_generator (images in [0, 1] and their gradient with respect to the noise, |gradient| up to 2.6, compared
    # with the course's DCGANGenerator to within DCGAN_ATOL + DCGAN_RTOL |value| = 1e-5 + 1e-4 |value|, in training
    # and eval mode). The range [0, 1] is exact (so the nudges scale down: tanh saturates at 1 for far codes) and so
    # is the parameter count.
    ("dcgan_generator, images x (1 - 3e-4) (an image value 0.9999: tolerance 1.1e-4)", checks.check_dcgan_generator,
     nudged_class(NudgedGenerator, scale=1 - 3e-4), "your images differ from the course generator's in training"),
    ("dcgan_generator, gradient x (1 + 3e-4) (a gradient 2.6: tolerance 2.7e-4)", checks.check_dcgan_generator,
     nudged_class(NudgedGenerator, grad_factor=1 + 3e-4), "gradient with respect to the noise is wrong"),
    ("dcgan_generator, one parameter too many (exact count)", checks.check_dcgan_generator,
     nudged_class(NudgedGenerator, spare=True), "240,322 parameters, expected 240,321"),
    ("dcgan_generator, tanh in float64, images x (1 - 1e-6), gradient x (1 + 1e-6)", checks.check_dcgan_generator,
     nudged_class(NudgedGenerator, in_float64=True, scale=1 - 1e-6, grad_factor=1 + 1e-6), True),
    # dcgan_discriminator (logits, |logits| 0.02 to 0.12, and their gradient with respect to the images, |gradient| up
    # to 5.5e-3, to within 1e-5 + 1e-4 |value|: for the gradient atol dominates, a relative 1.8e-3 of its largest
    # element). The parameter count is exact.
    ("dcgan_discriminator, logits +3e-5 (|logits| <= 0.12: tolerance <= 2.2e-5)", checks.check_dcgan_discriminator,
     nudged_class(NudgedDiscriminator, shift=3e-5), "your logits differ from the course discriminator's"),
    ("dcgan_discriminator, gradient x (1 + 3e-3) (a gradient 5.5e-3: off by 1.6e-5, tolerance 1.06e-5)",
     checks.check_dcgan_discriminator, nudged_class(NudgedDiscriminator, grad_factor=1 + 3e-3),
     "gradient with respect to the images is wrong"),
    ("dcgan_discriminator, one parameter too many (exact count)", checks.check_dcgan_discriminator,
     nudged_class(NudgedDiscriminator, spare=True), "36,514 parameters, expected 36,513"),
    ("dcgan_discriminator, the last layer in float64, logits +1e-7, gradient x (1 + 1e-4)",
     checks.check_dcgan_discriminator, nudged_class(NudgedDiscriminator, in_float64=True, shift=1e-7,
                                                    grad_factor=1 + 1e-4), True),
    # ---- stabilize ----
    ("reverse_kl, +3e-5 (every mode equally often: 0, tolerance 1e-5)", checks.check_reverse_kl,
     nudged(lambda counts: stabilize_reverse_kl(counts), delta=3e-5), "every mode equally often"),
    ("reverse_kl, in float32", checks.check_reverse_kl, lambda counts: float(stabilize_reverse_kl(counts, torch.float32)),
     True),
    ("ema_update, +5e-5 on every parameter (tolerance 1e-5 + 1e-4 |w|)", checks.check_ema_update, ema_with(5e-5),
     "one update with decay 0.9"),
    ("ema_update, in float64, +1e-7", checks.check_ema_update, ema_with(1e-7, torch.float64), True),
    ("pack, +3e-5 (the value 0: tolerance 1e-5)", checks.check_pack, nudged(pack_reference, delta=3e-5),
     "12 points in pairs"),
    ("pack, in float64", checks.check_pack, in_precision(pack_reference, torch.float64), True),
    ("power_iteration, sigma x (1 + 3e-4) (sigma 3: tolerance 3.1e-4)", checks.check_power_iteration,
     lambda w, u, steps: (lambda s, v: (s * (1 + 3e-4), v))(*gan.power_iteration(w, u, steps)),
     "one step on a 3 x 7 matrix"),
    ("power_iteration, u +3e-6 (the zeros of u = (1, 0, 0): tolerance 1e-6)", checks.check_power_iteration,
     lambda w, u, steps: (lambda s, v: (s, v + 3e-6))(*gan.power_iteration(w, u, steps)), "diag(3, 1, 0.5)"),
    ("power_iteration, in float32", checks.check_power_iteration,
     in_precision(gan.power_iteration, torch.float32), True),
    ("gradient_penalty, +3e-4 (penalty 1: tolerance 2e-4)", checks.check_gradient_penalty, penalty_with(shift=3e-4),
     "a linear critic"),
    ("gradient_penalty, alpha ~ U(0, 0.8) (spread 0.23 against 0.29: tolerance 0.04)", checks.check_gradient_penalty,
     penalty_with(alpha_scale=0.8), "a different alpha for each sample"),
    ("gradient_penalty, alpha drawn in float64, +1e-6", checks.check_gradient_penalty,
     penalty_with(shift=1e-6, dtype=torch.float64), True),
    # train_wgan_gp (the final weights, |generator weights| from 0.005, to within 1e-5 + 1e-4 |w| of train_gan's; the
    # returned losses, |d_losses| from 0.055, to within 1e-5 + 1e-4 |loss|). The batch size and the numbers of
    # penalty calls and generator backward passes are exact: a batch one row too large fails.
    ("train_wgan_gp, generator weights +3e-5 after training (a weight 0.005: tolerance 1.05e-5)",
     checks.check_train_wgan_gp, wgan_gp_loop(weight_shift=3e-5), "the weights differ from those of the library's"),
    ("train_wgan_gp, losses +3e-5 (a d_loss 0.055: tolerance 1.55e-5)", checks.check_train_wgan_gp,
     wgan_gp_loop(loss_shift=3e-5), "its d_losses are"),
    ("train_wgan_gp, real batches of recipe.batch_size + 1 (exact)", checks.check_train_wgan_gp,
     wgan_gp_loop(extra_rows=1), "not recipe.batch_size"),
    ("train_wgan_gp, d_losses averaged in float64, weights +1e-7, losses +1e-7", checks.check_train_wgan_gp,
     wgan_gp_loop(weight_shift=1e-7, loss_shift=1e-7, in_float64=True), True),
    # ---- divergences ----
    ("forward_kl_fit, s x (1 + 1e-3) (tolerance 1e-6 + 1e-4 s)", checks.check_forward_kl_fit,
     nudged(divergences.grid_moments, factor=1 + 1e-3), "p = N(1.5, 0.7^2)"),
    ("forward_kl_fit, in float32", checks.check_forward_kl_fit,
     lambda p, x, dx: divergences.grid_moments(p.float().double(), x, dx), True),
    ("forward_kl_fit, x (1 + 1e-7)", checks.check_forward_kl_fit,
     nudged(divergences.grid_moments, factor=1 + 1e-7), True),
    ("wasserstein_1d, +3e-9 (W1 of a sample with itself is 0: tolerance 1e-9)", checks.check_wasserstein_1d,
     nudged(divergences.wasserstein_1d, delta=3e-9), "the same sample twice"),
    ("wasserstein_1d, x (1 + 3e-4) (W1 = 3: tolerance 3e-4)", checks.check_wasserstein_1d,
     nudged(divergences.wasserstein_1d, factor=1 + 3e-4), "shifted by 3"),
    ("wasserstein_1d, +1e-12", checks.check_wasserstein_1d, nudged(divergences.wasserstein_1d, delta=1e-12), True),
    ("kl_conjugate, x (1 + 3e-4) (f*(1) = 1: tolerance 1e-4)", checks.check_kl_conjugate,
     lambda t: torch.exp(t - 1) * (1 + 3e-4), "t = 1"),
    ("kl_conjugate, in float32", checks.check_kl_conjugate, lambda t: torch.exp(t.float() - 1).double(), True),
    # ---- compare ----
    ("precision_recall, +3e-5 (far fakes: 0, tolerance 1e-5)", checks.check_precision_recall,
     nudged(metrics.precision_recall, delta=3e-5), "fakes far from every real point"),
    ("precision_recall, +1e-7", checks.check_precision_recall, nudged(metrics.precision_recall, delta=1e-7), True),
    ("frechet_distance, +3e-6 (a Gaussian against itself: 0, tolerance 1e-6)", checks.check_frechet_distance,
     nudged(metrics.frechet_distance, delta=3e-6), "a Gaussian against itself"),
    ("frechet_distance, x (1 + 3e-4) (2.5: tolerance 2.5e-4)", checks.check_frechet_distance,
     nudged(metrics.frechet_distance, factor=1 + 3e-4), "one dimension"),
    ("frechet_distance, by scipy.linalg.sqrtm", checks.check_frechet_distance, frechet_with_sqrtm, True),
    ("inception_score, x (1 + 1e-3) (score 4: tolerance 4.1e-4)", checks.check_inception_score,
     nudged(metrics.inception_score_from_probabilities, factor=1 + 1e-3), "confident and balanced"),
    ("inception_score, in float32", checks.check_inception_score,
     lambda probs: metrics.inception_score_from_probabilities(probs.float()), True),
    # ---- conditional ----
    ("conditional_sample, pixels +0.05 (tolerance 0.03 on the mean image)", checks.check_conditional_sample,
     conditional_sample_with(shift=0.05), "the mean image over 3000 requested 3s"),
    ("conditional_sample, z x 1.5 (spread 0.039 for 0.027: tolerance 0.005)", checks.check_conditional_sample,
     conditional_sample_with(z_scale=1.5), "the spread of requested 1s"),
    ("conditional_sample, in float64, pixels +0.003", checks.check_conditional_sample,
     conditional_sample_with(shift=0.003, dtype=torch.float64), True),
    ("conditional_sample, z x 1.1 (spread +0.0025: inside)", checks.check_conditional_sample,
     conditional_sample_with(z_scale=1.1), True),
    ("free_bits_kl, x (1 + 1e-3) (tolerance 1e-6 + 1e-4 KL)", checks.check_free_bits_kl,
     nudged(conditional.free_bits_kl, factor=1 + 1e-3), "free_bits = 0"),
    ("free_bits_kl, +3e-6 on the prior's 1.5 (tolerance 1e-6 + 1.5e-4)", checks.check_free_bits_kl,
     nudged(conditional.free_bits_kl, delta=3e-6), True),
    ("free_bits_kl, in float64", checks.check_free_bits_kl, in_precision(conditional.free_bits_kl, torch.float64),
     True),
    ("label_accuracy, +1e-7 (a share of 0: tolerance 1e-9)", checks.check_label_accuracy,
     nudged(conditional.label_accuracy_from_probabilities, delta=1e-7), "a confident-looking mistake"),
    ("label_accuracy, x (1 + 3e-4) (a share of 1: tolerance 1e-4)", checks.check_label_accuracy,
     nudged(conditional.label_accuracy_from_probabilities, factor=1 + 3e-4), "4 samples, 2 of them"),
    ("label_accuracy, +1e-12", checks.check_label_accuracy,
     nudged(conditional.label_accuracy_from_probabilities, delta=1e-12), True),
    ("kl_weight, +1e-4 (the first step's 0.5: tolerance 1e-9 + 5e-5)", checks.check_kl_weight,
     nudged(conditional.kl_weight, delta=1e-4), "the first step (step 0)"),
    ("kl_weight, x (1 + 3e-4) on beta = 20 (tolerance 1e-9 + 1e-4 of each weight)", checks.check_kl_weight,
     nudged(conditional.kl_weight, factor=1 + 3e-4, when=lambda step, warmup, beta: beta == 20.0), "beta = 20"),
    ("kl_weight, in float32", checks.check_kl_weight,
     lambda step, warmup, beta: float(torch.tensor(conditional.kl_weight(step, warmup, beta), dtype=torch.float32)),
     True),
    # cvae_model (latent_dim 3, hidden 16; encode and decode compared with the course's CVAE to within 1e-5 + 1e-4
    # |value|: |mu| from 0.04 to 0.72, |logits| from 7.2e-5). Shapes and the parameter count are exact. The label
    # cases ask for a change above 1e-4 when the label changes: a detection threshold (the course's network changes
    # by far more), not a tolerance on a right answer.
    ("cvae_model, one parameter too many (a logit offset starting at 0; exact count)", checks.check_cvae_model,
     nudged_class(NudgedCVAE, spare=True), "the number of parameters"),
    ("cvae_model, mu x (1 + 1e-3) (mu 0.72: tolerance 8.2e-5)", checks.check_cvae_model,
     nudged_class(NudgedCVAE, mu_factor=1 + 1e-3), "the same network as the course's CVAE"),
    ("cvae_model, logits +3e-5 (a logit of 7.2e-5: tolerance 1e-5)", checks.check_cvae_model,
     nudged_class(NudgedCVAE, logit_shift=3e-5), "the same network as the course's CVAE"),
    ("cvae_model, eps x 1.25 (the logits' spread 1.25 for 1: tolerance 10 %)", checks.check_cvae_model,
     nudged_class(NudgedCVAE, eps_factor=1.25), "forward decodes a code drawn"),
    ("cvae_model, mu x (1 + 1e-6), logits x (1 + 1e-6) + 1e-7, eps x 1.01", checks.check_cvae_model,
     nudged_class(NudgedCVAE, mu_factor=1 + 1e-6, logit_factor=1 + 1e-6, logit_shift=1e-7, eps_factor=1.01), True),
    # projection_discriminator (width 2; with the course's weights loaded, the projection D(x, y) - D(x, y'), |values|
    # 0.11 to 0.49, and the logits, |values| 0.07 to 0.40, to within 1e-4 + 1e-4 |value|). The embedding's start is a
    # threshold (standard deviation at most 0.05; the course's 0.01); the parameter count is exact.
    ("projection_discriminator, one parameter too many (exact count)", checks.check_projection_discriminator,
     nudged_class(NudgedProjection, spare=True), "the number of parameters"),
    ("projection_discriminator, the embedding drawn with std 0.07 (threshold 0.05)",
     checks.check_projection_discriminator, nudged_class(NudgedProjection, embed_std=0.07),
     "the embedding starts near 0"),
    ("projection_discriminator, projection x (1 + 1e-3) (0.49: tolerance 1.5e-4)",
     checks.check_projection_discriminator, nudged_class(NudgedProjection, projection_factor=1 + 1e-3),
     "the label enters by projection"),
    ("projection_discriminator, logits +3e-4 (|logits| <= 0.4: tolerance <= 1.4e-4; the projection's difference "
     "cancels it)", checks.check_projection_discriminator, nudged_class(NudgedProjection, shift=3e-4),
     "the same logits"),
    ("projection_discriminator, the projection in float64, logits +1e-6, the embedding drawn with std 0.04",
     checks.check_projection_discriminator, nudged_class(NudgedProjection, in_float64=True, shift=1e-6,
                                                         embed_std=0.04), True),
    ("vae_gan_step, returned d_loss +1e-3 (d_loss about 1.4: tolerance 1e-5 + 1e-4 d_loss)",
     checks.check_vae_gan_step, vae_gan_step_with(1e-3), "the returned d_loss"),
    ("vae_gan_step, returned d_loss +1e-7", checks.check_vae_gan_step, vae_gan_step_with(1e-7), True),
    # ---- stacked ----
    ("kl_to_uniform, +3e-5 (a uniform histogram: 0, tolerance 1e-5)", checks.check_kl_to_uniform,
     lambda counts: stabilize_reverse_kl(counts) + 3e-5, "every mode 26 times"),
    ("kl_to_uniform, x (1 + 3e-4) (log 1000: tolerance 7e-4)", checks.check_kl_to_uniform,
     lambda counts: stabilize_reverse_kl(counts) * (1 + 3e-4), "all 26,000 samples in one mode"),
    ("kl_to_uniform, in float32", checks.check_kl_to_uniform,
     lambda counts: stabilize_reverse_kl(counts, torch.float32), True),
]


def stabilize_reverse_kl(counts, dtype=torch.float64):
    """KL(p || uniform) of counts (M,) in `dtype`, inf without any count: what `modes.mode_metrics` computes."""
    counts = torch.as_tensor(counts, dtype=dtype)
    if counts.sum() == 0:
        return math.inf
    p = counts[counts > 0] / counts.sum()
    return float((p * torch.log(p * len(counts))).sum())


@pytest.mark.parametrize("about, checker, fn, expect", CASES, ids=[row[0] for row in CASES])
def test_checker_tolerance(about, checker, fn, expect, capsys):
    verdict = checker(fn)
    out = capsys.readouterr().out
    if expect is True:
        assert verdict is True, out
    else:
        assert verdict is False and out.startswith("❌"), out
        assert expect in out, f"it failed, but not on the case '{expect}': {out}"


def test_every_checker_is_covered_from_both_sides():
    """Every checker the package exports (each `check_*` made with `checks.checker`), none left out by hand: a
    row it must pass and a row it must fail on."""
    names = {name for name, value in vars(checks).items() if name.startswith("check_")
             and getattr(value, "is_checker", False) and value.__module__.startswith("tutorial_lib.checks")}
    covered = {checker.__name__ for _, checker, _, expect in CASES if expect is True}
    failing = {checker.__name__ for _, checker, _, expect in CASES if expect is not True}
    assert len(names) >= 35, sorted(names)  # the 35 checkers of the lessons; a broken scan finds none
    assert names <= covered and names <= failing, (sorted(names - covered), sorted(names - failing))


def test_the_values_the_rows_assume():
    """The rows state their nudges against these values of the cases."""
    assert abs(float(gan.discriminator_loss(torch.full((2,), 8.0), torch.full((3,), -8.0))) - 6.7e-4) < 1e-5
    assert float(metrics.frechet_distance(np.array([0.0]), np.eye(1), np.array([1.5]), np.eye(1) * 0.25)) == 2.5
    # check_cvae_model's count: above 10,000, where the default rtol 1e-4 would let a count off by one pass
    assert sum(p.numel() for p in conditional.CVAE(latent_dim=3, hidden=16).parameters()) == 26_374
