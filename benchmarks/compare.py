"""Notebook 06's table at the design's protocol: FID, KID, precision/recall (k=3) on the course classifier's
features with N = 10,000 samples per side against the real test set, the real-train floor at the same N, digit
coverage, sharpness, the VAEs' test NLL (IWAE bound, k = 1000, dynamically binarized test digits), training time,
and the nearest-training-neighbour distances. Writes benchmarks/results/compare.json and compare.png (sample grids).

    .venv/bin/python benchmarks/compare.py                 # the shipped models (tutorial_lib/assets), ~5 min on 2 cores
    .venv/bin/python benchmarks/compare.py --train --budget 300   # retrain all four under one budget first
    .venv/bin/python benchmarks/compare.py --quick         # a smoke run with small N
"""
import argparse
import json
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from tutorial_lib.bench import cpu_name, load_average  # noqa: E402
from tutorial_lib.data import load_mnist  # noqa: E402
from tutorial_lib.metrics import mnist_features, nearest_neighbours, negative_elbo, nll, sample_quality  # noqa: E402
from tutorial_lib.plotting import show_images, table_markdown  # noqa: E402
from tutorial_lib.pretrained import PRETRAINED, generate, load_pretrained, train_recipe  # noqa: E402
from tutorial_lib.runtime import seed_everything  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="samples per side for FID/KID/precision/recall")
    parser.add_argument("--n-nll", type=int, default=2_000, help="test digits for the IWAE NLL")
    parser.add_argument("--k", type=int, default=1_000, help="importance samples of the IWAE bound")
    parser.add_argument("--train", action="store_true", help="retrain the four models instead of loading them")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of training per model with --train")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: N=500, 100 NLL digits, k=50")
    parser.add_argument("--out", default=str(RESULTS / "compare.json"))
    args = parser.parse_args()
    if args.quick:
        args.n, args.n_nll, args.k = 500, 100, 50
    torch.set_num_threads(args.threads)
    seed_everything(0)
    start, load_start = time.perf_counter(), load_average()

    train, test = load_mnist(train=True), load_mnist(train=False)
    real_test, real_train = test.images[:args.n], train.images[:args.n]
    feats_test = mnist_features(real_test)
    kid_args = dict(subsets=100, subset_size=min(1000, args.n))
    rows = {"real train (floor)": sample_quality(real_test, real_train, real_feats=feats_test, **kid_args)}
    binarized = torch.bernoulli(test.images[:args.n_nll], generator=torch.Generator().manual_seed(0))
    test_nn, _ = nearest_neighbours(real_test[:1000], train.images)
    rows["real train (floor)"]["nn_median"] = float(test_nn.median())
    samples, infos = {}, {}
    for name in PRETRAINED:
        model, info = train_recipe(name, args.budget) if args.train else load_pretrained(name)
        infos[name] = info
        images = samples[name] = generate(model, args.n, seed=1)
        row = sample_quality(real_test, images, real_feats=feats_test, **kid_args)
        if info["kind"] == "vae":
            row["neg_elbo"] = negative_elbo(model, binarized)
            row["nll"] = nll(model, binarized, k=args.k)
        distances, _ = nearest_neighbours(images[:1000], train.images)
        row.update(nn_median=float(distances.median()), nn_min=float(distances.min()),
                   train_seconds=info["wall_time"], steps=info["steps"], epochs=info["epochs"])
        rows[name] = row
        print(f"{name}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
              flush=True)

    fig, axes = plt.subplots(1, 5, figsize=(17, 3.8))
    show_images(real_test[:36], nrow=6, ax=axes[0], title="real (test)")
    for ax, (name, images) in zip(axes[1:], samples.items()):
        show_images(images[:36], nrow=6, ax=ax, title=f"{name} (FID {rows[name]['FID']:.1f})")
    png = Path(args.out).with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=80, bbox_inches="tight")

    result = {
        "protocol": {"n": args.n, "kid_subsets": kid_args["subsets"], "kid_subset_size": kid_args["subset_size"],
                     "precision_recall_k": 3, "nll_digits": args.n_nll, "iwae_k": args.k,
                     "reference": "real test digits", "features": "course classifier, penultimate layer (128)"},
        "models": {name: PRETRAINED[name] for name in PRETRAINED},
        "training": {"retrained_here": args.train, "budget_s": sorted({i["budget_s"] for i in infos.values()}),
                     "trained_on": sorted({i.get("hardware", "?") for i in infos.values()})},
        "hardware": f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} threads (torch {torch.__version__})",
        "load_average": {"start": load_start, "end": load_average()},
        "seconds": time.perf_counter() - start,
        "rows": rows,
    }
    out = Path(args.out)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(table_markdown(rows))
    print(f"wrote {args.out} and {png} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
