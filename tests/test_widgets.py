import io
import json
import math
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_lib.latent import lerp, sample, slerp
from dcgan_lib.models import Generator
from dcgan_lib.widgets import DISPLAY_PX, LatentExplorer, latent_explorer, norm_text, to_png

ROOT = Path(__file__).resolve().parent.parent


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


def test_image_is_drawn_before_any_interaction_at_256_pixels(generator):
    box = latent_explorer(generator)
    assert DISPLAY_PX == 256  # large enough to see a digit: 8 screen pixels per MNIST pixel
    assert decode(box.image.value).shape == (256, 256)  # 16x16 enlarged 16 times


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
    shown = decode(png)[::16, ::16].astype(float)  # undo the 16x enlargement
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
    assert array.shape == (256, 256, 3)
    assert (array[:8, :8] == array[0, 0]).all()  # one source pixel -> an 8x8 block
    assert not (array[:9, :9] == array[0, 0]).all()


def test_to_png_rejects_a_batch():
    with pytest.raises(ValueError, match=r"\(C, H, W\) tensor with C = 1 or 3, got \(2, 1, 8, 8\)"):
        to_png(torch.zeros(2, 1, 8, 8))


def test_the_widget_uses_only_controls_that_colab_s_ipywidgets_7_also_has(generator):
    # Colab ships ipywidgets 7.7.1; these classes and traits exist in 7.x and 8.x alike
    box = latent_explorer(generator)
    assert {type(w).__name__ for w in (box.seed_a, box.seed_b, box.mode, box.t, box.image,
                                       box.norm_label)} == {
        "BoundedIntText", "ToggleButtons", "FloatSlider", "Image", "Label"}
    assert box.image.format == "png"


def chapter_five_cells():
    notebook = json.loads((ROOT / "book" / "05_latent_space.ipynb").read_text())
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_chapter_five_shows_the_widget_only_where_a_kernel_runs():
    widget_cells = [c for c in chapter_five_cells() if "latent_explorer(generator)" in
                    "".join(c["source"])]
    assert len(widget_cells) == 1
    # a notebook shows the cell and its live widget; the static page leaves it out
    assert "remove-cell" in widget_cells[0]["metadata"]["tags"]


def test_chapter_five_places_the_in_page_explorer_for_the_static_page():
    explorer_cells = [c for c in chapter_five_cells() if "explorer_html()" in
                      "".join(c["source"])]
    assert len(explorer_cells) == 1
    assert "remove-input" in explorer_cells[0]["metadata"]["tags"]


def test_no_page_of_the_built_book_embeds_widget_state_or_loads_a_widget_manager():
    pages = sorted((ROOT / "_build" / "html").glob("**/*.html"))
    if not pages:
        pytest.skip("the book is not built (bash tools/book.sh)")
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        for marker in ("application/vnd.jupyter.widget-state+json",
                       "application/vnd.jupyter.widget-view+json",
                       "embed-amd.js", "require.js", "cdn.jsdelivr.net"):
            assert marker not in text, f"{page.relative_to(ROOT)} holds {marker}"
    static = ROOT / "_build" / "html" / "_static"
    assert not (static / "html-manager").exists() and not (static / "requirejs").exists()
