"""Copy the book's JavaScript dependencies into `_vendor/`, served as static files.

The rendered book runs offline: MathJax comes from a pinned npm package, fetched once
from the npm registry into a cache, checked against its published sha512 integrity, and
unpacked here. (The in-page explorer's onnxruntime-web is vendored by
``python -m dcgan_lib.explorer build``.) Usage: python tools/vendor.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "_vendor"
CACHE = Path(os.environ.get("DCGAN_NPM_CACHE", "~/.cache/dcgan-book/npm")).expanduser()
REGISTRY = os.environ.get("NPM_REGISTRY", "https://registry.npmjs.org")

# name, version, sha512 integrity (from the registry), folder inside the package, destination
PACKAGES = [
    ("mathjax", "3.2.2",
     "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
     "package/es5/", "mathjax"),
]

# folders an earlier version vendored (the ipywidgets manager: no page embeds widgets now);
# html_static_path would still copy them into every build
RETIRED = ("requirejs", "html-manager")


def fetch(name: str, version: str, integrity: str) -> bytes:
    cached = CACHE / f"{name.replace('/', '__')}-{version}.tgz"
    if cached.is_file():
        blob = cached.read_bytes()
    else:
        url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"  # scoped: @s/n/-/n-v
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                blob = response.read()
        except OSError as exc:
            sys.exit(f"could not fetch {name}@{version} from {url} ({exc}); the book needs it "
                     f"once: put the tarball at {cached}")
    digest = base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if digest != integrity:
        sys.exit(f"{name}@{version}: sha512 {digest} does not match the pinned {integrity}")
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(blob)
    return blob


def unpack(blob: bytes, inside: str, dest: Path) -> int:
    """Copy the folder ``inside`` (ending in /) to the folder ``dest``, or one file to ``dest``."""
    folder = inside.endswith("/")
    if dest.is_dir():
        shutil.rmtree(dest)
    count = 0
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(inside):
                continue
            target = dest / member.name[len(inside):] if folder else dest
            if ".." in Path(member.name).parts:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            count += 1
    return count


def main() -> None:
    VENDOR.mkdir(exist_ok=True)
    for dest in RETIRED:
        if (VENDOR / dest).is_dir():
            shutil.rmtree(VENDOR / dest)
            for stamp in VENDOR.glob(f".{dest}*.version"):
                stamp.unlink()
            print(f"removed {VENDOR / dest}: no longer vendored")
    for name, version, integrity, inside, dest in PACKAGES:
        stamp = VENDOR / f".{dest.replace('/', '_')}.version"
        if stamp.is_file() and stamp.read_text() == version:
            continue
        n = unpack(fetch(name, version, integrity), inside, VENDOR / dest)
        stamp.write_text(version)
        print(f"vendored {name}@{version}: {n} files in {VENDOR / dest}")


if __name__ == "__main__":
    main()
