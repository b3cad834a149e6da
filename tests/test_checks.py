"""The exercise-checking framework (`tutorial_lib.checks`): Case, run_check, report, strict mode.

Each exercise's own checker is tested beside its lesson's tests and, for every exercise in the
notebooks, against the stub and the instructor's solution in tests/test_student.py."""
import inspect
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from tutorial_lib.checks import Case, CheckTimeout, _core, check_ink_fraction, report, run_check

SQUARES = [Case("small numbers", (torch.tensor([1.0, 2.0, 3.0]),), expected=torch.tensor([1.0, 4.0, 9.0])),
           Case("negatives", (torch.tensor([-2.0, 0.5]),), expected=torch.tensor([4.0, 0.25]))]
HINT = "multiply the tensor by itself"


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    """Tests run with TUTORIAL_CHECKS_STRICT unset unless they set it themselves."""
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)


def square(x):
    return x * x


def test_case_defaults():
    case = Case("about")
    assert (case.args, case.kwargs, case.expected, case.atol, case.rtol) == ((), {}, None, 1e-5, 1e-4)
    assert Case("a").kwargs is not Case("b").kwargs  # no shared mutable default


def test_correct_function_passes(capsys):
    assert run_check("square", square, SQUARES, HINT) is True
    out = capsys.readouterr().out
    assert out.startswith("✅ square") and "all 2 test cases" in out


def test_kwargs_reach_the_function(capsys):
    cases = [Case("power", (torch.tensor([2.0]),), {"p": 3}, expected=torch.tensor([8.0]))]
    assert run_check("power", lambda x, p=2: x ** p, cases, "use **") is True


def test_not_implemented_says_to_write_code(capsys):
    def stub(x):
        raise NotImplementedError("Exercise 'squares': replace this line with your code")

    assert run_check("square", stub, SQUARES, HINT) is False
    out = capsys.readouterr().out
    assert out.startswith("⏳ square: not implemented yet") and "raise NotImplementedError" in out
    assert "Hint" not in out  # hints come only after a real failure


def test_wrong_shape_names_both_shapes(capsys):
    assert run_check("square", lambda x: (x * x)[:, None], SQUARES, HINT) is False
    out = capsys.readouterr().out
    assert out.startswith("❌ square") and "'small numbers'" in out
    assert "expected shape (3,), got shape (3, 1)" in out and f"Hint: {HINT}" in out


def test_wrong_value_shows_expected_and_got(capsys):
    assert run_check("square", lambda x: 2 * x, SQUARES, HINT) is False
    out = capsys.readouterr().out
    assert "expected tensor of shape (3,) starting [1.0, 4.0, 9.0]" in out
    assert "got tensor of shape (3,) starting [2.0, 4.0, 6.0]" in out


def test_first_failing_case_is_named(capsys):
    # Right on positive numbers, wrong on negatives: the second case must be the one reported.
    assert run_check("square", lambda x: x * x.abs(), SQUARES, HINT) is False
    assert "on the case 'negatives'" in capsys.readouterr().out


def test_exception_is_reported_without_a_traceback(capsys):
    def broken(x):
        raise ValueError("shapes do not match")

    assert run_check("square", broken, SQUARES, HINT) is False
    out = capsys.readouterr().out
    assert "raised ValueError: shapes do not match" in out and "Traceback" not in out


def test_not_a_function(capsys):
    assert run_check("square", torch.tensor([1.0]), SQUARES, HINT) is False
    out = capsys.readouterr().out
    assert "pass your function itself" in out and "check_square(my_square)" in out and "Tensor" in out


def test_non_numeric_result(capsys):
    assert run_check("square", lambda x: "nine", SQUARES, HINT) is False
    assert "but got a str" in capsys.readouterr().out


def test_tolerances():
    expected = torch.tensor([1.0, 100.0])
    for got, passes in [(torch.tensor([1.0 + 5e-6, 100.0]), True),     # within atol 1e-5
                        (torch.tensor([1.0 + 1e-3, 100.0]), False),    # beyond atol + rtol * 1
                        (torch.tensor([1.0, 100.0 + 5e-3]), True),     # within rtol 1e-4 of 100
                        (torch.tensor([1.0, 100.0 + 5e-2]), False)]:
        assert run_check("t", lambda x, got=got: got, [Case("c", (0,), expected=expected)], "h") is passes
    loose = [Case("c", (0,), expected=expected, atol=0.1)]
    assert run_check("t", lambda x: torch.tensor([1.05, 100.0]), loose, "h") is True


def test_nan_never_matches(capsys):
    assert run_check("t", lambda x: torch.tensor([math.nan]), [Case("c", (0,), expected=[math.nan])], "h") is False


def test_numbers_and_tuples(capsys):
    cases = [Case("pair", (3.0,), expected=(torch.tensor(9.0), 6.0))]
    assert run_check("pair", lambda x: (torch.tensor(x * x), 2 * x), cases, "h") is True
    assert run_check("pair", lambda x: (torch.tensor(x * x),), cases, "h") is False
    assert "expected 2 values" in capsys.readouterr().out
    assert run_check("pair", lambda x: (torch.tensor(x * x), 7.0), cases, "h") is False
    out = capsys.readouterr().out
    assert "value 1: expected tensor of shape () starting [6.0], got tensor of shape () starting [7.0]" in out


def test_integer_results_compare_with_float_expectations():
    cases = [Case("count", (torch.tensor([1, 0, 1]),), expected=2.0)]
    assert run_check("count", lambda x: x.sum(), cases, "h") is True


def test_feedback_never_shows_the_source_code(capsys):
    def wrong_but_distinctive(x):
        distinctive_intermediate_name = x.clamp(min=0.0) * 3.0
        return distinctive_intermediate_name

    def raises_inside(x):
        hidden_value_for_the_test = x.sum()
        return hidden_value_for_the_test.undefined_attribute

    run_check("square", wrong_but_distinctive, SQUARES, HINT)
    run_check("square", raises_inside, SQUARES, HINT)
    out = capsys.readouterr().out
    for fn in (wrong_but_distinctive, raises_inside):
        for line in inspect.getsource(fn).splitlines()[1:]:
            assert line.strip() not in out
    assert "distinctive_intermediate_name" not in out and "hidden_value_for_the_test" not in out


def test_strict_mode_raises_on_failure_only(monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    assert run_check("square", square, SQUARES, HINT) is True
    with pytest.raises(AssertionError, match=r"check_square failed: ❌ square: on the case 'small numbers'"):
        run_check("square", lambda x: 2 * x, SQUARES, HINT)
    with pytest.raises(AssertionError, match="not implemented yet"):
        run_check("square", lambda x: (_ for _ in ()).throw(NotImplementedError), SQUARES, HINT)
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "0")
    assert run_check("square", lambda x: 2 * x, SQUARES, HINT) is False


def test_report_prints_and_returns(monkeypatch, capsys):
    assert report("custom", True, "✅ custom: fine") is True
    assert report("custom", False, "❌ custom: off by one") is False
    assert capsys.readouterr().out == "✅ custom: fine\n❌ custom: off by one\n"
    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "true")
    with pytest.raises(AssertionError, match="check_custom failed: ❌ custom: off by one"):
        report("custom", False, "❌ custom: off by one")


# ---- the setup exercise's checker (notebook 00) ----

def _ink_reference(images):
    """Independent reference: count pixels one by one."""
    return torch.tensor([sum(1 for v in image.flatten().tolist() if v > 0.5) / image.numel() for image in images])


def test_check_ink_fraction_accepts_correct_versions(capsys):
    assert check_ink_fraction(_ink_reference) is True
    assert check_ink_fraction(lambda images: (images > 0.5).float().mean(dim=(1, 2, 3))) is True


@pytest.mark.parametrize("wrong", [
    lambda images: (images >= 0.5).float().mean(dim=(1, 2, 3)),      # counts pixels equal to 0.5
    lambda images: (images > 0.5).float().mean().expand(len(images)),  # one average for the whole batch
    lambda images: (images > 0.5).float().sum(dim=(1, 2, 3)),         # a count, not a fraction
    lambda images: (images > 0.5).float().mean(dim=(2, 3)),           # keeps the channel dimension
    lambda images: images.mean(dim=(1, 2, 3)),                         # mean grey level, no threshold
])
def test_check_ink_fraction_rejects_typical_mistakes(wrong, capsys):
    assert check_ink_fraction(wrong) is False
    assert "❌ ink_fraction" in capsys.readouterr().out


# ---- the package layout, grading mode, the time limit of one case, use_yours ----

def test_every_checker_is_decorated_and_exported():
    import tutorial_lib.checks as checks

    names = [n for n in dir(checks) if n.startswith("check_")]
    assert len(names) >= 11
    undecorated = [n for n in names if not getattr(getattr(checks, n), "is_checker", False)]
    assert not undecorated, f"checkers without @checker: {undecorated}"


def test_grading_mode_refuses_the_library_function(monkeypatch, capsys):
    from tutorial_lib.checks import check_gaussian_kl
    from tutorial_lib.vae import gaussian_kl

    def mine(mu, logvar):
        return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)

    assert check_gaussian_kl(gaussian_kl) is True  # outside grading the library passes its own check
    capsys.readouterr()
    monkeypatch.setenv("TUTORIAL_GRADING", "1")
    assert check_gaussian_kl(gaussian_kl) is False
    assert "library's own" in capsys.readouterr().out
    assert check_gaussian_kl(mine) is True


def test_a_slow_function_is_stopped_with_a_clear_message(monkeypatch, capsys):
    import time

    monkeypatch.setenv("TUTORIAL_CHECK_SECONDS", "0.2")

    def slow(x):
        time.sleep(60)
        return x * x

    start = time.perf_counter()
    assert run_check("square", slow, SQUARES, HINT) is False
    assert time.perf_counter() - start < 10  # stopped long before the minute: 0.2 s, and slack for a busy machine
    out = capsys.readouterr().out
    assert "more than 0.2 s" in out and "'small numbers'" in out and f"Hint: {HINT}" in out
    assert run_check("square", square, SQUARES, HINT) is True  # the alarm was cleared


def test_a_bad_time_limit_is_named(monkeypatch):
    monkeypatch.setenv("TUTORIAL_CHECK_SECONDS", "ten")
    with pytest.raises(ValueError, match="TUTORIAL_CHECK_SECONDS"):
        run_check("square", square, SQUARES, HINT)


def test_use_yours_picks_the_passing_function_and_says_so(capsys):
    from tutorial_lib.checks import check_ink_fraction, use_yours

    def library(images):
        return (images > 0.5).float().flatten(1).mean(1)

    def wrong(images):
        return (images >= 0.5).float().flatten(1).mean(1)

    def stub(images):
        raise NotImplementedError

    assert use_yours(library, check_ink_fraction, stub, "ink fraction") is library
    assert "Using your ink fraction" in capsys.readouterr().out
    assert use_yours(wrong, check_ink_fraction, library, "ink fraction") is library
    out = capsys.readouterr().out
    assert "Using the library's ink fraction" in out and "❌" not in out  # the check ran quietly
    assert use_yours(stub, check_ink_fraction, library) is library


def test_use_yours_is_never_strict_and_reuses_a_verdict(monkeypatch, capsys, tmp_path):
    from tutorial_lib.checks import check_ink_fraction, use_yours

    calls = tmp_path / "calls"  # a file: the checks run in a child process, whose lists the test would not see

    def wrong(images):
        with open(calls, "a") as file:
            file.write("x")
        return images.flatten(1).mean(1)

    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError):
        check_ink_fraction(wrong)
    used = len(calls.read_text())
    assert used > 0
    assert use_yours(wrong, check_ink_fraction, square) is square  # no AssertionError here
    assert len(calls.read_text()) == used  # the check cell's verdict was reused, not recomputed
    import os
    assert os.environ["TUTORIAL_CHECKS_STRICT"] == "1"


# ---- the time limit cannot be defeated; each check runs in a child process (where fork is safe) ----

forking = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="checks run in-process where fork is unsafe")


# Each loops for 8 s, catching the interruption, then returns the right answer: a limit it defeats lets it pass.

def _catches_everything_with_except_exception(x):
    end = time.monotonic() + 8
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except Exception:
            pass
    return x * x


def _catches_everything_with_a_bare_except(x):
    end = time.monotonic() + 8
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except:  # noqa: E722  (the point of the test)
            pass
    return x * x


def _catches_and_returns(x):
    try:
        time.sleep(5)
    except BaseException:
        pass
    return x * x


@forking
@pytest.mark.parametrize("stubborn", [_catches_everything_with_except_exception, _catches_everything_with_a_bare_except])
def test_a_function_that_catches_the_interruption_is_still_stopped(stubborn, monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_CHECK_SECONDS", "0.3")
    start = time.perf_counter()
    assert run_check("square", stubborn, SQUARES, HINT) is False
    assert time.perf_counter() - start < 0.3 + 1.0 + 3.0  # the limit, the grace, and slack for a busy machine
    out = capsys.readouterr().out
    assert "'small numbers'" in out and "more than 0.3 s" in out and f"Hint: {HINT}" in out
    if stubborn is _catches_everything_with_a_bare_except:  # the child caught the timer, the parent killed it
        assert "did not stop when interrupted" in out
    assert run_check("square", square, SQUARES, HINT) is True  # this process (the kernel) lives on


@forking
def test_a_stubborn_gan_step_is_stopped_too(monkeypatch, capsys):
    from tutorial_lib.checks import check_gan_step

    def step(generator, discriminator, opt_g, opt_d, real):
        end = time.monotonic() + 8
        while time.monotonic() < end:
            try:
                time.sleep(0.05)
            except:  # noqa: E722
                pass

    monkeypatch.setenv("TUTORIAL_CHECK_SECONDS", "0.3")
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # torch's first optimizer imports for seconds
    start = time.perf_counter()
    assert check_gan_step(step) is False
    assert time.perf_counter() - start < 0.3 + 1.0 + 5.0  # the limit, the grace, slack for the set-up and a busy machine
    assert "did not stop" in capsys.readouterr().out


def test_catching_the_interruption_and_returning_still_fails(monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_CHECK_SECONDS", "0.2")
    assert run_check("square", _catches_and_returns, SQUARES, HINT) is False
    assert "more than 0.2 s" in capsys.readouterr().out


def test_in_process_the_timeout_is_not_an_exception_a_learner_catches(monkeypatch, capsys):
    monkeypatch.setattr(_core, "_can_fork", lambda: False, raising=False)
    monkeypatch.setenv("TUTORIAL_CHECK_SECONDS", "0.2")
    assert issubclass(CheckTimeout, BaseException) and not issubclass(CheckTimeout, Exception)
    start = time.perf_counter()
    assert run_check("square", _catches_everything_with_except_exception, SQUARES, HINT) is False
    assert time.perf_counter() - start < 3
    assert "more than 0.2 s" in capsys.readouterr().out


THREADS_AFTER_FORK = textwrap.dedent("""
    import torch
    from torch import nn
    from tutorial_lib.checks import Case, run_check

    torch.set_num_threads(4)
    a = torch.randn(600, 600)
    for _ in range(5):  # the parent's thread pool is busy before the fork
        a = torch.tanh(a @ a)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 1))
    net(torch.rand(8, 1, 28, 28)).sum().backward()

    def heavy(x):
        b = torch.randn(600, 600) @ torch.randn(600, 600)  # large enough to be split over threads
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 1))
        model(torch.rand(8, 1, 28, 28)).sum().backward()
        return x * x + 0 * b.sum()

    ok = run_check("square", heavy, [Case("a", (torch.tensor([2.0]),), expected=torch.tensor([4.0]))], "h")
    print("threads after", torch.get_num_threads(), "passed", ok)
""")


def test_a_check_after_multithreaded_torch_work_does_not_deadlock(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "4", "TUTORIAL_CHECK_SECONDS": "60"}
    env.pop("TUTORIAL_CHECKS_STRICT", None)
    result = subprocess.run([sys.executable, "-c", THREADS_AFTER_FORK], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert "threads after 4 passed True" in result.stdout  # the parent keeps its threads


@forking
def test_the_check_changes_nothing_in_the_learners_session(capsys):
    seen = []
    state = torch.random.get_rng_state()

    def noisy(x):
        seen.append(x)
        torch.rand(1000)
        print("debugging output of the learner")
        return x * x

    assert run_check("square", noisy, SQUARES, HINT) is True
    assert seen == [] and torch.equal(torch.random.get_rng_state(), state)
    out = capsys.readouterr().out
    assert "debugging output of the learner" in out and out.rstrip().endswith("Well done!")


@forking
def test_a_crash_or_an_exit_in_the_learners_code_leaves_the_kernel_alive(capsys):
    assert run_check("square", lambda x: os._exit(3), SQUARES, HINT) is False
    assert "ended abruptly" in capsys.readouterr().out
    assert run_check("square", lambda x: os.kill(os.getpid(), signal.SIGKILL), SQUARES, HINT) is False
    assert "SIGKILL" in capsys.readouterr().out
    assert run_check("square", lambda x: sys.exit(1), SQUARES, HINT) is False
    assert "raised SystemExit" in capsys.readouterr().out


def test_an_error_in_a_checker_itself_reaches_the_caller_with_its_type():
    from tutorial_lib.checks import checker

    @checker
    def check_broken(fn):
        raise LookupError("a bug in the checker")

    with pytest.raises(LookupError, match="a bug in the checker"):
        check_broken(square)


@forking
def test_code_that_cannot_run_in_a_forked_child_runs_in_process(monkeypatch, capsys):
    parent = os.getpid()

    def needs_the_parent(x):
        if os.getpid() != parent:
            raise RuntimeError("Cannot re-initialize CUDA in forked subprocess. To use CUDA with multiprocessing...")
        return x * x

    monkeypatch.setattr(_core, "_IN_PROCESS", set(), raising=False)
    assert run_check("square", needs_the_parent, SQUARES, HINT) is True
    assert capsys.readouterr().out.startswith("✅") and "square" in _core._IN_PROCESS


@forking
def test_an_interrupted_check_kills_its_child(tmp_path, capsys):
    pid_file = tmp_path / "pid"

    def sleeper(x):
        pid_file.write_text(str(os.getpid()))
        time.sleep(60)

    def interrupt(signum, frame):
        if not pid_file.exists():  # the child has not reached the learner's code yet: wait for it
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_check("square", sleeper, SQUARES, HINT)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(child, 0)


# ---- inputs changed in place ----

def _kl(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)


def test_a_function_that_overwrites_its_input_fails_and_names_it(capsys):
    from tutorial_lib.checks import check_gaussian_kl

    def overwrites(mu, logvar):
        result = _kl(mu, logvar)
        logvar.exp_()  # right result, but the caller's logvar is gone
        return result

    assert check_gaussian_kl(overwrites) is False
    out = capsys.readouterr().out
    assert "changed its input `logvar` in place" in out and "Hint:" in out


def test_the_case_that_mutates_is_the_one_blamed(capsys):
    """The 5th case's mu is shared (as a view) by the 6th: mutating it used to fail the 6th case instead."""
    from tutorial_lib.checks import check_gaussian_kl

    def mutates_a_batch_of_five(mu, logvar):
        result = _kl(mu, logvar)
        if len(mu) == 5 and mu.shape[1] == 3:
            mu.mul_(2.0)
        return result

    assert check_gaussian_kl(mutates_a_batch_of_five) is False
    out = capsys.readouterr().out
    assert "on the case 'a random batch of 5 rows'" in out and "`mu`" in out


def test_an_in_place_change_names_keyword_and_nested_arguments(capsys):
    cases = [Case("pairs", ((torch.ones(2), torch.ones(2)),), {"scale": torch.ones(1)}, expected=torch.ones(2))]
    assert run_check("first", lambda pair, scale: pair[0].clone().add_(1).sub_(1), cases, "h") is True
    assert run_check("first", lambda pair, scale: pair[1].add_(1) - 1, cases, "h") is False
    assert "`pair[1]`" in capsys.readouterr().out
    assert run_check("first", lambda pair, scale: pair[0] * scale.mul_(1.5) / 1.5, cases, "h") is False
    assert "`scale`" in capsys.readouterr().out


def test_nan_inputs_left_alone_are_not_called_changed(capsys):
    cases = [Case("nan", (torch.tensor([float("nan"), 1.0]),), expected=torch.tensor([0.0, 1.0]))]
    assert run_check("t", lambda x: torch.nan_to_num(x), cases, "h") is True


# ---- grading: the library's solution, disguised ----

def _grading(monkeypatch):
    monkeypatch.setenv("TUTORIAL_GRADING", "1")


class _CallsTheLibrary:
    def __call__(self, mu, logvar):
        from tutorial_lib import vae

        return vae.gaussian_kl(mu, logvar)


def _disguises():
    import functools
    import importlib
    import types

    from tutorial_lib import vae
    from tutorial_lib.vae import gaussian_kl as helper

    def alias(mu, logvar):
        return helper(mu, logvar) * 1.0

    def by_name(mu, logvar):
        return getattr(importlib.import_module("tutorial_lib.vae"), "gaussian" + "_kl")(mu, logvar)

    def swallowing(mu, logvar):
        try:
            return vae.gaussian_kl(mu, logvar)
        except BaseException:
            return _kl(mu, logvar)

    copy = types.FunctionType(vae.gaussian_kl.__code__, vae.gaussian_kl.__globals__, "mine")
    return {"lambda": lambda mu, lv: vae.gaussian_kl(mu, lv), "partial": functools.partial(vae.gaussian_kl),
            "alias": alias, "by name": by_name, "swallowing the tripwire": swallowing, "a copy of its code": copy,
            "a callable object": _CallsTheLibrary()}


@pytest.mark.parametrize("disguise", list(_disguises()))
def test_grading_refuses_the_library_solution_in_disguise(disguise, monkeypatch, capsys):
    from tutorial_lib.checks import check_gaussian_kl

    fn = _disguises()[disguise]
    assert check_gaussian_kl(fn) is True  # not grading: any correct function passes
    capsys.readouterr()
    _grading(monkeypatch)
    assert check_gaussian_kl(fn) is False
    out = capsys.readouterr().out
    assert "library's own" in out and "gaussian_kl" in out and "✅" not in out


def test_grading_accepts_own_work_that_uses_other_library_functions(monkeypatch, capsys):
    from tutorial_lib import vae
    from tutorial_lib.checks import check_gaussian_kl, check_vae_train_step

    def train_step(model, optimizer, x, beta, elbo_fn=vae.elbo):  # elbo is the library's, the step the learner's
        optimizer.zero_grad()
        loss = -elbo_fn(model, x, beta).mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    _grading(monkeypatch)
    assert check_gaussian_kl(_kl) is True
    assert check_vae_train_step(train_step) is True
    assert check_vae_train_step(lambda m, o, x, b, elbo_fn=None: vae.vae_train_step(m, o, x, b, elbo_fn=elbo_fn)) is False
    assert "vae_train_step" in capsys.readouterr().out.splitlines()[-1]


def test_grading_refuses_a_subclass_or_a_wrapper_of_the_library_class(monkeypatch, capsys):
    from torch import nn

    from tutorial_lib import vae
    from tutorial_lib.checks import check_vae_model

    class Subclass(vae.VAE):
        pass

    class Wrapper(nn.Module):
        def __init__(self, latent_dim, hidden):
            super().__init__()
            self.inner = vae.VAE(latent_dim=latent_dim, hidden=hidden)
            self.latent_dim = latent_dim
            self.encoder, self.to_mu = self.inner.encoder, self.inner.to_mu
            self.to_logvar, self.decoder = self.inner.to_logvar, self.inner.decoder

        def encode(self, x):
            return self.inner.encode(x)

        def decode(self, z):
            return self.inner.decode(z)

        def forward(self, x):
            return self.inner(x)

    assert check_vae_model(Wrapper) is True
    capsys.readouterr()
    _grading(monkeypatch)
    for cls in (Subclass, Wrapper, vae.VAE):
        assert check_vae_model(cls) is False
        assert "library's own" in capsys.readouterr().out


def test_grading_leaves_the_library_intact(monkeypatch, capsys):
    from tutorial_lib import vae
    from tutorial_lib.checks import check_gaussian_kl

    code = vae.gaussian_kl.__code__
    _grading(monkeypatch)
    monkeypatch.setattr(_core, "_can_fork", lambda: False, raising=False)  # in-process: the tripwires are put back afterwards
    assert check_gaussian_kl(lambda mu, lv: vae.gaussian_kl(mu, lv)) is False
    assert vae.gaussian_kl.__code__ is code and vae.gaussian_kl.__kwdefaults__ is None
    assert torch.equal(vae.gaussian_kl(torch.zeros(1, 2), torch.zeros(1, 2)), torch.zeros(1))
