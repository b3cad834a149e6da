"""Notebook 05's two tables at full length: every method of `tutorial_lib.stabilize` at the common recipe and at its
published recipe, on the 2-D ring and grid, 3 seeds each, at equal training time per run, scored by the PacGAN
protocol (`metrics.mode_metrics`, 2,500 samples) for the last generator and for its exponential moving average
(EMA). Writes benchmarks/results/gan2d.json (every row's configuration, time per step and step count, every run,
the means over seeds and the hardware), saving it after every run, and prints the tables.

Equal wall-clock, reproducibly: first each distinct configuration's CPU time per generator step is measured on
one thread (`stabilize.time_per_step`: the least of --timing-repeats runs of --timing-steps steps, in interleaved
rounds over all configurations, at the start); the budget (--budget-seconds, default `stabilize.BUDGET_SECONDS`) divided by it, rounded
down to tens, is that row's number of generator steps. Both are stored, and --steps-from reuses the step
counts of an earlier results file, which reproduces its runs exactly (each run is single-threaded and
deterministic given its seed). A published row whose configuration is the common row's (same method, same
options) reuses the common row's runs instead of repeating them.

    .venv/bin/python benchmarks/gan2d.py                              # both tables (make bench-gan2d)
    .venv/bin/python benchmarks/gan2d.py --steps-from benchmarks/results/gan2d.json   # rerun the same step counts
    .venv/bin/python benchmarks/gan2d.py --quick                      # a smoke run: 1 seed, 300 steps
    .venv/bin/python benchmarks/gan2d.py --recipes published --methods wgan-gp pacgan4 --datasets grid --seeds 0 1
    .venv/bin/python benchmarks/gan2d.py --recipes common --methods baseline --batch-size 512 --steps 15000 \\
        --out benchmarks/results/gan2d-batch512.json      # fixed steps instead of a time budget

`--workers` runs that many in parallel processes (default 2, one per core of a 2-core CPU), which does not change
the numbers, only the wall time.
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

from tutorial_lib.bench import cpu_name, write_json
from tutorial_lib.plotting import table_markdown
from tutorial_lib.stabilize import (BUDGET_SECONDS, DATASETS, RECIPES, TARGETS, config, run_many, steps_for_budget,
                                    summarize, time_per_step)

RESULTS = Path(__file__).resolve().parent / "results"
LITERATURE = {"PacGAN4 grid": "24.8 modes, 93.6 % high quality", "PacGAN4 ring": "7.8 modes, 95.9 %",
              "VEEGAN grid": "24.6 modes, 40 %", "source": "Lin et al. 2018 (PacGAN), Table 1; far longer training"}


def finite(value):
    """JSON has no infinity: an infinite reverse KL (no high-quality sample) is written as null."""
    return value if value is None or isinstance(value, (int, str)) or math.isfinite(value) else None


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


def check_targets(rows):
    """Which rows meet the design's targets (mean over seeds, EMA generator) on each dataset."""
    return {name: bool(row["ema"]["modes"] >= TARGETS[row["dataset"]]["modes"]
                       and row["ema"]["high_quality"] >= TARGETS[row["dataset"]]["high_quality"])
            for name, row in rows.items()}


def key(cfg):
    return json.dumps(cfg, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--methods", nargs="+", help="rows to run (default: every row of each recipe)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget-seconds", type=float, default=BUDGET_SECONDS,
                        help="training time per run (CPU seconds of one thread), turned into each row's steps")
    parser.add_argument("--steps", type=int, help="the same number of generator steps for every row (no budget)")
    parser.add_argument("--steps-from", help="a results JSON whose rows' step counts to reuse (reproduces it)")
    parser.add_argument("--timing-from", help="a results JSON whose rows' measured time per step to reuse "
                                              "(with a new --budget-seconds)")
    parser.add_argument("--timing-steps", type=int, default=60, help="steps of each timing run")
    parser.add_argument("--timing-repeats", type=int, default=3,
                        help="interleaved rounds of timing runs (each configuration's least time counts)")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--lr-schedule", default="constant", choices=["constant", "cosine"],
                        help="learning rates constant, or cosine-decayed to 0 over the run (both networks)")
    parser.add_argument("--batch-size", type=int, help="samples per batch for every row (default: the recipe's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: seed 0 only, 300 steps")
    parser.add_argument("--out", default=str(RESULTS / "gan2d.json"))
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps, args.steps_from = [0], 300, None
    unknown = sorted(set(args.methods or []) - {m for r in args.recipes for m in RECIPES[r]})
    if unknown:
        parser.error(f"unknown methods {unknown} for recipes {args.recipes}")
    overrides = {"lr_schedule": args.lr_schedule} | ({"batch_size": args.batch_size} if args.batch_size else {})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start, load_start = time.perf_counter(), os.getloadavg()

    # every row of every table, with its configuration
    rows = {recipe: {method: {"config": config(method, recipe, **overrides)}
                     for method in RECIPES[recipe] if not args.methods or method in args.methods}
            for recipe in args.recipes}
    if "common" in rows:  # a published row configured like the common row reuses its runs
        for method, row in rows.get("published", {}).items():
            same = rows["common"].get(method)
            row["same_runs_as"] = "common" if same and key(same["config"]) == key(row["config"]) else None

    # steps per row: fixed, reused, or from the measured time per step
    if args.steps_from:
        earlier = json.loads(Path(args.steps_from).read_text())["tables"]
        for recipe, table in rows.items():
            for method, row in table.items():
                old = earlier[recipe]["rows"][method]
                if key(old["config"]) != key(row["config"]):
                    sys.exit(f"error: {recipe}/{method} is configured differently in {args.steps_from}")
                row |= {"seconds_per_step": old["seconds_per_step"], "steps": old["steps"]}
        budget = {"seconds_per_run": json.loads(Path(args.steps_from).read_text())["budget"]["seconds_per_run"],
                  "how": f"step counts reused from {Path(args.steps_from).name}"}
    elif args.steps:
        for table in rows.values():
            for row in table.values():
                row |= {"seconds_per_step": None, "steps": args.steps}
        budget = None
    else:
        measured, timing_note = {}, ""
        if args.timing_from:
            earlier = json.loads(Path(args.timing_from).read_text())
            timing_note = f" (reused from {Path(args.timing_from).name}: {earlier.get('timing_note', '')})"
            for recipe, table in earlier["tables"].items():
                for method, row in table["rows"].items():
                    if recipe in rows and method in rows[recipe]:
                        measured[key(rows[recipe][method]["config"])] = row["seconds_per_step"]
        todo = {}  # distinct configurations still to time: key -> (method, recipe, overrides)
        for recipe, table in rows.items():
            for method, row in table.items():
                if key(row["config"]) not in measured:
                    todo.setdefault(key(row["config"]), (method, recipe, {k: v for k, v in row["config"].items()
                                                                          if k in overrides}))
        for round_ in range(args.timing_repeats):  # interleaved rounds: a slow spell of the machine hits all alike
            for cfg_key, (method, recipe, cfg_overrides) in todo.items():
                seconds = time_per_step(method, recipe, steps=args.timing_steps, repeats=1, **cfg_overrides)
                measured[cfg_key] = min(seconds, measured.get(cfg_key, math.inf))
                print(f"round {round_ + 1}: {recipe:>9} {method:>16}: {1000 * seconds:6.2f} ms per step", flush=True)
        for recipe, table in rows.items():
            for method, row in table.items():
                row["seconds_per_step"] = measured[key(row["config"])]
                row["steps"] = steps_for_budget(args.budget_seconds, {method: row["seconds_per_step"]}, 10)[method]
        budget = {"seconds_per_run": args.budget_seconds,
                  "how": "each distinct configuration's CPU time per generator step (critic steps, penalty and EMA "
                         f"update included) measured on one thread, the least of {args.timing_repeats} runs of "
                         f"{args.timing_steps} steps on the ring, in interleaved rounds over all configurations, "
                         "before training; "
                         "steps = budget / "
                         "time per step, rounded down to tens. CPU time on a shared machine is inflated by "
                         "contention (cache, SMT), which affects every row alike; the step counts are what the "
                         "runs reproduce (--steps-from)." + timing_note}

    header = {
        "what": "notebook 05's tables: PacGAN protocol (2,500 samples; high quality = within 3 std of the nearest "
                "mode; reverse KL of the high-quality samples' mode histogram vs uniform, null = no high-quality "
                "sample), last generator ('raw') and its EMA ('ema'); common recipe and published recipes at "
                "equal training time per run",
        "mode": "quick" if args.quick else "full",
        "budget": budget,
        "seeds": args.seeds,
        "datasets": args.datasets,
        "targets": TARGETS,
        "literature": LITERATURE,
        "hardware": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch": torch.__version__,
                     "python": platform.python_version(), "threads_per_run": 1, "parallel_runs": args.workers,
                     "device": "cpu",
                     "load": f"1-minute load average {load_start[0]:.1f} at the start on {os.cpu_count()} cores "
                             f"({'other jobs shared the CPU' if load_start[0] > os.cpu_count() + 0.5 else 'quiet'})"},
    }
    runs = []

    def tables(final=False):
        body = {}
        for recipe, table in rows.items():
            done = []
            for method, row in table.items():
                source = row.get("same_runs_as") or recipe
                done += [r | {"recipe": recipe} for r in runs if (r["recipe"], r["method"]) == (source, method)]
            body[recipe] = {"rows": table}
            if done:
                body[recipe]["means"] = means(done)
                body[recipe]["meets_targets"] = check_targets(body[recipe]["means"])
        return body

    def save(final=False):
        body = header | {"complete": final, "wall_seconds": time.perf_counter() - start,
                         "load_average_1min": {"start": load_start[0], "end": os.getloadavg()[0]},
                         "tables": tables(final),
                         "runs": [{key_: r[key_] for key_ in ("recipe", "method", "dataset", "seed", "steps", "seconds",
                                                             "cpu_seconds")}
                                  | {"raw": scores(r["raw"]), "ema": scores(r["ema"])} for r in runs]}
        write_json(out, body, indent=1)

    def on_result(result):
        runs.append(result)
        save()
        print(f"{result['recipe']:>9} {result['method']:>16} {result['dataset']:>4} seed {result['seed']}: "
              f"{result['steps']:6d} steps {result['seconds']:6.1f} s | "
              f"raw {result['raw']['modes']:2d} modes {result['raw']['high_quality']:6.1%} | "
              f"EMA {result['ema']['modes']:2d} modes {result['ema']['high_quality']:6.1%}", flush=True)

    for seed in args.seeds:  # seed by seed, so that a stopped benchmark leaves whole tables for the first seeds
        for recipe, table in rows.items():
            todo = [method for method, row in table.items() if not row.get("same_runs_as")]
            if todo:
                run_many(todo, args.datasets, [seed], {m: table[m]["steps"] for m in todo}, workers=args.workers,
                         on_result=on_result, recipe=recipe, **overrides)
    save(final=True)
    for recipe, table in tables().items():
        print(f"\n{recipe} recipe")
        print(table_markdown({name: {"steps": rows[recipe][row["method"]]["steps"],
                                     "s/run": row["seconds_per_run"], "modes": row["raw"]["modes"],
                                     "HQ %": 100 * row["raw"]["high_quality"], "EMA modes": row["ema"]["modes"],
                                     "EMA HQ %": 100 * row["ema"]["high_quality"],
                                     "EMA rev. KL": row["ema"]["reverse_kl"]}
                              for name, row in table.get("means", {}).items()}))
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
