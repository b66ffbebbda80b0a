"""The generators the project trained and ships, with their training records.

``load_generator("mnist")`` returns ``(generator, record)``: the generator in eval mode and
a dict with how it was made (device, seconds, epochs, seed, command, settings), its loss
history (Loss_D, Loss_G, D(x), D(G(z)) per step, thinned to at most ``MAX_HISTORY``
points), sample grids from fixed noise across training, and its metrics (classifier
Inception Score, Fréchet distance, class coverage, each beside the real-data value) at the
end and at every evaluation point during training. ``evaluate`` scores any generator the
same way.

Files in ``dcgan_lib/weights/`` (safetensors, never pickle; records are JSON):

    generator-<name>.safetensors   the weights (written by dcgan_lib.checkpoint.save_generator)
    generator-<name>.json          the record
    samples-<name>.safetensors     the sample grids, uint8 (frames, 64, 1, 32, 32)
    guidelines.json                the DCGAN-guideline comparison (``guideline_runs``)

:mod:`dcgan_lib.recipes` holds how they were trained; ``python tools/retrain.py`` remakes
them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from dcgan_lib import checks, metrics

WEIGHTS = metrics.WEIGHTS
NAMES = ("mnist", "fashion-mnist")
MAX_HISTORY = 400  # points kept per loss curve
MAX_FRAMES = 12  # sample grids kept for the animation
EVAL_SEED = 1234  # latents for the shipped metrics, apart from the training seed


def trained_on() -> str:
    """What the training ran on, in words, for the records."""
    if torch.cuda.is_available():
        return f"CUDA GPU: {torch.cuda.get_device_name()}"
    return (f"CPU: {torch.get_num_threads()} torch thread(s) on {os.cpu_count()} cores "
            f"(other jobs may have shared them)")


def _check_name(name) -> str:
    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}, got {name!r}")
    return name


def paths(name: str) -> dict[str, Path]:
    """The three files of the shipped generator ``name``."""
    _check_name(name)
    return {"weights": WEIGHTS / f"generator-{name}.safetensors",
            "record": WEIGHTS / f"generator-{name}.json",
            "samples": WEIGHTS / f"samples-{name}.safetensors"}


# ---------------------------------------------------------------------------- loading

def load_generator(name: str = "mnist") -> tuple[torch.nn.Module, dict]:
    """The shipped generator ``name`` ("mnist" or "fashion-mnist") in eval mode on the CPU,
    and its record; ``record["samples"]`` is a list of ``(step, uint8 (64, 1, 32, 32))``."""
    from safetensors.torch import load_file

    from dcgan_lib.checkpoint import load_generator as load_weights

    files = paths(name)
    for kind, path in files.items():
        if not path.is_file():
            raise FileNotFoundError(f"the shipped {kind} file {path} is missing; retrain it "
                                    f"with python tools/retrain.py --train {name}")
    try:
        generator = load_weights(files["weights"])
    except Exception as exc:
        raise ValueError(f"{files['weights']} is not a readable generator file "
                         f"({type(exc).__name__}: {exc})") from None
    try:
        record = json.loads(files["record"].read_text())
        grids = load_file(str(files["samples"]))
        record["samples"] = [(int(s), grids["samples"][i])
                             for i, s in enumerate(grids["steps"].tolist())]
        for key in ("history", "metrics", "config", "steps"):
            record[key]  # noqa: B018 (a record without them is damaged)
    except Exception as exc:
        raise ValueError(f"the record {files['record']} or the samples {files['samples']} "
                         f"of {name!r} cannot be read ({type(exc).__name__}: {exc})") from None
    return generator, record


def guideline_runs() -> list[dict]:
    """The guideline comparison: one dict per run (a guideline and a seed) with ``name``,
    ``seed``, ``change``, ``config``, ``command``, ``seconds``, ``steps``, the late means of
    D(x) and D(G(z)), and ``metrics`` (IS, Fréchet distance, coverage KL)."""
    path = WEIGHTS / "guidelines.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; rerun the comparison with "
                                f"python tools/retrain.py --guidelines")
    try:
        return json.loads(path.read_text())["runs"]
    except Exception as exc:
        raise ValueError(f"{path} is not a readable guideline record ({exc})") from None


def guideline_summary(runs: list[dict], key: str = "frechet_distance") -> dict[str, dict]:
    """Per guideline, the metric ``key`` over its seeds: ``values`` (in seed order),
    ``mean``, ``min``, ``max`` and ``ratio``, the mean over the baseline's mean."""
    by_name: dict[str, list] = {}
    for run in sorted(runs, key=lambda r: r["seed"]):
        value = run["metrics"].get(key, run.get(key))
        if value is None:
            raise KeyError(f"key must be a metric or a field of the runs, got {key!r}")
        by_name.setdefault(run["name"], []).append(float(value))
    if "baseline (DCGAN)" not in by_name:
        raise ValueError("the runs hold no 'baseline (DCGAN)' run to compare against")
    base = float(np.mean(by_name["baseline (DCGAN)"]))
    return {name: {"values": v, "mean": float(np.mean(v)), "min": min(v), "max": max(v),
                   "ratio": float(np.mean(v)) / base}
            for name, v in by_name.items()}


# ---------------------------------------------------------------------------- evaluation

def sample_images(generator, n: int, seed: int, latent_dist: str = "gaussian"
                  ) -> torch.Tensor:
    """``n`` images ``(n, C, H, W)`` in [-1, 1] from seeded latents, generator in eval mode."""
    from dcgan_lib.latent import DISTRIBUTIONS
    from dcgan_lib.latent import noise as latent_noise

    checks.one_of("latent_dist", latent_dist, DISTRIBUTIONS)
    z = latent_noise(n, generator.latent_dim, latent_dist,
                     generator=torch.Generator().manual_seed(seed))
    generator.eval()
    with torch.no_grad():
        return torch.cat([generator(z[i:i + 500]) for i in range(0, n, 500)])


def evaluate(generator, dataset: str, n: int = 2000, seed: int = EVAL_SEED,
             latent_dist: str = "gaussian", classifier=None) -> dict:
    """Classifier IS, Fréchet distance to ``n`` real test images and coverage of ``n``
    samples; beside them the real test images' IS and coverage and the train-versus-test
    Fréchet floor, all with ``n`` images."""
    from dcgan_lib import data

    if classifier is None:
        classifier, _ = metrics.load_classifier(dataset)
    fake = sample_images(generator, n, seed, latent_dist)
    real, _ = data.load(dataset, "test", image_size=32, limit=n)
    counts, kl = metrics.class_coverage(classifier, fake)
    return {"n": n, "seed": seed,
            "inception_score": metrics.inception_score(classifier, fake),
            "frechet_distance": metrics.frechet_distance(classifier, fake, real),
            "coverage_kl": kl, "class_counts": counts.tolist(),
            "real_inception_score": metrics.inception_score(classifier, real),
            "real_coverage_kl": metrics.class_coverage(classifier, real)[1],
            "real_frechet_floor": metrics.real_floor(classifier, dataset, n)}
