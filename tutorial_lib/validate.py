"""The one place that checks what comes into the library: images, latent codes, 2-D points and feature sets.

Every public function that takes one of these calls a function here first, so a wrong input gets one clear
error (what was expected, what came, what to do) instead of a cryptic one from deep inside torch, or a silent
wrong number. Each returns the input as a tensor (array-likes are converted where the caller allows it).

    x = validate.images(x, "real")            # N x 1 x 28 x 28, float, finite, in [0, 1]
    z = validate.latents(z, 64)               # N x 64, float
    p = validate.points(samples, "samples")   # N x 2, numeric
"""
import torch

IMAGE_SHAPE = (1, 28, 28)
#: How far outside [0, 1] rounding may take a pixel before it counts as out of range.
_RANGE_SLACK = 1e-5


def _describe(value):
    if torch.is_tensor(value):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    shape = getattr(value, "shape", None)
    return f"a {type(value).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _as_tensor(value, name, what, to_tensor):
    if torch.is_tensor(value):
        return value
    if to_tensor and value is not None and not isinstance(value, (str, bytes, dict)):
        try:
            return torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError):
            pass
    raise TypeError(f"{name} must be a torch tensor of {what}, got {_describe(value)}"
                    + ("; convert it with torch.as_tensor(...)" if value is not None else "") + ".")


def _check_float(x, name, what):
    if x.dtype == torch.uint8:
        raise TypeError(f"{name} must hold float values in [0, 1], got uint8 values (0..255): convert with "
                        f"{name}.float() / 255.")
    if x.dtype == torch.bool or not (x.is_floating_point()):
        raise TypeError(f"{name} must be a float tensor of {what}, got dtype {x.dtype}: convert with {name}.float()"
                        + (" (and divide 0..255 pixel counts by 255)" if not x.dtype == torch.bool else "") + ".")


_FINITE_BLOCK = 1 << 22  # values checked at a time: torch.isfinite of 26,000 stacked images at once took 400 MB


def _all_finite(x):
    """torch.isfinite(x).all() a block of rows at a time (its temporaries stay small)."""
    if x.dim() == 0 or len(x) == 0 or not x.is_floating_point():
        return bool(torch.isfinite(x).all())
    rows = max(1, _FINITE_BLOCK // max(1, x[0].numel()))
    return all(bool(torch.isfinite(x[i:i + rows]).all()) for i in range(0, len(x), rows))


def _check_finite(x, name, hint):
    if not _all_finite(x):
        finite = torch.isfinite(x)
        nan = int(torch.isnan(x).sum())
        raise ValueError(f"{name} contains {nan} NaN and {int((~finite).sum()) - nan} infinite values out of "
                         f"{x.numel()}: {hint}")


def _check_count(x, name, min_count, unit):
    if len(x) < min_count:
        raise ValueError(f"{name} holds {len(x)} {unit}, but this needs at least {min_count}"
                         + (" (it is empty)" if len(x) == 0 else "") + f": pass more {unit}.")


def _shape_hint(x, name, shape):
    """How to fix images `x` of the wrong shape, when one fix is sure: flat or channel-less images (one image per
    row, holding exactly one image's values) get a view; images with another number of channels are explained."""
    flat = 1
    for size in shape:
        flat *= size
    if x.dim() >= 1 and x.numel() and (x.numel() if x.dim() == 1 else x[0].numel()) == flat:
        return f"; reshape flat images with {name}.view(-1, {', '.join(map(str, shape))})"
    if x.dim() == len(shape) + 1 and tuple(x.shape[2:]) == tuple(shape[1:]):
        channels = x.shape[1]
        text = (f": {channels} channel{'s' if channels != 1 else ''} per image where {shape[0]} "
                f"{'is' if shape[0] == 1 else 'are'} expected")
        if shape[0] == 1:
            text += (f". This takes grey images, one digit each (a reshape to N x 1 x 28 x 28 would silently turn "
                     f"each image into {channels}). Only if every channel is a separate grey digit that you mean to "
                     f"score on its own (the {channels} digits of a Stacked MNIST image, say) pass "
                     f"{name}.flatten(0, 1).unsqueeze(1): {len(x)} images become {len(x) * channels}. Colour (RGB) "
                     "images cannot be scored here")
        return text
    return ""


def probabilities(p, name="probs", *, dim=2):
    """`p` checked as probability vectors along its last dimension (N x C rows when dim=2, one histogram (C,) when
    dim=1): numbers, finite, in [0, 1], each vector summing to 1. Returned as float64.

    The sum may miss 1 by rounding: each of the C values of a softmax (or of counts / total) carries a relative
    error of a few float32 epsilons and the normalizing sum one of (C - 1) epsilons, so |sum - 1| <= 2 (C + 1) eps
    with eps that of float32 (or of a coarser dtype), the precision models compute in; anything further is not
    probabilities (e.g. logits, or unnormalized counts)."""
    expected = "N x C tensor of class probabilities (rows)" if dim == 2 else "1-D histogram (C,)"
    p = _as_tensor(p, name, f"probabilities: a {expected}", True)
    if p.dim() != dim or 0 in p.shape:
        raise ValueError(f"{name} must be a non-empty {expected}, got shape {tuple(p.shape)}.")
    if p.dtype == torch.bool or p.is_complex():
        raise TypeError(f"{name} must hold real numbers (probabilities), got dtype {p.dtype}: convert with "
                        f"{name}.double().")
    eps = max(torch.finfo(p.dtype).eps, torch.finfo(torch.float32).eps) if p.is_floating_point() else 0.0
    p = p.double()
    _check_finite(p, name, "probabilities must be finite; a diverged model or a log of 0 upstream gives NaN.")
    tolerance = 2 * (p.shape[-1] + 1) * eps
    low, high = float(p.min()), float(p.max())
    sums = p.sum(dim=-1)
    worst = float((sums - 1).abs().max())
    if low < -tolerance or high > 1 + tolerance or worst > tolerance:
        within = f"within {tolerance:.2g}, rounding" if tolerance else "exactly, for integers"
        raise ValueError(f"{name} must hold probabilities: values in [0, 1], each "
                         f"{'row' if dim == 2 else 'histogram'} summing to 1 ({within}); got "
                         f"values in [{low:.4g}, {high:.4g}] and sums from {float(sums.min()):.6g} to "
                         f"{float(sums.max()):.6g}. Pass softmax outputs (torch.softmax(logits, dim=-1)), not logits, "
                         f"or divide counts by their total.")
    return p


def finite(x, name, hint="check where these values come from (a diverged model gives NaN)."):
    """Raise a ValueError naming `name` when tensor `x` holds NaN or infinite values; returns `x`."""
    _check_finite(x, name, hint)
    return x


def images(x, name="images", *, shape=IMAGE_SHAPE, min_count=1, value_range=True, check_finite=True,
           to_tensor=False):
    """`x` checked as a batch of images N x C x H x W: a float tensor (uint8 is refused with "divide by 255"),
    each image of `shape` (None: any, at least one dimension), at least `min_count` of them, finite values (unless
    ``check_finite=False``) in [0, 1] (unless ``value_range=False``). to_tensor: accept array-likes (converted).
    Returns the tensor."""
    shape_text = f"N x {' x '.join(map(str, shape))}" if shape else "N x ..."
    what = f"images of shape {shape_text}"
    x = _as_tensor(x, name, what, to_tensor)
    if shape is not None and (x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape)):
        raise ValueError(f"{name} must be a batch of {what}, got {tuple(x.shape)}{_shape_hint(x, name, shape)}.")
    if shape is None and x.dim() < 2:
        raise ValueError(f"{name} must have shape N x ... (a batch), got {tuple(x.shape)}; add a batch dimension "
                         f"with {name}.unsqueeze(0).")
    _check_float(x, name, what)
    _check_count(x, name, min_count, "images")
    if check_finite:
        _check_finite(x, name, "images must be finite; if a model made them, it has diverged (retrain it with a "
                               "lower learning rate).")
    if value_range and x.numel():
        low, high = (float(v) for v in torch.aminmax(x.detach()))
        if low < -_RANGE_SLACK or high > 1 + _RANGE_SLACK:
            if high > 2 and high <= 255 + _RANGE_SLACK and low >= -_RANGE_SLACK:
                fix = f"they look like 0..255 pixel counts: divide by 255 ({name} / 255)"
            elif low >= -1 - _RANGE_SLACK and high <= 1 + _RANGE_SLACK:
                fix = f"they look like images in [-1, 1]: map them to [0, 1] with ({name} + 1) / 2"
            else:
                fix = ("they look normalized (e.g. by transforms.Normalize): undo it (x * std + mean) or use "
                       "tutorial_lib.data.load_mnist, whose images already are in [0, 1]; for logits apply "
                       "torch.sigmoid")
            raise ValueError(f"{name} must hold pixel values in [0, 1], got values in [{low:g}, {high:g}]: {fix}.")
    return x


def latents(z, dim=None, name="z", *, min_count=1, check_finite=False):
    """`z` checked as latent codes N x `dim` (any D when None): a float tensor with at least `min_count` rows
    (finite with ``check_finite=True``). Returns the tensor."""
    shape_text = f"N x {dim if dim is not None else 'D'}"
    what = f"latent codes of shape {shape_text}"
    z = _as_tensor(z, name, what, False)
    if z.dim() != 2 or (dim is not None and z.shape[1] != dim):
        raise ValueError(f"{name} must have shape {shape_text}"
                         + (" (this model's latent_dim)" if dim is not None else "") + f", got {tuple(z.shape)}"
                         + (f"; for one code use {name}.view(1, -1)." if z.dim() == 1 else "."))
    _check_float(z, name, what)
    _check_count(z, name, min_count, "codes")
    if check_finite:
        _check_finite(z, name, "latent codes must be finite (a diverged encoder gives NaN).")
    return z


def points(p, name="samples", *, dim=2, min_count=1, check_finite=True, to_tensor=True, integers=True):
    """`p` checked as points N x `dim` (any D when None): numbers (integers are accepted and converted to float64
    unless ``integers=False``), at least `min_count` rows, finite unless ``check_finite=False``; array-likes are
    converted unless ``to_tensor=False``. Returns a floating tensor (the same one when it already was)."""
    shape_text = f"N x {dim if dim is not None else 'D'}"
    p = _as_tensor(p, name, f"points of shape {shape_text}", to_tensor)
    if p.dim() != 2 or (dim is not None and p.shape[1] != dim) or 0 in p.shape:
        raise ValueError(f"{name} must be a non-empty 2-D tensor of shape {shape_text} (one row per point), got "
                         f"shape {tuple(p.shape)}.")
    if p.dtype == torch.bool or p.is_complex() or (not integers and not p.is_floating_point()):
        raise TypeError(f"{name} must hold real float numbers, got dtype {p.dtype}: convert with {name}.float().")
    if not p.is_floating_point():
        p = p.double()
    _check_count(p, name, min_count, "points")
    if check_finite:
        _check_finite(p, name, "points must be finite; if a model made them, it has diverged.")
    return p


def features(f, name="features", *, min_count=1):
    """`f` checked as a feature set N x D (finite floats, at least `min_count` rows), e.g. of `metrics.mnist_features`;
    returned as float64."""
    return points(f, name, dim=None, min_count=min_count).double()


def model_dtype(x, model, name):
    """Refuse a float tensor `x` whose dtype differs from the float weights of `model` (float64 from NumPy into a
    float32 network) with an error that says how to convert; returns `x`."""
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weight is not None and torch.is_tensor(x) and x.is_floating_point() and x.dtype != weight.dtype:
        convert = {torch.float32: ".float()", torch.float64: ".double()", torch.float16: ".half()"}
        raise TypeError(f"{name} is {x.dtype} but the model's weights are {weight.dtype}: convert it with "
                        f"{name}{convert.get(weight.dtype, f'.to({weight.dtype})')} (torch.from_numpy gives float64), "
                        f"or the model with model.to({x.dtype}).")
    return x
