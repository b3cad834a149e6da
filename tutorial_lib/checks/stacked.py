"""Checkers of notebook 09 (Stacked MNIST)."""
import math

import torch

from ._core import Case, checker, run_check

__all__ = ["check_kl_to_uniform"]


@checker
def check_kl_to_uniform(fn):
    """Check ``fn(counts) -> float``: KL(p || uniform) in nats of the histogram p = counts / counts.sum() over
    len(counts) bins (counts: a 1-D int64 tensor, possibly with empty bins), against `metrics.kl_from_uniform`."""
    from ..metrics import kl_from_uniform

    draw = torch.Generator().manual_seed(0)
    uneven = torch.randint(1, 60, (1000,), generator=draw)                 # every bin filled, unevenly
    sparse = torch.zeros(1000, dtype=torch.long)
    sparse[torch.randperm(1000, generator=draw)[:300]] = torch.randint(1, 200, (300,), generator=draw)
    tenth = torch.zeros(1000, dtype=torch.long)
    tenth[::10] = 26

    def expected(counts):
        return kl_from_uniform(counts.double() / counts.sum())

    one = torch.zeros(1000, dtype=torch.long)
    one[417] = 26_000
    cases = [Case("every mode 26 times (a uniform histogram: 0)", (torch.full((1000,), 26),), expected=0.0),
             Case("all 26,000 samples in one mode (log 1000 = 6.9078; the 999 empty modes contribute 0, not NaN)",
                  (one,), expected=math.log(1000)),
             Case("100 modes 26 times each, the other 900 empty (log 10 = 2.3026)", (tenth,), expected=math.log(10)),
             Case("every mode filled, unevenly (catches the reversed KL(uniform || p), which is finite here)",
                  (uneven,), expected=expected(uneven)),
             Case("300 of 1,000 modes filled, unevenly", (sparse,), expected=expected(sparse)),
             Case("a histogram of 4 bins, [1, 2, 3, 2] (the number of bins is len(counts))",
                  (torch.tensor([1, 2, 3, 2]),), expected=expected(torch.tensor([1, 2, 3, 2])))]
    return run_check("kl_to_uniform", fn, cases,
                     hint="turn the counts into shares p that sum to 1 (as floats); KL(p || uniform) = sum over the "
                          "bins of p log(p / (1/M)) = p log(M p) with M = len(counts), the natural log, and only the "
                          "non-empty bins in the sum (0 log 0 counts as 0, but computing it gives NaN).")
