"""Divergences between distributions (notebook 07): KL in both directions and the JSD on a grid, Gaussian fits by
each of them, f-divergences with their convex conjugates (Nowozin et al. 2016), the exact 1-D Wasserstein-1
distance, small 1-D critics that estimate it, and the Gaussian decoder of a VAE.

Densities "on a grid" are tensors of values p(x_i) at evenly spaced points x_i with spacing dx; integrals are
Riemann sums (accurate to far below 1e-6 for the smooth densities of the notebook on a fine grid).
"""
import math
from dataclasses import dataclass

import torch
from torch import nn

from . import validate
from .gan import _check_positive_int, _has_batch_norm, _input_gradient
from .gan import js_divergence, kl_divergence  # noqa: F401  (one place for KL and JSD on a grid: notebook 03)
from .vae import _check_pixels


# ---- densities on a grid ----

def normal_density(x, mean, std):
    """N(mean, std^2) density at the points x (a tensor; mean and std numbers or 0-dim tensors; std > 0)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    for name, value, positive in (("mean", mean, False), ("std", std, True)):
        try:
            tensor = torch.as_tensor(value).detach()
            ok = bool(torch.isfinite(tensor).all()) and (not positive or bool((tensor > 0).all()))
        except (TypeError, ValueError, RuntimeError):
            ok = False
        if not ok:
            what = " > 0 (a standard deviation, not a variance or its log)" if positive else ""
            raise ValueError(f"{name} must be a finite number{what}, got {value!r}")
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def mixture_density(x, means, stds, weights):
    """Density of the 1-D Gaussian mixture sum_k weights[k] N(means[k], stds[k]^2) at the points x."""
    if not (len(means) == len(stds) == len(weights) >= 1) or abs(sum(weights) - 1) > 1e-9 or min(weights) < 0:
        raise ValueError("means, stds and weights need one entry per component (at least one), weights >= 0 "
                         "summing to 1")
    return sum(w * normal_density(x, m, s) for m, s, w in zip(means, stds, weights))


DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")


def divergence_to_gaussian(p, x, mean, std, divergence):
    """The divergence between the density p on the grid x and N(mean, std^2): "forward_kl" KL(p || q),
    "reverse_kl" KL(q || p) or "jsd"."""
    if divergence not in DIVERGENCES:
        raise ValueError(f"Unknown divergence {divergence!r}: use one of {DIVERGENCES}")
    p, x = torch.as_tensor(p), torch.as_tensor(x)
    _check_grid(p, x)
    dx = float(x[1] - x[0])
    q = normal_density(x, mean, std)
    if divergence == "forward_kl":
        return kl_divergence(p, q, dx)
    if divergence == "reverse_kl":
        return kl_divergence(q, p, dx)
    return js_divergence(p, q, dx)


def _check_grid(p, x):
    """A density p tabulated on an evenly spaced, increasing grid x of at least 2 points (the same shape)."""
    if x.dim() != 1 or len(x) < 2 or p.shape != x.shape:
        raise ValueError(f"p and x must be 1-D tensors of the same length >= 2 (a density tabulated on a grid), got "
                         f"shapes {tuple(p.shape)} and {tuple(x.shape)}")
    if not float(x[1] - x[0]) > 0:
        raise ValueError("the grid x must be increasing (evenly spaced, x[1] > x[0])")


def fit_gaussian(p, x, divergence, start=(0.0, 1.0)):
    """The Gaussian N(mean, std^2) closest to the density p (tabulated on the evenly spaced grid x) under
    `divergence` ("forward_kl", "reverse_kl" or "jsd"), found by Nelder-Mead over (mean, log std) from `start`.
    Returns (mean, std) as floats. Reverse KL and the JSD have one local optimum per mode: `start` picks which."""
    from scipy.optimize import minimize

    x = torch.as_tensor(x, dtype=torch.float64)
    if divergence not in DIVERGENCES:
        raise ValueError(f"Unknown divergence {divergence!r}: use one of {DIVERGENCES}")
    _check_grid(torch.as_tensor(p), x)
    if not (len(start) == 2 and math.isfinite(start[0]) and 0 < start[1] < math.inf):
        raise ValueError(f"start must be (mean, std) with a finite mean and a std > 0, got {start!r}")

    def loss(params):
        std = math.exp(min(params[1], 700.0))
        if not std > 0:  # exp underflowed: a Gaussian of width 0 has no density on the grid
            return 1e6
        value = float(divergence_to_gaussian(p, x, params[0], std, divergence))
        return value if math.isfinite(value) else 1e6

    result = minimize(loss, [start[0], math.log(start[1])], method="Nelder-Mead",
                      options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000})
    return float(result.x[0]), float(math.exp(result.x[1]))


def grid_moments(p, x, dx):
    """The mean and standard deviation of the density p tabulated on the grid x (spacing dx), as floats: the
    Gaussian closest to p in forward KL(p || N(m, s^2)) (moment matching; `fit_gaussian`'s "forward_kl" optimum)."""
    p, x = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(x, dtype=torch.float64)
    if p.shape != x.shape:
        raise ValueError(f"p and x must have the same shape (p tabulated on the grid x), got {tuple(p.shape)} and "
                         f"{tuple(x.shape)}")
    mean = float((p * x).sum() * dx)
    return mean, float(torch.sqrt((p * (x - mean) ** 2).sum() * dx))


# ---- f-divergences and their variational bound (Nowozin et al. 2016) ----

@dataclass(frozen=True)
class FDivergence:
    """One f-divergence D_f(P || Q) = int q f(p / q) dx: its generator `f` (convex, f(1) = 0 except for the "gan"
    entry, shifted by -log 4 as in Nowozin et al.), the convex conjugate
    `conjugate` f*(t) = sup_u (t u - f(u)) defined for t in `domain`, and `f_prime` f'(u): the optimal critic
    is T*(x) = f'(p(x) / q(x)). Formulas as text in `f_text` and `conjugate_text`."""

    name: str
    f: object
    conjugate: object
    f_prime: object
    f_text: str
    conjugate_text: str
    domain: tuple


def _xlogx(u):
    return torch.xlogy(u, u)


F_DIVERGENCES = {
    "kl": FDivergence("KL(P || Q)", lambda u: _xlogx(u), lambda t: torch.exp(t - 1), lambda u: 1 + torch.log(u),
                      "u log u", "exp(t - 1)", (-math.inf, math.inf)),
    "reverse_kl": FDivergence("KL(Q || P)", lambda u: -torch.log(u), lambda t: -1 - torch.log(-t), lambda u: -1 / u,
                              "-log u", "-1 - log(-t)", (-math.inf, 0.0)),
    "pearson": FDivergence("Pearson chi^2", lambda u: (u - 1) ** 2, lambda t: t ** 2 / 4 + t, lambda u: 2 * (u - 1),
                           "(u - 1)^2", "t^2 / 4 + t", (-math.inf, math.inf)),
    "hellinger": FDivergence("squared Hellinger", lambda u: (torch.sqrt(u) - 1) ** 2, lambda t: t / (1 - t),
                             lambda u: 1 - 1 / torch.sqrt(u), "(sqrt(u) - 1)^2", "t / (1 - t)", (-math.inf, 1.0)),
    "jsd": FDivergence("Jensen-Shannon", lambda u: (_xlogx(u) - (u + 1) * torch.log((u + 1) / 2)) / 2,
                       lambda t: -0.5 * torch.log(2 - torch.exp(2 * t)), lambda u: 0.5 * torch.log(2 * u / (u + 1)),
                       "(u log u - (u + 1) log((u + 1) / 2)) / 2", "-log(2 - exp(2t)) / 2",
                       (-math.inf, 0.5 * math.log(2))),
    "gan": FDivergence("GAN (2 JSD - log 4)", lambda u: _xlogx(u) - (u + 1) * torch.log(u + 1),
                       lambda t: -torch.log(1 - torch.exp(t)), lambda u: torch.log(u / (u + 1)),
                       "u log u - (u + 1) log(u + 1)", "-log(1 - exp(t))", (-math.inf, 0.0)),
    "total_variation": FDivergence("total variation", lambda u: 0.5 * (u - 1).abs(), lambda t: t,
                                   lambda u: 0.5 * torch.sign(u - 1), "|u - 1| / 2", "t  (for |t| <= 1/2)",
                                   (-0.5, 0.5)),
}


def _f_divergence_entry(name):
    if name not in F_DIVERGENCES:
        raise ValueError(f"Unknown f-divergence {name!r}: use one of {sorted(F_DIVERGENCES)}")
    return F_DIVERGENCES[name]


def f_divergence(p, q, dx, name):
    """D_f(P || Q) = int q f(p / q) dx for densities on a grid (q > 0 wherever p > 0), `name` a key of F_DIVERGENCES."""
    entry = _f_divergence_entry(name)
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must be tabulated on the same grid, got shapes {tuple(p.shape)} and "
                         f"{tuple(q.shape)}")
    if bool(((q == 0) & (p > 0)).any()):
        raise ValueError("q must be > 0 wherever p > 0 (p must be absolutely continuous with respect to q)")
    keep = q > 0
    return (q[keep] * entry.f(p[keep] / q[keep])).sum() * dx


def variational_bound(critic_on_p, critic_on_q, name):
    """The f-GAN lower bound E_P[T(x)] - E_Q[f*(T(x))] <= D_f(P || Q) from critic values T on samples of P (M,)
    and of Q (N,). Equality when T = f'(p / q), the optimal critic."""
    entry = _f_divergence_entry(name)
    t_p, t_q = torch.as_tensor(critic_on_p, dtype=torch.float64), torch.as_tensor(critic_on_q, dtype=torch.float64)
    validate.finite(t_p, "critic_on_p"), validate.finite(t_q, "critic_on_q")
    low, high = entry.domain
    if bool(((t_q < low) | (t_q > high)).any()):
        raise ValueError(f"critic_on_q has values in [{float(t_q.min()):.4g}, {float(t_q.max()):.4g}], outside the "
                         f"domain ({low:g}, {high:g}) of the conjugate f* of {entry.name}: map the critic's raw "
                         "output into the domain with an output activation (Nowozin et al. 2016, Table 2).")
    return t_p.mean() - entry.conjugate(t_q).mean()


# ---- Wasserstein-1 ----

def wasserstein_1d(x, y):
    """Exact W1 between the empirical distributions of two 1-D samples x (M,) and y (N,): the integral of
    |F_x - F_y| over the line (for M = N, the mean of |sorted x - sorted y|). Returns a 0-dim float64 tensor."""
    x, y = (torch.as_tensor(v, dtype=torch.float64).flatten() for v in (x, y))
    if len(x) == 0 or len(y) == 0:
        raise ValueError("wasserstein_1d needs at least one point in each sample")
    for values, name in ((x, "x"), (y, "y")):
        validate.finite(values, name, "W1 of a sample with NaN or infinite points is undefined: drop them, or fix "
                                      "the model that made them (it has diverged).")
    if len(x) == len(y):
        return (x.sort().values - y.sort().values).abs().mean()
    points = torch.cat([x, y]).sort().values
    cdf_x = torch.searchsorted(x.sort().values, points[:-1], right=True).double() / len(x)
    cdf_y = torch.searchsorted(y.sort().values, points[:-1], right=True).double() / len(y)
    return ((cdf_x - cdf_y).abs() * points.diff()).sum()


class Critic1D(nn.Module):
    """A small critic f: R -> R for 1-D samples, (N,) -> (N,): two hidden layers of `hidden` LeakyReLU(0.2) units,
    the output layer initialized to 0."""

    def __init__(self, hidden=64):
        super().__init__()
        _check_positive_int("hidden", hidden)
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))
        # Start from the constant critic f = 0: the first steps then move it towards the right sign. (From a random
        # start, the gradient penalty's barrier at slope 0 can trap a 1-D critic at the wrong sign.)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        return self.net(x.view(-1, 1)).view(-1)


def train_critic(x, y, method="gp", steps=500, clip=0.01, gp_weight=10.0, lr=1e-3, batch_size=256, seed=0,
                 hidden=64):
    """Train a `Critic1D` to maximize E_x f - E_y f (the Kantorovich-Rubinstein dual of W1) on the 1-D samples
    x, y (tensors (M,), (N,)), keeping it near 1-Lipschitz by `method`: "clip" (every weight clipped to [-clip, clip]
    after each step, WGAN) or "gp" (the gradient penalty with weight gp_weight, WGAN-GP). Adam with lr.
    Returns (critic, estimate): the estimate is E_x f - E_y f over all of x and y."""
    from .gan import gradient_penalty

    if method not in ("clip", "gp"):
        raise ValueError(f"method must be 'clip' or 'gp', got {method!r}")
    _check_positive_int("batch_size", batch_size)
    x, y = torch.as_tensor(x, dtype=torch.float32).flatten(), torch.as_tensor(y, dtype=torch.float32).flatten()
    for values, name in ((x, "x"), (y, "y")):
        if len(values) == 0:
            raise ValueError(f"{name} is empty: train_critic needs at least one point in each sample")
        validate.finite(values, name, "drop the NaN or infinite points, or fix the model that made them.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = Critic1D(hidden)
        optimizer = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
        for _ in range(steps):
            bx, by = x[torch.randint(len(x), (batch_size,))], y[torch.randint(len(y), (batch_size,))]
            loss = critic(by).mean() - critic(bx).mean()
            if method == "gp":
                loss = loss + gp_weight * gradient_penalty(critic, bx[:, None], by[:, None])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if method == "clip":
                with torch.no_grad():
                    for p in critic.parameters():
                        p.clamp_(-clip, clip)
    with torch.no_grad():
        estimate = float(critic(x).double().mean() - critic(y).double().mean())
    return critic, estimate


def lipschitz_constant(critic, lo, hi, n=2001):
    """The largest |f'(x)| of a 1-D critic on n evenly spaced points of [lo, hi] (by autograd)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or not lo <= hi:
        raise ValueError(f"need a positive number of points n and lo <= hi, got n={n!r}, lo={lo!r}, hi={hi!r}")
    x = torch.linspace(lo, hi, n).requires_grad_(True)
    grad = _input_gradient(critic, x, create_graph=False)
    return float(grad.abs().max())


# ---- a VAE with a Gaussian decoder (why VAE samples blur) ----

def gaussian_log_likelihood(mean, log_sigma, x):
    """log N(x; mean, sigma^2 I) summed over every non-batch dimension: (N,). log_sigma: a number or a tensor that
    broadcasts against x (one shared log standard deviation, or one per pixel)."""
    if mean.shape != x.shape or mean.dim() < 2:
        raise ValueError(f"mean and x must have the same shape N x ..., got {tuple(mean.shape)} and {tuple(x.shape)}")
    log_sigma = torch.as_tensor(log_sigma, dtype=mean.dtype).expand_as(mean)
    per_pixel = -0.5 * ((x - mean) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)
    return per_pixel.flatten(1).sum(dim=1)


def train_gaussian_vae(model, images, epochs, log_sigma=None, lr=1e-3, batch_size=128, seed=0):
    """Train a `tutorial_lib.vae.VAE` with a Gaussian decoder N(x; sigmoid(decode(z)), sigma^2 I) on grey images
    (N x 1 x 28 x 28 in [0, 1]) by the ELBO. log_sigma: a fixed number, or None to learn one shared sigma: at every
    step it is set to its maximum-likelihood value for the batch, sigma^2 = mean squared error of the decoder means
    (the "calibrated decoder" of Rybkin et al. 2021). Returns (the final log sigma as a float, per-step -ELBO list)."""
    from .vae import gaussian_kl

    _check_pixels(images)
    _check_positive_int("batch_size", batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses, log_s = [], torch.tensor(0.0 if log_sigma is None else float(log_sigma))
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(images), generator=g).split(batch_size):
            if len(index) < 2 and _has_batch_norm(model):
                continue  # an epoch's last batch of 1 image: batch norm cannot train on it (drop_last)
            x = images[index]
            logits, mu, logvar = model(x)
            mean = torch.sigmoid(logits)
            if log_sigma is None:
                log_s = 0.5 * torch.log((x - mean).detach().pow(2).mean().clamp_min(1e-6))
            loss = (gaussian_kl(mu, logvar) - gaussian_log_likelihood(mean, log_s, x)).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    return float(log_s), losses
