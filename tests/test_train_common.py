"""The pieces every training loop shares: History, the NaN guard and atomic checkpoints."""
import math
import os

import pytest
import torch

from tutorial_lib.train import (MAX_LOSS, History, Stopwatch, TrainingDiverged, check_finite, load_checkpoint,
                                restore, save_checkpoint)


def test_history_logs_means_and_round_trips():
    history = History()
    for value in [4.0, 2.0, 0.0]:
        history.log(loss=torch.tensor(value), other=1.0)
    assert history.losses == {"loss": [4.0, 2.0, 0.0], "other": [1.0, 1.0, 1.0]}
    assert history.mean("loss") == 2.0 and history.mean("loss", last=2) == 1.0
    history.wall_time, history.steps = 1.5, 3
    assert History.from_state_dict(history.state_dict()) == history


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), torch.tensor(float("nan"))])
def test_check_finite_stops_with_a_learning_rate_to_try(bad):
    with pytest.raises(TrainingDiverged) as error:
        check_finite(bad, step=17, lr=2e-3)
    message = str(error.value)
    assert "step 17" in message and "lr=0.0002" in message


def test_check_finite_accepts_finite_values_up_to_the_bound():
    check_finite(torch.tensor(3.5), step=0, lr=1e-3)
    check_finite(-543.0, step=0, lr=1e-3)  # an untrained VAE's -ELBO of an image, 784 log 2 nats
    check_finite(MAX_LOSS, step=0, lr=1e-3)
    check_finite(-MAX_LOSS, step=0, lr=1e-3)


@pytest.mark.parametrize("absurd", [1e33, -1e30, torch.tensor(3e38), MAX_LOSS * (1 + 1e-6), -MAX_LOSS * 1.01])
def test_check_finite_stops_absurd_losses_with_the_same_advice(absurd):
    with pytest.raises(TrainingDiverged) as error:
        check_finite(absurd, step=4, lr=1e-3, name="generator loss")
    message = str(error.value)
    assert "generator loss reached" in message and "beyond 1e+08" in message
    assert "step 4" in message and "lr=0.0001 instead of lr=0.001" in message


def test_the_bound_is_where_float32_stops_resolving_a_loss_change_of_a_few_units():
    """The justification of MAX_LOSS: near it, float32's spacing is 8, so a step's change of a few nats is lost."""
    assert MAX_LOSS == 1e8
    spacing = torch.nextafter(torch.tensor(MAX_LOSS), torch.tensor(math.inf)) - torch.tensor(MAX_LOSS)
    assert spacing.item() == 8.0


def test_checkpoint_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    history = History(losses={"loss": [1.0, 0.5]}, wall_time=2.0, steps=2, epochs=1)
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model=model.state_dict(),
                           optimizer=optimizer.state_dict(), history=history.state_dict(), epoch=1)
    assert path.is_file() and os.listdir(path.parent) == ["model.pt"]  # no temporary file left behind
    state = load_checkpoint(path)
    fresh, fresh_opt = torch.nn.Linear(3, 2), torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    restore(state, model=fresh, optimizer=fresh_opt)
    assert torch.equal(fresh.weight, model.weight) and state["epoch"] == 1
    assert History.from_state_dict(state["history"]) == history
    assert fresh_opt.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


def test_interrupted_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "model.pt", value=torch.tensor(1.0))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, value=torch.tensor(2.0))
    monkeypatch.undo()
    assert load_checkpoint(path)["value"] == 1.0 and os.listdir(tmp_path) == ["model.pt"]


class Custom:
    """An arbitrary class: unpickling it could run code, so weights_only loading must refuse it."""


def test_load_checkpoint_is_weights_only(tmp_path):
    torch.save({"obj": Custom()}, tmp_path / "unsafe.pt")
    with pytest.raises(RuntimeError, match="corrupt"):
        load_checkpoint(tmp_path / "unsafe.pt")


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train the model first"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="delete it"):
        load_checkpoint(tmp_path / "broken.pt")


def test_restore_explains_mismatches():
    state = {"model": torch.nn.Linear(3, 2).state_dict()}
    with pytest.raises(RuntimeError, match="another architecture"):
        restore(state, model=torch.nn.Linear(4, 2))
    with pytest.raises(KeyError, match="no entry 'optimizer'"):
        restore(state, optimizer=torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), lr=0.1))


def test_stopwatch_adds_wall_time():
    history = History()
    with Stopwatch(history):
        sum(range(10000))
    first = history.wall_time
    with Stopwatch(history):
        pass
    assert first > 0 and history.wall_time >= first
