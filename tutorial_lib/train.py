"""Training loops for the course's models, and what they share: history, NaN guard, safe checkpoints.

Checkpoints are written atomically (a temporary file, then a rename), so an interrupted save never
leaves a broken file, and are read back with ``torch.load(..., weights_only=True)``.
"""
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message says which step and what learning rate to try."""


@dataclass
class History:
    """What a training run records: one value per step for each named loss, and the wall time.

    ``history.losses["loss"]`` is a list of floats; ``history.wall_time`` is in seconds.
    """

    losses: dict = field(default_factory=dict)
    wall_time: float = 0.0
    steps: int = 0
    epochs: int = 0

    def log(self, **values):
        """Append one value per name (floats or 0-d tensors) for the current step."""
        for name, value in values.items():
            self.losses.setdefault(name, []).append(float(value))

    def mean(self, name, last=None):
        """Mean of the last `last` values of loss `name` (all of them when None)."""
        values = self.losses[name][-last:] if last else self.losses[name]
        return sum(values) / max(len(values), 1)

    def state_dict(self):
        return {"losses": {k: list(v) for k, v in self.losses.items()}, "wall_time": self.wall_time,
                "steps": self.steps, "epochs": self.epochs}

    @classmethod
    def from_state_dict(cls, state):
        return cls(losses={k: list(v) for k, v in state["losses"].items()}, wall_time=float(state["wall_time"]),
                   steps=int(state["steps"]), epochs=int(state["epochs"]))


def check_finite(loss, *, step, lr, name="loss"):
    """Raise `TrainingDiverged` when `loss` (a tensor or float) is NaN or infinite."""
    value = float(loss)
    if value != value or value in (float("inf"), float("-inf")):
        raise TrainingDiverged(
            f"The {name} became {value} at step {step}, so training stopped (the weights are unusable from here). "
            f"Lower the learning rate, e.g. lr={lr / 10:g} instead of lr={lr:g}, and start again from a fresh model "
            f"or the last checkpoint.")


def save_checkpoint(path, **state):
    """Write `state` (state_dicts, tensors, plain Python values) to `path` atomically; returns the Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint written by `save_checkpoint` (safely: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Train the model first (the training cell writes it), "
                                "or check the path.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise RuntimeError(f"Could not read the checkpoint {path} ({error}). It may be corrupt or from another "
                           "version of the course: delete it and train again.") from None


def restore(state, **modules):
    """Load ``state[name]`` into each module/optimizer given as ``name=object``, with a clear error on mismatch."""
    for name, module in modules.items():
        if name not in state:
            raise KeyError(f"The checkpoint has no entry {name!r} (it has {sorted(state)}); delete it and train again.")
        try:
            module.load_state_dict(state[name])
        except (RuntimeError, ValueError, KeyError) as error:
            raise RuntimeError(f"The checkpoint's {name!r} does not fit this model ({error}). It was probably saved "
                               "for another architecture: delete the file or pass resume=False.") from None


class Stopwatch:
    """Accumulates wall time into a History: ``with Stopwatch(history): ...``."""

    def __init__(self, history):
        self.history = history

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.history.wall_time += time.perf_counter() - self.start
        return False


# ---- VAE training: train_vae (written with the VAE lessons) ----


# ---- GAN training: train_gan (written with the GAN lessons) ----
