"""The notebook-05 exercise checker: passes correct implementations written here by hand, fails on the typical
mistakes, and reports a missing implementation."""
import math

import pytest
import torch

from tutorial_lib.checks import check_reverse_kl


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


def kl_masked(counts):
    if counts.sum() == 0:
        return math.inf
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * torch.log(p * len(counts))).sum())


def kl_entropy(counts):
    """log M - H(p), with xlogy for 0 log 0 = 0."""
    total = float(counts.sum())
    if total == 0:
        return float("inf")
    p = counts.double() / total
    return math.log(len(counts)) + float(torch.xlogy(p, p).sum())


@pytest.mark.parametrize("right", [kl_masked, kl_entropy])
def test_accepts_correct_versions(right, capsys):
    assert check_reverse_kl(right) is True
    assert "✅ reverse_kl: correct on all 6 test cases" in capsys.readouterr().out


def _no_inf(fn):
    return lambda counts: fn(counts) if counts.sum() else 0.0


@pytest.mark.parametrize("wrong", [
    lambda c: float(torch.xlogy(c.double() / c.sum(), c.double() / c.sum()).sum()),  # -H(p): no log M
    lambda c: float((torch.full((len(c),), 1 / len(c)) * torch.log((1 / len(c)) / (c.double() / c.sum()))).sum()),
    lambda c: kl_masked(c) / math.log(2),                                             # bits, not nats
    lambda c: float(torch.xlogy(c.double(), c.double() * len(c)).sum()),             # not normalized
    lambda c: float((c / c.sum() * torch.log(c / c.sum() * len(c))).sum()),          # 0 log 0 -> nan
    _no_inf(kl_masked),                                                                # 0 instead of inf
])
def test_rejects_typical_mistakes(wrong, capsys):
    assert check_reverse_kl(wrong) is False
    assert "❌ reverse_kl" in capsys.readouterr().out


def test_library_reverse_kl_passes_the_checker_and_refuses_a_non_histogram(capsys):
    from tutorial_lib.modes import reverse_kl

    assert check_reverse_kl(reverse_kl) is True
    assert reverse_kl([3, 1]) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))  # by hand, M = 2
    for bad in ([[1, 2]], [], [1, -1]):
        with pytest.raises(ValueError, match="counts must be a 1-D histogram of non-negative counts"):
            reverse_kl(bad)


def test_reports_a_missing_implementation(capsys):
    def stub(counts):
        raise NotImplementedError

    assert check_reverse_kl(stub) is False
    assert "⏳ reverse_kl: not implemented yet" in capsys.readouterr().out


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError, match="check_reverse_kl failed"):
        check_reverse_kl(lambda counts: 0.0)


# ---- the exercises of building the remedies ----

import copy  # noqa: E402

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from tutorial_lib.checks import (check_ema_update, check_gradient_penalty, check_pack,  # noqa: E402
                                 check_power_iteration)


def ema_in_place(average, module, decay):
    with torch.no_grad():
        for a, w in zip(average.parameters(), module.parameters()):
            a.copy_(decay * a + (1 - decay) * w)
        for a, b in zip(average.buffers(), module.buffers()):
            a.copy_(b)


def ema_lerp(average, module, decay):
    with torch.no_grad():
        for a, w in zip(average.parameters(), module.parameters()):
            a.lerp_(w, 1 - decay)
        average.load_state_dict({**average.state_dict(), **dict(module.named_buffers())})


def ema_swapped(average, module, decay):  # the new weights get the weight `decay`
    with torch.no_grad():
        for a, w in zip(average.parameters(), module.parameters()):
            a.copy_((1 - decay) * a + decay * w)
        for a, b in zip(average.buffers(), module.buffers()):
            a.copy_(b)


def ema_not_in_place(average, module, decay):  # rebinds a name; `average` never changes
    with torch.no_grad():
        for a, w in zip(average.parameters(), module.parameters()):
            a = decay * a + (1 - decay) * w  # noqa: F841
        for a, b in zip(average.buffers(), module.buffers()):
            a.copy_(b)


def ema_buffers_forgotten(average, module, decay):
    with torch.no_grad():
        for a, w in zip(average.parameters(), module.parameters()):
            a.mul_(decay).add_((1 - decay) * w)


def ema_buffers_averaged(average, module, decay):
    with torch.no_grad():
        for a, w in zip(list(average.parameters()) + list(average.buffers())[:2],
                        list(module.parameters()) + list(module.buffers())[:2]):
            a.mul_(decay).add_((1 - decay) * w)


def ema_without_no_grad(average, module, decay):  # in-place on a leaf that requires grad fails
    for a, w in zip(average.parameters(), module.parameters()):
        a.mul_(decay).add_((1 - decay) * w.detach())
    for a, b in zip(average.buffers(), module.buffers()):
        a.copy_(b)


@pytest.mark.parametrize("right", [ema_in_place, ema_lerp])
def test_check_ema_update_accepts_correct_versions(right, capsys):
    assert check_ema_update(right) is True
    assert "✅ ema_update" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [ema_swapped, ema_not_in_place, ema_buffers_forgotten, ema_buffers_averaged,
                                   ema_without_no_grad])
def test_check_ema_update_rejects_typical_mistakes(wrong, capsys):
    assert check_ema_update(wrong) is False
    assert "❌ ema_update" in capsys.readouterr().out


def pack_reshape(x, m):
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


def pack_cat(x, m):
    return torch.stack([torch.cat(list(x[i:i + m])) for i in range(0, len(x), m)])


def pack_interleaved_coordinates(x, m):  # transposing first mixes coordinates of different samples
    return x.transpose(0, 1).reshape(len(x) // m, -1, *x.shape[2:])


def pack_strided_groups(x, m):  # groups samples i, i + N/m, ... instead of consecutive ones
    return torch.cat(list(x.reshape(m, len(x) // m, *x.shape[1:])), dim=1)


def pack_images_flattened(x, m):  # images lose their channel layout
    return x.reshape(len(x) // m, -1)


def pack_wrong_count(x, m):  # m rows instead of N / m
    return x.reshape(m, -1)


@pytest.mark.parametrize("right", [pack_reshape, pack_cat])
def test_check_pack_accepts_correct_versions(right, capsys):
    assert check_pack(right) is True


@pytest.mark.parametrize("wrong", [pack_interleaved_coordinates, pack_strided_groups, pack_images_flattened,
                                   pack_wrong_count])
def test_check_pack_rejects_typical_mistakes(wrong, capsys):
    assert check_pack(wrong) is False
    assert "❌ pack" in capsys.readouterr().out


def power_by_hand(weight, u, steps):
    u = u / u.norm()
    with torch.no_grad():
        for _ in range(steps):
            v = weight.T @ u
            v = v / v.norm()
            u = weight @ v
            u = u / u.norm()
    return (weight @ v).norm(), u  # = u . W v, since u = W v / |W v|; its gradient is u v^T with v held fixed


def power_detached_vectors(weight, u, steps):  # the iteration on weight.detach() instead of under no_grad
    w = weight.detach()
    for _ in range(steps):
        v = F.normalize(w.T @ u, dim=0)
        u = F.normalize(w @ v, dim=0)
    return u @ weight @ v, u


def power_float_noise(weight, u, steps):  # the right answer with a relative error of 1e-9: within the tolerance
    sigma, u = power_by_hand(weight, u, steps)
    return sigma * (1 + 1e-9), u


def power_sigma_off(weight, u, steps):  # sigma 1e-3 too large: just outside the tolerance (atol 1e-5, rtol 1e-4)
    sigma, u = power_by_hand(weight, u, steps)
    return sigma * (1 + 1e-3), u


def power_frobenius(weight, u, steps):
    return torch.linalg.norm(weight), u / u.norm()


def power_one_step(weight, u, steps):  # ignores `steps`
    return power_by_hand(weight, u, 1)


def power_transposes_swapped(weight, u, steps):
    u = u / u.norm()
    with torch.no_grad():
        for _ in range(steps):
            v = weight @ u
            v = v / v.norm()
            u = weight.T @ v
            u = u / u.norm()
    return u @ weight.T @ v, u


def power_unnormalized(weight, u, steps):  # u keeps growing; sigma read off the unnormalized vector
    for _ in range(steps):
        u = weight @ (weight.T @ u)
    return u.norm(), u


def power_gradient_through_the_iteration(weight, u, steps):  # no no_grad: sigma's gradient also flows through u, v
    for _ in range(steps):
        v = F.normalize(weight.T @ u, dim=0)
        u = F.normalize(weight @ v, dim=0)
    return u @ (weight @ v), u


def power_without_gradient(weight, u, steps):  # everything under no_grad: a layer could not learn through sigma
    with torch.no_grad():
        return power_gradient_through_the_iteration(weight, u, steps)


@pytest.mark.parametrize("right", [power_by_hand, power_detached_vectors, power_float_noise])
def test_check_power_iteration_accepts_correct_versions(right, capsys):
    from tutorial_lib.gan import power_iteration

    assert check_power_iteration(right) is True
    assert check_power_iteration(power_iteration) is True


@pytest.mark.parametrize("wrong, case", [
    (power_frobenius, "one step on a 3 x 7 matrix"),
    (power_one_step, "three steps on a 6 x 3 matrix"),
    (power_transposes_swapped, "one step on a 3 x 7 matrix"),
    (power_unnormalized, "one step on a 3 x 7 matrix"),
    (power_sigma_off, "one step on a 3 x 7 matrix"),
    (power_gradient_through_the_iteration, "the gradient of sigma"),
    (power_without_gradient, "the gradient of sigma"),
])
def test_check_power_iteration_rejects_typical_mistakes(wrong, case, capsys):
    assert check_power_iteration(wrong) is False
    out = capsys.readouterr().out
    assert "❌ power_iteration" in out and case in out


def test_library_power_iteration_gradient_is_u_v_transpose():
    """An independent computation: for a rank-one-dominated matrix the iteration converges at once, and the
    gradient of sigma = u.Wv with u, v fixed is the outer product u v^T (d(u.Wv)/dW_ij = u_i v_j)."""
    from tutorial_lib.gan import power_iteration

    u0, v0 = torch.tensor([0.6, 0.8], dtype=torch.float64), torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    weight = (5 * torch.outer(u0, v0) + 1e-3 * torch.tensor([[0.0, 1, 0], [0, 0, 1]], dtype=torch.float64))
    weight.requires_grad_(True)
    sigma, u = power_iteration(weight, torch.tensor([1.0, 0.0], dtype=torch.float64), 50)
    (grad,) = torch.autograd.grad(sigma, weight)
    exact = torch.linalg.svd(weight.detach())
    torch.testing.assert_close(sigma.detach(), exact.S[0])
    left, right = exact.U[:, 0] * torch.sign(exact.U[0, 0]), exact.Vh[0] * torch.sign(exact.U[0, 0])
    torch.testing.assert_close(grad, torch.outer(left, right))
    assert not u.requires_grad


def _mix(real, fake, alpha):
    return (alpha * real + (1 - alpha) * fake).requires_grad_(True)


def _per_sample(real):
    return torch.rand(len(real), *[1] * (real.dim() - 1))


def gp_right(critic, real, fake):
    x = _mix(real, fake, _per_sample(real))
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((g.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


def gp_other_convention(critic, real, fake):  # alpha on the fake side, grad_outputs, a distribution object
    alpha = torch.distributions.Uniform(0.0, 1.0).sample((len(real),) + (1,) * (real.dim() - 1))
    x = (alpha * fake + (1 - alpha) * real).requires_grad_(True)
    out = critic(x)
    (g,) = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True)
    return ((g.reshape(len(g), -1).norm(2, dim=1) - 1) ** 2).mean()


def gp_alpha_once_per_batch(critic, real, fake):
    x = _mix(real, fake, torch.rand(1))
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((g.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


def gp_squared_norm(critic, real, fake):
    x = _mix(real, fake, _per_sample(real))
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((g.flatten(start_dim=1).pow(2).sum(dim=1) - 1) ** 2).mean()


def gp_missing_create_graph(critic, real, fake):
    x = _mix(real, fake, _per_sample(real))
    (g,) = torch.autograd.grad(critic(x).sum(), x)
    return ((g.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


def gp_norm_over_wrong_dims(critic, real, fake):  # dim=1 is right for points, not for images
    x = _mix(real, fake, _per_sample(real))
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()


def gp_alpha_per_coordinate(critic, real, fake):
    x = _mix(real, fake, torch.rand_like(real))
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((g.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


def gp_alpha_outside_the_segment(critic, real, fake):
    x = _mix(real, fake, torch.randn(len(real), *[1] * (real.dim() - 1)))
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((g.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize("right", [gp_right, gp_other_convention])
def test_check_gradient_penalty_accepts_correct_versions(right, capsys):
    from tutorial_lib.gan import gradient_penalty

    assert check_gradient_penalty(right) is True
    assert check_gradient_penalty(gradient_penalty) is True
    assert "✅ gradient_penalty: correct on all 7 test cases" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, case", [
    (gp_alpha_once_per_batch, "a different alpha for each sample"),
    (gp_squared_norm, "a linear critic"),
    (gp_missing_create_graph, "gradient with respect to the critic's weights"),
    (gp_norm_over_wrong_dims, "images N x 1 x 4 x 4"),
    (gp_alpha_per_coordinate, "one alpha per sample"),
    (gp_alpha_outside_the_segment, "alpha between 0 and 1"),
])
def test_check_gradient_penalty_rejects_typical_mistakes_each_on_its_own_case(wrong, case, capsys):
    assert check_gradient_penalty(wrong) is False
    out = capsys.readouterr().out
    assert "❌ gradient_penalty" in out and case in out


@pytest.mark.parametrize("check", [check_ema_update, check_pack, check_power_iteration, check_gradient_penalty])
def test_new_checkers_report_a_missing_implementation(check, capsys):
    def stub(*args):
        raise NotImplementedError

    assert check(stub) is False
    out = capsys.readouterr().out
    assert "⏳" in out and "Hint" not in out


# ---- the WGAN-GP training loop ----

from tutorial_lib.checks import check_train_wgan_gp  # noqa: E402


def make_loop(bug=None):
    """The WGAN-GP loop of the exercise, or the same with one typical mistake (`bug`)."""
    def loop(generator, critic, data, recipe, steps, penalty, callback=None):
        lr_d = recipe.lr_g if bug == "swapped rates" else recipe.lr_d * (1 + 1e-3 if bug == "lr_d 1e-3 off" else 1)
        lr_g = recipe.lr_d if bug == "swapped rates" else recipe.lr_g
        opt_d = torch.optim.Adam(critic.parameters(), lr=lr_d, betas=recipe.betas)
        opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=recipe.betas)
        n, latent = recipe.batch_size, generator.latent_dim
        shared = data[torch.randint(len(data), (n,))] if bug == "shared real batch" else None
        d_losses, g_losses = [], []
        for k in range(1, steps + 1):
            losses = []
            for _ in range(recipe.n_critic):
                if bug == "noise first":
                    z = torch.randn(n, latent)
                    real = data[torch.randint(len(data), (n,))]
                else:
                    real = shared if shared is not None else data[torch.randint(len(data), (n,))]
                    z = torch.randn(n, latent)
                if bug == "fakes not detached":
                    fake = generator(z)
                elif bug == "detach instead of no_grad":
                    fake = generator(z).detach()
                else:
                    with torch.no_grad():
                        fake = generator(z)
                if bug == "mean of differences":  # the same loss in another order: float noise only
                    wasserstein = (critic(fake) - critic(real)).mean()
                else:
                    wasserstein = critic(fake).mean() - critic(real).mean()
                sign = -1 if bug == "critic sign" else 1
                weight = 1.0 if bug == "penalty weight 1" else recipe.gp_weight
                loss = sign * wasserstein
                if bug != "penalty never called":
                    loss = loss + weight * penalty(critic, real, fake)
                if bug != "no critic zero_grad":
                    opt_d.zero_grad()
                loss.backward()
                opt_d.step()
                losses.append(wasserstein.item())
                if bug == "generator stepped n_critic times":
                    g_loss = -critic(generator(torch.randn(n, latent))).mean()
                    opt_g.zero_grad()
                    g_loss.backward()
                    opt_g.step()
            if bug != "generator stepped n_critic times":
                fake = generator(torch.randn(n, latent))
                g_loss = critic(fake).mean() if bug == "generator sign" else -critic(fake).mean()
                if bug == "penalty on the generator step":
                    g_loss = g_loss + recipe.gp_weight * penalty(critic, real, fake)
                if bug != "no generator zero_grad":
                    opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
            d_losses.append(sum(losses) / len(losses))
            g_losses.append(g_loss.item())
            if callback is not None and bug != "no callback":
                callback(k, generator, critic)
        if bug == "returns nothing":
            return None
        if bug == "losses with the penalty":
            return [v + 1.0 for v in d_losses], g_losses
        return d_losses, g_losses
    return loop


@pytest.mark.parametrize("bug", [None, "detach instead of no_grad", "mean of differences"])
def test_check_train_wgan_gp_accepts_correct_versions(bug, capsys):
    assert check_train_wgan_gp(make_loop(bug)) is True
    assert "✅ train_wgan_gp" in capsys.readouterr().out


@pytest.mark.parametrize("bug, message", [
    ("shared real batch", "shared one real batch"),
    ("fakes not detached", "were not detached"),
    ("no critic zero_grad", "critic's gradients accumulate"),
    ("no generator zero_grad", "generator's gradients accumulate"),
    ("generator stepped n_critic times", "generator was stepped in every critic step"),
    ("penalty on the generator step", "also computed in the generator step"),
    ("penalty never called", "never called `penalty`"),
    ("critic sign", "sign of its Wasserstein loss is flipped"),
    ("generator sign", "the sign of its loss is flipped"),
    ("swapped rates", "learning rates are swapped"),
    ("penalty weight 1", "with weight 1 instead of recipe.gp_weight"),
    ("noise first", "draws the noise before the real batch"),
    ("lr_d 1e-3 off", "the weights differ from those of the library's train_gan"),
    ("no callback", "the callback was called as []"),
    ("returns nothing", "returned NoneType"),
    ("losses with the penalty", "its d_losses are"),
])
def test_check_train_wgan_gp_names_each_typical_mistake(bug, message, capsys):
    assert check_train_wgan_gp(make_loop(bug)) is False
    out = capsys.readouterr().out
    assert "❌ train_wgan_gp" in out and message in out, out


def test_check_train_wgan_gp_compares_with_the_library_run():
    """The checker's reference is train_gan itself, and its written-out loop (used to name mistakes) is the same
    algorithm: the two agree on both recipes."""
    from tutorial_lib.checks.stabilize import _wgan_gp_recipes, _wgan_gp_reference, _wgan_gp_run

    for recipe, steps, seed in _wgan_gp_recipes().values():
        library = _wgan_gp_reference(recipe, steps, seed)
        torch.testing.assert_close(library, _wgan_gp_run(make_loop(), recipe, steps, seed)["weights"],
                                   atol=1e-5, rtol=1e-4)
        assert not torch.allclose(library, _wgan_gp_reference(recipe, steps, seed, "swapped rates"), atol=1e-4)


def test_check_train_wgan_gp_reports_a_stub_and_an_error(capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError

    assert check_train_wgan_gp(stub) is False
    out = capsys.readouterr().out
    assert "⏳" in out and "Hint" not in out

    def broken(generator, critic, data, recipe, steps, penalty, callback=None):
        return critic(torch.randn(3, 5))

    assert check_train_wgan_gp(broken) is False
    assert "your code raised ValueError" in capsys.readouterr().out
