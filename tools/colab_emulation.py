"""A Google Colab runtime emulated on this machine, from Colab's published package versions.

An emulated runtime is a fresh virtual environment that sees Colab's preinstalled packages
at the versions in ``colab-constraints.txt``, imports a ``google.colab`` marker module at
start-up as Colab's kernel does, and lacks ``dcgan_lib`` until a notebook's setup cell
installs it from a local clone of the repository. Each notebook runs in its own fresh
runtime and an empty working folder, as on Colab. Two fidelities:

- ``"ci"`` (tests/test_colab.py): this machine's Python (3.11) and this environment's torch
  and torchvision, linked rather than copied; every other package at Colab's version.
- ``"full"`` (tools/colab_emulate.sh): Python 3.13 from pyenv and Colab's torch and
  torchvision from the package index as well (a CUDA build there: several GB).

The packages are downloaded once into ``~/.cache/dcgan-colab`` (or ``$DCGAN_COLAB_CACHE``)
and installed once into a base environment there, keyed by the constraints, the Python and
the fidelity; a fresh runtime links to that base, so it costs a second. MNIST comes from the
local copy (``DCGAN_DATA``): tests/test_data.py covers the download Colab itself makes.

    python tools/colab_emulation.py [--full] [--python PATH] [--all-warnings] [NOTEBOOK ...]

runs the notebooks (all chapter and solution notebooks by default) and prints, for each,
passed or failed, the seconds it took and the warnings shown under its cells.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, distribution, distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import colab  # noqa: E402  (tools/colab.py: the setup cell)

CONSTRAINTS = ROOT / colab.CONSTRAINTS
CACHE = Path(os.environ.get("DCGAN_COLAB_CACHE", "~/.cache/dcgan-colab")).expanduser()
# Colab's packages that the book, its kernel and pip check touch; pip adds their dependencies,
# each at Colab's version too.
PREINSTALLED = ("numpy", "matplotlib", "ipython", "ipywidgets", "ipykernel", "jupyter_client",
                "traitlets", "pillow", "safetensors", "tqdm", "pip", "setuptools")
TORCH = ("torch", "torchvision")
# Colab's other torch builds: never installed here, and not pins for this machine's torch
TORCH_FAMILY = (*TORCH, "torchaudio", "torchcodec", "torchao", "torchdata", "torchsummary",
                "torchtune")


# CUDA libraries: the index's torch is a CUDA build that pins its own (Colab's CPU runtime
# has a CPU build of torch, and other packages' CUDA pins that would contradict it)
CUDA_PREFIXES = ("nvidia-", "cuda-", "triton")


def colab_pins(constraints: Path = CONSTRAINTS, keep_torch: bool = False) -> list[str]:
    """Colab's ``name==version`` pins, without the CUDA libraries and, unless ``keep_torch``,
    without the torch family."""
    pins = colab.colab_versions(constraints)
    return [f"{name}=={version}" for name, version in pins.items()
            if (keep_torch or name not in TORCH_FAMILY) and not name.startswith(CUDA_PREFIXES)]


def pip(python: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          **kwargs)


def python_tag(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()  # e.g. cpython-311


def wheelhouse(python: Path, wanted: list[str], pins_file: Path) -> Path:
    """A folder holding wheels of ``wanted`` at the pinned versions, for ``python``: taken from
    the cache when it has them, else downloaded from the package index once."""
    wheels = CACHE / f"wheels-{python_tag(python)}"
    wheels.mkdir(parents=True, exist_ok=True)
    args = ["download", "--quiet", "--only-binary", ":all:", "--dest", str(wheels),
            "-c", str(pins_file), *wanted]
    offline = pip(python, *args, "--no-index", "--find-links", str(wheels), capture_output=True)
    if offline.returncode != 0:
        pip(python, *args, check=True)
    return wheels


def installed_closure(names) -> list:
    """The distributions installed here that ``names`` need, with all their (non-extra)
    dependencies."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

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


def link_distributions(dists, dest: Path) -> None:
    """Link each distribution's top-level files and folders into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        for top in {f.parts[0] for f in dist.files or []}:
            if top in ("..", "__pycache__") or top.endswith(".pth") or (dest / top).exists():
                continue
            (dest / top).symlink_to(Path(dist.locate_file(top)).resolve())


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; "
                          "print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def base_environment(python: Path, full: bool = False, constraints: Path = CONSTRAINTS) -> Path:
    """The cached base of every emulated runtime: a folder holding ``paths.txt``, the folders
    a fresh runtime puts on its path (Colab's packages, then this environment's torch when not
    ``full``), and the ``google.colab`` marker. Built once per constraints, Python and fidelity.
    """
    linked = "" if full else f"{sys.prefix} torch {distribution('torch').version}"
    key = hashlib.sha256("\n".join([Path(constraints).read_text(), python_tag(python),
                                    str(full), linked, *PREINSTALLED]).encode()).hexdigest()[:16]
    base = CACHE / f"base-{'full' if full else 'ci'}-{python_tag(python)}-{key}"
    if (base / "paths.txt").is_file():
        return base
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=base.name + ".", dir=CACHE))
    pins_file = work / "pins.txt"
    pins_file.write_text("\n".join(colab_pins(constraints, keep_torch=full)) + "\n")
    wanted = [*PREINSTALLED, *(TORCH if full else ())]
    wheels = wheelhouse(python, wanted, pins_file)
    subprocess.run([str(python), "-m", "venv", str(work / "venv")], check=True)
    venv_python = work / "venv" / "bin" / "python"
    pip(venv_python, "install", "--quiet", "--no-index", "--find-links", str(wheels),
        "-c", str(pins_file), *wanted, check=True)
    paths = [site_packages(venv_python)]
    if not full:  # this environment's torch, and what it needs that Colab's packages lack
        from packaging.utils import canonicalize_name

        have = {canonicalize_name(d.metadata["Name"])
                for d in distributions(path=[str(paths[0])])}
        link_distributions([d for d in installed_closure(TORCH)
                            if canonicalize_name(d.metadata["Name"]) not in have],
                           work / "torch")
        paths.append(work / "torch")
    (work / "marker" / "google").mkdir(parents=True)
    (work / "marker" / "google" / "colab.py").write_text(
        '"""Marks this runtime as Google Colab."""\n')
    paths.append(work / "marker")
    final = [str(p).replace(str(work), str(base)) for p in paths]
    (work / "paths.txt").write_text("\n".join(final) + "\n")
    (work / "wheels.txt").write_text(str(wheels) + "\n")
    try:
        work.rename(base)
    except OSError:  # another run finished first: use its base
        shutil.rmtree(work, ignore_errors=True)
    return base


# what this process's environment must not pass on to a runtime (Colab sets none of them)
NOT_ON_COLAB = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND", "DCGAN_DATA",
                "DCGAN_QUICK", "PYTHONWARNINGS")


def process_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what Colab lacks, then ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in NOT_ON_COLAB}
    return {**clean, **(env or {})}


def fresh_runtime(folder: Path, base: Path, python: Path) -> Path:
    """A new interpreter in ``folder`` that sees ``base`` and believes it runs on Colab."""
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(folder)], check=True)
    new = folder / "bin" / "python"
    (site_packages(new) / "colab_base.pth").write_text(
        (base / "paths.txt").read_text() + "import google.colab\n")
    return new


def clone(dest: Path, source: Path = ROOT) -> tuple[Path, str]:
    """A fresh clone of the committed repository (what Colab installs from) and its branch."""
    subprocess.run(["git", "clone", "--quiet", str(source), str(dest)], check=True)
    branch = subprocess.run(["git", "-C", str(dest), "branch", "--show-current"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return dest, branch


def runtime_env(base: Path, repo: Path, branch: str, all_warnings: bool = False
                ) -> dict[str, str]:
    """The kernel's environment variables: install from ``repo``, offline, quick mode; with
    ``all_warnings``, every warning is shown, also those Python hides by default."""
    from dcgan_lib.data import find_local

    env = {
        "DCGAN_REPO_URL": f"file://{repo}",
        "DCGAN_REPO_BRANCH": branch,
        "DCGAN_QUICK": "1",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": (base / "wheels.txt").read_text().strip(),  # setuptools, to build
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # the kernel's debugger: no note on stderr
    }
    if all_warnings:
        env["PYTHONWARNINGS"] = "always"
    mnist = find_local("mnist")
    if mnist is not None:  # Colab downloads MNIST; here the local copy stands in for it
        env["DCGAN_DATA"] = str(mnist.parent)
    return env


def execute(nb, python: Path, env: dict[str, str], cwd: Path, timeout: int = 900):
    """Run notebook ``nb`` in a kernel of interpreter ``python``; raise on the first error."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    kernels = Path(tempfile.mkdtemp(prefix="colab-kernel-"))
    (kernels / "colab").mkdir()
    (kernels / "colab" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (emulated)", "language": "python", "env": env}))
    km = KernelManager(kernel_name="colab",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    try:
        NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                       resources={"metadata": {"path": str(cwd)}}).execute(env=process_env())
    finally:
        if km.has_kernel:  # a client given its manager leaves the kernel running
            km.shutdown_kernel(now=True)
        shutil.rmtree(kernels, ignore_errors=True)
    return nb


def colab_notebook(repo: Path, path: Path):
    """The notebook as Colab runs it: the setup cell (from the clone's _config.yml) first."""
    import nbformat

    url, branch = colab.read_repository(repo / "_config.yml")
    extras = colab.colab_lacks(repo / "requirements.txt", repo / colab.CONSTRAINTS)
    return colab.synced(nbformat.read(path, as_version=4),
                        colab.setup_source(url, branch, extras))


def warnings_shown(nb) -> list[str]:
    """The warnings shown under the notebook's cells, once per cell and message, each as
    ``"cell 7 (c007): path.py:12: DeprecationWarning: ..."``."""
    found = []
    for i, cell in enumerate(nb.cells):
        lines = [line.strip() for out in cell.get("outputs", []) if out.get("name") == "stderr"
                 for line in out.get("text", "").splitlines() if "Warning:" in line]
        for line in dict.fromkeys(lines):
            found.append(f"cell {i} ({cell.get('id', '?')}): {line}")
    return found


def pip_check(python: Path, stand_ins: tuple[str, ...] = ()) -> list[str]:
    """The broken requirements ``pip check`` finds in the runtime of interpreter ``python``,
    one line each, leaving out those of the ``stand_ins`` (this machine's torch, say, which
    asks for newer versions of its dependencies than the torch Colab ships)."""
    out = pip(python, "check", capture_output=True, text=True, env=process_env())
    lines = [line for line in (out.stdout + out.stderr).splitlines()
             if line.strip() and line != "No broken requirements found."]
    return [line for line in lines if line.split()[0].lower() not in stand_ins]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/colab_emulation.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true",
                        help="Colab's torch and torchvision too, from the package index")
    parser.add_argument("--python", type=Path, default=Path(sys._base_executable),
                        help="the interpreter to emulate Colab's with (default: this one's)")
    parser.add_argument("--all-warnings", action="store_true",
                        help="show every warning, also those Python hides by default")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="paths relative to the repository (default: every chapter and "
                             "solution notebook)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    base = base_environment(args.python, full=args.full)
    print(f"base environment: {base} ({time.perf_counter() - started:.0f} s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="colab-emulation-") as tmp:
        tmp = Path(tmp)
        repo, branch = clone(tmp / "repo")
        every = [p.relative_to(repo) for p in colab.notebooks(repo)]
        notebooks = args.notebooks or [p for p in every
                                       if p.parts[0] == "book" or "solutions" in p.parts]
        failed = 0
        for i, rel in enumerate(notebooks):
            python = fresh_runtime(tmp / f"venv{i}", base, args.python)
            cwd = tmp / f"content{i}"  # Colab's empty /content
            cwd.mkdir()
            t0 = time.perf_counter()
            try:
                nb = execute(colab_notebook(repo, repo / rel), python,
                             runtime_env(base, repo, branch, args.all_warnings), cwd)
            except Exception as exc:  # report every notebook, then fail
                failed += 1
                first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                print(f"FAILED {rel} ({time.perf_counter() - t0:.0f} s): "
                      f"{type(exc).__name__}: {first}", flush=True)
                continue
            print(f"passed {rel} ({time.perf_counter() - t0:.0f} s)", flush=True)
            for line in warnings_shown(nb):
                print(f"    warning, {line}")
            if i == 0:
                broken = pip_check(python)
                print(f"    pip check: {'; '.join(broken) or 'No broken requirements found.'}")
    print(f"{len(notebooks) - failed} of {len(notebooks)} passed "
          f"in {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
