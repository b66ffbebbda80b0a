"""The setup cell that lets every notebook run in Google Colab (a maintenance tool).

Colab starts with torch, torchvision, numpy, matplotlib, ipywidgets, safetensors and tqdm
but without ``dcgan_lib``. The first cell of every chapter and exercise notebook therefore
installs ``dcgan_lib`` from the book's repository, at the book's branch, with ``--no-deps``,
together with any requirement Colab lacks altogether; it never reinstalls or upgrades what
Colab has. Outside Colab the cell does nothing. Colab's versions are those in
``colab-constraints.txt``; every range in ``requirements.txt`` must admit them, so that
``pip check`` stays clean after the cell (``sync --check`` refuses otherwise).

The repository URL and branch have one home, ``repository: url:`` and ``branch:`` in
``_config.yml``; the cells are generated from it and never edited by hand:

    python tools/colab.py sync            # insert or update the cell everywhere
    python tools/colab.py sync --check    # exit 1 if any notebook is out of date

The generated cell reads the environment variables ``DCGAN_REPO_URL`` and
``DCGAN_REPO_BRANCH`` first, so that a copy of the repository (a fork, a local clone in
a test) can stand in for the published one.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = "colab-constraints.txt"  # Colab's preinstalled versions, beside _config.yml
NOTEBOOK_GLOBS = ("book/*.ipynb", "exercises/*.ipynb", "exercises/solutions/*.ipynb")
CELL_ID = "colab-setup"
CELL_TAGS = ["colab-setup", "remove-cell"]  # remove-cell: the rendered book hides it


def read_repository(config: Path) -> tuple[str, str]:
    """``(url, branch)`` from the ``repository:`` section of a Jupyter Book ``_config.yml``."""
    import yaml  # only the sync command needs PyYAML, never the library at run time

    settings = yaml.safe_load(Path(config).read_text()) or {}
    repository = settings.get("repository") or {}
    url, branch = repository.get("url"), repository.get("branch")
    for key, value in (("url", url), ("branch", branch)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{config} must set repository: {key}: to a non-empty string, "
                             f"got {value!r}")
    return url.strip().rstrip("/"), branch.strip()


def requirement_name(line: str) -> str:
    """The normalised project name of a requirements line (``"Safe_Tensors>=0.4"`` gives
    ``"safe-tensors"``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    if match is None:
        raise ValueError(f"not a requirement: {line!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements or constraints file, comments dropped."""
    lines = (raw.split("#", 1)[0].strip() for raw in Path(path).read_text().splitlines())
    return [line for line in lines if line]


def colab_versions(constraints: Path) -> dict[str, str]:
    """Colab's preinstalled ``{normalised name: version}`` from its ``name==version`` pins."""
    pins = {}
    for line in requirement_lines(constraints):
        name, sep, version = line.partition("==")
        if sep:
            pins[requirement_name(name)] = version.strip()
    return pins


def colab_lacks(requirements: Path, constraints: Path) -> list[str]:
    """The lines of ``requirements.txt`` naming a package Colab does not have, in file order."""
    has = colab_versions(constraints)
    return [line for line in requirement_lines(requirements) if requirement_name(line) not in has]


def colab_conflicts(requirements: Path, constraints: Path) -> list[str]:
    """The requirements that Colab's own version of the package does not satisfy, each as
    ``"ipywidgets>=8.0 (Colab has 7.7.1)"``."""
    from packaging.requirements import Requirement

    has = colab_versions(constraints)
    conflicts = []
    for line in requirement_lines(requirements):
        version = has.get(requirement_name(line))
        if version is not None and not Requirement(line).specifier.contains(version,
                                                                             prereleases=True):
            conflicts.append(f"{line} (Colab has {version})")
    return conflicts


def setup_source(url: str, branch: str, extras: list[str]) -> str:
    """The Python source of the setup cell (it acts on Colab only)."""
    if extras:
        lines = ["# Google Colab only: install dcgan_lib, the library behind this book, and the",
                 "# packages Colab lacks. Colab's own torch is kept. Elsewhere this cell does "
                 "nothing."]
    else:
        lines = ["# Google Colab only: install dcgan_lib, the library behind this book. Colab",
                 "# already has everything else it needs. Elsewhere this cell does nothing."]
    lines += [
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        "    import importlib",
        "    import os",
        "    import subprocess",
        "",
        f'    url = os.environ.get("DCGAN_REPO_URL", {json.dumps(url)})',
        f'    branch = os.environ.get("DCGAN_REPO_BRANCH", {json.dumps(branch)})',
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]',
    ]
    if extras:
        listed = ", ".join(map(json.dumps, extras))
        lines.append(f"    subprocess.run([*pip, {listed}], check=True)")
    lines += [
        '    subprocess.run([*pip, "--no-deps", f"git+{url}@{branch}"], check=True)',
        "    importlib.invalidate_caches()",
    ]
    return "\n".join(lines)


def setup_cell(source: str):
    """The setup cell as a notebook cell: tagged, with a fixed id, without outputs."""
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(CELL_TAGS)
    cell.id = CELL_ID
    return cell


def synced(nb, source: str):
    """A copy of notebook ``nb`` whose first cell is the setup cell, with no other setup cell."""
    import copy

    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if CELL_TAGS[0] not in c.get("metadata", {}).get("tags", [])]
    cell = setup_cell(source)
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        del cell["id"]  # cell ids exist from nbformat 4.5 on
    nb.cells = [cell, *cells]
    return nb


def notebooks(root: Path) -> list[Path]:
    """Every chapter and exercise notebook under ``root``, sorted."""
    found = set()
    for pattern in NOTEBOOK_GLOBS:
        found.update(p for p in Path(root).glob(pattern) if ".ipynb_checkpoints" not in p.parts)
    return sorted(found)


def sync(root: Path = ROOT, check: bool = False) -> list[Path]:
    """Bring every notebook's setup cell up to date with ``root/_config.yml``.

    Returns the notebooks that were (``check=False``) or would be (``check=True``)
    changed; with ``check=True`` nothing is written.
    """
    import nbformat

    root = Path(root)
    url, branch = read_repository(root / "_config.yml")
    source = setup_source(url, branch, colab_lacks(root / "requirements.txt", root / CONSTRAINTS))
    stale = []
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        new = synced(nb, source)
        if new != nb:
            stale.append(path)
            if not check:
                nbformat.write(new, path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/colab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("sync", help="insert or update the Colab setup cell")
    cmd.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if any notebook is out of date")
    cmd.add_argument("--root", type=Path, default=ROOT, help="the book's root (has _config.yml)")
    args = parser.parse_args(argv)
    conflicts = colab_conflicts(args.root / "requirements.txt", args.root / CONSTRAINTS)
    if conflicts:
        print(f"requirements.txt asks for what Colab's preinstalled versions "
              f"({CONSTRAINTS}) do not satisfy, so pip check would fail there: "
              f"{'; '.join(conflicts)}", file=sys.stderr)
        return 1
    stale = sync(args.root, check=args.check)
    for path in stale:
        rel = path.relative_to(args.root) if path.is_relative_to(args.root) else path
        print(f"{'out of date' if args.check else 'updated'}: {rel}")
    if args.check and stale:
        print(f"{len(stale)} notebook(s) lack the current Colab setup cell; "
              f"run: python tools/colab.py sync", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
