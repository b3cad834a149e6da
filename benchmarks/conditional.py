"""Notebook 08's numbers at full size, from the shipped models (tutorial_lib/assets): the conditional models' label
accuracy (the course classifier's verdict on N requested digits, N/10 per digit) and per-class FID (N/10 per digit
against the real test digits of that class), and the hybrid comparison (VAE-GAN vs the VAE and the DCGAN of
notebook 06: FID, KID, precision/recall, sharpness, Inception Score, N samples each against the real test set, with
the real-train floor), each model's training steps and seconds. Writes benchmarks/results/conditional.json in
benchmarks/compare.py's conventions (hardware, load average, seconds, rows).

    .venv/bin/python benchmarks/conditional.py            # N = 10,000
    .venv/bin/python benchmarks/conditional.py --quick    # a smoke run, N = 500
"""
import argparse
import json
import os
import time
from pathlib import Path

import torch

from tutorial_lib.bench import cpu_name, load_average
from tutorial_lib.conditional import CONDITIONAL, label_accuracy, per_class_fid
from tutorial_lib.data import load_mnist
from tutorial_lib.metrics import inception_score, mnist_features, sample_quality
from tutorial_lib.plotting import table_markdown
from tutorial_lib.pretrained import generate, load_pretrained
from tutorial_lib.runtime import seed_everything

RESULTS = Path(__file__).resolve().parent / "results"
CONDITIONAL_MODELS = ("cvae", "cgan")
HYBRID_MODELS = ("vae", "dcgan", "vae_gan")


def _budget(info):
    return {"steps": info["steps"], "seconds": round(float(info["wall_time"]), 1), "hardware": info.get("hardware"),
            "load_average": info.get("load_average")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="samples per model (a multiple of 10)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: N = 500")
    parser.add_argument("--out", default=str(RESULTS / "conditional.json"))
    args = parser.parse_args()
    if args.quick:
        args.n = 500
    if args.n < 20 or args.n % 10:
        parser.error("--n must be a multiple of 10, at least 20")
    torch.set_num_threads(args.threads)
    seed_everything(0)
    start, load_start = time.perf_counter(), load_average()
    train, test = load_mnist(train=True), load_mnist(train=False)
    per_digit = args.n // 10
    requested = torch.arange(10).repeat_interleave(per_digit)
    real_by_digit = torch.cat([test.images[test.labels == d][:per_digit] for d in range(10)])
    real_labels = torch.cat([torch.full(((test.labels == d)[:].sum().clamp(max=per_digit).item(),), d)
                             for d in range(10)])

    accuracy, class_fid, budgets = {}, {}, {}
    for name in CONDITIONAL_MODELS:
        model, info = load_pretrained(name)
        images = generate(model, args.n, seed=1, labels=requested)
        accuracy[name] = label_accuracy(images, requested)
        class_fid[name] = {str(d): v for d, v in per_class_fid(real_by_digit, real_labels, images, requested).items()}
        budgets[name] = _budget(info)
        print(f"{name}: label accuracy {accuracy[name]:.4f}, mean per-class FID "
              f"{sum(class_fid[name].values()) / 10:.2f}", flush=True)

    real = test.images[:args.n]
    feats = mnist_features(real)
    kid_args = dict(subsets=100, subset_size=min(1000, args.n))
    hybrid = {"real train (floor)": dict(sample_quality(real, train.images[:args.n], real_feats=feats, **kid_args),
                                         IS=inception_score(train.images[:args.n]))}
    for name in HYBRID_MODELS:
        model, info = load_pretrained(name)
        images = generate(model, args.n, seed=5)
        hybrid[name] = dict(sample_quality(real, images, real_feats=feats, **kid_args), IS=inception_score(images),
                            steps=info["steps"], seconds=round(float(info["wall_time"]), 1))
        budgets[name] = _budget(info)
        print(f"{name}: FID {hybrid[name]['FID']:.2f}, IS {hybrid[name]['IS']:.3f}, sharpness "
              f"{hybrid[name]['sharpness']:.4f}", flush=True)

    result = {
        "protocol": {"n": args.n, "per_digit": per_digit, "classifier": "course MNIST classifier (tutorial_lib)",
                     "label_accuracy": "share of samples whose classifier argmax is the requested digit",
                     "per_class_fid": "FID of the samples requested as d against the real test digits of class d",
                     "hybrid_reference": "real test digits; floor = real train digits at the same N"},
        "models": {name: CONDITIONAL.get(name, name) for name in CONDITIONAL_MODELS + HYBRID_MODELS},
        "budgets": budgets,
        "hardware": f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} threads (torch {torch.__version__})",
        "load_average": {"start": load_start, "end": load_average()},
        "seconds": time.perf_counter() - start,
        "label_accuracy": accuracy,
        "per_class_fid": class_fid,
        "hybrid": hybrid,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(table_markdown(hybrid))
    print(f"wrote {out} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
