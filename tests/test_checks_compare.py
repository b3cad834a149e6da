"""The notebook-06 checker accepts a correct precision/recall and rejects the usual mistakes."""
import pytest
import torch

from tutorial_lib.checks import check_precision_recall


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)  # make test sets it; here we want True/False


def _radii(feats, k, offset):
    return torch.cdist(feats, feats).kthvalue(k + offset, dim=1).values


def make(offset=1, strict=False, swap=False):
    """A precision/recall with knobs for the typical mistakes: counting the point itself as its own neighbour
    (offset=0), a strict inequality, swapped roles."""
    def precision_recall(real, fake, k):
        def covered(points, support, radii):
            d = torch.cdist(points, support)
            inside = (d < radii) if strict else (d <= radii)
            return float(inside.any(dim=1).double().mean())

        real, fake = real.double(), fake.double()
        p = covered(fake, real, _radii(real, k, offset))
        r = covered(real, fake, _radii(fake, k, offset))
        return (r, p) if swap else (p, r)
    return precision_recall


def test_accepts_a_correct_implementation(capsys):
    assert check_precision_recall(make()) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [make(offset=0), make(strict=True), make(swap=True)],
                         ids=["itself-as-neighbour", "strict-inequality", "swapped"])
def test_rejects_typical_mistakes(wrong, capsys):
    assert check_precision_recall(wrong) is False
    out = capsys.readouterr().out
    assert "❌" in out and "Hint" in out
