"""The exercise-checking framework (`tutorial_lib.checks`): Case, run_check, report, strict mode.

Each exercise's own checker is tested beside its lesson's tests and, for every exercise in the
notebooks, against the stub and the instructor's solution in tests/test_student.py."""
import inspect
import math

import pytest
import torch

from tutorial_lib.checks import Case, check_ink_fraction, report, run_check

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
        time.sleep(5)
        return x * x

    start = time.perf_counter()
    assert run_check("square", slow, SQUARES, HINT) is False
    assert time.perf_counter() - start < 2
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


def test_use_yours_is_never_strict_and_reuses_a_verdict(monkeypatch, capsys):
    from tutorial_lib.checks import check_ink_fraction, use_yours

    calls = []

    def wrong(images):
        calls.append(1)
        return images.flatten(1).mean(1)

    monkeypatch.setenv("TUTORIAL_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError):
        check_ink_fraction(wrong)
    used = len(calls)
    assert use_yours(wrong, check_ink_fraction, square) is square  # no AssertionError here
    assert len(calls) == used  # the check cell's verdict was reused, not recomputed
    import os
    assert os.environ["TUTORIAL_CHECKS_STRICT"] == "1"
