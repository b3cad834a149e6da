"""Sphinx extension of the course website: ipywidgets outputs become static snapshots.

A widget needs a running kernel; a static page has none, and the widget JavaScript would come from a CDN. So
each widget output of a notebook (an application/vnd.jupyter.widget-view+json output, whose state the
execution saved in the notebook's metadata) is replaced by what it showed when the cell ran: its text (HTML and
Label widgets), its images (Image widgets, as PNG data), the values of its controls, and a sentence saying
that it responds when the notebook runs in JupyterLab, Binder or Colab. The page then loads no widget
JavaScript (the widget state is dropped from it too).

A widget output whose state was not saved gives a warning (a failure under -W): the snapshot would be empty.
"""
import base64
import html
import json
import re

from docutils import nodes
from sphinx.util import logging

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
NOTE = ("<strong>Interactive widget, shown here as a snapshot</strong> of its first state. Its controls respond "
        "when you run this notebook in JupyterLab, on Binder or on Colab (the rocket button at the top of the page).")
_VIEW_SCRIPT = re.compile(rf'^<script type="{re.escape(VIEW)}">(.*)</script>$', re.S)
_CONTROLS = ("Slider", "Dropdown", "Text", "Checkbox", "ToggleButton", "RadioButtons", "Select", "BoundedFloat",
             "BoundedInt", "FloatText", "IntText")
logger = logging.getLogger(__name__)


def _loads(text):
    """JSON from a <script> body (myst-nb escapes '</' and may encode the JSON once more as a string)."""
    value = json.loads(text.replace("<\\/", "</"))
    return json.loads(value) if isinstance(value, str) else value


def _children(state):
    for key in ("children",):
        for ref in state.get(key, []) or []:
            if isinstance(ref, str) and ref.startswith("IPY_MODEL_"):
                yield ref[len("IPY_MODEL_"):]


def snapshot_html(model_id, models):
    """HTML of the widget `model_id` as it was saved in `models` (the widget-state "state" mapping)."""
    parts, controls, seen = [], [], set()

    def visit(mid):
        if mid in seen or mid not in models:
            return
        seen.add(mid)
        model = models[mid]
        name, state = model.get("model_name", ""), model.get("state", {})
        if name == "ImageModel":
            data = next((b["data"] for b in model.get("buffers", []) if b.get("path") == ["value"]), None)
            if data is None and isinstance(state.get("value"), str):
                data = state["value"]
            if data:
                fmt = state.get("format", "png")
                size = "".join(f' {k}="{html.escape(str(state[k]))}"' for k in ("width", "height") if state.get(k))
                parts.append(f'<img class="widget-snapshot-image" alt="snapshot of the widget\'s image"'
                             f' src="data:image/{fmt};base64,{data}"{size}>')
        elif name in ("HTMLModel", "HTMLMathModel"):
            parts.append(f'<div class="widget-snapshot-html">{state.get("value", "")}</div>')
        elif name == "LabelModel":
            parts.append(f'<p class="widget-snapshot-label">{html.escape(str(state.get("value", "")))}</p>')
        elif any(control in name for control in _CONTROLS):
            # ipywidgets may leave out a value equal to its default (0 for the numeric controls)
            value = state.get("value", 0 if any(k in name for k in ("Slider", "Int", "Float")) else "")
            if "Dropdown" in name or "Select" in name or "Radio" in name:
                labels, index = state.get("_options_labels", []), state.get("index")
                value = labels[index] if isinstance(index, int) and index < len(labels) else value
            if isinstance(value, float):
                value = f"{value:.3g}"
            controls.append(f"{html.escape(str(state.get('description') or name[:-5]))} = {html.escape(str(value))}")
        for child in _children(state):
            visit(child)

    visit(model_id)
    if controls:
        parts.append(f'<p class="widget-snapshot-controls">Controls: {", ".join(controls)}</p>')
    return (f'<div class="widget-snapshot"><p class="widget-snapshot-note">{NOTE}</p>'
            f'<div class="widget-snapshot-body">{"".join(parts)}</div></div>')


def _page_widget_state(env, docname):
    js_files = getattr(env, "nb_metadata", {}).get(docname, {}).get("js_files", {})
    entry = js_files.get("ipywidgets_state")
    if not entry:
        return {}
    return _loads(entry[1].get("body", "{}")).get("state", {})


def replace_widgets(app, doctree):
    env, docname = app.env, app.env.docname
    views = [node for node in doctree.findall(nodes.raw)
             if node.get("format") == "html" and node.astext().startswith(f'<script type="{VIEW}">')]
    if not views:
        return
    models = _page_widget_state(env, docname)
    for node in views:
        model_id = _loads(_VIEW_SCRIPT.match(node.astext()).group(1)).get("model_id")
        if model_id not in models:
            logger.warning(f"the state of widget {model_id} was not saved when the notebook ran; its snapshot is "
                           "empty (execute with nbclient's store_widget_state)", location=node)
        node.replace_self(nodes.raw("", snapshot_html(model_id, models), format="html"))
    # No widget JavaScript on the page: neither the saved state nor the CDN bundles.
    js_files = getattr(env, "nb_metadata", {}).get(docname, {}).get("js_files", {})
    for key in [k for k in js_files if k.startswith("ipywidgets")]:
        del js_files[key]


CSS = """
.widget-snapshot { border: 1px solid var(--pst-color-border, #ccc); border-radius: 4px; padding: .5em .8em; margin: .5em 0; }
.widget-snapshot-note { font-size: .9em; margin-bottom: .4em; }
.widget-snapshot-body img { margin: .2em .6em .2em 0; image-rendering: pixelated; max-width: 100%; height: auto; }
.widget-snapshot-controls { font-family: var(--pst-font-family-monospace, monospace); font-size: .85em; }
"""


def add_css(app, pagename, templatename, context, doctree):
    if doctree is not None and any("widget-snapshot" in n.astext() for n in doctree.findall(nodes.raw)):
        context["body"] = f"<style>{CSS}</style>" + context.get("body", "")


def setup(app):
    app.connect("doctree-read", replace_widgets)
    app.connect("html-page-context", add_css)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
