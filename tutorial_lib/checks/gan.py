"""Checkers of the GAN notebooks (03 and 04)."""
import torch

from ._core import Case, checker, run_check

__all__ = ["check_optimal_discriminator", "check_discriminator_loss", "check_generator_loss", "check_gradient_penalty"]


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


def _critics():
    """Fixed critics (float64): linear ones with known gradients, a small MLP, a critic on 1 x 5 x 5 images."""
    seed = torch.Generator().manual_seed(3)

    def linear(weight):
        layer = torch.nn.Linear(len(weight), 1, bias=False).double()
        with torch.no_grad():
            layer.weight.copy_(weight[None])
        return layer

    unit = torch.tensor([0.6, -0.8], dtype=torch.float64)
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    images = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Softplus(), torch.nn.Flatten(),
                                 torch.nn.Linear(18, 1)).double()
    with torch.no_grad():
        for module in (mlp, images):
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=seed, dtype=torch.float64))

    def data(*shape):
        return torch.randn(*shape, generator=seed, dtype=torch.float64)

    alpha4, alpha6 = torch.rand(4, generator=seed, dtype=torch.float64), torch.rand(6, generator=seed, dtype=torch.float64)
    return [("a linear critic with a unit-norm gradient", linear(unit), data(4, 2), data(4, 2), alpha4),
            ("a linear critic with a gradient of norm 3", linear(3 * unit), data(4, 2), data(4, 2), alpha4),
            ("a small MLP critic on 2-D points", mlp, data(6, 2), data(6, 2), alpha6),
            ("a convolutional critic on N x 1 x 5 x 5 images", images, data(4, 1, 5, 5), data(4, 1, 5, 5), alpha4)]


@checker
def check_gradient_penalty(fn):
    """Check ``fn(critic, real, fake, alpha) -> scalar``: mean over samples of (||grad critic(x_hat)||_2 - 1)^2 at
    x_hat = alpha * real + (1 - alpha) * fake (alpha: (N,), one per sample), differentiable in the critic's weights."""
    from ..gan import gradient_penalty

    if not callable(fn):
        return run_check("gradient_penalty", fn, [], hint="")

    def with_weight_gradient(penalty_fn):
        def run(critic, real, fake, alpha):
            penalty = penalty_fn(critic, real, fake, alpha)
            if not isinstance(penalty, torch.Tensor) or not penalty.requires_grad:
                raise ValueError("the penalty is not differentiable with respect to the critic's weights, so the "
                                 "critic cannot learn from it (torch.autograd.grad needs create_graph=True)")
            grads = torch.autograd.grad(penalty, list(critic.parameters()), allow_unused=True)
            return penalty, torch.cat([torch.zeros(p.numel(), dtype=p.dtype) if g is None else g.flatten()
                                       for g, p in zip(grads, critic.parameters())])
        return run

    reference = with_weight_gradient(lambda critic, real, fake, alpha: gradient_penalty(critic, real, fake, alpha))
    cases = [Case(about, (critic, real, fake, alpha), expected=reference(critic, real, fake, alpha), atol=1e-6)
             for about, critic, real, fake, alpha in _critics()]
    return run_check("gradient_penalty", with_weight_gradient(fn), cases,
                     hint="mix x_hat = alpha * real + (1 - alpha) * fake with alpha reshaped to N x 1 x ... so it "
                          "broadcasts; make x_hat require grad; take torch.autograd.grad(critic(x_hat).sum(), x_hat, "
                          "create_graph=True); flatten each sample's gradient, take its 2-norm, and average "
                          "(norm - 1)^2 over the samples.")
