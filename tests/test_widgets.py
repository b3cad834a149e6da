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
