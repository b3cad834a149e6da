"""Friendly feedback on the exercises: ``check_<exercise>(fn)`` prints pass/fail and returns True/False.

A checker runs the learner's function on a few cases and compares with the expected values. On a
failure it says what was expected, what came back and gives a hint; it never shows solution code.
With ``TUTORIAL_CHECKS_STRICT=1`` (set by ``make test``) a failure raises AssertionError instead, so
CI notices a broken solution in the instructor notebooks.
"""
from dataclasses import dataclass, field

import torch

from .runtime import env_flag


@dataclass
class Case:
    """One test case: call ``fn(*args, **kwargs)`` and compare with `expected` (a tensor, a number or a
    tuple of them) to within `atol`/`rtol`. `about` says in words what the case is."""

    about: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: object = None
    atol: float = 1e-5
    rtol: float = 1e-4


def _describe(value):
    if isinstance(value, torch.Tensor):
        shown = value.detach().flatten()[:6].tolist()
        shown = [round(v, 4) if isinstance(v, float) else v for v in shown]
        more = ", ..." if value.numel() > 6 else ""
        return f"tensor of shape {tuple(value.shape)} starting {shown}{more}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return repr(value)


def _mismatch(got, expected, atol, rtol):
    """None when `got` matches `expected`, else a sentence saying how it differs."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} values, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _mismatch(g, e, atol, rtol)
            if problem:
                return f"value {i}: {problem}"
        return None
    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    try:
        got_t = torch.as_tensor(got.detach() if isinstance(got, torch.Tensor) else got).to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return f"expected {_describe(expected)}, but got a {type(got).__name__}"
    if got_t.shape != expected_t.shape:
        return f"expected shape {tuple(expected_t.shape)}, got shape {tuple(got_t.shape)}"
    if not torch.allclose(got_t, expected_t, atol=atol, rtol=rtol, equal_nan=False):
        return f"expected {_describe(expected_t)}, got {_describe(got_t)}"
    return None


def report(name, passed, message):
    """Print the verdict (and raise in strict mode when it failed); return `passed`."""
    print(message)
    if not passed and env_flag("TUTORIAL_CHECKS_STRICT"):
        raise AssertionError(f"check_{name} failed: {message}")
    return passed


def run_check(name, fn, cases, hint):
    """Run `fn` on each `Case`; print friendly feedback; return True when every case matches."""
    if not callable(fn):
        return report(name, False, f"❌ {name}: pass your function itself, e.g. check_{name}(my_{name}), "
                                   f"not {type(fn).__name__}.")
    for case in cases:
        try:
            got = fn(*case.args, **case.kwargs)
        except NotImplementedError:
            return report(name, False, f"⏳ {name}: not implemented yet. Replace `raise NotImplementedError` "
                                       f"with your code, then run this cell again.\n   Hint: {hint}")
        except Exception as error:  # show the learner's error without a traceback wall
            return report(name, False, f"❌ {name}: on the case '{case.about}' your function raised "
                                       f"{type(error).__name__}: {error}\n   Hint: {hint}")
        problem = _mismatch(got, case.expected, case.atol, case.rtol)
        if problem:
            return report(name, False, f"❌ {name}: on the case '{case.about}', {problem}.\n   Hint: {hint}")
    return report(name, True, f"✅ {name}: correct on all {len(cases)} test cases. Well done!")


# ---- Setup exercises (notebook 00) ----

def check_ink_fraction(fn):
    """Check ``fn(images N x 1 x 28 x 28) -> (N,)``: the fraction of pixels brighter than 0.5 per image."""
    generator = torch.Generator().manual_seed(0)
    random = torch.rand(5, 1, 28, 28, generator=generator)
    blank, full = torch.zeros(2, 1, 28, 28), torch.ones(1, 1, 28, 28)
    edge = torch.full((1, 1, 28, 28), 0.5)  # exactly 0.5 is not brighter than 0.5
    half = torch.cat([torch.zeros(1, 1, 14, 28), torch.ones(1, 1, 14, 28)], dim=2)

    def expected(images):
        return torch.tensor([sum(v > 0.5 for v in image.flatten().tolist()) / 784 for image in images])

    cases = [Case("random images", (random,), expected=expected(random)),
             Case("blank images", (blank,), expected=torch.zeros(2)),
             Case("an all-white image", (full,), expected=torch.ones(1)),
             Case("pixels exactly 0.5", (edge,), expected=torch.zeros(1)),
             Case("top half black, bottom half white", (half,), expected=torch.full((1,), 0.5))]
    return run_check("ink_fraction", fn, cases,
                     hint="compare with 0.5 to get booleans, turn them into floats, and average over all "
                          "pixels of each image (flatten everything but the batch dimension).")


# ---- VAE exercises (notebooks 01 and 02) ----

import math  # noqa: E402


def _seeded(fn, seed=0):
    """`fn` run with the global random generator seeded (and restored afterwards): a learner's sampling code
    gives the same numbers on every run, so a correct solution passes deterministically."""
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn(*args, **kwargs)
    return run


def check_gaussian_kl(fn):
    """Check ``fn(mu N x D, logvar N x D) -> (N,)``: KL(N(mu, diag(exp(logvar))) || N(0, I)) per row."""
    from .vae import gaussian_kl

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
    from .vae import VAE

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


def check_elbo(fn):
    """Check ``fn(model, x N x 1 x 28 x 28, beta=1.0) -> (N,)``: the single-sample ELBO per image,
    log p(x|z) - beta * KL(q(z|x) || p(z)) with z drawn from q(z|x) by the reparameterization."""
    from .vae import elbo

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


def check_iwae_bound(fn):
    """Check ``fn(model, x N x 1 x 28 x 28, k) -> (N,)``: log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) per image,
    with z_1..z_k drawn from q(z|x)."""
    from .vae import bernoulli_log_likelihood, iwae_bound

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


# ---- GAN exercises (notebooks 03 and 04) ----

def _logits(n, seed, scale=2.0):
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed))


def check_optimal_discriminator(fn):
    """Check ``fn(p_data, p_model) -> D*``: the optimal discriminator p_data / (p_data + p_model), elementwise."""
    from .gan import optimal_discriminator

    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    p_data = torch.exp(-0.5 * (x + 1) ** 2)
    p_model = 0.5 * torch.exp(-0.5 * ((x - 1) / 0.7) ** 2)
    mass = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    none = torch.zeros(3, dtype=torch.float64)
    cases = [Case("two Gaussian densities on a grid", (p_data, p_model), expected=optimal_discriminator(p_data, p_model)),
             Case("equal densities", (mass, mass.clone()), expected=torch.full((3,), 0.5, dtype=torch.float64)),
             Case("where the generator puts no mass", (mass, none), expected=torch.ones(3, dtype=torch.float64)),
             Case("where the data has no mass", (none, mass), expected=torch.zeros(3, dtype=torch.float64))]
    return run_check("optimal_discriminator", fn, cases,
                     hint="at each x, D*(x) is the fraction of the total density there that comes from the data: "
                          "p_data / (p_data + p_model), computed elementwise on the whole tensors.")


def check_discriminator_loss(fn):
    """Check ``fn(real_logits, fake_logits) -> scalar``: -mean log D(x) - mean log(1 - D(G(z))), D = sigmoid."""
    from .gan import discriminator_loss

    real, fake = _logits(6, 0), _logits(4, 1)
    confident = (torch.tensor([-30.0, 5.0]), torch.tensor([30.0, -5.0]))
    cases = [Case("random logits (6 real, 4 fake)", (real, fake), expected=discriminator_loss(real, fake)),
             Case("a discriminator that outputs 0 everywhere (D = 1/2)", (torch.zeros(3), torch.zeros(5)),
                  expected=2 * torch.log(torch.tensor(2.0))),
             Case("a discriminator that is right and sure (real 8, fake -8)", (torch.full((2,), 8.0),
                  torch.full((3,), -8.0)), expected=discriminator_loss(torch.full((2,), 8.0), torch.full((3,), -8.0)),
                  atol=1e-6),
             Case("a confidently wrong discriminator (logits of +-30)", confident,
                  expected=discriminator_loss(*confident), rtol=1e-4)]
    return run_check("discriminator_loss", fn, cases,
                     hint="the discriminator minimizes -mean(log D(real)) - mean(log(1 - D(fake))) with D = sigmoid "
                          "of the logits: two separate means, one per batch. log(1 - sigmoid(30)) is log(0) in float32; "
                          "use F.logsigmoid (log(1 - sigmoid(a)) = logsigmoid(-a)) or F.softplus, or "
                          "F.binary_cross_entropy_with_logits with targets 1 (real) and 0 (fake).")


def check_generator_loss(fn):
    """Check ``fn(fake_logits) -> scalar``: the non-saturating generator loss -mean log D(G(z)), D = sigmoid."""
    from .gan import generator_loss

    fake = _logits(7, 2)
    sure = torch.tensor([-30.0, -12.0, 30.0])
    cases = [Case("random logits", (fake,), expected=generator_loss(fake, "nonsaturating")),
             Case("a discriminator that outputs 0 everywhere (D = 1/2)", (torch.zeros(4),),
                  expected=torch.log(torch.tensor(2.0))),
             Case("a discriminator sure of itself (logits -30, -12, 30)", (sure,),
                  expected=generator_loss(sure, "nonsaturating"))]
    return run_check("generator_loss", fn, cases,
                     hint="the non-saturating generator loss is -mean(log D(G(z))) with D = sigmoid of the logits: it "
                          "is large when the discriminator spots the fakes (logits very negative). Not "
                          "mean(log(1 - D)), the saturating loss; F.logsigmoid computes log D stably.")


def _critics():
    """Fixed critics (float64): linear ones with known gradients, a small MLP, a critic on 1 x 5 x 5 images."""
    seed = torch.Generator().manual_seed(3)

    def linear(weight):
        layer = torch.nn.Linear(len(weight), 1, bias=False).double()
        with torch.no_grad():
            layer.weight.copy_(weight[None])
        return layer

    unit = torch.tensor([0.6, -0.8], dtype=torch.float64)
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    images = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Softplus(), torch.nn.Flatten(),
                                 torch.nn.Linear(18, 1)).double()
    with torch.no_grad():
        for module in (mlp, images):
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=seed, dtype=torch.float64))

    def data(*shape):
        return torch.randn(*shape, generator=seed, dtype=torch.float64)

    alpha4, alpha6 = torch.rand(4, generator=seed, dtype=torch.float64), torch.rand(6, generator=seed, dtype=torch.float64)
    return [("a linear critic with a unit-norm gradient", linear(unit), data(4, 2), data(4, 2), alpha4),
            ("a linear critic with a gradient of norm 3", linear(3 * unit), data(4, 2), data(4, 2), alpha4),
            ("a small MLP critic on 2-D points", mlp, data(6, 2), data(6, 2), alpha6),
            ("a convolutional critic on N x 1 x 5 x 5 images", images, data(4, 1, 5, 5), data(4, 1, 5, 5), alpha4)]


def check_gradient_penalty(fn):
    """Check ``fn(critic, real, fake, alpha) -> scalar``: mean over samples of (||grad critic(x_hat)||_2 - 1)^2 at
    x_hat = alpha * real + (1 - alpha) * fake (alpha: (N,), one per sample), differentiable in the critic's weights."""
    from .gan import gradient_penalty

    if not callable(fn):
        return run_check("gradient_penalty", fn, [], hint="")

    def with_weight_gradient(penalty_fn):
        def run(critic, real, fake, alpha):
            penalty = penalty_fn(critic, real, fake, alpha)
            if not isinstance(penalty, torch.Tensor) or not penalty.requires_grad:
                raise ValueError("the penalty is not differentiable with respect to the critic's weights, so the "
                                 "critic cannot learn from it (torch.autograd.grad needs create_graph=True)")
            grads = torch.autograd.grad(penalty, list(critic.parameters()), allow_unused=True)
            return penalty, torch.cat([torch.zeros(p.numel(), dtype=p.dtype) if g is None else g.flatten()
                                       for g, p in zip(grads, critic.parameters())])
        return run

    reference = with_weight_gradient(lambda critic, real, fake, alpha: gradient_penalty(critic, real, fake, alpha))
    cases = [Case(about, (critic, real, fake, alpha), expected=reference(critic, real, fake, alpha), atol=1e-6)
             for about, critic, real, fake, alpha in _critics()]
    return run_check("gradient_penalty", with_weight_gradient(fn), cases,
                     hint="mix x_hat = alpha * real + (1 - alpha) * fake with alpha reshaped to N x 1 x ... so it "
                          "broadcasts; make x_hat require grad; take torch.autograd.grad(critic(x_hat).sum(), x_hat, "
                          "create_graph=True); flatten each sample's gradient, take its 2-norm, and average "
                          "(norm - 1)^2 over the samples.")


# ---- Comparison exercises (notebook 06) ----

def check_precision_recall(fn):
    """Check ``fn(real_feats N x D, fake_feats M x D, k) -> (precision, recall)`` (Kynkäänniemi et al. 2019)."""
    from .metrics import precision_recall

    generator = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 3, generator=generator), 1.5 * torch.randn(30, 3, generator=generator) + 0.5
    line_real, line_fake = torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[3.0], [5.0]])
    cluster = torch.randn(25, 2, generator=generator)
    cases = [Case("points on a line, k=1 (a fake point exactly on a ball's edge counts as inside)",
                  (line_real, line_fake, 1), expected=(0.5, 2 / 3)),
             Case("random features, k=3", (real, fake, 3), expected=precision_recall(real, fake, k=3)),
             Case("random features, k=1", (real, fake, 1), expected=precision_recall(real, fake, k=1)),
             Case("identical sets", (cluster, cluster.clone(), 3), expected=(1.0, 1.0)),
             Case("fakes far from every real point", (cluster, cluster + 100.0, 3), expected=(0.0, 0.0))]
    return run_check("precision_recall", fn, cases,
                     hint="the radius of a point is the distance to its k-th nearest neighbour in its OWN set, "
                          "not counting itself (torch.cdist, then kthvalue(k + 1) because the point itself is at "
                          "distance 0); a point is covered when its distance to some point of the other set is <= "
                          "that point's radius. precision covers fake by real balls, recall real by fake balls.")


# ---- GAN stabilization exercises (notebook 05) ----

def check_reverse_kl(fn):
    """Check ``fn(counts (M,)) -> KL(p || uniform)`` in nats, p = counts / counts.sum() (0 log 0 = 0; inf when
    every count is 0), the reverse KL of `metrics.mode_metrics`."""
    import math

    def reference(counts):  # written out with Python floats
        total = sum(counts)
        return sum(c / total * math.log(c / total * len(counts)) for c in counts if c > 0) if total else math.inf

    random = torch.randint(0, 200, (25,), generator=torch.Generator().manual_seed(0)).tolist()
    cases = [Case("every mode equally often (4 modes)", (torch.tensor([5, 5, 5, 5]),), expected=0.0),
             Case("all samples in one of 8 modes", (torch.tensor([0, 0, 40, 0, 0, 0, 0, 0]),), expected=math.log(8)),
             Case("3/4 in one mode, 1/4 in another, two modes empty", (torch.tensor([30, 0, 0, 10]),),
                  expected=0.75 * math.log(3)),
             Case("random counts over 25 modes", (torch.tensor(random),), expected=reference(random)),
             Case("float counts", (torch.tensor([2.0, 1.0, 1.0]),), expected=reference([2.0, 1.0, 1.0])),
             Case("no sample at all (every count 0)", (torch.zeros(8, dtype=torch.long),), expected=math.inf)]
    return run_check("reverse_kl", fn, cases,
                     hint="turn counts into float probabilities p = counts / counts.sum(); KL(p || uniform) = "
                          "sum_i p_i log(p_i / (1/M)) over the modes with p_i > 0 only (0 log 0 = 0, so empty modes "
                          "add nothing); natural log; with no sample at all (counts.sum() == 0) the answer is math.inf.")
