"""The comparison's extra measurements (digit histogram, KL from uniform, sharpness, nearest neighbours,
active units) against independent computations."""
import math

import numpy as np
import pytest
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
    blurred = torch.nn.functional.avg_pool2d(sample, 3, stride=1, padding=1)
    assert metrics.sharpness(blurred) < 0.5 * metrics.sharpness(sample)
    assert metrics.sharpness(torch.full((3, 1, 28, 28), 0.3)) == 0.0
    with pytest.raises(ValueError, match="N x 1 x 28 x 28"):
        metrics.sharpness(sample.view(20, 784))


def test_nearest_neighbours_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    pool, queries = torch.rand(300, 1, 4, 4, generator=g), torch.rand(17, 1, 4, 4, generator=g)
    distances, indices = metrics.nearest_neighbours(queries, pool, batch_size=5)
    for q, d, j in zip(queries, distances, indices):
        brute = [float(((q - p) ** 2).sum().sqrt()) for p in pool]
        assert int(j) == int(np.argmin(brute)) and float(d) == pytest.approx(min(brute), rel=1e-5)
    d, j = metrics.nearest_neighbours(pool[[7, 42]], pool)
    assert j.tolist() == [7, 42] and d.abs().max() < 1e-3  # a copied item finds itself
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
