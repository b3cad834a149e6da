"""The widgets in a real browser: JupyterLab + Debian's chromium driven by playwright. The latent explorer of
notebook 02 (below) and the GAN playground of notebook 04 (`test_gan_playground_in_a_real_browser`: press play,
the picture changes; press pause, it stops changing).

Starts JupyterLab from this environment on a free loopback port (token auth, temporary settings and
runtime folders, TUTORIAL_FAST=1 for the kernel), opens a copy of notebooks/02_building_a_vae.ipynb,
runs all cells, waits for the latent explorer (an ipywidgets VBox with the DOM class `latent-explorer`
holding FloatSliders and an Image of the decoded digit), checks that the sliders render and that moving
one changes the image, saves screenshots to build/browser/, and shuts everything down.

Needs Debian's chromium (`sudo apt-get install chromium`); playwright drives it and downloads no browser.
Without chromium the test skips, unless TUTORIAL_REQUIRE_BROWSER=1 (set by .ci/run), when it fails.
TUTORIAL_CHROMIUM names another chromium binary. On a failure the page is saved as build/browser/failure.png.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tutorial_lib.runtime import env_flag

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_building_a_vae.ipynb"
GAN_NOTEBOOK = ROOT / "notebooks" / "04_building_a_gan.ipynb"
CHROMIUM = Path(os.environ.get("TUTORIAL_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
HOW_TO_INSTALL = ("Debian's chromium is needed for the real-browser test of the widgets: "
                  "`sudo apt-get install chromium` (Debian/Ubuntu; .ci/run does it in CI). "
                  "playwright drives /usr/bin/chromium and downloads no browser of its own.")
SERVER_START_S, IMAGE_UPDATE_S, FRAME_S, SETTLE_S, STILL_S = 90, 30, 60, 60, 5
# A notebook's run fails when no cell has finished for STALL_S s (its slowest fast-mode cell takes well under a
# minute alone) or when it takes longer than NOTEBOOK_CAP_S in all; 'Run All Cells' is clicked again when no cell
# has started RUN_ALL_RETRY_S s after the click; a notebook that ends without its widget fails RENDER_S s later.
STALL_S, NOTEBOOK_CAP_S, RUN_ALL_RETRY_S, RENDER_S = 300, 900, 20, 20


def _missing(reason):
    if env_flag("TUTORIAL_REQUIRE_BROWSER"):
        pytest.fail(f"TUTORIAL_REQUIRE_BROWSER=1 but {reason}. {HOW_TO_INSTALL}")
    pytest.skip(f"{reason}. {HOW_TO_INSTALL}")


def _require_browser():
    """Skip (or, with TUTORIAL_REQUIRE_BROWSER=1, fail) unless chromium and playwright are both there."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} was not found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package playwright is not installed (it is in requirements.txt: run `make test`)")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy


def _request(url, token, method="GET", timeout=5):
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    with _LOOPBACK.open(request, timeout=timeout) as response:
        return response.status


class Lab:
    """A JupyterLab server of this environment serving `root`, stopped by `stop()`."""

    def __init__(self, root, scratch, env):
        self.port, self.token = _free_port(), uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = scratch / "jupyterlab.log"
        settings = scratch / "settings"
        # No news or update checks (the machine may be offline, and the toasts would cover the notebook).
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        # Keep every cell in the page (no virtual scrolling), so the test sees all prompts and outputs.
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}))
        env = dict(env, JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
                   IPYTHONDIR=str(scratch / "ipython"))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.root_dir={root}",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", "--ServerApp.open_browser=False"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            command.append("--allow-root")  # containers run as root
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"JupyterLab exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if _request(f"{self.url}/api/status", self.token) == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"JupyterLab did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self):
        if self.process.poll() is None:
            try:  # a clean shutdown also stops the kernels it started
                _request(f"{self.url}/api/shutdown", self.token, method="POST")
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)


def _fast_env():
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "JUPYTER_PLATFORM_DIRS")}
    env.update(TUTORIAL_FAST="1", TUTORIAL_OFFLINE="1", TUTORIAL_CHECKS_STRICT="1", CI="true")
    return env


def _first_error(page):
    """The text of the first error output on the page, or None."""
    return page.evaluate("""() => {
        for (const node of document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
            const text = node.innerText || '';
            if (/Traceback|Error:|Exception:/.test(text)) return text.slice(0, 3000);
        }
        return null;
    }""")


def _start_kernel(page, timeout=60):
    """Accept JupyterLab's 'Select Kernel' dialog if it asks (the notebook's own kernel, python3), then wait
    until the kernel is idle."""
    deadline, idle_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if _accept_dialog(page):
            idle_since = None
        elif page.evaluate("""() => {
                const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
                return indicator !== null && indicator.getAttribute('data-status') === 'idle';
            }"""):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 2:  # idle, and no dialog popped up meanwhile
                return
        time.sleep(0.5)
    raise AssertionError(f"the notebook's kernel was not idle within {timeout} s of opening it")


def _dialog_text(page):
    """The text of the JupyterLab dialog on the page, or None."""
    dialog = page.locator(".jp-Dialog")
    return dialog.first.inner_text() if dialog.count() else None


def _accept_dialog(page):
    """Accept a JupyterLab dialog (the 'Select Kernel' one: the notebook's own kernel); True if there was one."""
    dialog = page.locator(".jp-Dialog")
    if not dialog.count():
        return False
    dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
    return True


def _run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


# The code cells' prompts ("[3]:" run, "[*]:" running or queued, "[ ]:" not run), the kernel's status, and the
# running cell: the first line of its source and the end of its output.
_STATE = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
    const prompt = c => (c.querySelector('.jp-InputArea .jp-InputPrompt') || {}).textContent || '';
    const running = cells.find(c => /\\[\\*\\]/.test(prompt(c)));
    const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return {
        prompts: cells.map(prompt),
        kernel: indicator === null ? null : indicator.getAttribute('data-status'),
        running: running ? (running.querySelector('.jp-InputArea-editor') || {}).innerText?.split('\\n')[0] : null,
        output: running ? ((running.querySelector('.jp-OutputArea') || {}).innerText || '').slice(-600) : null,
    };
}"""


def _cells_run(state):
    return sum(bool(re.search(r"\[\d+\]", p)) for p in state["prompts"])


def _cells_started(state):
    return sum(bool(re.search(r"\[(\*|\d+)\]", p)) for p in state["prompts"])


def _finished(state):
    """Every code cell has run (a number in its prompt, none waiting with [*]) and the kernel is idle."""
    return bool(state["prompts"]) and _cells_run(state) == len(state["prompts"]) and state["kernel"] == "idle"


def _diagnosis(page, lab):
    """What the notebook was doing: for an assertion message."""
    state = page.evaluate(_STATE)
    lines = [f"{_cells_run(state)} of {len(state['prompts'])} code cells had run, "
             f"{_cells_started(state) - _cells_run(state)} were running or queued; kernel: {state['kernel']}"]
    if state["running"] is not None:
        lines += [f"running: {state['running']!r}", f"its output ends with: {state['output']!r}"]
    dialog = _dialog_text(page)
    if dialog:
        lines.append(f"dialog on the page: {dialog!r}")
    lines.append(f"end of {lab.log.name}:\n{lab.log.read_text()[-4000:]}")
    return "\n".join(lines)


def _run_all_and_wait_for(page, lab, selector, ready, name, what):
    """Run all cells; wait for the widget `selector` (with `ready(locator)` true) and then for the whole notebook.

    No fixed deadline for the notebook, which may run slowly on a loaded machine: the test fails when no cell has
    finished for STALL_S seconds, when the run takes longer than NOTEBOOK_CAP_S, when a cell raises, or when a
    dialog says that the kernel died; other dialogs (the kernel choice) are accepted and named in the output."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    _start_kernel(page)
    _run_all(page)
    start = time.monotonic()
    progress, progress_at, retried = -1, start, 0
    widget = finished_at = None
    while True:
        now = time.monotonic()
        dialog = _dialog_text(page)
        state = page.evaluate(_STATE)
        if dialog is not None:
            if any(word in dialog.lower() for word in ("died", "restarting", "kernel error", "dead kernel")):
                raise AssertionError(f"{name}: the kernel failed while the notebook ran:\n{_diagnosis(page, lab)}")
            print(f"{name}: accepted the dialog {dialog!r}")  # the kernel choice (the notebook's own), or another
            _accept_dialog(page)
            if not _cells_started(state):
                _run_all(page)
        error = _first_error(page)
        if error:
            raise AssertionError(f"{name} raised in the browser:\n{error}")
        if not _cells_started(state) and now - progress_at > RUN_ALL_RETRY_S and retried < 2:
            _run_all(page)  # the menu click did not take (the page was still busy): click again
            retried, progress_at = retried + 1, now
        if _cells_run(state) > progress:
            progress, progress_at = _cells_run(state), now
        if widget is None:
            candidate = page.locator(selector)
            if candidate.count() and ready(candidate.first):
                widget = candidate.first
        # The kernel answers a widget only once it has run the cells after it: wait for the end.
        if _finished(state):
            if widget is not None:
                return widget
            finished_at = finished_at or now  # the page may still be drawing the last outputs
            if now - finished_at > RENDER_S:
                raise AssertionError(f"{name} ran to the end without showing the {what} ({RENDER_S} s after its last "
                                     f"cell):\n{_diagnosis(page, lab)}")
        else:
            finished_at = None
        waiting_for = f"the {what}" if widget is None else "the end of the notebook"
        if now - progress_at > STALL_S:
            raise AssertionError(f"{name}: no cell finished for {STALL_S} s while waiting for {waiting_for}:\n"
                                 f"{_diagnosis(page, lab)}")
        if now - start > NOTEBOOK_CAP_S:
            raise AssertionError(f"{name}: still waiting for {waiting_for} {NOTEBOOK_CAP_S} s after 'Run All "
                                 f"Cells':\n{_diagnosis(page, lab)}")
        time.sleep(1.0)


def _run_all_and_wait_for_explorer(page, lab):
    return _run_all_and_wait_for(
        page, lab, ".latent-explorer",
        lambda explorer: explorer.locator(".widget-slider, .widget-hslider").count() and explorer.locator("img").count(),
        "notebook 02", "latent explorer (an ipywidgets VBox with class 'latent-explorer', FloatSliders and an Image)")


def _image_signature(image):
    return image.get_attribute("src"), image.screenshot()


def explore_in_browser(notebook, screenshots, scratch):
    """Run `notebook` in JupyterLab + chromium; check the latent explorer; return screenshot paths."""
    from playwright.sync_api import sync_playwright

    root = scratch / "lab"
    shutil.copytree(notebook.parent, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    lab = Lab(root, scratch, _fast_env())  # a copy: autosave must never write outputs into notebooks/
    try:
        lab.wait_ready(SERVER_START_S)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{lab.url}/lab/tree/{notebook.name}?token={lab.token}", timeout=60_000)
                try:
                    explorer = _run_all_and_wait_for_explorer(page, lab)
                except AssertionError:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshots / "failure.png"), full_page=True)
                    raise
                explorer.scroll_into_view_if_needed()
                sliders = explorer.locator(".widget-slider, .widget-hslider")
                assert sliders.count() >= 1
                for i in range(sliders.count()):
                    assert sliders.nth(i).is_visible(), f"slider {i} of the latent explorer is not visible"
                image = explorer.locator("img").first
                page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                       timeout=30_000)
                box = image.bounding_box()
                assert box and box["width"] > 10 and box["height"] > 10, f"the decoded image is not shown: {box}"
                screenshots.mkdir(parents=True, exist_ok=True)
                before_path = screenshots / "latent_explorer_before.png"
                explorer.screenshot(path=str(before_path))
                src_before, pixels_before = _image_signature(image)

                # Drag the first slider's handle a third of the track, towards the side with more room,
                # as a learner would.
                slider = sliders.first
                readout = slider.locator(".widget-readout")
                readout_before = readout.inner_text() if readout.count() else None
                handle = slider.locator(".noUi-handle, .ui-slider-handle").first
                track = slider.locator(".noUi-target, .slider-container, .ui-slider").first.bounding_box()
                start = handle.bounding_box()
                x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
                room_right = track["x"] + track["width"] - x
                target = x + track["width"] / 3 if room_right > track["width"] / 2 else x - track["width"] / 3
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.move(target, y, steps=8)
                page.mouse.up()

                deadline, changed = time.monotonic() + IMAGE_UPDATE_S, False
                while time.monotonic() < deadline and not changed:
                    time.sleep(0.5)
                    src_after, pixels_after = _image_signature(image)
                    changed = src_after != src_before and pixels_after != pixels_before
                if readout_before is not None:
                    assert readout.inner_text() != readout_before, "the slider's value did not move"
                assert changed, f"moving a slider did not change the decoded image within {IMAGE_UPDATE_S} s"
                after_path = screenshots / "latent_explorer_after.png"
                explorer.screenshot(path=str(after_path))
                page_path = screenshots / "notebook_02.png"
                page.screenshot(path=str(page_path))
                return [before_path, after_path, page_path]
            finally:
                browser.close()
    finally:
        lab.stop()


def test_latent_explorer_in_a_real_browser(tmp_path):
    _require_browser()
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.relative_to(ROOT)} does not exist yet")
    paths = explore_in_browser(NOTEBOOK, SCREENSHOTS, tmp_path)
    for path in paths:
        assert path.stat().st_size > 1000
    print("screenshots:", *[str(p.relative_to(ROOT)) for p in paths])


def _wait_until_still(image, status, settle, still):
    """Wait (at most `settle` s) until the picture and the status line stay the same for `still` s; return
    whether they did."""
    deadline = time.monotonic() + settle
    last, since = (image.get_attribute("src"), status.inner_text()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = (image.get_attribute("src"), status.inner_text())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return True
    return False


def play_in_browser(notebook, screenshots, scratch):
    """Run `notebook` in JupyterLab + chromium; in the GAN playground press play (the picture must change), then
    pause (it must stop changing); return screenshot paths."""
    from playwright.sync_api import sync_playwright

    root = scratch / "lab"
    shutil.copytree(notebook.parent, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    lab = Lab(root, scratch, _fast_env())
    try:
        lab.wait_ready(SERVER_START_S)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{lab.url}/lab/tree/{notebook.name}?token={lab.token}", timeout=60_000)
                try:
                    playground = _run_all_and_wait_for(
                        page, lab, ".gan-playground",
                        lambda box: box.locator(".widget-play button").count() and box.locator("img").count(),
                        "notebook 04", "GAN playground (an ipywidgets VBox with class 'gan-playground', a Play "
                        "widget and an Image)")
                except AssertionError:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshots / "failure.png"), full_page=True)
                    raise
                playground.scroll_into_view_if_needed()
                image = playground.locator("img").first
                status = playground.locator(".widget-html").first
                page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                       timeout=30_000)
                box = image.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100, f"the playground's picture is not shown: {box}"
                assert "step 0" in status.inner_text(), status.inner_text()
                screenshots.mkdir(parents=True, exist_ok=True)
                paths = [screenshots / "gan_playground_before.png"]
                playground.screenshot(path=str(paths[-1]))
                src_before = image.get_attribute("src")

                play_pause = playground.locator(".widget-play button").first  # the Play widget's play/pause toggle
                assert play_pause.locator("i.fa-play").count(), "the play button does not show ▶ before playing"
                play_pause.click()
                deadline, changed = time.monotonic() + FRAME_S, False
                while time.monotonic() < deadline and not changed:
                    time.sleep(0.5)
                    changed = image.get_attribute("src") != src_before and "step 0" not in status.inner_text()
                assert changed, f"pressing play did not change the picture within {FRAME_S} s"
                assert play_pause.locator("i.fa-pause").count(), "the button does not show pause while playing"
                paths.append(screenshots / "gan_playground_playing.png")
                playground.screenshot(path=str(paths[-1]))

                play_pause.click()  # pause
                assert _wait_until_still(image, status, SETTLE_S, STILL_S), \
                    f"the picture kept changing for {SETTLE_S} s after pressing pause"
                paused = (image.get_attribute("src"), status.inner_text())
                time.sleep(STILL_S)
                assert (image.get_attribute("src"), status.inner_text()) == paused, "the picture changed while paused"
                assert play_pause.locator("i.fa-play").count(), "the button does not show ▶ after pausing"
                paths.append(screenshots / "gan_playground_paused.png")
                playground.screenshot(path=str(paths[-1]))
                paths.append(screenshots / "notebook_04.png")
                page.screenshot(path=str(paths[-1]))
                return paths
            finally:
                browser.close()
    finally:
        lab.stop()


def test_gan_playground_in_a_real_browser(tmp_path):
    _require_browser()
    paths = play_in_browser(GAN_NOTEBOOK, SCREENSHOTS, tmp_path)
    for path in paths:
        assert path.stat().st_size > 1000
    print("screenshots:", *[str(p.relative_to(ROOT)) for p in paths])
