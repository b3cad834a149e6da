"""Checkpoints a learner can trust: atomic and verified saves, a lock per path, and the identity of a run.

- `save_checkpoint` writes plain Python and tensors only, to a temporary file that is read back with
  ``weights_only=True`` before it replaces the old one (an interrupted or unreadable save never harms it), with
  the file mode the umask gives (readable by others on a shared hub when the umask says so).
- `CheckpointLock` holds a lock on a checkpoint path while a run trains: a second trainer gets an error naming
  the path and the process that holds it; a lock left by a process that died is taken over.
- `run_settings` records what defines a run (model configs, loss, learning rates, batch size, data...), and
  `check_same_run` refuses to resume a checkpoint with different settings, listing the differences.
"""
import hashlib
import inspect
import os
import socket
import tempfile
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class CheckpointLocked(RuntimeError):
    """Another training run (process) is writing to this checkpoint path."""


class RunMismatch(ValueError):
    """A checkpoint was made with other settings than the ones this call asks for."""


# ---- plain values only ----

_SCALARS = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device)


def to_plain(value, where="state"):
    """`value` with numpy scalars/arrays, Paths and subclasses of int/float/str turned into plain Python (arrays into
    tensors), so that ``torch.load(..., weights_only=True)`` can read it back; a TypeError naming `where` for
    anything else."""
    if isinstance(value, torch.Tensor):
        return value.detach() if isinstance(value, torch.nn.Parameter) else value
    if type(value) in _SCALARS or isinstance(value, torch.Size):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    for kind in (bool, int, float, str):  # subclasses (IntEnum, ...)
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        plain = OrderedDict() if isinstance(value, OrderedDict) else {}
        for key, item in value.items():
            plain[to_plain(key, f"a key of {where}")] = to_plain(item, f"{where}[{key!r}]")
        if hasattr(value, "_metadata"):  # a state_dict's version information
            plain._metadata = value._metadata
        return plain
    if isinstance(value, (list, tuple)):
        items = [to_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which a checkpoint read with "
                    "weights_only=True cannot hold: store plain Python (int, float, str, list, dict) or tensors "
                    "instead (e.g. float(value), model.state_dict()).")


# ---- files: permissions, atomic verified saves, safe loads ----

def _umask():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode():
    """The mode a new file gets from the umask (0o644 under the usual umask 022)."""
    return 0o666 & ~_umask()


def make_folder(folder):
    """Create `folder` (and its parents) for checkpoints; a PermissionError that says what to do."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise PermissionError(f"Cannot create the folder {folder} for the checkpoint (permission denied). Choose "
                              "a checkpoint path in a folder you own, e.g. under your home or the course's "
                              "data/.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write in {folder} (permission denied), so no checkpoint can be saved there. "
                              "Choose a checkpoint path in a folder you own.")
    return folder


def save_checkpoint(path, **state):
    """Write `state` (state_dicts, tensors, plain Python values; numpy scalars become Python numbers) to `path`
    atomically: to a temporary file, read back with ``weights_only=True``, then renamed over the old file, which is
    kept intact if anything fails or interrupts the save. The file gets the umask's mode. Returns the Path."""
    path = Path(path)
    state = to_plain(state, "the checkpoint's state")
    make_folder(path.parent)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, default_mode())
        try:
            torch.load(tmp, map_location="cpu", weights_only=True)
        except Exception as error:
            raise RuntimeError(f"The new checkpoint for {path} could not be read back ({error}); the old file, if "
                               "any, is unchanged.") from None
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
    except PermissionError:
        raise PermissionError(f"You may not read the checkpoint {path} (permission denied; owner uid "
                              f"{path.stat().st_uid}, mode {oct(path.stat().st_mode & 0o777)}). The file is "
                              "probably fine: ask its owner to make it readable, or train into a checkpoint path of "
                              "your own.") from None
    except Exception as error:
        raise RuntimeError(f"Could not read the checkpoint {path} ({error}). It may be corrupt or from another "
                           "version of the course: delete it and train again.") from None


# ---- one trainer per checkpoint path ----

class CheckpointLock:
    """A lock on checkpoint `path` (the file ``.<name>.lock`` beside it) for as long as a run trains.

    Raises `CheckpointLocked`, naming the path and the process holding it, when another trainer (another process,
    or another thread of this one) has it. The operating system drops the lock of a process that dies, so a lock
    file left behind by a crash or a killed kernel is taken over. Use as ``with CheckpointLock(path): ...`` or call
    `release()`; None as path locks nothing."""

    def __init__(self, path):
        self.path, self.fd, self.file = path, None, None
        if path is None:
            return
        path = Path(path)
        self.file = path.with_name(f".{path.name}.lock")
        make_folder(path.parent)
        for _ in range(10):
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, default_mode())
            try:
                _lock(fd)
            except OSError:
                holder = _read(fd)
                os.close(fd)
                mine = holder.startswith(f"pid {os.getpid()} ")
                raise CheckpointLocked(
                    f"The checkpoint {path} is being trained by another run: {holder or 'a process'}"
                    + (" (this very process: a training still running in another thread)" if mine else "")
                    + ". Wait for it to finish or stop it, or train into another checkpoint name.") from None
            try:
                same = os.stat(self.file).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file between our open and our lock: take the new one
        else:
            raise CheckpointLocked(f"Could not lock {self.file} for the checkpoint {path}: it keeps changing.")
        left = _read(fd)
        if left:
            print(f"Taking over the lock on {path} left by a run that no longer runs ({left}).")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}".encode())
        self.fd = fd

    def release(self):
        if self.fd is not None:
            try:
                os.remove(self.file)
            except OSError:
                pass
            os.close(self.fd)  # closing drops the lock
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def __del__(self):
        self.release()


def _lock(fd):
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # Windows: lock a byte far beyond the text
        import msvcrt

        os.lseek(fd, 1 << 20, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _read(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 300).decode(errors="replace").strip("\0 \n")
    except OSError:
        return ""


# ---- what defines a run ----

#: Arguments of a training function that do not define the run: its budget and its plumbing.
NOT_THE_RUN = {"epochs", "steps", "max_seconds", "device", "checkpoint", "resume", "callback", "every", "on_step"}


def _fingerprint(tensor, max_items=1024):
    """SHA-1 of up to `max_items` evenly strided items of `tensor` (and its shape): which data, cheaply."""
    tensor = tensor.detach()
    stride = max(1, len(tensor) // max_items) if tensor.dim() else 1
    sample = tensor[::stride] if tensor.dim() else tensor
    digest = hashlib.sha1(str(tuple(tensor.shape)).encode())
    digest.update(sample.cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def describe_data(data):
    """What identifies training data: its size, batch size and a fingerprint of its values (a tensor, a loader
    over a dataset of ``images``, or a list of batches)."""
    if isinstance(data, torch.Tensor):
        return {"samples": len(data) if data.dim() else 0, "fingerprint": _fingerprint(data)}
    info = {}
    batch_size = getattr(data, "batch_size", None) or getattr(getattr(data, "sampler", None), "batch_size", None)
    if batch_size is not None:
        info["batch_size"] = int(batch_size)
    dataset = getattr(data, "dataset", None)
    images = getattr(dataset, "images", None)
    if images is None and getattr(dataset, "tensors", None):  # a TensorDataset
        images = dataset.tensors[0]
    if isinstance(images, torch.Tensor):
        info.update(samples=len(images), binarize=getattr(dataset, "binarize", None), fingerprint=_fingerprint(images))
    elif isinstance(data, (list, tuple)):
        batches = [b[0] if isinstance(b, (tuple, list)) else b for b in data]
        if all(isinstance(b, torch.Tensor) for b in batches) and batches:
            info.update(batches=len(batches), samples=sum(len(b) for b in batches),
                        fingerprint=hashlib.sha1("".join(_fingerprint(b) for b in batches).encode()).hexdigest()[:16])
    elif dataset is not None and hasattr(dataset, "__len__"):
        info.update(samples=len(dataset), dataset=type(dataset).__name__)
    return info


def _describe_module(module):
    config = getattr(module, "config", None)
    if config is not None:
        return {"class": type(module).__name__, "config": dict(config)}
    return {"class": type(module).__name__,
            "shapes": {name: list(p.shape) for name, p in module.state_dict().items()}}


def _describe(value):
    if isinstance(value, torch.nn.Module):
        return _describe_module(value)
    try:
        return to_plain(value)
    except TypeError:
        return f"{type(value).__module__}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def run_settings(function, arguments, data_names=("loader", "data")):
    """The settings that define a run of training `function`, from its `arguments` (e.g. ``locals()`` at its top):
    every parameter except the budget and plumbing (`NOT_THE_RUN`); modules by their class and config, the data by
    `describe_data`. Plain Python, comparable with `check_same_run`."""
    settings = {}
    for name in inspect.signature(function).parameters:
        if name in NOT_THE_RUN or name not in arguments:
            continue
        value = arguments[name]
        settings[name] = describe_data(value) if name in data_names else _describe(value)
    return settings


def _normal(value):
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return value


def differences(saved, current, prefix=""):
    """Lines ``name: checkpoint X, now Y`` for each setting that differs (nested dicts compared key by key)."""
    lines = []
    for key in list(saved) + [k for k in current if k not in saved]:
        old, new = saved.get(key, "(not recorded)"), current.get(key, "(not given)")
        if isinstance(old, dict) and isinstance(new, dict):
            lines += differences(old, new, f"{prefix}{key}.")
        elif _normal(old) != _normal(new):
            lines.append(f"  {prefix}{key}: the checkpoint has {old!r}, this call has {new!r}")
    return lines


def check_same_run(path, saved, current):
    """Raise `RunMismatch` listing the differences when the settings `saved` in checkpoint `path` differ from the
    `current` ones, with the two ways out; a warning when the checkpoint records none (an older version)."""
    if saved is None:
        warnings.warn(f"The checkpoint {path} records no run settings (it was written by an older version), so "
                      "resuming it cannot check that it was trained with the same settings.", stacklevel=3)
        return
    lines = differences(saved, current)
    if lines:
        raise RunMismatch(
            f"The checkpoint {path} was trained with other settings than this call asks for:\n" + "\n".join(lines)
            + "\nResuming it would silently give you the old run. Either train into a new checkpoint name (e.g. "
              "checkpoint_path('my-run-2')), or pass resume=False to start afresh and overwrite it. (A larger "
              "epochs, steps or max_seconds is the same run: that continues training.)")
