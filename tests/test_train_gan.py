"""tutorial_lib.train.train_gan: alternating updates, n_critic, packing, the NaN guard, checkpoints and
resuming, the wall-clock budget, callbacks, and both kinds of data (a tensor of points, a loader of images)."""
import math
import time

import pytest
import torch

import tutorial_lib.train as train
from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from tutorial_lib.train import (GANRecipe, History, TrainingDiverged, load_checkpoint, start_or_resume, time_is_up,
                                train_gan)


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def points(n=256):
    return torch.randn(n, 2) * 0.1 + torch.tensor([1.0, -1.0])


def tiny(pack=1, **kw):
    return MLPGenerator(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1, pack=pack, **kw)


class Spy(torch.nn.Module):
    """Wraps a discriminator and records the shape of every input it sees."""

    def __init__(self, inner, delay=0.0):
        super().__init__()
        self.inner, self.delay, self.shapes = inner, delay, []
        self.pack = getattr(inner, "pack", 1)

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        if self.delay:
            time.sleep(self.delay)
        return self.inner(x)


def test_a_few_steps_change_the_generator_and_log_both_losses():
    g, d = tiny()
    before = [p.detach().clone() for p in g.parameters()]
    history = train_gan(g, d, points(), GANRecipe(batch_size=32), steps=5, device="cpu")
    assert isinstance(history, History) and history.steps == 5
    assert set(history.losses) == {"d_loss", "g_loss"}
    assert all(len(v) == 5 for v in history.losses.values())
    assert all(v == v and abs(v) < 1e3 for values in history.losses.values() for v in values)
    assert history.wall_time > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))


def test_training_moves_the_generator_towards_the_data():
    g, d = MLPGenerator(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1)
    data = torch.randn(1000, 2) * 0.1 + torch.tensor([2.0, 2.0])
    start = (g.sample(500).mean(0) - data.mean(0)).norm()
    train_gan(g, d, data, GANRecipe(lr_g=3e-3, lr_d=3e-3, batch_size=64), steps=150, device="cpu")
    end = (g.sample(500).mean(0) - data.mean(0)).norm()
    assert end < 0.4 * start  # seeds 0-5 give 0.08-0.35


@pytest.mark.parametrize("kind", ["minimax", "hinge", "wasserstein"])
def test_every_loss_kind_trains(kind):
    g, d = tiny(spectral_norm=kind == "hinge")
    recipe = GANRecipe(loss=kind, batch_size=16, gp_weight=10.0 if kind == "wasserstein" else 0.0)
    history = train_gan(g, d, points(), recipe, steps=3, device="cpu")
    assert history.steps == 3 and ("gp" in history.losses) == (kind == "wasserstein")
    assert len(history.losses.get("gp", [0, 0, 0])) == 3


def test_the_discriminator_loss_is_logged_as_the_discriminator_loss_of_the_data():
    """d_loss is the loss of the batch the discriminator saw (before its update), so it is about log 4 for
    an untrained discriminator whose outputs are all about zero."""
    g, d = tiny()
    with torch.no_grad():
        for p in d.parameters():
            p.zero_()
    history = train_gan(g, d, points(), GANRecipe(lr_d=1e-6, batch_size=32), steps=1, device="cpu")
    assert history.losses["d_loss"][0] == pytest.approx(2 * torch.log(torch.tensor(2.0)).item(), rel=1e-5)


@pytest.mark.parametrize("n_critic", [1, 3])
def test_n_critic_counts_critic_steps(n_critic, monkeypatch):
    g, d = tiny()
    spy = Spy(d)
    critic_steps = []
    original = train.discriminator_loss

    def counting(real, fake, kind):
        critic_steps.append(1)
        return original(real, fake, kind)

    monkeypatch.setattr(train, "discriminator_loss", counting)
    history = train_gan(g, spy, points(), GANRecipe(n_critic=n_critic, batch_size=8), steps=4, device="cpu")
    assert len(critic_steps) == 4 * n_critic
    assert len(spy.shapes) == 4 * (2 * n_critic + 1)  # real + fake per critic step, fake per generator step
    assert len(history.losses["d_loss"]) == 4


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_pack_feeds_the_discriminator_m_fold_inputs(pack):
    g, d = tiny(pack=pack)
    spy = Spy(d)
    data = points()
    history = train_gan(g, spy, data, GANRecipe(pack=pack, batch_size=16), steps=2, device="cpu")
    assert history.steps == 2
    assert set(spy.shapes) == {(16 // pack, 2 * pack)}


def test_packing_keeps_samples_together():
    """Each packed input row is `pack` consecutive samples concatenated (PacGAN), not a shuffle."""
    x = torch.arange(24.0).reshape(6, 2, 2)  # 6 samples
    packed = train._pack(x, 3)
    assert packed.shape == (2, 6, 2)
    assert torch.equal(packed[1], torch.cat([x[3], x[4], x[5]]))
    flat = torch.arange(12.0).reshape(6, 2)
    assert torch.equal(train._pack(flat, 2)[2], torch.tensor([8.0, 9.0, 10.0, 11.0]))


def test_pack_errors_are_clear():
    g, d = tiny(pack=2)
    with pytest.raises(ValueError, match="built for pack=2 but the recipe has pack=1"):
        train_gan(g, d, points(), steps=1, device="cpu")
    with pytest.raises(ValueError, match=r"batch_size \(10\) must be a multiple of pack \(4\)"):
        train_gan(*tiny(pack=4), points(), GANRecipe(pack=4, batch_size=10), steps=1, device="cpu")


def test_a_nan_in_the_discriminator_loss_stops_training_and_names_a_learning_rate(monkeypatch):
    monkeypatch.setattr(train, "discriminator_loss", lambda real, fake, kind: (real.mean() + fake.mean()) * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"discriminator loss became nan at step 0.*lr=3e-05 instead of lr=0.0003"):
        train_gan(*tiny(), points(), GANRecipe(lr_d=3e-4), steps=5, device="cpu")


def test_a_nan_in_the_generator_loss_stops_training_and_names_a_learning_rate(monkeypatch):
    calls = []

    def nan_after_two(fake_logits, kind):
        calls.append(1)
        loss = fake_logits.mean() * 0
        return loss + float("nan") if len(calls) > 2 else loss

    monkeypatch.setattr(train, "generator_loss", nan_after_two)
    with pytest.raises(TrainingDiverged, match=r"generator loss became nan at step 2.*lr=0.0001 instead of lr=0.001"):
        train_gan(*tiny(), points(), GANRecipe(lr_g=1e-3), steps=5, device="cpu")


def test_checkpoint_round_trips_and_resumes(tmp_path):
    path, data = tmp_path / "ckpt" / "gan.pt", points()  # the same data each time: other data is another run
    g, d = tiny()
    first = train_gan(g, d, data, GANRecipe(batch_size=16), steps=5, device="cpu", checkpoint=path)
    state = load_checkpoint(path)
    assert state["history"]["steps"] == 5 and state["recipe"] == GANRecipe(batch_size=16).identity()
    assert state["generator_config"] == g.config and state["discriminator_config"] == d.config
    # a fresh pair with the same path and the same number of steps: loads, trains nothing
    g2, d2 = tiny()
    again = train_gan(g2, d2, data, GANRecipe(batch_size=16), steps=5, device="cpu", checkpoint=path)
    assert again.steps == 5 and again.losses == first.losses
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), g2.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(d.state_dict().values(), d2.state_dict().values()))
    # more steps: continues where it stopped, keeping the earlier history
    g3, d3 = tiny()
    more = train_gan(g3, d3, data, GANRecipe(batch_size=16), steps=8, device="cpu", checkpoint=path)
    assert more.steps == 8 and more.losses["g_loss"][:5] == first.losses["g_loss"]
    assert len(more.losses["g_loss"]) == 8 and more.wall_time > first.wall_time
    assert load_checkpoint(path)["history"]["steps"] == 8
    assert not any(torch.equal(a, b) for a, b in zip(g.parameters(), g3.parameters()))
    # resume=False starts afresh (and overwrites the file)
    fresh = train_gan(*tiny(), data, GANRecipe(batch_size=16), steps=2, device="cpu", checkpoint=path, resume=False)
    assert fresh.steps == 2 and load_checkpoint(path)["history"]["steps"] == 2


def test_resuming_into_another_architecture_fails_clearly(tmp_path):
    path = tmp_path / "gan.pt"
    train_gan(*tiny(), points(), steps=1, device="cpu", checkpoint=path)
    with pytest.raises(train.RunMismatch, match=r"generator\.config\.hidden: the checkpoint has 16, this call has 8"):
        train_gan(MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=16, depth=1), points(), steps=2,
                  device="cpu", checkpoint=path)


def test_max_seconds_stops_early_and_counts_resumed_time(tmp_path):
    g, d, data = *tiny(), points()
    path = tmp_path / "gan.pt"
    history = train_gan(g, Spy(d, delay=0.01), data, GANRecipe(batch_size=8), steps=10**6, device="cpu",
                        max_seconds=0.3, checkpoint=path)
    assert 1 <= history.steps < 100
    assert 0.3 <= history.wall_time < 5.0
    # the budget covers the whole run: resuming with the same budget trains no more
    g2, d2 = tiny()
    again = train_gan(g2, Spy(d2), data, GANRecipe(batch_size=8), steps=10**6, device="cpu", max_seconds=0.3,
                      checkpoint=path)
    assert again.steps == history.steps


def test_time_is_up_and_start_or_resume_helpers(tmp_path):
    history = History(wall_time=5.0)
    with train.Stopwatch(history) as watch:
        assert not time_is_up(history, watch, None)
        assert not time_is_up(history, watch, 60.0)
        assert time_is_up(history, watch, 5.0)  # the earlier 5 s count
    assert start_or_resume(None) == History()
    assert start_or_resume(tmp_path / "missing.pt") == History()


def test_cosine_schedule_decays_both_learning_rates_to_zero(monkeypatch):
    seen = {"g": [], "d": []}
    step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen["d" if len(seen["d"]) == len(seen["g"]) else "g"].append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    g, d = tiny()
    train_gan(g, d, points(), GANRecipe(lr_g=2e-3, lr_d=1e-3, lr_schedule="cosine", batch_size=8), steps=4,
              device="cpu")
    cosine = [(1 + math.cos(math.pi * i / 4)) / 2 for i in range(4)]  # 1, 0.85, 0.5, 0.15
    assert seen["d"] == pytest.approx([1e-3 * c for c in cosine])
    assert seen["g"] == pytest.approx([2e-3 * c for c in cosine])
    seen = {"g": [], "d": []}
    train_gan(g, d, points(), GANRecipe(lr_g=2e-3, lr_d=1e-3, batch_size=8), steps=3,
              device="cpu")  # constant by default
    assert seen == {"d": [1e-3] * 3, "g": [2e-3] * 3}


def test_callback_every_k_steps():
    seen = []
    g, d = tiny()
    train_gan(g, d, points(), GANRecipe(batch_size=8), steps=10, every=3, device="cpu",
              callback=lambda step, gen, disc: seen.append((step, gen is g, disc is d, gen.sample(2).shape)))
    assert seen == [(s, True, True, (2, 2)) for s in (3, 6, 9)]


def test_an_interrupt_saves_the_checkpoint_then_stops(tmp_path):
    path = tmp_path / "gan.pt"

    def interrupt(step, generator, discriminator):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="interrupted at step 3.*run again to resume"):
        train_gan(*tiny(), points(), steps=10, every=3, callback=interrupt, device="cpu", checkpoint=path)
    assert load_checkpoint(path)["history"]["steps"] == 3


def test_a_loader_of_mnist_like_batches_trains_a_dcgan_and_counts_epochs():
    batches = [(torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long)) for _ in range(3)]
    g, d = DCGANGenerator(latent_dim=8, width=4), Spy(DCGANDiscriminator(width=4))
    history = train_gan(g, d, batches, GANRecipe(loss="hinge"), steps=7, device="cpu")
    assert history.steps == 7 and history.epochs == 2  # 7 batches from 3 per pass
    assert set(d.shapes) == {(8, 1, 28, 28)}
    images = g.sample(3)
    assert images.shape == (3, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_a_loader_with_packing_trims_odd_batches():
    batches = [(torch.rand(7, 1, 28, 28), torch.zeros(7)), (torch.rand(1, 1, 28, 28), torch.zeros(1))]
    g, d = DCGANGenerator(latent_dim=8, width=4), Spy(DCGANDiscriminator(width=4, pack=2))
    train_gan(g, d, batches, GANRecipe(pack=2), steps=3, device="cpu")
    assert set(d.shapes) == {(3, 2, 28, 28)}  # 7 images -> 6 -> 3 packed inputs; the batch of 1 is skipped
    with pytest.raises(ValueError, match="no batch of at least pack=2"):
        train_gan(g, d, [(torch.rand(1, 1, 28, 28), torch.zeros(1))], GANRecipe(pack=2), steps=1, device="cpu")


def test_bad_arguments_are_explained():
    g, d = tiny()
    with pytest.raises(ValueError, match="loss must be one of"):
        train_gan(g, d, points(), GANRecipe(loss="wgan-gp"), steps=1)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        train_gan(g, d, points(), steps=-1)
    with pytest.raises(ValueError, match="n_critic must be a positive integer"):
        train_gan(g, d, points(), GANRecipe(n_critic=0), steps=1)
    with pytest.raises(ValueError, match="data must be a tensor N x D"):
        train_gan(g, d, torch.zeros(5), steps=1, device="cpu")
    with pytest.raises(ValueError, match="latent_dim"):
        train_gan(torch.nn.Linear(2, 2), d, points(), steps=1, device="cpu")
    with pytest.raises(ValueError, match="Unknown lr_schedule"):
        train_gan(g, d, points(), GANRecipe(lr_schedule="linear"), steps=1)


def test_callback_time_is_not_training_time():
    g, d = tiny()
    history = train_gan(g, d, points(), GANRecipe(batch_size=8), steps=3, every=1, device="cpu",
                        callback=lambda step, gen, disc: time.sleep(1.0))
    assert 0 < history.wall_time < 2.0  # three callbacks slept 3 s


def test_modes_are_restored_and_stops_are_reported(tmp_path, capsys):
    g, d, data = *tiny(), points()
    g.eval()
    train_gan(g, d, data, GANRecipe(batch_size=8), steps=2, device="cpu", checkpoint=tmp_path / "gan.pt")
    assert not g.training and d.training
    train_gan(g, d, data, GANRecipe(batch_size=8), steps=3, device="cpu", checkpoint=tmp_path / "gan.pt")
    assert "Resumed from" in capsys.readouterr().out
    train_gan(*tiny(), points(), GANRecipe(batch_size=8), steps=10**6, device="cpu", max_seconds=0.05)
    assert "Stopped by the time budget of 0.05 s" in capsys.readouterr().out
    with pytest.raises(ValueError, match="max_seconds must be > 0"):
        train_gan(*tiny(), points(), steps=1, max_seconds=0)


def test_checkpoint_path_follows_the_mode(monkeypatch):
    from pathlib import Path

    import tutorial_lib.runtime as runtime
    root = Path(train.__file__).resolve().parent.parent
    monkeypatch.setattr(runtime, "FAST", True)
    assert train.checkpoint_path("dcgan") == root / "data" / "checkpoints" / "dcgan-fast.pt"
    monkeypatch.setattr(runtime, "FAST", False)
    assert train.checkpoint_path("dcgan") == root / "data" / "checkpoints" / "dcgan-full.pt"
    with pytest.raises(ValueError, match="plain file stem"):
        train.checkpoint_path("../elsewhere")



# ---- the recipe: defaults, validation, replace, description ----

def test_every_default_of_the_recipe_is_pinned():
    recipe = GANRecipe()
    assert recipe.identity() == {
        "loss": "nonsaturating", "n_critic": 1, "gp_weight": 0.0, "r1_weight": 0.0, "pack": 1, "optimizer": "adam",
        "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "batch_size": 64, "lr_schedule": "constant",
        "clip_weights": None, "feature_matching": False, "label_smoothing": 0.0, "step": None}
    assert train_gan.__kwdefaults__ == {"device": None, "checkpoint": None, "resume": True, "max_seconds": None,
                                        "callback": None, "every": 100}


@pytest.mark.parametrize("options, message", [
    (dict(lr_g=-1e-3), r"lr_g \(the generator's learning rate\) must be a finite number > 0, got -0.001"),
    (dict(lr_d=float("nan")), r"lr_d \(the discriminator's learning rate\) must be a finite number > 0, got nan"),
    (dict(lr_d=0), r"lr_d \(the discriminator's learning rate\) must be a finite number > 0, got 0"),
    (dict(lr_g=float("inf")), r"lr_g .* got inf"),
    (dict(lr_g=True), r"lr_g .* got True"),
    (dict(loss="wgan-gp"), "loss must be one of"),
    (dict(n_critic=0), "n_critic must be a positive integer"),
    (dict(pack=1.5), "pack must be a positive integer"),
    (dict(batch_size=10, pack=4), r"batch_size \(10\) must be a multiple of pack \(4\)"),
    (dict(gp_weight=-1.0), r"gp_weight .* must be a finite number >= 0"),
    (dict(r1_weight=float("nan")), r"r1_weight .* must be a finite number >= 0"),
    (dict(optimizer="sgd"), "optimizer must be 'adam' or 'rmsprop'"),
    (dict(betas=(0.5,)), r"betas must be two numbers in \[0, 1\)"),
    (dict(betas=(0.5, 1.0)), r"betas must be two numbers in \[0, 1\)"),
    (dict(optimizer="rmsprop", betas=(0.0, 0.9)), "RMSprop has none"),
    (dict(lr_schedule="linear"), "Unknown lr_schedule"),
    (dict(clip_weights=0.0), "clip_weights must be > 0 or None"),
    (dict(feature_matching="yes"), "feature_matching must be True or False"),
    (dict(label_smoothing=1.0), r"label_smoothing must be in \[0, 1\)"),
    (dict(loss="hinge", label_smoothing=0.1), "label_smoothing needs a cross-entropy loss"),
    (dict(loss="wasserstein", label_smoothing=0.1), "label_smoothing needs a cross-entropy loss"),
])
def test_a_bad_recipe_is_refused_naming_the_field(options, message):
    with pytest.raises(ValueError, match=message):
        GANRecipe(**options)


def test_the_edges_of_the_recipe_are_accepted():
    GANRecipe(label_smoothing=0.0, loss="hinge")  # no smoothing with any loss
    GANRecipe(label_smoothing=0.999, loss="minimax")
    GANRecipe(clip_weights=1e-9, gp_weight=0, r1_weight=0, lr_g=1e-12, betas=[0.0, 0.0])
    GANRecipe(optimizer="rmsprop", pack=3, batch_size=3)  # RMSprop with the default betas, a batch of one pack
    assert GANRecipe(betas=[0, 0.9]).betas == (0.0, 0.9)  # stored as a tuple of floats
    assert GANRecipe(gp_weight=10).gp_weight == 10.0 and isinstance(GANRecipe(gp_weight=10).gp_weight, float)


def test_an_unknown_option_names_the_options():
    with pytest.raises(TypeError, match=r"no option 'lr' \(a learning rate for each network: lr_g=..., lr_d=...\)"):
        GANRecipe(lr=1e-3)
    with pytest.raises(TypeError, match="its options are loss, n_critic"):
        GANRecipe().replace(critic_steps=5)


def test_a_step_function_with_options_it_cannot_honour_is_refused_naming_them():
    from tutorial_lib.gan import gan_step

    with pytest.raises(ValueError, match=r"n_critic=5, gp_weight=10.0, pack=2 could not be honoured"):
        GANRecipe(step=gan_step, n_critic=5, gp_weight=10.0, pack=2, batch_size=64)
    for option in (dict(loss="hinge"), dict(r1_weight=1.0), dict(clip_weights=0.01), dict(feature_matching=True),
                   dict(label_smoothing=0.1)):
        with pytest.raises(ValueError, match=f"{next(iter(option))}=.* could not be honoured"):
            GANRecipe(step=gan_step, **option)
    # what the recipe still sets is accepted
    GANRecipe(step=gan_step, lr_g=1e-3, lr_d=5e-4, betas=(0.0, 0.9), batch_size=32, lr_schedule="cosine")
    with pytest.raises(TypeError, match="step must be a function"):
        GANRecipe(step="gan_step")


def test_replace_gives_a_new_validated_recipe_and_the_repr_shows_what_differs():
    recipe = GANRecipe(loss="wasserstein", gp_weight=10.0)
    other = recipe.replace(n_critic=5)
    assert other.n_critic == 5 and recipe.n_critic == 1 and other.gp_weight == 10.0
    with pytest.raises(ValueError, match="lr_d"):
        recipe.replace(lr_d=0)
    with pytest.raises(Exception):  # frozen: a recipe never changes under a run
        recipe.n_critic = 3
    assert repr(GANRecipe()) == "GANRecipe()"
    assert repr(other) == "GANRecipe(loss='wasserstein', n_critic=5, gp_weight=10.0)"
    assert eval(repr(other)) == other
    assert GANRecipe().describe() == "nonsaturating loss; adam lr 0.0002, betas (0.5, 0.999); batch 64"
    assert (other.replace(lr_g=1e-3, pack=2).describe() == "wasserstein loss; adam lr_g 0.001, lr_d 0.0002, betas "
            "(0.5, 0.999); batch 64; 5 critic steps; gradient penalty 10; pack 2")


# ---- train_gan takes the recipe; its former keyword arguments explain the new call ----

def test_the_former_keyword_arguments_raise_a_type_error_showing_the_recipe_to_write():
    g, d = tiny()
    with pytest.raises(TypeError) as error:
        train_gan(g, d, points(), steps=1, loss="hinge", lr_g=1e-3, n_critic=2)
    message = str(error.value)
    assert "loss, lr_g, n_critic are fields of the recipe" in message
    assert ("train_gan(generator, discriminator, data, GANRecipe(loss='hinge', lr_g=0.001, n_critic=2), steps=...)"
            in message)
    with pytest.raises(TypeError, match=r"recipe.replace\(batch_size=8\)"):
        train_gan(g, d, points(), GANRecipe(), steps=1, batch_size=8)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['epochs'\]"):
        train_gan(g, d, points(), steps=1, epochs=3)
    with pytest.raises(TypeError, match="pass the number of generator steps by name, steps=100"):
        train_gan(g, d, points(), 100, steps=1)
    with pytest.raises(TypeError, match=r"got a dict: write GANRecipe\(\*\*options\)"):
        train_gan(g, d, points(), {"loss": "hinge"}, steps=1)


def test_none_is_the_default_recipe():
    torch.manual_seed(3)
    g1, d1 = tiny()
    a = train_gan(g1, d1, points(), None, steps=3, device="cpu")
    torch.manual_seed(3)
    g2, d2 = tiny()
    b = train_gan(g2, d2, points(), GANRecipe(), steps=3, device="cpu")
    assert a.losses == b.losses


def test_a_loader_whose_batch_size_is_not_the_recipes_is_refused():
    from torch.utils.data import DataLoader, TensorDataset

    images = torch.rand(64, 1, 28, 28)
    loader = DataLoader(TensorDataset(images, torch.zeros(64)), batch_size=32)
    g, d = DCGANGenerator(latent_dim=8, width=4), DCGANDiscriminator(width=4)
    with pytest.raises(ValueError, match=r"batches of 32 but the recipe says batch_size=64.*batch_size=32"):
        train_gan(g, d, loader, steps=1, device="cpu")
    assert train_gan(g, d, loader, GANRecipe(batch_size=32), steps=1, device="cpu").steps == 1


# ---- a step function of your own ----

def test_a_step_function_runs_once_per_generator_step_with_the_recipes_optimizers():
    calls = []

    def my_step(generator, discriminator, opt_g, opt_d, real):
        calls.append((generator, discriminator, type(opt_g).__name__, opt_g.param_groups[0]["lr"],
                      opt_d.param_groups[0]["lr"], opt_d.param_groups[0]["betas"], tuple(real.shape)))
        return 0.5 + len(calls), torch.tensor(-1.0 * len(calls))

    g, d = tiny()
    recipe = GANRecipe(step=my_step, lr_g=1e-3, lr_d=5e-4, betas=(0.0, 0.9), batch_size=12)
    history = train_gan(g, d, points(), recipe, steps=4, device="cpu")
    assert [c[:2] == (g, d) for c in calls] == [True] * 4
    assert {c[2:] for c in calls} == {("Adam", 1e-3, 5e-4, (0.0, 0.9), (12, 2))}
    assert history.losses == {"d_loss": [1.5, 2.5, 3.5, 4.5], "g_loss": [-1.0, -2.0, -3.0, -4.0]}


def test_gan_step_as_the_step_function_is_the_built_in_update():
    from tutorial_lib.gan import gan_step

    data = points()
    torch.manual_seed(5)
    g1, d1 = tiny()
    builtin = train_gan(g1, d1, data, GANRecipe(lr_g=1e-3, lr_d=1e-3, batch_size=16), steps=6, device="cpu")
    torch.manual_seed(5)
    g2, d2 = tiny()
    own = train_gan(g2, d2, data, GANRecipe(step=gan_step, lr_g=1e-3, lr_d=1e-3, batch_size=16), steps=6,
                    device="cpu")
    assert own.losses == builtin.losses  # the same operations in the same order: equal, not just close
    assert all(torch.equal(a, b) for a, b in zip([*g1.parameters(), *d1.parameters()],
                                                 [*g2.parameters(), *d2.parameters()]))


def test_with_a_step_function_checkpoints_budget_callback_and_schedule_work_the_same(tmp_path):
    from tutorial_lib.gan import gan_step

    path, data, seen = tmp_path / "own.pt", points(), []
    recipe = GANRecipe(step=gan_step, batch_size=8, lr_schedule="cosine")
    first = train_gan(*tiny(), data, recipe, steps=4, device="cpu", checkpoint=path, every=2,
                      callback=lambda step, g, d: seen.append(step))
    assert seen == [2, 4] and load_checkpoint(path)["history"]["steps"] == 4
    assert load_checkpoint(path)["recipe"]["step"] == "tutorial_lib.gan.gan_step"
    more = train_gan(*tiny(), data, recipe, steps=6, device="cpu", checkpoint=path)
    assert more.steps == 6 and more.losses["d_loss"][:4] == first.losses["d_loss"]
    slow = lambda *args: (time.sleep(0.02), gan_step(*args))[1]  # noqa: E731
    budget = train_gan(*tiny(), data, recipe.replace(step=slow), steps=10**6, device="cpu", max_seconds=0.2)
    assert 1 <= budget.steps < 100


@pytest.mark.parametrize("returned, shown", [(None, "None"), (1.0, "1.0"), ((1.0, 2.0, 3.0), r"\(1.0, 2.0, 3.0\)"),
                                             (("a", "b"), r"\('a', 'b'\)")])
def test_a_step_function_that_does_not_return_two_losses_is_explained(returned, shown):
    with pytest.raises(TypeError, match=rf"must return two numbers, \(d_loss, g_loss\), like gan.gan_step; it "
                                        rf"returned {shown}"):
        train_gan(*tiny(), points(), GANRecipe(step=lambda *args: returned), steps=1, device="cpu")


def test_a_step_function_whose_loss_diverges_stops_training_naming_its_rate():
    recipe = GANRecipe(step=lambda *args: (float("nan"), 0.0), lr_d=4e-4)
    with pytest.raises(TrainingDiverged, match=r"discriminator loss became nan at step 0.*lr=4e-05 instead of "
                                               r"lr=0.0004"):
        train_gan(*tiny(), points(), recipe, steps=3, device="cpu")
    recipe = GANRecipe(step=lambda *args: (0.0, 1e33), lr_g=1e-3)
    with pytest.raises(TrainingDiverged, match=r"generator loss reached 1e\+33 \(beyond 1e\+08.*at step 0.*"
                                               r"lr=0.0001 instead"):
        train_gan(*tiny(), points(), recipe, steps=3, device="cpu")


# ---- R1 in the built-in update ----

def test_r1_is_logged_and_off_by_default():
    history = train_gan(*tiny(), points(), GANRecipe(r1_weight=10.0, batch_size=16), steps=3, device="cpu")
    assert len(history.losses["r1"]) == 3 and all(v >= 0 for v in history.losses["r1"])
    assert "r1" not in train_gan(*tiny(), points(), GANRecipe(batch_size=16), steps=1, device="cpu").losses
