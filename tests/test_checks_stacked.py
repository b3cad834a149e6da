"""The notebook-09 checker accepts a correct KL-to-uniform of a mode histogram and rejects the usual mistakes."""
import math

import numpy as np
import pytest
import torch

from tutorial_lib.checks import check_kl_to_uniform


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)  # make test sets it; here we want True/False


def kl_to_uniform(mistake=None):
    """KL(counts / total || uniform over len(counts) bins) in nats, written independently of the library (NumPy,
    float64), with knobs for the typical mistakes."""
    def kl(counts):
        counts = np.asarray(counts, dtype=np.float64)
        m = 1000 if mistake == "hard-coded-1000-bins" else len(counts)
        p = counts if mistake == "counts-not-normalized" else counts / counts.sum()
        log = np.log2 if mistake == "log2" else np.log
        if mistake == "reversed":  # KL(uniform || p): infinite where a bin is empty, finite otherwise
            with np.errstate(divide="ignore"):
                return float(np.sum((1 / m) * (log(1 / m) - log(p))))
        if mistake == "empty-bins-give-nan":
            with np.errstate(divide="ignore", invalid="ignore"):
                return float(np.sum(p * log(m * p)))
        if mistake == "smoothed-1e-6":  # p + 1e-6 inside the log against log 0: a near miss, see below
            return float(np.sum(p * log(m * (p + 1e-6))))
        nonzero = p[p > 0]
        return float(np.sum(nonzero * log(m * nonzero)))
    return kl


def float32_kl(counts):
    """A correct answer with float32 rounding (shares, logs and the sum all in float32)."""
    p = counts.float() / counts.sum()
    terms = torch.where(p > 0, p * torch.log(len(counts) * p.clamp_min(1e-30)), torch.zeros_like(p))
    return terms.sum()


def entropy_form(counts):
    """The same KL written as log M minus the entropy, with a tiny epsilon against log 0 (what many learners do)."""
    p = counts.double() / counts.sum()
    return math.log(len(counts)) + float((p * torch.log(p + 1e-12)).sum())


@pytest.mark.parametrize("fn", [kl_to_uniform(), float32_kl, entropy_form], ids=["numpy", "float32", "entropy-form"])
def test_accepts_correct_implementations(fn, capsys):
    assert check_kl_to_uniform(fn) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", ["reversed", "log2", "empty-bins-give-nan", "counts-not-normalized",
                                     "hard-coded-1000-bins", "smoothed-1e-6"])
def test_rejects_typical_mistakes(mistake, capsys):
    assert check_kl_to_uniform(kl_to_uniform(mistake)) is False
    out = capsys.readouterr().out
    assert "❌" in out and "Hint" in out


def test_tolerance_from_both_sides():
    """The cases' tolerance is Case's default, |got - expected| <= 1e-5 + 1e-4 |expected| (float32 rounding of a
    sum of 1,000 terms is about 1e-6 relative, far inside). On the one-mode case (expected log 1000 = 6.9078) that is
    7.0e-4: a result off by 2/3 of it passes, one off by 3/2 of it fails."""
    allowed = 1e-5 + 1e-4 * math.log(1000)
    correct = kl_to_uniform()
    for factor, passes in [(2 / 3, True), (3 / 2, False)]:
        def shifted(counts, factor=factor):
            value = correct(counts)
            return value + factor * (1e-5 + 1e-4 * abs(value))  # the same fraction of every case's tolerance
        assert check_kl_to_uniform(shifted) is passes, factor
    # The smoothed-1e-6 near miss is off by log(1 + 1e-6 / 1e-3) = 1.0e-3 on the uniform case (shares 1e-3, expected 0,
    # allowed 1e-5): a real error on the scale of these KLs (real stacked digits score about 0.02), so it fails;
    # the usual epsilon of 1e-12 is off by 1e-9 there and passes (entropy_form above).
    assert math.log(1 + 1e-6 / 1e-3) > 1e-5 > math.log(1 + 1e-12 / 1e-3)


def test_not_implemented_gets_no_hint(capsys):
    def stub(counts):
        raise NotImplementedError

    assert check_kl_to_uniform(stub) is False
    out = capsys.readouterr().out
    assert "not implemented yet" in out and "Hint" not in out
