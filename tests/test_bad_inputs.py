"""Bad input across the public API, as a careless learner (or a hostile environment) would give it: each row
expects one specific exception type and a fragment of its message that says what to do, or one specific warning.

The inputs: images in 0..255 (float or uint8), in [-1, 1], normalized, with one NaN or inf pixel, flat, empty, as
numpy arrays; latent codes and points of the wrong width, dtype or rank; NaN features; diverged models."""

import numpy as np
import pytest
import torch

from tutorial_lib import data, gan, metrics, modes, plotting, pretrained, runtime, stabilize, train, vae, widgets
from tutorial_lib.checkpoints import CheckpointLocked, RunMismatch  # noqa: F401  (public names exist)

torch.manual_seed(0)
GOOD = torch.rand(6, 1, 28, 28)
U8 = (GOOD * 255).to(torch.uint8)
X255 = GOOD * 255
PM1 = GOOD * 2 - 1
NORMED = (GOOD - 0.1307) / 0.3081
NAN = GOOD.clone()
NAN[2, 0, 14, 14] = float("nan")
INF = GOOD.clone()
INF[0, 0, 0, 0] = float("inf")
FLAT = GOOD.view(6, 784)
EMPTY = torch.rand(0, 1, 28, 28)
INTS = (GOOD * 2).long()
MODEL = vae.VAE(latent_dim=2, hidden=8)
G2, D2 = gan.MLPGenerator(hidden=8, depth=1), gan.MLPDiscriminator(hidden=8, depth=1)
DCG, DCD = gan.DCGANGenerator(latent_dim=4, width=4), gan.DCGANDiscriminator(width=4)
POINTS = torch.randn(50, 2)
NAN_POINTS = POINTS.clone()
NAN_POINTS[3, 1] = float("nan")
FEATS = torch.randn(20, 5)
NAN_FEATS = FEATS.clone()
NAN_FEATS[0, 0] = float("nan")
CENTERS = torch.tensor([[0.0, 0.0], [1.0, 1.0]])


def diverged_vae():
    model = vae.VAE(latent_dim=3, hidden=8)
    with torch.no_grad():
        model.to_mu.weight.fill_(float("nan"))
    return model


def raises(kind, fragment):
    return ("raises", kind, fragment)


def warns(kind, fragment):
    return ("warns", kind, fragment)


CASES = [
    # ---- vae ----
    ("vae.encode uint8", lambda: MODEL.encode(U8), raises(TypeError, "/ 255")),
    ("vae.encode flat", lambda: MODEL.encode(FLAT), raises(ValueError, "view(-1, 1, 28, 28)")),
    ("vae.encode 0..255", lambda: MODEL.encode(X255), raises(ValueError, "divide by 255")),
    ("vae.encode [-1, 1]", lambda: MODEL.encode(PM1), raises(ValueError, "(x + 1) / 2")),
    ("vae.encode normalized", lambda: MODEL.encode(NORMED), raises(ValueError, "undo it")),
    ("vae.encode numpy", lambda: MODEL.encode(GOOD.numpy()), raises(TypeError, "must be a torch tensor")),
    ("vae.encode int64", lambda: MODEL.encode(INTS), raises(TypeError, "x.float()")),
    ("vae.encode 3 channels", lambda: MODEL.encode(torch.rand(2, 3, 28, 28)), raises(ValueError, "N x 1 x 28 x 28")),
    ("vae.decode wrong width", lambda: MODEL.decode(torch.randn(4, 3)), raises(ValueError, "N x 2")),
    ("vae.decode one code", lambda: MODEL.decode(torch.randn(2)), raises(ValueError, "z.view(1, -1)")),
    ("vae.decode int codes", lambda: MODEL.decode(torch.ones(4, 2, dtype=torch.long)), raises(TypeError, "z.float()")),
    ("vae.decode numpy", lambda: MODEL.decode(np.zeros((4, 2))), raises(TypeError, "torch.as_tensor")),
    ("vae.decode None", lambda: MODEL.decode(None), raises(TypeError, "latent codes of shape N x 2")),
    ("vae.elbo NaN pixel", lambda: vae.elbo(MODEL, NAN), raises(ValueError, "1 NaN")),
    ("vae.elbo inf pixel", lambda: vae.elbo(MODEL, INF), raises(ValueError, "1 infinite")),
    ("vae.elbo 0..255", lambda: vae.elbo(MODEL, X255), raises(ValueError, "divide by 255")),
    ("vae.elbo uint8", lambda: vae.elbo(MODEL, U8), raises(TypeError, "uint8")),
    ("vae.iwae_bound NaN", lambda: vae.iwae_bound(MODEL, NAN, 2), raises(ValueError, "NaN")),
    ("vae.iwae_bound k=0", lambda: vae.iwae_bound(MODEL, GOOD, 0), raises(ValueError, "k must be a positive")),
    ("vae.rate_distortion [-1, 1]", lambda: vae.rate_distortion(MODEL, PM1), raises(ValueError, "[-1, 1]")),
    ("vae.rate_distortion empty", lambda: vae.rate_distortion(MODEL, EMPTY), raises(ValueError, "it is empty")),
    ("vae.bernoulli_log_likelihood 0..255",
     lambda: vae.bernoulli_log_likelihood(torch.zeros(6, 1, 28, 28), X255), raises(ValueError, "[0, 1]")),
    ("vae.bernoulli_log_likelihood uint8",
     lambda: vae.bernoulli_log_likelihood(torch.zeros(6, 1, 28, 28), U8), raises(TypeError, "/ 255")),
    ("vae.bernoulli_log_likelihood shapes",
     lambda: vae.bernoulli_log_likelihood(torch.zeros(6, 784), GOOD), raises(ValueError, "same shape")),
    ("vae.reparameterize shapes", lambda: vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 4)),
     raises(ValueError, "both have shape N x D")),
    ("vae.gaussian_kl numpy", lambda: vae.gaussian_kl(np.zeros((3, 2)), np.zeros((3, 2))),
     raises(TypeError, "must be tensors")),
    ("vae.reconstruct uint8", lambda: MODEL.reconstruct(U8), raises(TypeError, "/ 255")),
    ("vae.sample n=0", lambda: MODEL.sample(0), raises(ValueError, "positive integer")),
    ("vae.VAE latent_dim=0", lambda: vae.VAE(latent_dim=0), raises(ValueError, "latent_dim must be")),
    # ---- gan ----
    ("gan.MLPGenerator int noise", lambda: G2(torch.ones(3, 2, dtype=torch.long)), raises(TypeError, "z.float()")),
    ("gan.MLPGenerator wrong width", lambda: G2(torch.randn(3, 5)), raises(ValueError, "N x 2")),
    ("gan.MLPGenerator numpy", lambda: G2(np.zeros((3, 2), dtype=np.float32)), raises(TypeError, "torch tensor")),
    ("gan.MLPDiscriminator int points", lambda: D2(torch.ones(3, 2, dtype=torch.long)), raises(TypeError, "x.float()")),
    ("gan.MLPDiscriminator 3-D points", lambda: D2(torch.randn(3, 3)), raises(ValueError, "N x 2 (in_dim 2")),
    ("gan.MLPDiscriminator 1-D", lambda: D2(torch.randn(4)), raises(ValueError, "non-empty 2-D tensor")),
    ("gan.DCGANGenerator wrong width", lambda: DCG(torch.randn(2, 3)), raises(ValueError, "noise N x 4")),
    ("gan.DCGANGenerator int noise", lambda: DCG(torch.ones(2, 4, dtype=torch.long)), raises(TypeError, "float")),
    ("gan.DCGANDiscriminator uint8", lambda: DCD(U8), raises(TypeError, "/ 255")),
    ("gan.DCGANDiscriminator flat", lambda: DCD(FLAT), raises(ValueError, "N x 1 x 28 x 28")),
    ("gan.gradient_penalty shapes", lambda: gan.gradient_penalty(D2, torch.randn(4, 2), torch.randn(5, 2)),
     raises(ValueError, "same shape")),
    ("gan.gradient_penalty numpy", lambda: gan.gradient_penalty(D2, np.zeros((4, 2)), np.zeros((4, 2))),
     raises(TypeError, "torch tensor")),
    ("gan.gradient_penalty ints", lambda: gan.gradient_penalty(D2, torch.ones(4, 2, dtype=torch.long),
                                                               torch.ones(4, 2, dtype=torch.long)),
     raises(TypeError, "real.float()")),
    ("gan.discriminator_loss list", lambda: gan.discriminator_loss([1.0], torch.zeros(2)),
     raises(TypeError, "must be a tensor")),
    ("gan.generator_loss empty", lambda: gan.generator_loss(torch.zeros(0)), raises(ValueError, "empty")),
    ("gan.discriminator_loss kind", lambda: gan.discriminator_loss(torch.zeros(2), torch.zeros(2), "wgan"),
     raises(ValueError, "Unknown GAN loss kind")),
    ("gan.sample n=0", lambda: G2.sample(0), raises(ValueError, "positive integer")),
    # ---- metrics ----
    ("metrics.fid NaN pixel (used to kill the kernel)", lambda: metrics.fid(GOOD, NAN), raises(ValueError, "NaN")),
    ("metrics.fid inf pixel", lambda: metrics.fid(INF, GOOD), raises(ValueError, "infinite")),
    ("metrics.fid 0..255", lambda: metrics.fid(X255, GOOD), raises(ValueError, "divide by 255")),
    ("metrics.fid [-1, 1]", lambda: metrics.fid(GOOD, PM1), raises(ValueError, "(fake + 1) / 2")),
    ("metrics.fid one image", lambda: metrics.fid(GOOD[:1], GOOD), raises(ValueError, "at least 2")),
    ("metrics.fid uint8", lambda: metrics.fid(U8, GOOD), raises(TypeError, "real.float() / 255")),
    ("metrics.fid 20 vs 20 samples", lambda: metrics.fid(torch.rand(20, 1, 28, 28), torch.rand(20, 1, 28, 28)),
     warns(UserWarning, "fewer samples than the 128 feature dimensions")),
    ("metrics.kid NaN", lambda: metrics.kid(NAN, GOOD, subsets=2), raises(ValueError, "NaN")),
    ("metrics.kid 0..255", lambda: metrics.kid(GOOD, X255, subsets=2), raises(ValueError, "divide by 255")),
    ("metrics.kid normalized", lambda: metrics.kid(NORMED, GOOD, subsets=2), raises(ValueError, "normalized")),
    ("metrics.kid one image", lambda: metrics.kid(GOOD, GOOD[:1], subsets=2), raises(ValueError, "at least 2")),
    ("metrics.precision_recall NaN features", lambda: metrics.precision_recall(NAN_FEATS, FEATS),
     raises(ValueError, "real_feats contains 1 NaN")),
    ("metrics.precision_recall 1-D", lambda: metrics.precision_recall(torch.randn(20), FEATS),
     raises(ValueError, "2-D tensor of shape N x D")),
    ("metrics.precision_recall k=0", lambda: metrics.precision_recall(FEATS, FEATS, k=0),
     raises(ValueError, "k must be an integer")),
    ("metrics.precision_recall widths", lambda: metrics.precision_recall(FEATS, torch.randn(20, 4)),
     raises(ValueError, "same D")),
    ("metrics.digit_histogram NaN", lambda: metrics.digit_histogram(NAN), raises(ValueError, "NaN")),
    ("metrics.digit_histogram flat", lambda: metrics.digit_histogram(FLAT),
     raises(ValueError, "images.view(-1, 1, 28, 28)")),
    ("metrics.class_probabilities uint8", lambda: metrics.class_probabilities(U8), raises(TypeError, "/ 255")),
    ("metrics.inception_score [-1, 1]", lambda: metrics.inception_score(PM1), raises(ValueError, "[-1, 1]")),
    ("metrics.sharpness 0..255", lambda: metrics.sharpness(X255), raises(ValueError, "divide by 255")),
    ("metrics.mnist_features empty", lambda: metrics.mnist_features(EMPTY), raises(ValueError, "it is empty")),
    ("metrics.nearest_neighbours NaN", lambda: metrics.nearest_neighbours(NAN, GOOD),
     raises(ValueError, "queries contains")),
    ("metrics.nearest_neighbours sizes", lambda: metrics.nearest_neighbours(GOOD, torch.rand(3, 1, 14, 14)),
     raises(ValueError, "same size")),
    ("metrics.active_units NaN", lambda: metrics.active_units(MODEL, NAN), raises(ValueError, "NaN")),
    ("metrics.active_units one image", lambda: metrics.active_units(MODEL, GOOD[:1]), raises(ValueError, "at least 2")),
    ("metrics.kl_from_uniform not a histogram", lambda: metrics.kl_from_uniform([0.5, 0.6]),
     raises(ValueError, "summing to 1")),
    ("metrics.inception_score_from_probabilities logits",
     lambda: metrics.inception_score_from_probabilities(torch.randn(5, 10)), raises(ValueError, "not logits")),
    ("metrics.nll NaN images", lambda: metrics.nll(MODEL, NAN, k=2), raises(ValueError, "NaN")),
    ("metrics.negative_elbo 0..255", lambda: metrics.negative_elbo(MODEL, X255), raises(ValueError, "divide by 255")),
    ("metrics.negative_elbo empty loader", lambda: metrics.negative_elbo(MODEL, []),
     raises(ValueError, "got no images")),
    ("metrics.sample_quality NaN fake", lambda: metrics.sample_quality(GOOD, NAN, k=2, subsets=2),
     raises(ValueError, "NaN")),
    # ---- modes ----
    ("modes.mode_metrics 1-D samples", lambda: modes.mode_metrics(torch.zeros(10), CENTERS, 0.1),
     raises(ValueError, "samples must be a non-empty 2-D tensor")),
    ("modes.mode_metrics NaN centers", lambda: modes.mode_metrics(POINTS, torch.tensor([[0.0, float("nan")]]), 0.1),
     raises(ValueError, "centers contains 1 NaN")),
    ("modes.mode_metrics std=0", lambda: modes.mode_metrics(POINTS, CENTERS, 0), raises(ValueError, "std must be")),
    ("modes.mode_metrics bool samples", lambda: modes.mode_metrics(torch.ones(4, 2, dtype=torch.bool), CENTERS, 0.1),
     raises(TypeError, "real float numbers")),
    ("modes.mode_metrics a string", lambda: modes.mode_metrics("points", CENTERS, 0.1),
     raises(TypeError, "must be a torch tensor")),
    ("modes.mode_metrics widths", lambda: modes.mode_metrics(torch.zeros(5, 3), CENTERS, 0.1),
     raises(ValueError, "3 coordinates")),
    # ---- plotting ----
    ("plotting.image_grid uint8", lambda: plotting.image_grid(U8), raises(TypeError, "/ 255")),
    ("plotting.image_grid 0..255", lambda: plotting.image_grid(X255), raises(ValueError, "divide by 255")),
    ("plotting.image_grid NaN", lambda: plotting.image_grid(NAN), raises(ValueError, "NaN")),
    ("plotting.show_images [-1, 1]", lambda: plotting.show_images(PM1), raises(ValueError, "(images + 1) / 2")),
    ("plotting.show_images numpy 0..255", lambda: plotting.show_images(X255.numpy()), raises(ValueError, "255")),
    ("plotting.plot_2d N x 3", lambda: plotting.plot_2d(torch.randn(5, 3)), raises(ValueError, "N x 2")),
    ("plotting.plot_2d NaN samples", lambda: plotting.plot_2d(NAN_POINTS), warns(UserWarning, "not drawn")),
    ("plotting.plot_2d a string", lambda: plotting.plot_2d("points"), raises(TypeError, "torch tensor")),
    ("plotting.latent_coordinates 0..255", lambda: plotting.latent_coordinates(MODEL, X255),
     raises(ValueError, "divide by 255")),
    ("plotting.latent_coordinates diverged model (NaN must not reach the SVD)",
     lambda: plotting.latent_coordinates(diverged_vae(), GOOD), raises(ValueError, "the encoder's means contains")),
    ("plotting.plot_latent_map labels", lambda: plotting.plot_latent_map(MODEL, GOOD, torch.zeros(3)),
     raises(ValueError, "labels must have shape")),
    ("plotting.interpolate_grid uint8", lambda: plotting.interpolate_grid(MODEL, U8, U8), raises(TypeError, "/ 255")),
    ("plotting.interpolate_grid steps=1", lambda: plotting.interpolate_grid(MODEL, GOOD, GOOD, steps=1),
     raises(ValueError, "steps must be")),
    # ---- widgets ----
    ("widgets.to_png 0..255", lambda: widgets.to_png(X255[0]), raises(ValueError, "divide by 255")),
    ("widgets.to_png uint8", lambda: widgets.to_png(U8[0]), raises(TypeError, "/ 255")),
    ("widgets.latent_explorer NaN code", lambda: widgets.latent_explorer(MODEL, z=torch.tensor([0.0, float("nan")])),
     raises(ValueError, "z contains 1 NaN")),
    ("widgets.latent_explorer wrong size", lambda: widgets.latent_explorer(MODEL, z=torch.zeros(3)),
     raises(ValueError, "latent_dim = 2")),
    ("widgets.beta_explorer 0..255", lambda: widgets.beta_explorer({1.0: MODEL}, X255), raises(ValueError, "255")),
    ("widgets.beta_explorer no models", lambda: widgets.beta_explorer({}, GOOD), raises(ValueError, "non-empty dict")),
    # ---- training ----
    ("train.train_vae 0..255 loader", lambda: train.train_vae(MODEL, [(X255, None)], epochs=1, device="cpu"),
     raises(ValueError, "divide by 255")),
    ("train.train_vae NaN loader", lambda: train.train_vae(MODEL, [(NAN, None)], epochs=1, device="cpu"),
     raises(ValueError, "NaN")),
    ("train.train_vae uint8 loader", lambda: train.train_vae(MODEL, [(U8, None)], epochs=1, device="cpu"),
     raises(TypeError, "/ 255")),
    ("train.train_gan loader in [-1, 1]", lambda: train.train_gan(DCG, DCD, [(PM1, None)], steps=1, device="cpu"),
     raises(ValueError, "Normalize((0.5,), (0.5,))")),
    ("train.train_gan NaN points", lambda: train.train_gan(G2, D2, NAN_POINTS, steps=1, device="cpu"),
     raises(ValueError, "the real data contains 1 NaN")),
    ("train.train_gan int points", lambda: train.train_gan(G2, D2, torch.ones(10, 2, dtype=torch.long), steps=1,
                                                           device="cpu"), raises(TypeError, "float")),
    ("train.train_gan 1-D data", lambda: train.train_gan(G2, D2, torch.zeros(5), steps=1, device="cpu"),
     raises(ValueError, "data must be a tensor N x D")),
    ("train.train_gan lr_g=-1e-3", lambda: train.train_gan(G2, D2, POINTS, train.GANRecipe(lr_g=-1e-3), steps=1),
     raises(ValueError, "lr_g (the generator's learning rate) must be a finite number > 0")),
    ("train.GANRecipe lr_d=nan", lambda: train.GANRecipe(lr_d=float("nan")),
     raises(ValueError, "lr_d (the discriminator's learning rate) must be a finite number > 0, got nan")),
    ("train.GANRecipe lr_d=0", lambda: train.GANRecipe(lr_d=0), raises(ValueError, "lr_d (the discriminator's")),
    ("train.GANRecipe lr=", lambda: train.GANRecipe(lr=1e-3), raises(TypeError, "lr_g=..., lr_d=...")),
    ("train.GANRecipe smoothing with hinge", lambda: train.GANRecipe(loss="hinge", label_smoothing=0.1),
     raises(ValueError, "needs a cross-entropy loss")),
    ("train.GANRecipe step with n_critic", lambda: train.GANRecipe(step=gan.gan_step, n_critic=5),
     raises(ValueError, "n_critic=5 could not be honoured")),
    ("train.train_gan old keywords", lambda: train.train_gan(G2, D2, POINTS, steps=1, loss="hinge"),
     raises(TypeError, "GANRecipe(loss='hinge')")),
    ("train.train_gan a dict recipe", lambda: train.train_gan(G2, D2, POINTS, {"loss": "hinge"}, steps=1),
     raises(TypeError, "GANRecipe(**options)")),
    ("train.train_gan step returns None",
     lambda: train.train_gan(G2, D2, POINTS, train.GANRecipe(step=lambda *a: None), steps=1, device="cpu"),
     raises(TypeError, "must return two numbers")),
    ("train.train_gan loader batch vs recipe",
     lambda: train.train_gan(DCG, DCD, torch.utils.data.DataLoader(torch.utils.data.TensorDataset(GOOD), batch_size=3),
                             steps=1, device="cpu"), raises(ValueError, "recipe.replace(batch_size=3)")),
    ("train.train_vae empty loader", lambda: train.train_vae(MODEL, [], epochs=3, device="cpu"),
     raises(ValueError, "the loader is empty")),
    ("train.train_vae one-shot generator",
     lambda: train.train_vae(MODEL, ((GOOD, None) for _ in range(2)), epochs=5, device="cpu"),
     raises(TypeError, "can be iterated only once")),
    ("train.train_vae a DCGAN generator", lambda: train.train_vae(DCG, [(GOOD, None)], epochs=1, device="cpu"),
     raises(TypeError, "train_vae trains a VAE")),
    ("train.train_vae lr=0", lambda: train.train_vae(MODEL, [(GOOD, None)], epochs=1, lr=0, device="cpu"),
     raises(ValueError, "lr (the learning rate of Adam) must be a finite number > 0")),
    ("train.train_vae lr=nan", lambda: train.train_vae(MODEL, [(GOOD, None)], epochs=1, lr=float("nan")),
     raises(ValueError, "got nan")),
    ("train.check_finite 1e33", lambda: train.check_finite(1e33, step=3, lr=1e-3),
     raises(train.TrainingDiverged, "lr=0.0001 instead of lr=0.001")),
    ("train.save_checkpoint an object", lambda: train.save_checkpoint("/tmp/never-written.pt", extra=object()),
     raises(TypeError, "weights_only=True cannot hold")),
    ("train.load_checkpoint missing", lambda: train.load_checkpoint("/nonexistent/x.pt"),
     raises(FileNotFoundError, "Train the model first")),
    ("train.checkpoint_path a path", lambda: train.checkpoint_path("../x"), raises(ValueError, "plain file stem")),
    # ---- pretrained, data, runtime, stabilize ----
    ("pretrained.load_pretrained unknown", lambda: pretrained.load_pretrained("gan"),
     raises(ValueError, "choose one of")),
    ("pretrained.generate n=0", lambda: pretrained.generate(MODEL, 0), raises(ValueError, "positive integer")),
    ("data.ring n=0", lambda: data.ring(0), raises(ValueError, "n must be a positive integer")),
    ("data.grid side=0", lambda: data.grid(10, side=0), raises(ValueError, "side must be")),
    ("data.load_mnist binarize", lambda: data.load_mnist(binarize="yes"), raises(ValueError, "binarize must be")),
    ("data.mnist_loader batch_size=0", lambda: data.mnist_loader(batch_size=0), raises(ValueError, "batch_size must")),
    ("runtime.seed_everything -1", lambda: runtime.seed_everything(-1), raises(ValueError, "seed must be")),
    ("runtime.get_device tpu", lambda: runtime.get_device("tpu"), raises(ValueError, "Unknown device")),
    ("stabilize.run_2d unknown method", lambda: stabilize.run_2d("wgan", "ring"), raises(ValueError, "Unknown method")),
    ("stabilize.config lr_g", lambda: stabilize.config("baseline", lr_g=1e-3), raises(ValueError, "lr sets both")),
    ("stabilize.run_many workers=0", lambda: stabilize.run_many(["baseline"], ["ring"], [0], 1, workers=0),
     raises(ValueError, "workers must be")),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 80 and len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name, call, expect", CASES, ids=[name for name, _, _ in CASES])
def test_bad_input_gets_a_clear_answer(name, call, expect, tmp_path, monkeypatch):
    how, kind, fragment = expect
    monkeypatch.chdir(tmp_path)
    if how == "raises":
        with pytest.raises(kind) as error:
            call()
        assert type(error.value) is kind or kind in type(error.value).__mro__
        assert fragment in str(error.value), f"{name}: {error.value}"
    else:
        with pytest.warns(kind) as record:
            call()
        assert any(fragment in str(w.message) for w in record), [str(w.message) for w in record]


def test_a_good_input_passes_every_check():
    """The same functions accept good input (so the rows above fail for the stated reason, not any reason)."""
    assert MODEL.encode(GOOD)[0].shape == (6, 2) and MODEL.decode(torch.zeros(3, 2)).shape == (3, 1, 28, 28)
    assert plotting.image_grid(GOOD).shape[0] == 1 and len(widgets.to_png(GOOD[0])) > 0
    assert modes.mode_metrics(NAN_POINTS, CENTERS, 0.1)["high_quality"] < 1  # NaN samples count as misses
    assert D2(POINTS).shape == (50,) and DCD(GOOD).shape == (6,)
