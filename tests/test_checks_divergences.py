"""The divergence exercises' checkers (notebook 07): each passes correct implementations written here by hand
(independently of tutorial_lib.divergences), fails on the typical mistakes (each named), and never shows code."""
import math

import numpy as np
import pytest
import scipy.optimize
import torch

from tutorial_lib.checks import check_forward_kl_fit, check_kl_conjugate, check_wasserstein_1d


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


# ---- the forward-KL fit (moment matching) ----

def moments(p, x, dx):
    mean = (p * x).sum() * dx
    return mean, torch.sqrt((p * (x - mean) ** 2).sum() * dx)


def fit_by_search(p, x, dx):
    """Minimize the cross-entropy -E_p[log N(x; m, s^2)] numerically with SciPy: no closed form used."""
    pn, xn = p.numpy(), x.numpy()

    def cross_entropy(params):
        m, log_s = params
        return float((pn * (log_s + 0.5 * ((xn - m) / np.exp(log_s)) ** 2)).sum() * dx)

    best = scipy.optimize.minimize(cross_entropy, [0.0, 0.0], method="Nelder-Mead",
                                   options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000})
    return float(best.x[0]), float(np.exp(best.x[1]))


def test_forward_kl_fit_accepts_correct_versions(capsys):
    assert check_forward_kl_fit(moments) is True
    assert check_forward_kl_fit(fit_by_search) is True
    assert "✅ forward_kl_fit" in capsys.readouterr().out


FIT_MISTAKES = {
    "variance instead of standard deviation": lambda p, x, dx: (moments(p, x, dx)[0], moments(p, x, dx)[1] ** 2),
    "missing the grid spacing dx": lambda p, x, dx: moments(p, x, 1.0),
    "second moment not centred (sqrt E[x^2])": lambda p, x, dx: (moments(p, x, dx)[0],
                                                                  torch.sqrt((p * x ** 2).sum() * dx)),
    "the peak (mode) instead of the mean": lambda p, x, dx: (x[p.argmax()], moments(p, x, dx)[1]),
    "unweighted grid statistics": lambda p, x, dx: (x.mean(), x.std()),
    "reverse KL's answer (the heavier mode)": lambda p, x, dx: (x[p.argmax()], torch.tensor(0.5)),
}


@pytest.mark.parametrize("mistake", FIT_MISTAKES, ids=list(FIT_MISTAKES))
def test_forward_kl_fit_rejects_typical_mistakes(mistake, capsys):
    assert check_forward_kl_fit(FIT_MISTAKES[mistake]) is False
    out = capsys.readouterr().out
    assert "❌ forward_kl_fit" in out and "Hint" in out


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
    def stub(p, x, dx):
        raise NotImplementedError

    assert check_forward_kl_fit(stub) is False
    assert "⏳" in capsys.readouterr().out
    check_forward_kl_fit(FIT_MISTAKES["missing the grid spacing dx"])
    out = capsys.readouterr().out
    assert "(p * x).sum()" not in out and "sort().values" not in out


# ---- the tolerances, from both sides: float noise passes, an error just outside fails ----
# Every case compares with torch.allclose(atol, rtol = 1e-4): a relative error of 1e-7 (float32 arithmetic) is a
# thousand times inside it, one of 1e-3 is ten times outside it on every case whose expected values are not 0.

def _scaled(fn, factor):
    def scaled(*args):
        out = fn(*args)
        return tuple(v * factor for v in out) if isinstance(out, tuple) else out * factor
    return scaled


def _float32(fn):
    def in_float32(*args):
        out = fn(*(a.float() if isinstance(a, torch.Tensor) else a for a in args))
        return tuple(v.float() for v in out) if isinstance(out, tuple) else out.float()
    return in_float32


CORRECT = {"forward_kl_fit": (check_forward_kl_fit, moments),
           "wasserstein_1d": (check_wasserstein_1d, lambda x, y: (x.sort().values - y.sort().values).abs().mean()),
           "kl_conjugate": (check_kl_conjugate, lambda t: torch.exp(t - 1))}


@pytest.mark.parametrize("name", CORRECT)
def test_float_noise_passes(name):
    check, correct = CORRECT[name]
    assert check(_scaled(correct, 1 + 1e-7)) is True
    assert check(_float32(correct)) is True


@pytest.mark.parametrize("name", ["forward_kl_fit", "kl_conjugate"])
def test_an_error_just_outside_the_tolerance_fails(name):
    check, correct = CORRECT[name]
    assert check(_scaled(correct, 1 + 1e-3)) is False


def test_w1_an_error_just_outside_the_tolerance_fails():
    # the first case's W1 is 0 (atol 1e-9): a W1 a little above 0 fails; so does a 1e-3 relative error on a later case
    w1 = CORRECT["wasserstein_1d"][1]
    assert check_wasserstein_1d(lambda x, y: w1(x, y) + 1e-6) is False
    assert check_wasserstein_1d(lambda x, y: w1(x, y) * (1 + 1e-3)) is False
