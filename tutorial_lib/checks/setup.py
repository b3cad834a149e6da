"""Checkers of notebook 00 (setup and data)."""
import torch

from ._core import Case, checker, run_check

__all__ = ["check_ink_fraction"]


@checker
def check_ink_fraction(fn):
    """Check ``fn(images N x 1 x 28 x 28) -> (N,)``: the fraction of pixels brighter than 0.5 per image."""
    generator = torch.Generator().manual_seed(0)
    random = torch.rand(5, 1, 28, 28, generator=generator)
    blank, full = torch.zeros(2, 1, 28, 28), torch.ones(1, 1, 28, 28)
    edge = torch.full((1, 1, 28, 28), 0.5)  # exactly 0.5 is not brighter than 0.5
    half = torch.cat([torch.zeros(1, 1, 14, 28), torch.ones(1, 1, 14, 28)], dim=2)

    def expected(images):
        return torch.tensor([sum(v > 0.5 for v in image.flatten().tolist()) / 784 for image in images])

    cases = [Case("random images", (random,), expected=expected(random)),
             Case("blank images", (blank,), expected=torch.zeros(2)),
             Case("an all-white image", (full,), expected=torch.ones(1)),
             Case("pixels exactly 0.5", (edge,), expected=torch.zeros(1)),
             Case("top half black, bottom half white", (half,), expected=torch.full((1,), 0.5))]
    return run_check("ink_fraction", fn, cases,
                     hint="compare with 0.5 to get booleans, turn them into floats, and average over all "
                          "pixels of each image (flatten everything but the batch dimension).")
