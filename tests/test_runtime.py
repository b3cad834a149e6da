import importlib
import os
import random

import numpy as np
import pytest
import torch

from tutorial_lib import runtime


def test_get_device_default_follows_availability(monkeypatch):
    monkeypatch.delenv("TUTORIAL_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    assert runtime.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_device() == torch.device("cuda")


def test_get_device_explicit_and_env(monkeypatch):
    assert runtime.get_device("cpu") == torch.device("cpu")
    assert runtime.get_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv("TUTORIAL_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_device() == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "tpu:0", "", 3.5])
def test_get_device_rejects_unknown(bad):
    with pytest.raises(ValueError, match="cpu"):
        runtime.get_device(bad)


def test_get_device_rejects_unavailable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="is_available"):
        runtime.get_device("cuda:0")
    with pytest.raises(ValueError, match="MPS"):
        runtime.get_device("mps")


@pytest.mark.parametrize("value, cuda, gpus, mps, fragment", [
    ("tpu", False, 0, False, "Unknown device: TUTORIAL_DEVICE='tpu' is not a device"),
    ("gpu", True, 2, False, "the choices here are 'cpu', 'cuda' ('cuda:0' to 'cuda:1')"),
    ("cuda", False, 0, True, "TUTORIAL_DEVICE='cuda' asks for an NVIDIA GPU, but torch.cuda.is_available() is False"),
    ("cuda:2", True, 2, False, "TUTORIAL_DEVICE='cuda:2' asks for GPU number 2, but this machine has 2"),
    ("mps", False, 0, False, "TUTORIAL_DEVICE='mps' asks for Apple's MPS backend"),
])
def test_a_bad_tutorial_device_names_the_variable_its_value_and_the_choices(monkeypatch, value, cuda, gpus, mps,
                                                                            fragment):
    monkeypatch.setenv("TUTORIAL_DEVICE", value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(runtime, "_mps_available", lambda: mps)
    with pytest.raises(ValueError) as error:
        runtime.get_device()
    message = str(error.value)
    assert fragment in message and "'cpu'" in message
    assert "set TUTORIAL_DEVICE to one of these, or unset it" in message
    choices = message.split("the choices here are ")[1]
    assert ("'mps'" in choices) == mps and ("'cuda'" in choices) == cuda  # only what this machine offers


def test_an_explicit_device_error_does_not_blame_the_variable(monkeypatch):
    monkeypatch.delenv("TUTORIAL_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError) as error:
        runtime.get_device("cuda")
    assert "TUTORIAL_DEVICE" not in str(error.value) and "pass one of these, or None" in str(error.value)
    monkeypatch.setenv("TUTORIAL_DEVICE", "  ")  # blank: as if unset
    assert runtime.get_device() == torch.device("cpu")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    runtime.seed_everything(123)
    a = draw()
    runtime.seed_everything(123)
    b = draw()
    runtime.seed_everything(124)
    c = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and not torch.equal(a[2], c[2])


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True, None])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(bad)


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("YES", True), ("on", True),
                                            ("0", False), ("", False), ("false", False), ("no", False)])
def test_env_flag(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert runtime.env_flag("SOME_FLAG") is expected


def test_fast_mode_and_by_mode_follow_the_environment(monkeypatch):
    try:
        monkeypatch.setenv("TUTORIAL_FAST", "1")
        fast = importlib.reload(runtime)
        assert fast.FAST is True and fast.by_mode(full=10, fast=1) == 1
        monkeypatch.setenv("TUTORIAL_FAST", "0")
        full = importlib.reload(runtime)
        assert full.FAST is False and full.by_mode(full=10, fast=1) == 10
    finally:
        monkeypatch.undo()
        importlib.reload(runtime)


def test_progress_is_quiet_in_ci_and_passes_items_through(monkeypatch):
    monkeypatch.setattr(runtime, "IN_CI", True)
    bar = runtime.progress(range(5), desc="x")
    assert bar.disable is True
    assert list(bar) == [0, 1, 2, 3, 4]
    monkeypatch.setattr(runtime, "IN_CI", False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    shown = runtime.progress(range(3), disable=False, file=open("/dev/null", "w"))
    assert shown.disable is False and list(shown) == [0, 1, 2]
    assert runtime.progress(range(3), disable=True).disable is True


# ---- the progress of a budget-bound run ----

def test_a_budget_bound_run_shows_progress_against_its_budget_not_millions_of_steps(monkeypatch):
    from tutorial_lib.runtime import RunProgress

    clock = [100.0]
    monkeypatch.setenv("TQDM_DISABLE", "0")
    bar = RunProgress(4_690_000, max_seconds=60, done_steps=5894, done_seconds=12.0, desc="VAE steps", disable=False)
    bar._clock = lambda: clock[0]
    bar.start = clock[0]
    clock[0] += 18.0  # 30 of the 60 s spent
    bar.update(1)
    assert bar.fraction() == pytest.approx(0.5)
    text = str(bar)
    assert "50%" in text and "30 of 60 s" in text and "step 5895" in text and "4690000" not in text
    bar.close()
    # steps that run out first set the pace instead
    steps_bar = RunProgress(100, max_seconds=3600, done_steps=79)
    steps_bar.update(1)
    assert steps_bar.fraction() == pytest.approx(0.8) and "step 80 of 100" in steps_bar._text(1.0)
    steps_bar.close()


def test_without_a_budget_the_bar_counts_steps():
    from tutorial_lib.runtime import RunProgress

    bar = RunProgress(50, None, done_steps=10, disable=False)  # a disabled tqdm (CI) counts nothing
    bar.update(2)
    assert bar.bar.n == 12 and bar.bar.total == 50
    bar.close()


def test_train_vae_with_a_time_budget_uses_the_budget_bar(monkeypatch):
    import tutorial_lib.train as train
    from tutorial_lib.vae import VAE

    made = []
    real = train.RunProgress
    monkeypatch.setattr(train, "RunProgress", lambda *a, **k: made.append((a, k)) or real(*a, **k))
    train.train_vae(VAE(latent_dim=2, hidden=8), [(torch.rand(4, 1, 28, 28), None)], epochs=10_000,
                    max_seconds=0.2, device="cpu")
    (args, kwargs), = made
    assert args[:2] == (10_000, 0.2)  # total steps and the budget: the bar shows the budget's progress


# ---- pool workers die with their parent ----

PARENT = """
import os, sys, threading, time
from tutorial_lib import stabilize

def report():
    import multiprocessing
    while len(multiprocessing.active_children()) < 2:
        time.sleep(0.2)
    time.sleep(1.0)
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)

if __name__ == "__main__":
    threading.Thread(target=report, daemon=True).start()
    stabilize.run_many(["baseline"], ["ring", "grid"], [0], steps=10**7, workers=2)
"""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] not in ("Z", "X")  # a zombie is dead
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc (Linux)")
def test_run_many_workers_exit_when_their_parent_is_killed(tmp_path):
    """Without the fix the workers run their 10**7 steps orphaned; with it they end within seconds of their
    start-up (a worker still importing torch when the parent dies ends as soon as it is up)."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"})
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
    deadline = time.time() + 90
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent"


# ---- memory: large blocks go back to the system (Linux, glibc) ----

_GLIBC = __import__("platform").system() == "Linux" and __import__("platform").libc_ver()[0] == "glibc"

_FRAGMENTING_LOOP = """
import re, sys, torch
{setup}
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
x, y = torch.randn(10_000, 128).double(), torch.randn(10_000, 128).double()
start = rss()
for repeat in range(3):  # KID's pattern: 100 subsets, three 1,000 x 1,000 float64 kernels (8 MB each) per subset
    values = [((a @ b.T / 128 + 1) ** 3).mean() for _ in range(100)
              for a, b in ((x[torch.randperm(10_000)[:1000]], y[torch.randperm(10_000)[:1000]]),)]
print(rss() - start)
"""


@pytest.mark.skipif(not _GLIBC, reason="mallopt is glibc's (Linux)")
def test_importing_runtime_keeps_freed_large_blocks_from_piling_up():
    import subprocess
    import sys

    code = _FRAGMENTING_LOOP.format(setup="import tutorial_lib.runtime")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    growth = float(result.stdout.split()[-1])
    # What stays alive: 300 scalar tensors and the loop's few 8 MB blocks at a time; without the setting the heap
    # grew by about 450 MB on this loop (glibc raises its mmap threshold after large frees).
    assert growth < 120, f"resident memory grew by {growth:.0f} MB over a loop that frees all it allocates"


def test_return_large_blocks_checks_its_threshold():
    from tutorial_lib import runtime

    for bad in (0, -1, 33 * 2**20, 1.5, True, "4MB"):
        with pytest.raises(ValueError, match="threshold must be a number of bytes"):
            if not runtime.return_large_blocks(bad):  # not glibc: nothing is set, so nothing is checked
                raise ValueError("threshold must be a number of bytes (skipped off glibc)")
    assert runtime.return_large_blocks() is _GLIBC


@pytest.mark.parametrize("value, wanted", [(None, True), ("", True), (" On ", True), ("1", True), ("yes", True),
                                           ("default", False), (" Default ", False), ("off", False), ("0", False),
                                           ("FALSE", False), ("no", False)])
def test_tutorial_malloc_values(value, wanted):
    assert runtime.wants_large_blocks_returned(value) is wanted


@pytest.mark.parametrize("value", ["glibc", "2", "of", "defualt"])
def test_an_unknown_tutorial_malloc_value_is_refused_with_the_choices(value):
    with pytest.raises(ValueError, match="'default'.*unset it"):
        runtime.wants_large_blocks_returned(value)
