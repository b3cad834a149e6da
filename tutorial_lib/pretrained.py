"""Pretrained checkpoints shipped with the course, so a learner can skip training.

``load_pretrained(name)`` builds the model, checks the file's SHA-256 against ``assets/SHA256SUMS`` and loads
the weights with ``weights_only=True``. The files are written by ``scripts/train_pretrained.py``, which trains
each model with the library's own ``train_vae``/``train_gan`` under one wall-clock budget. Nothing is downloaded.
"""
import torch

from .metrics import ASSETS, verified_load

#: The shipped models: name -> (what it is, the file under tutorial_lib/assets/).
PRETRAINED = {
    "vae": "VAE (β = 1)",
    "beta_vae": "β-VAE (β = 4)",
    "dcgan": "DCGAN, non-saturating loss",
    "dcgan_sn": "DCGAN, spectral-normalized discriminator (stabilized)",
}
REGENERATE = "python scripts/train_pretrained.py"


def pretrained_path(name):
    """Where the checkpoint of pretrained model `name` ships: ``tutorial_lib/assets/<name>.pt``."""
    if name not in PRETRAINED:
        raise ValueError(f"Unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED)}.")
    return ASSETS / f"{name}.pt"


def build(kind, config):
    """A fresh model of `kind` ("vae" or "gan": the generator) built from its constructor arguments `config`."""
    if kind == "vae":
        from .vae import VAE

        return VAE(**config)
    if kind == "gan":
        from .gan import DCGANGenerator

        return DCGANGenerator(**config)
    raise ValueError(f"Unknown model kind {kind!r}: expected 'vae' or 'gan'.")


def load_pretrained(name):
    """The pretrained model `name` (see `PRETRAINED`) in eval mode on the CPU, and its training record.

    Returns ``(model, info)``: for a VAE the `VAE`, for a GAN its generator; `info` holds ``kind``, ``config``,
    ``wall_time`` (s), ``steps``, ``epochs``, ``budget_s`` and ``history`` (losses per step).
    """
    state = verified_load(pretrained_path(name), f"{name}.pt", regenerate=REGENERATE)
    model = build(state["kind"], dict(state["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()})
    info = {k: v for k, v in state.items() if k != "model"}
    return model.eval(), info


def to_storage(module, dtype=torch.float16):
    """A module's state_dict with floating tensors cast to `dtype` (half the size of float32) for shipping."""
    return {k: v.detach().to(dtype) if v.is_floating_point() else v.detach().clone()
            for k, v in module.state_dict().items()}
