"""The course website in a real browser: Debian's chromium, driven by playwright, on build/book/html/.

Serves the built site from a local HTTP server (as GitHub Pages would, on a free loopback port), refuses every
request that leaves the machine (so the test sees what an offline reader sees and never waits on the network),
then checks that
- the landing page and a notebook page load every image (naturalWidth > 0, lazy images included),
- the notebook page shows the latent explorer's snapshot when the notebook has one,
- the "next" link at the bottom of the notebook page leads to the next lesson of the table of contents,
- the search box finds "ELBO", with a result on a lesson page,
- the formulas of a lesson are typeset by MathJax served from the site itself (no raw "\\(" left visible),
and saves screenshots to build/browser/book_*.png.

Needs the built site (`TUTORIAL_FAST=1 make book`; .ci/run builds it first and sets TUTORIAL_REQUIRE_BOOK=1)
and Debian's chromium (`sudo apt-get install chromium`; TUTORIAL_REQUIRE_BROWSER=1 makes its absence a failure,
TUTORIAL_CHROMIUM names another binary). On a failure the page is saved as build/browser/book_failure.png.
"""
import functools
import http.server
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "build" / "book" / "html"
INFO = ROOT / "build" / "book" / "build-info.json"
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM = Path(os.environ.get("TUTORIAL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
# The lesson whose page is checked: figures, LaTeX and the latent explorer (the first lesson if it is gone).
NOTEBOOK = "02_building_a_vae"
_TRUE = ("1", "true", "yes", "on")


def _flag(name):
    return os.environ.get(name, "").strip().lower() in _TRUE


def _missing(reason, flag, how):
    if _flag(flag):
        pytest.fail(f"{flag}=1 but {reason}. {how}")
    pytest.skip(f"{reason}. {how}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (HTML / "index.html").exists() or not INFO.exists():
        _missing("the website is not built", "TUTORIAL_REQUIRE_BOOK", "Build it with `TUTORIAL_FAST=1 make book`.")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} was not found", "TUTORIAL_REQUIRE_BROWSER",
                 "`sudo apt-get install chromium` (Debian/Ubuntu; .ci/run does it in CI).")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package playwright is not installed", "TUTORIAL_REQUIRE_BROWSER",
                 "It is in requirements.txt: run `make test`.")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser_page(site_url):
    from playwright.sync_api import sync_playwright

    outside = []

    def only_loopback(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # MathJax's CDN, fonts...: an offline reader gets none of them
            outside.append((route.request.resource_type, route.request.url))
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", only_loopback)
            page.outside_requests = outside
            yield page
        finally:
            browser.close()


def _check_images(page, what):
    """Every <img> of the page loaded (lazy ones made eager first); returns how many there are."""
    page.evaluate("() => document.querySelectorAll('img').forEach(img => { img.loading = 'eager'; })")
    try:
        page.wait_for_function("() => [...document.images].every(img => img.complete)", timeout=30_000)
    except Exception:
        pass  # reported below, image by image
    broken = page.evaluate("""() => [...document.images]
        .filter(img => !(img.complete && img.naturalWidth > 0))
        .map(img => (img.currentSrc || img.src).slice(0, 120))""")
    assert not broken, f"{what}: images that did not load: {broken}"
    return page.evaluate("() => document.images.length")


def _shoot(page, name, full_page=True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 1000
    return path


def _lesson_order():
    return json.loads(INFO.read_text())["notebooks"]


def _guard(page, check):
    try:
        return check()
    except Exception:
        _shoot(page, "book_failure.png")
        raise


def test_landing_page_in_a_real_browser(browser_page, site_url):
    page = browser_page
    page.goto(f"{site_url}/index.html", wait_until="load", timeout=60_000)

    def check():
        assert "Generative Models" in page.title()
        _check_images(page, "landing page")
        lessons = page.locator("nav.bd-links a.reference.internal")
        assert lessons.count() >= len(_lesson_order()), "the sidebar does not list every lesson"
        external_images = [url for kind, url in page.outside_requests if kind == "image"]
        assert not external_images, f"the landing page wants images from outside: {external_images}"

    _guard(page, check)
    _shoot(page, "book_landing.png", full_page=False)


def test_notebook_page_images_and_next_link(browser_page, site_url):
    page = browser_page
    lessons = [name.removesuffix(".ipynb") for name in _lesson_order()]
    lesson = NOTEBOOK if NOTEBOOK in lessons else lessons[0]
    page.goto(f"{site_url}/notebooks/{lesson}.html", wait_until="load", timeout=60_000)

    def check():
        count = _check_images(page, f"{lesson}.html")
        assert count >= 1, f"{lesson}.html shows no image"
        assert page.locator(".cell_output").count() > 0, "no cell outputs on the notebook page"
        source = (ROOT / "notebooks" / f"{lesson}.ipynb").read_text(encoding="utf-8")
        if "latent_explorer(" in source:
            snapshot = page.locator(".widget-snapshot").first
            snapshot.scroll_into_view_if_needed()
            assert snapshot.is_visible() and snapshot.locator("img").count() >= 1
            assert "Binder" in snapshot.inner_text()
            snapshot.screenshot(path=str(SCREENSHOTS / "book_widget_snapshot.png"))
        external_images = [url for kind, url in page.outside_requests if kind == "image"]
        assert not external_images, f"the notebook page wants images from outside: {external_images}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _guard(page, check)
    _shoot(page, "book_notebook.png", full_page=False)

    following = lessons[lessons.index(lesson) + 1] if lesson != lessons[-1] else "references"

    def go_next():
        link = page.locator("a.right-next").first
        link.scroll_into_view_if_needed()
        link.click()
        page.wait_for_url(f"**/{following}.html", timeout=30_000)
        heading = page.locator("article h1").first
        heading.wait_for(state="visible", timeout=30_000)
        if following != "references":
            assert heading.inner_text().startswith(following[:2]), f"the next page is {heading.inner_text()!r}"
        _check_images(page, f"{following}.html")

    _guard(page, go_next)
    _shoot(page, "book_next_page.png", full_page=False)


def test_search_finds_elbo(browser_page, site_url):
    page = browser_page
    page.goto(f"{site_url}/index.html", wait_until="load", timeout=60_000)

    def search():
        page.locator("button.search-button-field:visible, button.search-button:visible").first.click()
        field = page.locator("form.bd-search input[name='q']:visible").first
        field.fill("ELBO")
        field.press("Enter")
        page.wait_for_url("**/search.html?q=ELBO*", timeout=30_000)
        results = page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=60_000)
        hrefs = [results.nth(i).locator("a").first.get_attribute("href") for i in range(results.count())]
        assert any("notebooks/" in (href or "") for href in hrefs), f"no lesson among the results: {hrefs}"

    _guard(page, search)
    _shoot(page, "book_search.png", full_page=False)


# The lesson whose formulas are checked (the most mathematics); the first lesson if it is gone.
MATH_NOTEBOOK = "01_latent_variables_and_the_elbo"
RAW_TEX = r"""() => {
    const walker = document.createTreeWalker(document.querySelector('article') || document.body,
                                             NodeFilter.SHOW_TEXT);
    const raw = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (parent.closest('mjx-container, script, style, pre, code, .highlight')) continue;
        if (parent.offsetParent === null && getComputedStyle(parent).position !== 'fixed') continue;  // hidden
        const text = node.textContent;
        if (text.includes('\\(') || text.includes('\\[') || text.includes('$$')) raw.push(text.trim().slice(0, 80));
    }
    return raw;
}"""


def test_formulas_render_offline(browser_page, site_url):
    """MathJax comes from the site (every request outside is refused) and typesets every formula of a lesson."""
    page = browser_page
    lessons = [name.removesuffix(".ipynb") for name in _lesson_order()]
    lesson = MATH_NOTEBOOK if MATH_NOTEBOOK in lessons else lessons[0]
    page.outside_requests.clear()
    page.goto(f"{site_url}/notebooks/{lesson}.html", wait_until="load", timeout=60_000)

    def check():
        formulas = page.locator("article .math").count()
        assert formulas >= 5, f"{lesson}.html has only {formulas} formulas"
        try:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=30_000)
        except Exception:
            refused = [url for kind, url in page.outside_requests if kind == "script"]
            raise AssertionError(f"MathJax did not start on {lesson}.html (scripts refused because they are not "
                                 f"served by the site: {refused})") from None
        page.evaluate("() => MathJax.startup.promise")
        typeset = page.evaluate("""() => [...document.querySelectorAll('article .math')]
            .filter(el => el.querySelector('mjx-container')).length""")
        assert typeset == formulas, f"MathJax typeset {typeset} of the {formulas} formulas of {lesson}.html"
        raw = page.evaluate(RAW_TEX)
        assert not raw, f"raw TeX visible on {lesson}.html: {raw[:5]}"
        errors = page.locator("mjx-merror").count()
        assert errors == 0, f"{errors} formulas of {lesson}.html show a MathJax error"
        scripts = [url for kind, url in page.outside_requests if kind in ("script", "font", "stylesheet")]
        assert not scripts, f"{lesson}.html wants scripts, fonts or styles from outside: {scripts}"

    _guard(page, check)
    page.locator("article mjx-container").first.scroll_into_view_if_needed()
    _shoot(page, "book_math.png", full_page=False)
