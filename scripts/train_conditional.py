"""Train notebook 08's shipped models for a fixed number of steps and ship them as package data:
tutorial_lib/assets/{cvae,cgan,vae_gan}.pt (float16 weights + training record, SHA-256 recorded).

    .venv/bin/python scripts/train_conditional.py                 # all three, the recipes' step budgets
    .venv/bin/python scripts/train_conditional.py --only cgan --threads 1
    .venv/bin/python scripts/train_conditional.py --only vae_gan --width 48 --steps 3000 --out /tmp/try.pt

Step budgets (not wall-clock ones) make the models the same on any machine; the record keeps the steps, the
seconds they took, the hardware and the load average (a busy machine takes longer for the same steps).
The recipes are `tutorial_lib.conditional.CONDITIONAL_RECIPES` (kinds "cvae", "cgan", "vae_gan"); the training
loops are `tutorial_lib.conditional.train_cvae`, `train_cgan` and `train_vae_gan`, the ones notebook 08 runs live.
The VAE-GAN is notebook 06's shared network: its width is `conditional.VAE_GAN_WIDTH` (set it to notebook 06's);
`--width` and `--steps` try other settings, written with `--out` to a file of your choice (the shipped file must
match its recipe: tests/test_conditional.py checks it).
"""
import argparse
import os
import platform
from pathlib import Path

import torch

from tutorial_lib.bench import cpu_name
from tutorial_lib.pretrained import CONDITIONAL, pretrained_path, save_pretrained, train_conditional_recipe


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(CONDITIONAL), help="train only these models")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    parser.add_argument("--width", type=int, default=None, help="the networks' width instead of the recipe's")
    parser.add_argument("--out", default=None, help="write here instead of the shipped tutorial_lib/assets/<name>.pt "
                                                    "(needed with --width or --steps; one model only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = args.only or list(CONDITIONAL)
    if (args.width is not None or args.steps is not None) and (args.out is None or len(names) != 1):
        parser.error("--width and --steps change the recipe: train one model (--only NAME) and write it elsewhere "
                     "with --out PATH, or change the recipe in tutorial_lib/conditional.py")

    torch.set_num_threads(args.threads)
    hardware = f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, {args.threads} threads, device cpu"
    for name in names:
        print(f"== {name}: {CONDITIONAL[name]} ({hardware})", flush=True)
        load_before = os.getloadavg()[0]
        model, info = train_conditional_recipe(name, steps=args.steps, seed=args.seed, width=args.width)
        info["hardware"], info["torch"] = hardware, str(torch.__version__)
        info["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        path = pretrained_path(name) if args.out is None else Path(args.out)
        digest = save_pretrained(name, model, info, path=None if args.out is None else path)
        print(f"   {info['steps']} steps in {info['wall_time']:.0f} s (load average {info['load_average'][0]} -> "
              f"{info['load_average'][1]}) -> {path} ({path.stat().st_size / 1e6:.2f} MB)"
              + (f", sha256 {digest}" if digest else ""), flush=True)


if __name__ == "__main__":
    main()
