import matplotlib
import pytest
import torch

from tutorial_lib.plotting import image_grid, plot_2d, plot_history, show_images, smooth
from tutorial_lib.train import History


def test_image_grid_places_each_image_in_its_tile():
    images = torch.rand(6, 1, 4, 5)
    grid = image_grid(images, nrow=3, padding=2)
    assert grid.shape == (1, 2 * (4 + 2) + 2, 3 * (5 + 2) + 2)  # torchvision pads around every tile
    for i in range(6):
        row, col = divmod(i, 3)
        top, left = 2 + row * 6, 2 + col * 7
        assert torch.allclose(grid[0, top:top + 4, left:left + 5], images[i, 0])


def test_image_grid_accepts_three_dims_and_refuses_values_outside_0_1():
    grid = image_grid(torch.full((2, 3, 3), 0.5), nrow=2)
    assert grid.shape[0] == 1 and grid.max() == 1.0 and grid.min() == 0.5  # padding is white
    with pytest.raises(ValueError, match="divide by 255"):
        image_grid(torch.full((2, 3, 3), 7.0), nrow=2)


@pytest.mark.parametrize("bad", [torch.rand(28, 28), torch.rand(2, 2, 28, 28), torch.rand(0, 1, 28, 28)])
def test_image_grid_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="N x"):
        image_grid(bad)


def test_image_grid_rejects_bad_nrow():
    with pytest.raises(ValueError, match="nrow"):
        image_grid(torch.rand(2, 1, 3, 3), nrow=0)


def test_show_images_draws_the_grid():
    images = torch.rand(10, 1, 28, 28)
    fig, ax = show_images(images, nrow=5, title="digits")
    shown = ax.get_images()[0].get_array()
    assert torch.allclose(torch.as_tensor(shown.data), image_grid(images, nrow=5)[0])
    assert ax.get_title() == "digits" and isinstance(fig, matplotlib.figure.Figure)
    rgb = show_images(torch.rand(4, 3, 8, 8), nrow=2)[1].get_images()[0].get_array()
    assert rgb.shape[-1] == 3


def test_plot_2d_scatters_samples_and_centers():
    samples, centers = torch.randn(50, 2), torch.randn(8, 2)
    fig, ax = plot_2d(samples, centers, title="ring", lim=2)
    points, modes = ax.collections
    assert torch.allclose(torch.as_tensor(points.get_offsets().data, dtype=torch.float32), samples)
    assert len(modes.get_offsets()) == 8 and ax.get_xlim() == (-2, 2) and ax.get_title() == "ring"


@pytest.mark.parametrize("samples,centers", [(torch.randn(5, 3), None), (torch.randn(5), None),
                                             (torch.randn(5, 2), torch.randn(3))])
def test_plot_2d_rejects_bad_shapes(samples, centers):
    with pytest.raises(ValueError, match="x 2"):
        plot_2d(samples, centers)


def test_smooth_is_a_trailing_moving_average():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    expected = [1.0, 1.5, 2.0, 3.0, 4.0]  # mean of the last (up to) 3 values, by hand
    assert torch.allclose(smooth(values, 3), torch.tensor(expected, dtype=torch.float64))
    assert torch.equal(smooth(values, 1), torch.tensor(values, dtype=torch.float64))


def test_plot_history_draws_each_loss():
    history = History()
    for step in range(100):
        history.log(d_loss=1.0, g_loss=float(step))
    fig, ax = plot_history(history, window=1, logy=True)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"d_loss", "g_loss"} and ax.get_yscale() == "log"
    assert list(lines["g_loss"].get_ydata()) == [float(s) for s in range(100)]
    fig, ax = plot_history({"loss": [3.0, 1.0]}, keys=["loss"])
    assert len(ax.get_lines()) == 1


def test_plot_history_rejects_unknown_keys_and_empty():
    with pytest.raises(ValueError, match="has no"):
        plot_history({"loss": [1.0]}, keys=["elbo"])
    with pytest.raises(ValueError, match="History"):
        plot_history({})


def test_table_markdown_formats_rows_columns_and_gaps():
    from tutorial_lib.plotting import show_table, table_markdown

    rows = {"real": {"FID": 0.12345, "digits": 10}, "gan": {"FID": 12.0, "NLL": None, "digits": 7}}
    text = table_markdown(rows, digits=2)
    assert text.splitlines() == ["| | FID | digits | NLL |", "|---|---|---|---|",
                                 "| real | 0.12 | 10 | — |", "| gan | 12 | 7 | — |"]
    assert show_table(rows, digits=2) == text
    with pytest.raises(ValueError, match="non-empty dict"):
        table_markdown({})
