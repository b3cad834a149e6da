"""train.train_vae: it learns, stops on a NaN naming a learning rate, keeps to its budget and resumes from its
checkpoint exactly where it stopped."""
import math
import os

import pytest
import torch

from tutorial_lib import train
from tutorial_lib.train import TrainingDiverged, load_checkpoint, train_vae
from tutorial_lib.vae import VAE, elbo


def tiny_data(n=64, batch=16, seed=0):
    """Binary images made of 4 prototypes with flipped pixels, as a list of (images, labels) batches."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(4, 1, 28, 28, generator=g).round()
    labels = torch.randint(4, (n,), generator=g)
    flips = (torch.rand(n, 1, 28, 28, generator=g) < 0.01).float()
    images = (prototypes[labels] - flips).abs()
    return [(images[i:i + batch], labels[i:i + batch]) for i in range(0, n, batch)]


def tiny_vae(seed=0, latent_dim=2):
    torch.manual_seed(seed)
    return VAE(latent_dim=latent_dim, hidden=32)


def mean_negative_elbo(model, data):
    torch.manual_seed(123)
    with torch.no_grad():
        return -torch.cat([elbo(model, x) for x, _ in data]).mean().item()


def test_training_lowers_the_loss_and_logs_each_step():
    data, model = tiny_data(), tiny_vae()
    before = mean_negative_elbo(model, data)
    history = train_vae(model, data, epochs=15, lr=3e-3, device="cpu")
    assert history.steps == 15 * len(data) and history.epochs == 15 and history.wall_time > 0
    assert set(history.losses) == {"loss", "reconstruction", "kl"}
    assert all(len(v) == history.steps for v in history.losses.values())
    first_epoch = sum(history.losses["loss"][:4]) / 4
    assert history.mean("loss", last=4) < 0.5 * first_epoch  # the curve goes down
    assert mean_negative_elbo(model, data) < 0.5 * before                # and the model is better on the data
    assert model.training  # the mode it came in with


def test_logged_loss_is_reconstruction_plus_beta_times_kl_with_warm_up():
    history = train_vae(tiny_vae(), tiny_data(), epochs=2, beta=3.0, kl_warmup_steps=5, device="cpu")
    for step, (loss, rec, kl) in enumerate(zip(*(history.losses[k] for k in ("loss", "reconstruction", "kl")))):
        weight = 3.0 * min(1.0, (step + 1) / 5)
        assert loss == pytest.approx(rec + weight * kl, rel=1e-5)


def test_a_nan_loss_stops_training_naming_a_learning_rate(tmp_path, monkeypatch):
    data, model, path = tiny_data(), tiny_vae(), tmp_path / "vae.pt"
    train_vae(model, data, epochs=1, lr=2e-3, device="cpu", checkpoint=path)
    saved = load_checkpoint(path)
    from tutorial_lib import vae

    real_kl, calls = vae.gaussian_kl, []

    def kl_with_a_nan(mu, logvar):  # the third step of the resumed run gets a NaN loss
        calls.append(1)
        return real_kl(mu, logvar) * (float("nan") if len(calls) == 3 else 1.0)

    monkeypatch.setattr(vae, "gaussian_kl", kl_with_a_nan)
    with pytest.raises(TrainingDiverged) as error:
        train_vae(model, data, epochs=3, lr=2e-3, device="cpu", checkpoint=path)
    message = str(error.value)
    assert "nan at step 6" in message and "lr=0.0002 instead of lr=0.002" in message
    # the checkpoint still holds the last good state, not the diverged one
    after = load_checkpoint(path)
    assert after["history"]["steps"] == saved["history"]["steps"] == len(data)
    assert all(torch.equal(after["model"][k], saved["model"][k]) for k in saved["model"])


def test_checkpoint_round_trip_resumes_exactly_where_it_stopped(tmp_path):
    data, path = tiny_data(), tmp_path / "sub" / "vae.pt"
    straight = tiny_vae(seed=1)
    torch.manual_seed(5)
    straight_history = train_vae(straight, data, epochs=3, device="cpu")

    first = tiny_vae(seed=1)
    torch.manual_seed(5)
    train_vae(first, data, epochs=2, device="cpu", checkpoint=path)
    assert os.listdir(path.parent) == ["vae.pt"]  # written atomically: no temporary file left
    state = load_checkpoint(path)
    assert state["kind"] == "vae" and state["config"] == first.config and state["history"]["epochs"] == 2
    with torch.random.fork_rng():  # building the second model must not disturb the training's random numbers
        resumed = VAE(**state["config"])
    history = train_vae(resumed, data, epochs=3, device="cpu", checkpoint=path)
    assert history.epochs == 3 and history.steps == straight_history.steps
    assert history.losses["loss"] == pytest.approx(straight_history.losses["loss"], rel=1e-5)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_finished_checkpoint_is_loaded_without_training(tmp_path, capsys):
    data, path = tiny_data(), tmp_path / "vae.pt"
    model = tiny_vae()
    train_vae(model, data, epochs=2, device="cpu", checkpoint=path)
    fresh = tiny_vae(seed=9)
    history = train_vae(fresh, data, epochs=2, device="cpu", checkpoint=path)
    assert history.epochs == 2 and "Resumed from" in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    assert train_vae(tiny_vae(seed=9), data, epochs=2, device="cpu", checkpoint=path, resume=False).steps == 2 * len(data)


def test_a_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "vae.pt"
    train_vae(tiny_vae(latent_dim=2), tiny_data(), epochs=1, device="cpu", checkpoint=path)
    with pytest.raises(train.RunMismatch, match=r"model\.config\.latent_dim: the checkpoint has 2, this call has 3"):
        train_vae(tiny_vae(latent_dim=3), tiny_data(), epochs=2, device="cpu", checkpoint=path)


def test_max_seconds_stops_training_and_counts_across_resumes(tmp_path, capsys):
    data = tiny_data(n=256, batch=8)
    path = tmp_path / "vae.pt"
    history = train_vae(tiny_vae(), data, epochs=1000, device="cpu", max_seconds=0.3, checkpoint=path)
    assert 0.3 <= history.wall_time < 3 and history.steps < 1000 * len(data)
    assert "Stopped by the time budget of 0.3 s" in capsys.readouterr().out
    assert load_checkpoint(path)["history"]["steps"] == history.steps  # saved when the budget ran out
    again = train_vae(tiny_vae(), data, epochs=1000, device="cpu", max_seconds=0.3, checkpoint=path)
    assert again.steps == history.steps  # the budget was already spent


def test_callback_runs_after_each_epoch_outside_the_clock():
    seen = []
    history = train_vae(tiny_vae(), tiny_data(), epochs=3, device="cpu",
                        callback=lambda model, h: seen.append((h.epochs, h.steps, h.wall_time)))
    assert [s[:2] for s in seen] == [(1, 4), (2, 8), (3, 12)]
    assert seen[-1][2] == history.wall_time


def test_cosine_schedule_follows_steps_or_budget_whichever_is_further():
    h = train.History(steps=0)
    assert train._scheduled_lr(1e-3, "constant", h, 100, None, 50.0) == 1e-3
    assert train._scheduled_lr(1e-3, "cosine", h, 100, None, 0.0) == pytest.approx(1e-3)
    h.steps = 50
    assert train._scheduled_lr(1e-3, "cosine", h, 100, None, 0.0) == pytest.approx(0.5e-3)
    assert train._scheduled_lr(1e-3, "cosine", h, 100, 10.0, 2.5) == pytest.approx(0.5e-3)  # steps are further
    assert train._scheduled_lr(1e-3, "cosine", h, 100, 10.0, 7.5) == pytest.approx(1e-3 * (1 + math.cos(0.75 * math.pi)) / 2)
    h.steps = 100
    assert train._scheduled_lr(1e-3, "cosine", h, 100, None, 0.0) == pytest.approx(0.0, abs=1e-12)


def test_normalized_images_are_a_clear_error():
    data = [((x - 0.1307) / 0.3081, y) for x, y in tiny_data()]  # the usual MNIST normalization: not in [0, 1]
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        train_vae(tiny_vae(), data, epochs=1, device="cpu")


def test_an_interrupt_saves_the_checkpoint_and_says_how_to_resume(tmp_path):
    path = tmp_path / "vae.pt"

    def stop_after_first_epoch(model, history):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="run again to resume"):
        train_vae(tiny_vae(), tiny_data(), epochs=5, device="cpu", checkpoint=path, callback=stop_after_first_epoch)
    assert load_checkpoint(path)["history"]["epochs"] == 1
    assert train_vae(tiny_vae(), tiny_data(), epochs=2, device="cpu", checkpoint=path).epochs == 2


@pytest.mark.parametrize("kwargs, message", [({"epochs": -1}, "epochs must be"),
                                             ({"epochs": 1, "lr_schedule": "step"}, "Unknown lr_schedule"),
                                             ({"epochs": 1, "beta": -1.0}, "beta >= 0"),
                                             ({"epochs": 1, "beta": float("nan")}, "beta >= 0"),
                                             ({"epochs": 1, "kl_warmup_steps": -1}, "kl_warmup_steps must be"),
                                             ({"epochs": 1, "max_seconds": 0}, "max_seconds must be")])
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_vae(tiny_vae(), tiny_data(), device="cpu", **kwargs)



def test_the_benchmark_script_runs_in_quick_mode(tmp_path, mnist_available):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "vae.py"
    out = tmp_path / "vae.json"
    result = subprocess.run([sys.executable, str(script), "--quick", "--out", str(out)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "CI": "true"})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "quick" and report["torch"] == torch.__version__ and report["budget_s"] == 3.0
    for name in ("baseline", "best"):
        entry = report[name]
        assert entry["epochs"] >= 0 and entry["seconds_per_epoch"] > 0 and entry["nll"] > 0
        assert entry["examples_test_loss"] > 0 and VAE(**entry["config"]).config == entry["config"]
    assert set(report["met"]) == {"best_examples_test_loss", "best_nll", "script_seconds"}
    assert "budget_s seconds" in report["budget_interpretation"]



# ---- what train_vae refuses: bad rates, empty or one-shot data, a model that is not a VAE ----

@pytest.mark.parametrize("lr, shown", [(0, "0"), (0.0, "0.0"), (-1e-3, "-0.001"), (float("nan"), "nan"),
                                       (float("inf"), "inf"), (True, "True")])
def test_a_learning_rate_that_cannot_train_is_refused_by_name(lr, shown):
    with pytest.raises(ValueError, match=rf"lr \(the learning rate of Adam\) must be a finite number > 0, got {shown}"):
        train_vae(tiny_vae(), tiny_data(), epochs=1, lr=lr, device="cpu")


def test_the_smallest_positive_rate_is_accepted():
    assert train_vae(tiny_vae(), tiny_data(n=16), epochs=1, lr=1e-12, device="cpu").steps == 1


def test_an_empty_loader_is_refused_before_training(tmp_path):
    path = tmp_path / "vae.pt"
    with pytest.raises(ValueError, match=r"the loader is empty \(0 batches\)"):
        train_vae(tiny_vae(), [], epochs=3, device="cpu", checkpoint=path)
    assert not path.exists()

    class NoLength:  # re-iterable, no __len__, yields nothing
        def __iter__(self):
            return iter(())

    with pytest.raises(ValueError, match="yielded no batch in a whole pass"):
        train_vae(tiny_vae(), NoLength(), epochs=3, device="cpu")


def test_a_one_shot_generator_is_refused_instead_of_counting_epochs_it_never_trained():
    """The probe's case: 2 batches from a generator with epochs=5 recorded 2 steps as 5 epochs."""
    batches = (batch for batch in tiny_data(n=32))
    with pytest.raises(TypeError, match=r"generator, which can be iterated only once.*list\(...\)"):
        train_vae(tiny_vae(), batches, epochs=5, device="cpu")
    with pytest.raises(TypeError, match="list_iterator, which can be iterated only once"):
        train_vae(tiny_vae(), iter(tiny_data(n=32)), epochs=1, device="cpu")
    history = train_vae(tiny_vae(), list(batch for batch in tiny_data(n=32)), epochs=5, device="cpu")
    assert (history.steps, history.epochs) == (10, 5)  # as a list: 2 batches x 5 epochs


def test_a_re_iterable_loader_without_len_counts_its_epochs():
    class Batches:
        def __iter__(self):
            return iter(tiny_data(n=32))

    history = train_vae(tiny_vae(), Batches(), epochs=3, device="cpu")
    assert (history.steps, history.epochs) == (6, 3)


def test_a_model_that_is_not_a_vae_gets_what_was_expected():
    from tutorial_lib.gan import DCGANGenerator

    with pytest.raises(TypeError, match=r"train_vae trains a VAE.*got DCGANGenerator.*train.train_gan"):
        train_vae(DCGANGenerator(latent_dim=8, width=4), tiny_data(), epochs=1, device="cpu")
    with pytest.raises(TypeError, match="got Linear, which has no encode/decode"):
        train_vae(torch.nn.Linear(784, 784), tiny_data(), epochs=1, device="cpu")


def test_an_absurd_loss_stops_training_like_a_nan(monkeypatch):
    from tutorial_lib import vae

    monkeypatch.setattr(vae, "vae_train_step", lambda *args, **kwargs: (1e33, 1e33, 0.0))
    with pytest.raises(TrainingDiverged, match=r"loss reached 1e\+33 \(beyond 1e\+08.*at step 0.*lr=0.0001"):
        train_vae(tiny_vae(), tiny_data(), epochs=1, lr=1e-3, device="cpu")
