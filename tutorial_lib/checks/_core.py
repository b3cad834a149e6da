"""The checking machinery shared by every lesson's checkers: `Case`, `run_check`, `report`, `checker`,
`use_yours`.

A checker runs the learner's function on a few cases and compares with the expected values. On a
failure it says what was expected, what came back and gives a hint; it never shows solution code, and
a hint appears only after a real failure (not while the exercise is still `raise NotImplementedError`).
Environment variables:
- ``TUTORIAL_CHECKS_STRICT=1`` (set by ``make test``): a failure raises AssertionError, so CI notices
  a broken solution in the instructor notebooks.
- ``TUTORIAL_GRADING=1`` (autograding): the library's own functions are refused as the learner's answer.
- ``TUTORIAL_CHECK_SECONDS``: the time limit of one case (default 10 s; POSIX, main thread only).
"""
import contextlib
import functools
import io
import os
import signal
import threading
from dataclasses import dataclass, field

import torch

from ..runtime import env_flag

DEFAULT_SECONDS = 10.0

#: check name -> (the function last checked, whether it passed); `use_yours` reads it.
_LAST = {}


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


class CheckTimeout(Exception):
    """A learner's function ran past the time limit of one case."""


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


def case_seconds():
    """The time limit of one case in seconds (``TUTORIAL_CHECK_SECONDS``, default 10; 0 = none)."""
    value = os.environ.get("TUTORIAL_CHECK_SECONDS", "")
    try:
        return float(value) if value.strip() else DEFAULT_SECONDS
    except ValueError:
        raise ValueError(f"TUTORIAL_CHECK_SECONDS={value!r} is not a number of seconds; unset it or write e.g. 30")


@contextlib.contextmanager
def time_limit(seconds):
    """Raise `CheckTimeout` inside the block after `seconds` (a no-op off POSIX, off the main thread, or
    for seconds <= 0)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CheckTimeout(f"it ran for more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_check(name, fn, cases, hint):
    """Run `fn` on each `Case` (each within the time limit); print friendly feedback; return True when every
    case matches. The hint is shown only after a real failure."""
    if not callable(fn):
        return report(name, False, f"❌ {name}: pass your function itself, e.g. check_{name}(my_{name}), "
                                   f"not {type(fn).__name__}.")
    seconds = case_seconds()
    for case in cases:
        try:
            with time_limit(seconds):
                got = fn(*case.args, **case.kwargs)
        except NotImplementedError:
            return report(name, False, f"⏳ {name}: not implemented yet. Replace `raise NotImplementedError` "
                                       f"with your code, then run this cell again.")
        except CheckTimeout as error:
            return report(name, False, f"❌ {name}: on the case '{case.about}' {error} (the limit of one case; "
                                       f"a loop over every element, or a very large tensor, is usually the cause)."
                                       f"\n   Hint: {hint}")
        except Exception as error:  # show the learner's error without a traceback wall
            return report(name, False, f"❌ {name}: on the case '{case.about}' your function raised "
                                       f"{type(error).__name__}: {error}\n   Hint: {hint}")
        problem = _mismatch(got, case.expected, case.atol, case.rtol)
        if problem:
            return report(name, False, f"❌ {name}: on the case '{case.about}', {problem}.\n   Hint: {hint}")
    return report(name, True, f"✅ {name}: correct on all {len(cases)} test cases. Well done!")


def _from_the_library(fn):
    """True when `fn` (a function, a class or a bound method) is defined in tutorial_lib itself."""
    target = getattr(fn, "__func__", fn)
    return (getattr(target, "__module__", "") or "").split(".")[0] == "tutorial_lib"


def checker(check):
    """Decorator of every ``check_<name>(fn)``: refuses the library's own code when grading
    (``TUTORIAL_GRADING=1``) and remembers the verdict for `use_yours`."""
    name = check.__name__.removeprefix("check_")

    @functools.wraps(check)
    def wrapped(fn, *args, **kwargs):
        passed = False  # also what is remembered when strict mode raises
        try:
            if env_flag("TUTORIAL_GRADING") and _from_the_library(fn):
                return report(name, False, f"❌ {name}: this is the course library's own "
                                           f"{getattr(fn, '__name__', 'code')}, not yours; pass the function or "
                                           f"class you wrote.")
            passed = check(fn, *args, **kwargs)
            return passed
        finally:
            _LAST[name] = (fn, passed)

    wrapped.is_checker = True
    return wrapped


@contextlib.contextmanager
def _quiet_and_lenient():
    """Swallow the checker's printout and switch strict mode off inside the block."""
    saved = os.environ.pop("TUTORIAL_CHECKS_STRICT", None)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if saved is not None:
            os.environ["TUTORIAL_CHECKS_STRICT"] = saved


def use_yours(yours, check, fallback, what=None):
    """Return `yours` when ``check(yours)`` passes, else `fallback` (the library's version); print one line
    saying which one the next cells use. A verdict the check cell already gave for this very object is
    reused; otherwise the check runs again, quietly and never strict (a failure here only means fallback)."""
    what = what or getattr(fallback, "__name__", "code")
    name = check.__name__.removeprefix("check_")
    last = _LAST.get(name)
    if last is not None and last[0] is yours:
        passed = last[1]
    else:
        with _quiet_and_lenient():
            try:
                passed = bool(check(yours))
            except Exception:
                passed = False
    if passed:
        print(f"▶ Using your {what}: its check passed.")
        return yours
    print(f"▶ Using the library's {what}: yours has not passed check_{name} yet (run its check cell to see why).")
    return fallback
def _seeded(fn, seed=0):
    """`fn` run with the global random generator seeded (and restored afterwards): a learner's sampling code
    gives the same numbers on every run, so a correct solution passes deterministically."""
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn(*args, **kwargs)
    return run




@functools.cache
def warm_up_optimizers():
    """Take one Adam step on a dummy weight: the first optimizer step of a process imports modules lazily, which
    is slow on a busy machine, and an import that the time limit interrupts would leave a half-initialized module
    behind for the rest of the session. Checkers call this before timing the learner's code."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weight])
    weight.sum().backward()
    optimizer.step()


def report_problem(name, fn, find_problem, *, slow, raised_hint, passed):
    """A checker that looks for the learner's first typical mistake: ``find_problem(fn)`` returns None or
    (message, hint). Reports a stub (⏳), a time-out (`slow`: a hint), the learner's error (`raised_hint`), the
    mistake, or `passed` (the success message, without the leading ✅)."""
    if not callable(fn):
        return run_check(name, fn, [], hint="")
    warm_up_optimizers()
    try:
        problem = find_problem(fn)
    except NotImplementedError:
        return report(name, False, f"⏳ {name}: not implemented yet. Replace `raise NotImplementedError` with your "
                                   f"code, then run this cell again.")
    except CheckTimeout as error:
        return report(name, False, f"❌ {name}: a short run {error}.\n   Hint: {slow}")
    except Exception as error:  # the learner's error, without a traceback wall
        return report(name, False, f"❌ {name}: your code raised {type(error).__name__}: {error}\n"
                                   f"   Hint: {raised_hint}")
    if problem:
        message, hint = problem
        return report(name, False, f"❌ {name}: {message}\n   Hint: {hint}")
    return report(name, True, f"✅ {name}: {passed}")
