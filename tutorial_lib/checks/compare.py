"""Checkers of notebook 06 (comparing VAEs and GANs)."""
import torch

from ._core import Case, checker, run_check

__all__ = ["check_precision_recall"]


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
