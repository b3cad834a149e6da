"""Interactive widgets (ipywidgets): explorers for notebook 02 and the 2-D GAN playground of notebooks 04 and 05.

``latent_explorer(model)``: one slider per latent dimension and the decoded digit.
``beta_explorer(models, images)``: pick a beta and see its rate, distortion, reconstructions and samples.
``gan_playground(step_fn)``: play, pause or step a GAN on the ring or the grid, live (like GAN Lab, Kahng et al.
2019, but running the PyTorch training step the learner wrote).
Each returns an ipywidgets box; display it (or leave it as a cell's last expression) in Jupyter.
"""
import io
import math
import time

import ipywidgets as widgets
import torch

from . import validate
from .gan import _check_positive_int as _check_count
from .vae import rate_distortion


def to_png(image, scale=4):
    """PNG bytes of one grey image (H x W or 1 x H x W, values in [0, 1]), enlarged `scale` times (nearest)."""
    from PIL import Image

    _check_count("scale", scale)
    image = validate.images(image, "image", shape=None, min_count=0, to_tensor=True).detach().cpu().float()
    if image.dim() == 3 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 2:
        raise ValueError(f"image must have shape H x W or 1 x H x W, got {tuple(image.shape)}")
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    picture = Image.fromarray(pixels)  # uint8 H x W: grey ("L")
    if scale != 1:
        picture = picture.resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(model, z):
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.sigmoid(model.decode(z.view(1, -1).to(device)))[0].cpu()


def latent_explorer(model, z=None, dims=8, limit=3.0, step=0.05, scale=5):
    """A box (DOM class ``latent-explorer``) with a FloatSlider for each of the first `dims` latent dimensions and
    the image the decoder makes of the code; moving a slider decodes the new code and redraws the image.

    z: the starting code (latent_dim values; zeros, the prior's mean, when None); dimensions without a slider keep
    its values. limit: sliders run from -limit to limit (the prior's standard deviation is 1).
    The box's attributes ``sliders``, ``image`` and ``code()`` (the current code) make it scriptable.
    """
    if not (callable(getattr(model, "decode", None)) and isinstance(getattr(model, "latent_dim", None), int)):
        raise TypeError(f"latent_explorer explores a VAE's decoder: a model with latent_dim and decode(z) -> logits, "
                        f"such as vae.VAE; got {type(model).__name__}. (A GAN's generator has no decode.)")
    latent_dim = model.latent_dim
    start = (torch.zeros(latent_dim) if z is None
             else validate.finite(torch.as_tensor(z, dtype=torch.float32), "z").detach().cpu().flatten())
    if start.numel() != latent_dim:
        raise ValueError(f"z must hold latent_dim = {latent_dim} values, got {start.numel()}")
    _check_count("dims", dims), _check_count("scale", scale)
    if not 0 < limit < math.inf or not 0 < step <= 2 * limit:
        raise ValueError(f"need 0 < limit (the sliders' range) and 0 < step <= 2 * limit, got limit={limit!r}, "
                         f"step={step!r}")
    sliders = [widgets.FloatSlider(value=float(start[i].clamp(-limit, limit)), min=-limit, max=limit, step=step,
                                   description=f"z{i + 1}", continuous_update=True, readout_format=".2f")
               for i in range(min(dims, latent_dim))]
    image = widgets.Image(format="png", width=28 * scale, height=28 * scale)

    def code():
        current = start.clone()
        current[:len(sliders)] = torch.tensor([s.value for s in sliders])
        return current

    def redraw(change=None):
        image.value = to_png(_decode(model, code()), scale=scale)

    for slider in sliders:
        slider.observe(redraw, names="value")
    redraw()
    title = widgets.HTML(f"<b>Latent explorer</b>: {len(sliders)} of {latent_dim} latent dimensions; the image is "
                         "sigmoid(decode(z)).")
    box = widgets.VBox([title, widgets.HBox([widgets.VBox(sliders), image])])
    box.add_class("latent-explorer")
    box.sliders, box.image, box.code = sliders, image, code
    return box


def _beta_figure(beta, table, model, images, samples):
    """One PNG: rate vs distortion of every beta (this one highlighted), reconstructions and samples."""
    from matplotlib.figure import Figure

    from .plotting import image_grid

    fig = Figure(figsize=(11, 3.4))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.1, 1, 1]})
    betas = sorted(table)
    rates, distortions = [table[b][0] for b in betas], [table[b][1] for b in betas]
    axes[0].plot(rates, distortions, "o-", color="grey")
    for b, r, d in zip(betas, rates, distortions):
        axes[0].annotate(f"β={b:g}", (r, d), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes[0].plot(*table[beta], "o", color="crimson", markersize=10)
    axes[0].set_xlabel("rate: KL(q(z|x) || p(z)) [nats]")
    axes[0].set_ylabel("distortion: -log p(x|z) [nats]")
    axes[0].set_title(f"β = {beta:g}: rate {table[beta][0]:.1f}, distortion {table[beta][1]:.1f}", fontsize=10)
    with torch.no_grad():
        reconstructions = model.reconstruct(images.to(next(model.parameters()).device)).cpu()
    pairs = torch.cat([images.cpu(), reconstructions])
    for ax, grid, name in ((axes[1], image_grid(pairs, nrow=len(images)), "data (top), reconstructions (bottom)"),
                           (axes[2], image_grid(samples, nrow=len(images)), "samples from the prior")):
        ax.imshow(grid[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def beta_explorer(models, images, n=8, seed=0):
    """A box (DOM class ``beta-explorer``) with a slider over the betas of `models` (a dict beta -> trained VAE) and
    a figure: each model's rate (KL) against its distortion (-log p(x|z)) on `images`, the chosen beta's
    reconstructions of the first `n` images and `n` samples. Figures are drawn once, so the slider is instant.

    images: N x 1 x 28 x 28 in [0, 1] (test images). The box's ``table`` maps beta -> (rate, distortion).
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict beta -> trained VAE")
    validate.images(images, "images")
    _check_count("n", n)
    betas = sorted(models)
    table, pictures = {}, {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for beta in betas:
            table[beta] = rate_distortion(models[beta], images)
        for beta in betas:
            samples = models[beta].sample(min(n, len(images)), generator=torch.Generator().manual_seed(seed)).cpu()
            pictures[beta] = _beta_figure(beta, table, models[beta], images[:n], samples)
    slider = widgets.SelectionSlider(options=[(f"{b:g}", b) for b in betas], value=betas[len(betas) // 2],
                                     description="β", continuous_update=True)
    image = widgets.Image(value=pictures[slider.value], format="png")
    slider.observe(lambda change: setattr(image, "value", pictures[change["new"]]), names="value")
    box = widgets.VBox([slider, image])
    box.add_class("beta-explorer")
    box.slider, box.image, box.table = slider, image, table
    return box


# ---- the 2-D GAN playground (notebooks 04 and 05) ----

PLAYGROUND_DATASETS = ("ring", "grid")


def _playground_figure(generator, discriminator, data, centers, noise, history, lim, title):
    """One PNG: sigmoid(D(x)) as a heat map with the real points, the modes and the generator's samples; the loss
    curves beside it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.35]})
    axis = torch.linspace(-lim, lim, 90)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
    was_training = discriminator.training, generator.training
    discriminator.eval()
    generator.eval()
    try:
        with torch.no_grad():
            device = next(discriminator.parameters()).device
            heat = torch.sigmoid(discriminator(points.to(device))).view(90, 90).cpu()
            samples = generator(noise.to(device)).cpu()
    finally:
        discriminator.train(was_training[0])
        generator.train(was_training[1])
    image = left.imshow(heat.numpy(), origin="lower", extent=(-lim, lim, -lim, lim), cmap="PiYG", vmin=0, vmax=1,
                        interpolation="bilinear")
    fig.colorbar(image, ax=left, fraction=0.046, pad=0.03, label="sigmoid(D(x)): real?")
    left.scatter(data[:, 0], data[:, 1], s=2, c="#1b7837", alpha=0.25, linewidths=0, label="real")
    left.scatter(samples[:, 0], samples[:, 1], s=4, c="#40004b", alpha=0.8, linewidths=0, label="generated")
    left.scatter(centers[:, 0], centers[:, 1], s=40, marker="x", c="black", linewidths=1, label="modes")
    left.set_xlim(-lim, lim)
    left.set_ylim(-lim, lim)
    left.set_aspect("equal")
    left.set_xticks([])
    left.set_yticks([])
    left.set_title(title, fontsize=9)
    d_losses, g_losses = history["d_loss"], history["g_loss"]
    if d_losses:
        steps = range(1, len(d_losses) + 1)
        right.plot(steps, d_losses, lw=0.8, label="discriminator loss")
        right.plot(steps, g_losses, lw=0.8, label="generator loss")
    right.axhline(math.log(4), color="gray", ls="--", lw=0.7, label="log 4, log 2 (D guesses)")
    right.axhline(math.log(2), color="gray", ls="--", lw=0.7)
    right.set_xlabel("step")
    right.legend(fontsize=7, loc="upper right")
    right.set_title("losses", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    return buffer.getvalue()


def gan_playground(step_fn=None, dataset="ring", steps_per_frame=20, batch_size=128, lr=1e-3, hidden=64,
                   interval=400, n_show=500, seed=0):
    """A box (DOM class ``gan-playground``) that trains a small GAN on 2-D points while you watch: a play/pause
    button (an ipywidgets Play), "step" (one frame), "reset" and a dataset menu (the 8-mode ring or the 5 x 5
    grid). Each frame runs `steps_per_frame` training steps and redraws one PNG: the discriminator's
    sigmoid(D(x)) as a heat map under the real points, the modes (x) and `n_show` generated samples (from fixed
    noise), and the two loss curves.

    step_fn: ``step_fn(generator, discriminator, opt_g, opt_d, real) -> (d_loss, g_loss)``, e.g. your own
        `gan_step`; None: `tutorial_lib.gan.gan_step`; a loss name ("nonsaturating", "minimax", "hinge",
        "wasserstein"): the library's step with that loss.
    The networks are `MLPGenerator(latent_dim=2, hidden=hidden)` and `MLPDiscriminator(hidden=hidden)` with Adam
    (lr, betas (0.5, 0.999)), real batches of `batch_size` points; interval: milliseconds between frames while
    playing (a frame the kernel could not keep up with is skipped, so pausing takes effect at once).
    Scriptable: ``box.step()`` runs one frame; ``box.play``, ``box.step_button``, ``box.reset_button``,
    ``box.dataset``, ``box.image``, ``box.history`` (lists ``d_loss``, ``g_loss``), ``box.steps``,
    ``box.generator``, ``box.discriminator``.
    """
    from functools import partial

    from .data import grid, ring
    from .gan import LOSS_KINDS, MLPDiscriminator, MLPGenerator, gan_step

    if step_fn is None:
        step_fn, method = gan_step, "the library's gan_step"
    elif isinstance(step_fn, str):
        if step_fn not in LOSS_KINDS:
            raise ValueError(f"step_fn={step_fn!r}: pass your step function, None, or one of {LOSS_KINDS}")
        method = f"the library's gan_step with loss={step_fn!r}"
        step_fn = partial(gan_step, loss=step_fn)
    elif callable(step_fn):
        method = f"{getattr(step_fn, '__name__', 'your step')}"
    else:
        raise ValueError(f"step_fn must be a function (generator, discriminator, opt_g, opt_d, real) -> "
                         f"(d_loss, g_loss), a loss name or None, got {type(step_fn).__name__}")
    if dataset not in PLAYGROUND_DATASETS:
        raise ValueError(f"dataset must be one of {PLAYGROUND_DATASETS}, got {dataset!r}")
    for name, value in (("steps_per_frame", steps_per_frame), ("batch_size", batch_size), ("hidden", hidden),
                        ("interval", interval), ("n_show", n_show)):
        _check_count(name, value)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")

    state = {}
    play = widgets.Play(value=0, min=0, max=10 ** 9, step=1, interval=interval, show_repeat=False,
                        description="play / pause")
    step_button = widgets.Button(description="step", tooltip=f"run {steps_per_frame} training steps")
    reset_button = widgets.Button(description="reset", tooltip="fresh networks")
    menu = widgets.Dropdown(options=list(PLAYGROUND_DATASETS), value=dataset, description="data",
                            layout=widgets.Layout(width="160px"))
    status = widgets.HTML()
    image = widgets.Image(format="png")

    def reset(change=None):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            generator, discriminator = MLPGenerator(latent_dim=2, hidden=hidden), MLPDiscriminator(hidden=hidden)
            rng = torch.random.get_rng_state()
        points, centers, _ = (ring if menu.value == "ring" else grid)(5_000, seed=seed)
        state.update(generator=generator, discriminator=discriminator, data=points, centers=centers,
                     lim=1.6 if menu.value == "ring" else 5.5,
                     opt_g=torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999)),
                     opt_d=torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999)),
                     rng=rng,
                     noise=torch.randn(n_show, 2, generator=torch.Generator().manual_seed(seed + 1)),
                     last_frame=-math.inf)
        box.history = {"d_loss": [], "g_loss": []}
        box.steps = 0
        box.generator, box.discriminator = generator, discriminator
        redraw()

    def redraw():
        title = f"{menu.value}, step {box.steps}: generated (purple) over real (green)"
        image.value = _playground_figure(state["generator"], state["discriminator"], state["data"], state["centers"],
                                         state["noise"], box.history, state["lim"], title)
        last = (f"; last losses: D {box.history['d_loss'][-1]:.3f}, G {box.history['g_loss'][-1]:.3f}"
                if box.history["d_loss"] else "")
        status.value = f"<b>GAN playground</b>: {method}, step {box.steps}{last}"

    def step(_=None):
        """One frame: `steps_per_frame` training steps, then a redraw."""
        data = state["data"]
        with torch.random.fork_rng(devices=[]):  # the playground's own random stream: same seed, same run
            torch.random.set_rng_state(state["rng"])
            for _ in range(steps_per_frame):
                real = data[torch.randint(len(data), (batch_size,))]
                result = step_fn(state["generator"], state["discriminator"], state["opt_g"], state["opt_d"], real)
                try:
                    d_loss, g_loss = (float(value) for value in result)
                except (TypeError, ValueError):
                    raise TypeError(f"the step function {method} must return two numbers, (d_loss, g_loss), like "
                                    f"gan.gan_step; it returned {result!r:.200}. End it with "
                                    "`return d_loss.item(), g_loss.item()`.") from None
                box.history["d_loss"].append(d_loss)
                box.history["g_loss"].append(g_loss)
                box.steps += 1
            state["rng"] = torch.random.get_rng_state()
        redraw()
        state["last_frame"] = time.monotonic()

    def tick(change):
        # The Play widget counts up while playing; a tick that arrives while paused, or right after a frame
        # (queued while the kernel was busy), is skipped.
        if not play.playing or change["new"] <= change["old"]:
            return
        if time.monotonic() - state["last_frame"] < box.frame_gap:
            return
        step()

    box = widgets.VBox([widgets.HBox([play, step_button, reset_button, menu]), status, image])
    box.add_class("gan-playground")
    box.frame_gap = interval / 2000  # seconds
    play.observe(tick, names="value")
    step_button.on_click(step)
    reset_button.on_click(reset)
    menu.observe(reset, names="value")
    box.play, box.step_button, box.reset_button, box.dataset, box.image, box.status = (
        play, step_button, reset_button, menu, image, status)
    box.step, box.reset = step, reset
    reset()
    return box
