"""Train notebook 08's shipped models for a fixed number of steps and ship them as package data:
tutorial_lib/assets/{cvae,cgan,vae_gan}.pt (float16 weights + training record, SHA-256 recorded).

    .venv/bin/python scripts/train_conditional.py                 # all three, the recipes' step budgets
    .venv/bin/python scripts/train_conditional.py --only cgan --threads 1

Step budgets (not wall-clock ones) make the models the same on any machine; the record keeps the steps, the
seconds they took, the hardware and the load average (a busy machine takes longer for the same steps).
The recipes are `tutorial_lib.pretrained.RECIPES` (kinds "cvae", "cgan", "vae_gan"); the training loops are
`tutorial_lib.conditional.train_cvae`, `train_cgan` and `train_vae_gan`, the ones notebook 08 runs live.
"""
import argparse
import os
import platform

import torch

from tutorial_lib.bench import cpu_name
from tutorial_lib.pretrained import CONDITIONAL, pretrained_path, save_pretrained, train_conditional_recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(CONDITIONAL), help="train only these models")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    hardware = f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, {args.threads} threads, device cpu"
    for name in args.only or list(CONDITIONAL):
        print(f"== {name}: {CONDITIONAL[name]} ({hardware})", flush=True)
        load_before = os.getloadavg()[0]
        model, info = train_conditional_recipe(name, steps=args.steps, seed=args.seed)
        info["hardware"], info["torch"] = hardware, str(torch.__version__)
        info["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        digest = save_pretrained(name, model, info)
        path = pretrained_path(name)
        print(f"   {info['steps']} steps in {info['wall_time']:.0f} s (load average {info['load_average'][0]} -> "
              f"{info['load_average'][1]}) -> {path.name} ({path.stat().st_size / 1e6:.2f} MB), sha256 {digest}",
              flush=True)


if __name__ == "__main__":
    main()
