"""Bad input at the edges of the course: files, folders, disks, devices, MNIST's files and the exercise checkers, as
a careless learner or a hostile environment gives it. Each row expects one specific exception type and a fragment of
its message that says what to do, or (for a checker) a False verdict whose printout holds the fragment.

Rows build what they need in a fresh folder: `call(tmp, monkeypatch)`. The table continues tests/test_bad_inputs.py
(the inputs of the modelling functions)."""
import errno
import functools
import os
import shutil

import pytest
import torch

from tutorial_lib import checkpoints, conditional, data, divergences, gan, metrics, runtime, stabilize, train, vae
from tutorial_lib import checks
from tutorial_lib.checkpoints import CheckpointLock, CheckpointLocked, RunMismatch

MNIST_RAW = data.data_root() / "MNIST" / "raw"
needs_mnist = not data.has_mnist(data.data_root())


def raises(kind, fragment):
    return ("raises", kind, fragment)


def fails_check(fragment):
    return ("fails", None, fragment)


# ---- helpers that build a situation ----

def tiny_vae():
    torch.manual_seed(0)
    return vae.VAE(latent_dim=2, hidden=8)


def tiny_batches():
    images = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)).round()
    return [(images[i:i + 8], torch.zeros(8)) for i in (0, 8)]


def tiny_gan():
    torch.manual_seed(0)
    return gan.MLPGenerator(hidden=8, depth=1), gan.MLPDiscriminator(hidden=8, depth=1)


POINTS = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))


def train_vae_into(path):
    return train.train_vae(tiny_vae(), tiny_batches(), epochs=1, checkpoint=path, device="cpu")


def train_gan_into(path):
    return train.train_gan(*tiny_gan(), POINTS, train.GANRecipe(batch_size=16), steps=2, checkpoint=path,
                           device="cpu")


def a_file(tmp):
    (tmp / "notes.txt").write_text("a learner's notes")
    return tmp / "notes.txt"


def failing_write(error_number, short=False, zero=False):
    """A stand-in for os.write on a full disk: a short write first (`short`), or 0 bytes (`zero`), then the error."""
    real, calls = os.write, []

    def write(fd, data):
        calls.append(len(data))
        if zero:
            return 0
        if short and len(calls) == 1:
            return real(fd, bytes(data)[:max(1, len(data) // 3)])
        raise OSError(error_number, os.strerror(error_number))

    return write


def save_on_a_failing_disk(tmp, monkeypatch, error_number=errno.ENOSPC, **how):
    checkpoints.save_checkpoint(tmp / "ck.pt", value=torch.arange(10.0))
    monkeypatch.setattr(checkpoints.os, "write", failing_write(error_number, **how))
    return checkpoints.save_checkpoint(tmp / "ck.pt", value=torch.zeros(100_000))


def fsync_fails(tmp, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "fsync", fsync)
    return checkpoints.save_checkpoint(tmp / "ck.pt", value=torch.zeros(10))


def empty_file(tmp):
    (tmp / "empty.pt").touch()
    return tmp / "empty.pt"


def learners_own(tmp, what):
    path = tmp / "mine.pt"
    torch.save(what, path)
    return path


def with_device_variable(value, monkeypatch, cuda=False, gpus=0, mps=False):
    monkeypatch.setenv("TUTORIAL_DEVICE", value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(runtime, "_mps_available", lambda: mps)
    return runtime.get_device()


def mnist_copy(tmp, monkeypatch, damage=None, md5sums=False, remove=()):
    """The test split of MNIST copied to tmp (and the MD5 cache there too), damaged by `damage(raw)`."""
    if needs_mnist:
        pytest.skip("MNIST is not available here")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
    raw = tmp / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES[2:]:
        shutil.copy(MNIST_RAW / name, raw / name)
    for name in data.MNIST_FILES[:2]:
        (raw / name).write_bytes(b"")  # present (the test split is read), never read
    if md5sums:
        (raw / "MD5SUMS").write_text("".join(f"{data.MNIST_MD5[n]}  {n}\n" for n in data.MNIST_FILES))
    if damage:
        damage(raw)
    for name in remove:
        (raw / name).unlink()
    return data.load_mnist(train=False, root=tmp / "data", download=False)


def rewrite(name, change):
    def damage(raw):
        content = bytearray((raw / name).read_bytes())
        change(content)
        (raw / name).write_bytes(bytes(content))
    return damage


def zero_images(content):
    content[16:16 + 2000 * 784] = bytes(2000 * 784)


def labels_200(content):
    content[8:] = bytes([200]) * (len(content) - 8)


def flip_one_byte(content):
    content[len(content) // 2] ^= 0xFF


def zeroed_with_garbled_md5sums(raw):
    rewrite("t10k-images-idx3-ubyte", zero_images)(raw)
    (raw / "MD5SUMS").write_bytes(b"\xff\xfe garbage")


def record_damage_in_md5sums(name, change):
    """Damage the file and record its new MD5: only the label check can refuse it."""
    def damage(raw):
        rewrite(name, change)(raw)
        (raw / "MD5SUMS").write_text(f"{data._md5(raw / name)}  {name}\n")
    return damage


# ---- checker probes: right answers that change an input, library answers in disguise ----

def mutating(function, argument=0):
    """`function`, but afterwards it scales its argument number `argument` in place."""
    def wrapper(*args):
        result = function(*args)
        args[argument].mul_(1.5 if args[argument].is_floating_point() else 2)
        return result
    return wrapper


def by_hand_kl(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)


def grading(monkeypatch):
    monkeypatch.setenv("TUTORIAL_GRADING", "1")


def graded(check, fn):
    def call(tmp, monkeypatch):
        grading(monkeypatch)
        return check(fn)
    return call


CASES = [
    # ---- checkpoint paths: checked before any training ----
    ("save_checkpoint into a folder", lambda t, m: checkpoints.save_checkpoint(t, x=1), raises(IsADirectoryError,
                                                                                               "is a folder")),
    ("load_checkpoint of a folder", lambda t, m: checkpoints.load_checkpoint(t), raises(IsADirectoryError,
                                                                                        "model.pt")),
    ("CheckpointLock on a folder", lambda t, m: CheckpointLock(t), raises(IsADirectoryError, "is a folder")),
    ("train_vae checkpoint a folder", lambda t, m: train_vae_into(t), raises(IsADirectoryError, "is a folder")),
    ("train_gan checkpoint a folder", lambda t, m: train_gan_into(t), raises(IsADirectoryError, "is a folder")),
    ("save_checkpoint under a file", lambda t, m: checkpoints.save_checkpoint(a_file(t) / "x.pt", x=1),
     raises(NotADirectoryError, "which is a file, not a folder")),
    ("save_checkpoint two levels under a file", lambda t, m: checkpoints.save_checkpoint(a_file(t) / "a" / "x.pt", x=1),
     raises(NotADirectoryError, "notes.txt, which is a file")),
    ("load_checkpoint under a file", lambda t, m: checkpoints.load_checkpoint(a_file(t) / "x.pt"),
     raises(NotADirectoryError, "which is a file")),
    ("CheckpointLock under a file", lambda t, m: CheckpointLock(a_file(t) / "x.pt"),
     raises(NotADirectoryError, "which is a file")),
    ("train_vae checkpoint under a file", lambda t, m: train_vae_into(a_file(t) / "vae.pt"),
     raises(NotADirectoryError, "which is a file")),
    ("train_gan checkpoint under a file", lambda t, m: train_gan_into(a_file(t) / "gan.pt"),
     raises(NotADirectoryError, "which is a file")),
    ("save_checkpoint an empty path", lambda t, m: checkpoints.save_checkpoint("", x=1), raises(ValueError, "empty")),
    ("save_checkpoint a bytes path", lambda t, m: checkpoints.save_checkpoint(b"x.pt", x=1),
     raises(TypeError, "str or a pathlib.Path")),
    ("save_checkpoint a number as path", lambda t, m: checkpoints.save_checkpoint(3, x=1),
     raises(TypeError, "str or a pathlib.Path")),
    ("load_checkpoint ~ is expanded", lambda t, m: (m.setenv("HOME", str(t)), checkpoints.load_checkpoint("~/no.pt")),
     raises(FileNotFoundError, "no.pt. Train the model first")),
    # ---- a full disk, said in words ----
    ("save_checkpoint on a full disk", lambda t, m: save_on_a_failing_disk(t, m), raises(OSError, "the disk is full")),
    ("save_checkpoint, a short write then a full disk", lambda t, m: save_on_a_failing_disk(t, m, short=True),
     raises(OSError, "the disk is full")),
    ("save_checkpoint, the disk takes no more bytes", lambda t, m: save_on_a_failing_disk(t, m, zero=True),
     raises(OSError, "the disk is full")),
    ("save_checkpoint, the flush to disk fails", lambda t, m: fsync_fails(t, m), raises(OSError, "the disk is full")),
    ("save_checkpoint over quota", lambda t, m: save_on_a_failing_disk(t, m, getattr(errno, "EDQUOT", errno.ENOSPC)),
     raises(OSError, "previous checkpoint, if any, is unchanged")),
    ("save_checkpoint, an I/O error", lambda t, m: save_on_a_failing_disk(t, m, errno.EIO),
     raises(OSError, "Could not save the checkpoint")),
    # ---- files the course did not write ----
    ("load_checkpoint a whole pickled model", lambda t, m: checkpoints.load_checkpoint(learners_own(t, tiny_vae())),
     raises(RuntimeError, "weights_only=False")),
    ("load_checkpoint a text file", lambda t, m: checkpoints.load_checkpoint(a_file(t)), raises(RuntimeError, "damaged")),
    ("load_checkpoint an empty file", lambda t, m: checkpoints.load_checkpoint(empty_file(t)),
     raises(RuntimeError, "delete it and train again")),
    ("train_vae resuming a learner's state_dict", lambda t, m: train_vae_into(learners_own(t, tiny_vae().state_dict())),
     raises(RunMismatch, "not written by the course's training functions")),
    ("train_vae resuming a learner's list of tensors", lambda t, m: train_vae_into(learners_own(t, {"w": [1.0]})),
     raises(RunMismatch, "resume=False")),
    ("train_gan resuming a learner's state_dict",
     lambda t, m: train_gan_into(learners_own(t, tiny_gan()[0].state_dict())),
     raises(RunMismatch, "not written by the course's training functions")),
    ("CheckpointLock where the lock is a folder", lambda t, m: ((t / ".ck.pt.lock").mkdir(), CheckpointLock(t / "ck.pt")),
     raises(CheckpointLocked, "is not a file")),
    # ---- the device ----
    ("TUTORIAL_DEVICE=tpu", lambda t, m: with_device_variable("tpu", m), raises(ValueError, "TUTORIAL_DEVICE='tpu'")),
    ("TUTORIAL_DEVICE=gpu", lambda t, m: with_device_variable("gpu", m), raises(ValueError, "the choices here are 'cpu'")),
    ("TUTORIAL_DEVICE=CUDA:x", lambda t, m: with_device_variable("cuda:x", m), raises(ValueError, "unset it")),
    ("TUTORIAL_DEVICE=cuda without a GPU", lambda t, m: with_device_variable("cuda", m),
     raises(ValueError, "TUTORIAL_DEVICE='cuda' asks for an NVIDIA GPU")),
    ("TUTORIAL_DEVICE=cuda:1 without a GPU", lambda t, m: with_device_variable("cuda:1", m),
     raises(ValueError, "TUTORIAL_DEVICE='cuda:1'")),
    ("TUTORIAL_DEVICE=cuda:3 with one GPU", lambda t, m: with_device_variable("cuda:3", m, cuda=True, gpus=1),
     raises(ValueError, "GPU number 3, but this machine has 1")),
    ("TUTORIAL_DEVICE=mps without MPS", lambda t, m: with_device_variable("mps", m), raises(ValueError, "TUTORIAL_DEVICE='mps'")),
    ("get_device('tpu')", lambda t, m: runtime.get_device("tpu"), raises(ValueError, "'tpu' is not a device")),
    ("train_vae device='tpu'", lambda t, m: train.train_vae(tiny_vae(), tiny_batches(), epochs=1, device="tpu"),
     raises(ValueError, "Unknown device")),
    ("train_vae with TUTORIAL_DEVICE=tpu", lambda t, m: (m.setenv("TUTORIAL_DEVICE", "tpu"),
                                                         train.train_vae(tiny_vae(), tiny_batches(), epochs=1)),
     raises(ValueError, "TUTORIAL_DEVICE='tpu'")),
    # ---- MNIST's files ----
    ("load_mnist, 2,000 images zeroed", lambda t, m: mnist_copy(t, m, rewrite("t10k-images-idx3-ubyte", zero_images)),
     raises(data.CorruptData, "2646ac647ad5339dbf082846283269ea")),
    ("load_mnist, images zeroed, MD5SUMS beside",
     lambda t, m: mnist_copy(t, m, rewrite("t10k-images-idx3-ubyte", zero_images), md5sums=True),
     raises(data.CorruptData, "recorded in")),
    ("load_mnist, labels set to 200", lambda t, m: mnist_copy(t, m, rewrite("t10k-labels-idx1-ubyte", labels_200)),
     raises(data.CorruptData, "27ae3e4e09519cfbb04c329615203637")),
    ("load_mnist, one byte flipped", lambda t, m: mnist_copy(t, m, rewrite("t10k-images-idx3-ubyte", flip_one_byte)),
     raises(data.CorruptData, "its content was changed")),
    ("load_mnist, header zeroed", lambda t, m: mnist_copy(t, m, rewrite("t10k-labels-idx1-ubyte",
                                                                        lambda c: c.__setitem__(slice(0, 8), bytes(8)))),
     raises(data.CorruptData, "t10k-labels-idx1-ubyte is damaged")),
    ("load_mnist, truncated", lambda t, m: mnist_copy(t, m, rewrite("t10k-images-idx3-ubyte",
                                                                    lambda c: c.__delitem__(slice(5000, None)))),
     raises(data.CorruptData, "5,000 bytes instead of 7,840,016")),
    ("load_mnist, padded", lambda t, m: mnist_copy(t, m, rewrite("t10k-labels-idx1-ubyte", lambda c: c.extend(b"\n"))),
     raises(data.CorruptData, "10,009 bytes")),
    ("load_mnist, labels file missing", lambda t, m: mnist_copy(t, m, remove=["t10k-labels-idx1-ubyte"]),
     raises(FileNotFoundError, "t10k-labels-idx1-ubyte is missing")),
    ("load_mnist, two files missing", lambda t, m: mnist_copy(t, m, remove=data.MNIST_FILES[2:]),
     raises(FileNotFoundError, "are missing")),
    ("load_mnist, missing file: the fix", lambda t, m: mnist_copy(t, m, remove=["t10k-images-idx3-ubyte"]),
     raises(FileNotFoundError, data.DOWNLOAD_COMMAND)),
    ("load_mnist, labels outside 0..9 with a matching MD5",
     lambda t, m: mnist_copy(t, m, record_damage_in_md5sums("t10k-labels-idx1-ubyte", labels_200)),
     raises(data.CorruptData, "labels lie outside 0..9")),
    ("load_mnist, a garbled MD5SUMS", lambda t, m: mnist_copy(t, m, zeroed_with_garbled_md5sums),
     raises(data.CorruptData, "2646ac647ad5339dbf082846283269ea")),
    # ---- the checkers: their time limit ----
    ("TUTORIAL_CHECK_SECONDS=ten", lambda t, m: (m.setenv("TUTORIAL_CHECK_SECONDS", "ten"),
                                                 checks.check_gaussian_kl(by_hand_kl)),
     raises(ValueError, "TUTORIAL_CHECK_SECONDS='ten'")),
    ("TUTORIAL_CHECK_SECONDS=1e", lambda t, m: (m.setenv("TUTORIAL_CHECK_SECONDS", "1e"),
                                                checks.check_pack(stabilize.pack_samples)),
     raises(ValueError, "write e.g. 30")),
    # ---- the checkers: functions that change their inputs ----
    ("check_gaussian_kl, mu changed", lambda t, m: checks.check_gaussian_kl(mutating(by_hand_kl, 0)),
     fails_check("changed its input `argument 1`")),
    ("check_gaussian_kl, logvar changed", lambda t, m: checks.check_gaussian_kl(mutating(by_hand_kl, 1)),
     fails_check("changed its input `argument 2`")),
    ("check_optimal_discriminator, p_data changed",
     lambda t, m: checks.check_optimal_discriminator(lambda p_data, p_model: (p_data / (p_data + p_model),
                                                                              p_data.zero_())[0]),
     fails_check("changed its input `p_data`")),
    ("check_discriminator_loss, logits changed",
     lambda t, m: checks.check_discriminator_loss(mutating(gan.discriminator_loss, 1)),
     fails_check("in place")),
    ("check_generator_loss, logits changed", lambda t, m: checks.check_generator_loss(mutating(gan.generator_loss)),
     fails_check("in place")),
    ("check_kl_divergence, p changed", lambda t, m: checks.check_kl_divergence(mutating(gan.kl_divergence)),
     fails_check("in place")),
    ("check_pack, x changed", lambda t, m: checks.check_pack(mutating(stabilize.pack_samples)), fails_check("in place")),
    ("check_power_iteration, u normalized in place",
     lambda t, m: checks.check_power_iteration(lambda w, u, steps: gan.power_iteration(w, u.div_(u.norm()), steps)),
     fails_check("changed its input `u`")),
    ("check_free_bits_kl, mu changed", lambda t, m: checks.check_free_bits_kl(mutating(conditional.free_bits_kl)),
     fails_check("in place")),
    ("check_wasserstein_1d, x sorted in place",
     lambda t, m: checks.check_wasserstein_1d(lambda x, y: divergences.wasserstein_1d(x.clone(), y)
                                              + 0 * x.copy_(x.sort().values).sum()),
     fails_check("in place")),
    ("check_reverse_kl, counts changed", lambda t, m: checks.check_reverse_kl(
        lambda counts: (metrics.kl_from_uniform(counts / counts.sum()) if counts.sum() else float("inf"),
                        counts.mul_(2))[0]), fails_check("changed its input `counts`")),
    ("check_ink_fraction, images thresholded in place",
     lambda t, m: checks.check_ink_fraction(lambda images: images.gt_(0.5).mean(dim=(1, 2, 3))),
     fails_check("changed its input `images`")),
    ("check_label_accuracy, probs changed", lambda t, m: checks.check_label_accuracy(
        mutating(conditional.label_accuracy_from_probabilities)), fails_check("in place")),
    ("check_inception_score, probs changed", lambda t, m: checks.check_inception_score(
        mutating(metrics.inception_score_from_probabilities)), fails_check("in place")),
    ("check_reparameterize, mu changed", lambda t, m: checks.check_reparameterize(
        lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu), mu.add_(1e-3))[0]),
     fails_check("changed its input `mu`")),
    ("check_elbo, x changed", lambda t, m: checks.check_elbo(lambda model, x, beta=1.0: (vae.elbo(model, x, beta),
                                                                                          x.mul_(0.5))[0]),
     fails_check("changed its input `x`")),
    # ---- the checkers: not a function, nothing returned ----
    ("check_gaussian_kl(None)", lambda t, m: checks.check_gaussian_kl(None), fails_check("pass your function itself")),
    ("check_pack(a tensor)", lambda t, m: checks.check_pack(torch.zeros(3)), fails_check("not Tensor")),
    ("check_power_iteration('text')", lambda t, m: checks.check_power_iteration("x"), fails_check("not str")),
    ("check_gan_step(3)", lambda t, m: checks.check_gan_step(3), fails_check("pass your function itself")),
    ("check_vae_model(an instance)", lambda t, m: checks.check_vae_model([]), fails_check("pass your function itself")),
    ("check_kl_divergence, returns None", lambda t, m: checks.check_kl_divergence(lambda p, q, dx: None),
     fails_check("but got a NoneType")),
    ("check_frechet_distance, raises", lambda t, m: checks.check_frechet_distance(lambda *a: 1 / 0),
     fails_check("raised ZeroDivisionError")),
    ("check_free_bits_kl, calls sys.exit", lambda t, m: checks.check_free_bits_kl(lambda *a: exit(0)),
     fails_check("raised SystemExit")),
    # ---- grading: the library's solution in disguise ----
    ("grading: gaussian_kl in a lambda", graded(checks.check_gaussian_kl, lambda mu, lv: vae.gaussian_kl(mu, lv)),
     fails_check("library's own")),
    ("grading: discriminator_loss in a lambda", graded(checks.check_discriminator_loss,
                                                       lambda r, f: gan.discriminator_loss(r, f)),
     fails_check("tutorial_lib.gan.discriminator_loss")),
    ("grading: generator_loss in a partial", graded(checks.check_generator_loss,
                                                    functools.partial(gan.generator_loss, kind="nonsaturating")),
     fails_check("library's own")),
    ("grading: optimal_discriminator scaled", graded(checks.check_optimal_discriminator,
                                                     lambda p, q: 1.0 * gan.optimal_discriminator(p, q)),
     fails_check("library's own")),
    ("grading: kl_divergence in a lambda", graded(checks.check_kl_divergence, lambda p, q, dx: gan.kl_divergence(p, q, dx)),
     fails_check("library's own")),
    ("grading: wasserstein_1d in a lambda", graded(checks.check_wasserstein_1d,
                                                   lambda x, y: divergences.wasserstein_1d(x, y)),
     fails_check("library's own")),
    ("grading: free_bits_kl in a lambda", graded(checks.check_free_bits_kl,
                                                 lambda mu, lv, fb: conditional.free_bits_kl(mu, lv, fb)),
     fails_check("library's own")),
    ("grading: frechet_distance in a lambda", graded(checks.check_frechet_distance,
                                                     lambda *args: metrics.frechet_distance(*args)),
     fails_check("library's own")),
    ("grading: inception score from the library", graded(checks.check_inception_score,
                                                         lambda p: metrics.inception_score_from_probabilities(p)),
     fails_check("inception_score_from_probabilities")),
    ("grading: pack from the library", graded(checks.check_pack, lambda x, m: stabilize.pack_samples(x, m)),
     fails_check("pack_samples")),
    ("grading: power_iteration from the library", graded(checks.check_power_iteration,
                                                         lambda w, u, s: gan.power_iteration(w, u, s)),
     fails_check("library's own")),
    ("grading: ema_update from the library", graded(checks.check_ema_update,
                                                    lambda a, mod, d: stabilize.ema_update(a, mod, d)),
     fails_check("library's own")),
    ("grading: gradient_penalty from the library", graded(checks.check_gradient_penalty,
                                                          lambda c, r, f: gan.gradient_penalty(c, r, f)),
     fails_check("library's own")),
    ("grading: label_accuracy from the library", graded(checks.check_label_accuracy,
                                                        conditional.label_accuracy_from_probabilities),
     fails_check("library's own")),
    ("grading: reverse_kl from the library", graded(checks.check_reverse_kl, lambda c: metrics.kl_from_uniform(
        c / c.sum()) if c.sum() else float("inf")), fails_check("kl_from_uniform")),
    ("grading: reparameterize in a lambda", graded(checks.check_reparameterize,
                                                   lambda mu, lv: vae.reparameterize(mu, lv)),
     fails_check("library's own")),
    ("grading: elbo in a lambda", graded(checks.check_elbo, lambda model, x, beta=1.0: vae.elbo(model, x, beta)),
     fails_check("library's own")),
    ("grading: iwae_bound in a lambda", graded(checks.check_iwae_bound, lambda model, x, k: vae.iwae_bound(model, x, k)),
     fails_check("library's own")),
    ("grading: gan_step in a lambda", graded(checks.check_gan_step, lambda g, d, og, od, real: gan.gan_step(
        g, d, og, od, real)), fails_check("library's own")),
    ("grading: precision_recall in a lambda", graded(checks.check_precision_recall,
                                                     lambda r, f, k: metrics.precision_recall(r, f, k)),
     fails_check("library's own")),
    ("grading: a bound method of the library", graded(checks.check_gaussian_kl, vae.gaussian_kl.__get__(0)),
     fails_check("library's own")),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 80 and len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name, call, expect", CASES, ids=[name for name, _, _ in CASES])
def test_bad_input_gets_a_clear_answer(name, call, expect, tmp_path, monkeypatch, capsys):
    how, kind, fragment = expect
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)
    monkeypatch.delenv("TUTORIAL_DEVICE", raising=False)
    if how == "raises":
        with pytest.raises(kind) as error:
            call(tmp_path, monkeypatch)
        assert fragment in str(error.value), f"{name}: {error.value}"
    else:
        verdict = call(tmp_path, monkeypatch)
        out = capsys.readouterr().out
        assert verdict is False and fragment in out, f"{name}: {out}"
        assert "✅" not in out


def test_the_same_calls_succeed_on_good_input(tmp_path, monkeypatch, capsys):
    """Good input passes the same functions (so the rows fail for the stated reason, not any reason)."""
    monkeypatch.delenv("TUTORIAL_CHECKS_STRICT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = checkpoints.save_checkpoint("~/ck/x.pt", value=torch.ones(2))
    assert path == tmp_path / "ck" / "x.pt" and torch.equal(checkpoints.load_checkpoint("~/ck/x.pt")["value"],
                                                            torch.ones(2))
    assert train_vae_into(tmp_path / "vae.pt").epochs == 1
    assert with_device_variable("cpu", monkeypatch) == torch.device("cpu")
    assert with_device_variable("cuda:0", monkeypatch, cuda=True, gpus=1) == torch.device("cuda:0")
    if not needs_mnist:
        assert len(mnist_copy(tmp_path / "m", monkeypatch)) == 10_000
        assert len(mnist_copy(tmp_path / "n", monkeypatch, md5sums=True)) == 10_000
    assert checks.check_gaussian_kl(by_hand_kl) is True
    assert checks.check_power_iteration(gan.power_iteration) is True
    assert checks.check_generator_loss(functools.partial(gan.generator_loss, kind="nonsaturating")) is True
