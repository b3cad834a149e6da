"""Checkers of the conditional and hybrid models notebook (08)."""
import torch

from ._core import Case, _seeded, checker, run_check

__all__ = ["check_conditional_sample", "check_free_bits_kl", "check_label_accuracy"]


def _small_cvae(seed=0):
    """A small CVAE with fixed random weights whose decoder depends clearly on the label."""
    from ..conditional import CVAE

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CVAE(latent_dim=3, hidden=16)
        with torch.no_grad():
            model.decoder[0][0].weight[:, 3:] *= 8.0      # strong label inputs: each digit its own picture
    return model.eval().requires_grad_(False)


@checker
def check_conditional_sample(fn):
    """Check ``fn(model, labels (n,)) -> images n x 1 x 28 x 28``: decoder means sigmoid(decode(z, labels)) of a CVAE
    for z ~ N(0, I). Compared by statistics over many draws (any way of drawing the standard normal z passes)."""
    from ..conditional import CVAE  # noqa: F401  (the model class the checker builds)

    if not callable(fn):
        return run_check("conditional_sample", fn, [], "")
    model = _small_cvae()
    many = 3000
    threes, mixed = torch.full((many,), 3), torch.arange(many) % 10

    def reference_mean(labels):
        z = torch.randn(len(labels), model.latent_dim, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            return torch.sigmoid(model.decode(z, labels)).mean(dim=0)

    def probe_shape(labels):
        return torch.tensor(tuple(_seeded(fn)(model, labels).shape))

    def probe_mean(labels):
        return _seeded(fn)(model, labels).detach().float().mean(dim=0)

    def probe_per_digit_spread(labels):
        images = _seeded(fn)(model, labels).detach().float()
        return images[labels == 1].std(dim=0).mean()

    z_free = reference_mean(threes)
    ones = torch.ones(many, dtype=torch.long)
    with torch.no_grad():
        spread = torch.sigmoid(model.decode(torch.randn(many, 3, generator=torch.Generator().manual_seed(8)),
                                            ones)).std(dim=0).mean()
    cases = [Case("the shape: 5 requested digits give 5 images of 1 x 28 x 28", (torch.tensor([0, 1, 2, 3, 4]),),
                  {"_probe": probe_shape}, expected=torch.tensor([5, 1, 28, 28]), atol=0),
             Case(f"the mean image over {many} requested 3s (Bernoulli means in [0, 1], the label given to the decoder)",
                  (threes,), {"_probe": probe_mean}, expected=z_free, atol=0.03, rtol=0),
             Case(f"the mean image over {many} draws of all ten digits in turn", (mixed,), {"_probe": probe_mean},
                  expected=reference_mean(mixed), atol=0.03, rtol=0),
             Case("the spread of requested 1s (is z drawn from N(0, I), fresh for every image?)", (ones,),
                  {"_probe": probe_per_digit_spread}, expected=spread, atol=0.02, rtol=0)]
    return run_check("conditional_sample", lambda labels, _probe: _probe(labels), cases,
                     hint="draw one standard-normal code per requested digit (shape n x model.latent_dim), decode it "
                          "together with the labels (model.decode(z, labels) returns logits) and turn the logits into "
                          "pixel probabilities with a sigmoid.")


@checker
def check_free_bits_kl(fn):
    """Check ``fn(mu N x D, logvar N x D, free_bits) -> scalar``: sum over dimensions of max(free_bits, KL_d) with
    KL_d the batch mean of dimension d's KL to N(0, 1)."""
    from ..conditional import free_bits_kl

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g) * 0.5
    # One dimension carries information for some rows only: per-row clamping differs from clamping the batch mean.
    mixed_mu = torch.zeros(4, 3)
    mixed_mu[0, 0] = 2.0
    cases = [Case("free_bits = 0 (the plain KL, averaged over the batch)", (mu, logvar, 0.0),
                  expected=free_bits_kl(mu, logvar, 0.0), atol=1e-5),
             Case("the prior itself with free_bits = 0.5 (every dimension costs 0.5: 3 x 0.5)",
                  (torch.zeros(4, 3), torch.zeros(4, 3), 0.5), expected=1.5, atol=1e-6),
             Case("a random batch with free_bits = 0.3", (mu, logvar, 0.3), expected=free_bits_kl(mu, logvar, 0.3),
                  atol=1e-5),
             Case("one row far from the prior in dimension 0 (clamp the batch mean per dimension, not each row)",
                  (mixed_mu, torch.zeros(4, 3), 0.25), expected=free_bits_kl(mixed_mu, torch.zeros(4, 3), 0.25),
                  atol=1e-6)]
    return run_check("free_bits_kl", fn, cases,
                     hint="compute each latent dimension's KL to N(0, 1) per row, average it over the batch (one value "
                          "per dimension), replace every value below free_bits by free_bits (a maximum, not a minimum), "
                          "then sum over the dimensions.")


@checker
def check_label_accuracy(fn):
    """Check ``fn(probs N x 10, labels (N,)) -> float``: the share of rows whose most probable class is the
    requested label."""
    probs = torch.tensor([[0.7, 0.2, 0.1] + [0.0] * 7,
                          [0.1, 0.3, 0.6] + [0.0] * 7,
                          [0.0, 0.45, 0.55] + [0.0] * 7,
                          [0.05, 0.9, 0.05] + [0.0] * 7], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    random = torch.softmax(torch.randn(50, 10, generator=g, dtype=torch.float64) * 3, dim=1)
    random_labels = torch.randint(10, (50,), generator=g)
    expected_random = float((random.argmax(1) == random_labels).double().mean())
    cases = [Case("4 samples, 2 of them classified as requested", (probs, torch.tensor([0, 1, 1, 1])), expected=0.5,
                  atol=1e-9),
             Case("every sample right (a share of 1, not 100 %)", (probs, torch.tensor([0, 2, 2, 1])), expected=1.0,
                  atol=1e-9),
             Case("a confident-looking mistake counts as wrong: the third row requested as 1", (probs[2:3], torch.tensor([1])),
                  expected=0.0, atol=1e-9),
             Case("50 random rows", (random, random_labels), expected=expected_random, atol=1e-9)]
    return run_check("label_accuracy", fn, cases,
                     hint="for each row take the class with the largest probability (along the class dimension), "
                          "compare it with the requested label, and return the fraction of matches as a number between "
                          "0 and 1.")
