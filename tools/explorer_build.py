"""Build the in-page latent explorer's files: the generator as ONNX, and onnxruntime-web.

    python tools/explorer_build.py OUTDIR      (tools/book.sh runs it into _vendor/explorer)

writes ``generator.onnx``, ``explorer.json``, ``explorer.js`` and onnxruntime-web's three
runtime files (:data:`ORT_FILES`) into ``OUTDIR``. onnxruntime-web comes from the npm
registry as its pinned tarball, through the same cache and sha512 check as the book's
other JavaScript (``tools/vendor.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vendor import fetch  # noqa: E402

from dcgan_lib.explorer import SCRIPT, explorer_generator  # noqa: E402

ORT_VERSION = "1.30.0"  # onnxruntime-web, pinned: the three files below must match
ORT_INTEGRITY = ("q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1S"
                 "igqR4CXAfKYQ==")  # the registry's dist.integrity (sha512) of that tarball
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def onnxruntime_web(outdir: Path) -> None:
    """Copy onnxruntime-web's runtime files from its pinned, checked tarball to ``outdir``."""
    blob = fetch("onnxruntime-web", ORT_VERSION, ORT_INTEGRITY)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for name in ORT_FILES:
            member = tar.extractfile(f"package/dist/{name}")
            if member is None:
                raise RuntimeError(f"onnxruntime-web {ORT_VERSION} lacks dist/{name}")
            (outdir / name).write_bytes(member.read())


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
    onnxruntime_web(outdir)
    shutil.copyfile(SCRIPT, outdir / SCRIPT.name)
    names = ("generator.onnx", "explorer.json", SCRIPT.name, *ORT_FILES)
    return {name: (outdir / name).stat().st_size for name in names}



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/explorer_build.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    sizes = build(args.outdir)
    for name, size in sizes.items():
        print(f"{size / 1e6:8.2f} MB  {args.outdir / name}")
    print(f"{sum(sizes.values()) / 1e6:8.2f} MB  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
