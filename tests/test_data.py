import math
import os
import time

import numpy as np
import pytest
import torch

from tutorial_lib import data
from tutorial_lib.data import MNIST_FILES, grid, has_mnist, load_mnist, mnist_loader, ring


def read_idx(path):
    """Independent reader of the idx format (big-endian header: magic, then one uint32 per dimension)."""
    raw = np.fromfile(path, dtype=np.uint8)
    ndim = int(raw[3])
    dims = np.frombuffer(raw[4:4 + 4 * ndim].tobytes(), dtype=">u4")
    return raw[4 + 4 * ndim:].reshape(dims)


def fake_mnist(root):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        (raw / name).write_bytes(b"")
    return root


# ---------------------------------------------------------------- data_root

@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A fake checkout at tmp/course with tmp/shared/data beside it."""
    course = tmp_path / "course"
    (course / "data").mkdir(parents=True)
    monkeypatch.setattr(data, "_repo_root", lambda: course)
    monkeypatch.delenv("TUTORIAL_DATA", raising=False)
    return course


def test_data_root_prefers_the_environment_variable(repo, monkeypatch, tmp_path):
    fake_mnist(repo / "data")
    monkeypatch.setenv("TUTORIAL_DATA", str(tmp_path / "elsewhere"))
    assert data.data_root() == tmp_path / "elsewhere"


def test_data_root_then_repo_data_then_shared(repo):
    shared = repo.parent / "shared" / "data"
    assert data.data_root() == repo / "data"  # nothing anywhere: data/ is where a download goes
    fake_mnist(shared)
    assert data.data_root() == shared
    fake_mnist(repo / "data")
    assert data.data_root() == repo / "data"


def test_has_mnist_needs_all_four_files(tmp_path):
    root = fake_mnist(tmp_path)
    assert has_mnist(root)
    (root / "MNIST" / "raw" / MNIST_FILES[2]).unlink()
    assert not has_mnist(root)


# ---------------------------------------------------------------- missing data

def test_missing_mnist_offline_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(root=tmp_path)
    message = str(error.value)
    assert "TUTORIAL_DATA" in message and data.DOWNLOAD_COMMAND in message and str(tmp_path) in message


def test_missing_mnist_without_network_fails_fast_and_clearly(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("TUTORIAL_OFFLINE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(root=tmp_path, download=True)
    assert time.perf_counter() - start < 30
    assert "download failed" in str(error.value) and "TUTORIAL_DATA" in str(error.value)


def test_download_is_off_by_default_in_ci(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("TUTORIAL_OFFLINE", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(FileNotFoundError, match="downloads are off"):
        load_mnist(root=tmp_path)


# ---------------------------------------------------------------- load_mnist on the real files

@pytest.fixture(scope="module")
def test_set(mnist_available):
    return load_mnist(train=False)


def test_load_mnist_matches_an_independent_idx_reader(mnist_available, test_set):
    raw = mnist_available / "MNIST" / "raw"
    images = read_idx(raw / "t10k-images-idx3-ubyte")
    labels = read_idx(raw / "t10k-labels-idx1-ubyte")
    assert len(test_set) == 10_000 == len(images)
    for i in (0, 1, 4321, 9999):
        image, label = test_set[i]
        assert image.shape == (1, 28, 28) and image.dtype == torch.float32
        assert torch.allclose(image[0], torch.from_numpy(images[i] / 255.0).float())
        assert label == int(labels[i])


def test_load_mnist_train_size_range_and_limit(mnist_available):
    train = load_mnist(train=True)
    assert len(train) == 60_000
    assert train.images.min() == 0 and train.images.max() == 1
    small = load_mnist(train=True, limit=100)
    assert len(small) == 100 and torch.equal(small.images, train.images[:100])


def test_static_binarization_is_fixed_and_unbiased(mnist_available):
    grey = load_mnist(train=False, limit=2000)
    a = load_mnist(train=False, limit=2000, binarize="static")
    b = load_mnist(train=False, limit=2000, binarize="static")
    assert set(a.images.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(a.images, b.images) and torch.equal(a[5][0], a[5][0])
    # E[Bernoulli(p)] = p: the mean ink matches the grey image's within a few standard errors.
    n = grey.images.numel()
    sd = math.sqrt((grey.images * (1 - grey.images)).sum().item()) / n
    assert abs(a.images.mean().item() - grey.images.mean().item()) < 5 * sd


def test_dynamic_binarization_redraws_on_every_access(mnist_available):
    dynamic = load_mnist(train=False, limit=50, binarize="dynamic")
    first, second = dynamic[list(range(50))][0], dynamic[list(range(50))][0]
    assert set(first.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(first, second)
    grey = load_mnist(train=False, limit=50).images
    draws = torch.stack([dynamic[list(range(50))][0] for _ in range(200)]).mean(0)
    assert (draws - grey).abs().max() < 0.2  # 200 draws: sd <= 0.035 per pixel


@pytest.mark.parametrize("kwargs,match", [({"binarize": "threshold"}, "binarize"), ({"limit": -5}, "limit"),
                                          ({"limit": 0}, "limit"), ({"limit": 2.5}, "limit")])
def test_load_mnist_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(**kwargs)


def test_dataset_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="N x 1 x 28 x 28"):
        data.MNISTTensors(torch.zeros(3, 28, 28), torch.zeros(3))


def test_ink_fraction_counts_pixels_strictly_brighter_than_the_threshold():
    from tutorial_lib.checks import check_ink_fraction

    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    images[0] = 0.5                                    # exactly the threshold: not ink
    images[1, :, :7] = 1.0                             # a quarter of the rows white, the rest random
    counted = torch.tensor([sum(v > 0.5 for v in image.flatten().tolist()) / 784 for image in images])
    assert torch.allclose(data.ink_fraction(images), counted) and data.ink_fraction(images)[0] == 0
    assert data.ink_fraction(torch.ones(2, 3, 4, 4), threshold=0.99).tolist() == [1.0, 1.0]
    assert check_ink_fraction(data.ink_fraction) is True   # the fallback of notebook 00's exercise passes its check
    with pytest.raises(ValueError, match="N x C x H x W"):
        data.ink_fraction([0.3, 0.7])


# ---------------------------------------------------------------- mnist_loader

def test_loader_visits_every_image_once_per_epoch(mnist_available, test_set):
    loader = mnist_loader(batch_size=128, train=False, dataset=test_set, shuffle=True)
    seen = []
    for images, labels in loader:
        assert images.shape[1:] == (1, 28, 28) and images.shape[0] == labels.shape[0] <= 128
        seen.append(labels)
    seen = torch.cat(seen)
    assert len(seen) == len(test_set)
    assert torch.equal(torch.bincount(seen, minlength=10), torch.bincount(test_set.labels, minlength=10))


def test_loader_order_and_shuffling(mnist_available, test_set):
    ordered = next(iter(mnist_loader(batch_size=10, train=False, dataset=test_set)))[1]
    assert torch.equal(ordered, test_set.labels[:10])
    torch.manual_seed(0)
    a = next(iter(mnist_loader(batch_size=64, dataset=test_set, shuffle=True)))[1]
    torch.manual_seed(0)
    b = next(iter(mnist_loader(batch_size=64, dataset=test_set, shuffle=True)))[1]
    assert torch.equal(a, b) and not torch.equal(a, test_set.labels[:64])


def test_loader_drop_last(mnist_available, test_set):
    sizes = [len(y) for _, y in mnist_loader(batch_size=3000, dataset=test_set, drop_last=True)]
    assert sizes == [3000, 3000, 3000]


@pytest.mark.parametrize("bad", [0, -1, 1.5, None])
def test_loader_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        mnist_loader(batch_size=bad)


# ---------------------------------------------------------------- 2-D mixtures (PacGAN protocol)

def nearest(samples, centers):
    distances = torch.cdist(samples, centers)
    return distances.min(1)


def test_ring_protocol():
    samples, centers, std = ring(40_000, seed=0)
    angles = torch.arange(8) * 2 * math.pi / 8
    assert samples.shape == (40_000, 2) and centers.shape == (8, 2) and std == 0.01
    assert torch.allclose(centers, torch.stack([angles.cos(), angles.sin()], 1), atol=1e-6)
    assert torch.allclose(centers.norm(dim=1), torch.ones(8))
    dist, which = nearest(samples, centers)
    counts = torch.bincount(which, minlength=8).float()
    assert (counts / 40_000 - 1 / 8).abs().max() < 0.01  # uniform over modes (sd 0.0017)
    offsets = samples - centers[which]
    assert torch.allclose(offsets.mean(0), torch.zeros(2), atol=1e-3)
    assert torch.allclose(offsets.std(0), torch.full((2,), 0.01), rtol=0.03)


def test_grid_protocol():
    samples, centers, std = grid(50_000, seed=1)
    assert centers.shape == (25, 2) and std == 0.05
    assert sorted(set(centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in centers.tolist()}) == 25
    dist, which = nearest(samples, centers)
    counts = torch.bincount(which, minlength=25).float()
    assert (counts / 50_000 - 1 / 25).abs().max() < 0.006
    offsets = samples - centers[which]
    assert torch.allclose(offsets.std(0), torch.full((2,), 0.05), rtol=0.03)


def test_mixture_options_and_seeds():
    a, _, _ = ring(100, seed=3)
    b, _, _ = ring(100, seed=3)
    c, _, _ = ring(100, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    _, centers, std = ring(10, modes=5, radius=2.0, std=0.1)
    assert centers.shape == (5, 2) and torch.allclose(centers.norm(dim=1), torch.full((5,), 2.0)) and std == 0.1
    _, centers, _ = grid(10, side=3, spacing=1.0)
    assert sorted(set(centers[:, 1].tolist())) == [-1.0, 0.0, 1.0]
    exact, centers, _ = grid(7, std=0.0, seed=0)
    assert (nearest(exact, centers)[0] == 0).all()


@pytest.mark.parametrize("call,match", [(lambda: ring(-1), "n"), (lambda: ring(0), "n"), (lambda: ring(10, modes=0), "modes"),
                                        (lambda: ring(10, radius=0), "radius"), (lambda: ring(10, std=-0.1), "std"),
                                        (lambda: grid(10, side=-2), "side"), (lambda: grid(10, spacing=-1), "spacing"),
                                        (lambda: grid(2.5), "n")])
def test_mixtures_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- download_mnist (torchvision stubbed: no network)

class FakeTorchvisionMNIST:
    """Stands in for torchvision.datasets.MNIST(download=True): 'downloads' by copying the real raw files."""

    source = None
    calls = []

    def __init__(self, root, train=True, download=False):
        import shutil
        from pathlib import Path

        FakeTorchvisionMNIST.calls.append((root, train, download))
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name in MNIST_FILES:
            shutil.copy(self.source / "MNIST" / "raw" / name, raw / name)


def test_download_mnist_fetches_into_the_root_and_restores_the_socket_timeout(tmp_path, monkeypatch,
                                                                              mnist_available):
    import socket

    import torchvision.datasets

    monkeypatch.delenv("TUTORIAL_OFFLINE", raising=False)
    FakeTorchvisionMNIST.source, FakeTorchvisionMNIST.calls = mnist_available, []
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeTorchvisionMNIST)
    before = socket.getdefaulttimeout()
    assert data.download_mnist(tmp_path) == tmp_path
    assert has_mnist(tmp_path) and socket.getdefaulttimeout() == before
    assert {(train, download) for _, train, download in FakeTorchvisionMNIST.calls} == {(True, True), (False, True)}


def test_load_mnist_downloads_when_missing_and_allowed(tmp_path, monkeypatch, mnist_available, capsys):
    import torchvision.datasets

    real_mnist = torchvision.datasets.MNIST
    monkeypatch.delenv("TUTORIAL_OFFLINE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    FakeTorchvisionMNIST.source, FakeTorchvisionMNIST.calls = mnist_available, []

    def fake_or_real(root, train=True, download=False):
        return FakeTorchvisionMNIST(root, train, download) if download else real_mnist(root, train=train)

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_or_real)
    test_set = load_mnist(train=False, root=tmp_path, limit=10)
    assert len(test_set) == 10 and "downloading" in capsys.readouterr().out


def test_download_mnist_refuses_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="TUTORIAL_OFFLINE"):
        data.download_mnist(tmp_path)


# ---- a truncated or damaged MNIST file ----

def _copy_mnist(source, target, damage):
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES + ("MD5SUMS",):
        if (source / "MNIST" / "raw" / name).is_file():
            (raw / name).write_bytes((source / "MNIST" / "raw" / name).read_bytes())
    damage(raw / "t10k-images-idx3-ubyte")
    return raw


@pytest.mark.parametrize("how", ["truncated", "zeroed header"])
def test_a_damaged_idx_file_names_the_file_its_md5_and_the_fix(tmp_path, mnist_available, how):
    from tutorial_lib.data import CorruptData

    def damage(path):
        content = path.read_bytes()
        path.write_bytes(content[:len(content) // 3] if how == "truncated" else b"\0" * 16 + content[16:])

    raw = _copy_mnist(mnist_available, tmp_path, damage)
    with pytest.raises(CorruptData) as error:
        load_mnist(train=False, root=tmp_path, download=False)
    message = str(error.value)
    assert str(raw / "t10k-images-idx3-ubyte") in message and "TUTORIAL_DATA" in message
    assert "python -m tutorial_lib.data" in message
    if (raw / "MD5SUMS").is_file():
        assert "2646ac647ad5339dbf082846283269ea" in message
    assert len(load_mnist(train=True, root=tmp_path, download=False, limit=5)) == 5  # the other split is fine


def test_a_damaged_file_without_md5sums_still_names_the_file_and_the_fix(tmp_path, mnist_available):
    from tutorial_lib.data import CorruptData

    raw = _copy_mnist(mnist_available, tmp_path, lambda path: path.write_bytes(path.read_bytes()[:1000]))
    (raw / "MD5SUMS").unlink(missing_ok=True)
    with pytest.raises(CorruptData, match="t10k-images-idx3-ubyte.*1,000 bytes instead of 7,840,016"):
        load_mnist(train=False, root=tmp_path, download=False)


# ---- damage that keeps the size and the header: the MD5, checked once per version of a file ----

@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """The MD5 cache in a folder of its own (and none in memory), so each test starts with nothing verified."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_MD5_MEMO", {})
    return tmp_path / "cache" / "tutorial_lib" / "mnist_md5.json"


def _zero_2000_images(path):
    content = bytearray(path.read_bytes())
    content[16:16 + 2000 * 784] = bytes(2000 * 784)
    path.write_bytes(bytes(content))


def _labels_200(path):
    path = path.with_name("t10k-labels-idx1-ubyte")
    content = bytearray(path.read_bytes())
    content[8:] = bytes([200]) * (len(content) - 8)
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("md5sums", [True, False], ids=["MD5SUMS beside", "published MD5s"])
@pytest.mark.parametrize("damage, name, md5", [
    (_zero_2000_images, "t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    (_labels_200, "t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637")], ids=["zeroed images", "labels 200"])
def test_damage_of_the_right_size_and_header_is_refused(tmp_path, mnist_available, private_cache, damage, name, md5,
                                                        md5sums):
    from tutorial_lib.data import CorruptData

    raw = _copy_mnist(mnist_available, tmp_path, damage)
    if not md5sums:
        (raw / "MD5SUMS").unlink(missing_ok=True)
    assert (raw / name).stat().st_size == data.MNIST_SIZES[name]
    with pytest.raises(CorruptData) as error:
        load_mnist(train=False, root=tmp_path, download=False)
    message = str(error.value)
    assert str(raw / name) in message and md5 in message and "its content was changed" in message
    assert data.DOWNLOAD_COMMAND in message and "TUTORIAL_DATA" in message


def test_the_md5_is_computed_once_per_version_of_a_file(tmp_path, mnist_available, private_cache, monkeypatch):
    raw = _copy_mnist(mnist_available, tmp_path, lambda path: None)
    computed = []
    real_md5 = data._md5
    monkeypatch.setattr(data, "_md5", lambda path: computed.append(path.name) or real_md5(path))
    load_mnist(train=False, root=tmp_path, limit=5)
    assert sorted(computed) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    monkeypatch.setattr(data, "_MD5_MEMO", {})  # a new session: the verdicts come from the cache file
    load_mnist(train=False, root=tmp_path, limit=5)
    assert len(computed) == 2 and private_cache.is_file()
    assert not any(p.name.endswith(".json") for p in raw.iterdir())  # the data folder may be read-only
    os.utime(raw / "t10k-labels-idx1-ubyte", ns=(1, 1))  # a changed file (its mtime) is checked again
    load_mnist(train=False, root=tmp_path, limit=5)
    assert computed[2:] == ["t10k-labels-idx1-ubyte"]


def test_an_unwritable_cache_only_costs_time(tmp_path, mnist_available, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_MD5_MEMO", {})
    _copy_mnist(mnist_available, tmp_path / "d", lambda path: None)
    assert len(load_mnist(train=False, root=tmp_path / "d", limit=3)) == 3


def test_labels_outside_0_to_9_are_refused_even_with_a_matching_md5(tmp_path, mnist_available, private_cache):
    from tutorial_lib.data import CorruptData

    raw = _copy_mnist(mnist_available, tmp_path, _labels_200)
    (raw / "MD5SUMS").write_text(f"{data._md5(raw / 't10k-labels-idx1-ubyte')}  t10k-labels-idx1-ubyte\n")
    with pytest.raises(CorruptData, match=r"t10k-labels-idx1-ubyte is damaged \(10,000 of its labels lie outside "
                                          r"0\.\.9, e\.g\. 200\)"):
        load_mnist(train=False, root=tmp_path, download=False)


def test_the_published_md5s_are_those_of_the_real_files(mnist_available, private_cache):
    raw = mnist_available / "MNIST" / "raw"
    for name in MNIST_FILES:
        assert data._md5(raw / name) == data.MNIST_MD5[name]


@pytest.mark.parametrize("missing", [["t10k-labels-idx1-ubyte"], ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]])
def test_a_missing_idx_file_is_named_with_the_fix(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("TUTORIAL_OFFLINE", "1")
    root = fake_mnist(tmp_path)
    for name in missing:
        (root / "MNIST" / "raw" / name).unlink()
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(root=root)
    message = str(error.value)
    assert "incomplete" in message and all(name in message for name in missing)
    assert f"{'is' if len(missing) == 1 else 'are'} missing" in message
    assert data.DOWNLOAD_COMMAND in message and "TUTORIAL_DATA" in message
