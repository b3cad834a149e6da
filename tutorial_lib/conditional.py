"""Conditional and hybrid models (notebook 08): the conditional VAE and GAN, the VAE-GAN, and the posterior-collapse
lab (a VAE with an autoregressive decoder, KL annealing, free bits), with the metrics they need.

Shapes: images x are N x 1 x 28 x 28 in [0, 1]; labels are (N,) integer tensors with digits 0..9; latent codes z
are N x D. Every per-image bound is in nats, shape (N,).
"""
import copy
import inspect
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from . import validate
from .gan import (SHARED_NETWORK, DCGANGenerator, _check_positive_int, _has_batch_norm, _latent, _maybe_sn, _Sampler,
                  dcgan_body, discriminator_loss, gan_step, generator_loss)
from .vae import VAE, _check_gaussian, _check_pixels, bernoulli_log_likelihood, gaussian_kl, reparameterize
from .vae import _mlp as _vae_mlp

NUM_CLASSES = 10
_LOG_2PI = math.log(2 * math.pi)


# ---- labels ----

def check_labels(labels, n=None):
    """`labels` as a long tensor (N,) of digits 0..9; a clear error for anything else (n: the expected N)."""
    if not torch.is_tensor(labels):
        raise TypeError(f"labels must be a tensor of digits 0..9, e.g. torch.arange(10), got {type(labels).__name__}")
    if labels.dim() != 1 or labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be a 1-D integer tensor (N,) of digits 0..9, got dtype {labels.dtype} and "
                         f"shape {tuple(labels.shape)}; use torch.tensor([...]) or labels.long().")
    if n is not None and len(labels) != n:
        raise ValueError(f"need one label per image: {n} images but {len(labels)} labels")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= NUM_CLASSES):
        raise ValueError(f"labels must be digits 0..9, got values from {int(labels.min())} to {int(labels.max())}")
    return labels.long()


def _check_images(x):
    """Images x for an encoder or a discriminator: N x 1 x 28 x 28 in [0, 1] (NaN is left to the loss's guard)."""
    validate.images(x, "x", check_finite=False)


def one_hot(labels):
    """Digits (N,) -> one-hot float rows N x 10."""
    return F.one_hot(check_labels(labels), NUM_CLASSES).float()


def need_labels(model, labels, n):
    """`labels` checked as n digits for conditional `model`: a clear error when they are missing, or given to a
    model that is not conditional."""
    if not getattr(model, "conditional", False):
        if labels is None:
            return None
        raise ValueError(f"{type(model).__name__} is not conditional: it cannot draw requested digits; call "
                         f"generate without labels (the conditional models are 'cvae' and 'cgan').")
    if labels is None:
        raise ValueError(f"{type(model).__name__} is conditional: pass labels, a tensor of {n} digits 0..9 "
                         f"(e.g. torch.arange({n}) % 10 for every digit in turn), as labels=...")
    return check_labels(labels, n)


def _mlp(sizes):
    """Linear layers of the given sizes with ReLU between them (notebook 02's VAE builds its MLPs the same way)."""
    return _vae_mlp(sizes, nn.ReLU)


# ---- the conditional VAE (Sohn et al. 2015) ----

class CVAE(nn.Module):
    """A conditional VAE: q(z | x, y) and p(x | z, y), the digit y given to both as a one-hot vector.

    MLP encoder (784 + 10 -> hidden -> mu, logvar), MLP decoder (latent_dim + 10 -> hidden -> 784 Bernoulli logits).
    ``CVAE(**model.config)`` rebuilds the architecture.
    """

    conditional = True

    def __init__(self, latent_dim=16, hidden=400):
        super().__init__()
        self.config = {"latent_dim": latent_dim, "hidden": hidden}
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(784 + NUM_CLASSES, hidden), nn.ReLU())
        self.to_mu, self.to_logvar = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(_mlp([latent_dim + NUM_CLASSES, hidden, 784]), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, x, labels):
        """x N x 1 x 28 x 28, labels (N,) -> (mu, logvar) of q(z | x, y), each N x latent_dim."""
        _check_images(x)
        h = self.encoder(torch.cat([x.flatten(1), one_hot(check_labels(labels, len(x))).to(x)], dim=1))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z, labels):
        """z N x latent_dim, labels (N,) -> Bernoulli logits N x 1 x 28 x 28."""
        validate.latents(z, self.latent_dim)
        return self.decoder(torch.cat([z, one_hot(check_labels(labels, len(z))).to(z)], dim=1))

    def forward(self, x, labels):
        """-> (logits, mu, logvar), z drawn by the reparameterization."""
        mu, logvar = self.encode(x, labels)
        return self.decode(reparameterize(mu, logvar), labels), mu, logvar

    @torch.no_grad()
    def sample(self, n, labels=None, generator=None):
        """n images of the requested digits (labels (n,)): the Bernoulli means sigmoid(decode(z, y)), z ~ N(0, I)."""
        labels = need_labels(self, labels, n)
        device = next(self.parameters()).device
        z = _latent(n, self.latent_dim, device, generator)
        return torch.sigmoid(self.decode(z, labels.to(device)))


def cvae_elbo(model, x, labels, beta=1.0):
    """The CVAE's single-sample ELBO per image: log p(x | z, y) - beta KL(q(z | x, y) || N(0, I)), shape (N,)."""
    _check_pixels(x)
    logits, mu, logvar = model(x, labels)
    return bernoulli_log_likelihood(logits, x) - beta * gaussian_kl(mu, logvar)


# ---- the conditional GAN (Mirza & Osindero 2014) ----

class ConditionalGenerator(_Sampler):
    """G(z, y): notebook 04's DCGAN generator fed the noise and the one-hot digit, concatenated.

    z N x latent_dim, labels (N,) -> images N x 1 x 28 x 28 in [0, 1]."""

    conditional = True

    def __init__(self, latent_dim=64, width=32):
        super().__init__()
        self.config = {"latent_dim": latent_dim, "width": width}
        self.latent_dim = latent_dim
        self.net = DCGANGenerator(latent_dim + NUM_CLASSES, width)

    def forward(self, z, labels):
        validate.latents(z, self.latent_dim, "noise")
        return self.net(torch.cat([z, one_hot(check_labels(labels, len(z))).to(z)], dim=1))

    def sample(self, n, labels=None, generator=None):
        """n images of the requested digits, without gradients and in eval mode (restored after)."""
        labels = need_labels(self, labels, n)
        device = next(self.parameters()).device
        return self._eval_forward(_latent(n, self.latent_dim, device, generator), labels.to(device))


class ConditionalDiscriminator(nn.Module):
    """D(x, y): notebook 04's DCGAN discriminator with the label entering by projection (Miyato & Koyama 2018):
    logit = w . h(x) + b + e_y . h(x), where h(x) = body(2x - 1) are the features of the DCGAN discriminator's body
    (`gan.dcgan_body`, N x 2 width 49), (w, b) its linear layer and e_y a learned vector per digit (`embed`,
    initialized near 0, so that training starts from the unconditional discriminator).

    images N x 1 x 28 x 28 in [0, 1], labels (N,) -> logits (N,)."""

    def __init__(self, width=32, spectral_norm=False):
        super().__init__()
        self.config = {"width": width, "spectral_norm": spectral_norm}
        self.body = dcgan_body(width, 1, spectral_norm)
        self.linear = _maybe_sn(nn.Linear(2 * width * 49, 1), spectral_norm)
        self.embed = nn.Embedding(NUM_CLASSES, 2 * width * 49)
        nn.init.normal_(self.embed.weight, std=0.01)

    def features(self, x):
        """h(x): the body's features of images x in [0, 1] (rescaled to [-1, 1] inside), N x 2 width 49."""
        _check_images(x)
        return self.body(x * 2 - 1)

    def forward(self, x, labels):
        h = self.features(x)
        labels = check_labels(labels, len(x)).to(x.device)
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)


# ---- the VAE-GAN (Larsen et al. 2016) ----

class VAEGAN(VAE):
    """The VAE-GAN's encoder and decoder: notebook 06's shared network, `vae.VAE(arch="conv")` with
    channels = width (encoder: the DCGAN discriminator's body and the mu and logvar heads; decoder: a
    `DCGANGenerator(latent_dim, width)`), the same layers and parameter names. The difference is what it is trained
    for (`vae_gan_step`): reconstructions judged in a discriminator's features, and the decoder a GAN generator.

    decode(z) returns images N x 1 x 28 x 28 in [0, 1], the generator's output (tanh(a) + 1) / 2, which is
    sigmoid of the VAE's logits 2a (`logits(z)`): a GAN's discriminator judges pixel values, not logits.
    ``VAEGAN(**model.config)`` rebuilds the architecture."""

    def __init__(self, latent_dim=64, width=32, depth=0):
        super().__init__(latent_dim, arch="conv", channels=width, depth=depth)
        self.config = {"latent_dim": latent_dim, "width": width, "depth": depth}

    def encode(self, x):
        """x N x 1 x 28 x 28 in [0, 1] -> (mu, logvar), each N x latent_dim: `VAE.encode` of the conv VAE."""
        validate.images(x, "x", shape=self.image_shape, check_finite=False)
        h = self.encoder(x * 2 - 1)
        return self.to_mu(h), self.to_logvar(h)

    def logits(self, z):
        """What the conv VAE's `decode` returns: logits N x 1 x 28 x 28, whose sigmoid is decode(z)."""
        return self.decoder.logits(validate.latents(z, self.latent_dim))

    def decode(self, z):
        """z N x latent_dim -> images N x 1 x 28 x 28 in [0, 1] (= sigmoid(logits(z)))."""
        return self.decoder(validate.latents(z, self.latent_dim))

    def encoder_parameters(self):
        """The parameters the encoder's optimizer trains: those of ``encoder``, ``to_mu`` and ``to_logvar``."""
        return [*self.encoder.parameters(), *self.to_mu.parameters(), *self.to_logvar.parameters()]

    def sample(self, n, generator=None):
        """n images decode(z), z ~ N(0, I), in eval mode without gradients (the mode is restored after)."""
        return self.decoder.sample(n, generator=generator)

    @torch.no_grad()
    def reconstruct(self, x):
        """The images decoded from the encoder's mean code: decode(mu(x)), N x 1 x 28 x 28."""
        return self.decode(self.encode(x)[0])


# ---- free bits and KL annealing (posterior collapse) ----

def free_bits_kl(mu, logvar, free_bits):
    """The free-bits KL term (Kingma et al. 2016): sum over latent dimensions d of max(free_bits, KL_d), where
    KL_d is dimension d's KL(q || N(0, 1)) averaged over the batch. mu, logvar: N x D. Returns a scalar.
    Below `free_bits` nats a dimension's KL costs nothing more, so the optimizer has no reason to switch it off."""
    if isinstance(free_bits, bool) or not free_bits >= 0:
        raise ValueError(f"free_bits must be >= 0 nats, got {free_bits!r}")
    _check_gaussian(mu, logvar)
    per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)
    return per_dim.clamp_min(free_bits).sum()


def kl_weight(step, warmup_steps, beta=1.0):
    """KL annealing (Bowman et al. 2016): the KL term's weight at `step` (0-based), beta * (step + 1) / warmup_steps
    during the first `warmup_steps` steps (from beta / warmup_steps up to beta at step warmup_steps - 1), then beta;
    beta at every step when warmup_steps = 0. A float."""
    if warmup_steps < 0 or step < 0 or not 0 <= beta < math.inf:
        raise ValueError(f"step and warmup_steps must be >= 0 and beta a finite number >= 0, got step={step!r}, "
                         f"warmup_steps={warmup_steps!r}, beta={beta!r}")
    return float(beta) if warmup_steps == 0 else beta * min(1.0, (step + 1) / warmup_steps)


class CollapseVAE(nn.Module):
    """The posterior-collapse lab's VAE: MLP encoder and decoder, and with ``autoregressive=True`` a decoder that also
    sees every pixel before the current one (raster order) through a masked linear layer: a fully visible sigmoid
    belief net conditioned on z, strong enough to model digits without the code.

    logits_i = MLP(z)_i + sum_{j < i} W_ij x_j + b_i. Decoding needs the image (teacher forcing): ``decode(z, x)``."""

    def __init__(self, latent_dim=16, hidden=256, autoregressive=False):
        super().__init__()
        self.config = {"latent_dim": latent_dim, "hidden": hidden, "autoregressive": autoregressive}
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.to_mu, self.to_logvar = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.decoder = _mlp([latent_dim, hidden, 784])
        self.autoregressive = nn.Linear(784, 784) if autoregressive else None
        if autoregressive:
            nn.init.zeros_(self.autoregressive.weight)
            self.register_buffer("mask", torch.ones(784, 784).tril(diagonal=-1))

    def encode(self, x):
        _check_images(x)
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z, x):
        """Bernoulli logits N x 1 x 28 x 28 of each pixel given z and (autoregressive) the pixels before it in x."""
        validate.latents(z, self.latent_dim)
        logits = self.decoder(z)
        if self.autoregressive is not None:
            logits = logits + F.linear(x.flatten(1), self.autoregressive.weight * self.mask, self.autoregressive.bias)
        return logits.view(-1, 1, 28, 28)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar), x), mu, logvar

    @torch.no_grad()
    def sample(self, n, generator=None):
        """n binary images (autoregressive: drawn pixel by pixel, 784 steps) or Bernoulli means (MLP decoder)."""
        z = _latent(n, self.latent_dim, next(self.parameters()).device, generator)
        if self.autoregressive is None:
            return torch.sigmoid(self.decode(z, None))
        base, x = self.decoder(z), torch.zeros(n, 784, device=z.device)
        weight = self.autoregressive.weight * self.mask
        for i in range(784):
            p = torch.sigmoid(base[:, i] + x @ weight[i] + self.autoregressive.bias[i])
            u = torch.rand(n, generator=generator, device=z.device) if generator is not None else torch.rand(n)
            x[:, i] = (u < p).float()
        return x.view(n, 1, 28, 28)


def collapse_iwae_bound(model, x, k):
    """The IWAE bound (k samples, nats, (N,)) of a `CollapseVAE` on binary images x: the notebook 02 bound with
    the autoregressive decoder's teacher-forced logits."""
    _check_positive_int("k", k)
    _check_pixels(x)
    mu, logvar = model.encode(x)
    eps = torch.randn(k, *mu.shape, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps                                   # k x N x D
    logits = model.decode(z.reshape(-1, model.latent_dim), x.repeat(k, 1, 1, 1))
    log_px_z = bernoulli_log_likelihood(logits, x.repeat(k, 1, 1, 1)).view(k, len(x))
    log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=2)
    log_qz = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(dim=2)
    return torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)


def collapse_elbo(model, x, beta=1.0, free_bits=None, free_bits_fn=None):
    """(objective to minimize, mean -ELBO, mean KL) of a `CollapseVAE` on a batch: the reconstruction plus beta times
    the KL, or the free-bits KL when `free_bits` is given (nats per dimension), computed by `free_bits_fn(mu, logvar,
    free_bits)` (default: `free_bits_kl`; notebook 08 passes the learner's)."""
    logits, mu, logvar = model(x)
    reconstruction = -bernoulli_log_likelihood(logits, x).mean()
    kl = gaussian_kl(mu, logvar).mean()
    penalty = kl if free_bits is None else (free_bits_fn or free_bits_kl)(mu, logvar, free_bits)
    return reconstruction + beta * penalty, reconstruction + kl, kl


def train_collapse(model, images, epochs, beta=1.0, warmup_steps=0, free_bits=None, lr=1e-3, batch_size=128,
                   seed=0, free_bits_fn=None, kl_weight_fn=None):
    """Train a `CollapseVAE` on binary images (N x 1 x 28 x 28) with Adam; the KL weight at each step is
    ``kl_weight_fn(step, warmup_steps, beta)`` (default `kl_weight`: KL annealing when warmup_steps > 0) and free bits
    apply when `free_bits` is set (computed by `free_bits_fn`, as in `collapse_elbo`). Notebook 08 passes the
    learner's functions. Returns a dict of per-step lists ``loss`` (-ELBO), ``kl`` and ``weight`` (the KL weight),
    and ``steps``, ``seconds``."""
    _check_pixels(images)
    kl_weight_fn = kl_weight_fn or kl_weight
    _check_run(epochs, batch_size, "epochs")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    history, step, start = {"loss": [], "kl": [], "weight": []}, 0, time.perf_counter()
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(images), generator=g).split(batch_size):
            weight = float(kl_weight_fn(step, warmup_steps, beta))
            objective, negative_elbo, kl = collapse_elbo(model, images[index], weight, free_bits, free_bits_fn)
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            history["loss"].append(negative_elbo.item())
            history["kl"].append(kl.item())
            history["weight"].append(weight)
            step += 1
    model.eval()
    return dict(history, steps=step, seconds=time.perf_counter() - start)


# ---- metrics for conditional models ----

@torch.no_grad()
def label_accuracy(images, labels, batch_size=500):
    """The share of `images` (N x 1 x 28 x 28 in [0, 1]) that the course classifier labels as the requested digit
    `labels` (N,): how well a conditional model obeys. A float in [0, 1]."""
    from .metrics import class_probabilities

    labels = check_labels(labels, len(images) if torch.is_tensor(images) else None)
    return label_accuracy_from_probabilities(class_probabilities(images, batch_size), labels)


def label_accuracy_from_probabilities(probs, labels):
    """The share of rows of `probs` (N x 10 class probabilities) whose most probable class is `labels` (N,): a float."""
    probs = validate.points(probs, "probs", dim=None)  # N x C, finite (the argmax needs no normalization)
    labels = check_labels(labels, len(probs))
    return float((probs.argmax(dim=1) == labels.to(probs.device)).double().mean())


def per_class_fid(real, real_labels, fake, fake_labels):
    """FID of each digit: real images of digit d against generated images requested as d. Returns {d: FID} for
    the digits present on both sides (at least 2 images each)."""
    from .metrics import fid

    real_labels, fake_labels = check_labels(real_labels, len(real)), check_labels(fake_labels, len(fake))
    return {d: fid(real[real_labels == d], fake[fake_labels == d]) for d in range(NUM_CLASSES)
            if (real_labels == d).sum() >= 2 and (fake_labels == d).sum() >= 2}


@torch.no_grad()
def generate_labelled(model, labels, seed=0, batch_size=1000):
    """Images of the requested digits (labels (N,)) from a conditional model, reproducible under `seed`: N x 1 x 28 x 28."""
    labels = check_labels(labels)
    _check_positive_int("batch_size", batch_size)
    if not len(labels):
        raise ValueError("labels is empty: pass one requested digit per image, e.g. torch.arange(10)")
    device = next(model.parameters()).device
    noise = torch.Generator(device=device).manual_seed(seed)
    return torch.cat([model.sample(len(chunk), labels=chunk, generator=noise).float().cpu()
                      for chunk in labels.split(batch_size)])


# ---- training loops for the shipped models (scripts/train_conditional.py, notebook 08's live versions) ----

def _check_run(length, batch_size, what="steps"):
    """A run's length (`what`: steps or epochs, >= 0) and its batch size (>= 1), with a clear error."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {length!r}")
    _check_positive_int("batch_size", batch_size)


def _batches(dataset, batch_size, generator):
    """An endless stream of (images, labels) mini-batches drawn without replacement epoch by epoch."""
    images, labels = dataset.images, dataset.labels
    if batch_size > len(images):  # no full batch would ever come: the loop below would wait forever
        raise ValueError(f"batch_size={batch_size} is larger than the dataset ({len(images)} images): use a smaller "
                         "batch_size or more data (load_mnist's limit=).")
    while True:
        for index in torch.randperm(len(images), generator=generator).split(batch_size):
            if len(index) == batch_size:
                yield images[index], labels[index]


def train_cvae(model, dataset, steps, lr=1e-3, batch_size=128, beta=1.0, seed=0, binarize=True):
    """Train a `CVAE` for `steps` Adam steps on (images, labels) from `dataset` (e.g. ``load_mnist()``), images
    binarized afresh every batch when `binarize`. Returns {"loss": per-step -ELBO, "steps", "seconds"}."""
    _check_run(steps, batch_size)
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, start = {"loss": []}, time.perf_counter()
    model.train()
    for step, (x, y) in zip(range(steps), _batches(dataset, batch_size, g)):
        if binarize:
            x = torch.bernoulli(x, generator=g)
        loss = -cvae_elbo(model, x, y, beta).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history["loss"].append(loss.item())
    model.eval()
    return dict(history, steps=steps, seconds=time.perf_counter() - start)


def cgan_step(generator, discriminator, opt_g, opt_d, real, labels):
    """One alternating update of the conditional GAN (non-saturating loss): the discriminator on real and generated
    images of the same requested digits, then the generator. Returns (d_loss, g_loss) as floats."""
    validate.images(real, "real")  # N x 1 x 28 x 28 in [0, 1], like the generator's images
    labels = check_labels(labels, len(real))
    if len(real) < 2 and _has_batch_norm(generator):
        raise ValueError("real holds 1 image, but the generator has batch norm, which needs at least 2 samples per "
                         "batch in training mode: use batches of at least 2.")
    z = torch.randn(len(real), generator.latent_dim)
    fake = generator(z, labels)
    d_loss = discriminator_loss(discriminator(real, labels), discriminator(fake.detach(), labels))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    g_loss = generator_loss(discriminator(fake, labels))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def _adam(module, lr):
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))


def train_cgan(generator, discriminator, dataset, steps, lr=5e-4, batch_size=64, seed=0):
    """Train a conditional GAN for `steps` alternating updates (notebook 04's recipe: Adam 5e-4, betas (0.5, 0.999),
    batch 64, non-saturating loss). Returns {"d_loss", "g_loss": per step, "steps", "seconds"}."""
    _check_run(steps, batch_size)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt_g, opt_d = _adam(generator, lr), _adam(discriminator, lr)
    history, start = {"d_loss": [], "g_loss": []}, time.perf_counter()
    generator.train(), discriminator.train()
    for step, (x, y) in zip(range(steps), _batches(dataset, batch_size, g)):
        d_loss, g_loss = cgan_step(generator, discriminator, opt_g, opt_d, x, y)
        history["d_loss"].append(d_loss)
        history["g_loss"].append(g_loss)
    generator.eval()
    return dict(history, steps=steps, seconds=time.perf_counter() - start)


def vae_gan_step(model, discriminator, opt_enc, opt_dec, opt_d, real, prior_z, gamma=1e-2):
    """One VAE-GAN update (Larsen et al. 2016) of a `VAEGAN` and a `DCGANDiscriminator` on images `real` in [0, 1].

    With x~ = decode(z), z ~ q(z|x) (the reparameterization, the step's only random draw), and x_p = decode(prior_z),
    prior_z N x latent_dim drawn from N(0, I) by the caller (two decoder calls, each batch its own batch norm):
    1. discriminator (opt_d): the GAN loss, real digits against x~ and x_p (detached; non-saturating
       `discriminator_loss` with the 2N fakes in one batch). Nothing else reaches its weights.
    2. with the updated discriminator, f its body's features (`features`):
       L_feat = batch mean of 0.5 ||f(x) - f(x~)||^2 (summed over features; f(x) detached), KL = batch mean of
       KL(q(z|x) || N(0, I)), g_loss = `generator_loss` of the discriminator's logits on x~ and x_p (2N in one batch);
       encoder (opt_enc; `model.encoder_parameters()`): KL + L_feat;
       decoder (opt_dec; `model.decoder.parameters()`): gamma * L_feat + g_loss.
    Returns a dict of floats: d_loss, kl, feature (L_feat), g_loss."""
    for name, batch in (("real", real), ("prior_z", prior_z)):
        if torch.is_tensor(batch) and len(batch) < 2 and _has_batch_norm(model):
            raise ValueError(f"{name} holds {len(batch)} row(s), but the decoder has batch norm, which needs at least 2 "
                             "samples per batch in training mode: use batches of at least 2.")
    mu, logvar = model.encode(real)
    recon = model.decode(reparameterize(mu, logvar))
    prior = model.decode(prior_z)
    d_loss = discriminator_loss(discriminator(real), discriminator(torch.cat([recon, prior]).detach()))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    kl = gaussian_kl(mu, logvar).mean()
    feature = 0.5 * (discriminator.features(real).detach() - discriminator.features(recon)).pow(2).sum(dim=1).mean()
    g_loss = generator_loss(discriminator(torch.cat([recon, prior])))
    opt_enc.zero_grad(set_to_none=True)
    opt_dec.zero_grad(set_to_none=True)
    (kl + feature).backward(inputs=model.encoder_parameters(), retain_graph=True)
    (gamma * feature + g_loss).backward(inputs=list(model.decoder.parameters()))
    opt_enc.step()
    opt_dec.step()
    return {"d_loss": d_loss.item(), "kl": kl.item(), "feature": feature.item(), "g_loss": g_loss.item()}


def vae_gan_optimizers(model, discriminator, lr=5e-4):
    """(opt_enc, opt_dec, opt_d): Adam with betas (0.5, 0.999) on the encoder's, the decoder's and the
    discriminator's parameters."""
    return (torch.optim.Adam(model.encoder_parameters(), lr=lr, betas=(0.5, 0.999)), _adam(model.decoder, lr),
            _adam(discriminator, lr))


def train_vae_gan(model, discriminator, dataset, steps, lr=5e-4, batch_size=64, gamma=1e-2, seed=0, step=None):
    """Train a `VAEGAN` with a `DCGANDiscriminator` for `steps` updates (Adam, betas (0.5, 0.999), the DCGAN's batch
    and learning rate). step: the update, ``step(model, discriminator, opt_enc, opt_dec, opt_d, real, prior_z, gamma)
    -> dict of floats`` (default `vae_gan_step`; notebook 08 passes the learner's); the loop draws prior_z ~ N(0, I)
    before each step. Returns per-step lists of the returned losses, "steps" and "seconds"."""
    step = step or vae_gan_step
    _check_run(steps, batch_size)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt_enc, opt_dec, opt_d = vae_gan_optimizers(model, discriminator, lr)
    history, start = {}, time.perf_counter()
    model.train(), discriminator.train()
    for _, (x, _) in zip(range(steps), _batches(dataset, batch_size, g)):
        prior_z = torch.randn(len(x), model.latent_dim)
        for key, value in step(model, discriminator, opt_enc, opt_dec, opt_d, x, prior_z, gamma).items():
            history.setdefault(key, []).append(float(value))
    model.eval()
    return dict(history, steps=steps, seconds=time.perf_counter() - start)


def seconds_per_step(width=SHARED_NETWORK["width"], latent_dim=SHARED_NETWORK["latent_dim"], batch_size=64, steps=10,
                     seed=0, depth=SHARED_NETWORK["depth"]):
    """The wall time of one `vae_gan_step` and of one DCGAN step (`gan.gan_step`, non-saturating) on the same
    networks (a `VAEGAN` / `DCGANGenerator` of this width and latent size, a `DCGANDiscriminator`) and batch size,
    each the median over `steps` steps after one warm-up step, on random images. Returns (vae_gan_s, dcgan_s)."""
    from .gan import DCGANDiscriminator

    torch.manual_seed(seed)
    real = torch.rand(batch_size, 1, 28, 28)
    model, d1 = VAEGAN(latent_dim, width, depth), DCGANDiscriminator(width)
    generator, d2 = DCGANGenerator(latent_dim, width, depth=depth), DCGANDiscriminator(width)
    opt_enc, opt_dec, opt_d1 = vae_gan_optimizers(model, d1)
    opt_g, opt_d2 = _adam(generator, 5e-4), _adam(d2, 5e-4)
    runs = {"vae_gan": lambda: vae_gan_step(model, d1, opt_enc, opt_dec, opt_d1, real,
                                            torch.randn(batch_size, latent_dim)),
            "dcgan": lambda: gan_step(generator, d2, opt_g, opt_d2, real)}
    times = {name: [] for name in runs}
    for name, run in runs.items():
        run()                                        # warm-up
    for _ in range(steps):                           # alternating, so that a change of load hits both alike
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    times = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
    return times["vae_gan"], times["dcgan"]


# ---- the shipped models (tutorial_lib.pretrained loads them; scripts/train_conditional.py trains them) ----

#: Notebook 08's shipped models: name -> what it is.
CONDITIONAL = {
    "cvae": "conditional VAE (MLP, 8 latent dimensions)",
    "cgan": "conditional DCGAN (projection discriminator), non-saturating loss",
    "vae_gan": "VAE-GAN: notebook 06's conv VAE network, reconstruction in discriminator features",
}
#: The VAE-GAN's width: that of notebook 06's shared network (its conv VAE and DCGAN); set it to theirs.
VAE_GAN_WIDTH = SHARED_NETWORK["width"]
#: How each is built and how many steps it trains (step budgets: the same model on any machine; the record keeps
#: the seconds). All train on the grey digits of notebook 06's models. The GANs use notebook 04's recipe (Adam 5e-4,
#: betas (0.5, 0.999), batch 64). The VAE-GAN is notebook 06's shared network (`VAEGAN` = `vae.VAE(arch="conv")`);
#: its number of steps is chosen so that its training takes about as many seconds as notebook 06's models on the
#: same machine (a VAE-GAN step costs several DCGAN steps: `seconds_per_step` measures it; notebook 08 prints
#: every model's recorded seconds). The CVAE's 8 latent dimensions (not 16) leave less room in z for the digit's
#: identity, which the label then carries.
CONDITIONAL_RECIPES = {
    "cvae": {"config": {"latent_dim": 8, "hidden": 512}, "steps": 24_000,
             "train": {"lr": 1e-3, "batch_size": 128, "binarize": False}},
    "cgan": {"config": {"latent_dim": 64, "width": 32}, "steps": 3000, "train": {"lr": 5e-4, "batch_size": 64}},
    "vae_gan": {"config": dict(SHARED_NETWORK), "steps": 4_750,
                "train": {"lr": 5e-4, "batch_size": 64, "gamma": 1e-2}},
}
_CLASSES = {"cvae": CVAE, "cgan": ConditionalGenerator, "vae_gan": VAEGAN}


def build_model(kind, config):
    """A fresh model of `kind` ("cvae", "cgan": the generator, or "vae_gan") from its constructor arguments.
    A checkpoint's config that this version's class does not take (a model trained with an earlier architecture)
    gets an error naming the script that retrains it."""
    if kind not in _CLASSES:
        raise ValueError(f"Unknown conditional model kind {kind!r}: expected one of {sorted(_CLASSES)}.")
    accepted = set(inspect.signature(_CLASSES[kind]).parameters)
    if not set(config) <= accepted:
        raise ValueError(f"This {kind!r} checkpoint was trained for an earlier architecture (its settings "
                         f"{sorted(set(config) - accepted)} are not those of {_CLASSES[kind].__name__}, which takes "
                         f"{sorted(accepted)}). Retrain it: python scripts/train_conditional.py --only {kind}")
    return _CLASSES[kind](**config)


def train_conditional_recipe(name, steps=None, seed=0, limit=None, width=None):
    """Train shipped model `name` (see `CONDITIONAL`) by its recipe for `steps` (default: the recipe's); width: the
    networks' width instead of the recipe's (to try one; a shipped model must match its recipe). Returns
    ``(model, info)`` like `tutorial_lib.pretrained.load_pretrained` (eval mode, CPU)."""
    from .data import load_mnist
    from .gan import DCGANDiscriminator

    if name not in CONDITIONAL_RECIPES:
        raise ValueError(f"Unknown conditional model {name!r}; choose one of {sorted(CONDITIONAL_RECIPES)}.")
    recipe = copy.deepcopy(CONDITIONAL_RECIPES[name])
    if width is not None:
        if "width" not in recipe["config"]:
            raise ValueError(f"{name!r} has no width to set (its settings: {sorted(recipe['config'])})")
        recipe["config"]["width"] = width
    steps = recipe["steps"] if steps is None else steps
    torch.manual_seed(seed)
    dataset = load_mnist(train=True, limit=limit)
    model = build_model(name, recipe["config"])
    if name == "cvae":
        record = train_cvae(model, dataset, steps, seed=seed, **recipe["train"])
    elif name == "cgan":
        record = train_cgan(model, ConditionalDiscriminator(width=recipe["config"]["width"]), dataset, steps,
                            seed=seed, **recipe["train"])
    else:
        record = train_vae_gan(model, DCGANDiscriminator(width=recipe["config"]["width"]), dataset, steps, seed=seed,
                               **recipe["train"])
    history = {k: v for k, v in record.items() if isinstance(v, list)}
    batch = recipe["train"]["batch_size"]
    info = {"kind": name, "config": dict(recipe["config"]), "wall_time": record["seconds"], "steps": steps,
            "epochs": steps * batch // len(dataset), "budget_s": None, "seed": seed, "train": dict(recipe["train"]),
            "history": history}
    return model.cpu().eval(), info
