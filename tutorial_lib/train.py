"""Training loops for the course's models, and what they share: history, NaN guard, safe checkpoints.

Checkpoints (`tutorial_lib.checkpoints`) are written atomically and verified, read back with
``torch.load(..., weights_only=True)``, locked while a run trains, and record the run's settings: resuming
with other settings is an error that lists them.
"""
import functools
import math
import numbers
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from .checkpoints import (CheckpointLock, CheckpointLocked, RunMismatch, check_same_run,  # noqa: F401 (re-exported)
                          load_checkpoint, loader_batching, run_settings, save_checkpoint)


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


#: The largest |loss| the divergence guard lets through. Every loss here is a batch mean of per-sample terms that a
#: working run keeps far below it: a VAE's -ELBO of a 28 x 28 image is a few hundred nats (784 log 2 = 543 for an
#: untrained decoder) and grows past 1e8 only when its logits pass about 1e5 (784 pixels x |logit| nats); a GAN's
#: losses are about the size of the discriminator's outputs (a cross-entropy is softplus of a logit), which start
#: near 1. Near 1e8 float32 can no longer tell the loss from loss + 8 (its spacing there), and the squared terms (the
#: KL's mu^2, a gradient penalty) overflow to inf a few steps later: such a run has diverged, it only has not
#: reached NaN yet.
MAX_LOSS = 1e8


def check_finite(loss, *, step, lr, name="loss"):
    """Raise `TrainingDiverged` when `loss` (a tensor or float) is NaN, infinite or absurdly large (|loss| >
    `MAX_LOSS`), naming the step and a learning rate to try."""
    value = float(loss)
    if value != value or abs(value) > MAX_LOSS:
        became = (f"became {value}" if value != value or math.isinf(value)
                  else f"reached {value:.3g} (beyond {MAX_LOSS:g}: the weights have blown up)")
        raise TrainingDiverged(
            f"The {name} {became} at step {step}, so training stopped (the weights are unusable from here). "
            f"Lower the learning rate, e.g. lr={lr / 10:g} instead of lr={lr:g}, and start again from a fresh model "
            f"or the last checkpoint.")


def check_rate(name, value, what="learning rate"):
    """Raise ValueError naming `name` unless `value` is a finite number > 0 (a learning rate)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{name} (the {what}) must be a finite number > 0, got {value!r}: a rate of 0 never "
                         "changes the weights, a negative one climbs the loss and NaN destroys them. Typical values "
                         "are 1e-4 to 1e-3.")


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


# ---- What both training loops share: batches that batch norm can train on, the learning-rate schedule ----

def _batch_norm_in(*modules):
    """The first of `modules` (named by keyword order: (name, module) pairs) that holds a batch-norm layer, or None."""
    from .gan import _has_batch_norm

    return next((name for name, module in modules if _has_batch_norm(module)), None)


def _check_trainable(name, module):
    """Refuse a network without any parameter that can learn: Adam would get nothing to update (a network without
    weights, or one frozen with requires_grad_(False))."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"the {name} must be a network (a torch.nn.Module), got {type(module).__name__}")
    parameters = list(module.parameters())
    if not any(p.requires_grad for p in parameters):
        why = ("has no parameters at all" if not parameters else
               f"has {len(parameters)} parameters, all frozen (requires_grad=False)")
        raise ValueError(f"the {name} ({type(module).__name__}) {why}, so training could not change it: "
                         + ("give it layers with weights (nn.Linear, nn.Conv2d, ...)." if not parameters else
                            f"unfreeze it with {name}.requires_grad_(True)."))


def _lone_batch_error(which, where):
    return ValueError(f"{where} holds a single sample, but the {which} has batch norm, which needs at least 2 samples "
                      "per batch in training mode. Drop the short last batch (data.mnist_loader(..., drop_last=True) "
                      "or DataLoader(..., drop_last=True)), or pick a batch size that leaves no batch of 1.")


def _check_no_lone_batch(loader, *modules):
    """Before training: refuse a loader whose passes end with a batch of one sample when one of `modules`
    ((name, module) pairs) has batch norm (a DataLoader by its batch size and dataset, a list by its batches), so that
    the error comes now rather than at the end of the first epoch. Returns the name of the batch-norm network."""
    which = _batch_norm_in(*modules)
    if which is None:
        return None
    batch_size, drop_last, samples = loader_batching(loader)
    if batch_size is not None and samples is not None and not drop_last and samples % batch_size == 1:
        raise _lone_batch_error(which, f"The loader's last batch ({samples:,} samples in batches of {batch_size})")
    if isinstance(loader, (list, tuple)):
        for i, batch in enumerate(loader):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if hasattr(x, "__len__") and len(x) == 1:
                raise _lone_batch_error(which, f"Batch {i} of the data")
    return which



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


def _schedule(optimizer, lr, schedule, history, total_steps, max_seconds, elapsed):
    """Set every parameter group of `optimizer` to the `_scheduled_lr` of the next step."""
    for group in optimizer.param_groups:
        group["lr"] = _scheduled_lr(lr, schedule, history, total_steps, max_seconds, elapsed)


# ---- VAE training: train_vae (written with the VAE lessons) ----

def _check_vae_inputs(model, loader, epochs, lr, beta, kl_warmup_steps, lr_schedule, max_seconds):
    if not all(callable(getattr(model, name, None)) for name in ("encode", "decode")):
        raise TypeError(f"train_vae trains a VAE: a module with encode(x) -> (mu, logvar), decode(z) -> logits and "
                        f"forward(x) -> (logits, mu, logvar), such as vae.VAE; got {type(model).__name__}, which has "
                        f"no encode/decode. (A GAN's generator trains with train.train_gan.)")
    if isinstance(loader, Iterator):  # a generator or an iterator: used up after one pass
        raise TypeError(f"train_vae needs data it can go through once per epoch, such as data.mnist_loader(...) or a "
                        f"list of (images, labels) batches; got a {type(loader).__name__}, which can be iterated only "
                        f"once (a second epoch would see no batch). Pass list(...) of it, or a DataLoader.")
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError("the loader is empty (0 batches), so there is nothing to train on: check the dataset "
                         "(e.g. its limit=) and the batch size (drop_last=True drops a batch smaller than it).")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    _check_schedule(lr_schedule)
    check_rate("lr", lr, "learning rate of Adam")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta < math.inf:
        raise ValueError(f"need beta >= 0, finite (the weight of the KL term; 1 is the ELBO), got beta={beta!r}")
    if isinstance(kl_warmup_steps, bool) or not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
        raise ValueError(f"kl_warmup_steps must be a non-negative integer, got {kl_warmup_steps!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0 or None, got {max_seconds!r}")


def train_vae(model, loader, epochs, lr=1e-3, beta=1.0, device=None, checkpoint=None, resume=True,
              max_seconds=None, kl_warmup_steps=0, lr_schedule="constant", callback=None, betas=(0.9, 0.999),
              on_step=None):
    """Train a VAE by maximizing the ELBO (Adam on ``-elbo(model, x, beta).mean()``); returns a `History`.

    model: a VAE (encode, decode, and forward(x) -> (logits, mu, logvar)), e.g. `vae.VAE`.
    loader: yields (images N x 1 x 28 x 28 in [0, 1], labels) batches, e.g. ``data.mnist_loader(...)`` or a list of
        batches; it is gone through once per epoch (so not a one-shot generator), and must not be empty.
    History logs per step ``loss`` (the minimized objective), ``reconstruction`` (mean -log p(x|z)) and ``kl``
    (mean KL(q(z|x) || p(z))); ``history.epochs`` counts whole epochs and ``history.wall_time`` the training time.
    beta: weight of the KL term (beta-VAE); kl_warmup_steps: the weight rises linearly from 0 to beta over these
        first steps (KL warm-up). lr_schedule: "constant", or "cosine" (decays to 0 at the end of the run, which
        is `epochs` or `max_seconds`, whichever comes first).
    checkpoint: a path; written atomically (model, optimizer, history, ``config`` = model.config) after every epoch
        and when training stops; when it exists (and `resume`), training continues from it up to `epochs` in total.
    max_seconds: stop once the training wall time, resumed runs included, reaches this budget (possibly mid-epoch).
    callback: called as ``callback(model, history)`` after every epoch; its time is not counted as training.
    betas: Adam's (beta1, beta2). on_step: called as ``on_step(step, model)`` after every optimizer step (e.g. to
        update an average of the weights, `stabilize.EMA`); its time is not counted as training.
    A NaN, infinite or absurd (> `MAX_LOSS`) loss stops training with `TrainingDiverged`, naming a learning rate to try.
    """
    run = run_settings(train_vae, locals())
    from .runtime import get_device
    from .vae import _check_pixels, vae_train_step

    _check_vae_inputs(model, loader, epochs, lr, beta, kl_warmup_steps, lr_schedule, max_seconds)
    _check_trainable("model", model)
    batch_norm = _check_no_lone_batch(loader, ("model", model))
    device = get_device(device)
    was_training = model.training
    model.to(device).train()
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(0 <= float(b) < 1 for b in betas)):
        raise ValueError(f"betas must be two numbers in [0, 1) (Adam's beta1, beta2), got {betas!r}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=tuple(float(b) for b in betas))
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
                batches = 0
                for batch in loader:
                    out_of_time = time_is_up(history, watch, max_seconds)
                    if out_of_time:
                        break
                    x = (batch[0] if isinstance(batch, (tuple, list)) else batch).to(device, non_blocking=True)
                    if checked_input is False:
                        _check_pixels(x)  # once: a Bernoulli decoder needs images in [0, 1], not normalized ones
                        checked_input = True
                    if batch_norm and len(x) < 2:
                        raise _lone_batch_error(batch_norm, f"Batch {batches} of epoch {history.epochs + 1}")
                    _schedule(optimizer, lr, lr_schedule, history, total_steps, max_seconds,
                              history.wall_time + time.perf_counter() - watch.start)
                    weight = beta * min(1.0, (history.steps + 1) / kl_warmup_steps) if kl_warmup_steps else beta
                    loss, reconstruction, kl = vae_train_step(model, optimizer, x, weight, return_terms=True)
                    check_finite(loss, step=history.steps, lr=lr)  # the step made no update if it is not finite
                    history.log(loss=loss, reconstruction=reconstruction, kl=kl)
                    history.steps += 1
                    batches += 1
                    bar.update(1)
                    if on_step is not None:
                        start = time.perf_counter()
                        on_step(history.steps, model)
                        history.wall_time -= time.perf_counter() - start  # the Stopwatch adds it back at the end
                    if history.steps % 50 == 0:
                        bar.set_postfix(loss=f"{history.mean('loss', last=50):.2f}", refresh=False)
                else:
                    if batches == 0:
                        raise ValueError("the loader yielded no batch in a whole pass, so an epoch would train "
                                         "nothing: pass a non-empty loader of (images, labels) batches.")
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

from .gan import LOSS_KINDS, discriminator_loss, generator_loss, gradient_penalty, r1_penalty  # noqa: E402
from .gan import (clip_weights_, discriminator_features, feature_matching_loss,  # noqa: E402  (gan never imports train)
                  smoothed_discriminator_loss)
from .runtime import RunProgress, get_device  # noqa: E402


def _upgraded(saved, current):
    """A GAN checkpoint's run settings from before `GANRecipe` (the options at the top level) in today's form, so
    that resuming it compares like with like; anything else unchanged."""
    if not isinstance(saved, dict) or "recipe" in saved or "recipe" not in current or "loss" not in saved:
        return saved
    defaults = GANRecipe().identity()
    recipe = {name: saved[name] if name in saved else value for name, value in defaults.items()}
    return {**{k: v for k, v in saved.items() if k not in defaults}, "recipe": recipe}


def start_or_resume(checkpoint, resume=True, run=None, **modules):
    """The History to continue: the one saved in `checkpoint` (after checking that it was trained with the settings
    `run`, see `checkpoints.check_same_run`, and loading each module/optimizer given as ``name=object`` from it)
    when `resume` and the file exists, else a fresh one. Shared by the training loops."""
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        if run is not None:
            check_same_run(checkpoint, _upgraded(state.get("run"), run), run)
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


def _real_batches(data, batch_size, pack, device, history, batch_norm=None, dtype=None):
    """Endless real batches: random rows of a tensor N x D, or the (images, labels) batches of a loader,
    pass after pass (counting epochs in `history`), trimmed to a multiple of `pack`, on `device` in `dtype` (the
    networks' float type: float64 data from NumPy trains as float32). batch_norm: the name of a network with batch
    norm, which cannot train on a batch of one sample (an error naming it)."""
    if isinstance(data, torch.Tensor):
        if data.dim() < 2 or len(data) == 0:
            raise ValueError(f"data must be a tensor N x D of real samples (or a loader), got shape {tuple(data.shape)}")
        _check_real(data)
        data = data.to(device=device, dtype=dtype)
        while True:
            yield data[torch.randint(len(data), (batch_size,), device=device)]
    while True:
        seen = False
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            x = x[:len(x) - len(x) % pack]
            if len(x) == 1 and batch_norm:
                raise _lone_batch_error(batch_norm, f"A batch of the data (in pass {history.epochs + 1})")
            if len(x):
                if not seen and not history.epochs:
                    _check_real(x)  # the first batch: e.g. a loader normalized to [-1, 1]
                seen = True
                yield x.to(device=device, dtype=dtype)
        if not seen:
            raise ValueError(f"data yielded no batch of at least pack={pack} samples: pass a tensor N x D or a "
                             "non-empty loader of (images, labels) batches")
        history.epochs += 1


def _pack(x, pack):
    """Concatenate each group of `pack` consecutive samples into one input: N x D -> N/pack x pack*D, images
    N x C x H x W -> N/pack x pack*C x H x W (PacGAN)."""
    return x if pack == 1 else x.reshape(len(x) // pack, -1, *x.shape[2:])


def _callable_name(function):
    """A step function as text for a checkpoint's run identity: ``module.qualname``; a functools.partial with its
    bound arguments."""
    if isinstance(function, functools.partial):
        bound = [repr(a) for a in function.args] + [f"{k}={v!r}" for k, v in function.keywords.items()]
        return f"partial({', '.join([_callable_name(function.func), *bound])})"
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{getattr(function, '__module__', None) or type(function).__module__}.{name}"


def _check_number(name, value, what, low=0.0):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value < math.inf:
        raise ValueError(f"{name} ({what}) must be a finite number >= {low:g}, got {value!r}")


@dataclass(frozen=True, repr=False)
class GANRecipe:
    """How a GAN trains, in one object: the algorithm `train_gan` runs (its budget and plumbing are train_gan's own).

    loss: "minimax", "nonsaturating", "wasserstein" or "hinge" (the table in `gan`).
    n_critic: discriminator (critic) steps per generator step, each on a fresh real and a fresh fake batch.
    gp_weight: weight of `gan.gradient_penalty` in the critic's loss (WGAN-GP, Gulrajani et al. 2017: 10 on images).
    r1_weight: gamma of R1 (Mescheder et al. 2018): gamma / 2 * `gan.r1_penalty` on the real batch is added to the
        discriminator's loss.
    pack: PacGAN (Lin et al. 2018): the discriminator judges `pack` samples at once (build it with the same pack=).
    optimizer: "adam" (with `betas`) or "rmsprop" (the original WGAN's), for both networks; lr_g, lr_d: the
        generator's and the discriminator's learning rates.
    batch_size: samples per batch (a multiple of pack), drawn with replacement from a tensor of data; a loader's
        batches must have this size (its batch_size).
    lr_schedule: "constant", or "cosine" (both rates decay to 0 at the end of the run: its steps or its max_seconds).
    clip_weights: clamp the critic's weights to [-clip_weights, clip_weights] after each of its steps (WGAN: 0.01).
    feature_matching: the generator minimizes `gan.feature_matching_loss` on the discriminator's last hidden layer
        instead of its loss (Salimans et al. 2016).
    label_smoothing: one-sided label smoothing; the real samples' target is 1 - label_smoothing in the
        discriminator's cross-entropy (`gan.smoothed_discriminator_loss`; "minimax"/"nonsaturating" only).
    step: your own step function, ``step(generator, discriminator, opt_g, opt_d, real) -> (d_loss, g_loss)`` (the
        signature of `gan.gan_step`; bind another loss with functools.partial): train_gan then runs it on every
        real batch instead of its built-in update. It computes its own losses, so the options that change the
        update (a non-default loss, n_critic, penalties, pack, clipping, feature matching, smoothing) are refused.

    ``recipe.replace(lr_g=1e-3)`` is a new recipe with that change; ``repr`` lists the fields that differ from the
    defaults; ``describe()`` says the whole recipe in one line.
    """

    loss: str = "nonsaturating"
    n_critic: int = 1
    gp_weight: float = 0.0
    r1_weight: float = 0.0
    pack: int = 1
    optimizer: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple = (0.5, 0.999)
    batch_size: int = 64
    lr_schedule: str = "constant"
    clip_weights: float = None
    feature_matching: bool = False
    label_smoothing: float = 0.0
    step: object = None

    def __new__(cls, *args, **kwargs):
        unknown = [name for name in kwargs if name not in cls.__dataclass_fields__]
        if unknown:
            hint = " (a learning rate for each network: lr_g=..., lr_d=...)" if "lr" in unknown else ""
            raise TypeError(f"GANRecipe has no option {', '.join(map(repr, unknown))}{hint}; its options are "
                            f"{', '.join(cls.__dataclass_fields__)}.")
        return super().__new__(cls)

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {self.loss!r}")
        for name in ("n_critic", "pack", "batch_size"):
            _positive_int(name, getattr(self, name))
        _check_number("gp_weight", self.gp_weight, "the gradient penalty's weight; 0 for none")
        _check_number("r1_weight", self.r1_weight, "the R1 penalty's gamma; 0 for none")
        check_rate("lr_g", self.lr_g, "generator's learning rate")
        check_rate("lr_d", self.lr_d, "discriminator's learning rate")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {self.optimizer!r}")
        try:
            betas = tuple(float(b) for b in self.betas)
        except (TypeError, ValueError):
            betas = ()
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1) (Adam's decay rates), got {self.betas!r}")
        if self.optimizer == "rmsprop" and betas != GANRecipe.betas:
            raise ValueError(f"betas are Adam's; RMSprop has none, so betas={self.betas!r} would be ignored: leave "
                             "betas at its default, or use optimizer='adam'")
        if self.batch_size % self.pack:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of pack ({self.pack}): each packed "
                             "input holds pack samples")
        _check_schedule(self.lr_schedule)
        if self.clip_weights is not None:
            _check_number("clip_weights", self.clip_weights, "the critic's weight bound; None for none")
            if not self.clip_weights > 0:
                raise ValueError(f"clip_weights must be > 0 or None, got {self.clip_weights!r}")
        if not isinstance(self.feature_matching, bool):
            raise ValueError(f"feature_matching must be True or False, got {self.feature_matching!r}")
        _check_number("label_smoothing", self.label_smoothing, "how far below 1 the real samples' target is")
        if not self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.label_smoothing and self.loss not in ("minimax", "nonsaturating"):
            raise ValueError(f"label_smoothing needs a cross-entropy loss ('minimax' or 'nonsaturating'): with "
                             f"loss={self.loss!r} there is no target to smooth. Use label_smoothing=0.0 or another "
                             "loss.")
        self._check_step()
        for name in ("gp_weight", "r1_weight", "lr_g", "lr_d", "label_smoothing"):
            set_(name, float(getattr(self, name)))
        set_("betas", betas)
        if self.clip_weights is not None:
            set_("clip_weights", float(self.clip_weights))

    def _check_step(self):
        if self.step is None:
            return
        if not callable(self.step):
            raise TypeError(f"step must be a function step(generator, discriminator, opt_g, opt_d, real) -> "
                            f"(d_loss, g_loss), like gan.gan_step, or None; got {type(self.step).__name__}")
        defaults = GANRecipe()
        unused = [f"{name}={getattr(self, name)!r}" for name in ("loss", "n_critic", "gp_weight", "r1_weight", "pack",
                                                              "clip_weights", "feature_matching", "label_smoothing")
                  if getattr(self, name) != getattr(defaults, name)]
        if unused:
            raise ValueError(f"with step= your step function does the whole update, so {', '.join(unused)} could "
                             "not be honoured: leave them at their defaults and put what you need into the step "
                             "function (e.g. functools.partial(my_step, loss='hinge') binds a loss). The recipe "
                             "still sets the optimizers, learning rates, betas, batch size and schedule.")

    def replace(self, **changes):
        """A new recipe: this one with `changes` (field=value), validated again."""
        return GANRecipe(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    def identity(self):
        """The recipe as plain values (the step function by its qualified name): what a checkpoint records."""
        plain = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**plain, "step": None if self.step is None else _callable_name(self.step)}

    def __repr__(self):
        changed = [f"{f.name}={_callable_name(self.step) if f.name == 'step' else repr(getattr(self, f.name))}"
                   for f in fields(self) if getattr(self, f.name) != f.default]
        return f"GANRecipe({', '.join(changed)})"

    def describe(self):
        """The whole recipe in one line, e.g. for a notebook's table."""
        rates = (f"lr {self.lr_g:g}" if self.lr_g == self.lr_d else f"lr_g {self.lr_g:g}, lr_d {self.lr_d:g}")
        parts = [f"{self.loss} loss" if self.step is None else f"step {_callable_name(self.step)}",
                 f"{self.optimizer} {rates}" + (f", betas {self.betas}" if self.optimizer == "adam" else ""),
                 f"batch {self.batch_size}"]
        extras = {"n_critic": f"{self.n_critic} critic steps", "gp_weight": f"gradient penalty {self.gp_weight:g}",
                  "r1_weight": f"R1 {self.r1_weight:g}", "pack": f"pack {self.pack}",
                  "lr_schedule": f"{self.lr_schedule} schedule", "clip_weights": f"clip {self.clip_weights}",
                  "feature_matching": "feature matching",
                  "label_smoothing": f"label smoothing {self.label_smoothing:g}"}
        parts += [text for name, text in extras.items() if getattr(self, name) != getattr(GANRecipe, name)]
        return "; ".join(parts)


def _recipe_of(recipe, old_options):
    """The GANRecipe to train with: `recipe` (None: the defaults); a TypeError showing the new call for anything
    else, in particular for train_gan's former keyword options."""
    if old_options:
        fields_ = [name for name in old_options if name in GANRecipe.__dataclass_fields__]
        others = [name for name in old_options if name not in GANRecipe.__dataclass_fields__]
        if others:
            raise TypeError(f"train_gan() got unexpected keyword arguments {others}; it takes generator, "
                            "discriminator, data, recipe (a GANRecipe), and steps, device, checkpoint, resume, "
                            "max_seconds, callback, every.")
        arguments = ", ".join(f"{name}={old_options[name]!r}" for name in fields_)
        new = f"recipe.replace({arguments})" if recipe is not None else f"GANRecipe({arguments})"
        one = len(fields_) == 1
        raise TypeError(f"train_gan takes the training algorithm as one GANRecipe: {', '.join(fields_)} "
                        f"{'is a field' if one else 'are fields'} of the recipe, not "
                        f"{'an argument' if one else 'arguments'} of train_gan. Write train_gan(generator, "
                        f"discriminator, data, {new}, steps=...) (from tutorial_lib.train import GANRecipe).")
    if recipe is None:
        return GANRecipe()
    if isinstance(recipe, GANRecipe):
        return recipe
    if isinstance(recipe, int) and not isinstance(recipe, bool):
        raise TypeError(f"train_gan's fourth argument is the recipe (a GANRecipe), got the number {recipe}: pass the "
                        f"number of generator steps by name, steps={recipe}")
    if isinstance(recipe, dict):
        raise TypeError("recipe must be a GANRecipe, got a dict: write GANRecipe(**options)")
    raise TypeError(f"recipe must be a GANRecipe (from tutorial_lib.train), got {type(recipe).__name__}")


def _check_gan_run(generator, discriminator, data, recipe, steps, every, max_seconds):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    _positive_int("every", every)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0 or None, got {max_seconds!r}")
    if getattr(discriminator, "pack", recipe.pack) != recipe.pack:
        raise ValueError(f"the discriminator was built for pack={discriminator.pack} but the recipe has "
                         f"pack={recipe.pack}: use the same value in both")
    if not hasattr(generator, "latent_dim"):
        raise ValueError("the generator needs a `latent_dim` attribute (the size of its noise input)")
    _check_trainable("generator", generator), _check_trainable("discriminator", discriminator)
    loader_batch = loader_batching(data)[0]
    if loader_batch is not None and loader_batch != recipe.batch_size:
        raise ValueError(f"the loader gives batches of {loader_batch} but the recipe says batch_size="
                         f"{recipe.batch_size}: make them agree, e.g. recipe.replace(batch_size={loader_batch}), "
                         "so that the recipe (and the checkpoint's record of it) says what really trains")
    for name, module, size in (("generator", generator, recipe.batch_size),
                               ("discriminator", discriminator, recipe.batch_size // recipe.pack)):
        if size < 2 and _batch_norm_in((name, module)):
            raise ValueError(f"the {name} sees batches of {size} (batch_size={recipe.batch_size}, pack={recipe.pack}), "
                             "but it has batch norm, which needs at least 2 samples per batch in training mode: use "
                             "a larger batch_size.")
    if not isinstance(data, torch.Tensor) and recipe.pack == 1:  # packing trims a batch of 1 to nothing
        _check_no_lone_batch(data, ("generator", generator), ("discriminator", discriminator))


def _optimizers(generator, discriminator, recipe):
    """(opt_g, opt_d): Adam with the recipe's betas, or RMSprop, at the recipe's learning rates."""
    def make(module, lr):
        if recipe.optimizer == "adam":
            return torch.optim.Adam(module.parameters(), lr=lr, betas=recipe.betas)
        return torch.optim.RMSprop(module.parameters(), lr=lr)

    return make(generator, recipe.lr_g), make(discriminator, recipe.lr_d)


def _fakes(generator, n, device):
    return generator(torch.randn(n, generator.latent_dim, device=device))


def _critic_step(generator, discriminator, opt_d, real, recipe, step):
    """One discriminator step on the (packed) real batch and as many fresh fakes; returns (d_loss without the
    penalties, {penalty name: value}) as floats."""
    with torch.no_grad():
        fake = _pack(_fakes(generator, len(real) * recipe.pack, real.device), recipe.pack)
    if recipe.label_smoothing:
        d_loss = smoothed_discriminator_loss(discriminator(real), discriminator(fake), 1 - recipe.label_smoothing)
    else:
        d_loss = discriminator_loss(discriminator(real), discriminator(fake), recipe.loss)
    total, penalties = d_loss, {}
    if recipe.gp_weight > 0:
        penalties["gp"] = gradient_penalty(discriminator, real, fake)
        total = total + recipe.gp_weight * penalties["gp"]
    if recipe.r1_weight > 0:
        penalties["r1"] = r1_penalty(discriminator, real)
        total = total + recipe.r1_weight / 2 * penalties["r1"]
    check_finite(total.detach(), step=step, lr=recipe.lr_d, name="discriminator loss")
    opt_d.zero_grad(set_to_none=True)
    total.backward()
    opt_d.step()
    if recipe.clip_weights is not None:
        clip_weights_(discriminator, recipe.clip_weights)
    return d_loss.item(), {name: value.item() for name, value in penalties.items()}


def _generator_step(generator, discriminator, opt_g, real, recipe, step):
    """One generator step on fresh fakes, as many as the (packed) real batch `real` holds; returns g_loss."""
    fake = _pack(_fakes(generator, len(real) * recipe.pack, real.device), recipe.pack)
    if recipe.feature_matching:
        with torch.no_grad():
            real_features = discriminator_features(discriminator, real)
        g_loss = feature_matching_loss(real_features, discriminator_features(discriminator, fake))
    else:
        g_loss = generator_loss(discriminator(fake), recipe.loss)
    check_finite(g_loss.detach(), step=step, lr=recipe.lr_g, name="generator loss")
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return g_loss.item()


def _builtin_update(generator, discriminator, opt_g, opt_d, batches, recipe, step):
    """train_gan's own update: n_critic critic steps, then a generator step. The values to log: d_loss (mean over
    the critic steps), g_loss and each penalty's mean."""
    d_losses, penalties = [], {}
    for _ in range(recipe.n_critic):
        real = _pack(next(batches), recipe.pack)
        d_loss, terms = _critic_step(generator, discriminator, opt_d, real, recipe, step)
        d_losses.append(d_loss)
        for name, value in terms.items():
            penalties.setdefault(name, []).append(value)
    g_loss = _generator_step(generator, discriminator, opt_g, real, recipe, step)
    return {"d_loss": sum(d_losses) / recipe.n_critic, "g_loss": g_loss,
            **{name: sum(values) / recipe.n_critic for name, values in penalties.items()}}


def _own_update(generator, discriminator, opt_g, opt_d, batches, recipe, step):
    """The recipe's step function on the next real batch; its (d_loss, g_loss), checked."""
    result = recipe.step(generator, discriminator, opt_g, opt_d, next(batches))
    try:
        d_loss, g_loss = (float(value) for value in result)
    except (TypeError, ValueError):
        raise TypeError(f"the recipe's step function {_callable_name(recipe.step)} must return two numbers, "
                        f"(d_loss, g_loss), like gan.gan_step; it returned {result!r:.200}. Return the "
                        "discriminator's and the generator's loss as floats.") from None
    check_finite(d_loss, step=step, lr=recipe.lr_d, name="discriminator loss")
    check_finite(g_loss, step=step, lr=recipe.lr_g, name="generator loss")
    return {"d_loss": d_loss, "g_loss": g_loss}


def train_gan(generator, discriminator, data, recipe=None, *, steps, device=None, checkpoint=None, resume=True,
              max_seconds=None, callback=None, every=100, **old_options):
    """Train a GAN by `recipe` (a `GANRecipe`; None: its defaults) for `steps` generator steps; returns a `History`.

    The built-in update: each generator step follows ``recipe.n_critic`` discriminator steps, each on a fresh real
    batch and a fresh fake batch of the same size; with ``recipe.step``, your step function runs instead, once per
    generator step. History logs per generator step ``d_loss`` (the mean over its critic steps, without the
    penalties), ``g_loss`` and, when they are on, ``gp`` and ``r1``; ``history.steps`` counts generator steps.

    data: a tensor N x D of real samples (batches of ``recipe.batch_size`` drawn with replacement), or an iterable
        of (images, labels) batches such as `data.mnist_loader` (images in [0, 1]; a loader's batch_size must be the
        recipe's).
    checkpoint: a path; written atomically at the end (also when interrupted), and when it exists (and `resume`)
        training continues from it up to `steps` in total. It records the recipe: resuming with another recipe is
        a `RunMismatch` naming the fields that changed.
    max_seconds: stop once the training wall time, resumed runs included, reaches this budget.
    callback: called as ``callback(step, generator, discriminator)`` after every `every` generator steps (e.g. to
        keep snapshots of samples); its time is not counted as training time.
    A NaN, infinite or absurd (> `MAX_LOSS`) loss stops training with `TrainingDiverged`, naming a learning rate.
    """
    recipe = _recipe_of(recipe, old_options)
    _check_gan_run(generator, discriminator, data, recipe, steps, every, max_seconds)
    run = run_settings(train_gan, {"generator": generator, "discriminator": discriminator, "data": data,
                                   "recipe": recipe.identity()})
    device = get_device(device)
    modes = generator.training, discriminator.training
    generator.to(device).train()
    discriminator.to(device).train()
    opt_g, opt_d = _optimizers(generator, discriminator, recipe)
    history, lock = open_run(checkpoint, resume, run, generator=generator, discriminator=discriminator,
                             opt_g=opt_g, opt_d=opt_d)
    start_steps = history.steps
    if history.steps:
        print(f"Resumed from {checkpoint}: {history.steps} steps, {history.wall_time:.0f} s of training done.")
    weights = next(discriminator.parameters(), None)
    batches = _real_batches(data, recipe.batch_size, recipe.pack, device, history,
                            _batch_norm_in(("generator", generator), ("discriminator", discriminator)),
                            weights.dtype if weights is not None and weights.is_floating_point() else None)
    update = _builtin_update if recipe.step is None else _own_update
    bar = RunProgress(steps, max_seconds, history.steps, history.wall_time, desc="GAN steps")
    interrupted = False
    with Stopwatch(history) as watch:
        try:
            while history.steps < steps and not time_is_up(history, watch, max_seconds):
                elapsed = history.wall_time + time.perf_counter() - watch.start
                for optimizer, lr in ((opt_d, recipe.lr_d), (opt_g, recipe.lr_g)):
                    _schedule(optimizer, lr, recipe.lr_schedule, history, steps, max_seconds, elapsed)
                history.log(**update(generator, discriminator, opt_g, opt_d, batches, recipe, history.steps))
                history.steps += 1
                bar.update(1)
                if history.steps % 25 == 0:
                    bar.set_postfix(d_loss=f"{history.losses['d_loss'][-1]:.3f}",
                                    g_loss=f"{history.losses['g_loss'][-1]:.3f}", refresh=False)
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
                            recipe=recipe.identity(), run=run)
    finally:
        lock.release()
    if interrupted:
        raise KeyboardInterrupt(f"training interrupted at step {history.steps}"
                                + (f"; saved to {checkpoint}, run again to resume" if checkpoint else ""))
    if history.steps < steps:
        print(f"Stopped by the time budget of {max_seconds:g} s after {history.steps} of {steps} steps.")
    return history
