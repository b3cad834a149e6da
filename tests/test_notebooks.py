"""Structure every lesson shares (nbval executes the notebooks themselves)."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SYLLABUS = ["00_setup_and_data", "01_latent_variables_and_the_elbo", "02_building_a_vae", "03_the_gan_objective",
            "04_building_a_gan", "05_stabilizing_gans", "06_comparing_vaes_and_gans", "07_divergences",
            "08_conditional_and_hybrid_models", "09_stacked_mnist"]


def test_there_are_notebooks_and_they_follow_the_syllabus():
    names = [path.stem for path in NOTEBOOKS]
    assert "00_setup_and_data" in names
    assert set(names) <= set(SYLLABUS), f"not in the syllabus: {set(names) - set(SYLLABUS)}"


@pytest.fixture(params=NOTEBOOKS, ids=lambda path: path.stem)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_committed_without_outputs(notebook):
    path, nb = notebook
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs; run `python scripts/nbtools.py strip {path}`"


def test_valid_notebook_format(notebook):
    path, nb = notebook
    nbformat.validate(nb)


def test_header_title_goals_and_time(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    number = path.stem[:2]
    assert re.match(rf"# {number} · \S", first.source), f"{path.name}: title should read '# {number} · ...'"
    assert "Learning goals" in first.source and "Estimated time" in first.source
    assert re.search(r"about \d+ min in full mode, about \d+ s in fast mode", first.source)


def test_summary_exercises_and_seed(notebook):
    path, nb = notebook
    markdown = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert re.search(r"^## Summary", markdown, re.M), f"{path.name} has no '## Summary' section"
    assert re.search(r"^#+ Exercise", markdown, re.M), f"{path.name} has no exercises"
    assert "seed_everything(" in code, f"{path.name} never seeds its random numbers"
    assert "assert " in code, f"{path.name} checks none of its claims with assert"


def test_readme_syllabus_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"README's syllabus table does not link {path.name}"


EXERCISE = re.compile(r"^###\s+Exercise(\s*\(on paper\))?:\s*(.+?)\s*$", re.M)


def _exercises(path):
    """[(title, on_paper)] of a notebook's exercises, and the checkers its code cells call."""
    nb = nbformat.read(path, as_version=4)
    found = [(title, bool(paper)) for cell in nb.cells if cell.cell_type == "markdown"
             for paper, title in EXERCISE.findall(cell.source)]
    checkers = {name for cell in nb.cells if cell.cell_type == "code"
                for name in re.findall(r"^(check_\w+)\(", cell.source, re.M)}
    return found, checkers


def _flat(text):
    return " ".join(text.split())


def test_readme_and_teachers_guide_list_every_exercise():
    readme = (ROOT / "README.md").read_text()
    section = _flat(readme.split("<!-- teachers:start -->")[1].split("<!-- teachers:end -->")[0])
    guide = _flat((ROOT / "docs" / "teachers.md").read_text())
    code = paper = 0
    for path in NOTEBOOKS:
        found, checkers = _exercises(path)
        code += sum(not on_paper for _, on_paper in found)
        paper += sum(on_paper for _, on_paper in found)
        number = path.stem[:2]
        line = re.search(rf"- {number}: (.*?)(?= - \d\d: | The full guide|$)", section)
        row = re.search(rf"\| {number} [^|]*\| ([^|]*) \|", guide)
        assert line and row, f"the README's exercise list or docs/teachers.md's table has no entry for {path.name}"
        for title, _ in found:
            assert _flat(title) in line.group(1), f"README: exercise '{title}' of {path.name} is not listed"
            assert _flat(title) in row.group(1), f"docs/teachers.md: exercise '{title}' of {path.name} is not listed"
        for name in checkers:
            assert f"`{name}`" in line.group(1) and f"`{name}`" in row.group(1), f"{name} of {path.name} not listed"
    total = code + paper
    assert f"The {total} exercises" in section and f"{code} in code" in section and f"{paper} proofs" in section
    assert f"There are {total} exercises: {code} in code" in guide and f"{paper} proofs" in guide
