"""Pretrained checkpoints shipped with the course, so a learner can skip training.

`RECIPES` says how each model is built and trained, including its budget in epochs (VAEs) or generator steps
(GANs): one shared budget, calibrated to about 8 minutes on the course's reference CPU (2 quiet cores), counted in
steps so that a busy or faster machine trains exactly the same model. `train_recipe(name)` trains it with the
library's own `train_vae`/`train_gan`, the same code notebook 06 runs when you retrain.
``scripts/train_pretrained.py`` runs every recipe and ships the results with `save_pretrained` (float16 weights
under ``tutorial_lib/assets/``, SHA-256 recorded). `load_pretrained(name)` checks the hash and loads with
``weights_only=True``. Nothing is downloaded.

To add a model: a `PRETRAINED` entry (name -> description), a `RECIPES` entry whose ``kind`` has a builder in
`BUILDERS` and a trainer in `TRAINERS` (add both for a new kind).
"""
import copy

import torch

from .metrics import ASSETS, record_sha256, verified_load

#: The shipped models: name -> what it is.
PRETRAINED = {
    "vae": "VAE (β = 1)",
    "beta_vae": "β-VAE (β = 4)",
    "dcgan": "DCGAN, non-saturating loss, EMA generator",
    "dcgan_sn": "DCGAN, spectral-normalized discriminator, EMA generator",
}
# Notebook 08's conditional and hybrid models ("cvae", "cgan", "vae_gan"): recipes, training and building live in
# tutorial_lib.conditional (trained by scripts/train_conditional.py for a number of steps).
from .conditional import CONDITIONAL, train_conditional_recipe  # noqa: E402,F401
REGENERATE = "python scripts/train_pretrained.py"

#: The shared budget, in the units each family trains by: about 8 minutes each on 2 quiet cores of the course's
#: reference CPU, an AMD EPYC (measured there on 2026-11-30: an MLP-VAE epoch about 5 s, so 95 epochs; the DCGAN
#: with its averaged copy about 18 generator steps per second, so 9,000 steps). Under load the same steps take
#: longer; the steps, not the seconds, define the models, and each model's record keeps the seconds it took.
BUDGET = {"vae": {"epochs": 95}, "gan": {"steps": 9_000}}
#: What every model trains on: MNIST's 60,000 training digits, grey levels in [0, 1], the same tensors for all four.
#: A VAE's Bernoulli reconstruction loss against a grey digit is the expected log-likelihood of that digit binarized by coin flips
#: (each pixel on with its grey level as probability), so the VAE still models binary digits and its likelihood is
#: measured on binarized test digits; a GAN learns the grey digits directly. (A DCGAN trained on dynamically
#: binarized digits instead reached an Inception Score of only 4.4 after 6,559 steps: its sigmoid output cannot
#: imitate independent coin-flip speckle.)
DATA = {"binarize": None}

_VAE = {"latent_dim": 32, "arch": "mlp", "hidden": 384, "layers": 2, "activation": "elu"}
_DCGAN = {"latent_dim": 64, "width": 32}
_GAN_TRAIN = {"loss": "nonsaturating", "lr_g": 5e-4, "lr_d": 5e-4, "betas": (0.5, 0.999)}  # train.GANRecipe fields
#: How each model is built and trained. VAEs: the settings of benchmarks/vae.py's best VAE (ELU MLP, 32 latent
#: dimensions, Adam 2e-3 decayed to 0 along a cosine), 384 units wide so the shipped file stays under 2 MB.
#: GANs: notebook 04's DCGAN with the optimizer of Radford et al. 2016 (Adam, betas (0.5, 0.999), batch 64) at notebook
#: 04's learning rate 5e-4 rather than their 2e-4: within the 9,000 steps it learns faster (the plain DCGAN at 2e-4
#: reached an Inception Score of 6.56 with 61 % confident samples, at 5e-4 6.99 and 65 %; 2,000 samples, 2 quiet
#: cores, 2026-11-30; benchmarks/results/dcgan-learning-rate.json has both runs' traces),
#: and the generator shipped is an exponential moving average of its weights (decay 0.999, Yazici et al. 2019)
#: whose batch-norm statistics are re-estimated at the end; the stabilized one adds spectral normalization to the
#: discriminator.
RECIPES = {
    "vae": {"kind": "vae", "config": _VAE, "batch_size": 128, **DATA, "budget": BUDGET["vae"],
            "train": {"beta": 1.0, "lr": 2e-3, "lr_schedule": "cosine"}},
    "beta_vae": {"kind": "vae", "config": _VAE, "batch_size": 128, **DATA, "budget": BUDGET["vae"],
                 "train": {"beta": 4.0, "lr": 2e-3, "lr_schedule": "cosine"}},
    "dcgan": {"kind": "gan", "config": _DCGAN, "batch_size": 64, **DATA, "budget": BUDGET["gan"], "ema": 0.999,
              "critic": {"width": 32, "spectral_norm": False}, "train": _GAN_TRAIN},
    "dcgan_sn": {"kind": "gan", "config": _DCGAN, "batch_size": 64, **DATA, "budget": BUDGET["gan"], "ema": 0.999,
                 "critic": {"width": 32, "spectral_norm": True}, "train": _GAN_TRAIN},
}


def _check_name(name):
    if name not in PRETRAINED and name not in CONDITIONAL:
        raise ValueError(f"Unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED) + sorted(CONDITIONAL)}.")


def pretrained_path(name):
    """Where the checkpoint of pretrained model `name` ships: ``tutorial_lib/assets/<name>.pt``."""
    _check_name(name)
    return ASSETS / f"{name}.pt"


def _build_vae(config):
    from .vae import VAE

    return VAE(**config)


def _build_generator(config):
    from .gan import DCGANGenerator

    return DCGANGenerator(**config)


#: kind -> function(config) returning a fresh model (for a GAN: its generator).
BUILDERS = {"vae": _build_vae, "gan": _build_generator}


def build(kind, config):
    """A fresh model of `kind` (a key of `BUILDERS`: "vae", or "gan" for the generator; or one of notebook 08's
    "cvae", "cgan" (the generator), "vae_gan") from its constructor arguments `config`."""
    if kind in CONDITIONAL:
        from .conditional import build_model

        return build_model(kind, config)
    if kind not in BUILDERS:
        raise ValueError(f"Unknown model kind {kind!r}: expected one of {sorted(BUILDERS) + sorted(CONDITIONAL)}.")
    return BUILDERS[kind](config)


@torch.no_grad()
def recalibrate_batch_norm(generator, batches=50, batch_size=256, seed=0):
    """Re-estimate the batch-norm statistics of `generator` (in place) from `batches` noise batches in train mode.

    An averaged (EMA) generator's weights never ran forward during training, so the running statistics copied
    from the live generator do not match them; this recomputes them as a plain average. Returns the generator
    in eval mode."""
    noise = torch.Generator().manual_seed(seed)
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    generator.train()
    device = next(generator.parameters()).device
    for _ in range(batches):
        generator(torch.randn(batch_size, generator.latent_dim, generator=noise).to(device))
    for norm in norms:
        norm.momentum = 0.1
    return generator.eval()


def _train_vae(recipe, loader, device, max_seconds, checkpoint, callback):
    from .train import train_vae

    model = build("vae", recipe["config"])
    history = train_vae(model, loader, epochs=recipe["budget"]["epochs"], device=device, max_seconds=max_seconds,
                        checkpoint=checkpoint, **recipe["train"])
    return model, history, {}


def _train_gan(recipe, loader, device, max_seconds, checkpoint, callback):
    from .gan import DCGANDiscriminator
    from .stabilize import EMA
    from .train import GANRecipe, train_gan

    generator = build("gan", recipe["config"])
    ema = EMA(generator, recipe["ema"])

    def each_step(step, g, d):
        ema.update(g)
        if callback is not None:
            callback(step, g, ema.module)

    history = train_gan(generator, DCGANDiscriminator(**recipe["critic"]), loader,
                        GANRecipe(batch_size=recipe["batch_size"], **recipe["train"]), steps=recipe["budget"]["steps"],
                        device=device, max_seconds=max_seconds, checkpoint=checkpoint, callback=each_step, every=1)
    return recalibrate_batch_norm(ema.module.cpu()), history, {"ema": recipe["ema"]}


#: kind -> function(recipe, loader, device, max_seconds, checkpoint, callback) -> (model, History, extra info).
TRAINERS = {"vae": _train_vae, "gan": _train_gan}


def train_recipe(name, budget_s=None, device=None, limit=None, seed=0, checkpoint=None, callback=None, scale=1.0):
    """Train model `name` by its recipe; returns ``(model, info)`` like `load_pretrained` (eval mode, CPU).

    The recipe's budget (epochs or steps) defines the run; scale: train that fraction of it (e.g. 0.01 for a
    smoke test); budget_s: also stop after this many seconds of wall time (the model then differs from the
    shipped one). limit: use only the first `limit` training images. callback (GANs): called after every
    generator step as ``callback(step, generator, averaged_generator)``.
    """
    from .data import load_mnist, mnist_loader
    from .runtime import seed_everything

    _check_name(name)
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be > 0 seconds or None, got {budget_s!r}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")
    recipe = copy.deepcopy(RECIPES[name])
    recipe["budget"] = {unit: max(1, round(count * scale)) for unit, count in recipe["budget"].items()}
    seed_everything(seed)
    dataset = load_mnist(train=True, binarize=recipe["binarize"], limit=limit)
    loader = mnist_loader(recipe["batch_size"], dataset=dataset, drop_last=recipe["kind"] == "gan")
    model, history, extra = TRAINERS[recipe["kind"]](recipe, loader, device, budget_s, checkpoint, callback)
    info = {"kind": recipe["kind"], "config": dict(recipe["config"]), "wall_time": history.wall_time,
            "steps": history.steps, "epochs": history.epochs, "budget": dict(recipe["budget"]),
            "budget_s": None if budget_s is None else float(budget_s), "seed": seed,
            "recipe": _plain(RECIPES[name]), **extra,
            "history": {k: list(v) for k, v in history.losses.items()}}
    return model.cpu().eval(), info


def _plain(value):
    """A recipe as plain lists/dicts/numbers (tuples become lists), storable with weights_only=True."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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


# ---- the learner's own trained models, kept for later notebooks (02 and 04 save, 06 scores them) ----

#: name -> what the learner trained, and the library class it is stored as.
YOURS = {"conv_vae": "your conv VAE of notebook 02", "dcgan": "your DCGAN generator of notebook 04"}


def yours_path(name):
    """Where a learner's trained model `name` (a key of `YOURS`) is kept: ``data/checkpoints/yours-<name>-<mode>.pt``
    (fast and full mode keep separate files)."""
    from .train import checkpoint_path

    if name not in YOURS:
        raise ValueError(f"Unknown model {name!r}: use one of {sorted(YOURS)}.")
    return checkpoint_path(f"yours-{name}")


def save_yours(name, model, info=None):
    """Keep the learner's trained `model` for later notebooks. `model` must be a library model (a `vae.VAE` for
    "conv_vae", a `gan.DCGANGenerator` for "dcgan"): copy a learner's own module into one first, which also proves
    the two have the same layers (`vae.copy_vae_weights`). info: plain values to keep with it (steps, seconds).
    Returns the path."""
    from .gan import DCGANGenerator
    from .train import save_checkpoint
    from .vae import VAE

    kind = {"conv_vae": (VAE, "vae"), "dcgan": (DCGANGenerator, "gan")}[name] if name in YOURS else None
    path = yours_path(name)
    if not isinstance(model, kind[0]):
        raise TypeError(f"save_yours({name!r}, ...) needs a {kind[0].__name__} (copy your module's weights into "
                        f"one first), got {type(model).__name__}")
    return save_checkpoint(path, kind=kind[1], config=dict(model.config), model=model.state_dict(),
                           info=dict(info or {}))


def load_yours(name):
    """The learner's model `name` saved by `save_yours` in this mode, as ``(model in eval mode, info)``, or None when
    the learner has not trained it yet (the notebook then goes on without it)."""
    from .train import load_checkpoint

    path = yours_path(name)
    if not path.is_file():
        return None
    state = load_checkpoint(path)
    model = build(state["kind"], dict(state["config"]))
    model.load_state_dict(state["model"])
    return model.eval(), dict(state.get("info", {}))
