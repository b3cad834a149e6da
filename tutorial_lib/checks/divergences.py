"""Checkers of the divergences notebook (07)."""
import math

import torch

from ._core import Case, checker, run_check

__all__ = ["check_kl_on_grid", "check_wasserstein_1d", "check_kl_conjugate"]


def _normal(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


@checker
def check_kl_on_grid(fn):
    """Check ``fn(p, q, dx) -> KL(p || q)`` for densities tabulated on a grid of spacing dx (a 0-dim tensor)."""
    x = torch.linspace(-12, 12, 6001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    p, q = _normal(x, 0.0, 1.0), _normal(x, 1.0, 2.0)
    closed = math.log(2.0) + (1.0 + 1.0) / (2 * 4.0) - 0.5          # KL(N(0,1) || N(1,4)) = log 2 + 2/8 - 1/2
    reverse = math.log(0.5) + (4.0 + 1.0) / 2 - 0.5                 # KL(N(1,4) || N(0,1))
    box = ((x >= 0) & (x < 1)).double()                               # U[0, 1]: zero density outside [0, 1]
    wide = ((x >= -1) & (x < 3)).double() / 4                         # U[-1, 3]
    cases = [Case("p = q (the KL is 0)", (p, p.clone(), dx), expected=0.0, atol=1e-9),
             Case("N(0, 1) against N(1, 2^2) (closed form; are the arguments in the right order?)", (p, q, dx),
                  expected=closed, atol=1e-6),
             Case("N(1, 2^2) against N(0, 1): the reverse direction, a different value", (q, p, dx),
                  expected=reverse, atol=1e-5),
             Case("U[0, 1] against U[-1, 3]: p is 0 on most of the grid (0 log 0 = 0, not nan)", (box, wide, dx),
                  expected=math.log(4.0), atol=1e-2),
             Case("a coarse grid with spacing dx = 2 (is the sum multiplied by dx?)",
                  (torch.tensor([0.1, 0.3, 0.1], dtype=torch.float64), torch.tensor([0.2, 0.2, 0.1], dtype=torch.float64), 2.0),
                  expected=2.0 * (0.1 * math.log(0.5) + 0.3 * math.log(1.5)), atol=1e-9)]
    return run_check("kl_on_grid", fn, cases,
                     hint="KL(p || q) sums p * log(p / q) over the grid points (natural log, in nats) and multiplies by "
                          "the spacing dx; p is the first argument (the density the expectation is taken under), and "
                          "points where p is 0 contribute 0 (torch.xlogy handles that).")


@checker
def check_wasserstein_1d(fn):
    """Check ``fn(x (n,), y (n,)) -> W1`` between two 1-D samples of the same size (a 0-dim tensor)."""
    from ..divergences import wasserstein_1d

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, generator=g, dtype=torch.float64), 2 + 0.5 * torch.randn(200, generator=g, dtype=torch.float64)
    shuffled = torch.tensor([3.0, -1.0, 2.0, 0.0], dtype=torch.float64)
    cases = [Case("the same sample twice (W1 = 0)", (a, a.clone()), expected=0.0, atol=1e-9),
             Case("a sample against itself shifted by 3 (W1 = 3)", (a, a + 3), expected=3.0, atol=1e-9),
             Case("two small unsorted samples: [3, -1, 2, 0] against [0, 0, 0, 0] (a mean, not a sum)",
                  (shuffled, torch.zeros(4, dtype=torch.float64)), expected=1.5, atol=1e-9),
             Case("[3, -1, 2, 0] against [2, 4, 1, 3]: each sample must be sorted before pairing",
                  (shuffled, torch.tensor([2.0, 4.0, 1.0, 3.0], dtype=torch.float64)), expected=1.5, atol=1e-9),
             Case("N(0, 1) against N(2, 0.5^2), 200 points each (distances, not squared distances)", (a, b),
                  expected=wasserstein_1d(a, b), atol=1e-9)]
    return run_check("wasserstein_1d", fn, cases,
                     hint="in 1-D the optimal transport plan matches quantiles: sort each sample separately, pair the "
                          "i-th smallest of x with the i-th smallest of y, and average the absolute differences "
                          "(not their squares, not their sum).")


@checker
def check_kl_conjugate(fn):
    """Check ``fn(t) -> f*(t)``, the convex conjugate of f(u) = u log u, elementwise."""
    t = torch.tensor([-3.0, -1.0, 0.0, 0.5, 1.0, 2.5], dtype=torch.float64)
    cases = [Case("t = 1 (the supremum is at u = 1, where t u - u log u = 1)", (torch.tensor(1.0, dtype=torch.float64),),
                  expected=1.0, atol=1e-9),
             Case("t = 0 (sup of -u log u, reached at u = 1/e)", (torch.tensor(0.0, dtype=torch.float64),),
                  expected=math.exp(-1), atol=1e-9),
             Case("a tensor of six values, negative ones included", (t,), expected=torch.exp(t - 1), atol=1e-9),
             Case("a 2 x 2 tensor (elementwise, same shape)", (t[:4].view(2, 2),), expected=torch.exp(t[:4] - 1).view(2, 2),
                  atol=1e-9)]
    return run_check("kl_conjugate", fn, cases,
                     hint="maximize g(u) = t u - u log u over u > 0: g'(u) = t - log u - 1 = 0 gives one u in terms of "
                          "t; substitute it back into g. Check your answer at t = 1, where the best u is 1 and the value 1.")
