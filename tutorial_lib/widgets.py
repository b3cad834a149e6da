"""Interactive explorers for notebook 02 (ipywidgets): move a slider, see what the decoder makes of it.

``latent_explorer(model)``: one slider per latent dimension and the decoded digit.
``beta_explorer(models, images)``: pick a beta and see its rate, distortion, reconstructions and samples.
Both return an ipywidgets box; display it (or leave it as a cell's last expression) in Jupyter.
"""
import io

import ipywidgets as widgets
import torch

from . import validate
from .vae import rate_distortion


def to_png(image, scale=4):
    """PNG bytes of one grey image (H x W or 1 x H x W, values in [0, 1]), enlarged `scale` times (nearest)."""
    from PIL import Image

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
    latent_dim = model.latent_dim
    start = (torch.zeros(latent_dim) if z is None
             else validate.finite(torch.as_tensor(z, dtype=torch.float32), "z").detach().cpu().flatten())
    if start.numel() != latent_dim:
        raise ValueError(f"z must hold latent_dim = {latent_dim} values, got {start.numel()}")
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise ValueError(f"dims must be a positive integer, got {dims!r}")
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
