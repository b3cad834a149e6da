"""`stabilize.run_2d` with a discriminator and a training function of the caller's own (notebook 05 trains the
learner's packing, spectral-norm layer and WGAN-GP loop through them)."""
import copy

import pytest
import torch

from tutorial_lib import stabilize
from tutorial_lib.gan import MLPDiscriminator
from tutorial_lib.train import train_gan

SMALL = dict(steps=3, n_eval=50, hidden=8, depth=1)


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_run_2d_trains_the_discriminator_it_is_given():
    torch.manual_seed(0)
    mine = MLPDiscriminator(hidden=8, depth=1)
    before = _flat(mine)
    result = stabilize.run_2d("baseline", "ring", discriminator=mine, **SMALL)
    assert not torch.equal(_flat(mine), before)  # trained in place: the caller keeps it
    assert all(torch.equal(result["discriminator"][k], v) for k, v in mine.state_dict().items())
    assert result["own_discriminator"] is True
    with pytest.raises(ValueError, match="that module is the trained discriminator"):
        stabilize.discriminator_of(result)


def test_run_2d_runs_the_training_function_it_is_given():
    calls = []

    def train(generator, discriminator, data, recipe, steps, callback):
        calls.append((recipe, steps, data.shape))
        history = train_gan(generator, discriminator, data, recipe, steps=steps, callback=callback, every=1)
        return "my history", history

    default = stabilize.run_2d("wgan-gp", "grid", recipe="published", **SMALL)
    mine = stabilize.run_2d("wgan-gp", "grid", recipe="published", train=train, **SMALL)
    recipe = stabilize.setup("wgan-gp", "published", hidden=8, depth=1)[0].train
    assert calls == [(recipe, 3, torch.Size([100_000, 2]))]
    assert mine["history"][0] == "my history"
    # the same algorithm through the hook: the same run, EMA (fed by the callback) included
    assert torch.equal(default["samples"], mine["samples"]) and torch.equal(default["ema_samples"], mine["ema_samples"])


def test_run_2d_refuses_what_it_cannot_use():
    with pytest.raises(TypeError, match="discriminator must be a torch.nn.Module"):
        stabilize.run_2d("baseline", "ring", discriminator=copy.deepcopy, **SMALL)
    with pytest.raises(TypeError, match="train must be a function"):
        stabilize.run_2d("baseline", "ring", train="train_gan", **SMALL)
