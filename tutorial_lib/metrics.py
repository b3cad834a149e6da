"""Measuring generative models on MNIST: FID, KID, precision/recall and the Inception Score on the course's
own classifier, the VAE's NLL, and the questions the comparison asks (which digits, how sharp, copied or new).
2-D mode coverage lives in `tutorial_lib.modes` (re-exported here as `mode_metrics`)."""
import hashlib
import math
import warnings
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from . import validate
from .gan import _check_positive_int
from .modes import HIGH_QUALITY_STDS, mode_metrics  # noqa: F401  (re-exported: the 2-D lessons' import)

#: Where the course classifier's weights ship (package data) and where their SHA-256 is recorded.
ASSETS = Path(__file__).resolve().parent / "assets"
CLASSIFIER_PATH = ASSETS / "mnist_classifier.pt"
SHA256SUMS = ASSETS / "SHA256SUMS"
_REGENERATE = "python scripts/train_classifier.py"


class MNISTClassifier(nn.Module):
    """The course's small CNN for MNIST: three conv blocks, a 128-unit feature layer, 10 logits.

    ``forward(x)``: x is N x 1 x 28 x 28 in [0, 1] → N x 10 logits; ``features(x)`` → N x 128
    (the penultimate layer, after its ReLU), what FID, KID and precision/recall compare.
    """

    num_features = 128

    def __init__(self):
        super().__init__()
        def block(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                                 nn.MaxPool2d(2))
        self.body = nn.Sequential(block(1, 32), block(32, 64), block(64, 64), nn.Flatten(),  # 64 x 3 x 3
                                  nn.Linear(576, self.num_features), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, 10))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def sha256(path):
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recorded_sha256(name, regenerate=_REGENERATE):
    """The SHA-256 recorded for asset `name` in ``tutorial_lib/assets/SHA256SUMS`` (``<hex>  <name>`` lines);
    regenerate: the command named in the error when none is recorded."""
    if SHA256SUMS.is_file():
        for line in SHA256SUMS.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == name:
                return parts[0]
    raise FileNotFoundError(f"No SHA-256 recorded for {name!r} in {SHA256SUMS}. Regenerate the asset with its "
                            f"script (`{regenerate}`), which records it, or git checkout SHA256SUMS.")


def _write_sums(name, line=None):
    """Rewrite SHA256SUMS without asset `name`'s line, plus `line` when given (lines sorted by file name)."""
    lines = [kept for kept in (SHA256SUMS.read_text().splitlines() if SHA256SUMS.is_file() else [])
             if kept.split()[1:] != [name]] + ([line] if line is not None else [])
    SHA256SUMS.write_text("".join(f"{kept}\n" for kept in sorted(lines, key=lambda l: l.split()[1])))


def record_sha256(path):
    """Record (or update) the SHA-256 line of asset file `path` in SHA256SUMS; returns the hex digest."""
    path = Path(path)
    digest = sha256(path)
    _write_sums(path.name, f"{digest}  {path.name}")
    return digest


def forget_sha256(name):
    """Remove the SHA-256 line of asset `name` (a file no longer shipped) from SHA256SUMS, if it has one."""
    if SHA256SUMS.is_file():
        _write_sums(name)


def verified_load(path, name=None, regenerate=_REGENERATE):
    """Load a shipped checkpoint after checking its SHA-256 against SHA256SUMS; loud error on a mismatch."""
    from .train import load_checkpoint

    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise FileNotFoundError(f"The course asset {path} is missing. Reinstall the package or regenerate it "
                                f"with `{regenerate}`.")
    expected, actual = recorded_sha256(name, regenerate), sha256(path)
    if actual != expected:
        raise RuntimeError(f"CORRUPT FILE: {path} has SHA-256 {actual}, but {expected} is recorded in {SHA256SUMS}. "
                           f"The file is damaged or was changed: reinstall the package (git checkout the file) "
                           f"or regenerate it with `{regenerate}`.")
    return load_checkpoint(path)


def load_classifier(path=CLASSIFIER_PATH, name="mnist_classifier.pt"):
    """A fresh `MNISTClassifier` (eval mode, float32, CPU) with the weights in `path`, hash-checked."""
    state = verified_load(path, name)
    model = MNISTClassifier()
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    return model.eval()


@lru_cache(maxsize=1)
def mnist_classifier():
    """The course's MNIST classifier (shipped weights, SHA-256 checked, loaded with ``weights_only=True``), eval mode.
    Its weights are converted to channels-last when loaded, which makes its convolutions about a third faster on
    a CPU (the outputs agree with the default layout's to float32 rounding)."""
    model = load_classifier()
    model.requires_grad_(False)
    return model.to(memory_format=torch.channels_last)


def _check_images(images, name="images", min_count=1, batch_size=None):
    if batch_size is not None:
        _check_positive_int("batch_size", batch_size)
    return validate.images(images, name, min_count=min_count)


def _model_device(model, name, device=None):
    """The device of `model`'s weights (the CPU for a model without any), checked against a `device` the caller
    asked for: a model on one device with `device` naming another gets an error that says how to fix it."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    own = tensor.device if tensor is not None else torch.device("cpu")
    if device is None:
        return own
    wanted = torch.device(device)
    if wanted.type != own.type or None not in (wanted.index, own.index) and wanted.index != own.index:
        raise ValueError(f"{name}: the model's weights are on {own} but device={str(device)!r}; move the model with "
                         f"model.to({str(wanted)!r}) first, or leave device=None to compute where the model is.")
    return own


def _check_vae(model, name, methods=("encode", "decode")):
    if not all(callable(getattr(model, method, None)) for method in methods) or not isinstance(model, nn.Module):
        raise TypeError(f"{name} measures a VAE: a module with encode(x) -> (mu, logvar) and decode(z) -> logits, "
                        f"such as vae.VAE; got {type(model).__name__}, which has no {'/'.join(methods)}. A GAN's "
                        "generator has neither an encoder nor a likelihood: compare GANs with fid, kid or "
                        "precision_recall.")


@torch.no_grad()
def mnist_features(images, batch_size=500):
    """Penultimate-layer features of the course classifier: N x 1 x 28 x 28 in [0, 1] → N x 128 (float32, CPU)."""
    _check_images(images, batch_size=batch_size)
    model = mnist_classifier()
    return torch.cat([model.features(images[i:i + batch_size].detach().float().cpu())
                      for i in range(0, len(images), batch_size)])


class _Features(nn.Module):
    """Wraps the classifier for torchmetrics: images in [0, 1] in, float64 features out (``num_features`` set)."""

    num_features = MNISTClassifier.num_features

    def forward(self, images):
        return mnist_features(images).double()


def fid(real, fake, batch_size=500):
    """Fréchet distance between Gaussians fitted to the classifier features of `real` and `fake` images.

    real, fake: N x 1 x 28 x 28 in [0, 1] (N ≥ 2 each; sizes may differ). Returns a float (0 is best).
    Computed by torchmetrics' FrechetInceptionDistance with the course classifier as feature extractor.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check_images(real, "real", 2, batch_size), _check_images(fake, "fake", 2)
    if min(len(real), len(fake)) < MNISTClassifier.num_features:
        warnings.warn(f"fid on {len(real)} real and {len(fake)} fake images: fewer samples than the "
                      f"{MNISTClassifier.num_features} feature dimensions make the covariance singular and the FID "
                      "strongly biased upwards; use at least 2,000 images each side to compare models.", stacklevel=2)
    metric = FrechetInceptionDistance(feature=_Features())
    for images, is_real in ((real, True), (fake, False)):
        for i in range(0, len(images), batch_size):
            metric.update(images[i:i + batch_size], real=is_real)
    return float(metric.compute())


def kid(real, fake, subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance on the classifier features: unbiased MMD² with the kernel (xᵀy/d + 1)³.

    Averaged over `subsets` random subsets of min(`subset_size`, N_real, N_fake) samples each side (drawn
    with `seed`, so the value is reproducible). Returns ``(mean, std)`` as floats (≈ 0 for one distribution).
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    _check_images(real, "real", 2), _check_images(fake, "fake", 2)
    _check_positive_int("subsets", subsets), _check_positive_int("subset_size", subset_size)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("kid needs at least 2 real and 2 fake images.")
    with warnings.catch_warnings():  # its note on memory: the features are kept, N x 128 each side
        warnings.filterwarnings("ignore", message=".*will save all extracted features")
        metric = KernelInceptionDistance(feature=_Features(), subsets=subsets, subset_size=size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _kth_neighbour_radii(feats, k, batch_size=1000):
    """Distance from each row of `feats` to its k-th nearest other row (itself excluded)."""
    radii = []
    for i in range(0, len(feats), batch_size):
        d = torch.cdist(feats[i:i + batch_size], feats)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the point itself (distance 0)
    return torch.cat(radii)


def _covered(points, support, radii, batch_size=1000):
    """Fraction of `points` inside at least one ball B(support_j, radii_j)."""
    inside = [(torch.cdist(points[i:i + batch_size], support) <= radii).any(dim=1)
              for i in range(0, len(points), batch_size)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real_feats, fake_feats, k=3):
    """Improved precision and recall (Kynkäänniemi et al. 2019) of feature sets N x D and M x D.

    Each set's manifold is the union of balls around its points with radius = distance to the point's
    k-th nearest neighbour in the same set. precision = fraction of fake points inside the real manifold
    (quality); recall = fraction of real points inside the fake manifold (coverage). Returns (p, r).
    """
    real, fake = validate.features(real_feats, "real_feats"), validate.features(fake_feats, "fake_feats")
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_feats and fake_feats must be N x D and M x D with the same D, got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}; use mnist_features(images) first.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k >= min(len(real), len(fake)):
        raise ValueError(f"k must be an integer in [1, min(N, M) - 1], got k={k!r} for N={len(real)}, M={len(fake)}.")
    precision = _covered(fake, real, _kth_neighbour_radii(real, k))
    recall = _covered(real, fake, _kth_neighbour_radii(fake, k))
    return precision, recall


def sample_quality(real, fake, k=3, subsets=100, subset_size=1000, real_feats=None):
    """The course's table row for `fake` images against `real` ones (both N x 1 x 28 x 28 in [0, 1]).

    Returns floats: ``FID``, ``KID`` (the mean over subsets), ``precision`` and ``recall`` (with `k`),
    ``sharpness`` (of `fake`), ``digits`` (how many digits get at least a quarter of their fair share, 2.5 %, of
    `fake` by the classifier's labels) and ``digit_kl`` (KL of that label histogram from uniform, nats).
    Pass `real_feats` (``mnist_features(real)``) to reuse them across several fake sets.
    """
    real_feats = mnist_features(real) if real_feats is None else real_feats
    precision, recall = precision_recall(real_feats, mnist_features(fake), k=k)
    shares = digit_histogram(fake)
    return {"FID": fid(real, fake), "KID": kid(real, fake, subsets=subsets, subset_size=subset_size)[0],
            "precision": precision, "recall": recall, "sharpness": sharpness(fake),
            "digits": int((shares >= 0.025).sum()), "digit_kl": kl_from_uniform(shares)}


@torch.no_grad()
def _mean_per_image(model, data, batch_size, device, per_image, name):
    """Mean over all images of ``per_image(model, x)`` (N,), batch by batch, with the model in eval mode.
    data: a tensor N x 1 x 28 x 28 or an iterable of batches (tensors, or (images, labels) pairs)."""
    _check_vae(model, name)
    _check_positive_int("batch_size", batch_size)
    device = _model_device(model, name, device)
    batches = (data[i:i + batch_size] for i in range(0, len(data), batch_size)) if torch.is_tensor(data) else data
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = validate.images(x, f"a batch of {name}'s data", shape=None, value_range=False, check_finite=False)
            total += float(per_image(model, x.to(device)).double().sum())
            count += len(x)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError(f"{name} got no images: pass a tensor N x 1 x 28 x 28 or a non-empty loader.")
    return total / count


def nll(model, data, k=1000, batch_size=100, device=None):
    """Negative log-likelihood in nats per image, estimated by the IWAE bound with `k` samples (an upper bound).

    data: a tensor N x 1 x 28 x 28 (binary, e.g. dynamically binarized MNIST) or an iterable of batches
    (tensors, or (images, labels) pairs). Returns the mean of −iwae_bound(model, x, k) over all images.
    """
    from .vae import iwae_bound

    return _mean_per_image(model, data, batch_size, device, lambda m, x: -iwae_bound(m, x, k), "nll")


def negative_elbo(model, data, batch_size=500, seed=0, device=None):
    """The test loss of a VAE: mean −ELBO in nats per image, one sampled code per image (the pytorch/examples
    metric on grey pixels: BCE summed over pixels + KL). data: as for `nll`. seed: seeds torch's random numbers
    first, so that the estimate repeats (None: leave them as they are)."""
    from .vae import elbo

    if seed is not None:
        torch.manual_seed(seed)
    return _mean_per_image(model, data, batch_size, device, lambda m, x: -elbo(m, x), "negative_elbo")


# ---- Questions the comparison asks: which digits, how sharp, copied or new, how many latent units ----

@torch.no_grad()
def digit_histogram(images, batch_size=500):
    """Share of `images` (N x 1 x 28 x 28 in [0, 1]) that the course classifier labels as each digit: (10,)."""
    _check_images(images, batch_size=batch_size)
    model = mnist_classifier()
    labels = torch.cat([model(images[i:i + batch_size].detach().float().cpu()).argmax(1)
                        for i in range(0, len(images), batch_size)])
    return torch.bincount(labels, minlength=10).double() / len(labels)


@torch.no_grad()
def class_probabilities(images, batch_size=500):
    """The course classifier's softmax p(y|x): images N x 1 x 28 x 28 in [0, 1] -> N x 10 (float64, CPU)."""
    _check_images(images, batch_size=batch_size)
    model = mnist_classifier()
    return torch.cat([torch.softmax(model(images[i:i + batch_size].detach().float().cpu()).double(), dim=1)
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def features_and_probabilities(images, batch_size=500):
    """`mnist_features(images)` and `class_probabilities(images)` from one pass of the classifier (half the time
    of calling both): (N x 128 float32, N x 10 float64), CPU."""
    _check_images(images, batch_size=batch_size)
    model = mnist_classifier()
    feats = [model.features(images[i:i + batch_size].detach().float().cpu()) for i in range(0, len(images), batch_size)]
    probs = [torch.softmax(model.head(f).double(), dim=1) for f in feats]
    return torch.cat(feats), torch.cat(probs)


def inception_score_from_probabilities(probs):
    """exp(E_x KL(p(y|x) || p(y))) for class probabilities N x C (rows sum to 1); p(y) is their mean (0 log 0 = 0)."""
    probs = validate.probabilities(probs, "probs")
    marginal = probs.mean(dim=0, keepdim=True)
    terms = torch.where(probs > 0, probs * (probs.clamp_min(1e-300).log() - marginal.clamp_min(1e-300).log()),
                        torch.zeros_like(probs))
    return float(terms.sum(dim=1).mean().exp())


def inception_score(images, batch_size=500):
    """Inception Score (Salimans et al. 2016) on the course classifier: exp(E_x KL(p(y|x) || p(y))).

    images: N x 1 x 28 x 28 in [0, 1] (the protocol uses 5,000 or more). Between 1 and 10; real test digits
    score about 9.7 (the ceiling): high when each image is confidently one digit and all digits appear.
    """
    return inception_score_from_probabilities(class_probabilities(images, batch_size))


def kl_from_uniform(shares):
    """KL(shares ‖ uniform) in nats for a histogram (M,) summing to 1: log M − entropy (0 when uniform)."""
    shares = validate.probabilities(shares, "shares", dim=1)
    nonzero = shares[shares > 0]
    return float((nonzero * (nonzero * len(shares)).log()).sum())


def sharpness(images, batch_size=500):
    """Mean over images of the variance of the discrete Laplacian (a standard blur measure; higher = sharper).

    images: N x 1 x 28 x 28 in [0, 1]. Uses the 5-point stencil on interior pixels only (no padding). Computed
    `batch_size` images at a time (a float64 convolution of 10,000 images at once took 330 MB more).
    """
    _check_images(images, batch_size=batch_size)
    stencil = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64).view(1, 1, 3, 3)
    laplacians = (torch.nn.functional.conv2d(images[i:i + batch_size].detach().double().cpu(), stencil)
                  for i in range(0, len(images), batch_size))
    variances = [laplacian.flatten(1).var(dim=1) for laplacian in laplacians]
    return float(torch.cat(variances).mean())


@torch.no_grad()
def nearest_neighbours(queries, pool, batch_size=256, pool_block=10_000):
    """For each of `queries` (N x ...), the Euclidean distance to and index of its nearest row of `pool` (M x ...).

    Both are flattened per item (e.g. images N x 1 x 28 x 28 compare pixel by pixel). Returns (distances (N,)
    float64, indices (N,)). The search runs in float64 (the fast expansion |a|^2 + |b|^2 - 2ab, whose float32
    rounding alone reached 0.009 on exact copies of digits); the winner's distance is then recomputed directly as
    sqrt(sum((a - b)^2)), so an exact copy is at distance 0.0 on every CPU. The pool is converted and searched
    `pool_block` rows at a time, so memory stays small (a float64 copy of 60,000 digits alone takes 376 MB).
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("pool_block", pool_block)
    queries, pool = (validate.images(x, name, shape=None, value_range=False, to_tensor=True).flatten(1)
                     for x, name in ((queries, "queries"), (pool, "pool")))
    queries = queries.double()
    if queries.shape[1] != pool.shape[1] or len(pool) == 0:
        raise ValueError(f"queries and pool must hold items of the same size, got {tuple(queries.shape)} and "
                         f"{tuple(pool.shape)}")
    best = torch.full((len(queries),), float("inf"), dtype=torch.float64)
    indices = torch.zeros(len(queries), dtype=torch.long)
    for start in range(0, len(pool), pool_block):
        block = pool[start:start + pool_block].double()
        for i in range(0, len(queries), batch_size):
            d = torch.cdist(queries[i:i + batch_size], block)
            value, j = d.min(dim=1)
            better = value < best[i:i + batch_size]  # strict: the first of equal rows wins, as one argmin would
            best[i:i + batch_size] = torch.where(better, value, best[i:i + batch_size])
            indices[i:i + batch_size] = torch.where(better, j + start, indices[i:i + batch_size])
    distances = torch.cat([(queries[i:i + batch_size] - pool[indices[i:i + batch_size]].double()).pow(2)
                           .sum(dim=1).sqrt() for i in range(0, len(queries), batch_size)])
    return distances, indices


@torch.no_grad()
def active_units(model, images, threshold=0.01, batch_size=500):
    """Latent dimensions a VAE uses (Burda et al. 2015): Var over the data of the posterior mean E_q[z_d | x] > threshold.

    images: N x 1 x 28 x 28. Returns (count, variances (latent_dim,)). The rest have collapsed to the prior.
    """
    _check_images(images, min_count=2, batch_size=batch_size)
    _check_vae(model, "active_units", ("encode",))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < math.inf:
        raise ValueError(f"threshold must be a finite number >= 0 (a variance), got {threshold!r}")
    device = _model_device(model, "active_units")
    means = torch.cat([model.encode(images[i:i + batch_size].to(device))[0].double().cpu()
                       for i in range(0, len(images), batch_size)])
    variances = means.var(dim=0)
    return int((variances > threshold).sum()), variances


# ---- Notebook 06's pieces, each one readable: Gaussian moments, the Fréchet distance, coverage per class ----

def gaussian_moments(feats):
    """The Gaussian FID fits to features N x D (N >= 2): mean (D,) and unbiased covariance D x D, float64 NumPy."""
    feats = validate.features(feats.detach() if torch.is_tensor(feats) else feats, "feats").cpu()
    if len(feats) < 2:
        raise ValueError(f"feats must be N x D with N >= 2, got shape {tuple(feats.shape)}; use mnist_features first")
    return feats.mean(dim=0).numpy(), torch.cov(feats.T).reshape(feats.shape[1], feats.shape[1]).numpy()


def frechet_distance(mu1, cov1, mu2, cov2):
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2) (means (D,), covariances D x D):
    ‖mu1 − mu2‖² + tr(cov1 + cov2 − 2 (cov1^½ cov2 cov1^½)^½), by symmetric eigendecompositions. Returns a float."""
    import numpy as np

    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    cov1, cov2 = (np.atleast_2d(np.asarray(c, dtype=np.float64)) for c in (cov1, cov2))
    if not (mu1.shape == mu2.shape and mu1.ndim == 1 and cov1.shape == cov2.shape == (len(mu1), len(mu1))):
        raise ValueError(f"need means (D,) and covariances D x D of the same D, got {mu1.shape}, {cov1.shape}, "
                         f"{mu2.shape}, {cov2.shape}")
    for value, name in ((mu1, "mu1"), (cov1, "cov1"), (mu2, "mu2"), (cov2, "cov2")):
        validate.finite(torch.from_numpy(value), name, "the moments of a feature set with NaN (a diverged model's "
                                                       "images): fix the features first (mnist_features refuses NaN).")
    # Symmetric eigendecompositions (much faster than scipy.linalg.sqrtm, and exact for the singular covariances of
    # dead feature units): cov1^½ = V diag(√w) Vᵀ, and tr (cov1^½ cov2 cov1^½)^½ = Σ √(its eigenvalues).
    w, v = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root1 @ cov2 @ root1
    cross_trace = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * cross_trace)


def per_class_recall(real_feats, real_labels, fake_feats, k=3, classes=10):
    """Recall of each class: the share of real points of class c (features N x D, labels (N,)) inside the fake
    manifold (balls around fake_feats M x D reaching their k-th nearest fake neighbour). Returns (classes,) float64,
    NaN for a class with no real point. A model that drops a digit has a low recall for that digit only."""
    real, fake = validate.features(real_feats, "real_feats"), validate.features(fake_feats, "fake_feats")
    labels = torch.as_tensor(real_labels).long()
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1] or labels.shape != (len(real),):
        raise ValueError(f"need real_feats N x D, real_labels (N,) and fake_feats M x D, got {tuple(real.shape)}, "
                         f"{tuple(labels.shape)} and {tuple(fake.shape)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k >= len(fake):
        raise ValueError(f"k must be an integer in [1, M - 1], got k={k!r} for M={len(fake)}")
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < classes:
        raise ValueError(f"real_labels must be classes 0..{classes - 1}, got values from {int(labels.min())} to "
                         f"{int(labels.max())}; pass classes= for more classes.")
    radii = _kth_neighbour_radii(fake, k)
    inside = torch.cat([(torch.cdist(real[i:i + 1000], fake) <= radii).any(dim=1) for i in range(0, len(real), 1000)])
    return torch.tensor([float(inside[labels == c].double().mean()) if (labels == c).any() else float("nan")
                         for c in range(classes)], dtype=torch.float64)


def confident_share(probs, threshold=0.9):
    """Share of samples whose class probabilities (N x C, e.g. `class_probabilities`) put at least `threshold` on
    one class: a malformed digit is one the classifier cannot name with confidence."""
    probs = validate.probabilities(probs, "probs")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a probability in (0, 1], got {threshold!r}")
    return float((probs.max(dim=1).values >= threshold).double().mean())


# ---- Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018): 1,000 modes, one per digit triple ----

#: A channel counts as a confident digit when the classifier gives its argmax at least this probability.
STACKED_CONFIDENCE = 0.9


@torch.no_grad()
def stacked_labels(images, batch_size=500):
    """The course classifier on each channel of Stacked MNIST images (N x 3 x 28 x 28 in [0, 1]).

    Returns ``(modes (N,) int64 in 0..999, confidence (N,) float64)``: the mode 100 a + 10 b + c of the argmax
    digits a, b, c of channels 0, 1, 2, and the least of the three channels' argmax probabilities.
    """
    images = validate.images(images, "images", shape=(3, 28, 28))
    probs = class_probabilities(images.reshape(-1, 1, 28, 28), batch_size).reshape(len(images), 3, 10)
    confidence, digits = probs.max(dim=2)
    return digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2], confidence.min(dim=1).values


def stacked_modes(images, batch_size=500):
    """Mode coverage on Stacked MNIST: images N x 3 x 28 x 28 in [0, 1] (the protocol uses N = 26,000).

    Each channel gets the course classifier's argmax digit, so each image one of 1,000 modes (`stacked_labels`);
    the scores are `stacked_scores` of those modes. Returns its dict.
    """
    return stacked_scores(*stacked_labels(images, batch_size))


def stacked_scores(modes, confidence):
    """The Stacked MNIST scores of classified images: modes (N,) in 0..999 and confidence (N,), `stacked_labels`.

    Returns a dict:
      - ``modes``: how many of the 1,000 modes hold at least one image; ``kl``: KL(mode histogram || uniform) in
        nats, `kl_from_uniform` (log 1000 = 6.91 when every image sits in one mode). The published protocol,
        the only two numbers comparable with the papers;
      - ``modes_confident``, ``kl_confident``: the same over the confident images only, those whose three channels
        each get at least `STACKED_CONFIDENCE` = 0.9 from the classifier (``kl_confident`` is ``inf`` when no image
        is confident); ``share_confident``: their share of all images;
      - ``counts``, ``counts_confident``: the two histograms, lists of 1,000 ints (index 100 a + 10 b + c).
    """
    modes, confidence = torch.as_tensor(modes), torch.as_tensor(confidence)
    if modes.dim() != 1 or len(modes) == 0 or confidence.shape != modes.shape or modes.is_floating_point() \
            or int(modes.min()) < 0 or int(modes.max()) > 999:
        raise ValueError(f"need modes (N,) of integers in 0..999 and confidence (N,), N >= 1, got shapes "
                         f"{tuple(modes.shape)} and {tuple(confidence.shape)}; use stacked_labels(images)")
    counts = torch.bincount(modes, minlength=1000)
    counts_confident = torch.bincount(modes[confidence >= STACKED_CONFIDENCE], minlength=1000)
    n_confident = int(counts_confident.sum())
    return {"modes": int((counts > 0).sum()), "kl": kl_from_uniform(counts.double() / len(modes)),
            "modes_confident": int((counts_confident > 0).sum()),
            "kl_confident": kl_from_uniform(counts_confident.double() / n_confident) if n_confident else math.inf,
            "share_confident": n_confident / len(modes),
            "counts": counts.tolist(), "counts_confident": counts_confident.tolist()}
