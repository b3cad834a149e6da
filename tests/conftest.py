"""Shared test set-up: a non-interactive matplotlib backend and the course's MNIST location."""
import os

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def mnist_available():
    from tutorial_lib.data import data_root, has_mnist
    from tutorial_lib.runtime import env_flag

    if not has_mnist(data_root()):
        if env_flag("CI"):  # in CI a missing MNIST must fail the run, not silently skip what needs it
            pytest.fail(f"MNIST is missing under {data_root()} but CI=true: the workflow must provide it "
                        "(cache or download step) or set TUTORIAL_DATA; see data/README.md")
        pytest.skip("MNIST is not available offline here; see data/README.md")
    return data_root()


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a network connection fail at once (as on an offline machine)."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return os
