"""Checkers of notebook 05 (stabilizing GANs)."""
import copy
import math

import torch
from torch import nn

from ._core import Case, _seeded, case_seconds, checker, report_problem, run_check, time_limit

__all__ = ["check_reverse_kl", "check_ema_update", "check_pack", "check_power_iteration", "check_gradient_penalty",
           "check_train_wgan_gp"]


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
    u = normalize(W v), then sigma = u . (W v), the estimate of the largest singular value of W; sigma is
    differentiable in W with u and v held fixed (its gradient is u v^T, as in Miyato et al. 2018 and torch)."""
    def iterate(weight, u, steps, what="both"):
        if what == "gradient":
            weight = weight.clone().requires_grad_(True)
        sigma, u = fn(weight, u, steps)
        if what == "sigma":
            return torch.as_tensor(sigma)
        if what == "gradient":  # no graph: a layer using this sigma would not learn through it
            if not isinstance(sigma, torch.Tensor) or not sigma.requires_grad:
                return torch.zeros_like(weight)
            (grad,) = torch.autograd.grad(sigma, weight, allow_unused=True)
            return torch.zeros_like(weight) if grad is None else grad
        return torch.as_tensor(sigma), u

    def by_hand(weight, u, steps, what="both"):  # in float64, with Python's own loop
        u = u / u.norm()
        for _ in range(steps):
            v = weight.T @ u
            v = v / v.norm()
            u = weight @ v
            u = u / u.norm()
        return torch.outer(u, v) if what == "gradient" else (u @ weight @ v, u)

    rng = torch.Generator().manual_seed(0)
    square = torch.randn(4, 4, generator=rng, dtype=torch.float64)
    wide = torch.randn(3, 7, generator=rng, dtype=torch.float64)
    tall = torch.randn(6, 3, generator=rng, dtype=torch.float64)
    u3, u6 = torch.randn(3, generator=rng, dtype=torch.float64), torch.randn(6, generator=rng, dtype=torch.float64)
    u4 = torch.randn(4, generator=rng, dtype=torch.float64)
    diagonal = torch.diag(torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64))
    start = torch.ones(3, dtype=torch.float64) / 3 ** 0.5
    cases = [Case("one step on a 3 x 7 matrix, from a given u (sigma and the new u)", (wide, u3 / u3.norm(), 1),
                  expected=by_hand(wide, u3, 1)),
             Case("three steps on a 6 x 3 matrix from a u that is not of length 1", (tall, u6, 3),
                  expected=by_hand(tall, u6, 3)),
             Case("diag(3, 1, 0.5): 60 steps converge to sigma = 3, u = (1, 0, 0)", (diagonal, start, 60),
                  expected=(torch.tensor(3.0, dtype=torch.float64), torch.tensor([1.0, 0, 0], dtype=torch.float64)),
                  atol=1e-6),
             Case("100 steps on a random 4 x 4 matrix reach torch.linalg.matrix_norm(W, ord=2)",
                  (square, u4, 100, "sigma"), expected=torch.linalg.matrix_norm(square, ord=2), atol=1e-6),
             Case("the gradient of sigma with respect to the weight, after two steps on the 3 x 7 matrix: u v^T, "
                  "with u and v held fixed (the iteration itself carries no gradient)",
                  (wide, u3 / u3.norm(), 2, "gradient"), expected=by_hand(wide, u3, 2, "gradient"))]
    return run_check("power_iteration", iterate, cases,
                     hint="repeat `steps` times: v = W^T u divided by its length, then u = W v divided by its length "
                          "(W^T has the shape in x out, so v has one entry per column of W); run this loop under "
                          "torch.no_grad(), so that no gradient flows through u and v. After the loop, outside "
                          "no_grad, sigma = u . (W v) with the weight itself, so that sigma is differentiable in the "
                          "weight. Return (sigma, u). The Frobenius norm or a single step are not it.")


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


# ---- the WGAN-GP training loop ----

class _WatchedCritic(nn.Module):
    """A critic that records what it is called on: real batches (rows of the data, no gradient), detached fakes,
    points x_hat of a penalty (leaves that require grad) and fakes with a graph back to the generator."""

    def __init__(self, net, data):
        super().__init__()
        self.net, self.rows, self.log = net, {tuple(row) for row in data.tolist()}, []

    def forward(self, x):
        if x.requires_grad:
            self.log.append(("x_hat" if x.grad_fn is None else "fake with graph", None))
        elif x.dim() == 2 and all(tuple(row) in self.rows for row in x.tolist()):
            self.log.append(("real", x.detach().clone()))
        else:
            self.log.append(("fake", x.detach().clone()))
        return self.net(x)


def _wgan_gp_setup(seed):
    """Tiny networks and 64 distinct 2-D points, the same for every run of one seed."""
    from ..gan import MLPDiscriminator, MLPGenerator

    torch.manual_seed(seed)
    generator, critic = MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1)
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(seed + 100))
    return generator, critic, data


def _wgan_gp_recipes():
    from ..train import GANRecipe

    return {"three critic steps": (GANRecipe(loss="wasserstein", n_critic=3, gp_weight=0.5, lr_g=0.01, lr_d=0.02,
                                             betas=(0.5, 0.9), batch_size=8), 3, 0),
            "one critic step": (GANRecipe(loss="wasserstein", n_critic=1, gp_weight=2.0, lr_g=0.03, lr_d=0.005,
                                          betas=(0.0, 0.9), batch_size=16), 2, 1)}


def _wgan_gp_reference(recipe, steps, seed, bug=None):
    """The library's run (`train.train_gan`) or, with `bug`, the same loop written out with one typical mistake:
    final weights (generator, critic) as one flat float64 vector."""
    from ..gan import gradient_penalty
    from ..stabilize import _quiet
    from ..train import train_gan

    generator, critic, data = _wgan_gp_setup(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if bug is None:
            with _quiet():
                train_gan(generator, critic, data, recipe, steps=steps)
            return _flat([*generator.parameters(), *critic.parameters()])
        lr_g, lr_d = (recipe.lr_d, recipe.lr_g) if bug == "swapped rates" else (recipe.lr_g, recipe.lr_d)
        opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=recipe.betas)
        opt_d = torch.optim.Adam(critic.parameters(), lr=lr_d, betas=recipe.betas)
        weight = 1.0 if bug == "penalty weight 1" else recipe.gp_weight
        n = recipe.batch_size
        for _ in range(steps):
            for _ in range(recipe.n_critic):
                if bug == "noise first":
                    z = torch.randn(n, generator.latent_dim)
                    real = data[torch.randint(len(data), (n,))]
                else:
                    real = data[torch.randint(len(data), (n,))]
                    z = torch.randn(n, generator.latent_dim)
                with torch.no_grad():
                    fake = generator(z)
                sign = -1.0 if bug == "critic sign" else 1.0
                loss = sign * (critic(fake).mean() - critic(real).mean()) + weight * gradient_penalty(critic, real, fake)
                if bug != "no critic zero_grad":
                    opt_d.zero_grad()
                loss.backward()
                opt_d.step()
            g_loss = critic(generator(torch.randn(n, generator.latent_dim))).mean()
            g_loss = g_loss if bug == "generator sign" else -g_loss
            if bug != "no generator zero_grad":
                opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
    return _flat([*generator.parameters(), *critic.parameters()])


_WGAN_GP_BUGS = {
    "no critic zero_grad": ("the critic's gradients accumulate from one critic step to the next: its zero_grad is "
                            "missing.", "call the critic optimizer's zero_grad() before each backward() of the "
                            "critic's loss: backward() adds to the .grad already there."),
    "no generator zero_grad": ("the generator's gradients accumulate from one generator step to the next: its "
                               "zero_grad is missing.", "call the generator optimizer's zero_grad() before the "
                               "generator loss's backward()."),
    "swapped rates": ("the learning rates are swapped: the generator's optimizer needs recipe.lr_g and the critic's "
                      "recipe.lr_d.", "build each Adam with its own network's rate and the recipe's betas."),
    "critic sign": ("the critic minimizes mean f(real) - mean f(fake), so it learns to score the fakes higher: the "
                    "sign of its Wasserstein loss is flipped.", "the critic minimizes mean f(fake) - mean f(real) "
                    "(plus the weighted penalty), so that real samples get the higher scores."),
    "generator sign": ("the generator minimizes +mean f(G(z)), pushing its samples to where the critic scores "
                       "them as fake: the sign of its loss is flipped.", "the generator minimizes -mean f(G(z)): it "
                       "raises the critic's score of its samples."),
    "penalty weight 1": ("the penalty enters the critic's loss with weight 1 instead of recipe.gp_weight.",
                         "multiply the penalty by recipe.gp_weight before adding it to the critic's loss."),
    "noise first": ("your loop is right, but it draws the noise before the real batch, so its random numbers (and "
                    "its weights) differ from the library's.", "in each critic step draw the real batch first "
                    "(torch.randint), then the noise (torch.randn), so that the same seed gives the same run."),
}


def _wgan_gp_run(fn, recipe, steps, seed):
    """The learner's loop on the tiny setup, watched: what it returned, its weights and what it did."""
    from ..gan import gradient_penalty

    generator, net, data = _wgan_gp_setup(seed)
    critic = _WatchedCritic(net, data)
    record = dict(penalties=0, generator_grads=0, callbacks=[])

    def penalty(critic_, real, fake):
        record["penalties"] += 1
        return gradient_penalty(critic_, real, fake)

    def count(grad):
        record["generator_grads"] += 1
        return grad

    handle = next(generator.parameters()).register_hook(count)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            with time_limit(case_seconds()):
                record["returned"] = fn(generator, critic, data, recipe, steps, penalty,
                                        callback=lambda step, g, d: record["callbacks"].append(
                                            (step, g is generator, d is critic)))
    finally:
        handle.remove()
    record["weights"] = _flat([*generator.parameters(), *net.parameters()])
    record["log"] = critic.log
    return record


def _distinct(tensors):
    kept = []
    for t in tensors:
        if not any(t.shape == k.shape and torch.equal(t, k) for k in kept):
            kept.append(t)
    return len(kept)


def _wgan_gp_problem(fn):
    """(message, hint) for the first mistake found in the learner's loop, or None."""
    for name, (recipe, steps, seed) in _wgan_gp_recipes().items():
        problem = _wgan_gp_run_problem(fn, recipe, steps, seed)
        if problem:
            return f"with a recipe of {name} and {steps} generator steps, {problem[0]}", problem[1]
    return None


def _wgan_gp_run_problem(fn, recipe, steps, seed):
    """(message, hint) for the first mistake the learner's loop makes with `recipe`, or None."""
    from ..stabilize import _quiet
    from ..train import train_gan

    run = _wgan_gp_run(fn, recipe, steps, seed)
    n_critic = recipe.n_critic
    if run["penalties"] != steps * n_critic:
        if run["penalties"] == 0:
            return ("your loop never called `penalty`.", "add recipe.gp_weight * penalty(critic, real, "
                    "fake) to the critic's loss in every critic step (the loop's argument `penalty`, not a "
                    "function of your own).")
        if run["penalties"] == steps * (n_critic + 1):
            return (f"the penalty was also computed in the generator step: {run['penalties']} calls "
                    f"instead of {steps * n_critic}.", "the gradient penalty belongs to the critic's loss only "
                    "(it constrains the critic); the generator's loss is -mean f(G(z)) alone.")
        return (f"your loop called `penalty` {run['penalties']} times in {steps} generator steps with "
                f"n_critic={n_critic}; it needs one call per critic step.",
                "each generator step runs recipe.n_critic critic steps, each with one penalty, then one "
                "generator step without it.")
    if run["generator_grads"] > steps * n_critic:
        return (f"the fakes of the critic steps were not detached: the critic's loss sent gradients into the "
                f"generator ({run['generator_grads']} backward passes reached it in {steps} generator steps).", "make the critic steps' fakes under torch.no_grad() (or .detach() them), so that "
                "a critic step trains only the critic.")
    if run["generator_grads"] == steps * n_critic and n_critic > 1:
        return (f"the generator was stepped in every critic step ({run['generator_grads']} generator backward "
                f"passes in {steps} generator steps with n_critic={n_critic}).",
                "the generator step comes once, after the loop over the recipe.n_critic critic steps.")
    if run["generator_grads"] != steps:
        return (f"the generator's weights got gradients {run['generator_grads']} times in {steps} generator "
                f"steps; one generator step per outer iteration needs exactly one.",
                "one generator step per outer iteration: -mean f(G(z)), zero_grad, backward, step.")
    reals = [x for kind, x in run["log"] if kind == "real"]
    fakes = [x for kind, x in run["log"] if kind == "fake"]
    if n_critic > 1 and len(reals) >= steps * n_critic and _distinct(reals) <= steps:
        return (f"the critic steps of one generator step shared one real batch: the critic saw "
                f"{_distinct(reals)} different real batches in {steps * n_critic} critic steps.",
                "draw a fresh real batch inside the loop over the critic steps, one per critic step.")
    if n_critic > 1 and len(fakes) >= steps * n_critic and _distinct(fakes) <= steps:
        return ("the critic steps of one generator step shared one batch of fakes.",
                "draw fresh noise and make fresh fakes in every critic step.")
    if any(len(x) != recipe.batch_size for x in reals):
        return (f"the real batches have {sorted({len(x) for x in reals})} samples, not recipe.batch_size = "
                f"{recipe.batch_size}.", "draw recipe.batch_size rows of the data per critic step.")
    expected = _wgan_gp_reference(recipe, steps, seed)
    if not torch.allclose(run["weights"], expected, atol=1e-5, rtol=1e-4):
        for bug, (message, hint) in _WGAN_GP_BUGS.items():
            if torch.allclose(run["weights"], _wgan_gp_reference(recipe, steps, seed, bug), atol=1e-5, rtol=1e-4):
                return message, hint
        return (f"after {steps} generator steps the weights differ from those of the library's train_gan"
                " with the same recipe and seed.",
                "the same seed gives the same run only with the same random draws in the same order. In each "
                "critic step: first a fresh real batch (recipe.batch_size random rows of the data, torch.randint), "
                "then standard normal noise of the same size, fakes made without gradient; the critic's loss is "
                "its mean score of the fakes minus its mean score of the real batch, plus recipe.gp_weight times "
                "the penalty; zero_grad, backward, step. After the critic steps: fresh noise, the generator's "
                "loss is minus the critic's mean score of its samples; zero_grad, backward, step. Two Adam "
                "optimizers with recipe.lr_g and recipe.lr_d and recipe.betas.")
    want = [(i + 1, True, True) for i in range(steps)]
    if run["callbacks"] != want:
        return (f"the callback was called as {run['callbacks'][:4]} (step, generator is yours, critic is yours); "
                f"expected {want[:4]}.", "after each generator step, when callback is not None, call "
                "callback(number of generator steps done so far, generator, critic).")
    generator, critic, data = _wgan_gp_setup(seed)
    with torch.random.fork_rng(devices=[]), _quiet():
        torch.manual_seed(seed)
        history = train_gan(generator, critic, data, recipe, steps=steps)
    returned = run["returned"]
    try:
        d_losses, g_losses = (list(map(float, values)) for values in returned)
    except (TypeError, ValueError):
        d_losses = g_losses = None
    if d_losses is None or len(d_losses) != steps or len(g_losses) != steps:
        return (f"your loop trains correctly but returned {type(returned).__name__}; it should return two lists "
                "(d_losses, g_losses) with one float per generator step.",
                "collect the losses in two lists as you go and return them as a pair.")
    for mine, theirs, what in ((d_losses, history.losses["d_loss"], "d_losses"),
                               (g_losses, history.losses["g_loss"], "g_losses")):
        if not all(abs(a - b) <= 1e-5 + 1e-4 * abs(b) for a, b in zip(mine, theirs)):
            return (f"your loop trains correctly, but its {what} are {[round(v, 4) for v in mine]}, expected "
                    f"{[round(v, 4) for v in theirs]}.",
                    "d_losses: per generator step, the mean over its critic steps of mean f(fake) - mean f(real) "
                    "(without the penalty); g_losses: the generator's loss -mean f(G(z)); as floats (.item()).")
    return None


@checker
def check_train_wgan_gp(fn):
    """Check ``fn(generator, critic, data, recipe, steps, penalty, callback=None) -> (d_losses, g_losses)``, the
    WGAN-GP training loop (Gulrajani et al. 2017, Algorithm 1): per generator step `recipe.n_critic` critic steps,
    each on a fresh real batch and fresh detached fakes, with ``recipe.gp_weight * penalty(critic, real, fake)``
    in the critic's loss, then one generator step. Runs it on tiny networks with two recipes and compares the
    weights with the library's `train.train_gan` (same recipe and seed); each typical mistake gets its message."""
    return report_problem("train_wgan_gp", fn, _wgan_gp_problem,
                          slow="`steps` generator steps on networks with a few dozen weights, each after "
                               "recipe.n_critic critic steps, take well under a second.",
                          raised_hint="data is a tensor N x 2 of real points; the noise is torch.randn(recipe.batch_"
                                      "size, generator.latent_dim); the critic returns one score per sample (N,).",
                          passed="the same weights and losses as the library's train_gan on two recipes, and none "
                                 "of the typical mistakes. Well done!")
