"""MNIST and Fashion-MNIST as float tensors in [-1, 1]; CIFAR-10 and CelebA in colour.

The loader looks for the official IDX ``.gz`` files in a local folder first (the
environment variable ``DCGAN_DATA``, then ``shared/data`` beside or above the working
directory and the repository), checks each file's md5 against the published value, and
reads it with numpy. Without a local copy it downloads through torchvision into
``~/.cache/dcgan-data``. Nothing is written next to the local copy.

MNIST digits are 28x28. The DCGAN stacks need a power of two, so the images are padded
with 2 background pixels on every side to 32x32: the digit keeps its exact pixels and
its size, and the border is the same black that already surrounds every digit.

CIFAR-10 and CelebA (:func:`load_colour`) come through torchvision, which downloads them
into a root folder and checks every file's md5; their images are scaled so the shorter side
is ``image_size`` (64 by default, the DCGAN paper's size) and centre-cropped, like a folder
of one's own images (:mod:`dcgan_lib.folder`). Where the files are absent and cannot be
downloaded, :class:`DataError` says so in one sentence.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checks import positive_int_or_none

DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MD5 = {  # the published checksums of the official .gz files
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
CLASSES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
}
_TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
CACHE = Path("~/.cache/dcgan-data").expanduser()
SIZES = (16, 32, 64, 128, 256)  # the powers of two the DCGAN stacks are built for
COLOUR_DATASETS = ("cifar10", "celeba")
_COLOUR = {  # torchvision's class, its training split, and where a reader gets the files
    "cifar10": ("CIFAR10", {"train": True},
                "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html in "
                "ROOT"),
    "celeba": ("CelebA", {"split": "train", "target_type": []},
               "img_align_celeba.zip and the list_*.txt and identity_CelebA.txt files from "
               "CelebA's Google Drive in ROOT/celeba"),
}


class DataError(RuntimeError):
    """A dataset file is missing, corrupt or cannot be fetched."""


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def candidate_roots() -> list[Path]:
    """Folders searched, in order, for ``<root>/<dataset>/<file>.gz``."""
    roots = []
    if os.environ.get("DCGAN_DATA"):
        roots.append(Path(os.environ["DCGAN_DATA"]).expanduser())
    here = Path.cwd().resolve()
    repo = Path(__file__).resolve().parent.parent
    for base in (here, *here.parents[:3], repo, repo.parent):
        roots += [base / "shared" / "data", base / ".data"]
    seen, unique = set(), []
    for r in roots:
        if r not in seen:
            seen.add(r)
            unique.append(r)
    return unique


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into a uint8 array of its stated shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8 or raw[3] not in (1, 3):
        raise DataError(f"{path} does not start with an IDX uint8 header")
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path} holds {len(raw)} bytes, its header promises {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_local(dataset: str) -> Path | None:
    """The first folder holding all four files of ``dataset``, or None."""
    names = _FILES["train"] + _FILES["test"]
    for root in candidate_roots():
        folder = root / dataset
        if all((folder / n).is_file() for n in names):
            return folder
    return None


def _verified(folder: Path, dataset: str, name: str) -> Path:
    path = folder / name
    got = md5sum(path)
    if got != MD5[dataset][name]:
        raise DataError(
            f"{path} has md5 {got}, expected {MD5[dataset][name]}: the file is corrupt or "
            f"not the official one; replace it or delete it to download a fresh copy"
        )
    return path


def _damaged_download(dataset: str) -> str:
    """The downloaded files in the cache whose md5 is not the published one, named."""
    raw = CACHE / _TORCHVISION[dataset] / "raw"
    bad = [str(raw / name) for name, digest in MD5[dataset].items()
           if (raw / name).is_file() and md5sum(raw / name) != digest]
    return ", ".join(bad) if bad else "a downloaded file"


def _download(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        import torchvision

        cls = getattr(torchvision.datasets, _TORCHVISION[dataset])
        ds = cls(str(CACHE), train=(split == "train"), download=True)
    except Exception as exc:
        text = str(exc).lower()
        why = (f"{_damaged_download(dataset)} failed its md5 check"
               if "corrupt" in text or "md5" in text or "not found" in text
               else f"torchvision's mirrors could not be reached ({type(exc).__name__})")
        raise DataError(
            f"{dataset} is not in a local folder (DCGAN_DATA, shared/data) and could not be "
            f"downloaded: {why}; put the four official .gz files in <folder>/{dataset}/ "
            f"and set DCGAN_DATA=<folder>"
        ) from None
    return ds.data.numpy(), ds.targets.numpy()


@functools.lru_cache(maxsize=8)
def _load_uint8(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = find_local(dataset)
    if folder is None:
        return _download(dataset, split)
    image_file, label_file = _FILES[split]
    images = read_idx(_verified(folder, dataset, image_file))
    labels = read_idx(_verified(folder, dataset, label_file))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder} holds {images.shape} images but {labels.shape} labels")
    return images, labels


def clear_cache() -> None:
    """Forget the decoded datasets (after changing ``DCGAN_DATA`` or the files)."""
    _load_uint8.cache_clear()


def to_unit_range(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 -> float32 in [-1, 1] (0 -> -1, 255 -> 1)."""
    if isinstance(images, torch.Tensor):
        return images.float() / 127.5 - 1.0
    return torch.from_numpy(np.asarray(images, dtype=np.float32)) / 127.5 - 1.0


def load(dataset: str = "mnist", split: str = "train", image_size: int = 32,
         limit: int | None = None, device: str | torch.device = "cpu"
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 1, image_size, image_size)`` float32 in [-1, 1] and labels ``(N,)`` int64.

    ``image_size`` 28 keeps the originals; 32 pads 2 background pixels on each side; any
    other power of two from 16 to 256 resizes the padded 32x32 images bilinearly.
    ``limit`` keeps the first ``limit`` images.
    """
    _check_choice("dataset", dataset, DATASETS)
    _check_choice("split", split, SPLITS)
    if image_size != 28 and image_size not in SIZES:
        raise ValueError(
            f"image_size must be 28 or a power of two from 16 to 256, got {image_size!r}"
        )
    limit = positive_int_or_none("limit", limit)
    images, labels = _load_uint8(dataset, split)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = to_unit_range(images)[:, None]
    if image_size != 28:
        x = F.pad(x, (2, 2, 2, 2), value=-1.0)
        x = _resized(x, image_size)
    y = torch.from_numpy(labels.astype(np.int64))
    return x.to(device), y.to(device)


def _resized(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """32x32 images ``x`` scaled bilinearly to ``image_size`` (antialiased when shrinking)."""
    if image_size == 32:
        return x
    return F.interpolate(x, size=(image_size, image_size), mode="bilinear",
                         align_corners=False, antialias=image_size < 32)


def _first_line(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or ["no detail"])[0].rstrip(".")
    return line if len(line) <= 100 else line[:99] + "…"


def _torchvision_colour(dataset: str, root: Path):
    """torchvision's training split of ``dataset`` under ``root``, downloaded if absent."""
    import torchvision

    name, split, files = _COLOUR[dataset]
    try:
        return getattr(torchvision.datasets, name)(str(root), download=True, **split)
    except Exception as exc:  # offline, a mirror refusing, a quota, a failed md5 check
        raise DataError(
            f"{dataset} is not in {str(root)!r} and could not be downloaded "
            f"({type(exc).__name__}: {_first_line(exc)}); run this where the internet is "
            f"reachable (Colab), or put {files.replace('ROOT', str(root))} yourself "
            f"(--data-dir {root})"
        ) from None


def load_colour(dataset: str = "cifar10", root=None, image_size: int = 64,
                limit: int | None = None) -> torch.Tensor:
    """The training images of CIFAR-10 or CelebA, ``(N, 3, image_size, image_size)`` in [-1, 1].

    ``root``: the folder torchvision keeps the dataset in (default ``~/.cache/dcgan-data``);
    torchvision downloads it there when it is absent and checks the files' md5s. Each image
    is scaled so its shorter side is ``image_size`` and centre-cropped (CIFAR-10's 32x32
    squares are only scaled). ``limit`` keeps the first ``limit`` images.
    """
    from .folder import square

    _check_choice("dataset", dataset, COLOUR_DATASETS)
    if image_size not in SIZES:
        raise ValueError(f"image_size must be a power of two from 16 to 256, got {image_size!r}")
    limit = positive_int_or_none("limit", limit)
    root = Path(root).expanduser() if root is not None else CACHE
    ds = _torchvision_colour(dataset, root)
    if dataset == "cifar10":
        x = to_unit_range(ds.data[:limit]).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32)
        return _resized(x, image_size).clamp_(-1, 1)
    n = len(ds) if limit is None else min(limit, len(ds))
    pixels = np.stack([np.asarray(square(ds[i][0].convert("RGB"), image_size), np.uint8)
                       for i in range(n)])
    return to_unit_range(pixels).permute(0, 3, 1, 2).contiguous()
