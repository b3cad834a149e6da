"""tutorial_lib.stabilize: configurations, the EMA against a hand computation, and short real runs (deterministic,
scored consistently with mode_metrics, the same in parallel processes)."""
import math

import pytest
import torch
from torch import nn

from tutorial_lib.data import grid, ring
from tutorial_lib.metrics import mode_metrics
from tutorial_lib.stabilize import EMA, METHODS, RECIPE, config, run_2d, run_many, summarize


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


# ---- configurations ----

def test_config_layers_recipe_method_and_overrides():
    cfg = config("pacgan", lr=3e-4)
    assert cfg["pack"] == 2 and cfg["batch_size"] == 512 and cfg["loss"] == "nonsaturating"  # the method
    assert cfg["lr"] == 3e-4 and cfg["hidden"] == RECIPE["hidden"]  # override, recipe
    assert config("baseline") == {**RECIPE, "loss": "nonsaturating", "spectral_norm": False, "pack": 1,
                                  "n_critic": 1, "gp_weight": 0.0}
    assert config("spectral-norm")["spectral_norm"] is True and config("wgan-gp")["gp_weight"] > 0
    config("hinge", lr=1.0)
    assert config("hinge")["lr"] == RECIPE["lr"]  # overrides never leak into the shared recipe


def test_every_method_is_one_change_from_the_baseline():
    base = config("baseline")
    for method in METHODS:
        changed = {k for k, v in config(method).items() if base[k] != v} - {"batch_size"}
        assert len(changed) <= 2, (method, changed)  # wgan-gp: loss + penalty; the others: one option


@pytest.mark.parametrize("call, match", [
    (lambda: config("dcgan"), "Unknown method 'dcgan'"),
    (lambda: config("baseline", learning_rate=1e-3), r"Unknown options \['learning_rate'\]"),
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
    assert first["samples"].shape == (RECIPE["n_eval"], 2) and first["history"].steps == 40
    assert [step for step, _, _ in first["trace"]] == [10, 20, 30, 40]
    assert first["trace"][-1][1] == first["raw"] and first["trace"][-1][2] == first["ema"]  # same noise at the end
    assert first["seconds"] > 0 and torch.get_num_threads() >= 1


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_on_the_grid(method):
    result = run_2d(method, "grid", seed=0, steps=5, n_eval=100)
    _, centers, std = grid(1, seed=0)
    assert result["config"] == {**RECIPE, "n_eval": 100, "loss": "nonsaturating", "spectral_norm": False, "pack": 1,
                                "n_critic": 1, "gp_weight": 0.0, **METHODS[method]}  # written out, not config() again
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

