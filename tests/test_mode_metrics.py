"""mode_metrics (PacGAN protocol) against hand-built samples, hand computations and a brute-force loop."""
import math

import numpy as np
import pytest
import torch

from tutorial_lib.data import grid, ring
from tutorial_lib.metrics import mode_metrics

CROSS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])  # 4 modes far apart


def brute_force(samples, centers, std):
    """The protocol written out with Python loops and math.dist (PacGAN's MetricLogger, inclusive radius)."""
    samples, centers = np.asarray(samples, dtype=float).tolist(), np.asarray(centers, dtype=float).tolist()
    counts = [0] * len(centers)
    for point in samples:
        distances = [math.dist(point, center) for center in centers]
        best = min(range(len(centers)), key=lambda j: distances[j])
        if distances[best] <= 3 * std:
            counts[best] += 1
    total = sum(counts)
    kl = sum(c / total * math.log(c / total * len(centers)) for c in counts if c) if total else math.inf
    return {"modes": sum(c > 0 for c in counts), "high_quality": total / len(samples), "reverse_kl": kl,
            "counts": counts}


def at(center_indices, centers=CROSS, offset=(0.0, 0.0)):
    return centers[torch.tensor(center_indices)] + torch.tensor(offset)


# ---- hand-built samples ----

def test_every_mode_hit_equally_is_all_modes_full_quality_and_zero_kl():
    result = mode_metrics(at([0, 1, 2, 3] * 5), CROSS, std=0.1)
    assert result == {"modes": 4, "high_quality": 1.0, "reverse_kl": 0.0, "counts": [5, 5, 5, 5]}


@pytest.mark.parametrize("m", [4, 8, 25])
def test_all_samples_in_one_mode_is_one_mode_and_kl_log_m(m):
    centers = torch.randn(m, 2, generator=torch.Generator().manual_seed(m)) * 10
    samples = centers[2] + 0.01 * torch.randn(100, 2, generator=torch.Generator().manual_seed(1))
    result = mode_metrics(samples, centers, std=0.05)
    assert result["modes"] == 1 and result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(m), abs=1e-12)


def test_a_known_two_mode_split():
    # 3/4 of the samples in mode 0, 1/4 in mode 3, of M = 4 modes: KL = 3/4 log(3) + 1/4 log(1).
    result = mode_metrics(at([0, 0, 0, 3] * 10, offset=(0.05, -0.05)), CROSS, std=0.1)
    assert result["modes"] == 2 and result["counts"] == [30, 0, 0, 10]
    assert result["reverse_kl"] == pytest.approx(0.75 * math.log(3) + 0.25 * math.log(1), abs=1e-12)


def test_off_mode_noise_captures_nothing_and_has_infinite_kl():
    midpoints = torch.tensor([[5.0, 0.0], [5.0, 5.0], [0.0, 5.0], [7.0, 3.0]])  # >= 3 from every centre
    result = mode_metrics(midpoints, CROSS, std=0.1)
    assert result["modes"] == 0 and result["high_quality"] == 0.0 and result["counts"] == [0, 0, 0, 0]
    assert result["reverse_kl"] == math.inf


def test_only_high_quality_samples_enter_the_mode_count_and_the_histogram():
    # 6 good samples in mode 0; 4 samples nearest to mode 1 but 5 std away from it: mode 1 is NOT captured,
    # and the histogram (hence the KL) holds the good samples only: all in one of 4 modes -> log 4.
    samples = torch.cat([at([0] * 6), at([1] * 4, offset=(0.5, 0.0))])
    result = mode_metrics(samples, CROSS, std=0.1)
    assert result["modes"] == 1 and result["counts"] == [6, 0, 0, 0]
    assert result["high_quality"] == pytest.approx(0.6)
    assert result["reverse_kl"] == pytest.approx(math.log(4), abs=1e-12)


@pytest.mark.parametrize("direction", [(1.0, 0.0), (0.0, -1.0), (0.6, 0.8), (-0.8, 0.6)])
def test_the_high_quality_radius_is_exactly_three_std(direction):
    std = 0.05
    unit = torch.tensor(direction)
    inside = at([0, 1, 2, 3]) + 2.99 * std * unit
    outside = at([0, 1, 2, 3]) + 3.01 * std * unit
    assert mode_metrics(inside, CROSS, std)["high_quality"] == 1.0
    assert mode_metrics(outside, CROSS, std)["high_quality"] == 0.0
    # a point exactly 3 std away (exact in binary: std 0.5, distance 1.5) is "within" 3 std
    assert mode_metrics(torch.tensor([[1.5, 0.0]]), CROSS, std=0.5)["high_quality"] == 1.0
    assert mode_metrics(torch.tensor([[1.5 + 1e-9, 0.0]], dtype=torch.float64), CROSS, std=0.5)["high_quality"] == 0.0


def test_non_finite_samples_count_as_not_high_quality():
    samples = torch.cat([at([0, 1]), torch.tensor([[float("nan"), 0.0], [float("inf"), 1.0]])])
    result = mode_metrics(samples, CROSS, std=0.1)
    assert result["modes"] == 2 and result["high_quality"] == 0.5
    assert result["reverse_kl"] == pytest.approx(math.log(2), abs=1e-12)  # 1/2 log(2) + 1/2 log(2)


# ---- against the brute-force loop and on the course's data ----

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_brute_force_loop_on_a_messy_generator(seed):
    g = torch.Generator().manual_seed(seed)
    samples_true, centers, std = grid(300, seed=seed)
    # a "generator" that misses some modes, blurs others and sprays noise around
    keep = samples_true[(samples_true[:, 0] > -3) | (samples_true[:, 1] > 1)]
    blurred = keep + 0.06 * torch.randn(keep.shape, generator=g)
    noise = 10 * torch.rand(60, 2, generator=g) - 5
    samples = torch.cat([blurred, noise])
    result = mode_metrics(samples, centers, std)
    reference = brute_force(samples, centers, std)
    assert result["modes"] == reference["modes"] and result["counts"] == reference["counts"]
    assert result["high_quality"] == pytest.approx(reference["high_quality"], abs=1e-12)
    assert result["reverse_kl"] == pytest.approx(reference["reverse_kl"], abs=1e-9)
    assert 0 < result["modes"] < 25 and 0 < result["high_quality"] < 1  # the case is not degenerate


@pytest.mark.parametrize("mixture, n_modes", [(ring, 8), (grid, 25)])
def test_real_samples_capture_every_mode_at_the_rayleigh_rate(mixture, n_modes):
    samples, centers, std = mixture(2500, seed=3)
    result = mode_metrics(samples, centers, std)
    assert result["modes"] == n_modes
    # P(|x - mu| <= 3 std) for a 2-D Gaussian = 1 - exp(-9/2) = 98.89 %; binomial sd over 2,500 is 0.2 %
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert 0 <= result["reverse_kl"] < 0.02  # a multinomial histogram is close to uniform


def test_accepts_numpy_and_float32_and_int_std():
    samples = at([0, 1, 2, 3]).numpy().astype(np.float32)
    assert mode_metrics(samples, CROSS.numpy(), 1)["modes"] == 4
    assert mode_metrics(torch.as_tensor(samples), CROSS.double(), np.float32(0.1))["modes"] == 4


# ---- bad input ----

@pytest.mark.parametrize("samples, centers, match", [
    (torch.zeros(10), CROSS, "samples must be a non-empty 2-D tensor"),
    (torch.zeros(0, 2), CROSS, "samples must be a non-empty 2-D tensor"),
    (torch.zeros(3, 2, 1), CROSS, "samples must be a non-empty 2-D tensor"),
    (torch.zeros(10, 2), torch.zeros(2), "centers must be a non-empty 2-D tensor"),
    (torch.zeros(10, 2), torch.zeros(0, 2), "centers must be a non-empty 2-D tensor"),
    (torch.zeros(10, 3), CROSS, "samples have 3 coordinates but centers have 2"),
])
def test_bad_shapes_raise_clear_errors(samples, centers, match):
    with pytest.raises(ValueError, match=match):
        mode_metrics(samples, centers, 0.1)


@pytest.mark.parametrize("std", [0, -0.1, float("nan"), float("inf"), "0.1", None, True, torch.ones(2)])
def test_bad_std_raises_a_clear_error(std):
    with pytest.raises(ValueError, match="std must be a positive number"):
        mode_metrics(at([0]), CROSS, std)
