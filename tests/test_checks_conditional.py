"""The conditional-models exercises' checkers (notebook 08): each passes correct implementations written here by
hand (independently of tutorial_lib.conditional), fails on the typical mistakes (each named), and never shows code."""
import pytest
import torch

from tutorial_lib.checks import check_conditional_sample, check_free_bits_kl, check_label_accuracy


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


# ---- conditional sampling ----

def sample(model, labels):
    z = torch.randn(len(labels), model.latent_dim)
    return torch.sigmoid(model.decode(z, labels))


def test_conditional_sample_accepts_correct_versions(capsys):
    assert check_conditional_sample(sample) is True
    assert check_conditional_sample(lambda m, y: m.decode(torch.randn(len(y), m.latent_dim) * 1.0, y).sigmoid()) is True
    assert check_conditional_sample(lambda m, y: m.sample(len(y), labels=y)) is True
    assert "✅ conditional_sample" in capsys.readouterr().out


SAMPLE_MISTAKES = {
    "logits instead of probabilities": lambda m, y: m.decode(torch.randn(len(y), m.latent_dim), y),
    "uniform instead of normal codes": lambda m, y: torch.sigmoid(m.decode(torch.rand(len(y), m.latent_dim), y)),
    "one code shared by every image": lambda m, y: torch.sigmoid(m.decode(torch.randn(1, m.latent_dim).expand(len(y), -1), y)),
    "the labels ignored (always digit 0)": lambda m, y: torch.sigmoid(m.decode(torch.randn(len(y), m.latent_dim), torch.zeros_like(y))),
    "z = 0 (the mean code only)": lambda m, y: torch.sigmoid(m.decode(torch.zeros(len(y), m.latent_dim), y)),
    "binary samples instead of means": lambda m, y: torch.bernoulli(torch.sigmoid(m.decode(torch.randn(len(y), m.latent_dim), y))),
}


@pytest.mark.parametrize("mistake", SAMPLE_MISTAKES, ids=list(SAMPLE_MISTAKES))
def test_conditional_sample_rejects_typical_mistakes(mistake, capsys):
    assert check_conditional_sample(SAMPLE_MISTAKES[mistake]) is False
    assert "❌ conditional_sample" in capsys.readouterr().out


# ---- free bits ----

def free_bits(mu, logvar, lam):
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
    return torch.maximum(kl.mean(0), torch.tensor(lam)).sum()


def test_free_bits_kl_accepts_correct_versions(capsys):
    assert check_free_bits_kl(free_bits) is True
    assert check_free_bits_kl(lambda mu, lv, lam: (0.5 * (mu**2 + lv.exp() - 1 - lv)).mean(0).clamp(min=lam).sum()) is True
    assert "✅ free_bits_kl" in capsys.readouterr().out


def _kl(mu, lv):
    return 0.5 * (mu**2 + lv.exp() - 1 - lv)


FREE_BITS_MISTAKES = {
    "clamped per row before the batch mean": lambda mu, lv, lam: _kl(mu, lv).clamp(min=lam).mean(0).sum(),
    "clamped the total instead of each dimension": lambda mu, lv, lam: _kl(mu, lv).sum(1).mean().clamp(min=lam),
    "a minimum instead of a maximum": lambda mu, lv, lam: _kl(mu, lv).mean(0).clamp(max=lam).sum(),
    "no clamping (the plain KL)": lambda mu, lv, lam: _kl(mu, lv).mean(0).sum(),
    "summed over the batch instead of averaged": lambda mu, lv, lam: _kl(mu, lv).sum(0).clamp(min=lam).sum(),
    "missing the 0.5": lambda mu, lv, lam: (2 * _kl(mu, lv)).mean(0).clamp(min=lam).sum(),
}


@pytest.mark.parametrize("mistake", FREE_BITS_MISTAKES, ids=list(FREE_BITS_MISTAKES))
def test_free_bits_kl_rejects_typical_mistakes(mistake, capsys):
    assert check_free_bits_kl(FREE_BITS_MISTAKES[mistake]) is False
    assert "❌ free_bits_kl" in capsys.readouterr().out


# ---- label accuracy ----

def test_label_accuracy_accepts_correct_versions(capsys):
    assert check_label_accuracy(lambda probs, labels: float((probs.argmax(dim=1) == labels).double().mean())) is True
    assert check_label_accuracy(lambda probs, labels: (probs.argmax(1) == labels).sum().item() / len(labels)) is True
    assert "✅ label_accuracy" in capsys.readouterr().out


ACCURACY_MISTAKES = {
    "a percentage instead of a share": lambda p, y: 100 * float((p.argmax(1) == y).double().mean()),
    "the count instead of the share": lambda p, y: float((p.argmax(1) == y).sum()),
    "the mean probability of the requested digit (soft accuracy)": lambda p, y: float(p[torch.arange(len(y)), y].mean()),
    "argmax over the wrong dimension": lambda p, y: float((p.argmax(0)[: len(y)] == y).double().mean()),
    "the share of mistakes": lambda p, y: float((p.argmax(1) != y).double().mean()),
}


@pytest.mark.parametrize("mistake", ACCURACY_MISTAKES, ids=list(ACCURACY_MISTAKES))
def test_label_accuracy_rejects_typical_mistakes(mistake, capsys):
    assert check_label_accuracy(ACCURACY_MISTAKES[mistake]) is False
    assert "❌ label_accuracy" in capsys.readouterr().out


# ---- the CVAE module ----

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from tutorial_lib.checks import (check_cvae_model, check_kl_weight, check_projection_discriminator,  # noqa: E402
                                 check_vae_gan_step)


def _hot(labels):
    return F.one_hot(labels, 10).float()


class HandCVAE(nn.Module):
    """The CVAE written by hand: the one-hot label after the pixels (encoder) and after z (decoder)."""

    def __init__(self, latent_dim=16, hidden=400):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(784 + 10, hidden), nn.ReLU())
        self.to_mu, self.to_logvar = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim + 10, hidden), nn.ReLU(), nn.Linear(hidden, 784),
                                     nn.Unflatten(1, (1, 28, 28)))

    def encode(self, x, labels):
        h = self.encoder(torch.cat([x.flatten(1), _hot(labels)], dim=1))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z, labels):
        return self.decoder(torch.cat([z, _hot(labels)], dim=1))

    def forward(self, x, labels):
        mu, logvar = self.encode(x, labels)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z, labels), mu, logvar


class NoisyCVAE(HandCVAE):
    """Correct up to float noise: the decoder's logits carry a relative error of 1e-7 (inside the tolerance)."""

    def decode(self, z, labels):
        out = super().decode(z, labels)
        return out * (1 + 1e-7)


def _cvae_variant(**overrides):
    return type("Variant", (HandCVAE,), overrides)


def _decoder_without_label(self, latent_dim=16, hidden=400):
    HandCVAE.__init__(self, latent_dim, hidden)
    self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784),
                                 nn.Unflatten(1, (1, 28, 28)))


def _encoder_without_label(self, latent_dim=16, hidden=400):
    HandCVAE.__init__(self, latent_dim, hidden)
    self.encoder = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())


def _digit_as_number(self, latent_dim=16, hidden=400):
    HandCVAE.__init__(self, latent_dim, hidden)
    self.encoder = nn.Sequential(nn.Linear(785, hidden), nn.ReLU())
    self.decoder = nn.Sequential(nn.Linear(latent_dim + 1, hidden), nn.ReLU(), nn.Linear(hidden, 784),
                                 nn.Unflatten(1, (1, 28, 28)))


CVAE_MISTAKES = {
    "the label not given to the decoder": _cvae_variant(
        __init__=_decoder_without_label, decode=lambda self, z, labels: self.decoder(z)),
    "the label not given to the encoder": _cvae_variant(
        __init__=_encoder_without_label,
        encode=lambda self, x, labels: (lambda h: (self.to_mu(h), self.to_logvar(h)))(self.encoder(x.flatten(1)))),
    "the digit as one number instead of a one-hot vector": _cvae_variant(
        __init__=_digit_as_number,
        encode=lambda self, x, y: (lambda h: (self.to_mu(h), self.to_logvar(h)))(
            self.encoder(torch.cat([x.flatten(1), y.float().unsqueeze(1)], 1))),
        decode=lambda self, z, y: self.decoder(torch.cat([z, y.float().unsqueeze(1)], 1))),
    "a sigmoid on the decoder's output": _cvae_variant(
        decode=lambda self, z, y: torch.sigmoid(HandCVAE.decode(self, z, y))),
    "forward decodes mu (no sampling)": _cvae_variant(
        forward=lambda self, x, y: (lambda mu, lv: (self.decode(mu, y), mu, lv))(*self.encode(x, y))),
    "the one-hot label before the pixels (not the course network's order)": _cvae_variant(
        encode=lambda self, x, y: (lambda h: (self.to_mu(h), self.to_logvar(h)))(
            self.encoder(torch.cat([_hot(y), x.flatten(1)], 1)))),
    "sigma = exp(logvar) instead of exp(logvar / 2)": _cvae_variant(
        forward=lambda self, x, y: (lambda mu, lv: (self.decode(mu + lv.exp() * torch.randn_like(mu), y), mu, lv))(
            *self.encode(x, y))),
    "the logits off by 1e-4 (just outside the tolerance)": _cvae_variant(
        decode=lambda self, z, y: HandCVAE.decode(self, z, y) + 1e-4),
}


def test_cvae_model_accepts_correct_versions(capsys):
    from tutorial_lib.conditional import CVAE

    assert check_cvae_model(HandCVAE) is True
    assert check_cvae_model(NoisyCVAE) is True       # float noise inside the tolerance
    assert check_cvae_model(CVAE) is True
    assert "✅ cvae_model" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", CVAE_MISTAKES, ids=list(CVAE_MISTAKES))
def test_cvae_model_rejects_typical_mistakes(mistake, capsys):
    assert check_cvae_model(CVAE_MISTAKES[mistake]) is False
    assert "❌ cvae_model" in capsys.readouterr().out


# ---- the projection discriminator ----

class HandProjection(nn.Module):
    """The projection discriminator written by hand (Miyato & Koyama 2018)."""

    def __init__(self, width=32):
        super().__init__()
        from tutorial_lib.gan import dcgan_body

        self.body = dcgan_body(width)
        self.linear = nn.Linear(2 * width * 49, 1)
        self.embed = nn.Embedding(10, 2 * width * 49)
        nn.init.normal_(self.embed.weight, std=0.01)

    def forward(self, x, labels):
        h = self.body(2 * x - 1)
        return self.linear(h)[:, 0] + torch.einsum("nf,nf->n", self.embed(labels), h)


def _projection_variant(**overrides):
    return type("Variant", (HandProjection,), overrides)


def _default_embedding(self, width=32):
    HandProjection.__init__(self, width)
    self.embed = nn.Embedding(10, 2 * width * 49)


def _one_hot_channels(self, width=32):
    from tutorial_lib.gan import dcgan_body

    HandProjection.__init__(self, width)
    self.body = dcgan_body(width, in_channels=11)


def _h(self, x):
    return self.body(2 * x - 1)


PROJECTION_MISTAKES = {
    "the N x 1 logits not squeezed (N x N after adding the projection)":
        _projection_variant(forward=lambda self, x, y: self.linear(_h(self, x)) + (self.embed(y) * _h(self, x)).sum(1)),
    "the unconditional term w . h(x) + b left out":
        _projection_variant(forward=lambda self, x, y: (self.embed(y) * _h(self, x)).sum(1)),
    "the images not rescaled to [-1, 1]":
        _projection_variant(forward=lambda self, x, y: (lambda h: self.linear(h).squeeze(1) + (self.embed(y) * h).sum(1))(
            self.body(x))),
    "the label ignored (no projection)":
        _projection_variant(forward=lambda self, x, y: self.linear(_h(self, x)).squeeze(1)),
    "the projection summed over the batch instead of the features":
        _projection_variant(forward=lambda self, x, y: self.linear(_h(self, x)).squeeze(1) + (self.embed(y) * _h(self, x)).sum(0)),
    "the embedding left at nn.Embedding's default N(0, 1) start":
        _projection_variant(__init__=_default_embedding),
    "the one-hot label as extra input channels instead of a projection":
        _projection_variant(__init__=_one_hot_channels, forward=lambda self, x, y: self.linear(self.body(torch.cat(
            [2 * x - 1, _hot(y)[:, :, None, None].expand(-1, -1, 28, 28)], 1))).squeeze(1)),
    "the projection scaled by 1.001 (just outside the tolerance)":
        _projection_variant(forward=lambda self, x, y: self.linear(_h(self, x)).squeeze(1)
                            + 1.001 * (self.embed(y) * _h(self, x)).sum(1)),
}


def test_projection_discriminator_accepts_correct_versions(capsys):
    from tutorial_lib.conditional import ConditionalDiscriminator

    class Noisy(HandProjection):  # float noise: a relative error of 1e-7
        def forward(self, x, labels):
            return super().forward(x, labels) * (1 + 1e-7)

    assert check_projection_discriminator(HandProjection) is True
    assert check_projection_discriminator(Noisy) is True
    assert check_projection_discriminator(ConditionalDiscriminator) is True
    assert "✅ projection_discriminator" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", PROJECTION_MISTAKES, ids=list(PROJECTION_MISTAKES))
def test_projection_discriminator_rejects_typical_mistakes(mistake, capsys):
    assert check_projection_discriminator(PROJECTION_MISTAKES[mistake]) is False
    assert "❌ projection_discriminator" in capsys.readouterr().out


# ---- the VAE-GAN step ----

def _bce_real(logits):
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def _bce_fake(logits):
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def hand_vae_gan_step(model, disc, opt_enc, opt_dec, opt_d, real, prior_z, gamma, *, feature_to_d=False,
                      gan_to_encoder=False, no_gamma=False, no_gan_for_decoder=False, d_on_prior_only=False,
                      simultaneous=False, no_zero_grad=False, gamma_scale=1.0, encoder_loss_to_decoder=False):
    """The VAE-GAN step written by hand with autograd.grad (not backward's inputs=); the keywords make it wrong."""
    mu, logvar = model.encode(real)
    recon = model.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
    prior = model.decode(prior_z)
    fakes = prior if d_on_prior_only else torch.cat([recon, prior])
    d_loss = _bce_real(disc(real)) + _bce_fake(disc(fakes.detach()))
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)).mean()
    enc, dec = model.encoder_parameters(), list(model.decoder.parameters())

    def vae_losses():
        """(feature loss, generator loss, the encoder's gradients, the decoder's) with the discriminator as it is."""
        feature = 0.5 * ((disc.features(real).detach() - disc.features(recon)) ** 2).sum(1).mean()
        g_loss = _bce_real(disc(torch.cat([recon, prior])))
        enc_loss = kl + feature + (g_loss if gan_to_encoder else 0)
        dec_loss = (1.0 if no_gamma else gamma) * gamma_scale * feature + (0 if no_gan_for_decoder else g_loss)
        if encoder_loss_to_decoder:       # (KL + L_feat).backward() without inputs=: the decoder gets L_feat too
            dec_loss = dec_loss + feature
        return (feature, g_loss, torch.autograd.grad(enc_loss, enc, retain_graph=True),
                torch.autograd.grad(dec_loss, dec, retain_graph=True))

    if simultaneous:                      # the encoder's and decoder's gradients before the discriminator's update
        feature, g_loss, enc_grads, dec_grads = vae_losses()
    if not no_zero_grad:
        opt_d.zero_grad()
    if feature_to_d:
        feature_now = 0.5 * ((disc.features(real).detach() - disc.features(recon)) ** 2).sum(1).mean()
        d_loss_total = d_loss + feature_now
    else:
        d_loss_total = d_loss
    d_loss_total.backward(inputs=list(disc.parameters()), retain_graph=True)
    opt_d.step()
    if not simultaneous:
        feature, g_loss, enc_grads, dec_grads = vae_losses()
    for params, grads in ((enc, enc_grads), (dec, dec_grads)):
        for p, g in zip(params, grads):
            p.grad = g if not no_zero_grad or p.grad is None else p.grad + g
    opt_enc.step()
    opt_dec.step()
    return {"d_loss": d_loss.item(), "kl": kl.item(), "feature": feature.item(), "g_loss": g_loss.item()}


def _wrong(**how):
    return lambda *args: hand_vae_gan_step(*args, **how)


VAE_GAN_MISTAKES = {
    "the reconstruction loss reaches the discriminator's weights": _wrong(feature_to_d=True),
    "the GAN loss reaches the encoder": _wrong(gan_to_encoder=True),
    "gamma left out of the decoder's loss": _wrong(no_gamma=True),
    "no GAN loss for the decoder": _wrong(no_gan_for_decoder=True),
    "the discriminator trained on prior samples only": _wrong(d_on_prior_only=True),
    "the encoder's and decoder's gradients taken before the discriminator's update (a simultaneous update)":
        _wrong(simultaneous=True),
    "gradients never zeroed (they add up from step to step)": _wrong(no_zero_grad=True),
    "the encoder's loss KL + L_feat also reaching the decoder": _wrong(encoder_loss_to_decoder=True),
    "gamma off by 1 % (just outside the tolerance)": _wrong(gamma_scale=1.01),
}


def test_vae_gan_step_accepts_correct_versions(capsys):
    from tutorial_lib.conditional import vae_gan_step

    def noisy(*args):  # float noise: every returned value off by a relative 1e-7
        return {k: v * (1 + 1e-7) for k, v in hand_vae_gan_step(*args).items()}

    assert check_vae_gan_step(hand_vae_gan_step) is True
    assert check_vae_gan_step(noisy) is True
    assert check_vae_gan_step(vae_gan_step) is True
    assert "✅ vae_gan_step" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", VAE_GAN_MISTAKES, ids=list(VAE_GAN_MISTAKES))
def test_vae_gan_step_rejects_typical_mistakes(mistake, capsys):
    assert check_vae_gan_step(VAE_GAN_MISTAKES[mistake]) is False
    assert "❌ vae_gan_step" in capsys.readouterr().out


def test_vae_gan_step_names_the_reconstruction_reaching_the_discriminator(capsys):
    check_vae_gan_step(VAE_GAN_MISTAKES["the reconstruction loss reaches the discriminator's weights"])
    assert "L_feat must not reach the discriminator's weights" in capsys.readouterr().out


# ---- the KL-annealing schedule ----

def kl_schedule(step, warmup_steps, beta):
    if warmup_steps == 0:
        return beta
    return beta * min(1.0, (step + 1) / warmup_steps)


KL_WEIGHT_MISTAKES = {
    "off by one: step / warmup (0 at the first step)": lambda s, w, b: b * min(1.0, s / w) if w else b,
    "no cap: keeps rising after the warm-up": lambda s, w, b: b * (s + 1) / w if w else b,
    "beta ignored: rises to 1": lambda s, w, b: min(1.0, (s + 1) / w) if w else 1.0,
    "integer division": lambda s, w, b: b * min(1, (s + 1) // w) if w else b,
    "no warm-up case: divides by zero": lambda s, w, b: b * min(1.0, (s + 1) / w),
    "reaches beta one step late (just outside the tolerance)": lambda s, w, b: b * min(1.0, (s + 1) / (w + 1)) if w else b,
}


def test_kl_weight_accepts_correct_versions(capsys):
    from tutorial_lib.conditional import kl_weight

    assert check_kl_weight(kl_schedule) is True
    assert check_kl_weight(lambda s, w, b: kl_schedule(s, w, b) * (1 + 1e-12)) is True   # float noise
    assert check_kl_weight(lambda s, w, b: torch.tensor(kl_schedule(s, w, b))) is True    # a 0-d tensor is a number
    assert check_kl_weight(kl_weight) is True
    assert "✅ kl_weight" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", KL_WEIGHT_MISTAKES, ids=list(KL_WEIGHT_MISTAKES))
def test_kl_weight_rejects_typical_mistakes(mistake, capsys):
    assert check_kl_weight(KL_WEIGHT_MISTAKES[mistake]) is False
    assert "❌ kl_weight" in capsys.readouterr().out
