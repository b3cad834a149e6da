"""Colab and Binder: every notebook's badges and Colab install cell are the ones scripts/nbtools.py makes
from tutorial_lib.REPO, and the install cell runs only on Colab and leaves Colab's torch alone.
(The general notebook structure is tests/test_notebooks.py's job.)"""
import ast
import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

import tutorial_lib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("nbtools", ROOT / "scripts" / "nbtools.py")
nbtools = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbtools)

LINK = re.compile(r"\[!\[(?P<alt>[^\]]*)\]\((?P<image>[^)]*)\)\]\((?P<url>[^)]*)\)")


def _install_calls(source):
    """The pip command lines of a cell (magics included) with the condition that guards each."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    found = []

    def visit(nodes, guard):
        for node in nodes:
            if isinstance(node, ast.If):
                visit(node.body, ast.unparse(node.test))
                visit(node.orelse, f"not ({ast.unparse(node.test)})")
                continue
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in ("run_line_magic", "system")):
                    command = " ".join(str(a.value) for a in call.args if isinstance(a, ast.Constant))
                    if re.search(r"\b(pip|conda|mamba|apt|apt-get)\b.*\binstall\b", command):
                        found.append((command, guard))
                elif (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                      and call.func.attr in ("check_call", "run", "call") and "pip" in ast.unparse(call)):
                    found.append((ast.unparse(call), guard))

    visit(tree.body, None)
    return found


@pytest.fixture(params=NOTEBOOKS, ids=lambda path: path.stem)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_badges_come_from_nbtools(notebook):
    path, nb = notebook
    header = nb.cells[0].source
    assert nbtools.badges(path.name) in header, \
        f"{path.name}: the badges differ from scripts/nbtools.badges(); rebuild the header with header_cells()"
    links = {m["alt"]: m["url"] for m in LINK.finditer(header)}
    assert links["Open In Colab"] == (f"https://colab.research.google.com/github/{tutorial_lib.REPO}/blob/"
                                      f"{tutorial_lib.BRANCH}/notebooks/{path.name}")
    binder = urlparse(links["Binder"])
    assert binder.netloc == "mybinder.org" and binder.path == f"/v2/gh/{tutorial_lib.REPO}/{tutorial_lib.BRANCH}"
    assert parse_qs(binder.query)["urlpath"] == [f"lab/tree/notebooks/{path.name}"]  # JupyterLab, this notebook


def test_install_cell_is_nbtools_and_skipped_by_nbval(notebook):
    path, nb = notebook
    install = nb.cells[1]
    assert install.cell_type == "code" and install.source == nbtools.install_source(), \
        f"{path.name}: cell 1 should be scripts/nbtools.install_source() exactly"
    assert nbtools.INSTALL_TAG == "nbval-skip" and "nbval-skip" in install.metadata.get("tags", [])


def test_install_runs_only_on_colab_and_leaves_torch_alone():
    calls = _install_calls(nbtools.install_source())
    assert len(calls) == 1
    command, guard = calls[0]
    assert guard == "'google.colab' in sys.modules"
    assert command.startswith("pip install")
    assert f"tutorial_lib @ git+https://github.com/{tutorial_lib.REPO}@{tutorial_lib.BRANCH}" in command
    assert not re.search(r"\btorch", command), "the Colab install cell must not install torch or torchvision"
    assert "--upgrade" not in command and "-U " not in command and "--force" not in command
    # Outside Colab the cell does nothing at all.
    namespace = {}
    exec(TransformerManager().transform_cell(nbtools.install_source()), namespace)
    assert "google.colab" not in sys.modules


def test_no_other_cell_installs_packages(notebook):
    path, nb = notebook
    for index, cell in enumerate(nb.cells[2:], start=2):
        if cell.cell_type == "code":
            assert not _install_calls(cell.source), f"{path.name}, cell {index} installs packages; only cell 1 may"


def test_install_name_matches_the_package():
    import tomllib

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"] == "tutorial_lib"


def test_readme_binder_badge_opens_lab_on_notebook_00():
    readme = (ROOT / "README.md").read_text()
    assert nbtools.binder_url("00_setup_and_data.ipynb") in readme
    assert nbtools.colab_url("00_setup_and_data.ipynb") in readme
