"""Bad input across the public API, as a careless learner (or a hostile environment) would give it: each row
expects one specific exception type and a fragment of its message that says what to do, one specific warning, or
(for inputs at their limits) the right answer.

The inputs: images in 0..255 (float or uint8), in [-1, 1], normalized, with one NaN or inf pixel, flat, empty, as
numpy arrays, with 3 channels; latent codes and points of the wrong width, dtype or rank; NaN features; logits and
NaN where probabilities belong; densities on mismatched grids; diverged models, GANs where a VAE belongs, models on
another device, models without weights that ignore their input; arguments at their limits (0, 1, the batch size,
the data size), loaders whose last batch holds one image, subsets larger than the data."""

import math
import signal
import types

import numpy as np
import pytest
import torch

from tutorial_lib import (conditional, data, divergences, gan, metrics, modes, plotting, pretrained, runtime, stabilize,
                          train, vae, widgets)
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


def gives(check, about):
    """The call returns, and `check(result)` is true: the right answer (`about` says which)."""
    return ("gives", check, about)


class Constant(torch.nn.Module):
    """A "VAE" without weights that ignores its input: q(z|x) = N(0, I) = p(z) and logits 0 (every pixel p = 1/2).
    Its ELBO and IWAE bound are both exactly log p(x) = -784 log 2 for every image."""

    latent_dim = 2

    def encode(self, x):
        return torch.zeros(len(x), 2), torch.zeros(len(x), 2)

    def decode(self, z):
        return torch.zeros(len(z), 1, 28, 28)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


class Ignoring(torch.nn.Module):
    """A critic that ignores its input: one learned score for every sample."""

    def __init__(self):
        super().__init__()
        self.score = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.score.expand(len(x))


HALF_PIXELS = 784 * math.log(2)
#: A loader whose last batch holds one image (7 images in batches of 3).
TINY_LAST = [(torch.rand(3, 1, 28, 28), None), (torch.rand(3, 1, 28, 28), None), (torch.rand(1, 1, 28, 28), None)]
PLAIN_D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1), torch.nn.Flatten(0))  # checks nothing
CG, CD = conditional.ConditionalGenerator(latent_dim=4, width=4), conditional.ConditionalDiscriminator(width=4)
CVAE = conditional.CVAE(latent_dim=3, hidden=8)
GRID = torch.linspace(-3, 3, 200, dtype=torch.float64)
SEVEN = torch.rand(7, 1, 28, 28)


def conv_vae():
    """A small VAE whose decoder (the DCGAN generator) has batch norm."""
    return vae.VAE(2, arch="conv", channels=4)


def seven_in_threes(drop_last=False):
    """A DataLoader of 7 images in batches of 3: its last batch holds one image unless drop_last."""
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(SEVEN), batch_size=3, drop_last=drop_last)


def mnist_seven_in_threes():
    """data.mnist_loader over 7 images in batches of 3 (its batch size lives in a BatchSampler)."""
    return data.mnist_loader(batch_size=3, train=False, dataset=data.MNISTTensors(SEVEN, torch.arange(7) % 10))


class Reiterable:
    """A loader that is neither a list nor a DataLoader (nothing to inspect before training): each pass yields
    TINY_LAST, whose last batch holds one image."""

    def __iter__(self):
        return iter(TINY_LAST)




def sgd(module):
    return torch.optim.SGD(module.parameters(), lr=0.01)


def within(seconds, call):
    """call(), stopped with a TimeoutError after `seconds` (a row that used to hang fails instead of hanging)."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
    # ---- images in [-1, 1] where the networks rescale [0, 1] themselves ----
    ("gan.DCGANDiscriminator [-1, 1]", lambda: DCD(PM1), raises(ValueError, "(x + 1) / 2")),
    ("gan.gan_step [-1, 1] (a discriminator that checks nothing)",
     lambda: gan.gan_step(DCG, PLAIN_D, sgd(DCG), sgd(PLAIN_D), PM1), raises(ValueError, "(real + 1) / 2")),
    ("conditional.cgan_step [-1, 1]", lambda: conditional.cgan_step(CG, CD, sgd(CG), sgd(CD), PM1, torch.arange(6)),
     raises(ValueError, "(real + 1) / 2")),
    ("conditional.ConditionalDiscriminator [-1, 1]", lambda: CD(PM1, torch.arange(6)), raises(ValueError, "(x + 1) / 2")),
    ("conditional.VAEGAN.encode [-1, 1]", lambda: conditional.VAEGAN(4, 4).encode(PM1),
     raises(ValueError, "(x + 1) / 2")),
    ("gan.discriminator_features [-1, 1]", lambda: gan.discriminator_features(DCD, PM1),
     raises(ValueError, "(x + 1) / 2")),
    # ---- probabilities, histograms and densities ----
    ("metrics.confident_share logits (used to return 1.0)", lambda: metrics.confident_share(torch.randn(5, 10) * 3),
     raises(ValueError, "not logits")),
    ("metrics.confident_share NaN (used to return 0.0)",
     lambda: metrics.confident_share(torch.full((5, 10), float("nan"))), raises(ValueError, "probs contains 50 NaN")),
    ("metrics.confident_share rows summing to 0.9", lambda: metrics.confident_share(torch.full((2, 10), 0.09)),
     raises(ValueError, "sums from 0.9")),
    ("metrics.confident_share threshold=0", lambda: metrics.confident_share(torch.eye(3), threshold=0),
     raises(ValueError, "threshold must be a probability in (0, 1]")),
    ("metrics.kl_from_uniform NaN (used to return 0.405)", lambda: metrics.kl_from_uniform([0.5, float("nan"), 0.5]),
     raises(ValueError, "shares contains 1 NaN")),
    ("metrics.kl_from_uniform raw counts", lambda: metrics.kl_from_uniform(torch.tensor([3, 4, 5])),
     raises(ValueError, "divide counts by their total")),
    ("metrics.inception_score_from_probabilities NaN",
     lambda: metrics.inception_score_from_probabilities(torch.full((3, 10), float("nan"))),
     raises(ValueError, "probs contains 30 NaN")),
    ("conditional.label_accuracy_from_probabilities NaN",
     lambda: conditional.label_accuracy_from_probabilities(torch.full((3, 10), float("nan")), torch.arange(3)),
     raises(ValueError, "probs contains 30 NaN")),
    ("conditional.free_bits_kl shapes (used to broadcast)",
     lambda: conditional.free_bits_kl(torch.zeros(4, 3), torch.zeros(4, 1), 0.1),
     raises(ValueError, "both have shape N x D")),
    ("divergences.normal_density std=-1 (used to give negative densities)",
     lambda: divergences.normal_density(GRID, 0.0, -1.0), raises(ValueError, "std must be a finite number > 0")),
    ("divergences.normal_density std=nan", lambda: divergences.normal_density(GRID, 0.0, float("nan")),
     raises(ValueError, "std must be")),
    ("gan.js_divergence a grid of 1 against 200 (used to broadcast)",
     lambda: gan.js_divergence(torch.ones(1), torch.ones(200), 0.1), raises(ValueError, "same grid")),
    ("gan.kl_divergence a negative density", lambda: gan.kl_divergence(torch.tensor([-1.0, 2.0]), torch.ones(2), 0.1),
     raises(ValueError, "p must be a density")),
    ("gan.optimal_discriminator grids", lambda: gan.optimal_discriminator(torch.ones(3), torch.ones(5)),
     raises(ValueError, "p_data and p_model must be tabulated on the same grid")),
    ("gan.value_function d on another grid", lambda: gan.value_function(torch.ones(3) / 2, torch.ones(5),
                                                                       torch.ones(5), 0.1),
     raises(ValueError, "d must be tabulated")),
    ("divergences.f_divergence grids", lambda: divergences.f_divergence(torch.ones(3), torch.ones(4), 0.1, "kl"),
     raises(ValueError, "same grid")),
    ("divergences.grid_moments grids", lambda: divergences.grid_moments(torch.ones(3), torch.ones(4), 0.1),
     raises(ValueError, "same shape")),
    ("divergences.divergence_to_gaussian a grid of one point",
     lambda: divergences.divergence_to_gaussian(torch.ones(1), torch.zeros(1), 0.0, 1.0, "jsd"),
     raises(ValueError, "same length >= 2")),
    ("divergences.mixture_density no component", lambda: divergences.mixture_density(GRID, [], [], []),
     raises(ValueError, "at least one")),
    ("divergences.variational_bound outside the conjugate's domain (used to give NaN)",
     lambda: divergences.variational_bound(torch.ones(3), torch.ones(3), "reverse_kl"),
     raises(ValueError, "output activation")),
    # ---- NaN where a number is computed ----
    ("metrics.frechet_distance NaN mean", lambda: metrics.frechet_distance(
        np.array([0.0, np.nan]), np.eye(2), np.zeros(2), np.eye(2)), raises(ValueError, "mu1 contains 1 NaN")),
    ("metrics.frechet_distance inf covariance", lambda: metrics.frechet_distance(
        np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, np.inf])), raises(ValueError, "cov2 contains 0 NaN and 1")),
    ("metrics.gaussian_moments NaN features", lambda: metrics.gaussian_moments(NAN_FEATS),
     raises(ValueError, "feats contains 1 NaN")),
    ("divergences.wasserstein_1d NaN", lambda: divergences.wasserstein_1d(torch.tensor([0.0, float("nan")]),
                                                                           torch.zeros(2)),
     raises(ValueError, "x contains 1 NaN")),
    ("divergences.wasserstein_1d inf", lambda: divergences.wasserstein_1d(torch.zeros(3), torch.tensor([math.inf])),
     raises(ValueError, "y contains 0 NaN and 1 infinite")),
    ("divergences.train_critic NaN sample", lambda: divergences.train_critic(torch.tensor([float("nan")]),
                                                                             torch.zeros(3), steps=1),
     raises(ValueError, "x contains 1 NaN")),
    ("metrics.per_class_recall NaN features", lambda: metrics.per_class_recall(NAN_FEATS, torch.zeros(20).long(), FEATS),
     raises(ValueError, "real_feats contains 1 NaN")),
    ("metrics.per_class_recall labels 12 of 10 classes (used to give NaN for every class)",
     lambda: metrics.per_class_recall(FEATS, torch.full((20,), 12), FEATS), raises(ValueError, "classes 0..9")),
    # ---- what the model is and where it lives ----
    ("metrics.negative_elbo a DCGAN generator", lambda: metrics.negative_elbo(DCG, GOOD),
     raises(TypeError, "negative_elbo measures a VAE")),
    ("metrics.nll a DCGAN generator", lambda: metrics.nll(DCG, GOOD, k=2), raises(TypeError, "nll measures a VAE")),
    ("metrics.active_units a DCGAN generator", lambda: metrics.active_units(DCG, GOOD),
     raises(TypeError, "active_units measures a VAE")),
    ("metrics.negative_elbo model on cpu, device='meta'", lambda: metrics.negative_elbo(MODEL, GOOD, device="meta"),
     raises(ValueError, "model.to('meta')")),
    ("metrics.nll model on cpu, device='meta'", lambda: metrics.nll(MODEL, GOOD, k=2, device="meta"),
     raises(ValueError, "leave device=None")),
    ("metrics.negative_elbo a loader of numpy batches", lambda: metrics.negative_elbo(MODEL, [GOOD.numpy()]),
     raises(TypeError, "torch.as_tensor")),
    ("conditional.CVAE.decode wrong width", lambda: CVAE.decode(torch.randn(2, 5), torch.tensor([1, 2])),
     raises(ValueError, "z must have shape N x 3")),
    ("conditional.CollapseVAE.decode wrong width",
     lambda: conditional.CollapseVAE(latent_dim=3, hidden=8).decode(torch.randn(2, 5), None),
     raises(ValueError, "z must have shape N x 3")),
    ("conditional.ConditionalGenerator numpy noise", lambda: CG(np.zeros((2, 4), dtype=np.float32), torch.arange(2)),
     raises(TypeError, "torch.as_tensor")),
    ("widgets.gan_playground a step that returns None",
     lambda: widgets.gan_playground(step_fn=lambda *a: None, steps_per_frame=1, n_show=10).step(),
     raises(TypeError, "must return two numbers, (d_loss, g_loss)")),
    ("widgets.latent_explorer a DCGAN generator", lambda: widgets.latent_explorer(DCG),
     raises(TypeError, "explores a VAE's decoder")),
    # ---- 3-channel images where grey ones belong ----
    ("metrics.fid 3 channels (no view that makes 12 grey images of 4)",
     lambda: metrics.fid(torch.rand(4, 3, 28, 28), GOOD), raises(ValueError, "would silently turn each image into 3")),
    ("metrics.sharpness 3 channels", lambda: metrics.sharpness(torch.rand(4, 3, 28, 28)),
     raises(ValueError, "images.flatten(0, 1).unsqueeze(1): 4 images become 12")),
    ("metrics.mnist_features 28 x 28 without the channel", lambda: metrics.mnist_features(GOOD[:, 0]),
     raises(ValueError, "images.view(-1, 1, 28, 28)")),
    # ---- arguments at their limits ----
    ("metrics.mnist_features batch_size=0", lambda: metrics.mnist_features(GOOD, batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("metrics.negative_elbo batch_size=0", lambda: metrics.negative_elbo(MODEL, GOOD, batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("metrics.nearest_neighbours batch_size=0", lambda: metrics.nearest_neighbours(GOOD, GOOD, batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("metrics.kid subsets=0", lambda: metrics.kid(GOOD, GOOD, subsets=0), raises(ValueError, "subsets must be")),
    ("metrics.precision_recall k=True", lambda: metrics.precision_recall(FEATS, FEATS, k=True),
     raises(ValueError, "k must be an integer")),
    ("metrics.precision_recall k = N (one past the largest)", lambda: metrics.precision_recall(FEATS, FEATS, k=20),
     raises(ValueError, "[1, min(N, M) - 1]")),
    ("metrics.precision_recall k = N - 1 (the largest)", lambda: metrics.precision_recall(FEATS, FEATS.clone(), k=19),
     gives(lambda r: r == (1.0, 1.0), "identical sets are fully covered")),
    ("metrics.active_units threshold=-1", lambda: metrics.active_units(MODEL, GOOD, threshold=-1),
     raises(ValueError, "threshold must be a finite number >= 0")),
    ("gan.gan_step one image through batch norm", lambda: gan.gan_step(DCG, DCD, sgd(DCG), sgd(DCD), GOOD[:1]),
     raises(ValueError, "batch norm, which needs at least 2 samples")),
    ("gan.gan_step two images (the smallest batch batch norm takes)",
     lambda: gan.gan_step(DCG, DCD, sgd(DCG), sgd(DCD), GOOD[:2]),
     gives(lambda r: len(r) == 2 and all(math.isfinite(v) for v in r), "two finite losses")),
    ("gan.gan_step numpy points", lambda: gan.gan_step(G2, D2, sgd(G2), sgd(D2), POINTS.numpy()),
     raises(TypeError, "torch.as_tensor")),
    ("conditional.train_cvae batch larger than the data (used to hang)",
     lambda: within(60, lambda: conditional.train_cvae(CVAE, types.SimpleNamespace(images=GOOD, labels=torch.arange(6)),
                                                       steps=1, batch_size=64)),
     raises(ValueError, "larger than the dataset (6 images)")),
    ("conditional.train_cgan batch_size=0",
     lambda: conditional.train_cgan(CG, CD, types.SimpleNamespace(images=GOOD, labels=torch.arange(6)), 1,
                                    batch_size=0), raises(ValueError, "batch_size must be a positive integer")),
    ("conditional.train_collapse batch_size=0",
     lambda: conditional.train_collapse(conditional.CollapseVAE(3, 8), GOOD, 1, batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("conditional.collapse_iwae_bound k=0 (used to blame x)",
     lambda: conditional.collapse_iwae_bound(conditional.CollapseVAE(3, 8), GOOD, 0),
     raises(ValueError, "k must be a positive integer")),
    ("conditional.kl_weight beta=-1", lambda: conditional.kl_weight(0, 10, beta=-1), raises(ValueError, "beta a finite")),
    ("divergences.train_critic empty sample", lambda: divergences.train_critic(torch.zeros(0), torch.zeros(3), steps=1),
     raises(ValueError, "x is empty")),
    ("divergences.Critic1D hidden=0", lambda: divergences.Critic1D(0), raises(ValueError, "hidden must be")),
    ("divergences.lipschitz_constant n=0", lambda: divergences.lipschitz_constant(divergences.Critic1D(4), 0, 1, n=0),
     raises(ValueError, "positive number of points")),
    ("divergences.fit_gaussian start std 0", lambda: divergences.fit_gaussian(
        divergences.normal_density(GRID, 0, 1), GRID, "jsd", start=(0.0, 0.0)), raises(ValueError, "std > 0")),
    ("widgets.to_png scale=0", lambda: widgets.to_png(GOOD[0], scale=0), raises(ValueError, "scale must be")),
    ("widgets.beta_explorer n=0", lambda: widgets.beta_explorer({1.0: MODEL}, GOOD, n=0), raises(ValueError, "n must be")),
    ("widgets.gan_playground lr=0", lambda: widgets.gan_playground(lr=0), raises(ValueError, "lr must be")),
    ("modes.mode_metrics one sample", lambda: modes.mode_metrics(torch.tensor([[0.9, 1.0]]), CENTERS, 0.1),
     gives(lambda r: r["counts"] == [0, 1] and r["high_quality"] == 1.0, "it lies in the second mode")),
    # ---- models that ignore their input, loaders whose last batch is tiny, subsets larger than the data ----
    ("metrics.negative_elbo a weightless model that ignores its input, last batch of 1",
     lambda: metrics.negative_elbo(Constant(), TINY_LAST),
     gives(lambda r: abs(r - HALF_PIXELS) < 1e-3, "784 log 2 nats per image")),
    ("metrics.nll a weightless model that ignores its input", lambda: metrics.nll(Constant(), TINY_LAST, k=3),
     gives(lambda r: abs(r - HALF_PIXELS) < 1e-3, "784 log 2 nats per image")),
    ("metrics.active_units a weightless model that ignores its input", lambda: metrics.active_units(Constant(), GOOD),
     gives(lambda r: r[0] == 0, "no active unit")),
    ("divergences.train_gaussian_vae 7 images in batches of 3 (a last batch of 1 through batch norm)",
     lambda: divergences.train_gaussian_vae(vae.VAE(2, arch="conv", channels=4), torch.rand(7, 1, 28, 28), 1,
                                            batch_size=3),
     gives(lambda r: math.isfinite(r[0]) and len(r[1]) == 2, "two steps; the batch of 1 is dropped")),
    ("metrics.kid subset_size larger than the data",
     lambda: metrics.kid(GOOD, GOOD.flip(0), subsets=3, subset_size=10 ** 6),
     gives(lambda r: r == metrics.kid(GOOD, GOOD.flip(0), subsets=3, subset_size=6), "subsets of all 6 images")),
    # ---- a last batch of one sample through batch norm, in the training loops (used to fail inside torch) ----
    ("train.train_vae a DataLoader whose last batch holds 1 image (refused before training)",
     lambda: train.train_vae(conv_vae(), seven_in_threes(), 1, device="cpu"),
     raises(ValueError, "The loader's last batch (7 samples in batches of 3) holds a single sample")),
    ("train.train_vae data.mnist_loader whose last batch holds 1 image",
     lambda: train.train_vae(conv_vae(), mnist_seven_in_threes(), 1, device="cpu"), raises(ValueError, "drop_last=True")),
    ("train.train_vae a list of batches, the last of 1 image",
     lambda: train.train_vae(conv_vae(), TINY_LAST, 1, device="cpu"),
     raises(ValueError, "Batch 2 of the data holds a single sample, but the model has batch norm")),
    ("train.train_vae a re-iterable loader, the last batch of 1 image",
     lambda: train.train_vae(conv_vae(), Reiterable(), 1, device="cpu"), raises(ValueError, "Batch 2 of epoch 1")),
    ("train.train_vae a last batch of 1, dropped (drop_last=True)",
     lambda: train.train_vae(conv_vae(), seven_in_threes(drop_last=True), 1, device="cpu"),
     gives(lambda h: h.steps == 2 and h.epochs == 1, "two steps in one epoch")),
    ("train.train_vae an MLP VAE (no batch norm) on a last batch of 1",
     lambda: train.train_vae(vae.VAE(2, hidden=8), seven_in_threes(), 1, device="cpu"),
     gives(lambda h: h.steps == 3, "three steps, the last on one image")),
    ("vae.vae_train_step one image through batch norm",
     lambda: (lambda model: vae.vae_train_step(model, sgd(model), GOOD[:1]))(conv_vae()),
     raises(ValueError, "x holds 1 image")),
    ("conditional.cgan_step one image through batch norm",
     lambda: conditional.cgan_step(CG, CD, sgd(CG), sgd(CD), GOOD[:1], torch.tensor([3])),
     raises(ValueError, "real holds 1 image, but the generator has batch norm")),
    ("conditional.vae_gan_step one image through batch norm",
     lambda: (lambda m, d: conditional.vae_gan_step(m, d, sgd(m), sgd(m), sgd(d), GOOD[:1], torch.randn(1, 4)))(
         conditional.VAEGAN(4, 4), gan.DCGANDiscriminator(width=4)),
     raises(ValueError, "real holds 1 row(s), but the decoder has batch norm")),
    ("train.train_gan GANRecipe(batch_size=1) with a batch-norm generator",
     lambda: train.train_gan(DCG, DCD, GOOD, train.GANRecipe(batch_size=1), steps=1, device="cpu"),
     raises(ValueError, "the generator sees batches of 1")),
    ("train.train_gan a DataLoader whose last batch holds 1 image",
     lambda: train.train_gan(DCG, DCD, seven_in_threes(), train.GANRecipe(batch_size=3), steps=5, device="cpu"),
     raises(ValueError, "but the generator has batch norm")),
    ("train.train_gan a re-iterable loader, the last batch of 1 image",
     lambda: train.train_gan(DCG, DCD, Reiterable(), train.GANRecipe(batch_size=3), steps=5, device="cpu"),
     raises(ValueError, "A batch of the data (in pass 1) holds a single sample")),
    ("train.train_gan data.mnist_loader batches of 3, the recipe's 64 (used to train on 3 and record 64)",
     lambda: train.train_gan(DCG, DCD, mnist_seven_in_threes(), steps=1, device="cpu"),
     raises(ValueError, "recipe.replace(batch_size=3)")),
    ("train.train_gan float64 points (torch.from_numpy) into float32 networks",
     lambda: train.train_gan(G2, D2, POINTS.double(), train.GANRecipe(batch_size=8), steps=2, device="cpu"),
     gives(lambda h: h.steps == 2 and all(math.isfinite(v) for v in h.losses["d_loss"]), "two steps")),
    # ---- networks that cannot learn (used to fail inside torch: "optimizer got an empty parameter list") ----
    ("train.train_vae a weightless model that ignores its input", lambda: train.train_vae(Constant(), TINY_LAST, 1),
     raises(ValueError, "the model (Constant) has no parameters at all")),
    ("train.train_vae a frozen model", lambda: train.train_vae(vae.VAE(2, hidden=8).requires_grad_(False), TINY_LAST, 1),
     raises(ValueError, "model.requires_grad_(True)")),
    ("train.train_gan a frozen discriminator",
     lambda: train.train_gan(G2, gan.MLPDiscriminator(hidden=8, depth=1).requires_grad_(False), POINTS, steps=1),
     raises(ValueError, "the discriminator (MLPDiscriminator) has")),
    ("stabilize.EMA.update with another network (used to fail inside torch, or broadcast)",
     lambda: stabilize.EMA(G2).update(D2), raises(ValueError, "update the average with the network it was made from")),
    ("stabilize.time_per_step repeats=0 (used to fail in min())", lambda: stabilize.time_per_step("baseline", repeats=0),
     raises(ValueError, "repeats must be a positive integer")),
    ("stabilize.time_per_step steps=0 (used to divide by 0)", lambda: stabilize.time_per_step("baseline", steps=0),
     raises(ValueError, "steps must be a positive integer")),
    ("stabilize.steps_for_budget multiple=0 (used to divide by 0)",
     lambda: stabilize.steps_for_budget(60, {"baseline": 0.01}, multiple=0), raises(ValueError, "multiple must be")),
    ("stabilize.steps_for_budget a time per step of 0 (used to divide by 0)",
     lambda: stabilize.steps_for_budget(60, {"baseline": 0.0}), raises(ValueError, "{'baseline': 0.0}")),
    ("stabilize.steps_for_budget a budget of 1 step", lambda: stabilize.steps_for_budget(1.0, {"baseline": 0.01}),
     gives(lambda r: r == {"baseline": 100}, "100 steps, the multiple")),
    # ---- critics that ignore their input: their gradient is 0 (used to fail: "not have been used in the graph") ----
    ("gan.gradient_penalty a critic that ignores its input", lambda: gan.gradient_penalty(Ignoring(), POINTS, POINTS),
     gives(lambda r: float(r) == 1.0, "(0 - 1)^2 = 1")),
    ("gan.gradient_penalty a critic without weights", lambda: gan.gradient_penalty(
        lambda x: torch.zeros(len(x)), POINTS, POINTS), gives(lambda r: float(r) == 1.0, "(0 - 1)^2 = 1")),
    ("gan.r1_penalty a discriminator that ignores its input", lambda: gan.r1_penalty(Ignoring(), POINTS),
     gives(lambda r: float(r) == 0.0, "0")),
    ("divergences.lipschitz_constant a constant critic", lambda: divergences.lipschitz_constant(Ignoring(), 0, 1),
     gives(lambda r: r == 0.0, "0")),
    ("train.train_gan WGAN-GP with a critic that ignores its input",
     lambda: train.train_gan(G2, Ignoring(), POINTS, train.GANRecipe(loss="wasserstein", gp_weight=10.0, batch_size=8),
                             steps=2, device="cpu"),
     gives(lambda h: h.steps == 2 and h.losses["gp"] == [1.0, 1.0], "a penalty of 1 at each step")),
    # ---- float64 into float32 networks (used to fail inside torch: "mat1 and mat2 must have the same dtype") ----
    ("vae.VAE.encode float64 images", lambda: MODEL.encode(GOOD.double()),
     raises(TypeError, "x is torch.float64 but the model's weights are torch.float32: convert it with x.float()")),
    ("vae.VAE.decode float64 codes", lambda: MODEL.decode(torch.zeros(2, 2, dtype=torch.float64)),
     raises(TypeError, "z.float()")),
    ("vae.elbo float64 images", lambda: vae.elbo(MODEL, GOOD.double()), raises(TypeError, "x.float()")),
    ("gan.MLPGenerator float64 noise", lambda: G2(torch.zeros(3, 2, dtype=torch.float64)), raises(TypeError, "z.float()")),
    ("gan.MLPDiscriminator float64 points", lambda: D2(POINTS.double()), raises(TypeError, "x.float()")),
    ("gan.DCGANGenerator float64 noise", lambda: DCG(torch.zeros(2, 4, dtype=torch.float64)),
     raises(TypeError, "noise.float()")),
    ("gan.DCGANDiscriminator float64 images", lambda: DCD(GOOD.double()), raises(TypeError, "x.float()")),
    ("gan.DCGANDiscriminator float64 images into a float64 network", lambda: gan.DCGANDiscriminator(width=4).double()(
        GOOD.double()), gives(lambda r: r.dtype == torch.float64 and r.shape == (6,), "six float64 logits")),
    # ---- batch sizes at their limits in the helpers that batch for you ----
    ("pretrained.generate batch_size=0 (used to fail in range())", lambda: pretrained.generate(MODEL, 4, batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("pretrained.generate batch_size=-1 (used to fail in torch.cat)",
     lambda: pretrained.generate(MODEL, 4, batch_size=-1), raises(ValueError, "batch_size must be a positive integer")),
    ("pretrained.generate batch_size=1", lambda: pretrained.generate(MODEL, 3, batch_size=1),
     gives(lambda r: r.shape == (3, 1, 28, 28) and 0 <= float(r.min()) <= float(r.max()) <= 1, "three images")),
    ("conditional.generate_labelled batch_size=0", lambda: conditional.generate_labelled(CVAE, torch.arange(3), batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("conditional.generate_labelled no label (used to fail in torch.cat)",
     lambda: conditional.generate_labelled(CVAE, torch.zeros(0, dtype=torch.long)), raises(ValueError, "labels is empty")),
    ("vae.rate_distortion batch_size=-1 (used to return (0.0, 0.0))",
     lambda: vae.rate_distortion(MODEL, GOOD, batch_size=-1), raises(ValueError, "batch_size must be a positive integer")),
    ("vae.rate_distortion batch_size = the data size + 1", lambda: vae.rate_distortion(MODEL, GOOD, batch_size=7),
     gives(lambda r: len(r) == 2 and r[0] >= 0 and r[1] > 0, "a rate and a distortion")),
    ("plotting.latent_coordinates batch_size=0", lambda: plotting.latent_coordinates(MODEL, GOOD, batch_size=0),
     raises(ValueError, "batch_size must be a positive integer")),
    ("pretrained.recalibrate_batch_norm batch_size=1",
     lambda: pretrained.recalibrate_batch_norm(gan.DCGANGenerator(4, 4), batch_size=1),
     raises(ValueError, "batch_size must be at least 2")),
    ("pretrained.recalibrate_batch_norm batches=0 (used to leave reset statistics)",
     lambda: pretrained.recalibrate_batch_norm(gan.DCGANGenerator(4, 4), batches=0),
     raises(ValueError, "batches must be a positive integer")),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 200 and len({name for name, _, _ in CASES}) == len(CASES)


def test_a_subset_larger_than_mnist_is_refused(mnist_available):
    """limit= beyond the split's size used to return the whole split silently (10,000 test images for limit=20,000)."""
    with pytest.raises(ValueError, match="limit=10,001 is more than the 10,000 images of MNIST's test split"):
        data.load_mnist(train=False, limit=10_001)
    with pytest.raises(ValueError, match="limit=60,001 is more than the 60,000 images of MNIST's training split"):
        data.mnist_loader(limit=60_001)
    assert len(data.load_mnist(train=False, limit=10_000)) == 10_000           # the whole split is a valid limit


def test_three_channels_get_no_view_that_changes_the_number_of_images():
    """The old hint, view(-1, 1, 28, 28), turned 4 RGB images into 12 grey ones; flat and channel-less images still
    get it, since for them it keeps one image per row."""
    with pytest.raises(ValueError) as error:
        metrics.fid(torch.rand(4, 3, 28, 28), GOOD)
    assert "view(" not in str(error.value) and "Colour (RGB) images cannot be scored" in str(error.value)
    for flat in (FLAT, GOOD[:, 0], GOOD[0].flatten()):
        with pytest.raises(ValueError, match=r"images\.view\(-1, 1, 28, 28\)"):
            metrics.sharpness(flat)


@pytest.mark.parametrize("name, call, expect", CASES, ids=[name for name, _, _ in CASES])
def test_bad_input_gets_a_clear_answer(name, call, expect, tmp_path, monkeypatch):
    how, kind, fragment = expect
    monkeypatch.chdir(tmp_path)
    if how == "gives":
        result = call()
        assert kind(result), f"{name}: expected {fragment}, got {result!r}"
    elif how == "raises":
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
