"""The GAN exercises' checkers (notebooks 03 and 04): each passes correct implementations written here by
hand (independently of tutorial_lib.gan), fails on the typical mistakes, and never shows code."""
import contextlib
import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from tutorial_lib.checks import (check_discriminator_loss, check_gan_step, check_generator_loss, check_kl_divergence,
                                 check_optimal_discriminator)


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


# ---- all of them: the stub, a non-function, and no code in the feedback ----

CHECKERS = [check_optimal_discriminator, check_kl_divergence, check_discriminator_loss, check_generator_loss,
            check_gan_step]


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
