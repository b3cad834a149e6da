"""The checking machinery shared by every lesson's checkers: `Case`, `run_check`, `report`, `checker`,
`use_yours`.

A checker runs the learner's function on a few cases and compares with the expected values. On a
failure it says what was expected, what came back and gives a hint; it never shows solution code, and
a hint appears only after a real failure (not while the exercise is still `raise NotImplementedError`).
A function that changes its inputs in place fails, and the message names the argument it changed.

Isolation: where ``os.fork`` is safe (Linux), every check runs in a child process: its cases, the learner's code
and the comparisons run there, and only the verdict (and what the code printed) comes back. A case that runs
past the time limit is stopped whatever it catches (the child is killed, the kernel lives), and nothing a check
does changes the learner's objects or random state. Where fork is unavailable or unsafe (Windows; macOS, whose
system libraries do not survive a fork), and for a check whose code cannot run in a forked child (CUDA, or autograd
after the kernel used a GPU), the check runs in-process under a timer (SIGALRM, main thread), which stops code
that catches ``Exception`` but not a bare ``except:`` in a loop.

Environment variables:
- ``TUTORIAL_CHECKS_STRICT=1`` (set by ``make test``): a failure raises AssertionError, so CI notices
  a broken solution in the instructor notebooks.
- ``TUTORIAL_GRADING=1`` (autograding): the library's own solution is refused as the learner's answer, whether
  passed itself (or wrapped: a partial, a bound method, a copy of its code, a subclass) or called by the learner's
  code (the check runs with the solution replaced by a tripwire that fires when code outside the library calls it).
- ``TUTORIAL_CHECK_SECONDS``: the time limit of one case (default 10 s; 0 = none).
"""
import contextlib
import functools
import importlib
import inspect
import io
import os
import pickle
import select
import signal
import sys
import sysconfig
import threading
import time
import types
import warnings
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


class CheckTimeout(BaseException):
    """A learner's function ran past the time limit of one case (a BaseException, so that a learner's ``except
    Exception`` does not swallow it)."""


class _LibraryCalled(BaseException):
    """Raised by a grading tripwire: the learner's code called the library's own solution."""


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
    """Print the verdict (and raise in strict mode when it failed); return `passed`. Inside a guarded check (see
    `run_check`) the verdict is kept and given once the check ends."""
    if _RUN is not None:
        _RUN.verdict = (passed, message)
        return passed
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
    """Raise `CheckTimeout` inside the block after `seconds` (for seconds <= 0: no limit). Code that catches the
    interruption and goes on still gets `CheckTimeout` when the block ends. In a guarded check's child process the
    parent also kills the child shortly after the limit, whatever the code catches; elsewhere the timer needs POSIX
    and the main thread (a no-op otherwise)."""
    limited = bool(seconds and seconds > 0)
    if limited and _RUN is not None:
        _RUN.send("limit", float(seconds))
    usable = (limited and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread())
    fired = []
    if usable:
        def on_alarm(signum, frame):
            fired.append(True)
            raise CheckTimeout(f"it ran for more than {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        if limited and _RUN is not None:
            _RUN.send("unlimit")
    if fired:  # the code caught the interruption and returned anyway: the limit still counts
        raise CheckTimeout(f"it ran for more than {seconds:g} s")


# ---- inputs changed in place ----

def _parameter_names(fn, count):
    """Names for the first `count` positional arguments of `fn` ("argument 3" where it has no name)."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(count)]


def _collect_tensors(value, label, found, depth=0):
    if isinstance(value, torch.Tensor):
        if value.layout == torch.strided and value.device.type != "meta":
            found.append((label, value, value.detach().clone()))
    elif isinstance(value, (tuple, list)) and depth < 3:
        for i, item in enumerate(value):
            _collect_tensors(item, f"{label}[{i}]", found, depth + 1)
    elif isinstance(value, dict) and depth < 3:
        for key, item in value.items():
            _collect_tensors(item, f"{label}[{key!r}]", found, depth + 1)


def _snapshot(fn, case):
    """(name, tensor, copy) for every tensor among the case's arguments (also inside tuples, lists and dicts)."""
    found = []
    for label, value in zip(_parameter_names(fn, len(case.args)), case.args):
        _collect_tensors(value, label, found)
    for key, value in case.kwargs.items():
        _collect_tensors(value, key, found)
    return found


def _same(tensor, copy):
    tensor = tensor.detach()
    if tensor.shape != copy.shape or tensor.dtype != copy.dtype:
        return False
    if torch.equal(tensor, copy):
        return True
    if tensor.is_floating_point() or tensor.is_complex():
        return bool(((tensor == copy) | (tensor.isnan() & copy.isnan())).all())
    return False


def _changed_input(snapshot):
    """The name of the first argument whose tensor the call changed in place, or None."""
    for label, tensor, copy in snapshot:
        try:
            if not _same(tensor, copy):
                return label
        except RuntimeError:
            continue
    return None


# ---- running the cases ----

def run_check(name, fn, cases, hint):
    """Run `fn` on each `Case` (each within the time limit, in a child process where possible, see the module's
    docstring); print friendly feedback; return True when every case matches. A call that changes a tensor among
    its arguments in place fails, naming the argument. The hint is shown only after a real failure."""
    if not callable(fn):
        return _not_callable(name, fn)
    seconds = case_seconds()
    return _guarded(name, lambda: _run_cases(name, fn, cases, hint, seconds))


def _not_callable(name, fn):
    return report(name, False, f"❌ {name}: pass your function itself, e.g. check_{name}(my_{name}), "
                               f"not {type(fn).__name__}.")


def _run_cases(name, fn, cases, hint, seconds):
    for case in cases:
        if _RUN is not None:
            _RUN.send("case", case.about, hint)
        before = _snapshot(fn, case)
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
        except (Exception, SystemExit) as error:  # show the learner's error without a traceback wall
            _stop_if_tripped()
            return report(name, False, f"❌ {name}: on the case '{case.about}' your function raised "
                                       f"{type(error).__name__}: {error}\n   Hint: {hint}")
        _stop_if_tripped()
        changed = _changed_input(before)
        if changed:
            return report(name, False, f"❌ {name}: on the case '{case.about}', your function changed its input "
                                       f"`{changed}` in place (e.g. with `+=`, `*=`, a method ending in `_` such as "
                                       f"`.add_()`, or an assignment into `{changed}[...]`). A function must leave "
                                       f"its inputs as they were: the caller still uses them. Compute into a new "
                                       f"tensor instead (`x = x * 2` makes one; `x.clone()` copies).\n   Hint: {hint}")
        problem = _mismatch(got, case.expected, case.atol, case.rtol)
        if problem:
            return report(name, False, f"❌ {name}: on the case '{case.about}', {problem}.\n   Hint: {hint}")
    return report(name, True, f"✅ {name}: correct on all {len(cases)} test cases. Well done!")


# ---- guarded runs: a child process per check ----

class _Run:
    """A guarded check in progress: the verdict `report` keeps, and (in a child) the pipe to the parent."""

    def __init__(self, pipe=None):
        self.pipe, self.verdict = pipe, None

    def send(self, *frame):
        if self.pipe is None:
            return
        data = pickle.dumps(frame)
        data = len(data).to_bytes(4, "big") + data
        while data:
            data = data[os.write(self.pipe, data):]


#: The guarded check running in this process (None outside one).
_RUN = None
#: Checks that could not run in a forked child in this session (CUDA or autograd threads): they run in-process.
_IN_PROCESS = set()
#: Texts of errors that mean "this code cannot run in a forked child", not "the learner's code is wrong".
_FORK_TROUBLE = ("Cannot re-initialize CUDA in forked subprocess", "fork-based multiprocessing")
#: How much of what a check's code printed in the child is passed on.
_OUTPUT_LIMIT = 20_000


def _can_fork():
    return hasattr(os, "fork") and sys.platform != "darwin"


def _guarded(name, body):
    """Run `body` (which gives its verdict through `report`) guarded: in a child process where possible, else
    in-process; then give the verdict (print, strict mode) here. Returns what `report` returns."""
    if _RUN is not None:  # already inside a guarded check (a checker calling run_check): run here
        return body()
    case_seconds()  # a bad TUTORIAL_CHECK_SECONDS is an error here, before anything runs
    outcome = None
    if _can_fork() and name not in _IN_PROCESS:
        outcome = _in_child(name, body)
        if outcome is None:
            _IN_PROCESS.add(name)
    if outcome is None:
        outcome = _in_process(body)
    kind, passed, message, output = outcome
    if output:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    if kind == "error":
        raise passed
    return passed if message is None else report(name, passed, message)


def _in_process(body):
    global _RUN
    run, outer = _Run(), _RUN
    _RUN = run
    try:
        returned = body()
    finally:
        _RUN = outer
    passed, message = run.verdict if run.verdict is not None else (returned, None)
    return "verdict", passed, message, ""


def _in_child(name, body):
    """Run `body` in a forked child; the outcome ``(kind, passed or error, message, output)``, or None when its code
    cannot run in a forked child (then the caller runs it in-process)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "use of fork() may lead to deadlocks": see _child
        pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            _child(body, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    outcome = _watch(name, pid, read_end)
    _import_quietly(outcome[4:])
    text = str(outcome[1]) + " " + str(outcome[2])
    if any(trouble in text for trouble in _FORK_TROUBLE):
        return None
    return outcome[:4]


def _import_quietly(names):
    """Import here the modules the child imported (e.g. what torch loads on its first optimizer, seconds of work):
    paid once, as an in-process check would, instead of once per check in every child."""
    for name in (names[0] if names else ()):
        if name not in sys.modules:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    importlib.import_module(name)
            except BaseException:  # a module that imports only in some context: not needed here
                pass


def _child(body, pipe):
    """The child's side: run `body` single-threaded (torch's thread pool does not survive a fork), with stdout and
    stderr captured, and send back ``("verdict", passed, message, output)`` or ``("error", exception, None,
    output)``."""
    global _RUN
    _RUN = _Run(pipe)
    modules = set(sys.modules)
    captured = io.StringIO()
    sys.stdout = sys.stderr = captured
    try:
        torch.set_num_threads(1)
    except RuntimeError:
        pass
    try:
        returned = body()
        passed, message = _RUN.verdict if _RUN.verdict is not None else (returned, None)
        frame = ("verdict", passed, message)
    except BaseException as error:
        frame = ("error", _portable(error), None)
    output = captured.getvalue()
    if len(output) > _OUTPUT_LIMIT:
        output = f"[... {len(output) - _OUTPUT_LIMIT:,} characters cut ...]\n" + output[-_OUTPUT_LIMIT:]
    imported = [name for name in list(sys.modules) if name not in modules and not name.startswith("__")]
    try:
        _RUN.send(*frame, output, imported)
    except Exception as error:  # e.g. an unpicklable verdict
        _RUN.send("error", RuntimeError(f"the check's result could not be sent back: {error}"), None, output)


def _portable(error):
    """`error`, or a RuntimeError with its text when it cannot be pickled; with the child's traceback as a note."""
    import traceback

    try:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        if hasattr(error, "add_note"):
            error.add_note("(raised in the check's child process)\n" + trace)
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def _watch(name, pid, pipe):
    """The parent's side: read the child's frames, kill it shortly after a case's limit (or when it stays silent
    far too long outside a case), and return its outcome."""
    seconds = case_seconds()
    idle = max(120.0, 10 * seconds) if seconds > 0 else None
    about = hint = limit = None
    deadline = None if idle is None else time.monotonic() + idle
    buffer, outcome, killed = b"", None, False
    try:
        while outcome is None:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not _readable(pipe, wait):
                killed = True
                outcome = ("verdict", False, _stopped(name, about, hint, limit), "")
                break
            chunk = os.read(pipe, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[:4], "big"):
                size = int.from_bytes(buffer[:4], "big")
                frame, buffer = pickle.loads(buffer[4:4 + size]), buffer[4 + size:]
                if frame[0] == "case":
                    about, hint = frame[1], frame[2]
                    if limit is None and idle is not None:
                        deadline = time.monotonic() + idle
                elif frame[0] == "limit":
                    limit = frame[1]
                    deadline = time.monotonic() + limit + max(1.0, 0.2 * limit)
                elif frame[0] == "unlimit":
                    limit, deadline = None, None if idle is None else time.monotonic() + idle
                else:
                    outcome = frame
                    break
    finally:
        os.close(pipe)
        status = _reap(pid, kill=killed or outcome is None)
    if outcome is None:  # the child died without a verdict
        outcome = ("verdict", False, _crashed(name, about, hint, status), "")
    return outcome


def _readable(pipe, seconds):
    """True when `pipe` has data (or its end) within `seconds` (None: wait as long as it takes)."""
    if hasattr(select, "poll"):  # no limit on the descriptor's number, unlike select()
        poller = select.poll()
        poller.register(pipe, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(None if seconds is None else int(seconds * 1000) + 1))
    return bool(select.select([pipe], [], [], seconds)[0])


def _reap(pid, kill):
    """Wait for the child (killing it first when `kill`, or when it lingers); its wait status, or None."""
    try:
        if not kill:
            for _ in range(200):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return status
                time.sleep(0.005)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, ChildProcessError):
        pass
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _stopped(name, about, hint, limit):
    if limit is None:
        return (f"❌ {name}: the check did not finish, and was stopped after a long silence outside any case (set "
                f"TUTORIAL_CHECK_SECONDS higher if your machine is very slow).")
    where = f"on the case '{about}' your function" if about else "one call of your function"
    return (f"❌ {name}: {where} ran for more than {limit:g} s (the limit of one case) and did not stop when "
            "interrupted, so the check stopped it. A loop over every element, or a very large tensor, is the usual "
            "cause; an `except:` or `except Exception:` around it keeps the interruption from ending it."
            + (f"\n   Hint: {hint}" if hint else ""))


def _crashed(name, about, hint, status):
    if status is not None and os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            how = f"signal {signal.Signals(number).name}"
        except ValueError:
            how = f"signal {number}"
    elif status is not None and os.WIFEXITED(status):
        how = f"exit status {os.WEXITSTATUS(status)}: something called os._exit()"
    else:
        how = "no status"
    where = f" on the case '{about}'" if about else ""
    return (f"❌ {name}: the check's process ended abruptly{where} ({how}) while running your code; your notebook "
            "is fine. A crash inside torch (e.g. an index far outside a tensor in C code) or a call that ends the "
            "process is the usual cause." + (f"\n   Hint: {hint}" if hint else ""))


# ---- grading: the library's own solution is not the learner's answer ----

#: Exercises whose library solution has another name than the exercise (default: the same name).
_SOLUTION_NAMES = {"vae_model": ("VAE",), "inception_score": ("inception_score_from_probabilities", "inception_score"),
                   "pack": ("pack_samples", "_pack"), "reverse_kl": ("kl_from_uniform",),
                   "label_accuracy": ("label_accuracy_from_probabilities", "label_accuracy")}
_SOLUTION_MODULES = ("vae", "gan", "metrics", "modes", "divergences", "conditional", "stabilize", "train")
_LIBRARY = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _solutions(name):
    """The library's functions and classes that solve exercise `name`."""
    found = {}
    for module_name in _SOLUTION_MODULES:
        module = importlib.import_module(f"{__package__.rsplit('.', 1)[0]}.{module_name}")
        for attribute in _SOLUTION_NAMES.get(name, (name,)):
            value = vars(module).get(attribute)
            if (inspect.isfunction(value) or inspect.isclass(value)) and _from_the_library(value):
                found[id(value)] = value
    return list(found.values())


@functools.lru_cache(maxsize=None)
def _library_roots():
    import site

    roots = {_LIBRARY, os.path.dirname(os.path.abspath(torch.__file__)) + os.sep}
    paths = [sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    for path in paths + [getattr(site, "getusersitepackages", lambda: None)()]:
        if path:
            roots.add(os.path.realpath(path) + os.sep)
            roots.add(os.path.abspath(path) + os.sep)
    return tuple(roots)


@functools.lru_cache(maxsize=4096)
def _learner_file(filename):
    """True for code outside the library, torch and Python's own packages: the learner's notebook or script."""
    if filename.startswith("<frozen"):
        return False
    if filename.startswith("<"):
        return True
    path = os.path.abspath(filename)
    return not any(path.startswith(root) or os.path.realpath(path).startswith(root) for root in _library_roots())


def _from_the_library(fn):
    """True when `fn` (a function, a class or a bound method) is defined in tutorial_lib itself."""
    target = getattr(fn, "__func__", fn)
    return (getattr(target, "__module__", "") or "").split(".")[0] == "tutorial_lib"


def _library_answer(fn, solutions):
    """The library object that `fn` is, wraps or copies (a partial, a bound method, ``__wrapped__``, a callable
    object, a function made from a library function's code, a subclass of a solution class), or None."""
    seen, todo = set(), [fn]
    while todo and len(seen) < 100:
        item = todo.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if _from_the_library(item):
            return item
        code = getattr(getattr(item, "__func__", item), "__code__", None)
        if isinstance(code, types.CodeType) and os.path.abspath(code.co_filename).startswith(_LIBRARY):
            return item
        if inspect.isclass(item):
            bases = [base for base in item.__mro__[1:] if base in solutions]
            if bases:
                return bases[0]
            continue
        for attribute in ("func", "__wrapped__", "__func__"):
            todo.append(getattr(item, attribute, None))
        if isinstance(item, functools.partial):
            todo.extend(item.args)
            todo.extend(item.keywords.values())
        if not (inspect.isfunction(item) or inspect.ismethod(item) or inspect.isbuiltin(item)):
            todo.append(getattr(type(item), "__call__", None))
    return None


def _trip(*args, _tripwire=None, **kwargs):
    return _tripwire(args, kwargs)


def _trip_code(free_variables):
    """The code of `_trip` with these free variables (a function's code can only be swapped for code with as many)."""
    if not free_variables:
        return _trip.__code__
    names = [f"_free{i}" for i in range(len(free_variables))]
    source = ("def _outer():\n" + "".join(f"    {n} = None\n" for n in names)
              + "    def _trip(*args, _tripwire=None, **kwargs):\n"
              + "".join(f"        {n}\n" for n in names) + "        return _tripwire(args, kwargs)\n"
              + "    return _trip\n")
    namespace = {}
    exec(compile(source, "<tripwire>", "exec"), namespace)
    return namespace["_outer"]().__code__


#: Which solutions the learner's code called during the current graded check.
_TRIPPED = []


def _stop_if_tripped():
    if _TRIPPED:
        raise _LibraryCalled(_TRIPPED[0])


class _Tripwires:
    """While active, each function of the `solutions` (a class's own methods) runs its own code only when called
    from library code; when code outside the library (the learner's) is on the way from `entry` (the check's
    frame) to the call, it records the call in `_TRIPPED` and raises `_LibraryCalled`. Swaps the functions'
    ``__code__``, so every alias of them trips too; restored on exit."""

    def __init__(self, solutions, entry):
        self.solutions, self.entry, self.swapped = solutions, entry, []

    def __enter__(self):
        _TRIPPED.clear()
        for solution in self.solutions:
            members = [solution] if inspect.isfunction(solution) else [
                getattr(member, "__func__", member) for member in vars(solution).values()
                if inspect.isfunction(getattr(member, "__func__", member))]
            for function in members:
                self._swap(inspect.unwrap(function), f"{solution.__module__}.{solution.__qualname__}")
        return self

    def _swap(self, function, label):
        if any(function is done for done, *_ in self.swapped):
            return
        original = (function.__code__, function.__defaults__, function.__kwdefaults__)
        clone = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                   function.__defaults__, function.__closure__)
        clone.__kwdefaults__ = function.__kwdefaults__
        entry = self.entry

        def tripwire(args, kwargs):
            frame = sys._getframe(2)  # 0: this, 1: the swapped function, 2: its caller
            while frame is not None and frame is not entry:
                if _learner_file(frame.f_code.co_filename):
                    _TRIPPED.append(label)
                    raise _LibraryCalled(label)
                frame = frame.f_back
            return clone(*args, **kwargs)

        try:
            function.__code__ = _trip_code(function.__code__.co_freevars)
        except (ValueError, TypeError):
            return
        function.__defaults__, function.__kwdefaults__ = None, {"_tripwire": tripwire}
        self.swapped.append((function, *original))

    def __exit__(self, *exc):
        for function, code, defaults, kwdefaults in reversed(self.swapped):
            function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
        self.swapped.clear()
        return False


def checker(check):
    """Decorator of every ``check_<name>(fn)``: runs the check guarded (see `run_check`), refuses the library's
    own solution when grading (``TUTORIAL_GRADING=1``: passed itself, wrapped, or called by the learner's code) and
    remembers the verdict for `use_yours`."""
    name = check.__name__.removeprefix("check_")

    @functools.wraps(check)
    def wrapped(fn, *args, **kwargs):
        passed = False  # also what is remembered when strict mode raises
        try:
            if not callable(fn):
                return _not_callable(name, fn)
            grading = env_flag("TUTORIAL_GRADING")
            solutions = _solutions(name) if grading else []
            if grading:
                own = _library_answer(fn, solutions)
                if own is not None:
                    return report(name, False, f"❌ {name}: this is the course library's own "
                                               f"{getattr(own, '__qualname__', getattr(own, '__name__', 'code'))}, "
                                               f"not yours; pass the function or class you wrote.")

            def body():
                with _Tripwires(solutions, sys._getframe()):
                    try:
                        result = check(fn, *args, **kwargs)
                    except _LibraryCalled:
                        result = False
                    tripped = list(_TRIPPED)
                if tripped:
                    return report(name, False, f"❌ {name}: your code calls the course library's own "
                                               f"{tripped[0]}, the answer this exercise asks you to write, so it "
                                               f"is not yours. Write the computation itself (the library's other "
                                               f"functions may be used).")
                return result

            passed = _guarded(name, body)
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
