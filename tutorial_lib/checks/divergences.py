"""Checkers of the divergences notebook (07)."""
import math

import torch

from ._core import Case, checker, run_check

__all__ = ["check_forward_kl_fit", "check_wasserstein_1d", "check_kl_conjugate"]


def _normal(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


@checker
def check_forward_kl_fit(fn):
    """Check ``fn(p, x, dx) -> (m, s)``: the Gaussian N(m, s^2) minimizing forward KL(p || N(m, s^2)) for a density
    p tabulated on the grid x of spacing dx, i.e. p's mean and standard deviation (moment matching)."""
    x = torch.linspace(-12, 12, 4001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    mixture = 0.6 * _normal(x, -2.0, 0.5) + 0.4 * _normal(x, 2.0, 0.5)
    mix_mean = 0.6 * -2.0 + 0.4 * 2.0
    mix_std = math.sqrt(0.6 * (0.25 + 4.0) + 0.4 * (0.25 + 4.0) - mix_mean ** 2)
    box = ((x >= 0) & (x < 1)).double()                              # U[0, 1]: mean 1/2, std 1/sqrt(12)
    coarse = torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64)  # spacing 0.5, p sums to 1 / dx
    weights = torch.tensor([0.2, 0.4, 0.8, 0.6], dtype=torch.float64)
    c_mean = float((weights * coarse).sum() * 0.5)
    c_std = math.sqrt(float((weights * (coarse - c_mean) ** 2).sum() * 0.5))
    cases = [Case("p = N(1.5, 0.7^2): the best Gaussian is p itself", (_normal(x, 1.5, 0.7), x, dx),
                  expected=(1.5, 0.7), atol=1e-6),
             Case("the two-mode mixture 0.6 N(-2, 0.5^2) + 0.4 N(2, 0.5^2): mean and spread of the whole mixture",
                  (mixture, x, dx), expected=(mix_mean, mix_std), atol=1e-6),
             Case("U[0, 1] (the mean, not the peak; a standard deviation, not a variance)", (box, x, dx),
                  expected=(0.5, 1 / math.sqrt(12)), atol=5e-3),
             Case("four grid points with spacing dx = 0.5 (is every sum multiplied by dx?)", (weights, coarse, 0.5),
                  expected=(c_mean, c_std), atol=1e-9)]
    return run_check("forward_kl_fit", fn, cases,
                     hint="KL(p || q) = -H(p) - E_p[log q], and -E_p[log N(x; m, s^2)] = log s + E_p[(x - m)^2] / (2 s^2) "
                          "+ const: set its derivatives in m and s to zero. Expectations under p on the grid are sums of "
                          "p * (something) * dx; return the standard deviation (the square root of the spread around m).")


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
