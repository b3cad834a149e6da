"""Pretrained checkpoints shipped with the course, so a learner can skip training.

`RECIPES` says how each model is built and trained; `train_recipe(name, budget_s)` trains it with the library's
own `train_vae`/`train_gan` under a wall-clock budget, the same code notebook 06 runs when you retrain.
``scripts/train_pretrained.py`` runs every recipe under one budget and ships the results with `save_pretrained`
(float16 weights under ``tutorial_lib/assets/``, SHA-256 recorded). `load_pretrained(name)` checks the hash and
loads with ``weights_only=True``. Nothing is downloaded.
"""
import torch

from .metrics import ASSETS, record_sha256, verified_load

#: The shipped models: name -> what it is.
PRETRAINED = {
    "vae": "VAE (β = 1)",
    "beta_vae": "β-VAE (β = 4)",
    "dcgan": "DCGAN, non-saturating loss",
    "dcgan_sn": "DCGAN, spectral-normalized discriminator (stabilized)",
}
# Notebook 08's conditional and hybrid models ("cvae", "cgan", "vae_gan"): recipes, training and building live in
# tutorial_lib.conditional (trained by scripts/train_conditional.py for a number of steps).
from .conditional import CONDITIONAL, train_conditional_recipe  # noqa: E402,F401
REGENERATE = "python scripts/train_pretrained.py"

_VAE = {"latent_dim": 32, "arch": "mlp", "hidden": 384, "layers": 2, "activation": "elu"}
_DCGAN = {"latent_dim": 64, "width": 32}
_GAN_TRAIN = {"loss": "nonsaturating", "lr_g": 5e-4, "lr_d": 5e-4}
#: How each model is built and trained. VAEs: the settings of benchmarks/vae.py's best VAE (ELU MLP, 32 latent
#: dimensions, Adam 2e-3 decayed to 0 over the budget), 384 units wide so the shipped file stays under 2 MB, on
#: dynamically binarized MNIST (the likelihood protocol). GANs: notebook 04's DCGAN (Adam 5e-4 on both sides, betas (0.5, 0.999),
#: batch 64) on grey digits; the stabilized one differs only by spectral normalization in the discriminator.
RECIPES = {
    "vae": {"kind": "vae", "config": _VAE, "batch_size": 128, "binarize": "dynamic",
            "train": {"beta": 1.0, "lr": 2e-3, "lr_schedule": "cosine"}},
    "beta_vae": {"kind": "vae", "config": _VAE, "batch_size": 128, "binarize": "dynamic",
                 "train": {"beta": 4.0, "lr": 2e-3, "lr_schedule": "cosine"}},
    "dcgan": {"kind": "gan", "config": _DCGAN, "batch_size": 64, "binarize": None,
              "critic": {"width": 32, "spectral_norm": False}, "train": _GAN_TRAIN},
    "dcgan_sn": {"kind": "gan", "config": _DCGAN, "batch_size": 64, "binarize": None,
                 "critic": {"width": 32, "spectral_norm": True}, "train": _GAN_TRAIN},
}


def _check_name(name):
    if name not in PRETRAINED and name not in CONDITIONAL:
        raise ValueError(f"Unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED) + sorted(CONDITIONAL)}.")


def pretrained_path(name):
    """Where the checkpoint of pretrained model `name` ships: ``tutorial_lib/assets/<name>.pt``."""
    _check_name(name)
    return ASSETS / f"{name}.pt"


def build(kind, config):
    """A fresh model of `kind` ("vae" or "gan": the generator) built from its constructor arguments `config`."""
    if kind in CONDITIONAL:  # notebook 08's "cvae", "cgan" (the generator) and "vae_gan"
        from .conditional import build_model

        return build_model(kind, config)
    if kind == "vae":
        from .vae import VAE

        return VAE(**config)
    if kind == "gan":
        from .gan import DCGANGenerator

        return DCGANGenerator(**config)
    raise ValueError(f"Unknown model kind {kind!r}: expected 'vae' or 'gan'.")


def train_recipe(name, budget_s, device=None, limit=None, seed=0, checkpoint=None):
    """Train model `name` by its recipe for `budget_s` seconds of wall time; returns ``(model, info)`` like
    `load_pretrained` (model in eval mode on the CPU). limit: use only the first `limit` training images."""
    from .data import load_mnist, mnist_loader
    from .runtime import seed_everything
    from .train import train_gan, train_vae

    _check_name(name)
    if not budget_s > 0:
        raise ValueError(f"budget_s must be > 0 seconds, got {budget_s!r}")
    recipe = RECIPES[name]
    seed_everything(seed)
    dataset = load_mnist(train=True, binarize=recipe["binarize"], limit=limit)
    loader = mnist_loader(recipe["batch_size"], dataset=dataset, drop_last=recipe["kind"] == "gan")
    model = build(recipe["kind"], recipe["config"])
    if recipe["kind"] == "vae":
        history = train_vae(model, loader, epochs=10_000, device=device, max_seconds=budget_s,
                            checkpoint=checkpoint, **recipe["train"])
    else:
        from .gan import DCGANDiscriminator

        history = train_gan(model, DCGANDiscriminator(**recipe["critic"]), loader, steps=10_000_000,
                            device=device, max_seconds=budget_s, checkpoint=checkpoint, **recipe["train"])
    info = {"kind": recipe["kind"], "config": dict(recipe["config"]), "wall_time": history.wall_time,
            "steps": history.steps, "epochs": history.epochs, "budget_s": float(budget_s), "seed": seed,
            "history": {k: list(v) for k, v in history.losses.items()}}
    return model.cpu().eval(), info


def to_storage(module, dtype=torch.float16):
    """A module's state_dict with floating tensors cast to `dtype` (half the size of float32) for shipping."""
    return {k: v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu().clone()
            for k, v in module.state_dict().items()}


def _thin(values, keep=500):
    """At most `keep` evenly spaced values of a per-step loss curve (the shipped file stays small)."""
    step = max(1, len(values) // keep)
    return [float(v) for v in values[::step]]


def save_pretrained(name, model, info, path=None):
    """Ship `model` (float16 weights) and its training record as ``assets/<name>.pt`` and record its SHA-256."""
    from .train import save_checkpoint

    target = pretrained_path(name) if path is None else path
    record = dict(info, history={k: _thin(v) for k, v in info["history"].items()})
    save_checkpoint(target, model=to_storage(model), **record)
    return record_sha256(target) if path is None else None


def load_pretrained(name):
    """The pretrained model `name` (see `PRETRAINED`) in eval mode on the CPU, and its training record.

    Returns ``(model, info)``: for a VAE the `VAE`, for a GAN its generator; `info` holds ``kind``, ``config``,
    ``wall_time`` (s), ``steps``, ``epochs``, ``budget_s`` and ``history`` (losses per step, thinned).
    """
    state = verified_load(pretrained_path(name), f"{name}.pt", regenerate=REGENERATE)
    model = build(state["kind"], dict(state["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    info = {k: v for k, v in state.items() if k != "model"}
    return model.eval(), info


@torch.no_grad()
def generate(model, n, seed=0, batch_size=1000, labels=None):
    """`n` images N x 1 x 28 x 28 in [0, 1] on the CPU from a VAE or a generator, reproducible under `seed`.
    labels: for the conditional models ("cvae", "cgan"), the requested digits, a tensor of n ints in 0..9."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if getattr(model, "conditional", False) or labels is not None:
        from .conditional import generate_labelled, need_labels

        return generate_labelled(model, need_labels(model, labels, n), seed=seed, batch_size=batch_size)
    device = next(model.parameters()).device
    noise = torch.Generator(device=device).manual_seed(seed)
    return torch.cat([model.sample(min(batch_size, n - i), generator=noise).float().cpu()
                      for i in range(0, n, batch_size)])
