"""Your own images as a training set: every picture in a folder, resized and centre-cropped.

``load_folder(path, image_size)`` reads every ``.png``, ``.jpg``/``.jpeg``, ``.bmp``,
``.gif`` and ``.webp`` file under ``path`` (sub-folders included, in sorted order), scales
each so its shorter side is ``image_size`` and cuts the centred square, as pytorch/examples'
``dcgan`` does for its ``folder`` dataset (``Resize`` then ``CenterCrop``). The result is
``(N, C, image_size, image_size)`` float32 in [-1, 1], with C = 3 if any image has colour and
1 if all are grey. A folder without images, or a file that cannot be read, is named in one
sentence (:class:`dcgan_lib.data.DataError`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .data import DataError, to_unit_range

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def image_files(path) -> list[Path]:
    """The image files under ``path``, sorted; ``DataError`` if there are none."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(f"data_dir {str(folder)!r} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS
                   and p.is_file())
    if not files:
        raise DataError(f"data_dir {str(folder)!r} holds no images "
                        f"({', '.join(EXTENSIONS)})")
    return files


def square(image, size: int):
    """``image`` (a PIL image) scaled so its shorter side is ``size``, then the centred
    ``size`` x ``size`` square cut out."""
    from PIL import Image

    w, h = image.size
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                         Image.Resampling.BICUBIC)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


def load_folder(path, image_size: int = 64, limit: int | None = None) -> torch.Tensor:
    """Every image under ``path`` (the first ``limit``), ``(N, C, S, S)`` in [-1, 1]."""
    from PIL import Image, UnidentifiedImageError

    files = image_files(path)[:limit]
    images, colour = [], False
    for file in files:
        try:
            with Image.open(file) as image:
                image.load()
                colour |= image.mode not in ("1", "L", "LA", "I", "I;16", "F")
                images.append(square(image.convert("RGB"), image_size))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise DataError(f"{file} is not a readable image "
                            f"({type(exc).__name__})") from None
    pixels = np.stack([np.asarray(im, dtype=np.uint8) for im in images])  # (N, S, S, 3)
    x = to_unit_range(pixels).permute(0, 3, 1, 2).contiguous()
    return x if colour else x[:, :1].contiguous()
