"""What each lesson costs a learner: every notebook executed top to bottom in a fresh kernel, as a learner runs it
(full mode: TUTORIAL_FAST unset), with its wall time, CPU time and peak resident memory.

Each notebook runs as `jupyter nbconvert --to notebook --execute` in a child process (outputs go to a temporary
folder; the committed notebook is not touched). When the child ends, os.wait4 returns its resource usage with
that of its waited-for descendants, the kernel included: the CPU time is user + system time of nbconvert and the
kernel together, the peak memory is the largest resident set of one of them (the kernel's), as `/usr/bin/time -v`
reports it. The load average before and after each notebook says whether the machine was quiet.
Writes benchmarks/results/notebooks.json (merging: notebooks not run this time keep their entries).

    python -m tutorial_lib.bench notebooks                     # every notebook, full mode (about an hour)
    python -m tutorial_lib.bench notebooks 02 06               # some of them (by name or number prefix)
    python -m tutorial_lib.bench notebooks --fast 00           # a smoke run in fast mode (build/bench/...)
    python -m tutorial_lib.bench notebooks --show              # the table of the results file

Linux or macOS (os.wait4). Run it on a quiet machine: other work slows the notebooks down.
"""
import argparse
import datetime
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tutorial_lib.bench import cpu_name, load_average, write_json  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"
FAST_RESULTS = ROOT / "build" / "bench" / "notebooks-fast.json"
MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TUTORIAL_DEVICE", "TUTORIAL_DATA", "TUTORIAL_OFFLINE")


def select(names, folder=NOTEBOOKS):
    """The notebooks to run: all of `folder`'s lessons, or those whose file name starts with one of `names`."""
    lessons = sorted(p for p in folder.glob("[0-9]*.ipynb"))
    if not names:
        return lessons
    chosen = [p for p in lessons if any(p.name.startswith(name) for name in names)]
    unknown = [name for name in names if not any(p.name.startswith(name) for p in lessons)]
    if unknown:
        raise SystemExit(f"error: no notebook in {folder} starts with {unknown}; "
                         f"the lessons are {[p.name for p in lessons]}")
    return chosen


def measure(path, fast=False, timeout=1800, python=sys.executable):
    """Execute one notebook in a child process; returns its entry: wall_s, cpu_s, peak_rss_mb, load averages."""
    env = {k: v for k, v in os.environ.items() if k != "TUTORIAL_FAST"}
    if fast:
        env["TUTORIAL_FAST"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench-notebooks-") as out:
        command = [python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(path),
                   "--output-dir", out, f"--ExecutePreprocessor.timeout={timeout}"]
        load_before = load_average()
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # its own process group: a timeout ends the kernel too
        timed_out = threading.Event()

        def stop():
            timed_out.set()
            os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(timeout + 60, stop)
        timer.start()
        log = []
        reader = threading.Thread(target=lambda: log.append(child.stdout.read()), daemon=True)
        reader.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, not by Popen
        reader.join(timeout=10)
    text = (log[0] if log else b"").decode(errors="replace")
    cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss * MAXRSS_UNIT / 2**20
    entry = {
        "ok": child.returncode == 0 and not timed_out.is_set(),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(peak, 1),
        # the units the README and the headers quote (minutes, GB = 1024 MB)
        "wall_min": round(wall / 60, 2),
        "cpu_min": round(cpu / 60, 2),
        "peak_rss_gb": round(peak / 1024, 3),
        "load_average": {"start": load_before, "end": load_average()},
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if not entry["ok"]:
        entry["error"] = ("timed out" if timed_out.is_set() else f"exit status {child.returncode}") + \
            ": " + text[-1500:]
    return entry


def machine():
    """The hardware and software the notebooks ran on."""
    versions = {}
    for package in ("torch", "nbconvert", "ipykernel"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), **versions,
            "environment": {k: os.environ[k] for k in ENVIRONMENT if k in os.environ}}


def run(paths, out, fast=False, timeout=1800, log=print):
    """Measure `paths` one after the other, saving `out` after each (merged into what it held)."""
    mode = "fast" if fast else "full"
    report = read(out) if out.is_file() else None
    if report is not None and report.get("mode") != mode:
        raise SystemExit(f"error: {out} holds {report.get('mode')} mode results; this run is {mode} mode. "
                         "Name another file with --out.")
    report = report or {"mode": mode, "notebooks": {}}
    report["what"] = ("each notebook executed in a fresh kernel (jupyter nbconvert --execute) in "
                      + ("fast mode (TUTORIAL_FAST=1)" if fast else "full mode (TUTORIAL_FAST unset)")
                      + ": wall time, CPU time (user + system, kernel included), peak resident memory of the "
                      "largest process (the kernel)")
    report["command"] = "python -m tutorial_lib.bench notebooks" + (" --fast" if fast else "")
    for path in paths:
        log(f"{path.name} ({mode} mode) ...", flush=True)
        entry = measure(path, fast=fast, timeout=timeout)
        entry["machine"] = machine()
        report["notebooks"][path.name] = entry
        report["notebooks"] = dict(sorted(report["notebooks"].items()))
        write_json(out, report)
        log(f"  {'ok' if entry['ok'] else 'FAILED'}: {entry['wall_s']:.0f} s wall, {entry['cpu_s']:.0f} s CPU, "
            f"peak {entry['peak_rss_mb']:.0f} MB, load {entry['load_average']['start']}", flush=True)
        if not entry["ok"]:
            log(entry["error"], flush=True)
    return report


# ---------------------------------------------------------------- reading the results (README, appendix, tests)

def read(path=RESULTS):
    """The results file as a dict, with a clear error when it is missing or not one of this script's files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make bench-notebooks` (about an hour, on a quiet machine)")
    report = json.loads(path.read_text())
    if not isinstance(report, dict) or not isinstance(report.get("notebooks"), dict) or "mode" not in report:
        raise ValueError(f"{path} is not a results file of benchmarks/notebooks.py (no 'mode' and 'notebooks')")
    return report


def rows(report):
    """[(notebook, minutes of wall time, minutes of CPU time, peak memory in GB, ok)], one per notebook."""
    return [(name, entry["wall_min"], entry["cpu_min"], entry["peak_rss_gb"], entry["ok"])
            for name, entry in report["notebooks"].items()]


def minutes(entry):
    """The full-mode time a header and the README quote: the measured wall time in whole minutes (at least 1)."""
    return max(1, math.floor(entry["wall_min"] + 0.5))


def readme_cell(entry):
    """What the README's syllabus says of a notebook's full mode: "7 min, 1.48 GB" (time as `minutes`, peak memory)."""
    return f"{minutes(entry)} min, {entry['peak_rss_gb']:.2f} GB"


def table(report):
    """A markdown table of the results (what --show prints)."""
    lines = ["| notebook | wall time (min) | CPU time (min) | peak memory (GB) |", "| --- | ---: | ---: | ---: |"]
    for name, wall, cpu, peak, ok in rows(report):
        lines.append(f"| {name}{'' if ok else ' (FAILED)'} | {wall:.1f} | {cpu:.1f} | {peak:.2f} |")
    cpus = sorted({entry["machine"]["cpu"] for entry in report["notebooks"].values() if "machine" in entry})
    return "\n".join([f"{report['mode'].capitalize()} mode, on {', '.join(cpus) or '?'}:", ""] + lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="file names or prefixes (02, 06_comparing); default: all")
    parser.add_argument("--fast", action="store_true", help=f"fast mode (TUTORIAL_FAST=1), into {FAST_RESULTS}")
    parser.add_argument("--out", type=Path, help=f"the results file (default {RESULTS})")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--show", action="store_true", help="print the results file's table and stop")
    args = parser.parse_args(argv)
    out = args.out or (FAST_RESULTS if args.fast else RESULTS)
    if args.show:
        try:
            print(table(read(out)))
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    if not hasattr(os, "wait4"):
        print("error: this script measures with os.wait4, which needs Linux or macOS", file=sys.stderr)
        return 2
    report = run(select(args.notebooks), out, fast=args.fast, timeout=args.timeout)
    print(table(report))
    print(f"Wrote {out}")
    return 0 if all(entry["ok"] for entry in report["notebooks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
