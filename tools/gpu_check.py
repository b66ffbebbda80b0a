"""The whole GPU check in one run: the benchmark, every speed path against the fp32 loop,
the CUDA-only tests, every chapter in full mode, and chapter 6's training from a cold start.

    python tools/gpu_check.py --out OUT              # on a GPU machine
    python tools/gpu_check.py --out OUT --cpu-smoke  # the same stages, tiny, on a CPU

Each stage writes its result into ``OUT`` (``bench.txt``, ``speed_paths.json``,
``cuda_tests.txt``, ``chapters.json`` with each chapter's time or traceback,
``cold_start.json`` with the Inception Score curve) and a line into ``OUT/summary.txt``;
a stage that fails is recorded and the next one still runs. Stage time limits keep the
whole run inside about ten minutes.

On a lent GPU machine (Python 3.12 with torch, but no Jupyter packages): here, run
``bash tools/gpu_wheels.sh`` (the chapters' Jupyter wheels into ``.whl/``) and copy
``../shared/data/mnist`` into ``.data/mnist``; then one call, carrying ``.whl`` and
``.data``::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
    export PYTHONPATH=/tmp/site:$PWD DCGAN_DATA=$PWD/.data PYTHONUNBUFFERED=1 &&
    python3 -m ipykernel install --prefix /tmp/site --name python3 &&
    JUPYTER_PATH=/tmp/site/share/jupyter python3 tools/gpu_check.py --out $OUT
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dcgan_lib import data, metrics  # noqa: E402
from dcgan_lib.fast import Speedups  # noqa: E402
from dcgan_lib.pretrained import EVAL_SEED, sample_images  # noqa: E402
from dcgan_lib.train import TrainConfig, train  # noqa: E402

# Mean over the last steps of a short run: how far a speed path may drift from fp32.
# bf16 keeps 8 bits of mantissa, so two runs of a chaotic game part after a few hundred
# steps; the check is that the path trains the same game, not the same trajectory.
TOLERANCE = {"errD": 0.35, "errG": 1.0, "D_x": 0.12, "D_G_z2": 0.12}
GPU_PATHS = {
    "fp32 fast loop (data on device)": Speedups(on_device_data=True),
    "channels-last": Speedups(on_device_data=True, channels_last=True),
    "fused Adam": Speedups(on_device_data=True, fused_adam=True),
    "bf16 autocast": Speedups(on_device_data=True, autocast="bfloat16"),
    "bf16 + CUDA graph": Speedups(on_device_data=True, channels_last=True,
                                  autocast="bfloat16", fused_adam=True, cuda_graph=True),
    "fp16 + GradScaler (as on a T4)": Speedups(on_device_data=True, channels_last=True,
                                               autocast="float16", grad_scaler=True,
                                               fused_adam=True),
}
CPU_PATHS = {"fp32 fast loop (data on device)": Speedups(on_device_data=True),
             "bf16 autocast": Speedups(on_device_data=True, autocast="bfloat16")}
CHAPTERS = sorted(p.name for p in (REPO / "book").glob("0*.ipynb"))


def stage_bench(out: Path, smoke: bool) -> str:
    args = ["--quick", "--steps", "2"] if smoke else ["--ablate"]
    done = subprocess.run([sys.executable, "-m", "dcgan_lib.bench", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    (out / "bench.txt").write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"bench exited {done.returncode}")
    return "the table is in bench.txt"


def late_means(history: dict, last: int) -> dict:
    return {k: sum(history[k][-last:]) / last for k in TOLERANCE}


def stage_speed_paths(out: Path, smoke: bool, device: torch.device) -> str:
    steps, last = (20, 5) if smoke else (300, 50)
    cfg = TrainConfig(width=8 if smoke else 32, batch_size=64, limit=4096, max_steps=steps,
                      epochs=100, device=str(device), progress=False)
    images, _ = data.load("mnist", "train", 32, limit=4096)
    runs = {"fp32 reference loop": train(replace(cfg, fast=False), images=images)}
    for name, speedups in (CPU_PATHS if smoke else GPU_PATHS).items():
        runs[name] = train(cfg, images=images, speedups=speedups)
    reference = late_means(runs["fp32 reference loop"].history, last)
    table = {}
    for name, result in runs.items():
        means = late_means(result.history, last)
        drift = {k: abs(means[k] - reference[k]) for k in TOLERANCE}
        table[name] = {"late_means": means, "drift": drift,
                       "within": all(drift[k] <= TOLERANCE[k] for k in TOLERANCE),
                       "seconds": result.history["seconds"][-1]}
    (out / "speed_paths.json").write_text(json.dumps(
        {"steps": steps, "late_mean_over": last, "tolerance": TOLERANCE, "paths": table},
        indent=1))
    bad = [name for name, row in table.items() if not row["within"]]
    if bad:
        raise RuntimeError(f"outside the tolerance: {', '.join(bad)}")
    return f"{len(table)} paths within the tolerance of the fp32 loop"


def stage_cuda_tests(out: Path, smoke: bool) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_train.py", "-k", "cuda"], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DCGAN_QUICK": "1"})
    (out / "cuda_tests.txt").write_text(done.stdout + done.stderr)
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    if done.returncode not in (0, 5):
        raise RuntimeError(last)
    return last


def stage_chapters(out: Path, smoke: bool) -> str:
    import nbformat
    from nbclient import NotebookClient

    env_quick = "1" if smoke else "0"
    os.environ.update(DCGAN_QUICK=env_quick, MPLBACKEND="Agg", DCGAN_DATA=os.environ.get(
        "DCGAN_DATA", str(REPO / ".data")))
    results = {}
    for name in CHAPTERS:
        nb = nbformat.read(REPO / "book" / name, as_version=4)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(REPO / "book")}}).execute()
            results[name] = {"seconds": time.perf_counter() - start, "error": None}
        except Exception:
            results[name] = {"seconds": time.perf_counter() - start,
                             "error": traceback.format_exc()[-4000:]}
    (out / "chapters.json").write_text(json.dumps(results, indent=1))
    failed = [n for n, r in results.items() if r["error"]]
    if failed:
        raise RuntimeError(f"{len(failed)} chapter(s) failed: {', '.join(failed)}")
    return ", ".join(f"{n[:2]} {r['seconds']:.0f} s" for n, r in results.items())


def stage_cold_start(out: Path, smoke: bool, device: torch.device, budget: float) -> str:
    """Chapter 6's full-mode run from a cold start, scored every ``every`` steps."""
    classifier, _ = metrics.load_classifier("mnist")
    images, _ = data.load("mnist", "train", 32, limit=2048 if smoke else None)
    width, every = (8, 10) if smoke else (64, 250)
    cfg = TrainConfig(width=width, batch_size=128, epochs=1000, ema=0.999, seed=0,
                      device=str(device), progress=False, out=str(out / "cold"),
                      max_steps=30 if smoke else 100_000)
    curve, resume, start, step = [], None, time.perf_counter(), 0
    while time.perf_counter() - start < budget:
        step += every
        result = train(replace(cfg, max_steps=min(step, cfg.max_steps)), images=images,
                       resume=resume)
        resume = str(out / "cold" / "checkpoint.safetensors")
        fake = sample_images(result.generator.cpu(), 2000, EVAL_SEED)
        score = metrics.inception_score(classifier, fake)
        curve.append({"step": step, "train_seconds": result.history["seconds"][-1],
                      "wall_seconds": time.perf_counter() - start, "inception_score": score})
        if score >= 9.5 or step >= cfg.max_steps:
            break
    (out / "cold_start.json").write_text(json.dumps(
        {"config": cfg.__dict__, "device": str(device), "curve": curve}, indent=1))
    return (f"IS {curve[-1]['inception_score']:.2f} after {curve[-1]['step']} steps, "
            f"{curve[-1]['train_seconds']:.0f} s of training")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tools/gpu_check.py", description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--cpu-smoke", action="store_true", help="every stage, tiny, on a CPU")
    p.add_argument("--skip", nargs="*", default=[], help="stages to leave out")
    p.add_argument("--train-budget", type=float, default=180.0, help="seconds, stage 5")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    smoke = args.cpu_smoke
    device = torch.device("cpu") if smoke else torch.device("cuda")
    if not smoke and not torch.cuda.is_available():
        print("error: no CUDA GPU here; use --cpu-smoke for the CPU form", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = True
    stages = {
        "bench": lambda: stage_bench(out, smoke),
        "speed_paths": lambda: stage_speed_paths(out, smoke, device),
        "cuda_tests": lambda: stage_cuda_tests(out, smoke),
        "chapters": lambda: stage_chapters(out, smoke),
        "cold_start": lambda: stage_cold_start(out, smoke, device, args.train_budget),
    }
    failures = 0
    with open(out / "summary.txt", "a") as summary:
        print(f"device: {torch.cuda.get_device_name() if not smoke else 'CPU (smoke)'}; "
              f"torch {torch.__version__}", file=summary, flush=True)
        for name, run in stages.items():
            if name in args.skip:
                continue
            start = time.perf_counter()
            try:
                line = f"{name}: ok ({run()})"
            except Exception as exc:
                failures += 1
                line = f"{name}: FAILED ({type(exc).__name__}: {exc})"
            line += f" [{time.perf_counter() - start:.0f} s]"
            print(line, flush=True)
            print(line, file=summary, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
