"""Image grids, the book's figure style, and small plotting helpers shared by the chapters."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

# A figure at most this wide (inches) shows at its own size in the book's 688-px column, so
# its 9-pt tick labels stay 12 px on screen.
COLUMN_INCHES = 7.0
BOOK_STYLE = {
    "figure.figsize": (COLUMN_INCHES, 3.2),
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "image.interpolation": "none",  # SVG keeps the pixels and draws them sharp at any zoom
    "svg.fonttype": "path",
    "savefig.dpi": 200,  # for artists drawn rasterized inside an SVG
}


def use_book_style() -> None:
    """Figures as SVG (sharp on any screen), sized for the page's column."""
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not in a notebook
        return
    set_matplotlib_formats("svg")


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """Tile ``(B, C, H, W)`` images in [-1, 1] into one ``(H', W', C)`` numpy array in [0, 1],
    ready for ``imshow`` (which warns about a torch tensor under numpy 2)."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (B, C, H, W) tensor, got {got}")
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive integer, got {nrow!r}")
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2)
    b, c, h, w = x.shape
    rows = (b + nrow - 1) // nrow
    cols = min(b, nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, cols * (w + pad) + pad)
    for i in range(b):
        r, k = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid.permute(1, 2, 0).numpy()


def show_images(images: torch.Tensor, nrow: int = 8, title: str | None = None, ax=None,
                caption: str = ""):
    """Draw a grid of images, without ticks; ``caption``, if given, goes under the grid."""
    grid = image_grid(images, nrow=nrow)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(12, 1.2 * min(len(images), nrow)),
                                      1.2 * ((len(images) + nrow - 1) // nrow) + 0.6))
    if grid.shape[-1] == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(grid)
    ax.set_xticks([])
    ax.set_yticks([])
    if caption:
        ax.set_xlabel(caption)
    if title:
        ax.set_title(title)
    return ax


def html_table(headers, rows, caption: str | None = None):
    """A small HTML table for a notebook: ``headers`` a list of column names, ``rows`` a list
    of lists (floats printed with 4 significant digits, booleans as yes/no)."""
    from html import escape

    from IPython.display import HTML

    def cell(v):
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:.4g}"
        return escape(str(v))

    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return HTML(f"<table class='dcgan-table'>{cap}<thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")


# ---------------------------------------------------------------- an animation for the page

_PLAYER_SCRIPT = """(function () {
  const root = document.getElementById("%(id)s");
  const frames = %(frames)s, labels = %(labels)s;
  const img = root.querySelector("img"), slider = root.querySelector("input");
  const label = root.querySelector("span"), button = root.querySelector("button");
  let timer = null;
  function show(i) { img.src = frames[i]; slider.value = i; label.textContent = labels[i]; }
  function stop() { clearInterval(timer); timer = null; button.textContent = "Play"; }
  slider.addEventListener("input", () => { stop(); show(+slider.value); });
  button.addEventListener("click", () => {
    if (timer) { stop(); return; }
    if (+slider.value === frames.length - 1) { show(0); }
    button.textContent = "Pause";
    timer = setInterval(() => {
      const next = +slider.value + 1;
      if (next >= frames.length) { stop(); } else { show(next); }
    }, %(interval)d);
  });
})();"""


def _png_uri(array, scale: int) -> str:
    import base64
    import io

    import numpy as np
    from PIL import Image

    pixels = (np.clip(np.asarray(array, dtype=np.float64), 0, 1) * 255).round()
    image = Image.fromarray(pixels.astype(np.uint8))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def frames_player(frames, labels, element_id: str, alt: str, display_px: int = 411,
                  interval_ms: int = 600):
    """A self-contained HTML player for a sequence of grey images (``(H, W)`` arrays in
    [0, 1], one per frame, e.g. from :func:`image_grid`) with a play button, a slider and
    one label per frame. Nothing is fetched from anywhere: the frames are PNGs inside the
    page, stored at twice ``display_px`` so that they stay sharp on a 2x screen."""
    import json
    from html import escape

    from IPython.display import HTML

    width = len(frames[0][0])
    scale = max(1, -(-2 * display_px // width))  # ceil: at least 2x the displayed width
    uris = [_png_uri(frame, scale) for frame in frames]
    script = _PLAYER_SCRIPT % {"id": element_id, "frames": json.dumps(uris),
                               "labels": json.dumps(list(labels)), "interval": interval_ms}
    return HTML(
        f"<div class='dcgan-player' id='{escape(element_id)}'>"
        f"<img src='{uris[0]}' alt='{escape(alt)}' width='{display_px}' "
        f"style='image-rendering: pixelated; max-width: 100%; height: auto'>"
        f"<div><button type='button'>Play</button> "
        f"<input type='range' min='0' max='{len(uris) - 1}' value='0' "
        f"aria-label='frame' style='vertical-align: middle; width: 60%'> "
        f"<span>{escape(labels[0])}</span></div><script>{script}</script></div>")
