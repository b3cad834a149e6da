"""Train the four models notebook 06 compares, each under the shared budget of `tutorial_lib.pretrained.BUDGET`
(epochs for the VAEs, generator steps for the GANs, calibrated to about 8 minutes each on 2 quiet cores), and ship
them as package data: tutorial_lib/assets/{vae,beta_vae,dcgan,dcgan_sn}.pt (float16 weights + training record,
SHA-256 recorded).

    .venv/bin/python scripts/train_pretrained.py                      # all four, the shipped budget
    .venv/bin/python scripts/train_pretrained.py --only dcgan --threads 1 --trace-every 937

The training code is the library's (`tutorial_lib.pretrained.train_recipe` -> `train_vae`/`train_gan`), the
same that notebook 06 runs when a learner retrains. The budget is counted in steps, so a busy machine trains the
same model, only more slowly; the measured seconds, the threads and the load average are stored with each model.
--trace-every N (GANs): every N generator steps, record the averaged generator's Inception Score and the share of
confidently classified samples (2,000 samples; not counted as training time) in the model's ``trace``.
"""
import argparse
import copy
import os
import platform
import time

import torch

from tutorial_lib.bench import cpu_name
from tutorial_lib.metrics import class_probabilities, confident_share, inception_score_from_probabilities
from tutorial_lib.pretrained import (PRETRAINED, RECIPES, pretrained_path, recalibrate_batch_norm, save_pretrained,
                                     train_recipe)
from tutorial_lib.runtime import get_device


def quality(generator, n=2_000):
    """(Inception Score, share classified with confidence >= 0.9) of `n` samples of a copy of `generator` whose
    batch-norm statistics are re-estimated, as the shipped model's are."""
    model = recalibrate_batch_norm(copy.deepcopy(generator).cpu())
    probs = class_probabilities(model.sample(n, generator=torch.Generator().manual_seed(1)))
    return inception_score_from_probabilities(probs), confident_share(probs, 0.9)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(PRETRAINED), help="train only these models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (the reference), cuda or mps")
    parser.add_argument("--trace-every", type=int, default=0, help="GANs: log sample quality every N steps")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    hardware = f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, {args.threads} threads, device {args.device}"
    for name in args.only or list(PRETRAINED):
        print(f"== {name}: {PRETRAINED[name]}, budget {RECIPES[name]['budget']} ({hardware})", flush=True)
        load_before, trace = os.getloadavg()[0], []
        started = time.perf_counter()

        def log_quality(step, generator, averaged):
            if args.trace_every and step % args.trace_every == 0:
                score, confident = quality(averaged)
                trace.append([step, round(score, 4), round(confident, 4)])
                print(f"   step {step}: averaged generator IS {score:.3f}, confident {confident:.3f} "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)

        model, info = train_recipe(name, device=get_device(args.device), seed=args.seed, callback=log_quality)
        info["hardware"], info["torch"] = hardware, str(torch.__version__)
        # A busy machine needs more seconds for the same steps: keep the 1-minute load averages with the model.
        info["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        if trace:
            info["trace"] = trace
        digest = save_pretrained(name, model, info)
        path = pretrained_path(name)
        print(f"   {info['steps']} steps, {info['epochs']} epochs in {info['wall_time']:.0f} s (load average "
              f"{info['load_average'][0]} -> {info['load_average'][1]}) -> {path.name} "
              f"({path.stat().st_size / 1e6:.2f} MB), sha256 {digest}", flush=True)


if __name__ == "__main__":
    main()
