"""The GAN exercises' checkers (notebooks 03 and 04): each passes correct implementations written here by
hand (independently of tutorial_lib.gan), fails on the typical mistakes, and never shows code."""
import contextlib
import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from torch import nn

from tutorial_lib.checks import (check_dcgan_discriminator, check_dcgan_generator, check_discriminator_loss,
                                 check_gan_step, check_generator_loss, check_kl_divergence, check_optimal_discriminator)


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


# ---- optimal discriminator ----

def test_optimal_discriminator_accepts_correct_versions(capsys):
    assert check_optimal_discriminator(lambda p, q: p / (p + q)) is True
    assert check_optimal_discriminator(lambda p, q: 1 / (1 + q / p)) is True  # inf -> 0 where p = 0
    assert "✅ optimal_discriminator" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [
    lambda p, q: q / (p + q),          # swapped: the generator's share
    lambda p, q: p / q,                 # a likelihood ratio, not a probability
    lambda p, q: p / (p + q).sum(),     # normalized over the whole grid
    lambda p, q: (p > q).float(),       # a hard classifier
    lambda p, q: torch.sigmoid(p - q),  # a guess
])
def test_optimal_discriminator_rejects_typical_mistakes(wrong, capsys):
    assert check_optimal_discriminator(wrong) is False
    assert "❌ optimal_discriminator" in capsys.readouterr().out


# ---- discriminator loss ----

def d_loss_bce(real, fake):
    return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def d_loss_logsigmoid(real, fake):
    return -F.logsigmoid(real).mean() - F.logsigmoid(-fake).mean()


def test_discriminator_loss_accepts_correct_versions(capsys):
    assert check_discriminator_loss(d_loss_bce) is True
    assert check_discriminator_loss(d_loss_logsigmoid) is True
    assert "✅ discriminator_loss: correct on all 4 test cases" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [
    lambda r, f: -d_loss_logsigmoid(r, f),                                    # sign: maximizes the loss
    lambda r, f: -F.logsigmoid(r).sum() - F.logsigmoid(-f).sum(),             # missing mean
    lambda r, f: -F.logsigmoid(torch.cat([r, -f])).mean(),                    # one mean over both batches
    lambda r, f: -F.logsigmoid(-r).mean() - F.logsigmoid(f).mean(),           # real and fake labels swapped
    lambda r, f: -F.logsigmoid(r).mean() + F.logsigmoid(f).mean(),            # log D(G(z)) instead of log(1 - D)
    lambda r, f: -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean(),  # unstable
    lambda r, f: -torch.log(r.clamp(1e-7, 1)).mean() - torch.log((1 - f).clamp(1e-7, 1)).mean(),  # logits as D
    lambda r, f: -F.logsigmoid(r).mean(),                                      # forgets the fakes
])
def test_discriminator_loss_rejects_typical_mistakes(wrong, capsys):
    assert check_discriminator_loss(wrong) is False
    assert "❌ discriminator_loss" in capsys.readouterr().out


def test_discriminator_loss_explains_the_unstable_form(capsys):
    naive = lambda r, f: -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()  # noqa: E731
    check_discriminator_loss(naive)
    out = capsys.readouterr().out
    assert "confidently wrong" in out and "logsigmoid" in out


# ---- generator loss ----

def test_generator_loss_accepts_correct_versions(capsys):
    assert check_generator_loss(lambda f: -F.logsigmoid(f).mean()) is True
    assert check_generator_loss(lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f))) is True
    assert check_generator_loss(lambda f: -torch.log(torch.sigmoid(f)).mean()) is True  # fine in this direction
    assert "✅ generator_loss" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [
    lambda f: F.logsigmoid(f).mean(),                      # sign
    lambda f: -F.logsigmoid(f).sum(),                      # missing mean
    lambda f: torch.log(1 - torch.sigmoid(f)).mean(),      # the saturating loss log(1 - D)
    lambda f: -torch.log(1 - torch.sigmoid(f)).mean(),     # -log(1 - D): rewards being spotted
    lambda f: -f.mean(),                                   # the Wasserstein generator loss
    lambda f: -torch.log(f.clamp(1e-7, 1)).mean(),         # logits used as probabilities
])
def test_generator_loss_rejects_typical_mistakes(wrong, capsys):
    assert check_generator_loss(wrong) is False
    assert "❌ generator_loss" in capsys.readouterr().out


# ---- KL divergence on a grid (notebook 03) ----

def kl_by_hand(p, q, dx):
    """An independent version: a Python loop over the grid points where p > 0."""
    total = 0.0
    for a, b in zip(p.tolist(), q.tolist()):
        if a > 0:
            total += a * (math.log(a) - math.log(b)) if b > 0 else math.inf
    return torch.tensor(total * dx, dtype=torch.float64)


def test_kl_divergence_accepts_correct_versions(capsys):
    assert check_kl_divergence(lambda p, q, dx: (torch.xlogy(p, p) - torch.xlogy(p, q)).sum() * dx) is True
    assert check_kl_divergence(lambda p, q, dx: torch.where(p > 0, p * (p.log() - q.log()), 0.0).sum() * dx) is True
    assert "✅ kl_divergence" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [
    pytest.param(lambda p, q, dx: (torch.xlogy(q, q) - torch.xlogy(q, p)).sum() * dx, id="arguments swapped"),
    pytest.param(lambda p, q, dx: (p * torch.log(p / q)).sum() * dx, id="0 log 0 gives nan"),
    pytest.param(lambda p, q, dx: (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(), id="missing dx"),
    pytest.param(lambda p, q, dx: (torch.xlogy(p, p) - torch.xlogy(p, q + 1e-12)).sum() * dx,
                 id="epsilon hides the infinity"),
    pytest.param(lambda p, q, dx: ((p - q) * torch.log((p + 1e-300) / (q + 1e-300))).sum() * dx / 2,
                 id="a symmetrized KL"),
])
def test_kl_divergence_rejects_typical_mistakes(wrong, capsys):
    assert check_kl_divergence(wrong) is False
    assert "❌ kl_divergence" in capsys.readouterr().out


def test_kl_divergence_reference_matches_a_loop():
    from tutorial_lib.gan import kl_divergence
    x = torch.linspace(-6, 6, 601, dtype=torch.float64)
    p = torch.exp(-0.5 * x ** 2) * (x.abs() < 2)
    q = torch.exp(-0.5 * ((x - 1) / 1.5) ** 2)
    p, q = p / p.sum() / 0.02, q / q.sum() / 0.02
    assert torch.allclose(kl_divergence(p, q, 0.02), kl_by_hand(p, q, 0.02), atol=1e-12)


# ---- one GAN training step (notebook 04) ----

def step_by_hand(generator, discriminator, opt_g, opt_d, real):
    """An independent version with binary cross-entropy on logits (not tutorial_lib.gan's losses)."""
    generator.train()
    discriminator.train()
    ones, zeros = torch.ones(len(real)), torch.zeros(len(real))
    fake = generator(torch.randn(len(real), generator.latent_dim, device=real.device)).detach()
    d_loss = (F.binary_cross_entropy_with_logits(discriminator(real), ones)
              + F.binary_cross_entropy_with_logits(discriminator(fake), zeros))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    fake = generator(torch.randn(len(real), generator.latent_dim, device=real.device))
    g_loss = F.binary_cross_entropy_with_logits(discriminator(fake), ones)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def make_step(detach=True, zero_grad_d=True, zero_grad_g=True, d_optimizer_after_g=False, swap_optimizers=False,
              saturating=False, eval_fakes=False, returns=True):
    """step_by_hand with one typical mistake switched on."""
    def step(generator, discriminator, opt_g, opt_d, real):
        generator.train()
        discriminator.train()
        first, second = (opt_g, opt_d) if swap_optimizers else (opt_d, opt_g)
        if eval_fakes:
            generator.eval()
        with torch.no_grad() if detach else contextlib.nullcontext():
            fake = generator(torch.randn(len(real), generator.latent_dim))
        d_loss = -F.logsigmoid(discriminator(real)).mean() - F.logsigmoid(-discriminator(fake)).mean()
        if zero_grad_d:
            opt_d.zero_grad()
        d_loss.backward()
        first.step()
        fake_logits = discriminator(generator(torch.randn(len(real), generator.latent_dim)))
        g_loss = F.logsigmoid(-fake_logits).mean() if saturating else -F.logsigmoid(fake_logits).mean()
        if zero_grad_g:
            opt_g.zero_grad()
        g_loss.backward()
        second.step()
        if d_optimizer_after_g:
            opt_d.step()
        return (d_loss.item(), g_loss.item()) if returns else None
    return step


def test_gan_step_accepts_correct_versions(capsys):
    assert check_gan_step(step_by_hand) is True
    assert check_gan_step(make_step()) is True
    assert "✅ gan_step" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    pytest.param(make_step(detach=False), "fakes of the discriminator step were not detached", id="fakes not detached"),
    pytest.param(make_step(d_optimizer_after_g=True), "discriminator's weights changed during the generator step",
                 id="discriminator stepped during the generator step"),
    pytest.param(make_step(zero_grad_d=False), "gradients accumulate", id="missing opt_d.zero_grad"),
    pytest.param(make_step(zero_grad_g=False), "gradients accumulate", id="missing opt_g.zero_grad"),
    pytest.param(make_step(swap_optimizers=True), "the wrong optimizer stepped", id="optimizers swapped"),
    pytest.param(make_step(saturating=True), "saturating loss", id="saturating generator loss"),
    pytest.param(make_step(eval_fakes=True), "BatchNorm ran in eval mode", id="BatchNorm left in eval mode"),
    pytest.param(make_step(returns=False), "return the two losses", id="returns nothing"),
])
def test_gan_step_rejects_each_mistake_with_its_own_message(wrong, message, capsys):
    assert check_gan_step(wrong) is False
    out = capsys.readouterr().out
    assert "❌ gan_step" in out and message in out and "Hint:" in out


def test_gan_step_needs_training_mode_when_handed_eval_mode_networks(capsys):
    def never_switches_to_training(generator, discriminator, opt_g, opt_d, real):
        return step_by_hand(_NoTrain(generator), discriminator, opt_g, opt_d, real)

    assert check_gan_step(never_switches_to_training) is False
    assert "BatchNorm ran in eval mode" in capsys.readouterr().out


class _NoTrain:
    """A generator whose .train() does nothing (a step that forgets to switch modes)."""

    def __init__(self, module):
        self.module, self.latent_dim = module, module.latent_dim

    def train(self, mode=True):
        return self

    def __call__(self, z):
        return self.module(z)


def test_gan_step_reference_is_train_gan():
    """The library's gan_step is train_gan's loop (n_critic=1, no penalty, pack=1): same seed, same weights."""
    from tutorial_lib.gan import MLPDiscriminator, MLPGenerator, gan_step
    from tutorial_lib.train import GANRecipe, train_gan

    data = torch.randn(500, 2)

    def pair():
        torch.manual_seed(3)
        return MLPGenerator(latent_dim=2, hidden=16), MLPDiscriminator(hidden=16)

    g1, d1 = pair()
    opt_g = torch.optim.Adam(g1.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d1.parameters(), lr=1e-3, betas=(0.5, 0.999))
    losses = [gan_step(g1, d1, opt_g, opt_d, data[torch.randint(len(data), (32,))]) for _ in range(15)]
    g2, d2 = pair()
    history = train_gan(g2, d2, data, GANRecipe(lr_g=1e-3, lr_d=1e-3, batch_size=32), steps=15, device="cpu")
    for a, b in zip(list(g1.parameters()) + list(d1.parameters()), list(g2.parameters()) + list(d2.parameters())):
        assert torch.allclose(a, b, atol=1e-6)
    assert [d for d, _ in losses] == pytest.approx(history.losses["d_loss"], abs=1e-6)
    assert [g for _, g in losses] == pytest.approx(history.losses["g_loss"], abs=1e-6)


# ---- the DCGAN generator and discriminator (notebook 04) ----

def make_generator(paddings=(1, 1), projection_norm="1d", norm_after_first=True, norm_after_last=False, noise_norm=False,
                   bias=False, output="tanh", activation="relu", detach=False, hardcoded=False, projected=None,
                   momentum=0.1, scale=1.0, latent_attribute=True):
    """A DCGAN generator written independently of tutorial_lib.gan (other attribute names, .view instead of
    nn.Unflatten, functional ReLU, sigmoid(2a) instead of (tanh(a) + 1) / 2), with one typical mistake switched on."""

    class Generator(nn.Module):
        def __init__(self, latent_dim=64, width=32):
            super().__init__()
            if hardcoded:
                latent_dim, width = 64, 32
            if latent_attribute:
                self.latent_dim = latent_dim
            self.width = width
            values = projected(width) if projected else 2 * width * 49
            self.noise_norm = nn.BatchNorm1d(latent_dim) if noise_norm else None
            self.fc = nn.Linear(latent_dim, values, bias=bias)
            self.fc_norm = {"1d": nn.BatchNorm1d(values, momentum=momentum), "2d": nn.BatchNorm2d(2 * width),
                            None: None}[projection_norm]
            self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=paddings[0], bias=bias)
            self.up1_norm = nn.BatchNorm2d(width, momentum=momentum) if norm_after_first else None
            self.up2 = nn.ConvTranspose2d(width, 1, 4, stride=2, padding=paddings[1])
            self.up2_norm = nn.BatchNorm2d(1) if norm_after_last else None
            self.act = nn.LeakyReLU(0.2) if activation == "leaky" else None

        def relu(self, h):
            return self.act(h) if self.act is not None else F.relu(h)

        def forward(self, z):
            if self.noise_norm is not None:
                z = self.noise_norm(z)
            h = self.fc(z)
            if projection_norm == "1d":
                h = self.fc_norm(h)
            h = h.view(len(z), -1, 7, 7)
            if projection_norm == "2d":
                h = self.fc_norm(h)
            h = self.relu(h)
            h = self.up1(h)
            if self.up1_norm is not None:
                h = self.up1_norm(h)
            a = self.up2(self.relu(h))
            if self.up2_norm is not None:
                a = self.up2_norm(a)
            images = {"tanh": lambda: torch.sigmoid(2 * a), "tanh only": lambda: torch.tanh(a),
                      "none": lambda: (a + 1) / 2, "sigmoid": lambda: torch.sigmoid(a)}[output]()
            return (images.detach() if detach else images) * scale

    return Generator


def make_discriminator(paddings=(1, 1), norm=None, rescale=True, sigmoid=False, squeeze=True, activation=0.2,
                       hardcoded=False, detach=False, swap_channels=False, offset=0.0):
    """A DCGAN discriminator written independently of tutorial_lib.gan (named layers, (x - 0.5) * 2, functional
    LeakyReLU unless another activation is asked for), with one typical mistake switched on."""

    class Discriminator(nn.Module):
        def __init__(self, width=32):
            super().__init__()
            if hardcoded:
                width = 32
            first, second = (2 * width, width) if swap_channels else (width, 2 * width)
            self.conv1 = nn.Conv2d(1, first, 4, stride=2, padding=paddings[0])
            self.norm1 = nn.BatchNorm2d(first) if norm == "first" else None
            self.conv2 = nn.Conv2d(first, 2 * width if not swap_channels else second, 4, stride=2, padding=paddings[1])
            self.norm2 = nn.BatchNorm2d(2 * width) if norm == "second" else None
            self.act = nn.ReLU() if activation == "relu" else None
            self.out = nn.Linear(2 * width * 49, 1)

        def activate(self, h):
            return self.act(h) if self.act is not None else F.leaky_relu(h, activation)

        def forward(self, x):
            h = (x - 0.5) * 2 if rescale else x
            if detach:
                h = h.detach()
            h = self.conv1(h)
            if self.norm1 is not None:
                h = self.norm1(h)
            h = self.conv2(self.activate(h))
            if self.norm2 is not None:
                h = self.norm2(h)
            logits = self.out(self.activate(h).flatten(1)) + offset
            logits = torch.sigmoid(logits) if sigmoid else logits
            return logits.squeeze(1) if squeeze else logits

    return Discriminator


def test_dcgan_checkers_accept_the_library_and_independent_versions(capsys):
    from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator

    assert check_dcgan_generator(make_generator()) is True
    assert check_dcgan_generator(DCGANGenerator) is True
    assert check_dcgan_discriminator(make_discriminator()) is True
    assert check_dcgan_discriminator(DCGANDiscriminator) is True
    out = capsys.readouterr().out
    assert "✅ dcgan_generator" in out and "✅ dcgan_discriminator" in out


@pytest.mark.parametrize("wrong, message", [
    pytest.param(make_generator(paddings=(1, 2)), "into 26 x 26, expected 28 x 28", id="padding 2 gives 26 x 26"),
    pytest.param(make_generator(paddings=(0, 0)), "into 16 x 16, expected 14 x 14", id="padding 0"),
    pytest.param(make_generator(output="tanh only"), "inside [-1, 1] but below 0", id="tanh not rescaled to [0, 1]"),
    pytest.param(make_generator(output="none"), "unbounded", id="no tanh"),
    pytest.param(make_generator(output="sigmoid"), "sigmoid(a)", id="sigmoid(a) instead of sigmoid(2a)"),
    pytest.param(make_generator(norm_after_last=True), "output layer", id="batch norm on the output layer"),
    pytest.param(make_generator(projection_norm=None), "no batch norm after the projection",
                 id="no batch norm after the projection"),
    pytest.param(make_generator(projection_norm="2d"), "BatchNorm2d over 64 channels",
                 id="per-channel batch norm after the projection"),
    pytest.param(make_generator(norm_after_first=False), "no batch norm after the first transposed convolution",
                 id="no batch norm after the first transposed convolution"),
    pytest.param(make_generator(noise_norm=True), "on the noise itself", id="batch norm on the noise"),
    pytest.param(make_generator(bias=True), "the layers before a batch norm have a bias", id="bias before batch norm"),
    pytest.param(make_generator(activation="leaky"), "uses LeakyReLU", id="LeakyReLU in the generator"),
    pytest.param(make_generator(hardcoded=True), "latent_dim=8, width=4", id="sizes hard-coded"),
    pytest.param(make_generator(detach=True), "gradient with respect to the noise is missing", id="detached output"),
    pytest.param(make_generator(projected=lambda w: w * 49), "the projection maps 6 noise vectors to 6 x 1568",
                 id="projection too small"),
    pytest.param(make_generator(momentum=0.5), "in eval mode", id="BatchNorm momentum changed"),
    pytest.param(make_generator(latent_attribute=False), "latent_dim", id="no latent_dim attribute"),
])
def test_dcgan_generator_rejects_each_mistake_with_its_own_message(wrong, message, capsys):
    assert check_dcgan_generator(wrong) is False
    out = capsys.readouterr().out
    assert "❌ dcgan_generator" in out and message in out and "Hint:" in out


@pytest.mark.parametrize("wrong, message", [
    pytest.param(make_discriminator(paddings=(0, 0)), "into 13 x 13, expected 14 x 14", id="padding 0 gives 13 x 13"),
    pytest.param(make_discriminator(paddings=(1, 2)), "into 8 x 8, expected 7 x 7", id="padding 2 in the second"),
    pytest.param(make_discriminator(norm="first"), "batch norm on the discriminator's input layer",
                 id="batch norm on the input layer"),
    pytest.param(make_discriminator(norm="second"), "batch norm in the discriminator", id="batch norm later"),
    pytest.param(make_discriminator(rescale=False), "does not rescale its input", id="no rescale to [-1, 1]"),
    pytest.param(make_discriminator(sigmoid=True), "returns probabilities", id="sigmoid at the end"),
    pytest.param(make_discriminator(squeeze=False), "still has its last dimension", id="logits N x 1"),
    pytest.param(make_discriminator(activation="relu"), "uses ReLU", id="ReLU instead of LeakyReLU"),
    pytest.param(make_discriminator(activation=0.21), "logits differ", id="LeakyReLU slope 0.21 (functional)"),
    pytest.param(make_discriminator(hardcoded=True), "width=4", id="width hard-coded"),
    pytest.param(make_discriminator(detach=True), "gradient with respect to the images is missing",
                 id="input detached"),
    pytest.param(make_discriminator(swap_channels=True), "has 64 output channels, expected 32",
                 id="channel counts swapped"),
])
def test_dcgan_discriminator_rejects_each_mistake_with_its_own_message(wrong, message, capsys):
    assert check_dcgan_discriminator(wrong) is False
    out = capsys.readouterr().out
    assert "❌ dcgan_discriminator" in out and message in out and "Hint:" in out


def test_dcgan_discriminator_names_a_leaky_relu_slope_module(capsys):
    class Slope(make_discriminator()):
        def __init__(self, width=32):
            super().__init__(width)
            self.act = nn.LeakyReLU(0.01)

    assert check_dcgan_discriminator(Slope) is False
    assert "LeakyReLU(0.01)" in capsys.readouterr().out


def test_dcgan_tolerance_from_both_sides(capsys):
    """Float noise (a relative 1e-6, ten times float32's epsilon) passes; a near-correct network off by a relative
    3e-4 (or logits off by 2e-4) fails. Between them: DCGAN_ATOL + DCGAN_RTOL * |value| = 1e-5 + 1e-4 |value|."""
    from tutorial_lib.checks.gan import DCGAN_ATOL, DCGAN_RTOL

    assert (DCGAN_ATOL, DCGAN_RTOL) == (1e-5, 1e-4)
    assert check_dcgan_generator(make_generator(scale=1 - 1e-6)) is True
    assert check_dcgan_generator(make_generator(scale=1 - 3e-4)) is False
    assert check_dcgan_discriminator(make_discriminator(offset=1e-6)) is True
    assert check_dcgan_discriminator(make_discriminator(offset=2e-4)) is False
    out = capsys.readouterr().out
    assert "your images differ from the course generator's in training mode (batch statistics) by up to" in out
    assert "your logits differ from the course discriminator's by up to" in out


def test_dcgan_batch_norm_eps_is_caught(capsys):
    """BatchNorm's eps 1e-3 instead of 1e-5: a near-correct network whose images differ by about 1e-3."""
    class Eps(make_generator()):
        def __init__(self, latent_dim=64, width=32):
            super().__init__(latent_dim, width)
            self.fc_norm.eps = self.up1_norm.eps = 1e-3

    assert check_dcgan_generator(Eps) is False
    assert "differ from the course generator's in training mode" in capsys.readouterr().out


def test_dcgan_parameter_counts_match_the_library():
    """The checkers' formulas against the library's networks, at several sizes."""
    from tutorial_lib.checks.gan import dcgan_discriminator_parameters, dcgan_generator_parameters
    from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator

    assert dcgan_generator_parameters() == 240_321 and dcgan_discriminator_parameters() == 36_513
    for latent, width in ((64, 32), (8, 4), (100, 16)):
        assert dcgan_generator_parameters(latent, width) == sum(p.numel() for p in DCGANGenerator(latent, width).parameters())
        assert dcgan_discriminator_parameters(width) == sum(p.numel() for p in DCGANDiscriminator(width).parameters())


def test_copy_dcgan_weights_makes_equal_networks_and_names_a_mismatch():
    from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator, copy_dcgan_weights

    torch.manual_seed(0)
    library = DCGANGenerator(8, 4)
    library(torch.randn(32, 8))  # training mode: the running statistics move away from (0, 1)
    mine = copy_dcgan_weights(library, make_generator()(8, 4))
    z = torch.randn(5, 8)
    for mode in (True, False):
        library.train(mode)
        mine.train(mode)
        assert torch.allclose(mine(z), library(z), atol=1e-6)
    assert torch.equal(mine.fc_norm.running_var, library.project[1].running_var)
    with pytest.raises(ValueError, match="different layers"):
        copy_dcgan_weights(library, make_generator(bias=True)(8, 4))
    with pytest.raises(ValueError, match="spectral norm"):
        copy_dcgan_weights(DCGANDiscriminator(4, spectral_norm=True), DCGANDiscriminator(4))


def test_layer_shapes_keeps_the_layers_before_an_error():
    from tutorial_lib.gan import layer_shapes

    trace = []
    with pytest.raises(RuntimeError):
        layer_shapes(make_discriminator(paddings=(0, 0))(), torch.rand(2, 1, 28, 28), trace=trace)
    assert [(type(layer).__name__, shape) for _, layer, shape in trace] == [("Conv2d", (2, 32, 13, 13)),
                                                                            ("Conv2d", (2, 64, 5, 5))]
    with pytest.raises(TypeError, match="nn.Module"):
        layer_shapes(lambda x: x, torch.rand(2, 1, 28, 28))
    from tutorial_lib.gan import copy_dcgan_weights
    with pytest.raises(TypeError, match="nn.Module"):
        copy_dcgan_weights({"weight": torch.zeros(3)}, make_discriminator()())


# ---- all of them: the stub, a non-function, and no code in the feedback ----

CHECKERS = [check_optimal_discriminator, check_kl_divergence, check_discriminator_loss, check_generator_loss,
            check_gan_step, check_dcgan_generator, check_dcgan_discriminator]


@pytest.mark.parametrize("checker", CHECKERS)
def test_stub_is_not_implemented_yet(checker, capsys):
    def stub(*args):
        raise NotImplementedError("Exercise: replace this line with your code")

    assert checker(stub) is False
    assert "⏳" in capsys.readouterr().out


@pytest.mark.parametrize("checker", CHECKERS)
def test_not_a_function(checker, capsys):
    assert checker(torch.tensor([1.0])) is False
    assert "pass your function itself" in capsys.readouterr().out


@pytest.mark.parametrize("checker", CHECKERS)
def test_strict_mode_raises(checker, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError, match="failed"):
        checker(lambda *args: torch.tensor(123.0))


def test_feedback_never_shows_code(capsys):
    def wrong_step(generator, discriminator, opt_g, opt_d, real):
        distinctive_fake_name = generator(torch.randn(len(real), generator.latent_dim))
        loss_with_a_hidden_name = -F.logsigmoid(discriminator(real)).mean() - F.logsigmoid(-discriminator(distinctive_fake_name)).mean()
        opt_d.zero_grad()
        loss_with_a_hidden_name.backward()
        opt_d.step()
        return 0.0, 0.0

    def wrong_d(real, fake):
        hidden_loss_name_for_the_test = real.sum() + fake.sum()
        return hidden_loss_name_for_the_test

    check_gan_step(wrong_step)
    check_discriminator_loss(wrong_d)
    out = capsys.readouterr().out
    for fn in (wrong_step, wrong_d):
        for line in inspect.getsource(fn).splitlines()[1:]:
            assert line.strip() not in out
    assert "distinctive_fake_name" not in out and "hidden_loss_name_for_the_test" not in out


@pytest.mark.parametrize("checker", [check_dcgan_generator, check_dcgan_discriminator])
def test_dcgan_student_stub_class_is_not_implemented_yet(checker, capsys):
    class Stub(nn.Module):
        """What the student edition hands out: every method raises."""

        def __init__(self, *args, **kwargs):
            raise NotImplementedError("Exercise: replace this line with your code")

        def forward(self, x):
            raise NotImplementedError("Exercise: replace this line with your code")

    assert checker(Stub) is False
    out = capsys.readouterr().out
    assert "⏳" in out and "Hint" not in out
