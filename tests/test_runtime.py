import importlib
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
