"""The built book opened in a real browser (Debian's Chromium driven by playwright).

`tools/test.sh` builds the book before running pytest; these tests read `_build/html`.
Every page must have its math typeset by MathJax, every image loaded, no Python traceback
in any output, and no errors on the browser console.
"""

import re
from pathlib import Path

import pytest

HTML = Path(__file__).resolve().parent.parent / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.glob("book/*.html")) + sorted(
    p.relative_to(HTML).as_posix() for p in HTML.glob("exercises/*.html"))


def test_the_book_has_the_chapter_pages():
    assert "book/intro.html" in PAGES and "book/01_principles.html" in PAGES


# External resources (fonts, the Colab badge) cannot load on an offline machine; they are not
# errors of the book.
OFFLINE_NOISE = re.compile(r"net::ERR_|Failed to load resource|ERR_NAME_NOT_RESOLVED")


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_math_images_and_no_tracebacks(page, server, browser):
    context = browser.new_context()
    tab = context.new_page()
    errors = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(f"{server}/{page}", wait_until="load")
    tab.wait_for_function(
        "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup"
        " && MathJax.startup.promise && document.querySelector('mjx-container'))",
        timeout=30_000)
    tab.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    # the prose and the outputs, without code listings (whose strings may hold LaTeX)
    text = tab.evaluate(
        "() => { const a = document.querySelector('article').cloneNode(true);"
        " a.querySelectorAll('pre, code, .cell_input, .highlight').forEach(e => e.remove());"
        " document.body.appendChild(a); const t = a.innerText; a.remove(); return t; }")
    assert "$$" not in text, f"{page}: unrendered display math"
    untypeset = tab.evaluate(
        "() => Array.from(document.querySelectorAll('article .math'))"
        ".filter(e => !e.querySelector('mjx-container')).length")
    assert untypeset == 0, f"{page}: {untypeset} math elements not typeset by MathJax"
    assert not re.search(r"\\(frac|mathbb|lfloor|langle|sqrt)\b", text), \
        f"{page}: raw LaTeX left in the text"
    broken = tab.evaluate(
        "() => Array.from(document.images).filter(i => i.closest('article'))"
        ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert broken == [], f"{page}: images that did not load: {broken}"
    outputs = " ".join(tab.locator(".cell_output").all_inner_texts())
    assert "Traceback (most recent call last)" not in outputs, f"{page}: a traceback in an output"
    assert not re.search(r"\b\w+Error: ", outputs), f"{page}: an error in an output"
    real_errors = [e for e in errors if not OFFLINE_NOISE.search(e)]
    assert real_errors == [], f"{page}: console errors {real_errors}"
    context.close()


def test_chapter_one_shows_its_figures_and_computed_numbers(server, browser):
    tab = browser.new_page()
    tab.goto(f"{server}/book/01_principles.html", wait_until="load")
    n_images = tab.evaluate("() => document.querySelectorAll('article img').length")
    assert n_images >= 6
    text = tab.inner_text("article")
    assert "4 → 8 → 16 → 32 → 64" in text
    assert "96 → 32 → 16 → 8 → 3" in text
    tab.close()


def test_every_chapter_page_offers_a_colab_launch_button(server, browser):
    tab = browser.new_page()
    for page in [p for p in PAGES if re.match(r"book/\d\d_", p)]:
        tab.goto(f"{server}/{page}", wait_until="load")
        links = tab.evaluate("() => Array.from(document.querySelectorAll('a'))"
                             ".map(a => a.href).filter(h => h.includes('colab.research.google'))")
        stem = Path(page).stem
        assert any(link.endswith(f"{stem}.ipynb") for link in links), \
            f"{page}: no Colab link to {stem}.ipynb in {links}"
    tab.close()


def test_chapter_five_explorer_draws_in_the_built_page_and_redraws_on_the_slider(server, browser):
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(f"{server}/book/05_latent_space.html", wait_until="load")
    explorer = tab.locator(".dcgan-explorer").first
    explorer.scroll_into_view_if_needed()
    canvas = explorer.locator("canvas").first
    pixels = "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
    tab.wait_for_function("() => window.dcganExplorer && window.dcganExplorer.latent()")
    poster = canvas.evaluate(pixels)
    assert len(set(poster)) > 10, "the explorer shows no poster before it is used"
    slider = explorer.locator("input[type=range]").first
    slider.focus()
    slider.press("ArrowRight")  # the reader's first use: the generator is fetched now
    tab.wait_for_function("() => window.dcganExplorer.images > 0", timeout=60_000)
    slider.fill("0.9")
    slider.dispatch_event("input")
    tab.evaluate("() => window.dcganExplorer.idle()")
    after = canvas.evaluate(pixels)
    assert tab.evaluate("() => window.dcganExplorer.state().t") == pytest.approx(0.9)
    assert poster != after, "the canvas did not change when the slider moved"
    assert errors == []
    tab.close()


def test_chapter_five_explorer_is_large_and_fetches_its_runtime_only_when_used(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    fetched = []
    tab.on("request", lambda r: fetched.append(r.url))
    tab.goto(f"{server}/book/05_latent_space.html", wait_until="load")
    tab.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")  # past the explorer
    tab.locator(".dcgan-explorer canvas").scroll_into_view_if_needed()
    tab.wait_for_timeout(1500)  # a started explorer would be fetching by now
    canvas = tab.locator(".dcgan-explorer canvas")
    assert canvas.bounding_box()["width"] == 256
    assert canvas.evaluate("c => getComputedStyle(c).imageRendering") == "pixelated"
    runtime = [u for u in fetched if u.endswith((".wasm", ".onnx", "ort.wasm.min.js"))]
    assert runtime == [], f"fetched before the reader used the explorer: {runtime}"
    context.close()


def test_chapter_five_has_no_frozen_widget_and_nothing_dead(server, browser):
    context = browser.new_context()
    tab = context.new_page()
    errors, failed, statuses, fetched = [], [], [], []
    # the browser asks for /favicon.ico by itself (the theme declares no icon): not the page's
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and not
           m.location.get("url", "").endswith("/favicon.ico") else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("requestfailed", lambda r: failed.append(r.url))
    tab.on("response", lambda r: statuses.append((r.status, r.url)) if r.status >= 400 else None)
    tab.on("request", lambda r: fetched.append(r.url))
    tab.goto(f"{server}/book/05_latent_space.html", wait_until="load")
    tab.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    tab.wait_for_timeout(1500)  # fonts and late scripts
    assert tab.locator(".jupyter-widgets, .widget-slider").count() == 0, "a frozen ipywidget"
    assert tab.locator("script[type='application/vnd.jupyter.widget-state+json']").count() == 0
    manager = [u for u in fetched if "html-manager" in u or "require" in u.rsplit("/", 1)[-1]]
    assert manager == [], f"widget-manager JavaScript loaded: {manager}"
    assert statuses == [] and failed == [], f"failed requests: {statuses} {failed}"
    off_host = [u for u in fetched if not u.startswith((server, "data:", "blob:"))]
    assert off_host == [], f"requests to other hosts: {off_host}"
    assert errors == [], f"console errors: {errors}"
    context.close()
