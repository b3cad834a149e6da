"""Checkers of the conditional and hybrid models notebook (08)."""
import copy
import math

import torch
from torch import nn

from ._core import Case, _seeded, checker, run_check
from .vae import _flat_parameters, _probing, _shape

__all__ = ["check_conditional_sample", "check_cvae_model", "check_free_bits_kl", "check_kl_weight",
           "check_label_accuracy", "check_projection_discriminator", "check_vae_gan_step"]


def _small_cvae(seed=0):
    """A small CVAE with fixed random weights whose decoder depends clearly on the label."""
    from ..conditional import CVAE

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CVAE(latent_dim=3, hidden=16)
        with torch.no_grad():
            model.decoder[0][0].weight[:, 3:] *= 8.0      # strong label inputs: each digit its own picture
    return model.eval().requires_grad_(False)


@checker
def check_conditional_sample(fn):
    """Check ``fn(model, labels (n,)) -> images n x 1 x 28 x 28``: decoder means sigmoid(decode(z, labels)) of a CVAE
    for z ~ N(0, I). Compared by statistics over many draws (any way of drawing the standard normal z passes)."""
    from ..conditional import CVAE  # noqa: F401  (the model class the checker builds)

    if not callable(fn):
        return run_check("conditional_sample", fn, [], "")
    model = _small_cvae()
    many = 3000
    threes, mixed = torch.full((many,), 3), torch.arange(many) % 10

    def reference_mean(labels):
        z = torch.randn(len(labels), model.latent_dim, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            return torch.sigmoid(model.decode(z, labels)).mean(dim=0)

    def probe_shape(labels):
        return torch.tensor(tuple(_seeded(fn)(model, labels).shape))

    def probe_mean(labels):
        return _seeded(fn)(model, labels).detach().float().mean(dim=0)

    def probe_per_digit_spread(labels):
        images = _seeded(fn)(model, labels).detach().float()
        return images[labels == 1].std(dim=0).mean()

    z_free = reference_mean(threes)
    ones = torch.ones(many, dtype=torch.long)
    with torch.no_grad():
        spread = torch.sigmoid(model.decode(torch.randn(many, 3, generator=torch.Generator().manual_seed(8)),
                                            ones)).std(dim=0).mean()
    cases = [Case("the shape: 5 requested digits give 5 images of 1 x 28 x 28", (torch.tensor([0, 1, 2, 3, 4]),),
                  {"_probe": probe_shape}, expected=torch.tensor([5, 1, 28, 28]), atol=0),
             Case(f"the mean image over {many} requested 3s (Bernoulli means in [0, 1], the label given to the decoder)",
                  (threes,), {"_probe": probe_mean}, expected=z_free, atol=0.03, rtol=0),
             Case(f"the mean image over {many} draws of all ten digits in turn", (mixed,), {"_probe": probe_mean},
                  expected=reference_mean(mixed), atol=0.03, rtol=0),
             # The spread (0.027 for this model) estimated from 3000 draws has a standard error of about 1.3 %
             # (1 / sqrt(2 * 3000)), 0.0004: 0.005 is over ten of them, while z drawn with std 1.25 instead of 1
             # already moves it by 0.006 (and z without noise, or shared by all images, by 0.027).
             Case("the spread of requested 1s (is z drawn from N(0, I), fresh for every image?)", (ones,),
                  {"_probe": probe_per_digit_spread}, expected=spread, atol=0.005, rtol=0)]
    return run_check("conditional_sample", lambda labels, _probe: _probe(labels), cases,
                     hint="draw one standard-normal code per requested digit (shape n x model.latent_dim), decode it "
                          "together with the labels (model.decode(z, labels) returns logits) and turn the logits into "
                          "pixel probabilities with a sigmoid.")


@checker
def check_free_bits_kl(fn):
    """Check ``fn(mu N x D, logvar N x D, free_bits) -> scalar``: sum over dimensions of max(free_bits, KL_d) with
    KL_d the batch mean of dimension d's KL to N(0, 1)."""
    from ..conditional import free_bits_kl

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g) * 0.5
    # One dimension carries information for some rows only: per-row clamping differs from clamping the batch mean.
    mixed_mu = torch.zeros(4, 3)
    mixed_mu[0, 0] = 2.0
    cases = [Case("free_bits = 0 (the plain KL, averaged over the batch)", (mu, logvar, 0.0),
                  expected=free_bits_kl(mu, logvar, 0.0), atol=1e-5),
             Case("the prior itself with free_bits = 0.5 (every dimension costs 0.5: 3 x 0.5)",
                  (torch.zeros(4, 3), torch.zeros(4, 3), 0.5), expected=1.5, atol=1e-6),
             Case("a random batch with free_bits = 0.3", (mu, logvar, 0.3), expected=free_bits_kl(mu, logvar, 0.3),
                  atol=1e-5),
             Case("one row far from the prior in dimension 0 (clamp the batch mean per dimension, not each row)",
                  (mixed_mu, torch.zeros(4, 3), 0.25), expected=free_bits_kl(mixed_mu, torch.zeros(4, 3), 0.25),
                  atol=1e-6)]
    return run_check("free_bits_kl", fn, cases,
                     hint="compute each latent dimension's KL to N(0, 1) per row, average it over the batch (one value "
                          "per dimension), replace every value below free_bits by free_bits (a maximum, not a minimum), "
                          "then sum over the dimensions.")


@checker
def check_label_accuracy(fn):
    """Check ``fn(probs N x 10, labels (N,)) -> float``: the share of rows whose most probable class is the
    requested label."""
    probs = torch.tensor([[0.7, 0.2, 0.1] + [0.0] * 7,
                          [0.1, 0.3, 0.6] + [0.0] * 7,
                          [0.0, 0.45, 0.55] + [0.0] * 7,
                          [0.05, 0.9, 0.05] + [0.0] * 7], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    random = torch.softmax(torch.randn(50, 10, generator=g, dtype=torch.float64) * 3, dim=1)
    random_labels = torch.randint(10, (50,), generator=g)
    expected_random = float((random.argmax(1) == random_labels).double().mean())
    cases = [Case("4 samples, 2 of them classified as requested", (probs, torch.tensor([0, 1, 1, 1])), expected=0.5,
                  atol=1e-9),
             Case("every sample right (a share of 1, not 100 %)", (probs, torch.tensor([0, 2, 2, 1])), expected=1.0,
                  atol=1e-9),
             Case("a confident-looking mistake counts as wrong: the third row requested as 1", (probs[2:3], torch.tensor([1])),
                  expected=0.0, atol=1e-9),
             Case("50 random rows", (random, random_labels), expected=expected_random, atol=1e-9)]
    return run_check("label_accuracy", fn, cases,
                     hint="for each row take the class with the largest probability (along the class dimension), "
                          "compare it with the requested label, and return the fraction of matches as a number between "
                          "0 and 1.")


# ---- the CVAE as a module ----

def _binary_images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.rand(n, 1, 28, 28, generator=g) * 0.6, generator=g)


def _built(cls, seed=0, **kwargs):
    """cls(**kwargs) built with the global random generator seeded (and restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(**kwargs)


def _dead_parameters(model, loss):
    """How many parameters of `model` get no gradient (or an all-zero one) from backward of `loss`."""
    loss.backward()
    return float(sum(p.grad is None or not bool(p.grad.abs().sum() > 0) for p in model.parameters()))


@checker
def check_cvae_model(cls):
    """Check a CVAE class: ``cls(latent_dim=..., hidden=...)`` builds ``encoder`` (784 + 10 -> hidden, ReLU),
    ``to_mu``, ``to_logvar`` (two ``nn.Linear`` heads), ``decoder`` (latent_dim + 10 -> hidden, ReLU, -> 784 logits,
    N x 1 x 28 x 28) and sets ``latent_dim``; ``encode(x, labels) -> (mu, logvar)``, ``decode(z, labels) -> logits``,
    ``forward(x, labels) -> (logits, mu, logvar)`` with z drawn by the reparameterization, the one-hot label
    concatenated after the pixels (encoder) and after z (decoder). Checks the shapes, the parameter count (a one-hot
    label, on both sides), that encoder and decoder both use the label, logits out, gradients everywhere, that with
    the course CVAE's weights it computes what `CVAE` computes, and that forward samples z."""
    from ..conditional import CVAE
    from ..vae import bernoulli_log_likelihood, copy_vae_weights, gaussian_kl

    if not callable(cls):
        return run_check("cvae_model", cls, [], "")
    latent, hidden = 3, 16
    x, labels = _binary_images(5), torch.tensor([0, 3, 3, 7, 9])
    other = (labels + 4) % 10
    z = torch.randn(5, latent, generator=torch.Generator().manual_seed(1))
    far = 10 * torch.randn(64, latent, generator=torch.Generator().manual_seed(2))

    def build(model_cls):
        return _built(model_cls, latent_dim=latent, hidden=hidden)

    def layers(cls):
        model = build(cls)
        named = all(isinstance(getattr(model, n, None), nn.Module) for n in ("encoder", "to_mu", "to_logvar", "decoder"))
        heads = all(isinstance(getattr(model, n, None), nn.Linear) for n in ("to_mu", "to_logvar"))
        return float(named and heads and getattr(model, "latent_dim", None) == latent)

    def encode_shapes(cls):
        mu, logvar = build(cls).encode(x, labels)
        return torch.cat([_shape(mu), _shape(logvar)])

    def forward_shapes(cls):
        out = _seeded(build(cls))(x, labels)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            return torch.tensor([-1])
        return torch.cat([_shape(t) for t in out])

    def parameter_count(cls):
        return float(sum(p.numel() for p in build(cls).parameters()))

    def label_moves(part):
        def probe(cls):
            model = build(cls)
            with torch.no_grad():
                if part == "encoder":
                    a, b = model.encode(x, labels)[0], model.encode(x, other)[0]
                else:
                    a, b = model.decode(z, labels), model.decode(z, other)
            return float(bool((a - b).abs().max() > 1e-4))
        return probe

    def logits(cls):
        with torch.no_grad():
            out = build(cls).decode(far, torch.arange(64) % 10)
        return float(bool((out < 0).any()) and bool((out > 1).any()))

    def gradients(cls):
        model = build(cls)
        out, mu, logvar = _seeded(model)(x, labels)
        return _dead_parameters(model, (gaussian_kl(mu, logvar) - bernoulli_log_likelihood(out, x)).mean())

    def same_function(cls):
        model = copy_vae_weights(build(CVAE), build(cls))
        with torch.no_grad():
            return (*model.encode(x, labels), model.decode(z, labels))

    def spread(cls):
        """With the decoder made linear (its ReLU units always on) and sigma = 2: the spread of forward's logits over
        400 draws of each image, divided by the spread that z = mu + 2 eps gives (1 when z is drawn from q)."""
        reference = build(CVAE)
        with torch.no_grad():
            reference.to_logvar.weight.zero_()
            reference.to_logvar.bias.fill_(math.log(4.0))
            first, last = reference.decoder[0][0], reference.decoder[0][2]
            first.bias.fill_(50.0)
            slope = last.weight @ first.weight[:, :latent]                     # logits = slope @ z + c(y)
            model = copy_vae_weights(reference, build(cls))
            out = _seeded(model)(x.repeat(400, 1, 1, 1), labels.repeat(400))[0].reshape(400, len(x), -1)
        return float((out.std(dim=0) / (2.0 * slope.norm(dim=1))).mean())

    reference = build(CVAE)
    with torch.no_grad():
        expected_function = (*reference.encode(x, labels), reference.decode(z, labels))
    cases = [(Case(f"cls(latent_dim={latent}, hidden={hidden}) has the layers encoder, to_mu and to_logvar (two "
                   "nn.Linear heads) and decoder, and sets self.latent_dim", expected=1.0), layers),
             (Case("encode(x, labels) of 5 images and 5 labels: mu and logvar, each of shape 5 x 3",
                   expected=torch.tensor([5, latent, 5, latent]), atol=0), encode_shapes),
             (Case("decode(z, labels) of 5 codes 5 x 3 and 5 labels: logits of shape 5 x 1 x 28 x 28",
                   expected=torch.tensor([5, 1, 28, 28]), atol=0), lambda cls: _shape(build(cls).decode(z, labels))),
             (Case("forward(x, labels): the tuple (logits 5 x 1 x 28 x 28, mu 5 x 3, logvar 5 x 3)",
                   expected=torch.tensor([5, 1, 28, 28, 5, latent, 5, latent]), atol=0), forward_shapes),
             (Case("the encoder uses the label: encode(x, labels) and encode(x, other labels) give different mu",
                   expected=1.0), label_moves("encoder")),
             (Case("the decoder uses the label: decode(z, labels) and decode(z, other labels) differ", expected=1.0),
              label_moves("decoder")),
             # A count is exact: rtol=0 (the default rtol 1e-4 let 26,374 +- 2 parameters pass).
             (Case(f"the number of parameters, that of the course's CVAE(latent_dim={latent}, hidden={hidden}): the "
                   "encoder's first layer takes 784 + 10 inputs and the decoder's latent_dim + 10 (the label as a "
                   "one-hot vector of 10 numbers, given to both; not the digit as one number)",
                   expected=parameter_count(CVAE), atol=0, rtol=0), parameter_count),
             (Case("decode returns logits, any real number (no sigmoid at the end: the loss applies it): for codes far "
                   "from 0 some outputs are below 0 and some above 1", expected=1.0), logits),
             (Case("gradients reach every parameter: after backward of the -ELBO of forward(x, labels), the number of "
                   "parameters with no (or an all-zero) gradient", expected=0.0, atol=0), gradients),
             (Case(f"the same network as the course's CVAE(latent_dim={latent}, hidden={hidden}): with its weights "
                   "copied in, encode and decode give the same numbers (encoder: [784 pixels, then the one-hot label] "
                   "-> hidden -> ReLU -> the two heads; decoder: [z, then the one-hot label] -> hidden -> ReLU -> 784)",
                   expected=expected_function, atol=1e-5), same_function),
             (Case("forward decodes a code drawn from q(z|x, y), z = mu + exp(logvar / 2) * eps with fresh eps for "
                   "every image, not mu itself: with the decoder made linear and sigma = 2, the spread of forward's "
                   "logits over 400 draws divided by the spread sigma = 2 gives (1; 0 when forward decodes mu)",
                   expected=1.0, rtol=0.1, atol=0), spread)]
    return _probing("cvae_model", cls, [c for c, _ in cases], [p for _, p in cases],
                    hint="build the encoder as a linear layer from 784 + 10 inputs to `hidden` units and a ReLU, two "
                         "separate linear heads to latent_dim, and the decoder as latent_dim + 10 -> hidden -> ReLU -> "
                         "784, reshaped to N x 1 x 28 x 28, no sigmoid. In encode, flatten the images and concatenate "
                         "one_hot(labels) after the pixels; in decode, concatenate it after z; forward encodes, draws z "
                         "with reparameterize(mu, logvar) and decodes it with the same labels.")


# ---- the projection discriminator ----

@checker
def check_projection_discriminator(cls):
    """Check a projection discriminator class: ``cls(width=...)`` builds ``body`` (`gan.dcgan_body(width)`),
    ``linear`` (nn.Linear(2 width 49, 1)) and ``embed`` (nn.Embedding(10, 2 width 49), initialized near 0);
    ``forward(x N x 1 x 28 x 28 in [0, 1], labels (N,)) -> logits (N,)`` = w . h(x) + b + e_y . h(x) with
    h(x) = body(2x - 1) (Miyato & Koyama 2018). Checks the layers, the shape, the parameter count, the embedding's
    start, that the label enters by projection, that with the course discriminator's weights it computes what
    `ConditionalDiscriminator` computes, and that gradients reach every parameter."""
    from ..conditional import ConditionalDiscriminator

    if not callable(cls):
        return run_check("projection_discriminator", cls, [], "")
    width = 2
    features = 2 * width * 49
    g = torch.Generator().manual_seed(3)
    x, labels = torch.rand(6, 1, 28, 28, generator=g), torch.tensor([0, 1, 2, 7, 7, 9])
    other = (labels + 3) % 10

    def build(model_cls):
        return _built(model_cls, width=width)

    def with_reference_weights(cls):
        """The learner's model with the course discriminator's weights, the embedding made large enough to matter."""
        reference = build(ConditionalDiscriminator)
        with torch.no_grad():
            reference.embed.weight.mul_(30.0)
        model = build(cls)
        model.load_state_dict(reference.state_dict())
        return model, reference

    def layers(cls):
        model = build(cls)
        linear, embed = getattr(model, "linear", None), getattr(model, "embed", None)
        return float(isinstance(getattr(model, "body", None), nn.Module)
                     and isinstance(linear, nn.Linear) and (linear.in_features, linear.out_features) == (features, 1)
                     and isinstance(embed, nn.Embedding) and tuple(embed.weight.shape) == (10, features))

    def small_embedding(cls):
        return float(float(build(cls).embed.weight.detach().std()) <= 0.05)

    def projection(cls):
        model, reference = with_reference_weights(cls)
        with torch.no_grad():
            return model(x, labels) - model(x, other)

    def same_function(cls):
        model, _ = with_reference_weights(cls)
        with torch.no_grad():
            return model(x, labels)

    def gradients(cls):
        model = build(cls)
        return _dead_parameters(model, model(x, labels).sum())

    reference = build(ConditionalDiscriminator)
    with torch.no_grad():
        reference.embed.weight.mul_(30.0)
        h = reference.features(x)
        expected_projection = ((reference.embed(labels) - reference.embed(other)) * h).sum(dim=1)
        expected_logits = reference(x, labels)
    count = float(sum(p.numel() for p in build(ConditionalDiscriminator).parameters()))
    cases = [(Case(f"cls(width={width}) has the layers body, linear (nn.Linear({features}, 1)) and embed "
                   f"(nn.Embedding(10, {features}))", expected=1.0), layers),
             (Case("forward(x, labels) of 6 images and 6 labels: logits of shape (6,), one number per image (the "
                   "linear layer's N x 1 output squeezed; N x 1 plus (N,) would broadcast to N x N)",
                   expected=torch.tensor([6]), atol=0), lambda cls: _shape(build(cls)(x, labels))),
             (Case(f"the number of parameters, that of the course's ConditionalDiscriminator(width={width}) (the label "
                   "enters only through the embedding, not as extra input channels)", expected=count, atol=0,
                   rtol=0),  # a count is exact (the default rtol 1e-4 lets a count above 10,000 be off by one)
              lambda cls: float(sum(p.numel() for p in build(cls).parameters()))),
             (Case("the embedding starts near 0 (weights' standard deviation at most 0.05; nn.Embedding's default "
                   "N(0, 1) makes e_y . h(x) dominate the first logits)", expected=1.0), small_embedding),
             (Case("the label enters by projection: with the course's weights, D(x, y) - D(x, y') = (e_y - e_y') . "
                   "h(x) for the features h(x) of the images rescaled to [-1, 1]", expected=expected_projection,
                   atol=1e-4, rtol=1e-4), projection),
             (Case("with the course discriminator's weights loaded (load_state_dict), the same logits "
                   "w . h(x) + b + e_y . h(x), h(x) = body(2x - 1)", expected=expected_logits, atol=1e-4, rtol=1e-4),
              same_function),
             (Case("gradients reach every parameter: after backward of the sum of the logits, the number of "
                   "parameters with no (or an all-zero) gradient", expected=0.0, atol=0), gradients)]
    return _probing("projection_discriminator", cls, [c for c, _ in cases], [p for _, p in cases],
                    hint="in __init__ build body = dcgan_body(width), a linear layer from 2 * width * 49 features to "
                         "one number and an embedding of 10 vectors of that size, its weights drawn with a small "
                         "standard deviation (e.g. 0.01). In forward, rescale the images to [-1, 1], take the body's "
                         "features h, and return the linear layer's output (squeezed to one number per image) plus the "
                         "dot product of each image's label vector with its own h (multiply, sum over the features).")


# ---- the VAE-GAN step ----

def _vae_gan_setup():
    """A small VAE-GAN and discriminator for the step checker: sigma ~ 1e-4 (z is mu, so the step is deterministic
    whatever noise the learner draws), codes away from the prior; a batch of images and prior codes."""
    from ..conditional import VAEGAN
    from ..gan import DCGANDiscriminator

    model = _built(VAEGAN, latent_dim=3, width=2)
    discriminator = _built(DCGANDiscriminator, seed=1, width=2)
    with torch.no_grad():
        model.to_logvar.weight.zero_()
        model.to_logvar.bias.fill_(-18.0)
        model.to_mu.bias.fill_(1.0)
    g = torch.Generator().manual_seed(4)
    real = torch.rand(6, 1, 28, 28, generator=g)
    prior_z = torch.randn(6, 3, generator=g)
    return model.train(), discriminator.train(), real, prior_z


_LR = {"enc": 1e-2, "dec": 1e-2, "d": 0.5}
_GAMMA = 0.3


def _run_vae_gan(step_fn, steps=1):
    """Run `step_fn` on fresh copies of the checker's networks with plain SGD (a step is lr x the gradient). Returns
    the returned values of each step, each step's updates divided by -lr ({"enc", "dec", "d"}) and the networks."""
    model, discriminator, real, prior_z = _vae_gan_setup()
    parts = {"enc": model.encoder_parameters(), "dec": list(model.decoder.parameters()),
             "d": list(discriminator.parameters())}
    opts = {k: torch.optim.SGD(params, lr=_LR[k]) for k, params in parts.items()}
    returned, updates = [], []
    for _ in range(steps):
        before = {k: torch.cat([p.detach().flatten() for p in params]).double() for k, params in parts.items()}
        returned.append(_seeded(step_fn)(model, discriminator, opts["enc"], opts["dec"], opts["d"], real, prior_z,
                                         _GAMMA))
        updates.append({k: (before[k] - torch.cat([p.detach().flatten() for p in params]).double()) / _LR[k]
                        for k, params in parts.items()})
    return returned, updates


def _flat_grad(loss, params):
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)]).double()


def _vae_gan_gradients():
    """The gradients the step's losses give each part, as the correct step computes them (the discriminator's with
    its weights before the update, the encoder's and decoder's after): {name: flat gradient}."""
    from ..conditional import vae_gan_step
    from ..gan import discriminator_loss, generator_loss
    from ..vae import gaussian_kl, reparameterize

    model, discriminator, real, prior_z = _vae_gan_setup()
    after = copy.deepcopy(discriminator)
    _, (updates,) = _run_vae_gan(vae_gan_step)
    with torch.no_grad():                             # the discriminator after the step's update
        for p, delta in zip(after.parameters(), updates["d"].split([p.numel() for p in after.parameters()])):
            p -= _LR["d"] * delta.view_as(p).float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mu, logvar = model.encode(real)
        recon = model.decode(reparameterize(mu, logvar))
    prior = model.decode(prior_z)
    enc, dec, d = model.encoder_parameters(), list(model.decoder.parameters()), list(discriminator.parameters())

    def feature(disc):
        return 0.5 * (disc.features(real).detach() - disc.features(recon)).pow(2).sum(dim=1).mean()

    kl = gaussian_kl(mu, logvar).mean()
    g_loss = generator_loss(after(torch.cat([recon, prior])))
    d_loss = discriminator_loss(discriminator(real), discriminator(torch.cat([recon, prior]).detach()))
    return {"d: GAN": _flat_grad(d_loss, d), "d: feature": _flat_grad(feature(discriminator), d),
            "enc: KL": _flat_grad(kl, enc), "enc: feature": _flat_grad(feature(after), enc),
            "enc: GAN": _flat_grad(g_loss, enc), "dec: feature": _flat_grad(feature(after), dec),
            "dec: GAN": _flat_grad(g_loss, dec)}


def _coefficients(update, columns):
    """Least-squares coefficients of `update` in the span of the gradient vectors `columns`."""
    basis = torch.stack(columns, dim=1)
    return torch.linalg.lstsq(basis, update.unsqueeze(1)).solution.squeeze(1)


@checker
def check_vae_gan_step(fn):
    """Check ``fn(model, discriminator, opt_enc, opt_dec, opt_d, real, prior_z, gamma) -> dict``: one VAE-GAN update
    (Larsen et al. 2016) as `conditional.vae_gan_step` documents it: the discriminator on the GAN loss only (real
    against x~ and x_p), then, with the updated discriminator, the encoder on KL + L_feat and the decoder on
    gamma L_feat + the generator loss; returns {"d_loss", "kl", "feature", "g_loss"} as floats. Run with plain SGD
    (whose step is lr x the gradient) on small networks, so each part's update shows which losses reached it."""
    from ..conditional import vae_gan_step

    if not callable(fn):
        return run_check("vae_gan_step", fn, [], "")
    (expected_returned,), (expected,) = _run_vae_gan(vae_gan_step)
    _, (_, expected_second) = _run_vae_gan(vae_gan_step, steps=2)
    grads = _vae_gan_gradients()
    runs = {}

    def run(fn, steps=1):
        if steps not in runs:
            runs[steps] = _run_vae_gan(fn, steps)
        return runs[steps]

    def returned_keys(fn):
        out = run(fn)[0][0]
        return float(isinstance(out, dict) and set(out) >= {"d_loss", "kl", "feature", "g_loss"}
                     and all(isinstance(out[k], float) for k in ("d_loss", "kl", "feature", "g_loss")))

    def returned(key):
        return lambda fn: run(fn)[0][0][key]

    def update(part):
        return lambda fn: run(fn)[1][0][part]

    def coefficients(part, names):
        return lambda fn: _coefficients(run(fn)[1][0][part], [grads[f"{part}: {n}"] for n in names])

    scale = {k: float(v.abs().max()) for k, v in expected.items()}
    cases = [(Case("the step returns a dict with the keys d_loss, kl, feature and g_loss, each a Python float "
                   "(.item())", expected=1.0), returned_keys),
             (Case("the returned d_loss: the discriminator's non-saturating loss, real digits against the 2N fakes "
                   "x~ and x_p in one batch, before its update", expected=expected_returned["d_loss"], rtol=1e-4,
                   atol=1e-5), returned("d_loss")),
             (Case("the discriminator's update has no part along the gradient of the reconstruction loss L_feat: "
                   "L_feat must not reach the discriminator's weights (the coefficient of d L_feat / d weights in its "
                   "update, expected 0)", expected=0.0, atol=0.02),
              lambda fn: coefficients("d", ["GAN", "feature"])(fn)[1]),
             (Case("the discriminator's update is lr x the gradient of its GAN loss alone (real against x~ and x_p, "
                   "both detached)", expected=expected["d"], atol=1e-3 * scale["d"], rtol=1e-3), update("d")),
             (Case("the returned kl: the batch mean of KL(q(z|x) || N(0, I))", expected=expected_returned["kl"],
                   rtol=1e-4, atol=1e-5), returned("kl")),
             (Case("the returned feature: L_feat, the batch mean of 0.5 ||f(x) - f(x~)||^2 summed over the updated "
                   "discriminator's features f (discriminator.features)", expected=expected_returned["feature"],
                   rtol=1e-4, atol=1e-5), returned("feature")),
             (Case("the returned g_loss: the generator loss of the updated discriminator's logits on x~ and x_p (2N "
                   "in one batch)", expected=expected_returned["g_loss"], rtol=1e-4, atol=1e-5), returned("g_loss")),
             (Case("the encoder's update, as coefficients of the gradients of (KL, L_feat, GAN loss): (1, 1, 0); the "
                   "encoder is trained on KL + L_feat, and the GAN loss must not reach it",
                   expected=torch.tensor([1.0, 1.0, 0.0]), atol=0.02),
              coefficients("enc", ["KL", "feature", "GAN"])),
             (Case(f"the decoder's update, as coefficients of the gradients of (L_feat, GAN loss): (gamma, 1) = "
                   f"({_GAMMA}, 1); the decoder is trained on gamma * L_feat + the GAN loss",
                   expected=torch.tensor([_GAMMA, 1.0]), atol=0.02), coefficients("dec", ["feature", "GAN"])),
             (Case("every encoder weight's update: lr x the gradient of KL + L_feat (computed with the discriminator "
                   "after its update)", expected=expected["enc"], atol=1e-3 * scale["enc"], rtol=1e-3), update("enc")),
             (Case("every decoder weight's update: lr x the gradient of gamma * L_feat + the GAN loss (computed with "
                   "the discriminator after its update)", expected=expected["dec"], atol=1e-3 * scale["dec"],
                   rtol=1e-3), update("dec")),
             (Case("two steps in a row: each part's second update uses the new gradients only (zero every "
                   "optimizer's gradients each step before backward)",
                   expected=tuple(expected_second[k] for k in ("enc", "dec", "d")),
                   atol=1e-3 * max(scale.values()), rtol=1e-3),
              lambda fn: tuple(run(fn, 2)[1][1][k] for k in ("enc", "dec", "d")))]
    return _probing("vae_gan_step", fn, [c for c, _ in cases], [p for _, p in cases],
                    hint="encode the batch, decode a code drawn with reparameterize and, in a second call, the prior "
                         "codes. First the discriminator: zero its gradients, its loss on the real images against both "
                         "kinds of fakes (detached), backward, step. Then with the updated discriminator compute the "
                         "KL, the feature loss and the generator loss; give the encoder's parameters the gradient of "
                         "KL + feature and the decoder's that of gamma * feature + the generator loss, and nothing else "
                         "(backward's inputs= argument restricts a backward to given parameters), zero the two "
                         "optimizers' gradients before, step both after; return the four losses with .item().")


# ---- the KL-annealing schedule ----

@checker
def check_kl_weight(fn):
    """Check ``fn(step, warmup_steps, beta) -> float``: the KL weight of KL annealing, beta * (step + 1) /
    warmup_steps for step < warmup_steps, then beta; beta at every step when warmup_steps = 0."""
    from ..conditional import kl_weight

    if not callable(fn):
        return run_check("kl_weight", fn, [], "")

    def schedule(warmup, beta, steps):
        return lambda fn: torch.tensor([float(fn(s, warmup, beta)) for s in range(steps)], dtype=torch.float64)

    cases = [(Case("the first step (step 0) of a 4-step warm-up with beta = 2: 2 x 1/4 = 0.5 (step counts from 0, "
                   "so the weight is never 0)", expected=0.5, atol=1e-9), lambda fn: fn(0, 4, 2.0)),
             (Case("steps 0 to 6 of a 4-step warm-up with beta = 2: 0.5, 1, 1.5, 2, then 2 (beta reached at step 3, "
                   "and kept)", expected=torch.tensor([0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0], dtype=torch.float64),
                   atol=1e-9), schedule(4, 2.0, 7)),
             (Case("beta = 20 with 300 warm-up steps: steps 0 to 399", expected=schedule(300, 20.0, 400)(kl_weight),
                   atol=1e-9), schedule(300, 20.0, 400)),
             (Case("long after the warm-up (step 10,000 of a 300-step warm-up, beta = 20): beta", expected=20.0,
                   atol=1e-9), lambda fn: fn(10_000, 300, 20.0)),
             (Case("no warm-up (warmup_steps = 0), beta = 3: beta from the first step on", expected=3.0, atol=1e-9),
              lambda fn: fn(0, 0, 3.0))]
    return _probing("kl_weight", fn, [c for c, _ in cases], [p for _, p in cases],
                    hint="during the warm-up the weight is beta times the fraction of the warm-up done, counting the "
                         "current step as done (step + 1 of warmup_steps, in floating point); once that fraction "
                         "reaches 1 it stays at beta; with no warm-up, return beta.")
