"""The course's data: MNIST (through torchvision) and the 2-D Gaussian mixtures of the PacGAN protocol.

Run ``python -m tutorial_lib.data`` to download MNIST into the course's ``data/`` folder.
"""
import hashlib
import json
import math
import os
import socket
import tempfile
from pathlib import Path

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .runtime import env_flag

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: The size in bytes of each uncompressed idx file (a 16- or 8-byte header, then one byte per pixel or label).
MNIST_SIZES = dict(zip(MNIST_FILES, (47_040_016, 60_008, 7_840_016, 10_008)))
#: The MD5 of each uncompressed idx file as published (the files torchvision downloads and unpacks); an ``MD5SUMS``
#: file beside the idx files, when there is one, takes precedence.
MNIST_MD5 = dict(zip(MNIST_FILES, ("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                                   "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637")))
BINARIZE_MODES = (None, "static", "dynamic")
DOWNLOAD_COMMAND = "python -m tutorial_lib.data"


def _repo_root() -> Path:
    """The course checkout holding tutorial_lib, or the working folder when installed elsewhere (Colab)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()


def has_mnist(root) -> bool:
    """True when `root`/MNIST/raw holds the four uncompressed idx files."""
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for name in MNIST_FILES)


def data_root() -> Path:
    """Where the course's data lives.

    ``TUTORIAL_DATA`` when set; else the first of ``data/`` in the repo and ``../shared/data`` beside
    the repo that holds MNIST; else ``data/`` (where a download goes).
    """
    if os.environ.get("TUTORIAL_DATA"):
        return Path(os.environ["TUTORIAL_DATA"]).expanduser()
    repo = _repo_root()
    local, shared = repo / "data", repo.parent / "shared" / "data"
    for candidate in (local, shared):
        if has_mnist(candidate):
            return candidate
    return local


def _check_size(name, value, allow_none=False, allow_zero=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} must be {kind} integer{' or None' if allow_none else ''}, got {value!r}")


def missing_mnist_files(root):
    """The idx files of MNIST that `root`/MNIST/raw lacks (all four when the folder is missing)."""
    raw = Path(root) / "MNIST" / "raw"
    return [name for name in MNIST_FILES if not (raw / name).is_file()]


def _missing_mnist_message(root: Path, reason: str) -> str:
    missing = missing_mnist_files(root)
    what = (f"MNIST was not found under {root / 'MNIST' / 'raw'}" if len(missing) == len(MNIST_FILES) else
            f"MNIST under {root / 'MNIST' / 'raw'} is incomplete: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing")
    return (f"{what} ({reason}).\n"
            f"Fix it one of these ways:\n"
            f"  - download it (needs internet):   {DOWNLOAD_COMMAND}\n"
            f"  - point the course at a folder that holds MNIST/raw/ with its four idx files:\n"
            f"        export TUTORIAL_DATA=/path/to/data")


class CorruptData(RuntimeError):
    """A data file is truncated or damaged; the message names it, its expected MD5 and the fix."""


def _recorded_md5(path: Path):
    """The MD5 recorded for `path` in an ``MD5SUMS`` file beside it (``<hex>  <name>`` lines), or None."""
    sums = path.parent / "MD5SUMS"
    try:
        for line in sums.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == path.name:
                return parts[0].lower()
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _expected_md5(path: Path):
    """(MD5, where it comes from) for an idx file: its line in MD5SUMS beside it, else the published MD5."""
    recorded = _recorded_md5(path)
    if recorded:
        return recorded, f"recorded in {path.parent / 'MD5SUMS'}"
    if path.name in MNIST_MD5:
        return MNIST_MD5[path.name], "the published MNIST file's"
    return None, ""


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_file() -> Path:
    """Where verified MD5s are remembered: a user cache folder (the data folder may be read-only)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tutorial_lib" / "mnist_md5.json"


_MD5_MEMO = {}


def _file_md5(path: Path) -> str:
    """The MD5 of `path`, computed once per version of the file: remembered by its size and modification time, in
    memory and in `_cache_file()` (when that is writable), so that only the first read pays for it."""
    path = Path(os.path.abspath(path))
    info = path.stat()
    key, stamp = str(path), [info.st_size, info.st_mtime_ns, info.st_ino]
    if _MD5_MEMO.get(key, (None,))[0] == stamp:
        return _MD5_MEMO[key][1]
    cache = _cache_file()
    try:
        known = json.loads(cache.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    entry = known.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("md5"), str):
        md5 = entry["md5"]
    else:
        md5 = _md5(path)
        known = {name: entry for name, entry in known.items() if os.path.exists(name)}  # forget deleted files
        known[key] = {"stamp": stamp, "md5": md5}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".mnist_md5.", suffix=".tmp")
            with os.fdopen(handle, "w") as file:
                json.dump(known, file)
            os.replace(tmp, cache)
        except OSError:
            pass  # no writable cache: the MD5 is computed again in the next session
    _MD5_MEMO[key] = (stamp, md5)
    return md5


def _corrupt(path: Path, reason: str) -> CorruptData:
    expected, source = _expected_md5(path)
    md5 = f" Its MD5 should be {expected} ({source}; check with `md5sum {path}`)." if expected else ""
    return CorruptData(f"The MNIST file {path} is damaged ({reason}).{md5}\nFix it one of these ways:\n"
                       f"  - delete {path.parent} and download MNIST again (needs internet):   {DOWNLOAD_COMMAND}\n"
                       "  - point the course at a folder with an intact MNIST/raw/:   "
                       "export TUTORIAL_DATA=/path/to/data")


def check_mnist_files(root, train=True):
    """Raise `CorruptData` naming the file when an idx file of the split has the wrong size (truncated or padded)
    or the wrong MD5 (changed content; MD5SUMS beside the files, else `MNIST_MD5`). The MD5 of each version of a
    file is computed once and remembered (see `_file_md5`)."""
    raw = Path(root) / "MNIST" / "raw"
    names = MNIST_FILES[:2] if train else MNIST_FILES[2:]
    for name in names:
        size = (raw / name).stat().st_size
        if size != MNIST_SIZES[name]:
            raise _corrupt(raw / name, f"it holds {size:,} bytes instead of {MNIST_SIZES[name]:,}: truncated or "
                                       "overwritten")
    for name in names:
        expected, _ = _expected_md5(raw / name)
        actual = _file_md5(raw / name)
        if expected and actual != expected:
            raise _corrupt(raw / name, f"its size is right but its MD5 is {actual}: its content was changed")


def _damaged_file(root, train, error):
    """The CorruptData for a read that failed although the sizes and MD5s are right."""
    raw = Path(root) / "MNIST" / "raw"
    return _corrupt(raw / (MNIST_FILES[0] if train else MNIST_FILES[2]), f"reading it failed with: {error}")


def download_mnist(root=None) -> Path:
    """Download MNIST into `root` (default: the course's ``data/``) through torchvision; returns the root."""
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else data_root()
    if env_flag("TUTORIAL_OFFLINE"):
        raise FileNotFoundError(_missing_mnist_message(root, "TUTORIAL_OFFLINE is set, so nothing is downloaded"))
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # fail instead of hanging when there is no network
    try:
        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as error:  # torchvision raises RuntimeError/URLError/OSError depending on the failure
        raise FileNotFoundError(_missing_mnist_message(root, f"the download failed: {error}")) from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    return root


class MNISTTensors(Dataset):
    """MNIST held in memory as tensors. Item i is ``(image 1x28x28 float in [0,1], label int)``.

    Indexing with a list or tensor of indices returns a batch ``(N x 1 x 28 x 28, N)``, which is how
    `mnist_loader` fetches whole batches at once. With ``binarize="dynamic"`` every access draws a
    fresh Bernoulli image; ``"static"`` draws one fixed binarization (seed 0) up front.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, binarize=None):
        if images.dim() != 4 or images.shape[1:] != (1, 28, 28):
            raise ValueError(f"images must have shape N x 1 x 28 x 28, got {tuple(images.shape)}")
        if binarize not in BINARIZE_MODES:
            raise ValueError(f"binarize must be one of {BINARIZE_MODES}, got {binarize!r}")
        if binarize == "static":
            images = torch.bernoulli(images, generator=torch.Generator().manual_seed(0))
        self.images, self.labels, self.binarize = images, labels, binarize

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        if isinstance(index, int):
            image, label = self.images[index], int(self.labels[index])
        else:
            index = torch.as_tensor(index, dtype=torch.long)
            image, label = self.images[index], self.labels[index]
        if self.binarize == "dynamic":
            image = torch.bernoulli(image)
        return image, label


def load_mnist(train=True, binarize=None, limit=None, root=None, download=None) -> MNISTTensors:
    """MNIST as a Dataset of ``(image 1x28x28 in [0,1], label)``.

    binarize: None (grey levels), ``"static"`` (one fixed Bernoulli draw) or ``"dynamic"`` (a fresh draw
    per access). limit: keep the first `limit` images. root: defaults to `data_root()`.
    download: fetch MNIST when missing; default True unless ``CI`` or ``TUTORIAL_OFFLINE`` is set.
    """
    from torchvision.datasets import MNIST

    if binarize not in BINARIZE_MODES:
        raise ValueError(f"binarize must be one of {BINARIZE_MODES}, got {binarize!r}")
    _check_size("limit", limit, allow_none=True)
    root = Path(root) if root is not None else data_root()
    if not has_mnist(root):
        if download is None:
            download = not (env_flag("CI") or env_flag("TUTORIAL_OFFLINE"))
        if not download:
            raise FileNotFoundError(_missing_mnist_message(root, "downloads are off in CI and offline mode"))
        print(f"MNIST not found under {root}; downloading it there (about 12 MB)...")
        download_mnist(root)
    check_mnist_files(root, train)
    try:
        raw = MNIST(str(root), train=train, download=False)
    except Exception as error:  # torchvision's errors for a damaged idx file vary (RuntimeError, AssertionError, ...)
        raise _damaged_file(root, train, error) from None
    images, labels = raw.data, raw.targets
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) > 9):
        bad = labels[(labels < 0) | (labels > 9)]
        raise _corrupt(Path(root) / "MNIST" / "raw" / (MNIST_FILES[1] if train else MNIST_FILES[3]),
                       f"{len(bad):,} of its labels lie outside 0..9, e.g. {int(bad[0])}")
    if limit is not None:
        if limit > len(images):
            raise ValueError(f"limit={limit:,} is more than the {len(images):,} images of MNIST's "
                             f"{'training' if train else 'test'} split: pass limit=None for all of them, or at most "
                             f"{len(images):,}.")
        images, labels = images[:limit], labels[:limit]
    images = images.unsqueeze(1).float().div_(255.0)
    return MNISTTensors(images, labels.clone(), binarize=binarize)


def mnist_loader(batch_size=128, train=True, shuffle=None, drop_last=False, binarize=None, limit=None,
                 dataset=None) -> DataLoader:
    """A DataLoader of MNIST batches ``(N x 1 x 28 x 28 in [0,1], N labels)``; shuffled when training.

    Batches are fetched whole (fast on a CPU). Pass `dataset` to reuse one from `load_mnist`.
    """
    _check_size("batch_size", batch_size)
    dataset = dataset if dataset is not None else load_mnist(train=train, binarize=binarize, limit=limit)
    shuffle = train if shuffle is None else shuffle
    sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    batches = BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last)
    # batch_size=None: each "index" the loader hands the dataset is already a whole batch of indices.
    return DataLoader(dataset, sampler=batches, batch_size=None)


def _mixture(n, centers, std, seed):
    _check_size("n", n)
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std!r}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    which = torch.randint(len(centers), (n,), generator=generator)
    samples = centers[which] + std * torch.randn(n, 2, generator=generator)
    return samples, centers, float(std)


def ring(n, modes=8, radius=1.0, std=0.01, seed=None):
    """`n` samples of `modes` Gaussians evenly spaced on a circle (PacGAN: 8 modes, radius 1, std 0.01).

    Returns ``(samples n x 2, centers modes x 2, std)``; each sample picks a mode uniformly.
    """
    _check_size("modes", modes)
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius!r}")
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    centers = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return _mixture(n, centers, std, seed)


def grid(n, side=5, spacing=2.0, std=0.05, seed=None):
    """`n` samples of a side x side grid of Gaussians centred on 0 (PacGAN: means {-4,-2,0,2,4}^2, std 0.05).

    Returns ``(samples n x 2, centers side^2 x 2, std)``; each sample picks a mode uniformly.
    """
    _check_size("side", side)
    if not spacing > 0:
        raise ValueError(f"spacing must be > 0, got {spacing!r}")
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    centers = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    return _mixture(n, centers, std, seed)


def ink_fraction(images, threshold=0.5):
    """The fraction of pixels brighter than `threshold` in each image: images N x C x H x W -> (N,)."""
    if not isinstance(images, torch.Tensor) or images.dim() < 2:
        raise ValueError(f"expected a batch of images N x C x H x W, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    return (images > threshold).float().flatten(start_dim=1).mean(dim=1)


# ---- Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018): three digits as three channels ----

#: Stacked MNIST's modes: one per triple of digits (channel 0 gives the hundreds, channel 2 the units).
STACKED_MODES = 1000


def _stack(images, labels, index):
    """Stacked images and their modes from MNIST `images` (M x 1 x 28 x 28) and `labels` (M,): row k of `index`
    (N x 3) names the digits of image k's three channels. Returns (N x 3 x 28 x 28, N modes 100 a + 10 b + c)."""
    stacked = images[index.reshape(-1)].reshape(len(index), 3, 28, 28)
    digits = labels[index]
    return stacked, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


def _stacked_source(train, root=None):
    mnist = load_mnist(train=train, root=root)
    return mnist.images, mnist.labels


def stacked_mnist(n, seed, train=True, root=None):
    """`n` Stacked MNIST images: each channel an MNIST digit drawn uniformly (with replacement) from the training or
    test split, independently of the others, as the papers generate it. Deterministic given `seed`.

    Returns ``(images n x 3 x 28 x 28 float in [0, 1], modes (n,) int64 in 0..999)``, where the mode of an image
    whose channels show digits a, b, c is 100 a + 10 b + c. 1,000 modes; each about equally likely (MNIST's
    digits are not exactly balanced: the mode probabilities are products of the split's digit frequencies).
    """
    _check_size("n", n)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    images, labels = _stacked_source(train, root)
    index = torch.randint(len(labels), (n, 3), generator=torch.Generator().manual_seed(seed))
    return _stack(images, labels, index)


class StackedMNISTLoader:
    """Endless fresh Stacked MNIST batches for training, drawn on the fly as `stacked_mnist` draws them: iterating
    yields `batches` batches ``(images batch_size x 3 x 28 x 28, modes)``, and each new pass draws new ones (the
    stream is deterministic given `seed`). ``len(loader)`` = `batches`: what `train.train_vae` calls an epoch.
    """

    def __init__(self, batch_size=64, seed=0, train=True, batches=1000, root=None):
        _check_size("batch_size", batch_size)
        _check_size("batches", batches)
        self.batch_size, self.batches = batch_size, batches
        self.images, self.labels = _stacked_source(train, root)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.batches

    def __iter__(self):
        for _ in range(self.batches):
            yield _stack(self.images, self.labels,
                         torch.randint(len(self.labels), (self.batch_size, 3), generator=self.generator))


if __name__ == "__main__":
    print(f"MNIST is in {download_mnist()}")
