"""tutorial_lib.vae against independent references: torch.distributions, closed forms, brute force, quadrature."""
import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from tutorial_lib.vae import (VAE, bernoulli_log_likelihood, elbo, gaussian_kl, iwae_bound, rate_distortion,
                              reparameterize)


def binary_images(n, seed=0, p=0.3):
    return torch.bernoulli(torch.full((n, 1, 28, 28), p), generator=torch.Generator().manual_seed(seed))


def small_vae(latent_dim=3, seed=0, arch="mlp", **kw):
    torch.manual_seed(seed)
    return VAE(latent_dim=latent_dim, arch=arch, hidden=kw.pop("hidden", 32), **kw)


def log_p_terms(model, x, z):
    """log p(x|z), log p(z) and log q(z|x) for z of shape N x D, with torch.distributions (float64)."""
    mu, logvar = (t.double() for t in model.encode(x))
    logits = model.decode(z.float()).double()
    log_px_z = Bernoulli(logits=logits).log_prob(x.double()).flatten(1).sum(1)
    log_pz = Normal(0.0, 1.0).log_prob(z.double()).sum(1)
    log_qz = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z.double()).sum(1)
    return log_px_z, log_pz, log_qz


# ---- gaussian_kl ----

def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(7, 5) * 2, torch.randn(7, 5)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=1)
    got = gaussian_kl(mu, logvar)
    assert got.shape == (7,) and got.dtype == torch.float32
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_gaussian_kl_is_zero_only_at_the_prior():
    assert torch.equal(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
    assert (gaussian_kl(torch.full((2, 4), 0.1), torch.zeros(2, 4)) > 0).all()
    assert (gaussian_kl(torch.zeros(2, 4), torch.full((2, 4), -0.1)) > 0).all()


def test_gaussian_kl_is_differentiable():
    mu = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gaussian_kl, (mu, logvar))


@pytest.mark.parametrize("mu, logvar", [(torch.zeros(3, 2), torch.zeros(3, 4)), (torch.zeros(6), torch.zeros(6)),
                                        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))])
def test_gaussian_kl_rejects_bad_shapes(mu, logvar):
    with pytest.raises(ValueError, match="N x D"):
        gaussian_kl(mu, logvar)


# ---- bernoulli_log_likelihood ----

def test_bernoulli_log_likelihood_matches_torch_distributions():
    torch.manual_seed(0)
    logits = torch.randn(6, 1, 28, 28) * 4
    x = binary_images(6)
    expected = Bernoulli(logits=logits).log_prob(x).sum(dim=(1, 2, 3))
    got = bernoulli_log_likelihood(logits, x)
    assert got.shape == (6,) and got.dtype == torch.float32
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-3)


def test_bernoulli_log_likelihood_of_grey_pixels_is_minus_the_cross_entropy():
    """Grey levels p in [0, 1]: p log s + (1 - p) log(1 - s), s = sigmoid(logit), summed (pytorch/examples' BCE)."""
    torch.manual_seed(1)
    logits, x = torch.randn(3, 1, 28, 28, dtype=torch.float64), torch.rand(3, 1, 28, 28, dtype=torch.float64)
    s = torch.sigmoid(logits)
    expected = (x * torch.log(s) + (1 - x) * torch.log(1 - s)).sum(dim=(1, 2, 3))
    assert torch.allclose(bernoulli_log_likelihood(logits, x), expected, rtol=1e-10)


def test_bernoulli_log_likelihood_is_stable_for_large_logits():
    logits = torch.tensor([[200.0, -200.0]])
    assert torch.allclose(bernoulli_log_likelihood(logits, torch.tensor([[1.0, 0.0]])), torch.zeros(1))
    assert torch.allclose(bernoulli_log_likelihood(logits, torch.tensor([[0.0, 1.0]])), torch.tensor([-400.0]))


def test_bernoulli_log_likelihood_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        bernoulli_log_likelihood(torch.zeros(2, 784), torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="same shape"):
        bernoulli_log_likelihood(torch.zeros(5), torch.zeros(5))


# ---- reparameterize ----

def test_reparameterized_samples_have_the_right_mean_and_variance():
    torch.manual_seed(0)
    mu = torch.tensor([-2.0, 0.0, 3.0]).expand(40_000, 3)
    logvar = torch.log(torch.tensor([0.25, 1.0, 4.0])).expand(40_000, 3)
    z = reparameterize(mu, logvar)
    assert z.shape == (40_000, 3) and z.dtype == torch.float32
    # standard errors: sigma / sqrt(n) <= 0.01 for the mean, about sigma^2 * sqrt(2 / n) for the variance
    assert torch.allclose(z.mean(0), torch.tensor([-2.0, 0.0, 3.0]), atol=0.05)
    assert torch.allclose(z.var(0), torch.tensor([0.25, 1.0, 4.0]), rtol=0.04)
    assert abs(torch.corrcoef(z.T)[0, 2]) < 0.03  # the noise is independent across dimensions


def test_reparameterize_with_given_noise_and_its_gradients():
    mu = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(4, 3, dtype=torch.float64)
    z = reparameterize(mu, logvar, eps=eps)
    assert torch.allclose(z, mu + torch.sqrt(torch.exp(logvar)) * eps)
    # finite differences through the sample: the point of the trick is that gradients reach mu and logvar
    assert torch.autograd.gradcheck(lambda m, lv: reparameterize(m, lv, eps=eps), (mu, logvar))


def test_reparameterize_draws_fresh_noise_and_rejects_bad_shapes():
    mu, logvar = torch.zeros(5, 2), torch.zeros(5, 2)
    assert not torch.equal(reparameterize(mu, logvar), reparameterize(mu, logvar))
    with pytest.raises(ValueError, match="N x D"):
        reparameterize(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="eps must have the shape"):
        reparameterize(mu, logvar, eps=torch.zeros(5))


# ---- the model ----

@pytest.mark.parametrize("arch, decoder", [("mlp", None), ("conv", None), ("conv", "mlp"), ("mlp", "conv")])
def test_vae_shapes_dtypes_and_rebuild_from_config(arch, decoder):
    model = small_vae(latent_dim=4, arch=arch, channels=4, decoder=decoder)
    x = binary_images(3)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 4) and mu.dtype == torch.float32
    logits = model.decode(mu)
    assert logits.shape == (3, 1, 28, 28)
    out_logits, out_mu, out_logvar = model(x)
    assert out_logits.shape == (3, 1, 28, 28) and torch.equal(out_mu, mu) and torch.equal(out_logvar, logvar)
    assert model.latent_dim == 4 and model.config["arch"] == arch and model.config["decoder"] == (decoder or arch)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules()) == (model.config["decoder"] == "conv")
    assert any(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules()) == (arch == "conv")
    assert all(isinstance(v, (int, str)) for v in model.config.values())  # plain values, safe to save
    twin = VAE(**model.config)
    twin.load_state_dict(model.state_dict())
    assert torch.equal(twin.decode(mu), logits)


def test_the_default_mlp_is_the_pytorch_examples_vae():
    """784-400-20: fc1 784x400, fc21/fc22 400x20, fc3 20x400, fc4 400x784 (pytorch/examples vae/main.py)."""
    model = VAE()
    sizes = sorted(tuple(p.shape) for p in model.parameters() if p.dim() == 2)
    assert sizes == sorted([(400, 784), (20, 400), (20, 400), (400, 20), (784, 400)])
    assert sum(p.numel() for p in model.parameters()) == 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 \
        + 400 * 784 + 784


def test_activation_option_sets_every_hidden_nonlinearity_of_the_mlp():
    model = VAE(latent_dim=3, arch="mlp", hidden=16, layers=2, channels=4, activation="elu")
    kinds = {type(m) for m in model.modules() if not isinstance(m, (torch.nn.Linear, torch.nn.Sequential,
             torch.nn.Flatten, torch.nn.Unflatten, VAE))}
    assert kinds == {torch.nn.ELU}
    assert VAE(**model.config).config == model.config
    # hidden layers only: no nonlinearity after the decoder's last layer, whose outputs are logits
    assert isinstance(model.decoder[0][-1], torch.nn.Linear)


def test_conv_vae_is_the_dcgan_discriminator_body_and_the_dcgan_generator():
    """One network, two objectives: the conv VAE's encoder is the DCGAN discriminator without its last layer, plus
    two linear heads; its decoder IS a DCGANGenerator, and the decoder's logits give exactly the generator's
    images through a sigmoid."""
    from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    model = VAE(latent_dim=8, arch="conv", channels=4)
    critic = DCGANDiscriminator(width=4)
    assert isinstance(model.decoder, DCGANGenerator) and model.decoder.config == DCGANGenerator(8, 4).config
    body_shapes = [tuple(p.shape) for p in model.encoder.parameters()]
    assert body_shapes == [tuple(p.shape) for p in critic.net[:-1].parameters()]
    with torch.no_grad():
        for a, b in zip(critic.net[:-1].parameters(), model.encoder.parameters()):
            b.copy_(a)
    x = binary_images(5)
    torch.testing.assert_close(model.encoder(x * 2 - 1), critic.features(x), rtol=0, atol=0)
    assert model.to_mu.in_features == model.to_logvar.in_features == 2 * 4 * 49
    model.eval()
    z = torch.randn(5, 8)
    torch.testing.assert_close(torch.sigmoid(model.decode(z)), model.decoder(z), rtol=1e-6, atol=1e-6)
    # an unmatched activation option does not touch the DCGAN parts
    kinds = {type(m) for m in VAE(latent_dim=3, arch="conv", channels=4, activation="elu").modules()}
    assert torch.nn.ELU not in kinds and torch.nn.LeakyReLU in kinds and torch.nn.BatchNorm2d in kinds


def test_three_channel_vae_for_stacked_digits():
    model = VAE(latent_dim=6, arch="conv", channels=4, image_channels=3)
    x = torch.rand(2, 3, 28, 28)
    logits, mu, _ = model(x)
    assert logits.shape == (2, 3, 28, 28) and mu.shape == (2, 6)
    assert model.sample(3).shape == (3, 3, 28, 28)
    with pytest.raises(ValueError, match="3 x 28 x 28"):
        model.encode(torch.rand(2, 1, 28, 28))


def test_sample_returns_bernoulli_means_and_honours_a_generator():
    model = small_vae(latent_dim=2)
    images = model.sample(6, generator=torch.Generator().manual_seed(3))
    assert images.shape == (6, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1 and not images.requires_grad
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(images, torch.sigmoid(model.decode(z)))
    assert torch.equal(images, model.sample(6, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="positive integer"):
        model.sample(0)


def test_reconstruct_decodes_the_encoder_mean():
    model, x = small_vae(), binary_images(2)
    assert torch.allclose(model.reconstruct(x), torch.sigmoid(model.decode(model.encode(x)[0])))


def test_bad_inputs_and_options_give_clear_errors():
    model = small_vae(latent_dim=3)
    with pytest.raises(ValueError, match=r"N x 1 x 28 x 28.*view\(-1, 1, 28, 28\)"):
        model.encode(torch.zeros(2, 784))
    with pytest.raises(ValueError, match="N x 3"):
        model.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="Unknown arch 'resnet'"):
        VAE(arch="resnet")
    with pytest.raises(ValueError, match="Unknown decoder 'gaussian'"):
        VAE(decoder="gaussian")
    with pytest.raises(ValueError, match="Unknown activation 'sigmoid'"):
        VAE(activation="sigmoid")
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        elbo(model, torch.full((2, 1, 28, 28), 255.0))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        iwae_bound(model, binary_images(2), 0)


# ---- elbo ----

def test_elbo_is_the_likelihood_of_the_sampled_code_minus_the_kl():
    model, x = small_vae(latent_dim=3), binary_images(5)
    torch.manual_seed(7)
    got = elbo(model, x)
    torch.manual_seed(7)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(5, 3)  # the noise elbo draws, in the same order
    log_px_z, _, _ = log_p_terms(model, x, z)
    kl = kl_divergence(Normal(mu.double(), torch.exp(0.5 * logvar.double())), Normal(0.0, 1.0)).sum(1)
    assert got.shape == (5,)
    assert torch.allclose(got.double(), log_px_z - kl, rtol=1e-5)


def test_beta_scales_only_the_kl_term():
    model, x = small_vae(), binary_images(4)
    values = {}
    for beta in (0.0, 1.0, 4.0):
        torch.manual_seed(1)
        values[beta] = elbo(model, x, beta=beta)
    kl = gaussian_kl(*model.encode(x))
    assert torch.allclose(values[0.0] - values[1.0], kl, atol=1e-3)
    assert torch.allclose(values[0.0] - values[4.0], 4 * kl, atol=1e-3)


# ---- iwae_bound ----

def test_iwae_with_one_sample_is_the_single_sample_elbo_estimate():
    """k = 1: log p(x|z) + log p(z) - log q(z|x) for the one z drawn (the ELBO with a sampled KL)."""
    model, x = small_vae(latent_dim=3), binary_images(4)
    torch.manual_seed(5)
    got = iwae_bound(model, x, 1)
    torch.manual_seed(5)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(4, 3)
    log_px_z, log_pz, log_qz = log_p_terms(model, x, z)
    assert got.shape == (4,)
    assert torch.allclose(got.double(), log_px_z + log_pz - log_qz, rtol=1e-5)


def test_iwae_with_one_sample_equals_the_elbo_in_expectation():
    model, x = small_vae(latent_dim=2, seed=2), binary_images(1).expand(3000, 1, 28, 28)
    torch.manual_seed(0)
    iwae1, single = iwae_bound(model, x, 1), elbo(model, x)
    standard_error = math.sqrt((iwae1.var() + single.var()).item() / len(x))
    assert abs(iwae1.mean() - single.mean()).item() < 5 * standard_error


def test_iwae_matches_a_brute_force_log_mean_exp():
    model, x, k = small_vae(latent_dim=3), binary_images(3, seed=1), 7
    torch.manual_seed(11)
    got = iwae_bound(model, x, k).detach()
    torch.manual_seed(11)
    mu, logvar = model.encode(x)
    eps = torch.randn(k, 3, 3)  # k x N x D, drawn in one go as iwae_bound does for small k * N
    for i in range(3):
        weights = []
        for j in range(k):
            z = (mu[i] + torch.exp(0.5 * logvar[i]) * eps[j, i]).unsqueeze(0)
            log_px_z, log_pz, log_qz = log_p_terms(model, x[i:i + 1], z)
            weights.append(math.exp((log_px_z + log_pz - log_qz).item()))  # float64 holds exp(-700) and above
        assert float(got[i]) == pytest.approx(math.log(sum(weights) / k), rel=1e-5)


def test_iwae_is_exact_when_q_is_the_true_posterior():
    """Decoder independent of z and q = the prior: every weight is p(x), whatever the samples (and chunks)."""
    model = small_vae(latent_dim=2)
    with torch.no_grad():
        for layer in (model.to_mu, model.to_logvar):
            layer.weight.zero_(), layer.bias.zero_()
        model.decoder[0][0].weight.zero_()  # the decoder's first layer ignores z
    x = binary_images(2500)  # more images than one chunk of samples holds: k is split into chunks
    log_px = bernoulli_log_likelihood(model.decode(torch.zeros(2500, 2)), x)
    assert torch.allclose(iwae_bound(model, x, 20), log_px, atol=1e-3)


def latent_1d_model():
    """A 1-D latent VAE whose decoder depends strongly on z, with a deliberately poor encoder."""
    model = small_vae(latent_dim=1, seed=4, hidden=16)
    with torch.no_grad():
        model.decoder[0][0].weight.mul_(2.0)
        model.to_logvar.bias.fill_(-1.0)  # q about 3 times wider than the posterior
    return model


def log_px_by_quadrature(model, x, points=4001, limit=9.0):
    """log p(x) = log of the integral of p(x|z) N(z; 0, 1) dz over a fine grid (1-D latent), in float64."""
    z = torch.linspace(-limit, limit, points, dtype=torch.float64)
    with torch.no_grad():
        logits = model.decode(z.float().unsqueeze(1)).double().flatten(1)  # points x 784
    log_px_z = x.double().flatten(1) @ logits.T - torch.nn.functional.softplus(logits).sum(1)  # N x points
    log_integrand = log_px_z + Normal(0.0, 1.0).log_prob(z)
    return torch.logsumexp(log_integrand, dim=1) + math.log(z[1] - z[0])


def test_iwae_rises_with_k_towards_the_exact_log_likelihood():
    model, x = latent_1d_model(), binary_images(10, seed=3, p=0.2)
    exact = log_px_by_quadrature(model, x)
    torch.manual_seed(0)
    with torch.no_grad():
        single = torch.stack([elbo(model, x) for _ in range(200)]).mean(0)
        bounds = {k: torch.stack([iwae_bound(model, x, k) for _ in range(repeats)]).mean(0)
                  for k, repeats in ((1, 200), (10, 100), (100, 20), (5000, 2))}
    means = [bounds[k].mean().item() for k in (1, 10, 100, 5000)]
    assert abs(bounds[1].mean() - single.mean()) < 0.02 * abs(single.mean())
    assert means[0] < means[1] < means[2] < means[3]           # monotone in k (in expectation)
    assert (bounds[5000] <= exact + 0.05).all()                    # a lower bound on log p(x)
    assert torch.allclose(bounds[5000].double(), exact, atol=0.05)  # ... that becomes tight as k grows
    assert (exact - bounds[1].double()).mean() > 2.0                # while the ELBO is loose here (about 7 nats)


# ---- rate and distortion ----

def test_rate_and_distortion_add_up_to_the_negative_elbo():
    model, x = small_vae(), binary_images(30)
    torch.manual_seed(2)
    rate, distortion = rate_distortion(model, x, batch_size=7)
    torch.manual_seed(2)
    expected = torch.cat([-elbo(model, x[i:i + 7]) for i in range(0, 30, 7)]).double().mean()
    assert rate == pytest.approx(gaussian_kl(*model.encode(x)).double().mean().item(), rel=1e-5)
    assert rate + distortion == pytest.approx(expected.item(), rel=1e-5)
