"""Notebook 06's tables at the design's protocol. Every model trains on the same grey MNIST digits and outputs grey
images of pixel probabilities (a VAE: its Bernoulli means). The main table scores those against the grey real test
digits: FID, KID, precision/recall (k=3) on the course classifier's features, the classifier-based Inception Score
and the share of confidently classified samples, the per-class coverage (label histogram and recall per digit),
sharpness, the VAEs' NLL (IWAE bound, k = 1000) and -ELBO on binarized test digits (where a Bernoulli likelihood is
defined), the training budget each model had, and the nearest-training-neighbour distances. The binary table scores
one coin flip per pixel of every model's images (for a VAE, its samples proper) against coin-flipped test digits.
N = 10,000 samples per side, the real-train floor at the same N and the real digits' Inception Score as the ceiling.
Notebook 08's models join the same protocol: the VAE-GAN (a hybrid, trained for about the same seconds as the four)
gets a row in both tables, and the conditional models (CVAE, conditional GAN) their label accuracy (the classifier's
verdict on N requested digits, N/10 per digit), per-class FID (against the real test digits of that class) and the
main table's measures of those samples (the Inception Score of a model told which digit to draw).
Writes benchmarks/results/compare.json and compare.png (sample grids).

    .venv/bin/python benchmarks/compare.py                 # the shipped models (tutorial_lib/assets)
    .venv/bin/python benchmarks/compare.py --train         # retrain all four by their recipes first
    .venv/bin/python benchmarks/compare.py --quick         # a smoke run with small N
"""
import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from tutorial_lib.bench import cpu_name, load_average, write_json  # noqa: E402
from tutorial_lib.conditional import CONDITIONAL, CONDITIONAL_RECIPES, label_accuracy, per_class_fid  # noqa: E402
from tutorial_lib.data import load_mnist  # noqa: E402
from tutorial_lib.metrics import (class_probabilities, confident_share, inception_score_from_probabilities,  # noqa: E402
                                  kl_from_uniform, mnist_features, nearest_neighbours, negative_elbo, nll, per_class_recall,
                                  sample_quality)
from tutorial_lib.plotting import show_images, table_markdown  # noqa: E402
from tutorial_lib.pretrained import PRETRAINED, RECIPES, generate, load_pretrained, train_recipe  # noqa: E402
from tutorial_lib.runtime import seed_everything  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
HYBRID_MODELS = ("vae_gan",)        # unconditional: scored like the four
CONDITIONAL_MODELS = ("cvae", "cgan")


def binarized(images, seed):
    """One fixed Bernoulli draw of grey digits (what dynamic binarization shows a model at one visit)."""
    return torch.bernoulli(images, generator=torch.Generator().manual_seed(seed))


def extended_row(real, fake, real_feats, real_labels, kid_args):
    """sample_quality's row plus the Inception Score, the confident share, and coverage per digit class."""
    row = sample_quality(real, fake, real_feats=real_feats, **kid_args)
    probs = class_probabilities(fake)
    recall_per_class = per_class_recall(real_feats, real_labels, mnist_features(fake), k=3)
    row.update(IS=inception_score_from_probabilities(probs), confident=confident_share(probs, 0.9),
               min_class_recall=float(recall_per_class.min()),
               class_recall=[round(float(r), 4) for r in recall_per_class],
               class_shares=[round(float(s), 4) for s in torch.bincount(probs.argmax(1), minlength=10) / len(probs)])
    shares = torch.bincount(probs.argmax(1), minlength=10).double() / len(probs)
    # Coverage that blur does not bias: which digits the classifier sees, and how evenly (the label histogram).
    row.update(digits=int((shares > 0).sum()), digit_kl=kl_from_uniform(shares))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="samples per side for FID/KID/precision/recall/IS")
    parser.add_argument("--n-nll", type=int, default=10_000, help="test digits for the IWAE NLL (default: all of them)")
    parser.add_argument("--k", type=int, default=1_000, help="importance samples of the IWAE bound")
    parser.add_argument("--train", action="store_true", help="retrain the four models instead of loading them")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-nn", type=int, default=1_000, help="samples checked for copies (nearest training digit)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID's random subsets (of min(1000, N) each)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (well under a minute on 2 cores): N=300, 100 NLL digits, k=50, 100 copy checks, "
                             "10 KID subsets")
    parser.add_argument("--out", default=str(RESULTS / "compare.json"))
    args = parser.parse_args()
    if args.quick:
        args.n, args.n_nll, args.k, args.n_nn, args.kid_subsets = 300, 100, 50, 100, 10
    torch.set_num_threads(args.threads)
    seed_everything(0)
    start, load_start = time.perf_counter(), load_average()

    train, test = load_mnist(train=True), load_mnist(train=False)
    real_test, real_train = test.images[:args.n], train.images[:args.n]
    real_test_bin, real_train_bin = binarized(real_test, 0), binarized(real_train, 1)
    labels_test = test.labels[:args.n]
    feats_test, feats_test_bin = mnist_features(real_test), mnist_features(real_test_bin)
    kid_args = dict(subsets=args.kid_subsets, subset_size=min(1000, args.n))
    rows = {"real train (floor)": extended_row(real_test, real_train, feats_test, labels_test, kid_args)}
    binary_rows = {"real train, coin-flipped (floor)": extended_row(real_test_bin, real_train_bin, feats_test_bin,
                                                                    labels_test, kid_args)}
    floor = rows["real train (floor)"]
    ceiling = {"test digits": inception_score_from_probabilities(class_probabilities(real_test)),
               "coin-flipped test digits": inception_score_from_probabilities(class_probabilities(real_test_bin))}
    nll_digits = binarized(test.images[:args.n_nll], 0)
    test_nn, _ = nearest_neighbours(real_test[:args.n_nn], train.images)
    floor["nn_median"] = float(test_nn.median())
    samples, infos = {}, {}
    # The models trained with weight averaging are scored twice: averaged (their name) and live ("<name> (no EMA)").
    runs = [(name, False) for name in list(PRETRAINED) + list(HYBRID_MODELS)]
    runs += [(name, True) for name in PRETRAINED if RECIPES[name].get("ema")]
    for name, raw in runs:
        if raw:
            model, info = load_pretrained(name, raw=True)
            name = f"{name} (no EMA)"
        else:
            model, info = train_recipe(name) if args.train and name in PRETRAINED else load_pretrained(name)
        infos[name] = info
        images = generate(model, args.n, seed=1)  # grey: a GAN's images, a VAE's Bernoulli means
        samples[name] = images
        row = extended_row(real_test, images, feats_test, labels_test, kid_args)
        binary_rows[name] = extended_row(real_test_bin, binarized(images, 2), feats_test_bin, labels_test, kid_args)
        if info["kind"] == "vae":
            row["neg_elbo"] = negative_elbo(model, nll_digits)
            row["nll"] = nll(model, nll_digits, k=args.k)
        distances, _ = nearest_neighbours(images[:args.n_nn], train.images)
        row.update(nn_median=float(distances.median()), nn_min=float(distances.min()),
                   train_seconds=info["wall_time"], steps=info["steps"], epochs=info["epochs"])
        rows[name] = row
        print(f"{name}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                                      if not isinstance(v, list)), flush=True)
        del model  # free each model once scored (memory)

    conditional = {"label_accuracy": {}, "per_class_fid": {}, "mean_per_class_fid": {}, "rows": {}}
    requested = torch.arange(10).repeat_interleave(args.n // 10)
    per_digit = args.n // 10
    real_by_digit = torch.cat([test.images[test.labels == d][:per_digit] for d in range(10)])
    real_by_digit_labels = torch.cat([test.labels[test.labels == d][:per_digit] for d in range(10)])
    for name in CONDITIONAL_MODELS:
        model, info = load_pretrained(name)
        infos[name] = info
        images = generate(model, len(requested), seed=1, labels=requested)
        conditional["label_accuracy"][name] = label_accuracy(images, requested)
        per_class = per_class_fid(real_by_digit, real_by_digit_labels, images, requested)
        conditional["per_class_fid"][name] = {str(d): v for d, v in per_class.items()}
        conditional["mean_per_class_fid"][name] = sum(per_class.values()) / len(per_class)
        # The main table's measures on the same samples (every digit requested equally often): what the same networks
        # reach when they are told which digit to draw. Not a row of the main table: the others get no label.
        conditional["rows"][name] = extended_row(real_test, images, feats_test, labels_test, kid_args)
        print(f"{name}: label accuracy {conditional['label_accuracy'][name]:.4f}, mean per-class FID "
              f"{conditional['mean_per_class_fid'][name]:.2f}, IS {conditional['rows'][name]['IS']:.3f}, confident "
              f"{conditional['rows'][name]['confident']:.3f}", flush=True)

    samples = {name: images for name, images in samples.items() if not name.endswith("(no EMA)")}
    fig, axes = plt.subplots(1, 1 + len(samples), figsize=(3.4 * (1 + len(samples)), 3.8))
    show_images(real_test[:36], nrow=6, ax=axes[0], title="real (test)")
    for ax, (name, images) in zip(axes[1:], samples.items()):
        show_images(images[:36], nrow=6, ax=ax, title=f"{name} (FID {rows[name]['FID']:.1f}, IS {rows[name]['IS']:.2f})")
    png = Path(args.out).with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=80, bbox_inches="tight")

    result = {
        "protocol": {"n": args.n, "kid_subsets": kid_args["subsets"], "kid_subset_size": kid_args["subset_size"],
                     "precision_recall_k": 3, "nn_samples": args.n_nn, "nll_digits": args.n_nll, "iwae_k": args.k,
                     "confident_threshold": 0.9,
                     "training_data": "MNIST training digits, grey levels, the same tensors for every model",
                     "reference": "real test digits (grey); binary_rows: one Bernoulli draw of them (seed 0)",
                     "floor": "real train digits (grey); binary_rows: one Bernoulli draw of them (seed 1)",
                     "model_images": "a GAN's images and a VAE's Bernoulli means; binary_rows: one coin flip per pixel "
                                     "of them (seed 2), for a VAE its samples proper",
                     "samples": "a GAN models grey digits, so its samples are its images (rows); a VAE with a "
                                "Bernoulli decoder models binary digits, so its samples are binary_rows (against "
                                "coin-flipped test digits) and its Bernoulli means are a separate row (rows)",
                     "no_ema": "'<name> (no EMA)': the live weights at the end of training instead of their moving "
                               "average (both recalibrated the same way)",
                     "coverage": "digits: classes the classifier assigns at least one sample to; digit_kl: KL(label "
                                 "histogram || uniform); recall and class_recall: k-NN manifold coverage (biased by "
                                 "blur when scored on means)",
                     "nll": "VAEs: -IWAE bound on binarized test digits (seed 0)",
                     "features": "course classifier, penultimate layer (128)"},
        "models": {**PRETRAINED, **{name: CONDITIONAL[name] for name in HYBRID_MODELS + CONDITIONAL_MODELS}},
        "recipes": {**{name: RECIPES[name] for name in PRETRAINED},
                    **{name: CONDITIONAL_RECIPES[name] for name in HYBRID_MODELS + CONDITIONAL_MODELS}},
        "training": {name: {"retrained_here": args.train and name in PRETRAINED, "steps": info["steps"], "epochs": info["epochs"],
                            "seconds": info["wall_time"], "budget": info.get("budget"), "budget_s": info.get("budget_s"),
                            "hardware": info.get("hardware", "?"), "load_average": info.get("load_average"),
                            "trace": info.get("trace")}
                     for name, info in infos.items()},
        "hardware": f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} threads (torch {torch.__version__})",
        "load_average": {"start": load_start, "end": load_average()},
        "seconds": time.perf_counter() - start,
        "inception_score_ceiling": ceiling,
        "rows": rows,
        "binary_rows": binary_rows,
        "conditional": dict(conditional, protocol={
            "n": len(requested), "per_digit": per_digit,
            "label_accuracy": "share of samples whose classifier argmax is the requested digit",
            "per_class_fid": "FID of the samples requested as d against the real test digits of class d",
            "rows": "the main table's measures of the same N samples (N/10 requested per digit) against all real test "
                    "digits"}),
    }
    out = write_json(args.out, result)
    print(table_markdown({name: {k: v for k, v in row.items() if not isinstance(v, list)} for name, row in rows.items()}))
    print(f"IS ceiling: {ceiling}")
    print(f"wrote {args.out} and {png} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
