"""tutorial_lib.divergences against independent references: closed forms, SciPy, brute force."""
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from tutorial_lib import divergences as dv

GRID = torch.linspace(-15, 15, 30001, dtype=torch.float64)
DX = float(GRID[1] - GRID[0])


def gaussian_kl_closed(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 0, 1), (0, 1, 1, 2), (1, 2, 0, 1), (-1, 0.5, 2, 1.5)])
def test_kl_divergence_matches_the_gaussian_closed_form(m1, s1, m2, s2):
    p, q = dv.normal_density(GRID, m1, s1), dv.normal_density(GRID, m2, s2)
    assert float(dv.kl_divergence(p, q, DX)) == pytest.approx(gaussian_kl_closed(m1, s1, m2, s2), abs=1e-8)


def test_kl_divergence_handles_zero_density_and_disjoint_support():
    box, wide = ((GRID >= 0) & (GRID < 1)).double(), ((GRID >= -1) & (GRID < 3)).double() / 4
    assert float(dv.kl_divergence(box, wide, DX)) == pytest.approx(math.log(4), abs=1e-3)
    assert math.isinf(float(dv.kl_divergence(wide, box, DX)))
    with pytest.raises(ValueError, match="same grid"):
        dv.kl_divergence(box, wide[:-1], DX)


def test_mixture_density_integrates_to_one_and_matches_scipy():
    p = dv.mixture_density(GRID, (-2, 3), (0.5, 1.0), (0.3, 0.7))
    reference = 0.3 * scipy.stats.norm.pdf(GRID.numpy(), -2, 0.5) + 0.7 * scipy.stats.norm.pdf(GRID.numpy(), 3, 1.0)
    np.testing.assert_allclose(p.numpy(), reference, atol=1e-12)
    with pytest.raises(ValueError, match="weights"):
        dv.mixture_density(GRID, (0, 1), (1, 1), (0.5, 0.6))


def test_forward_kl_fit_matches_the_moments_and_reverse_kl_picks_a_mode():
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    means, stds, weights = (-2.0, 2.0), (0.5, 0.5), (0.6, 0.4)
    p = dv.mixture_density(x, means, stds, weights)
    mean = sum(w * m for m, w in zip(means, weights))
    std = math.sqrt(sum(w * (s**2 + m**2) for m, s, w in zip(means, stds, weights)) - mean**2)
    m, s = dv.fit_gaussian(p, x, "forward_kl")
    assert (m, s) == pytest.approx((mean, std), abs=1e-3)
    for mode in means:
        m, s = dv.fit_gaussian(p, x, "reverse_kl", start=(mode, 1.0))
        assert (m, s) == pytest.approx((mode, 0.5), abs=0.01)
    # brute force: no Gaussian on a coarse (m, s) lattice beats the reverse-KL fit near the heavier mode
    best = min(float(dv.divergence_to_gaussian(p, x, mm, ss, "reverse_kl"))
               for mm in np.linspace(-3, 3, 25) for ss in np.linspace(0.3, 3, 19))
    fitted = float(dv.divergence_to_gaussian(p, x, *dv.fit_gaussian(p, x, "reverse_kl", start=(-2, 1)), "reverse_kl"))
    assert fitted <= best + 1e-6
    with pytest.raises(ValueError, match="Unknown divergence"):
        dv.divergence_to_gaussian(p, x, 0, 1, "kl")


def test_grid_moments_are_the_forward_kl_fit():
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    p = dv.mixture_density(x, (-2.0, 2.0), (0.5, 0.5), (0.6, 0.4))
    mean, std = dv.grid_moments(p, x, dx)
    assert (mean, std) == pytest.approx(dv.fit_gaussian(p, x, "forward_kl"), abs=1e-3)   # the optimizer's fit
    assert (mean, std) == pytest.approx((-0.4, math.sqrt(4.25 - 0.16)), abs=1e-9)       # the mixture's moments
    uniform = ((x >= 0) & (x < 2)).double() / 2
    assert dv.grid_moments(uniform, x, dx) == pytest.approx((1.0, 2 / math.sqrt(12)), abs=2e-2)


def _conjugate_by_brute_force(f, t, lo, hi, n=400_001):
    u = torch.linspace(lo, hi, n, dtype=torch.float64)
    return float((t * u - f(u)).max())


@pytest.mark.parametrize("name", sorted(dv.F_DIVERGENCES))
def test_each_conjugate_is_the_supremum_of_tu_minus_f(name):
    entry = dv.F_DIVERGENCES[name]
    low, high = entry.domain
    ts = [t for t in (-2.0, -0.7, -0.3, 0.0, 0.2, 0.3, 0.45, 0.8) if low < t < high]  # maximizers u < 60
    assert ts
    for t in ts:
        expected = _conjugate_by_brute_force(entry.f, t, 1e-6, 60.0)
        assert float(entry.conjugate(torch.tensor(t, dtype=torch.float64))) == pytest.approx(expected, abs=2e-4), t


@pytest.mark.parametrize("name", sorted(dv.F_DIVERGENCES))
def test_each_generator_is_convex_with_f_of_one_zero_and_f_prime_its_derivative(name):
    entry = dv.F_DIVERGENCES[name]
    u = torch.linspace(0.05, 8, 2000, dtype=torch.float64)
    f_at_one = float(entry.f(torch.tensor(1.0, dtype=torch.float64)))
    # Nowozin et al.'s GAN generator is shifted on purpose: f(1) = -log 4, so that D_f = 2 JSD - log 4.
    assert f_at_one == pytest.approx(-math.log(4) if name == "gan" else 0.0, abs=1e-12)
    values = entry.f(u)
    assert (values[2:] - 2 * values[1:-1] + values[:-2] >= -1e-9).all()
    if name != "total_variation":
        numeric = (entry.f(u + 1e-6) - entry.f(u - 1e-6)) / 2e-6
        torch.testing.assert_close(entry.f_prime(u), numeric, atol=1e-5, rtol=1e-5)


def test_f_divergences_match_closed_forms_and_the_jsd():
    p, q = dv.normal_density(GRID, 0, 1), dv.normal_density(GRID, 1, 1.5)
    assert float(dv.f_divergence(p, q, DX, "kl")) == pytest.approx(gaussian_kl_closed(0, 1, 1, 1.5), abs=1e-8)
    assert float(dv.f_divergence(p, q, DX, "reverse_kl")) == pytest.approx(gaussian_kl_closed(1, 1.5, 0, 1), abs=1e-8)
    # squared Hellinger = 2 - 2 * Bhattacharyya coefficient, closed form for Gaussians
    bc = math.sqrt(2 * 1 * 1.5 / (1 + 1.5**2)) * math.exp(-1 / (4 * (1 + 1.5**2)))
    assert float(dv.f_divergence(p, q, DX, "hellinger")) == pytest.approx(2 - 2 * bc, abs=1e-8)
    # Pearson chi^2 by SciPy quadrature
    chi2 = scipy.integrate.quad(lambda v: (scipy.stats.norm.pdf(v, 0, 1) - scipy.stats.norm.pdf(v, 1, 1.5)) ** 2
                                / scipy.stats.norm.pdf(v, 1, 1.5), -15, 15)[0]
    assert float(dv.f_divergence(p, q, DX, "pearson")) == pytest.approx(chi2, abs=1e-6)
    jsd = float(dv.js_divergence(p, q, DX))
    assert float(dv.f_divergence(p, q, DX, "jsd")) == pytest.approx(jsd, abs=1e-10)
    assert float(dv.f_divergence(p, q, DX, "gan")) == pytest.approx(2 * jsd - math.log(4), abs=1e-10)
    tv = 0.5 * float((p - q).abs().sum() * DX)
    assert float(dv.f_divergence(p, q, DX, "total_variation")) == pytest.approx(tv, abs=1e-10)
    with pytest.raises(ValueError, match="Unknown f-divergence"):
        dv.f_divergence(p, q, DX, "chi")


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "pearson", "hellinger", "jsd", "gan"])
def test_the_variational_bound_is_tight_at_the_optimal_critic_on_a_grid(name):
    """E_P[T*] - E_Q[f*(T*)] with T* = f'(p/q), computed by quadrature, equals D_f; a perturbed critic is lower."""
    entry = dv.F_DIVERGENCES[name]
    p, q = dv.normal_density(GRID, 0, 1), dv.normal_density(GRID, 0.5, 1.2)
    keep = (p > 1e-200) & (q > 1e-200)
    p, q = p[keep], q[keep]
    t = entry.f_prime(p / q)
    bound = float((p * t).sum() * DX - (q * entry.conjugate(t)).sum() * DX)
    assert bound == pytest.approx(float(dv.f_divergence(p, q, DX, name)), abs=1e-6)
    worse = float((p * 0.8 * t).sum() * DX - (q * entry.conjugate(0.8 * t)).sum() * DX)
    assert worse < bound


def test_variational_bound_from_samples():
    g = torch.Generator().manual_seed(0)
    xp, xq = torch.randn(400_000, generator=g, dtype=torch.float64), torch.randn(400_000, generator=g, dtype=torch.float64) + 1
    critic = lambda v: 1 + (-0.5 * v**2 + 0.5 * (v - 1) ** 2)  # 1 + log p/q for N(0,1) vs N(1,1)
    assert float(dv.variational_bound(critic(xp), critic(xq), "kl")) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("m,n", [(50, 50), (37, 80), (200, 13), (1, 5)])
def test_wasserstein_1d_matches_scipy(m, n):
    g = torch.Generator().manual_seed(m * 1000 + n)
    x, y = torch.randn(m, generator=g, dtype=torch.float64), 2 * torch.rand(n, generator=g, dtype=torch.float64) + 1
    assert float(dv.wasserstein_1d(x, y)) == pytest.approx(scipy.stats.wasserstein_distance(x.numpy(), y.numpy()),
                                                           abs=1e-12)


def test_wasserstein_1d_of_a_shift_and_bad_input():
    x = torch.randn(100, generator=torch.Generator().manual_seed(1))
    assert float(dv.wasserstein_1d(x, x + 2.5)) == pytest.approx(2.5, abs=1e-6)
    with pytest.raises(ValueError, match="at least one point"):
        dv.wasserstein_1d(x, torch.tensor([]))


def test_gradient_penalty_critic_estimates_w1_and_clipping_shrinks_it():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2000, generator=g), 3 + 0.5 * torch.randn(2000, generator=g)
    exact = float(dv.wasserstein_1d(x, y))
    gp_critic, gp = dv.train_critic(x, y, "gp", steps=200)
    clip_critic, clip = dv.train_critic(x, y, "clip", steps=200)
    assert abs(gp - exact) < 0.3 * exact
    assert 0 < clip < 0.05 * exact
    assert all(float(p.detach().abs().max()) <= 0.01 + 1e-7 for p in clip_critic.parameters())
    assert dv.lipschitz_constant(clip_critic, -3, 6) < 0.05 < 0.5 < dv.lipschitz_constant(gp_critic, -3, 6)
    with pytest.raises(ValueError, match="method"):
        dv.train_critic(x, y, "spectral")


def test_lipschitz_constant_of_a_known_function():
    critic = dv.Critic1D(hidden=4)
    with torch.no_grad():
        for p in critic.parameters():
            p.zero_()
        critic.net[0].weight[0, 0] = 3.0    # f(x) = 2 * leaky(3x) through one path
        critic.net[2].weight[0, 0] = 1.0
        critic.net[4].weight[0, 0] = 2.0
    assert dv.lipschitz_constant(critic, 0.1, 2) == pytest.approx(6.0, rel=1e-5)
    assert dv.lipschitz_constant(critic, -2, -0.1) == pytest.approx(6.0 * 0.2 * 0.2, rel=1e-5)


def test_gaussian_log_likelihood_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, x = torch.rand(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    for log_sigma in (0.0, -1.3, torch.full((1, 4, 4), -0.5)):
        sigma = torch.as_tensor(log_sigma).exp().expand_as(mean)
        expected = torch.distributions.Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
        torch.testing.assert_close(dv.gaussian_log_likelihood(mean, log_sigma, x), expected)
    with pytest.raises(ValueError, match="same shape"):
        dv.gaussian_log_likelihood(mean, 0.0, x[:2])


def test_train_gaussian_vae_learns_sigma_as_the_rms_error():
    from tutorial_lib.vae import VAE

    g = torch.Generator().manual_seed(0)
    images = (torch.rand(256, 1, 28, 28, generator=g) > 0.7).float()
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=16)
    log_sigma, losses = dv.train_gaussian_vae(model, images, epochs=2, batch_size=128)
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    assert 0.2 < math.exp(log_sigma) < 0.6          # sqrt of a per-pixel MSE on 30 % ink images
    fixed, _ = dv.train_gaussian_vae(VAE(latent_dim=2, hidden=16), images, epochs=1, log_sigma=0.0)
    assert fixed == 0.0
