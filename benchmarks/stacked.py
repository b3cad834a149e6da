"""Notebook 09's table: mode collapse on Stacked MNIST (1,000 modes), the VAE against the DCGAN and its remedies, with
the standard discriminator and a weak one, beside PacGAN's published rows (Lin et al. 2018, Tables 2 and 3).

Every row trains notebook 06's shared network (`gan.SHARED_NETWORK`) with three channels (`ROWS`, `SETTINGS`): its
DCGAN generator (`gan.DCGANGenerator(**gan.SHARED_NETWORK, image_channels=3)`) against a `gan.DCGANDiscriminator` of
width 32 (standard, notebook 06's) or `WEAK_WIDTH` (weak: a quarter of the discriminator's filters, the sense of
PacGAN's and Unrolled GAN's "D = 1/4 G"), and the conv VAE whose decoder is that same generator. (A quarter of the
generator's *parameters* cannot be the weak setting here: the standard discriminator already has about 13 % of
them, most of the generator's weights sitting in its first, linear layer; `networks()` records the counts.)

Each run trains on fresh Stacked MNIST batches (`data.StackedMNISTLoader`, training split), then its last generator
is scored by the published protocol on 26,000 samples (`metrics.stacked_modes`: modes covered and KL(mode histogram
|| uniform)), with the confident-only counts beside them; the VAE is also scored on its reconstructions of 26,000
stacked test digits (as blurry as its samples, so the two compare at equal blur). The curve of modes covered
against steps is measured at `CURVE` fractions of the runs of the first seed (--curve, --curve-seeds; off the
clock, but each point costs about as much CPU time as the final score).

Equal training time: first each (row, setting)'s CPU time per generator step (per VAE step) is measured on one
thread, the least of --timing-repeats runs of --timing-steps steps in interleaved rounds; the budget
(--budget-seconds, default `BUDGET_SECONDS`) divided by it, rounded down to tens, is the row's number of steps.
Both are stored, and --steps-from reuses an earlier file's step counts, which reproduces its runs exactly (each run
is single-threaded and seeded).

    .venv/bin/python -m tutorial_lib.bench stacked                  # the full table (make bench-stacked)
    .venv/bin/python -m tutorial_lib.bench stacked --quick          # smoke run: 1 seed, 100 steps, 2,600 samples
    .venv/bin/python -m tutorial_lib.bench stacked --rows dcgan pacgan4 --settings weak --seeds 0 1 2
    .venv/bin/python -m tutorial_lib.bench stacked --steps-from benchmarks/results/stacked_mnist.json
    # notebook 09's longer budget (make bench-stacked-600s, about 45 minutes): the DCGAN and PacGAN2, 600 s per run
    .venv/bin/python -m tutorial_lib.bench stacked --rows pacgan2 dcgan --settings standard --budget-seconds 600 \
        --out benchmarks/results/stacked_mnist_600s.json
    # a reduced table (about 12 minutes on 2 quiet cores): DCGAN vs PacGAN4 in both settings, one seed, the full
    # budget per run, the curve at half of each run only (each point scores 26,000 samples, about a minute)
    .venv/bin/python -m tutorial_lib.bench stacked --rows dcgan pacgan4 --settings standard weak --seeds 0 \
        --curve 0.5 --out benchmarks/results/stacked_mnist.json

`--workers` runs that many in parallel processes (default 2, one per core of a 2-core CPU, one thread each), which
does not change the numbers, only the wall time. Writes benchmarks/results/stacked_mnist.json after every run
(--quick: build/stacked_mnist-quick.json).
"""
import argparse
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutorial_lib import train  # noqa: E402
from tutorial_lib.bench import cpu_name, load_average, write_json  # noqa: E402
from tutorial_lib.data import StackedMNISTLoader, stacked_mnist  # noqa: E402
from tutorial_lib.gan import SHARED_NETWORK, DCGANDiscriminator, DCGANGenerator  # noqa: E402
from tutorial_lib.metrics import stacked_modes  # noqa: E402
from tutorial_lib.plotting import table_markdown  # noqa: E402
from tutorial_lib.pretrained import OPTIMIZER  # noqa: E402
from tutorial_lib.runtime import exit_with_parent, seed_everything  # noqa: E402
from tutorial_lib.stabilize import steps_for_budget  # noqa: E402
from tutorial_lib.vae import VAE  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: The shared network: notebook 06's generator (= the VAE's decoder) with three channels.
NETWORK = {**SHARED_NETWORK, "image_channels": 3}
#: The weak discriminator's width: a quarter of the generator's (PacGAN's and Unrolled GAN's "D = 1/4 G" setting,
#: whose code gives the discriminator a quarter of the generator's filters).
WEAK_WIDTH = 8
#: The two settings of PacGAN's Tables 2 and 3: the discriminator's width (notebook 06's 32, or the weak one).
SETTINGS = {"standard": dict(width=32), "weak": dict(width=WEAK_WIDTH)}
#: What every GAN row shares: the DCGAN recipe of Radford et al. 2016 (PacGAN trains its DCGANs with it).
COMMON = dict(loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64)
#: The rows: "kind" (vae or gan), the discriminator's options, and what each changes in `COMMON` (GANRecipe fields):
#: - dcgan: the non-saturating DCGAN (Radford et al. 2016);
#: - pacgan2, pacgan4: its discriminator judges packs of 2 or 4 samples (Lin et al. 2018); as in their code it sees
#:   64 packs per step, so 64 x m samples;
#: - wgan-gp: the Wasserstein loss with the gradient penalty, lambda 10, 5 critic steps, Adam 1e-4, betas (0.5, 0.9)
#:   (Gulrajani et al. 2017, their image recipe);
#: - sn-hinge: spectral normalization on the discriminator with the hinge loss, at Miyato et al. 2018's DCGAN-style
#:   setting (Adam 2e-4, betas (0.5, 0.999), one discriminator step);
#: - vae: the conv VAE of notebook 06, whose decoder is the generator above, with notebook 06's optimizer (Adam 5e-4,
#:   betas (0.5, 0.999), batch 64). It has no discriminator, so it has one row, in the standard setting.
ROWS = {
    "vae": dict(kind="vae", lr=OPTIMIZER["lr"], betas=tuple(OPTIMIZER["betas"]), batch_size=64),
    "dcgan": dict(kind="gan", recipe={}),
    "pacgan2": dict(kind="gan", recipe=dict(pack=2, batch_size=128)),
    "pacgan4": dict(kind="gan", recipe=dict(pack=4, batch_size=256)),
    "wgan-gp": dict(kind="gan", recipe=dict(loss="wasserstein", gp_weight=10.0, n_critic=5, lr_g=1e-4, lr_d=1e-4,
                                            betas=(0.5, 0.9))),
    "sn-hinge": dict(kind="gan", spectral_norm=True, recipe=dict(loss="hinge")),
}
#: Training time per run: CPU seconds of one thread (4 minutes of a quiet core; with the scoring a run takes about
#: 6 minutes, 8 with the curve, and the 33 runs of the full table about 1 h 45 min on 2 cores).
BUDGET_SECONDS = 240
#: Where along each run the modes are counted for the curve (fractions of its steps; 1 is the final score).
CURVE = (0.25, 0.5, 1.0)
#: The protocol's sample count.
N_EVAL = 26_000
#: PacGAN's Stacked MNIST rows (Lin et al. 2018, Tables 2 and 3): modes (of 1,000) and KL, mean over their runs.
PUBLISHED = [
    {"model": "DCGAN", "setting": "standard", "modes": 99.0, "kl": 3.40, "source": "Table 2 (VEEGAN's number)"},
    {"model": "ALI", "setting": "standard", "modes": 16.0, "kl": 5.40, "source": "Table 2"},
    {"model": "Unrolled GAN", "setting": "standard", "modes": 48.7, "kl": 4.32, "source": "Table 2"},
    {"model": "VEEGAN", "setting": "standard", "modes": 150.0, "kl": 2.95, "source": "Table 2"},
    {"model": "DCGAN (PacGAN's run)", "setting": "standard", "modes": 78.9, "modes_std": 6.46, "kl": 4.50,
     "source": "Table 2"},
    {"model": "PacDCGAN2", "setting": "standard", "modes": 1000.0, "kl": 0.06, "source": "Table 2"},
    {"model": "DCGAN", "setting": "weak", "modes": 78.5, "modes_std": 17.56, "kl": 5.21, "source": "Table 3, D = 1/4 G"},
    {"model": "PacDCGAN2", "setting": "weak", "modes": 484.5, "kl": 2.61, "source": "Table 3, D = 1/4 G"},
    {"model": "PacDCGAN4", "setting": "weak", "modes": 667.4, "kl": 1.81, "source": "Table 3, D = 1/4 G"},
    {"model": "Unrolled GAN, 10 steps", "setting": "weak", "modes": 327.2, "kl": 4.66, "source": "Table 3, D = 1/4 G"},
]
SCORES = ("modes", "kl", "modes_confident", "kl_confident", "share_confident")


def parameters(module):
    return sum(p.numel() for p in module.parameters())


def gan_recipe(row):
    """The GANRecipe fields of a GAN row: `COMMON`, then the row's changes."""
    return {**COMMON, **ROWS[row]["recipe"]}


def build(row, setting):
    """The row's networks, freshly initialized from the current seed: (model, discriminator or None)."""
    if ROWS[row]["kind"] == "vae":
        return VAE(NETWORK["latent_dim"], arch="conv", channels=NETWORK["width"], depth=NETWORK["depth"],
                   image_channels=NETWORK["image_channels"]), None
    generator = DCGANGenerator(**NETWORK)
    discriminator = DCGANDiscriminator(width=SETTINGS[setting]["width"], pack=gan_recipe(row).get("pack", 1),
                                       spectral_norm=ROWS[row].get("spectral_norm", False),
                                       image_channels=NETWORK["image_channels"])
    return generator, discriminator


def networks():
    """The parameter counts the results file records: generator, each setting's discriminator, the VAE."""
    torch.manual_seed(0)
    return {"generator": {"config": NETWORK, "parameters": parameters(DCGANGenerator(**NETWORK))},
            "discriminators": {name: {**cfg, "parameters": parameters(
                DCGANDiscriminator(image_channels=NETWORK["image_channels"], **cfg))} for name, cfg in SETTINGS.items()},
            "vae": {"parameters": parameters(build("vae", "standard")[0])}}


@torch.no_grad()
def samples(model, n, seed, batch_size=2_000):
    """`n` samples of a generator or a VAE (its Bernoulli means), drawn with a fixed noise seed, in eval mode."""
    noise = torch.Generator().manual_seed(seed)
    return torch.cat([model.sample(min(batch_size, n - i), generator=noise) for i in range(0, n, batch_size)])


def score(images):
    """`metrics.stacked_modes` without the histograms, infinities as None (JSON has none). It draws nothing from the
    global random stream (the classifier's first load builds a network, whose initialization would), so a run
    scored midway for its curve trains exactly as one scored only at its end."""
    with torch.random.fork_rng(devices=[]):
        result = stacked_modes(images)
    return {key: (None if isinstance(result[key], float) and not math.isfinite(result[key]) else result[key])
            for key in SCORES}


def run(row, setting, seed, steps, n_eval=N_EVAL, curve=CURVE, timing=False):
    """Train one run single-threaded and score it. Returns a dict: row, setting, seed, steps, seconds and
    cpu_seconds of training (scoring excluded), the final scores, the curve [(step, scores)], the VAE's
    reconstruction scores; with `timing`, only the training (for the time per step)."""
    torch.set_num_threads(1)
    seed_everything(seed)
    model, discriminator = build(row, setting)
    spec = ROWS[row]
    batch = spec["batch_size"] if spec["kind"] == "vae" else gan_recipe(row)["batch_size"]
    # the final score comes last, once (a fraction that rounds to the last step adds no point)
    at = [] if timing else sorted({max(1, round(f * steps)) for f in curve if f < 1} - {steps})
    points, off_clock = [], [0.0, 0.0]

    def measure(step, generator):
        if step in at:
            wall, cpu = time.perf_counter(), time.process_time()
            points.append({"step": step, **score(samples(generator, n_eval, 10_000 + seed))})
            off_clock[0] += time.perf_counter() - wall
            off_clock[1] += time.process_time() - cpu

    wall, cpu = time.perf_counter(), time.process_time()
    if spec["kind"] == "vae":
        # curve points fall on whole epochs: the largest divisor of the steps up to 100 (the data stream does not
        # depend on it: each pass of the loader draws new batches from one seeded generator)
        epoch = max(d for d in range(1, 101) if steps % d == 0)
        at = sorted({max(epoch, s // epoch * epoch) for s in at} - {steps})
        loader = StackedMNISTLoader(batch, seed=seed, batches=epoch)
        train.train_vae(model, loader, epochs=steps // epoch, lr=spec["lr"], betas=spec["betas"], device="cpu",
                        callback=lambda m, history: measure(history.steps, m))
    else:
        loader = StackedMNISTLoader(batch, seed=seed, batches=10**9)
        train.train_gan(model, discriminator, loader, train.GANRecipe(**gan_recipe(row)), steps=steps, device="cpu",
                        callback=lambda step, g, d: measure(step, g), every=1)
    seconds = time.perf_counter() - wall - off_clock[0]
    cpu_seconds = time.process_time() - cpu - off_clock[1]
    result = {"row": row, "setting": setting, "seed": seed, "steps": steps, "seconds": seconds,
              "cpu_seconds": cpu_seconds}
    if timing:
        return result
    points.append({"step": steps, **score(samples(model, n_eval, 10_000 + seed))})
    result |= {key: points[-1][key] for key in SCORES} | {"curve": points}
    if spec["kind"] == "vae":
        real, _ = stacked_mnist(n_eval, seed=20_000 + seed, train=False)
        with torch.no_grad():
            model.eval()
            result["reconstructions"] = score(torch.cat([model.reconstruct(real[i:i + 2_000])
                                                         for i in range(0, n_eval, 2_000)]))
    return result


def _run_job(job):
    os.environ["TQDM_DISABLE"] = "1"
    return run(*job)


def run_all(jobs, workers, on_result):
    """`run(*job)` for every job, in `workers` parallel processes (spawned; each single-threaded)."""
    if workers <= 1:
        for job in jobs:
            on_result(_run_job(job))
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        for result in pool.imap_unordered(_run_job, jobs):
            on_result(result)


def mean_scores(runs):
    """Mean over seeds of each score (None when a run has none, e.g. no confident sample)."""
    means = {}
    for key in SCORES:
        values = [r[key] for r in runs]
        means[key] = None if any(v is None for v in values) else sum(values) / len(values)
    return means


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget-seconds", type=float, default=BUDGET_SECONDS,
                        help="training time per run (CPU seconds of one thread), turned into each row's steps")
    parser.add_argument("--steps", type=int, help="the same number of steps for every row (no time budget)")
    parser.add_argument("--steps-from", help="a results JSON whose rows' step counts to reuse (reproduces it)")
    parser.add_argument("--timing-steps", type=int, default=30, help="steps of each timing run")
    parser.add_argument("--timing-repeats", type=int, default=2,
                        help="interleaved rounds of timing runs (each row's least time counts)")
    parser.add_argument("--n-eval", type=int, default=N_EVAL, help="samples scored per run (the protocol: 26,000)")
    parser.add_argument("--curve", nargs="*", type=float, default=[f for f in CURVE if f < 1],
                        help="fractions of each run (in (0, 1)) where the modes are also counted, for the curve")
    parser.add_argument("--curve-seeds", nargs="*", type=int,
                        help="the seeds whose runs also get the curve (default: the first of --seeds)")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: seed 0, 100 steps, 2,600 samples, written to build/ unless --out")
    parser.add_argument("--out", help="results file (default benchmarks/results/stacked_mnist.json)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.steps, args.steps_from, args.n_eval = [0], args.steps or 100, None, 2_600
    if not all(0 < f < 1 for f in args.curve):
        parser.error(f"--curve takes fractions of a run between 0 and 1 (the final score is always taken), got "
                     f"{args.curve}")
    curve = tuple(sorted(set(args.curve))) + (1.0,)
    curve_seeds = args.seeds[:1] if args.curve_seeds is None else args.curve_seeds
    if not set(curve_seeds) <= set(args.seeds):
        parser.error(f"--curve-seeds must be among --seeds {args.seeds}, got {curve_seeds}")
    out = Path(args.out or (ROOT / "build" / "stacked_mnist-quick.json" if args.quick
                            else RESULTS / "stacked_mnist.json"))
    cells = [(row, setting) for row in args.rows for setting in args.settings
             if not (ROWS[row]["kind"] == "vae" and setting != "standard")]
    if not cells:
        parser.error("no run to do: the VAE has only the standard setting")
    start, load_start = time.perf_counter(), load_average()
    names = {cell: f"{cell[0]} / {cell[1]}" for cell in cells}
    rows = {names[cell]: {"row": cell[0], "setting": cell[1], "kind": ROWS[cell[0]]["kind"],
                          "discriminator": None if ROWS[cell[0]]["kind"] == "vae" else {
                              **SETTINGS[cell[1]], "spectral_norm": ROWS[cell[0]].get("spectral_norm", False),
                              "pack": gan_recipe(cell[0]).get("pack", 1)},
                          "recipe": ({k: v for k, v in ROWS[cell[0]].items() if k != "kind"}
                                     if ROWS[cell[0]]["kind"] == "vae" else gan_recipe(cell[0]))} for cell in cells}

    if args.steps_from:
        earlier = json.loads(Path(args.steps_from).read_text())
        for name, row in rows.items():
            if name not in earlier["rows"]:
                sys.exit(f"error: {args.steps_from} has no row {name!r}")
            row |= {key: earlier["rows"][name][key] for key in ("seconds_per_step", "steps")}
        budget = earlier["budget"] | {"how": f"step counts reused from {Path(args.steps_from).name}"}
    elif args.steps:
        for row in rows.values():
            row |= {"seconds_per_step": None, "steps": args.steps}
        budget = {"seconds_per_run": None, "how": f"a fixed {args.steps} steps for every row"}
    else:
        measured = {}
        for round_ in range(args.timing_repeats):  # interleaved: a busy spell of the machine hits every row alike
            for cell in cells:
                result = run(*cell, seed=0, steps=args.timing_steps, timing=True)
                measured[cell] = min(result["cpu_seconds"] / args.timing_steps, measured.get(cell, math.inf))
                print(f"round {round_ + 1}: {names[cell]:>20}: {1000 * measured[cell]:7.1f} ms per step", flush=True)
        for cell in cells:
            rows[names[cell]] |= {"seconds_per_step": measured[cell], "steps": steps_for_budget(
                args.budget_seconds, {cell: measured[cell]}, 10)[cell]}
        budget = {"seconds_per_run": args.budget_seconds,
                  "how": f"each row's CPU time per generator (VAE) step measured on one thread, the least of "
                         f"{args.timing_repeats} runs of {args.timing_steps} steps in interleaved rounds before "
                         "training; steps = budget / time per step, rounded down to tens. The step counts are "
                         "what the runs reproduce (--steps-from)."}

    torch.manual_seed(0)
    real, _ = stacked_mnist(args.n_eval, seed=30_000, train=False)
    header = {
        "what": "Stacked MNIST (1,000 modes): modes covered and KL(mode histogram || uniform) of each model's last "
                "generator on n_eval samples by the published protocol (the course classifier's argmax per channel; "
                "a mode is covered by one sample), beside the same over confident samples (all three channels at "
                ">= 0.9) and their share; standard and weak discriminator; the VAE also on its reconstructions",
        "mode": "quick" if args.quick else "full",
        "n_eval": args.n_eval, "seeds": args.seeds, "budget": budget, "networks": networks(),
        "real_test_digits": score(real), "curve_fractions": list(curve),
        "curve_seeds": {name: curve_seeds for name in rows},  # per row: the seeds whose runs have the curve
        "published": PUBLISHED,
        "hardware": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch": torch.__version__,
                     "python": platform.python_version(), "threads_per_run": 1, "parallel_runs": args.workers,
                     "device": "cpu"},
    }
    del real
    runs = []

    def save(final=False):
        body = header | {"complete": final, "wall_seconds": time.perf_counter() - start,
                         "load_average": {"start": load_start, "end": load_average()}, "rows": {}}
        for name, row in rows.items():
            done = sorted((r for r in runs if names[(r["row"], r["setting"])] == name), key=lambda r: r["seed"])
            entry = row | {"runs": done}
            if done:
                entry["mean"] = mean_scores(done)
                if row["kind"] == "vae":
                    entry["mean_reconstructions"] = mean_scores([r["reconstructions"] for r in done])
            body["rows"][name] = entry
        write_json(out, body, indent=1)

    def on_result(result):
        runs.append(result)
        save()
        print(f"{names[(result['row'], result['setting'])]:>20} seed {result['seed']}: {result['steps']:6d} steps "
              f"{result['seconds']:6.1f} s | {result['modes']:4d} modes, KL {result['kl']:.3f} | confident: "
              f"{result['modes_confident']:4d} modes, {result['share_confident']:.1%} of samples", flush=True)

    jobs = [(*cell, seed, rows[names[cell]]["steps"], args.n_eval, curve if seed in curve_seeds else (1.0,))
            for seed in args.seeds for cell in cells]
    run_all(jobs, args.workers, on_result)
    save(final=True)
    print(table_markdown({name: {"steps": row["steps"], **{k: v for k, v in mean_scores(
        [r for r in runs if names[(r["row"], r["setting"])] == name]).items()}} for name, row in rows.items()}))
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
