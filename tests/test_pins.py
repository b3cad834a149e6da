"""Pins: every public default of the library, every boundary of a metric (`<` against `<=`), every model's input
scaling and the data helpers' defaults. Each test states the value by hand, so a changed default, a moved boundary
or a dropped rescaling fails here (a single-line change that the tests of behaviour might not notice).

A new public function or class with defaults must be added to DEFAULTS (the test says which line to add)."""
import dataclasses
import importlib
import inspect
import math
import pkgutil
import warnings

import pytest
import torch
import torch.nn.functional as F

import tutorial_lib.checks
from tutorial_lib import conditional, data, divergences, gan, metrics, modes, runtime, validate, vae

#: module.qualname -> {parameter: default}, for every public function, class (its constructor or dataclass fields)
#: and public method of tutorial_lib and tutorial_lib.checks that has defaults.
DEFAULTS = {
    'bench.write_json': {'indent': 2},
    'bench.main': {'argv': None},
    'checkpoints.to_plain': {'where': 'state'},
    'checkpoints.load_checkpoint': {'map_location': 'cpu'},
    'checkpoints.run_settings': {'data_names': ('loader', 'data')},
    'checkpoints.differences': {'prefix': ''},
    'conditional.check_labels': {'n': None},
    'conditional.CVAE': {'latent_dim': 16, 'hidden': 400},
    'conditional.CVAE.sample': {'labels': None, 'generator': None},
    'conditional.cvae_elbo': {'beta': 1.0},
    'conditional.ConditionalGenerator': {'latent_dim': 64, 'width': 32},
    'conditional.ConditionalGenerator.sample': {'labels': None, 'generator': None},
    'conditional.ConditionalDiscriminator': {'width': 32, 'spectral_norm': False},
    'conditional.VAEGAN': {'latent_dim': 64, 'width': 32, 'depth': 0},
    'conditional.VAEGAN.sample': {'generator': None},
    'conditional.kl_weight': {'beta': 1.0},
    'conditional.CollapseVAE': {'latent_dim': 16, 'hidden': 256, 'autoregressive': False},
    'conditional.CollapseVAE.sample': {'generator': None},
    'conditional.collapse_elbo': {'beta': 1.0, 'free_bits': None, 'free_bits_fn': None},
    'conditional.train_collapse': {'beta': 1.0, 'warmup_steps': 0, 'free_bits': None, 'lr': 0.001, 'batch_size': 128,
                                   'seed': 0, 'free_bits_fn': None, 'kl_weight_fn': None},
    'conditional.label_accuracy': {'batch_size': 500},
    'conditional.generate_labelled': {'seed': 0, 'batch_size': 1000},
    'conditional.train_cvae': {'lr': 0.001, 'batch_size': 128, 'beta': 1.0, 'seed': 0, 'binarize': True},
    'conditional.train_cgan': {'lr': 0.0005, 'batch_size': 64, 'seed': 0},
    'conditional.vae_gan_step': {'gamma': 0.01},
    'conditional.vae_gan_optimizers': {'lr': 0.0005},
    'conditional.train_vae_gan': {'lr': 0.0005, 'batch_size': 64, 'gamma': 0.01, 'seed': 0, 'step': None},
    'conditional.seconds_per_step': {'width': 32, 'latent_dim': 64, 'batch_size': 64, 'steps': 10, 'seed': 0,
                                     'depth': 2},
    'conditional.train_conditional_recipe': {'steps': None, 'seed': 0, 'limit': None, 'width': None},
    'data.check_mnist_files': {'train': True},
    'data.download_mnist': {'root': None},
    'data.MNISTTensors': {'binarize': None},
    'data.load_mnist': {'train': True, 'binarize': None, 'limit': None, 'root': None, 'download': None},
    'data.mnist_loader': {'batch_size': 128, 'train': True, 'shuffle': None, 'drop_last': False, 'binarize': None,
                          'limit': None, 'dataset': None},
    'data.ring': {'modes': 8, 'radius': 1.0, 'std': 0.01, 'seed': None},
    'data.grid': {'side': 5, 'spacing': 2.0, 'std': 0.05, 'seed': None},
    'data.stacked_mnist': {'train': True, 'root': None},
    'data.StackedMNISTLoader': {'batch_size': 64, 'seed': 0, 'train': True, 'batches': 1000, 'root': None},
    'divergences.fit_gaussian': {'start': (0.0, 1.0)},
    'divergences.Critic1D': {'hidden': 64},
    'divergences.train_critic': {'method': 'gp', 'steps': 500, 'clip': 0.01, 'gp_weight': 10.0, 'lr': 0.001,
                                 'batch_size': 256, 'seed': 0, 'hidden': 64},
    'divergences.lipschitz_constant': {'n': 2001},
    'divergences.train_gaussian_vae': {'log_sigma': None, 'lr': 0.001, 'batch_size': 128, 'seed': 0},
    'gan.discriminator_loss': {'kind': 'nonsaturating'},
    'gan.generator_loss': {'kind': 'nonsaturating'},
    'gan.gradient_penalty': {'alpha': None},
    'gan.MLPGenerator': {'latent_dim': 2, 'hidden': 128, 'depth': 3, 'out_dim': 2},
    'gan.MLPDiscriminator': {'in_dim': 2, 'hidden': 128, 'depth': 3, 'spectral_norm': False, 'pack': 1},
    'gan.mlp_generator': {'latent_dim': 2, 'hidden': 128, 'depth': 3, 'out_dim': 2},
    'gan.mlp_discriminator': {'in_dim': 2, 'hidden': 128, 'depth': 3, 'spectral_norm': False, 'pack': 1},
    'gan.DCGANGenerator': {'latent_dim': 64, 'width': 32, 'image_channels': 1, 'depth': 0},
    'gan.dcgan_body': {'width': 32, 'in_channels': 1, 'spectral_norm': False},
    'gan.DCGANDiscriminator': {'width': 32, 'spectral_norm': False, 'pack': 1, 'image_channels': 1},
    'gan.gan_step': {'loss': 'nonsaturating'},
    'gan.smoothed_discriminator_loss': {'real_target': 0.9},
    'gan.power_iteration': {'steps': 1},
    'gan.layer_shapes': {'trace': None},
    'metrics.recorded_sha256': {'regenerate': 'python scripts/train_classifier.py'},
    'metrics.verified_load': {'name': None, 'regenerate': 'python scripts/train_classifier.py'},
    'metrics.load_classifier': {'path': metrics.CLASSIFIER_PATH, 'name': 'mnist_classifier.pt'},
    'metrics.mnist_features': {'batch_size': 500},
    'metrics.fid': {'batch_size': 500},
    'metrics.kid': {'subsets': 100, 'subset_size': 1000, 'seed': 0},
    'metrics.precision_recall': {'k': 3},
    'metrics.sample_quality': {'k': 3, 'subsets': 100, 'subset_size': 1000, 'real_feats': None},
    'metrics.nll': {'k': 1000, 'batch_size': 100, 'device': None},
    'metrics.negative_elbo': {'batch_size': 500, 'seed': 0, 'device': None},
    'metrics.digit_histogram': {'batch_size': 500},
    'metrics.class_probabilities': {'batch_size': 500},
    'metrics.features_and_probabilities': {'batch_size': 500},
    'metrics.sharpness': {'batch_size': 500},
    'metrics.inception_score': {'batch_size': 500},
    'metrics.nearest_neighbours': {'batch_size': 256, 'pool_block': 10_000},
    'data.ink_fraction': {'threshold': 0.5},
    'metrics.active_units': {'threshold': 0.01, 'batch_size': 500},
    'metrics.per_class_recall': {'k': 3, 'classes': 10},
    'metrics.confident_share': {'threshold': 0.9},
    'metrics.stacked_labels': {'batch_size': 500},
    'metrics.stacked_modes': {'batch_size': 500},
    'plotting.image_grid': {'nrow': 8, 'padding': 2},
    'plotting.show_images': {'nrow': 8, 'title': None, 'ax': None, 'figsize': None},
    'plotting.plot_2d': {'centers': None, 'title': None, 'ax': None, 'figsize': (4, 4), 'lim': None, 's': 2,
                         'alpha': 0.4, 'label': None},
    'plotting.plot_history': {'keys': None, 'window': None, 'ax': None, 'figsize': (6, 3.5), 'title': None,
                              'logy': False},
    'plotting.table_markdown': {'digits': 3},
    'plotting.show_table': {'digits': 3},
    'plotting.latent_coordinates': {'batch_size': 1000},
    'plotting.plot_latent_map': {'ax': None, 'figsize': (5.5, 5), 'title': None, 's': 4, 'alpha': 0.7},
    'plotting.interpolate_grid': {'steps': 8},
    'pretrained.recalibrate_batch_norm': {'batches': 50, 'batch_size': 256, 'seed': 0},
    'pretrained.train_recipe': {'budget_s': None, 'device': None, 'limit': None, 'seed': 0, 'checkpoint': None,
                                'callback': None, 'scale': 1.0},
    'pretrained.to_storage': {'dtype': torch.float16},
    'pretrained.save_pretrained': {'path': None},
    'pretrained.load_pretrained': {'raw': False},
    'pretrained.generate': {'seed': 0, 'batch_size': 1000, 'labels': None},
    'pretrained.save_yours': {'info': None},
    'runtime.get_device': {'prefer': None},
    'runtime.return_large_blocks': {'threshold': 4 * 2**20},
    'runtime.progress': {'iterable': None},
    'runtime.RunProgress': {'max_seconds': None, 'done_steps': 0, 'done_seconds': 0.0, 'desc': 'steps'},
    'runtime.RunProgress.fraction': {'elapsed': None},
    'runtime.RunProgress.update': {'n': 1},
    'runtime.RunProgress.set_postfix': {'refresh': False},
    'stabilize.Setup': {'latent_dim': 2, 'hidden': 128, 'depth': 3, 'spectral_norm': False, 'ema': 0.999},
    'stabilize.setup': {'recipe': 'common'},
    'stabilize.config': {'recipe': 'common'},
    'stabilize.EMA': {'decay': 0.999, 'update': None},
    'stabilize.run_2d': {'seed': 0, 'steps': 5000, 'device': 'cpu', 'trace_every': None, 'recipe': 'common',
                         'ema_update': None, 'discriminator': None, 'train': None},
    'stabilize.time_per_step': {'recipe': 'common', 'steps': 200, 'repeats': 2},
    'stabilize.steps_for_budget': {'multiple': 100},
    'stabilize.run_many': {'workers': 1, 'on_result': None, 'trace_every': None},
    'stabilize.summarize': {'which': 'ema'},
    'train.History': {'losses': {}, 'wall_time': 0.0, 'steps': 0, 'epochs': 0},
    'train.History.mean': {'last': None},
    'train.check_finite': {'name': 'loss'},
    'train.check_rate': {'what': 'learning rate'},
    'train.train_vae': {'lr': 0.001, 'beta': 1.0, 'device': None, 'checkpoint': None, 'resume': True,
                        'max_seconds': None, 'kl_warmup_steps': 0, 'lr_schedule': 'constant', 'callback': None,
                        'betas': (0.9, 0.999), 'on_step': None},
    'train.start_or_resume': {'resume': True, 'run': None},
    'train.GANRecipe': {'loss': 'nonsaturating', 'n_critic': 1, 'gp_weight': 0.0, 'r1_weight': 0.0, 'pack': 1,
                        'optimizer': 'adam', 'lr_g': 0.0002, 'lr_d': 0.0002, 'betas': (0.5, 0.999), 'batch_size': 64,
                        'lr_schedule': 'constant', 'clip_weights': None, 'feature_matching': False,
                        'label_smoothing': 0.0, 'step': None},
    'train.train_gan': {'recipe': None, 'device': None, 'checkpoint': None, 'resume': True, 'max_seconds': None,
                        'callback': None, 'every': 100},
    'vae.reparameterize': {'eps': None},
    'vae.VAE': {'latent_dim': 20, 'arch': 'mlp', 'hidden': 400, 'layers': 1, 'channels': 32, 'decoder': None,
                'activation': 'relu', 'image_channels': 1, 'depth': 0},
    'vae.VAE.sample': {'generator': None},
    'vae.elbo': {'beta': 1.0},
    'vae.vae_train_step': {'beta': 1.0, 'return_terms': False, 'elbo_fn': None},
    'vae.rate_distortion': {'batch_size': 500},
    'validate.probabilities': {'name': 'probs', 'dim': 2},
    'validate.finite': {'hint': 'check where these values come from (a diverged model gives NaN).'},
    'validate.images': {'name': 'images', 'shape': (1, 28, 28), 'min_count': 1, 'value_range': True,
                        'check_finite': True, 'to_tensor': False},
    'validate.latents': {'dim': None, 'name': 'z', 'min_count': 1, 'check_finite': False},
    'validate.points': {'name': 'samples', 'dim': 2, 'min_count': 1, 'check_finite': True, 'to_tensor': True,
                        'integers': True},
    'validate.features': {'name': 'features', 'min_count': 1},
    'widgets.to_png': {'scale': 4},
    'widgets.latent_explorer': {'z': None, 'dims': 8, 'limit': 3.0, 'step': 0.05, 'scale': 5},
    'widgets.beta_explorer': {'n': 8, 'seed': 0},
    'widgets.gan_playground': {'step_fn': None, 'dataset': 'ring', 'steps_per_frame': 20, 'batch_size': 128,
                               'lr': 0.001, 'hidden': 64, 'interval': 400, 'n_show': 500, 'seed': 0},
    'checks._core.Case': {'args': (), 'kwargs': {}, 'expected': None, 'atol': 1e-05, 'rtol': 0.0001},
    'checks._core.use_yours': {'what': None},
    'checks.gan.dcgan_generator_parameters': {'latent_dim': 64, 'width': 32, 'image_channels': 1},
    'checks.gan.dcgan_discriminator_parameters': {'width': 32, 'image_channels': 1},
}


def _modules():
    names = ["bench", "checkpoints", "conditional", "data", "divergences", "gan", "metrics", "modes", "plotting",
             "pretrained", "runtime", "stabilize", "train", "vae", "validate", "widgets", "checks._core"]
    names += ["checks." + info.name for info in pkgutil.iter_modules(tutorial_lib.checks.__path__)
              if not info.name.startswith("_")]
    return names


def _public(module):
    """(qualname, object) of the public functions and classes defined in `module`, and of the classes' public
    methods (static and class methods included)."""
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            yield name, obj
            for method_name, method in vars(obj).items():
                if isinstance(method, (staticmethod, classmethod)):
                    method = method.__func__
                if not method_name.startswith("_") and inspect.isfunction(method):
                    yield f"{name}.{method_name}", method


def _defaults(obj):
    """{parameter: default} of a function or a class (a dataclass: its fields, default factories called)."""
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        found = {}
        for f in dataclasses.fields(obj):
            if f.default is not dataclasses.MISSING:
                found[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                found[f.name] = f.default_factory()
        return found
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _actual_defaults():
    found = {}
    for name in _modules():
        module = importlib.import_module(f"tutorial_lib.{name}")
        for qualname, obj in _public(module):
            defaults = _defaults(obj)
            if defaults:
                found[f"{name}.{qualname}"] = defaults
    return found


def _same(a, b):
    """Equal values of the same type (so 1 -> True or 0.9 -> "0.9" counts as a change), element by element."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def test_every_public_default_is_pinned():
    actual = _actual_defaults()
    changed = [f"{name}: {param}={actual[name].get(param, '<gone>')!r}, pinned {value!r}"
               for name, pinned in DEFAULTS.items() if name in actual for param, value in pinned.items()
               if param not in actual[name] or not _same(actual[name][param], value)]
    changed += [f"{name}: new parameters {sorted(set(actual[name]) - set(pinned))}"
                for name, pinned in DEFAULTS.items() if name in actual and set(actual[name]) - set(pinned)]
    missing = [f"    {name!r}: {actual[name]!r}," for name in actual if name not in DEFAULTS]
    gone = [name for name in DEFAULTS if name not in actual]
    assert not changed, "defaults changed (update DEFAULTS only if the change is meant):\n" + "\n".join(changed)
    assert not missing, "public defaults not pinned yet; add to DEFAULTS:\n" + "\n".join(missing)
    assert not gone, f"pinned but no longer public (or without defaults): {gone}"


def test_the_pins_see_a_changed_default(monkeypatch):
    """The comparison notices a changed value, a changed type and a new default."""
    assert _same(0.9, 0.9) and not _same(0.9, 0.91) and not _same(1, True) and not _same(1, 1.0)
    assert not _same((0.5, 0.999), (0.5, 0.99)) and _same({"a": (1, "x")}, {"a": (1, "x")})

    def confident_share(probs, threshold=0.95):
        return probs

    monkeypatch.setattr(confident_share, "__module__", "tutorial_lib.metrics")
    monkeypatch.setattr(metrics, "confident_share", confident_share)
    assert not _same(_actual_defaults()["metrics.confident_share"]["threshold"],
                     DEFAULTS["metrics.confident_share"]["threshold"])


def test_module_constants():
    assert modes.HIGH_QUALITY_STDS == 3.0 and metrics.HIGH_QUALITY_STDS is modes.HIGH_QUALITY_STDS
    assert validate.IMAGE_SHAPE == (1, 28, 28) and validate._RANGE_SLACK == 1e-5
    assert runtime.MMAP_THRESHOLD == 4 * 2**20 and gan.SAMPLE_ROWS == 1_000
    assert metrics.MNISTClassifier.num_features == 128 and conditional.NUM_CLASSES == 10
    assert gan.SHARED_NETWORK == {"latent_dim": 64, "width": 32, "depth": 2}
    assert gan.LOSS_KINDS == ("minimax", "nonsaturating", "wasserstein", "hinge")
    assert divergences.DIVERGENCES == ("forward_kl", "reverse_kl", "jsd")
    assert {k: v.domain for k, v in divergences.F_DIVERGENCES.items()} == {
        "kl": (-math.inf, math.inf), "reverse_kl": (-math.inf, 0.0), "pearson": (-math.inf, math.inf),
        "hellinger": (-math.inf, 1.0), "jsd": (-math.inf, 0.5 * math.log(2)), "gan": (-math.inf, 0.0),
        "total_variation": (-0.5, 0.5)}
    assert data.BINARIZE_MODES == (None, "static", "dynamic")
    assert data.MNIST_SIZES == {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
                                "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}


# ---- boundaries: which side of each threshold counts ----

def _below(value):
    """The largest float64 below `value`."""
    return math.nextafter(value, -math.inf)


def test_confident_share_counts_a_row_exactly_at_the_threshold():
    at = torch.tensor([[0.9, 0.1]], dtype=torch.float64)                 # 0.9 + 0.1 == 1.0 in float64
    below = torch.tensor([[_below(0.9), 0.1]], dtype=torch.float64)
    assert metrics.confident_share(at) == 1.0 and metrics.confident_share(below) == 0.0
    assert metrics.confident_share(torch.tensor([[0.5, 0.5]], dtype=torch.float64), threshold=0.5) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        metrics.confident_share(at, threshold=math.nextafter(1.0, 2.0))


def test_high_quality_radius_includes_exactly_three_stds():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]], dtype=torch.float64)
    for std in (1.0, 0.5):                                               # 3 std is exact in float64, and so is
        on = torch.tensor([[3 * std, 0.0]], dtype=torch.float64)         # sqrt(d^2) = d
        off = torch.tensor([[math.nextafter(3 * std, math.inf), 0.0]], dtype=torch.float64)
        assert modes.mode_metrics(on, centers, std)["high_quality"] == 1.0
        assert modes.mode_metrics(off, centers, std)["high_quality"] == 0.0
        assert modes.mode_metrics(off, centers, math.nextafter(std, math.inf))["high_quality"] == 1.0


def test_precision_recall_balls_include_their_boundary_and_use_the_kth_other_point():
    real = torch.tensor([[0.0], [1.0], [2.0]])
    # k = 1: every real radius is 1. Fake 3 is exactly 1 from real 2 (inside), fake 4 is 2 away (outside). The fake
    # radii are 1 too: real 2 is exactly 1 from fake 3 (inside), reals 0 and 1 are not.
    assert metrics.precision_recall(real, torch.tensor([[3.0], [4.0]]), k=1) == (0.5, 1 / 3)
    nudged = torch.tensor([[3.0 + 2 ** -20], [4.0]])                         # 1 + 2^-20 from real 2: outside
    assert metrics.precision_recall(real, nudged, k=1)[0] == 0.0
    # k = 2: the radius of real 2 is its distance to its 2nd nearest OTHER point (real 0), 2; fake 4 is now inside.
    assert metrics.precision_recall(real, torch.tensor([[4.0], [5.0], [9.0]]), k=2)[0] == pytest.approx(1 / 3)
    recall = metrics.per_class_recall(real, torch.tensor([0, 0, 1]), torch.tensor([[3.0], [4.0]]), k=1, classes=2)
    assert recall.tolist() == [0.0, 1.0]


def test_active_units_counts_a_variance_strictly_above_the_threshold():
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(()))

        def encode(self, x):
            mu = x.flatten(1)[:, :1] * self.weight                        # codes 0 and 1: unbiased variance 0.5
            return mu, torch.zeros_like(mu)

    images = torch.cat([torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28)])
    count, variances = metrics.active_units(Encoder(), images, threshold=0.5)
    assert variances.tolist() == [0.5] and count == 0
    assert metrics.active_units(Encoder(), images, threshold=_below(0.5))[0] == 1
    assert metrics.active_units(Encoder(), images)[0] == 1                # the default threshold, 0.01


def test_sample_quality_counts_a_digit_with_exactly_a_quarter_of_its_share(monkeypatch):
    shares = torch.tensor([0.025, _below(0.025), 1 - 0.025 - _below(0.025)] + [0.0] * 7, dtype=torch.float64)
    for name, value in (("fid", 0.0), ("kid", (0.0, 0.0)), ("sharpness", 0.0), ("precision_recall", (1.0, 1.0))):
        monkeypatch.setattr(metrics, name, lambda *args, value=value, **kwargs: value)
    monkeypatch.setattr(metrics, "mnist_features", lambda images: torch.zeros(len(images), 2))
    monkeypatch.setattr(metrics, "digit_histogram", lambda images: shares)
    images = torch.zeros(4, 1, 28, 28)
    assert metrics.sample_quality(images, images)["digits"] == 2


def test_image_range_allows_rounding_only():
    accepted = [torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28), torch.full((1, 1, 28, 28), 1 + 1e-6),
                torch.full((1, 1, 28, 28), -1e-6)]
    for x in accepted:
        validate.images(x)
    for value in (1 + 1e-4, -1e-4):
        with pytest.raises(ValueError, match="pixel values in"):
            validate.images(torch.full((1, 1, 28, 28), value))


def test_probability_rows_may_miss_one_by_float32_rounding_only():
    g = torch.Generator().manual_seed(0)
    for classes in (2, 10, 1000):
        for scale in (0.1, 5.0, 40.0):                                   # float32 softmax rows pass, at any C
            rows = torch.softmax(scale * torch.randn(2000, classes, generator=g), dim=1)
            metrics.confident_share(rows)
            metrics.kl_from_uniform(rows[0])
    tolerance = 2 * (10 + 1) * torch.finfo(torch.float32).eps              # C = 10
    row = torch.full((1, 10), 0.1, dtype=torch.float64)
    metrics.confident_share(row + torch.tensor([0.9 * tolerance] + [0.0] * 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="summing to 1"):
        metrics.confident_share(row + torch.tensor([3 * tolerance] + [0.0] * 9, dtype=torch.float64))
    metrics.kl_from_uniform(torch.tensor([1, 0]))                           # integers: exact
    with pytest.raises(ValueError, match="exactly, for integers"):
        metrics.kl_from_uniform(torch.tensor([1, 1]))


def test_fid_warns_below_128_images_a_side_only():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(128, 1, 28, 28, generator=g)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics.fid(images, images.flip(0))
    assert not [w for w in caught if "feature dimensions" in str(w.message)]
    with pytest.warns(UserWarning, match="fewer samples than the 128 feature dimensions"):
        metrics.fid(images, images[:127])


def test_grid_helpers_at_their_edges():
    assert conditional.kl_weight(0, 4, beta=2.0) == 0.5 and conditional.kl_weight(3, 4, beta=2.0) == 2.0
    assert conditional.kl_weight(2, 4) == 0.75 and conditional.kl_weight(0, 0, beta=3.0) == 3.0
    both_zero = gan.optimal_discriminator(torch.zeros(2), torch.tensor([0.0, 1.0]))
    assert both_zero.tolist() == [0.5, 0.0]
    assert metrics.kl_from_uniform([1.0, 0.0]) == pytest.approx(math.log(2), abs=1e-15)   # 0 log 0 = 0
    logits = torch.tensor([0.3, -2.0])
    assert gan.smoothed_discriminator_loss(logits, logits, 1.0) == gan.discriminator_loss(logits, logits)
    module = torch.nn.Linear(3, 3)
    with torch.no_grad():
        module.weight.copy_(torch.linspace(-1, 1, 9).view(3, 3))
    gan.clip_weights_(module, 0.5)
    assert module.weight.max() == 0.5 and module.weight.min() == -0.5     # clamped to the closed interval


# ---- models' input scaling: what each network does to its input before its first layer ----

def _leaky(x):
    return F.leaky_relu(x, 0.2)


def _body_by_hand(net, x):
    """The DCGAN discriminator's body written out: two stride-2 convolutions with LeakyReLU(0.2), flattened."""
    h = _leaky(F.conv2d(x, net[0].weight, net[0].bias, stride=2, padding=1))
    return _leaky(F.conv2d(h, net[2].weight, net[2].bias, stride=2, padding=1)).flatten(1)


IMAGES = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_the_dcgan_discriminator_sees_its_input_scaled_to_minus_one_one():
    torch.manual_seed(0)
    d = gan.DCGANDiscriminator(width=4)
    features = _body_by_hand(d.net, IMAGES * 2 - 1)
    assert torch.allclose(d.features(IMAGES), features, atol=1e-6)
    assert torch.allclose(d(IMAGES), F.linear(features, d.net[-1].weight, d.net[-1].bias).squeeze(1), atol=1e-6)
    cd = conditional.ConditionalDiscriminator(width=4)
    labels = torch.tensor([0, 1, 2, 3, 9])
    h = _body_by_hand(cd.body, IMAGES * 2 - 1)
    expected = F.linear(h, cd.linear.weight, cd.linear.bias).squeeze(1) + (cd.embed.weight[labels] * h).sum(1)
    assert torch.allclose(cd(IMAGES, labels), expected, atol=1e-6)
    assert torch.allclose(gan.discriminator_features(d, IMAGES), features, atol=1e-6)


def test_the_vae_encoders_input_scaling():
    torch.manual_seed(0)
    conv = vae.VAE(latent_dim=3, arch="conv", channels=4)
    h = _body_by_hand(conv.encoder, IMAGES * 2 - 1)
    mu, logvar = conv.encode(IMAGES)
    assert torch.allclose(mu, F.linear(h, conv.to_mu.weight, conv.to_mu.bias), atol=1e-6)
    assert torch.allclose(logvar, F.linear(h, conv.to_logvar.weight, conv.to_logvar.bias), atol=1e-6)
    mlp = vae.VAE(latent_dim=3, hidden=8)                                  # the MLP encoder: pixels as they are
    linear = mlp.encoder[1][0]
    h = F.relu(F.linear(IMAGES.flatten(1), linear.weight, linear.bias))
    assert torch.allclose(mlp.encode(IMAGES)[0], F.linear(h, mlp.to_mu.weight, mlp.to_mu.bias), atol=1e-6)
    hybrid = conditional.VAEGAN(latent_dim=3, width=4)                     # the conv VAE's encoder, the same scaling
    h = _body_by_hand(hybrid.encoder, IMAGES * 2 - 1)
    assert torch.allclose(hybrid.encode(IMAGES)[0], F.linear(h, hybrid.to_mu.weight, hybrid.to_mu.bias), atol=1e-6)


def test_the_dcgan_generator_outputs_zero_one_and_its_logits():
    torch.manual_seed(0)
    g = gan.DCGANGenerator(latent_dim=4, width=4).eval()
    z = torch.randn(6, 4)
    a = g.net(g.project(z))
    assert torch.allclose(g(z), (torch.tanh(a) + 1) / 2, atol=1e-7)
    assert torch.allclose(g.logits(z), 2 * a, atol=1e-7)
    assert torch.allclose(torch.sigmoid(g.logits(z)), g(z), atol=1e-6)
    model = vae.VAE(latent_dim=4, arch="conv", channels=4).eval()
    assert torch.allclose(model.decode(z), model.decoder.logits(z))       # the conv VAE decodes to the logits


def test_the_classifier_takes_pixels_in_zero_one_unnormalized():
    model = metrics.mnist_classifier()
    with torch.no_grad():
        body = model.body(IMAGES)
        assert torch.equal(metrics.mnist_features(IMAGES), body)
        probs = torch.softmax(model.head(body).double(), dim=1)
    assert torch.allclose(metrics.class_probabilities(IMAGES), probs, atol=1e-12)
    assert torch.equal(metrics.digit_histogram(IMAGES), torch.bincount(probs.argmax(1), minlength=10).double() / 5)


def test_features_and_probabilities_are_the_two_functions_in_one_pass():
    images = torch.cat([IMAGES, IMAGES.flip(-1), IMAGES.transpose(-1, -2)])  # 15 images: batches of 4, 4, 4, 3
    feats, probs = metrics.features_and_probabilities(images, batch_size=4)
    assert torch.equal(feats, metrics.mnist_features(images, batch_size=4))
    assert torch.equal(probs, metrics.class_probabilities(images, batch_size=4))
    assert feats.dtype == torch.float32 and probs.dtype == torch.float64 and probs.shape == (15, 10)
    with pytest.raises(TypeError, match="/ 255"):
        metrics.features_and_probabilities((images * 255).to(torch.uint8))


# ---- data helpers: what their defaults give ----

def test_ring_and_grid_defaults():
    samples, centers, std = data.ring(20_000, seed=0)
    angles = torch.arange(8) * (2 * math.pi / 8)
    assert std == 0.01 and torch.allclose(centers, torch.stack([angles.cos(), angles.sin()], 1), atol=1e-7)
    residual = samples - centers[torch.cdist(samples, centers).argmin(1)]
    assert float(residual.std()) == pytest.approx(0.01, rel=0.03)         # 40,000 coordinates: 0.5 % standard error
    samples, centers, std = data.grid(20_000, seed=0)
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    assert std == 0.05 and torch.equal(centers, torch.cartesian_prod(axis, axis))
    residual = samples - centers[torch.cdist(samples, centers).argmin(1)]
    assert float(residual.std()) == pytest.approx(0.05, rel=0.03)
    counts = torch.bincount(torch.cdist(samples, centers).argmin(1), minlength=25)
    assert counts.min() > 640 and counts.max() < 960                       # uniform: 800 each, sd 28


def test_mnist_defaults(mnist_available):
    train = data.load_mnist(limit=5)                                       # default: the training split, grey levels
    assert train.labels.tolist() == [5, 0, 4, 1, 9] and train.binarize is None
    assert ((train.images > 0) & (train.images < 1)).any() and train.images.max() == 1.0
    test = data.load_mnist(train=False, limit=300)
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    ordered = list(data.mnist_loader(train=False, dataset=test))           # batch 128, in order, last batch kept
    assert [len(x) for x, _ in ordered] == [128, 128, 44] and torch.equal(ordered[0][1], test.labels[:128])
    shuffled = next(iter(data.mnist_loader(dataset=test)))[1]              # train=True: shuffled
    assert len(shuffled) == 128 and not torch.equal(shuffled, test.labels[:128])


@pytest.mark.parametrize("block", [1, 7, 784, validate._FINITE_BLOCK])
def test_finiteness_is_checked_block_by_block_everywhere(monkeypatch, block):
    """validate's finiteness check, made in blocks of rows to keep memory small, sees a NaN or an infinity at
    every position: the first and last value, and both sides of every block boundary."""
    monkeypatch.setattr(validate, "_FINITE_BLOCK", block)
    x = torch.rand(9, 1, 28, 28)
    assert validate._all_finite(x) and validate._all_finite(x[:, :, ::2])  # a strided view too
    positions = {0, x.numel() - 1} | {p + d for p in range(0, x.numel(), max(block, 784)) for d in (-1, 0) if p + d >= 0}
    for position in sorted(positions):
        for bad in (float("nan"), float("inf"), -float("inf")):
            y = x.clone()
            y.view(-1)[position] = bad
            assert not validate._all_finite(y), (position, bad)
            with pytest.raises(ValueError, match="NaN"):
                validate.images(y)
    assert validate._all_finite(torch.tensor(0.5)) and not validate._all_finite(torch.tensor(float("nan")))
    assert validate._all_finite(torch.empty(0, 1, 28, 28))
