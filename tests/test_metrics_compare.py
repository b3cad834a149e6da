"""The comparison's extra measurements (digit histogram, KL from uniform, sharpness, nearest neighbours,
active units) against independent computations."""
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import torch

from tutorial_lib import metrics


@pytest.fixture(scope="module")
def test_images(mnist_available):
    from tutorial_lib.data import load_mnist

    data = load_mnist(train=False, limit=1000)
    return data.images, data.labels


def test_digit_histogram_matches_counting_the_classifier_labels(test_images):
    images, labels = test_images
    with torch.no_grad():
        predicted = metrics.mnist_classifier()(images).argmax(1).tolist()
    expected = [predicted.count(d) / len(predicted) for d in range(10)]
    got = metrics.digit_histogram(images, batch_size=128)
    assert got.tolist() == pytest.approx(expected, abs=1e-12) and float(got.sum()) == pytest.approx(1.0)
    only_ones = images[labels == 1][:50]
    assert metrics.digit_histogram(only_ones)[1] > 0.95  # a "collapsed" set shows up as one tall bar


def test_kl_from_uniform_closed_forms():
    assert metrics.kl_from_uniform(torch.full((10,), 0.1, dtype=torch.float64)) == pytest.approx(0.0, abs=1e-12)
    assert metrics.kl_from_uniform(torch.tensor([1.0, 0, 0, 0])) == pytest.approx(math.log(4))
    p = np.array([0.5, 0.25, 0.25])
    assert metrics.kl_from_uniform(torch.tensor(p)) == pytest.approx(float((p * np.log(p * 3)).sum()))
    for bad in (torch.tensor([0.5, 0.6]), torch.tensor([-0.5, 1.5]), torch.ones(2, 2) / 4):
        with pytest.raises(ValueError, match="histogram"):
            metrics.kl_from_uniform(bad)


def test_sharpness_matches_scipy_laplace_and_drops_with_blur(test_images):
    images, _ = test_images
    sample = images[:20]
    expected = np.mean([scipy.ndimage.laplace(im[0].double().numpy())[1:-1, 1:-1].var(ddof=1) for im in sample])
    assert metrics.sharpness(sample) == pytest.approx(expected, rel=1e-9)
    for batch_size in (1, 3, 7, 20, 500):  # in batches that divide 20 or not, one at a time, all at once
        assert metrics.sharpness(sample, batch_size=batch_size) == pytest.approx(expected, rel=1e-9)
    blurred = torch.nn.functional.avg_pool2d(sample, 3, stride=1, padding=1)
    assert metrics.sharpness(blurred) < 0.5 * metrics.sharpness(sample)
    assert metrics.sharpness(torch.full((3, 1, 28, 28), 0.3)) == 0.0
    with pytest.raises(ValueError, match="N x 1 x 28 x 28"):
        metrics.sharpness(sample.view(20, 784))


@pytest.mark.parametrize("pool_block", [10_000, 64, 1])  # the pool searched whole, in blocks, one row at a time
def test_nearest_neighbours_matches_a_loop(pool_block):
    g = torch.Generator().manual_seed(0)
    pool, queries = torch.rand(300, 1, 4, 4, generator=g), torch.rand(17, 1, 4, 4, generator=g)
    distances, indices = metrics.nearest_neighbours(queries, pool, batch_size=5, pool_block=pool_block)
    for q, d, j in zip(queries, distances, indices):
        # The reference in float64, one item at a time: 16 squared differences of numbers in [0, 1] sum with a
        # relative rounding error below 16 * 2**-53, far inside rel=1e-12.
        brute = [float(((q.double() - p.double()) ** 2).sum().sqrt()) for p in pool]
        assert int(j) == int(np.argmin(brute)) and float(d) == pytest.approx(min(brute), rel=1e-12)
    d, j = metrics.nearest_neighbours(pool[[7, 42]], pool, pool_block=pool_block)
    assert j.tolist() == [7, 42] and d.tolist() == [0.0, 0.0]  # a copied item finds itself, exactly: a - a = 0


def test_nearest_neighbours_finds_exact_copies_of_digit_like_images_at_zero():
    # Images like digits: mostly 0 or 1 with grey edges. The float32 expansion |a|^2 + |b|^2 - 2ab put exact copies
    # of MNIST digits at distances up to 0.009; the direct recomputation of the winner gives exactly 0.
    g = torch.Generator().manual_seed(1)
    pool = (torch.rand(500, 1, 28, 28, generator=g) * 1.6 - 0.3).clamp(0, 1)
    queries = torch.cat([pool[[3, 250, 499]], pool[[10]] + 0.5 / 784])  # three copies, one shifted item
    d, j = metrics.nearest_neighbours(queries.clamp(0, 1), pool, batch_size=2, pool_block=128)
    assert j[:3].tolist() == [3, 250, 499] and d[:3].tolist() == [0.0, 0.0, 0.0]
    assert int(j[3]) == 10 and float(d[3]) > 0
    with pytest.raises(ValueError, match="same size"):
        metrics.nearest_neighbours(queries, torch.rand(5, 3))


class _FixedEncoder(torch.nn.Module):
    """A stand-in VAE whose posterior means are chosen by hand: z_0 follows the data, z_1 is constant."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def encode(self, x):
        first = x.flatten(1).mean(1, keepdim=True) * 10 * self.scale
        mu = torch.cat([first, torch.zeros_like(first)], dim=1)
        return mu, torch.zeros_like(mu)


def test_active_units_counts_dimensions_whose_mean_varies():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(200, 1, 28, 28, generator=g) * torch.rand(200, 1, 1, 1, generator=g)
    count, variances = metrics.active_units(_FixedEncoder(), images, batch_size=64)
    expected = (images.flatten(1).mean(1).double() * 10).var()
    assert count == 1 and variances[1] == 0 and float(variances[0]) == pytest.approx(float(expected), rel=1e-5)


# ---- notebook 06's pieces: Gaussian moments, the Fréchet distance, per-class recall, confident share ----

def test_gaussian_moments_match_numpy():
    feats = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mean, cov = metrics.gaussian_moments(feats)
    assert np.allclose(mean, feats.numpy().mean(0)) and np.allclose(cov, np.cov(feats.numpy(), rowvar=False))
    with pytest.raises(ValueError, match="N x D"):
        metrics.gaussian_moments(torch.zeros(1, 3))


def test_frechet_distance_closed_forms_and_scipy():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2; diagonal: the same summed over coordinates.
    assert metrics.frechet_distance([0.0], [[1.0]], [1.5], [[0.25]]) == pytest.approx(2.5)
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    mu1, mu2 = np.array([1.0, 0.0, 0.0]), np.zeros(3)
    expected = 1.0 + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum()
    assert metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected)
    # full covariances: the product form tr sqrt(S1 S2) that FID code uses gives the same number
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    product = np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert metrics.frechet_distance(np.zeros(5), s1, np.zeros(5), s2) == pytest.approx(product, rel=1e-8)
    assert metrics.frechet_distance(np.ones(5), s1, np.ones(5), s1) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="same D"):
        metrics.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(3))


def test_frechet_distance_of_moments_is_the_library_fid(test_images):
    images, _ = test_images
    real, fake = images[:400], torch.nn.functional.avg_pool2d(images[400:800], 3, stride=1, padding=1)
    ours = metrics.frechet_distance(*metrics.gaussian_moments(metrics.mnist_features(real)),
                                    *metrics.gaussian_moments(metrics.mnist_features(fake)))
    assert ours == pytest.approx(metrics.fid(real, fake), rel=1e-3)


def test_per_class_recall_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(60, 3, generator=gen), torch.randn(40, 3, generator=gen) + 0.7
    labels = torch.arange(60) % 3
    got = metrics.per_class_recall(real, labels, fake, k=2, classes=4)
    dist = torch.cdist(fake.double(), fake.double())
    radii = [sorted(dist[j].tolist())[2] for j in range(len(fake))]  # 2nd nearest other point (index 0 is itself)
    for c in range(3):
        members = [i for i in range(60) if labels[i] == c]
        covered = [any(float((real[i] - fake[j]).double().norm()) <= radii[j] for j in range(len(fake)))
                   for i in members]
        assert float(got[c]) == pytest.approx(sum(covered) / len(covered))
    assert math.isnan(float(got[3]))  # no real point of class 3
    # every class of a set is covered by that same set
    assert torch.equal(metrics.per_class_recall(real, labels, real, k=2, classes=3), torch.ones(3, dtype=torch.float64))


def test_confident_share_counts_rows():
    probs = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.2, 0.8]], dtype=torch.float64)
    assert metrics.confident_share(probs) == pytest.approx(0.5)
    assert metrics.confident_share(probs, threshold=0.5) == 1.0
    with pytest.raises(ValueError, match="N x C"):
        metrics.confident_share(torch.ones(3))
