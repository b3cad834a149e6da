"""Checkers of the GAN notebooks (03 and 04)."""
import math

import torch
from torch import nn

from ._core import Case, CheckTimeout, case_seconds, checker, report, run_check, time_limit

__all__ = ["check_optimal_discriminator", "check_kl_divergence", "check_discriminator_loss", "check_generator_loss",
           "check_gan_step", "check_dcgan_generator", "check_dcgan_discriminator"]


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


# ---- the DCGAN generator and discriminator (notebook 04) ----

#: Outputs of the learner's network and the course's, with the same weights, agree to within these: float32 rounding
#: (machine epsilon 1.2e-7) summed over dot products of up to 3,136 terms and a BatchNorm division gives errors of
#: order 1e-6 on values of order 1; a real difference (a layer, an activation, a rescale) is of order 1e-2 or more.
DCGAN_ATOL, DCGAN_RTOL = 1e-5, 1e-4


def dcgan_generator_parameters(latent_dim=64, width=32, image_channels=1):
    """The number of parameters of `gan.DCGANGenerator`, counted layer by layer: the projection (no bias), its batch
    norm (a scale and a shift per value), the first transposed convolution (no bias), its batch norm, the last
    transposed convolution (with a bias). 240,321 at the defaults."""
    projected = 2 * width * 7 * 7
    return (latent_dim * projected + 2 * projected + 2 * width * width * 4 * 4 + 2 * width
            + width * image_channels * 4 * 4 + image_channels)


def dcgan_discriminator_parameters(width=32, image_channels=1):
    """The number of parameters of `gan.DCGANDiscriminator`: two convolutions with biases and the linear layer to
    one logit. 36,513 at the default width."""
    return (image_channels * width * 4 * 4 + width + width * 2 * width * 4 * 4 + 2 * width
            + 2 * width * 7 * 7 + 1)


def _has_weights(layer):
    return bool(list(layer.parameters(recurse=False)))


def _size(shape):
    return " x ".join(map(str, shape)) if shape is not None else "?"


def _layers_text(trace):
    return ", ".join(f"{type(layer).__name__} -> {_size(shape)}" for _, layer, shape in trace if _has_weights(layer)) \
        or "none"


def _traced(model, x):
    """The learner's forward pass on x in training mode: (output, error, trace, layers with weights, conv layers), the
    last three as (layer, output shape); the trace keeps the layers that ran before an error."""
    from ..gan import layer_shapes

    trace, output, error = [], None, None
    try:
        output, _ = layer_shapes(model.train(), x, trace=trace)
    except (NotImplementedError, CheckTimeout):
        raise
    except Exception as raised:  # the learner's error: reported with the layers that ran
        error = raised
    weighted = [(layer, shape) for _, layer, shape in trace if _has_weights(layer)]
    convs = [(layer, shape) for layer, shape in weighted if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))]
    return output, error, trace, weighted, convs


def _conv_size(layer, size):
    """(output side, the arithmetic as text) of a square conv or transposed conv `layer` on size x size inputs."""
    k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding
    if isinstance(p, str):
        return None, f"padding={p!r}"
    p = p[0]
    if isinstance(layer, nn.ConvTranspose2d):
        extra = layer.output_padding[0]
        return (size - 1) * s - 2 * p + k + extra, (f"(in - 1)·stride - 2·padding + kernel = ({size} - 1)·{s} - 2·{p} "
                                                    f"+ {k}" + (f" + {extra} (output_padding)" if extra else ""))
    return (size + 2 * p - k) // s + 1, f"floor((in + 2·padding - kernel) / stride) + 1 = floor(({size} + 2·{p} - {k}) / {s}) + 1"


def _conv_problem(convs, plan, what):
    """The first conv layer whose output differs from `plan` [(channels, side, input side), ...], as a message."""
    kind = "transposed convolution" if what == "generator" else "convolution"
    ordinals = ("first", "second", "third", "fourth")
    for i, ((layer, shape), (channels, side, before)) in enumerate(zip(convs, plan)):
        if shape is None or len(shape) != 4:
            return f"the {ordinals[i]} {kind} returned {_size(shape)}, not a batch of feature maps N x C x H x W"
        if shape[2:] != (side, side):
            size, arithmetic = _conv_size(layer, before)
            return (f"the {ordinals[i]} {kind} turns {before} x {before} inputs into {shape[2]} x {shape[3]}, "
                    f"expected {side} x {side}: {arithmetic} = {size}. With kernel 4 and stride 2, only padding 1 "
                    f"gives {side}")
        if shape[1] != channels:
            return (f"the {ordinals[i]} {kind} has {shape[1]} output channels, expected {channels}")
    if len(convs) != len(plan):
        sides = " -> ".join(str(before) for *_, before in plan) + f" -> {plan[-1][1]}"
        return (f"the {what} has {len(convs)} {kind}s with weights, expected {len(plan)} ({sides}, each halving or "
                f"doubling the side)")
    return None


def _max_difference(a, b):
    return (a.detach().double() - b.detach().double()).abs().max().item()


def _close(a, b):
    return (isinstance(a, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.detach().double(), b.detach().double(), atol=DCGAN_ATOL, rtol=DCGAN_RTOL))


def _build(cls, seed=0, **kwargs):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(**kwargs)


def _batchnorm_problem(weighted, width):
    """The generator's batch norms: after the projection (BatchNorm1d over 2·width·49 values) and after the first
    transposed convolution (BatchNorm2d over width channels), nowhere else. `weighted`: [(layer, shape)]."""
    kinds = [layer for layer, _ in weighted]
    norms = [i for i, layer in enumerate(kinds) if isinstance(layer, nn.modules.batchnorm._BatchNorm)]
    convs = [i for i, layer in enumerate(kinds) if isinstance(layer, nn.ConvTranspose2d)]
    follows = {i - 1 for i in norms}
    if 0 not in follows:
        return ("no batch norm after the projection: the generator normalizes the projected 2·width·7·7 values "
                "(then ReLU) before the first transposed convolution")
    if isinstance(kinds[1], nn.BatchNorm2d):
        return (f"the batch norm after the projection is a BatchNorm2d over {kinds[1].num_features} channels; the "
                f"course's generator normalizes each of the {2 * width * 49:,} projected values on its own (a "
                f"BatchNorm1d before the reshape to 2·width x 7 x 7)")
    if len(convs) == 2 and convs[0] not in follows:
        return "no batch norm after the first transposed convolution (the course's generator has one, then ReLU)"
    if convs and convs[-1] in follows:
        return ("a batch norm after the last transposed convolution: DCGAN leaves batch norm off the generator's "
                "output layer (Radford et al. 2016), whose values go straight into tanh")
    if len(norms) != 2:
        return f"the generator has {len(norms)} batch norms, expected 2 (after the projection and after the first " \
               f"transposed convolution)"
    return None


def _parameter_problem(model, expected, weighted):
    count = sum(p.numel() for p in model.parameters())
    if count == expected:
        return None
    layers = [layer for layer, _ in weighted]
    biased = [type(layer).__name__ for layer, after in zip(layers, layers[1:])
              if isinstance(after, nn.modules.batchnorm._BatchNorm) and getattr(layer, "bias", None) is not None]
    if biased:
        return (f"{count:,} parameters, expected {expected:,}: the layers before a batch norm have a bias (the "
                f"{' and the '.join(biased)}). Batch norm subtracts the batch mean, which removes any bias added before it, so the course's "
                f"layers before a batch norm have none")
    return (f"{count:,} parameters, expected {expected:,} (layers with weights: "
            + ", ".join(f"{type(layer).__name__} {sum(p.numel() for p in layer.parameters(recurse=False)):,}"
                        for layer in layers) + ")")


def _generator_problem(cls):
    """(message, hint) for the first mistake found in the learner's generator class, or None when it is right."""
    latent, width = 64, 32
    model = _build(cls)
    if getattr(model, "latent_dim", None) != latent:
        return (f"cls() sets latent_dim = {getattr(model, 'latent_dim', None)!r}, expected {latent} (the default).",
                "the constructor takes latent_dim=64 and width=32 as defaults and keeps latent_dim as an attribute "
                "(the training step reads it to draw the noise).")
    out, error, trace, weighted, convs = _traced(model, torch.randn(6, latent, generator=torch.Generator().manual_seed(1)))
    shape_hint = ("a linear layer maps the noise to 2·width·7·7 values, reshaped to 2·width feature maps of 7 x 7; two "
                  "transposed convolutions with kernel 4, stride 2 and padding 1 double the side, 7 -> 14 -> 28, to "
                  "width and then 1 channel.")
    if (len(weighted) > 1 and isinstance(weighted[0][0], nn.modules.batchnorm._BatchNorm)
            and isinstance(weighted[1][0], nn.Linear)):
        return ("a batch norm runs on the noise itself, before the projection; the generator's first batch norm "
                "comes after it.", "batch norm follows the projection and the first transposed convolution only.")
    if not weighted or not isinstance(weighted[0][0], nn.Linear):
        if error is not None:
            return (f"your generator raised {type(error).__name__}: {error} (layers with weights that ran: "
                    f"{_layers_text(trace)}).", shape_hint)
        return (f"the generator should start with the projection, a linear layer from the {latent} noise values; its "
                f"layers with weights are: {_layers_text(trace)}.", shape_hint)
    if weighted[0][1] != (6, 2 * width * 49):
        return (f"the projection maps 6 noise vectors to {_size(weighted[0][1])}, expected 6 x {2 * width * 49:,} "
                f"(2·width·7·7 = 2·{width}·49).", shape_hint)
    problem = _conv_problem(convs, [(width, 14, 7), (1, 28, 14)], "generator")
    if problem:
        return problem + ".", shape_hint
    if error is not None:
        return (f"your generator raised {type(error).__name__}: {error} (layers with weights that ran: "
                f"{_layers_text(trace)}).", shape_hint)
    if not isinstance(out, torch.Tensor) or out.shape != (6, 1, 28, 28):
        return (f"for 6 noise vectors it returned {_size(getattr(out, 'shape', None))}, expected images "
                f"6 x 1 x 28 x 28.", shape_hint)
    problem = _batchnorm_problem(weighted, width)
    if problem:
        return (problem + ".", "batch norm follows the projection and the first transposed convolution, each "
                               "followed by ReLU; the last transposed convolution goes to tanh without one.")
    with torch.no_grad():
        model.eval()  # running statistics near their start (mean 0, variance 1): far codes give large values
        far = model(20 * torch.randn(64, latent, generator=torch.Generator().manual_seed(2)))
    low, high = min(out.min().item(), far.min().item()), max(out.max().item(), far.max().item())
    if low < 0 or high > 1:
        if low >= -1 and high <= 1:
            return (f"the images range over [{low:.3f}, {high:.3f}], inside [-1, 1] but below 0: the tanh output is "
                    f"not rescaled to the data's [0, 1].",
                    "the last layer's output a goes through tanh, in [-1, 1]; then (tanh(a) + 1) / 2 maps it to [0, 1].")
        return (f"the images range over [{low:.3f}, {high:.3f}]: unbounded, so the last layer's output does not go "
                f"through tanh.",
                "the last layer's output a goes through tanh, in [-1, 1]; then (tanh(a) + 1) / 2 maps it to [0, 1].")
    problem = _parameter_problem(model, dcgan_generator_parameters(latent, width), weighted)
    if problem:
        return problem + ".", "the projection and the first transposed convolution have no bias; the last one has."
    activations = {type(layer).__name__ for _, layer, _ in trace if not _has_weights(layer)}
    if activations & {"LeakyReLU", "ELU", "GELU", "SiLU"}:
        return (f"the generator uses {', '.join(sorted(activations & {'LeakyReLU', 'ELU', 'GELU', 'SiLU'}))}; "
                f"the DCGAN generator uses ReLU after each batch norm (and tanh at the end).",
                "ReLU after both batch norms; LeakyReLU belongs to the discriminator.")
    return _same_as_library(cls, model, latent, width)


def _same_as_library(cls, model, latent, width):
    from ..gan import DCGANGenerator, copy_dcgan_weights

    hint = ("the layers in order: linear (no bias) -> batch norm -> ReLU -> reshape to 2·width x 7 x 7 -> transposed "
            "convolution to width channels (kernel 4, stride 2, padding 1, no bias) -> batch norm -> ReLU -> "
            "transposed convolution to 1 channel (kernel 4, stride 2, padding 1) -> tanh, rescaled to [0, 1].")
    for config, learner in (((latent, width), model), ((8, 4), None)):
        reference = _build(DCGANGenerator, seed=3, latent_dim=config[0], width=config[1])
        if learner is None:
            learner = _build(cls, latent_dim=config[0], width=config[1])
        try:
            copy_dcgan_weights(reference, learner)
        except ValueError as error:
            return (f"with latent_dim={config[0]}, width={config[1]} (source: the course's DCGANGenerator, target: "
                    f"yours): {error}.",
                    "use latent_dim and width in every layer's size, never the numbers 64 and 32.")
        z = torch.randn(16, config[0], generator=torch.Generator().manual_seed(4))
        results = {}
        for mode in ("train", "eval"):  # train: batch statistics (and updating the running ones); eval: running ones
            reference.train(mode == "train")
            learner.train(mode == "train")
            z_ref, z_yours = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
            expected, got = reference(z_ref), learner(z_yours)
            results[mode] = expected, got
            if not _close(got, expected):
                if mode == "train" and _close(got, torch.sigmoid(reference.logits(z) / 2)):
                    return ("the images are sigmoid(a) of the last layer's output a; the course's generator returns "
                            "(tanh(a) + 1) / 2, which is sigmoid(2a): a steeper curve, the same range.",
                            "apply tanh to the last layer's output, then map [-1, 1] to [0, 1].")
                where = f" (latent_dim={config[0]}, width={config[1]})" if config != (latent, width) else ""
                what = ("in training mode (batch statistics)" if mode == "train" else
                        "in eval mode (BatchNorm's running statistics, after one training-mode pass)")
                return (f"with the course's weights copied in{where}, your images differ from the course generator's "
                        f"{what} by up to {_max_difference(got, expected):.2g}.",
                        hint + (" Every size comes from latent_dim and width." if where else
                                " BatchNorm with its default settings (eps, momentum)." if mode == "eval" else ""))
            (expected_grad,) = torch.autograd.grad(expected.square().sum(), z_ref)
            got_grad = torch.autograd.grad(got.square().sum(), z_yours, allow_unused=True)[0] \
                if got.requires_grad else None
            if got_grad is None or not _close(got_grad, expected_grad):
                return ("the images are right but the gradient with respect to the noise is "
                        + ("missing" if got_grad is None else "wrong")
                        + ": the generator learns only through this gradient (from the discriminator's loss).",
                        "no torch.no_grad(), .detach() or .item() inside forward.")
    return None


def _discriminator_problem(cls):
    """(message, hint) for the first mistake found in the learner's discriminator class, or None when it is right."""
    from ..gan import DCGANDiscriminator, copy_dcgan_weights

    width = 32
    model = _build(cls)
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    out, error, trace, weighted, convs = _traced(model, x)
    shape_hint = ("two convolutions with kernel 4, stride 2 and padding 1 halve the side, 28 -> 14 -> 7, to width and "
                  "then 2·width channels, each followed by LeakyReLU(0.2); flatten, then a linear layer from "
                  "2·width·7·7 values to one logit per image.")
    problem = _conv_problem(convs, [(width, 14, 28), (2 * width, 7, 14)], "discriminator")
    if problem:
        return problem + ".", shape_hint
    if error is not None:
        return (f"your discriminator raised {type(error).__name__}: {error} (layers with weights that ran: "
                f"{_layers_text(trace)}).", shape_hint)
    if not isinstance(out, torch.Tensor) or out.shape != (6,):
        squeeze = isinstance(out, torch.Tensor) and out.shape == (6, 1)
        return (f"for 6 images it returned {_size(getattr(out, 'shape', None))}, expected one logit per image, shape "
                f"(6,)" + (": the linear layer's N x 1 output still has its last dimension." if squeeze else "."),
                "the losses take a vector of N logits: drop the last dimension of the linear layer's output."
                if squeeze else shape_hint)
    norms = [i for i, (layer, _) in enumerate(weighted) if isinstance(layer, nn.modules.batchnorm._BatchNorm)]
    if norms:
        first_layer = norms[0] <= 1
        return (("batch norm on the discriminator's input layer" if first_layer else "batch norm in the discriminator")
                + ": the course's discriminator has none. Radford et al. (2016) leave it off the input layer, and "
                  "without any the same network serves as a WGAN-GP critic, whose gradient penalty is per sample "
                  "(batch norm mixes the samples of a batch).",
                "convolution -> LeakyReLU(0.2), twice, with no normalization layer.")
    activations = [layer for _, layer, _ in trace if not _has_weights(layer)
                   and not isinstance(layer, (nn.Flatten, nn.Unflatten, nn.Identity))]
    slopes = {round(layer.negative_slope, 6) for layer in activations if isinstance(layer, nn.LeakyReLU)}
    others = sorted({type(layer).__name__ for layer in activations if not isinstance(layer, nn.LeakyReLU)})
    if others or slopes - {0.2}:
        found = others + [f"LeakyReLU({s:g})" for s in sorted(slopes - {0.2})]
        return (f"the discriminator uses {', '.join(found)}; DCGAN's discriminator uses LeakyReLU with slope 0.2 "
                f"after each convolution (and nothing after the linear layer: it returns logits).",
                "LeakyReLU(0.2) keeps a gradient for negative inputs, which the generator needs.")
    problem = _parameter_problem(model, dcgan_discriminator_parameters(width), weighted)
    if problem:
        return problem + ".", "two convolutions with biases, then one linear layer to a single logit."
    hint = ("rescale the [0, 1] pixels to [-1, 1] first (x -> 2x - 1), then convolution -> LeakyReLU(0.2) twice, "
            "flatten, linear to one logit; return the logits (no sigmoid).")
    for w, learner in ((width, model), (4, None)):
        reference = _build(DCGANDiscriminator, seed=6, width=w)
        if learner is None:
            learner = _build(cls, width=w)
        try:
            copy_dcgan_weights(reference, learner)
        except ValueError as error:
            return (f"with width={w} (source: the course's DCGANDiscriminator, target: yours): {error}.",
                    "use width in every layer's size, never the number 32.")
        x_ref, x_yours = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        expected, got = reference(x_ref), learner(x_yours)
        if not _close(got, expected):
            with torch.no_grad():
                probabilities = torch.sigmoid(reference(x))
                unscaled = reference.net(x).squeeze(1)
            if _close(got, probabilities):
                return ("the discriminator returns probabilities sigmoid(logit); the course's losses take logits and "
                        "apply the sigmoid themselves (stably).", "return the linear layer's output as it is.")
            if _close(got, unscaled):
                return ("the discriminator does not rescale its input: it computes on the [0, 1] pixels, while the "
                        "course's maps them to [-1, 1] first (the range of tanh, where a DCGAN's data lives).",
                        "the first thing forward does is x -> 2x - 1.")
            where = f" (width={w})" if w != width else ""
            return (f"with the course's weights copied in{where}, your logits differ from the course discriminator's "
                    f"by up to {_max_difference(got, expected):.2g}.",
                    hint + (" Every size comes from width." if where else ""))
        (expected_grad,) = torch.autograd.grad(expected.square().sum(), x_ref)
        got_grad = torch.autograd.grad(got.square().sum(), x_yours, allow_unused=True)[0] if got.requires_grad else None
        if got_grad is None or not _close(got_grad, expected_grad):
            return ("the logits are right but their gradient with respect to the images is "
                    + ("missing" if got_grad is None else "wrong")
                    + ": the generator learns through exactly this gradient.",
                    "no torch.no_grad(), .detach() or .item() inside forward.")
    return None


def _network_check(name, cls, problem_fn, passed):
    if not callable(cls):
        return run_check(name, cls, [], hint="")
    try:
        with time_limit(case_seconds()):
            problem = problem_fn(cls)
    except NotImplementedError:
        return report(name, False, f"⏳ {name}: not implemented yet. Replace `raise NotImplementedError` with your "
                                   f"code, then run this cell again.")
    except CheckTimeout as error:
        return report(name, False, f"❌ {name}: building and running your network on a few images {error}.\n"
                                   f"   Hint: the network is a handful of layers; no loops over pixels.")
    except Exception as error:  # the learner's error, without a traceback wall
        return report(name, False, f"❌ {name}: building or running your class raised {type(error).__name__}: "
                                   f"{error}\n   Hint: the class is built as cls() with the defaults, or with "
                                   f"keyword arguments (latent_dim=, width= for the generator; width= for the "
                                   f"discriminator).")
    if problem:
        message, hint = problem
        return report(name, False, f"❌ {name}: {message}\n   Hint: {hint}")
    return report(name, True, f"✅ {name}: {passed} Well done!")


@checker
def check_dcgan_generator(cls):
    """Check a DCGAN generator class: ``cls(latent_dim=64, width=32)`` maps noise N x latent_dim to images
    N x 1 x 28 x 28 in [0, 1]. Checks the shape after each layer (a linear projection to 2·width x 7 x 7, then
    7 -> 14 -> 28), batch norm after the projection and after the first transposed convolution only, the range
    ((tanh + 1) / 2), the parameter count (240,321), and that with the course's weights copied in it computes what
    `gan.DCGANGenerator` computes, in training and eval mode, with the same gradient, at two sizes."""
    return _network_check("dcgan_generator", cls, _generator_problem,
                          "the shapes after each layer (7 -> 14 -> 28), batch norm where DCGAN puts it, images in "
                          "[0, 1], 240,321 parameters, and the course's DCGANGenerator's outputs and gradients with "
                          "its weights copied in (training and eval mode, two sizes).")


@checker
def check_dcgan_discriminator(cls):
    """Check a DCGAN discriminator class: ``cls(width=32)`` maps images N x 1 x 28 x 28 in [0, 1] to logits (N,).
    Checks the shape after each layer (28 -> 14 -> 7), no batch norm, LeakyReLU(0.2), the parameter count (36,513),
    and that with the course's weights copied in it computes what `gan.DCGANDiscriminator` computes (the input
    rescaled to [-1, 1], logits not probabilities), with the same gradient, at two widths."""
    return _network_check("dcgan_discriminator", cls, _discriminator_problem,
                          "the shapes after each layer (28 -> 14 -> 7), no batch norm, LeakyReLU(0.2), 36,513 "
                          "parameters, and the course's DCGANDiscriminator's logits and gradients with its weights "
                          "copied in (two widths).")
