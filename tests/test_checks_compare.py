"""The notebook-06 checker accepts a correct precision/recall and rejects the usual mistakes."""
import pytest
import torch

from tutorial_lib.checks import check_precision_recall


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)  # make test sets it; here we want True/False


def _radii(feats, k, offset):
    return torch.cdist(feats, feats).kthvalue(k + offset, dim=1).values


def make(offset=1, strict=False, swap=False):
    """A precision/recall with knobs for the typical mistakes: counting the point itself as its own neighbour
    (offset=0), a strict inequality, swapped roles."""
    def precision_recall(real, fake, k):
        def covered(points, support, radii):
            d = torch.cdist(points, support)
            inside = (d < radii) if strict else (d <= radii)
            return float(inside.any(dim=1).double().mean())

        real, fake = real.double(), fake.double()
        p = covered(fake, real, _radii(real, k, offset))
        r = covered(real, fake, _radii(fake, k, offset))
        return (r, p) if swap else (p, r)
    return precision_recall


def test_accepts_a_correct_implementation(capsys):
    assert check_precision_recall(make()) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [make(offset=0), make(strict=True), make(swap=True)],
                         ids=["itself-as-neighbour", "strict-inequality", "swapped"])
def test_rejects_typical_mistakes(wrong, capsys):
    assert check_precision_recall(wrong) is False
    out = capsys.readouterr().out
    assert "❌" in out and "Hint" in out


# ---- the Fréchet distance from two means and covariances ----

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

from tutorial_lib.checks import check_frechet_distance, check_inception_score  # noqa: E402


def frechet(mistake=None):
    """A Fréchet distance with knobs for the typical mistakes."""
    def fd(mu1, cov1, mu2, cov2):
        means = ((mu1 - mu2) ** 2).sum()
        if mistake == "norm-not-squared":
            means = np.sqrt(means)
        if mistake == "elementwise-sqrt":
            cross = np.sqrt(np.abs(cov1 @ cov2))
        elif mistake == "product-of-roots":
            cross = scipy.linalg.sqrtm(cov1).real @ scipy.linalg.sqrtm(cov2).real
        else:
            cross = scipy.linalg.sqrtm(cov1 @ cov2).real
        if mistake == "no-cross-term":
            cross = 0 * cross
        if mistake == "cross-term-once":
            cross = cross / 2
        return float(means + np.trace(cov1 + cov2 - 2 * cross))
    return fd


def test_frechet_accepts_the_product_form_of_the_square_root(capsys):
    assert check_frechet_distance(frechet()) is True  # tr√(Σ₁Σ₂) = tr√(Σ₁^½Σ₂Σ₁^½): both forms pass
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", ["no-cross-term", "elementwise-sqrt", "norm-not-squared", "product-of-roots",
                                     "cross-term-once"])
def test_frechet_rejects_typical_mistakes(mistake, capsys):
    assert check_frechet_distance(frechet(mistake)) is False
    out = capsys.readouterr().out
    assert "❌" in out and "Hint" in out and "sqrtm(" not in out.split("Hint")[1].replace("scipy.linalg.sqrtm;", "")


# ---- the Inception Score from class probabilities ----

def inception(mistake=None):
    """An Inception Score with knobs for the typical mistakes."""
    def score(probs):
        marginal = probs.mean(dim=0, keepdim=True)
        logs = torch.where(probs > 0, probs.clamp_min(1e-300).log(), torch.zeros_like(probs))
        if mistake == "nan-at-zero":
            logs = probs.log()
        if mistake == "reversed-kl":
            kl = (marginal * (marginal.log() - probs.clamp_min(1e-12).log())).sum(dim=1)
        else:
            kl = (probs * (logs - marginal.clamp_min(1e-300).log())).sum(dim=1)
        if mistake == "no-exp":
            return float(kl.mean())
        if mistake == "mean-of-exp":
            return float(kl.exp().mean())
        return float(kl.mean().exp())
    return score


def test_inception_score_accepts_a_correct_implementation(capsys):
    assert check_inception_score(inception()) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", ["no-exp", "reversed-kl", "mean-of-exp", "nan-at-zero"])
def test_inception_score_rejects_typical_mistakes(mistake, capsys):
    assert check_inception_score(inception(mistake)) is False
    assert "❌" in capsys.readouterr().out
