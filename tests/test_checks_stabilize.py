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
    for _ in range(steps):
        v = weight.T @ u
        v = v / v.norm()
        u = weight @ v
        u = u / u.norm()
    return (weight @ v).norm(), u  # = u . W v, since u = W v / |W v|


def power_frobenius(weight, u, steps):
    return torch.linalg.norm(weight), u / u.norm()


def power_one_step(weight, u, steps):  # ignores `steps`
    return power_by_hand(weight, u, 1)


def power_transposes_swapped(weight, u, steps):
    u = u / u.norm()
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


@pytest.mark.parametrize("right", [power_by_hand])
def test_check_power_iteration_accepts_correct_versions(right, capsys):
    from tutorial_lib.gan import power_iteration

    assert check_power_iteration(right) is True
    assert check_power_iteration(power_iteration) is True


@pytest.mark.parametrize("wrong", [power_frobenius, power_one_step, power_transposes_swapped, power_unnormalized])
def test_check_power_iteration_rejects_typical_mistakes(wrong, capsys):
    assert check_power_iteration(wrong) is False
    assert "❌ power_iteration" in capsys.readouterr().out


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
