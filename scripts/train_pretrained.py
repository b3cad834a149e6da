"""Train the four models notebook 06 compares, each under the same wall-clock budget, and ship them as package
data: tutorial_lib/assets/{vae,beta_vae,dcgan,dcgan_sn}.pt (float16 weights + training record, SHA-256 recorded).

    .venv/bin/python scripts/train_pretrained.py                  # 300 s per model on this machine
    .venv/bin/python scripts/train_pretrained.py --budget 60 --only dcgan_sn

The training code is the library's (`tutorial_lib.pretrained.train_recipe` -> `train_vae`/`train_gan`), the
same that notebook 06 runs when a learner retrains. Set torch's threads with --threads (default 2, the
course's reference CPU) so the budget means the same everywhere.
"""
import argparse
import os
import platform

import torch

from tutorial_lib.pretrained import PRETRAINED, pretrained_path, save_pretrained, train_recipe
from tutorial_lib.runtime import get_device


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of training per model")
    parser.add_argument("--only", nargs="*", choices=sorted(PRETRAINED), help="train only these models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (the reference), cuda or mps")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    hardware = f"{platform.processor() or platform.machine()}, {args.threads} threads, device {args.device}"
    for name in args.only or list(PRETRAINED):
        print(f"== {name}: {PRETRAINED[name]}, budget {args.budget:g} s ({hardware})", flush=True)
        load_before = os.getloadavg()[0]
        model, info = train_recipe(name, args.budget, device=get_device(args.device), seed=args.seed)
        info["hardware"], info["torch"] = hardware, str(torch.__version__)
        # A busy machine gives fewer steps in the same budget: keep the 1-minute load averages with the model.
        info["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        digest = save_pretrained(name, model, info)
        path = pretrained_path(name)
        print(f"   {info['steps']} steps, {info['epochs']} epochs in {info['wall_time']:.0f} s (load average "
              f"{info['load_average'][0]} -> {info['load_average'][1]}) -> {path.name} "
              f"({path.stat().st_size / 1e6:.2f} MB), sha256 {digest}", flush=True)


if __name__ == "__main__":
    main()
