"""Wiring, not formulas: every option a training function accepts reaches the computation it names, and every
logged value equals an independent computation of what it claims to be."""
import copy

import pytest
import torch

from tutorial_lib import stabilize, train
from tutorial_lib.gan import LOSS_KINDS, MLPDiscriminator, MLPGenerator, discriminator_loss, gradient_penalty
from tutorial_lib.train import GANRecipe, train_gan, train_vae
from tutorial_lib.vae import VAE, bernoulli_log_likelihood, gaussian_kl

POINTS = torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) * 0.3 + 1


def tiny_gan(**kw):
    torch.manual_seed(0)
    return MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1, **kw)


class Recorder:
    """Wraps a function, recording the arguments and the value of every call."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kwargs):
        value = self.fn(*args, **kwargs)
        self.calls.append((args, kwargs, value))
        return value


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_train_gan_loss_reaches_both_losses(kind, monkeypatch):
    d_spy, g_spy = Recorder(train.discriminator_loss), Recorder(train.generator_loss)
    monkeypatch.setattr(train, "discriminator_loss", d_spy)
    monkeypatch.setattr(train, "generator_loss", g_spy)
    train_gan(*tiny_gan(), POINTS, GANRecipe(loss=kind, batch_size=16), steps=3, device="cpu")
    kinds = {(a[2] if len(a) > 2 else k.get("kind")) for a, k, _ in d_spy.calls}
    kinds |= {(a[1] if len(a) > 1 else k.get("kind")) for a, k, _ in g_spy.calls}
    assert kinds == {kind} and len(d_spy.calls) == 3 and len(g_spy.calls) == 3


@pytest.mark.parametrize("n_critic, gp_weight", [(1, 0.0), (3, 0.0), (3, 2.5)])
def test_logged_losses_are_the_mean_over_critic_steps_and_the_backward_values(n_critic, gp_weight, monkeypatch):
    d_spy, g_spy, gp_spy = (Recorder(f) for f in (train.discriminator_loss, train.generator_loss,
                                                  train.gradient_penalty))
    monkeypatch.setattr(train, "discriminator_loss", d_spy)
    monkeypatch.setattr(train, "generator_loss", g_spy)
    monkeypatch.setattr(train, "gradient_penalty", gp_spy)
    backward_values = []
    real_backward = torch.Tensor.backward

    def recording_backward(self, *args, **kwargs):
        backward_values.append(float(self.detach()))
        return real_backward(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", recording_backward)
    steps = 4
    recipe = GANRecipe(n_critic=n_critic, gp_weight=gp_weight, loss="wasserstein", batch_size=16)
    history = train_gan(*tiny_gan(), POINTS, recipe, steps=steps, device="cpu")
    d_values = [float(v.detach()) for _, _, v in d_spy.calls]
    assert len(d_values) == steps * n_critic
    expected = [sum(d_values[i * n_critic:(i + 1) * n_critic]) / n_critic for i in range(steps)]
    assert history.losses["d_loss"] == pytest.approx(expected, rel=1e-6)
    assert history.losses["g_loss"] == pytest.approx([float(v.detach()) for _, _, v in g_spy.calls], rel=1e-6)
    penalties = [float(v.detach()) for _, _, v in gp_spy.calls]
    assert len(penalties) == (steps * n_critic if gp_weight else 0)
    if gp_weight:
        assert history.losses["gp"] == pytest.approx(
            [sum(penalties[i * n_critic:(i + 1) * n_critic]) / n_critic for i in range(steps)], rel=1e-6)
    # what was minimized: each critic step's d_loss + gp_weight * penalty, then the generator's loss
    critic_totals = [d + gp_weight * (penalties[i] if gp_weight else 0.0) for i, d in enumerate(d_values)]
    expected_backward = []
    for step in range(steps):
        expected_backward += critic_totals[step * n_critic:(step + 1) * n_critic] + [history.losses["g_loss"][step]]
    assert backward_values == pytest.approx(expected_backward, rel=1e-5, abs=1e-7)


def test_learning_rates_betas_and_batch_size_reach_the_optimizers_and_the_discriminator(monkeypatch):
    seen = []
    real_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        group = self.param_groups[0]
        seen.append((group["lr"], tuple(group["betas"]), len(group["params"])))
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    g, d = tiny_gan()
    shapes = []
    d.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    train_gan(g, d, POINTS, GANRecipe(lr_g=3e-3, lr_d=7e-4, betas=(0.1, 0.8), batch_size=24), steps=2, device="cpu")
    n_d, n_g = len(list(d.parameters())), len(list(g.parameters()))
    assert seen == [(7e-4, (0.1, 0.8), n_d), (3e-3, (0.1, 0.8), n_g)] * 2
    assert set(shapes) == {(24, 2)}


def test_train_vae_lr_reaches_the_optimizer(monkeypatch):
    seen = []
    real_step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step",
                        lambda self, *a, **k: (seen.append(self.param_groups[0]["lr"]), real_step(self, *a, **k))[1])
    train_vae(VAE(latent_dim=2, hidden=8), [(torch.rand(4, 1, 28, 28), None)] * 2, epochs=1, lr=4e-4, device="cpu")
    assert seen == [4e-4, 4e-4]


def test_the_logged_vae_terms_are_per_image_means_of_an_independent_computation():
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=16)
    x = torch.rand(10, 1, 28, 28).round()
    initial = copy.deepcopy(model)
    torch.manual_seed(42)
    history = train_vae(model, [(x, None)], epochs=1, beta=2.5, device="cpu")
    torch.manual_seed(42)  # the same noise the training step drew
    with torch.no_grad():
        logits, mu, logvar = initial(x)
        per_image_rec = -bernoulli_log_likelihood(logits, x)
        per_image_kl = gaussian_kl(mu, logvar)
    # independent: BCE summed over the pixels of each image, then averaged over the 10 images
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 10
    assert history.losses["reconstruction"][0] == pytest.approx(float(bce), rel=1e-5)
    assert history.losses["reconstruction"][0] == pytest.approx(float(per_image_rec.mean()), rel=1e-5)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / 10
    assert history.losses["kl"][0] == pytest.approx(float(kl), rel=1e-5)
    assert history.losses["kl"][0] == pytest.approx(float(per_image_kl.mean()), rel=1e-5)
    assert history.losses["loss"][0] == pytest.approx(float(bce + 2.5 * kl), rel=1e-5)


def test_kl_warmup_and_beta_reach_what_is_minimized(monkeypatch):
    backward_values = []
    real_backward = torch.Tensor.backward
    monkeypatch.setattr(torch.Tensor, "backward",
                        lambda self, *a, **k: (backward_values.append(float(self.detach())),
                                               real_backward(self, *a, **k))[1])
    torch.manual_seed(0)
    data = [(torch.rand(4, 1, 28, 28), None)] * 4
    history = train_vae(VAE(latent_dim=2, hidden=8), data, epochs=1, beta=4.0, kl_warmup_steps=2, device="cpu")
    weights = [2.0, 4.0, 4.0, 4.0]
    expected = [r + w * k for r, w, k in zip(history.losses["reconstruction"], weights, history.losses["kl"])]
    assert backward_values == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_run_2d_spectral_norm_reaches_every_discriminator_layer(spectral_norm, monkeypatch):
    built = []

    class Recording(MLPDiscriminator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(stabilize, "MLPDiscriminator", Recording)
    stabilize.run_2d("baseline", "ring", steps=1, n_eval=20, spectral_norm=spectral_norm, hidden=8, depth=1)
    (d,) = built
    linears = [m for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(torch.nn.utils.parametrize.is_parametrized(m) == spectral_norm for m in linears)


def test_run_2d_passes_its_recipe_to_train_gan_and_updates_the_ema_every_step(monkeypatch):
    calls, updates = [], []
    real_train_gan, real_update = stabilize.train_gan, stabilize.EMA.update

    def spy_train_gan(*args, **kwargs):
        calls.append((args, kwargs))
        return real_train_gan(*args, **kwargs)

    def spy_update(self, module):
        updates.append(module)
        return real_update(self, module)

    monkeypatch.setattr(stabilize, "train_gan", spy_train_gan)
    monkeypatch.setattr(stabilize.EMA, "update", spy_update)
    result = stabilize.run_2d("wgan-gp", "grid", steps=6, n_eval=50, hidden=8, depth=1, lr=2e-3, n_critic=2,
                              batch_size=32, betas=(0.0, 0.9), lr_schedule="cosine")
    ((args, kwargs),) = calls
    assert args[3] == GANRecipe(loss="wasserstein", gp_weight=0.1, n_critic=2, batch_size=32, betas=(0.0, 0.9),
                                lr_schedule="cosine", lr_g=2e-3, lr_d=2e-3)
    assert kwargs["steps"] == 6 and kwargs["every"] == 1
    assert len(updates) == 6 and len(result["history"].losses["d_loss"]) == 6
    # the averaged generator really is an average: it differs from the last generator and from no update at all
    assert not torch.equal(result["ema_samples"], result["samples"])


def test_ema_update_moves_towards_the_weights_by_the_documented_decay():
    module = torch.nn.Linear(2, 1)
    ema = stabilize.EMA(module, decay=0.5)
    start = module.weight.detach().clone()
    with torch.no_grad():
        module.weight.add_(1.0)
    ema.update(module)  # d = min(0.5, 1/10) = 0.1: average = 0.1 * start + 0.9 * new
    assert torch.allclose(ema.module.weight, 0.1 * start + 0.9 * module.weight)


def record_what_the_critic_minimizes(monkeypatch):
    """(values passed to backward, values of discriminator_loss), filled in as train_gan runs."""
    backward_values, d_values = [], []
    monkeypatch.setattr(train, "discriminator_loss",
                        lambda r, f, kind: (d_values.append(float(discriminator_loss(r, f, kind).detach())),
                                            discriminator_loss(r, f, kind))[1])
    real_backward = torch.Tensor.backward
    monkeypatch.setattr(torch.Tensor, "backward",
                        lambda self, *a, **k: (backward_values.append(float(self.detach())),
                                               real_backward(self, *a, **k))[1])
    return backward_values, d_values


def test_gradient_penalty_weight_is_the_one_given(monkeypatch):
    """A fixed penalty value makes the weight visible in what the critic minimizes."""
    monkeypatch.setattr(train, "gradient_penalty",
                        lambda critic, real, fake: sum(p.sum() for p in critic.parameters()) * 0 + 2.0)
    backward_values, d_values = record_what_the_critic_minimizes(monkeypatch)
    train_gan(*tiny_gan(), POINTS, GANRecipe(gp_weight=3.0, batch_size=16), steps=1, device="cpu")
    assert backward_values[0] == pytest.approx(d_values[0] + 3.0 * 2.0, rel=1e-6)
    assert gradient_penalty is not train.gradient_penalty  # the patch was in effect


def test_r1_weight_halved_times_the_penalty_on_the_real_batch_is_what_the_discriminator_minimizes(monkeypatch):
    seen = []

    def fixed(discriminator, real):
        seen.append(real.detach().clone())
        return sum(p.sum() for p in discriminator.parameters()) * 0 + 2.0

    monkeypatch.setattr(train, "r1_penalty", fixed)
    backward_values, d_values = record_what_the_critic_minimizes(monkeypatch)
    history = train_gan(*tiny_gan(), POINTS, GANRecipe(r1_weight=3.0, batch_size=16), steps=2, device="cpu")
    assert backward_values[0] == pytest.approx(d_values[0] + 3.0 / 2 * 2.0, rel=1e-6)  # gamma / 2 * R1
    assert backward_values[2] == pytest.approx(d_values[1] + 3.0, rel=1e-6)
    assert history.losses["r1"] == [2.0, 2.0] and history.losses["d_loss"] == pytest.approx(d_values, rel=1e-6)
    rows = {tuple(row.tolist()) for row in POINTS}
    assert len(seen) == 2 and all(tuple(row.tolist()) in rows for batch in seen for row in batch)  # real, not fake


def test_train_vae_lr_schedule_reaches_the_optimizer(monkeypatch):
    import math

    seen = []
    real_step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step",
                        lambda self, *a, **k: (seen.append(self.param_groups[0]["lr"]), real_step(self, *a, **k))[1])
    data = [(torch.rand(4, 1, 28, 28), None)] * 2
    train_vae(VAE(latent_dim=2, hidden=8), data, epochs=2, lr=1e-3, lr_schedule="cosine", device="cpu")
    assert seen == pytest.approx([1e-3 * (1 + math.cos(math.pi * i / 4)) / 2 for i in range(4)])


def test_run_2d_network_options_reach_the_networks(monkeypatch):
    built = []
    for name in ("MLPGenerator", "MLPDiscriminator"):
        cls = getattr(stabilize, name)
        monkeypatch.setattr(stabilize, name, type(name, (cls,), {"__init__": lambda self, *a, _cls=cls, **k: (
            _cls.__init__(self, *a, **k), built.append(self))[0]}))
    stabilize.run_2d("pacgan", "ring", steps=1, n_eval=20, hidden=12, depth=2, latent_dim=3, batch_size=8)
    g, d = built
    assert g.config == {"latent_dim": 3, "hidden": 12, "depth": 2, "out_dim": 2}
    assert d.config == {"in_dim": 2, "hidden": 12, "depth": 2, "spectral_norm": False, "pack": 2}


def test_nll_passes_k_to_the_iwae_bound_and_negative_elbo_its_seed(monkeypatch):
    from tutorial_lib import metrics, vae

    seen = []
    real = vae.iwae_bound
    monkeypatch.setattr(vae, "iwae_bound", lambda model, x, k: (seen.append(k), real(model, x, k))[1])
    torch.manual_seed(0)
    model, x = VAE(latent_dim=2, hidden=8), torch.rand(5, 1, 28, 28).round()
    metrics.nll(model, x, k=7, batch_size=5)
    assert seen == [7]
    a, b, c = (metrics.negative_elbo(model, x, seed=s) for s in (1, 1, 2))
    assert a == b and a != c


def test_kid_seed_chooses_the_subsets():
    from tutorial_lib import metrics

    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(12, 1, 28, 28, generator=g), torch.rand(12, 1, 28, 28, generator=g) ** 2
    options = dict(subsets=3, subset_size=5)
    assert metrics.kid(real, fake, seed=3, **options) == metrics.kid(real, fake, seed=3, **options)
    assert metrics.kid(real, fake, seed=3, **options) != metrics.kid(real, fake, seed=4, **options)
