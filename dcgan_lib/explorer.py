"""The latent explorer of the static HTML book: the generator runs in the reader's browser.

In the rendered book there is no Python kernel, so the ipywidgets explorer of
``dcgan_lib.widgets`` cannot redraw there. This is its kernel-free twin. At build time
the MNIST generator is exported to ONNX, and onnxruntime-web (WebAssembly, from npm)
runs it inside the page:

    python -m dcgan_lib.explorer build OUTDIR

writes into ``OUTDIR``

    generator.onnx                the generator, one file, input "z" (1, latent_dim),
                                  output "image" (1, channels, image_size, image_size)
    explorer.json                 latent_dim, image_size, channels, and which weights
    explorer.js                   the explorer: controls, latents, drawing
    ort.wasm.min.js, ort-wasm-simd-threaded.{mjs,wasm}   onnxruntime-web

and a chapter places the explorer on its page with one cell:

    from IPython.display import HTML
    from dcgan_lib.explorer import explorer_html
    HTML(explorer_html())

The page computes the latents itself: each seed drives a small PRNG (mulberry32) whose
uniform draws become Gaussian coordinates by the Box-Muller transform
(``browser_latent`` is the same computation in Python), and the path between the two
latents is ``dcgan_lib.latent``'s lerp or slerp, written in JavaScript.
``window.dcganExplorer.latent()`` returns the latent currently drawn.

The explorer is drawn with the page: its canvas shows a poster, the image at t = 0
computed at build time. The browser fetches the files above (about 16 MB, mostly the
WebAssembly runtime) only when the reader first uses a control. Because they are
fetched, the page must come from a web server (any static host, or
``python -m http.server`` in the built book's folder); opened as a ``file://`` page, the
explorer says so instead.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image

from dcgan_lib.models import Generator

ORT_VERSION = "1.30.0"  # onnxruntime-web, pinned: the three files below must match
ORT_INTEGRITY = ("sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1S"
                 "igqR4CXAfKYQ==")  # the registry's dist.integrity of that tarball
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
NPM_CACHE = Path(os.environ.get("DCGAN_NPM_CACHE", "~/.cache/dcgan-book/npm")).expanduser()
SCRIPT = Path(__file__).with_name("explorer.js")
UNTRAINED_SEED = 0
DEFAULT_BASE = "_static/explorer/"  # under the book's root, where the build puts the files


def explorer_generator() -> tuple[torch.nn.Module, str]:
    """The generator the page runs, in eval mode, and a phrase saying which weights it has.

    The shipped MNIST weights (``dcgan_lib.pretrained``) when they are present; otherwise
    an untrained 32x32 MNIST-shaped generator with DCGAN initialisation from a fixed seed,
    and the page says that it is untrained.
    """
    try:
        from dcgan_lib.pretrained import load_generator

        generator, _record = load_generator("mnist")
    except (ImportError, FileNotFoundError) as error:
        print(f"The explorer uses an untrained generator: {error}", file=sys.stderr)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(UNTRAINED_SEED)
            generator = Generator(latent_dim=100, image_size=32, channels=1, width=32)
        return generator.eval(), f"untrained: DCGAN initialisation, seed {UNTRAINED_SEED}"
    return generator.eval(), "trained on MNIST"


def export_onnx(generator: torch.nn.Module, path: Path) -> Path:
    """Write ``generator`` (eval mode) as a single ONNX file with input ``z`` of shape
    ``(1, latent_dim)`` and output ``image`` of shape ``(1, C, H, W)`` in [-1, 1]."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs both)
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise RuntimeError("exporting the generator to ONNX needs the onnx and onnxscript "
                           "packages: pip install onnx onnxscript") from error
    latent_dim = getattr(generator, "latent_dim", None)
    if not isinstance(latent_dim, int):
        raise TypeError(f"generator must have an integer latent_dim, got {latent_dim!r}")
    generator = generator.eval()
    z = torch.zeros(1, latent_dim)
    chatter = io.StringIO()  # the exporter narrates its steps; keep the build log readable
    with contextlib.redirect_stdout(chatter), torch.no_grad():
        torch.onnx.export(generator, (z,), str(path), dynamo=True, external_data=False,
                          input_names=["z"], output_names=["image"])
    return Path(path)


def onnxruntime_web(cache: Path = NPM_CACHE) -> Path:
    """The ``dist`` folder of onnxruntime-web ``ORT_VERSION``, installed into ``cache`` by
    npm the first time (the only step that needs the network) and checked against the
    pinned ``ORT_INTEGRITY``."""
    cache = Path(cache)
    package = cache / "node_modules" / "onnxruntime-web"
    lock = cache / "node_modules" / ".package-lock.json"

    def installed() -> dict:
        if not lock.is_file():
            return {}
        return json.loads(lock.read_text())["packages"].get("node_modules/onnxruntime-web", {})

    if installed().get("version") != ORT_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"onnxruntime-web {ORT_VERSION} is not in {cache} and npm is not "
                               f"installed to fetch it (install Node.js and npm)")
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(cache), "--save-exact", "--no-audit",
                        "--no-fund", "--ignore-scripts", "--loglevel=error",
                        f"onnxruntime-web@{ORT_VERSION}"], check=True)
    integrity = installed().get("integrity")
    if integrity != ORT_INTEGRITY:
        raise RuntimeError(f"onnxruntime-web in {cache} has integrity {integrity}, not the "
                           f"pinned {ORT_INTEGRITY}; delete {cache} to fetch it again")
    missing = [name for name in ORT_FILES if not (package / "dist" / name).is_file()]
    if missing:
        raise RuntimeError(f"onnxruntime-web in {package} lacks {', '.join(missing)}")
    return package / "dist"


def build(outdir: Path, generator: torch.nn.Module | None = None,
          weights: str | None = None) -> dict[str, int]:
    """Write everything the in-page explorer needs into ``outdir``; returns bytes per file.

    ``generator`` defaults to ``explorer_generator()``; it must map ``(1, latent_dim)``
    latents to ``(1, C, H, W)`` images with C = 1 or 3.
    """
    if generator is None:
        generator, weights = explorer_generator()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        shape = tuple(generator.eval()(torch.zeros(1, generator.latent_dim)).shape)
    if len(shape) != 4 or shape[0] != 1 or shape[1] not in (1, 3) or shape[2] != shape[3]:
        raise ValueError(f"generator must make (1, C, H, H) images with C = 1 or 3, "
                         f"got {shape}")
    export_onnx(generator, outdir / "generator.onnx")
    meta = {"latent_dim": generator.latent_dim, "channels": shape[1], "image_size": shape[2],
            "weights": weights or "", "onnxruntime_web": ORT_VERSION}
    (outdir / "explorer.json").write_text(json.dumps(meta, indent=1) + "\n")
    dist = onnxruntime_web()
    for name in ORT_FILES:
        shutil.copyfile(dist / name, outdir / name)
    shutil.copyfile(SCRIPT, outdir / SCRIPT.name)
    names = ("generator.onnx", "explorer.json", SCRIPT.name, *ORT_FILES)
    return {name: (outdir / name).stat().st_size for name in names}


def mulberry32(seed: int):
    """The page's PRNG (explorer.js): a 32-bit seed -> a function giving uniforms in [0, 1)."""
    a = seed & 0xFFFFFFFF

    def imul(x: int, y: int) -> int:  # JavaScript's Math.imul, as an unsigned 32-bit result
        return (x * y) & 0xFFFFFFFF

    def uniform() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = imul(a ^ (a >> 15), a | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return uniform


def browser_latent(seed: int, latent_dim: int) -> torch.Tensor:
    """The latent the page draws for ``seed``: mulberry32 uniforms made Gaussian by the
    Box-Muller transform, as explorer.js computes them; float32 ``(latent_dim,)``."""
    uniform = mulberry32(seed)
    z = [0.0] * latent_dim
    for i in range(0, latent_dim, 2):
        u1, u2 = 1 - uniform(), uniform()  # u1 in (0, 1], so log(u1) is finite
        radius = math.sqrt(-2 * math.log(u1))
        z[i] = radius * math.cos(2 * math.pi * u2)
        if i + 1 < latent_dim:
            z[i + 1] = radius * math.sin(2 * math.pi * u2)
    return torch.tensor(z, dtype=torch.float32)


def poster_png(generator: torch.nn.Module, seed: int) -> bytes:
    """The generator's image for ``browser_latent(seed)``, one pixel per pixel, as PNG."""
    from dcgan_lib.widgets import to_png

    z = browser_latent(seed, generator.latent_dim)
    with torch.no_grad():
        image = generator.eval()(z[None])[0]
    return to_png(image, min_size=1)


NOTEBOOK_MESSAGE = ("This explorer runs on the book's web pages; in a notebook, the live "
                    "widget latent_explorer(generator) is the one to use.")


def explorer_html(base: str | None = None, seed_a: int = 0, seed_b: int = 1,
                  generator: torch.nn.Module | None = None, weights: str | None = None) -> str:
    """The HTML that places one explorer on a page.

    ``base`` is the URL of the folder ``build`` wrote, relative to the page or absolute;
    by default it is ``_static/explorer/`` under the book's root, which the page finds
    from Sphinx's ``data-content_root`` (outside the book, in a notebook, the explorer then
    only says where it runs). ``seed_a`` and ``seed_b`` are the seeds shown first.
    ``generator`` (default ``explorer_generator()``, the one ``build`` exports) draws the
    poster, the image at t = 0 that the page shows before the reader fetches the runtime.
    """
    for name, seed in (("seed_a", seed_a), ("seed_b", seed_b)):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ValueError(f"{name} must be an integer from 0 to 2**32 - 1, got {seed!r}")
    if base is not None and not isinstance(base, str):
        raise TypeError(f"base must be a URL string or None, got {type(base).__name__}")
    if generator is None:
        generator, weights = explorer_generator()
    png = poster_png(generator, seed_a)
    size = Image.open(io.BytesIO(png)).size[0]
    attributes = {
        "data-seed-a": seed_a, "data-seed-b": seed_b, "data-latent-dim": generator.latent_dim,
        "data-image-size": size, "data-weights": weights or "",
        "data-poster": "data:image/png;base64," + base64.b64encode(png).decode(),
    }
    if base is not None:
        attributes["data-base"] = base
    attrs = " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attributes.items())
    return f"""\
<div class="dcgan-explorer" {attrs}>
<p class="dcgan-explorer-status">{NOTEBOOK_MESSAGE}</p>
</div>
<script>
(function () {{
  var box = document.currentScript.previousElementSibling;
  var base = box.getAttribute("data-base");
  var root = document.documentElement.getAttribute("data-content_root");
  if (base === null) {{
    if (root === null) return;  // not a page of the book: a notebook's output
    base = root + {json.dumps(DEFAULT_BASE)};
  }}
  box.setAttribute("data-base", new URL(base, document.baseURI).href);
  if (window.dcganExplorerInit) {{ window.dcganExplorerInit(); return; }}
  if (document.querySelector("script[data-dcgan-explorer]")) return;
  var script = document.createElement("script");
  script.src = box.getAttribute("data-base") + "explorer.js";
  script.setAttribute("data-dcgan-explorer", "");
  script.onerror = function () {{
    document.querySelectorAll(".dcgan-explorer-status").forEach(function (status) {{
      status.textContent = "The latent explorer's files are not at " +
        box.getAttribute("data-base") + ": python -m dcgan_lib.explorer build writes them " +
        "when the book is built.";
    }});
  }};
  document.head.appendChild(script);
}})();
</script>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcgan_lib.explorer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("build", help="export the generator and vendor onnxruntime-web")
    cmd.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    sizes = build(args.outdir)
    for name, size in sizes.items():
        print(f"{size / 1e6:8.2f} MB  {args.outdir / name}")
    print(f"{sum(sizes.values()) / 1e6:8.2f} MB  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
