"""conftest.py's groups for pytest-xdist (`make test` runs the suite on two workers with --dist loadgroup): what must
run in one worker, in order, gets one group name."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)
LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_each_lesson_is_a_group_and_those_sharing_files_are_one():
    groups = {name: root_conftest.notebook_group(name) for name in LESSONS}
    assert all(groups.values()), groups
    shared = {groups[name] for name in LESSONS if name[:2] in ("02", "04", "06")}
    assert len(shared) == 1, "02 and 04 write the checkpoints and the learner's models that 06 reads: one group"
    alone = [groups[name] for name in LESSONS if name[:2] not in ("02", "04", "06")]
    assert len(set(alone)) == len(alone) and not set(alone) & shared
    assert root_conftest.notebook_group("notebooks/05_stabilizing_gans.ipynb") == "notebook 05"  # a path works too


@pytest.mark.parametrize("name", ["appendix.ipynb", "5_x.ipynb", "02_building_a_vae.py", ""])
def test_a_file_that_is_not_a_lesson_has_no_notebook_group(name):
    assert root_conftest.notebook_group(name) is None


def test_the_lessons_that_share_files_are_the_ones_that_write_and_read_them():
    """The list in conftest.py follows the notebooks: who trains with checkpoints or saves the learner's models, and
    who loads them."""
    sharing = sorted(name[:2] for name in LESSONS
                     if any(call in (ROOT / "notebooks" / name).read_text()
                            for call in ("checkpoint_path(", "save_yours(", "load_yours(")))
    assert sharing == sorted(root_conftest.SHARING_FILES)


def test_this_run_gave_every_test_a_group(request):
    """Under xdist's loadgroup every collected test must carry a group (else it could run anywhere)."""
    assert request.node.get_closest_marker("xdist_group") is not None
    assert request.node.get_closest_marker("xdist_group").args[0] == "tests/test_parallel_groups.py"
