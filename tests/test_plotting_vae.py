"""The VAE figures: the latent map shows the encoder means (or their principal components), coloured by digit;
interpolate_grid decodes straight lines between codes."""
import numpy as np
import pytest
import torch

from tutorial_lib.plotting import interpolate_grid, latent_coordinates, plot_latent_map
from tutorial_lib.vae import VAE


def small_vae(latent_dim=2, seed=0):
    torch.manual_seed(seed)
    return VAE(latent_dim=latent_dim, hidden=32)


def images(n, seed=0):
    return torch.bernoulli(torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 0.5)


def test_latent_map_of_a_2d_model_plots_the_encoder_means():
    model, x = small_vae(), images(30)
    labels = torch.arange(30) % 10
    fig, ax = plot_latent_map(model, x, labels)
    points = ax.collections[0]
    mu = model.encode(x)[0].detach().numpy()
    assert np.allclose(points.get_offsets(), mu, atol=1e-6)
    assert np.array_equal(points.get_array(), labels.numpy())
    assert ax.get_xlabel() == "$z_1$" and len(fig.axes) == 2  # the map and its colour bar


def test_latent_map_of_a_larger_latent_space_uses_principal_components():
    model, x = small_vae(latent_dim=6), images(200)
    coords, names = latent_coordinates(model, x)
    assert coords.shape == (200, 2) and "principal component" in names[0]
    mu = model.encode(x)[0].detach().double().numpy()
    eigenvalues = np.linalg.eigvalsh(np.cov(mu, rowvar=False))[::-1]  # independent: eigen-decomposition with numpy
    cov = np.cov(coords.double().numpy(), rowvar=False)
    assert np.allclose(np.diag(cov), eigenvalues[:2], rtol=1e-3)
    assert abs(cov[0, 1]) < 1e-3 * eigenvalues[0]
    assert np.allclose(coords.mean(0).numpy(), 0, atol=1e-4)


def test_latent_map_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels must have shape"):
        plot_latent_map(small_vae(), images(5), torch.zeros(4))


def test_interpolation_decodes_points_on_the_line_between_codes():
    model, a, b = small_vae(latent_dim=3), images(2, seed=1), images(2, seed=2)
    grid = interpolate_grid(model, a, b, steps=5)
    assert grid.shape == (10, 1, 28, 28) and grid.min() >= 0 and grid.max() <= 1
    mu_a, mu_b = model.encode(a)[0].detach(), model.encode(b)[0].detach()
    for row in range(2):
        for j, t in enumerate([0.0, 0.25, 0.5, 0.75, 1.0]):
            z = (1 - t) * mu_a[row] + t * mu_b[row]
            expected = torch.sigmoid(model.decode(z.view(1, 3)))[0].detach()
            assert torch.allclose(grid[row * 5 + j], expected, atol=1e-6)


def test_interpolation_rejects_bad_arguments():
    model = small_vae()
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        interpolate_grid(model, images(2), images(2), steps=1)
    with pytest.raises(ValueError, match="same shape"):
        interpolate_grid(model, images(2), images(3))
