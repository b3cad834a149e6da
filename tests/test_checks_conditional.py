"""The conditional-models exercises' checkers (notebook 08): each passes correct implementations written here by
hand (independently of tutorial_lib.conditional), fails on the typical mistakes (each named), and never shows code."""
import pytest
import torch

from tutorial_lib.checks import check_conditional_sample, check_free_bits_kl, check_label_accuracy


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


# ---- conditional sampling ----

def sample(model, labels):
    z = torch.randn(len(labels), model.latent_dim)
    return torch.sigmoid(model.decode(z, labels))


def test_conditional_sample_accepts_correct_versions(capsys):
    assert check_conditional_sample(sample) is True
    assert check_conditional_sample(lambda m, y: m.decode(torch.randn(len(y), m.latent_dim) * 1.0, y).sigmoid()) is True
    assert check_conditional_sample(lambda m, y: m.sample(len(y), labels=y)) is True
    assert "✅ conditional_sample" in capsys.readouterr().out


SAMPLE_MISTAKES = {
    "logits instead of probabilities": lambda m, y: m.decode(torch.randn(len(y), m.latent_dim), y),
    "uniform instead of normal codes": lambda m, y: torch.sigmoid(m.decode(torch.rand(len(y), m.latent_dim), y)),
    "one code shared by every image": lambda m, y: torch.sigmoid(m.decode(torch.randn(1, m.latent_dim).expand(len(y), -1), y)),
    "the labels ignored (always digit 0)": lambda m, y: torch.sigmoid(m.decode(torch.randn(len(y), m.latent_dim), torch.zeros_like(y))),
    "z = 0 (the mean code only)": lambda m, y: torch.sigmoid(m.decode(torch.zeros(len(y), m.latent_dim), y)),
    "binary samples instead of means": lambda m, y: torch.bernoulli(torch.sigmoid(m.decode(torch.randn(len(y), m.latent_dim), y))),
}


@pytest.mark.parametrize("mistake", SAMPLE_MISTAKES, ids=list(SAMPLE_MISTAKES))
def test_conditional_sample_rejects_typical_mistakes(mistake, capsys):
    assert check_conditional_sample(SAMPLE_MISTAKES[mistake]) is False
    assert "❌ conditional_sample" in capsys.readouterr().out


# ---- free bits ----

def free_bits(mu, logvar, lam):
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
    return torch.maximum(kl.mean(0), torch.tensor(lam)).sum()


def test_free_bits_kl_accepts_correct_versions(capsys):
    assert check_free_bits_kl(free_bits) is True
    assert check_free_bits_kl(lambda mu, lv, lam: (0.5 * (mu**2 + lv.exp() - 1 - lv)).mean(0).clamp(min=lam).sum()) is True
    assert "✅ free_bits_kl" in capsys.readouterr().out


def _kl(mu, lv):
    return 0.5 * (mu**2 + lv.exp() - 1 - lv)


FREE_BITS_MISTAKES = {
    "clamped per row before the batch mean": lambda mu, lv, lam: _kl(mu, lv).clamp(min=lam).mean(0).sum(),
    "clamped the total instead of each dimension": lambda mu, lv, lam: _kl(mu, lv).sum(1).mean().clamp(min=lam),
    "a minimum instead of a maximum": lambda mu, lv, lam: _kl(mu, lv).mean(0).clamp(max=lam).sum(),
    "no clamping (the plain KL)": lambda mu, lv, lam: _kl(mu, lv).mean(0).sum(),
    "summed over the batch instead of averaged": lambda mu, lv, lam: _kl(mu, lv).sum(0).clamp(min=lam).sum(),
    "missing the 0.5": lambda mu, lv, lam: (2 * _kl(mu, lv)).mean(0).clamp(min=lam).sum(),
}


@pytest.mark.parametrize("mistake", FREE_BITS_MISTAKES, ids=list(FREE_BITS_MISTAKES))
def test_free_bits_kl_rejects_typical_mistakes(mistake, capsys):
    assert check_free_bits_kl(FREE_BITS_MISTAKES[mistake]) is False
    assert "❌ free_bits_kl" in capsys.readouterr().out


# ---- label accuracy ----

def test_label_accuracy_accepts_correct_versions(capsys):
    assert check_label_accuracy(lambda probs, labels: float((probs.argmax(dim=1) == labels).double().mean())) is True
    assert check_label_accuracy(lambda probs, labels: (probs.argmax(1) == labels).sum().item() / len(labels)) is True
    assert "✅ label_accuracy" in capsys.readouterr().out


ACCURACY_MISTAKES = {
    "a percentage instead of a share": lambda p, y: 100 * float((p.argmax(1) == y).double().mean()),
    "the count instead of the share": lambda p, y: float((p.argmax(1) == y).sum()),
    "the mean probability of the requested digit (soft accuracy)": lambda p, y: float(p[torch.arange(len(y)), y].mean()),
    "argmax over the wrong dimension": lambda p, y: float((p.argmax(0)[: len(y)] == y).double().mean()),
    "the share of mistakes": lambda p, y: float((p.argmax(1) != y).double().mean()),
}


@pytest.mark.parametrize("mistake", ACCURACY_MISTAKES, ids=list(ACCURACY_MISTAKES))
def test_label_accuracy_rejects_typical_mistakes(mistake, capsys):
    assert check_label_accuracy(ACCURACY_MISTAKES[mistake]) is False
    assert "❌ label_accuracy" in capsys.readouterr().out
