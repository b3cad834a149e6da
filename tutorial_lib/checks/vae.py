"""Checkers of the VAE notebooks (01 and 02)."""
import math

import torch

from ._core import Case, checker, _seeded, run_check

__all__ = ["check_gaussian_kl", "check_reparameterize", "check_elbo", "check_iwae_bound"]


@checker
def check_gaussian_kl(fn):
    """Check ``fn(mu N x D, logvar N x D) -> (N,)``: KL(N(mu, diag(exp(logvar))) || N(0, I)) per row."""
    from ..vae import gaussian_kl

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g) * 1.5, torch.randn(5, 3, generator=g)
    wide, narrow = torch.full((1, 4), math.log(9.0)), torch.full((1, 4), math.log(0.25))
    cases = [Case("the prior itself (mu = 0, logvar = 0)", (torch.zeros(2, 3), torch.zeros(2, 3)),
                  expected=torch.zeros(2)),
             Case("a shifted mean (mu = 2, logvar = 0)", (torch.full((1, 4), 2.0), torch.zeros(1, 4)),
                  expected=torch.tensor([8.0])),
             Case("a wide Gaussian (variance 9)", (torch.zeros(1, 4), wide), expected=gaussian_kl(torch.zeros(1, 4), wide)),
             Case("a narrow Gaussian (variance 1/4)", (torch.zeros(1, 4), narrow),
                  expected=gaussian_kl(torch.zeros(1, 4), narrow)),
             Case("a random batch of 5 rows", (mu, logvar), expected=gaussian_kl(mu, logvar)),
             Case("a single latent dimension", (mu[:, :1], logvar[:, :1]), expected=gaussian_kl(mu[:, :1], logvar[:, :1]))]
    return run_check("gaussian_kl", fn, cases,
                     hint="per dimension KL = 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2) with sigma^2 = exp(logvar); "
                          "sum it over the latent dimensions (dim=1), one value per row.")


@checker
def check_reparameterize(fn):
    """Check ``fn(mu N x D, logvar N x D) -> z N x D``: a sample of N(mu, diag(exp(logvar))) through which
    gradients reach mu and logvar. Sampling is checked statistically with a fixed seed (deterministic)."""
    if not callable(fn):
        return run_check("reparameterize", fn, [], "")
    n = 20_000
    mu = torch.tensor([-2.0, 0.0, 3.0]).repeat(n, 1)
    logvar = torch.log(torch.tensor([0.25, 1.0, 4.0])).repeat(n, 1)

    def draw(mu, logvar):
        return _seeded(fn)(mu, logvar)

    def shape(mu, logvar):
        return torch.tensor(tuple(torch.as_tensor(draw(mu, logvar)).shape))

    def column_means(mu, logvar):
        return draw(mu, logvar).detach().mean(dim=0)

    def column_variances(mu, logvar):
        return draw(mu, logvar).detach().var(dim=0)

    def gradients(mu, logvar):
        """(d sum(z) / d mu, d sum(z) / d logvar - (z - mu) / 2): ones and zeros when sigma = exp(logvar / 2)."""
        mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
        z = draw(mu, logvar)
        if not z.requires_grad:
            return torch.zeros_like(mu), torch.full_like(mu, float("nan"))
        grad_mu, grad_logvar = torch.autograd.grad(z.sum(), (mu, logvar), allow_unused=True)
        grad_mu = torch.zeros_like(mu) if grad_mu is None else grad_mu
        grad_logvar = torch.full_like(mu, float("nan")) if grad_logvar is None else grad_logvar
        return grad_mu, grad_logvar - 0.5 * (z - mu).detach()

    def fresh_noise(mu, logvar):
        return float(not torch.equal(fn(mu, logvar), fn(mu, logvar)))

    small_mu, small_logvar = mu[:4], logvar[:4]
    # Statistical tolerances: about 6 standard errors (mean: sigma / sqrt(n); variance: sigma^2 sqrt(2 / n)).
    cases = [Case("the shape of z (that of mu)", (small_mu, small_logvar), expected=torch.tensor([4, 3]), atol=0),
             Case(f"the mean of z over {n} draws (should be mu)", (mu, logvar), expected=torch.tensor([-2.0, 0.0, 3.0]),
                  atol=0.09),
             Case(f"the variance of z over {n} draws (should be exp(logvar))", (mu, logvar),
                  expected=torch.tensor([0.25, 1.0, 4.0]), rtol=0.06, atol=0.0),
             Case("gradients through z (d sum(z)/d mu = 1; d sum(z)/d logvar = (z - mu) / 2)", (small_mu, small_logvar),
                  expected=(torch.ones(4, 3), torch.zeros(4, 3)), atol=1e-4),
             Case("two calls draw different noise", (small_mu, small_logvar), expected=1.0)]
    probes = {0: shape, 1: column_means, 2: column_variances, 3: gradients, 4: fresh_noise}
    return run_check("reparameterize", lambda mu, logvar, _probe: probes[_probe](mu, logvar),
                     [Case(c.about, c.args, {"_probe": i}, c.expected, c.atol, c.rtol) for i, c in enumerate(cases)],
                     hint="draw standard-normal noise of the shape of mu, scale it by the standard deviation "
                          "(sigma = exp(logvar / 2), not the variance) and add mu; keep z a differentiable function of "
                          "mu and logvar (no torch.no_grad, no .sample(), no detach), with fresh noise on every call.")


def _check_model(latent_dim=2, logvar_bias=None, seed=0):
    """A small VAE with fixed weights for the checkers; logvar_bias pins the encoder's variance."""
    from ..vae import VAE

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VAE(latent_dim=latent_dim, hidden=24)
    if logvar_bias is not None:
        with torch.no_grad():
            model.to_logvar.weight.zero_()
            model.to_logvar.bias.fill_(logvar_bias)
    return model.requires_grad_(False)


def _check_images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.rand(n, 1, 28, 28, generator=g) * 0.6, generator=g)


def _repeat_mean(fn, repeats):
    """A probe: the mean over `repeats` copies of each image of fn(model, x, ...), seeded."""
    def probe(model, x, *args, **kwargs):
        copies = x.repeat_interleave(repeats, dim=0)
        return _seeded(fn)(model, copies, *args, **kwargs).detach().view(len(x), repeats).double().mean(dim=1)
    return probe


def _expected_mean(fn, model, x, repeats, *args, **kwargs):
    return _repeat_mean(fn, repeats)(model, x, *args, **kwargs).float()


@checker
def check_elbo(fn):
    """Check ``fn(model, x N x 1 x 28 x 28, beta=1.0) -> (N,)``: the single-sample ELBO per image,
    log p(x|z) - beta * KL(q(z|x) || p(z)) with z drawn from q(z|x) by the reparameterization."""
    from ..vae import elbo

    if not callable(fn):
        return run_check("elbo", fn, [], "")
    x = _check_images(4)
    sharp = _check_model(logvar_bias=-18.0)  # sigma ~ 1e-4: the sample is the mean, the ELBO is deterministic
    wide = _check_model(logvar_bias=0.5, seed=1)  # large sigma: a sampled z differs clearly from the mean
    with torch.no_grad():
        cases = [Case("a batch of 4 images, beta = 1 (encoder with tiny variance)", (sharp, x),
                      expected=_seeded(elbo)(sharp, x), atol=2e-2, rtol=1e-4),
                 Case("the same with beta = 4", (sharp, x), {"beta": 4.0}, expected=_seeded(elbo)(sharp, x, beta=4.0),
                      atol=2e-2, rtol=1e-4),
                 Case("the same with beta = 0 (no KL term)", (sharp, x), {"beta": 0.0},
                      expected=_seeded(elbo)(sharp, x, beta=0.0), atol=2e-2, rtol=1e-4),
                 Case("one image", (sharp, x[:1]), expected=_seeded(elbo)(sharp, x[:1]), atol=2e-2, rtol=1e-4),
                 Case("the mean over 2,000 draws with a wide encoder (is z sampled from q?)", (wide, x[:2]),
                      expected=_expected_mean(elbo, wide, x[:2], 2000), atol=2.0, rtol=0)]
    probes = [None, None, None, None, _repeat_mean(fn, 2000)]
    return run_check("elbo", lambda model, x, _probe, **kw: (probes[_probe] or fn)(model, x, **kw),
                     [Case(c.about, c.args, {**c.kwargs, "_probe": i}, c.expected, c.atol, c.rtol)
                      for i, c in enumerate(cases)],
                     hint="encode x, draw z from q(z|x) with the reparameterization trick (not the mean), decode it to "
                          "logits, and subtract beta times the KL to the prior from the Bernoulli log-likelihood of x; "
                          "keep one value per image (no mean over the batch).")


@checker
def check_iwae_bound(fn):
    """Check ``fn(model, x N x 1 x 28 x 28, k) -> (N,)``: log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) per image,
    with z_1..z_k drawn from q(z|x)."""
    from ..vae import bernoulli_log_likelihood, iwae_bound

    if not callable(fn):
        return run_check("iwae_bound", fn, [], "")
    x = _check_images(3, seed=1)
    exact = _check_model()
    with torch.no_grad():  # q = the prior and a decoder that ignores z: every weight is p(x), the bound is exact
        exact.to_mu.weight.zero_(), exact.to_mu.bias.zero_(), exact.to_logvar.weight.zero_()
        exact.to_logvar.bias.zero_(), exact.decoder[0][0].weight.zero_()
        log_px = bernoulli_log_likelihood(exact.decode(torch.zeros(3, 2)), x)
    # A decoder that ignores z and a wide q (8 dims, variance e): weights vary only through p(z) / q(z|x).
    flat = _check_model(latent_dim=8, logvar_bias=1.0)
    with torch.no_grad():
        flat.to_mu.weight.zero_(), flat.to_mu.bias.fill_(0.3), flat.decoder[0][0].weight.zero_()
    wide = _check_model(logvar_bias=0.5, seed=1)
    with torch.no_grad():
        cases = [Case("q equal to the posterior, k = 5 (every weight is p(x))", (exact, x, 5), expected=log_px,
                      atol=1e-2, rtol=1e-5),
                 Case("q equal to the posterior, k = 1", (exact, x, 1), expected=log_px, atol=1e-2, rtol=1e-5),
                 Case("the mean over 500 draws, k = 10, a wide q in 8 dimensions", (flat, x, 10),
                      expected=_expected_mean(iwae_bound, flat, x, 500, 10), atol=0.4, rtol=0),
                 Case("the mean over 500 draws with a wide encoder, k = 20", (wide, x[:2], 20),
                      expected=_expected_mean(iwae_bound, wide, x[:2], 500, 20), atol=0.5, rtol=0)]
    probes = [None, None, _repeat_mean(fn, 500), _repeat_mean(fn, 500)]
    return run_check("iwae_bound", lambda model, x, k, _probe: (probes[_probe] or fn)(model, x, k),
                     [Case(c.about, c.args, {"_probe": i}, c.expected, c.atol, c.rtol) for i, c in enumerate(cases)],
                     hint="draw k codes per image from q(z|x); for each, the log-weight is log p(x|z) + log p(z) - "
                          "log q(z|x) (full Gaussian log-densities, constants and the log-variance term included, "
                          "summed over latent dimensions); average the weights over the k samples in log space "
                          "(log-sum-exp, then subtract log k), one value per image.")
