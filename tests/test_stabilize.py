"""tutorial_lib.stabilize: configurations, the EMA against a hand computation, and short real runs (deterministic,
scored consistently with mode_metrics, the same in parallel processes)."""
import math

import pytest
import torch
from torch import nn

from tutorial_lib.data import grid, ring
from tutorial_lib.metrics import mode_metrics
from tutorial_lib.stabilize import (COMMON, EMA, METHODS, PROTOCOL, RECIPES, Setup, config, pack_samples, run_2d,
                                    run_many, setup, summarize)
from tutorial_lib.train import GANRecipe


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


# ---- configurations ----

def test_the_common_recipe_and_the_shared_settings_are_pinned():
    assert COMMON == GANRecipe(lr_g=1e-3, lr_d=1e-3, batch_size=256)
    assert (COMMON.loss, COMMON.betas, COMMON.optimizer, COMMON.lr_schedule) == ("nonsaturating", (0.5, 0.999),
                                                                                 "adam", "constant")
    assert Setup(COMMON) == Setup(COMMON, latent_dim=2, hidden=128, depth=3, spectral_norm=False, ema=0.999)
    assert PROTOCOL == {"n_train": 100_000, "n_eval": 2_500}
    assert list(RECIPES) == ["common", "published"] and METHODS is RECIPES["common"]


def test_config_layers_the_row_and_the_overrides():
    cfg = config("pacgan", lr=3e-4)
    assert cfg["pack"] == 2 and cfg["batch_size"] == 512 and cfg["loss"] == "nonsaturating"  # the method
    assert cfg["lr"] == 3e-4 and cfg["hidden"] == 128  # override, shared network
    assert config("baseline") == {"latent_dim": 2, "hidden": 128, "depth": 3, "lr": 1e-3, "betas": (0.5, 0.999),
                                  "batch_size": 256, "ema": 0.999, "lr_schedule": "constant", "n_train": 100_000,
                                  "n_eval": 2_500, "loss": "nonsaturating", "spectral_norm": False, "pack": 1,
                                  "n_critic": 1, "gp_weight": 0.0, "optimizer": "adam", "clip_weights": None,
                                  "feature_matching": False, "label_smoothing": 0.0}
    assert config("spectral-norm")["spectral_norm"] is True and config("wgan-gp")["gp_weight"] > 0
    config("hinge", lr=1.0)
    assert config("hinge")["lr"] == 1e-3 and RECIPES["common"]["hinge"].train.lr_g == 1e-3  # overrides never leak
    row, protocol = setup("wgan-gp", "published", lr=5e-4, hidden=16, n_eval=10)
    assert (row.train.lr_g, row.train.lr_d, row.train.n_critic, row.hidden, protocol["n_eval"]) == (5e-4, 5e-4, 5,
                                                                                                    16, 10)
    assert config("baseline", r1_weight=2.0)["r1_weight"] == 2.0 and "r1_weight" not in config("baseline")


def _changes(row):
    """What a row changes from the common baseline: {field: value}, recipe and networks together."""
    base = Setup(COMMON)
    changed = {f: getattr(row.train, f) for f in COMMON.identity() if getattr(row.train, f) != getattr(COMMON, f)}
    return changed | {f: getattr(row, f) for f in ("latent_dim", "hidden", "depth", "spectral_norm", "ema")
                      if getattr(row, f) != getattr(base, f)}


def test_the_rows_are_pinned_as_changes_from_the_common_baseline():
    assert {method: _changes(row) for method, row in RECIPES["common"].items()} == {
        "baseline": {}, "wgan-gp": {"loss": "wasserstein", "gp_weight": 0.1}, "spectral-norm": {"spectral_norm": True},
        "hinge": {"loss": "hinge"}, "pacgan": {"pack": 2, "batch_size": 512},
        "wgan-clip": {"loss": "wasserstein", "clip_weights": 0.01}, "feature-matching": {"feature_matching": True},
        "label-smoothing": {"label_smoothing": 0.1}}
    assert {method: _changes(row) for method, row in RECIPES["published"].items()} == {
        "baseline": {}, "pacgan": {"pack": 2, "batch_size": 512}, "feature-matching": {"feature_matching": True},
        "label-smoothing": {"label_smoothing": 0.1},
        "wgan-gp": {"loss": "wasserstein", "gp_weight": 0.1, "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9),
                    "n_critic": 5},
        "spectral-norm": {"loss": "hinge", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.9), "n_critic": 5,
                          "spectral_norm": True},
        "pacgan4": {"pack": 4, "batch_size": 1024},
        "wgan-clip": {"loss": "wasserstein", "clip_weights": 0.01, "optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5,
                      "n_critic": 5}}
    assert list(RECIPES["published"]) == ["baseline", "wgan-gp", "spectral-norm", "pacgan", "pacgan4", "wgan-clip",
                                          "feature-matching", "label-smoothing"]


def test_every_method_is_one_change_from_the_baseline():
    base = config("baseline")
    for method in METHODS:
        changed = {k for k, v in config(method).items() if base[k] != v} - {"batch_size"}
        assert len(changed) <= 2, (method, changed)  # wgan-gp: loss + penalty; the others: one option


@pytest.mark.parametrize("call, match", [
    (lambda: config("dcgan"), "Unknown method 'dcgan'"),
    (lambda: config("pacgan4"), "Unknown method 'pacgan4' for the common recipe"),
    (lambda: config("baseline", recipe="tuned"), "Unknown recipe 'tuned'"),
    (lambda: run_2d("baseline", "ring", steps={"hinge": 3}), "steps has no entry for 'baseline'"),
    (lambda: pack_samples(torch.zeros(5, 2), 2), "m must be a positive integer that divides"),
    (lambda: config("baseline", learning_rate=1e-3), r"Unknown options \['learning_rate'\]"),
    (lambda: config("baseline", lr_g=1e-3), r"Unknown options \['lr_g'\].*lr sets both"),
    (lambda: config("pacgan", batch_size=9), r"batch_size \(9\) must be a multiple of pack \(2\)"),
    (lambda: run_2d("baseline", "spiral", steps=1), "Unknown dataset 'spiral'"),
    (lambda: run_many(["baseline"], ["ring"], [0], 1, workers=0), "workers must be a positive integer"),
    (lambda: summarize([], "best"), "which must be 'raw' or 'ema'"),
    (lambda: EMA(nn.Linear(2, 2), decay=1.0), r"decay must be in \[0, 1\)"),
])
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- EMA ----

def test_ema_matches_a_hand_computed_average_with_warm_up():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(net, decay=0.9)
    expected = [p.detach().clone() for p in net.parameters()]
    for t in range(30):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net[1].running_mean.fill_(float(t))
        ema.update(net)
        d = min(0.9, (1 + t) / (10 + t))  # warm-up: 0.1, 0.18, ... then 0.9
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, net.parameters())]
    for average, reference in zip(ema.module.parameters(), expected):
        torch.testing.assert_close(average, reference)
        assert not average.requires_grad
    assert torch.equal(ema.module[1].running_mean, net[1].running_mean)  # buffers are copied, not averaged


def test_ema_of_constant_weights_is_those_weights():
    net = nn.Linear(2, 2)
    ema = EMA(net, decay=0.999)
    with torch.no_grad():
        net.weight.fill_(3.0)
    for _ in range(20_000):
        ema.update(net)
    torch.testing.assert_close(ema.module.weight, torch.full((2, 2), 3.0))


# ---- runs ----

def _same_run(a, b):
    return (torch.equal(a["samples"], b["samples"]) and torch.equal(a["ema_samples"], b["ema_samples"])
            and a["raw"] == b["raw"] and a["ema"] == b["ema"])


def test_a_run_is_deterministic_and_scored_by_mode_metrics():
    first = run_2d("hinge", "ring", seed=3, steps=40, trace_every=10)
    second = run_2d("hinge", "ring", seed=3, steps=40, trace_every=10)
    other_seed = run_2d("hinge", "ring", seed=4, steps=40)
    assert _same_run(first, second) and not torch.equal(first["samples"], other_seed["samples"])
    _, centers, std = ring(1, seed=0)
    assert first["raw"] == mode_metrics(first["samples"], centers, std)
    assert first["ema"] == mode_metrics(first["ema_samples"], centers, std)
    assert first["samples"].shape == (2_500, 2) and first["history"].steps == 40
    assert [step for step, _, _ in first["trace"]] == [10, 20, 30, 40]
    assert first["trace"][-1][1] == first["raw"] and first["trace"][-1][2] == first["ema"]  # same noise at the end
    assert first["seconds"] > 0 and torch.get_num_threads() >= 1


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_on_the_grid(method):
    result = run_2d(method, "grid", seed=0, steps=5, n_eval=100)
    _, centers, std = grid(1, seed=0)
    row = RECIPES["common"][method]
    assert result["config"] == {"latent_dim": 2, "hidden": 128, "depth": 3, "lr": 1e-3, "ema": 0.999,
                                "n_train": 100_000, "n_eval": 100, "spectral_norm": row.spectral_norm,
                                **{k: getattr(row.train, k) for k in ("betas", "batch_size", "lr_schedule", "loss",
                                                                     "pack", "n_critic", "gp_weight", "optimizer",
                                                                     "clip_weights", "feature_matching",
                                                                     "label_smoothing")}}
    assert result["history"].steps == 5 and ("gp" in result["history"].losses) == (row.train.gp_weight > 0)
    assert torch.isfinite(result["samples"]).all() and result["samples"].shape == (100, 2)
    assert result["raw"] == mode_metrics(result["samples"], centers, std)  # scored on its own samples
    assert result["ema"] == mode_metrics(result["ema_samples"], centers, std)


def test_overrides_reach_training():
    result = run_2d("baseline", "ring", seed=0, steps=3, n_critic=2, hidden=16, n_eval=50)
    assert result["config"]["n_critic"] == 2 and result["config"]["hidden"] == 16
    assert len(result["history"].losses["d_loss"]) == 3


def test_parallel_runs_give_the_same_results_as_sequential_ones():
    seen = []
    sequential = run_many(["baseline", "pacgan"], ["ring"], [0, 1], steps=20, n_eval=200, on_result=seen.append)
    parallel = run_many(["baseline", "pacgan"], ["ring"], [0, 1], steps=20, n_eval=200, workers=2)
    assert [(r["method"], r["seed"]) for r in sequential] == [("baseline", 0), ("baseline", 1), ("pacgan", 0),
                                                              ("pacgan", 1)]
    assert seen == sequential
    assert all(_same_run(a, b) for a, b in zip(sequential, parallel))


# ---- summaries ----

def _fake(method, dataset, seed, modes, hq, kl, seconds=1.0):
    metrics = {"modes": modes, "high_quality": hq, "reverse_kl": kl, "counts": []}
    return {"method": method, "dataset": dataset, "seed": seed, "seconds": seconds, "raw": metrics, "ema": metrics}


def test_summarize_averages_over_seeds_per_method_and_dataset():
    results = [_fake("a", "ring", 0, 8, 0.9, 0.1, 2.0), _fake("a", "ring", 1, 6, 0.7, 0.3, 4.0),
               _fake("a", "grid", 0, 25, 0.5, 0.0), _fake("b", "ring", 0, 0, 0.0, math.inf)]
    rows = summarize(results, "raw")
    assert [(r["method"], r["dataset"], r["seeds"]) for r in rows] == [("a", "ring", 2), ("a", "grid", 1),
                                                                        ("b", "ring", 1)]
    assert rows[0]["modes"] == 7 and rows[0]["high_quality"] == pytest.approx(0.8)
    assert rows[0]["reverse_kl"] == pytest.approx(0.2) and rows[0]["seconds"] == 3.0
    assert rows[2]["reverse_kl"] == math.inf



# ---- the remedies added for the published-recipe comparison, each against an independent computation ----

import torch.nn.functional as F  # noqa: E402

from tutorial_lib import gan, stabilize, train  # noqa: E402
from tutorial_lib.gan import (MLPDiscriminator, MLPGenerator, clip_weights_, discriminator_features,  # noqa: E402
                              discriminator_loss, feature_matching_loss, power_iteration,
                              smoothed_discriminator_loss)


def test_clip_weights_clamps_every_parameter_and_nothing_else():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    before = [p.detach().clone() for p in net.parameters()]
    assert clip_weights_(net, 0.1) is net
    for p, old in zip(net.parameters(), before):
        expected = torch.tensor([min(max(v, -0.1), 0.1) for v in old.flatten().tolist()]).view_as(old)
        torch.testing.assert_close(p.detach(), expected)
    with pytest.raises(ValueError, match="clip must be > 0"):
        clip_weights_(net, 0)


def test_smoothed_loss_is_the_cross_entropy_with_target_0_9_for_real_samples_only():
    real, fake = torch.randn(7, generator=torch.Generator().manual_seed(1)), torch.tensor([-2.0, 0.3, 4.0])
    by_hand = (F.binary_cross_entropy(torch.sigmoid(real).double(), torch.full((7,), 0.9, dtype=torch.float64))
               + F.binary_cross_entropy(torch.sigmoid(fake).double(), torch.zeros(3, dtype=torch.float64)))
    assert smoothed_discriminator_loss(real, fake, 0.9).item() == pytest.approx(by_hand.item(), rel=1e-5)
    torch.testing.assert_close(smoothed_discriminator_loss(real, fake, 1.0), discriminator_loss(real, fake))
    with pytest.raises(ValueError, match=r"real_target must be in \(0, 1\]"):
        smoothed_discriminator_loss(real, fake, 0.0)


def test_feature_matching_loss_is_the_squared_distance_of_the_mean_features():
    rng = torch.Generator().manual_seed(2)
    real, fake = torch.randn(10, 4, generator=rng), torch.randn(6, 4, generator=rng) + 1
    mean_real = [sum(real[i, j].item() for i in range(10)) / 10 for j in range(4)]
    mean_fake = [sum(fake[i, j].item() for i in range(6)) / 6 for j in range(4)]
    by_hand = sum((a - b) ** 2 for a, b in zip(mean_real, mean_fake))
    assert feature_matching_loss(real, fake).item() == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(ValueError, match="expected features N x F and M x F"):
        feature_matching_loss(real, fake[:, :3])


@pytest.mark.parametrize("pack", [1, 2])
def test_discriminator_features_are_the_last_hidden_layer(pack):
    torch.manual_seed(3)
    d = MLPDiscriminator(hidden=8, depth=2, pack=pack)
    x = torch.randn(5, 2 * pack)
    hidden = F.leaky_relu(d.net[2](F.leaky_relu(d.net[0](x), 0.2)), 0.2)  # the two hidden layers, by hand
    torch.testing.assert_close(discriminator_features(d, x), hidden)
    torch.testing.assert_close(d.net[-1](hidden).squeeze(1), d(x))  # the logit is a linear function of them
    with pytest.raises(TypeError, match="feature matching needs"):
        discriminator_features(nn.Linear(2, 1), x)


def test_power_iteration_finds_the_largest_singular_value_and_matches_torch_spectral_norm():
    W = torch.randn(6, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    u = torch.randn(6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    sigma, _ = power_iteration(W, u / u.norm(), steps=200)
    assert sigma.item() == pytest.approx(torch.linalg.matrix_norm(W, ord=2).item(), rel=1e-9)
    # torch starts each step from v (u = Wv/|Wv|, v = W^T u/|W^T u|): the same iteration on W^T, so one step on W^T
    # from torch's own v gives the sigma that torch's spectral_norm divides by (a layer large enough not to have
    # converged during torch's 15 initial steps)
    torch.manual_seed(0)
    layer = torch.nn.utils.parametrizations.spectral_norm(nn.Linear(128, 64))
    layer.eval()  # no power iteration inside the forward pass: we take the step ourselves
    weight, v0 = layer.parametrizations.weight.original.detach(), layer.parametrizations.weight[0]._v.detach().clone()
    sigma, v1 = power_iteration(weight.T, v0, steps=1)
    wrong_order, _ = power_iteration(weight, layer.parametrizations.weight[0]._u.detach().clone(), steps=1)
    layer.train()
    normalized = layer.weight  # a training forward takes one step, then divides
    torch.testing.assert_close(normalized.detach(), weight / sigma)
    torch.testing.assert_close(layer.parametrizations.weight[0]._v, v1)
    assert not torch.allclose(normalized.detach(), weight / wrong_order, atol=1e-6)  # the order matters here
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        power_iteration(W, u, steps=0)


def _tiny():
    torch.manual_seed(0)
    return MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1)


def _points():
    return torch.randn(64, 2, generator=torch.Generator().manual_seed(6))


def test_weight_clipping_reaches_the_critic_after_every_step(monkeypatch):
    calls = []
    monkeypatch.setattr(train, "clip_weights_", lambda module, clip: calls.append(clip) or clip_weights_(module, clip))
    g, d = _tiny()
    train.train_gan(g, d, _points(), GANRecipe(loss="wasserstein", n_critic=2, clip_weights=0.01, batch_size=16),
                    steps=3, device="cpu")
    assert calls == [0.01] * 6
    assert all(p.abs().max() <= 0.01 for p in d.parameters())
    assert any((p.abs() == 0.01).any() for p in d.parameters())  # the clip was active, not vacuous


def test_label_smoothing_reaches_the_discriminator_loss(monkeypatch):
    targets = []

    def spy(real_logits, fake_logits, real_target=0.9):
        targets.append(real_target)
        return smoothed_discriminator_loss(real_logits, fake_logits, real_target)

    monkeypatch.setattr(train, "smoothed_discriminator_loss", spy)
    train.train_gan(*_tiny(), _points(), GANRecipe(label_smoothing=0.1, batch_size=16), steps=2, device="cpu")
    assert targets == [pytest.approx(0.9)] * 2
    with pytest.raises(ValueError, match="needs a cross-entropy loss"):
        train.train_gan(*_tiny(), _points(), GANRecipe(loss="hinge", label_smoothing=0.1), steps=1, device="cpu")


def test_feature_matching_replaces_the_generator_loss(monkeypatch):
    shapes = []

    def spy(real_features, fake_features):
        shapes.append((tuple(real_features.shape), tuple(fake_features.shape), real_features.requires_grad))
        return feature_matching_loss(real_features, fake_features)

    monkeypatch.setattr(train, "feature_matching_loss", spy)
    monkeypatch.setattr(train, "generator_loss", lambda *a: pytest.fail("the generator loss was used"))
    history = train.train_gan(*_tiny(), _points(), GANRecipe(feature_matching=True, batch_size=16), steps=2,
                              device="cpu")
    assert shapes == [((16, 8), (16, 8), False)] * 2  # hidden width 8; real features without gradient
    assert history.losses["g_loss"][-1] >= 0  # a squared distance


def test_rmsprop_is_the_optimizer_when_asked(monkeypatch):
    made = []
    real_rmsprop = torch.optim.RMSprop
    monkeypatch.setattr(torch.optim, "RMSprop", lambda params, lr: made.append(lr) or real_rmsprop(params, lr=lr))
    monkeypatch.setattr(torch.optim, "Adam", lambda *a, **k: pytest.fail("Adam was used"))
    train.train_gan(*_tiny(), _points(), GANRecipe(optimizer="rmsprop", lr_g=5e-5, lr_d=4e-5), steps=1, device="cpu")
    assert made == [5e-5, 4e-5]
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'rmsprop'"):
        train.train_gan(*_tiny(), _points(), GANRecipe(optimizer="sgd"), steps=1, device="cpu")


# ---- published recipes and equal training time ----

def test_published_recipes_are_the_papers():
    gp = config("wgan-gp", "published")
    assert (gp["lr"], gp["betas"], gp["n_critic"], gp["gp_weight"], gp["loss"]) == (1e-4, (0.5, 0.9), 5, 0.1,
                                                                                    "wasserstein")
    sn = config("spectral-norm", "published")
    assert (sn["loss"], sn["spectral_norm"], sn["lr"], sn["betas"], sn["n_critic"]) == ("hinge", True, 2e-4,
                                                                                        (0.0, 0.9), 5)
    clip = config("wgan-clip", "published")
    assert (clip["optimizer"], clip["lr"], clip["clip_weights"], clip["n_critic"]) == ("rmsprop", 5e-5, 0.01, 5)
    assert (config("pacgan4", "published")["pack"], config("pacgan4", "published")["batch_size"]) == (4, 1024)
    for same in ("baseline", "pacgan", "feature-matching", "label-smoothing"):  # no 2-D recipe of their own
        assert config(same, "published") == config(same)
    assert config("label-smoothing")["label_smoothing"] == 0.1 and config("feature-matching")["feature_matching"]


def test_steps_for_budget_divides_and_rounds_down():
    assert stabilize.steps_for_budget(20, {"a": 0.004, "b": 0.03, "c": 1.0}) == {"a": 5000, "b": 600, "c": 100}


def test_steps_per_method_and_the_recipe_reach_the_run():
    result = run_2d("wgan-clip", "grid", seed=0, steps={"wgan-clip": 4, "baseline": 9}, recipe="published",
                    n_eval=50)
    assert result["steps"] == 4 and result["history"].steps == 4 and result["recipe"] == "published"
    assert result["config"] == config("wgan-clip", "published", n_eval=50)
    assert result["cpu_seconds"] > 0
    d = stabilize.discriminator_of(result)
    assert all(p.abs().max() <= 0.01 + 1e-7 for p in d.parameters())  # the clipped critic came back
    assert stabilize.time_per_step("baseline", steps=3, repeats=1) > 0


def test_the_ema_can_run_a_learners_update_and_gives_the_same_run():
    calls = []

    def mine(average, module, decay):
        calls.append(decay)
        stabilize.ema_update(average, module, decay)

    a = run_2d("baseline", "ring", seed=1, steps=15, n_eval=100, ema_update=mine)
    b = run_2d("baseline", "ring", seed=1, steps=15, n_eval=100)
    assert len(calls) == 15 and calls[0] == pytest.approx(0.1) and torch.equal(a["ema_samples"], b["ema_samples"])


def test_pack_samples_groups_consecutive_samples():
    x = torch.arange(12.0).reshape(6, 2)
    assert torch.equal(pack_samples(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    assert torch.equal(pack_samples(x, 2), train._pack(x, 2))


# ---- run_many in a script without the __main__ guard fails at once instead of respawning workers forever ----

UNGUARDED = """
from tutorial_lib import stabilize
stabilize.run_many(["baseline"], ["ring"], [0], steps=5, workers=2, n_eval=50)
"""

CALLED_FROM_A_FUNCTION = """
from tutorial_lib import stabilize


def main():
    stabilize.run_many(["baseline"], ["ring"], [0], steps=5, workers=2, n_eval=50)


main()
"""


@pytest.mark.parametrize("script", [UNGUARDED, CALLED_FROM_A_FUNCTION], ids=["top level", "via an unguarded main()"])
def test_run_many_at_the_top_of_a_script_fails_at_once_with_the_fix(script, tmp_path):
    """Without the check the spawned workers re-run the script, fail while starting, and the pool replaces them
    forever: the run would hit the timeout instead of exiting with the message."""
    import os
    import subprocess
    import sys

    path = tmp_path / "experiment.py"
    path.write_text(script)
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"})
    assert result.returncode != 0
    assert 'if __name__ == "__main__":' in result.stderr and "experiment.py" in result.stderr
    assert "bootstrapping" not in result.stderr  # no worker was started


def test_the_main_guard_check_accepts_a_guarded_call(monkeypatch, tmp_path):
    """The check itself, without starting workers: a call under the guard passes, the same call outside it fails."""
    import sys
    import types

    from tutorial_lib import stabilize as module

    for guarded in (True, False):
        body = "check()\n"
        source = ('if __name__ == "__main__":\n    ' + body) if guarded else body
        path = tmp_path / f"script_{guarded}.py"
        path.write_text(source)
        main = types.ModuleType("__main__")
        main.__file__ = str(path)
        monkeypatch.setitem(sys.modules, "__main__", main)
        code = compile(source, str(path), "exec")
        if guarded:
            exec(code, {"__name__": "__main__", "check": module._check_main_guard})
        else:
            with pytest.raises(RuntimeError, match="re-imports"):
                exec(code, {"__name__": "__main__", "check": module._check_main_guard})
