"""Figures the lessons share: image grids, 2-D sample scatters and loss curves."""
import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from . import validate


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def image_grid(images, nrow=8, padding=2) -> torch.Tensor:
    """Tile images (N x H x W, N x 1 x H x W or N x 3 x H x W, values in [0, 1]) into one C x H' x W' grid."""
    images = validate.images(images, "images", shape=None, min_count=0, to_tensor=True).detach().cpu().float()
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"images must have shape N x H x W or N x C x H x W with C in (1, 3) and N > 0, "
                         f"got {tuple(images.shape)}")
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive integer, got {nrow!r}")
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)
    return grid[:1] if images.shape[1] == 1 else grid  # make_grid turns grey into 3 equal channels


def show_images(images, nrow=8, title=None, ax=None, figsize=None):
    """Show images (N x [C x] H x W in [0, 1]) as a grid with `nrow` per row; returns (fig, ax)."""
    grid = image_grid(images, nrow=nrow)
    n_rows = -(-len(torch.as_tensor(images)) // nrow)
    fig, ax = _axes(ax, figsize or (min(nrow, 12) * 0.8, max(n_rows, 1) * 0.8 + (0.4 if title else 0)))
    if grid.shape[0] == 1:
        ax.imshow(grid[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig, ax


def plot_2d(samples, centers=None, title=None, ax=None, figsize=(4, 4), lim=None, s=2, alpha=0.4, label=None):
    """Scatter 2-D samples (N x 2), with mixture `centers` (M x 2) as red crosses; returns (fig, ax)."""
    samples = validate.points(samples, "samples", check_finite=False).detach().cpu()
    if not bool(torch.isfinite(samples).all()):
        import warnings
        warnings.warn(f"plot_2d: {int((~torch.isfinite(samples)).any(1).sum())} of {len(samples)} samples are NaN or "
                      "infinite and are not drawn (a diverged generator?)", stacklevel=2)
    fig, ax = _axes(ax, figsize)
    ax.scatter(samples[:, 0].numpy(), samples[:, 1].numpy(), s=s, alpha=alpha, label=label)
    if centers is not None:
        centers = torch.as_tensor(centers).detach().cpu()
        if centers.dim() != 2 or centers.shape[1] != 2:
            raise ValueError(f"centers must have shape M x 2, got {tuple(centers.shape)}")
        ax.scatter(centers[:, 0].numpy(), centers[:, 1].numpy(), marker="+", c="red", s=30, linewidths=0.8,
                   label="modes", zorder=3)
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return fig, ax


def smooth(values, window):
    """Moving average over `window` steps (shorter at the start), same length as `values`."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if window <= 1 or len(values) == 0:
        return values
    cumsum = torch.cat([torch.zeros(1, dtype=torch.float64), values.cumsum(0)])
    idx = torch.arange(1, len(values) + 1)
    start = (idx - window).clamp(min=0)
    return (cumsum[idx] - cumsum[start]) / (idx - start)


def plot_history(history, keys=None, window=None, ax=None, figsize=(6, 3.5), title=None, logy=False):
    """Plot per-step losses of a `train.History` (or a dict name -> list), smoothed over `window` steps."""
    losses = getattr(history, "losses", history)
    if not isinstance(losses, dict) or not losses:
        raise ValueError("history must be a train.History or a non-empty dict of name -> list of values")
    keys = list(losses) if keys is None else list(keys)
    missing = [k for k in keys if k not in losses]
    if missing:
        raise ValueError(f"history has no {missing}; it has {list(losses)}")
    fig, ax = _axes(ax, figsize)
    for key in keys:
        values = losses[key]
        w = window if window is not None else max(1, len(values) // 50)
        ax.plot(smooth(values, w).numpy(), label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig, ax


def table_markdown(rows, digits=3):
    """A Markdown table of ``rows`` (dict: row name -> dict: column -> value); floats get `digits` significant
    digits, missing values show as "—". Columns appear in first-seen order."""
    if not isinstance(rows, dict) or not rows or not all(isinstance(r, dict) for r in rows.values()):
        raise ValueError("rows must be a non-empty dict of row name -> dict of column -> value")
    columns = list(dict.fromkeys(column for row in rows.values() for column in row))

    def cell(value):
        if value is None:
            return "—"
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(row.get(column)) for column in columns) + " |"
              for name, row in rows.items()]
    return "\n".join(lines)


def show_table(rows, digits=3):
    """Display `rows` as a table in Jupyter (printed elsewhere); returns the Markdown text. See `table_markdown`."""
    text = table_markdown(rows, digits)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return text
    except ImportError:
        pass
    print(text)
    return text


# ---- VAE figures: plot_latent_map, interpolate_grid (written with the VAE lessons) ----

def _encoder_means(model, images, batch_size=1000):
    from .gan import _check_positive_int

    _check_positive_int("batch_size", batch_size)
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.cat([model.encode(images[i:i + batch_size].to(device))[0].cpu()
                          for i in range(0, len(images), batch_size)])


def latent_coordinates(model, images, batch_size=1000):
    """2-D coordinates of `images` (N x 1 x 28 x 28) in `model`'s latent space: the encoder means (N x 2) when
    latent_dim is 2, else the means projected on their first two principal components. Returns (coords, axis names)."""
    means = validate.finite(_encoder_means(model, validate.images(images), batch_size).double(), "the encoder's means",
                            "the model's weights hold NaN or infinite values (it diverged): retrain it.")
    if means.shape[1] == 2:
        return means.float(), ("$z_1$", "$z_2$")
    if means.shape[1] == 1 or len(means) < 2:
        raise ValueError("the latent map needs at least 2 latent dimensions and 2 images")
    centered = means - means.mean(dim=0)
    _, _, vt = torch.linalg.svd(centered, full_matrices=False)
    return (centered @ vt[:2].T).float(), ("principal component 1", "principal component 2")


def plot_latent_map(model, images, labels, ax=None, figsize=(5.5, 5), title=None, s=4, alpha=0.7):
    """Scatter where the encoder puts each image (its mean code), coloured by its digit label; returns (fig, ax).

    images: N x 1 x 28 x 28; labels: N integers 0-9. With latent_dim > 2 the codes are projected on their
    first two principal components (see `latent_coordinates`).
    """
    labels = torch.as_tensor(labels).cpu()
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape (N,) with N = {len(images)} images, got {tuple(labels.shape)}")
    coords, (x_name, y_name) = latent_coordinates(model, images)
    fig, ax = _axes(ax, figsize)
    points = ax.scatter(coords[:, 0].numpy(), coords[:, 1].numpy(), c=labels.numpy(), cmap="tab10", vmin=-0.5,
                        vmax=9.5, s=s, alpha=alpha)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(title or "where the encoder puts each digit")
    return fig, ax


def interpolate_grid(model, starts, ends, steps=8):
    """Decoded images along straight lines in latent space, from the code of each image in `starts` to the code
    of the matching image in `ends` (both N x 1 x 28 x 28; codes = encoder means).

    Returns (N * steps) x 1 x 28 x 28 Bernoulli means, row by row: show with ``show_images(images, nrow=steps)``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2 (the two ends included), got {steps!r}")
    validate.images(starts, "starts"), validate.images(ends, "ends")
    if torch.as_tensor(starts).shape != torch.as_tensor(ends).shape:
        raise ValueError(f"starts and ends must have the same shape, got {tuple(starts.shape)} and {tuple(ends.shape)}")
    a, b = _encoder_means(model, starts), _encoder_means(model, ends)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = ((1 - t) * a.unsqueeze(1) + t * b.unsqueeze(1)).reshape(len(a) * steps, -1)
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.sigmoid(model.decode(z.to(device))).cpu()
