"""Fixtures shared by the test files: one thread for tiny models, and the built book
served over HTTP to a headless Chromium."""

from pathlib import Path

import pytest
import torch
from serving import serve

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convolutions gain nothing from threads; on a shared 2-core machine they lose."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def server(request):
    """The built book of the test module's ``HTML`` folder, served over HTTP."""
    html = Path(request.module.HTML)
    if not (html / "index.html").is_file():
        pytest.fail(f"{html}/index.html is missing: build the book first (bash tools/book.sh)")
    with serve(html) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()
