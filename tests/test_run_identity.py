"""A run is never silently reused or overwritten: resuming with other settings is an error listing them, a larger
budget continues, a call that trains nothing writes nothing, one trainer per checkpoint path (stale locks taken
over), saves hold plain values, are verified, atomic even when interrupted mid-write, and get the umask's mode."""
import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from tutorial_lib import checkpoints, train
from tutorial_lib.checkpoints import CheckpointLock, CheckpointLocked, RunMismatch
from tutorial_lib.gan import MLPDiscriminator, MLPGenerator, gan_step
from tutorial_lib.train import GANRecipe, load_checkpoint, save_checkpoint, train_gan, train_vae
from tutorial_lib.vae import VAE


def tiny_data(n=32, batch=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=g).round()
    return [(images[i:i + batch], torch.zeros(batch)) for i in range(0, n, batch)]


def tiny_vae(**kw):
    torch.manual_seed(0)
    return VAE(**{"latent_dim": 2, "hidden": 16, **kw})


POINTS = torch.randn(128, 2, generator=torch.Generator().manual_seed(1))


def tiny_gan(**kw):
    torch.manual_seed(0)
    return MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1, **kw)


def fingerprint(path):
    return path.read_bytes(), path.stat().st_mtime_ns


VAE_BASE = dict(epochs=1, lr=1e-3, beta=1.0, device="cpu")


@pytest.mark.parametrize("change, listed", [
    (dict(beta=8.0), "beta: the checkpoint has 1.0, this call has 8.0"),
    (dict(lr=1e-2), "lr: the checkpoint has 0.001, this call has 0.01"),
    (dict(kl_warmup_steps=10), "kl_warmup_steps: the checkpoint has 0, this call has 10"),
    (dict(lr_schedule="cosine"), "lr_schedule: the checkpoint has 'constant', this call has 'cosine'"),
    (dict(model=dict(hidden=32)), "model.config.hidden: the checkpoint has 16, this call has 32"),
    (dict(model=dict(activation="elu")), "model.config.activation"),
    (dict(data=dict(seed=1)), "loader.fingerprint"),
    (dict(data=dict(batch=16)), "loader.fingerprint"),
    (dict(data=dict(n=40)), "loader.samples: the checkpoint has 32, this call has 40"),
])
def test_resuming_a_vae_with_other_settings_lists_them_and_changes_nothing(tmp_path, change, listed):
    path = tmp_path / "vae.pt"
    train_vae(tiny_vae(), tiny_data(), checkpoint=path, **VAE_BASE)
    before = fingerprint(path)
    options = {**VAE_BASE, **{k: v for k, v in change.items() if k not in ("model", "data")}}
    model = tiny_vae(**change.get("model", {}))
    with pytest.raises(RunMismatch) as error:
        train_vae(model, tiny_data(**change.get("data", {})), checkpoint=path, **{**options, "epochs": 3})
    message = str(error.value)
    assert listed in message and str(path) in message
    assert "resume=False" in message and "new checkpoint name" in message
    assert fingerprint(path) == before  # nothing trained, nothing written
    assert not any(p.name.endswith(".lock") for p in tmp_path.iterdir())  # the lock was released


def test_the_issue_case_beta_1_then_beta_8_is_refused_and_resume_false_starts_afresh(tmp_path):
    path = tmp_path / "vae.pt"
    first = tiny_vae()
    train_vae(first, tiny_data(), epochs=2, checkpoint=path, device="cpu")
    with pytest.raises(RunMismatch, match=r"beta.*\n.*lr"):
        train_vae(tiny_vae(), tiny_data(), epochs=2, beta=8.0, lr=1e-2, checkpoint=path, device="cpu")
    again = tiny_vae()
    history = train_vae(again, tiny_data(), epochs=2, beta=8.0, lr=1e-2, checkpoint=path, device="cpu", resume=False)
    assert history.steps == 8 and load_checkpoint(path)["run"]["beta"] == 8.0
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))


def test_a_larger_budget_is_the_same_run_and_continues(tmp_path):
    path = tmp_path / "vae.pt"
    train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=path, device="cpu", max_seconds=100)
    more = train_vae(tiny_vae(), tiny_data(), epochs=3, checkpoint=path, device="cpu", max_seconds=200)
    assert more.epochs == 3 and load_checkpoint(path)["history"]["steps"] == 12
    gpath = tmp_path / "gan.pt"
    train_gan(*tiny_gan(), POINTS, RECIPE, steps=2, device="cpu", checkpoint=gpath)
    assert train_gan(*tiny_gan(), POINTS, RECIPE, steps=5, device="cpu", checkpoint=gpath).steps == 5


RECIPE = GANRecipe(batch_size=16)
GAN_BASE = dict(steps=2, device="cpu")


def my_step(generator, discriminator, opt_g, opt_d, real):
    return gan_step(generator, discriminator, opt_g, opt_d, real)


@pytest.mark.parametrize("change, listed", [
    (dict(loss="hinge"), "recipe.loss: the checkpoint has 'nonsaturating', this call has 'hinge'"),
    (dict(n_critic=2), "recipe.n_critic: the checkpoint has 1, this call has 2"),
    (dict(gp_weight=10.0), "recipe.gp_weight: the checkpoint has 0.0, this call has 10.0"),
    (dict(r1_weight=1.0), "recipe.r1_weight: the checkpoint has 0.0, this call has 1.0"),
    (dict(lr_g=1e-3), "recipe.lr_g: the checkpoint has 0.0002, this call has 0.001"),
    (dict(lr_d=1e-3), "recipe.lr_d: the checkpoint has 0.0002, this call has 0.001"),
    (dict(betas=(0.0, 0.9)), "recipe.betas: the checkpoint has (0.5, 0.999), this call has (0.0, 0.9)"),
    (dict(batch_size=32), "recipe.batch_size: the checkpoint has 16, this call has 32"),
    (dict(lr_schedule="cosine"), "recipe.lr_schedule"),
    (dict(optimizer="rmsprop"), "recipe.optimizer: the checkpoint has 'adam', this call has 'rmsprop'"),
    (dict(clip_weights=0.01), "recipe.clip_weights: the checkpoint has None, this call has 0.01"),
    (dict(feature_matching=True), "recipe.feature_matching"),
    (dict(label_smoothing=0.1), "recipe.label_smoothing"),
    (dict(step=my_step), "recipe.step: the checkpoint has None, this call has 'test_run_identity.my_step'"),
    (dict(spectral_norm=True), "discriminator.config.spectral_norm: the checkpoint has False, this call has True"),
    (dict(data=POINTS * 2), "data.fingerprint"),
])
def test_resuming_a_gan_with_another_recipe_names_the_changed_fields_and_changes_nothing(tmp_path, change, listed):
    path = tmp_path / "gan.pt"
    train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=path, **GAN_BASE)
    before = fingerprint(path)
    change = dict(change)
    g, d = tiny_gan(spectral_norm=change.pop("spectral_norm", False))
    data = change.pop("data", POINTS)
    with pytest.raises(RunMismatch) as error:
        train_gan(g, d, data, RECIPE.replace(**change), checkpoint=path, **{**GAN_BASE, "steps": 4})
    assert listed in str(error.value) and "resume=False" in str(error.value)
    assert str(error.value).count(": the checkpoint has") == 1  # only what changed
    assert fingerprint(path) == before


def test_one_step_function_is_not_another(tmp_path):
    path = tmp_path / "gan.pt"
    train_gan(*tiny_gan(), POINTS, RECIPE.replace(step=my_step), checkpoint=path, **GAN_BASE)
    assert train_gan(*tiny_gan(), POINTS, RECIPE.replace(step=my_step), checkpoint=path, steps=3,
                     device="cpu").steps == 3  # the same function: the same run, continued
    with pytest.raises(RunMismatch, match=r"recipe.step: the checkpoint has 'test_run_identity.my_step', this call "
                                          r"has \"partial\(tutorial_lib.gan.gan_step, loss='hinge'\)\""):
        train_gan(*tiny_gan(), POINTS, RECIPE.replace(step=functools.partial(gan_step, loss="hinge")),
                  checkpoint=path, steps=4, device="cpu")


def test_a_checkpoint_from_before_the_recipe_resumes_when_its_options_are_the_recipes(tmp_path):
    """A run recorded with the options at the top level (train_gan's former keyword arguments) is the same run as
    the recipe with those values, and a different recipe is still refused by name."""
    path = tmp_path / "gan.pt"
    recipe = RECIPE.replace(lr_g=1e-3)
    train_gan(*tiny_gan(), POINTS, recipe, checkpoint=path, **GAN_BASE)
    state = load_checkpoint(path)
    old = {name: value for name, value in state["run"]["recipe"].items() if name not in ("r1_weight", "step")}
    state["run"] = {**{k: v for k, v in state["run"].items() if k != "recipe"}, **old}
    save_checkpoint(path, **state)
    assert train_gan(*tiny_gan(), POINTS, recipe, checkpoint=path, steps=3, device="cpu").steps == 3
    with pytest.raises(RunMismatch, match="recipe.lr_g: the checkpoint has 0.001, this call has 0.0002"):
        train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=path, steps=5, device="cpu")


def test_a_call_that_trains_no_step_does_not_rewrite_the_file(tmp_path):
    vpath, gpath = tmp_path / "vae.pt", tmp_path / "gan.pt"
    train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=vpath, device="cpu")
    train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=gpath, **GAN_BASE)
    before = fingerprint(vpath), fingerprint(gpath)
    time.sleep(0.01)
    train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=vpath, device="cpu")
    train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=gpath, **GAN_BASE)
    assert (fingerprint(vpath), fingerprint(gpath)) == before
    # a spent time budget trains nothing either
    bpath = tmp_path / "budget.pt"
    train_vae(tiny_vae(), tiny_data(n=256), epochs=1000, checkpoint=bpath, device="cpu", max_seconds=0.2)
    spent = fingerprint(bpath)
    train_vae(tiny_vae(), tiny_data(n=256), epochs=1000, checkpoint=bpath, device="cpu", max_seconds=0.2)
    assert fingerprint(bpath) == spent


def test_a_checkpoint_without_run_settings_resumes_with_a_warning(tmp_path):
    path = tmp_path / "vae.pt"
    train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=path, device="cpu")
    state = load_checkpoint(path)
    del state["run"]
    save_checkpoint(path, **state)
    with pytest.warns(UserWarning, match="records no run settings"):
        assert train_vae(tiny_vae(), tiny_data(), epochs=2, checkpoint=path, device="cpu").epochs == 2


# ---- plain values, verified and atomic saves, file modes, permissions ----

def test_numpy_scalars_in_the_settings_round_trip_with_weights_only(tmp_path):
    path = tmp_path / "vae.pt"
    train_vae(tiny_vae(), tiny_data(), epochs=1, beta=np.float64(1.0), lr=np.float32(1e-3), max_seconds=np.float64(60),
              checkpoint=path, device="cpu")
    state = torch.load(path, weights_only=True)
    assert type(state["budget_s"]) is float and state["budget_s"] == 60.0 and type(state["run"]["beta"]) is float
    # resuming with the same numpy values is the same run
    assert train_vae(tiny_vae(), tiny_data(), epochs=2, beta=np.float64(1.0), lr=np.float32(1e-3),
                     checkpoint=path, device="cpu").epochs == 2
    save_checkpoint(tmp_path / "x.pt", a=np.int64(3), b=np.arange(3), c=[np.float32(0.5)], d=tmp_path)
    loaded = load_checkpoint(tmp_path / "x.pt")
    assert type(loaded["a"]) is int and loaded["a"] == 3 and torch.equal(loaded["b"], torch.arange(3))
    assert type(loaded["c"][0]) is float and loaded["d"] == str(tmp_path)


def test_an_unsafe_value_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(TypeError, match=r"state\['extra'\] is a .*Custom.*weights_only=True"):
        save_checkpoint(tmp_path / "x.pt", extra=Custom())
    assert list(tmp_path.iterdir()) == []


class Custom:
    pass


def test_a_save_interrupted_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "model.pt", value=torch.arange(1000.0))
    real_save = torch.save

    def half_then_crash(obj, file, *args, **kwargs):
        import io

        buffer = io.BytesIO()
        real_save(obj, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # half the bytes reach the disk
        file.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, value=torch.zeros(1000))
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["value"], torch.arange(1000.0))
    assert os.listdir(tmp_path) == ["model.pt"]  # no temporary file left behind


def test_each_save_is_read_back_before_it_replaces_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "model.pt", value=torch.tensor(1.0))
    reads = []
    real_load = torch.load

    def unreadable(file, *args, **kwargs):
        reads.append((str(file), kwargs.get("weights_only")))
        raise RuntimeError("simulated unreadable file")

    monkeypatch.setattr(torch, "load", unreadable)
    with pytest.raises(RuntimeError, match="could not be read back"):
        save_checkpoint(path, value=torch.tensor(2.0))
    monkeypatch.setattr(torch, "load", real_load)
    assert reads and reads[0][1] is True and reads[0][0] != str(path)  # the temporary file, weights_only
    assert load_checkpoint(path)["value"] == 1.0 and os.listdir(tmp_path) == ["model.pt"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_checkpoints_get_the_umask_default_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "m.pt", value=torch.tensor(1.0))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_an_unwritable_folder_is_a_permission_error_before_training(tmp_path, monkeypatch):
    model = tiny_vae()
    before = [p.detach().clone() for p in model.parameters()]
    monkeypatch.setattr(checkpoints.os, "access", lambda path, mode: False)
    with pytest.raises(PermissionError, match="Cannot write in"):
        train_vae(model, tiny_data(), epochs=1, checkpoint=tmp_path / "vae.pt", device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no step was trained


def test_an_unreadable_checkpoint_is_a_permission_error_not_corruption(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", value=torch.tensor(1.0))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(PermissionError, match="probably fine") as error:
        load_checkpoint(path)
    assert "delete" not in str(error.value)


# ---- one trainer per checkpoint path ----

HOLDER = textwrap.dedent("""
    import sys, time
    from tutorial_lib.checkpoints import CheckpointLock
    lock = CheckpointLock(sys.argv[1])
    print("locked", flush=True)
    time.sleep(120)
""")


def start_holder(path):
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_trainer_gets_an_error_naming_the_path_and_the_holder(tmp_path, capsys):
    path = tmp_path / "vae.pt"
    holder = start_holder(path)
    try:
        with pytest.raises(CheckpointLocked) as error:
            train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=path, device="cpu")
        assert str(path) in str(error.value) and f"pid {holder.pid}" in str(error.value)
        assert not path.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without releasing: its lock is taken over
    assert (tmp_path / ".vae.pt.lock").exists()
    assert train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=path, device="cpu").epochs == 1
    assert f"left by a run that no longer runs (pid {holder.pid}" in capsys.readouterr().out
    assert not (tmp_path / ".vae.pt.lock").exists()


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".gan.pt.lock").write_text(f"pid {dead.stdout.strip()} on somewhere since 00:00:00")
    assert train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=tmp_path / "gan.pt", **GAN_BASE).steps == 2


def test_the_lock_is_held_while_training_and_released_after_errors(tmp_path):
    path = tmp_path / "gan.pt"
    seen = []

    def try_to_lock(step, g, d):
        with pytest.raises(CheckpointLocked, match="this very process"):
            CheckpointLock(path)
        seen.append(step)

    train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=path, callback=try_to_lock, every=1, **GAN_BASE)
    assert seen == [1, 2]

    def boom(step, g, d):
        raise ValueError("a failing callback")

    # the tracebacks stay alive (as Jupyter keeps the last one), so nothing is released by garbage collection
    with pytest.raises(ValueError, match="a failing callback") as gan_failure:
        train_gan(*tiny_gan(), POINTS, RECIPE, checkpoint=path, callback=boom, every=1, **{**GAN_BASE, "steps": 4})
    with pytest.raises(RuntimeError) as vae_failure:
        train_vae(tiny_vae(), tiny_data(), epochs=1, checkpoint=tmp_path / "v.pt", device="cpu",
                  callback=lambda m, h: (_ for _ in ()).throw(RuntimeError("stop")))
    for name in ("gan.pt", "v.pt"):
        CheckpointLock(tmp_path / name).release()  # free again
    assert gan_failure.tb is not None and vae_failure.tb is not None


def test_describe_data_tells_loaders_and_tensors_apart():
    from torch.utils.data import DataLoader, TensorDataset

    from tutorial_lib.checkpoints import describe_data

    a = torch.rand(20, 2, generator=torch.Generator().manual_seed(0))
    same = describe_data(DataLoader(TensorDataset(a), batch_size=4))
    other = describe_data(DataLoader(TensorDataset(a + 1), batch_size=4))
    assert same == describe_data(DataLoader(TensorDataset(a.clone()), batch_size=4)) and same != other
    assert same["batch_size"] == 4 and same["samples"] == 20
    assert describe_data(a) == describe_data(a.clone()) != describe_data(a[:19])
