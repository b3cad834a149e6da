"""Checkers of the VAE notebooks (01 and 02)."""
import math

import torch
from torch import nn

from ._core import Case, checker, _seeded, run_check

__all__ = ["check_gaussian_kl", "check_reparameterize", "check_elbo", "check_iwae_bound", "check_vae_model",
           "check_vae_train_step", "check_conv_vae"]


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


def _probing(name, fn, cases, probes, hint):
    """run_check where case i calls ``probes[i](fn)`` (a measurement of the learner's code) instead of fn itself."""
    return run_check(name, lambda _probe: probes[_probe](fn),
                     [Case(c.about, (), {"_probe": i}, c.expected, c.atol, c.rtol) for i, c in enumerate(cases)],
                     hint=hint)


def _shape(t):
    return torch.tensor(tuple(t.shape)) if torch.is_tensor(t) else torch.tensor([-1])


def _built(cls, seed=0, **kwargs):
    """cls(**kwargs) built with torch's random generator seeded (and restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(**kwargs)


def _layers_probe(build, latent):
    """1.0 when the model has the modules encoder, to_mu and to_logvar (two nn.Linear) and decoder, and latent_dim."""
    def probe(cls):
        model = build(cls)
        named = all(isinstance(getattr(model, n, None), nn.Module) for n in ("encoder", "to_mu", "to_logvar", "decoder"))
        heads = all(isinstance(getattr(model, n, None), nn.Linear) for n in ("to_mu", "to_logvar"))
        return float(named and heads and getattr(model, "latent_dim", None) == latent)
    return probe


def _head_cases(build, x, latent):
    """(Case, probe) pairs both VAE checkers share: mu and logvar come from two separate heads with nothing after
    them (a softplus, ReLU or exp on the log-variance head makes it a standard deviation or a variance)."""
    n = len(x)

    def shifted(model, head, by=2.0):
        with torch.no_grad():
            getattr(model, head).bias += by
            return model.encode(x)

    def separate_heads(cls):
        model = build(cls)
        with torch.no_grad():
            mu0, logvar0 = model.encode(x)
        mu1, logvar1 = shifted(model, "to_logvar")
        mu2, logvar2 = shifted(model, "to_mu")
        return (mu1 - mu0).abs().max(), (logvar2 - logvar1).abs().max()

    def raw_head(head):
        def probe(cls):
            model = build(cls)
            with torch.no_grad():
                before = model.encode(x)[head == "to_logvar"]
            return shifted(model, head)[head == "to_logvar"] - before
        return probe

    return [(Case("mu and logvar come from two separate heads: changing to_logvar leaves mu as it is, changing to_mu "
                  "leaves logvar as it is (one head for both, or one fed into the other, mixes them)",
                  expected=(0.0, 0.0), atol=1e-5), separate_heads),
            (Case("logvar is unconstrained, the raw output of to_logvar (no softplus, ReLU, exp or tanh on it: those "
                  "make it a standard deviation or a variance): raising to_logvar's bias by 2 raises every logvar by "
                  "exactly 2", expected=torch.full((n, latent), 2.0), atol=1e-4), raw_head("to_logvar")),
            (Case("mu is the raw output of to_mu (no activation on it): raising to_mu's bias by 2 raises every mu by "
                  "exactly 2", expected=torch.full((n, latent), 2.0), atol=1e-4), raw_head("to_mu"))]


def _gradients_probe(build, x):
    """The number of parameters with no (or an all-zero) gradient after backward of the -ELBO of forward(x)."""
    from ..vae import bernoulli_log_likelihood, gaussian_kl

    def probe(cls):
        model = build(cls)
        logits, mu, logvar = _seeded(model)(x)
        loss = (gaussian_kl(mu, logvar) - bernoulli_log_likelihood(logits, x)).mean()
        loss.backward()
        return float(sum(p.grad is None or not bool(p.grad.abs().sum() > 0) for p in model.parameters()))
    return probe


GRADIENTS_CASE = ("gradients reach every parameter: after backward of the -ELBO of forward(x), the number of "
                  "parameters with no (or an all-zero) gradient; an unused layer, a detach() or torch.no_grad() "
                  "cuts them off")


def _forward_shapes(build, x):
    def probe(cls):
        out = _seeded(build(cls))(x)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            return torch.tensor([-1])
        return torch.cat([_shape(t) for t in out])
    return probe


@checker
def check_vae_model(cls):
    """Check a VAE class: ``cls(latent_dim=..., hidden=...)`` builds the layers ``encoder``, ``to_mu``,
    ``to_logvar`` (two ``nn.Linear`` heads) and ``decoder`` and sets ``latent_dim``; ``encode(x N x 1 x 28 x 28) ->
    (mu, logvar)`` each N x latent_dim, ``decode(z) -> logits`` N x 1 x 28 x 28, ``forward(x) -> (logits, mu,
    logvar)`` with z drawn by the reparameterization. Checks the shapes, that the decoder gives logits, that mu
    and log sigma^2 come from separate heads with no activation squashing them, that forward samples z, that
    gradients reach every parameter, and that with the course VAE's weights it computes what `VAE` computes."""
    from ..vae import VAE, copy_vae_weights

    if not callable(cls):
        return run_check("vae_model", cls, [], "")
    latent, hidden = 3, 16
    x = _check_images(5)
    z = torch.randn(5, latent, generator=torch.Generator().manual_seed(1))
    far = 10 * torch.randn(64, latent, generator=torch.Generator().manual_seed(2))

    def build(model_cls):
        return _built(model_cls, latent_dim=latent, hidden=hidden)

    def encode_shapes(cls):
        mu, logvar = build(cls).encode(x)
        return torch.cat([_shape(mu), _shape(logvar)])

    def decode_shape(cls):
        return _shape(build(cls).decode(z))

    def logits(cls):
        with torch.no_grad():
            out = build(cls).decode(far)
        return float(bool((out < 0).any()) and bool((out > 1).any()))

    def spread(cls):
        """With the decoder made linear (its ReLU units always on) and sigma = 2: the spread of forward's logits over
        400 draws of each image, divided by the spread that z = mu + 2 * eps gives (1 when sigma is right)."""
        reference = build(VAE)
        with torch.no_grad():
            reference.to_logvar.weight.zero_()
            reference.to_logvar.bias.fill_(math.log(4.0))
            reference.decoder[0][0].bias.fill_(50.0)
            slope = reference.decoder[0][2].weight @ reference.decoder[0][0].weight     # logits = slope @ z + c
            model = copy_vae_weights(reference, build(cls))
            logits = _seeded(model)(x.repeat(400, 1, 1, 1))[0].reshape(400, len(x), -1)
        return float((logits.std(dim=0) / (2.0 * slope.norm(dim=1))).mean())

    def same_function(cls):
        model = copy_vae_weights(build(VAE), build(cls))
        with torch.no_grad():
            return (*model.encode(x), model.decode(z))

    reference = build(VAE)
    with torch.no_grad():
        expected_function = (*reference.encode(x), reference.decode(z))
    cases = [(Case(f"cls(latent_dim={latent}, hidden={hidden}) has the layers encoder, to_mu and to_logvar (two "
                   "nn.Linear heads) and decoder, and sets self.latent_dim", expected=1.0), _layers_probe(build, latent)),
             (Case("encode(x) of 5 images 5 x 1 x 28 x 28: mu and logvar, each of shape 5 x 3",
                   expected=torch.tensor([5, latent, 5, latent]), atol=0), encode_shapes),
             (Case("decode(z) of 5 codes 5 x 3: logits of shape 5 x 1 x 28 x 28", expected=torch.tensor([5, 1, 28, 28]),
                   atol=0), decode_shape),
             (Case("forward(x): the tuple (logits 5 x 1 x 28 x 28, mu 5 x 3, logvar 5 x 3)",
                   expected=torch.tensor([5, 1, 28, 28, 5, latent, 5, latent]), atol=0), _forward_shapes(build, x)),
             (Case("decode returns logits, any real number (no sigmoid at the end: the loss applies it): for codes far "
                   "from 0 some outputs are below 0 and some above 1", expected=1.0), logits),
             *_head_cases(build, x, latent),
             (Case(GRADIENTS_CASE, expected=0.0, atol=0), _gradients_probe(build, x)),
             (Case(f"the same network as the course's VAE(latent_dim={latent}, hidden={hidden}): with its weights "
                   "copied in, encode and decode give the same numbers (784 -> hidden -> ReLU -> the two heads; "
                   "latent_dim -> hidden -> ReLU -> 784)", expected=expected_function, atol=1e-5), same_function),
             (Case("forward decodes a code drawn from q(z|x), z = mu + exp(logvar / 2) * eps with fresh eps for every "
                   "image, not mu itself: with the decoder made linear and sigma = 2, the spread of forward's logits "
                   "over 400 draws divided by the spread sigma = 2 gives (1; 0 when forward decodes mu, 2 when it "
                   "scales eps by the variance)", expected=1.0, rtol=0.1, atol=0), spread)]
    return _probing("vae_model", cls, [c for c, _ in cases], [p for _, p in cases],
                    hint="the encoder flattens the image and maps its 784 pixels to `hidden` ReLU units; two separate "
                         "linear heads map those to mu and to logvar, with nothing applied after them (logvar may be "
                         "any real number); the decoder maps a code to `hidden` ReLU units and then to 784 logits with "
                         "no sigmoid, reshaped to N x 1 x 28 x 28; forward encodes, draws z with reparameterize(mu, "
                         "logvar), and returns (decode(z), mu, logvar). Keep the attribute names the docstring asks "
                         "for.")


# ---- the convolutional VAE: the DCGAN discriminator's body as encoder, the DCGAN generator as decoder ----

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def _traced(model, kinds, run, part=None):
    """Run ``run(model)`` and return (layer, its input, its output) for every layer of `kinds` inside `model` (or
    inside ``model.<part>``), in the order they ran. An error raised after one of them ran is dropped (the records
    show how far the model got, e.g. up to a layer of the wrong shape); an earlier one is raised."""
    records = []
    root = model if part is None else getattr(model, part, None)
    if not isinstance(root, nn.Module):
        raise AttributeError(f"the model has no layer (nn.Module) named {part!r}")
    handles = [m.register_forward_hook(lambda layer, inputs, out: records.append((layer, inputs[0] if inputs else None,
                                                                                  out)))
               for m in root.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            run(model)
    except NotImplementedError:
        raise
    except Exception:
        if not records:
            raise
    finally:
        for handle in handles:
            handle.remove()
    return records


def _conv_reference(latent, width):
    """The course's conv VAE with its BatchNorm statistics and scales moved away from their initial values (so
    that copying them is tested), in training mode."""
    from ..vae import VAE

    model = _built(VAE, latent_dim=latent, arch="conv", channels=width)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for _ in range(3):
            model.decode(torch.randn(16, latent, generator=g) * 2 + 0.5)
        for m in model.decoder.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
    return model


@checker
def check_conv_vae(cls):
    """Check a convolutional VAE class, the network of the GAN lessons: ``cls(latent_dim=..., width=...)`` with
    ``encoder`` (the DCGAN discriminator's body, on images scaled to [-1, 1]), the heads ``to_mu`` and ``to_logvar``
    and ``decoder`` (the DCGAN generator), ``encode(x) -> (mu, logvar)``, ``decode(z) -> logits`` and ``forward(x)
    -> (logits, mu, logvar)``. Checks the shape after each layer (28 -> 14 -> 7 and back), the [-1, 1] rescale,
    the activations, where BatchNorm is, the parameter count, that decode gives logits (twice the last layer's
    output, the logits of the generator's (tanh + 1) / 2), the heads, the gradients, that forward samples z, and
    that with the course's weights it computes what ``VAE(arch="conv")`` computes, in training and in eval mode."""
    from ..vae import copy_vae_weights

    if not callable(cls):
        return run_check("conv_vae", cls, [], "")
    latent, width, n = 3, 4, 5
    wide, features = 2 * width, 2 * width * 49
    x = _check_images(n)
    z = torch.randn(n, latent, generator=torch.Generator().manual_seed(1))
    far = 10 * torch.randn(64, latent, generator=torch.Generator().manual_seed(2))

    def build(model_cls):
        return _built(model_cls, latent_dim=latent, width=width)

    def reference():
        return _conv_reference(latent, width)

    def copied(cls):
        return copy_vae_weights(reference(), build(cls))

    def encoding(model):
        return model.encode(x)

    def decoding(model):
        return model.decode(z)

    def shape_after(part, kinds, run, index, size):
        def probe(cls):
            records = _traced(build(cls), kinds, run, part)
            return _shape(records[index][2]) if len(records) > index else torch.full((size,), -1)
        return probe

    def rescaled(cls):
        records = _traced(build(cls), nn.Conv2d, encoding, "encoder")
        return records[0][1] if records else torch.tensor(-1.0)

    def norms_in_encoder(cls):
        return float(len(_traced(build(cls), _NORMS, encoding, "encoder")))

    def decoder_layers(cls):
        records = _traced(build(cls), (nn.Linear, nn.Conv2d, nn.ConvTranspose2d) + _NORMS, decoding, "decoder")
        names = [type(layer).__name__ for layer, _, _ in records]
        return float(names == ["Linear", "BatchNorm1d", "ConvTranspose2d", "BatchNorm2d", "ConvTranspose2d"])

    def slopes(cls):
        """For each of the two convolutions: what the next layer receives divided by the convolution's output,
        averaged where that output is negative and where it is positive (0.2 and 1 for LeakyReLU(0.2))."""
        records = _traced(build(cls), (nn.Conv2d, nn.Linear), encoding)
        found = []
        for (layer, _, out), (_, following, _) in zip(records, records[1:]):
            if isinstance(layer, nn.Conv2d) and following is not None and following.numel() == out.numel():
                following = following.reshape(out.shape)
                negative, positive = out < -1e-3, out > 1e-3
                found += [float((following[negative] / out[negative]).mean()),
                          float((following[positive] / out[positive]).mean())]
        return torch.tensor((found + [float("nan")] * 4)[:4])

    def parameter_count(cls):
        return float(sum(p.numel() for p in build(cls).parameters()))

    def logits(cls):
        model = build(cls).eval()   # BatchNorm with its initial statistics passes the far codes' scale on
        with torch.no_grad():
            out = model.decode(far)
        return float(bool((out < 0).any()) and bool((out > 1).any()))

    def factor(cls):
        """yours / theirs when your logits are a multiple of the library's; 1 when they are not (another
        difference, which the case 'the same network' reports)."""
        with torch.no_grad():
            yours, theirs = copied(cls).decode(z), reference().decode(z)
        if yours.shape != theirs.shape:
            return float("nan")
        ratio = (yours * theirs).sum() / (theirs * theirs).sum()
        proportional = (yours - ratio * theirs).abs().max() <= 1e-6 * theirs.abs().max()
        return float(ratio) if proportional else 1.0

    def outputs(model):
        with torch.no_grad():
            model.eval()
            evaluated = model.decode(z)
            model.train()
            return (*model.encode(x), model.decode(z), evaluated)

    def spread(cls):
        """The codes forward(x) decodes, over 400 draws of each image with sigma = 2: their spread / 2."""
        model = copied(cls)
        with torch.no_grad():
            model.to_logvar.weight.zero_()
            model.to_logvar.bias.fill_(math.log(4.0))
        seen = []   # the inputs of the decoder's layers: the first one of shape (draws, latent_dim) is the code
        handles = [m.register_forward_pre_hook(lambda layer, inputs: seen.append(inputs[0] if inputs else None))
                   for m in model.decoder.modules()]
        try:
            with torch.no_grad():
                _seeded(model)(x.repeat(400, 1, 1, 1))
        finally:
            for handle in handles:
                handle.remove()
        codes = [t for t in seen if torch.is_tensor(t) and t.shape == (400 * n, latent)]
        if not codes:
            return float("nan")
        return float((codes[0].reshape(400, n, latent).std(dim=0) / 2.0).mean())

    expected_outputs = outputs(reference())
    count = sum(p.numel() for p in reference().parameters())
    encoder, decoder = "encoder", "decoder"
    cases = [(Case(f"cls(latent_dim={latent}, width={width}) has the layers encoder, to_mu and to_logvar (two "
                   "nn.Linear heads: a missing log-variance head, or one head split in two, is not this network) and "
                   "decoder, and sets self.latent_dim", expected=1.0), _layers_probe(build, latent)),
             (Case(f"the shape after the encoder's first convolution, for {n} images: {n} x width x 14 x 14 (kernel 4, "
                   "stride 2, padding 1 halves 28 to 14; padding 0 gives 13 x 13)",
                   expected=torch.tensor([n, width, 14, 14]), atol=0),
              shape_after(encoder, nn.Conv2d, encoding, 0, 4)),
             (Case(f"the shape after the encoder's second convolution: {n} x 2 width x 7 x 7 (padding 0 gives 6 x 6, or "
                   "5 x 5 after 13 x 13)", expected=torch.tensor([n, wide, 7, 7]), atol=0),
              shape_after(encoder, nn.Conv2d, encoding, 1, 4)),
             (Case(f"encode(x) of {n} images: mu and logvar, each of shape {n} x latent_dim",
                   expected=torch.tensor([n, latent, n, latent]), atol=0),
              lambda cls: torch.cat([_shape(t) for t in build(cls).encode(x)])),
             (Case(f"the shape after the decoder's linear layer, for {n} codes: {n} x (2 width x 7 x 7) = {n} x "
                   f"{features}", expected=torch.tensor([n, features]), atol=0),
              shape_after(decoder, nn.Linear, decoding, 0, 2)),
             (Case(f"the shape after the decoder's first transposed convolution: {n} x width x 14 x 14 (kernel 4, "
                   "stride 2, padding 1 doubles 7 to 14; padding 0 gives 16 x 16)",
                   expected=torch.tensor([n, width, 14, 14]), atol=0),
              shape_after(decoder, nn.ConvTranspose2d, decoding, 0, 4)),
             (Case(f"the shape after the decoder's last transposed convolution: {n} x 1 x 28 x 28 (padding 2 gives "
                   "26 x 26, padding 0 gives 30 x 30)", expected=torch.tensor([n, 1, 28, 28]), atol=0),
              shape_after(decoder, nn.ConvTranspose2d, decoding, 1, 4)),
             (Case(f"forward(x): the tuple (logits {n} x 1 x 28 x 28, mu {n} x latent_dim, logvar {n} x latent_dim)",
                   expected=torch.tensor([n, 1, 28, 28, n, latent, n, latent]), atol=0), _forward_shapes(build, x)),
             (Case("the encoder's first convolution gets the images scaled to [-1, 1], 2x - 1, as the DCGAN "
                   "discriminator does (x itself is in [0, 1])", expected=x * 2 - 1, atol=1e-6), rescaled),
             (Case("no BatchNorm (or other normalization) in the encoder: the DCGAN discriminator's body has none; "
                   "the number of normalization layers the encoder ran", expected=0.0, atol=0), norms_in_encoder),
             (Case("BatchNorm in the decoder where the DCGAN generator has it: its layers with weights run in the order "
                   "Linear, BatchNorm1d (of the 2 width x 7 x 7 features), ConvTranspose2d, BatchNorm2d, "
                   "ConvTranspose2d; no BatchNorm2d after reshaping instead of the BatchNorm1d, none after the last "
                   "layer (its outputs are the logits)", expected=1.0), decoder_layers),
             (Case("the encoder's activations: LeakyReLU with slope 0.2 after each convolution (what the next layer "
                   "gets divided by the convolution's output, where that is negative and where it is positive: "
                   "0.2 and 1; a ReLU gives 0 and 1)", expected=torch.tensor([0.2, 1.0, 0.2, 1.0]), atol=1e-3),
              slopes),
             (Case(f"the number of parameters, {count:,} for latent_dim={latent}, width={width}: the linear layer and "
                   "the first transposed convolution have no bias (bias=False), because the BatchNorm after each adds "
                   "its own shift", expected=float(count), atol=0, rtol=0), parameter_count),
             (Case("decode returns logits, any real number (no sigmoid, and not the generator's (tanh + 1) / 2, at the "
                   "end: the loss applies the sigmoid): in eval mode, for codes far from 0 some outputs are below 0 "
                   "and some above 1", expected=1.0), logits),
             (Case("decode returns twice the last layer's output a: the generator draws the pixels (tanh(a) + 1) / 2 "
                   "= sigmoid(2a), so the same network's logits are 2a. With the course's weights copied in, your "
                   "logits divided by those of VAE(arch='conv') (0.5 without the factor 2)", expected=1.0, rtol=1e-4,
                   atol=0), factor),
             *_head_cases(build, x, latent),
             (Case(GRADIENTS_CASE, expected=0.0, atol=0), _gradients_probe(build, x)),
             (Case(f"the same network as the course's VAE(latent_dim={latent}, arch='conv', channels={width}): with its "
                   "weights and BatchNorm statistics copied in (vae.copy_vae_weights), mu, logvar, decode in "
                   "training mode and decode in eval mode give the same numbers", expected=expected_outputs,
                   atol=1e-5), lambda cls: outputs(copied(cls))),
             (Case("forward decodes a code drawn from q(z|x), z = mu + exp(logvar / 2) * eps with fresh eps for every "
                   "image, not mu itself: with sigma = 2, the spread of the codes forward decodes over 400 draws, "
                   "divided by 2 (1; 0 when forward decodes mu, 2 when it scales eps by the variance)", expected=1.0,
                   rtol=0.1, atol=0), spread)]
    return _probing("conv_vae", cls, [c for c, _ in cases], [p for _, p in cases],
                    hint="the encoder scales the images to [-1, 1], then runs two convolutions with kernel 4, stride 2 "
                         "and padding 1 (width, then twice width channels), each followed by a LeakyReLU of slope "
                         "0.2 and no normalization, and flattens; two separate linear heads map those features to mu "
                         "and to logvar with nothing after them. The decoder: a linear layer without bias to 2 x width "
                         "x 7 x 7 features, BatchNorm1d, ReLU, a reshape to 2 x width channels of 7 x 7 pixels, a "
                         "transposed convolution (kernel 4, stride 2, padding 1, no bias) to width channels, "
                         "BatchNorm2d, ReLU, and a last transposed convolution (kernel 4, stride 2, padding 1) to one "
                         "channel with nothing after it; decode returns twice that last output. forward encodes, "
                         "draws z with reparameterize(mu, logvar) and returns (decode(z), mu, logvar). Keep the "
                         "attribute names the docstring asks for.")


def _step_model(seed=0):
    """A small VAE for the step checker: sigma ~ 1e-4 (z is mu, so the step is deterministic whatever noise the
    learner draws) and codes away from the prior (a KL of tens of nats, so beta matters)."""
    from ..vae import VAE

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VAE(latent_dim=2, hidden=24)
    with torch.no_grad():
        model.to_logvar.weight.zero_()
        model.to_logvar.bias.fill_(-18.0)
        model.to_mu.bias.fill_(1.5)
    return model


def _flat_parameters(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()]).double()


@checker
def check_vae_train_step(fn):
    """Check ``fn(model, optimizer, x N x 1 x 28 x 28, beta, elbo_fn=elbo) -> float``: one step of training on
    the batch mean of -elbo_fn(model, x, beta) = -log p(x|z) + beta * KL(q(z|x) || p(z)), with zero_grad,
    backward and optimizer.step; returns the loss as a Python float. Run with plain SGD (whose step is lr x the
    gradient) on a fixed small VAE; one case passes a stand-in elbo_fn, to see that the step maximizes the
    ELBO it is given."""
    from ..vae import elbo, vae_train_step

    if not callable(fn):
        return run_check("vae_train_step", fn, [], "")
    x, lr, n = _check_images(8, seed=2), 1e-3, 8

    def run(step_fn, beta=1.0, steps=1, **kwargs):
        """The returned losses and each step's update divided by -lr (for SGD: the gradient it followed)."""
        model = _step_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        losses, updates = [], []
        for _ in range(steps):
            before = _flat_parameters(model)
            losses.append(_seeded(step_fn)(model, optimizer, x, beta, **kwargs))
            updates.append((before - _flat_parameters(model)) / lr)
        return losses, updates

    def doubled(model, x, beta=1.0):
        return 2 * elbo(model, x, beta)

    (loss_1,), (gradient_1,) = run(vae_train_step)
    (loss_4,), (gradient_4,) = run(vae_train_step, beta=4.0)
    _, (_, second_gradient) = run(vae_train_step, steps=2)
    scale = float(gradient_1.abs().max())

    def returned(beta=1.0):
        return lambda fn: run(fn, beta)[0][0]

    def moved(fn):
        return run(fn)[1][0]

    cases = [(Case("the step returns the loss as a Python float (loss.item()), not a tensor (a list of tensors would "
                   "keep every step's graph alive) nor None", expected=1.0),
              lambda fn: float(isinstance(returned()(fn), float))),
             (Case("the sign of the returned loss: it is -ELBO, a positive number of nats here (a negative value is "
                   "the ELBO itself, and minimizing that would maximize -ELBO)", expected=1.0),
              lambda fn: float(returned()(fn) > 0)),
             (Case(f"the returned loss divided by the batch mean of -ELBO (a sum over the {n} images instead of the "
                   f"mean is {n} times larger)", expected=1.0, rtol=1e-4, atol=0),
              lambda fn: returned()(fn) / loss_1),
             (Case("one step changes the parameters (call optimizer.step() after loss.backward())", expected=1.0),
              lambda fn: float(bool(moved(fn).abs().max() > 0))),
             (Case("the step goes downhill: the parameters move against the gradient of -ELBO, not along it "
                   "(backward of -ELBO, not of the ELBO: a step uphill maximizes -ELBO)", expected=1.0),
              lambda fn: float(torch.sign(moved(fn) @ gradient_1))),
             (Case(f"the size of the step, relative to SGD's lr x the gradient of the batch mean of -ELBO (backward of "
                   f"a sum over the {n} images moves {n} times too far)", expected=1.0, rtol=1e-3, atol=0),
              lambda fn: float(moved(fn) @ gradient_1 / (gradient_1 @ gradient_1))),
             (Case("every parameter's update, beta = 1: lr x the gradient of the batch mean of -ELBO",
                   expected=gradient_1, atol=1e-3 * scale, rtol=1e-3), moved),
             (Case("with beta = 4 the returned loss is the batch mean of -log p(x|z) + 4 KL(q(z|x) || p(z)): beta "
                   "multiplies the KL term (not the reconstruction) and must not be ignored", expected=loss_4,
                   rtol=1e-4, atol=0), returned(4.0)),
             (Case("with beta = 4 every parameter's update follows the gradient of -log p(x|z) + 4 KL (beta in the "
                   "loss you call backward on)", expected=gradient_4, atol=1e-3 * scale, rtol=1e-3),
              lambda fn: run(fn, 4.0)[1][0]),
             (Case("two steps in a row: the second update uses the new gradient only (call optimizer.zero_grad() "
                   "every step, before loss.backward(); without it gradients accumulate from step to step)",
                   expected=second_gradient, atol=1e-3 * scale, rtol=1e-3),
              lambda fn: run(fn, steps=2)[1][1]),
             (Case("the step maximizes the ELBO it is given as elbo_fn (the next cells pass yours): with a stand-in "
                   "elbo_fn that returns twice the ELBO, the returned loss and the update double (a step that computes "
                   "its own loss ignores elbo_fn)", expected=(2 * loss_1, 2 * gradient_1), atol=2e-3 * scale,
                   rtol=1e-3),
              lambda fn: (lambda out: (out[0][0], out[1][0]))(run(fn, elbo_fn=doubled)))]
    return _probing("vae_train_step", fn, [c for c, _ in cases], [p for _, p in cases],
                    hint="compute the loss as the batch mean of the negative of elbo_fn(model, x, beta) (beta weights "
                         "the KL term inside it); clear the old gradients with the optimizer, backpropagate the loss, "
                         "let the optimizer take its step, and return the loss as a Python number with .item().")
