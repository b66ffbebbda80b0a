"""The Colab setup cell: generated from _config.yml, kept in sync, and working on a fresh Colab.

The slow tests emulate a fresh Colab runtime: a new virtual environment that sees only
Colab's preinstalled packages (torch, torchvision, numpy, matplotlib, ipywidgets and the
kernel, linked from this project's environment rather than copied), imports a
``google.colab`` marker module at start-up as Colab's kernel does, and installs
``dcgan_lib`` from a fresh clone of the committed repository through the setup cell.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dcgan_lib import colab
from dcgan_lib.data import find_local

REPO = Path(__file__).resolve().parent.parent
CONFIG = """\
title: "A book"
repository:
  url: {url}
  branch: {branch}
"""
REQUIREMENTS = "torch>=2.2\nnumpy>=1.24  # Colab has it\nsafetensors>=0.4\ntqdm>=4.60\n"


# ---------------------------------------------------------------------------------------
# sync and sync --check on temporary notebooks

def make_book(root: Path, url="https://example.org/me/book", branch="main") -> list[Path]:
    (root / "_config.yml").write_text(CONFIG.format(url=url, branch=branch))
    (root / "requirements.txt").write_text(REQUIREMENTS)
    paths = [root / "book/01_a.ipynb", root / "exercises/01_a.ipynb",
             root / "exercises/solutions/01_a.ipynb"]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"),
                                             nbformat.v4.new_code_cell("x = 1")])
        for i, cell in enumerate(nb.cells):
            cell.id = f"c{i:03d}"
        nbformat.write(nb, path)
    return paths


def first_cell(path: Path):
    return nbformat.read(path, as_version=4).cells[0]


def test_check_reports_every_notebook_without_the_setup_cell(tmp_path):
    paths = make_book(tmp_path)
    before = [p.read_bytes() for p in paths]
    assert colab.sync(tmp_path, check=True) == paths
    assert [p.read_bytes() for p in paths] == before  # --check writes nothing


def test_sync_puts_the_tagged_setup_cell_first_and_keeps_the_rest(tmp_path):
    paths = make_book(tmp_path)
    colab.sync(tmp_path)
    for path in paths:
        cells = nbformat.read(path, as_version=4).cells
        assert cells[0].metadata.tags == ["colab-setup", "remove-cell"]
        assert 'if "google.colab" in sys.modules:' in cells[0].source
        assert [c.source for c in cells[1:]] == ["# Title", "x = 1"]
    assert colab.sync(tmp_path, check=True) == []


def test_sync_twice_changes_nothing_the_second_time(tmp_path):
    paths = make_book(tmp_path)
    colab.sync(tmp_path)
    after_first = [p.read_bytes() for p in paths]
    assert colab.sync(tmp_path) == []
    assert [p.read_bytes() for p in paths] == after_first


def test_check_fails_when_config_url_changes_and_sync_updates_the_cell(tmp_path, capsys):
    paths = make_book(tmp_path)
    colab.sync(tmp_path)
    (tmp_path / "_config.yml").write_text(CONFIG.format(url="https://example.org/fork/book",
                                                        branch="dev"))
    assert colab.main(["sync", "--check", "--root", str(tmp_path)]) == 1
    assert "out of date: book/01_a.ipynb" in capsys.readouterr().out
    assert colab.main(["sync", "--root", str(tmp_path)]) == 0
    assert colab.main(["sync", "--check", "--root", str(tmp_path)]) == 0
    for path in paths:
        source = first_cell(path).source
        assert '"https://example.org/fork/book"' in source and '"dev"' in source
        assert "example.org/me/book" not in source


def test_check_fails_when_the_setup_cell_is_edited_by_hand(tmp_path):
    paths = make_book(tmp_path)
    colab.sync(tmp_path)
    nb = nbformat.read(paths[1], as_version=4)
    nb.cells[0].source += "\nprint('hello')"
    nbformat.write(nb, paths[1])
    assert colab.sync(tmp_path, check=True) == [paths[1]]


def test_sync_moves_a_misplaced_setup_cell_to_the_top_without_duplicating_it(tmp_path):
    paths = make_book(tmp_path)
    colab.sync(tmp_path)
    nb = nbformat.read(paths[0], as_version=4)
    nb.cells = [nb.cells[1], nb.cells[0], nb.cells[2]]
    nbformat.write(nb, paths[0])
    assert colab.sync(tmp_path) == [paths[0]]
    cells = nbformat.read(paths[0], as_version=4).cells
    assert [("colab-setup" in c.metadata.get("tags", [])) for c in cells] == [True, False, False]


def test_setup_cell_installs_only_what_colab_lacks():
    source = colab.setup_source("https://example.org/b", "main",
                                colab.colab_lacks(REPO / "requirements.txt"))
    assert '"safetensors>=0.4"' in source and '"tqdm>=4.60"' in source
    for preinstalled in colab.COLAB_HAS:
        assert f'"{preinstalled}' not in source  # never reinstall Colab's torch & co.
    assert '"--no-deps"' in source  # so dcgan-lib's own torch>=2.2 cannot pull a new torch


def test_missing_repository_url_is_a_clear_error(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  branch: main\n")
    with pytest.raises(ValueError, match="repository: url:"):
        colab.read_repository(tmp_path / "_config.yml")


def run_cell(source: str, monkeypatch) -> list[list[str]]:
    """Execute the setup cell here, recording the commands it would run instead of running them."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(list(cmd)))
    exec(compile(source, "setup-cell", "exec"), {})
    return calls


def test_setup_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    source = colab.setup_source("https://example.org/b", "main", ["tqdm>=4.60"])
    assert run_cell(source, monkeypatch) == []


def test_setup_cell_on_colab_installs_from_config_url_unless_overridden(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("DCGAN_REPO_URL", raising=False)
    monkeypatch.delenv("DCGAN_REPO_BRANCH", raising=False)
    source = colab.setup_source("https://example.org/b", "v2", ["tqdm>=4.60"])
    calls = run_cell(source, monkeypatch)
    assert calls[0][-1] == "tqdm>=4.60"
    assert calls[1][-2:] == ["--no-deps", "git+https://example.org/b@v2"]
    monkeypatch.setenv("DCGAN_REPO_URL", "file:///tmp/clone")
    assert run_cell(source, monkeypatch)[1][-1] == "git+file:///tmp/clone@v2"


# ---------------------------------------------------------------------------------------
# a fresh Colab, emulated

COLAB_BASE = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "ipykernel", "pip")


def installed_closure(names) -> list:
    """The installed distributions ``names`` need, with all their (non-extra) dependencies."""
    seen, todo = {}, list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:  # a dependency this platform does not install
            continue
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


@pytest.fixture(scope="session")
def colab_base(tmp_path_factory) -> Path:
    """A folder of links to Colab's preinstalled packages, and a google.colab marker."""
    base = tmp_path_factory.mktemp("colab-base")
    for dist in installed_closure(COLAB_BASE):
        for top in {f.parts[0] for f in dist.files or []}:
            if top in ("..", "__pycache__") or top.endswith(".pth") or (base / top).exists():
                continue
            (base / top).symlink_to(Path(dist.locate_file(top)).resolve())
    assert not (base / "google").exists()
    (base / "google").mkdir()
    (base / "google" / "colab.py").write_text('"""Marks this runtime as Google Colab."""\n')
    return base


@pytest.fixture(scope="session")
def clone(tmp_path_factory) -> Path:
    """A fresh clone of the committed repository: what Colab would install from."""
    path = tmp_path_factory.mktemp("clone") / "book"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """Wheels of what Colab lacks plus setuptools (to build dcgan-lib), so installs run offline.

    Kept in ~/.cache/dcgan-wheels; filled from the package index only when it lacks one.
    """
    wanted = ["setuptools>=68", *colab.colab_lacks(REPO / "requirements.txt")]
    cache = Path("~/.cache/dcgan-wheels").expanduser()
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(cache)]
    offline = subprocess.run([*pip, "--no-index", "--find-links", str(cache), *wanted],
                             capture_output=True)
    if offline.returncode != 0:
        subprocess.run([*pip, *wanted], check=True)
    return cache


@pytest.fixture
def fresh_colab(tmp_path, colab_base, clone, wheelhouse):
    """A new Colab-like interpreter and a function that executes a notebook in it."""
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True)
    (Path(purelib.stdout.strip()) / "colab_base.pth").write_text(
        f"{colab_base}\nimport google.colab\n")

    env = {
        "DCGAN_REPO_URL": f"file://{clone}",
        "DCGAN_REPO_BRANCH": subprocess.run(["git", "-C", str(clone), "branch", "--show-current"],
                                            capture_output=True, text=True).stdout.strip(),
        "DCGAN_QUICK": "1",
        # Colab downloads MNIST through torchvision; here the local copy stands in for it
        "DCGAN_DATA": str(find_local("mnist").parent),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    kernels = tmp_path / "kernels"
    (kernels / "colab").mkdir(parents=True)
    (kernels / "colab" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (emulated)", "language": "python", "env": env}))

    def execute(nb, cwd: Path):
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        km = KernelManager(kernel_name="colab",
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
        NotebookClient(nb, km=km, timeout=600, allow_errors=False,
                       resources={"metadata": {"path": str(cwd)}}).execute()
        return nb

    return python, execute


def colab_notebook(root: Path, path: Path):
    """The notebook as Colab runs it: the setup cell (from the clone's _config.yml) first."""
    url, branch = colab.read_repository(root / "_config.yml")
    source = colab.setup_source(url, branch, colab.colab_lacks(root / "requirements.txt"))
    return colab.synced(nbformat.read(path, as_version=4), source)


def code_outputs(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)


@pytest.mark.slow
def test_fresh_colab_lacks_dcgan_lib_until_the_setup_cell_installs_it_keeping_torch(
        fresh_colab, clone, colab_base, tmp_path):
    python, execute = fresh_colab
    before = subprocess.run([python, "-c", "import dcgan_lib"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert "No module named 'dcgan_lib'" in before.stderr
    url, branch = colab.read_repository(clone / "_config.yml")
    cells = [colab.setup_cell(colab.setup_source(url, branch,
                                                 colab.colab_lacks(clone / "requirements.txt"))),
             nbformat.v4.new_code_cell(
                 "import dcgan_lib, safetensors, torch, tqdm\n"
                 "print(dcgan_lib.__file__); print(torch.__file__)")]
    nb = execute(nbformat.v4.new_notebook(cells=cells), tmp_path)
    dcgan_file, torch_file = code_outputs(nb).split()
    assert Path(dcgan_file).is_relative_to(tmp_path / "venv")  # installed, not the checkout
    assert Path(torch_file).is_relative_to(colab_base)  # Colab's torch, untouched
    assert not list((tmp_path / "venv").glob("lib/*/site-packages/torch"))


def committed(clone: Path, pattern: str) -> Path:
    found = sorted(clone.glob(pattern))
    if not found:
        pytest.skip(f"no notebook matching {pattern} is committed yet")
    return found[0]


@pytest.mark.slow
def test_chapter_1_runs_top_to_bottom_in_a_fresh_colab(fresh_colab, clone):
    path = committed(clone, "book/01_principles.ipynb")
    _, execute = fresh_colab
    execute(colab_notebook(clone, path), path.parent)


@pytest.mark.slow
def test_an_exercise_notebook_runs_top_to_bottom_in_a_fresh_colab(fresh_colab, clone):
    path = committed(clone, "exercises/solutions/*.ipynb")
    _, execute = fresh_colab
    execute(colab_notebook(clone, path), path.parent)
