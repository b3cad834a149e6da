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

#: Memory blocks of at least this many bytes come from the system and go back to it when freed (Linux, glibc).
MMAP_THRESHOLD = 4 * 2**20


def return_large_blocks(threshold=MMAP_THRESHOLD):
    """On Linux with glibc, serve every allocation of at least `threshold` bytes by mmap, so that freeing it returns
    it to the system at once. Returns True when set (False elsewhere: macOS, Windows, musl).

    By default glibc raises that threshold after large frees (up to 32 MB), and blocks of a few MB (a 1,000 x 1,000
    kernel matrix, a batch of features) then pile up in the heap: a notebook's resident memory grew by hundreds of MB
    that it no longer used. Blocks below `threshold` (a training step's activations) keep the faster heap.
    Importing tutorial_lib.runtime calls it once; TUTORIAL_MALLOC=default (or off) leaves glibc's behaviour alone."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= 32 * 2**20:
        raise ValueError(f"threshold must be a number of bytes in 1..{32 * 2**20} (glibc's limit), got {threshold!r}")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
    return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))


def wants_large_blocks_returned(value):
    """Whether the value of TUTORIAL_MALLOC asks for `return_large_blocks`: unset, "on", "1", "true" or "yes" do;
    "default", "off", "0", "false" or "no" leave glibc's malloc alone; anything else is a ValueError."""
    value = (value or "").strip().lower()
    if value in ("", "on", "1", "true", "yes"):
        return True
    if value in ("default", "off", "0", "false", "no"):
        return False
    raise ValueError(f"TUTORIAL_MALLOC={value!r} is not understood: set it to 'default' (or 'off') to leave glibc's "
                     "malloc alone, or unset it to return large blocks to the system.")


if wants_large_blocks_returned(os.environ.get("TUTORIAL_MALLOC")):
    return_large_blocks()


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer=None) -> torch.device:
    """The device to train on: ``cuda``, then ``mps``, else ``cpu``.

    prefer: None (pick automatically; the ``TUTORIAL_DEVICE`` variable may name one), or
    ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, or a ``torch.device``. An unknown or unavailable device is a
    ValueError that names it (and the variable, when it came from ``TUTORIAL_DEVICE``) and the valid choices.
    """
    source = None
    if prefer is None:
        prefer = os.environ.get("TUTORIAL_DEVICE", "").strip() or None
        source = "TUTORIAL_DEVICE" if prefer is not None else None
    if prefer is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    shown = f"{source}={prefer!r}" if source else repr(prefer)
    asked = shown if source else f"Device {shown}"
    way_out = (f"set {source} to one of these, or unset it to pick the best available device"
               if source else "pass one of these, or None to pick the best available device")
    try:
        device = torch.device(prefer)
    except (RuntimeError, TypeError, ValueError):
        device = None
    if device is None or device.type not in _DEVICES:
        raise ValueError(f"Unknown device: {shown} is not a device the course can "
                         f"use; the choices here are {_choices()}: {way_out}.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{asked} asks for an NVIDIA GPU, but torch.cuda.is_available() is False on this machine; "
                         f"the choices here are {_choices()}: {way_out}.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{asked} asks for GPU number {device.index}, but this machine has "
                         f"{torch.cuda.device_count()}; the choices here are {_choices()}: {way_out}.")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"{asked} asks for Apple's MPS backend, which is not available here; the choices here are "
                         f"{_choices()}: {way_out}.")
    return device


def _choices() -> str:
    """The devices this machine offers, in words: 'cpu', 'cuda' (and 'cuda:N'), 'mps'."""
    names = ["'cpu'"]
    if torch.cuda.is_available():
        names.append("'cuda'" + (f" ('cuda:0' to 'cuda:{torch.cuda.device_count() - 1}')"
                                 if torch.cuda.device_count() > 1 else ""))
    if _mps_available():
        names.append("'mps'")
    return ", ".join(names)


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


class RunProgress:
    """The progress bar of a training run bounded by `total_steps` and/or a time budget `max_seconds`.

    Without a budget it counts steps (``1234/4690``). With one it shows the run's progress as a percentage, the
    larger of the fraction of steps done and the fraction of the budget spent (what ends the run first), with the
    seconds of the budget spent, the step reached and an honest time left, never a count of millions of steps.
    done_steps, done_seconds: what earlier, resumed, runs did. ``update(1)`` after each step; ``set_postfix``,
    ``close`` as in tqdm.
    """

    SCALE = 1000

    def __init__(self, total_steps, max_seconds=None, done_steps=0, done_seconds=0.0, desc="steps", **kwargs):
        import time

        self._clock = time.perf_counter
        self.total_steps, self.max_seconds = total_steps or None, max_seconds
        self.steps, self.done_seconds, self.start, self.extra = done_steps, done_seconds, self._clock(), ""
        if max_seconds is None:
            self.bar = progress(total=self.total_steps, initial=min(done_steps, self.total_steps or done_steps),
                                desc=desc, **kwargs)
        else:
            self.bar = progress(total=self.SCALE, initial=self._permille(done_seconds), desc=desc,
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
                                **kwargs)
            self.bar.set_postfix_str(self._text(done_seconds), refresh=False)

    def elapsed(self):
        """Seconds of the run so far, earlier runs included."""
        return self.done_seconds + self._clock() - self.start

    def fraction(self, elapsed=None):
        """How far the run is, from 0 to 1: the larger of steps done / total_steps and elapsed / max_seconds."""
        elapsed = self.elapsed() if elapsed is None else elapsed
        done = self.steps / self.total_steps if self.total_steps else 0.0
        if self.max_seconds:
            done = max(done, elapsed / self.max_seconds)
        return min(done, 1.0)

    def _permille(self, elapsed):
        return int(self.SCALE * self.fraction(elapsed))

    def _text(self, elapsed):
        steps = f"step {self.steps}" + (f" of {self.total_steps}" if self.total_steps and
                                        self.steps / self.total_steps >= elapsed / self.max_seconds else "")
        digits = 0 if self.max_seconds >= 10 else 1
        return f"{min(elapsed, self.max_seconds):.{digits}f} of {self.max_seconds:g} s, {steps}{self.extra}"

    def update(self, n=1):
        self.steps += n
        if self.max_seconds is None:
            self.bar.update(n)
            return
        elapsed = self.elapsed()
        self.bar.set_postfix_str(self._text(elapsed), refresh=False)
        self.bar.update(max(self._permille(elapsed) - self.bar.n, 0))

    def set_postfix(self, refresh=False, **values):
        if self.max_seconds is None:
            self.bar.set_postfix(refresh=refresh, **values)
        else:
            self.extra = "".join(f", {key}={value}" for key, value in values.items())

    def __str__(self):
        return str(self.bar)

    def close(self):
        self.bar.close()


def exit_with_parent(parent_pid):
    """Make this (worker) process end when its parent `parent_pid` dies (killed, out of memory, a closed kernel),
    instead of running on orphaned at full CPU. Use as a multiprocessing Pool's initializer with
    ``initargs=(os.getpid(),)``. On Linux the kernel sends SIGKILL (prctl PR_SET_PDEATHSIG); everywhere a daemon
    thread also checks once a second that the parent is still there."""
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
