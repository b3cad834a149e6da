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
from pathlib import Path

import torch

from .metrics import ASSETS, forget_sha256, record_sha256, verified_load

#: The shipped models: name -> what it is. "vae" and "dcgan" are ONE NETWORK TRAINED TWO WAYS (notebook 06): the
#: VAE's decoder is the DCGAN generator (same class, width, depth and latent size) and its encoder is the DCGAN
#: discriminator's body with a mu and a log-variance head; same digits, optimizer, batch, seconds of training and
#: weight averaging. Only the objective differs. "mlp_vae" and "beta_vae" are extra rows with fully connected
#: networks (the beta-VAE shows which coverage measures blur biases).
PRETRAINED = {
    "vae": "VAE on the DCGAN's networks (β = 1), EMA weights",
    "dcgan": "DCGAN, non-saturating loss, EMA generator",
    "mlp_vae": "VAE with fully connected networks (β = 1)",
    "beta_vae": "β-VAE with fully connected networks (β = 4)",
}
# Notebook 08's conditional and hybrid models ("cvae", "cgan", "vae_gan"): recipes, training and building live in
# tutorial_lib.conditional (trained by scripts/train_conditional.py for a number of steps).
from .conditional import CONDITIONAL, train_conditional_recipe  # noqa: E402,F401
REGENERATE = "python scripts/train_pretrained.py"

#: What every model trains on: MNIST's 60,000 training digits, grey levels in [0, 1], the same tensors for all.
#: A VAE's Bernoulli reconstruction loss against a grey digit is the expected log-likelihood of that digit binarized
#: by coin flips (each pixel on with its grey level as probability), so the VAE models binary digits and its
#: likelihood is measured on binarized test digits; the GAN learns the grey digits directly.
DATA = {"binarize": None}

#: The shared network of "vae" and "dcgan" (chosen by benchmarks/gan_quality.py on a held-out judge, see there).
from .gan import SHARED_NETWORK as NETWORK  # noqa: E402
#: The shared optimizer and averaging: Adam 5e-4, betas (0.5, 0.999) (notebook 04's rate; Radford et al. 2016 used
#: 2e-4), batches of 64, constant rate, an exponential moving average of the weights (decay 0.999, Yazici et al.
#: 2019) whose batch-norm statistics are re-estimated from prior noise at the end. The raw weights ship too
#: (``<name>_live.pt``).
OPTIMIZER = {"lr": 5e-4, "betas": (0.5, 0.999)}
BATCH_SIZE, EMA_DECAY = 64, 0.999
#: The budgets, counted in steps (so a busy or faster machine trains exactly the same models; each record keeps the
#: seconds it took), calibrated to the same seconds of training on 2 quiet cores of the course's reference CPU: a
#: VAE step (one encoder and one decoder pass) is cheaper than a GAN step (the discriminator on two batches, the
#: generator twice), so the VAE gets more steps in the same time. Measured on 2 quiet Intel Xeon cores (load < 2):
#: 0.055 s per VAE step, 0.098 s per GAN step; 10,000 GAN steps = about 980 s = 19 epochs of 938 VAE steps.
BUDGET = {"vae": {"epochs": 19}, "gan": {"steps": 10_000}, "mlp_vae": {"epochs": 95}}

_MLP_VAE = {"latent_dim": 32, "arch": "mlp", "hidden": 384, "layers": 2, "activation": "elu"}
#: How each model is built and trained. The MLP VAEs: the settings of benchmarks/vae.py's best VAE (ELU MLP, 32
#: latent dimensions, Adam 2e-3 decayed to 0 along a cosine, batch 128), 384 units wide; about 8 minutes each.
RECIPES = {
    "vae": {"kind": "vae", "config": {"latent_dim": NETWORK["latent_dim"], "arch": "conv", "channels": NETWORK["width"],
                                      "depth": NETWORK["depth"]},
            "batch_size": BATCH_SIZE, **DATA, "budget": BUDGET["vae"], "ema": EMA_DECAY,
            "train": {"beta": 1.0, **OPTIMIZER}},
    "dcgan": {"kind": "gan", "config": NETWORK, "batch_size": BATCH_SIZE, **DATA, "budget": BUDGET["gan"],
              "ema": EMA_DECAY, "critic": {"width": NETWORK["width"], "spectral_norm": False},
              "train": {"loss": "nonsaturating", "lr_g": OPTIMIZER["lr"], "lr_d": OPTIMIZER["lr"],
                        "betas": OPTIMIZER["betas"]}},
    "mlp_vae": {"kind": "vae", "config": _MLP_VAE, "batch_size": 128, **DATA, "budget": BUDGET["mlp_vae"],
                "train": {"beta": 1.0, "lr": 2e-3, "lr_schedule": "cosine"}},
    "beta_vae": {"kind": "vae", "config": _MLP_VAE, "batch_size": 128, **DATA, "budget": BUDGET["mlp_vae"],
                 "train": {"beta": 4.0, "lr": 2e-3, "lr_schedule": "cosine"}},
}


def _check_name(name):
    if name not in PRETRAINED and name not in CONDITIONAL:
        raise ValueError(f"Unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED) + sorted(CONDITIONAL)}.")


def _regenerate(name):
    """The command that retrains model `name` and ships it (named in the errors of a missing or damaged file)."""
    return f"python scripts/train_conditional.py --only {name}" if name in CONDITIONAL else f"{REGENERATE} --only {name}"


def pretrained_path(name):
    """Where the checkpoint of pretrained model `name` ships: ``tutorial_lib/assets/<name>.pt``."""
    _check_name(name)
    return ASSETS / f"{name}.pt"


def live_path(path):
    """Where the live weights that go with checkpoint `path` ship (models trained with weight averaging only):
    ``<name>_live.pt`` beside ``<name>.pt``, a file of its own so that no shipped file exceeds 2 MiB."""
    path = Path(path)
    return path.with_name(f"{path.stem}_live{path.suffix}")


#: What ties a live-weights file to its checkpoint: both record the same training run.
_RUN_KEYS = ("steps", "seed", "wall_time")


def _is_live(state):
    """Whether loaded checkpoint contents `state` are a live-weights file as `save_pretrained` writes one: the
    weights and the run keys, nothing else (a full checkpoint, with its ``ema`` and record, is not one)."""
    return isinstance(state, dict) and set(state) == {"model", *_RUN_KEYS}


def _drop_stale_live(path, recorded):
    """Delete `path` if it is a live-weights file (left by an earlier averaged run; any other file stays), and
    when `recorded` (the shipped assets) the SHA-256 line of a live file no longer there."""
    if path.is_file():
        try:
            stale = _is_live(torch.load(path, map_location="cpu", weights_only=True))
        except Exception:  # not a checkpoint at all: not ours to delete
            stale = False
        if stale:
            path.unlink()
    if recorded and not path.is_file():
        forget_sha256(path.name)


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
    from .gan import _check_positive_int

    _check_positive_int("batches", batches), _check_positive_int("batch_size", batch_size)
    if batch_size < 2:
        raise ValueError("batch_size must be at least 2: batch norm estimates a variance from each batch")
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


def _averaging(model, recipe, callback):
    """(EMA or None, on_step(step, model)) for a recipe with an "ema" decay; on_step also calls `callback`."""
    from .stabilize import EMA

    ema = EMA(model, recipe["ema"]) if recipe.get("ema") else None

    def on_step(step, live):
        if ema is not None:
            ema.update(live)
        if callback is not None:
            callback(step, live, ema.module if ema is not None else live)

    return ema, on_step


def _recalibrated(model):
    """`model` in eval mode on the CPU with its generator's (a VAE: its decoder's) batch-norm statistics re-estimated
    from prior noise, as every shipped model is."""
    model = model.cpu()
    generator = model.decoder if hasattr(model, "decoder") and hasattr(model.decoder, "latent_dim") else model
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in generator.modules()):
        recalibrate_batch_norm(generator)
    return model.eval()


def _finish(live, ema, recipe):
    """(shipped model, extra info): the EMA copy when the recipe averages (the live weights go in info["raw_state"]),
    else the live model; both recalibrated."""
    if ema is None:
        return _recalibrated(live), {}
    raw = _recalibrated(copy.deepcopy(live))
    return _recalibrated(ema.module), {"ema": recipe["ema"], "raw_state": to_storage(raw)}


def _train_vae(recipe, loader, device, max_seconds, checkpoint, callback):
    from .train import train_vae

    model = build("vae", recipe["config"])
    ema, on_step = _averaging(model, recipe, callback)
    history = train_vae(model, loader, epochs=recipe["budget"]["epochs"], device=device, max_seconds=max_seconds,
                        checkpoint=checkpoint, on_step=on_step, **recipe["train"])
    return (*_finish(model, ema, recipe), history)


def _train_gan(recipe, loader, device, max_seconds, checkpoint, callback):
    from .gan import DCGANDiscriminator
    from .train import GANRecipe, train_gan

    generator = build("gan", recipe["config"])
    ema, on_step = _averaging(generator, recipe, callback)
    history = train_gan(generator, DCGANDiscriminator(**recipe["critic"]), loader,
                        GANRecipe(batch_size=recipe["batch_size"], **recipe["train"]), steps=recipe["budget"]["steps"],
                        device=device, max_seconds=max_seconds, checkpoint=checkpoint,
                        callback=lambda step, g, d: on_step(step, g), every=1)
    return (*_finish(generator, ema, recipe), history)


#: kind -> function(recipe, loader, device, max_seconds, checkpoint, callback) -> (model, extra info, History).
TRAINERS = {"vae": _train_vae, "gan": _train_gan}


def train_recipe(name, budget_s=None, device=None, limit=None, seed=0, checkpoint=None, callback=None, scale=1.0):
    """Train model `name` by its recipe; returns ``(model, info)`` like `load_pretrained` (eval mode, CPU).

    The recipe's budget (epochs or steps) defines the run; scale: train that fraction of it (e.g. 0.01 for a
    smoke test); budget_s: also stop after this many seconds of wall time (the model then differs from the
    shipped one). limit: use only the first `limit` training images. callback: called after every training step
    as ``callback(step, live_model, averaged_model)`` (a GAN: its generators; without averaging both are the live
    model); its time is not counted. A recipe with an "ema" decay ships the averaged weights and keeps the live
    ones in ``info["raw_state"]`` (shipped as ``<name>_live.pt``; ``load_pretrained(name, raw=True)`` loads them).
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
    model, extra, history = TRAINERS[recipe["kind"]](recipe, loader, device, budget_s, checkpoint, callback)
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
    """Ship `model` (float16 weights) and its training record as ``assets/<name>.pt`` and record its SHA-256; the live
    weights of a model trained with weight averaging (``info["raw_state"]``, needed when ``info["ema"]`` is set) go
    to ``assets/<name>_live.pt``, and a live file of an earlier averaged run is deleted. path: write there instead
    (the live file beside it) and record no SHA-256; returns the digest only when path is None."""
    from .checkpoints import checkpoint_file
    from .train import save_checkpoint

    target = pretrained_path(name) if path is None else checkpoint_file(path)
    if bool(info.get("ema")) != ("raw_state" in info):  # checked before anything is written
        has, lacks = ("ema", "raw_state") if info.get("ema") else ("raw_state", "ema")
        raise ValueError(f"info has {has!r} but no {lacks!r}: a model trained with weight averaging ships its decay "
                         "(info['ema']) and its live weights (info['raw_state'], e.g. "
                         "to_storage(load_pretrained(name, raw=True)[0])), a model without averaging neither. Save "
                         "the (model, info) that train_recipe returned.")
    record = dict(info, history={k: _thin(v) for k, v in info["history"].items()})
    live = record.pop("raw_state", None)
    save_checkpoint(target, model=to_storage(model), **record)
    if live is not None:  # the live weights of an averaged model: in their own file, tied to this run
        save_checkpoint(live_path(target), model=live, **{key: record[key] for key in _RUN_KEYS})
        if path is None:
            record_sha256(live_path(target))
    else:  # a model without averaging has no live weights: drop those of an earlier run
        _drop_stale_live(live_path(target), recorded=path is None)
    return record_sha256(target) if path is None else None


def load_pretrained(name, raw=False):
    """The pretrained model `name` (see `PRETRAINED`) in eval mode on the CPU, and its training record.

    Returns ``(model, info)``: for a VAE the `VAE`, for a GAN its generator; `info` holds ``kind``, ``config``,
    ``wall_time`` (s), ``steps``, ``epochs``, ``budget_s``, ``history`` (losses per step, thinned) and, for the
    models trained with weight averaging, ``ema`` (the decay) and ``trace`` (sample quality during training).
    raw: the live weights at the end of training instead of their moving average (models with ``ema`` only).
    """
    path, regenerate = pretrained_path(name), _regenerate(name)
    state = verified_load(path, path.name, regenerate=regenerate)
    weights = state["model"]
    if raw:
        if not state.get("ema"):
            raise ValueError(f"{name!r} was trained without weight averaging, so it has no separate raw weights: "
                             "load it with raw=False.")
        live = verified_load(live_path(path), live_path(path).name, regenerate=regenerate)
        runs = [{key: s.get(key) for key in _RUN_KEYS} for s in (live, state)]
        problem = None
        if not _is_live(live):
            problem = f"is not a live-weights file (it holds {', '.join(sorted(live))})"
        elif runs[0] != runs[1]:
            problem = f"holds the live weights of another training run (live {runs[0]}, averaged {runs[1]})"
        elif {k: v.shape for k, v in live["model"].items()} != {k: v.shape for k, v in weights.items()}:
            problem = "holds the weights of another network (other tensor names or shapes)"
        if problem:
            raise RuntimeError(f"{live_path(path).name} does not go with {path.name}: it {problem}. Git checkout "
                               f"both, or regenerate both with `{regenerate}`.")
        weights = live["model"]
    model = build(state["kind"], dict(state["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    info = {k: v for k, v in state.items() if k != "model"}
    return model.eval(), info


@torch.no_grad()
def generate(model, n, seed=0, batch_size=1000, labels=None):
    """`n` images N x 1 x 28 x 28 in [0, 1] on the CPU from a VAE or a generator, reproducible under `seed`.
    labels: for the conditional models ("cvae", "cgan"), the requested digits, a tensor of n ints in 0..9."""
    from .gan import _check_positive_int

    _check_positive_int("n", n), _check_positive_int("batch_size", batch_size)
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
