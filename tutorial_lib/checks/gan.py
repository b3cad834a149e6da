"""Checkers of the GAN notebooks (03 and 04)."""
import math

import torch
from torch import nn

from ._core import Case, CheckTimeout, case_seconds, checker, report, run_check, time_limit

__all__ = ["check_optimal_discriminator", "check_kl_divergence", "check_discriminator_loss", "check_generator_loss",
           "check_gan_step"]


def _logits(n, seed, scale=2.0):
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed))


@checker
def check_optimal_discriminator(fn):
    """Check ``fn(p_data, p_model) -> D*``: the optimal discriminator p_data / (p_data + p_model), elementwise."""
    from ..gan import optimal_discriminator

    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    p_data = torch.exp(-0.5 * (x + 1) ** 2)
    p_model = 0.5 * torch.exp(-0.5 * ((x - 1) / 0.7) ** 2)
    mass = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    none = torch.zeros(3, dtype=torch.float64)
    cases = [Case("two Gaussian densities on a grid", (p_data, p_model), expected=optimal_discriminator(p_data, p_model)),
             Case("equal densities", (mass, mass.clone()), expected=torch.full((3,), 0.5, dtype=torch.float64)),
             Case("where the generator puts no mass", (mass, none), expected=torch.ones(3, dtype=torch.float64)),
             Case("where the data has no mass", (none, mass), expected=torch.zeros(3, dtype=torch.float64))]
    return run_check("optimal_discriminator", fn, cases,
                     hint="at each x, D*(x) is the fraction of the total density there that comes from the data: "
                          "p_data / (p_data + p_model), computed elementwise on the whole tensors.")


@checker
def check_discriminator_loss(fn):
    """Check ``fn(real_logits, fake_logits) -> scalar``: -mean log D(x) - mean log(1 - D(G(z))), D = sigmoid."""
    from ..gan import discriminator_loss

    real, fake = _logits(6, 0), _logits(4, 1)
    confident = (torch.tensor([-30.0, 5.0]), torch.tensor([30.0, -5.0]))
    cases = [Case("random logits (6 real, 4 fake)", (real, fake), expected=discriminator_loss(real, fake)),
             Case("a discriminator that outputs 0 everywhere (D = 1/2)", (torch.zeros(3), torch.zeros(5)),
                  expected=2 * torch.log(torch.tensor(2.0))),
             Case("a discriminator that is right and sure (real 8, fake -8)", (torch.full((2,), 8.0),
                  torch.full((3,), -8.0)), expected=discriminator_loss(torch.full((2,), 8.0), torch.full((3,), -8.0)),
                  atol=1e-6),
             Case("a confidently wrong discriminator (logits of +-30)", confident,
                  expected=discriminator_loss(*confident), rtol=1e-4)]
    return run_check("discriminator_loss", fn, cases,
                     hint="the discriminator minimizes -mean(log D(real)) - mean(log(1 - D(fake))) with D = sigmoid "
                          "of the logits: two separate means, one per batch. log(1 - sigmoid(30)) is log(0) in float32; "
                          "use F.logsigmoid (log(1 - sigmoid(a)) = logsigmoid(-a)) or F.softplus, or "
                          "F.binary_cross_entropy_with_logits with targets 1 (real) and 0 (fake).")


@checker
def check_generator_loss(fn):
    """Check ``fn(fake_logits) -> scalar``: the non-saturating generator loss -mean log D(G(z)), D = sigmoid."""
    from ..gan import generator_loss

    fake = _logits(7, 2)
    sure = torch.tensor([-30.0, -12.0, 30.0])
    cases = [Case("random logits", (fake,), expected=generator_loss(fake, "nonsaturating")),
             Case("a discriminator that outputs 0 everywhere (D = 1/2)", (torch.zeros(4),),
                  expected=torch.log(torch.tensor(2.0))),
             Case("a discriminator sure of itself (logits -30, -12, 30)", (sure,),
                  expected=generator_loss(sure, "nonsaturating"))]
    return run_check("generator_loss", fn, cases,
                     hint="the non-saturating generator loss is -mean(log D(G(z))) with D = sigmoid of the logits: it "
                          "is large when the discriminator spots the fakes (logits very negative). Not "
                          "mean(log(1 - D)), the saturating loss; F.logsigmoid computes log D stably.")


def _gaussian_kl_closed_form(m1, s1, m2, s2):
    """KL(N(m1, s1^2) || N(m2, s2^2)) in nats."""
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


@checker
def check_kl_divergence(fn):
    """Check ``fn(p, q, dx) -> scalar``: KL(p || q) = sum p log(p / q) dx of densities tabulated on a grid."""
    from ..gan import kl_divergence

    x = torch.linspace(-15, 15, 30_001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()

    def normal(mean, std):
        return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))

    uniform = ((x >= 0) & (x < 1)).double() / (((x >= 0) & (x < 1)).double().sum() * dx)
    wide_uniform = ((x >= -1) & (x < 1)).double() / (((x >= -1) & (x < 1)).double().sum() * dx)
    cases = [Case("N(0, 1) against itself", (normal(0, 1), normal(0, 1), dx), expected=0.0, atol=1e-8),
             Case("N(1, 1) against N(0, 2^2) (closed form)", (normal(1, 1), normal(0, 2), dx),
                  expected=_gaussian_kl_closed_form(1, 1, 0, 2), atol=1e-6),
             Case("N(0, 2^2) against N(1, 1): KL is not symmetric", (normal(0, 2), normal(1, 1), dx),
                  expected=_gaussian_kl_closed_form(0, 2, 1, 1), atol=1e-6),
             Case("p uniform on [0, 1], zero elsewhere (0 log 0 counts as 0)", (uniform, normal(0.5, 1), dx),
                  expected=kl_divergence(uniform, normal(0.5, 1), dx), atol=1e-8),
             Case("p = N(0, 1) has mass where q (uniform on [-1, 1]) has none: infinite", (normal(0, 1), wide_uniform, dx),
                  expected=math.inf)]
    return run_check("kl_divergence", fn, cases,
                     hint="KL(p || q) sums p * (log p - log q) over the grid and multiplies by dx: p is the first "
                          "argument. Where p = 0 the term is 0 (0 log 0 = 0), which p * log(p / q) gets wrong (nan); "
                          "torch.xlogy(a, b) computes a * log(b) with 0 where a = 0.")


# ---- the GAN training step (notebook 04) ----

class _TinyGenerator(nn.Module):
    """z (N x 3) -> points (N x 2) through a BatchNorm layer, so that eval mode changes the output."""

    def __init__(self):
        super().__init__()
        self.latent_dim = 3
        self.net = nn.Sequential(nn.Linear(3, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, z):
        return self.net(z)


class _TinyDiscriminator(nn.Module):
    """points (N x 2) -> logits (N,)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def _players(seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, discriminator = _TinyGenerator(), _TinyDiscriminator()
    with torch.no_grad():  # a BatchNorm whose running statistics are far from the batch's: eval mode shows
        generator.net[1].running_mean.fill_(0.7)
        generator.net[1].running_var.fill_(3.0)
    return generator, discriminator


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _gan_step_run(step, *, seed, optimizer, start_eval=False, prefill=False, steps=2):
    """Run `step` `steps` times on fresh tiny players (float32) with the global RNG seeded; record what a
    correct step must (not) do. Returns a dict; the learner's errors propagate."""
    generator, discriminator = _players(seed)
    if optimizer == "sgd":
        opt_g, opt_d = torch.optim.SGD(generator.parameters(), lr=0.1), torch.optim.SGD(discriminator.parameters(), lr=0.1)
    else:
        opt_g = torch.optim.Adam(generator.parameters(), lr=0.01, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=0.01, betas=(0.5, 0.999))
    if start_eval:
        generator.eval()
        discriminator.eval()
    if prefill:  # stale gradients, as a previous step would leave them
        for p in list(generator.parameters()) + list(discriminator.parameters()):
            p.grad = torch.full_like(p, 0.5)
    record = dict(events=[], bn_eval=False, g_grads=[], d_moved_later=False, returned=[])
    current = {}

    def wrap(optimizer, name):
        original = optimizer.step

        def step_and_log(*args, **kwargs):
            result = original(*args, **kwargs)
            current["events"].append(name)
            if name == "d" and "d_after" not in current:
                current["d_after"] = _flat(discriminator)
            return result
        optimizer.step = step_and_log

    wrap(opt_d, "d")
    wrap(opt_g, "g")

    def bn_hook(module, inputs):
        if not module.training:
            record["bn_eval"] = True

    def grad_hook(grad):
        current["g_grads"] += 1
        return grad

    handles = [m.register_forward_pre_hook(bn_hook) for m in generator.modules() if isinstance(m, nn.BatchNorm1d)]
    handles.append(next(generator.parameters()).register_hook(grad_hook))
    reals = torch.randn(steps, 16, 2, generator=torch.Generator().manual_seed(seed + 100)) * 0.5 + 1.0
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for real in reals:
                current.clear()
                current.update(events=[], g_grads=0)
                with time_limit(case_seconds()):
                    record["returned"].append(step(generator, discriminator, opt_g, opt_d, real))
                record["events"].append(current["events"])
                record["g_grads"].append(current["g_grads"])
                if "d_after" in current and not torch.equal(current["d_after"], _flat(discriminator)):
                    record["d_moved_later"] = True
    finally:
        for handle in handles:
            handle.remove()
    record["generator"], record["discriminator"] = _flat(generator), _flat(discriminator)
    return record


def _gan_step_problem(fn):
    """(message, hint) for the first mistake found in the learner's `fn`, or None when it is right."""
    from ..gan import gan_step

    def reference(loss="nonsaturating"):
        return lambda g, d, og, od, real: gan_step(g, d, og, od, real, loss=loss)

    runs = {name: _gan_step_run(fn, seed=seed, optimizer=opt, start_eval=start_eval, prefill=prefill)
            for name, seed, opt, start_eval, prefill in (("sgd", 0, "sgd", False, False),
                                                         ("stale", 0, "sgd", False, True),
                                                         ("adam_eval", 1, "adam", True, False))}
    if any(run["bn_eval"] for run in runs.values()):
        return ("BatchNorm ran in eval mode during your step, so it normalized with its running averages instead "
                "of the batch's statistics (one case hands the networks over in eval mode, as a plotting cell "
                "leaves them).",
                "put both networks in training mode at the start of the step (generator.train(), "
                "discriminator.train()), and do not switch to eval mode to make the fakes: torch.no_grad() alone "
                "is what keeps them out of the graph.")
    for run in runs.values():
        for events in run["events"]:
            if events[:2] == ["d", "g"] and set(events[2:]) <= {"d"}:
                continue
            shown = ", ".join({"d": "opt_d", "g": "opt_g"}[e] for e in events) or "none"
            return (f"the wrong optimizer stepped: one call of your step stepped {shown}; a GAN step steps "
                    f"opt_d once after the discriminator's loss, then opt_g once after the generator's loss.",
                    "after d_loss.backward() step opt_d (the discriminator's optimizer); after g_loss.backward() "
                    "step opt_g (the generator's).")
    if any(run["d_moved_later"] for run in runs.values()):
        return ("the discriminator's weights changed during the generator step: after its own update, something "
                "stepped opt_d again.",
                "the generator's loss gives the discriminator's weights gradients too (the loss flows through it), "
                "but only opt_g may step after g_loss.backward(); the next step's opt_d.zero_grad() clears them.")
    if any(count > 1 for run in runs.values() for count in run["g_grads"]):
        return ("the fakes of the discriminator step were not detached: the discriminator's loss sent gradients "
                "into the generator (its weights got gradients twice in one step).",
                "make the fakes for the discriminator step under torch.no_grad() (or call .detach() on them), so "
                "that this step trains only the discriminator.")
    if not all(torch.allclose(runs["sgd"][k], runs["stale"][k], atol=1e-6) for k in ("generator", "discriminator")):
        return ("gradients accumulate: with stale gradients left from a previous step, your step ends with other "
                "weights than from clean ones, so a zero_grad is missing.",
                "call opt_d.zero_grad() before d_loss.backward() and opt_g.zero_grad() before g_loss.backward(): "
                "backward() adds to the .grad that is already there.")
    for name, seed, opt, start_eval in (("sgd", 0, "sgd", False), ("adam_eval", 1, "adam", True)):
        expected = _gan_step_run(reference(), seed=seed, optimizer=opt, start_eval=start_eval)
        got = runs[name]
        if all(torch.allclose(got[k], expected[k], atol=1e-5) for k in ("generator", "discriminator")):
            continue
        saturating = _gan_step_run(reference("minimax"), seed=seed, optimizer=opt, start_eval=start_eval)
        if all(torch.allclose(got[k], saturating[k], atol=1e-5) for k in ("generator", "discriminator")):
            return ("your generator minimizes the saturating loss mean(log(1 - D(G(z)))); the course trains with the "
                    "non-saturating one (notebook 03 showed why).",
                    "the generator's loss is minus the mean log-probability that the discriminator calls the fakes "
                    "real, the non-saturating generator loss of the exercise above.")
        which = [k for k in ("generator", "discriminator") if not torch.allclose(got[k], expected[k], atol=1e-5)]
        return (f"after two steps with {'SGD' if opt == 'sgd' else 'Adam'} the {' and the '.join(which)}'s weights "
                f"differ from those of the expected step.",
                "first the discriminator step: standard normal noise, one row per real sample, drawn on the real "
                "batch's device; fakes made without gradient; the discriminator's loss on the real and the fake "
                "batch; zero_grad, backward, step of opt_d. Then the generator step on fresh noise of the same size "
                "with the non-saturating loss; zero_grad, backward, step of opt_g.")
    expected = _gan_step_run(reference(), seed=0, optimizer="sgd")["returned"]
    for got, want in zip(runs["sgd"]["returned"], expected):
        try:
            values = tuple(float(v) for v in got)
        except (TypeError, ValueError):
            values = ()
        if len(values) != 2 or not all(abs(a - b) < 1e-5 for a, b in zip(values, want)):
            return (f"the step trains correctly but returned {got!r}; it should return the two losses (d_loss, "
                    f"g_loss) as floats, here {want[0]:.4f} and {want[1]:.4f}.",
                    "return d_loss.item(), g_loss.item() at the end.")
    return None


@checker
def check_gan_step(fn):
    """Check ``fn(generator, discriminator, opt_g, opt_d, real) -> (d_loss, g_loss)``: one discriminator step on
    detached fakes, then one non-saturating generator step on fresh fakes, each optimizer stepping its own network
    after its own zero_grad, both networks in training mode. Runs it on tiny networks (one with BatchNorm) with SGD
    and Adam, and compares the weights with the library's `gan_step`; each typical mistake gets its own message."""
    if not callable(fn):
        return run_check("gan_step", fn, [], hint="")
    try:
        problem = _gan_step_problem(fn)
    except NotImplementedError:
        return report("gan_step", False, "⏳ gan_step: not implemented yet. Replace `raise NotImplementedError` with "
                                         "your code, then run this cell again.")
    except CheckTimeout as error:
        return report("gan_step", False, f"❌ gan_step: one step {error} on networks with a few dozen weights.\n"
                                         f"   Hint: one call makes one discriminator step and one generator step.")
    except Exception as error:  # the learner's error, without a traceback wall
        return report("gan_step", False, f"❌ gan_step: your step raised {type(error).__name__}: {error}\n"
                                         f"   Hint: the step gets (generator, discriminator, opt_g, opt_d, real) with "
                                         f"real a batch N x 2; the noise is torch.randn(len(real), "
                                         f"generator.latent_dim, device=real.device).")
    if problem:
        message, hint = problem
        return report("gan_step", False, f"❌ gan_step: {message}\n   Hint: {hint}")
    return report("gan_step", True, "✅ gan_step: correct on SGD and Adam runs, from clean and stale gradients, from "
                                    "training and eval mode. Well done!")
