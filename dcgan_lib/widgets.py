"""The interactive latent explorer: walk between two latents and watch the generator.

``latent_explorer(generator)`` returns an ipywidgets ``VBox`` with two seed boxes (the
endpoints z_a and z_b, drawn by ``dcgan_lib.latent.sample``), a slider for t in [0, 1],
a linear/spherical switch, the generated image, and a label comparing the current
latent's norm with sqrt(latent_dim), the norm a Gaussian latent typically has.

All the drawing goes through ``LatentExplorer.render(t, mode)``, a plain method that
returns the PNG bytes and the norm, so it runs (and is tested) without a browser. In a
static HTML page the widget shows the state it was saved in; only a live kernel redraws.
"""

from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from dcgan_lib.latent import lerp, sample, slerp

MODES = ("linear", "spherical")
DISPLAY_PX = 256  # images are enlarged by whole-pixel repetition to at least this size


def to_png(image: torch.Tensor, min_size: int = DISPLAY_PX) -> bytes:
    """One image ``(C, H, W)`` in [-1, 1] (C = 1 or 3) as PNG bytes, enlarged by an
    integer factor (nearest neighbour, so pixels stay sharp) to at least ``min_size``."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] not in (1, 3):
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a (C, H, W) tensor with C = 1 or 3, got {got}")
    pixels = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    array = pixels.permute(1, 2, 0).numpy()
    scale = max(1, math.ceil(min_size / max(array.shape[:2])))
    array = np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(buffer, format="PNG")
    return buffer.getvalue()


def norm_text(norm: float, latent_dim: int) -> str:
    """The label under the image: the latent's norm beside sqrt(latent_dim)."""
    return f"‖z‖ = {norm:.2f}    √latent_dim = {math.sqrt(latent_dim):.2f}"


class LatentExplorer(widgets.VBox):
    """The explorer's widgets and its update logic; see ``latent_explorer``."""

    def __init__(self, generator: torch.nn.Module, latent_dim: int | None = None,
                 seed_a: int = 0, seed_b: int = 1):
        if not isinstance(generator, torch.nn.Module):
            raise TypeError(f"generator must be a torch.nn.Module, got {type(generator).__name__}")
        if latent_dim is None:
            latent_dim = getattr(generator, "latent_dim", None)
            if latent_dim is None:
                raise ValueError("generator has no latent_dim attribute: pass latent_dim")
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        for name, seed in (("seed_a", seed_a), ("seed_b", seed_b)):
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {seed!r}")
        self.generator = generator
        self.latent_dim = latent_dim

        self.seed_a = widgets.BoundedIntText(value=seed_a, min=0, max=2**31 - 1,
                                             description="seed a")
        self.seed_b = widgets.BoundedIntText(value=seed_b, min=0, max=2**31 - 1,
                                             description="seed b")
        self.mode = widgets.ToggleButtons(options=MODES, value="spherical",
                                          description="path")
        self.t = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05,
                                     description="t", continuous_update=True)
        self.image = widgets.Image(format="png")
        self.norm_label = widgets.Label()
        super().__init__([widgets.HBox([self.seed_a, self.seed_b]), self.mode, self.t,
                          self.image, self.norm_label])

        for control in (self.seed_a, self.seed_b, self.mode, self.t):
            control.observe(self._update, names="value")
        self._update()

    def endpoints(self) -> tuple[torch.Tensor, torch.Tensor]:
        """z_a and z_b, each ``(latent_dim,)``, from the two seed boxes."""
        z_a = sample(1, self.latent_dim, seed=self.seed_a.value)[0]
        z_b = sample(1, self.latent_dim, seed=self.seed_b.value)[0]
        return z_a, z_b

    def latent(self, t: float, mode: str) -> torch.Tensor:
        """The latent at ``t`` in [0, 1] on the ``mode`` path from z_a to z_b, ``(latent_dim,)``."""
        if mode not in MODES:
            raise ValueError(f"mode must be 'linear' or 'spherical', got {mode!r}")
        z_a, z_b = self.endpoints()
        return (lerp if mode == "linear" else slerp)(z_a, z_b, t)

    def render(self, t: float, mode: str) -> tuple[bytes, float]:
        """The image at ``latent(t, mode)`` as PNG bytes, and that latent's norm.

        The generator runs in eval mode (BatchNorm uses its running statistics, as it
        must for a single image) and is put back in the mode it was in.
        """
        z = self.latent(t, mode)
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.no_grad():
                param = next(self.generator.parameters(), None)
                device = param.device if param is not None else torch.device("cpu")
                image = self.generator(z[None].to(device))[0]
        finally:
            self.generator.train(was_training)
        return to_png(image), float(z.norm())

    def _update(self, change=None) -> None:
        png, norm = self.render(self.t.value, self.mode.value)
        self.image.value = png
        self.norm_label.value = norm_text(norm, self.latent_dim)


def latent_explorer(generator: torch.nn.Module, latent_dim: int | None = None,
                    seed_a: int = 0, seed_b: int = 1) -> LatentExplorer:
    """An ipywidgets ``VBox`` to walk from latent ``seed_a`` to latent ``seed_b``.

    ``generator`` maps ``(1, latent_dim)`` latents to ``(1, C, H, W)`` images in [-1, 1];
    ``latent_dim`` defaults to ``generator.latent_dim``. The endpoints are Gaussian latents
    drawn with the two seeds by ``dcgan_lib.latent.sample``, so the same seeds give the same
    latents on every machine.
    """
    return LatentExplorer(generator, latent_dim=latent_dim, seed_a=seed_a, seed_b=seed_b)
