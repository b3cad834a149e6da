"""conftest.py's groups for pytest-xdist (`make test` runs the suite on two workers): what must run in one worker,
in order, gets one group; the scheduler uses them."""
import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)
LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
group = root_conftest.test_group


def test_each_lesson_is_a_group_and_those_sharing_files_are_one():
    groups = {name: root_conftest.notebook_group(name) for name in LESSONS}
    assert all(groups.values()), groups
    shared = {groups[name] for name in LESSONS if name[:2] in ("02", "04", "06")}
    assert len(shared) == 1, "02 and 04 write the checkpoints and the learner's models that 06 reads: one group"
    alone = [groups[name] for name in LESSONS if name[:2] not in ("02", "04", "06")]
    assert len(set(alone)) == len(alone) and not set(alone) & shared


@pytest.mark.parametrize("name", ["appendix.ipynb", "5_x.ipynb", "02_building_a_vae.py", ""])
def test_a_file_that_is_not_a_lesson_has_no_notebook_group(name):
    assert root_conftest.notebook_group(name) is None


def test_a_lessons_cells_its_student_run_and_its_browser_session_share_a_group():
    assert group("notebooks/05_stabilizing_gans.ipynb::Cell 0") == group("notebooks/05_stabilizing_gans.ipynb::Cell 31") \
        == group("tests/test_student.py::test_unsolved_student_notebook_runs_top_to_bottom[05_stabilizing_gans.ipynb]") \
        == "notebook 05"
    shared = group("notebooks/02_building_a_vae.ipynb::Cell 3")
    assert group("notebooks/06_comparing_vaes_and_gans.ipynb::Cell 1") == shared
    assert group("tests/test_student.py::test_unsolved_student_notebook_runs_top_to_bottom[04_building_a_gan.ipynb]") \
        == shared
    assert group("tests/test_browser.py::test_gan_playground_in_a_real_browser") == shared


def test_any_other_test_goes_with_its_module():
    assert group("tests/test_data.py::test_x[a-b]") == group("tests/test_data.py::test_y") == "tests/test_data.py"
    assert group("tests/test_student.py::test_no_proof_survives[01-The IWAE bound]") == "tests/test_student.py"
    assert group("book/appendix.ipynb::Cell 2") == "book/appendix.ipynb"


def test_the_lessons_that_share_files_are_the_ones_that_write_and_read_them():
    """The list in conftest.py follows the notebooks: who trains with checkpoints or saves the learner's models, and
    who loads them."""
    sharing = sorted(name[:2] for name in LESSONS
                     if any(call in (ROOT / "notebooks" / name).read_text()
                            for call in ("checkpoint_path(", "save_yours(", "load_yours(")))
    assert sharing == sorted(root_conftest.SHARING_FILES)
    browser = (ROOT / "tests" / "test_browser.py").read_text()
    assert all(root_conftest.notebook_group(name) == root_conftest.notebook_group("02_building_a_vae.ipynb")
               for name in LESSONS if name in browser), "tests/test_browser.py runs lessons of one group"


@pytest.mark.parametrize("value, threads", [("3", 3), (" 2 ", 2), ("4,2", 4), ("", None), (None, None), ("abc", None),
                                            ("0", None), ("-1", None), ("1.5", None)])
def test_thread_count_reads_omp_num_threads_as_openmp_does(value, threads):
    """A value OpenMP ignores (empty, not a whole number, below 1) gives the default; "4,2" (nested levels) its
    first level."""
    assert root_conftest.thread_count(value, None) == threads


def test_without_xdist_the_conftest_still_loads(tmp_path):
    """pytest without pytest-xdist (not installed: scripts/course.py then runs one process; or -p no:xdist) must
    accept the conftest's xdist hook."""
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


def test_two_workers_run_a_group_in_one_worker_in_order(tmp_path):
    """A real run on two workers: a notebook-like group's tests (in two files) all run in one worker, in order;
    an OMP_NUM_THREADS that OpenMP would ignore (here empty) becomes each worker's share of the cores."""
    pytest.importorskip("xdist")
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tests").mkdir()
    record = tmp_path / "record.txt"
    body = ("import os\nimport pytest\n\n"
            "@pytest.mark.parametrize('i', range(6))\n"
            "def test_step(i):\n"
            f"    with open({str(record)!r}, 'a') as f:\n"
            "        f.write(f\"{os.environ['PYTEST_XDIST_WORKER']} {__name__} {i} \"\n"
            "                f\"{os.environ['OMP_NUM_THREADS']}\\n\")\n")
    (tmp_path / "tests" / "test_other.py").write_text(body)
    (tmp_path / "tests" / "test_student.py").write_text(body.replace("range(6)", "['05_stabilizing_gans.ipynb']"))
    (tmp_path / "tests" / "test_lesson.py").write_text(body.replace(  # its ids name lesson 05
        "range(6))", "range(6), ids=lambda i: f'05_stabilizing_gans.ipynb-{i}')"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist",
                             "loadgroup", "tests"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.split() for line in record.read_text().splitlines()]
    assert {threads for *_, threads in lines} == {str(max(1, (os.cpu_count() or 1) // 2))}
    lesson = [(worker, module, i) for worker, module, i, _ in lines if module != "test_other"]
    assert len(lesson) == 7 and len({worker for worker, _, _ in lesson}) == 1, lines
    steps = [int(i) for _, module, i in lesson if module == "test_lesson"]
    assert steps == list(range(6)), "a group runs in its collected order"
