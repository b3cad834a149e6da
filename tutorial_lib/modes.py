"""Mode coverage of generated 2-D samples on Gaussian mixtures (PacGAN protocol): `mode_metrics`, and the
reverse KL of a mode histogram, `reverse_kl`."""
import math

import torch

from . import validate

#: A generated sample is "high quality" when it lies within this many standard deviations of its nearest mode.
HIGH_QUALITY_STDS = 3.0


def _points(value, name, columns_as, check_finite=True):
    """`value` as a float64 N x D tensor, with a clear error for anything else."""
    tensor = validate.points(value, name, dim=None, check_finite=check_finite)
    return tensor.detach().to("cpu", torch.float64)


def mode_metrics(samples, centers, std):
    """Mode coverage of generated 2-D samples on a Gaussian mixture, by the PacGAN protocol (Lin et al. 2018).

    samples: N x 2 generated points (the protocol uses N = 2,500); centers: M x 2 mode centres; std: the
    modes' standard deviation. Each sample is assigned to its nearest centre (Euclidean distance).

    Returns a dict:
      - ``modes``: how many modes are the nearest mode of at least one high-quality sample (0..M);
      - ``high_quality``: the fraction of samples within ``3 * std`` of their nearest mode (distance <= 3 std;
        PacGAN's code uses < 3 std, which differs only for points exactly on the sphere);
      - ``reverse_kl``: KL(p || uniform) = sum_i p_i log(M p_i) in nats, where p is the histogram of the
        HIGH-QUALITY samples over their nearest modes, normalised (PacGAN's code); 0 when every mode gets the
        same share, log M when all of them sit in one mode; ``inf`` when no sample is high quality (there is
        no histogram, and every real one scores at most log M);
      - ``counts``: the histogram itself, a list of M ints (high-quality samples per mode).
    Samples with NaN or infinite coordinates (a diverged generator) count as not high quality.
    """
    samples = _points(samples, "samples", "N x 2", check_finite=False)
    centers = _points(centers, "centers", "M x 2")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples have {samples.shape[1]} coordinates but centers have {centers.shape[1]}; "
                         "both must be N x 2 and M x 2 (points of the same space)")
    try:
        std_value = float(std) if not isinstance(std, (bool, str)) else math.nan
    except (TypeError, ValueError, RuntimeError):
        std_value = math.nan
    if not 0 < std_value < math.inf:
        raise ValueError(f"std must be a positive number (the modes' standard deviation), got {std!r}")
    distances = (samples[:, None, :] - centers[None, :, :]).pow(2).sum(-1).sqrt()  # N x M, exact in float64
    distances = torch.nan_to_num(distances, nan=math.inf)
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= HIGH_QUALITY_STDS * std_value
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return {"modes": int((counts > 0).sum()), "high_quality": int(counts.sum()) / len(samples),
            "reverse_kl": reverse_kl(counts), "counts": counts.tolist()}


def reverse_kl(counts):
    """KL(p || uniform) in nats of a histogram `counts` (M,) over M modes, p = counts / counts.sum(): the sum of
    p_i log(M p_i) over the modes with p_i > 0 (0 log 0 = 0); ``inf`` when every count is 0 (no histogram)."""
    counts = torch.as_tensor(counts)
    if counts.dim() != 1 or len(counts) == 0 or bool((counts < 0).any()):
        raise ValueError(f"counts must be a 1-D histogram of non-negative counts, one per mode, got "
                         f"{counts.tolist() if counts.numel() < 10 else tuple(counts.shape)}")
    total = counts.double().sum()
    if total == 0:
        return math.inf
    p = counts[counts > 0].double() / total
    return max(float((p * torch.log(p * len(counts))).sum()), 0.0)  # clamp -1e-16 rounding to 0
