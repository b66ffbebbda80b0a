import io
import math

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_lib.latent import lerp, sample, slerp
from dcgan_lib.models import Generator
from dcgan_lib.widgets import LatentExplorer, latent_explorer, norm_text, to_png


@pytest.fixture
def generator():
    torch.manual_seed(0)
    g = Generator(latent_dim=100, image_size=16, channels=1, width=8)
    # At DCGAN initialisation the eval-mode output has a std near 0.001, below one grey
    # level of a PNG; enlarging the output layer makes the images differ visibly.
    with torch.no_grad():
        g.main[-2].weight.mul_(300)
    return g


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_explorer_is_a_vbox_of_seeds_path_slider_image_and_label(generator):
    box = latent_explorer(generator)
    assert isinstance(box, widgets.VBox)
    assert isinstance(box.seed_a, widgets.BoundedIntText) and box.seed_a.value == 0
    assert isinstance(box.seed_b, widgets.BoundedIntText) and box.seed_b.value == 1
    assert isinstance(box.t, widgets.FloatSlider) and (box.t.min, box.t.max) == (0.0, 1.0)
    assert isinstance(box.mode, widgets.ToggleButtons)
    assert box.mode.options == ("linear", "spherical")
    shown = {id(w) for w in box.children} | {id(w) for w in box.children[0].children}
    for w in (box.seed_a, box.seed_b, box.mode, box.t, box.image, box.norm_label):
        assert id(w) in shown


def test_image_is_drawn_before_any_interaction(generator):
    box = latent_explorer(generator)
    assert decode(box.image.value).shape == (160, 160)


def test_moving_the_slider_changes_the_image(generator):
    box = latent_explorer(generator)
    before = box.image.value
    box.t.value = 0.5
    assert box.image.value != before
    box.t.value = 0.0
    assert box.image.value == before


def test_switching_the_path_changes_the_image_between_the_endpoints(generator):
    box = latent_explorer(generator)
    box.t.value = 0.5
    spherical = box.image.value
    box.mode.value = "linear"
    assert box.image.value != spherical


def test_norm_label_follows_the_slider_on_the_spherical_path(generator):
    box = latent_explorer(generator, seed_a=3, seed_b=8)
    z_a, z_b = sample(1, 100, seed=3)[0], sample(1, 100, seed=8)[0]
    assert box.norm_label.value == norm_text(z_a.norm().item(), 100)
    box.t.value = 0.35
    expected = slerp(z_a, z_b, 0.35).norm().item()
    assert box.norm_label.value == norm_text(expected, 100)
    assert "√latent_dim = 10.00" in box.norm_label.value


def test_norm_label_shows_the_shorter_linear_midpoint(generator):
    box = latent_explorer(generator)
    box.t.value = 0.5
    spherical = box.render(0.5, "spherical")[1]
    box.mode.value = "linear"
    z_a, z_b = sample(1, 100, seed=0)[0], sample(1, 100, seed=1)[0]
    linear = lerp(z_a, z_b, 0.5).norm().item()
    assert box.norm_label.value == norm_text(linear, 100)
    assert linear < 0.8 * spherical  # nearly orthogonal endpoints: about 1/sqrt(2)


def test_changing_seed_a_changes_the_image_at_t_zero_and_seed_b_does_not(generator):
    box = latent_explorer(generator)
    at_a = box.image.value
    box.seed_b.value = 42
    assert box.image.value == at_a
    box.seed_a.value = 42
    assert box.image.value != at_a


def test_render_shows_the_generator_output_at_that_latent(generator):
    box = latent_explorer(generator)
    png, norm = box.render(0.7, "spherical")
    z = slerp(sample(1, 100, seed=0)[0], sample(1, 100, seed=1)[0], 0.7)
    generator.eval()
    with torch.no_grad():
        expected = (generator(z[None])[0, 0].numpy() + 1) * 127.5
    shown = decode(png)[::10, ::10].astype(float)  # undo the 10x enlargement
    assert np.abs(shown - expected).max() <= 0.5 + 1e-3  # rounding to whole grey levels
    assert expected.std() > 10  # the comparison is between real images, not flat grey
    assert norm == pytest.approx(z.norm().item(), rel=1e-6)


def test_render_leaves_the_generator_in_training_mode(generator):
    generator.train()
    box = latent_explorer(generator)
    box.render(0.2, "linear")
    assert generator.training


def test_render_rejects_an_unknown_path(generator):
    box = latent_explorer(generator)
    with pytest.raises(ValueError, match="mode must be 'linear' or 'spherical', got 'curved'"):
        box.render(0.5, "curved")


def test_latent_dim_defaults_to_the_generators():
    g = Generator(latent_dim=16, image_size=16, channels=1, width=4)
    box = latent_explorer(g)
    assert isinstance(box, LatentExplorer) and box.latent_dim == 16
    assert f"√latent_dim = {math.sqrt(16):.2f}" in box.norm_label.value


def test_explorer_rejects_bad_arguments(generator):
    with pytest.raises(TypeError, match="generator must be a torch.nn.Module, got str"):
        latent_explorer("G")
    with pytest.raises(ValueError, match="latent_dim must be a positive integer, got 0"):
        latent_explorer(generator, latent_dim=0)
    with pytest.raises(ValueError, match="seed_a must be a non-negative integer, got -1"):
        latent_explorer(generator, seed_a=-1)
    with pytest.raises(ValueError, match="pass latent_dim"):
        latent_explorer(torch.nn.Identity())


def test_to_png_enlarges_by_whole_pixels_and_keeps_colour():
    rgb = torch.linspace(-1, 1, 3 * 32 * 32).reshape(3, 32, 32)
    array = decode(to_png(rgb))
    assert array.shape == (160, 160, 3)
    assert (array[:5, :5] == array[0, 0]).all()  # one source pixel -> a 5x5 block


def test_to_png_rejects_a_batch():
    with pytest.raises(ValueError, match=r"\(C, H, W\) tensor with C = 1 or 3, got \(2, 1, 8, 8\)"):
        to_png(torch.zeros(2, 1, 8, 8))
