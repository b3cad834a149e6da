"""The course's commands on every system (Linux, macOS, Windows); the Makefile calls this script.

    python3 scripts/course.py lab     # Linux/macOS (= make lab)     Windows PowerShell:  py -3.11 scripts\\course.py lab
    python3 scripts/course.py test    # (= make test)                                       py -3.11 scripts\\course.py test
    python3 scripts/course.py book    # (= make book) the website in build/book/html/
    python3 scripts/course.py setup   # only the set-up that the three commands above start with

Set-up: creates .venv with the Python running this script if it is missing, installs the pinned stack
(pip install -r requirements.txt -c constraints.txt) and tutorial_lib in editable mode (pip install --no-deps
--no-build-isolation -e .), and touches .venv/.installed. Later runs reinstall only when requirements.txt,
constraints.txt or pyproject.toml is newer than that stamp. Nothing is installed outside .venv.

--current-env uses the Python running this script instead of .venv and skips the set-up: for a conda/mamba
environment made from environment.yml (conda activate generative-models-hands-on), or any environment you
manage yourself. --dry-run prints the commands instead of running them.

Only the standard library is used here, so any Python 3.9+ can start it.
"""
import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
INSTALL_INPUTS = ("requirements.txt", "constraints.txt", "pyproject.toml")
DEFAULT_TESTS = ("tests", "notebooks")
DEFAULT_PORT = 8888
# What `test` sets: fast mode, no downloads, exercise checkers that raise, no figure windows. The notebook kernels
# that nbval starts inherit these.
TEST_ENV = {"TUTORIAL_FAST": "1", "TUTORIAL_OFFLINE": "1", "TUTORIAL_CHECKS_STRICT": "1", "MPLBACKEND": "agg"}
PYTEST_OPTIONS = ("--nbval-lax", "--nbval-current-env", "--durations=10", "-p", "no:cacheprovider")
# Two pytest-xdist workers on a machine with 2 or more cores: the suite is mostly notebooks run in fast mode, and two
# at a time keep both cores busy. conftest.py keeps what must stay together in one worker (a notebook's cells, the
# runs that share its checkpoints, a test module) and gives each worker its share of the cores' threads.
# TUTORIAL_TEST_WORKERS=1 runs everything in one process.
WORKERS_VARIABLE = "TUTORIAL_TEST_WORKERS"


def venv_python(venv=VENV, windows=os.name == "nt"):
    """The interpreter inside a virtual environment: bin/python, or Scripts\\python.exe on Windows."""
    return venv / ("Scripts/python.exe" if windows else "bin/python")


def needs_install(venv=VENV):
    """True when .venv lacks its interpreter or its stamp, or an install input changed after the stamp."""
    stamp = venv / ".installed"
    if not venv_python(venv).exists() or not stamp.exists():
        return True
    return any((ROOT / name).stat().st_mtime > stamp.stat().st_mtime for name in INSTALL_INPUTS)


def setup_steps(python):
    """The set-up commands, in order: ("venv", cmd) when .venv is missing, the two pip installs, then the stamp."""
    steps = []
    if not venv_python().exists():
        steps.append(("venv", [python, "-m", "venv", str(VENV.relative_to(ROOT))]))
    py = str(venv_python().relative_to(ROOT))
    steps.append(("pip", [py, "-m", "pip", "install", "--quiet", "--upgrade-strategy", "only-if-needed",
                          "-r", "requirements.txt", "-c", "constraints.txt"]))
    steps.append(("pip", [py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", "."]))
    return steps


def lab_command(py, port=DEFAULT_PORT):
    command = [py, "-m", "jupyterlab", "--notebook-dir=notebooks", f"--port={port}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root (containers, some VMs) unless told to
    return command


def test_workers(environ=None, cpus=None):
    """How many processes `test` runs the tests in: TUTORIAL_TEST_WORKERS when set, else 2 with 2 or more cores."""
    environ = os.environ if environ is None else environ
    value = environ.get(WORKERS_VARIABLE, "").strip()
    if value:
        if not (value.isascii() and value.isdigit()) or int(value) < 1:  # isdigit alone takes "²", int() not
            sys.exit(f"error: {WORKERS_VARIABLE}={value!r}: give a whole number of processes, at least 1 "
                     f"(1 runs the tests in one process; unset it for 2 on a machine with 2 or more cores)")
        workers, cpus = int(value), os.cpu_count() if cpus is None else cpus
        if cpus and workers > cpus:
            print(f"Note: {WORKERS_VARIABLE}={workers} runs more test processes than this machine's {cpus} cores: "
                  f"their notebooks' kernels wait for each other and use more memory (about 2 GB each at most); "
                  f"{cpus} or fewer is faster.")
        return workers
    cpus = os.cpu_count() if cpus is None else cpus
    return 2 if (cpus or 1) >= 2 else 1


def has_xdist(py, current_env=False):
    """True when the interpreter `py` can import pytest-xdist: this one (--current-env), or .venv's (a virtual
    environment's python is a link to the base interpreter, so it is asked in a child process)."""
    if current_env:
        return importlib.util.find_spec("xdist") is not None
    return (ROOT / py).exists() and subprocess.run([str(ROOT / py), "-c", "import xdist"],
                                                   capture_output=True).returncode == 0


def test_command(py, paths=(), workers=1):
    parallel = ("-n", str(workers), "--dist", "loadgroup") if workers > 1 else ()
    return [py, "-m", "pytest", *(paths or DEFAULT_TESTS), *PYTEST_OPTIONS, *parallel]


def book_command(py, rerun=False):
    return [py, str(Path("scripts") / "book.py")] + (["--rerun"] if rerun else [])


def _show(command, env=None):
    prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    line = " ".join(shlex.quote(str(part)) for part in command)
    print(f"+ {prefix} {line}" if prefix else f"+ {line}", flush=True)


def run(command, dry_run=False, env=None):
    """Run `command` in the repository root (with `env` added to this environment); exit on failure."""
    _show(command, env)
    if dry_run:
        return 0
    command = [str(part) for part in command]
    if not os.path.isabs(command[0]) and (ROOT / command[0]).exists():
        command[0] = str(ROOT / command[0])  # .venv's interpreter, whatever the caller's working folder
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})})
    try:
        code = process.wait()
    except KeyboardInterrupt:  # Ctrl+C (stopping JupyterLab): the child got it too; let it finish quietly
        code = process.wait()
        sys.exit(code or 130)
    if code:
        sys.exit(code)
    return code


def setup(dry_run=False):
    """Create/update .venv when needed; return the interpreter to use."""
    py = str(venv_python().relative_to(ROOT))
    if not needs_install():
        return py
    if sys.version_info[:2] != (3, 11):
        print(f"Note: the pinned stack is tested with Python 3.11; this is {sys.version.split()[0]}. "
              "If the install fails, run this script with Python 3.11 (Windows: py -3.11 scripts\\course.py ...).")
    for kind, command in setup_steps(sys.executable):
        if kind == "venv":
            print(f"Creating {VENV.name} with {sys.executable}")
        run(command, dry_run)
    print(f"+ touch {STAMP.relative_to(ROOT)}")
    if not dry_run:
        STAMP.touch()
    return py


def main(argv=None):
    parser = argparse.ArgumentParser(prog="course.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--current-env", action="store_true",
                        help="use this Python (e.g. an activated conda environment) instead of .venv; no set-up")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create or update .venv (only when the install inputs changed)")
    lab = commands.add_parser("lab", help="set up, then open JupyterLab on notebooks/")
    lab.add_argument("--port", type=int, default=DEFAULT_PORT)
    test = commands.add_parser("test", help="set up, then run the tests and every notebook in fast mode")
    test.add_argument("paths", nargs="*", help=f"what to test (default: {' '.join(DEFAULT_TESTS)})")
    book = commands.add_parser("book", help="set up, then build the website into build/book/html/ "
                                            "(full mode; TUTORIAL_FAST=1 for fast mode)")
    book.add_argument("--rerun", action="store_true", help="execute every notebook again (empty the cache)")
    args = parser.parse_args(argv)

    if args.current_env:
        py = sys.executable
    else:
        py = setup(args.dry_run)
    if args.command == "lab":
        run(lab_command(py, args.port), args.dry_run)
    elif args.command == "test":
        workers = test_workers()
        if workers > 1 and not args.dry_run and not has_xdist(py, args.current_env):
            print(f"Note: pytest-xdist is not installed in {py}: the tests run in one process (slower). "
                  f"`pip install pytest-xdist` runs them on {workers} cores.")
            workers = 1
        run(test_command(py, args.paths, workers), args.dry_run, env=TEST_ENV)
    elif args.command == "book":
        run(book_command(py, args.rerun), args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
