"""Plumbing every notebook shares: the device, seeds, fast mode and progress bars."""
import os
import random

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    """True when the environment variable `name` is set to 1/true/yes/on (any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


#: Fast mode (``TUTORIAL_FAST=1``, set by ``make test`` and CI): less data, fewer steps, narrower models.
FAST = env_flag("TUTORIAL_FAST")
#: Running under continuous integration (``CI=true``): progress bars stay quiet.
IN_CI = env_flag("CI")

_DEVICES = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer=None) -> torch.device:
    """The device to train on: ``cuda``, then ``mps``, else ``cpu``.

    prefer: None (pick automatically; the ``TUTORIAL_DEVICE`` variable may name one), or
    ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, or a ``torch.device``.
    """
    if prefer is None:
        prefer = os.environ.get("TUTORIAL_DEVICE") or None
    if prefer is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(prefer)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in _DEVICES:
        raise ValueError(f"Unknown device {prefer!r}: use one of {_DEVICES} (e.g. 'cuda:0'), "
                         "or None to pick the best available one.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("Device 'cuda' was asked for, but torch.cuda.is_available() is False on this machine; "
                         "use get_device() to fall back to the CPU.")
    if device.type == "mps" and not _mps_available():
        raise ValueError("Device 'mps' was asked for, but Apple's MPS backend is not available here; "
                         "use get_device() to fall back to the CPU.")
    return device


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and PyTorch (all devices) so a notebook gives the same numbers each run."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def by_mode(full, fast):
    """`fast` in fast mode (``TUTORIAL_FAST=1``), else `full`, e.g. ``epochs = by_mode(full=10, fast=1)``."""
    return fast if FAST else full


def progress(iterable=None, **kwargs):
    """A tqdm.auto progress bar (a widget in Jupyter), quiet in CI; kwargs go to tqdm."""
    from tqdm.auto import tqdm

    # tqdm's notebook bar ignores TQDM_DISABLE, so decide here and pass it on explicitly.
    kwargs.setdefault("disable", IN_CI or env_flag("TQDM_DISABLE"))
    kwargs.setdefault("mininterval", 1.0 if FAST else 0.2)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
