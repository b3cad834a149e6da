"""Checkers of notebook 05 (stabilizing GANs)."""
import copy
import math

import torch
from torch import nn

from ._core import Case, _seeded, checker, run_check

__all__ = ["check_reverse_kl", "check_ema_update", "check_pack", "check_power_iteration", "check_gradient_penalty"]


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


# ---- the exercises of building the remedies: EMA, packing, power iteration, gradient penalty ----

def _ema_net():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _flat(tensors):
    return torch.cat([t.detach().double().flatten() for t in tensors])


@checker
def check_ema_update(fn):
    """Check ``fn(average, module, decay)``: in place, each parameter of `average` becomes
    ``decay * average + (1 - decay) * weights`` of `module`'s same parameter; buffers are copied."""
    def updates(seed, decay, steps, average_requires_grad=False):
        """`steps` updates after random changes of the weights; the average's parameters and buffers after."""
        generator = torch.Generator().manual_seed(seed)
        net = _ema_net()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
        average = copy.deepcopy(net).requires_grad_(average_requires_grad)
        for _ in range(steps):
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(torch.randn(p.shape, generator=generator))
                net[1].running_mean.add_(1.0)
                net[1].running_var.mul_(1.5)
            fn(average, net, decay)
        return _flat(average.parameters()), _flat(average.buffers())

    def reference(seed, decay, steps, average_requires_grad=False):  # the same, written out with lists of tensors
        generator = torch.Generator().manual_seed(seed)
        net = _ema_net()
        weights = [torch.randn(p.shape, generator=generator) for p in net.parameters()]
        means = [w.clone() for w in weights]
        buffers = [b.clone() for b in net.buffers()]
        for _ in range(steps):
            weights = [w + torch.randn(w.shape, generator=generator) for w in weights]
            buffers[0], buffers[1] = buffers[0] + 1.0, buffers[1] * 1.5
            means = [decay * m + (1 - decay) * w for m, w in zip(means, weights)]
        return _flat(means), _flat(buffers)

    cases = [Case("one update with decay 0.9", (0, 0.9, 1), expected=reference(0, 0.9, 1)),
             Case("20 updates with decay 0.5", (1, 0.5, 20), expected=reference(1, 0.5, 20)),
             Case("decay 0: the average becomes the weights", (2, 0.0, 3), expected=reference(2, 0.0, 3)),
             Case("the batch-norm buffers (running statistics) are copied, not averaged", (3, 0.99, 5),
                  expected=reference(3, 0.99, 5)),
             Case("an average whose parameters require gradients (update it under torch.no_grad())",
                  (4, 0.9, 2, True), expected=reference(4, 0.9, 2))]
    return run_check("ema_update", updates, cases,
                     hint="change `average` in place (its tensors' in-place methods such as mul_ and add_, or copy_), "
                          "inside torch.no_grad(): for each pair of parameters of average and module, the new average "
                          "keeps the fraction `decay` of the old average and adds (1 - decay) times the weights; then "
                          "copy each buffer of module into the matching buffer of average.")


@checker
def check_pack(fn):
    """Check ``fn(x, m) -> packed``: each group of m consecutive samples becomes one input, N x D -> N/m x m*D and
    images N x C x H x W -> N/m x m*C x H x W (the convention of `train.train_gan`)."""
    points = torch.arange(24.0).reshape(12, 2)
    images = torch.arange(4 * 9.0).reshape(4, 1, 3, 3)
    cases = [Case("12 points in pairs (m = 2): rows [x0, x1], [x2, x3], ...", (points, 2),
                  expected=torch.stack([torch.cat([points[i], points[i + 1]]) for i in range(0, 12, 2)])),
             Case("12 points in groups of 4 consecutive samples", (points, 4),
                  expected=torch.stack([torch.cat(list(points[i:i + 4])) for i in range(0, 12, 4)])),
             Case("m = 1 changes nothing", (points, 1), expected=points),
             Case("4 images 1 x 3 x 3 in pairs: stacked as channels, 2 x 2 x 3 x 3", (images, 2),
                  expected=torch.stack([torch.cat([images[0], images[1]]), torch.cat([images[2], images[3]])]))]
    return run_check("pack", fn, cases,
                     hint="the packed tensor has len(x) // m rows; row k holds samples k*m, ..., k*m + m - 1 one after "
                          "the other. Since the rows of x are consecutive in memory, one reshape of x to "
                          "(len(x) // m, m * x.shape[1], *x.shape[2:]) does it; transposing first would mix the "
                          "coordinates of different samples.")


@checker
def check_power_iteration(fn):
    """Check ``fn(weight, u, steps) -> (sigma, u)``: `steps` power iterations v = normalize(W^T u),
    u = normalize(W v), then sigma = u . (W v), the estimate of the largest singular value of W."""
    def iterate(weight, u, steps, what="both"):
        sigma, u = fn(weight, u, steps)
        return torch.as_tensor(sigma) if what == "sigma" else (torch.as_tensor(sigma), u)

    def by_hand(weight, u, steps):
        for _ in range(steps):
            v = weight.T @ u
            v = v / v.norm()
            u = weight @ v
            u = u / u.norm()
        return u @ weight @ v, u

    rng = torch.Generator().manual_seed(0)
    square = torch.randn(4, 4, generator=rng, dtype=torch.float64)
    wide = torch.randn(3, 7, generator=rng, dtype=torch.float64)
    tall = torch.randn(6, 3, generator=rng, dtype=torch.float64)
    u3, u6 = torch.randn(3, generator=rng, dtype=torch.float64), torch.randn(6, generator=rng, dtype=torch.float64)
    u4 = torch.randn(4, generator=rng, dtype=torch.float64)
    diagonal = torch.diag(torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64))
    start = torch.ones(3, dtype=torch.float64) / 3 ** 0.5
    cases = [Case("one step on a 3 x 7 matrix, from a given u (sigma and the new u)", (wide, u3 / u3.norm(), 1),
                  expected=by_hand(wide, u3 / u3.norm(), 1)),
             Case("three steps on a 6 x 3 matrix from a u that is not of length 1", (tall, u6, 3),
                  expected=by_hand(tall, u6 / u6.norm(), 3)),
             Case("diag(3, 1, 0.5): 60 steps converge to sigma = 3, u = (1, 0, 0)", (diagonal, start, 60),
                  expected=(torch.tensor(3.0, dtype=torch.float64), torch.tensor([1.0, 0, 0], dtype=torch.float64)),
                  atol=1e-6),
             Case("100 steps on a random 4 x 4 matrix reach torch.linalg.matrix_norm(W, ord=2)",
                  (square, u4, 100, "sigma"), expected=torch.linalg.matrix_norm(square, ord=2), atol=1e-6)]
    return run_check("power_iteration", iterate, cases,
                     hint="repeat `steps` times: v = W^T u divided by its length, then u = W v divided by its length "
                          "(W^T has the shape in x out, so v has one entry per column of W); after the loop, "
                          "sigma = u . (W v). Return (sigma, u). The Frobenius norm or a single step are not it.")


class _RecordingCritic(nn.Module):
    """A critic that remembers the inputs it was called on (to find the learner's x_hat and alpha)."""

    def __init__(self, net):
        super().__init__()
        self.net, self.inputs = net, []

    def forward(self, x):
        self.inputs.append(x)
        return self.net(x).flatten()


def _critic(kind):
    torch.manual_seed({"linear": 0, "mlp": 1, "conv": 2}[kind])
    if kind == "linear":
        net = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            net.weight.copy_(torch.tensor([[1.2, -1.6]]))  # |w| = 2: the gradient everywhere
        return net
    if kind == "mlp":
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 16, 1))


def _penalty_at(net, x_hat):
    """The reference: mean over samples of (||grad_x net(x_hat)||_2 - 1)^2, differentiable in net's weights."""
    x = x_hat.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    return ((grad.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


@checker
def check_gradient_penalty(fn):
    """Check ``fn(critic, real, fake) -> scalar``: mean over samples of (||grad critic(x_hat)||_2 - 1)^2 at
    x_hat = alpha * real + (1 - alpha) * fake, with alpha ~ U(0, 1) drawn by fn itself, one per sample, and the
    result differentiable in the critic's weights. The checker reads x_hat (and so alpha) off the critic's input;
    where it compares values, real and fake are equal, so that x_hat = real whatever alpha is."""
    def run(kind, shape, seed, what):
        rng = torch.Generator().manual_seed(seed)
        real = torch.randn(shape, generator=rng)
        away = torch.where(torch.rand(shape, generator=rng) < 0.5, -1.0, 1.0) * (0.5 + torch.rand(shape, generator=rng))
        fake = real.clone() if what in ("value", "weights") else real + away  # |real - fake| >= 0.5 elsewhere
        critic = _RecordingCritic(_critic(kind))
        penalty = _seeded(fn, seed)(critic, real.clone(), fake.clone())
        if what == "value":
            return penalty
        if what == "weights":
            params = list(critic.net.parameters())
            if not isinstance(penalty, torch.Tensor) or not penalty.requires_grad:
                return torch.zeros(sum(p.numel() for p in params))  # no graph: the critic would learn nothing
            grads = torch.autograd.grad(penalty, params, allow_unused=True)
            return torch.cat([torch.zeros(p.numel()) if g is None else g.flatten() for g, p in zip(grads, params)])
        mixed = [x for x in critic.inputs if x.requires_grad] or critic.inputs
        if not mixed or mixed[-1].shape != real.shape:
            raise ValueError("the critic was never called on x_hat, a tensor of the shape of real")
        alpha = ((mixed[-1].detach() - fake) / (real - fake)).flatten(start_dim=1)  # each coordinate's weight
        if what == "spread within a sample":
            return (alpha.max(dim=1).values - alpha.min(dim=1).values).max()
        if what == "spread between samples":
            return alpha[:, 0].std()
        return ((alpha >= -1e-4) & (alpha <= 1 + 1e-4)).all(dim=1).double().mean()  # "in [0, 1]"

    def expected(kind, shape, seed, what):
        if what in ("value", "weights"):
            real = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
            net = _critic(kind)
            penalty = _penalty_at(net, real)
            if what == "value":
                return penalty.detach()
            params = list(net.parameters())
            grads = torch.autograd.grad(penalty, params, allow_unused=True)  # the last bias does not reach it
            return torch.cat([torch.zeros(p.numel()) if g is None else g.flatten() for g, p in zip(grads, params)])
        return {"spread within a sample": 0.0, "spread between samples": (1 / 12) ** 0.5, "in [0, 1]": 1.0}[what]

    specs = [("a linear critic f(x) = w.x on 2-D points, |w| = 2 everywhere: the penalty is (2 - 1)^2 = 1",
              ("linear", (64, 2), 0, "value")),
             ("a small MLP critic on 2-D points (real = fake, so x_hat = real)", ("mlp", (64, 2), 1, "value")),
             ("images N x 1 x 4 x 4 (real = fake): the norm of each sample's whole gradient over all its channels, "
              "rows and columns, not per row or per pixel", ("conv", (16, 1, 4, 4), 2, "value")),
             ("the penalty's gradient with respect to the critic's weights (the critic must learn from the penalty: "
              "torch.autograd.grad(..., create_graph=True))", ("mlp", (32, 2), 3, "weights")),
             ("one alpha per sample: every coordinate of x_hat[i] mixes real[i] and fake[i] with the same alpha_i",
              ("conv", (16, 1, 4, 4), 4, "spread within a sample")),
             ("alpha between 0 and 1: x_hat lies on the segment between real[i] and fake[i]",
              ("mlp", (64, 2), 6, "in [0, 1]")),
             ("a different alpha for each sample: the 512 alphas vary as U(0, 1) does, standard deviation "
              "1/sqrt(12) = 0.29 (one alpha for the whole batch gives 0)", ("mlp", (512, 2), 5, "spread between samples"))]
    cases = [Case(about, args, expected=expected(*args), atol=0.04 if args[3] == "spread between samples" else 1e-4)
             for about, args in specs]
    return run_check("gradient_penalty", run, cases,
                     hint="draw alpha with torch.rand, one number per sample, shaped N x 1 (x 1 x 1 for images) so "
                          "that it broadcasts; x_hat = alpha * real + (1 - alpha) * fake, made to require grad; take "
                          "torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True); flatten each sample's "
                          "gradient to one row, take each row's 2-norm (not its square), and average (norm - 1)^2.")
