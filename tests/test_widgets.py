"""The explorers of notebook 02, without a browser: moving a slider redraws the decoded image (the browser test,
tests/test_browser.py, drags the slider in JupyterLab)."""
import io

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from PIL import Image

from tutorial_lib.vae import VAE, rate_distortion
from tutorial_lib.widgets import beta_explorer, latent_explorer, to_png


def small_vae(latent_dim=2, seed=0):
    torch.manual_seed(seed)
    return VAE(latent_dim=latent_dim, hidden=32)


def png_pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def test_to_png_holds_the_image_enlarged():
    image = torch.rand(1, 28, 28)
    pixels = png_pixels(to_png(image, scale=3))
    assert pixels.shape == (84, 84) and pixels.dtype == np.uint8
    expected = np.round(image[0].numpy() * 255)
    assert np.array_equal(pixels[::3, ::3], expected) and np.array_equal(pixels[2::3, 2::3], expected)
    with pytest.raises(ValueError, match="H x W"):
        to_png(torch.rand(3, 28, 28))


def test_latent_explorer_structure():
    model = small_vae(latent_dim=3)
    box = latent_explorer(model)
    assert isinstance(box, widgets.VBox) and "latent-explorer" in box._dom_classes
    found = []

    def walk(widget):
        found.append(widget)
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(box)
    sliders = [w for w in found if isinstance(w, widgets.FloatSlider)]
    images = [w for w in found if isinstance(w, widgets.Image)]
    assert len(sliders) == 3 and len(images) == 1 and images[0].format == "png"
    assert [s.value for s in sliders] == [0.0, 0.0, 0.0] and sliders[0].min == -3.0 and sliders[0].max == 3.0
    assert len(latent_explorer(small_vae(latent_dim=20), dims=8).sliders) == 8


def test_moving_a_slider_redraws_the_decoded_code():
    model = small_vae(latent_dim=2)
    box = latent_explorer(model, scale=2)
    before = box.image.value
    box.sliders[0].value = 2.0
    assert box.image.value != before
    z = torch.tensor([[2.0, 0.0]])
    decoded = torch.sigmoid(model.decode(z))[0, 0].detach().numpy()  # what the image should show
    pixels = png_pixels(box.image.value)
    assert pixels.shape == (56, 56)
    assert np.abs(pixels[::2, ::2] / 255.0 - decoded).max() <= 0.5 / 255 + 1e-6


def test_a_start_code_fills_the_dimensions_without_sliders():
    model = small_vae(latent_dim=4)
    start = torch.tensor([0.5, -1.0, 2.0, -2.5])
    box = latent_explorer(model, z=start, dims=2)
    assert [s.value for s in box.sliders] == [0.5, -1.0]
    box.sliders[1].value = 1.0
    assert torch.equal(box.code(), torch.tensor([0.5, 1.0, 2.0, -2.5]))
    decoded = torch.sigmoid(model.decode(box.code().view(1, 4)))[0, 0].detach().numpy()
    assert np.abs(png_pixels(box.image.value)[::5, ::5] / 255.0 - decoded).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="latent_dim = 4"):
        latent_explorer(model, z=torch.zeros(3))


def test_beta_explorer_shows_each_beta_and_its_rate_and_distortion():
    models = {beta: small_vae(latent_dim=2, seed=i) for i, beta in enumerate([0.5, 1.0, 4.0])}
    images = torch.bernoulli(torch.full((12, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(0))
    box = beta_explorer(models, images, n=4)
    assert "beta-explorer" in box._dom_classes and isinstance(box.slider, widgets.SelectionSlider)
    assert box.slider.value == 1.0 and set(box.table) == {0.5, 1.0, 4.0}
    for beta, model in models.items():
        rate, distortion = box.table[beta]
        torch.manual_seed(1)
        expected_rate, _ = rate_distortion(model, images)
        assert rate == pytest.approx(expected_rate, rel=1e-5)  # the rate is deterministic
        assert distortion > 0
    shown = {}
    for beta in (0.5, 1.0, 4.0):
        box.slider.value = beta
        shown[beta] = box.image.value
        assert png_pixels(shown[beta]).ndim == 3  # a rendered figure
    assert len(set(shown.values())) == 3
    with pytest.raises(ValueError, match="non-empty dict"):
        beta_explorer({}, images)


# ---- the 2-D GAN playground (notebook 04) ----

def small_playground(**kwargs):
    from tutorial_lib.widgets import gan_playground
    kwargs = dict(dict(steps_per_frame=3, batch_size=32, hidden=16, n_show=50), **kwargs)
    box = gan_playground(**kwargs)
    box.frame_gap = 0  # the test sends its ticks back to back
    return box


def test_playground_structure():
    box = small_playground()
    assert isinstance(box, widgets.VBox) and "gan-playground" in box._dom_classes
    assert isinstance(box.play, widgets.Play) and box.play.playing is False
    assert box.steps == 0 and box.history == {"d_loss": [], "g_loss": []}
    assert png_pixels(box.image.value).ndim == 3  # the initial picture is there before any step
    assert "gan_step" in box.status.value


def test_stepping_changes_the_picture_and_the_losses():
    box = small_playground()
    before = box.image.value
    weights = [p.detach().clone() for p in box.generator.parameters()]
    box.step_button.click()
    assert box.steps == 3 and len(box.history["d_loss"]) == len(box.history["g_loss"]) == 3
    assert all(np.isfinite(box.history["d_loss"])) and box.image.value != before
    assert any(not torch.equal(a, b) for a, b in zip(weights, box.generator.parameters()))
    assert "step 3" in box.status.value


def test_play_steps_on_each_tick_and_pause_stops_it():
    box = small_playground()
    box.play.playing = True  # what the play button sends
    box.play.value += 1      # what the Play widget sends every `interval` ms while playing
    box.play.value += 1
    assert box.steps == 6
    picture = box.image.value
    box.play.playing = False  # pause
    box.play.value += 1       # a tick that arrives after the pause
    assert box.steps == 6 and box.image.value == picture
    box.play.value = 0        # the stop button rewinds: no step either
    assert box.steps == 6


def test_the_learners_step_is_what_runs():
    from tutorial_lib.gan import gan_step
    calls = []

    def my_step(generator, discriminator, opt_g, opt_d, real):
        calls.append(tuple(real.shape))
        losses = gan_step(generator, discriminator, opt_g, opt_d, real)
        return losses[0] + 100.0, losses[1] - 100.0  # marked, so the history shows whose values these are

    box = small_playground(step_fn=my_step)
    box.step()
    assert calls == [(32, 2)] * 3
    assert "my_step" in box.status.value
    assert all(d > 99 for d in box.history["d_loss"]) and all(g < -99 for g in box.history["g_loss"])


def test_playground_same_seed_same_run_and_a_library_loss():
    a, b = small_playground(), small_playground()
    a.step()
    b.step()
    assert a.history == b.history and a.image.value == b.image.value
    hinge = small_playground(step_fn="hinge")
    hinge.step()
    assert "hinge" in hinge.status.value and hinge.history != a.history


def test_playground_grid_and_reset():
    box = small_playground()
    ring_picture = box.image.value
    box.step()
    box.dataset.value = "grid"  # switching data starts afresh
    assert box.steps == 0 and box.image.value != ring_picture
    box.step()
    box.reset_button.click()
    assert box.steps == 0 and box.history["d_loss"] == []


def test_playground_rejects_bad_input():
    from tutorial_lib.widgets import gan_playground
    with pytest.raises(ValueError, match="dataset"):
        gan_playground(dataset="moons")
    with pytest.raises(ValueError, match="loss name"):
        gan_playground(step_fn=3)
    with pytest.raises(ValueError, match="one of"):
        gan_playground(step_fn="lsgan")
    with pytest.raises(ValueError, match="steps_per_frame"):
        gan_playground(steps_per_frame=0)
