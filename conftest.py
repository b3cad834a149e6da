"""How `make test` shares the work between processes (pytest-xdist, `-n 2 --dist loadgroup`; scripts/course.py).

Every test belongs to a group (`test_group`); a group's tests run in one worker, one after the other, in the order
they were collected:
- a notebook's cells (nbval) share one kernel: the notebook is one group;
- the other runs of a lesson join its group: a test whose id names the lesson's file (tests/test_student.py runs
  each unsolved notebook, `...[05_stabilizing_gans.ipynb]`) and the modules in `RUN_LESSONS`;
- lessons that share files are one group: 02 and 04 train into data/checkpoints/ (two kernels must not train the
  same checkpoint at once) and save the learner's models that 06 scores (`load_yours`), in that order, as they do
  when everything runs in one process;
- any other test is grouped with its module, so that a module-scoped fixture is built once.
xdist's own loadgroup reads `xdist_group` marks by renaming test ids, which this pytest no longer allows; the
scheduler below (`pytest_xdist_make_scheduler`) groups by `test_group` instead. Each worker also gets its share of
the cores for torch's threads (OMP_NUM_THREADS, inherited by the notebooks' kernels): two workers with two threads
each would spin-wait on two cores. Without xdist (one process) none of this changes anything.
"""
import os
import re

import pytest

#: Lessons that read or write the same files: they run in one worker, in order.
SHARING_FILES = ("02", "04", "06")
#: Test modules that run a lesson without naming it in their test ids: the lesson they run.
RUN_LESSONS = {"tests/test_browser.py": "02_building_a_vae.ipynb"}  # and 04's playground: the same group
_LESSON = re.compile(r"(?:^|[/\[])(\d\d)_[^/\[\]:]*\.ipynb")


def notebook_group(name):
    """The group of lesson `name` ("05_stabilizing_gans.ipynb" -> "notebook 05"; 02, 04 and 06 share one group),
    or None for a file that is not a numbered lesson."""
    match = re.match(r"(\d\d)_.*\.ipynb$", os.path.basename(name))
    if not match:
        return None
    number = match.group(1)
    return "notebooks " + ", ".join(SHARING_FILES) if number in SHARING_FILES else f"notebook {number}"


def test_group(nodeid):
    """The group of the test `nodeid`: its lesson's group when it runs a lesson, else its module."""
    module = nodeid.split("::")[0]
    if module in RUN_LESSONS:
        return notebook_group(RUN_LESSONS[module])
    match = _LESSON.search(nodeid)
    return notebook_group(match.group(0).lstrip("/[")) if match else module


test_group.__test__ = False  # a helper, not a test


def thread_count(value, default):
    """The threads an OMP_NUM_THREADS value asks for (its first level: "4,2" -> 4), or `default` when it names none
    (unset, empty, not a whole number, below 1): OpenMP ignores such a value too."""
    try:
        threads = int(str(value or "").split(",")[0])
    except ValueError:
        return default
    return threads if threads >= 1 else default


thread_count.__test__ = False


def pytest_configure(config):
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1:
        share = max(1, (os.cpu_count() or 1) // workers)
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if thread_count(os.environ.get(variable), None) is None:  # unset or invalid: this worker's share
                os.environ[variable] = str(share)
        import torch

        torch.set_num_threads(thread_count(os.environ["OMP_NUM_THREADS"], share))


# optionalhook: without pytest-xdist (not installed, or -p no:xdist) pytest would reject the unknown hook
@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own scheduler
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LessonScheduling(LoadScopeScheduling):
        """xdist's scope scheduling (a scope's tests go to one worker, in order) with `test_group` as the scope."""

        def _split_scope(self, nodeid):
            return test_group(nodeid)

    return LessonScheduling(config, log)
