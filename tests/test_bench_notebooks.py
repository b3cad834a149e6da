"""`make bench-notebooks` (benchmarks/notebooks.py): each notebook's wall time, CPU time and peak memory.

The measuring code runs on small notebooks made here (one that holds a known amount of memory, then fails);
the reader and the merge on made-up results. When benchmarks/results/notebooks.json holds full-mode measurements,
they must meet the course's budgets: every notebook ran, peaks at <= 2 GB (Binder gives a session 1-2 GB), and its
header's "about N min in full mode" is the measured wall time rounded to whole minutes.
"""
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_notebooks", ROOT / "benchmarks" / "notebooks.py")
bench_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_notebooks)

MB = 2**20


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def _entry(wall_s, peak_mb, ok=True, cpu_s=None):
    cpu_s = wall_s if cpu_s is None else cpu_s
    return {"ok": ok, "wall_s": wall_s, "cpu_s": cpu_s, "peak_rss_mb": peak_mb, "wall_min": wall_s / 60,
            "cpu_min": cpu_s / 60, "peak_rss_gb": peak_mb / 1024, "machine": {"cpu": "Test CPU"},
            "load_average": {"start": [0.1, 0.2, 0.3], "end": [0.1, 0.2, 0.3]}}


@pytest.mark.skipif(not hasattr(bench_notebooks.os, "wait4"), reason="os.wait4: Linux or macOS")
def test_measures_the_kernels_memory_and_reports_a_failing_cell(tmp_path):
    """A kernel that holds 300 MB (written, so resident) peaks at >= 300 MB; its failing cell is reported."""
    path = _notebook(tmp_path / "01_memory.ipynb",
                     "import os\nheld = b'x' * (300 * 2**20)\nassert os.environ.get('TUTORIAL_FAST') == '1'",
                     "sum(range(10**6))", "1 / 0")
    entry = bench_notebooks.measure(path, fast=True, timeout=600)
    assert entry["ok"] is False and "ZeroDivisionError" in entry["error"] and "exit status" in entry["error"]
    assert entry["peak_rss_mb"] >= 300, entry
    assert entry["peak_rss_gb"] == pytest.approx(entry["peak_rss_mb"] / 1024, abs=1e-3)
    assert 0 < entry["cpu_s"] and 0 < entry["wall_s"]
    assert entry["wall_min"] == pytest.approx(entry["wall_s"] / 60, abs=0.01)
    assert len(entry["load_average"]["start"]) == 3
    assert not list(tmp_path.glob("*.nbconvert.ipynb")), "the executed copy must not land beside the notebook"


@pytest.mark.skipif(not hasattr(bench_notebooks.os, "wait4"), reason="os.wait4: Linux or macOS")
def test_full_mode_unsets_tutorial_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_FAST", "1")
    path = _notebook(tmp_path / "02_full.ipynb", "import os\nassert 'TUTORIAL_FAST' not in os.environ")
    entry = bench_notebooks.measure(path, fast=False, timeout=600)
    assert entry["ok"], entry.get("error")


def test_run_merges_into_the_results_file_and_refuses_another_mode(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("00_a.ipynb", "01_b.ipynb", "02_c.ipynb"):
        _notebook(folder / name, "1")
    measured = iter([_entry(30, 100), _entry(90, 1500), _entry(120, 900), _entry(200, 700)])
    monkeypatch.setattr(bench_notebooks, "measure", lambda path, fast, timeout: next(measured))
    out = tmp_path / "notebooks.json"
    bench_notebooks.run(bench_notebooks.select([], folder), out, log=lambda *a, **k: None)
    bench_notebooks.run(bench_notebooks.select(["01"], folder), out, log=lambda *a, **k: None)
    report = bench_notebooks.read(out)
    assert report["mode"] == "full" and list(report["notebooks"]) == ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]
    assert [entry["wall_s"] for entry in report["notebooks"].values()] == [30, 200, 120]  # 01 measured again
    assert report["notebooks"]["00_a.ipynb"]["machine"]["cores"] >= 1
    with pytest.raises(SystemExit, match="full mode results"):
        bench_notebooks.run([folder / "00_a.ipynb"], out, fast=True, log=lambda *a, **k: None)


def test_select_names_an_unknown_notebook(tmp_path):
    _notebook(tmp_path / "00_a.ipynb", "1")
    assert [p.name for p in bench_notebooks.select(["00"], tmp_path)] == ["00_a.ipynb"]
    with pytest.raises(SystemExit, match=r"no notebook .* starts with \['07'\]"):
        bench_notebooks.select(["07"], tmp_path)


def test_reader_and_table(tmp_path):
    out = tmp_path / "notebooks.json"
    out.write_text(json.dumps({"mode": "full", "notebooks": {"00_a.ipynb": _entry(90, 1536, cpu_s=120),
                                                             "06_b.ipynb": _entry(600, 512, ok=False)}}))
    report = bench_notebooks.read(out)
    assert bench_notebooks.rows(report) == [("00_a.ipynb", 1.5, 2.0, 1.5, True),
                                            ("06_b.ipynb", 10.0, 10.0, 0.5, False)]
    table = bench_notebooks.table(report)
    assert "| 00_a.ipynb | 1.5 | 2.0 | 1.50 |" in table and "| 06_b.ipynb (FAILED) | 10.0 | 10.0 | 0.50 |" in table
    assert "Test CPU" in table
    with pytest.raises(FileNotFoundError, match="make bench-notebooks"):
        bench_notebooks.read(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="not a results file"):
        bench_notebooks.read(tmp_path / "other.json")
    assert bench_notebooks.main(["--show", "--out", str(tmp_path / "missing.json")]) == 2


# ---------------------------------------------------------------- the measured budgets

def _measured():
    if not bench_notebooks.RESULTS.is_file():
        pytest.skip(f"{bench_notebooks.RESULTS.name} is not there yet: run `make bench-notebooks` on a quiet machine")
    report = bench_notebooks.read(bench_notebooks.RESULTS)
    assert report["mode"] == "full", "benchmarks/results/notebooks.json must hold full-mode measurements"
    return report["notebooks"]


def test_every_notebook_ran_in_full_mode():
    measured = _measured()
    lessons = [p.name for p in bench_notebooks.select([])]
    assert sorted(measured) == lessons, "notebooks.json must measure every lesson (and no other)"
    failed = {name: entry.get("error", "")[-300:] for name, entry in measured.items() if not entry["ok"]}
    assert not failed, failed


#: Lessons measured over the course's full-mode budgets (10 min, 2 GB), still to be cut. Listed so that the suite
#: stays green while they are; the test below fails when another lesson goes over, and when one of these comes
#: within its budgets (then remove it here). None at present.
OVER_BUDGET = set()


def _over(entry):
    return entry["peak_rss_gb"] > 2.0 or bench_notebooks.minutes(entry) > 10


def test_every_notebook_peaks_at_2_gb_or_less_and_runs_in_10_minutes():
    over = {name: (entry["peak_rss_gb"], entry["wall_min"]) for name, entry in _measured().items() if _over(entry)}
    assert set(over) == OVER_BUDGET, (f"(peak GB, minutes) of the lessons over 2 GB (Binder's limit) or 10 min: {over}; "
                                      f"listed as still over: {sorted(OVER_BUDGET)}")


def test_headers_quote_the_measured_full_mode_time():
    wrong = {}
    for name, entry in _measured().items():
        header = nbformat.read(bench_notebooks.NOTEBOOKS / name, as_version=4).cells[0].source
        quoted = re.search(r"about (\d+) min in full mode", header)
        expected = bench_notebooks.minutes(entry)
        if not quoted or int(quoted.group(1)) != expected:
            wrong[name] = f"header says {quoted.group(0) if quoted else 'nothing'}; measured {entry['wall_min']} min"
    assert not wrong, f"header times differ from notebooks.json (rounded to whole minutes): {wrong}"


def test_the_readme_quotes_the_measured_time_and_memory():
    """The syllabus's last column: "<full-mode minutes> min, <peak GB> GB / <fast-mode estimate>", from the file."""
    measured = _measured()
    readme = (ROOT / "README.md").read_text()
    syllabus = readme.split("<!-- syllabus:start -->")[1].split("<!-- syllabus:end -->")[0]
    rows = {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| (\d\d) \|.*\| ([^|]+) \|$", syllabus, re.M)}
    wrong = {}
    for name, entry in measured.items():
        quoted = rows.get(name[:2], "").split(" / ")[0]
        if quoted != bench_notebooks.readme_cell(entry):
            wrong[name] = f"README says {quoted!r}; notebooks.json gives {bench_notebooks.readme_cell(entry)!r}"
    assert not wrong, wrong


def test_minutes_round_half_up_and_never_say_zero():
    assert [bench_notebooks.minutes({"wall_min": w}) for w in (0.1, 0.49, 1.49, 1.5, 7.35, 9.5)] == [1, 1, 1, 2, 7, 10]
    assert bench_notebooks.readme_cell({"wall_min": 7.35, "peak_rss_gb": 1.4789}) == "7 min, 1.48 GB"
