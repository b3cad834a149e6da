"""The experiments of notebook 05 (and of ``benchmarks/gan2d.py``): one place for their configurations.

A *method* is a way of training the same small GAN on a 2-D mixture (a loss, a discriminator regularizer,
packing, ...). Each runs at two *recipes*, the two tables of `RECIPES`: "common", where every method shares the rest
of the training recipe (`COMMON`: Adam 1e-3 on both networks, batch 256) and the networks, and "published", where
a method takes its authors' optimizer, learning rate and critic steps. Each row is a `Setup`: a `train.GANRecipe`
plus the networks' options and the decay of the generator's exponential moving average (EMA, Yazici et al. 2019).
Both generators (last and averaged) are scored with `metrics.mode_metrics` on 2,500 samples (the PacGAN protocol).
Methods are compared at equal training time per run: `time_per_step` measures each one's CPU seconds per generator
step (one thread) and `steps_for_budget` turns a budget into step counts.

    RECIPES["published"]["wgan-gp"].train        # GANRecipe(loss='wasserstein', n_critic=5, gp_weight=0.1, ...)
    result = run_2d("pacgan", "grid", seed=0, steps=20_000)
    table = run_many(["baseline", "pacgan"], ["ring", "grid"], seeds=[0, 1, 2], steps=5_000, workers=2)
    table = run_many(["wgan-gp", "pacgan4"], ["grid"], [0], steps={"wgan-gp": 900, "pacgan4": 4000},
                     recipe="published")
"""
import ast
import copy
import multiprocessing
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from . import data as _data
from .gan import MLPDiscriminator, MLPGenerator, _check_positive_int
from .modes import mode_metrics
from . import runtime as _runtime
from .runtime import get_device, progress, seed_everything
from .train import GANRecipe, _pack, train_gan

#: The 2-D mixtures of the PacGAN protocol: name -> function(n, seed) -> (samples, centers, std).
DATASETS = {"ring": _data.ring, "grid": _data.grid}


@dataclass(frozen=True)
class Setup:
    """One row of notebook 05's tables: how it trains (`train`, a `train.GANRecipe`) and what: an `MLPGenerator`
    from `latent_dim` noise and an `MLPDiscriminator` (its pack is the recipe's), each with `depth` hidden layers of
    `hidden` units, the discriminator spectrally normalized with `spectral_norm`; `ema`: the decay of the
    generator's moving average (`EMA`)."""

    train: GANRecipe
    latent_dim: int = 2
    hidden: int = 128
    depth: int = 3
    spectral_norm: bool = False
    ema: float = 0.999


#: The evaluation protocol: samples drawn from the mixture to train on, and generated samples scored.
PROTOCOL = dict(n_train=100_000, n_eval=2_500)

#: The common recipe: what every method shares unless it changes it (Adam 1e-3 on both networks, betas (0.5, 0.999),
#: batch 256, constant rate, the non-saturating loss of notebook 04).
COMMON = GANRecipe(lr_g=1e-3, lr_d=1e-3, batch_size=256)

#: Both tables, method -> `Setup`. The common recipe's methods:
#: - baseline: the non-saturating GAN of notebook 04 (Goodfellow et al. 2014);
#: - wgan-gp: Wasserstein loss + gradient penalty (Gulrajani et al. 2017) with their 2-D toy weight 0.1, and one
#:   critic step per generator step like every other method (the paper uses 5 on images);
#: - spectral-norm: the baseline's loss with a spectrally normalized discriminator (Miyato et al. 2018);
#: - hinge: the hinge loss (Lim & Ye 2017; Miyato et al. 2018) with the baseline's discriminator;
#: - pacgan: the baseline with packing, the discriminator judges 2 samples at once (Lin et al. 2018); as in the
#:   paper it sees as many (packed) inputs per step as the others, so each batch holds 2 x 256 samples;
#: - wgan-clip: the original WGAN, Wasserstein loss with the critic's weights clipped to [-0.01, 0.01]
#:   (Arjovsky et al. 2017);
#: - feature-matching: the generator matches the mean of the discriminator's last hidden layer on real and
#:   generated data (Salimans et al. 2016);
#: - label-smoothing: one-sided label smoothing, real target 0.9 in the discriminator's loss (Salimans et al. 2016).
#: The published recipes, from the papers and the authors' code (the networks stay the course's, 3 x 128 units,
#: batch 256, so that only the recipe changes):
#: - baseline, pacgan, feature-matching, label-smoothing: no 2-D recipe of their own beyond the method (PacGAN
#:   trains its packed discriminator with its baseline's optimizer; Salimans et al. give none for 2-D data): the
#:   common rows themselves;
#: - wgan-gp: the authors' 2-D toy code (gan_toy.py): Adam 1e-4, betas (0.5, 0.9), 5 critic steps, lambda = 0.1
#:   (the paper's lambda = 10 is for images; the toy code's networks are 512 wide, ours 128);
#: - spectral-norm: with the hinge loss, Adam 2e-4, betas (0, 0.9), 5 discriminator steps (Miyato et al. 2018, the
#:   setting of their ResNet results and of their released code; the linear learning-rate decay is left out);
#: - pacgan4: 4 samples per packed input (PacGAN4, the paper's 2-D row), 4 x 256 samples per batch;
#: - wgan-clip: RMSProp 5e-5, clip 0.01, 5 critic steps (Arjovsky et al. 2017).
RECIPES = {"common": {
    "baseline": Setup(COMMON),
    "wgan-gp": Setup(COMMON.replace(loss="wasserstein", gp_weight=0.1)),
    "spectral-norm": Setup(COMMON, spectral_norm=True),
    "hinge": Setup(COMMON.replace(loss="hinge")),
    "pacgan": Setup(COMMON.replace(pack=2, batch_size=512)),
    "wgan-clip": Setup(COMMON.replace(loss="wasserstein", clip_weights=0.01)),
    "feature-matching": Setup(COMMON.replace(feature_matching=True)),
    "label-smoothing": Setup(COMMON.replace(label_smoothing=0.1)),
}}
_COMMON_ROWS = RECIPES["common"]
RECIPES["published"] = {
    "baseline": _COMMON_ROWS["baseline"],
    "wgan-gp": Setup(COMMON.replace(loss="wasserstein", gp_weight=0.1, lr_g=1e-4, lr_d=1e-4, betas=(0.5, 0.9),
                                    n_critic=5)),
    "spectral-norm": Setup(COMMON.replace(loss="hinge", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.9), n_critic=5),
                           spectral_norm=True),
    "pacgan": _COMMON_ROWS["pacgan"],
    "pacgan4": Setup(COMMON.replace(pack=4, batch_size=1024)),
    "wgan-clip": Setup(COMMON.replace(loss="wasserstein", clip_weights=0.01, optimizer="rmsprop", lr_g=5e-5,
                                      lr_d=5e-5, n_critic=5)),
    "feature-matching": _COMMON_ROWS["feature-matching"],
    "label-smoothing": _COMMON_ROWS["label-smoothing"],
}
#: The two tables by their row names: the methods (the common table) and the published rows.
METHODS, PUBLISHED = RECIPES["common"], RECIPES["published"]

#: Training time per run of the benchmark's tables (CPU seconds of one thread; see `time_per_step`).
BUDGET_SECONDS = 45

#: Generator steps per run in benchmarks/gan2d.py (notebook 05 picks its own, shorter, with `by_mode`).
BENCHMARK_STEPS = 20_000

#: What the course's best remedy should reach (mean over 3 seeds) within `seconds` per run on a 2-core CPU.
#: PacGAN4 (Lin et al. 2018) reports 24.8 modes / 93.6 % on the grid and 7.8 / 95.9 % on the ring.
TARGETS = {"grid": {"modes": 25, "high_quality": 0.95, "seconds": 180},
           "ring": {"modes": 8, "high_quality": 0.97, "seconds": 180}}

_TRAIN_OVERRIDES = {f.name for f in fields(GANRecipe)} - {"lr_g", "lr_d", "step"}
_NETWORK_OVERRIDES = {f.name for f in fields(Setup)} - {"train"}
#: What `config`, `run_2d` and `run_many` accept as overrides: lr (both networks' rate), the recipe's other
#: fields, the networks' options and the protocol's sizes.
OVERRIDES = sorted({"lr"} | _TRAIN_OVERRIDES | _NETWORK_OVERRIDES | set(PROTOCOL))


def setup(method, recipe="common", **overrides):
    """``(Setup, protocol)`` of `method` (a row of ``RECIPES[recipe]``) with `overrides` applied (new objects; lr sets
    both learning rates), e.g. ``setup("pacgan", lr=3e-4, hidden=64)``."""
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}: use one of {list(RECIPES)}")
    if method not in RECIPES[recipe]:
        raise ValueError(f"Unknown method {method!r} for the {recipe} recipe: use one of {list(RECIPES[recipe])}")
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"Unknown options {unknown}; known: {OVERRIDES} (lr sets both networks' learning rate)")
    row = RECIPES[recipe][method]
    changes = {k: v for k, v in overrides.items() if k in _TRAIN_OVERRIDES}
    if "lr" in overrides:
        changes.update(lr_g=overrides["lr"], lr_d=overrides["lr"])
    row = replace(row, train=row.train.replace(**changes),
                  **{k: v for k, v in overrides.items() if k in _NETWORK_OVERRIDES})
    return row, {**PROTOCOL, **{k: v for k, v in overrides.items() if k in PROTOCOL}}


def config(method, recipe="common", **overrides):
    """The configuration of `method` in table `recipe` with `overrides` (see `setup`) as one flat dict, what
    `run_2d` results and benchmarks/gan2d.py record: the networks, ``lr`` (both networks'), the recipe's other
    options, ``ema``, ``n_train`` and ``n_eval``."""
    row, protocol = setup(method, recipe, **overrides)
    train = row.train
    if train.lr_g != train.lr_d or train.step is not None:
        raise ValueError(f"{method}: the 2-D runs train both networks at one learning rate with the built-in update")
    flat = dict(latent_dim=row.latent_dim, hidden=row.hidden, depth=row.depth, lr=train.lr_g, betas=train.betas,
                batch_size=train.batch_size, ema=row.ema, lr_schedule=train.lr_schedule, **protocol, loss=train.loss,
                spectral_norm=row.spectral_norm, pack=train.pack, n_critic=train.n_critic, gp_weight=train.gp_weight,
                optimizer=train.optimizer, clip_weights=train.clip_weights, feature_matching=train.feature_matching,
                label_smoothing=train.label_smoothing)
    return {**flat, **({"r1_weight": train.r1_weight} if train.r1_weight else {})}  # (older records have no R1)


#: The common table's baseline as a flat `config` (what the other rows' configurations differ from).
RECIPE = config("baseline")


def ema_update(average, module, decay):
    """One EMA step in place: each parameter of `average` becomes ``decay * average + (1 - decay) * weights`` of
    the same parameter of `module` (same architecture); buffers (e.g. batch-norm statistics) are copied."""
    with torch.no_grad():
        for mean, weights in zip(average.parameters(), module.parameters()):
            mean.mul_(decay).add_(weights, alpha=1 - decay)
        for mean, buffer in zip(average.buffers(), module.buffers()):
            mean.copy_(buffer)


def pack_samples(x, m):
    """PacGAN's packing, as `train.train_gan` does it: each group of `m` consecutive samples becomes one input,
    N x D -> N/m x m*D (images N x C x H x W -> N/m x m*C x H x W)."""
    if isinstance(m, bool) or not isinstance(m, int) or m < 1 or len(x) % m:
        raise ValueError(f"m must be a positive integer that divides the number of samples {len(x)}, got {m!r}")
    return _pack(x, m)


class EMA:
    """An exponential moving average of a module's weights (Yazici et al. 2019), the copy used for evaluation.

    Each ``ema.update(module)`` (after an optimizer step) does ``average = d * average + (1 - d) * weights`` with
    ``d = min(decay, (1 + t) / (10 + t))`` at the t-th update: a short warm-up, so that the average soon forgets
    the untrained initial weights. ``ema.module`` is the averaged copy (no gradients). As a `train_gan`
    callback: ``callback=lambda step, g, d: ema.update(g), every=1``.
    """

    def __init__(self, module, decay=0.999, update=None):
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.decay, self.updates = decay, 0
        self.step = update or ema_update  # step(average, module, decay): `ema_update` or a learner's own
        self.module = copy.deepcopy(module).requires_grad_(False)
        self._shapes = [tuple(p.shape) for p in self.module.parameters()]

    def update(self, module):
        shapes = [tuple(p.shape) for p in module.parameters()]
        if shapes != self._shapes:
            raise ValueError(f"EMA.update got a {type(module).__name__} whose parameters ({len(shapes)}, shapes "
                             f"{shapes[:3]}...) are not those of the averaged {type(self.module).__name__} "
                             f"({len(self._shapes)}, {self._shapes[:3]}...): update the average with the network it "
                             "was made from (ema = EMA(generator); ema.update(generator)).")
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        self.step(self.module, module, decay)


def _check_dataset(dataset):
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}: use one of {list(DATASETS)}")


def run_2d(method, dataset, seed=0, steps=5_000, device="cpu", trace_every=None, recipe="common", ema_update=None,
           discriminator=None, train=None, **overrides):
    """Train `method` on `dataset` ("ring" or "grid") for `steps` generator steps from `seed`; score it.

    Returns a dict: method, recipe, dataset, seed, steps, seconds (training wall time, EMA updates included),
    cpu_seconds (the same in CPU time of this one thread, what `time_per_step` measures), ``raw`` and ``ema``
    (the `mode_metrics` of the last generator and of its EMA, on the same fixed noise), ``samples`` and
    ``ema_samples`` (n_eval x 2 tensors), ``history`` (the `train.History`), ``config`` (see `config`),
    ``discriminator`` (its state_dict; `discriminator_of` rebuilds it), and ``trace``: with `trace_every`, a list
    of ``(step, raw metrics, ema metrics)`` every `trace_every` steps (not timed).
    steps: a number, or a dict method -> number (e.g. from `steps_for_budget`). recipe: the table, "common" or
    "published" (the row is ``RECIPES[recipe][method]``). ema_update: the EMA's step function (default
    `ema_update`). The run is deterministic given `seed` (single-threaded; the tiny networks run fastest on the
    CPU, which is why `device` defaults to "cpu"). `overrides` change the row (see `setup`), e.g.
    ``lr=3e-4, pack=4, batch_size=1024``.
    discriminator: a module to train instead of the row's `MLPDiscriminator` (e.g. one built from your own layers;
    you keep it, trained). train: a function ``train(generator, discriminator, data, recipe, steps=, callback=)``
    to run instead of `train.train_gan` (e.g. your own training loop); ``history`` is what it returns.
    """
    _check_dataset(dataset)
    if discriminator is not None and not isinstance(discriminator, torch.nn.Module):
        raise TypeError(f"discriminator must be a torch.nn.Module to train (or None for the row's own), got "
                        f"{type(discriminator).__name__}")
    if train is not None and not callable(train):
        raise TypeError(f"train must be a function train(generator, discriminator, data, recipe, steps=, callback=) "
                        f"(or None for train.train_gan), got {type(train).__name__}")
    row, protocol = setup(method, recipe, **overrides)
    cfg = config(method, recipe, **overrides)
    if isinstance(steps, dict):
        if method not in steps:
            raise ValueError(f"steps has no entry for {method!r}: give one for each method, got {sorted(steps)}")
        steps = steps[method]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seed_everything(seed)
        real, centers, std = DATASETS[dataset](protocol["n_train"], seed=seed)
        device = get_device(device)
        generator = MLPGenerator(latent_dim=row.latent_dim, hidden=row.hidden, depth=row.depth).to(device)
        own_discriminator = discriminator is not None
        if not own_discriminator:
            discriminator = MLPDiscriminator(hidden=row.hidden, depth=row.depth, spectral_norm=row.spectral_norm,
                                             pack=row.train.pack)
        ema = EMA(generator, row.ema, update=ema_update)
        noise = torch.randn(protocol["n_eval"], row.latent_dim,
                            generator=torch.Generator().manual_seed(10_000 + seed))
        trace, tracing = [], [0.0, 0.0]  # wall and CPU seconds spent scoring during training (not training time)

        @torch.no_grad()
        def score(module):
            was_training = module.training
            samples = module.eval()(noise.to(device)).cpu()
            module.train(was_training)
            return samples, mode_metrics(samples, centers, std)

        def callback(step, g, d):
            ema.update(g)
            if trace_every and step % trace_every == 0:
                start, cpu_start = time.perf_counter(), time.process_time()
                trace.append((step, score(g)[1], score(ema.module)[1]))
                tracing[0] += time.perf_counter() - start
                tracing[1] += time.process_time() - cpu_start

        start, cpu_start = time.perf_counter(), time.process_time()
        if train is None:
            history = train_gan(generator, discriminator, real, row.train, steps=steps, device=device,
                                callback=callback, every=1)
        else:
            history = train(generator, discriminator.to(device), real.to(device), row.train, steps=steps,
                            callback=callback)
        seconds = time.perf_counter() - start - tracing[0]  # training with the EMA updates, without the traces
        cpu_seconds = time.process_time() - cpu_start - tracing[1]
        (samples, raw), (ema_samples, averaged) = score(generator), score(ema.module)
    finally:
        torch.set_num_threads(threads)
    return {"method": method, "recipe": recipe, "dataset": dataset, "seed": seed, "steps": steps, "seconds": seconds,
            "cpu_seconds": cpu_seconds, "raw": raw, "ema": averaged, "samples": samples, "ema_samples": ema_samples,
            "history": history, "config": cfg, "trace": trace, "own_discriminator": own_discriminator,
            "discriminator": {k: v.cpu() for k, v in discriminator.state_dict().items()}}


def discriminator_of(result):
    """The trained discriminator of a `run_2d` result, rebuilt from its configuration and weights (eval mode)."""
    if result.get("own_discriminator"):
        raise ValueError("this run trained a discriminator you passed to run_2d(discriminator=...): that module is the "
                         "trained discriminator; discriminator_of rebuilds only the row's own network")
    cfg = result["config"]
    discriminator = MLPDiscriminator(hidden=cfg["hidden"], depth=cfg["depth"], spectral_norm=cfg["spectral_norm"],
                                     pack=cfg["pack"])
    discriminator.load_state_dict(result["discriminator"])
    return discriminator.eval().requires_grad_(False)


def time_per_step(method, recipe="common", steps=200, repeats=2, **overrides):
    """CPU seconds per generator step of `method` (critic steps, penalty and EMA update included) on one thread:
    the least over `repeats` short runs on the ring. On an otherwise idle core this is the wall time per step; CPU
    time is what a busy shared machine distorts least."""
    _check_positive_int("steps", steps), _check_positive_int("repeats", repeats)
    return min(run_2d(method, "ring", seed=0, steps=steps, recipe=recipe, n_eval=100, **overrides)["cpu_seconds"]
               for _ in range(repeats)) / steps


def steps_for_budget(seconds, per_step, multiple=100):
    """Generator steps that fit `seconds` at `per_step` seconds each: {method: steps} from {method: per_step},
    rounded down to a multiple of `multiple` (at least `multiple`)."""
    _check_positive_int("multiple", multiple)
    bad = {method: t for method, t in per_step.items() if not 0 < t < float("inf")}
    if not 0 < seconds < float("inf") or bad:
        raise ValueError(f"need a finite budget seconds > 0 and finite times per step > 0 (measure them with "
                         f"time_per_step), got seconds={seconds!r}" + (f" and {bad}" if bad else ""))
    return {method: max(multiple, int(seconds / t) // multiple * multiple) for method, t in per_step.items()}


@contextmanager
def _quiet():
    """No progress bars inside (`runtime.progress` reads TQDM_DISABLE when a bar is made)."""
    old = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["TQDM_DISABLE"]
        else:
            os.environ["TQDM_DISABLE"] = old


def _run_quietly(job):
    method, dataset, seed, steps, trace_every, overrides = job  # overrides may hold recipe= (run_2d's argument)
    with _quiet():
        return run_2d(method, dataset, seed, steps, trace_every=trace_every, **overrides)


def _is_main_test(test):
    """True for the test ``__name__ == "__main__"`` (either way round)."""
    names = {ast.unparse(side) for side in [test.left, *test.comparators]} if isinstance(test, ast.Compare) else set()
    return names == {"__name__", "'__main__'"} and isinstance(test.ops[0], ast.Eq)


def _check_main_guard():
    """Refuse to start worker processes from a script that calls run_many outside ``if __name__ == "__main__":``.

    Each "spawn" worker re-imports the script that started it; an unguarded call would run again in every worker,
    which fails as it starts, and the pool would replace failed workers forever. Notebooks and the REPL (no script
    file) are fine."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py") or not os.path.isfile(path):
        return
    frame, line = sys._getframe(), None
    while frame is not None:  # the script's own top-level line that led here
        if frame.f_code.co_name == "<module>" and os.path.abspath(frame.f_code.co_filename) == os.path.abspath(path):
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    if not any(isinstance(node, ast.If) and _is_main_test(node.test) and node.lineno <= line <= node.end_lineno
               for node in tree.body):
        raise RuntimeError(
            f"run_many starts worker processes, and each of them re-imports {path}; line {line} runs at its top "
            "level, so every worker would call run_many again and fail, forever. Put the code that runs it under "
            "\n    if __name__ == \"__main__\":\nat the bottom of the script (or pass workers=1).")


def run_many(methods, datasets, seeds, steps, workers=1, on_result=None, trace_every=None, **overrides):
    """`run_2d` for every (method, dataset, seed), in `workers` parallel processes; a list of their results.

    Each run is seeded on its own and single-threaded, so the results do not depend on `workers` or on the
    order. on_result: called with each result as it arrives (e.g. to save partial results); trace_every: see
    `run_2d`. In a script, call it with ``workers > 1`` under ``if __name__ == "__main__":`` (the processes are
    started with "spawn", which re-imports the script); notebooks need nothing.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (parallel processes), got {workers!r}")
    if workers > 1:
        _check_main_guard()
    jobs = [(m, d, s, steps, trace_every, overrides) for m in methods for d in datasets for s in seeds]
    for method, dataset, *_ in jobs:
        config(method, **overrides)
        _check_dataset(dataset)
    bar = progress(total=len(jobs), desc=f"{len(jobs)} runs")
    results = []
    if workers <= 1:
        for job in jobs:
            results.append(_run_quietly(job))
            bar.update(1)
            if on_result is not None:
                on_result(results[-1])
    else:
        context = multiprocessing.get_context("spawn")  # safe in notebooks and on every OS
        # A Pool (unlike a ProcessPoolExecutor) is terminated when the block exits, so an interrupt (Jupyter's stop
        # button) stops the running jobs at once instead of waiting for them to finish; workers exit when we die.
        with context.Pool(workers, initializer=_runtime.exit_with_parent, initargs=(os.getpid(),)) as pool:
            for result in pool.imap(_run_quietly, jobs):
                results.append(result)
                bar.update(1)
                if on_result is not None:
                    on_result(result)
    bar.close()
    return results


def summarize(results, which="ema"):
    """Mean over seeds of each (recipe, method, dataset): a list of dicts with method, recipe, dataset, modes,
    high_quality, reverse_kl, seconds, seeds (how many), in the order the results come. which: "ema" or "raw" (which generator to report).
    A run without any high-quality sample has an infinite reverse KL, and so has the mean that includes it."""
    if which not in ("raw", "ema"):
        raise ValueError(f"which must be 'raw' or 'ema', got {which!r}")
    groups = {}
    for result in results:
        groups.setdefault((result.get("recipe", "common"), result["method"], result["dataset"]), []).append(result)
    rows = []
    for (recipe, method, dataset), group in groups.items():
        scores = [r[which] for r in group]
        mean = lambda key: sum(s[key] for s in scores) / len(scores)  # noqa: E731
        rows.append({"method": method, "recipe": recipe, "dataset": dataset, "seeds": len(group), "modes": mean("modes"),
                     "high_quality": mean("high_quality"), "reverse_kl": mean("reverse_kl"),
                     "seconds": sum(r["seconds"] for r in group) / len(group)})
    return rows
