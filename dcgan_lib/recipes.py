"""How the shipped generators and the guideline comparison were trained: the recipes.

``SHIPPED`` holds the settings of the two shipped runs and ``train_shipped(name)`` retrains
one (on a GPU a reader may pass ``width=64``); ``GUIDELINES`` lists the DCGAN guideline
comparison, one setting changed per run against the baseline, and ``run_guidelines``
reruns it over ``GUIDELINE_SEEDS``. ``python tools/retrain.py`` runs either and writes the
results into ``dcgan_lib/weights/``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shlex
import time
from pathlib import Path

import numpy as np
import torch

from dcgan_lib import metrics
from dcgan_lib.pretrained import (
    EVAL_SEED,
    MAX_FRAMES,
    MAX_HISTORY,
    WEIGHTS,
    _check_name,
    evaluate,
    paths,
    sample_images,
    trained_on,
)

# The shipped runs, sized for two CPU cores: pytorch/examples' DCGAN (64 channels at the
# image end) with a weight average of the generator (``ema``) and minibatches of 64. The
# MNIST recipe is the winner of the recipe search below: the full width, a constant step
# size for three quarters of its 20,000 steps and a linear fall to 0 over the last quarter.
# Fashion-MNIST takes the same recipe over 8,000 steps. ``budget_seconds`` (None: no
# budget) would stop a run at the last evaluation point before that much training time.
SHIPPED = {
    "mnist": dict(dataset="mnist", width=64, batch_size=64, epochs=30, seed=0, ema=0.999,
                  lr_decay_start=15_000, lr_decay_steps=20_000, max_steps=20_000,
                  sample_every=200, eval_every=500, budget_seconds=None),
    "fashion-mnist": dict(dataset="fashion-mnist", width=64, batch_size=64, epochs=30,
                          seed=0, ema=0.999, lr_decay_start=6_000, lr_decay_steps=8_000,
                          max_steps=8_000, sample_every=200, eval_every=500,
                          budget_seconds=None),
}

# The recipe search for the shipped MNIST generator. Its control, ``SEARCH_CONTROL``, is
# the MNIST recipe shipped before it: half the width (32 channels) and a constant step
# size, for ``SEARCH_STEPS`` steps. Each candidate changes the control in the named
# settings and trains the same number of steps (or, with twice the minibatch, half as
# many: the same number of images); ``tools/search_recipe.py`` runs one and
# keeps its curve and final scores in ``search-mnist.json``.
SEARCH_STEPS = 20_000
SEARCH_CONTROL_NAME = "width 32, constant step size"
SEARCH_CONTROL = dict(width=32, lr_decay_start=0, lr_decay_steps=0, max_steps=SEARCH_STEPS,
                      budget_seconds=None)
SEARCH = {
    SEARCH_CONTROL_NAME: {},
    "linear decay": dict(lr_decay_steps=SEARCH_STEPS),
    "linear decay, TTUR": dict(lr_decay_steps=SEARCH_STEPS, lr_g=1e-4, lr_d=4e-4),
    "linear decay, width 48": dict(lr_decay_steps=SEARCH_STEPS, width=48),
    "decay over the last quarter": dict(lr_decay_start=SEARCH_STEPS * 3 // 4,
                                        lr_decay_steps=SEARCH_STEPS),
    "width 64, decay over the last quarter": dict(width=64,
                                                  lr_decay_start=SEARCH_STEPS * 3 // 4,
                                                  lr_decay_steps=SEARCH_STEPS),
    "width 64, batch 128 for half the steps, decay over the last quarter": dict(
        width=64, batch_size=128, max_steps=SEARCH_STEPS // 2,
        lr_decay_start=SEARCH_STEPS * 3 // 8, lr_decay_steps=SEARCH_STEPS // 2),
}

# The DCGAN guidelines, each against its control: one setting changed per run, and every
# run repeated with each of ``GUIDELINE_SEEDS`` so that the spread between seeds can be set
# beside the difference between settings. The control is the DCGAN baseline, except for a
# run listed in ``GUIDELINE_CONTROLS``: "no norm in D" with PyTorch's initialisation is
# compared with the baseline under that same initialisation.
GUIDELINE_BASE = dict(dataset="mnist", width=16, batch_size=64, epochs=2, max_steps=1000)
GUIDELINE_SEEDS = (0, 1, 2)
GUIDELINES = {
    "baseline (DCGAN)": {},
    "PyTorch init": {"init": "default"},
    "no norm in D": {"d_norm": "none"},
    "no norm in D (PyTorch init)": {"d_norm": "none", "init": "default"},
    "LayerNorm in D": {"d_norm": "layer"},
    "ReLU in D": {"leak": 0.0},
    "pooling in D": {"downsample": "pool"},
    "FC layer in D": {"d_hidden": 128},
    "no norm in G": {"g_norm": "none"},
    "LeakyReLU in G": {"g_leak": 0.2},
    "no tanh in G": {"g_output": "linear"},
    "minimax G loss": {"g_loss": "minimax"},
    "uniform latent": {"latent_dist": "uniform"},
    "Adam β1 = 0.9": {"beta1": 0.9},
}
GUIDELINE_CONTROLS = {"no norm in D (PyTorch init)": "PyTorch init"}


# The longer comparison: where a verdict may depend on the run's length, the same runs
# trained twice as long and measured every ``eval_every`` steps on the way
# (``guidelines-long.json``; ``python tools/retrain.py --long``).
GUIDELINE_LONG = dict(names=("baseline (DCGAN)", "Adam β1 = 0.9"), max_steps=2000,
                      eval_every=500)


def search_candidate_of(settings: dict) -> str | None:
    """The search candidate whose settings ``settings`` repeats (a recipe of ``SHIPPED``, or
    the config a run recorded), the wall-clock budget aside; None if none does."""
    for name, change in SEARCH.items():
        wanted = SEARCH_CONTROL | change
        if all(settings.get(k) == v for k, v in wanted.items() if k != "budget_seconds"):
            return name
    return None


def _check_guideline(name) -> None:
    if name not in GUIDELINES:
        raise ValueError(f"name must be one of {', '.join(map(repr, GUIDELINES))}, "
                         f"got {name!r}")


def guideline_control(name: str) -> str:
    """The run that guideline ``name`` is compared with: the baseline unless listed in
    ``GUIDELINE_CONTROLS``."""
    return GUIDELINE_CONTROLS.get(name, "baseline (DCGAN)")



def _thin(history: dict, keep: int = MAX_HISTORY) -> dict:
    n = len(history["step"])
    idx = np.unique(np.linspace(0, n - 1, min(n, keep)).round().astype(int)) if n else []
    return {k: [history[k][i] for i in idx] for k in history if k != "samples"}


def train_in_chunks(cfg, eval_every: int, command: str, budget_seconds=None, log=print,
                     measure=None):
    """Run ``dcgan_lib.train.train`` to ``cfg``'s end, stopping every ``eval_every`` steps
    to measure the run so far with ``measure(result) -> dict`` (resuming from the
    checkpoint bit for bit), and ending early once the training time passes
    ``budget_seconds``. Returns the last result and one dict per stop: step, training
    seconds and the measurements."""
    from dcgan_lib.run import CHECKPOINT_NAME, training_images
    from dcgan_lib.train import train

    steps_per_epoch = len(training_images(cfg)) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    stops, resume, step = [], None, 0
    while step < total:
        step = min(step + eval_every, total)
        result = train(dataclasses.replace(cfg, max_steps=step), resume=resume,
                       command=command)
        resume = str(Path(cfg.out) / CHECKPOINT_NAME)
        seconds = result.history["seconds"][-1]
        chunk = seconds - (stops[-1]["seconds"] if stops else 0.0)
        m = measure(result) if measure else {}
        stops.append({"step": step, "seconds": seconds, **m})
        log(f"  step {step}/{total}: {seconds:.0f} s  "
            + "  ".join(f"{k} {v:.3f}" for k, v in m.items()))
        if budget_seconds is not None and seconds + chunk > budget_seconds:
            break  # another chunk of the same length would overrun the budget
    return result, stops


def train_shipped(name: str, out: str, write: bool | dict = True, log=print, **overrides
                  ) -> tuple[torch.nn.Module, dict]:
    """Retrain the shipped generator ``name`` with ``SHIPPED[name]`` (``overrides`` change
    single settings, e.g. ``width=64`` on a GPU; checkpoints go to ``out``), evaluate it
    and, with ``write``, replace the files in ``WEIGHTS`` (or, given a dict like
    :func:`paths`', write those files). Returns ``(generator, record)``
    as :func:`load_generator` does."""
    from dcgan_lib.devices import device_name, resolve_device
    from dcgan_lib.settings import TrainConfig

    settings = dict(SHIPPED[_check_name(name)]) | overrides
    eval_every = settings.pop("eval_every")
    budget = settings.pop("budget_seconds")
    cfg = TrainConfig(**settings, out=out, progress=False)
    from dcgan_lib import data

    classifier, _ = metrics.load_classifier(cfg.dataset)
    real, _ = data.load(cfg.dataset, "test", image_size=32, limit=1000)
    real_stats = metrics.gaussian_stats(metrics.features(classifier, real))

    def scores(g, prefix=""):
        fake = sample_images(copy.deepcopy(g).cpu(), 1000, EVAL_SEED, cfg.latent_dist)
        return {prefix + "inception_score": metrics.inception_score(classifier, fake),
                prefix + "frechet_distance": metrics.frechet_from_stats(
                    *metrics.gaussian_stats(metrics.features(classifier, fake)),
                    *real_stats),
                prefix + "coverage_kl": metrics.class_coverage(classifier, fake)[1]}

    def measure(result):  # the shipped generator, and without a weight average the same
        m = scores(result.generator)
        if result.online_generator is not result.generator:
            m |= scores(result.online_generator, "online_")
        return m

    start = time.perf_counter()
    result, during = train_in_chunks(cfg, eval_every, "", budget, log, measure)
    steps = during[-1]["step"]
    reproduce = {k: v for k, v in overrides.items() if k != "budget_seconds"}
    reproduce["max_steps"] = steps
    budget_note = None if budget is None else (
        f"stopped at the last evaluation point before {budget} s of training")
    command = f"python tools/retrain.py --train {name} --max-steps {steps}"
    if set(reproduce) != {"max_steps"}:
        command = f"dcgan_lib.recipes.train_shipped({name!r}, 'runs', **{reproduce!r})"
    log(f"{name}: trained {steps} steps in {during[-1]['seconds']:.0f} s")
    final = evaluate(result.generator.cpu(), cfg.dataset, n=2000, classifier=classifier)
    log(f"{name}: final {json.dumps({k: v for k, v in final.items() if k != 'class_counts'})}")
    history = result.history
    samples = history["samples"]
    keep = np.unique(np.linspace(0, len(samples) - 1, min(len(samples), MAX_FRAMES))
                     .round().astype(int))
    record = {
        "name": name, "dataset": cfg.dataset,
        "device": device_name(resolve_device(cfg.device)),
        "trained_on": trained_on(),
        "torch": torch.__version__, "seed": cfg.seed, "epochs": cfg.epochs,
        "steps": history["step"][-1], "train_seconds": history["seconds"][-1],
        "total_seconds_with_evaluation": time.perf_counter() - start,
        "command": command, "budget": budget_note,
        "config": dataclasses.asdict(dataclasses.replace(cfg, max_steps=steps)),
        "history": _thin(history), "history_points": len(history["step"]),
        "metrics": final, "metrics_during_training": during,
        "generator": (f"the weight average (decay {cfg.ema}) of the generator the optimiser "
                      f"trained, BatchNorm statistics re-estimated for it"
                      if cfg.ema else "the generator the optimiser trained"),
        "eval": {"n_final": 2000, "n_during": 1000, "seed": EVAL_SEED,
                 "generator_mode": "eval (BatchNorm running averages)"},
    }
    if write:
        write_shipped(paths(name) if write is True else write, result.generator, cfg, record,
                      [samples[i] for i in keep])
    record["samples"] = [(int(samples[i][0]), samples[i][1]) for i in keep]
    return result.generator.cpu().eval(), record


def write_shipped(files: dict, generator, cfg, record: dict, frames: list) -> None:
    """Write a generator, its record and its ``(step, grid)`` frames into ``files`` (the
    three paths :func:`paths` names)."""
    from safetensors.torch import save_file

    from dcgan_lib.checkpoint import save_generator

    save_generator(files["weights"], generator.cpu(), cfg)
    save_file({"samples": torch.stack([grid for _, grid in frames]).contiguous(),
               "steps": torch.tensor([step for step, _ in frames])}, str(files["samples"]))
    files["record"].write_text(json.dumps(record, indent=1) + "\n")


class Displayed(torch.nn.Module):
    """A generator's images as they are shown or saved: clamped to [-1, 1] (nothing to do
    after a tanh; a generator without one can overshoot)."""

    def __init__(self, generator: torch.nn.Module):
        super().__init__()
        self.generator, self.latent_dim = generator, generator.latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z).clamp(-1, 1)


def run_guideline(name: str, seed: int = 0, n: int = 1000, classifier=None) -> dict:
    """Train the guideline run ``name`` (a key of ``GUIDELINES``) with ``seed`` and
    measure it."""
    from dcgan_lib.settings import TrainConfig
    from dcgan_lib.train import train

    _check_guideline(name)
    cfg = TrainConfig(**GUIDELINE_BASE, **GUIDELINES[name], seed=seed, out=None,
                      progress=False)
    command = (f"python tools/retrain.py --guidelines {shlex.quote(name)} "
               f"--seeds {seed}")
    result = train(cfg, command=command)
    m = evaluate(Displayed(result.generator.cpu()), cfg.dataset, n=n,
                 latent_dist=cfg.latent_dist, classifier=classifier)
    h = result.history
    fake = sample_images(result.generator.cpu(), n, EVAL_SEED, cfg.latent_dist)
    return {"name": name, "seed": seed, "change": GUIDELINES[name],
            "control": guideline_control(name),
            "outside_pixel_range": float((fake.abs() > 1).double().mean()),
            "config": dataclasses.asdict(cfg), "command": command, "trained_on": trained_on(),
            "seconds": h["seconds"][-1], "steps": h["step"][-1],
            "final_D_x": float(np.mean(h["D_x"][-50:])),
            "final_D_G_z": float(np.mean(h["D_G_z2"][-50:])),
            "metrics": {k: m[k] for k in ("inception_score", "frechet_distance",
                                          "coverage_kl", "class_counts",
                                          "real_frechet_floor")}}


def run_guidelines(names=None, seeds=GUIDELINE_SEEDS, write: bool = True, log=print
                   ) -> list[dict]:
    """Run every guideline comparison (or ``names``) with every seed in ``seeds``; with
    ``write``, store them in ``guidelines.json`` after each run, replacing runs of the same
    name and seed and keeping the others."""
    classifier, _ = metrics.load_classifier(GUIDELINE_BASE["dataset"])
    runs = []
    for seed in seeds:
        for name in names or GUIDELINES:
            run = run_guideline(name, seed, classifier=classifier)
            log(f"{name} (seed {seed}): {json.dumps(run['metrics'])} "
                f"({run['seconds']:.0f} s)")
            runs.append(run)
            if write:
                write_guidelines([run])
    return runs


def write_guidelines(runs: list[dict]) -> None:
    """Merge ``runs`` into ``guidelines.json`` (by name and seed, ordered by seed and then
    as in ``GUIDELINES``); runs made with another ``GUIDELINE_BASE`` are dropped. A setting
    added after a run was recorded enters its ``config`` with its default, the value that
    run had."""
    from dcgan_lib.settings import TrainConfig

    path = WEIGHTS / "guidelines.json"
    kept = _merged_runs(path, GUIDELINE_BASE, runs)
    defaults = dataclasses.asdict(TrainConfig())
    for r in kept:
        r["config"] = {**defaults, **r["config"]}
        r.setdefault("control", guideline_control(r["name"]))
    record = {"base": GUIDELINE_BASE, "seeds": sorted({r["seed"] for r in kept}),
              "eval_n": 1000, "eval_seed": EVAL_SEED,
              "trained_on": sorted({r.get("trained_on", trained_on()) for r in kept}),
              "runs": kept}
    path.write_text(json.dumps(record, indent=1) + "\n")


def _merged_runs(path: Path, base: dict, runs: list[dict]) -> list[dict]:
    """The runs recorded in ``path`` (when made with ``base``) with ``runs`` replacing those
    of the same name and seed, ordered by seed and then as in ``GUIDELINES``."""
    kept = {}
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("base") == base:
            kept = {(r["name"], r["seed"]): r for r in old["runs"]}
    kept |= {(r["name"], r["seed"]): r for r in runs}
    order = list(GUIDELINES)
    return [kept[k] for k in sorted(kept, key=lambda k: (k[1], order.index(k[0])))]


def _long_base() -> dict:
    """The settings of the longer runs: the table's, with room for their steps."""
    return GUIDELINE_BASE | {"max_steps": GUIDELINE_LONG["max_steps"], "epochs": 10}


def run_guideline_long(name: str, seed: int, out: str, n: int = 1000, classifier=None,
                       log=print) -> dict:
    """Train guideline ``name`` with ``seed`` for ``GUIDELINE_LONG["max_steps"]`` steps,
    checkpointing in ``out`` and measuring the generator every ``eval_every`` steps."""
    from dcgan_lib.settings import TrainConfig

    _check_guideline(name)
    cfg = TrainConfig(**_long_base(), **GUIDELINES[name], seed=seed, out=out, progress=False,
                      log_every=0)
    if classifier is None:
        classifier, _ = metrics.load_classifier(cfg.dataset)

    def measure(result):
        m = evaluate(Displayed(copy.deepcopy(result.generator).cpu()), cfg.dataset, n=n,
                     latent_dist=cfg.latent_dist, classifier=classifier)
        return {"frechet_distance": m["frechet_distance"],
                "inception_score": m["inception_score"],
                "D_G_z": float(np.mean(result.history["D_G_z2"][-50:]))}

    command = f"python tools/retrain.py --long {shlex.quote(name)} --seeds {seed}"
    _, stops = train_in_chunks(cfg, GUIDELINE_LONG["eval_every"], command, log=log,
                               measure=measure)
    return {"name": name, "seed": seed, "change": GUIDELINES[name],
            "config": dataclasses.asdict(dataclasses.replace(cfg, out=None)),
            "command": command, "trained_on": trained_on(), "stops": stops}


def run_guidelines_long(names=None, seeds=GUIDELINE_SEEDS, out="runs/guidelines-long",
                        write: bool = True, log=print) -> list[dict]:
    """The longer comparison for ``names`` (default ``GUIDELINE_LONG["names"]``), seed by
    seed; with ``write``, merged into ``guidelines-long.json`` after each run."""
    import shutil

    classifier, _ = metrics.load_classifier(GUIDELINE_BASE["dataset"])
    runs = []
    for seed in seeds:
        for name in names or GUIDELINE_LONG["names"]:
            folder = Path(out) / f"{list(GUIDELINES).index(name)}-{seed}"
            shutil.rmtree(folder, ignore_errors=True)  # a fresh run, not a resumed one
            run = run_guideline_long(name, seed, str(folder), classifier=classifier,
                                     log=log)
            log(f"{name} (seed {seed}): " + ", ".join(
                f"{s['step']}: FD {s['frechet_distance']:.0f}" for s in run["stops"]))
            runs.append(run)
            if write:
                write_guidelines_long([run])
    return runs


def write_guidelines_long(runs: list[dict]) -> None:
    """Merge ``runs`` into ``guidelines-long.json`` by name and seed."""
    path = WEIGHTS / "guidelines-long.json"
    settings = _long_base() | {"eval_every": GUIDELINE_LONG["eval_every"]}
    record = {"base": settings, "eval_n": 1000, "eval_seed": EVAL_SEED,
              "runs": _merged_runs(path, settings, runs)}
    path.write_text(json.dumps(record, indent=1) + "\n")
