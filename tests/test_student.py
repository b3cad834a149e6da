"""The student edition (`make student`): no solution survives (no code, no proof), every checker fails on the
stub and passes on the instructor's solution, and the unsolved student notebooks run top to bottom; nbgrader's
source version grades code automatically and proofs by hand.

Works on whatever notebooks exist: exercises are found by reading them (`### Exercise:` heading, a
cell tagged `solution`, a `check_<name>(<function>)` cell; or `### Exercise (on paper):` and a markdown proof
tagged `solution`)."""
import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "scripts" / "make_student.py")
make_student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_student)


def _scan():
    exercises = []
    try:
        for path in NOTEBOOKS:
            exercises += make_student.student_notebook(nbformat.read(path, as_version=4), path.name)
    except make_student.ConventionError as error:
        return exercises, error
    return exercises, None


FOUND, SCAN_ERROR = _scan()
EXERCISES = [e for e in FOUND if isinstance(e, make_student.Exercise)]
PROOFS = [e for e in FOUND if isinstance(e, make_student.PaperExercise)]
WITH_EXERCISES = sorted({exercise.notebook for exercise in FOUND})
#: The proofs the course asks for (issue 20): IWAE >= ELBO, V(G, D*) = -log 4 + 2 JSD, the f-divergence bound.
EXPECTED_PROOFS = {"01": "IWAE", "03": "JSD", "07": "f-divergence"}


def _functions(tree):
    """Top-level functions and the methods of top-level classes, as {qualified name: node}."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            found.update({f"{node.name}.{m.name}": m for m in node.body
                          if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))})
    return found


def _body_lines(source):
    """The code lines of each function or method body (no docstring, no comments, no blank lines)."""
    lines = source.splitlines()
    found = []
    for node in _functions(ast.parse(source)).values():
        for line in lines[node.body[0].end_lineno:node.end_lineno]:
            if line.strip() and not line.strip().startswith("#"):
                found.append(line.strip())
    return found


@pytest.fixture(scope="session")  # not module: with pytest-xdist each lesson's run below is in that lesson's group
def student_dir(tmp_path_factory):  # (conftest.py), and a module fixture would be built again for each of them
    """The student edition, built by the command `make student` runs, into a temporary folder."""
    target = tmp_path_factory.mktemp("student") / "edition"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student.py"), str(ROOT / "notebooks"),
                             str(target)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr or result.stdout
    return target


def _student_cell(student_dir, exercise):
    return nbformat.read(student_dir / exercise.notebook, as_version=4).cells[exercise.cell]


def test_notebooks_follow_the_exercise_convention():
    assert SCAN_ERROR is None, str(SCAN_ERROR)


def test_there_are_exercises():
    headed = [path.name for path in NOTEBOOKS
              if any(cell.cell_type == "markdown" and (make_student.HEADING.search(cell.source)
                                                        or make_student.PAPER_HEADING.search(cell.source))
                     for cell in nbformat.read(path, as_version=4).cells)]
    assert headed, "no notebook has an `### Exercise:` heading"
    assert EXERCISES, "no exercise (a cell tagged 'solution') was found"
    assert set(WITH_EXERCISES) == set(headed)


def _solution_lines(exercise):
    """Lines of code in the solution's function and method bodies: no docstring, comment or blank line."""
    lines = exercise.solution.splitlines()
    found = []
    for node in _functions(ast.parse(exercise.solution)).values():
        first = node.body[0]
        docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str)
        for line in lines[(first.end_lineno if docstring else first.lineno - 1):node.end_lineno]:
            if line.strip() and not line.strip().startswith("#"):
                found.append(line.strip())
    return found


def test_most_exercises_are_substantive():
    """Issue 20: at least 14 substantive exercises (a model, a loss, a training step or an algorithm: 4 or more lines
    of code) and at most 8 one-liners (1 or 2 lines); a short function is shown in its lesson instead."""
    size = {f"{e.notebook[:2]} {e.checked}": len(_solution_lines(e)) for e in EXERCISES}
    assert min(size.values()) >= 1, f"a solution without code: {size}"
    one_liners = sorted(name for name, lines in size.items() if lines <= 2)
    substantive = sorted(name for name, lines in size.items() if lines >= 4)
    assert len(one_liners) <= 8, f"{len(one_liners)} one-liner exercises (at most 8): {one_liners}"
    assert len(substantive) >= 14, f"{len(substantive)} substantive exercises (at least 14): {substantive}"


def test_solution_lines_count_code_only():
    solution = ('def f(x):\n    """Doc."""\n    # a comment\n\n    y = x + 1\n    return y\n\n\n'
                'class M:\n    def g(self):\n        return 1\n')
    fake = make_student.Exercise("00_x.ipynb", "t", 0, ["f", "M"], "check_f", "f", 1, solution)
    assert _solution_lines(fake) == ["y = x + 1", "return y", "return 1"]


@pytest.mark.parametrize("number, topic", sorted(EXPECTED_PROOFS.items()))
def test_the_theory_notebooks_ask_for_their_proof(number, topic):
    titles = [proof.title for proof in PROOFS if proof.notebook.startswith(number)]
    assert any(topic.lower() in title.lower() for title in titles), \
        f"notebook {number} has no exercise on paper about {topic} (it has {titles})"


def test_edition_has_every_notebook_without_outputs_or_solution_tags(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for path in student_dir.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        instructor = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        # The badges would open the instructor notebook: a note replaces them; title and goals stay.
        header = nb.cells[0].source
        assert "colab.research.google.com/github" not in header and "mybinder.org/v2" not in header
        assert header.splitlines()[0] == instructor.cells[0].source.splitlines()[0]
        assert "Student edition" in header and "Learning goals" in header
        proof_cells = {proof.cell for proof in PROOFS if proof.notebook == path.name}
        assert [c.source for c in nb.cells[1:] if c.cell_type == "markdown"] == \
            [make_student.PROOF_STUB if i in proof_cells else c.source
             for i, c in enumerate(instructor.cells) if i > 0 and c.cell_type == "markdown"]
        for cell in nb.cells:
            assert "solution" not in cell.metadata.get("tags", []), f"{path.name} still tags a cell 'solution'"
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: f"{e.notebook[:2]}-{e.checker}")
def test_no_solution_body_survives(exercise, student_dir):
    cell = _student_cell(student_dir, exercise)
    assert cell.metadata.get("tags") and "exercise" in cell.metadata["tags"]
    student, instructor = ast.parse(cell.source), ast.parse(exercise.solution)
    student_defs, instructor_defs = _functions(student), _functions(instructor)
    assert student_defs.keys() == instructor_defs.keys()
    assert {name.split(".")[0] for name in student_defs} == set(exercise.functions)
    classes = {n.name: n for n in instructor.body if isinstance(n, ast.ClassDef)}
    for name, node in classes.items():  # a class keeps its docstring and its bases
        student_class = next(n for n in student.body if isinstance(n, ast.ClassDef) and n.name == name)
        assert ast.get_docstring(student_class) == ast.get_docstring(node)
        assert [ast.dump(b) for b in student_class.bases] == [ast.dump(b) for b in node.bases]
    for name, node in student_defs.items():
        # The signature and docstring are the task; they stay exactly as the instructor wrote them.
        assert ast.dump(node.args) == ast.dump(instructor_defs[name].args)
        assert ast.get_docstring(node) == ast.get_docstring(instructor_defs[name])
        assert len(node.body) == 2, f"{name}() keeps more than its docstring and a raise"
        raise_ = node.body[1]
        assert isinstance(raise_, ast.Raise) and isinstance(raise_.exc, ast.Call)
        assert raise_.exc.func.id == "NotImplementedError"
    # The imports stay (the cell must still run), nothing of the bodies does.
    imports = [ast.dump(n) for n in instructor.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == [ast.dump(n) for n in student.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    leaked = [line for line in _body_lines(exercise.solution) if line in cell.source and line != "pass"]
    assert not leaked, f"solution lines left in the student edition: {leaked}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: f"{e.notebook[:2]}-{e.checker}")
def test_checker_fails_on_the_stub_and_passes_on_the_solution(exercise, student_dir, monkeypatch, capsys):
    from tutorial_lib import checks

    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)
    checker = getattr(checks, exercise.checker, None)
    assert checker is not None, f"tutorial_lib.checks has no {exercise.checker}"

    stub_namespace = {}
    exec(compile(_student_cell(student_dir, exercise).source, f"<student {exercise.notebook}>", "exec"),
         stub_namespace)
    assert checker(stub_namespace[exercise.checked]) is False
    stub_feedback = capsys.readouterr().out
    assert "⏳" in stub_feedback and "not implemented yet" in stub_feedback

    solution_namespace = {}
    exec(compile(exercise.solution, f"<instructor {exercise.notebook}>", "exec"), solution_namespace)
    assert checker(solution_namespace[exercise.checked]) is True
    solution_feedback = capsys.readouterr().out
    assert "✅" in solution_feedback
    for line in _body_lines(exercise.solution):
        if len(line) > 12:  # feedback never shows the solution's code
            assert line not in stub_feedback + solution_feedback


# Its test id names the notebook, so each run joins that notebook's group (conftest.py): with pytest-xdist it never
# trains beside the same notebook's nbval run, whose checkpoints it shares.
@pytest.mark.parametrize("name", WITH_EXERCISES)
def test_unsolved_student_notebook_runs_top_to_bottom(name, student_dir, monkeypatch):
    """Fast mode, checks not strict, no exercise solved: every cell runs, every check cell says ⏳ (the later
    cells fall back to the library's code through use_yours)."""
    from nbclient import NotebookClient

    nb = nbformat.read(student_dir / name, as_version=4)
    for cell in nb.cells:  # like nbval: cells tagged nbval-skip (the Colab install cell) do not run
        if cell.cell_type == "code" and "nbval-skip" in cell.metadata.get("tags", []):
            cell.source = ""
    for variable, value in {"TUTORIAL_FAST": "1", "TUTORIAL_OFFLINE": "1", "MPLBACKEND": "agg", "CI": "true"}.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(student_dir)}})
    client.execute()  # raises CellExecutionError, with the failing cell and its traceback, on an error
    for exercise in (e for e in EXERCISES if e.notebook == name):
        check_output = "".join(output.get("text", "") for output in nb.cells[exercise.check_cell].outputs)
        assert "⏳" in check_output, f"the check cell of '{exercise.title}' printed {check_output!r}"


def _paragraphs(markdown):
    """The proof's sentences and formulas worth looking for: its lines of more than 25 characters."""
    return [line.strip() for line in markdown.splitlines() if len(line.strip()) > 25]


@pytest.mark.parametrize("proof", PROOFS, ids=lambda e: f"{e.notebook[:2]}-{e.title[:30]}")
def test_no_proof_survives(proof, student_dir):
    nb = nbformat.read(student_dir / proof.notebook, as_version=4)
    cell = nb.cells[proof.cell]
    assert cell.cell_type == "markdown" and cell.source == make_student.PROOF_STUB
    assert cell.metadata.get("tags") and "exercise" in cell.metadata["tags"]
    assert make_student.PAPER_HEADING.search(nb.cells[proof.heading_cell].source), "the question stays"
    everything = "\n".join(c.source for c in nb.cells)
    lines = _paragraphs(proof.solution)
    assert lines, "a proof of a few words is no proof"
    leaked = [line for line in lines if line in everything]
    assert not leaked, f"proof lines left in the student edition: {leaked}"


@pytest.fixture(scope="module")
def nbgrader_dir(tmp_path_factory):
    target = tmp_path_factory.mktemp("nbgrader") / "source"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student.py"), "--nbgrader",
                             str(ROOT / "notebooks"), str(target)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr or result.stdout
    return target


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: f"{e.notebook[:2]}-{e.checker}")
def test_nbgrader_version_grades_the_solution_and_the_release_stub(exercise, nbgrader_dir, monkeypatch, capsys):
    """What `nbgrader generate_assignment` and `autograde` would do, by hand: the release version
    (solution region replaced as nbgrader does) fails the test cell, the solution passes it."""
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)
    nb = nbformat.read(nbgrader_dir / exercise.notebook, as_version=4)
    answer, test = nb.cells[exercise.cell], nb.cells[exercise.check_cell]
    assert answer.metadata["nbgrader"]["solution"] is True and answer.metadata["nbgrader"]["grade"] is False
    assert test.metadata["nbgrader"]["grade"] is True and test.metadata["nbgrader"]["points"] > 0
    assert f"assert {exercise.checker}({exercise.checked})" in test.source
    assert answer.source.count("### BEGIN SOLUTION") == len(_functions(ast.parse(exercise.solution)))  # one per method
    release = re.sub(r"^(\s*)### BEGIN SOLUTION\n.*?### END SOLUTION", r"\1# YOUR CODE HERE\n\1raise NotImplementedError()",
                     answer.source, flags=re.S | re.M)
    from tutorial_lib import checks

    for source, passes in [(answer.source, True), (release, False)]:
        namespace = {exercise.checker: getattr(checks, exercise.checker)}  # imported earlier in the notebook
        exec(compile(source, "<answer>", "exec"), namespace)
        if passes:
            exec(compile(test.source, "<test>", "exec"), namespace)
        else:
            with pytest.raises(AssertionError):
                exec(compile(test.source, "<test>", "exec"), namespace)


@pytest.mark.parametrize("proof", PROOFS, ids=lambda e: f"{e.notebook[:2]}-{e.title[:30]}")
def test_nbgrader_version_keeps_each_proof_as_a_manually_graded_answer(proof, nbgrader_dir):
    nb = nbformat.read(nbgrader_dir / proof.notebook, as_version=4)
    answer = nb.cells[proof.cell]
    assert answer.cell_type == "markdown" and answer.source == proof.solution
    meta = answer.metadata["nbgrader"]
    assert meta["solution"] is True and meta["grade"] is True and meta["locked"] is False  # graded by hand
    assert meta["points"] > 0 and meta["grade_id"].startswith(f"{proof.notebook[:2]}-proof-")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "nbgrader needs a distinct grade_id per cell"
    assert "nbgrader" not in nb.cells[proof.heading_cell].metadata


# ---- the builder itself, on small notebooks written here ----

def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for kind, source, *tags in cells:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    return nb


SOLUTION = '''import math


@staticmethod
def my_norm(x,
            y):
    """Length of the vector (x, y)."""
    # Hint: Pythagoras.
    def square(v):
        return v * v
    # the sum of squares, then the root
    return math.sqrt(square(x) + square(y))
    # or simply math.hypot(x, y)


def helper():
    """Unused helper."""
    return 1
'''


def test_stub_keeps_signature_docstring_hints_and_drops_the_body():
    nb = _notebook(("md", "### Exercise: a norm\nWrite it."), ("code", SOLUTION, "solution"),
                   ("code", "check_norm(my_norm)"), ("code", "print(math.pi)"))
    [exercise] = make_student.student_notebook(nb, "t.ipynb")
    stub = nb.cells[1].source
    assert exercise.functions == ["my_norm", "helper"] and exercise.checker == "check_norm"
    assert "@staticmethod\ndef my_norm(x,\n            y):" in stub and '"""Length of the vector (x, y)."""' in stub
    assert "    # Hint: Pythagoras." in stub
    assert "sqrt" not in stub and "hypot" not in stub and "square" not in stub and "the sum of squares" not in stub and "return" not in stub
    assert stub.count("raise NotImplementedError(\"Exercise 'a norm'") == 2
    assert nb.cells[1].metadata["tags"] == ["exercise"]
    assert "\n\n\ndef helper():" in stub  # the blank lines between functions stay
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="a norm"):
        namespace["my_norm"](3, 4)


def test_nbgrader_source_wraps_each_body_in_solution_markers():
    source = make_student.nbgrader_source(SOLUTION)
    namespace = {}
    exec(source, namespace)
    assert namespace["my_norm"](3, 4) == 5.0
    assert source.count("    ### BEGIN SOLUTION") == 2 and source.count("    ### END SOLUTION") == 2
    body = source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    assert "math.sqrt" in body and "math.hypot" in body and '"""Length' not in body


CLASS_SOLUTION = '''from torch import nn


class Tiny(nn.Module):
    """A linear layer and a ReLU."""

    def __init__(self, width):
        """Build the layer."""
        super().__init__()
        # Hint: one nn.Linear.
        self.layer = nn.Linear(width, width)

    def forward(self, x):
        """Apply it."""
        return self.layer(x).relu()
'''


def test_a_class_keeps_its_docstring_and_signatures_and_loses_every_method_body():
    nb = _notebook(("md", "### Exercise: a module"), ("code", CLASS_SOLUTION, "solution"), ("code", "check_tiny(Tiny)"))
    [exercise] = make_student.student_notebook(nb, "t.ipynb")
    stub = nb.cells[1].source
    assert exercise.functions == ["Tiny"] and exercise.checked == "Tiny"
    assert "class Tiny(nn.Module):" in stub and '"""A linear layer and a ReLU."""' in stub
    assert "def __init__(self, width):" in stub and "def forward(self, x):" in stub and "# Hint: one nn.Linear." in stub
    assert "nn.Linear(width" not in stub and "relu" not in stub and "super()" not in stub
    assert stub.count("raise NotImplementedError") == 2
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="a module"):
        namespace["Tiny"](3)
    grader = make_student.nbgrader_source(CLASS_SOLUTION)
    assert grader.count("### BEGIN SOLUTION") == 2
    exec(grader, namespace)
    assert namespace["Tiny"](3).layer.in_features == 3


def test_later_cells_may_pass_the_exercise_to_use_yours():
    nb = _notebook(("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
                   ("code", "check_f(f)"), ("code", "g = use_yours(f, check_f, library_f)\ny = g(2)"),
                   ("code", "h = checks.use_yours(f, check_f, library_f)"))
    assert len(make_student.student_notebook(nb, "ok.ipynb")) == 1
    nb = _notebook(("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
                   ("code", "check_f(f)"), ("code", "g = use_yours(f, check_f, library_f)\ny = f(2)"))
    with pytest.raises(make_student.ConventionError, match="uses f from the exercise"):
        make_student.student_notebook(nb, "bad.ipynb")


def test_later_cells_may_use_a_library_function_of_the_same_name():
    nb = _notebook(("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
                   ("code", "check_f(f)"), ("code", "from somewhere import f\ny = f(2)"), ("code", "z = f(3)"))
    assert len(make_student.student_notebook(nb, "ok.ipynb")) == 1


@pytest.mark.parametrize("cells, message", [
    ([("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x"),
      ("code", "check_f(f)")], "not tagged 'solution'"),
    ([("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"), ("code", "check_f(f)")],
     "no `### Exercise: <title>` markdown heading"),
    ([("md", "### Exercise: x"), ("code", "N = 3\ndef f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
      ("code", "check_f(f)")], "only imports, function definitions and class definitions"),
    ([("md", "### Exercise: x"), ("code", "class C:\n    \"\"\"d\"\"\"\n    size = 3\n\n    def f(self):\n"
      "        \"\"\"d\"\"\"\n        return 1", "solution"), ("code", "check_c(C)")], "only its docstring and documented methods"),
    ([("md", "### Exercise: x"), ("code", "class C:\n    def f(self):\n        \"\"\"d\"\"\"\n        return 1", "solution"),
      ("code", "check_c(C)")], "class C has no docstring"),
    ([("md", "### Exercise: x"), ("code", "class C:\n    \"\"\"d\"\"\"\n\n    def f(self):\n        return 1", "solution"),
      ("code", "check_c(C)")], "C.f() has no docstring"),
    ([("md", "### Exercise: x"), ("code", "def f(x):\n    return x", "solution"), ("code", "check_f(f)")],
     "no docstring"),
    ([("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution")],
     "not followed by a check cell"),
    ([("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
      ("code", "f(3)")], "should call `check_<name>(<function>)`"),
    ([("md", "### Exercise: x"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
      ("code", "check_f(f)"), ("code", "y = f(2)")], "uses f from the exercise"),
    ([("md", "### Exercise: x\n\n### Exercise: y"), ("code", "def f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
      ("code", "check_f(f)")], "has no solution cell"),
    ([("md", "### Exercise: x"), ("code", "%time 1\ndef f(x):\n    \"\"\"d\"\"\"\n    return x", "solution"),
      ("code", "check_f(f)")], "not plain Python"),
])
def test_builder_refuses_cells_that_break_the_convention(cells, message):
    with pytest.raises(make_student.ConventionError, match=re.escape(message)):
        make_student.student_notebook(_notebook(*cells), "bad.ipynb")


def test_command_line_fails_clearly_and_writes_nothing(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    nbformat.write(_notebook(("md", "### Exercise: x"), ("code", "def f(x):\n    return x", "solution"),
                             ("code", "check_f(f)")), source / "01_bad.ipynb")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student.py"), str(source),
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "01_bad.ipynb, cell 1" in result.stderr and "docstring" in result.stderr
    assert not (tmp_path / "out").exists()


def test_builder_never_replaces_a_folder_it_did_not_write(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    nbformat.write(_notebook(("md", "# 01 · x"), ("code", "print(1)")), source / "01_x.ipynb")
    with pytest.raises(ValueError, match="overwrite its source"):
        make_student.build(source, source)
    with pytest.raises(ValueError, match="overwrite its source"):
        make_student.build(source, tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "precious.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not written by make_student.py"):
        make_student.build(source, tmp_path / "other")
    assert (tmp_path / "other" / "precious.txt").read_text() == "keep"
    make_student.build(source, tmp_path / "out")
    (tmp_path / "out" / "stale.ipynb").write_text("{}")
    make_student.build(source, tmp_path / "out")  # its own output: replaced, stale files gone
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [make_student.MARKER, "01_x.ipynb"]


def test_builder_copies_files_beside_the_notebooks(tmp_path):
    source = tmp_path / "notebooks"
    (source / "figures").mkdir(parents=True)
    (source / "figures" / "elbo.png").write_bytes(b"png")
    nbformat.write(_notebook(("md", "# 01 · x"), ("code", "print(1)")), source / "01_x.ipynb")
    (source / ".ipynb_checkpoints").mkdir()
    exercises = make_student.build(source, tmp_path / "out")
    assert exercises == []
    assert (tmp_path / "out" / "figures" / "elbo.png").read_bytes() == b"png"
    assert not (tmp_path / "out" / ".ipynb_checkpoints").exists()


PROOF = "**Proof.** By Jensen's inequality, $\\log \\mathbb E[Y] \\ge \\mathbb E[\\log Y]$ for every positive $Y$.\n\nHence the bound. $\\square$"


def _with_a_proof():
    return _notebook(("md", "### Exercise: a norm\nWrite it."), ("code", SOLUTION, "solution"),
                     ("code", "check_norm(my_norm)"),
                     ("md", "### Exercise (on paper): the bound\nProve that the bound holds."), ("md", PROOF, "solution"),
                     ("md", "Back to the lesson."), ("code", "print(math.pi)"))


def test_a_proof_is_hidden_in_the_student_edition_and_code_exercises_are_unaffected():
    reference, nb = _notebook(("md", "### Exercise: a norm\nWrite it."), ("code", SOLUTION, "solution"),
                              ("code", "check_norm(my_norm)")), _with_a_proof()
    [code_only] = make_student.student_notebook(reference, "r.ipynb")
    code, proof = make_student.student_notebook(nb, "t.ipynb")
    assert isinstance(code, make_student.Exercise) and isinstance(proof, make_student.PaperExercise)
    assert (proof.title, proof.cell, proof.heading_cell, proof.solution) == ("the bound", 4, 3, PROOF)
    assert nb.cells[4].source == make_student.PROOF_STUB and nb.cells[4].metadata["tags"] == ["exercise"]
    assert nb.cells[3].source.startswith("### Exercise (on paper): the bound") and nb.cells[5].source == "Back to the lesson."
    assert "Jensen" not in "".join(cell.source for cell in nb.cells)
    assert nb.cells[1].source == reference.cells[1].source and code.stub == code_only.stub  # the code stub as before
    assert (code.checker, code.checked, code.check_cell) == ("check_norm", "my_norm", 2)


def test_nbgrader_keeps_a_proof_as_a_manually_graded_answer_cell():
    nb = _with_a_proof()
    code, proof = make_student.student_notebook(nb, "01_t.ipynb", nbgrader=True)
    cell = nb.cells[proof.cell]
    assert cell.cell_type == "markdown" and cell.source == PROOF   # nbgrader generate_assignment empties it
    assert cell.metadata["nbgrader"] == {"grade": True, "grade_id": "01-proof-the-bound", "locked": False,
                                         "points": make_student.PROOF_POINTS, "schema_version": 3,
                                         "solution": True, "task": False}
    assert "tags" not in cell.metadata or "exercise" not in cell.metadata["tags"]
    # the code exercise is exported as before: an autograded answer and a 1-point test
    assert nb.cells[1].metadata["nbgrader"]["grade"] is False and nb.cells[2].metadata["nbgrader"]["points"] == 1
    assert "### BEGIN SOLUTION" in nb.cells[1].source and nb.cells[2].source == "assert check_norm(my_norm)"


@pytest.mark.parametrize("cells, message", [
    ([("md", "Some text.", "solution")], "does not follow a `### Exercise (on paper): <title>` heading"),
    ([("md", "### Exercise (on paper): p"), ("md", PROOF)], "is not a markdown cell tagged 'solution'"),
    ([("md", "### Exercise (on paper): p"), ("code", "x = 1", "solution")], "is not a markdown cell tagged 'solution'"),
    ([("md", "### Exercise (on paper): p"), ("code", "x = 1")], "is not a markdown cell tagged 'solution'"),
    ([("md", "Text."), ("md", "### Exercise (on paper): p")], "has no proof cell"),
    ([("md", "### Exercise (on paper): p"), ("md", "### Exercise (on paper): q\n" + PROOF, "solution")],
     "holds an exercise heading"),
    ([("md", "### Exercise (on paper): p\n\n### Exercise (on paper): q"), ("md", PROOF, "solution")],
     "has no solution cell before the next exercise"),
    ([("md", "### Exercise: x"), ("md", "### Exercise (on paper): p"), ("md", PROOF, "solution")],
     "exercise 'x' has no solution cell"),
])
def test_builder_refuses_proofs_that_break_the_convention(cells, message):
    with pytest.raises(make_student.ConventionError, match=re.escape(message)):
        make_student.student_notebook(_notebook(*cells), "bad.ipynb")
