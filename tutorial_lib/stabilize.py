"""The experiments of notebook 05 (and of ``benchmarks/gan2d.py``): one place for their configurations.

A *method* is a way of training the same small GAN on a 2-D mixture (a loss, a discriminator regularizer,
packing); every method shares the rest of the recipe (`RECIPE`: networks, optimizer, batch size). Each run
also keeps an exponential moving average (EMA) of the generator's weights (Yazici et al. 2019) and both
generators are scored with `metrics.mode_metrics` on 2,500 samples (the PacGAN protocol).

    result = run_2d("pacgan", "grid", seed=0, steps=20_000)
    table = run_many(["baseline", "pacgan"], ["ring", "grid"], seeds=[0, 1, 2], steps=5_000, workers=2)
"""
import copy
import multiprocessing
import os
import time
from contextlib import contextmanager

import torch

from . import data as _data
from .gan import MLPDiscriminator, MLPGenerator
from .modes import mode_metrics
from . import runtime as _runtime
from .runtime import get_device, progress, seed_everything
from .train import train_gan

#: The 2-D mixtures of the PacGAN protocol: name -> function(n, seed) -> (samples, centers, std).
DATASETS = {"ring": _data.ring, "grid": _data.grid}

#: What every method shares (a method may override any of it).
RECIPE = dict(latent_dim=2, hidden=128, depth=3, lr=1e-3, betas=(0.5, 0.999), batch_size=256, ema=0.999,
              lr_schedule="constant", n_train=100_000, n_eval=2_500)

#: The methods compared in notebook 05: options for the networks and for `train.train_gan`.
#: - baseline: the non-saturating GAN of notebook 04 (Goodfellow et al. 2014);
#: - wgan-gp: Wasserstein loss + gradient penalty (Gulrajani et al. 2017) with their 2-D toy weight 0.1, and one
#:   critic step per generator step like every other method (the paper uses 5 on images);
#: - spectral-norm: the baseline's loss with a spectrally normalized discriminator (Miyato et al. 2018);
#: - hinge: the hinge loss (Lim & Ye 2017; Miyato et al. 2018) with the baseline's discriminator;
#: - pacgan: the baseline with packing, the discriminator judges 2 samples at once (Lin et al. 2018); as in the
#:   paper it sees as many (packed) inputs per step as the others, so each batch holds 2 x 256 samples.
METHODS = {
    "baseline": dict(loss="nonsaturating"),
    "wgan-gp": dict(loss="wasserstein", gp_weight=0.1),
    "spectral-norm": dict(loss="nonsaturating", spectral_norm=True),
    "hinge": dict(loss="hinge"),
    "pacgan": dict(loss="nonsaturating", pack=2, batch_size=512),
}

#: Generator steps per run in benchmarks/gan2d.py (notebook 05 picks its own, shorter, with `by_mode`).
BENCHMARK_STEPS = 20_000

#: What the course's best remedy should reach (mean over 3 seeds) within `seconds` per run on a 2-core CPU.
#: PacGAN4 (Lin et al. 2018) reports 24.8 modes / 93.6 % on the grid and 7.8 / 95.9 % on the ring.
TARGETS = {"grid": {"modes": 25, "high_quality": 0.95, "seconds": 180},
           "ring": {"modes": 8, "high_quality": 0.97, "seconds": 180}}

_TRAIN_OPTIONS = ("loss", "n_critic", "gp_weight", "pack", "betas", "batch_size", "lr_schedule")


def config(method, **overrides):
    """The full configuration of `method`: RECIPE, then the method's options, then `overrides` (a new dict)."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {list(METHODS)}")
    unknown = set(overrides) - set(RECIPE) - {"spectral_norm", *_TRAIN_OPTIONS}
    if unknown:
        raise ValueError(f"Unknown options {sorted(unknown)}; known: {sorted({*RECIPE, 'spectral_norm', *_TRAIN_OPTIONS})}")
    return {**RECIPE, "loss": "nonsaturating", "spectral_norm": False, "pack": 1, "n_critic": 1, "gp_weight": 0.0,
            **METHODS[method], **overrides}


class EMA:
    """An exponential moving average of a module's weights (Yazici et al. 2019), the copy used for evaluation.

    Each ``ema.update(module)`` (after an optimizer step) does ``average = d * average + (1 - d) * weights`` with
    ``d = min(decay, (1 + t) / (10 + t))`` at the t-th update: a short warm-up, so that the average soon forgets
    the untrained initial weights. ``ema.module`` is the averaged copy (no gradients). As a `train_gan`
    callback: ``callback=lambda step, g, d: ema.update(g), every=1``.
    """

    def __init__(self, module, decay=0.999):
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.decay, self.updates = decay, 0
        self.module = copy.deepcopy(module).requires_grad_(False)

    @torch.no_grad()
    def update(self, module):
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for average, weights in zip(self.module.parameters(), module.parameters()):
            average.lerp_(weights, 1 - decay)
        for average, buffer in zip(self.module.buffers(), module.buffers()):
            average.copy_(buffer)


def _check_dataset(dataset):
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}: use one of {list(DATASETS)}")


def run_2d(method, dataset, seed=0, steps=5_000, device="cpu", trace_every=None, **overrides):
    """Train `method` on `dataset` ("ring" or "grid") for `steps` generator steps from `seed`; score it.

    Returns a dict: method, dataset, seed, steps, seconds (training wall time, EMA updates included), ``raw``
    and ``ema`` (the `mode_metrics` of the last generator and of its EMA, on the same fixed noise), ``samples``
    and ``ema_samples`` (n_eval x 2 tensors), ``history`` (the `train.History`), ``config``, and ``trace``: with
    `trace_every`, a list of ``(step, raw metrics, ema metrics)`` every `trace_every` steps (not timed).
    The run is deterministic given `seed` (single-threaded; the tiny networks run fastest on the CPU, which is why
    `device` defaults to "cpu"). `overrides` change the recipe, e.g. ``lr=3e-4, pack=4, batch_size=1024``.
    """
    _check_dataset(dataset)
    cfg = config(method, **overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seed_everything(seed)
        real, centers, std = DATASETS[dataset](cfg["n_train"], seed=seed)
        device = get_device(device)
        generator = MLPGenerator(latent_dim=cfg["latent_dim"], hidden=cfg["hidden"], depth=cfg["depth"]).to(device)
        discriminator = MLPDiscriminator(hidden=cfg["hidden"], depth=cfg["depth"], spectral_norm=cfg["spectral_norm"],
                                         pack=cfg["pack"])
        ema = EMA(generator, cfg["ema"])
        noise = torch.randn(cfg["n_eval"], cfg["latent_dim"], generator=torch.Generator().manual_seed(10_000 + seed))
        trace, tracing = [], [0.0]  # tracing: seconds spent scoring during training (not training time)

        @torch.no_grad()
        def score(module):
            was_training = module.training
            samples = module.eval()(noise.to(device)).cpu()
            module.train(was_training)
            return samples, mode_metrics(samples, centers, std)

        def callback(step, g, d):
            ema.update(g)
            if trace_every and step % trace_every == 0:
                start = time.perf_counter()
                trace.append((step, score(g)[1], score(ema.module)[1]))
                tracing[0] += time.perf_counter() - start

        start = time.perf_counter()
        history = train_gan(generator, discriminator, real, steps, lr_g=cfg["lr"], lr_d=cfg["lr"], device=device,
                            callback=callback, every=1, **{name: cfg[name] for name in _TRAIN_OPTIONS})
        seconds = time.perf_counter() - start - tracing[0]  # training with the EMA updates, without the traces
        (samples, raw), (ema_samples, averaged) = score(generator), score(ema.module)
    finally:
        torch.set_num_threads(threads)
    return {"method": method, "dataset": dataset, "seed": seed, "steps": steps, "seconds": seconds,
            "raw": raw, "ema": averaged, "samples": samples, "ema_samples": ema_samples, "history": history,
            "config": cfg, "trace": trace}


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
    method, dataset, seed, steps, trace_every, overrides = job
    with _quiet():
        return run_2d(method, dataset, seed, steps, trace_every=trace_every, **overrides)


def run_many(methods, datasets, seeds, steps, workers=1, on_result=None, trace_every=None, **overrides):
    """`run_2d` for every (method, dataset, seed), in `workers` parallel processes; a list of their results.

    Each run is seeded on its own and single-threaded, so the results do not depend on `workers` or on the
    order. on_result: called with each result as it arrives (e.g. to save partial results); trace_every: see
    `run_2d`. In a script, call it with ``workers > 1`` under ``if __name__ == "__main__":`` (the processes are
    started with "spawn", which re-imports the script); notebooks need nothing.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (parallel processes), got {workers!r}")
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
    """Mean over seeds of each (method, dataset): a list of dicts with modes, high_quality, reverse_kl, seconds,
    seeds (how many), in the order the results come. which: "ema" or "raw" (which generator to report).
    A run without any high-quality sample has an infinite reverse KL, and so has the mean that includes it."""
    if which not in ("raw", "ema"):
        raise ValueError(f"which must be 'raw' or 'ema', got {which!r}")
    groups = {}
    for result in results:
        groups.setdefault((result["method"], result["dataset"]), []).append(result)
    rows = []
    for (method, dataset), group in groups.items():
        scores = [r[which] for r in group]
        mean = lambda key: sum(s[key] for s in scores) / len(scores)  # noqa: E731
        rows.append({"method": method, "dataset": dataset, "seeds": len(group), "modes": mean("modes"),
                     "high_quality": mean("high_quality"), "reverse_kl": mean("reverse_kl"),
                     "seconds": sum(r["seconds"] for r in group) / len(group)})
    return rows
