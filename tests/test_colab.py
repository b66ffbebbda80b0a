"""The Colab setup cell: generated from _config.yml, kept in sync, and working on a fresh Colab.

The slow tests emulate a fresh Colab runtime with tools/colab_emulation.py: a new virtual
environment that sees Colab's preinstalled packages at the versions Colab publishes
(colab-constraints.txt) for everything but Python and torch, which come from this machine
(Python 3.11, this environment's torch, linked); it imports a ``google.colab`` marker module
at start-up as Colab's kernel does, and installs ``dcgan_lib`` from a fresh clone of the
committed repository through the setup cell. tools/colab_emulate.sh runs the same with
Python 3.13 and Colab's own torch.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import colab  # noqa: E402  (tools/colab.py)
import colab_emulation as emulation  # noqa: E402

CONFIG = """\
title: "A book"
repository:
  url: {url}
  branch: {branch}
"""
REQUIREMENTS = "torch>=2.2\nnumpy>=1.24  # Colab has it\nsafetensors>=0.4\ntqdm>=4.60\n"
CONSTRAINTS = "# Colab's versions\ntorch==2.11.0  # a build tag\nnumpy==2.1.3\ntqdm==4.67.3\n"


# ---------------------------------------------------------------------------------------
# sync and sync --check on temporary notebooks

def make_book(root: Path, url="https://example.org/me/book", branch="main") -> list[Path]:
    (root / "_config.yml").write_text(CONFIG.format(url=url, branch=branch))
    (root / "requirements.txt").write_text(REQUIREMENTS)
    (root / "colab-constraints.txt").write_text(CONSTRAINTS)
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


def test_setup_cell_installs_only_what_colab_lacks(tmp_path):
    make_book(tmp_path)
    lacks = colab.colab_lacks(tmp_path / "requirements.txt", tmp_path / "colab-constraints.txt")
    assert lacks == ["safetensors>=0.4"]
    source = colab.setup_source("https://example.org/b", "main", lacks)
    assert '"safetensors>=0.4"' in source
    for preinstalled in ("torch", "numpy", "tqdm"):
        assert f'"{preinstalled}' not in source  # never reinstall Colab's torch & co.
    assert '"--no-deps"' in source  # so dcgan-lib's own torch>=2.2 cannot pull a new torch


def test_colab_has_every_requirement_so_the_setup_cell_installs_only_dcgan_lib():
    lacks = colab.colab_lacks(REPO / "requirements.txt", REPO / "colab-constraints.txt")
    assert lacks == []
    source = colab.setup_source("https://example.org/b", "main", lacks)
    installs = [line for line in source.splitlines() if "subprocess.run" in line]
    assert installs == ['    subprocess.run([*pip, "--no-deps", f"git+{url}@{branch}"], '
                        'check=True)']


def test_every_requirement_admits_the_version_colab_ships():
    pins = colab.colab_versions(REPO / "colab-constraints.txt")
    for line in colab.requirement_lines(REPO / "requirements.txt"):
        req = Requirement(line)
        assert req.specifier.contains(pins[colab.requirement_name(line)]), line
    assert colab.colab_conflicts(REPO / "requirements.txt", REPO / "colab-constraints.txt") == []


def test_the_constraints_file_says_where_it_comes_from_and_pins_colabs_versions():
    text = (REPO / "colab-constraints.txt").read_text()
    assert "googlecolab/backend-info" in text and "2026-08-19" in text
    pins = colab.colab_versions(REPO / "colab-constraints.txt")
    assert {name: pins[name] for name in ("torch", "torchvision", "numpy", "ipywidgets")} == {
        "torch": "2.11.0", "torchvision": "0.26.0", "numpy": "2.1.3", "ipywidgets": "7.7.1"}


def test_check_refuses_a_requirement_colabs_version_does_not_satisfy(tmp_path, capsys):
    make_book(tmp_path)
    colab.sync(tmp_path)
    (tmp_path / "requirements.txt").write_text("numpy>=2.2\n")
    assert colab.main(["sync", "--check", "--root", str(tmp_path)]) == 1
    assert "numpy>=2.2 (Colab has 2.1.3)" in capsys.readouterr().err


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

@pytest.fixture(scope="session")
def colab_base() -> Path:
    """Colab's packages at Colab's versions (built once, cached), this environment's torch."""
    return emulation.base_environment(Path(sys._base_executable))


@pytest.fixture(scope="session")
def clone(tmp_path_factory) -> tuple[Path, str]:
    """A fresh clone of the committed repository (what Colab would install from), its branch."""
    return emulation.clone(tmp_path_factory.mktemp("clone") / "book")


@pytest.fixture
def fresh_colab(tmp_path, colab_base, clone):
    """A new Colab-like interpreter and a function that runs a notebook in it, in an empty
    working folder as Colab's /content."""
    python = emulation.fresh_runtime(tmp_path / "venv", colab_base, Path(sys._base_executable))
    env = emulation.runtime_env(colab_base, *clone)
    content = tmp_path / "content"
    content.mkdir()

    def execute(nb):
        return emulation.execute(nb, python, env, content)

    return python, execute


def code_outputs(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.get("name") == "stdout")


@pytest.mark.slow
def test_fresh_colab_lacks_dcgan_lib_until_the_setup_cell_installs_it_keeping_colabs_packages(
        fresh_colab, clone, colab_base, tmp_path):
    python, execute = fresh_colab
    before = subprocess.run([python, "-c", "import dcgan_lib"], cwd=tmp_path,
                            capture_output=True, text=True, env=emulation.process_env())
    assert "No module named 'dcgan_lib'" in before.stderr
    repo, _ = clone
    setup = emulation.colab_notebook(repo, repo / "book/01_principles.ipynb").cells[0]
    probe = ("import dcgan_lib, ipywidgets, matplotlib, numpy, torch\n"
             "print(dcgan_lib.__file__, torch.__file__)\n"
             "print(numpy.__version__, matplotlib.__version__, ipywidgets.__version__)")
    nb = execute(nbformat.v4.new_notebook(cells=[setup, nbformat.v4.new_code_cell(probe)]))
    dcgan_file, torch_file, *versions = code_outputs(nb).split()
    assert Path(dcgan_file).is_relative_to(tmp_path / "venv")  # installed, not the checkout
    assert Path(torch_file).is_relative_to(colab_base)  # the runtime's torch, untouched
    pins = colab.colab_versions(REPO / "colab-constraints.txt")
    assert versions == [pins["numpy"], pins["matplotlib"], pins["ipywidgets"]]
    installed = sorted(p.name for p in (tmp_path / "venv").glob("lib/*/site-packages/*")
                       if p.suffix == ".dist-info")
    assert [name.split("-")[0] for name in installed] == ["dcgan_lib"]  # and nothing else
    assert emulation.pip_check(python, stand_ins=emulation.TORCH) == []  # clean but for
    # this machine's torch 2.14, which asks for newer setuptools than Colab's: not Colab's


def run_committed(clone, execute, pattern: str):
    repo, _ = clone
    found = sorted(repo.glob(pattern))
    if not found:
        pytest.skip(f"no notebook matching {pattern} is committed yet")
    nb = execute(emulation.colab_notebook(repo, found[0]))
    assert emulation.warnings_shown(nb) == []
    return nb


@pytest.mark.slow
def test_chapter_1_runs_top_to_bottom_in_a_fresh_colab(fresh_colab, clone):
    run_committed(clone, fresh_colab[1], "book/01_principles.ipynb")


@pytest.mark.slow
def test_chapter_5_with_its_live_widget_runs_top_to_bottom_in_a_fresh_colab(fresh_colab, clone):
    nb = run_committed(clone, fresh_colab[1], "book/05_latent_space.ipynb")
    views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views  # the explorer is shown as a live widget, with Colab's ipywidgets 7.7.1


@pytest.mark.slow
def test_an_exercise_notebook_runs_top_to_bottom_in_a_fresh_colab(fresh_colab, clone):
    run_committed(clone, fresh_colab[1], "exercises/solutions/*.ipynb")
