"""tutorial_lib.train.train_gan: alternating updates, n_critic, packing, the NaN guard, checkpoints and
resuming, the wall-clock budget, callbacks, and both kinds of data (a tensor of points, a loader of images)."""
import math
import time

import pytest
import torch

import tutorial_lib.train as train
from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from tutorial_lib.train import History, TrainingDiverged, load_checkpoint, start_or_resume, time_is_up, train_gan


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
    history = train_gan(g, d, points(), steps=5, batch_size=32, device="cpu")
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
    train_gan(g, d, data, steps=150, lr_g=3e-3, lr_d=3e-3, batch_size=64, device="cpu")
    end = (g.sample(500).mean(0) - data.mean(0)).norm()
    assert end < 0.4 * start  # seeds 0-5 give 0.08-0.35


@pytest.mark.parametrize("kind", ["minimax", "hinge", "wasserstein"])
def test_every_loss_kind_trains(kind):
    g, d = tiny(spectral_norm=kind == "hinge")
    history = train_gan(g, d, points(), steps=3, loss=kind, batch_size=16, device="cpu",
                        gp_weight=10.0 if kind == "wasserstein" else 0.0)
    assert history.steps == 3 and ("gp" in history.losses) == (kind == "wasserstein")
    assert len(history.losses.get("gp", [0, 0, 0])) == 3


def test_the_discriminator_loss_is_logged_as_the_discriminator_loss_of_the_data():
    """d_loss is the loss of the batch the discriminator saw (before its update), so it is about log 4 for
    an untrained discriminator whose outputs are all about zero."""
    g, d = tiny()
    with torch.no_grad():
        for p in d.parameters():
            p.zero_()
    history = train_gan(g, d, points(), steps=1, lr_d=1e-6, batch_size=32, device="cpu")
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
    history = train_gan(g, spy, points(), steps=4, n_critic=n_critic, batch_size=8, device="cpu")
    assert len(critic_steps) == 4 * n_critic
    assert len(spy.shapes) == 4 * (2 * n_critic + 1)  # real + fake per critic step, fake per generator step
    assert len(history.losses["d_loss"]) == 4


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_pack_feeds_the_discriminator_m_fold_inputs(pack):
    g, d = tiny(pack=pack)
    spy = Spy(d)
    data = points()
    history = train_gan(g, spy, data, steps=2, pack=pack, batch_size=16, device="cpu")
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
    with pytest.raises(ValueError, match="built for pack=2 but train_gan got pack=1"):
        train_gan(g, d, points(), steps=1, device="cpu")
    with pytest.raises(ValueError, match=r"batch_size \(10\) must be a multiple of pack \(4\)"):
        train_gan(*tiny(pack=4), points(), steps=1, pack=4, batch_size=10, device="cpu")


def test_a_nan_in_the_discriminator_loss_stops_training_and_names_a_learning_rate(monkeypatch):
    monkeypatch.setattr(train, "discriminator_loss", lambda real, fake, kind: (real.mean() + fake.mean()) * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"discriminator loss became nan at step 0.*lr=3e-05 instead of lr=0.0003"):
        train_gan(*tiny(), points(), steps=5, lr_d=3e-4, device="cpu")


def test_a_nan_in_the_generator_loss_stops_training_and_names_a_learning_rate(monkeypatch):
    calls = []

    def nan_after_two(fake_logits, kind):
        calls.append(1)
        loss = fake_logits.mean() * 0
        return loss + float("nan") if len(calls) > 2 else loss

    monkeypatch.setattr(train, "generator_loss", nan_after_two)
    with pytest.raises(TrainingDiverged, match=r"generator loss became nan at step 2.*lr=0.0001 instead of lr=0.001"):
        train_gan(*tiny(), points(), steps=5, lr_g=1e-3, device="cpu")


def test_checkpoint_round_trips_and_resumes(tmp_path):
    path, data = tmp_path / "ckpt" / "gan.pt", points()  # the same data each time: other data is another run
    g, d = tiny()
    first = train_gan(g, d, data, steps=5, batch_size=16, device="cpu", checkpoint=path)
    state = load_checkpoint(path)
    assert state["history"]["steps"] == 5 and state["loss"] == "nonsaturating"
    assert state["generator_config"] == g.config and state["discriminator_config"] == d.config
    # a fresh pair with the same path and the same number of steps: loads, trains nothing
    g2, d2 = tiny()
    again = train_gan(g2, d2, data, steps=5, batch_size=16, device="cpu", checkpoint=path)
    assert again.steps == 5 and again.losses == first.losses
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), g2.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(d.state_dict().values(), d2.state_dict().values()))
    # more steps: continues where it stopped, keeping the earlier history
    g3, d3 = tiny()
    more = train_gan(g3, d3, data, steps=8, batch_size=16, device="cpu", checkpoint=path)
    assert more.steps == 8 and more.losses["g_loss"][:5] == first.losses["g_loss"]
    assert len(more.losses["g_loss"]) == 8 and more.wall_time > first.wall_time
    assert load_checkpoint(path)["history"]["steps"] == 8
    assert not any(torch.equal(a, b) for a, b in zip(g.parameters(), g3.parameters()))
    # resume=False starts afresh (and overwrites the file)
    fresh = train_gan(*tiny(), data, steps=2, batch_size=16, device="cpu", checkpoint=path, resume=False)
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
    history = train_gan(g, Spy(d, delay=0.01), data, steps=10**6, batch_size=8, device="cpu",
                        max_seconds=0.3, checkpoint=path)
    assert 1 <= history.steps < 100
    assert 0.3 <= history.wall_time < 5.0
    # the budget covers the whole run: resuming with the same budget trains no more
    g2, d2 = tiny()
    again = train_gan(g2, Spy(d2), data, steps=10**6, batch_size=8, device="cpu", max_seconds=0.3,
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
    train_gan(g, d, points(), steps=4, lr_g=2e-3, lr_d=1e-3, lr_schedule="cosine", batch_size=8, device="cpu")
    cosine = [(1 + math.cos(math.pi * i / 4)) / 2 for i in range(4)]  # 1, 0.85, 0.5, 0.15
    assert seen["d"] == pytest.approx([1e-3 * c for c in cosine])
    assert seen["g"] == pytest.approx([2e-3 * c for c in cosine])
    seen = {"g": [], "d": []}
    train_gan(g, d, points(), steps=3, lr_g=2e-3, lr_d=1e-3, batch_size=8, device="cpu")  # constant by default
    assert seen == {"d": [1e-3] * 3, "g": [2e-3] * 3}


def test_callback_every_k_steps():
    seen = []
    g, d = tiny()
    train_gan(g, d, points(), steps=10, every=3, batch_size=8, device="cpu",
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
    history = train_gan(g, d, batches, steps=7, device="cpu", loss="hinge")
    assert history.steps == 7 and history.epochs == 2  # 7 batches from 3 per pass
    assert set(d.shapes) == {(8, 1, 28, 28)}
    images = g.sample(3)
    assert images.shape == (3, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_a_loader_with_packing_trims_odd_batches():
    batches = [(torch.rand(7, 1, 28, 28), torch.zeros(7)), (torch.rand(1, 1, 28, 28), torch.zeros(1))]
    g, d = DCGANGenerator(latent_dim=8, width=4), Spy(DCGANDiscriminator(width=4, pack=2))
    train_gan(g, d, batches, steps=3, pack=2, device="cpu")
    assert set(d.shapes) == {(3, 2, 28, 28)}  # 7 images -> 6 -> 3 packed inputs; the batch of 1 is skipped
    with pytest.raises(ValueError, match="no batch of at least pack=2"):
        train_gan(g, d, [(torch.rand(1, 1, 28, 28), torch.zeros(1))], steps=1, pack=2, device="cpu")


def test_bad_arguments_are_explained():
    g, d = tiny()
    with pytest.raises(ValueError, match="Unknown GAN loss kind"):
        train_gan(g, d, points(), steps=1, loss="wgan-gp")
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        train_gan(g, d, points(), steps=-1)
    with pytest.raises(ValueError, match="n_critic must be a positive integer"):
        train_gan(g, d, points(), steps=1, n_critic=0)
    with pytest.raises(ValueError, match="data must be a tensor N x D"):
        train_gan(g, d, torch.zeros(5), steps=1, device="cpu")
    with pytest.raises(ValueError, match="latent_dim"):
        train_gan(torch.nn.Linear(2, 2), d, points(), steps=1, device="cpu")
    with pytest.raises(ValueError, match="Unknown lr_schedule"):
        train_gan(g, d, points(), steps=1, lr_schedule="linear")


def test_callback_time_is_not_training_time():
    g, d = tiny()
    history = train_gan(g, d, points(), steps=3, every=1, batch_size=8, device="cpu",
                        callback=lambda step, gen, disc: time.sleep(1.0))
    assert 0 < history.wall_time < 2.0  # three callbacks slept 3 s


def test_modes_are_restored_and_stops_are_reported(tmp_path, capsys):
    g, d, data = *tiny(), points()
    g.eval()
    train_gan(g, d, data, steps=2, batch_size=8, device="cpu", checkpoint=tmp_path / "gan.pt")
    assert not g.training and d.training
    train_gan(g, d, data, steps=3, batch_size=8, device="cpu", checkpoint=tmp_path / "gan.pt")
    assert "Resumed from" in capsys.readouterr().out
    train_gan(*tiny(), points(), steps=10**6, batch_size=8, device="cpu", max_seconds=0.05)
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
