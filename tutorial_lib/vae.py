"""Variational autoencoders: the Gaussian encoder, the Bernoulli decoder, the ELBO and the IWAE bound.

Shapes: images x are N x 1 x 28 x 28 with values in [0, 1] (binary, or grey levels read as Bernoulli
means); latent codes z are N x D. Every bound is returned per image, in nats, as a tensor of shape (N,).
"""
import contextlib
import math

import torch
from torch import nn
from torch.nn import functional as F

from . import validate

ARCHS = ("mlp", "conv")
ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU, "tanh": nn.Tanh}
IMAGE_SHAPE = (1, 28, 28)
_LOG_2PI = math.log(2 * math.pi)


def _check_gaussian(mu, logvar):
    if not (torch.is_tensor(mu) and torch.is_tensor(logvar)):
        raise TypeError(f"mu and logvar must be tensors, got {type(mu).__name__} and {type(logvar).__name__}")
    if mu.dim() != 2 or mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must both have shape N x D (one row per image), got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")


def _check_images(x, name="x"):
    validate.images(x, name, value_range=False, check_finite=False)


def reparameterize(mu, logvar, eps=None):
    """A sample z = mu + sigma * eps of q(z|x) = N(mu, diag(exp(logvar))), differentiable in mu and logvar.

    mu, logvar: N x D. eps: the standard-normal noise N x D (drawn fresh when None). Returns z, N x D.
    """
    _check_gaussian(mu, logvar)
    if eps is None:
        eps = torch.randn_like(mu)
    elif eps.shape != mu.shape:
        raise ValueError(f"eps must have the shape of mu {tuple(mu.shape)}, got {tuple(eps.shape)}")
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in nats, summed over the D latent dimensions.

    mu, logvar: N x D. Returns (N,): 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar).
    """
    _check_gaussian(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_log_likelihood(logits, x):
    """log p(x | logits) of independent Bernoulli pixels, summed over every non-batch dimension.

    logits: N x ... (decoder outputs before the sigmoid); x: same shape, values in [0, 1] (grey levels give the
    cross-entropy the pytorch/examples VAE reports). Returns (N,).
    """
    if not (torch.is_tensor(logits) and torch.is_tensor(x)):
        raise TypeError("logits and x must be tensors")
    if logits.shape != x.shape or logits.dim() < 2:
        raise ValueError(f"logits and x must have the same shape N x ..., got {tuple(logits.shape)} and "
                         f"{tuple(x.shape)}; decode to N x 1 x 28 x 28 logits for N x 1 x 28 x 28 images.")
    validate.images(x, "x", shape=None, check_finite=False)
    x = x.to(logits.dtype)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(start_dim=1).sum(dim=1)


def _mlp(sizes, activation, last_activation=False):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """A VAE for 28 x 28 images: Gaussian encoder q(z|x), standard-normal prior, Bernoulli decoder p(x|z).

    latent_dim: D. arch: the encoder, "mlp" (fully connected: 784 -> `hidden` x `layers` -> mu and logvar; with the
    defaults the pytorch/examples VAE) or "conv": the DCGAN discriminator's body (`gan.dcgan_body`: two stride-2
    convolutions with `channels` and 2 x `channels` filters, 28 -> 14 -> 7 pixels, LeakyReLU(0.2), on the images
    scaled to [-1, 1]) with a linear mu head and a linear logvar head. decoder: "mlp" (`hidden` x `layers` ->
    784 logits) or "conv": the DCGAN generator itself (`gan.DCGANGenerator(latent_dim, width=channels)`, whose
    ``logits`` are the decoder's output), so a conv VAE and a DCGAN share their networks and differ only in what
    they are trained to optimize (notebook 06). None means the same as `arch`. activation: of the MLP parts'
    hidden layers, one of "relu" (pytorch/examples), "elu", "silu", "tanh". image_channels: 1 (MNIST) or 3
    (Stacked MNIST). depth: the conv decoder's extra 3 x 3 convolutions (`gan.DCGANGenerator`'s depth). ``VAE(**model.config)`` rebuilds the same architecture.
    """

    def __init__(self, latent_dim=20, arch="mlp", hidden=400, layers=1, channels=32, decoder=None,
                 activation="relu", image_channels=1, depth=0):
        super().__init__()
        from .gan import DCGANGenerator, dcgan_body

        for name, value in (("latent_dim", latent_dim), ("hidden", hidden), ("layers", layers),
                            ("channels", channels), ("image_channels", image_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        decoder = arch if decoder is None else decoder
        for name, value in (("arch", arch), ("decoder", decoder)):
            if value not in ARCHS:
                raise ValueError(f"Unknown {name} {value!r}: use one of {ARCHS}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}: use one of {tuple(ACTIVATIONS)}.")
        self.config = {"latent_dim": latent_dim, "arch": arch, "hidden": hidden, "layers": layers,
                       "channels": channels, "decoder": decoder, "activation": activation,
                       "image_channels": image_channels, "depth": depth}
        act = ACTIVATIONS[activation]
        self.latent_dim = latent_dim
        self.image_shape = (image_channels, 28, 28)
        pixels = image_channels * 28 * 28
        if arch == "mlp":
            self.encoder = nn.Sequential(nn.Flatten(), _mlp([pixels] + [hidden] * layers, act, last_activation=True))
            features = hidden
        else:
            self.encoder = dcgan_body(channels, image_channels)           # N x 2c*49, the discriminator's body
            features = 2 * channels * 49
        if decoder == "mlp":
            self.decoder = nn.Sequential(_mlp([latent_dim] + [hidden] * layers + [pixels], act),
                                         nn.Unflatten(1, self.image_shape))
        else:
            self.decoder = DCGANGenerator(latent_dim, width=channels, image_channels=image_channels, depth=depth)
        self.to_mu = nn.Linear(features, latent_dim)
        self.to_logvar = nn.Linear(features, latent_dim)

    def encode(self, x):
        """x: N x C x 28 x 28 in [0, 1] -> (mu, logvar) of q(z|x), each N x latent_dim."""
        validate.model_dtype(validate.images(x, "x", shape=self.image_shape, check_finite=False), self, "x")
        h = self.encoder(x if self.config["arch"] == "mlp" else x * 2 - 1)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z):
        """z: N x latent_dim -> logits of the Bernoulli pixel means, N x C x 28 x 28."""
        validate.model_dtype(validate.latents(z, self.latent_dim), self, "z")
        return self.decoder(z) if self.config["decoder"] == "mlp" else self.decoder.logits(z)

    def forward(self, x):
        """x: N x C x 28 x 28 -> (logits N x C x 28 x 28, mu, logvar) with z drawn by the reparameterization."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n, generator=None):
        """n new images: sigmoid(decode(z)) for z ~ N(0, I), the Bernoulli means, N x C x 28 x 28 in [0, 1].
        Runs in eval mode (the conv decoder's BatchNorm uses its running statistics), the mode restored after."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator,
                        device=generator.device if generator is not None else device)
        from .gan import SAMPLE_ROWS

        with evaluating(self):  # SAMPLE_ROWS codes at a time, so that memory stays small
            return torch.cat([torch.sigmoid(self.decode(z[i:i + SAMPLE_ROWS].to(device)))
                              for i in range(0, n, SAMPLE_ROWS)])

    @torch.no_grad()
    def reconstruct(self, x):
        """The Bernoulli means decoded from the encoder's mean code: sigmoid(decode(mu(x))), N x C x 28 x 28, in
        eval mode like `sample`."""
        with evaluating(self):
            return torch.sigmoid(self.decode(self.encode(x)[0]))


@contextlib.contextmanager
def evaluating(model):
    """``with evaluating(model):`` runs the block with `model` in eval mode and restores its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _check_pixels(x):
    validate.images(x, "x", shape=None)  # the model's encode() checks the shape it needs


def elbo(model, x, beta=1.0):
    """The single-sample ELBO of each image: log p(x|z) - beta * KL(q(z|x) || p(z)), z ~ q(z|x), in nats.

    model: a VAE; x: N x 1 x 28 x 28 in [0, 1]; beta = 1 gives the ELBO, other values the beta-VAE objective.
    Returns (N,); maximize its mean (minimize -elbo(...).mean()) to train.
    """
    log_px_z, kl = elbo_terms(model, x)
    return log_px_z - beta * kl


def elbo_terms(model, x):
    """The two terms of the ELBO of each image, (log p(x|z), KL(q(z|x) || p(z))), each (N,), in nats, with one
    code z ~ q(z|x) drawn by ``model(x)`` (the reparameterization). x: N x 1 x 28 x 28 in [0, 1]."""
    _check_pixels(x)
    logits, mu, logvar = model(x)
    return bernoulli_log_likelihood(logits, x), gaussian_kl(mu, logvar)


def vae_train_step(model, optimizer, x, beta=1.0, return_terms=False, elbo_fn=None):
    """One step of training on the batch x (N x 1 x 28 x 28 in [0, 1]): loss = the batch mean of
    -log p(x|z) + beta * KL(q(z|x) || p(z)) (the mean -ELBO when beta = 1), then zero_grad, backward, step.

    Returns the loss as a Python float (a tensor would keep the step's graph alive in a list of losses); with
    ``return_terms=True``, the floats (loss, reconstruction, kl): the batch means of -log p(x|z) and of the KL,
    which `train.train_vae` logs. A NaN or infinite loss is returned without an update (the weights stay usable),
    for the caller to stop. `train.train_vae` runs this step in its loop.
    elbo_fn: another ELBO to maximize, ``elbo_fn(model, x, beta) -> (N,)`` (e.g. the one a learner wrote in
    notebook 02); the loss is then the batch mean of -elbo_fn(model, x, beta), and return_terms is not available.
    """
    from .gan import _has_batch_norm

    if torch.is_tensor(x) and len(x) < 2 and model.training and _has_batch_norm(model):
        raise ValueError("x holds 1 image, but the model has batch norm, which needs at least 2 samples per batch in "
                         "training mode: train on batches of at least 2 (a loader's last batch: drop_last=True).")
    if elbo_fn is None:
        log_px_z, kl = elbo_terms(model, x)
        reconstruction, kl = -log_px_z.mean(), kl.mean()
        loss = reconstruction + beta * kl
    elif return_terms:
        raise ValueError("return_terms=True needs the library's ELBO (its two terms); leave elbo_fn=None")
    else:
        loss = -elbo_fn(model, x, beta).mean()
    if torch.isfinite(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if return_terms:
        return loss.item(), reconstruction.item(), kl.item()
    return loss.item()


def copy_vae_weights(source, target):
    """Copy the weights of VAE `source` into VAE `target`, two networks with the same layers whatever their
    names inside: the layers with parameters or buffers (BatchNorm's running statistics) of ``encoder``,
    ``to_mu``, ``to_logvar`` and ``decoder``, in the order they are registered.

    Used to show that a VAE written in a notebook computes what `VAE` computes, and to put a learner's trained
    model into a library `VAE` (`pretrained.save_yours`). Raises ValueError (saying which part differs) when the
    two do not have the same layers. Returns `target`."""
    for part in ("encoder", "to_mu", "to_logvar", "decoder"):
        found = []
        for which, model in (("source", source), ("target", target)):
            module = getattr(model, part, None)
            if not isinstance(module, nn.Module):
                raise ValueError(f"the {which} VAE has no layer (nn.Module) named {part!r}; name the parts encoder, "
                                 "to_mu, to_logvar and decoder")
            found.append([m for m in module.modules() if _tensors(m)])
        layers, other_layers = found
        shapes, other_shapes = ([_layer_signature(m) for m in found_layers] for found_layers in found)
        if shapes != other_shapes:
            raise ValueError(f"the {part} layers differ: the source has {shapes}, the target {other_shapes} "
                             "(layers with weights, in order, with the shapes of their parameters)")
        with torch.no_grad():
            for a, b in zip(layers, other_layers):
                for p, q in zip(_tensors(a), _tensors(b)):
                    q.copy_(p)
    return target


def _tensors(module):
    """A layer's own parameters, then its buffers (e.g. BatchNorm's running mean and variance)."""
    return list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))


def _layer_signature(module):
    """e.g. 'Linear 20x400 and 20' or 'BatchNorm1d 8 and 8 (running statistics)'."""
    shapes = " and ".join("x".join(map(str, p.shape)) for p in module.parameters(recurse=False))
    buffers = [tuple(b.shape) for b in module.buffers(recurse=False)]
    return f"{type(module).__name__} {shapes}" + (" (running statistics)" if buffers else "")


def _max_rows(n_images):
    """Samples per image decoded at once by `iwae_bound`: about `gan.SAMPLE_ROWS` decoder rows per chunk (a conv
    decoder's activations for 5,000 rows took 500 MB more, for no gain in speed)."""
    from .gan import SAMPLE_ROWS

    return max(1, SAMPLE_ROWS // max(n_images, 1))


def iwae_bound(model, x, k):
    """The importance-weighted bound (Burda et al. 2016) with k samples, per image, in nats:

        log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),   z_1..z_k ~ q(z|x),   computed with log-sum-exp.

    k = 1 is a single-sample ELBO estimate; the bound rises towards log p(x) as k grows.
    x: N x 1 x 28 x 28 in [0, 1]. Returns (N,). Samples are decoded in chunks, so large k fits in memory.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer (the number of importance samples), got {k!r}")
    _check_pixels(x)
    mu, logvar = model.encode(x)
    n, d = mu.shape
    log_weights = []
    for start in range(0, k, _max_rows(n)):
        chunk = min(_max_rows(n), k - start)
        eps = torch.randn(chunk, n, d, dtype=mu.dtype, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps                                   # chunk x N x D
        logits = model.decode(z.reshape(chunk * n, d))
        log_px_z = bernoulli_log_likelihood(logits, x.repeat(chunk, 1, 1, 1)).view(chunk, n)
        log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=2)
        log_qz = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(dim=2)
        log_weights.append(log_px_z + log_pz - log_qz)
    return torch.logsumexp(torch.cat(log_weights), dim=0) - math.log(k)


@torch.no_grad()
def rate_distortion(model, x, batch_size=500):
    """(rate, distortion) of `model` on images x, in nats per image: rate = mean KL(q(z|x) || p(z)),
    distortion = mean -log p(x|z) with z ~ q(z|x) (one sample). Their sum is the mean negative ELBO."""
    from .gan import _check_positive_int

    _check_pixels(x)
    _check_positive_int("batch_size", batch_size)
    device = next(model.parameters()).device
    rate = distortion = 0.0
    for i in range(0, len(x), batch_size):
        batch = x[i:i + batch_size].to(device)
        log_px_z, kl = elbo_terms(model, batch)
        rate += float(kl.double().sum())
        distortion += float(-log_px_z.double().sum())
    return rate / len(x), distortion / len(x)
