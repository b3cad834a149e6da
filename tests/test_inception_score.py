"""The classifier-based Inception Score against scipy's KL divergence, on probabilities with known answers."""
import numpy as np
import pytest
import scipy.stats
import torch

from tutorial_lib.metrics import class_probabilities, inception_score, inception_score_from_probabilities


def is_scipy(probs):
    """exp(mean_x KL(p(y|x) || p(y))) with scipy.stats.entropy (which computes sum p log(p / q))."""
    probs = np.asarray(probs, dtype=np.float64)
    marginal = probs.mean(axis=0)
    return float(np.exp(np.mean([scipy.stats.entropy(row, marginal) for row in probs])))


def test_confident_and_balanced_scores_the_number_of_classes():
    assert inception_score_from_probabilities(torch.eye(10).repeat(3, 1)) == pytest.approx(10.0)
    assert inception_score_from_probabilities(torch.eye(4)) == pytest.approx(4.0)


def test_one_class_or_no_confidence_scores_one():
    one_class = torch.zeros(7, 10)
    one_class[:, 3] = 1
    assert inception_score_from_probabilities(one_class) == pytest.approx(1.0)
    assert inception_score_from_probabilities(torch.full((5, 10), 0.1)) == pytest.approx(1.0)


def test_matches_scipy_on_random_probabilities():
    # float64: scipy.stats.entropy renormalizes each row, which moves float32 rows by ~1e-8
    probs = torch.softmax(3 * torch.randn(200, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64), dim=1)
    assert inception_score_from_probabilities(probs) == pytest.approx(is_scipy(probs), rel=1e-9)
    # rows with exact zeros (0 log 0 = 0)
    probs = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [1.0, 0.0, 0.0]], dtype=torch.float64)
    assert inception_score_from_probabilities(probs) == pytest.approx(is_scipy(probs), rel=1e-9)


@pytest.mark.parametrize("bad, fragment", [(torch.randn(4, 10), "probabilities"), (torch.ones(10) / 10, "N x C"),
                                           (torch.empty(0, 10), "N x C")])
def test_logits_or_wrong_shapes_are_refused(bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        inception_score_from_probabilities(bad)


def test_real_test_digits_score_near_ten(mnist_available):
    from tutorial_lib.data import load_mnist

    data = load_mnist(train=False, limit=2000)
    probs = class_probabilities(data.images)
    assert probs.shape == (2000, 10) and torch.allclose(probs.sum(1), torch.ones(2000, dtype=torch.float64))
    score = inception_score(data.images)
    assert score == pytest.approx(is_scipy(probs), rel=1e-9)
    assert 9.0 < score < 10.0
    # one digit repeated scores about 1
    assert inception_score(data.images[data.labels == 1][:200]) < 1.2
