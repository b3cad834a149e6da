"""Notebook 05's table at full length: every method of `tutorial_lib.stabilize` on the 2-D ring and grid, 3
seeds each, scored by the PacGAN protocol (`metrics.mode_metrics`, 2,500 samples) for the last generator and
for its exponential moving average (EMA). Writes benchmarks/results/gan2d.json (per run and means over seeds),
saving it after every run, and prints the table.

    .venv/bin/python benchmarks/gan2d.py                              # the full table (make bench-gan2d)
    .venv/bin/python benchmarks/gan2d.py --quick                      # a smoke run: 1 seed, 300 steps
    .venv/bin/python benchmarks/gan2d.py --methods baseline pacgan --datasets grid --seeds 0 1
    .venv/bin/python benchmarks/gan2d.py --lr-schedule cosine --out build/gan2d-cosine.json   # another recipe
    .venv/bin/python benchmarks/gan2d.py --methods baseline --batch-size 512 --steps 15000 \
        --out benchmarks/results/gan2d-batch512.json      # the course's best remedy (README)

Each run is single-threaded and deterministic given its seed; `--workers` runs that many in parallel processes
(default 2, one per core of a 2-core CPU), which does not change the numbers, only the wall time.
"""
import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from tutorial_lib.bench import cpu_name
from tutorial_lib.plotting import table_markdown
from tutorial_lib.stabilize import BENCHMARK_STEPS, DATASETS, METHODS, TARGETS, config, run_many, summarize

RESULTS = Path(__file__).resolve().parent / "results"



def finite(value):
    """JSON has no infinity: an infinite reverse KL (no high-quality sample) is written as null."""
    return value if isinstance(value, (int, str)) or math.isfinite(value) else None


def scores(metrics):
    return {key: finite(metrics[key]) for key in ("modes", "high_quality", "reverse_kl")} | {
        "counts": metrics["counts"]}


def means(results):
    rows = {}
    for which in ("raw", "ema"):
        for row in summarize(results, which):
            entry = rows.setdefault(f"{row['method']} / {row['dataset']}", {
                "method": row["method"], "dataset": row["dataset"], "seeds": row["seeds"],
                "seconds_per_run": row["seconds"]})
            entry[which] = {key: finite(row[key]) for key in ("modes", "high_quality", "reverse_kl")}
    return rows


def check_targets(rows, steps):
    """Which methods meet the design's targets (mean over seeds, EMA generator) on each dataset."""
    verdict = {}
    for name, row in rows.items():
        target = TARGETS[row["dataset"]]
        ema = row["ema"]
        verdict[name] = bool(ema["modes"] >= target["modes"] and ema["high_quality"] >= target["high_quality"]
                             and row["seconds_per_run"] <= target["seconds"])
    return verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=BENCHMARK_STEPS, help="generator steps per run")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--lr-schedule", default="constant", choices=["constant", "cosine"],
                        help="learning rates constant, or cosine-decayed to 0 over the run (both networks)")
    parser.add_argument("--batch-size", type=int, help="samples per batch for every method (default: the recipe's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: seed 0 only, 300 steps")
    parser.add_argument("--out", default=str(RESULTS / "gan2d.json"))
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps = [0], 300
    overrides = {"lr_schedule": args.lr_schedule} | ({"batch_size": args.batch_size} if args.batch_size else {})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start, load_start = time.perf_counter(), os.getloadavg()
    runs = []
    header = {
        "what": "notebook 05's table: PacGAN protocol (2,500 samples; high quality = within 3 std of the nearest "
                "mode; reverse KL of the high-quality samples' mode histogram vs uniform, null = no high-quality "
                "sample), last generator ('raw') and its EMA ('ema')",
        "mode": "quick" if args.quick else "full",
        "steps": args.steps,
        "seeds": args.seeds,
        "configs": {method: config(method, **overrides) for method in args.methods},
        "targets": TARGETS,
        "literature": {"PacGAN4 grid": "24.8 modes, 93.6 % high quality", "PacGAN4 ring": "7.8 modes, 95.9 %",
                       "VEEGAN grid": "24.6 modes, 40 %"},
        "hardware": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch": torch.__version__,
                     "python": platform.python_version(), "threads_per_run": 1, "parallel_runs": args.workers,
                     "device": "cpu"},
    }

    def save(final=False):
        done = {"runs": [{key: r[key] for key in ("method", "dataset", "seed", "steps", "seconds")}
                         | {"raw": scores(r["raw"]), "ema": scores(r["ema"])} for r in runs]}
        body = header | {"complete": final, "wall_seconds": time.perf_counter() - start,
                         "load_average_1min": {"start": load_start[0], "end": os.getloadavg()[0]}} | done
        if runs:
            body["means"] = means(runs)
            body["meets_targets"] = check_targets(body["means"], args.steps)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(body, indent=1) + "\n")
        os.replace(tmp, out)

    def on_result(result):
        runs.append(result)
        save()
        print(f"{result['method']:>14} {result['dataset']:>4} seed {result['seed']}: {result['seconds']:6.1f} s | "
              f"raw {result['raw']['modes']:2d} modes {result['raw']['high_quality']:6.1%} | "
              f"EMA {result['ema']['modes']:2d} modes {result['ema']['high_quality']:6.1%}", flush=True)

    run_many(args.methods, args.datasets, args.seeds, args.steps, workers=args.workers, on_result=on_result,
             **overrides)
    save(final=True)
    table = {name: {"seconds/run": row["seconds_per_run"], "modes": row["raw"]["modes"],
                    "HQ %": 100 * row["raw"]["high_quality"], "rev. KL": row["raw"]["reverse_kl"],
                    "EMA modes": row["ema"]["modes"], "EMA HQ %": 100 * row["ema"]["high_quality"],
                    "EMA rev. KL": row["ema"]["reverse_kl"]} for name, row in means(runs).items()}
    print(table_markdown(table))
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
