"""Sample-quality metrics on MNIST (FID, KID, precision/recall, NLL) against independent references."""
import shutil

import numpy as np
import pytest
import scipy.linalg
import torch

from tutorial_lib import metrics
from tutorial_lib.metrics import fid, kid, mnist_classifier, mnist_features, precision_recall


@pytest.fixture(scope="module")
def test_images(mnist_available):
    from tutorial_lib.data import load_mnist

    data = load_mnist(train=False, limit=2000)
    return data.images, data.labels


def frechet_numpy(f1, f2):
    """Fréchet distance between N(mu1, S1) and N(mu2, S2) fitted to feature arrays, with scipy's sqrtm."""
    f1, f2 = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def precision_recall_bruteforce(real, fake, k):
    """Kynkäänniemi et al. 2019, with explicit loops over points (NumPy)."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)

    def radii(points):
        out = []
        for p in points:
            d = sorted(np.sqrt(((points - p) ** 2).sum(1)))
            out.append(d[k])  # d[0] = 0 is the point itself
        return np.array(out)

    def covered(points, support, r):
        return np.mean([any(np.sqrt(((s - p) ** 2).sum()) <= rs for s, rs in zip(support, r)) for p in points])

    return covered(fake, real, radii(real)), covered(real, fake, radii(fake))


def mmd2_unbiased_numpy(x, y):
    """Unbiased MMD² with the polynomial kernel k(a, b) = (aᵀb / d + 1)³ (the KID kernel)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def blur(images):
    return torch.nn.functional.avg_pool2d(images, 3, stride=1, padding=1)


# ---- the classifier ----

def test_classifier_accuracy_on_test_slice(test_images):
    images, labels = test_images
    with torch.no_grad():
        accuracy = (mnist_classifier()(images).argmax(1) == labels).double().mean().item()
    assert accuracy >= 0.98


def test_classifier_is_small_and_hash_recorded():
    assert metrics.CLASSIFIER_PATH.stat().st_size < 1_000_000
    assert metrics.sha256(metrics.CLASSIFIER_PATH) == metrics.recorded_sha256("mnist_classifier.pt")


def test_corrupted_classifier_fails_loudly(tmp_path):
    copy = tmp_path / "mnist_classifier.pt"
    shutil.copy(metrics.CLASSIFIER_PATH, copy)
    metrics.load_classifier(copy)  # the intact copy loads
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="CORRUPT") as error:
        metrics.load_classifier(copy)
    assert "train_classifier.py" in str(error.value)


def test_features_shape_and_bad_input(test_images):
    images, _ = test_images
    feats = mnist_features(images[:7])
    assert feats.shape == (7, metrics.MNISTClassifier.num_features)
    assert torch.allclose(feats[:3], mnist_features(images[:3]), atol=1e-5)  # batching does not matter
    with pytest.raises(ValueError, match="N x 1 x 28 x 28"):
        mnist_features(images[:4].view(4, 784))
    with pytest.raises(ValueError, match="N x 1 x 28 x 28"):
        fid(images[:10], images[:10, :, :14])


# ---- FID ----

def test_fid_of_a_set_with_itself_is_zero(test_images):
    images, _ = test_images
    assert abs(fid(images[:500], images[:500])) < 1e-3


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # a few feature units are always 0
def test_fid_matches_scipy_frechet_distance(test_images):
    images, _ = test_images
    real, fake = images[:600], blur(images[600:1100])
    expected = frechet_numpy(mnist_features(real), mnist_features(fake))
    assert expected > 1.0  # blurred digits are measurably different
    assert fid(real, fake) == pytest.approx(expected, rel=1e-3)


# ---- KID ----

def test_kid_matches_unbiased_mmd_and_separates_distributions(test_images):
    images, _ = test_images
    a, b = images[:400], images[400:800]
    same, _ = kid(a, b, subsets=1, subset_size=400)  # one subset of everything: the full-sample estimator
    assert same == pytest.approx(mmd2_unbiased_numpy(mnist_features(a), mnist_features(b)), rel=1e-4, abs=1e-6)
    shifted, _ = kid(a, blur(b), subsets=1, subset_size=400)
    assert shifted == pytest.approx(mmd2_unbiased_numpy(mnist_features(a), mnist_features(blur(b))), rel=1e-4)
    assert abs(same) < 0.1 * shifted
    subsampled, std = kid(a, blur(b), subsets=20, subset_size=200)
    assert subsampled == pytest.approx(shifted, rel=0.3) and std > 0
    assert kid(a, b, subsets=5, subset_size=100) == kid(a, b, subsets=5, subset_size=100)  # seeded


def test_sample_quality_row_combines_the_metrics(test_images):
    images, labels = test_images
    real, fake = images[:300], blur(images[300:600])
    row = metrics.sample_quality(real, fake, subsets=3, subset_size=100)
    assert row["FID"] == pytest.approx(fid(real, fake), rel=1e-9)
    assert row["KID"] == pytest.approx(kid(real, fake, subsets=3, subset_size=100)[0], rel=1e-9)
    assert (row["precision"], row["recall"]) == precision_recall(mnist_features(real), mnist_features(fake))
    shares = metrics.digit_histogram(fake)
    assert row["sharpness"] == metrics.sharpness(fake) and row["digit_kl"] == metrics.kl_from_uniform(shares)
    assert row["digits"] == sum(share >= 0.025 for share in shares.tolist())
    ones = metrics.sample_quality(real, images[labels == 1][:100], subsets=3, subset_size=50)
    assert ones["digits"] == 1 and ones["digit_kl"] > 0.9 * np.log(10)  # a collapsed set: one digit


# ---- precision / recall ----

def test_precision_recall_matches_bruteforce():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 5))
    fake = rng.normal(loc=0.5, scale=1.3, size=(45, 5))
    for k in (1, 3, 5):
        got = precision_recall(torch.tensor(real), torch.tensor(fake), k=k)
        assert got == pytest.approx(precision_recall_bruteforce(real, fake, k), abs=1e-12)
    p, r = precision_recall(torch.tensor(real), torch.tensor(fake), k=3)
    assert 0 < p < 1 and 0 < r < 1  # the case is not degenerate


def test_precision_recall_identical_sets():
    feats = torch.randn(200, 8, generator=torch.Generator().manual_seed(1))
    assert precision_recall(feats, feats, k=3) == (1.0, 1.0)


def test_precision_recall_one_cluster_of_two():
    g = torch.Generator().manual_seed(2)
    centers = torch.tensor([[0.0, 0.0], [20.0, 0.0]])
    real = torch.cat([torch.randn(300, 2, generator=g) + c for c in centers])
    collapsed = centers[0] + 1e-3 * torch.randn(300, 2, generator=g)  # mode collapse onto one cluster
    p, r = precision_recall(real, collapsed, k=3)
    assert p == pytest.approx(1.0, abs=0.02) and r < 0.02
    one_cluster = torch.randn(300, 2, generator=g) + centers[0]  # covers the first cluster well
    p, r = precision_recall(real, one_cluster, k=3)
    assert p > 0.9 and 0.4 < r < 0.55


def test_precision_recall_bad_input():
    with pytest.raises(ValueError, match="same D"):
        precision_recall(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(torch.randn(5, 3), torch.randn(5, 3), k=5)


# ---- NLL from the IWAE bound ----

def test_nll_is_mean_negative_iwae_bound():
    vae = pytest.importorskip("tutorial_lib.vae")
    torch.manual_seed(0)
    model = vae.VAE(latent_dim=4)
    x = torch.bernoulli(torch.full((10, 1, 28, 28), 0.3))
    torch.manual_seed(1)
    value = metrics.nll(model, x, k=8, batch_size=4)
    torch.manual_seed(1)
    with torch.no_grad():
        expected = -torch.cat([vae.iwae_bound(model, x[i:i + 4], 8) for i in range(0, 10, 4)]).mean()
    assert value == pytest.approx(float(expected), rel=1e-5)
    loader = [(x[:6], None), (x[6:], None)]
    assert metrics.nll(model, loader, k=8) > 0


def test_negative_elbo_is_the_seeded_mean_of_minus_elbo_batch_by_batch():
    vae = pytest.importorskip("tutorial_lib.vae")
    torch.manual_seed(0)
    model = vae.VAE(latent_dim=4)
    x = torch.rand(10, 1, 28, 28)  # grey pixels, as in the pytorch/examples metric
    value = metrics.negative_elbo(model, x, batch_size=4, seed=3)
    torch.manual_seed(3)
    with torch.no_grad():
        expected = -torch.cat([vae.elbo(model, x[i:i + 4]) for i in range(0, 10, 4)]).mean()
    assert value == pytest.approx(float(expected), rel=1e-6)
    assert metrics.negative_elbo(model, x, batch_size=4, seed=3) == value  # the seed makes it repeat
    assert metrics.negative_elbo(model, [(x[:4], None), (x[4:8], None), (x[8:], None)], seed=3) == pytest.approx(value)
    assert metrics.negative_elbo(model, x, seed=4) != value  # another seed, other codes
    with pytest.raises(ValueError, match="negative_elbo got no images"):
        metrics.negative_elbo(model, [])
