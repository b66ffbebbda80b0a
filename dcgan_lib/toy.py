"""The two-dimensional toy GAN: a ring of eight Gaussians, two small MLPs, seconds to train.

The data are the standard mode-collapse benchmark of Metz et al. (2017), also used by
Srivastava et al. (2017): a mixture of ``MODES = 8`` Gaussians of standard deviation
``STD = 0.02`` whose centres sit evenly on a circle of radius ``RADIUS = 2``. A generator
that covers the ring puts samples near all eight centres; a collapsed one, near a few.

Two numbers score a set of samples (Srivastava et al. 2017; Lin et al. 2018):

- ``high_quality_share``: the share of samples within 3 standard deviations of a centre;
- ``modes_covered``: the number of centres with at least ``min_count`` samples within
  3 standard deviations (Lin et al. call a mode lost below 20 of 2,500 samples).

:func:`train` trains several independent GANs side by side, one per seed: every weight
has a leading axis with one entry per seed, so that one batched matrix product steps them
all, and each seed has its own random stream (its run does not depend on its neighbours,
up to rounding that grows over long runs). It
records the generator's samples on fixed noise every ``sample_every`` steps (the frames)
and both scores per frame. The public functions check their arguments and call short
cores that a chapter shows (``mlp``, ``toy_step``, ``train_runs``, ``count_modes``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import checks

MODES, RADIUS, STD = 8, 2.0, 0.02


# ------------------------------------------------------------------------------ the data

def ring_centres(modes: int = MODES, radius: float = RADIUS) -> torch.Tensor:
    """The ``(modes, 2)`` centres, evenly spaced on a circle of ``radius``, the first at
    angle 0."""
    modes = checks.positive_int("modes", modes)
    radius = checks.positive_number("radius", radius)
    angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return torch.stack([radius * angle.cos(), radius * angle.sin()], 1).float()


def ring_batch(n, centres, std, generator=None):
    """``n`` points of the mixture: a centre drawn uniformly, plus N(0, std^2) noise."""
    k = torch.randint(len(centres), (n,), generator=generator)
    return centres[k] + std * torch.randn(n, 2, generator=generator)


def sample_ring(n: int, generator: torch.Generator | None = None, modes: int = MODES,
                radius: float = RADIUS, std: float = STD) -> torch.Tensor:
    """``(n, 2)`` samples of the ring of ``modes`` Gaussians (float32)."""
    n = checks.positive_int("n", n)
    std = checks.positive_number("std", std)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
    return ring_batch(n, ring_centres(modes, radius), std, generator)


# --------------------------------------------------------------------------- the scores

def _checked_points(samples, centres, std):
    for name, x in (("samples", samples), ("centres", centres)):
        if not isinstance(x, torch.Tensor) or x.ndim not in (2, 3) or x.shape[-1] != 2:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a tensor of 2-D points, shape (N, 2) or "
                             f"(runs, N, 2), got {got}")
    if centres.ndim != 2:
        raise ValueError(f"centres must have shape (modes, 2), got {tuple(centres.shape)}")
    return samples.float(), centres.float(), checks.positive_number("std", std)


def near_centres(samples, centres, std):
    """``(..., N, modes)`` bool: which samples lie within 3 std of which centre."""
    return torch.cdist(samples, centres.expand(*samples.shape[:-2], -1, -1)) < 3 * std


def count_modes(samples, centres, std, min_count):
    """Centres with at least ``min_count`` samples within 3 std, one count per run."""
    return (near_centres(samples, centres, std).sum(-2) >= min_count).sum(-1)


def modes_covered(samples: torch.Tensor, centres: torch.Tensor, std: float = STD,
                  min_count: int = 20):
    """How many centres have at least ``min_count`` of ``samples`` within 3 ``std``.

    ``samples`` is ``(N, 2)`` (returns an int) or ``(runs, N, 2)`` (returns a ``(runs,)``
    long tensor); ``centres`` is ``(modes, 2)``.
    """
    samples, centres, std = _checked_points(samples, centres, std)
    counted = count_modes(samples, centres, std, checks.positive_int("min_count", min_count))
    return int(counted) if samples.ndim == 2 else counted


def high_quality_share(samples: torch.Tensor, centres: torch.Tensor, std: float = STD):
    """The share of ``samples`` within 3 ``std`` of some centre: a float for ``(N, 2)``,
    a ``(runs,)`` tensor for ``(runs, N, 2)``."""
    samples, centres, std = _checked_points(samples, centres, std)
    share = near_centres(samples, centres, std).any(-1).float().mean(-1)
    return float(share) if samples.ndim == 2 else share


# ------------------------------------------------------------------------ the networks

def init_mlp(sizes, generators):
    """Weights ``(S, fan_in, fan_out)`` and biases ``(S, 1, fan_out)`` for ``S`` MLPs,
    one per generator, drawn as ``nn.Linear`` draws them: U(-1/sqrt(fan_in), +)."""
    params = []
    for fan_in, fan_out in pairwise(sizes):
        bound = 1 / math.sqrt(fan_in)
        for shape in ((fan_in, fan_out), (1, fan_out)):
            draws = [torch.rand(shape, generator=g) for g in generators]
            params.append(((torch.stack(draws) * 2 - 1) * bound).requires_grad_())
    return params


def mlp(params, x, activation):
    """``S`` MLPs at once on ``x`` of shape ``(S, B, fan_in)``: linear, activation, ...,
    linear."""
    layers = len(params) // 2
    for i in range(layers):
        x = torch.baddbmm(params[2 * i + 1], x, params[2 * i])  # b + x W, per seed
        if i < layers - 1:
            x = activation(x)
    return x


def generator_net(params, z):
    """G: latent ``(S, B, latent_dim)`` -> points ``(S, B, 2)``, ReLU hidden layers."""
    return mlp(params, z, F.relu)


def discriminator_net(params, x):
    """D: points ``(S, B, 2)`` -> logits ``(S, B, 1)``, LeakyReLU(0.2) hidden layers."""
    return mlp(params, x, lambda h: F.leaky_relu(h, 0.2))


# ---------------------------------------------------------------------------- training

@dataclass
class ToySettings:
    """One toy run's settings; the defaults train in seconds on a CPU."""

    steps: int = 3000
    batch_size: int = 128
    latent_dim: int = 8
    hidden: int = 64  # units in each of the two hidden layers of G and of D
    lr: float = 2e-3
    beta1: float = 0.5  # Adam's first-moment decay (DCGAN's 0.5; Adam's default 0.9)
    sample_every: int = 100  # steps between frames
    n_samples: int = 2500  # fixed-noise samples per frame, scored against the centres
    min_count: int = 20  # samples within 3 std that make a mode count as covered


def toy_step(netG, netD, optG, optD, real, noise):
    """One alternating step for all seeds; each seed's losses are means over its batch.

    -log D = softplus(-l) and -log(1 - D) = softplus(l) for a logit l; summing the
    seeds' losses gives each seed exactly the gradient of its own.
    """
    # (1) Update D: real towards 1, the detached fakes towards 0
    fake = generator_net(netG, noise)
    errD_real = F.softplus(-discriminator_net(netD, real)).mean((1, 2))
    errD_fake = F.softplus(discriminator_net(netD, fake.detach())).mean((1, 2))
    optD.zero_grad()
    (errD_real + errD_fake).sum().backward()
    optD.step()
    # (2) Update G: the non-saturating loss through the updated D
    errG = F.softplus(-discriminator_net(netD, fake)).mean((1, 2))
    optG.zero_grad()
    errG.sum().backward()
    optG.step()


def train_runs(seeds, s: ToySettings, centres, std):
    """One toy GAN per seed, trained side by side; a frame every ``s.sample_every``
    steps."""
    streams = [torch.Generator().manual_seed(seed) for seed in seeds]
    netG = init_mlp([s.latent_dim, s.hidden, s.hidden, 2], streams)
    netD = init_mlp([2, s.hidden, s.hidden, 1], streams)
    optG = torch.optim.Adam(netG, lr=s.lr, betas=(s.beta1, 0.999))
    optD = torch.optim.Adam(netD, lr=s.lr, betas=(s.beta1, 0.999))
    fixed_noise = torch.stack([torch.randn(s.n_samples, s.latent_dim, generator=g)
                               for g in streams])
    frames, steps = [], []
    for step in range(s.steps + 1):
        if step % s.sample_every == 0 or step == s.steps:
            with torch.no_grad():
                frames.append(generator_net(netG, fixed_noise))
            steps.append(step)
        if step == s.steps:
            break
        real = torch.stack([ring_batch(s.batch_size, centres, std, g) for g in streams])
        noise = torch.stack([torch.randn(s.batch_size, s.latent_dim, generator=g)
                             for g in streams])
        toy_step(netG, netD, optG, optD, real, noise)
    frames = torch.stack(frames)  # (frames, seeds, n_samples, 2)
    return {"steps": steps, "frames": frames,
            "modes": count_modes(frames, centres, std, s.min_count),
            "quality": near_centres(frames, centres, std).any(-1).float().mean(-1)}


def train(seeds=(0,), settings: ToySettings | None = None, **overrides) -> dict:
    """Train one toy GAN per seed on the ring and record frames and scores.

    ``settings`` (a :class:`ToySettings`) with any field overridden by keyword, e.g.
    ``train([0, 1, 2], steps=500, beta1=0.9)``. Returns a dict: ``steps`` (list of the
    frames' step numbers), ``frames`` ``(F, S, n_samples, 2)``, ``modes`` ``(F, S)`` long
    (modes covered), ``quality`` ``(F, S)`` (high-quality share), ``centres``,
    ``seeds``, ``settings`` (a dict) and ``seconds`` (wall time).
    """
    seeds = _checked_seeds(seeds)
    s = _checked_settings(settings, overrides)
    centres = ring_centres()
    start, threads = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small run fastest on one thread
    try:
        run = train_runs(seeds, s, centres, STD)
    finally:
        torch.set_num_threads(threads)
    run.update(centres=centres, seeds=seeds, settings=asdict(s),
               seconds=time.perf_counter() - start)
    return run


def _checked_seeds(seeds) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds must be a list of non-negative integers, got {seeds!r}")
    seeds = [checks.non_negative_int("each seed", seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds}")
    return seeds


def _checked_settings(settings, overrides) -> ToySettings:
    if settings is not None and not isinstance(settings, ToySettings):
        raise TypeError(f"settings must be a ToySettings or None, got {settings!r}")
    values = asdict(settings or ToySettings())
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ValueError(f"unknown toy setting(s) {', '.join(unknown)}; the settings are "
                         f"{', '.join(values)}")
    values.update(overrides)
    for name in ("steps", "batch_size", "latent_dim", "hidden", "sample_every",
                 "n_samples", "min_count"):
        checks.positive_int(name, values[name])
    checks.positive_number("lr", values["lr"])
    checks.number_in("beta1", values["beta1"], 0, 1, closed_right=False)
    return ToySettings(**values)


# ------------------------------------------------------------------------- the pictures

def frame_image(points, centres, size: int = 128, extent: float = 2.6) -> np.ndarray:
    """A ``(size, size)`` grey picture in [0, 1] of one frame's points for
    :func:`dcgan_lib.viz.frames_player`: white background, a grey disc at each centre
    (where the data are), generated points in black; ``extent``: half-width shown."""
    image = np.ones((size, size))
    scale = (size - 1) / (2 * extent)
    yy, xx = np.mgrid[0:size, 0:size]
    for cx, cy in np.asarray(centres, dtype=np.float64):
        col, row = (cx + extent) * scale, (extent - cy) * scale
        image[(xx - col) ** 2 + (yy - row) ** 2 <= 9] = 0.78
    pts = np.asarray(points, dtype=np.float64)
    cols = np.round((pts[:, 0] + extent) * scale).astype(int)
    rows = np.round((extent - pts[:, 1]) * scale).astype(int)
    inside = (cols >= 0) & (cols < size) & (rows >= 0) & (rows < size)
    image[rows[inside], cols[inside]] = 0.0
    image[[0, -1], :] = 0.6  # a thin frame around the plot
    image[:, [0, -1]] = 0.6
    return image


def frames_strip(frames, centres, size: int = 128, gap: int = 6) -> list[np.ndarray]:
    """One picture per frame with every seed's panel side by side: ``frames`` is
    ``(F, S, N, 2)``; returns ``F`` arrays of shape ``(size, S * size + (S - 1) * gap)``."""
    pictures = []
    for frame in frames:
        panels = []
        for points in frame:
            panels += [frame_image(points, centres, size), np.ones((size, gap))]
        pictures.append(np.concatenate(panels[:-1], axis=1))
    return pictures


# ------------------------------------------------------------------------- the record

RECORD = Path(__file__).resolve().parent / "weights" / "toy-ring"
RECORD_POINTS = 500  # points per seed and frame kept in the record (for the pictures)


def save_record(runs: dict, path: Path = RECORD) -> None:
    """Write named runs of :func:`train` as ``path.json`` (settings, steps, scores) and
    ``path.safetensors`` (the first ``RECORD_POINTS`` points of each frame, float16)."""
    from safetensors.torch import save_file

    summary = {name: {"seeds": run["seeds"], "settings": run["settings"],
                      "steps": run["steps"], "seconds": round(run["seconds"], 1),
                      "modes": run["modes"].tolist(),
                      "quality": [[round(q, 4) for q in row]
                                  for row in run["quality"].tolist()]}
               for name, run in runs.items()}
    Path(f"{path}.json").write_text(json.dumps(summary, indent=1) + "\n")
    points = {name: run["frames"][:, :, :RECORD_POINTS].half().contiguous()
              for name, run in runs.items()}
    save_file(points, f"{path}.safetensors")


def load_record(path: Path = RECORD) -> dict:
    """The runs :func:`save_record` wrote, as :func:`train` returns them, with ``frames``
    holding the recorded ``RECORD_POINTS`` points per seed (float32)."""
    from safetensors.torch import load_file

    summary = json.loads(Path(f"{path}.json").read_text())
    points = load_file(f"{path}.safetensors")
    return {name: {**run, "modes": torch.tensor(run["modes"]),
                   "quality": torch.tensor(run["quality"]),
                   "frames": points[name].float(), "centres": ring_centres()}
            for name, run in summary.items()}
