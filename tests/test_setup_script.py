"""scripts/course.py, the one implementation of `make lab`, `make test` and `make book` (Windows runs it with
`py -3.11 scripts\\course.py lab`): the Makefile only calls it, its set-up installs exactly
requirements.txt + constraints.txt and then `-e .`, and it reinstalls only when an install input changed.

The set-up is run for real in a scratch copy of the repository whose .venv interpreter is a stand-in that
records its arguments (no package is installed, no network)."""
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "course.py"
INSTALL_REQUIREMENTS = [".venv/bin/python", "-m", "pip", "install", "--quiet", "--upgrade-strategy", "only-if-needed",
                        "-r", "requirements.txt", "-c", "constraints.txt"]
INSTALL_TUTORIAL_LIB = [".venv/bin/python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "-e", "."]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
posix_only = pytest.mark.skipif(os.name == "nt", reason="the stand-in interpreter is a shell script")


def _dry_run(root, *args, workers="1"):
    """The commands `course.py --dry-run args` prints, with TUTORIAL_TEST_WORKERS=workers (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "TUTORIAL_TEST_WORKERS"}
    if workers is not None:
        env["TUTORIAL_TEST_WORKERS"] = workers
    result = subprocess.run([sys.executable, str(root / "scripts" / "course.py"), "--dry-run", *args], cwd=root,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return [line[2:].split() for line in result.stdout.splitlines() if line.startswith("+ ")]


def _make_dry_run(*targets, **variables):
    result = subprocess.run(["make", "-n", "--no-print-directory", *targets, "PYTHON=python3",
                             *[f"{k}={v}" for k, v in variables.items()]],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def scratch_repo(tmp_path):
    """The script and the three install inputs in a fresh folder (a fresh clone as far as the set-up is concerned)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "course.py")
    for name in ("requirements.txt", "constraints.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _fake_venv(root):
    """A .venv whose interpreter appends its arguments to calls.log (and succeeds)."""
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$@" >> "{root / "calls.log"}"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return python


def _calls(root):
    log = root / "calls.log"
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


@needs_make
def test_makefile_targets_only_call_the_script():
    assert _make_dry_run("lab") == [["python3", "scripts/course.py", "lab", "--port", "8888"]]
    assert _make_dry_run("lab", LAB_PORT="9999") == [["python3", "scripts/course.py", "lab", "--port", "9999"]]
    assert _make_dry_run("test") == [["python3", "scripts/course.py", "test", "tests", "notebooks"]]
    assert _make_dry_run("test", TESTS="tests/test_data.py") == [["python3", "scripts/course.py", "test",
                                                                  "tests/test_data.py"]]
    assert _make_dry_run("book") == [["python3", "scripts/course.py", "book"]]
    assert _make_dry_run("setup") == [["python3", "scripts/course.py", "setup"]]


@needs_make
def test_makefile_stamp_rule_is_the_script_setup():
    """The other targets (student, benchmarks) depend on .venv/.installed, whose rule runs the script's set-up,
    and on the same three inputs the script checks."""
    makefile = (ROOT / "Makefile").read_text()
    assert "$(STAMP): requirements.txt constraints.txt pyproject.toml\n\t$(COURSE) setup\n" in makefile
    assert "pip install" not in makefile, "the Makefile must not install anything itself: scripts/course.py does"
    result = subprocess.run(["make", "-n", "--no-print-directory", "-W", "requirements.txt", "student",
                             "PYTHON=python3"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["python3", "scripts/course.py", "setup"]


def test_fresh_clone_setup_plan(scratch_repo):
    steps = _dry_run(scratch_repo, "setup")
    assert steps == [[sys.executable, "-m", "venv", ".venv"], INSTALL_REQUIREMENTS, INSTALL_TUTORIAL_LIB,
                     ["touch", ".venv/.installed"]]


def test_commands_run_after_the_setup(scratch_repo):
    setup = [[sys.executable, "-m", "venv", ".venv"], INSTALL_REQUIREMENTS, INSTALL_TUTORIAL_LIB,
             ["touch", ".venv/.installed"]]
    assert _dry_run(scratch_repo, "lab", "--port", "9000")[:4] == setup
    lab = _dry_run(scratch_repo, "lab", "--port", "9000")[4]
    assert lab[:5] == [".venv/bin/python", "-m", "jupyterlab", "--notebook-dir=notebooks", "--port=9000"]
    assert _dry_run(scratch_repo, "test")[4] == [
        "TUTORIAL_FAST=1", "TUTORIAL_OFFLINE=1", "TUTORIAL_CHECKS_STRICT=1", "MPLBACKEND=agg",
        ".venv/bin/python", "-m", "pytest", "tests", "notebooks",
        "--nbval-lax", "--nbval-current-env", "--durations=10", "-p", "no:cacheprovider"]
    assert _dry_run(scratch_repo, "test", "tests/test_data.py")[4][4:8] == [".venv/bin/python", "-m", "pytest",
                                                                           "tests/test_data.py"]
    assert _dry_run(scratch_repo, "book")[4] == [".venv/bin/python", "scripts/book.py"]


def test_tests_run_on_two_workers_when_there_are_two_cores(scratch_repo):
    serial = _dry_run(scratch_repo, "test", "tests/test_data.py")[4]
    assert "-n" not in serial and "--dist" not in serial
    assert _dry_run(scratch_repo, "test", "tests/test_data.py", workers="2")[4] == serial + [
        "-n", "2", "--dist", "loadgroup"]  # loadgroup: conftest.py keeps a notebook's cells in one worker
    default = _dry_run(scratch_repo, "test", workers=None)[4]
    two_cores = (os.cpu_count() or 1) >= 2
    assert default[-4:] == ["-n", "2", "--dist", "loadgroup"] if two_cores else "-n" not in default


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "²"])
def test_a_bad_worker_count_is_refused_with_what_to_give(scratch_repo, value):
    result = subprocess.run([sys.executable, str(scratch_repo / "scripts" / "course.py"), "--dry-run", "test"],
                            cwd=scratch_repo, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TUTORIAL_TEST_WORKERS": value})
    assert result.returncode != 0 and "TUTORIAL_TEST_WORKERS" in result.stderr and "at least 1" in result.stderr


def test_worker_count_follows_the_cores():
    course = _course_module()
    assert course.test_workers(environ={}, cpus=1) == 1
    assert course.test_workers(environ={}, cpus=2) == 2
    assert course.test_workers(environ={}, cpus=64) == 2
    assert course.test_workers(environ={}, cpus=None) in (1, 2)
    assert course.test_workers(environ={"TUTORIAL_TEST_WORKERS": " 3 "}, cpus=1) == 3


def test_more_test_workers_than_cores_get_a_note(capsys):
    course = _course_module()
    assert course.test_workers(environ={"TUTORIAL_TEST_WORKERS": "2"}, cpus=2) == 2
    assert capsys.readouterr().out == ""
    assert course.test_workers(environ={"TUTORIAL_TEST_WORKERS": "99999999999999999999"}, cpus=2) == 10**20 - 1
    assert "more test processes than this machine's 2 cores" in capsys.readouterr().out


def _course_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_current_env_skips_the_setup(scratch_repo):
    assert _dry_run(scratch_repo, "--current-env", "book") == [[sys.executable, "scripts/book.py"]]
    assert _dry_run(scratch_repo, "--current-env", "test", "tests")[0][4:] == [
        sys.executable, "-m", "pytest", "tests", "--nbval-lax", "--nbval-current-env", "--durations=10", "-p",
        "no:cacheprovider"]


@posix_only
def test_setup_installs_once_and_again_only_when_an_input_changes(scratch_repo):
    _fake_venv(scratch_repo)  # .venv exists: no `python -m venv`
    course = [sys.executable, str(scratch_repo / "scripts" / "course.py")]

    def setup():
        subprocess.run(course + ["setup"], cwd=scratch_repo, check=True, capture_output=True, timeout=60)

    inputs = ("requirements.txt", "constraints.txt", "pyproject.toml")
    past = time.time() - 1000
    for name in inputs:  # a clone made a while ago
        os.utime(scratch_repo / name, (past, past))
    setup()
    assert _calls(scratch_repo) == [INSTALL_REQUIREMENTS[1:], INSTALL_TUTORIAL_LIB[1:]]
    stamp = scratch_repo / ".venv" / ".installed"
    assert stamp.exists() and stamp.stat().st_mtime > past
    setup()  # nothing changed: nothing installed
    assert len(_calls(scratch_repo)) == 2
    for index, name in enumerate(inputs):
        installed = past + 100 * (index + 1)  # last install, then an edit a second later (both before now)
        os.utime(stamp, (installed, installed))
        edited = installed + 1
        os.utime(scratch_repo / name, (edited, edited))
        setup()
        assert len(_calls(scratch_repo)) == 2 + 2 * (index + 1), f"changing {name} must reinstall"
        assert _calls(scratch_repo)[-2:] == [INSTALL_REQUIREMENTS[1:], INSTALL_TUTORIAL_LIB[1:]]
        setup()  # and once only
        assert len(_calls(scratch_repo)) == 2 + 2 * (index + 1), f"{name}: installed twice"
    (scratch_repo / "README.md").write_text("changed")  # not an install input
    setup()
    assert len(_calls(scratch_repo)) == 8


@posix_only
def test_a_failed_install_leaves_no_stamp(scratch_repo):
    python = _fake_venv(scratch_repo)
    python.write_text("#!/bin/sh\nexit 3\n")
    result = subprocess.run([sys.executable, str(scratch_repo / "scripts" / "course.py"), "setup"],
                            cwd=scratch_repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert not (scratch_repo / ".venv" / ".installed").exists(), "a failed install must be retried next time"


@posix_only
def test_test_command_reaches_pytest_with_the_test_environment(scratch_repo):
    python = _fake_venv(scratch_repo)
    python.write_text(f'#!/bin/sh\necho "$TUTORIAL_FAST $TUTORIAL_OFFLINE $TUTORIAL_CHECKS_STRICT $MPLBACKEND $@" '
                      f'>> "{scratch_repo / "calls.log"}"\n')
    (scratch_repo / ".venv" / ".installed").touch()
    later = time.time() + 10
    os.utime(scratch_repo / ".venv" / ".installed", (later, later))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TUTORIAL_") and k != "MPLBACKEND"}
    subprocess.run([sys.executable, str(scratch_repo / "scripts" / "course.py"), "test", "tests/test_data.py"],
                   cwd=scratch_repo, check=True, capture_output=True, timeout=60,
                   env={**clean, "TUTORIAL_TEST_WORKERS": "1"})
    pytest_call = ["1", "1", "1", "agg", "-m", "pytest", "tests/test_data.py", "--nbval-lax", "--nbval-current-env",
                   "--durations=10", "-p", "no:cacheprovider"]
    assert _calls(scratch_repo) == [pytest_call]
    # Two workers: first a look whether .venv has pytest-xdist (the stand-in says yes), then pytest with -n 2.
    subprocess.run([sys.executable, str(scratch_repo / "scripts" / "course.py"), "test", "tests/test_data.py"],
                   cwd=scratch_repo, check=True, capture_output=True, timeout=60,
                   env={**clean, "TUTORIAL_TEST_WORKERS": "2"})
    assert _calls(scratch_repo)[1:] == [["-c", "import", "xdist"],  # run without the test environment
                                        pytest_call + ["-n", "2", "--dist", "loadgroup"]]


@posix_only
def test_without_xdist_the_tests_run_in_one_process(scratch_repo):
    python = _fake_venv(scratch_repo)
    python.write_text(f'#!/bin/sh\necho "$@" >> "{scratch_repo / "calls.log"}"\n[ "$1" = "-c" ] && exit 1\nexit 0\n')
    (scratch_repo / ".venv" / ".installed").touch()
    later = time.time() + 10
    os.utime(scratch_repo / ".venv" / ".installed", (later, later))
    result = subprocess.run([sys.executable, str(scratch_repo / "scripts" / "course.py"), "test", "tests/x.py"],
                            cwd=scratch_repo, check=True, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TUTORIAL_TEST_WORKERS": "2"})
    assert "pytest-xdist is not installed" in result.stdout
    assert _calls(scratch_repo)[-1][:4] == ["-m", "pytest", "tests/x.py", "--nbval-lax"]
    assert "-n" not in _calls(scratch_repo)[-1]


def test_script_needs_only_the_standard_library():
    """Any Python 3.9+ must be able to start it, before .venv exists."""
    import ast

    tree = ast.parse(SCRIPT.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names), f"not in the standard library: {imported - set(sys.stdlib_module_names)}"


def test_windows_interpreter_path():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course", SCRIPT)
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    assert course.venv_python(Path("v"), windows=True) == Path("v") / "Scripts" / "python.exe"
    assert course.venv_python(Path("v"), windows=False) == Path("v") / "bin" / "python"


def test_xdist_is_looked_for_in_the_environment_that_runs_the_tests():
    """.venv's python links to the base interpreter: it must be asked itself (a child process), not judged by the
    Python running course.py (which may lack pytest-xdist)."""
    course = _course_module()
    venv_python = ROOT / ".venv" / "bin" / "python"
    if not venv_python.exists():
        pytest.skip("no .venv here")
    import importlib.util

    assert course.has_xdist(".venv/bin/python") is (subprocess.run(
        [str(venv_python), "-c", "import xdist"], capture_output=True).returncode == 0)
    assert course.has_xdist("no/such/python") is False
    assert course.has_xdist(sys.executable, current_env=True) is (importlib.util.find_spec("xdist") is not None)
