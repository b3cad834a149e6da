"""The VAE exercises' checkers (notebooks 01 and 02): they pass correct solutions written in different ways
(deterministically, although reparameterize, elbo and iwae_bound are random) and fail typical mistakes."""
import inspect
import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence
from torch import nn
from torch.nn import functional as F

from tutorial_lib.checks import (check_conv_vae, check_elbo, check_gaussian_kl, check_iwae_bound, check_reparameterize,
                                 check_vae_model, check_vae_train_step)
from tutorial_lib.vae import VAE, copy_vae_weights, elbo, vae_train_step


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


def passes(checker, fn, capsys):
    result = checker(fn)
    out = capsys.readouterr().out
    assert result is True, out
    assert out.startswith("✅")
    return out


def fails(checker, fn, capsys):
    result = checker(fn)
    out = capsys.readouterr().out
    assert result is False, out
    assert out.startswith("❌") and "Hint:" in out
    return out


def test_strict_mode_raises_and_the_stub_is_not_yet(monkeypatch, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError

    for checker in (check_gaussian_kl, check_reparameterize, check_elbo, check_iwae_bound, check_vae_model,
                    check_vae_train_step, check_conv_vae):
        assert checker(stub) is False
        assert "⏳" in capsys.readouterr().out
        assert checker("not a function") is False
        assert "pass your function itself" in capsys.readouterr().out
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError, match="check_gaussian_kl failed"):
        check_gaussian_kl(lambda mu, logvar: mu.sum(1))
    with pytest.raises(AssertionError, match="check_reparameterize failed"):
        check_reparameterize(lambda mu, logvar: mu)


# ---- gaussian_kl ----

def kl_with_distributions(mu, logvar):
    return kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros_like(mu), 1.0)).sum(dim=1)


def kl_with_a_loop(mu, logvar):
    rows = []
    for m_row, lv_row in zip(mu.tolist(), logvar.tolist()):
        rows.append(sum(0.5 * (m * m + math.exp(lv) - 1 - lv) for m, lv in zip(m_row, lv_row)))
    return torch.tensor(rows)


@pytest.mark.parametrize("solution", [kl_with_distributions, kl_with_a_loop])
def test_check_gaussian_kl_passes_correct_solutions(solution, capsys):
    passes(check_gaussian_kl, solution, capsys)


@pytest.mark.parametrize("mistake", [
    lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean(dim=1),       # mean, not sum, over dims
    lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(),              # one number for the batch
    lambda mu, logvar: (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1),               # no 1/2
    lambda mu, logvar: 0.5 * (mu ** 2 + logvar ** 2 - 1 - logvar).sum(dim=1),          # logvar read as sigma
    lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - 1 + logvar).sum(dim=1),         # sign of log sigma^2
    lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - logvar).sum(dim=1),             # forgot the -1
    lambda mu, logvar: -0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1),        # the negative KL
])
def test_check_gaussian_kl_fails_typical_mistakes(mistake, capsys):
    fails(check_gaussian_kl, mistake, capsys)


# ---- reparameterize ----

def reparam_randn_like(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def reparam_sqrt_of_variance(mu, logvar):
    eps = torch.randn(mu.shape)
    return mu + eps * logvar.exp().sqrt()


def reparam_rsample(mu, logvar):
    return Normal(mu, torch.exp(logvar / 2)).rsample()


def reparam_box_muller(mu, logvar):
    """Another source of normal noise (different numbers from randn under the same seed)."""
    u1, u2 = torch.rand_like(mu).clamp_min(1e-12), torch.rand_like(mu)
    eps = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
    return mu + torch.exp(0.5 * logvar) * eps


@pytest.mark.parametrize("solution", [reparam_randn_like, reparam_sqrt_of_variance, reparam_rsample,
                                      reparam_box_muller])
def test_check_reparameterize_passes_correct_solutions_every_time(solution, capsys):
    for _ in range(2):  # deterministic: the checker seeds the draws
        passes(check_reparameterize, solution, capsys)


@pytest.mark.parametrize("mistake, case", [
    (lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu), "variance"),              # the variance as std
    (lambda mu, logvar: mu + logvar * torch.randn_like(mu), "variance"),                      # logvar as std
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.rand_like(mu), "mean"),         # uniform noise
    (lambda mu, logvar: Normal(mu, torch.exp(0.5 * logvar)).sample(), "gradients"),          # no gradient path
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar).detach() * torch.randn_like(mu), "gradients"),
    (lambda mu, logvar: mu, "variance"),                                                     # no noise at all
    (lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).mean(dim=1), "shape"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(1, mu.shape[1]), "mean"),  # one eps per batch
])
def test_check_reparameterize_fails_typical_mistakes(mistake, case, capsys):
    out = fails(check_reparameterize, mistake, capsys)
    assert case in out.split("Hint")[0]


def test_check_reparameterize_notices_frozen_noise(capsys):
    def frozen(mu, logvar):
        g = torch.Generator().manual_seed(0)
        return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)

    out = fails(check_reparameterize, frozen, capsys)
    assert "different noise" in out


# ---- elbo ----

def elbo_with_distributions(model, x, beta=1.0):
    """Independent solution: torch.distributions for the sample, the likelihood and the KL."""
    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    logits = model.decode(q.rsample())
    log_px_z = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    return log_px_z - beta * kl_divergence(q, Normal(torch.zeros_like(mu), 1.0)).sum(1)


def elbo_with_forward(model, x, beta=1.0):
    logits, mu, logvar = model(x)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=(1, 2, 3))
    return log_px_z - beta * 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)


@pytest.mark.parametrize("solution", [elbo_with_distributions, elbo_with_forward])
def test_check_elbo_passes_correct_solutions(solution, capsys):
    passes(check_elbo, solution, capsys)


def elbo_at_the_mean(model, x, beta=1.0):  # forgets to sample z
    mu, logvar = model.encode(x)
    log_px_z = Bernoulli(logits=model.decode(mu)).log_prob(x).flatten(1).sum(1)
    return log_px_z - beta * 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)


@pytest.mark.parametrize("mistake", [
    lambda model, x, beta=1.0: elbo_with_forward(model, x, beta).mean(),               # mean over the batch
    lambda model, x, beta=1.0: -elbo_with_forward(model, x, beta),                     # the loss, not the ELBO
    lambda model, x, beta=1.0: elbo_with_forward(model, x, 1.0),                       # ignores beta
    lambda model, x, beta=1.0: elbo_with_forward(model, x, -beta),                     # adds the KL
    elbo_at_the_mean,
    lambda model, x, beta=1.0: elbo_with_forward(model, x, beta) + 0 * model.decode(model.encode(x)[0]).sum()
    - F.binary_cross_entropy(torch.sigmoid(model(x)[0]), x, reduction="none").sum((1, 2, 3)) * 0.0
    - ((torch.sigmoid(model(x)[0]) - x) ** 2).sum((1, 2, 3)),                           # an extra squared error
])
def test_check_elbo_fails_typical_mistakes(mistake, capsys):
    fails(check_elbo, mistake, capsys)


# ---- iwae_bound ----

def iwae_with_distributions(model, x, k):
    """Independent solution: torch.distributions log-densities, a loop over samples, logsumexp."""
    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    log_w = []
    for _ in range(k):
        z = q.rsample()
        log_px_z = Bernoulli(logits=model.decode(z)).log_prob(x).flatten(1).sum(1)
        log_w.append(log_px_z + Normal(0.0, 1.0).log_prob(z).sum(1) - q.log_prob(z).sum(1))
    return torch.logsumexp(torch.stack(log_w), dim=0) - math.log(k)


def iwae_vectorized(model, x, k):
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(k, *mu.shape)
    z = mu + std * eps
    logits = model.decode(z.flatten(0, 1)).view(k, len(x), 1, 28, 28)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum((2, 3, 4))
    log_pz = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_qz = (-0.5 * eps ** 2 - 0.5 * math.log(2 * math.pi) - 0.5 * logvar).sum(-1)
    return torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)


@pytest.mark.parametrize("solution", [iwae_with_distributions, iwae_vectorized])
def test_check_iwae_bound_passes_correct_solutions(solution, capsys):
    passes(check_iwae_bound, solution, capsys)


def _log_weights(model, x, k, drop_constant=False, drop_logvar=False):
    mu, logvar = model.encode(x)
    eps = torch.randn(k, *mu.shape)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.decode(z.flatten(0, 1)).view(k, len(x), 1, 28, 28)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum((2, 3, 4))
    log_pz = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_qz = (-0.5 * eps ** 2 - (0 if drop_constant else 0.5 * math.log(2 * math.pi))
              - (0 if drop_logvar else 0.5 * logvar)).sum(-1)
    return log_px_z + log_pz - log_qz


@pytest.mark.parametrize("mistake", [
    lambda model, x, k: torch.logsumexp(_log_weights(model, x, k), dim=0),                       # forgot -log k
    lambda model, x, k: _log_weights(model, x, k).mean(dim=0),                                  # the ELBO again
    lambda model, x, k: torch.log(torch.exp(_log_weights(model, x, k)).mean(dim=0)),             # underflows
    lambda model, x, k: torch.logsumexp(_log_weights(model, x, k, drop_constant=True), 0) - math.log(k),
    lambda model, x, k: torch.logsumexp(_log_weights(model, x, k, drop_logvar=True), 0) - math.log(k),
    lambda model, x, k: torch.logsumexp(_log_weights(model, x, k), dim=1) - math.log(k),         # wrong axis
    lambda model, x, k: torch.logsumexp(_log_weights(model, x, k), dim=0).mean() - math.log(k),  # one number
])
def test_check_iwae_bound_fails_typical_mistakes(mistake, capsys):
    fails(check_iwae_bound, mistake, capsys)


# ---- feedback never shows solution code ----

@pytest.mark.parametrize("checker, wrong", [
    (check_gaussian_kl, lambda mu, logvar: (mu ** 2).sum(1)),
    (check_elbo, lambda model, x, beta=1.0: elbo_with_forward(model, x, beta).mean()),
])
def test_feedback_never_shows_the_library_solution(checker, wrong, capsys):
    from tutorial_lib import vae

    checker(wrong)
    out = capsys.readouterr().out
    for fn in (vae.gaussian_kl, vae.elbo, vae.reparameterize, vae.iwae_bound):
        body = inspect.getsource(fn).split('"""')[-1]  # the code after the docstring
        for line in body.splitlines():
            if len(line.strip()) > 15:
                assert line.strip() not in out


# ---- vae_model: the VAE written as a class ----

class GoodVAE(nn.Module):
    """An independent solution: the encoder flattens in encode, the decoder reshapes in decode, Normal.rsample."""

    def __init__(self, latent_dim=20, hidden=400):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())
        self.to_mu, self.to_logvar = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def head(self, h):
        return self.to_mu(h), self.to_logvar(h)

    def encode(self, x):
        return self.head(self.encoder(x.flatten(1)))

    def decode(self, z):
        return self.decoder(z).view(-1, 1, 28, 28)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(Normal(mu, torch.exp(0.5 * logvar)).rsample()), mu, logvar


class SoftplusLogvar(GoodVAE):
    def head(self, h):
        return self.to_mu(h), F.softplus(self.to_logvar(h))


class ReluLogvar(GoodVAE):
    def head(self, h):
        return self.to_mu(h), torch.relu(self.to_logvar(h))


class TanhMu(GoodVAE):
    def head(self, h):
        return torch.tanh(self.to_mu(h)), self.to_logvar(h)


class SigmoidDecoder(GoodVAE):
    def decode(self, z):
        return torch.sigmoid(super().decode(z))


class SharedHead(GoodVAE):  # one head for mu and logvar; to_logvar is never used
    def head(self, h):
        return self.to_mu(h), self.to_mu(h)


class UnusedLayer(GoodVAE):  # a layer that takes no part in the computation gets no gradient
    def __init__(self, latent_dim=20, hidden=400):
        super().__init__(latent_dim, hidden)
        self.extra = nn.Linear(hidden, hidden)


class DetachedEncoder(GoodVAE):  # the encoder's features cut from the graph: its weights never learn
    def encode(self, x):
        return self.head(self.encoder(x.flatten(1)).detach())


class FlatDecoder(GoodVAE):  # wrong shape: N x 784 logits
    def decode(self, z):
        return self.decoder(z)


class FlatCodes(GoodVAE):  # wrong shape: mu and logvar transposed, D x N
    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu.T, logvar.T


class DecodesTheMean(GoodVAE):
    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


class VarianceAsStd(GoodVAE):
    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu + logvar.exp() * torch.randn_like(mu)), mu, logvar


class TwoHiddenLayers(GoodVAE):  # a fine VAE, but not the network the exercise asks for
    def __init__(self, latent_dim=20, hidden=400):
        super().__init__(latent_dim, hidden)
        self.encoder = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())


class MissingNames(nn.Module):  # the layers under other names
    def __init__(self, latent_dim=20, hidden=400):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, hidden), nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.fc3, self.fc4 = nn.Linear(latent_dim, hidden), nn.Linear(hidden, 784)


@pytest.mark.parametrize("solution", [VAE, GoodVAE])
def test_check_vae_model_passes_correct_classes(solution, capsys):
    passes(check_vae_model, solution, capsys)


@pytest.mark.parametrize("mistake, case", [
    (SoftplusLogvar, "logvar is unconstrained"),
    (ReluLogvar, "logvar is unconstrained"),
    (TanhMu, "mu is the raw output"),
    (SigmoidDecoder, "decode returns logits"),
    (SharedHead, "two separate heads"),
    (UnusedLayer, "gradients reach every parameter"),
    (DetachedEncoder, "gradients reach every parameter"),
    (FlatDecoder, "decode(z) of 5 codes"),
    (FlatCodes, "encode(x) of 5 images"),
    (DecodesTheMean, "forward decodes a code drawn"),
    (VarianceAsStd, "forward decodes a code drawn"),
    (TwoHiddenLayers, "the same network as the course's VAE"),
    (MissingNames, "has the layers encoder"),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_check_vae_model_names_each_typical_mistake(mistake, case, capsys):
    out = fails(check_vae_model, mistake, capsys)
    assert case in out.split("Hint")[0]


def test_check_vae_model_says_not_yet_for_the_stub(capsys):
    class Stub(nn.Module):
        def __init__(self, latent_dim=20, hidden=400):
            raise NotImplementedError

    assert check_vae_model(Stub) is False
    assert "⏳" in capsys.readouterr().out


def test_copy_vae_weights_makes_two_networks_compute_the_same_and_refuses_different_layers():
    torch.manual_seed(0)
    source, target = VAE(latent_dim=4, hidden=32), GoodVAE(latent_dim=4, hidden=32)
    x = torch.rand(3, 1, 28, 28)
    assert not torch.allclose(source.encode(x)[0], target.encode(x)[0])
    copy_vae_weights(source, target)
    for a, b in zip((*source.encode(x), source.decode(torch.ones(3, 4))), (*target.encode(x), target.decode(torch.ones(3, 4)))):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="encoder layers differ"):
        copy_vae_weights(source, TwoHiddenLayers(latent_dim=4, hidden=32))
    with pytest.raises(ValueError, match="no layer"):
        copy_vae_weights(source, MissingNames(latent_dim=4, hidden=32))


# ---- vae_train_step ----

def step_with_elbo(model, optimizer, x, beta=1.0, elbo_fn=elbo):
    loss = -elbo_fn(model, x, beta).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_zero_grad_after(model, optimizer, x, beta=1.0, elbo_fn=elbo):
    """Another solution: the mean written as a sum over the batch size, zero_grad after the step (for the next)."""
    loss = (-elbo_fn(model, x, beta)).sum() / len(x)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())


def step_with_distributions(model, optimizer, x, beta=1.0, elbo_fn=None):
    """Independent solution for the library's ELBO: torch.distributions, the KL summed then averaged; a given
    elbo_fn replaces it."""
    if elbo_fn is not None:
        return step_with_elbo(model, optimizer, x, beta, elbo_fn)
    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    log_px_z = Bernoulli(logits=model.decode(q.rsample())).log_prob(x).sum(dim=(1, 2, 3))
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), 1.0)).sum(1)
    loss = (beta * kl - log_px_z).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


@pytest.mark.parametrize("solution", [vae_train_step, step_with_elbo, step_zero_grad_after, step_with_distributions])
def test_check_vae_train_step_passes_correct_steps(solution, capsys):
    passes(check_vae_train_step, solution, capsys)


def _step(model, optimizer, loss, returned=None, zero_grad=True, step=True):
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if step:
        optimizer.step()
    return (loss if returned is None else returned).item()


def _terms(model, x):
    logits, mu, logvar = model(x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3)), \
        0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)


def sum_not_mean(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (beta * kl - log_px_z).sum())


def sum_backward_mean_returned(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (beta * kl - log_px_z).sum(), returned=(beta * kl - log_px_z).mean())


def no_zero_grad(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (beta * kl - log_px_z).mean(), zero_grad=False)


def no_optimizer_step(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (beta * kl - log_px_z).mean(), step=False)


def zero_grad_after_backward(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    loss = (beta * kl - log_px_z).mean()
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def minimizes_the_elbo(model, optimizer, x, beta=1.0):  # loss = +ELBO: maximizes -ELBO
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (log_px_z - beta * kl).mean())


def steps_uphill(model, optimizer, x, beta=1.0):  # reports -ELBO but backpropagates +ELBO
    log_px_z, kl = _terms(model, x)
    loss = (beta * kl - log_px_z).mean()
    return _step(model, optimizer, -loss, returned=loss)


def beta_on_the_reconstruction(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (kl - beta * log_px_z).mean())


def beta_ignored(model, optimizer, x, beta=1.0):
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (kl - log_px_z).mean())


def returns_the_tensor(model, optimizer, x, beta=1.0):
    loss = -elbo(model, x, beta).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def ignores_elbo_fn(model, optimizer, x, beta=1.0, elbo_fn=elbo):  # a correct loss, but not the ELBO it is given
    log_px_z, kl = _terms(model, x)
    return _step(model, optimizer, (beta * kl - log_px_z).mean())


def no_elbo_fn_parameter(model, optimizer, x, beta=1.0):  # the step of the library's ELBO only
    return _step(model, optimizer, -elbo(model, x, beta).mean())


def own_optimizer(model, optimizer, x, beta=1.0):  # ignores the optimizer it was given
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    return _step(model, adam, -elbo(model, x, beta).mean())


@pytest.mark.parametrize("mistake, case", [
    (sum_not_mean, "a sum over the 8 images instead of the mean"),
    (sum_backward_mean_returned, "backward of a sum over the 8 images moves 8 times too far"),
    (no_zero_grad, "call optimizer.zero_grad() every step"),
    (no_optimizer_step, "call optimizer.step()"),
    (zero_grad_after_backward, "call optimizer.step()"),
    (minimizes_the_elbo, "the sign of the returned loss"),
    (steps_uphill, "the step goes downhill"),
    (beta_on_the_reconstruction, "beta multiplies the KL term"),
    (beta_ignored, "beta multiplies the KL term"),
    (returns_the_tensor, "a Python float"),
    (own_optimizer, "the size of the step"),
    (ignores_elbo_fn, "the step maximizes the ELBO it is given"),
    (no_elbo_fn_parameter, "the step maximizes the ELBO it is given"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_check_vae_train_step_names_each_typical_mistake(mistake, case, capsys):
    out = fails(check_vae_train_step, mistake, capsys)
    assert case in out.split("Hint")[0]


def test_the_library_step_trains_and_skips_a_non_finite_loss():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=16)
    x = torch.bernoulli(torch.full((16, 1, 28, 28), 0.3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = [vae_train_step(model, optimizer, x) for _ in range(50)]
    assert all(isinstance(v, float) for v in losses) and losses[-1] < 0.8 * losses[0]
    loss, reconstruction, kl = vae_train_step(model, optimizer, x, beta=2.0, return_terms=True)
    assert loss == pytest.approx(reconstruction + 2.0 * kl, rel=1e-5)
    with torch.no_grad():
        model.to_mu.bias.fill_(float("inf"))  # an infinite KL: no update may follow
    before = [p.detach().clone() for p in model.parameters()]
    assert not math.isfinite(vae_train_step(model, optimizer, x))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# ---- conv_vae: the DCGAN discriminator's body and the DCGAN generator as a VAE ----

class GoodConvVAE(nn.Module):
    """An independent solution: nn.Sequential parts, the rescale in encode, the factor 2 in decode."""

    def __init__(self, latent_dim=64, width=32, padding=(1, 1, 1, 1), slope=0.2, encoder_norm=False, bias=False,
                 norm_after_unflatten=False, norm_after_last=False):
        super().__init__()
        self.latent_dim, features = latent_dim, 2 * width * 49
        conv_padding, last_padding = padding[:2], padding[2:]
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=conv_padding[0]), nn.LeakyReLU(slope),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=conv_padding[1]),
            *([nn.BatchNorm2d(2 * width)] if encoder_norm else []), nn.LeakyReLU(slope), nn.Flatten())
        self.to_mu, self.to_logvar = nn.Linear(features, latent_dim), nn.Linear(features, latent_dim)
        project = [nn.Linear(latent_dim, features, bias=bias), nn.BatchNorm1d(features), nn.ReLU(),
                   nn.Unflatten(1, (2 * width, 7, 7))]
        if norm_after_unflatten:
            project = [nn.Linear(latent_dim, features, bias=False), nn.Unflatten(1, (2 * width, 7, 7)),
                       nn.BatchNorm2d(2 * width), nn.ReLU()]
        self.decoder = nn.Sequential(
            *project, nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=last_padding[0], bias=bias),
            nn.BatchNorm2d(width), nn.ReLU(), nn.ConvTranspose2d(width, 1, 4, stride=2, padding=last_padding[1]),
            *([nn.BatchNorm2d(1)] if norm_after_last else []))

    def head(self, h):
        return self.to_mu(h), self.to_logvar(h)

    def encode(self, x):
        return self.head(self.encoder(2 * x - 1))

    def decode(self, z):
        return 2 * self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(reparam_randn_like(mu, logvar)), mu, logvar


class FunctionalConvVAE(nn.Module):
    """Another solution: the layers as attributes, the activations from torch.nn.functional, the decoder split in two
    like the library's generator, the rescale written as (x - 0.5) / 0.5, Normal.rsample."""

    class Generator(nn.Module):
        def __init__(self, latent_dim, width):
            super().__init__()
            self.width = width
            self.fc = nn.Linear(latent_dim, 2 * width * 49, bias=False)
            self.bn0 = nn.BatchNorm1d(2 * width * 49)
            self.up1 = nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.up2 = nn.ConvTranspose2d(width, 1, 4, 2, 1)

        def forward(self, z):
            h = F.relu(self.bn0(self.fc(z))).view(-1, 2 * self.width, 7, 7)
            return self.up2(F.relu(self.bn1(self.up1(h))))

    def __init__(self, latent_dim=64, width=32):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.ModuleList([nn.Conv2d(1, width, 4, 2, 1), nn.Conv2d(width, 2 * width, 4, 2, 1)])
        self.to_mu = nn.Linear(2 * width * 49, latent_dim)
        self.to_logvar = nn.Linear(2 * width * 49, latent_dim)
        self.decoder = self.Generator(latent_dim, width)

    def encode(self, x):
        h = (x - 0.5) / 0.5
        for conv in self.encoder:
            h = F.leaky_relu(conv(h), 0.2)
        h = h.flatten(1)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z):
        return self.decoder(z) * 2

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(Normal(mu, torch.exp(0.5 * logvar)).rsample()), mu, logvar


class DoublePrecisionConvVAE(GoodConvVAE):
    """Correct up to rounding: the rescale done in float64, the heads and the logits off by a relative 2e-7 (about 2
    float32 units in the last place), as another order of the same arithmetic gives."""

    def encode(self, x):
        return self.head(self.encoder(((x.double() - 0.5) / 0.5).float()))

    def head(self, h):
        return self.to_mu(h) * (1 + 2e-7), self.to_logvar(h) * (1 - 2e-7)

    def decode(self, z):
        return 2 * self.decoder(z) * (1 + 2e-7)


def library_conv_vae(latent_dim=64, width=32):
    return VAE(latent_dim=latent_dim, arch="conv", channels=width)


@pytest.mark.parametrize("solution", [library_conv_vae, GoodConvVAE, FunctionalConvVAE, DoublePrecisionConvVAE],
                         ids=lambda v: v.__name__)
def test_check_conv_vae_passes_correct_classes(solution, capsys):
    passes(check_conv_vae, solution, capsys)


def _variant(**options):
    def build(latent_dim=64, width=32):
        return GoodConvVAE(latent_dim, width, **options)
    return build


class SigmoidConvDecoder(GoodConvVAE):
    def decode(self, z):
        return torch.sigmoid(super().decode(z))


class GeneratorOutputDecoder(GoodConvVAE):  # the generator's pixels (tanh(a) + 1) / 2, not their logits
    def decode(self, z):
        return (torch.tanh(self.decoder(z)) + 1) / 2


class NoFactorTwo(GoodConvVAE):
    def decode(self, z):
        return self.decoder(z)


class NearlyFactorTwo(GoodConvVAE):  # just outside the tolerance (rtol 1e-4): 1.999 instead of 2
    def decode(self, z):
        return 1.999 * self.decoder(z)


class NoRescale(GoodConvVAE):
    def encode(self, x):
        return self.head(self.encoder(x))


class SoftplusLogvarConv(GoodConvVAE):  # a standard deviation head, not a log-variance
    def head(self, h):
        return self.to_mu(h), F.softplus(self.to_logvar(h))


class VarianceHeadConv(GoodConvVAE):
    def head(self, h):
        return self.to_mu(h), torch.exp(self.to_logvar(h))


class LogvarReadAsStd(GoodConvVAE):  # forward uses logvar as the standard deviation
    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu + logvar * torch.randn_like(mu)), mu, logvar


class NoLogvarHead(GoodConvVAE):  # a fixed unit variance: no log-variance head at all
    def __init__(self, latent_dim=64, width=32):
        super().__init__(latent_dim, width)
        del self.to_logvar

    def head(self, h):
        mu = self.to_mu(h)
        return mu, torch.zeros_like(mu)


class OneHeadSplit(GoodConvVAE):  # one linear layer for both, split in two: not the network of the exercise
    def __init__(self, latent_dim=64, width=32):
        super().__init__(latent_dim, width)
        del self.to_mu, self.to_logvar
        self.to_stats = nn.Linear(2 * width * 49, 2 * latent_dim)

    def head(self, h):
        return self.to_stats(h).chunk(2, dim=1)


class DecodesTheMeanConv(GoodConvVAE):
    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


class DetachedConvEncoder(GoodConvVAE):
    def encode(self, x):
        return self.head(self.encoder(2 * x - 1).detach())


class LeakyDecoder(GoodConvVAE):  # LeakyReLU in the generator: every shape and count right, other numbers
    def __init__(self, latent_dim=64, width=32):
        super().__init__(latent_dim, width)
        self.decoder[2] = nn.LeakyReLU(0.2)


@pytest.mark.parametrize("mistake, case", [
    (_variant(padding=(0, 0, 1, 1)), "padding 0 gives 13 x 13"),                     # encoder padding 0
    (_variant(padding=(1, 0, 1, 1)), "padding 0 gives 6 x 6"),
    (_variant(padding=(1, 1, 0, 1)), "padding 0 gives 16 x 16"),                    # decoder padding 0
    (_variant(padding=(1, 1, 1, 2)), "padding 2 gives 26 x 26"),
    (SigmoidConvDecoder, "decode returns logits"),
    (GeneratorOutputDecoder, "decode returns logits"),
    (NoFactorTwo, "twice the last layer's output"),
    (NearlyFactorTwo, "twice the last layer's output"),
    (NoRescale, "scaled to [-1, 1]"),
    (SoftplusLogvarConv, "logvar is unconstrained"),
    (VarianceHeadConv, "logvar is unconstrained"),
    (LogvarReadAsStd, "forward decodes a code drawn"),
    (NoLogvarHead, "a missing log-variance head"),
    (OneHeadSplit, "a missing log-variance head"),
    (_variant(slope=0.0), "LeakyReLU with slope 0.2"),                              # ReLU in the encoder
    (_variant(slope=0.21), "LeakyReLU with slope 0.2"),                             # just outside atol 1e-3
    (_variant(bias=True), "no bias (bias=False)"),
    (_variant(encoder_norm=True), "no BatchNorm (or other normalization) in the encoder"),
    (_variant(norm_after_unflatten=True), "BatchNorm in the decoder"),
    (_variant(norm_after_last=True), "BatchNorm in the decoder"),
    (DecodesTheMeanConv, "forward decodes a code drawn"),
    (DetachedConvEncoder, "gradients reach every parameter"),
    (LeakyDecoder, "the same network as the course's VAE"),
], ids=lambda v: getattr(v, "__name__", "") if not isinstance(v, str) else "")
def test_check_conv_vae_names_each_typical_mistake(mistake, case, capsys):
    out = fails(check_conv_vae, mistake, capsys)
    assert case in out.split("Hint")[0]


def test_check_conv_vae_says_not_yet_for_the_stub_and_shows_no_solution_code(capsys):
    class Stub(nn.Module):
        def __init__(self, latent_dim=64, width=32):
            raise NotImplementedError

    assert check_conv_vae(Stub) is False
    assert "⏳" in capsys.readouterr().out
    check_conv_vae(NoFactorTwo)
    out = capsys.readouterr().out
    for line in inspect.getsource(GoodConvVAE).splitlines():
        if len(line.strip()) > 15 and not line.strip().startswith(('"""', "def ", "class ")):
            assert line.strip() not in out


def test_copy_vae_weights_copies_batchnorm_statistics_so_eval_mode_agrees():
    torch.manual_seed(0)
    source = VAE(latent_dim=3, arch="conv", channels=4)
    for _ in range(3):
        source.decode(torch.randn(8, 3) * 3)             # training mode: the running statistics move
    target = copy_vae_weights(source, GoodConvVAE(latent_dim=3, width=4))
    z = torch.randn(6, 3)
    source.eval(), target.eval()
    assert torch.equal(source.decode(z), target.decode(z))
    assert torch.equal(source.decoder.project[1].running_var, target.decoder[1].running_var)
    with pytest.raises(ValueError, match="decoder layers differ"):
        copy_vae_weights(source, _variant(norm_after_unflatten=True)(latent_dim=3, width=4))


def test_the_library_step_maximizes_a_given_elbo_and_refuses_terms_for_it():
    torch.manual_seed(0)
    x = torch.bernoulli(torch.full((8, 1, 28, 28), 0.3))
    models = [VAE(latent_dim=2, hidden=16) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [torch.optim.SGD(m.parameters(), lr=1e-3) for m in models]
    before = [p.detach().clone() for p in models[0].parameters()]
    torch.manual_seed(1)
    plain = vae_train_step(models[0], optimizers[0], x, beta=2.0)
    torch.manual_seed(1)
    given = vae_train_step(models[1], optimizers[1], x, beta=2.0, elbo_fn=lambda m, x, beta: 3 * elbo(m, x, beta))
    assert given == pytest.approx(3 * plain, rel=1e-5)
    for start, a, b in zip(before, models[0].parameters(), models[1].parameters()):   # SGD: the update triples
        torch.testing.assert_close(b - start, 3 * (a - start), rtol=1e-3, atol=1e-7)
    with pytest.raises(ValueError, match="return_terms"):
        vae_train_step(models[1], optimizers[1], x, elbo_fn=elbo, return_terms=True)
