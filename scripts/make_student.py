"""Build the student edition of the course: the same notebooks with every exercise's solution removed.

    python scripts/make_student.py notebooks build/student      # what `make student` runs
    python scripts/make_student.py --nbgrader notebooks build/nbgrader   # nbgrader's source version

An exercise is a markdown cell with a `### Exercise: <title>` heading, then a code cell tagged
`solution` holding only imports, `def`s and `class`es (each with a docstring; a class holds only
documented methods), then a check cell calling `check_<name>(<function or class>)`. In the student
edition each function and method keeps its decorators, signature and docstring, and its body becomes
`raise NotImplementedError(...)`; full-line comments in the body
that start with `# Hint` or `# TODO` are kept (they are part of the exercise text), every other
line of the body goes. The cell's tag `solution` becomes `exercise`. Markdown is kept as it is,
except the header's Colab/Binder badges (they open the instructor notebooks), replaced by a note;
every output is stripped. Files beside the notebooks (images, say) are copied along.

The student notebooks import `tutorial_lib` like the instructor ones: from `.venv` (`make lab`),
from the Colab install cell, or from `pip install "tutorial_lib @ git+<repo>"`. Nothing else is
needed beside them; MNIST is found through `tutorial_lib.data.data_root()`.

With --nbgrader it writes nbgrader's *source* version instead: the solutions stay, each function body
between `### BEGIN SOLUTION` / `### END SOLUTION`, the solution cell is an autograded answer and the
check cell an autograder test (1 point) reading `assert check_<name>(<function>)`.

A paper exercise (a proof) is a markdown cell with a `### Exercise (on paper): <title>` heading, then a
*markdown* cell tagged `solution` holding the proof. The student edition replaces the proof by
"*Write your proof here.*" (tag `exercise`); nbgrader's source version keeps it as a manually graded answer
cell (`solution: true, grade: true`, 2 points), which `nbgrader generate_assignment` empties for the learners.

A solution cell that breaks the convention stops the build with a message naming the notebook,
the cell and what to change, so that no solution can slip into the student edition unnoticed.
"""
import ast
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

SOLUTION_TAG = "solution"
MARKER = ".made-by-make_student"  # an output folder with this file may be replaced
EXERCISE_TAG = "exercise"
HEADING = re.compile(r"^###\s+Exercise:\s*(.+?)\s*$", re.M)
PAPER_HEADING = re.compile(r"^###\s+Exercise\s*\(on paper\):\s*(.+?)\s*$", re.M)
PROOF_STUB = "*Write your proof here.*"
PROOF_POINTS = 2  # a proof is worth two code exercises' check cells
KEPT_COMMENT = re.compile(r"^\s*#\s*(hint|todo)\b", re.I)
BADGES = re.compile(r"\[!\[(Open In Colab|Binder)\]\([^)]*\)\]\([^)]*\)\s?")
STUDENT_NOTE = ("*Student edition: write your code where an exercise says `raise NotImplementedError`, then run "
                "the check cell below it. On Colab, upload this file (File → Upload notebook): its first code "
                "cell installs the course library.*")


class ConventionError(ValueError):
    """A notebook breaks the exercise convention (see this module's docstring)."""


@dataclass
class Exercise:
    """One exercise: where it is, its functions, and the instructor's and student's code."""

    notebook: str
    title: str
    cell: int  # index of the solution cell (the same in both editions)
    functions: list
    checker: str  # e.g. "check_ink_fraction"
    checked: str  # the function the check cell passes, e.g. "my_ink_fraction"
    check_cell: int
    solution: str
    stub: str = ""
    kept_comments: list = field(default_factory=list)


@dataclass
class PaperExercise:
    """One exercise on paper: where its heading and its proof (a markdown solution cell) are, and the proof."""

    notebook: str
    title: str
    cell: int  # index of the proof cell (the same in both editions)
    heading_cell: int
    solution: str


def _fail(notebook, cell, problem):
    raise ConventionError(f"{notebook}, cell {cell}: {problem} "
                          "(convention: `### Exercise: <title>` markdown, then a code cell tagged 'solution' "
                          "with only imports and documented functions or classes, then `check_<name>(<function>)`; "
                          "or, for a proof, `### Exercise (on paper): <title>` markdown, then a markdown cell "
                          "tagged 'solution' holding the proof).")


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _function_bodies(source, where):
    """Check a solution cell; return its lines, its function names and, per function, (first body line,
    end of body, indent) with 0-based line slices; the body ends after its last indented comment."""
    notebook, cell = where
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        _fail(notebook, cell, f"the solution cell is not plain Python ({error.msg}, line {error.lineno}); "
                              "no magics or shell commands in a solution cell")
    lines = source.splitlines()
    functions, cuts = [], []

    def cut(node, owner=""):
        """Record the body of function `node` (a method of class `owner` when given) as one cut."""
        label = f"{owner}.{node.name}" if owner else node.name
        docstring = node.body[0]
        if ast.get_docstring(node) is None:
            _fail(notebook, cell, f"function {label}() has no docstring; the docstring is what the "
                                  "student edition keeps as the task, so write one")
        if docstring.lineno == node.lineno:
            _fail(notebook, cell, f"put the docstring of {label}() on its own line below the `def`")
        if len(node.body) == 1:
            _fail(notebook, cell, f"function {label}() has only a docstring: there is no solution to hide")
        if node.body[1].lineno == docstring.end_lineno:
            _fail(notebook, cell, f"start the body of {label}() on a new line after its docstring")
        indent, end = docstring.col_offset, node.end_lineno
        for k in range(node.end_lineno, len(lines)):  # trailing comments inside the function belong to it
            if lines[k].strip() and not (lines[k].startswith(" " * indent) and lines[k].strip().startswith("#")):
                break
            if lines[k].strip():
                end = k + 1
        cuts.append((docstring.end_lineno, end, indent))  # ast's line numbers are 1-based

    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a module-level string: text, not code
        if isinstance(node, ast.ClassDef):  # a class: its docstring stays, every method is cut like a function
            if ast.get_docstring(node) is None:
                _fail(notebook, cell, f"class {node.name} has no docstring; the docstring is what the "
                                      "student edition keeps as the task, so write one")
            methods = [m for m in node.body[1:] if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            others = [m for m in node.body[1:] if not isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            if others or not methods:
                _fail(notebook, cell, f"class {node.name} may hold only its docstring and documented methods "
                                      f"(line {(others[0].lineno if others else node.lineno)}); set attributes "
                                      "inside __init__")
            for method in methods:
                cut(method, node.name)
            functions.append(node.name)
            continue
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _fail(notebook, cell, f"line {node.lineno} is a {type(node).__name__.lower()}, but a solution cell "
                                  "may hold only imports, function definitions and class definitions; move it "
                                  "into a function or into another cell")
        cut(node)
        functions.append(node.name)
    if not functions:
        _fail(notebook, cell, "the solution cell defines no function")
    return lines, functions, cuts


def _rewrite_bodies(source, where, replace):
    lines, functions, cuts = _function_bodies(source, where)
    out, position = [], 0
    for body_start, body_end, indent in cuts:
        out.extend(lines[position:body_start])
        out.extend(replace(lines[body_start:body_end], " " * indent))
        position = body_end
    out.extend(lines[position:])
    return "\n".join(out) + ("\n" if source.endswith("\n") else ""), functions


def stub_source(source, title, where=("?", "?")):
    """The student version of a solution cell's `source`: each top-level function body replaced by
    `raise NotImplementedError`. Returns (new source, function names, kept comment lines)."""
    message = f"Exercise '{title}': replace this line with your code" if title else "replace this line with your code"
    kept = []

    def replace(body, indent):
        comments = [line for line in body if KEPT_COMMENT.match(line)]
        kept.extend(line.strip() for line in comments)
        return comments + [f"{indent}raise NotImplementedError({message!r})"]

    stub, functions = _rewrite_bodies(source, where, replace)
    return stub, functions, kept


def nbgrader_source(source, where=("?", "?")):
    """The solution cell for nbgrader's source version: each function body between
    `### BEGIN SOLUTION` and `### END SOLUTION` (what `nbgrader generate_assignment` removes)."""
    return _rewrite_bodies(source, where, lambda body, indent: [f"{indent}### BEGIN SOLUTION", *body,
                                                                 f"{indent}### END SOLUTION"])[0]


def _check_call(source, functions, where):
    """(checker name, checked function) of the check cell's `check_<name>(<function>)` call."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_")
                and len(node.args) == 1 and isinstance(node.args[0], ast.Name) and node.args[0].id in functions):
            return node.func.id, node.args[0].id
    _fail(*where, f"the cell after the solution should call `check_<name>(<function>)` on one of "
                  f"{', '.join(functions)}, but it reads {source.strip()[:120]!r}")


def _names(source):
    """(names a cell reads, names it binds: imports, defs, assignments). A name passed straight to
    `use_yours(...)` is not counted as read: use_yours falls back to the library's version of a stub."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # magics: fall back to words
        return set(re.findall(r"[A-Za-z_]\w*", source)), set()
    used, bound = set(), set()
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "use_yours":
            guarded.update(id(arg) for arg in node.args[:1] if isinstance(arg, ast.Name))
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return used, bound


def _student_badges(cell):
    """The header's Colab/Binder badges open the instructor notebooks on GitHub: replace them with a note."""
    if cell.cell_type == "markdown" and BADGES.search(cell.source):
        cell.source = BADGES.sub("", cell.source).rstrip(" ")
        cell.source = re.sub(r"\n{3,}", "\n\n", cell.source.replace("\n \n", "\n\n"))
        title, _, rest = cell.source.partition("\n")
        cell.source = f"{title}\n\n{STUDENT_NOTE}\n" + (f"\n{rest.strip()}" if rest.strip() else "")


def _nbgrader(cell, grade_id, solution):
    """nbgrader's cell metadata: an autograded answer (solution) or an autograder test (1 point)."""
    meta = {"grade": not solution, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if not solution:
        meta["points"] = 1
    cell.metadata["nbgrader"] = meta


def student_notebook(nb, name="notebook", nbgrader=False):
    """Turn an instructor notebook (nbformat v4) into the student edition, in place (or, with
    `nbgrader=True`, into nbgrader's source version: solutions between BEGIN/END SOLUTION markers,
    nbgrader metadata, and `assert check_<name>(<function>)` test cells).
    Returns the `Exercise`s and `PaperExercise`s found, in the notebook's order; raises ConventionError on a
    cell that breaks the convention."""
    exercises, proofs, pending, pending_cell, paper = [], [], None, None, None
    if nb.cells:
        _student_badges(nb.cells[0])
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        tags = list(cell.metadata.get("tags", []))
        if paper is not None and not (cell.cell_type == "markdown" and SOLUTION_TAG in tags):
            _fail(name, index, f"the cell after '### Exercise (on paper): {paper[0]}' is not a markdown cell "
                               f"tagged '{SOLUTION_TAG}', so its proof would be handed out; put the proof in a "
                               "markdown cell right after the heading and tag it")
        if cell.cell_type == "markdown":
            if SOLUTION_TAG in tags:  # a proof: hidden in the student edition, graded by hand in nbgrader's
                if paper is None:
                    _fail(name, index, f"this markdown cell is tagged '{SOLUTION_TAG}' but does not follow a "
                                       "`### Exercise (on paper): <title>` heading cell")
                if HEADING.search(cell.source) or PAPER_HEADING.search(cell.source):
                    _fail(name, index, "a proof cell holds an exercise heading; put the heading in the cell before")
                title, heading_cell = paper
                proofs.append(PaperExercise(name, title, index, heading_cell, cell.source))
                if nbgrader:
                    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"{Path(name).stem[:2]}-proof-{_slug(title)}",
                                                 "locked": False, "points": PROOF_POINTS, "schema_version": 3,
                                                 "solution": True, "task": False}
                else:
                    cell.source = PROOF_STUB
                    cell.metadata["tags"] = [EXERCISE_TAG if tag == SOLUTION_TAG else tag for tag in tags]
                paper = None
                continue
            titles, paper_titles = HEADING.findall(cell.source), PAPER_HEADING.findall(cell.source)
            if titles or paper_titles:
                if pending is not None or len(titles) + len(paper_titles) > 1:
                    _fail(name, pending_cell if pending is not None else index,
                          f"exercise '{pending or (titles + paper_titles)[0]}' has no solution cell before the "
                          "next exercise")
                if titles:
                    pending, pending_cell = titles[0], index
                else:
                    paper = (paper_titles[0], index)
            continue
        if cell.cell_type != "code":
            continue
        if SOLUTION_TAG in tags:
            if pending is None:
                _fail(name, index, "this solution cell has no `### Exercise: <title>` markdown heading before it")
            solution = cell.source
            stub, functions, kept = stub_source(solution, pending, (name, index))
            check_index = next((i for i in range(index + 1, len(nb.cells)) if nb.cells[i].cell_type == "code"), None)
            if check_index is None:
                _fail(name, index, "the solution cell is not followed by a check cell")
            checker, checked = _check_call(nb.cells[check_index].source, functions, (name, check_index))
            if nbgrader:
                stub = nbgrader_source(solution, (name, index))
                grade_id = f"{Path(name).stem[:2]}-{checked}"
                _nbgrader(cell, grade_id, solution=True)
                check = nb.cells[check_index]
                check.source = re.sub(rf"^(\s*)({checker}\({checked}\))\s*$", r"\1assert \2", check.source,
                                      flags=re.M)
                _nbgrader(check, f"{grade_id}-check", solution=False)
            cell.source = stub
            if not nbgrader:
                cell.metadata["tags"] = [EXERCISE_TAG if tag == SOLUTION_TAG else tag for tag in tags]
            exercises.append(Exercise(name, pending, index, functions, checker, checked, check_index, solution,
                                      stub, kept))
            pending = None
        elif pending is not None:
            _fail(name, index, f"the first code cell after '### Exercise: {pending}' is not tagged "
                               f"'{SOLUTION_TAG}', so its solution would be handed out; tag it")
    if pending is not None:
        _fail(name, pending_cell, f"exercise '{pending}' has no solution cell")
    if paper is not None:
        _fail(name, paper[1], f"exercise on paper '{paper[0]}' has no proof cell (a markdown cell tagged "
                              f"'{SOLUTION_TAG}') after it")
    # Later cells must not call an exercise function: with the stubs they would fail in the student edition.
    # A cell that binds the name again (say, imports the library's function of that name) ends the watch.
    for exercise in exercises:
        watched = set(exercise.functions)
        for index in range(exercise.check_cell + 1, len(nb.cells)):
            cell = nb.cells[index]
            if cell.cell_type != "code" or SOLUTION_TAG in cell.metadata.get("tags", []) \
                    or EXERCISE_TAG in cell.metadata.get("tags", []):
                continue
            used, bound = _names(cell.source)
            watched -= bound
            used &= watched
            if used and not any(e.check_cell == index for e in exercises):
                _fail(name, index, f"this cell uses {', '.join(sorted(used))} from the exercise "
                                   f"'{exercise.title}', which is a stub in the student edition; "
                                   "use the library's version instead")
    return sorted(exercises + proofs, key=lambda exercise: exercise.cell)


def build(source_dir, target_dir, nbgrader=False):
    """Write the student edition (or nbgrader's source version) of every notebook in `source_dir` to
    `target_dir` (replacing it). Returns the list of `Exercise`s and `PaperExercise`s; raises ConventionError
    without writing anything on a bad cell."""
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks in {source_dir}")
    editions, exercises = [], []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        exercises += student_notebook(nb, path.name, nbgrader=nbgrader)
        editions.append((path.name, nb))
    if source_dir.resolve() == target_dir.resolve() or target_dir.resolve() in source_dir.resolve().parents:
        raise ValueError(f"the edition would overwrite its source: write it elsewhere than {target_dir}")
    if target_dir.exists() and any(target_dir.iterdir()):
        if not (target_dir / MARKER).exists():
            raise FileExistsError(f"{target_dir} exists and was not written by make_student.py; "
                                  "remove it or choose another folder")
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    (target_dir / MARKER).write_text("Written by scripts/make_student.py; replaced by each run.\n")
    for name, nb in editions:
        nbformat.write(nb, target_dir / name)
    for extra in source_dir.iterdir():  # images and other files the notebooks refer to
        if extra.suffix == ".ipynb" or extra.name.startswith(".") or extra.name == "__pycache__":
            continue
        if extra.is_dir():
            shutil.copytree(extra, target_dir / extra.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(extra, target_dir / extra.name)
    return exercises


def main(argv):
    nbgrader = "--nbgrader" in argv
    argv = [arg for arg in argv if arg != "--nbgrader"]
    if len(argv) != 2:
        sys.exit(__doc__)
    try:
        exercises = build(*argv, nbgrader=nbgrader)
    except (ConventionError, ValueError, FileExistsError, FileNotFoundError) as error:
        sys.exit(f"make_student: {error}")
    notebooks = len({e.notebook for e in exercises})
    kind = "nbgrader source version" if nbgrader else "Student edition"
    papers = sum(isinstance(e, PaperExercise) for e in exercises)
    print(f"{kind} written to {argv[1]}/: {len(exercises) - papers} code exercises and {papers} exercises on "
          f"paper in {notebooks} notebooks.")
    for exercise in exercises:
        if isinstance(exercise, PaperExercise):
            print(f"  {exercise.notebook}: {exercise.title} (on paper, graded by hand)")
        else:
            print(f"  {exercise.notebook}: {exercise.title} ({', '.join(exercise.functions)}; {exercise.checker})")


if __name__ == "__main__":
    main(sys.argv[1:])
