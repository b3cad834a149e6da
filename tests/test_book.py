"""The course website (scripts/book.py, book/): what the build generates, and the built site itself.

The first group checks the generated sources without building: every notebook in notebooks/ is in the table
of contents, the launch buttons and repository link come from tutorial_lib (the badges' constant), the landing
page is the README's introduction and syllabus, the references page collects the lessons' "References"
sections, and widgets become static snapshots holding exactly the widget's image.

The second group checks build/book/html/ when it exists (CI builds it first: `TUTORIAL_FAST=1 make book` in
.ci/run, which sets TUTORIAL_REQUIRE_BOOK=1 so that a missing site fails instead of skipping): a page for every
notebook, with outputs, LaTeX and launch buttons, no broken internal link or anchor, no widget JavaScript, and
the search index. The real-browser checks are in tests/test_browser_book.py.
"""
import base64
import html.parser
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
import yaml

import tutorial_lib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


book = _load("course_book", ROOT / "scripts" / "book.py")
nbtools = _load("nbtools", ROOT / "scripts" / "nbtools.py")
static_widgets = _load("static_widgets", ROOT / "book" / "static_widgets.py")


def _notebook(path, *markdown):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in markdown]
    nbformat.write(nb, path)
    return path


# ---------------------------------------------------------------- generated sources

def test_toc_lists_every_notebook_of_the_folder():
    toc = book.toc(book.notebook_paths())
    lessons = [chapter["file"] for chapter in toc["parts"][0]["chapters"]]
    assert lessons == [f"notebooks/{p.stem}" for p in NOTEBOOKS] and len(lessons) >= 7
    assert toc["root"] == "index" and toc["parts"][1]["chapters"] == [{"file": "references"}]


def test_toc_picks_up_new_notebooks_and_ignores_others(tmp_path):
    for name in ("08_new.ipynb", "00_a.ipynb", "07_b.ipynb", ".hidden.ipynb", "notes.md"):
        (tmp_path / name).write_text("{}")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "00_a-checkpoint.ipynb").write_text("{}")
    names = [p.name for p in book.notebook_paths(tmp_path)]
    assert names == ["00_a.ipynb", "07_b.ipynb", "08_new.ipynb"]


def test_config_takes_the_repository_from_tutorial_lib():
    cfg = book.config("full")
    assert cfg["repository"] == {"url": tutorial_lib.REPO_URL, "branch": tutorial_lib.BRANCH, "path_to_book": ""}
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert cfg["launch_buttons"]["notebook_interface"] == "jupyterlab"  # as the badges: lab/tree/notebooks/...
    assert cfg["html"]["baseurl"] == book.pages_url()
    assert cfg["execute"]["execute_notebooks"] == "cache" and cfg["execute"]["allow_errors"] is False
    assert cfg["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert cfg["execute"]["cache"] != book.config("fast")["execute"]["cache"], "one cache per mode"
    committed = (ROOT / "book" / "_config.yml").read_text()
    assert "github.com" not in committed and tutorial_lib.REPO not in committed, \
        "book/_config.yml must not repeat the repository: scripts/book.py takes it from tutorial_lib"


def test_pages_url_and_the_readme_link():
    assert book.pages_url("generative-models-hands-on/course") == "https://generative-models-hands-on.github.io/course/"
    assert book.pages_url("Some-Owner/repo") == "https://some-owner.github.io/repo/"
    head = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    assert f"[Read the course online]({book.pages_url()})" in head


def test_landing_page_is_the_readme_introduction_and_syllabus():
    readme = (ROOT / "README.md").read_text()
    page = book.landing_page(readme, "full", NOTEBOOKS)
    title, intro = book.readme_introduction(readme)
    assert page.startswith(title + "\n") and intro in page and len(intro) > 200
    assert "badge" not in page and "Read the course online" not in page  # no remote images, no link to itself
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.name})" in page, f"the syllabus has no link to {path.name}"
    assert "**full mode**" in page and "**fast mode**" not in page
    fast = book.landing_page(readme, "fast", NOTEBOOKS)
    assert "**fast mode**" in fast and "**full mode**" not in fast


def test_landing_page_adds_lessons_missing_from_the_readme_table(tmp_path):
    readme = ("# Course\n\n[![B](x.svg)](https://b)\n\nIntro text.\n\n## Syllabus\n\n<!-- syllabus:start -->\n"
              "| # | notebook |\n|---|---|\n| 00 | [Zero](notebooks/00_zero.ipynb) |\n<!-- syllabus:end -->\n")
    zero = _notebook(tmp_path / "00_zero.ipynb", "# 00 · Zero")
    seven = _notebook(tmp_path / "07_seven.ipynb", "# 07 · Seven things", "text")
    page = book.landing_page(readme, "full", [zero, seven])
    assert page.startswith("# Course\n\nIntro text.\n")
    assert page.count("(notebooks/00_zero.ipynb)") == 1
    assert "[07 · Seven things](notebooks/07_seven.ipynb)" in page


def test_references_section(tmp_path):
    path = _notebook(tmp_path / "05_x.ipynb", "# 05 · X\n\n## Summary\n\ntext",
                     "## References\n\n- Goodfellow, I. et al. (2014). Generative adversarial nets. NeurIPS.",
                     "- Kingma, D. P., Welling, M. (2014). Auto-encoding variational Bayes. ICLR. arXiv:1312.6114",
                     "## Appendix\n\n- not a reference")
    text = book.references_section(path)
    assert text.startswith("- Goodfellow") and "arXiv:1312.6114" in text
    assert "Appendix" not in text and "not a reference" not in text and "Summary" not in text
    assert book.references_section(_notebook(tmp_path / "none.ipynb", "# T\n\n## Summary\n\nno refs")) == ""
    page = book.references_page([path])
    assert "## 05 · X" in page and "(notebooks/05_x.ipynb)" in page and "arXiv:1312.6114" in page


def test_references_page_of_the_course():
    page = book.references_page(NOTEBOOKS)
    for path in NOTEBOOKS:
        if book.references_section(path):
            assert f"(notebooks/{path.name})" in page


def test_badges_become_text_links_with_the_same_targets():
    path = NOTEBOOKS[0]
    text = book._badges_as_text(path)
    assert nbtools.badges(path.name) not in text
    assert "colab-badge.svg" not in text and "badge_logo.svg" not in text
    assert nbtools.colab_url(path.name) in text and nbtools.binder_url(path.name) in text
    original, copy = nbformat.read(path, as_version=4), nbformat.reads(text, as_version=4)
    assert [c.source for c in original.cells if c.cell_type == "code"] == \
           [c.source for c in copy.cells if c.cell_type == "code"], "the code (the cache key) must not change"


def _embed_state(box):
    from ipywidgets.embed import embed_data

    data = embed_data(views=[box])
    return data["view_specs"][0]["model_id"], data["manager_state"]["state"]


def test_widget_snapshot_holds_the_widgets_image_and_controls():
    """Independent reference: ipywidgets' own embedding of the widget (the format nbclient saves)."""
    import ipywidgets as widgets

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
    image = widgets.Image(value=png, format="png", width=140, height=140)
    slider = widgets.FloatSlider(value=0.25, description="z1")
    box = widgets.VBox([widgets.HTML("<b>Latent explorer</b>"), widgets.HBox([widgets.VBox([slider]), image])])
    model_id, state = _embed_state(box)
    snapshot = static_widgets.snapshot_html(model_id, state)
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', snapshot)
    assert [base64.b64decode(s) for s in sources] == [png]
    assert "<b>Latent explorer</b>" in snapshot and "z1 = 0.25" in snapshot
    assert "JupyterLab" in snapshot and "Binder" in snapshot and "Colab" in snapshot
    for model in state.values():
        assert model.get("model_name") != "ImageModel" or model.get("buffers"), "the image travels as a buffer"
    box.close_all()


def test_widget_snapshot_of_the_course_latent_explorer():
    torch = pytest.importorskip("torch")
    from tutorial_lib.vae import VAE
    from tutorial_lib.widgets import latent_explorer

    torch.manual_seed(0)
    explorer = latent_explorer(VAE(latent_dim=2), dims=2)
    model_id, state = _embed_state(explorer)
    snapshot = static_widgets.snapshot_html(model_id, state)
    (source,) = re.findall(r'src="data:image/png;base64,([^"]+)"', snapshot)
    assert base64.b64decode(source) == explorer.image.value
    assert "z1 = 0" in snapshot and "z2 = 0" in snapshot
    explorer.close_all()


def test_widget_snapshot_of_an_unknown_model_is_only_the_note():
    snapshot = static_widgets.snapshot_html("missing", {})
    assert "<img" not in snapshot and "snapshot" in snapshot


# ---------------------------------------------------------------- a tiny site, built for real

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")


def _tiny_site(root, pages):
    """Sources for scripts/book.py --site: the course's configuration (its own cache), a toc of `pages`."""
    src = root / "src"
    src.mkdir(parents=True)
    cfg = book.config("fast")
    cfg["execute"]["cache"] = str(root / "cache")
    (src / "_config.yml").write_text(yaml.safe_dump(cfg))
    (src / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro",
                                                  "chapters": [{"file": name.split(".")[0]} for name in pages]}))
    (src / "intro.md").write_text("# Tiny\n\nA page.\n")
    for name, content in pages.items():
        if name.endswith(".ipynb"):
            nb = nbformat.v4.new_notebook()
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}\n\n$$\\mathcal L = 1$$")]
            nb.cells += [nbformat.v4.new_code_cell(code) for code in content]
            nbformat.write(nb, src / name)
        else:
            (src / name).write_text(content)
    return src


def _build_tiny(root, pages):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "book.py"), "--site",
                             str(_tiny_site(root, pages)), str(root / "out")],
                            capture_output=True, text=True, timeout=600, cwd=root,
                            env={**os.environ, "TUTORIAL_FAST": "1", "PYTHONPATH": os.pathsep.join(
                                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    return result.returncode, result.stdout + result.stderr, root / "out" / "html"


def test_a_built_widget_is_a_snapshot_of_its_saved_state(tmp_path):
    widget = ["import base64\nimport ipywidgets as w",
              f"png = base64.b64decode({base64.b64encode(PNG).decode()!r})\n"
              "w.VBox([w.HTML('<b>demo explorer</b>'), w.FloatSlider(value=0.5, description='z1'), "
              "w.Image(value=png, format='png')])"]
    code, log, html_dir = _build_tiny(tmp_path, {"widget.ipynb": widget})
    assert code == 0, log[-3000:]
    page = (html_dir / "widget.html").read_text()
    assert "application/vnd.jupyter.widget" not in page, "widget state or views left on the page"
    assert "@jupyter-widgets" not in page and "require.min.js" not in page, "widget JavaScript from a CDN"
    snapshot = page[page.index('<div class="widget-snapshot">'):]
    assert "<b>demo explorer</b>" in snapshot and "z1 = 0.5" in snapshot
    assert [base64.b64decode(s) for s in re.findall(r'src="data:image/png;base64,([^"]+)"', snapshot)] == [PNG]


def _mathjax_scripts(page_html):
    return [src for src in re.findall(r'<script[^>]*\ssrc="([^"]+)"', page_html) if "mathjax" in src.lower()]


def test_notebooks_that_load_the_learners_models_run_after_those_that_save_them(tmp_path):
    for name, source in (("a.ipynb", "save_yours('vae', m)"), ("b.ipynb", "x = 1"), ("c.ipynb", "load_yours('vae')")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source)]
        nbformat.write(nb, tmp_path / name)
    paths = [tmp_path / n for n in ("a.ipynb", "b.ipynb", "c.ipynb")]
    assert book.execution_order(paths) == [paths[:2], paths[2:]]
    assert book.execution_order(paths[:2]) == [paths[:2]]
    lessons = [ROOT / "notebooks" / p.name for p in NOTEBOOKS]
    waves = book.execution_order(lessons)
    assert [p.name[:2] for p in waves[-1]] == ["06"], "06 scores the models 02 and 04 save"


def test_notebooks_executed_ahead_are_what_the_build_finds_in_the_cache(tmp_path):
    """execute_ahead stores executed notebooks as MyST-NB's cache mode does: the same notebook then matches in the
    cache with its outputs; a failing one is not stored (Sphinx runs it again and shows the error)."""
    from jupyter_cache import get_cache

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    for path, source in ((good, "print(6 * 7)"), (bad, "raise ValueError('boom')")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source)]
        nbformat.write(nb, path)
    cache_path = tmp_path / "cache"
    threads = os.environ.get("OMP_NUM_THREADS")
    book.execute_ahead([good, bad], cache_path, timeout=120, workers=2)
    assert os.environ.get("OMP_NUM_THREADS") == threads, "the kernels' thread setting must not leak into the build"
    cache = get_cache(str(cache_path))
    _, merged = cache.merge_match_into_notebook(nbformat.read(good, as_version=4))
    assert merged.cells[0].outputs[0]["text"] == "42\n"
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(bad, as_version=4))
    assert book.execute_ahead([good], cache_path, timeout=120, workers=2) == 0.0, "cached: not executed again"


def test_a_notebook_whose_kernel_dies_ahead_is_left_to_sphinx_and_the_others_still_run(tmp_path):
    """A kernel that dies (out of memory, a crash) is not a cell error that jupyter-cache catches: execute_ahead
    must not raise, must still store the other notebooks, and must still run the later wave (alone, on every
    core)."""
    from jupyter_cache import get_cache

    sources = {"a.ipynb": "import os\nos._exit(1)", "b.ipynb": "print(6 * 7)",
               "c.ipynb": "# load_yours(\nimport os\nprint(os.environ['OMP_NUM_THREADS'])"}
    for name, source in sources.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source)]
        nbformat.write(nb, tmp_path / name)
    cache_path = tmp_path / "cache"
    book.execute_ahead([tmp_path / name for name in sources], cache_path, timeout=120, workers=2)
    cache = get_cache(str(cache_path))
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(tmp_path / "a.ipynb", as_version=4))
    for name in ("b.ipynb", "c.ipynb"):
        cache.match_cache_notebook(nbformat.read(tmp_path / name, as_version=4))  # KeyError if not stored
    _, later = cache.merge_match_into_notebook(nbformat.read(tmp_path / "c.ipynb", as_version=4))
    assert later.cells[0].outputs[0]["text"] == f"{os.cpu_count() or 1}\n", "alone in its wave: all the cores"


def test_config_serves_mathjax_from_the_site():
    cfg = book.config("fast")
    assert "sphinx-mathjax-offline" in cfg["sphinx"]["extra_extensions"]
    assert cfg["sphinx"]["config"]["mathjax_path"] == "mathjax/tex-chtml.js"  # relative: under _static/


def test_a_built_formula_loads_mathjax_from_the_site_itself(tmp_path):
    maths = "# Maths\n\nInline $a^2 + b$ and\n\n$$\\mathcal L = 1$$\n"
    code, log, html_dir = _build_tiny(tmp_path, {"maths.md": maths})
    assert code == 0, log[-3000:]
    page = (html_dir / "maths.html").read_text()
    assert 'class="math' in page and "\\mathcal L" in page
    (src,) = _mathjax_scripts(page)
    assert not urlparse(src).scheme and not src.startswith("//"), f"MathJax from outside the site: {src}"
    script = html_dir / src.split("?")[0]
    assert script.is_file() and script.stat().st_size > 100_000, f"{src} is not served by the site"
    assert (script.parent / "output" / "chtml" / "fonts").is_dir(), "MathJax's fonts are not served by the site"


@pytest.mark.parametrize("pages, reported", [
    ({"boom.ipynb": ["x = 1", "1 / 0"]}, ["ZeroDivisionError"]),
    ({"links.md": "# Links\n\nSee [the lesson](no_such_lesson.ipynb) and [the section](#no-such-section).\n"},
     ["no_such_lesson", "no-such-section"]),
], ids=["cell error", "missing page and anchor"])
def test_the_build_fails_on(tmp_path, pages, reported):
    code, log, _ = _build_tiny(tmp_path, pages)
    assert code != 0, "the build should have failed"
    for name in reported:
        assert name in log, f"the failure does not name {name}:\n{log[-2000:]}"


# ---------------------------------------------------------------- the built site

HTML = ROOT / "build" / "book" / "html"


def _no_site(message):
    if os.environ.get("TUTORIAL_REQUIRE_BOOK", "").lower() in ("1", "true", "yes", "on"):
        pytest.fail(f"TUTORIAL_REQUIRE_BOOK=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists() or not book.INFO.exists():
        _no_site("the website is not built: run `make book` (or `TUTORIAL_FAST=1 make book`)")
    info = json.loads(book.INFO.read_text())
    if info["notebooks"] != [p.name for p in NOTEBOOKS]:
        _no_site("the website is older than notebooks/ (a lesson was added or renamed): run `make book` again")
    pages = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)  # not templates
    return {"info": info, "pages": pages}


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids, self.images, self.scripts = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) is not None and tag in ("a", "link", "img", "script"):
                self.links.append((tag, attrs[key]))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script":
            self.scripts.append(attrs)


def _parse(path):
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_site_has_a_page_for_every_notebook(site):
    for path in NOTEBOOKS:
        page = HTML / "notebooks" / f"{path.stem}.html"
        assert page.exists(), f"no page for {path.name}"
    assert (HTML / "references.html").exists() and (HTML / "search.html").exists()


def test_no_broken_internal_link_or_anchor(site):
    parsed = {page: _parse(page) for page in site["pages"]}
    broken = []
    for page, parser in parsed.items():
        for tag, link in parser.links:
            url = urlparse(link)
            if url.scheme or link.startswith(("//", "mailto:", "javascript:")) or link == "":
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if url.path.endswith("/"):
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(HTML)}: <{tag}> {link}")
            elif url.fragment and target.suffix == ".html" and target in parsed \
                    and url.fragment not in parsed[target].ids:
                broken.append(f"{page.relative_to(HTML)}: <{tag}> {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


def test_notebook_pages_have_launch_buttons_from_tutorial_lib(site):
    for path in NOTEBOOKS:
        text = (HTML / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        links = {unquote(href) for href in re.findall(r'href="([^"]+)"', text)}
        assert nbtools.binder_url(path.name) in links, f"{path.name}: no Binder launch button to the badge's URL"
        assert nbtools.colab_url(path.name) in links, f"{path.name}: no Colab launch button to the badge's URL"
        assert tutorial_lib.REPO_URL in links, f"{path.name}: no repository button"


def test_notebook_pages_show_outputs_and_math(site):
    pages = {p.stem: (HTML / "notebooks" / f"{p.stem}.html").read_text(encoding="utf-8") for p in NOTEBOOKS}
    figures = {stem: len(re.findall(r'<img[^>]+src="(?:\.\./)?_images/', text)) for stem, text in pages.items()}
    assert sum(figures.values()) >= len(NOTEBOOKS), f"too few figures on the notebook pages: {figures}"
    for stem, text in pages.items():
        assert 'class="cell_output' in text, f"{stem}: no cell output on the page (not executed?)"
        assert "Traceback" not in text, f"{stem}: a traceback on the page"
    elbo = next(stem for stem in pages if stem.startswith("01_"))
    assert re.search(r'class="math[^"]*"', pages[elbo]) and "\\mathcal" in pages[elbo], "notebook 01: no LaTeX"


def test_pages_with_math_load_mathjax_from_the_site(site):
    """The formulas render offline: every page with math loads MathJax from the site (tests/test_browser_book.py
    checks in Chromium that they are typeset)."""
    pages = [HTML / "index.html"] + [HTML / "notebooks" / f"{p.stem}.html" for p in NOTEBOOKS]
    with_math = 0
    for path in pages:
        text = path.read_text(encoding="utf-8")
        scripts = _mathjax_scripts(text)
        if 'class="math' not in text:
            continue
        with_math += 1
        assert scripts, f"{path.name} has math but loads no MathJax"
        for src in scripts:
            assert not urlparse(src).scheme and not src.startswith("//"), f"{path.name}: MathJax from {src}"
            assert (path.parent / src.split("?")[0]).resolve().is_file(), f"{path.name}: {src} is not in the site"
    assert with_math >= 3, "too few pages with math"


def test_widgets_are_static_snapshots(site):
    for path in NOTEBOOKS:
        text = (HTML / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget" not in text, f"{path.stem}: widget JavaScript/state left on the page"
        assert "@jupyter-widgets" not in text and "require.min.js" not in text
        source = path.read_text(encoding="utf-8")
        if "latent_explorer(" in source:
            snapshot = text[text.index('class="widget-snapshot"'):]
            assert "Binder" in snapshot[:2000] and 'src="data:image/png;base64,' in snapshot, \
                f"{path.stem}: the latent explorer has no snapshot image"


def test_search_index_knows_the_elbo(site):
    index = (HTML / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1:index.rindex(")")])["terms"]
    assert "elbo" in terms


def test_landing_page_and_references(site):
    landing = (HTML / "index.html").read_text(encoding="utf-8")
    _, intro = book.readme_introduction((ROOT / "README.md").read_text())
    first_words = re.sub(r"[*_`]", "", intro.split(".")[0])[:60]
    assert first_words.split()[0] in landing and "Syllabus" in landing
    mode = site["info"]["mode"]
    assert f"{mode} mode" in landing
    for path in NOTEBOOKS:
        assert f'href="notebooks/{path.stem}.html"' in landing, f"landing page: no link to {path.stem}"


# ---------------------------------------------------------------- the publishing workflow (cannot run here)

def _workflow():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def _step(steps, uses):
    found = [i for i, step in enumerate(steps) if step.get("uses", "").split("@")[0] == uses]
    assert len(found) == 1, f"expected one step using {uses}"
    return found[0], steps[found[0]]


def test_workflow_builds_the_full_site_and_deploys_it_to_pages():
    workflow = _workflow()
    assert workflow["on"]["push"]["branches"] == [tutorial_lib.BRANCH] and "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    steps = build["steps"]
    _step(steps, "actions/checkout")
    _, python = _step(steps, "actions/setup-python")
    assert str(python["with"]["python-version"]) == "3.11"
    runs = [(i, step) for i, step in enumerate(steps) if "run" in step]
    assert [step["run"].strip() for _, step in runs] == ["make book"], "the site is built by the README's command"
    make_index, make_step = runs[0]
    for scope in (workflow, build, make_step):  # full mode: no TUTORIAL_FAST anywhere
        assert "TUTORIAL_FAST" not in (scope.get("env") or {}), "the published site is built in full mode"
    upload_index, upload = _step(steps, "actions/upload-pages-artifact")
    assert upload_index > make_index
    assert upload["with"]["path"] == book.HTML.relative_to(ROOT).as_posix() == "build/book/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    _, pages = _step(deploy["steps"], "actions/deploy-pages")
    assert deploy["environment"]["url"] == "${{ steps.%s.outputs.page_url }}" % pages["id"]


def test_workflow_cache_is_keyed_on_everything_that_changes_outputs():
    steps = _workflow()["jobs"]["build"]["steps"]
    caches = [step for step in steps if step.get("uses", "").startswith("actions/cache@")]
    (notebook_cache,) = [c for c in caches if "jupyter_cache" in c["with"]["path"]]
    assert notebook_cache["with"]["path"] == str(book.config("full")["execute"]["cache"]).replace(str(ROOT) + "/", "")
    key = notebook_cache["with"]["key"]
    for part in ("notebooks/", "tutorial_lib/", "requirements.txt", "constraints.txt"):
        assert part in key, f"the executed-notebook cache must be keyed on {part}"
    assert "restore-keys" not in notebook_cache["with"], "a partial match would publish stale outputs"
    index_of = {id(step): i for i, step in enumerate(steps)}
    make_index = next(i for i, step in enumerate(steps) if step.get("run", "").strip() == "make book")
    assert index_of[id(notebook_cache)] < make_index
