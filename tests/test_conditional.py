"""tutorial_lib.conditional against independent references (closed forms, brute force, torch.distributions) and the
shipped conditional models' loading and sampling rules."""
import math

import pytest
import torch

from tutorial_lib import conditional as cd
from tutorial_lib.gan import DCGANDiscriminator


def test_check_labels_and_one_hot():
    torch.testing.assert_close(cd.one_hot(torch.tensor([0, 9, 3])), torch.eye(10)[[0, 9, 3]])
    for bad, message in [([1, 2], "tensor"), (torch.tensor([0.0, 1.0]), "integer"), (torch.tensor([3, 10]), "0..9"),
                         (torch.tensor([-1]), "0..9"), (torch.zeros(2, 2, dtype=torch.long), "1-D")]:
        with pytest.raises((TypeError, ValueError), match=message):
            cd.check_labels(bad)
    with pytest.raises(ValueError, match="one label per image"):
        cd.check_labels(torch.tensor([1, 2]), n=3)


def test_cvae_elbo_matches_a_direct_computation_with_torch_distributions():
    torch.manual_seed(0)
    model = cd.CVAE(latent_dim=3, hidden=8)
    x = torch.bernoulli(torch.rand(4, 1, 28, 28))
    y = torch.tensor([0, 3, 3, 9])
    torch.manual_seed(1)
    got = cd.cvae_elbo(model, x, y, beta=2.0)
    torch.manual_seed(1)
    mu, logvar = model.encode(x, y)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    logits = model.decode(z, y)
    log_px = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(got, log_px - 2.0 * kl, rtol=1e-5, atol=1e-4)


def test_cvae_uses_the_label():
    torch.manual_seed(0)
    model = cd.CVAE(latent_dim=2, hidden=8)
    z = torch.zeros(2, 2)
    assert not torch.allclose(model.decode(z, torch.tensor([0, 0])), model.decode(z, torch.tensor([0, 5])))


def test_conditional_gan_networks_shapes_and_projection():
    torch.manual_seed(0)
    g, d = cd.ConditionalGenerator(latent_dim=8, width=4), cd.ConditionalDiscriminator(width=4)
    labels = torch.tensor([1, 2, 3])
    images = g.sample(3, labels=labels)
    assert images.shape == (3, 1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
    logits = d(images, labels)
    assert logits.shape == (3,)
    # projection: D(x, y) - D(x, y') = (e_y - e_y') . h(x), computed by hand
    h = d.body(images * 2 - 1)
    torch.testing.assert_close(d.features(images), h)
    by_hand = ((d.embed.weight[1] - d.embed.weight[7]) * h[0]).sum()
    diff = d(images[:1], torch.tensor([1])) - d(images[:1], torch.tensor([7]))
    torch.testing.assert_close(diff[0], by_hand)
    with pytest.raises(ValueError, match="conditional: pass labels"):
        g.sample(3)


def test_cgan_step_updates_both_networks_and_train_cgan_records_losses():
    from tutorial_lib.data import load_mnist

    data = load_mnist(train=True, limit=256)
    torch.manual_seed(0)
    g, d = cd.ConditionalGenerator(latent_dim=8, width=4), cd.ConditionalDiscriminator(width=4)
    before_g, before_d = [p.clone() for p in g.parameters()], [p.clone() for p in d.parameters()]
    record = cd.train_cgan(g, d, data, steps=3)
    assert record["steps"] == 3 and len(record["d_loss"]) == 3 and all(math.isfinite(v) for v in record["g_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before_g, g.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, d.parameters()))


def test_free_bits_kl_against_a_brute_force_loop():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    for lam in (0.0, 0.2, 1.0, 5.0):
        total = 0.0
        for d in range(4):
            kl_d = sum(0.5 * (mu[n, d] ** 2 + math.exp(logvar[n, d]) - 1 - logvar[n, d]) for n in range(7)) / 7
            total += max(lam, float(kl_d))
        assert float(cd.free_bits_kl(mu, logvar, lam)) == pytest.approx(total, rel=1e-5)
    with pytest.raises(ValueError, match="free_bits"):
        cd.free_bits_kl(mu, logvar, -1.0)


def test_free_bits_give_no_gradient_below_the_threshold():
    mu = torch.full((5, 2), 0.1, requires_grad=True)
    cd.free_bits_kl(mu, torch.zeros(5, 2), 1.0).backward()
    assert torch.equal(mu.grad, torch.zeros(5, 2))


def test_kl_weight_schedule():
    assert [cd.kl_weight(s, 4, beta=2.0) for s in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert cd.kl_weight(0, 0, beta=3.0) == 3.0
    with pytest.raises(ValueError):
        cd.kl_weight(-1, 5)


def test_train_collapse_uses_the_given_kl_weight_function():
    images = torch.bernoulli(torch.full((64, 1, 28, 28), 0.2), generator=torch.Generator().manual_seed(0))
    seen = []

    def schedule(step, warmup_steps, beta):
        seen.append((step, warmup_steps, beta))
        return 0.25 * beta

    torch.manual_seed(0)
    record = cd.train_collapse(cd.CollapseVAE(latent_dim=2, hidden=8), images, epochs=2, beta=4.0, warmup_steps=3,
                               batch_size=32, kl_weight_fn=schedule)
    assert seen == [(s, 3, 4.0) for s in range(4)] and record["weight"] == [1.0] * 4
    torch.manual_seed(0)
    default = cd.train_collapse(cd.CollapseVAE(latent_dim=2, hidden=8), images, epochs=2, beta=4.0, warmup_steps=3,
                                batch_size=32)
    assert default["weight"] == [cd.kl_weight(s, 3, 4.0) for s in range(4)]


def test_collapse_vae_decoder_is_autoregressive():
    """Logit i must not depend on pixels j >= i (brute force: change one pixel, see which logits move)."""
    torch.manual_seed(0)
    model = cd.CollapseVAE(latent_dim=2, hidden=8, autoregressive=True)
    with torch.no_grad():
        model.autoregressive.weight.normal_()
    z, x = torch.zeros(1, 2), torch.zeros(1, 1, 28, 28)
    base = model.decode(z, x).flatten()
    for pixel in (0, 100, 783):
        changed = x.clone().view(-1)
        changed[pixel] = 1.0
        moved = (model.decode(z, changed.view(1, 1, 28, 28)).flatten() - base).abs() > 0
        assert not moved[: pixel + 1].any() and (pixel == 783 or moved[pixel + 1:].any())


def test_collapse_iwae_bound_is_exact_when_q_is_the_posterior():
    """A decoder that ignores z and q = the prior: every importance weight is p(x), so the bound is exact for any k."""
    torch.manual_seed(0)
    model = cd.CollapseVAE(latent_dim=2, hidden=8, autoregressive=True)
    with torch.no_grad():
        model.autoregressive.weight.normal_(std=0.1)
        for layer in (model.to_mu, model.to_logvar):
            layer.weight.zero_(), layer.bias.zero_()
        model.decoder[-1].weight.zero_()
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(1))
    logits = model.decode(torch.zeros(3, 2), x)
    exact = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    for k in (1, 7):
        torch.testing.assert_close(cd.collapse_iwae_bound(model, x, k), exact, rtol=1e-5, atol=1e-3)


def test_train_collapse_runs_with_annealing_and_free_bits():
    images = torch.bernoulli(torch.full((64, 1, 28, 28), 0.2), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = cd.CollapseVAE(latent_dim=2, hidden=8, autoregressive=True)
    record = cd.train_collapse(model, images, epochs=2, warmup_steps=3, free_bits=0.1, batch_size=32)
    assert record["steps"] == 4 and all(math.isfinite(v) for v in record["loss"])
    samples = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (2, 1, 28, 28) and set(samples.unique().tolist()) <= {0.0, 1.0}


def test_train_collapse_uses_the_given_free_bits_function():
    images = torch.bernoulli(torch.full((64, 1, 28, 28), 0.2), generator=torch.Generator().manual_seed(0))
    calls = []

    def recorded(mu, logvar, free_bits):
        calls.append(free_bits)
        return cd.free_bits_kl(mu, logvar, free_bits)

    runs = []
    for fn in (None, recorded):
        torch.manual_seed(0)
        model = cd.CollapseVAE(latent_dim=2, hidden=8)
        runs.append(cd.train_collapse(model, images, epochs=1, free_bits=0.25, batch_size=32, free_bits_fn=fn))
    assert calls == [0.25, 0.25]  # once per step, with the run's free bits
    assert runs[0]["loss"] == runs[1]["loss"]  # the default is the library's free_bits_kl
    torch.manual_seed(0)
    x = images[:8]
    model = cd.CollapseVAE(latent_dim=2, hidden=8)
    model.eval()
    with torch.no_grad():
        objectives = []
        doubled_fn = lambda mu, logvar, fb: 2 * cd.free_bits_kl(mu, logvar, fb)  # noqa: E731
        for options in ({"free_bits": 0.25}, {"beta": 0.0}, {"free_bits": 0.25, "free_bits_fn": doubled_fn}):
            torch.manual_seed(1)  # the same reparameterization noise for all three
            objectives.append(cd.collapse_elbo(model, x, **options)[0])
    plain, reconstruction, doubled = objectives
    torch.testing.assert_close(doubled - reconstruction, 2 * (plain - reconstruction))


def test_label_accuracy_and_per_class_fid_against_the_classifier_by_hand():
    from tutorial_lib.data import load_mnist
    from tutorial_lib.metrics import fid, mnist_classifier

    test = load_mnist(train=False, limit=300)
    with torch.no_grad():
        predicted = mnist_classifier()(test.images).argmax(1)
    expected = float((predicted == test.labels).double().mean())
    assert cd.label_accuracy(test.images, test.labels) == pytest.approx(expected, abs=1e-12)
    assert cd.label_accuracy(test.images, (test.labels + 1) % 10) < 0.05
    fids = cd.per_class_fid(test.images[:150], test.labels[:150], test.images[150:], test.labels[150:])
    assert set(fids) == set(range(10))
    d = 3
    assert fids[d] == pytest.approx(fid(test.images[:150][test.labels[:150] == d], test.images[150:][test.labels[150:] == d]))


def test_label_accuracy_from_probabilities_on_a_known_answer_and_its_checker():
    from tutorial_lib.checks import check_label_accuracy

    probs = torch.tensor([[0.1, 0.9] + [0.0] * 8, [0.6, 0.4] + [0.0] * 8, [0.0] * 9 + [1.0], [0.5, 0.0] + [0.05] * 8])
    assert cd.label_accuracy_from_probabilities(probs, torch.tensor([1, 1, 9, 0])) == 0.75
    with pytest.raises(ValueError, match="one label per image"):
        cd.label_accuracy_from_probabilities(probs, torch.tensor([1, 1]))
    assert check_label_accuracy(cd.label_accuracy_from_probabilities) is True


def test_vae_gan_is_the_conv_vae_network_with_images_out():
    """The VAE-GAN has the layers (and parameter names) of vae.VAE(arch="conv"); decode = sigmoid of its logits."""
    from tutorial_lib.vae import VAE

    torch.manual_seed(0)
    model, vae = cd.VAEGAN(latent_dim=8, width=4), VAE(latent_dim=8, arch="conv", channels=4)
    assert list(model.state_dict()) == list(vae.state_dict())
    vae.load_state_dict(model.state_dict())
    model.eval(), vae.eval()
    x, z = torch.rand(3, 1, 28, 28), torch.randn(3, 8)
    for a, b in zip(model.encode(x), vae.encode(x)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(model.logits(z), vae.decode(z))
    torch.testing.assert_close(model.decode(z), torch.sigmoid(vae.decode(z)), rtol=0, atol=1e-6)
    assert model.sample(4).shape == (4, 1, 28, 28) and cd.VAEGAN(**model.config).config == model.config
    encoder = {id(p) for p in model.encoder_parameters()}
    assert encoder.isdisjoint(id(p) for p in model.decoder.parameters())
    assert len(encoder) + len(list(model.decoder.parameters())) == len(list(model.parameters()))


def test_vae_gan_step_gives_each_part_its_own_loss():
    """Larsen et al.'s split, computed independently with torch.autograd.grad: with plain SGD each part moves by lr
    times the gradient of its own loss (discriminator: GAN loss; encoder: KL + L_feat; decoder: gamma L_feat + GAN)."""
    from torch.nn import functional as F

    torch.manual_seed(0)
    model, disc = cd.VAEGAN(latent_dim=4, width=2), DCGANDiscriminator(width=2)
    real, prior_z, lr, gamma = torch.rand(5, 1, 28, 28), torch.randn(5, 4), 0.1, 0.5
    enc, dec, dis = model.encoder_parameters(), list(model.decoder.parameters()), list(disc.parameters())
    before = [p.detach().clone() for p in enc + dec + dis]
    opts = [torch.optim.SGD(params, lr=lr) for params in (enc, dec, dis)]
    torch.manual_seed(1)
    out = cd.vae_gan_step(model, disc, *opts, real, prior_z, gamma)
    after = [p.detach().clone() for p in enc + dec + dis]
    # the same by hand, from the weights before the step
    with torch.no_grad():
        for p, b in zip(enc + dec + dis, before):
            p.copy_(b)
    torch.manual_seed(1)
    mu, logvar = model.encode(real)
    recon = model.decode(mu + (0.5 * logvar).exp() * torch.randn_like(mu))
    prior = model.decode(prior_z)
    logits_real, logits_fake = disc(real), disc(torch.cat([recon, prior]).detach())
    d_loss = (F.binary_cross_entropy_with_logits(logits_real, torch.ones(5))
              + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros(10)))
    with torch.no_grad():
        for p, g in zip(dis, torch.autograd.grad(d_loss, dis)):
            p -= lr * g
    feature = 0.5 * (disc.features(real).detach() - disc.features(recon)).pow(2).sum(1).mean()
    kl = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)).mean()
    g_loss = F.binary_cross_entropy_with_logits(disc(torch.cat([recon, prior])), torch.ones(10))
    grads = (torch.autograd.grad(kl + feature, enc, retain_graph=True)
             + torch.autograd.grad(gamma * feature + g_loss, dec))
    expected = [b - lr * g for b, g in zip(before, grads)] + [p.detach() for p in dis]
    for got, want in zip(after, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert out == pytest.approx({"d_loss": d_loss.item(), "kl": kl.item(), "feature": feature.item(),
                                 "g_loss": g_loss.item()}, rel=1e-5)


def test_train_vae_gan_records_losses_and_runs_a_given_step():
    from tutorial_lib.data import load_mnist

    data = load_mnist(train=True, limit=128)
    calls = []

    def recorded(model, disc, opt_enc, opt_dec, opt_d, real, prior_z, gamma):
        calls.append((real.shape, prior_z.shape, gamma))
        return cd.vae_gan_step(model, disc, opt_enc, opt_dec, opt_d, real, prior_z, gamma)

    records = []
    for step in (None, recorded):
        torch.manual_seed(0)
        model, disc = cd.VAEGAN(latent_dim=8, width=4), DCGANDiscriminator(width=4)
        records.append(cd.train_vae_gan(model, disc, data, steps=2, batch_size=32, gamma=0.1, step=step))
    assert calls == [((32, 1, 28, 28), (32, 8), 0.1)] * 2
    assert records[0]["steps"] == 2 and set(records[0]) >= {"d_loss", "kl", "feature", "g_loss"}
    assert records[0]["g_loss"] == records[1]["g_loss"]  # the default step is the library's vae_gan_step


def test_seconds_per_step_times_both_steps():
    vae_gan_s, dcgan_s = cd.seconds_per_step(width=2, latent_dim=4, batch_size=8, steps=1)
    assert 0 < vae_gan_s < 60 and 0 < dcgan_s < 60


def test_a_checkpoint_of_an_earlier_architecture_gets_a_clear_error():
    with pytest.raises(ValueError, match="earlier architecture.*train_conditional.py --only vae_gan"):
        cd.build_model("vae_gan", {"latent_dim": 64, "width": 32, "hidden": 128})
    with pytest.raises(ValueError, match="Unknown conditional model kind"):
        cd.build_model("vaegan", {})


def test_generate_rules_for_conditional_and_unconditional_models():
    from tutorial_lib.pretrained import build, generate

    cvae = build("cvae", {"latent_dim": 4, "hidden": 8})
    labels = torch.tensor([0, 1, 2, 3])
    first, again = generate(cvae, 4, seed=3, labels=labels), generate(cvae, 4, seed=3, labels=labels)
    assert first.shape == (4, 1, 28, 28) and torch.equal(first, again)
    with pytest.raises(ValueError, match="conditional: pass labels"):
        generate(cvae, 4)
    with pytest.raises(ValueError, match="one label per image"):
        generate(cvae, 5, labels=labels)
    vae_gan = build("vae_gan", {"latent_dim": 4, "width": 4})
    with pytest.raises(ValueError, match="not conditional"):
        generate(vae_gan, 4, labels=labels)
    assert generate(vae_gan, 3).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("name", sorted(cd.CONDITIONAL))
def test_shipped_conditional_models_load_and_sample(name):
    from tutorial_lib.metrics import ASSETS
    from tutorial_lib.pretrained import generate, load_pretrained

    if not (ASSETS / f"{name}.pt").is_file():
        pytest.fail(f"{name}.pt is not shipped: run scripts/train_conditional.py --only {name}")
    model, info = load_pretrained(name)
    recipe = cd.CONDITIONAL_RECIPES[name]
    assert info["steps"] == recipe["steps"] and info["config"] == recipe["config"] and info["wall_time"] > 0
    assert (ASSETS / f"{name}.pt").stat().st_size < 2_000_000
    labels = torch.arange(10)
    images = generate(model, 10, labels=labels if getattr(model, "conditional", False) else None)
    assert images.shape == (10, 1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
