"""The notebook-05 exercise checker: passes correct implementations written here by hand, fails on the typical
mistakes, and reports a missing implementation."""
import math

import pytest
import torch

from tutorial_lib.checks import check_reverse_kl


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


def kl_masked(counts):
    if counts.sum() == 0:
        return math.inf
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * torch.log(p * len(counts))).sum())


def kl_entropy(counts):
    """log M - H(p), with xlogy for 0 log 0 = 0."""
    total = float(counts.sum())
    if total == 0:
        return float("inf")
    p = counts.double() / total
    return math.log(len(counts)) + float(torch.xlogy(p, p).sum())


@pytest.mark.parametrize("right", [kl_masked, kl_entropy])
def test_accepts_correct_versions(right, capsys):
    assert check_reverse_kl(right) is True
    assert "✅ reverse_kl: correct on all 6 test cases" in capsys.readouterr().out


def _no_inf(fn):
    return lambda counts: fn(counts) if counts.sum() else 0.0


@pytest.mark.parametrize("wrong", [
    lambda c: float(torch.xlogy(c.double() / c.sum(), c.double() / c.sum()).sum()),  # -H(p): no log M
    lambda c: float((torch.full((len(c),), 1 / len(c)) * torch.log((1 / len(c)) / (c.double() / c.sum()))).sum()),
    lambda c: kl_masked(c) / math.log(2),                                             # bits, not nats
    lambda c: float(torch.xlogy(c.double(), c.double() * len(c)).sum()),             # not normalized
    lambda c: float((c / c.sum() * torch.log(c / c.sum() * len(c))).sum()),          # 0 log 0 -> nan
    _no_inf(kl_masked),                                                                # 0 instead of inf
])
def test_rejects_typical_mistakes(wrong, capsys):
    assert check_reverse_kl(wrong) is False
    assert "❌ reverse_kl" in capsys.readouterr().out


def test_reports_a_missing_implementation(capsys):
    def stub(counts):
        raise NotImplementedError

    assert check_reverse_kl(stub) is False
    assert "⏳ reverse_kl: not implemented yet" in capsys.readouterr().out


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError, match="check_reverse_kl failed"):
        check_reverse_kl(lambda counts: 0.0)
