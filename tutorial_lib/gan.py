"""Generative adversarial networks: the losses, the gradient penalty, the optimal discriminator on a grid,
and small generator/discriminator networks for 2-D points and 28 x 28 MNIST images.

Conventions. A discriminator (or critic) returns one real number per input, a *logit* (N,); for the
"minimax" and "nonsaturating" losses D(x) = sigmoid(logit) is the probability that x is real. Every loss
is a scalar to MINIMIZE (the discriminator's and the generator's optimizers both descend).

| kind            | discriminator loss                         | generator loss          |
|-----------------|--------------------------------------------|-------------------------|
| "minimax"       | -E log D(x) - E log(1 - D(G(z)))           | E log(1 - D(G(z)))      |
| "nonsaturating" | same as minimax                            | -E log D(G(z))          |
| "wasserstein"   | E f(G(z)) - E f(x)                         | -E f(G(z))              |
| "hinge"         | E relu(1 - f(x)) + E relu(1 + f(G(z)))     | -E f(G(z))              |

Image generators output images in [0, 1] (the data's convention); the image discriminator rescales its
input to [-1, 1] itself, so no notebook converts anything.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from . import validate

#: Rows per forward pass when a generator or decoder samples: a conv generator's activations for 1,000 rows take
#: about 100 MB (26,000 rows at once took 2 GB).
SAMPLE_ROWS = 1_000

LOSS_KINDS = ("minimax", "nonsaturating", "wasserstein", "hinge")
#: The network notebook 06 trains two ways (and notebook 08's VAE-GAN a third way): the DCGAN generator with these
#: arguments is the VAE's decoder and the GAN's generator; the discriminator of this width lends its body to the
#: VAE's encoder. Chosen by benchmarks/gan_quality.py (a deeper generator learned faster per second).
SHARED_NETWORK = {"latent_dim": 64, "width": 32, "depth": 2}


def _check_kind(kind):
    if kind not in LOSS_KINDS:
        raise ValueError(f"Unknown GAN loss kind {kind!r}: use one of {LOSS_KINDS}.")


def _check_logits(name, logits):
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of discriminator outputs (N,), got {type(logits).__name__}")
    if logits.numel() == 0:
        raise ValueError(f"{name} is empty: pass at least one discriminator output")
    if logits.dim() > 2 or (logits.dim() == 2 and logits.shape[1] != 1):
        raise ValueError(f"{name} must have shape (N,) or (N, 1) (one output per sample), got {tuple(logits.shape)}")


# ---- losses ----

def discriminator_loss(real_logits, fake_logits, kind="nonsaturating"):
    """The discriminator's (critic's) loss to minimize, a scalar: see the table in the module docstring.

    real_logits: (N,) outputs on real data; fake_logits: (M,) outputs on generated data.
    """
    _check_kind(kind)
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    if kind in ("minimax", "nonsaturating"):
        # -log sigmoid(a) = softplus(-a) and -log(1 - sigmoid(a)) = softplus(a), computed stably.
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_loss(fake_logits, kind="nonsaturating"):
    """The generator's loss to minimize, a scalar, from the discriminator's outputs on generated data (N,).

    "minimax" is the saturating E log(1 - D(G(z))) of the original game; "nonsaturating" is -E log D(G(z)).
    """
    _check_kind(kind)
    _check_logits("fake_logits", fake_logits)
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(a)) = -softplus(a)
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()  # -log sigmoid(a) = softplus(-a)
    return -fake_logits.mean()  # wasserstein and hinge


def _input_gradient(network, x, create_graph=True):
    """d network(x).sum() / dx, the gradient of each sample's output with respect to that sample (x requires grad).
    A network whose output does not depend on its input (a constant, or one that ignores x) has gradient 0 there;
    autograd would refuse it ("appears to not have been used in the graph"), so that zero is returned."""
    out = network(x)
    if not torch.is_tensor(out):
        raise TypeError(f"the network must return a tensor of scores (N,), got {type(out).__name__}")
    if not out.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=create_graph, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def gradient_penalty(critic, real, fake, alpha=None):
    """WGAN-GP penalty (Gulrajani et al. 2017): mean over samples of (||grad_x critic(x_hat)||_2 - 1)^2.

    x_hat = alpha * real + (1 - alpha) * fake with one alpha ~ U(0, 1) per sample (or the given `alpha`, (N,)).
    real, fake: N x ... (same shape). The result stays differentiable w.r.t. the critic's weights.
    """
    for name, x in (("real", real), ("fake", fake)):
        validate.images(x, name, shape=None, value_range=False, check_finite=False)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must be tensors of the same shape N x ..., got "
                         f"{tuple(getattr(real, 'shape', ()))} and {tuple(getattr(fake, 'shape', ()))}")
    n = len(real)
    if alpha is None:
        alpha = torch.rand(n, device=real.device, dtype=real.dtype)
    elif alpha.shape != (n,):
        raise ValueError(f"alpha must have shape ({n},) (one weight per sample), got {tuple(alpha.shape)}")
    alpha = alpha.view(n, *([1] * (real.dim() - 1)))
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    grad = _input_gradient(critic, mixed)
    return ((grad.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(discriminator, real):
    """R1 penalty (Mescheder et al. 2018): mean over samples of ||grad_x discriminator(x)||_2^2 at the real data.

    real: N x ... (as the discriminator takes it; packed if it packs). A scalar that stays differentiable w.r.t. the
    discriminator's weights; the discriminator's loss adds gamma / 2 times it (`train.GANRecipe.r1_weight`).
    """
    validate.images(real, "real", shape=None, value_range=False, check_finite=False)
    x = real.detach().requires_grad_(True)
    grad = _input_gradient(discriminator, x)
    return grad.flatten(start_dim=1).pow(2).sum(dim=1).mean()


# ---- the optimal discriminator and the JSD, for densities tabulated on a grid (notebook 03) ----

def _densities(p, q, names=("p", "q")):
    """Two densities tabulated on the same grid: tensors of the same shape, finite and >= 0."""
    p, q = torch.as_tensor(p), torch.as_tensor(q)
    if p.shape != q.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be tabulated on the same grid, got shapes {tuple(p.shape)} "
                         f"and {tuple(q.shape)}")
    for values, name in ((p, names[0]), (q, names[1])):
        validate.finite(values, name, "a density on a grid must be finite.")
        if bool((values < 0).any()):
            raise ValueError(f"{name} must be a density (values >= 0), got a minimum of {float(values.min()):.3g}")
    return p, q


def optimal_discriminator(p_data, p_model):
    """D*(x) = p_data(x) / (p_data(x) + p_model(x)) elementwise; 1/2 where both densities are 0."""
    p_data, p_model = _densities(p_data, p_model, ("p_data", "p_model"))
    total = p_data + p_model
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), torch.full_like(total, 0.5))


def value_function(d, p_data, p_model, dx):
    """V(G, D) = int p_data log D + p_model log(1 - D) dx by a Riemann sum over a grid of spacing `dx`.

    D is clipped to [eps, 1 - eps] (eps: the dtype's machine epsilon) so that a D* that rounds to exactly 1
    where p_model is only numerically nonzero (1e-30, say) adds a negligible term instead of -inf.
    """
    p_data, p_model = _densities(p_data, p_model, ("p_data", "p_model"))
    d = torch.as_tensor(d)
    if d.shape != p_data.shape:
        raise ValueError(f"d must be tabulated on the densities' grid, got shapes {tuple(d.shape)} and "
                         f"{tuple(p_data.shape)}")
    eps = torch.finfo(d.dtype).eps
    d = d.clamp(eps, 1 - eps)
    return (torch.xlogy(p_data, d) + torch.xlogy(p_model, 1 - d)).sum() * dx


def js_divergence(p, q, dx):
    """Jensen-Shannon divergence (nats) of two densities tabulated on a grid of spacing `dx` (Riemann sum).

    JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2; between 0 and log 2.
    """
    p, q = _densities(p, q)
    m = (p + q) / 2
    safe_m = m.clamp_min(torch.finfo(m.dtype).tiny)
    kl_p = (torch.xlogy(p, p) - torch.xlogy(p, safe_m)).sum() * dx
    kl_q = (torch.xlogy(q, q) - torch.xlogy(q, safe_m)).sum() * dx
    return (kl_p + kl_q) / 2


# ---- networks ----

def _maybe_sn(layer, spectral_norm):
    return _spectral_norm(layer) if spectral_norm else layer


def _latent(n, latent_dim, device, generator):
    """n x latent_dim standard normal noise on `device` (drawn with the torch.Generator `generator` if given)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if generator is None:
        return torch.randn(n, latent_dim, device=device)
    return torch.randn(n, latent_dim, generator=generator, device=generator.device).to(device)


class _Sampler(nn.Module):
    """What every course generator shares: `latent_dim`, `config` and `sample(n, generator=None)`."""

    def sample(self, n, generator=None):
        """`n` samples G(z), z ~ N(0, I), without gradients and in eval mode (the mode is restored after)."""
        return self._eval_forward(_latent(n, self.latent_dim, next(self.parameters()).device, generator))

    def _eval_forward(self, *inputs):
        """self(*inputs) without gradients and in eval mode, the training mode restored after; `SAMPLE_ROWS` rows
        at a time (in eval mode each row's output depends on that row only), so that memory stays small."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return torch.cat([self(*(x[i:i + SAMPLE_ROWS] for x in inputs))
                                  for i in range(0, len(inputs[0]), SAMPLE_ROWS)])
        finally:
            self.train(was_training)


class MLPGenerator(_Sampler):
    """z (N x latent_dim) -> points (N x out_dim): `depth` hidden ReLU layers of width `hidden`, linear output."""

    def __init__(self, latent_dim=2, hidden=128, depth=3, out_dim=2):
        super().__init__()
        self.config = dict(latent_dim=latent_dim, hidden=hidden, depth=depth, out_dim=out_dim)
        self.latent_dim = latent_dim
        layers, width = [], latent_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, out_dim))

    def forward(self, z):
        validate.model_dtype(validate.latents(z, self.latent_dim), self, "z")
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """points (N x in_dim * pack) -> logits (N,): `depth` hidden LeakyReLU(0.2) layers of width `hidden`.

    pack: how many samples it sees at once (PacGAN), concatenated into one input. spectral_norm: normalize
    every linear layer's largest singular value to 1 (Miyato et al. 2018).
    """

    def __init__(self, in_dim=2, hidden=128, depth=3, spectral_norm=False, pack=1):
        super().__init__()
        self.config = dict(in_dim=in_dim, hidden=hidden, depth=depth, spectral_norm=spectral_norm, pack=pack)
        self.pack = pack
        layers, width = [], in_dim * pack
        for _ in range(depth):
            layers += [_maybe_sn(nn.Linear(width, hidden), spectral_norm), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(*layers, _maybe_sn(nn.Linear(width, 1), spectral_norm))

    def forward(self, x):
        validate.points(x, "x", dim=None, check_finite=False, to_tensor=False, integers=False)
        validate.model_dtype(x, self, "x")
        if x.dim() != 2 or x.shape[1] != self.net[0].in_features:
            raise ValueError(f"expected inputs N x {self.net[0].in_features} (in_dim {self.config['in_dim']} x "
                             f"pack {self.pack}), got {tuple(x.shape)}")
        return self.net(x).squeeze(1)


#: The names the course design uses for the 2-D networks.
mlp_generator, mlp_discriminator = MLPGenerator, MLPDiscriminator


class DCGANGenerator(_Sampler):
    """z (N x latent_dim) -> images N x image_channels x 28 x 28 in [0, 1] (Radford et al. 2016, shrunk for MNIST).

    Linear to 2*width x 7 x 7, then two stride-2 transposed convolutions (7 -> 14 -> 28) with batch norm and
    ReLU between; the output is (tanh(a) + 1) / 2 = sigmoid(2a) of the last layer's output a, so ``logits(z)``
    = 2a are the logits of the same pixel values: what a VAE's Bernoulli decoder needs (notebook 06 trains this
    very network as a VAE's decoder). width=32, latent_dim=64: about 0.24 M parameters. image_channels: 1 for
    MNIST, 3 for Stacked MNIST. depth: 0, 1 or 2 extra 3 x 3 convolutions (stride 1, batch norm, ReLU), the first
    at 7 x 7 before the first upsampling, the second at 14 x 14 after it: a deeper generator.
    """

    def __init__(self, latent_dim=64, width=32, image_channels=1, depth=0):
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("width", width), ("image_channels", image_channels)):
            _check_positive_int(name, value)
        if depth not in (0, 1, 2):
            raise ValueError(f"depth must be 0, 1 or 2 (extra 3 x 3 convolutions), got {depth!r}")
        self.config = dict(latent_dim=latent_dim, width=width, image_channels=image_channels, depth=depth)
        self.latent_dim = latent_dim
        w = width
        self.project = nn.Sequential(nn.Linear(latent_dim, 2 * w * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU())
        layers = [nn.Unflatten(1, (2 * w, 7, 7))]
        if depth >= 1:
            layers += [nn.Conv2d(2 * w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU()]
        layers += [nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        if depth >= 2:
            layers += [nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(w, image_channels, 4, stride=2, padding=1))

    def _last_layer(self, z):
        validate.latents(z, name="noise")
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected noise N x {self.latent_dim}, got {tuple(z.shape)}")
        return self.net(self.project(validate.model_dtype(z, self, "noise")))

    def forward(self, z):
        return (torch.tanh(self._last_layer(z)) + 1) / 2

    def logits(self, z):
        """The logits of the pixel values that ``forward`` returns: sigmoid(logits(z)) = forward(z). N x C x 28 x 28."""
        return 2 * self._last_layer(z)


def _has_batch_norm(module):
    """True when `module` holds a batch-norm layer, which needs at least 2 samples per batch in training mode."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def dcgan_body(width=32, in_channels=1, spectral_norm=False):
    """The DCGAN discriminator's body: images N x in_channels x 28 x 28 (scaled to [-1, 1]) -> features
    N x (2 * width * 49). Two stride-2 convolutions (28 -> 14 -> 7; width, then 2 * width filters) with
    LeakyReLU(0.2), no batch norm. The discriminator adds a linear layer on top; a VAE's encoder adds the mu and
    log-variance heads (`vae.VAE(arch="conv")`)."""
    return nn.Sequential(
        _maybe_sn(nn.Conv2d(in_channels, width, 4, stride=2, padding=1), spectral_norm), nn.LeakyReLU(0.2),
        _maybe_sn(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), spectral_norm), nn.LeakyReLU(0.2),
        nn.Flatten())


class DCGANDiscriminator(nn.Module):
    """images N x (pack * image_channels) x 28 x 28 in [0, 1] -> logits (N,).

    `dcgan_body` (two stride-2 convolutions, 28 -> 14 -> 7, width then 2*width channels, LeakyReLU(0.2), no batch
    norm so that it also serves as a WGAN-GP critic), then a linear layer. spectral_norm: on every layer. pack: how
    many images it sees at once (PacGAN), stacked as channels. ``features(x)`` is the body's output, N x 2*width*49.
    """

    def __init__(self, width=32, spectral_norm=False, pack=1, image_channels=1):
        super().__init__()
        for name, value in (("width", width), ("pack", pack), ("image_channels", image_channels)):
            _check_positive_int(name, value)
        self.config = dict(width=width, spectral_norm=spectral_norm, pack=pack, image_channels=image_channels)
        self.pack, self.image_channels = pack, image_channels
        self.net = nn.Sequential(*dcgan_body(width, pack * image_channels, spectral_norm),
                                 _maybe_sn(nn.Linear(2 * width * 7 * 7, 1), spectral_norm))

    def _checked(self, x):
        validate.images(x, "x", shape=None, check_finite=False)  # [0, 1]: it rescales to [-1, 1] itself
        channels = self.pack * self.image_channels
        if x.dim() != 4 or x.shape[1:] != (channels, 28, 28):
            raise ValueError(f"expected images N x {channels} x 28 x 28 (image_channels={self.image_channels}, "
                             f"pack={self.pack}), got {tuple(x.shape)}")
        return validate.model_dtype(x, self, "x")

    def features(self, x):
        """The body's output for images x in [0, 1]: N x (2 * width * 49)."""
        return self.net[:-1](self._checked(x) * 2 - 1)

    def forward(self, x):
        return self.net[-1](self.features(x)).squeeze(1)


# ---- the learner's networks (notebook 04): each layer's output shape, and copying weights between equal networks ----

def layer_shapes(model, *inputs, trace=None):
    """Run ``model(*inputs)``, recording every leaf layer (a module without children) as it runs: returns
    ``(output, trace)``, trace a list of ``(name, layer, output shape)`` in call order. Pass your own list as
    `trace` to keep the layers that ran before an error. Layers applied as functions (F.relu) are not listed."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"layer_shapes needs a network (an nn.Module), got {type(model).__name__}")
    trace = [] if trace is None else trace

    def record(name):
        def hook(layer, args, output):
            trace.append((name, layer, tuple(output.shape) if isinstance(output, torch.Tensor) else None))
        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.named_modules()
               if not list(module.children())]
    try:
        return model(*inputs), trace
    finally:
        for handle in handles:
            handle.remove()


def _weighted_layers(model, which):
    from torch.nn.utils import parametrize

    if not isinstance(model, nn.Module):
        raise TypeError(f"the {which} network must be an nn.Module, got {type(model).__name__}")
    if any(parametrize.is_parametrized(m) for m in model.modules()):
        raise ValueError(f"the {which} network has parametrized layers (spectral norm); copy between networks "
                         "without spectral normalization")
    return [m for m in model.modules() if list(m.parameters(recurse=False))]


def copy_dcgan_weights(source, target):
    """Copy the weights of `source` into `target`, two networks with the same layers whatever their names inside
    (a DCGAN network written in a notebook and `DCGANGenerator` or `DCGANDiscriminator`, either way): the layers
    with parameters, in the order ``modules()`` lists them, their parameters and buffers (BatchNorm's running
    statistics). Returns `target`. Raises ValueError, listing both sides, when the layers differ."""
    layers, other_layers = _weighted_layers(source, "source"), _weighted_layers(target, "target")

    def shapes(found):
        return [f"{type(m).__name__} " + " and ".join("x".join(map(str, t.shape)) or "1"
                                                      for t in [*m.parameters(recurse=False), *m.buffers(recurse=False)])
                for m in found]

    if shapes(layers) != shapes(other_layers):
        raise ValueError(f"the two networks have different layers: the source has {shapes(layers)}, the target "
                         f"{shapes(other_layers)} (layers with weights in order, with their parameters' and "
                         f"buffers' shapes)")
    with torch.no_grad():
        for a, b in zip(layers, other_layers):
            for p, q in zip([*a.parameters(recurse=False), *a.buffers(recurse=False)],
                            [*b.parameters(recurse=False), *b.buffers(recurse=False)]):
                q.copy_(p)
    return target


# ---- one training step (notebook 04) and the KL divergence on a grid (notebook 03) ----

def gan_step(generator, discriminator, opt_g, opt_d, real, loss="nonsaturating"):
    """One alternating GAN update on the real batch `real` (N x ...); returns (d_loss, g_loss) as floats.

    1. Both networks go to training mode (BatchNorm normalizes with the batch's statistics).
    2. Discriminator step: fakes G(z), z = torch.randn(N, latent_dim), made without gradient (the
       discriminator's loss must not reach the generator); opt_d.zero_grad(), backward, opt_d.step().
    3. Generator step: fresh noise, `generator_loss` through the updated discriminator; opt_g.zero_grad(),
       backward, opt_g.step(). The discriminator's weights get gradients here but only opt_g steps.
    The same algorithm as `train.train_gan`'s built-in update with the default `train.GANRecipe` (one critic
    step, no penalty, no packing; tests/test_checks_gan.py). ``GANRecipe(step=gan_step)`` makes train_gan run it.
    loss: see the module docstring; "nonsaturating" (the default) is what the course trains with.
    """
    _check_kind(loss)
    if torch.is_tensor(real) and real.dim() == 4:
        validate.images(real, "real", shape=None, check_finite=False)  # in [0, 1], like the generator's images
    else:
        validate.points(real, "real", dim=None, check_finite=False, to_tensor=False, integers=False)
    if len(real) < 2 and _has_batch_norm(generator):
        raise ValueError("real holds 1 sample, but the generator has batch norm, which needs at least 2 samples per "
                         "batch in training mode: use batches of at least 2 (a loader's last batch: drop_last=True).")
    generator.train()
    discriminator.train()
    with torch.no_grad():
        fake = generator(torch.randn(len(real), generator.latent_dim, device=real.device))
    d_loss = discriminator_loss(discriminator(real), discriminator(fake), loss)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    g_loss = generator_loss(discriminator(generator(torch.randn(len(real), generator.latent_dim,
                                                                device=real.device))), loss)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def kl_divergence(p, q, dx):
    """KL(p || q) = int p log(p / q) dx (nats) of two densities tabulated on a grid of spacing `dx` (Riemann sum).

    0 log 0 counts as 0; where q = 0 but p > 0 the divergence is infinite. Forward KL(p_data || q_model) is
    kl_divergence(p, q); reverse KL is kl_divergence(q, p) (notebooks 03 and 07).
    """
    p, q = _densities(p, q)
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum() * dx


# ---- more remedies of notebook 05: weight clipping, feature matching, one-sided label smoothing, power iteration ----

@torch.no_grad()
def clip_weights_(module, clip):
    """Clamp every parameter of `module` to [-clip, clip] in place (the original WGAN's critic, Arjovsky et al.
    2017, clip = 0.01); returns the module."""
    if not clip > 0:
        raise ValueError(f"clip must be > 0, got {clip!r}")
    for parameter in module.parameters():
        parameter.clamp_(-clip, clip)
    return module


def discriminator_features(discriminator, x):
    """The activations of the discriminator's last hidden layer, N x hidden: what feature matching compares.

    Works for `MLPDiscriminator` and `DCGANDiscriminator` (inputs as their ``forward`` takes them, packed if
    they pack): every layer of ``discriminator.net`` but the last linear one."""
    if isinstance(discriminator, DCGANDiscriminator):
        return discriminator.features(x)
    if not isinstance(discriminator, MLPDiscriminator):
        raise TypeError(f"feature matching needs an MLPDiscriminator or a DCGANDiscriminator, "
                        f"got {type(discriminator).__name__}")
    return discriminator.net[:-1](x).flatten(start_dim=1)


def feature_matching_loss(real_features, fake_features):
    """The generator's feature-matching loss (Salimans et al. 2016): ||mean real features - mean fake features||^2.

    real_features: N x F, fake_features: M x F (e.g. from `discriminator_features`); a scalar."""
    if real_features.dim() != 2 or fake_features.dim() != 2 or real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(f"expected features N x F and M x F, got {tuple(real_features.shape)} and "
                         f"{tuple(fake_features.shape)}")
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


def smoothed_discriminator_loss(real_logits, fake_logits, real_target=0.9):
    """The discriminator's cross-entropy with one-sided label smoothing (Salimans et al. 2016): the real samples'
    target is `real_target` (0.9) instead of 1, the fakes' stays 0. real_logits (N,), fake_logits (M,); a scalar.
    With real_target=1 it is `discriminator_loss(..., "nonsaturating")`."""
    if not 0 < real_target <= 1:
        raise ValueError(f"real_target must be in (0, 1], got {real_target!r}")
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    # -t log sigmoid(a) - (1 - t) log(1 - sigmoid(a)) = t softplus(-a) + (1 - t) softplus(a)
    real = real_target * F.softplus(-real_logits) + (1 - real_target) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def power_iteration(weight, u, steps=1):
    """Estimate the largest singular value of `weight` (out x in) by `steps` power iterations from `u` (out,).

    Each step: v = normalize(W^T u), u = normalize(W v), without gradient; then sigma = u . (W v) with the weight
    itself, so that sigma is differentiable in the weight with u and v held fixed (d sigma / dW = u v^T), as in
    Miyato et al. 2018 and `torch.nn.utils.parametrizations.spectral_norm`, which takes one such step per training
    forward pass (on W^T, from its vector v). Returns (sigma, u); u carries no gradient."""
    if weight.dim() != 2 or u.shape != (weight.shape[0],):
        raise ValueError(f"expected a matrix out x in and u of shape (out,), got {tuple(weight.shape)} and "
                         f"{tuple(u.shape)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    with torch.no_grad():
        for _ in range(steps):
            v = F.normalize(weight.T @ u, dim=0)
            u = F.normalize(weight @ v, dim=0)
    return torch.dot(u, weight @ v), u
