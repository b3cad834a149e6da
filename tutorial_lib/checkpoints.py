"""Checkpoints a learner can trust: atomic and verified saves, a lock per path, and the identity of a run.

- `checkpoint_file` checks a checkpoint path before anything trains (``~`` expanded; a folder, or a path under a
  file, is a clear error).
- `save_checkpoint` writes plain Python and tensors only, to a temporary file that is read back with
  ``weights_only=True`` before it replaces the old one (an interrupted or unreadable save never harms it; a full
  disk is said in words; temporaries left by killed saves are cleaned up), with the file mode the umask gives
  (readable by others on a shared hub when the umask says so).
- `CheckpointLock` holds a lock on a checkpoint path while a run trains: a second trainer gets an error naming
  the path and the process that holds it; a lock left by a process that died is taken over (removed, never
  written through; a symlink or any file it did not create is never written to nor printed).
- `run_settings` records what defines a run (model configs, loss, learning rates, batch size, data...), and
  `check_same_run` refuses to resume a checkpoint with different settings, listing the differences.
"""
import errno
import hashlib
import inspect
import os
import re
import shutil
import socket
import stat
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


def checkpoint_file(path):
    """`path` as a Path with ``~`` expanded, checked before any training: an error that says what to do when it is
    a folder, or lies under something that is a file rather than a folder. None stays None."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"A checkpoint path must be a str or a pathlib.Path, got {type(path).__name__} {path!r}.")
    if not os.fspath(path):
        raise ValueError("The checkpoint path is empty: give a file name such as 'vae.pt' or "
                         "checkpoint_path('my-run').")
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"The checkpoint path {path} is a folder; a checkpoint is a file. Give a file name "
                                f"inside it, e.g. {path / 'model.pt'}.")
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise NotADirectoryError(f"The checkpoint path {path} lies under {parent}, which is a file, not a "
                                         f"folder, so no checkpoint can be written there. Choose a path in a folder, "
                                         f"e.g. {parent.parent / ('checkpoints-' + parent.name) / path.name}.")
            break
    return path


def make_folder(folder):
    """Create `folder` (and its parents) for checkpoints; a PermissionError that says what to do."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise PermissionError(f"Cannot create the folder {folder} for the checkpoint (permission denied). Choose "
                              "a checkpoint path in a folder you own, e.g. under your home or the course's "
                              "data/.") from None
    except (FileExistsError, NotADirectoryError):
        checkpoint_file(folder / "checkpoint")  # names the file in the way
        raise
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write in {folder} (permission denied), so no checkpoint can be saved there. "
                              "Choose a checkpoint path in a folder you own.")
    return folder


class _Sink:
    """What torch.save writes to: every byte reaches the file (short writes are retried), and the first OSError is
    kept, because torch.save turns it into a cryptic RuntimeError ('unexpected pos ...')."""

    def __init__(self, fd):
        self.fd, self.error, self.written = fd, None, 0

    def write(self, data):
        view = memoryview(data).cast("B")
        while len(view):
            try:
                count = os.write(self.fd, view)
            except OSError as error:
                self.error = self.error or error
                raise
            if count <= 0:
                self.error = self.error or OSError(errno.ENOSPC, "the disk accepted no more bytes")
                raise self.error
            view, self.written = view[count:], self.written + count
        return len(data)

    def flush(self):
        pass


def _tensor_bytes(value):
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def _write_failed(path, error, needed):
    """The OSError to raise when writing checkpoint `path` failed with `error` (a full disk said in words)."""
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        try:
            free = f", {shutil.disk_usage(path.parent).free / 1e6:,.1f} MB free"
        except OSError:
            free = ""
        what = "disk quota is used up" if error.errno != errno.ENOSPC else "disk is full"
        return OSError(error.errno, f"Could not save the checkpoint {path}: the {what} (the checkpoint needs about "
                                    f"{max(needed, 1) / 1e6:,.1f} MB{free}). The previous checkpoint, if any, is "
                                    f"unchanged. Free some space (e.g. delete old checkpoints in {path.parent}) or "
                                    "train into a checkpoint path on another disk, then run the cell again.")
    return OSError(error.errno, f"Could not save the checkpoint {path} ({error.strerror or error}). The previous "
                                "checkpoint, if any, is unchanged.")


def _host():
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _pid_alive(pid):
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, but another user's
        return True
    return True


#: A temporary file of a save older than this is stale whoever wrote it (no save takes a day).
STALE_TEMPORARY_SECONDS = 24 * 3600


def clean_stale_temporaries(path):
    """Remove the temporary files of saves of `path` that were killed mid-write: ``.<name>.<host>-<pid>.*.tmp``
    files in its folder (regular files, not symlinks, owned by this user) whose writer, on this host, no longer
    runs, or that are older than a day. Returns the removed Paths."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[^/]*\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            continue
        dead = match["host"] == _host() and int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))
        if dead or time.time() - info.st_mtime > STALE_TEMPORARY_SECONDS:
            try:
                os.remove(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def save_checkpoint(path, **state):
    """Write `state` (state_dicts, tensors, plain Python values; numpy scalars become Python numbers) to `path`
    atomically: to a temporary file, read back with ``weights_only=True``, then renamed over the old file, which is
    kept intact if anything fails or interrupts the save (a full disk gives an OSError that says so). The file gets
    the umask's mode; temporaries of earlier saves that were killed are removed. Returns the Path."""
    path = checkpoint_file(path)
    state = to_plain(state, "the checkpoint's state")
    make_folder(path.parent)
    clean_stale_temporaries(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_host()}-{os.getpid()}.", suffix=".tmp")
    try:
        sink = _Sink(handle)
        try:
            try:
                torch.save(state, sink)
            except Exception:
                if sink.error is None:
                    raise
            if sink.error is not None:
                raise sink.error
            os.fsync(handle)
        except OSError as error:
            raise _write_failed(path, error, _tensor_bytes(state)) from None
        finally:
            os.close(handle)
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


def _foreign(path):
    """Why the torch file `path` cannot be a checkpoint of the course's training, or None when it can be one."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("data.pkl") for name in archive.namelist()):
                return None
    except (OSError, zipfile.BadZipFile):
        return None
    return (f"{path} was written by torch.save but holds Python objects that a safe load (weights_only=True) "
            "refuses, so nothing was loaded from it: it is not a checkpoint written by save_checkpoint or the "
            "course's training functions (which hold tensors and plain values only). If it is your own file (e.g. "
            "torch.save(model, ...) of a whole model), keep it: load it yourself with torch.load(path, "
            "weights_only=False) if you trust where it came from, and give the training another checkpoint path "
            "(it would replace this file). If it is a checkpoint of an old version of the course, delete it and "
            "train again.")


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint written by `save_checkpoint` (safely: ``weights_only=True``)."""
    path = checkpoint_file(path)
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
        foreign = _foreign(path)
        if foreign:
            raise RuntimeError(foreign) from None
        raise RuntimeError(f"Could not read the checkpoint {path} ({error}). It is damaged (for example a save cut "
                           "short), or not a file that torch.save wrote: delete it and train again.") from None


# ---- one trainer per checkpoint path ----

class CheckpointLock:
    """A lock on checkpoint `path` (the file ``.<name>.lock`` beside it) for as long as a run trains.

    Raises `CheckpointLocked`, naming the path and the process holding it, when another trainer (another process,
    or another thread of this one) has it. The operating system drops the lock of a process that dies, so a lock
    file left behind by a crash or a killed kernel is taken over: removed, and a new one created (``O_CREAT |
    O_EXCL | O_NOFOLLOW``). A file it did not create (a symlink planted there, a hard link) is never written to,
    and its content is shown only when it reads like a lock (``pid N on HOST since HH:MM:SS``). Use as
    ``with CheckpointLock(path): ...`` or call `release()`; None as path locks nothing."""

    def __init__(self, path):
        self.path, self.fd, self.file = path, None, None
        if path is None:
            return
        path = checkpoint_file(path)
        self.path, self.file = path, path.with_name(f".{path.name}.lock")
        make_folder(path.parent)
        for _ in range(20):
            fd = self._create()
            if fd is not None:
                self.fd = fd
                return
            self._examine(path)  # raises CheckpointLocked while a live run holds it; removes a stale one
        raise CheckpointLocked(f"Could not lock {self.file} for the checkpoint {path}: it keeps changing.")

    def _create(self):
        """A new lock file, locked and filled in, or None when one exists already."""
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.file, flags, default_mode())
        except FileExistsError:
            return None
        try:
            _lock(fd)
        except OSError:  # someone testing our brand-new file for staleness holds it this very moment
            os.close(fd)
            time.sleep(0.05)
            return None
        try:
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}".encode())
            if os.path.samestat(os.lstat(self.file), os.fstat(fd)):
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed between our creating and locking it (taken for stale): start again
        return None

    def _examine(self, path):
        """The lock file exists: raise CheckpointLocked when a live process holds it, else remove it (stale)."""
        try:
            info = os.lstat(self.file)
        except FileNotFoundError:
            return  # gone meanwhile: try to create it again
        if stat.S_ISLNK(info.st_mode):  # not a lock any run made: remove the link itself, never its target
            print(f"Removing {self.file}, a symbolic link where the lock of {path} belongs (its target is left "
                  "untouched).")
            _remove_if_same(self.file, info)
            return
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointLocked(f"{self.file}, where the lock of the checkpoint {path} belongs, is not a file "
                                   "(a folder?). Remove it, or train into another checkpoint name.")
        try:
            fd = os.open(self.file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return
        except OSError as error:  # replaced by a symlink meanwhile (ELOOP), or unreadable
            if error.errno == errno.ELOOP:
                return
            raise CheckpointLocked(f"Cannot open the lock file {self.file} of the checkpoint {path} ({error}). "
                                   "Remove it, or train into another checkpoint name.") from None
        try:
            holder = _holder(fd)
            try:
                _lock(fd)
            except OSError:
                mine = holder.startswith(f"pid {os.getpid()} ")
                raise CheckpointLocked(
                    f"The checkpoint {path} is being trained by another run: {holder or 'a process'}"
                    + (" (this very process: a training still running in another thread)" if mine else "")
                    + ". Wait for it to finish or stop it, or train into another checkpoint name.") from None
            if _remove_if_same(self.file, os.fstat(fd), opened=fd):
                print(f"Taking over the lock on {path} left by a run that no longer runs"
                      + (f" ({holder})." if holder else "."))
        finally:
            try:
                os.close(fd)
            except OSError:
                pass

    def release(self):
        if self.fd is not None:
            try:
                if os.path.samestat(os.lstat(self.file), os.fstat(self.fd)):
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


def _remove_if_same(file, info, opened=None):
    """Remove `file` when it is still the one `info` describes (not replaced meanwhile); True when removed."""
    try:
        if not os.path.samestat(os.lstat(file), info):
            return False
        try:
            os.remove(file)
        except PermissionError:  # Windows: an open file cannot be removed
            if opened is None:
                raise
            os.close(opened)
            os.remove(file)
        return True
    except OSError:
        return False


def _lock(fd):
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # Windows: lock a byte far beyond the text
        import msvcrt

        os.lseek(fd, 1 << 20, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


_HOLDER = re.compile(r"pid \d+ on [^\s]{1,255} since \d\d:\d\d:\d\d")


def _holder(fd):
    """The text of a lock file when it reads like one this class writes (a single link, a few dozen bytes), else
    "": the content of any other file is never shown."""
    try:
        info = os.fstat(fd)
        if info.st_nlink != 1 or info.st_size > 300:
            return ""
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 300).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return ""
    return text if _HOLDER.fullmatch(text) else ""


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


def loader_batching(loader):
    """``(batch_size, drop_last, samples)`` of a DataLoader (None for what it does not say): its own batch size, or
    that of a BatchSampler passed as its sampler (`data.mnist_loader`); samples: the length of its dataset."""
    batch_size, drop_last = getattr(loader, "batch_size", None), getattr(loader, "drop_last", False)
    sampler = getattr(loader, "sampler", None)
    if batch_size is None and isinstance(getattr(sampler, "batch_size", None), int):
        batch_size, drop_last = sampler.batch_size, getattr(sampler, "drop_last", False)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        batch_size = None
    dataset = getattr(loader, "dataset", None)
    samples = len(dataset) if batch_size is not None and hasattr(dataset, "__len__") else None
    return batch_size, bool(drop_last), samples


def describe_data(data):
    """What identifies training data: its size, batch size and a fingerprint of its values (a tensor, a loader
    over a dataset of ``images``, or a list of batches)."""
    if isinstance(data, torch.Tensor):
        return {"samples": len(data) if data.dim() else 0, "fingerprint": _fingerprint(data)}
    info = {}
    batch_size = loader_batching(data)[0]
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


def _course_checkpoint(path):
    """True when the file `path` reads as a checkpoint of the course's training functions (a dict with a
    ``history``); False for anything else, e.g. a learner's own ``torch.save(model.state_dict(), path)``."""
    try:
        state = torch.load(checkpoint_file(path), map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(state, dict) and isinstance(state.get("history"), dict)


def check_same_run(path, saved, current):
    """Raise `RunMismatch` listing the differences when the settings `saved` in checkpoint `path` differ from the
    `current` ones, with the two ways out. When the checkpoint records none: a warning if it is a checkpoint of the
    course's training written by an older version, a `RunMismatch` that explains if it is another file (e.g. the
    learner's own torch.save of a state_dict), which cannot be resumed."""
    if saved is None:
        if not _course_checkpoint(path):
            raise RunMismatch(
                f"The file {path} was not written by the course's training functions (it holds no training "
                "history: perhaps your own torch.save(model.state_dict(), ...)), so this run cannot resume from it, "
                "and nothing was loaded or changed. To keep that file, train into another checkpoint name (e.g. "
                "checkpoint_path('my-run-2')); to replace it with this run, pass resume=False.")
        warnings.warn(f"The checkpoint {path} records no run settings (it was written by an older version of the "
                      "course), so resuming it cannot check that it was trained with the same settings.",
                      stacklevel=3)
        return
    lines = differences(saved, current)
    if lines:
        raise RunMismatch(
            f"The checkpoint {path} was trained with other settings than this call asks for:\n" + "\n".join(lines)
            + "\nResuming it would silently give you the old run. Either train into a new checkpoint name (e.g. "
              "checkpoint_path('my-run-2')), or pass resume=False to start afresh and overwrite it. (A larger "
              "epochs, steps or max_seconds is the same run: that continues training.)")
