"""The GAN exercises' checkers (notebooks 03 and 04): each passes correct implementations written here by
hand (independently of tutorial_lib.gan), fails on the typical mistakes, and never shows code."""
import inspect

import pytest
import torch
import torch.nn.functional as F

from tutorial_lib.checks import (check_discriminator_loss, check_generator_loss, check_gradient_penalty,
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


# ---- gradient penalty ----

def gp_by_hand(critic, real, fake, alpha):
    """An independent version: one sample at a time."""
    penalties = []
    for a, r, f in zip(alpha, real, fake):
        x = (a * r + (1 - a) * f).unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        penalties.append((grad.norm() - 1) ** 2)
    return torch.stack(penalties).mean()


def gp_vectorized(critic, real, fake, alpha):
    alpha = alpha.view(-1, *[1] * (real.dim() - 1))
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def test_gradient_penalty_accepts_correct_versions(capsys):
    assert check_gradient_penalty(gp_by_hand) is True
    assert check_gradient_penalty(gp_vectorized) is True
    assert "✅ gradient_penalty: correct on all 4 test cases" in capsys.readouterr().out


def _gp_variant(alpha_side="real", create_graph=True, power=2, norm_dim=None, reduce="mean", squared_norm=False):
    def penalty(critic, real, fake, alpha):
        a = alpha.view(-1, *[1] * (real.dim() - 1))
        x = a * real + (1 - a) * fake if alpha_side == "real" else a * fake + (1 - a) * real
        x = x.requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=create_graph)
        norm = grad.flatten(1).norm(dim=1) if norm_dim is None else grad.norm(dim=norm_dim)
        if squared_norm:
            norm = norm ** 2
        values = (norm - 1) ** power if power != 1 else (norm - 1).abs()
        return values.mean() if reduce == "mean" else values.sum()
    return penalty


@pytest.mark.parametrize("wrong", [
    _gp_variant(alpha_side="fake"),        # alpha on the wrong side
    _gp_variant(create_graph=False),       # the critic cannot learn from the penalty
    _gp_variant(power=1),                  # |norm - 1| instead of its square
    _gp_variant(norm_dim=1),               # a norm over one dimension only (images)
    _gp_variant(reduce="sum"),             # missing mean
    _gp_variant(squared_norm=True),        # (||g||^2 - 1)^2
    lambda critic, real, fake, alpha: _gp_variant()(critic, real, real, alpha),  # the penalty at the real data
])
def test_gradient_penalty_rejects_typical_mistakes(wrong, capsys):
    assert check_gradient_penalty(wrong) is False
    assert "❌ gradient_penalty" in capsys.readouterr().out


def test_gradient_penalty_names_create_graph(capsys):
    check_gradient_penalty(_gp_variant(create_graph=False))
    assert "create_graph=True" in capsys.readouterr().out


# ---- all four: the stub, a non-function, and no code in the feedback ----

CHECKERS = [check_optimal_discriminator, check_discriminator_loss, check_generator_loss, check_gradient_penalty]


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
    def wrong_gp(critic, real, fake, alpha):
        distinctive_mixture_name = alpha.view(-1, *[1] * (real.dim() - 1)) * fake
        return distinctive_mixture_name.sum() * 0 + 1.0

    def wrong_d(real, fake):
        hidden_loss_name_for_the_test = real.sum() + fake.sum()
        return hidden_loss_name_for_the_test

    check_gradient_penalty(wrong_gp)
    check_discriminator_loss(wrong_d)
    out = capsys.readouterr().out
    for fn in (wrong_gp, wrong_d):
        for line in inspect.getsource(fn).splitlines()[1:]:
            assert line.strip() not in out
    assert "distinctive_mixture_name" not in out and "hidden_loss_name_for_the_test" not in out
