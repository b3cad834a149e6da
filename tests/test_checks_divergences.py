"""The divergence exercises' checkers (notebook 07): each passes correct implementations written here by hand
(independently of tutorial_lib.divergences), fails on the typical mistakes (each named), and never shows code."""
import math

import pytest
import torch

from tutorial_lib.checks import check_kl_conjugate, check_kl_on_grid, check_wasserstein_1d


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


# ---- KL on a grid ----

def kl_masked(p, q, dx):
    keep = p > 0
    return (p[keep] * torch.log(p[keep] / q[keep])).sum() * dx


def test_kl_on_grid_accepts_correct_versions(capsys):
    assert check_kl_on_grid(kl_masked) is True
    assert check_kl_on_grid(lambda p, q, dx: (torch.xlogy(p, p) - torch.xlogy(p, q)).sum() * dx) is True
    assert "✅ kl_on_grid" in capsys.readouterr().out


KL_MISTAKES = {
    "arguments swapped (reverse KL)": lambda p, q, dx: kl_masked(q, p, dx),
    "0 log 0 not handled (nan where p = 0)": lambda p, q, dx: (p * torch.log(p / q)).sum() * dx,
    "missing the grid spacing dx": lambda p, q, dx: kl_masked(p, q, 1.0),
    "log base 2 (bits, not nats)": lambda p, q, dx: kl_masked(p, q, dx) / math.log(2),
    "log ratio not weighted by p": lambda p, q, dx: torch.log(p[p > 0] / q[p > 0]).sum() * dx,
    "q log(q / p) weighted by p": lambda p, q, dx: (p * torch.log(q.clamp_min(1e-300) / p.clamp_min(1e-300))).sum() * dx,
}


@pytest.mark.parametrize("mistake", KL_MISTAKES, ids=list(KL_MISTAKES))
def test_kl_on_grid_rejects_typical_mistakes(mistake, capsys):
    assert check_kl_on_grid(KL_MISTAKES[mistake]) is False
    out = capsys.readouterr().out
    assert "❌ kl_on_grid" in out and "Hint" in out


# ---- W1 from two samples ----

def test_wasserstein_1d_accepts_correct_versions(capsys):
    assert check_wasserstein_1d(lambda x, y: (x.sort().values - y.sort().values).abs().mean()) is True

    def by_cdf(x, y):  # the area between the two empirical CDFs
        points = torch.cat([x, y]).sort().values
        fx = torch.searchsorted(x.sort().values, points[:-1], right=True).double() / len(x)
        fy = torch.searchsorted(y.sort().values, points[:-1], right=True).double() / len(y)
        return ((fx - fy).abs() * points.diff()).sum()

    assert check_wasserstein_1d(by_cdf) is True
    assert "✅ wasserstein_1d" in capsys.readouterr().out


W1_MISTAKES = {
    "no sorting (pairs in the given order)": lambda x, y: (x - y).abs().mean(),
    "only x sorted": lambda x, y: (x.sort().values - y).abs().mean(),
    "squared distances (W2 squared)": lambda x, y: (x.sort().values - y.sort().values).pow(2).mean(),
    "a sum instead of a mean": lambda x, y: (x.sort().values - y.sort().values).abs().sum(),
    "difference of the means": lambda x, y: (x.mean() - y.mean()).abs(),
    "sorted in opposite orders": lambda x, y: (x.sort().values - y.sort(descending=True).values).abs().mean(),
}


@pytest.mark.parametrize("mistake", W1_MISTAKES, ids=list(W1_MISTAKES))
def test_wasserstein_1d_rejects_typical_mistakes(mistake, capsys):
    assert check_wasserstein_1d(W1_MISTAKES[mistake]) is False
    assert "❌ wasserstein_1d" in capsys.readouterr().out


# ---- the conjugate of u log u ----

def test_kl_conjugate_accepts_correct_versions(capsys):
    assert check_kl_conjugate(lambda t: torch.exp(t - 1)) is True
    assert check_kl_conjugate(lambda t: torch.exp(t) / math.e) is True
    assert "✅ kl_conjugate" in capsys.readouterr().out


CONJUGATE_MISTAKES = {
    "missing the -1 (exp(t))": lambda t: torch.exp(t),
    "the generator itself (t log t)": lambda t: torch.xlogy(t, t),
    "the sign flipped in the exponent (exp(t + 1))": lambda t: torch.exp(t + 1),
    "the maximizer u* = exp(t - 1) times t": lambda t: t * torch.exp(t - 1),
    "not elementwise (a sum)": lambda t: torch.exp(t - 1).sum(),
}


@pytest.mark.parametrize("mistake", CONJUGATE_MISTAKES, ids=list(CONJUGATE_MISTAKES))
def test_kl_conjugate_rejects_typical_mistakes(mistake, capsys):
    assert check_kl_conjugate(CONJUGATE_MISTAKES[mistake]) is False
    assert "❌ kl_conjugate" in capsys.readouterr().out


def test_a_failure_shows_no_code_and_the_stub_waits(capsys):
    def stub(p, q, dx):
        raise NotImplementedError

    assert check_kl_on_grid(stub) is False
    assert "⏳" in capsys.readouterr().out
    check_kl_on_grid(KL_MISTAKES["missing the grid spacing dx"])
    out = capsys.readouterr().out
    assert "xlogy(p" not in out and "sort().values" not in out
