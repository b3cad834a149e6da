"""Build the course as a website with Jupyter Book 1 (Sphinx, sphinx-book-theme, MyST-NB) into build/book/html/.

    python scripts/book.py              # full mode: what a reader should see, the numbers the prose quotes
    TUTORIAL_FAST=1 python scripts/book.py   # fast mode (CI): the same site in a minute or two
    python scripts/book.py --prepare-only    # write build/book/src/ (config, toc, pages) without building

`make book` (= scripts/course.py book) runs this with the course's .venv. What it does:

1. Writes the book's sources into build/book/src/, generated so that nothing is written twice:
   _config.yml   book/_config.yml plus the repository URL, branch and launch buttons from tutorial_lib.REPO
                 (the constant the badges use), the GitHub Pages URL, and this mode's execution cache;
   _toc.yml      every notebook in notebooks/ (a new lesson appears without editing anything);
   index.md      the landing page: the README's introduction and its syllabus table;
   references.md the "References" sections of all lessons on one page;
   notebooks/    copies of the notebooks, the header's badge images replaced by text links (the launch
                 buttons offer the same; remote badge images would not load offline).
2. Builds with Sphinx as `jupyter-book build -W -n --keep-going` would: any warning (a broken internal link,
   an unknown reference, a malformed page) fails the build, and so does a cell error.
   Notebooks are executed through jupyter-cache, one cache per mode (build/book/jupyter_cache-<mode>):
   a notebook whose code cells did not change is not executed again. The cache keys on the code only, so after
   changing tutorial_lib run with --rerun (or delete the cache) to execute everything again. In fast mode on 2 or
   more cores the notebooks are executed ahead into that cache two at a time (`execute_ahead`; a notebook that
   loads the learner's saved models after those that save them); full mode runs them one by one, so that the
   times its cells print are those of a notebook alone on the machine.
   Widgets become static snapshots (book/static_widgets.py).
"""
import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tutorial_lib import BRANCH, REPO, REPO_URL  # noqa: E402  (the package's __init__ imports nothing heavy)

BOOK = ROOT / "book"            # committed: _config.yml, static_widgets.py
OUT = ROOT / "build" / "book"
SRC = OUT / "src"               # generated sources
HTML = OUT / "html"             # the site
INFO = OUT / "build-info.json"  # mode, notebooks and time of the last successful build
NOTEBOOKS = ROOT / "notebooks"
_TRUE = {"1", "true", "yes", "on"}  # as tutorial_lib.runtime.env_flag (not imported: it imports torch)


def fast_mode():
    return os.environ.get("TUTORIAL_FAST", "").strip().lower() in _TRUE


def pages_url(repo=REPO):
    """The GitHub Pages address of the repository `owner/name`, where .github/workflows/book.yml publishes."""
    owner, name = repo.split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def notebook_paths(folder=NOTEBOOKS):
    """Every lesson: the notebooks in `folder` (not in sub-folders), in file-name order."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith((".", "_")))


def toc(notebooks):
    """The _toc.yml mapping: the landing page, every notebook, the references."""
    return {"format": "jb-book", "root": "index",
            "parts": [{"caption": "Lessons", "chapters": [{"file": f"notebooks/{p.stem}"} for p in notebooks]},
                      {"caption": "Reference", "chapters": [{"file": "references"}]}]}


def config(mode, base=BOOK / "_config.yml"):
    """The _config.yml mapping: book/_config.yml completed from tutorial_lib and the mode."""
    import yaml

    cfg = yaml.safe_load(base.read_text(encoding="utf-8"))
    cfg["repository"] = {"url": REPO_URL, "branch": BRANCH, "path_to_book": ""}
    cfg.setdefault("html", {})["baseurl"] = pages_url()
    cfg["execute"]["cache"] = str(OUT / f"jupyter_cache-{mode}")
    sphinx = cfg.setdefault("sphinx", {})
    sphinx["local_extensions"] = {"static_widgets": str(BOOK)}
    return cfg


def _strip_markup_links(text):
    return re.sub(r"\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)\s*", "", text)  # badge images wrapped in links


def readme_introduction(readme):
    """The README's title and the paragraphs before its first section, without badges or the site link."""
    head = readme.split("\n## ", 1)[0]
    lines = head.splitlines()
    title = next(line for line in lines if line.startswith("# "))
    body = "\n".join(line for line in lines if not line.startswith("# "))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", _strip_markup_links(body)) if p.strip()]
    paragraphs = [p for p in paragraphs if not p.lower().lstrip("*[ ").startswith("read the course online")]
    return title, "\n\n".join(paragraphs)


def readme_block(readme, name):
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", readme, re.S)
    return match.group(1).strip() if match else ""


def landing_page(readme, mode, notebooks):
    title, intro = readme_introduction(readme)
    syllabus = readme_block(readme, "syllabus")
    listed = set(re.findall(r"notebooks/([\w.-]+\.ipynb)", syllabus))
    missing = [p for p in notebooks if p.name not in listed]
    if missing:  # lessons newer than the README's table still get a row, linking to their page
        syllabus += "\n" + "\n".join(f"| {p.name[:2]} | [{_notebook_title(p)}](notebooks/{p.name}) | | | |"
                                     for p in missing)
    if mode == "fast":
        built = ("This copy of the site was built in **fast mode** (`TUTORIAL_FAST=1`: less data, fewer steps, "
                 "narrower models), as CI builds it. Its figures and printed numbers come from those short runs "
                 "and differ from the full-mode ones the text quotes.")
    else:
        built = ("Every lesson on this site was executed in **full mode** on a CPU when the site was built: the "
                 "figures, tables and printed numbers are those of that run, the ones the text quotes.")
    return f"""{title}

{intro}

## How to read and run it

{built}

Each lesson is a Jupyter notebook. The rocket button at the top of a lesson opens it on
[Binder](https://mybinder.org) (JupyterLab with the course installed) or [Google Colab](https://colab.research.google.com),
where you can run and change every cell; the interactive widgets (sliders) respond only there, and appear here as
snapshots. To run the course on your own machine, clone [the repository]({REPO_URL}) and follow its README:
`make lab` (Linux and macOS), `py -3.11 scripts\\course.py lab` (Windows PowerShell), or the conda environment in `environment.yml`.

## Syllabus

{syllabus}

The works the lessons cite are collected on the [references](references.md) page.
"""


def _notebook_title(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return path.stem


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def references_section(path):
    """The text under the notebook's "References" heading (level 2 or 3), up to the next heading of that level
    or above; '' when the notebook has none."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    collected, level = [], None
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = _HEADING.match(line)
            if level is None:
                if heading and len(heading.group(1)) in (2, 3) and heading.group(2).strip().lower().startswith("references"):
                    level = len(heading.group(1))
                continue
            if heading and len(heading.group(1)) <= level:
                return "\n".join(collected).strip()
            if heading:  # keep sub-headings below this page's "## lesson" heading
                line = "#" * max(3, len(heading.group(1)) - level + 3) + " " + heading.group(2)
            collected.append(line)
        if level is not None:
            collected.append("")
    return "\n".join(collected).strip()


def references_page(notebooks):
    sections = []
    for path in notebooks:
        text = references_section(path)
        if text:
            sections.append(f"## {_notebook_title(path)}\n\nCited in [this lesson](notebooks/{path.name}):\n\n{text}\n")
    body = "\n".join(sections) if sections else "No lesson lists references yet.\n"
    return ("# References\n\nThe works each lesson cites, collected from the lessons' own \"References\" sections "
            "(authors, year, title, venue, arXiv identifier).\n\n" + body)


def _badges_as_text(notebook):
    """A copy of the notebook whose header badges (remote images) are text links with the same targets."""
    import nbformat

    sys.path.insert(0, str(ROOT / "scripts"))
    import nbtools

    nb = nbformat.read(notebook, as_version=4)
    badges = nbtools.badges(notebook.name)
    links = (f"[Open in Colab]({nbtools.colab_url(notebook.name)}) · "
             f"[Launch on Binder]({nbtools.binder_url(notebook.name)})")
    for cell in nb.cells:
        if cell.cell_type == "markdown" and badges in cell.source:
            cell.source = cell.source.replace(badges, links)
    return nbformat.writes(nb)


def _write_if_changed(path, text):
    """Write `text` unless the file already holds it (so Sphinx does not re-read unchanged pages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def prepare(mode, src=SRC):
    """Write the book's sources into `src`; returns the notebooks it holds."""
    import yaml

    notebooks = notebook_paths()
    if not notebooks:
        sys.exit(f"no notebooks found in {NOTEBOOKS}")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    _write_if_changed(src / "_config.yml", "# Generated by scripts/book.py from book/_config.yml; do not edit.\n"
                      + yaml.safe_dump(config(mode), sort_keys=False, allow_unicode=True))
    _write_if_changed(src / "_toc.yml", "# Generated by scripts/book.py from notebooks/; do not edit.\n"
                      + yaml.safe_dump(toc(notebooks), sort_keys=False))
    _write_if_changed(src / "index.md", landing_page(readme, mode, notebooks))
    _write_if_changed(src / "references.md", references_page(notebooks))
    for path in notebooks:
        _write_if_changed(src / "notebooks" / path.name, _badges_as_text(path))
    wanted = {p.name for p in notebooks}
    for stale in (src / "notebooks").glob("*.ipynb"):  # a lesson that was renamed or removed
        if stale.name not in wanted:
            stale.unlink()
    for stale in src.glob("*.md"):  # a page an earlier version of this script generated
        if stale.name not in ("index.md", "references.md"):
            stale.unlink()
    return notebooks


def kernel_environment(mode):
    """Set the environment the notebook kernels inherit: this checkout's tutorial_lib, the inline matplotlib
    backend (MPLBACKEND=agg, set by `make test`, would hide every figure), no progress bars, the mode."""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ROOT)])
    os.environ.pop("MPLBACKEND", None)
    os.environ["TQDM_DISABLE"] = "1"
    if mode == "fast":
        os.environ["TUTORIAL_FAST"] = "1"
    else:
        os.environ.pop("TUTORIAL_FAST", None)


def execution_order(paths):
    """`paths` as waves that may run at the same time: a notebook that loads the learner's saved models
    (`load_yours`) comes after every notebook that saves them (`save_yours`), as it does when they run in order."""
    text = {p: Path(p).read_text(encoding="utf-8") for p in paths}
    first = [p for p in paths if "load_yours(" not in text[p]]
    later = [p for p in paths if "load_yours(" in text[p]]
    return [wave for wave in (first, later) if wave]


def _execute(path, timeout):
    """Run one notebook as MyST-NB's cache mode does (in its folder); returns (path, executed notebook or None,
    seconds). Runs in a thread: the kernel is a process of its own."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    started = time.monotonic()
    try:
        notebook = nbformat.read(path, as_version=4)
        result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                     meta_override=True)
    except Exception as error:  # a kernel that died or did not start: jupyter-cache catches only cell errors
        print(f"{Path(path).name}: {type(error).__name__}: {error}", flush=True)
        return path, None, time.monotonic() - started
    return path, (None if result.err is not None else notebook), result.time


def execute_ahead(paths, cache_path, timeout, workers):
    """Execute the notebooks of `paths` that the cache lacks, `workers` at a time, and store them in the
    jupyter-cache at `cache_path` as MyST-NB does; Sphinx then takes their outputs from the cache. A notebook that
    fails is not stored: Sphinx executes it again and reports its failing cell. Returns the seconds it took."""
    from concurrent.futures import ThreadPoolExecutor, as_completed
    from contextlib import suppress

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    started = time.monotonic()
    cache = get_cache(str(cache_path))
    todo = []
    for path in paths:
        with suppress(KeyError):
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
            continue  # executed before, code unchanged
        todo.append(path)
    if not todo:
        return 0.0
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for wave in execution_order(todo):
                # Each kernel gets its share of the cores: two kernels with two threads each would spin-wait on
                # two cores; a notebook that runs alone (the later wave, one changed notebook) gets them all.
                at_once = min(workers, len(wave))
                threads = str(max(1, (os.cpu_count() or 1) // at_once))
                os.environ.update({k: threads for k in saved})
                for future in as_completed([pool.submit(_execute, str(p), timeout) for p in wave]):
                    path, notebook, seconds = future.result()
                    if notebook is None:
                        print(f"{Path(path).name} failed when executed ahead: Sphinx runs it again below and "
                              "reports the failing cell", flush=True)
                        continue
                    record = cache.add_nb_to_project(path)
                    cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri,
                                                              data={"execution_seconds": seconds}),
                                                check_validity=False, overwrite=True)
                    print(f"{Path(path).name}: executed in {seconds:.0f} s ({at_once} at a time, {threads} "
                          f"thread{'s' if threads != '1' else ''} each)", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return time.monotonic() - started


def build_site(src, html, doctrees):
    """Sphinx on the prepared sources in `src`, as `jupyter-book build -W -n --keep-going` (but into `html`);
    returns 0, or Sphinx's non-zero status (1 for an exception)."""
    from jupyter_book.sphinx import build_sphinx

    result = build_sphinx(Path(src), Path(html), noconfig=True, path_config=str(Path(src) / "_config.yml"),
                          confoverrides={"external_toc_path": str(Path(src) / "_toc.yml"), "nitpicky": True,
                                         "latex_individualpages": False},
                          doctreedir=Path(doctrees), warningiserror=True, keep_going=True)
    return result if isinstance(result, int) else 1


def build(mode, rerun=False):
    """Build build/book/html/ in `mode` ("full" or "fast"); returns the process exit code."""
    started = time.monotonic()
    notebooks = prepare(mode)
    if rerun:  # forget the executed notebooks, and Sphinx's record of having read them
        for folder in (OUT / f"jupyter_cache-{mode}", OUT / f"doctrees-{mode}"):
            if folder.exists():
                shutil.rmtree(folder)
    # One site at a time: switching modes rewrites every page (the notebooks' outputs come from that mode's cache).
    last = json.loads(INFO.read_text()).get("mode") if INFO.exists() else None
    if last != mode and HTML.exists():
        shutil.rmtree(HTML)
    INFO.unlink(missing_ok=True)
    kernel_environment(mode)
    print(f"Building the course website in {mode} mode: {len(notebooks)} notebooks -> {HTML.relative_to(ROOT)}",
          flush=True)
    workers = 2 if mode == "fast" and (os.cpu_count() or 1) >= 2 else 1
    if workers > 1:  # fast mode (CI's check): two notebooks at a time; full mode keeps the timings a cell prints
        import yaml

        timeout = yaml.safe_load((SRC / "_config.yml").read_text(encoding="utf-8"))["execute"]["timeout"]
        seconds = execute_ahead([SRC / "notebooks" / p.name for p in notebooks], OUT / f"jupyter_cache-{mode}",
                                timeout, workers)
        print(f"Executed the notebooks ahead, {workers} at a time, in {seconds:.0f} s", flush=True)
    status = build_site(SRC, HTML, OUT / f"doctrees-{mode}")
    seconds = time.monotonic() - started
    if status:
        print(f"\nThe book build FAILED after {seconds:.0f} s (warnings count as errors; a failing cell's "
              "traceback is printed above).", file=sys.stderr)
        return status
    INFO.write_text(json.dumps({"mode": mode, "notebooks": [p.name for p in notebooks],
                                "seconds": round(seconds, 1)}, indent=1))
    print(f"\nBuilt the course website in {mode} mode in {seconds:.0f} s: open {HTML / 'index.html'}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare-only", action="store_true", help="write build/book/src/ and stop")
    parser.add_argument("--rerun", action="store_true", help="empty this mode's execution cache first")
    parser.add_argument("--site", nargs=2, metavar=("SRC", "OUT"),
                        help="build the sources already prepared in SRC into OUT/html (tests use it)")
    args = parser.parse_args(argv)
    mode = "fast" if fast_mode() else "full"
    if args.site:
        kernel_environment(mode)
        return build_site(args.site[0], Path(args.site[1]) / "html", Path(args.site[1]) / "doctrees")
    if args.prepare_only:
        prepare(mode)
        print(f"wrote {SRC}")
        return 0
    return build(mode, rerun=args.rerun)


if __name__ == "__main__":
    sys.exit(main())
