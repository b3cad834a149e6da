"""How good can an unconditional DCGAN get on a 2-core CPU? Every recipe tried, the failures included.

Each attempt trains a generator and a discriminator on the grey MNIST training digits with `train_gan`, keeps an
exponential moving average (EMA) of the generator, and every `--trace-every` generator steps scores the averaged
generator (batch-norm statistics re-estimated) on 2,000 samples. Hyper-parameters are chosen on a held-out judge,
never on the classifier that scores the course's final table: the **selection classifier** is another network (a
small LeNet-style CNN, not the course's classifier), trained here on the first 50,000 training digits only, and
scored on the 10,000 training digits it never saw. The attempts' Inception Score and confident share are measured
with it; the course classifier scores only the final, shipped models (`bench compare`).

Writes benchmarks/results/gan_quality.json: per attempt its networks, recipe, steps, seconds, load average and the
trace [step, seconds, IS, confident share] (selection classifier).

    .venv/bin/python benchmarks/gan_quality.py --attempts baseline d64 --threads 1
    .venv/bin/python benchmarks/gan_quality.py --list
"""
import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tutorial_lib.bench import cpu_name, load_average, write_json
from tutorial_lib.data import load_mnist, mnist_loader
from tutorial_lib.gan import DCGANDiscriminator, DCGANGenerator
from tutorial_lib.metrics import confident_share, inception_score_from_probabilities
from tutorial_lib.pretrained import recalibrate_batch_norm
from tutorial_lib.runtime import seed_everything
from tutorial_lib.stabilize import EMA
from tutorial_lib.train import GANRecipe, train_gan

RESULTS = Path(__file__).resolve().parent / "results" / "gan_quality.json"
SELECTION = Path(__file__).resolve().parent.parent / "data" / "checkpoints" / "selection_classifier.pt"

_BASE = dict(generator=dict(latent_dim=64, width=32), discriminator=dict(width=32, spectral_norm=False),
             train=dict(loss="nonsaturating", lr_g=5e-4, lr_d=5e-4, betas=(0.5, 0.999)), batch_size=64, ema=0.999)
# spec["train"] and spec["batch_size"] are `GANRecipe` fields (the JSON records them as they are written here)


def _attempt(**changes):
    spec = copy.deepcopy(_BASE)
    for key, value in changes.items():
        if isinstance(value, dict):
            spec[key].update(value)
        else:
            spec[key] = value
    return spec


#: name -> (what it tries, spec). The baseline is the course's DCGAN recipe (notebook 04, Adam 5e-4).
ATTEMPTS = {
    "baseline": ("the shipped recipe: width 32 both, non-saturating, Adam 5e-4, betas (0.5, 0.999)", _attempt()),
    "d64": ("a discriminator twice as wide (width 64), generator unchanged", _attempt(discriminator=dict(width=64))),
    "g64-d64": ("both networks twice as wide", _attempt(generator=dict(width=64), discriminator=dict(width=64))),
    "lr2e-4": ("Radford et al.'s Adam 2e-4", _attempt(train=dict(lr_g=2e-4, lr_d=2e-4))),
    "ttur": ("two time-scale rates (Heusel et al. 2017): D 4e-4, G 1e-4",
             _attempt(train=dict(lr_g=1e-4, lr_d=4e-4))),
    "hinge-sn": ("hinge loss + spectral norm on D, Adam 2e-4 betas (0, 0.9) (Miyato et al. 2018), 1 D step",
                 _attempt(discriminator=dict(spectral_norm=True),
                          train=dict(loss="hinge", lr_g=2e-4, lr_d=2e-4, betas=(0.0, 0.9)))),
    "hinge-sn-ttur": ("hinge + spectral norm, D 4e-4 / G 1e-4, betas (0, 0.9)",
                      _attempt(discriminator=dict(spectral_norm=True),
                               train=dict(loss="hinge", lr_g=1e-4, lr_d=4e-4, betas=(0.0, 0.9)))),
    "batch128": ("batches of 128", _attempt(batch_size=128)),
    "cosine": ("the shipped recipe with both learning rates decayed to 0 along a cosine over the run",
               _attempt(train=dict(lr_schedule="cosine"))),
    "deep": ("a deeper generator: a 3 x 3 convolution (batch norm, ReLU) after the 7 x 7 projection and another "
             "after the first upsampling", _attempt(generator=dict(depth=2))),
}


class _DeepGenerator(DCGANGenerator):
    """Prototype: DCGANGenerator with `depth` extra 3 x 3 convolution blocks (BN, ReLU) at 7 x 7 and 14 x 14."""

    def __init__(self, latent_dim=64, width=32, depth=2):
        super().__init__(latent_dim, width)
        w = width
        blocks = [nn.Unflatten(1, (2 * w, 7, 7))]
        if depth >= 1:
            blocks += [nn.Conv2d(2 * w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU()]
        blocks += [nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        if depth >= 2:
            blocks += [nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        blocks += [nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1)]
        self.net = nn.Sequential(*blocks)


def _generator(depth=0, **config):
    return _DeepGenerator(depth=depth, **config) if depth else DCGANGenerator(**config)


class SelectionClassifier(nn.Module):
    """The held-out judge: a LeNet-style CNN (5 x 5 convolutions, max pooling, dropout), unlike the course's
    classifier. images N x 1 x 28 x 28 in [0, 1] -> logits N x 10."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),        # 20 x 12 x 12
            nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),       # 50 x 4 x 4
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(800, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)


def selection_classifier():
    """The selection classifier, trained once (first 50,000 training digits, 3 epochs, seed 1) and cached."""
    model = SelectionClassifier()
    if SELECTION.is_file():
        model.load_state_dict(torch.load(SELECTION, weights_only=True))
        return model.eval()
    seed_everything(1)
    train = load_mnist(train=True)
    images, labels = train.images[:50_000], train.labels[:50_000]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    model.train()
    for epoch in range(3):
        order = torch.randperm(len(images), generator=generator)
        for i in range(0, len(images), 128):
            idx = order[i:i + 128]
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        held_out = train.images[50_000:]
        accuracy = float((model(held_out).argmax(1) == train.labels[50_000:]).float().mean())
    print(f"selection classifier: {accuracy:.4f} accuracy on the 10,000 held-out training digits", flush=True)
    SELECTION.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), SELECTION)
    return model


@torch.no_grad()
def judge(generator, classifier, n=2_000):
    """(IS, confident share) of n samples of a batch-norm-recalibrated copy of `generator`, by `classifier`."""
    model = recalibrate_batch_norm(copy.deepcopy(generator).cpu())
    images = model.sample(n, generator=torch.Generator().manual_seed(1))
    probs = torch.softmax(classifier(images), dim=1)
    return inception_score_from_probabilities(probs), confident_share(probs, 0.9)


def run(name, steps, trace_every, seed=0):
    what, spec = ATTEMPTS[name]
    classifier = selection_classifier()
    seed_everything(seed)
    generator = _generator(**spec["generator"])
    discriminator = DCGANDiscriminator(**spec["discriminator"])
    ema = EMA(generator, spec["ema"])
    loader = mnist_loader(spec["batch_size"], dataset=load_mnist(train=True), drop_last=True)
    trace, started, load_before = [], time.perf_counter(), load_average()
    clock = {"train": 0.0, "last": time.perf_counter()}

    def each_step(step, g, d):
        ema.update(g)
        if step % trace_every == 0:
            now = time.perf_counter()
            clock["train"] += now - clock["last"]
            score, confident = judge(ema.module, classifier)
            trace.append([step, round(clock["train"], 1), round(score, 4), round(confident, 4)])
            print(f"{name} step {step}: {clock['train']:.0f} s, IS {score:.3f}, confident {confident:.3f}", flush=True)
            clock["last"] = time.perf_counter()

    recipe = GANRecipe(batch_size=spec["batch_size"], **spec["train"])
    history = train_gan(generator, discriminator, loader, recipe, steps=steps, callback=each_step, every=1)
    return {"what": what, "spec": json.loads(json.dumps(spec)), "seed": seed, "steps": history.steps,
            "seconds": round(history.wall_time, 1), "threads": torch.get_num_threads(),
            "load_average": [load_before, load_average()], "trace": trace,
            "parameters": {"generator": sum(p.numel() for p in generator.parameters()),
                           "discriminator": sum(p.numel() for p in discriminator.parameters())},
            "final": {"IS": trace[-1][2] if trace else None, "confident": trace[-1][3] if trace else None}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", nargs="*", default=[])
    parser.add_argument("--steps", type=int, default=6_000)
    parser.add_argument("--trace-every", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for name, (what, _) in ATTEMPTS.items():
            print(f"{name:16s} {what}")
        return
    torch.set_num_threads(args.threads)
    for name in args.attempts:
        result = run(name, args.steps, args.trace_every)
        result["hardware"] = f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, {args.threads} threads"
        out = Path(args.out)
        table = json.loads(out.read_text()) if out.is_file() else {"attempts": {}}
        table["attempts"][f"{name}@{args.steps}"] = result
        write_json(out, table)


if __name__ == "__main__":
    main()
