"""Tools for writing the course's notebooks: the shared header (title, badges, goals, time) and the
Colab install cell, and stripping outputs. Used by authors (and tests) so badges come from one place:
``tutorial_lib.REPO``.

    python scripts/nbtools.py strip notebooks/*.ipynb     # remove outputs and execution counts
"""
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tutorial_lib import BRANCH, REPO  # noqa: E402

INSTALL_TAG = "nbval-skip"


def colab_url(notebook_name):
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{notebook_name}"


def binder_url(notebook_name):
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook_name}"


def badges(notebook_name):
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook_name)}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook_name)})")


def install_source():
    return ("# On Google Colab only: install the course's helper library (Colab already has PyTorch,\n"
            "# which is left as it is). Elsewhere `make lab` has set everything up and this does nothing.\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    %pip install -q \"tutorial_lib @ git+https://github.com/{REPO}@{BRANCH}\"")


def header_cells(notebook_name, title, goals, minutes_full, seconds_fast, intro=""):
    """The first two cells of every notebook: a markdown header and the guarded Colab install cell."""
    goal_lines = "\n".join(f"- {goal}" for goal in goals)
    text = (f"# {title}\n\n{badges(notebook_name)}\n\n"
            + (f"{intro}\n\n" if intro else "")
            + f"**Learning goals.** By the end of this notebook you can:\n{goal_lines}\n\n"
            f"**Estimated time on a laptop CPU:** about {minutes_full} min in full mode, "
            f"about {seconds_fast} s in fast mode (`TUTORIAL_FAST=1`).")
    install = nbformat.v4.new_code_cell(install_source())
    install.metadata["tags"] = [INSTALL_TAG]
    return [nbformat.v4.new_markdown_cell(text), install]


def strip(path):
    """Remove outputs and execution counts from a notebook in place."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "strip":
        sys.exit(__doc__)
    for name in sys.argv[2:]:
        strip(name)
        print(f"stripped {name}")
