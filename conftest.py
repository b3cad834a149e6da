"""How `make test` shares the work between processes (pytest-xdist, `-n 2 --dist loadgroup`; scripts/course.py).

With --dist loadgroup, the tests of one xdist_group run in one worker, one after the other, in their collected order;
every other test could land anywhere. This file gives every test a group, so that what must stay together does:
- a notebook's cells (nbval) share one kernel: the notebook is one group;
- the other runs of a notebook (tests/test_student.py's unsolved edition, tests/test_browser.py's JupyterLab session)
  say so with `@pytest.mark.notebook("<file name>")` and join its group;
- notebooks that share files are one group, run in the order collected: 02 and 04 train into data/checkpoints/ (two
  kernels must not train the same checkpoint at once) and save the learner's models that 06 scores (`load_yours`),
  as they do when everything runs in one process;
- any other test is grouped with its module, so that a module-scoped fixture is built once.
Each worker also gets its share of the cores for torch's threads (OMP_NUM_THREADS, inherited by the notebooks'
kernels): two workers with two threads each would spin-wait on two cores.
Without xdist (one process) none of this changes anything.
"""
import os
import re

import pytest


#: Notebooks that read or write the same files: they run in one worker, in order.
SHARING_FILES = ("02", "04", "06")


def notebook_group(name):
    """The xdist group of notebook `name` ("05_stabilizing_gans.ipynb" -> "notebook 05"; 02, 04 and 06 share one
    group), or None for a file that is not a numbered lesson."""
    match = re.match(r"(\d\d)_.*\.ipynb$", os.path.basename(name))
    if not match:
        return None
    number = match.group(1)
    return "notebooks " + ", ".join(SHARING_FILES) if number in SHARING_FILES else f"notebook {number}"


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run in the same pytest-xdist worker as the rest of the "
                                       "group (see conftest.py)")
    config.addinivalue_line("markers", "notebook(name): the test runs the lesson `name` (a file name in notebooks/); "
                                       "it joins that notebook's group (see conftest.py)")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, threads)
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = item.nodeid.split("::")[0]
        marker = item.get_closest_marker("notebook")
        if marker is not None:
            group = notebook_group(marker.args[0])
            if group is None:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.notebook needs a lesson's file name like "
                                        f"'02_building_a_vae.ipynb', got {marker.args[0]!r}")
        else:
            group = notebook_group(path) if path.endswith(".ipynb") else None
        item.add_marker(pytest.mark.xdist_group(group or path))
