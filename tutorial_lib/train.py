"""Training loops for the course's models, and what they share: history, NaN guard, safe checkpoints.

Checkpoints (`tutorial_lib.checkpoints`) are written atomically and verified, read back with
``torch.load(..., weights_only=True)``, locked while a run trains, and record the run's settings: resuming
with other settings is an error that lists them.
"""
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoints import (CheckpointLock, CheckpointLocked, RunMismatch, check_same_run,  # noqa: F401 (re-exported)
                          load_checkpoint, run_settings, save_checkpoint)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message says which step and what learning rate to try."""


@dataclass
class History:
    """What a training run records: one value per step for each named loss, and the wall time.

    ``history.losses["loss"]`` is a list of floats; ``history.wall_time`` is in seconds.
    """

    losses: dict = field(default_factory=dict)
    wall_time: float = 0.0
    steps: int = 0
    epochs: int = 0

    def log(self, **values):
        """Append one value per name (floats or 0-d tensors) for the current step."""
        for name, value in values.items():
            self.losses.setdefault(name, []).append(float(value))

    def mean(self, name, last=None):
        """Mean of the last `last` values of loss `name` (all of them when None)."""
        values = self.losses[name][-last:] if last else self.losses[name]
        return sum(values) / max(len(values), 1)

    def state_dict(self):
        return {"losses": {k: list(v) for k, v in self.losses.items()}, "wall_time": self.wall_time,
                "steps": self.steps, "epochs": self.epochs}

    @classmethod
    def from_state_dict(cls, state):
        return cls(losses={k: list(v) for k, v in state["losses"].items()}, wall_time=float(state["wall_time"]),
                   steps=int(state["steps"]), epochs=int(state["epochs"]))


def check_finite(loss, *, step, lr, name="loss"):
    """Raise `TrainingDiverged` when `loss` (a tensor or float) is NaN or infinite."""
    value = float(loss)
    if value != value or value in (float("inf"), float("-inf")):
        raise TrainingDiverged(
            f"The {name} became {value} at step {step}, so training stopped (the weights are unusable from here). "
            f"Lower the learning rate, e.g. lr={lr / 10:g} instead of lr={lr:g}, and start again from a fresh model "
            f"or the last checkpoint.")


def restore(state, **modules):
    """Load ``state[name]`` into each module/optimizer given as ``name=object``, with a clear error on mismatch."""
    for name, module in modules.items():
        if name not in state:
            raise KeyError(f"The checkpoint has no entry {name!r} (it has {sorted(state)}); delete it and train again.")
        try:
            module.load_state_dict(state[name])
        except (RuntimeError, ValueError, KeyError) as error:
            raise RuntimeError(f"The checkpoint's {name!r} does not fit this model ({error}). It was probably saved "
                               "for another architecture: delete the file or pass resume=False.") from None


class Stopwatch:
    """Accumulates wall time into a History: ``with Stopwatch(history): ...``."""

    def __init__(self, history):
        self.history = history

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.history.wall_time += time.perf_counter() - self.start
        return False


# ---- What both training loops share: the learning-rate schedule ----

LR_SCHEDULES = ("constant", "cosine")


def _check_schedule(lr_schedule):
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown lr_schedule {lr_schedule!r}: use one of {LR_SCHEDULES}.")


def _scheduled_lr(lr, schedule, history, total_steps, max_seconds, elapsed):
    """The learning rate of the next step: constant, or cosine-decayed to 0 over the run, where the run's progress
    is the larger of the fraction of steps done and the fraction of the time budget spent."""
    if schedule == "constant":
        return lr
    done = history.steps / max(total_steps, 1)
    if max_seconds is not None:
        done = max(done, elapsed / max_seconds)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0)))


# ---- VAE training: train_vae (written with the VAE lessons) ----

def train_vae(model, loader, epochs, lr=1e-3, beta=1.0, device=None, checkpoint=None, resume=True,
              max_seconds=None, kl_warmup_steps=0, lr_schedule="constant", callback=None):
    """Train a VAE by maximizing the ELBO (Adam on ``-elbo(model, x, beta).mean()``); returns a `History`.

    loader: yields (images N x 1 x 28 x 28 in [0, 1], labels) batches, e.g. ``data.mnist_loader(...)``.
    History logs per step ``loss`` (the minimized objective), ``reconstruction`` (mean -log p(x|z)) and ``kl``
    (mean KL(q(z|x) || p(z))); ``history.epochs`` counts whole epochs and ``history.wall_time`` the training time.
    beta: weight of the KL term (beta-VAE); kl_warmup_steps: the weight rises linearly from 0 to beta over these
        first steps (KL warm-up). lr_schedule: "constant", or "cosine" (decays to 0 at the end of the run, which
        is `epochs` or `max_seconds`, whichever comes first).
    checkpoint: a path; written atomically (model, optimizer, history, ``config`` = model.config) after every epoch
        and when training stops; when it exists (and `resume`), training continues from it up to `epochs` in total.
    max_seconds: stop once the training wall time, resumed runs included, reaches this budget (possibly mid-epoch).
    callback: called as ``callback(model, history)`` after every epoch; its time is not counted as training.
    A NaN or infinite loss stops training with `TrainingDiverged`, naming a learning rate to try.
    """
    run = run_settings(train_vae, locals())
    from .runtime import get_device
    from .vae import _check_pixels, vae_train_step

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    _check_schedule(lr_schedule)
    if not (beta >= 0 and lr > 0 and kl_warmup_steps >= 0):
        raise ValueError(f"need beta >= 0, lr > 0 and kl_warmup_steps >= 0, got beta={beta!r}, lr={lr!r}, "
                         f"kl_warmup_steps={kl_warmup_steps!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0 or None, got {max_seconds!r}")
    device = get_device(device)
    was_training = model.training
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, lock = open_run(checkpoint, resume, run, model=model, optimizer=optimizer)
    saved_steps = [history.steps]
    if history.steps:
        print(f"Resumed from {checkpoint}: {history.epochs} epochs, {history.steps} steps, "
              f"{history.wall_time:.0f} s of training done.")
    steps_per_epoch = len(loader) if hasattr(loader, "__len__") else 0
    total_steps = epochs * steps_per_epoch

    def save():
        if checkpoint is not None and history.steps != saved_steps[0]:  # a call that trains nothing writes nothing
            save_checkpoint(checkpoint, kind="vae", model=model.state_dict(), optimizer=optimizer.state_dict(),
                            history=history.state_dict(), config=dict(getattr(model, "config", {})),
                            beta=float(beta), lr=float(lr), budget_s=max_seconds, run=run)
            saved_steps[0] = history.steps

    bar = RunProgress(total_steps, max_seconds, history.steps, history.wall_time, desc="VAE steps")
    interrupted = out_of_time = checked_input = False
    try:
        while history.epochs < epochs and not out_of_time:
            with Stopwatch(history) as watch:
                for batch in loader:
                    out_of_time = time_is_up(history, watch, max_seconds)
                    if out_of_time:
                        break
                    x = (batch[0] if isinstance(batch, (tuple, list)) else batch).to(device, non_blocking=True)
                    if checked_input is False:
                        _check_pixels(x)  # once: a Bernoulli decoder needs images in [0, 1], not normalized ones
                        checked_input = True
                    for group in optimizer.param_groups:
                        group["lr"] = _scheduled_lr(lr, lr_schedule, history, total_steps, max_seconds,
                                                    history.wall_time + time.perf_counter() - watch.start)
                    weight = beta * min(1.0, (history.steps + 1) / kl_warmup_steps) if kl_warmup_steps else beta
                    loss, reconstruction, kl = vae_train_step(model, optimizer, x, weight, return_terms=True)
                    check_finite(loss, step=history.steps, lr=lr)  # the step made no update if it is not finite
                    history.log(loss=loss, reconstruction=reconstruction, kl=kl)
                    history.steps += 1
                    bar.update(1)
                    if history.steps % 50 == 0:
                        bar.set_postfix(loss=f"{history.mean('loss', last=50):.2f}", refresh=False)
                else:
                    history.epochs += 1
            save()
            if callback is not None and not out_of_time:
                callback(model, history)
    except KeyboardInterrupt:
        interrupted = True
        save()
    finally:
        bar.close()
        lock.release()
        model.train(was_training)
    if interrupted:
        raise KeyboardInterrupt(f"training interrupted at step {history.steps}"
                                + (f"; saved to {checkpoint}, run again to resume" if checkpoint else ""))
    if out_of_time:
        print(f"Stopped by the time budget of {max_seconds:g} s after {history.steps} steps "
              f"({history.epochs} whole epochs).")
    return history


# ---- GAN training: train_gan (written with the GAN lessons) ----

from .gan import _check_kind, discriminator_loss, generator_loss, gradient_penalty  # noqa: E402  (gan never imports train)
from .gan import (clip_weights_, discriminator_features, feature_matching_loss,  # noqa: E402
                  smoothed_discriminator_loss)
from .runtime import RunProgress, get_device  # noqa: E402


def start_or_resume(checkpoint, resume=True, run=None, **modules):
    """The History to continue: the one saved in `checkpoint` (after checking that it was trained with the settings
    `run`, see `checkpoints.check_same_run`, and loading each module/optimizer given as ``name=object`` from it)
    when `resume` and the file exists, else a fresh one. Shared by the training loops."""
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        if run is not None:
            check_same_run(checkpoint, state.get("run"), run)
        restore(state, **modules)
        return History.from_state_dict(state["history"])
    return History()


def open_run(checkpoint, resume, run, **modules):
    """Lock `checkpoint` for this run (`checkpoints.CheckpointLock`), then `start_or_resume`; returns
    ``(history, lock)``. Call ``lock.release()`` when training ends (the lock is released here if resuming fails)."""
    lock = CheckpointLock(checkpoint)
    try:
        return start_or_resume(checkpoint, resume, run, **modules), lock
    except BaseException:
        lock.release()
        raise


def checkpoint_path(name):
    """Where a notebook keeps its training checkpoint: ``data/checkpoints/<name>-fast.pt`` (fast mode) or
    ``-full.pt`` in the course folder (on Colab: in the working folder's ``data/``), never in a shared data folder."""
    from .data import _repo_root
    from .runtime import FAST

    if not name or any(sep in str(name) for sep in "/\\"):
        raise ValueError(f"name must be a plain file stem like 'dcgan', got {name!r}")
    return _repo_root() / "data" / "checkpoints" / f"{name}-{'fast' if FAST else 'full'}.pt"


def time_is_up(history, watch, max_seconds):
    """True once the run's wall time (earlier, resumed runs included) reaches `max_seconds`; never when None.

    watch: the running `Stopwatch` whose time is not yet added to ``history.wall_time``."""
    return max_seconds is not None and history.wall_time + time.perf_counter() - watch.start >= max_seconds


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_real(x):
    """Real data for train_gan: finite floats; images (N x C x H x W) in [0, 1], the generators' range."""
    from . import validate

    try:
        validate.images(x, "the real data", shape=None, value_range=x.dim() == 4)
    except ValueError as error:
        if x.dim() != 4:
            raise
        raise ValueError(f"{error} train_gan's image generators output [0, 1] (the data's convention), so the real "
                         "images must be in [0, 1] too: drop the Normalize((0.5,), (0.5,)) transform, or use "
                         "tutorial_lib.data.mnist_loader.") from None


def _real_batches(data, batch_size, pack, device, history):
    """Endless real batches: random rows of a tensor N x D, or the (images, labels) batches of a loader,
    pass after pass (counting epochs in `history`), trimmed to a multiple of `pack`."""
    if isinstance(data, torch.Tensor):
        if data.dim() < 2 or len(data) == 0:
            raise ValueError(f"data must be a tensor N x D of real samples (or a loader), got shape {tuple(data.shape)}")
        _check_real(data)
        data = data.to(device)
        while True:
            yield data[torch.randint(len(data), (batch_size,), device=device)]
    while True:
        seen = False
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = x[:len(x) - len(x) % pack]
            if len(x):
                if not seen and not history.epochs:
                    _check_real(x)  # the first batch: e.g. a loader normalized to [-1, 1]
                seen = True
                yield x.to(device)
        if not seen:
            raise ValueError(f"data yielded no batch of at least pack={pack} samples: pass a tensor N x D or a "
                             "non-empty loader of (images, labels) batches")
        history.epochs += 1


def _pack(x, pack):
    """Concatenate each group of `pack` consecutive samples into one input: N x D -> N/pack x pack*D, images
    N x C x H x W -> N/pack x pack*C x H x W (PacGAN)."""
    return x if pack == 1 else x.reshape(len(x) // pack, -1, *x.shape[2:])


def train_gan(generator, discriminator, data, steps, loss="nonsaturating", n_critic=1, gp_weight=0.0, pack=1,
              lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64, device=None, checkpoint=None, resume=True,
              max_seconds=None, lr_schedule="constant", callback=None, every=100, optimizer="adam", clip_weights=None,
              feature_matching=False, label_smoothing=0.0):
    """Train a GAN with alternating updates (Adam on both sides); returns a `History`.

    Each of the `steps` generator steps follows `n_critic` discriminator steps, each on a fresh real batch and a
    fresh fake batch of the same size. History logs per generator step ``d_loss`` (mean over its critic steps,
    without the penalty), ``g_loss`` and, when ``gp_weight > 0``, ``gp``; ``history.steps`` counts generator steps.

    data: a tensor N x D of real samples (batches of `batch_size` drawn with replacement), or an iterable of
        (images, labels) batches such as `data.mnist_loader` (its own batch size is used; images in [0, 1]).
    loss: "minimax", "nonsaturating", "wasserstein" or "hinge" (see `gan`); gp_weight: weight of
        `gan.gradient_penalty` in the critic's loss (10 for WGAN-GP).
    pack: PacGAN; the discriminator sees `pack` samples at once (build it with the same ``pack=``). batch_size counts
        samples, so each batch gives the discriminator batch_size / pack packed inputs.
    checkpoint: a path; written atomically at the end (also when interrupted), and when it exists (and
        `resume`) training continues from it up to `steps` in total.
    max_seconds: stop once the training wall time, resumed runs included, reaches this budget.
    lr_schedule: "constant", or "cosine" (both learning rates decay to 0 at the end of the run, which is `steps` or
        `max_seconds`, whichever comes first).
    callback: called as ``callback(step, generator, discriminator)`` after every `every` generator steps (e.g. to
        keep snapshots of samples); its time is not counted as training time.
    optimizer: "adam" (with `betas`) or "rmsprop" (the original WGAN's), for both networks.
    clip_weights: clamp the critic's weights to [-clip_weights, clip_weights] after each of its steps (WGAN, 0.01).
    feature_matching: the generator minimizes `gan.feature_matching_loss` on the discriminator's last hidden layer
        (real batch of its last critic step vs its fakes) instead of `loss`'s generator loss (Salimans et al. 2016).
    label_smoothing: one-sided label smoothing, the real samples' target is 1 - label_smoothing in the
        discriminator's cross-entropy (`gan.smoothed_discriminator_loss`; "minimax"/"nonsaturating" only).
    A NaN or infinite loss stops training with `TrainingDiverged`, naming a learning rate to try.
    """
    run = run_settings(train_gan, locals())
    _check_kind(loss)
    if optimizer not in ("adam", "rmsprop"):
        raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {optimizer!r}")
    if clip_weights is not None and not clip_weights > 0:
        raise ValueError(f"clip_weights must be > 0 or None, got {clip_weights!r}")
    if not 0 <= label_smoothing < 1 or (label_smoothing and loss not in ("minimax", "nonsaturating")):
        raise ValueError(f"label_smoothing must be in [0, 1) and needs a cross-entropy loss ('minimax' or "
                         f"'nonsaturating'), got {label_smoothing!r} with loss={loss!r}")
    _check_schedule(lr_schedule)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    for name, value in (("n_critic", n_critic), ("pack", pack), ("batch_size", batch_size), ("every", every)):
        _positive_int(name, value)
    if not gp_weight >= 0:
        raise ValueError(f"gp_weight must be >= 0, got {gp_weight!r}")
    if batch_size % pack:
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of pack ({pack})")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0 or None, got {max_seconds!r}")
    if getattr(discriminator, "pack", pack) != pack:
        raise ValueError(f"the discriminator was built for pack={discriminator.pack} but train_gan got pack={pack}: "
                         "pass the same value to both")
    if not hasattr(generator, "latent_dim"):
        raise ValueError("the generator needs a `latent_dim` attribute (the size of its noise input)")
    device = get_device(device)
    modes = generator.training, discriminator.training
    generator.to(device).train()
    discriminator.to(device).train()
    make = (lambda params, lr: torch.optim.Adam(params, lr=lr, betas=betas)) if optimizer == "adam" else (
        lambda params, lr: torch.optim.RMSprop(params, lr=lr))
    opt_g, opt_d = make(generator.parameters(), lr_g), make(discriminator.parameters(), lr_d)
    history, lock = open_run(checkpoint, resume, run, generator=generator, discriminator=discriminator,
                             opt_g=opt_g, opt_d=opt_d)
    start_steps = history.steps
    if history.steps:
        print(f"Resumed from {checkpoint}: {history.steps} steps, {history.wall_time:.0f} s of training done.")
    real_batches = _real_batches(data, batch_size, pack, device, history)

    def fake_batch(n):
        return generator(torch.randn(n, generator.latent_dim, device=device))

    bar = RunProgress(steps, max_seconds, history.steps, history.wall_time, desc="GAN steps")
    interrupted = False
    with Stopwatch(history) as watch:
        try:
            while history.steps < steps and not time_is_up(history, watch, max_seconds):
                elapsed = history.wall_time + time.perf_counter() - watch.start
                for optimizer, lr in ((opt_d, lr_d), (opt_g, lr_g)):
                    for group in optimizer.param_groups:
                        group["lr"] = _scheduled_lr(lr, lr_schedule, history, steps, max_seconds, elapsed)
                d_losses, penalties = [], []
                for _ in range(n_critic):
                    real = next(real_batches)
                    with torch.no_grad():
                        fake = fake_batch(len(real))
                    real, fake = _pack(real, pack), _pack(fake, pack)
                    if label_smoothing:
                        d_loss = smoothed_discriminator_loss(discriminator(real), discriminator(fake),
                                                             1 - label_smoothing)
                    else:
                        d_loss = discriminator_loss(discriminator(real), discriminator(fake), loss)
                    total = d_loss
                    if gp_weight > 0:
                        penalty = gradient_penalty(discriminator, real, fake)
                        total = d_loss + gp_weight * penalty
                        penalties.append(penalty.item())
                    check_finite(total.detach(), step=history.steps, lr=lr_d, name="discriminator loss")
                    opt_d.zero_grad(set_to_none=True)
                    total.backward()
                    opt_d.step()
                    if clip_weights is not None:
                        clip_weights_(discriminator, clip_weights)
                    d_losses.append(d_loss.item())
                fake = _pack(fake_batch(len(real) * pack), pack)
                if feature_matching:
                    with torch.no_grad():
                        real_features = discriminator_features(discriminator, real)
                    g_loss = feature_matching_loss(real_features, discriminator_features(discriminator, fake))
                else:
                    g_loss = generator_loss(discriminator(fake), loss)
                check_finite(g_loss.detach(), step=history.steps, lr=lr_g, name="generator loss")
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
                history.log(d_loss=sum(d_losses) / n_critic, g_loss=g_loss.item())
                if penalties:
                    history.log(gp=sum(penalties) / n_critic)
                history.steps += 1
                bar.update(1)
                if history.steps % 25 == 0:
                    bar.set_postfix(d_loss=f"{history.losses['d_loss'][-1]:.3f}",
                                    g_loss=f"{g_loss.item():.3f}", refresh=False)
                if callback is not None and history.steps % every == 0:
                    start = time.perf_counter()
                    callback(history.steps, generator, discriminator)
                    history.wall_time -= time.perf_counter() - start  # the Stopwatch adds it back at the end
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            lock.release()
            raise
        finally:
            bar.close()
            generator.train(modes[0])
            discriminator.train(modes[1])
    try:
        if checkpoint is not None and history.steps != start_steps:  # a call that trains nothing writes nothing
            save_checkpoint(checkpoint, generator=generator.state_dict(), discriminator=discriminator.state_dict(),
                            opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(), history=history.state_dict(),
                            generator_config=getattr(generator, "config", None),
                            discriminator_config=getattr(discriminator, "config", None),
                            loss=loss, n_critic=n_critic, gp_weight=float(gp_weight), pack=pack, run=run)
    finally:
        lock.release()
    if interrupted:
        raise KeyboardInterrupt(f"training interrupted at step {history.steps}"
                                + (f"; saved to {checkpoint}, run again to resume" if checkpoint else ""))
    if history.steps < steps:
        print(f"Stopped by the time budget of {max_seconds:g} s after {history.steps} of {steps} steps.")
    return history
