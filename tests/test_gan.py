"""tutorial_lib.gan: losses against hand-written formulas, the gradient penalty against closed forms and
finite differences, the optimal discriminator and the JSD against closed forms and numerical integrals,
spectral norm, and the networks' shapes, config and sampling."""
import math

import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats

from tutorial_lib.gan import (LOSS_KINDS, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator,
                              discriminator_loss, generator_loss, gradient_penalty, js_divergence, mlp_discriminator,
                              mlp_generator, optimal_discriminator, r1_penalty, value_function)

REAL = [2.0, -1.0, 0.5, 3.0]
FAKE = [-3.0, 0.0, 1.5]


def sigmoid(a):
    return 1 / (1 + math.exp(-a))


def mean(values):
    return sum(values) / len(values)


# ---- losses against hand-written formulas (plain Python math, one logit at a time) ----

EXPECTED_D = {
    "minimax": -mean([math.log(sigmoid(r)) for r in REAL]) - mean([math.log(1 - sigmoid(f)) for f in FAKE]),
    "wasserstein": mean(FAKE) - mean(REAL),
    "hinge": mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE]),
}
EXPECTED_D["nonsaturating"] = EXPECTED_D["minimax"]
EXPECTED_G = {
    "minimax": mean([math.log(1 - sigmoid(f)) for f in FAKE]),
    "nonsaturating": -mean([math.log(sigmoid(f)) for f in FAKE]),
    "wasserstein": -mean(FAKE),
    "hinge": -mean(FAKE),
}


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_losses_match_hand_written_formulas(kind):
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    assert discriminator_loss(real, fake, kind).item() == pytest.approx(EXPECTED_D[kind], rel=1e-12)
    assert generator_loss(fake, kind).item() == pytest.approx(EXPECTED_G[kind], rel=1e-12)
    # a column of logits (N x 1), as nn.Linear(..., 1) returns, gives the same value
    assert discriminator_loss(real[:, None], fake[:, None], kind).item() == pytest.approx(EXPECTED_D[kind])


def test_minimax_discriminator_loss_is_binary_cross_entropy():
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    bce = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
           + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    assert torch.allclose(discriminator_loss(real, fake, "minimax"), bce)


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_sign_conventions(kind):
    """Minimizing: the discriminator gains by raising real logits and lowering fake ones; the generator by
    raising the logits of its samples. Logits inside the hinge's margin so that every gradient is nonzero."""
    real = torch.tensor([0.3, -0.2], requires_grad=True)
    fake = torch.tensor([0.1, -0.4], requires_grad=True)
    discriminator_loss(real, fake, kind).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake.grad = None
    generator_loss(fake, kind).backward()
    assert (fake.grad < 0).all()


def test_saturating_generator_gradient_vanishes_when_the_discriminator_wins():
    """At a fake logit of -10 (D(G(z)) ~ 4.5e-5) the minimax generator's gradient is sigma(a), the
    non-saturating one's is 1 - sigma(a) (both in magnitude, closed forms)."""
    a = torch.tensor([-10.0], requires_grad=True)
    (saturating,) = torch.autograd.grad(generator_loss(a, "minimax"), a)
    (nonsaturating,) = torch.autograd.grad(generator_loss(a, "nonsaturating"), a)
    assert saturating.item() == pytest.approx(-sigmoid(-10.0), rel=1e-4)
    assert nonsaturating.item() == pytest.approx(-(1 - sigmoid(-10.0)), rel=1e-4)


def test_losses_are_finite_for_confident_discriminators():
    big = torch.tensor([100.0])
    assert discriminator_loss(big, -big, "minimax").item() == pytest.approx(0.0, abs=1e-30)
    assert discriminator_loss(-big, big, "minimax").item() == pytest.approx(200.0)
    assert generator_loss(big, "minimax").item() == pytest.approx(-100.0)
    assert generator_loss(-big, "nonsaturating").item() == pytest.approx(100.0)


def test_loss_errors_are_clear():
    logits = torch.zeros(3)
    with pytest.raises(ValueError, match="Unknown GAN loss kind 'wgan'.*'wasserstein'"):
        discriminator_loss(logits, logits, "wgan")
    with pytest.raises(ValueError, match="Unknown GAN loss kind"):
        generator_loss(logits, "saturating")
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\).*\(3, 2\)"):
        generator_loss(torch.zeros(3, 2))
    with pytest.raises(TypeError, match="must be a tensor"):
        discriminator_loss([0.0], logits)
    with pytest.raises(ValueError, match="empty"):
        generator_loss(torch.zeros(0))


# ---- gradient penalty ----

def linear_critic(weight):
    """f(x) = <w, x> over all non-batch dimensions: its gradient is w everywhere."""
    return lambda x: (x.flatten(start_dim=1) * weight.flatten()).sum(dim=1)


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic(shape):
    torch.manual_seed(0)
    w = torch.randn(*shape, dtype=torch.float64)
    w = w / w.norm()
    real, fake = torch.randn(16, *shape, dtype=torch.float64), torch.randn(16, *shape, dtype=torch.float64)
    assert gradient_penalty(linear_critic(w), real, fake).item() == pytest.approx(0.0, abs=1e-20)
    assert gradient_penalty(linear_critic(3 * w), real, fake).item() == pytest.approx(4.0)  # (3 - 1)^2


def test_gradient_penalty_matches_finite_differences_on_a_nonlinear_critic():
    torch.manual_seed(1)
    critic = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    real, fake = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    alpha = torch.rand(5, dtype=torch.float64)
    eps = 1e-6
    penalties = []
    for i in range(5):
        x = alpha[i] * real[i] + (1 - alpha[i]) * fake[i]
        grad = [(critic(x + eps * e).item() - critic(x - eps * e).item()) / (2 * eps)
                for e in torch.eye(3, dtype=torch.float64)]
        penalties.append((math.sqrt(sum(g * g for g in grad)) - 1) ** 2)
    got = gradient_penalty(critic, real, fake, alpha=alpha).item()
    assert got == pytest.approx(mean(penalties), rel=1e-6)


# ---- R1 (Mescheder et al. 2018): mean over the real samples of the squared norm of the discriminator's gradient ----

@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_r1_of_a_linear_discriminator_is_the_squared_norm_of_its_weights(shape):
    """D(x) = <w, x> + b has gradient w at every x, so the penalty is ||w||^2 whatever the data."""
    torch.manual_seed(0)
    w = torch.randn(*shape, dtype=torch.float64)
    real = torch.randn(16, *shape, dtype=torch.float64) * 5
    expected = sum(v * v for v in w.flatten().tolist())
    assert r1_penalty(linear_critic(w), real).item() == pytest.approx(expected, rel=1e-12)


def test_r1_of_a_quadratic_discriminator_is_four_times_the_mean_squared_norm_of_the_data():
    """D(x) = sum x_i^2 has gradient 2x: the penalty is the mean of ||2x||^2 = 4 ||x||^2 (not the norm, not its
    square root, not a sum over samples)."""
    real = torch.tensor([[1.0, 2.0], [0.0, -3.0], [0.5, 0.5]], dtype=torch.float64)
    expected = sum(4 * (a * a + b * b) for a, b in real.tolist()) / 3  # (20 + 36 + 2) / 3
    assert r1_penalty(lambda x: x.pow(2).sum(dim=1), real).item() == pytest.approx(expected, rel=1e-12)


def test_r1_matches_finite_differences_and_stays_differentiable_in_the_weights():
    torch.manual_seed(1)
    critic = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    real = torch.randn(5, 3, dtype=torch.float64)
    eps = 1e-6
    norms = []
    for x in real:
        grad = [(critic(x + eps * e).item() - critic(x - eps * e).item()) / (2 * eps)
                for e in torch.eye(3, dtype=torch.float64)]
        norms.append(sum(g * g for g in grad))
    penalty = r1_penalty(critic, real)
    assert penalty.item() == pytest.approx(mean(norms), rel=1e-6)
    # the penalty's gradient in the last layer's weights (what the discriminator's optimizer follows), checked
    # along a random direction against a finite difference of the penalty itself
    penalty.backward()
    v = critic[2].weight
    direction = torch.randn_like(v)
    values = []
    for shift in (eps, -2 * eps):
        with torch.no_grad():
            v += shift * direction
        values.append(r1_penalty(critic, real).item())  # (the penalty itself needs autograd)
    up, down = values
    assert (v.grad * direction).sum().item() == pytest.approx((up - down) / (2 * eps), rel=1e-5)


def test_r1_does_not_change_the_real_batch_or_need_its_gradient():
    real = torch.randn(4, 2)
    before = real.clone()
    r1_penalty(linear_critic(torch.ones(2)), real)
    assert torch.equal(real, before) and not real.requires_grad
    with pytest.raises(TypeError):
        r1_penalty(linear_critic(torch.ones(2)), [[1.0, 2.0]])


def test_gradient_penalty_draws_one_uniform_alpha_per_sample():
    seen = []

    def spy(x):
        seen.append(x.detach().clone())
        return x.sum(dim=1)

    torch.manual_seed(2)
    real, fake = torch.randn(4000, 3, dtype=torch.float64), torch.randn(4000, 3, dtype=torch.float64)
    gradient_penalty(spy, real, fake)
    alpha = (seen[0] - fake) / (real - fake)  # x_hat = alpha * real + (1 - alpha) * fake
    assert torch.allclose(alpha, alpha[:, :1].expand(-1, 3), atol=1e-8)  # one alpha per sample
    alpha = alpha[:, 0].numpy()
    assert alpha.min() >= 0 and alpha.max() <= 1
    assert stats.kstest(alpha, "uniform").pvalue > 1e-3  # U(0, 1)


def test_gradient_penalty_is_differentiable_in_the_critics_weights():
    """For f(x) = <w, x>, GP = (||w|| - 1)^2 whose gradient is 2 (||w|| - 1) w / ||w||."""
    w = torch.tensor([1.5, -2.0], dtype=torch.float64, requires_grad=True)
    real, fake = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    penalty = gradient_penalty(linear_critic(w), real, fake)
    (grad,) = torch.autograd.grad(penalty, w)
    norm = w.detach().norm()
    assert torch.allclose(grad, 2 * (norm - 1) * w.detach() / norm)


def test_gradient_penalty_errors():
    critic = linear_critic(torch.ones(2))
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(critic, torch.zeros(4, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"alpha must have shape \(4,\)"):
        gradient_penalty(critic, torch.zeros(4, 2), torch.zeros(4, 2), alpha=torch.rand(4, 1))


# ---- optimal discriminator, value function, JSD ----

def gaussian(x, mu, sigma):
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def test_optimal_discriminator_closed_form_and_edges():
    p = torch.tensor([1.0, 0.0, 2.0, 0.3, 0.0])
    q = torch.tensor([1.0, 2.0, 0.0, 0.1, 0.0])
    assert torch.allclose(optimal_discriminator(p, q), torch.tensor([0.5, 0.0, 1.0, 0.75, 0.5]))


def test_optimal_discriminator_maximizes_the_value_pointwise():
    x = torch.linspace(-6, 6, 2001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    p, q = gaussian(x, -1.0, 1.0), gaussian(x, 1.5, 0.7)
    best = value_function(optimal_discriminator(p, q), p, q, dx)
    torch.manual_seed(3)
    for _ in range(20):
        d = optimal_discriminator(p, q) * torch.exp(0.3 * torch.randn_like(x))  # perturbed
        assert value_function(d.clamp(1e-6, 1 - 1e-6), p, q, dx) < best
    mass = (p.sum() * dx).item() + (q.sum() * dx).item()
    assert value_function(torch.full_like(x, 0.5), p, q, dx).item() == pytest.approx(math.log(0.5) * mass)


def js_reference(mu1, s1, mu2, s2):
    """JSD of two Gaussians by adaptive quadrature (scipy), independent of the grid code."""
    def integrand(x):
        p = math.exp(-0.5 * ((x - mu1) / s1) ** 2) / (s1 * math.sqrt(2 * math.pi))
        q = math.exp(-0.5 * ((x - mu2) / s2) ** 2) / (s2 * math.sqrt(2 * math.pi))
        m = (p + q) / 2
        return 0.5 * ((p * math.log(p / m) if p > 0 else 0.0) + (q * math.log(q / m) if q > 0 else 0.0))
    return integrate.quad(integrand, -30, 30, limit=200, points=[mu1, mu2])[0]


@pytest.mark.parametrize("params", [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 1.0, 1.0), (-1.0, 0.5, 2.0, 1.5),
                                    (0.0, 1.0, 8.0, 1.0)])  # far apart: D* rounds to 0 or 1 on much of the grid
def test_jsd_and_the_value_identity_on_gaussians(params):
    mu1, s1, mu2, s2 = params
    x = torch.linspace(-12, 20, 32001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    p, q = gaussian(x, mu1, s1), gaussian(x, mu2, s2)
    jsd = js_divergence(p, q, dx).item()
    assert jsd == pytest.approx(js_reference(*params), abs=1e-6)
    assert 0 <= jsd <= math.log(2)
    assert js_divergence(q, p, dx).item() == pytest.approx(jsd, abs=1e-12)  # symmetric
    value = value_function(optimal_discriminator(p, q), p, q, dx).item()
    assert value == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)


def test_jsd_limits():
    x = torch.linspace(0, 4, 4001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    p, q = ((x >= 0) & (x < 1)).double(), ((x >= 2) & (x < 3)).double()  # disjoint uniform densities
    assert js_divergence(p, q, dx).item() == pytest.approx(math.log(2), rel=1e-3)
    assert js_divergence(p, p, dx).item() == pytest.approx(0.0, abs=1e-12)


# ---- networks ----

def test_spectral_norm_bounds_every_layers_largest_singular_value():
    torch.manual_seed(4)
    disc = MLPDiscriminator(hidden=32, spectral_norm=True)
    with torch.no_grad():
        for module in disc.modules():
            if isinstance(module, torch.nn.Linear):
                module.parametrizations.weight.original.mul_(10)  # make the raw weights large
    for _ in range(30):  # power iterations run in training mode
        disc(torch.randn(8, 2))
    linears = [m for m in disc.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4
    for layer in linears:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=1e-2)
    # so the whole network is 1-Lipschitz (LeakyReLU is): |f(x) - f(y)| <= ||x - y||
    disc.eval()
    x, y = torch.randn(500, 2), torch.randn(500, 2)
    with torch.no_grad():
        assert ((disc(x) - disc(y)).abs() <= (x - y).norm(dim=1) * 1.01).all()
    plain = MLPDiscriminator(hidden=32)
    with torch.no_grad():
        plain.net[0].weight.mul_(10)
    assert torch.linalg.matrix_norm(plain.net[0].weight.detach(), ord=2) > 2


def test_dcgan_spectral_norm_normalizes_every_layer():
    disc = DCGANDiscriminator(width=8, spectral_norm=True)
    for _ in range(30):
        disc(torch.rand(4, 1, 28, 28))
    layers = [m for m in disc.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 3
    for layer in layers:
        matrix = layer.weight.detach().flatten(start_dim=1)  # what spectral norm normalizes for convolutions
        assert torch.linalg.matrix_norm(matrix, ord=2).item() == pytest.approx(1.0, abs=1e-2)


def test_mlp_networks_shapes_and_packing():
    g = mlp_generator(latent_dim=3, hidden=16, depth=2)
    assert g(torch.randn(5, 3)).shape == (5, 2) and g.sample(7).shape == (7, 2)
    d = mlp_discriminator(hidden=16, pack=4)
    assert d(torch.randn(5, 8)).shape == (5,)
    with pytest.raises(ValueError, match=r"N x 8 \(in_dim 2 x pack 4\)"):
        d(torch.randn(5, 2))
    assert isinstance(g, MLPGenerator) and isinstance(d, MLPDiscriminator)
    assert MLPDiscriminator(**d.config).config == d.config


def test_dcgan_shapes_range_and_size():
    torch.manual_seed(5)
    g = DCGANGenerator()
    images = g.sample(6)
    assert images.shape == (6, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert images.std() > 0
    assert 1e5 < sum(p.numel() for p in g.parameters()) < 1e6  # small enough to ship
    d = DCGANDiscriminator()
    assert d(images).shape == (6,)
    with pytest.raises(ValueError, match=r"N x 1 x 28 x 28"):
        d(torch.rand(6, 28, 28))
    with pytest.raises(ValueError, match=r"noise N x 64"):
        g(torch.randn(6, 10))
    assert DCGANDiscriminator(width=8, pack=3)(torch.rand(2, 3, 28, 28)).shape == (2,)


def test_dcgan_generator_rebuilds_from_its_config():
    torch.manual_seed(6)
    g = DCGANGenerator(latent_dim=16, width=8)
    g.train()
    g(torch.randn(32, 16))  # move the batch-norm running statistics away from their start
    rebuilt = DCGANGenerator(**g.config)
    rebuilt.load_state_dict(g.state_dict())
    assert g.config == {"latent_dim": 16, "width": 8, "image_channels": 1, "depth": 0} and rebuilt.latent_dim == 16
    z = torch.Generator().manual_seed(0)
    assert torch.equal(g.sample(4, generator=z), rebuilt.sample(4, generator=torch.Generator().manual_seed(0)))


def test_sample_is_reproducible_and_leaves_the_model_alone():
    g = DCGANGenerator(latent_dim=8, width=4)
    g.train()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    a = g.sample(3, generator=torch.Generator().manual_seed(1))
    b = g.sample(3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not a.requires_grad
    assert g.training  # the mode is restored
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())  # batch-norm statistics untouched
    with pytest.raises(ValueError, match="positive integer"):
        g.sample(0)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_dcgan_generator_depth_adds_3x3_convolutions_at_7_and_14_pixels(depth):
    g = DCGANGenerator(latent_dim=8, width=4, depth=depth)
    convs = [m for m in g.net if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.in_channels) for c in convs] == [((3, 3), (1, 1), 8), ((3, 3), (1, 1), 4)][:depth]
    sizes, x = [], g.project(torch.randn(3, 8))
    for layer in g.net:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv2d):
            sizes.append(x.shape[-1])
    assert sizes == [7, 14][:depth] and g(torch.randn(3, 8)).shape == (3, 1, 28, 28)
    assert DCGANGenerator(**g.config).config == g.config
    with pytest.raises(ValueError, match="depth must be 0, 1 or 2"):
        DCGANGenerator(depth=3)


def test_sampling_in_chunks_gives_the_rows_of_one_pass(monkeypatch):
    """sample() runs SAMPLE_ROWS rows per forward pass (memory); in eval mode that is the one-pass result, rows in
    order, for a generator and for a VAE's decoder; the training mode comes back."""
    from tutorial_lib import gan as gan_module
    from tutorial_lib.vae import VAE

    torch.manual_seed(0)
    g = gan_module.DCGANGenerator(latent_dim=8, width=4)
    vae_model = VAE(8, arch="conv", channels=4)
    g.train(), vae_model.train()
    whole = (g.sample(10, generator=torch.Generator().manual_seed(1)),
             vae_model.sample(10, generator=torch.Generator().manual_seed(1)))
    monkeypatch.setattr(gan_module, "SAMPLE_ROWS", 3)  # 10 rows: chunks of 3, 3, 3 and 1
    chunked = (g.sample(10, generator=torch.Generator().manual_seed(1)),
               vae_model.sample(10, generator=torch.Generator().manual_seed(1)))
    for one, many in zip(whole, chunked):
        assert many.shape == one.shape == (10, 1, 28, 28)
        torch.testing.assert_close(many, one, rtol=1e-5, atol=1e-6)  # same rows; a conv may round by batch size
    assert g.training and vae_model.training
    z = torch.randn(10, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        g.eval()
        torch.testing.assert_close(chunked[0], g(z), rtol=1e-5, atol=1e-6)
