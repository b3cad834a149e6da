"""Checkers of notebook 06 (comparing VAEs and GANs)."""
import torch

from ._core import Case, checker, run_check

__all__ = ["check_frechet_distance", "check_inception_score", "check_precision_recall"]


@checker
def check_precision_recall(fn):
    """Check ``fn(real_feats N x D, fake_feats M x D, k) -> (precision, recall)`` (Kynkäänniemi et al. 2019)."""
    from ..metrics import precision_recall

    generator = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 3, generator=generator), 1.5 * torch.randn(30, 3, generator=generator) + 0.5
    line_real, line_fake = torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[3.0], [5.0]])
    cluster = torch.randn(25, 2, generator=generator)
    cases = [Case("points on a line, k=1 (a fake point exactly on a ball's edge counts as inside)",
                  (line_real, line_fake, 1), expected=(0.5, 2 / 3)),
             Case("random features, k=3", (real, fake, 3), expected=precision_recall(real, fake, k=3)),
             Case("random features, k=1", (real, fake, 1), expected=precision_recall(real, fake, k=1)),
             Case("identical sets", (cluster, cluster.clone(), 3), expected=(1.0, 1.0)),
             Case("fakes far from every real point", (cluster, cluster + 100.0, 3), expected=(0.0, 0.0))]
    return run_check("precision_recall", fn, cases,
                     hint="the radius of a point is the distance to its k-th nearest neighbour in its OWN set, "
                          "not counting itself (torch.cdist, then kthvalue(k + 1) because the point itself is at "
                          "distance 0); a point is covered when its distance to some point of the other set is <= "
                          "that point's radius. precision covers fake by real balls, recall real by fake balls.")


def _spd(d, seed):
    """A random symmetric positive definite d x d matrix (float64 NumPy)."""
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)).numpy()


@checker
def check_frechet_distance(fn):
    """Check ``fn(mu1, cov1, mu2, cov2) -> float``: the squared Fréchet distance between two Gaussians (NumPy
    float64 means (D,) and covariances D x D), against closed forms and SciPy's matrix square root."""
    import numpy as np

    from ..metrics import frechet_distance

    mu_a, mu_b = np.array([0.0, 1.0, -1.0]), np.array([1.0, 3.0, -1.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 1.0])
    closed = float(((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum())
    cov1, cov2 = _spd(4, 1), _spd(4, 2)
    mu1, mu2 = np.array([0.5, -0.2, 0.0, 1.0]), np.array([0.0, 0.3, 0.4, 0.2])
    cases = [Case("one dimension: N(0, 1) and N(1.5, 0.5²) (closed form (μ₁−μ₂)² + (σ₁−σ₂)² = 2.5)",
                  (np.array([0.0]), np.eye(1), np.array([1.5]), np.eye(1) * 0.25), expected=2.5, atol=1e-6),
             Case("a Gaussian against itself (must be 0: the cross term 2·tr√(Σ₁Σ₂) cancels the traces)",
                  (mu1, cov1, mu1.copy(), cov1.copy()), expected=0.0, atol=1e-6),
             Case("diagonal covariances, means 2.2 apart (closed form: ‖μ₁−μ₂‖² + Σ(σ₁−σ₂)², the means' distance "
                  "SQUARED)", (mu_a, np.diag(var_a), mu_b, np.diag(var_b)), expected=closed, atol=1e-6),
             Case("full covariances that do not commute (catches an element-wise square root and √Σ₁·√Σ₂ in place "
                  "of √(Σ₁Σ₂))", (mu1, cov1, mu2, cov2), expected=frechet_distance(mu1, cov1, mu2, cov2), atol=1e-6),
             Case("the same covariances, equal means", (mu2, cov2, mu2.copy(), cov1),
                  expected=frechet_distance(mu2, cov2, mu2, cov1), atol=1e-6)]
    return run_check("frechet_distance", fn, cases,
                     hint="add three parts: the squared Euclidean distance of the means, the traces of both "
                          "covariances, and minus twice the trace of the MATRIX square root of the product of the "
                          "two covariances (scipy.linalg.sqrtm; keep its real part). An element-wise square root "
                          "of the entries is not a matrix square root, and sqrt(A)·sqrt(B) differs from sqrt(AB) "
                          "unless A and B commute.")


@checker
def check_inception_score(fn):
    """Check ``fn(probs N x C) -> float``: exp(E_x KL(p(y|x) ‖ p(y))) with p(y) the mean of the rows."""
    from ..metrics import inception_score_from_probabilities

    generator = torch.Generator().manual_seed(0)
    soft = torch.softmax(2 * torch.randn(50, 10, generator=generator, dtype=torch.float64), dim=1)
    skewed = torch.softmax(torch.randn(40, 4, generator=generator, dtype=torch.float64) + torch.tensor(
        [2.0, 0.0, 0.0, -1.0], dtype=torch.float64), dim=1)
    cases = [Case("confident and balanced: one-hot rows over 4 classes, 5 each (the score is 4; 0·log 0 counts "
                  "as 0, not NaN)", (torch.eye(4, dtype=torch.float64).repeat(5, 1),), expected=4.0),
             Case("no confidence: every row uniform over 10 classes (score 1)",
                  (torch.full((8, 10), 0.1, dtype=torch.float64),), expected=1.0),
             Case("random softmax rows over 10 classes (catches a missing exp, KL the wrong way round, and the mean of "
                  "exp(KL) in place of exp of the mean KL)", (soft,), expected=inception_score_from_probabilities(soft)),
             Case("an unbalanced marginal p(y) over 4 classes", (skewed,),
                  expected=inception_score_from_probabilities(skewed))]
    return run_check("inception_score", fn, cases,
                     hint="p(y) is the average of the rows; for every row take KL(p(y|x) ‖ p(y)) = Σ_y p(y|x) "
                          "(log p(y|x) − log p(y)), treating terms with p(y|x) = 0 as 0; average these KLs over the "
                          "rows and only then exponentiate.")
