"""Train the models notebook 06 compares by their recipes (`tutorial_lib.pretrained.RECIPES`) and ship them as
package data: tutorial_lib/assets/{vae,dcgan,mlp_vae,beta_vae}.pt (float16 weights + training record, SHA-256
recorded; the live weights of the two averaged models in vae_live.pt and dcgan_live.pt). "vae" and "dcgan" are one
network trained two ways, for about the same seconds on 2 cores (each record stores its seconds: about 15 minutes
each); the MLP VAEs about 8 minutes each.

    .venv/bin/python scripts/train_pretrained.py                      # all of them, the shipped budgets
    .venv/bin/python scripts/train_pretrained.py --only dcgan --trace-every 1000

The training code is the library's (`tutorial_lib.pretrained.train_recipe` -> `train_vae`/`train_gan`), the
same that notebook 06 runs when a learner retrains. The budget is counted in steps, so a busy machine trains the
same model, only more slowly; the measured seconds, the threads and the load average are stored with each model.
--trace-every N: every N training steps, record the sample quality of the live and the averaged model on the
course classifier (2,000 samples; not counted as training time) in the model's ``trace``: rows [step, seconds,
IS, confident share] per kind of sample ("grey": a GAN's G(z), a VAE's Bernoulli means; "binary": one coin flip
per pixel of them, a VAE's samples proper). The recipes were chosen on another classifier (benchmarks/
gan_quality.py); this trace is the shipped models' curve, not a selection criterion.
"""
import argparse
import copy
import os
import platform
import time

import torch

from tutorial_lib.bench import cpu_name
from tutorial_lib.metrics import class_probabilities, confident_share, inception_score_from_probabilities
from tutorial_lib.pretrained import PRETRAINED, RECIPES, _recalibrated, pretrained_path, save_pretrained, train_recipe
from tutorial_lib.runtime import get_device


@torch.no_grad()
def quality(model, n=2_000):
    """{"grey": (IS, confident share), "binary": (IS, confident share)} of `n` samples of a batch-norm-recalibrated
    copy of `model` (a generator or a VAE), as the shipped models are recalibrated."""
    model = _recalibrated(copy.deepcopy(model))
    noise = torch.Generator().manual_seed(1)
    grey = model.sample(n, generator=noise).float()
    binary = torch.bernoulli(grey, generator=torch.Generator().manual_seed(2))
    result = {}
    for kind, images in (("grey", grey), ("binary", binary)):
        probs = class_probabilities(images)
        result[kind] = (round(inception_score_from_probabilities(probs), 4), round(confident_share(probs, 0.9), 4))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(PRETRAINED), help="train only these models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (the reference), cuda or mps")
    parser.add_argument("--trace-every", type=int, default=0, help="log sample quality every N training steps")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    hardware = f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, {args.threads} threads, device {args.device}"
    for name in args.only or list(PRETRAINED):
        print(f"== {name}: {PRETRAINED[name]}, budget {RECIPES[name]['budget']} ({hardware})", flush=True)
        load_before, trace, traced = os.getloadavg()[0], [], [0.0]
        started = time.perf_counter()

        def log_quality(step, live, averaged):
            if args.trace_every and step % args.trace_every == 0:
                seconds = round(time.perf_counter() - started - traced[0], 1)
                clock = time.perf_counter()
                row = {"step": step, "seconds": seconds, "live": quality(live)}
                if averaged is not live:
                    row["averaged"] = quality(averaged)
                trace.append(row)
                traced[0] += time.perf_counter() - clock
                print(f"   step {step} ({seconds:.0f} s of training): " + ", ".join(
                    f"{which} {kind} IS {values[0]:.3f} / {values[1]:.3f}" for which in ("live", "averaged")
                    if which in row for kind, values in row[which].items()), flush=True)

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
