"""Friendly feedback on the exercises: ``check_<exercise>(fn)`` prints pass/fail and returns True/False.

A checker runs the learner's function on a few cases and compares with the expected values. On a
failure it says what was expected, what came back and gives a hint; it never shows solution code.
With ``TUTORIAL_CHECKS_STRICT=1`` (set by ``make test``) a failure raises AssertionError instead, so
CI notices a broken solution in the instructor notebooks.
"""
from dataclasses import dataclass, field

import torch

from .runtime import env_flag


@dataclass
class Case:
    """One test case: call ``fn(*args, **kwargs)`` and compare with `expected` (a tensor, a number or a
    tuple of them) to within `atol`/`rtol`. `about` says in words what the case is."""

    about: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: object = None
    atol: float = 1e-5
    rtol: float = 1e-4


def _describe(value):
    if isinstance(value, torch.Tensor):
        shown = value.detach().flatten()[:6].tolist()
        shown = [round(v, 4) if isinstance(v, float) else v for v in shown]
        more = ", ..." if value.numel() > 6 else ""
        return f"tensor of shape {tuple(value.shape)} starting {shown}{more}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return repr(value)


def _mismatch(got, expected, atol, rtol):
    """None when `got` matches `expected`, else a sentence saying how it differs."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} values, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _mismatch(g, e, atol, rtol)
            if problem:
                return f"value {i}: {problem}"
        return None
    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    try:
        got_t = torch.as_tensor(got.detach() if isinstance(got, torch.Tensor) else got).to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return f"expected {_describe(expected)}, but got a {type(got).__name__}"
    if got_t.shape != expected_t.shape:
        return f"expected shape {tuple(expected_t.shape)}, got shape {tuple(got_t.shape)}"
    if not torch.allclose(got_t, expected_t, atol=atol, rtol=rtol, equal_nan=False):
        return f"expected {_describe(expected_t)}, got {_describe(got_t)}"
    return None


def report(name, passed, message):
    """Print the verdict (and raise in strict mode when it failed); return `passed`."""
    print(message)
    if not passed and env_flag("TUTORIAL_CHECKS_STRICT"):
        raise AssertionError(f"check_{name} failed: {message}")
    return passed


def run_check(name, fn, cases, hint):
    """Run `fn` on each `Case`; print friendly feedback; return True when every case matches."""
    if not callable(fn):
        return report(name, False, f"❌ {name}: pass your function itself, e.g. check_{name}(my_{name}), "
                                   f"not {type(fn).__name__}.")
    for case in cases:
        try:
            got = fn(*case.args, **case.kwargs)
        except NotImplementedError:
            return report(name, False, f"⏳ {name}: not implemented yet. Replace `raise NotImplementedError` "
                                       f"with your code, then run this cell again.\n   Hint: {hint}")
        except Exception as error:  # show the learner's error without a traceback wall
            return report(name, False, f"❌ {name}: on the case '{case.about}' your function raised "
                                       f"{type(error).__name__}: {error}\n   Hint: {hint}")
        problem = _mismatch(got, case.expected, case.atol, case.rtol)
        if problem:
            return report(name, False, f"❌ {name}: on the case '{case.about}', {problem}.\n   Hint: {hint}")
    return report(name, True, f"✅ {name}: correct on all {len(cases)} test cases. Well done!")


# ---- Setup exercises (notebook 00) ----

def check_ink_fraction(fn):
    """Check ``fn(images N x 1 x 28 x 28) -> (N,)``: the fraction of pixels brighter than 0.5 per image."""
    generator = torch.Generator().manual_seed(0)
    random = torch.rand(5, 1, 28, 28, generator=generator)
    blank, full = torch.zeros(2, 1, 28, 28), torch.ones(1, 1, 28, 28)
    edge = torch.full((1, 1, 28, 28), 0.5)  # exactly 0.5 is not brighter than 0.5
    half = torch.cat([torch.zeros(1, 1, 14, 28), torch.ones(1, 1, 14, 28)], dim=2)

    def expected(images):
        return torch.tensor([sum(v > 0.5 for v in image.flatten().tolist()) / 784 for image in images])

    cases = [Case("random images", (random,), expected=expected(random)),
             Case("blank images", (blank,), expected=torch.zeros(2)),
             Case("an all-white image", (full,), expected=torch.ones(1)),
             Case("pixels exactly 0.5", (edge,), expected=torch.zeros(1)),
             Case("top half black, bottom half white", (half,), expected=torch.full((1,), 0.5))]
    return run_check("ink_fraction", fn, cases,
                     hint="compare with 0.5 to get booleans, turn them into floats, and average over all "
                          "pixels of each image (flatten everything but the batch dimension).")


# ---- VAE exercises (notebooks 01 and 02) ----


# ---- GAN exercises (notebooks 03 and 04) ----
