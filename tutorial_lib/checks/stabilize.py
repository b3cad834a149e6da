"""Checkers of notebook 05 (stabilizing GANs)."""
import math

import torch

from ._core import Case, checker, run_check

__all__ = ["check_reverse_kl"]


@checker
def check_reverse_kl(fn):
    """Check ``fn(counts (M,)) -> KL(p || uniform)`` in nats, p = counts / counts.sum() (0 log 0 = 0; inf when
    every count is 0), the reverse KL of `metrics.mode_metrics`."""
    def reference(counts):  # written out with Python floats
        total = sum(counts)
        return sum(c / total * math.log(c / total * len(counts)) for c in counts if c > 0) if total else math.inf

    random = torch.randint(0, 200, (25,), generator=torch.Generator().manual_seed(0)).tolist()
    cases = [Case("every mode equally often (4 modes)", (torch.tensor([5, 5, 5, 5]),), expected=0.0),
             Case("all samples in one of 8 modes", (torch.tensor([0, 0, 40, 0, 0, 0, 0, 0]),), expected=math.log(8)),
             Case("3/4 in one mode, 1/4 in another, two modes empty", (torch.tensor([30, 0, 0, 10]),),
                  expected=0.75 * math.log(3)),
             Case("random counts over 25 modes", (torch.tensor(random),), expected=reference(random)),
             Case("float counts", (torch.tensor([2.0, 1.0, 1.0]),), expected=reference([2.0, 1.0, 1.0])),
             Case("no sample at all (every count 0)", (torch.zeros(8, dtype=torch.long),), expected=math.inf)]
    return run_check("reverse_kl", fn, cases,
                     hint="turn counts into float probabilities p = counts / counts.sum(); KL(p || uniform) = "
                          "sum_i p_i log(p_i / (1/M)) over the modes with p_i > 0 only (0 log 0 = 0, so empty modes "
                          "add nothing); natural log; with no sample at all (counts.sum() == 0) the answer is math.inf.")
