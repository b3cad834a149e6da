"""The course's benchmarks from the command line (they live in the repository's ``benchmarks/`` folder).

    python -m tutorial_lib.bench vae        # benchmarks/vae.py: examples-comparable VAE vs the course's best
    python -m tutorial_lib.bench gan2d      # benchmarks/gan2d.py: notebook 05's table at full length
    python -m tutorial_lib.bench compare    # benchmarks/compare.py: notebooks 06 and 08: the tables, sample grids
    python -m tutorial_lib.bench stacked    # benchmarks/stacked.py: notebook 09's Stacked MNIST table (1,000 modes)
    python -m tutorial_lib.bench notebooks  # benchmarks/notebooks.py: each notebook's time and peak memory
    python -m tutorial_lib.bench gan2d --quick    # options go to the script (--help lists them)

Each writes its JSON (and figures) to ``benchmarks/results/`` with the hardware it ran on.
"""
import os
import platform
import runpy
import sys
from pathlib import Path

BENCHMARKS = {"vae": "vae.py", "gan2d": "gan2d.py", "compare": "compare.py", "stacked": "stacked.py",
              "notebooks": "notebooks.py"}
FOLDER = Path(__file__).resolve().parent.parent / "benchmarks"


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo on Linux), for the hardware line of a benchmark's results."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    """The 1, 5 and 15 minute load averages (None where the OS has none): was the machine quiet?"""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def write_json(path, value, indent=2):
    """Write `value` as JSON to `path` atomically (a temporary file beside it, then a rename), creating the
    folder: a crash never leaves half a results file. Returns the Path."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=indent) + "\n")
    os.replace(tmp, path)
    return path


def script_path(name):
    """The path of benchmark `name` (one of BENCHMARKS); a clear error when it is unknown or not installed."""
    if name not in BENCHMARKS:
        raise ValueError(f"Unknown benchmark {name!r}: use one of {sorted(BENCHMARKS)}")
    path = FOLDER / BENCHMARKS[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the benchmarks ship with the course repository, not with the package. "
            "Clone the repository and run `make test` (or `pip install -e .`) there.")
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        path = script_path(argv[0])
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.argv = [str(path), *argv[1:]]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
