"""Stacked MNIST: the data (`data.stacked_mnist`, `data.StackedMNISTLoader`), the mode counter
(`metrics.stacked_labels`, `metrics.stacked_modes`) and the benchmark script's smoke run."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tutorial_lib import metrics
from tutorial_lib.data import STACKED_MODES, StackedMNISTLoader, load_mnist, stacked_mnist

ROOT = Path(__file__).resolve().parent.parent
N = 26_000  # the protocol's sample count


@pytest.fixture(scope="module")
def test_split(mnist_available):
    """The MNIST test split: (images M x 1 x 28 x 28, labels (M,))."""
    mnist = load_mnist(train=False)
    return mnist.images, mnist.labels


@pytest.fixture(scope="module")
def real(mnist_available):
    """26,000 stacked test digits (seed 0): (images, true modes)."""
    return stacked_mnist(N, seed=0, train=False)


@pytest.fixture(scope="module")
def real_labels(real):
    return metrics.stacked_labels(real[0])


@pytest.fixture(scope="module")
def real_scores(real_labels):
    return metrics.stacked_scores(*real_labels)


def digit_frequencies(labels):
    return torch.bincount(labels, minlength=10).double() / len(labels)


def mode_probabilities(labels):
    """The exact probability of each mode 100 a + 10 b + c when each channel draws a digit of the split uniformly:
    f_a f_b f_c, with f the split's digit frequencies (MNIST is close to, not exactly, balanced)."""
    f = digit_frequencies(labels)
    return (f[:, None, None] * f[None, :, None] * f[None, None, :]).reshape(-1)


# ---- the data ----

def test_shapes_range_and_modes(real):
    images, modes = real
    assert images.shape == (N, 3, 28, 28) and images.dtype == torch.float32
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert modes.shape == (N,) and modes.dtype == torch.int64 and 0 <= int(modes.min()) and int(modes.max()) < 1000
    assert STACKED_MODES == 1000


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(mnist_available):
    a, modes_a = stacked_mnist(500, seed=3)
    b, modes_b = stacked_mnist(500, seed=3)
    c, modes_c = stacked_mnist(500, seed=4)
    assert torch.equal(a, b) and torch.equal(modes_a, modes_b)
    assert not torch.equal(modes_a, modes_c) and not torch.equal(a, c)


@pytest.mark.parametrize("train", [True, False], ids=["train-split", "test-split"])
def test_each_channel_is_a_real_digit_of_the_claimed_label(train, mnist_available):
    """Every channel is, byte for byte, an image of the split whose label is the mode's digit for that channel."""
    mnist = load_mnist(train=train)
    labels_of = {}
    for image, label in zip(mnist.images.flatten(1).numpy(), mnist.labels.tolist()):
        labels_of.setdefault(image.tobytes(), set()).add(label)
    images, modes = stacked_mnist(300, seed=1, train=train)
    digits = torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)
    for image, claimed in zip(images.numpy(), digits.tolist()):
        for channel in range(3):
            found = labels_of.get(image[channel].reshape(-1).tobytes())
            assert found is not None, "a channel that is no image of the split"
            assert claimed[channel] in found


def test_modes_are_uniform_within_sampling_error(real, test_split):
    """Pearson's chi-square of the 1,000 mode counts against their exact probabilities f_a f_b f_c (each channel an
    independent uniform draw from the split). Under the null it has 999 degrees of freedom: mean 999, standard
    deviation sqrt(2 x 999) = 44.7 (every expected count is >= 26,000 x min f^3 = 16, where the chi-square law
    holds well). The bound mean + 6 sd = 1,267 is exceeded with probability about 1e-7 (Wilson-Hilferty); a sampler
    that reused one digit for all channels or mixed up the channel order would exceed it by far."""
    _, modes = real
    expected = N * mode_probabilities(test_split[1])
    assert float(expected.min()) >= 16
    observed = torch.bincount(modes, minlength=1000).double()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 999 + 6 * math.sqrt(2 * 999), chi2
    # ... and the mode distribution is close to uniform: its KL(f_a f_b f_c || uniform) = 3 KL(f || uniform over 10)
    # is below the (M - 1) / (2 N) = 0.019 that sampling alone adds to a histogram's KL at the protocol's N
    f = digit_frequencies(test_split[1])
    assert 3 * float((f * (10 * f).log()).sum()) < 999 / (2 * N)


def test_channels_are_independent(real):
    """The channel digits are drawn independently: a chi-square of the 10 x 10 table of (channel 0, channel 2) digits
    against the product of its margins (81 degrees of freedom: mean 81, sd 12.7; bound mean + 6 sd = 157)."""
    _, modes = real
    table = torch.zeros(10, 10, dtype=torch.float64)
    table.index_put_((modes // 100, modes % 10), torch.ones(N, dtype=torch.float64), accumulate=True)
    expected = table.sum(1, keepdim=True) * table.sum(0, keepdim=True) / N
    chi2 = float(((table - expected) ** 2 / expected).sum())
    assert chi2 < 81 + 6 * math.sqrt(2 * 81), chi2


def test_the_loader_draws_fresh_deterministic_batches(mnist_available):
    loader = StackedMNISTLoader(batch_size=16, seed=5, batches=3)
    first, second = list(loader), list(loader)
    assert len(loader) == 3 and len(first) == 3
    assert all(images.shape == (16, 3, 28, 28) and modes.shape == (16,) for images, modes in first)
    assert not torch.equal(first[0][1], second[0][1])  # a new pass draws new batches
    again = list(StackedMNISTLoader(batch_size=16, seed=5, batches=3))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))


@pytest.mark.parametrize("kwargs, match", [(dict(n=0, seed=0), "n must be a positive integer"),
                                           (dict(n=10, seed=-1), "seed must be a non-negative integer"),
                                           (dict(n=10, seed=1.5), "seed must be a non-negative integer")])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stacked_mnist(**kwargs)


# ---- the mode counter ----

def test_stacked_labels_are_the_classifier_argmax_of_each_channel(real):
    images = real[0][:400]
    modes, confidence = metrics.stacked_labels(images)
    model = metrics.mnist_classifier()
    with torch.no_grad():
        probs = [torch.softmax(model(images[:, c:c + 1]).double(), dim=1) for c in range(3)]
    digits = [p.argmax(1) for p in probs]
    assert torch.equal(modes, digits[0] * 100 + digits[1] * 10 + digits[2])
    least = torch.stack([p.max(1).values for p in probs], dim=1).min(1).values
    assert torch.allclose(confidence, least, atol=1e-6)


def test_real_stacked_digits_cover_every_mode_with_a_small_kl(real_scores, test_split):
    """26,000 real stacked digits. Coverage: a mode of probability p is missed with probability (1 - p)^26,000; the
    least likely mode has p = min f^3, so the expected number of missed modes is at most 1,000 (1 - min f^3)^26,000
    (about 1e-5 for MNIST's test split): all 1,000 are covered. KL: the plug-in KL of a sampled histogram exceeds
    the true KL(p || u) by about (M - 1) / (2 N) = 0.0192 on average, with sd sqrt(2 (M - 1)) / (2 N) = 0.0009; the
    true KL of the digit-triple distribution is 3 KL(f || u). The classifier's errors (about 1 % of the digits) move
    a few samples between modes; the tolerance is 6 sd."""
    f = digit_frequencies(test_split[1])
    missed = 1000 * (1 - float(f.min()) ** 3) ** N
    assert missed < 1e-3
    assert real_scores["modes"] == 1000
    expected_kl = 3 * float((f * (10 * f).log()).sum()) + 999 / (2 * N)
    assert abs(real_scores["kl"] - expected_kl) < 6 * math.sqrt(2 * 999) / (2 * N), (real_scores["kl"], expected_kl)
    assert real_scores["modes_confident"] == 1000 and real_scores["share_confident"] > 0.9
    assert sum(real_scores["counts"]) == N and sum(real_scores["counts_confident"]) == round(
        real_scores["share_confident"] * N)


def _independent_scores(modes):
    """Modes covered and KL to uniform of a set of modes, computed with NumPy from the definition."""
    counts = np.bincount(np.asarray(modes), minlength=1000).astype(np.float64)
    p = counts / counts.sum()
    return int((counts > 0).sum()), float(sum(q * math.log(1000 * q) for q in p if q > 0))


@pytest.fixture(scope="module")
def correctly_labelled(real, real_labels):
    """Real stacked digits whose three channels the classifier labels right (so their modes are known exactly)."""
    _, modes = real
    right = real_labels[0] == modes
    return modes[right], real_labels[1][right]


@pytest.mark.parametrize("kept", [1, 10, 100, 500], ids=lambda k: f"{k}-modes")
def test_collapsed_sets_score_what_they_hold(kept, correctly_labelled):
    """A 'generator' that only produces `kept` modes (real digits of those modes, with repeats): the counter finds
    exactly those modes and the KL of their histogram, which an independent computation gives. (In eval mode the
    classifier's output for an image does not depend on the rest of the batch, so a subset's labels are the subset
    of the labels: `stacked_scores` of those.)"""
    modes, confidence = correctly_labelled
    allowed = torch.randperm(1000, generator=torch.Generator().manual_seed(kept))[:kept]
    chosen = torch.nonzero(torch.isin(modes, allowed)).squeeze(1)
    index = chosen[torch.randint(len(chosen), (3_000,), generator=torch.Generator().manual_seed(1))]
    scores = metrics.stacked_scores(modes[index], confidence[index])
    modes_expected, kl_expected = _independent_scores(modes[index])
    assert scores["modes"] == modes_expected == len(torch.unique(modes[index])) <= kept
    assert abs(scores["kl"] - kl_expected) < 1e-9
    if kept == 1:
        assert scores["modes"] == 1 and abs(scores["kl"] - math.log(1000)) < 1e-12
    confident = confidence[index] >= metrics.STACKED_CONFIDENCE
    assert abs(scores["share_confident"] - float(confident.double().mean())) < 1e-12
    modes_confident, kl_confident = _independent_scores(modes[index][confident])
    assert scores["modes_confident"] == modes_confident and abs(scores["kl_confident"] - kl_confident) < 1e-9


def test_stacked_modes_on_images_of_ten_modes(real, real_labels):
    """End to end, images in: 1,000 real stacked digits of 10 modes the classifier labels right."""
    images, modes = real
    right = torch.nonzero(real_labels[0] == modes).squeeze(1)
    allowed = torch.unique(modes[right])[:10]
    index = right[torch.isin(modes[right], allowed)][:1_000]
    scores = metrics.stacked_modes(images[index])
    assert scores["modes"] == 10 == _independent_scores(modes[index])[0]
    assert abs(scores["kl"] - _independent_scores(modes[index])[1]) < 1e-9
    subset = metrics.stacked_scores(real_labels[0][index], real_labels[1][index])
    assert all(scores[key] == subset[key] for key in ("modes", "kl", "counts"))


def test_the_confidence_threshold_needs_all_three_channels(monkeypatch):
    """Channel confidences of exactly 0.9 count; a sample with one channel at 0.8999 does not."""
    def probs_with(top):
        row = torch.full((10,), (1 - top) / 9, dtype=torch.float64)
        row[3] = top
        return row

    # four images: (0.9, 0.9, 0.9) confident; (0.95, 0.8999, 0.99) not; (1, 1, 1) confident; (0.5, 1, 1) not
    tops = [(0.9, 0.9, 0.9), (0.95, 0.8999, 0.99), (1.0, 1.0, 1.0), (0.5, 1.0, 1.0)]
    table = torch.stack([probs_with(t) for image in tops for t in image])
    monkeypatch.setattr(metrics, "class_probabilities", lambda images, batch_size=500: table[:len(images)])
    scores = metrics.stacked_modes(torch.zeros(4, 3, 28, 28))
    assert scores["modes"] == 1 and scores["counts"][333] == 4
    assert scores["share_confident"] == 0.5 and scores["counts_confident"][333] == 2


@pytest.mark.parametrize("modes, confidence", [(torch.tensor([1, 1000]), torch.ones(2)),
                                               (torch.tensor([1.0, 2.0]), torch.ones(2)),
                                               (torch.tensor([1, 2]), torch.ones(3)),
                                               (torch.tensor([], dtype=torch.long), torch.ones(0))])
def test_stacked_scores_refuses_what_is_no_labelling(modes, confidence):
    with pytest.raises(ValueError, match="use stacked_labels"):
        metrics.stacked_scores(modes, confidence)


def test_no_confident_sample_gives_an_infinite_confident_kl(monkeypatch):
    monkeypatch.setattr(metrics, "class_probabilities",
                        lambda images, batch_size=500: torch.full((len(images), 10), 0.1, dtype=torch.float64))
    scores = metrics.stacked_modes(torch.zeros(5, 3, 28, 28))
    assert scores["share_confident"] == 0 and scores["modes_confident"] == 0 and scores["kl_confident"] == math.inf
    assert scores["modes"] == 1 and scores["kl"] == pytest.approx(math.log(1000))


@pytest.mark.parametrize("images, match", [(torch.rand(4, 1, 28, 28), "N x 3 x 28 x 28"),
                                           ((torch.rand(4, 3, 28, 28) * 255).to(torch.uint8), "/ 255"),
                                           (torch.rand(4, 3, 28, 28) * 2 - 1, r"\[0, 1\]")])
def test_bad_images_raise_clear_errors(images, match):
    with pytest.raises((ValueError, TypeError), match=match):
        metrics.stacked_modes(images)


# ---- the benchmark script ----

def test_benchmark_smoke_run_writes_every_row_and_the_published_ones(tmp_path, mnist_available):
    out = tmp_path / "stacked.json"
    result = subprocess.run([sys.executable, "-m", "tutorial_lib.bench", "stacked", "--rows", "vae", "dcgan",
                             "--settings", "standard", "weak", "--seeds", "0", "--workers", "1", "--budget-seconds",
                             "0.5", "--timing-steps", "2", "--timing-repeats", "1", "--n-eval", "300", "--curve", "0.5",
                             "--out", str(out)],
                            capture_output=True, text=True, timeout=1200, cwd=ROOT,
                            env={**os.environ, "CI": "true", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["complete"] and report["seeds"] == [0] and report["n_eval"] == 300
    assert report["budget"]["seconds_per_run"] == 0.5 and report["curve_fractions"] == [0.5, 1.0]
    assert report["curve_seeds"] == {name: [0] for name in report["rows"]}  # the first seed's runs
    assert set(report["rows"]) == {"vae / standard", "dcgan / standard", "dcgan / weak"}  # the VAE has no weak row
    networks = report["networks"]
    assert networks["discriminators"]["weak"]["parameters"] < networks["discriminators"]["standard"]["parameters"]
    for name, row in report["rows"].items():
        assert row["seconds_per_step"] > 0 and row["steps"] == max(10, int(0.5 / row["seconds_per_step"]) // 10 * 10)
        (run,) = row["runs"]
        assert run["steps"] == row["steps"] and run["curve"][-1]["step"] == row["steps"]
        assert [point["step"] for point in run["curve"]] == sorted({point["step"] for point in run["curve"]})
        assert 1 <= len(run["curve"]) <= 2  # the point at half the run (merged with the end in a very short run)
        assert 1 <= run["modes"] <= 300 and row["mean"]["modes"] == run["modes"]
        assert 0 <= run["kl"] <= math.log(1000) + 1e-9 and 0 <= run["share_confident"] <= 1
    assert "reconstructions" in report["rows"]["vae / standard"]["runs"][0]
    assert report["rows"]["vae / standard"]["recipe"]["lr"] == 5e-4  # notebook 06's optimizer
    assert report["networks"]["generator"]["config"]["depth"] == 2  # notebook 06's shared network
    assert report["rows"]["dcgan / weak"]["recipe"]["lr_g"] == 2e-4
    assert report["rows"]["dcgan / weak"]["discriminator"]["width"] < report["rows"]["dcgan / standard"][
        "discriminator"]["width"]
    assert {row["model"] for row in report["published"]} >= {"PacDCGAN2", "PacDCGAN4", "DCGAN"}
    # 300 real stacked digits: 1,000 (1 - 0.999^300) = 259 distinct modes expected; the 300 x 299 / 2 / 1,000 = 45
    # colliding pairs are about Poisson, sd about 7: 6 sd below the mean is 217
    assert report["real_test_digits"]["modes"] >= 217


@pytest.mark.parametrize("arguments, match", [(["--curve", "1.5"], "between 0 and 1"),
                                              (["--rows", "vae", "--settings", "weak"], "only the standard setting"),
                                              (["--seeds", "0", "1", "--curve-seeds", "2"], "among --seeds")])
def test_benchmark_refuses_bad_options_with_a_clear_message(arguments, match):
    result = subprocess.run([sys.executable, "-m", "tutorial_lib.bench", "stacked", *arguments, "--out", "/nonexistent"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 2 and match in result.stderr, result.stderr[-2000:]


RESULTS_FILE = ROOT / "benchmarks" / "results" / "stacked_mnist.json"
#: The longer budgets (notebook 09, section 4.1): the DCGAN against PacGAN2 in the standard setting, 600 s per run,
#: then 10,000 steps per run.
LONGER_FILE = ROOT / "benchmarks" / "results" / "stacked_mnist_600s.json"
LONGEST_FILE = ROOT / "benchmarks" / "results" / "stacked_mnist_10k.json"


def check_table(bench, expected_rows):
    """The checks every shipped Stacked MNIST table passes: complete, full mode, the protocol's 26,000 samples, three
    seeds or more, exactly `expected_rows`, step counts from the stated budget, each mean the mean of its runs, each
    run's last curve point its final score, the curve where `curve_seeds` says, and every score possible."""
    assert bench["complete"] and bench["mode"] == "full" and bench["n_eval"] == 26_000 and len(bench["seeds"]) >= 3
    assert set(bench["rows"]) == set(expected_rows)
    budget = bench["budget"]["seconds_per_run"]
    for name, row in bench["rows"].items():
        if budget is None:  # a fixed number of steps for every row (--steps), or step counts reused from such a file
            how = bench["budget"]["how"]
            assert row["seconds_per_step"] is None, name
            assert how == f"a fixed {row['steps']} steps for every row" or how.startswith("step counts reused from"), how
        else:
            assert row["steps"] == max(10, int(budget / row["seconds_per_step"]) // 10 * 10), name
        assert sorted(run["seed"] for run in row["runs"]) == sorted(bench["seeds"]), name
        assert bench["curve_seeds"][name], f"{name}: no run with the curve"
        keys = ("modes", "kl", "modes_confident", "kl_confident", "share_confident")
        for run in row["runs"]:
            assert (run["row"], run["setting"]) == (row["row"], row["setting"]), (name, run["seed"])
            assert run["steps"] == row["steps"] and run["curve"][-1]["step"] == row["steps"]
            assert all(run["curve"][-1][key] == run[key] for key in keys)
            steps = [max(1, round(f * row["steps"])) for f in bench["curve_fractions"]]
            if row["kind"] == "vae":  # the VAE's points fall on whole epochs (of the largest divisor up to 100)
                epoch = max(d for d in range(1, 101) if row["steps"] % d == 0)
                steps = [max(epoch, step // epoch * epoch) for step in steps]
            if run["seed"] not in bench["curve_seeds"][name]:  # the final score only
                steps = [row["steps"]]
            assert [p["step"] for p in run["curve"]] == sorted(set(steps)), (name, run["seed"])
            for point in run["curve"]:
                assert 1 <= point["modes"] <= 1000 and 0 <= point["modes_confident"] <= point["modes"]
                assert 0 <= point["kl"] <= math.log(1000) + 1e-9 and 0 <= point["share_confident"] <= 1
        means = [(row["mean"], row["runs"])]
        if row["kind"] == "vae":
            means.append((row["mean_reconstructions"], [run["reconstructions"] for run in row["runs"]]))
        for mean, runs in means:
            for key in keys:  # a mean is None when a run has none (kl_confident with no confident sample)
                values = [run[key] for run in runs]
                if any(value is None for value in values):
                    assert mean[key] is None, (name, key)
                else:
                    assert mean[key] == pytest.approx(sum(values) / len(values), rel=1e-12), (name, key)
    assert bench["real_test_digits"]["modes"] == 1000 and bench["real_test_digits"]["kl"] < 0.05


@pytest.mark.skipif(not RESULTS_FILE.is_file(), reason="no stacked_mnist.json yet (make bench-stacked)")
def test_the_shipped_table_is_complete_and_consistent():
    """benchmarks/results/stacked_mnist.json (notebook 09 and the README read it): every row of the script, three
    seeds or more, step counts from the stated budget, each mean the mean of its runs, each run's last curve point
    its final score, and every score possible under the protocol."""
    bench = json.loads(RESULTS_FILE.read_text())
    rows = ("dcgan", "pacgan2", "pacgan4", "wgan-gp", "sn-hinge")
    check_table(bench, {f"{row} / {s}" for row in rows for s in ("standard", "weak")} | {"vae / standard"})
    vae_row = bench["rows"]["vae / standard"]
    assert all(0 <= run["reconstructions"]["kl"] <= math.log(1000) for run in vae_row["runs"])


@pytest.mark.skipif(not LONGER_FILE.is_file(), reason="no stacked_mnist_600s.json yet (make bench-stacked-600s)")
def test_the_longer_budget_table_is_complete_and_consistent():
    """benchmarks/results/stacked_mnist_600s.json: the DCGAN and PacGAN2 with the standard discriminator on 600 s per
    run, three seeds, by the same checks; only the budget differs from the main table's rows (same networks, recipes
    and discriminators), so notebook 09 can set the two budgets side by side."""
    bench = json.loads(LONGER_FILE.read_text())
    check_table(bench, {"dcgan / standard", "pacgan2 / standard"})
    main = json.loads(RESULTS_FILE.read_text())
    assert bench["budget"]["seconds_per_run"] == 600 > main["budget"]["seconds_per_run"]
    assert bench["networks"] == main["networks"] and bench["seeds"] == main["seeds"]
    for name, row in bench["rows"].items():
        assert all(row[key] == main["rows"][name][key] for key in ("recipe", "discriminator", "kind")), name
        assert row["steps"] > main["rows"][name]["steps"], name


@pytest.mark.skipif(not LONGEST_FILE.is_file(), reason="no stacked_mnist_10k.json yet (make bench-stacked-10k)")
def test_the_equal_steps_table_is_complete_and_consistent():
    """benchmarks/results/stacked_mnist_10k.json: the DCGAN and PacGAN2 with the standard discriminator for 10,000
    steps each (equal steps, as PacGAN's tables compare rows at equal epochs), three seeds, by the same checks; the
    same networks, recipes, discriminators and seeds as the other two files, and more steps than either."""
    bench = json.loads(LONGEST_FILE.read_text())
    check_table(bench, {"dcgan / standard", "pacgan2 / standard"})
    assert bench["budget"]["seconds_per_run"] is None
    for other in (RESULTS_FILE, LONGER_FILE):
        shorter = json.loads(other.read_text())
        assert bench["networks"] == shorter["networks"] and bench["seeds"] == shorter["seeds"], other.name
        for name, row in bench["rows"].items():
            assert row["steps"] == 10_000 > shorter["rows"][name]["steps"], (other.name, name)
            assert all(row[key] == shorter["rows"][name][key] for key in ("recipe", "discriminator", "kind")), name


def _stacked_bench():
    """benchmarks/stacked.py as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("stacked_bench", ROOT / "benchmarks" / "stacked.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_a_curve_point_that_rounds_to_the_last_step_is_not_scored_twice():
    """A run's curve ends on its final score, once: a fraction that rounds to the last step (0.95 of 6 steps) adds
    no second point there (which the results file's checks would refuse)."""
    result = _stacked_bench().run("dcgan", "weak", seed=0, steps=6, n_eval=100, curve=(0.5, 0.95, 1.0))
    assert [point["step"] for point in result["curve"]] == [3, 6]


def test_scoring_a_run_midway_leaves_its_training_noise_alone():
    """The benchmark scores seed 0's runs at points along training (the curve). The classifier's first load builds a
    network, and a network's initialization draws from the global random stream, which also draws the training's
    latent noise: scoring must leave that stream where it was, or a run with a curve would train differently from
    one without (and from itself in a worker process that had loaded the classifier before)."""
    bench = _stacked_bench()
    generator, _ = bench.build("dcgan", "weak")
    images = bench.samples(generator, 40, seed=1)
    for first_load in (True, False):
        if first_load:
            metrics.mnist_classifier.cache_clear()
        torch.manual_seed(0)
        state = torch.get_rng_state()
        result = bench.score(images)
        assert torch.equal(torch.get_rng_state(), state), f"first load of the classifier: {first_load}"
        assert 1 <= result["modes"] <= 40
