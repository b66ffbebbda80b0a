"""Image grids: what imshow is given, and that drawing them raises no warning."""

import warnings

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dcgan_lib.viz import image_grid, show_images  # noqa: E402


def test_image_grid_is_a_numpy_array_of_tiles_in_zero_to_one_with_white_padding():
    images = torch.linspace(-1, 1, 3 * 4 * 4).reshape(3, 1, 4, 4)
    grid = image_grid(images, nrow=2, pad=1)
    assert isinstance(grid, np.ndarray) and grid.shape == (2 * 5 + 1, 2 * 5 + 1, 1)
    np.testing.assert_allclose(grid[1:5, 1:5, 0], ((images[0, 0] + 1) / 2).numpy())
    assert grid[0].min() == 1 and grid[-6:, 6:].min() == 1  # padding and the empty tile


def test_show_images_draws_grey_and_colour_grids_without_any_warning():
    fig, axes = plt.subplots(1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy 2 warns when imshow gets a torch tensor
        show_images(torch.rand(4, 1, 8, 8) * 2 - 1, nrow=2, ax=axes[0])
        show_images(torch.rand(4, 3, 8, 8) * 2 - 1, nrow=2, ax=axes[1])
        fig.canvas.draw()
    plt.close(fig)
