"""The in-page latent explorer, in headless Chromium, against the PyTorch generator.

A temporary folder holds what ``python -m dcgan_lib.explorer build`` writes and minimal
pages with ``explorer_html()``, served over HTTP as a reader's browser would get them.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from dcgan_lib.explorer import (
    NOTEBOOK_MESSAGE,
    ORT_VERSION,
    browser_latent,
    build,
    explorer_html,
    onnxruntime_web,
)
from dcgan_lib.latent import lerp, slerp
from dcgan_lib.models import Generator

playwright_api = pytest.importorskip("playwright.sync_api")

# data-content_root marks a page of the book, as Sphinx writes it; a notebook's output has none
PAGE = """<!doctype html>
<html lang="en" data-content_root="./"><head><meta charset="utf-8">
<title>Latent explorer</title></head><body>{}</body></html>
"""
NOTEBOOK = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A notebook</title></head>
<body>{}</body></html>
"""
RUNTIME = (".wasm", ".onnx", "ort.wasm.min.js")


def contrasty_generator() -> Generator:
    """An MNIST-shaped DCGAN generator whose images span the whole grey range.

    At DCGAN initialisation the output layer's pre-activation has a standard deviation
    near 0.002, so every pixel is mid-grey and a comparison within 2/255 would prove
    little. Scaling the last layer so that the pre-activation has standard deviation 1
    makes the pixels spread over [0, 255].
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        generator = Generator(latent_dim=100, image_size=32, channels=1, width=32).eval()
        with torch.no_grad():
            spread = generator.pre_tanh(torch.randn(64, 100)).std()
            generator.main[-2].weight.div_(spread)
    return generator


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``(url, folder, generator)``: the built explorer and its page, served over HTTP."""
    folder = tmp_path_factory.mktemp("site")
    generator = contrasty_generator()
    build(folder / "explorer", generator=generator, weights="test generator")

    def html(**kwargs):
        return explorer_html(generator=generator, weights="test generator", **kwargs)

    (folder / "index.html").write_text(PAGE.format(html(base="explorer/")))
    far_down = '<div style="height: 5000px">A long chapter.</div>' + html(base="explorer/")
    (folder / "far.html").write_text(PAGE.format(far_down))
    (folder / "unbuilt.html").write_text(PAGE.format(html(base="not-built/")))
    # the default base: the book's _static/explorer/ under data-content_root
    (folder / "_static").mkdir()
    (folder / "_static" / "explorer").symlink_to(folder / "explorer")
    (folder / "book.html").write_text(PAGE.format(html()))
    (folder / "notebook.html").write_text(NOTEBOOK.format(html()))
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html", folder, generator
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == []


def wait_idle(page):
    page.evaluate("window.dcganExplorer.idle()")


def shown(page) -> tuple[torch.Tensor, dict]:
    """The latent drawn on the canvas, float32 (latent_dim,), and the controls it was drawn for."""
    latent, state = page.evaluate("[window.dcganExplorer.latent(),"
                                  " window.dcganExplorer.shownState()]")
    return torch.tensor(latent, dtype=torch.float32), state


def canvas_pixels(page) -> np.ndarray:
    """The canvas as (H, W) grey levels 0..255 (the red channel; R = G = B for MNIST)."""
    data = page.evaluate("""() => {
        const canvas = document.querySelector('.dcgan-explorer canvas');
        const image = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        return [canvas.width, Array.from(image.data)];
    }""")
    width, rgba = data
    rgba = np.array(rgba, dtype=np.int16).reshape(-1, width, 4)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 3] == 255).all()
    return rgba[..., 0]


def python_pixels(generator, z: torch.Tensor) -> np.ndarray:
    """What PyTorch draws for latent z: (H, W) grey levels 0..255."""
    with torch.no_grad():
        image = generator(z[None])[0, 0]
    return ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.int16).numpy()


def open_explorer(page, url):
    """Open the page and have the explorer fetch its generator and draw (as a first touch
    of a control does; ``test_runtime_is_fetched_only_when_the_reader_first_uses_it``
    checks that touch itself)."""
    page.goto(url)
    page.wait_for_function("window.dcganExplorer", timeout=10_000)
    page.evaluate("window.dcganExplorer.start()")
    assert page.evaluate("window.dcganExplorer.images") > 0
    wait_idle(page)


def drag_slider(page, fraction: float):
    box = page.locator(".dcgan-explorer input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + fraction * box["width"], y, steps=8)
    page.mouse.up()
    wait_idle(page)


# The browser's float32 network and PyTorch's agree to about 1e-7 (onnxruntime computes
# the same convolutions in another order); rounding to 0..255 can then differ by one
# level where a pixel sits on a rounding boundary, never by more. 2 levels allows that.
PIXEL_TOLERANCE = 2


def test_canvas_matches_the_pytorch_generator_for_the_latent_shown(site, page):
    url, _, generator = site
    open_explorer(page, url)
    z, state = shown(page)
    assert state == {"seedA": 0, "seedB": 1, "t": 0, "mode": "spherical"}
    diff = np.abs(canvas_pixels(page) - python_pixels(generator, z))
    assert diff.max() <= PIXEL_TOLERANCE
    assert canvas_pixels(page).std() > 20  # a real image, not a flat grey


def test_moving_the_slider_redraws_along_the_spherical_path(site, page):
    url, _, generator = site
    open_explorer(page, url)
    z_a, _ = shown(page)
    before = canvas_pixels(page)
    page.locator(".dcgan-explorer input[type=range]").press("End")  # t = 1
    wait_idle(page)
    z_b, state = shown(page)
    assert state["t"] == 1
    drag_slider(page, 0.6)
    z_t, state = shown(page)
    assert 0.3 < state["t"] < 0.8
    assert state == page.evaluate("window.dcganExplorer.state()")  # the canvas is current
    # the page's slerp is dcgan_lib.latent.slerp: float64 inside, float32 out
    assert torch.allclose(z_t, slerp(z_a, z_b, state["t"]), atol=1e-6, rtol=0)
    after = canvas_pixels(page)
    assert np.abs(after - before).max() > 20
    assert np.abs(after - python_pixels(generator, z_t)).max() <= PIXEL_TOLERANCE


def test_linear_switch_draws_the_straight_path(site, page):
    url, _, generator = site
    open_explorer(page, url)
    z_a, _ = shown(page)
    page.locator(".dcgan-explorer input[type=range]").press("End")
    wait_idle(page)
    z_b, _ = shown(page)
    drag_slider(page, 0.5)
    z_spherical, _ = shown(page)
    page.get_by_label("linear").check()
    wait_idle(page)
    z_linear, state = shown(page)
    assert state["mode"] == "linear"
    assert torch.allclose(z_linear, lerp(z_a, z_b, state["t"]), atol=1e-6, rtol=0)
    # midway between two independent 100-d Gaussians the straight path's norm sags to
    # about 1/sqrt(2) of the endpoints'; the spherical one keeps it
    assert z_linear.norm() < 0.85 * z_spherical.norm()
    assert np.abs(canvas_pixels(page) - python_pixels(generator, z_linear)).max() \
        <= PIXEL_TOLERANCE


def test_random_button_draws_new_gaussian_endpoints(site, page):
    url, _, generator = site
    open_explorer(page, url)
    latents, seeds = [], set()
    for _ in range(10):
        page.get_by_role("button", name="random").click()
        wait_idle(page)
        z, state = shown(page)
        seeds.add((state["seedA"], state["seedB"]))
        latents.append(z)
    assert len(seeds) == 10
    assert np.abs(canvas_pixels(page) - python_pixels(generator, z)).max() <= PIXEL_TOLERANCE
    coords = torch.stack(latents).flatten().double()  # 1000 draws from N(0, 1)
    # standard errors: mean 1/sqrt(1000) = 0.032, variance sqrt(2/1000) = 0.045; 4 of each
    assert abs(coords.mean()) < 4 * 0.032
    assert abs(coords.var() - 1) < 4 * 0.045


def test_the_poster_is_the_pytorch_image_of_the_first_latent_before_any_download(site, page):
    url, _, generator = site
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(url)
    page.wait_for_function("window.dcganExplorer && window.dcganExplorer.latent()")
    page.wait_for_load_state("networkidle")
    z, state = shown(page)
    assert state == {"seedA": 0, "seedB": 1, "t": 0, "mode": "spherical"}
    # the page's latent is browser_latent's: mulberry32 and Box-Muller, as in Python
    assert torch.allclose(z, browser_latent(0, 100), atol=1e-6, rtol=0)
    pixels = canvas_pixels(page)
    assert np.abs(pixels - python_pixels(generator, z)).max() <= PIXEL_TOLERANCE
    assert pixels.std() > 20
    assert page.evaluate("window.dcganExplorer.images") == 0
    assert not [u for u in fetched if u.endswith(RUNTIME)]


def test_the_canvas_is_256_pixels_wide_with_sharp_pixels(site, page):
    url, _, _ = site
    page.goto(url)
    canvas = page.locator(".dcgan-explorer canvas")
    playwright_api.expect(canvas).to_be_visible()
    assert canvas.bounding_box()["width"] == 256
    assert canvas.evaluate("c => getComputedStyle(c).imageRendering") == "pixelated"


def test_runtime_is_fetched_only_when_the_reader_first_uses_it(site, page):
    url, _, generator = site
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(url.replace("index.html", "far.html"))
    page.locator(".dcgan-explorer").scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")  # nothing in flight for 500 ms
    assert not [u for u in fetched if u.endswith(RUNTIME)]
    status = page.locator(".dcgan-explorer-status")
    playwright_api.expect(status).to_contain_text("Move the slider")
    drag_slider(page, 0.5)  # the reader's first use
    page.wait_for_function("window.dcganExplorer.images > 0", timeout=60_000)
    wait_idle(page)
    assert [u for u in fetched if u.endswith("generator.onnx")]
    z, state = shown(page)
    assert 0.3 < state["t"] < 0.7
    assert np.abs(canvas_pixels(page) - python_pixels(generator, z)).max() <= PIXEL_TOLERANCE
    playwright_api.expect(status).to_contain_text("drawn in your browser")


def test_on_a_book_page_the_explorer_finds_its_files_under_the_content_root(site, page):
    url, _, _ = site
    open_explorer(page, url.replace("index.html", "book.html"))
    assert page.evaluate("window.dcganExplorer.images") == 1


def test_in_a_notebook_the_explorer_points_to_the_widget_and_fetches_nothing(site, page):
    url, _, _ = site
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(url.replace("index.html", "notebook.html"))
    page.wait_for_load_state("networkidle")
    assert page.locator(".dcgan-explorer").inner_text() == NOTEBOOK_MESSAGE
    assert "latent_explorer(generator)" in NOTEBOOK_MESSAGE
    assert [u for u in fetched if u.endswith((".js", ".json", *RUNTIME))] == []


def test_without_its_files_the_explorer_says_where_they_come_from(site, page):
    url, _, _ = site
    page.goto(url.replace("index.html", "unbuilt.html"))
    status = page.locator(".dcgan-explorer-status")
    playwright_api.expect(status).to_contain_text("python -m dcgan_lib.explorer build")


def test_opened_as_a_file_the_explorer_says_in_one_sentence_it_needs_http(site, page):
    _, folder, _ = site
    page.goto((folder / "index.html").as_uri())
    status = page.locator(".dcgan-explorer-status")
    playwright_api.expect(status).to_contain_text("served over HTTP", timeout=10_000)
    text = status.inner_text()
    assert len(re.findall(r"[.!?](\s|$)", text)) == 1, text  # one sentence
    assert page.locator(".dcgan-explorer input[type=range]").is_disabled()


def test_explorer_html_rejects_a_negative_seed():
    with pytest.raises(ValueError, match="seed_a must be an integer"):
        explorer_html(seed_a=-1)


def test_runtime_with_a_different_integrity_is_refused(tmp_path):
    lock = tmp_path / "node_modules" / ".package-lock.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"packages": {"node_modules/onnxruntime-web": {
        "version": ORT_VERSION, "integrity": "sha512-somethingelse"}}}))
    with pytest.raises(RuntimeError, match="not the pinned"):
        onnxruntime_web(tmp_path)
