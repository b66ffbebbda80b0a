"""Training a DCGAN: the two alternating steps of pytorch/examples ``dcgan/main.py``.

Every step does what the reference implementation does, with its names:

    (1) discriminator:  errD_real = BCE(D(x), real_label)      errD_fake = BCE(D(G(z)), fake_label)
                        one Adam step on D for errD = errD_real + errD_fake
    (2) generator:      errG = generator loss on D(G(z)), same z, the freshly updated D
                        one Adam step on G

and the history keeps, per step, Loss_D, Loss_G, D(x) (the mean of sigmoid(D(x)) over the
real batch), D(G(z)) before the discriminator step (``d_g_z1``) and after it (``d_g_z2``).

Two loops run that step. ``fast=False`` is the plain reference loop: fp32, one ``.item()``
per number per step, as pytorch/examples writes it (the one change: both discriminator
losses come from one call of :func:`dcgan_lib.losses.discriminator_loss`, so D(x) and
D(G(z)) are computed before the two backward passes rather than between them; the numbers
are the same). ``fast=True`` (the default)
keeps the same arithmetic and adds, each as one switch in :class:`Speedups`:

- the whole training set on the device as one tensor, shuffled by a seeded index
  permutation per epoch (no DataLoader, no worker processes);
- the per-step numbers kept on the device and copied to the host every ``SYNC_EVERY`` steps,
  so the host never waits for the device in between;
- channels-last tensors (CUDA): cuDNN's fastest layout for convolutions;
- autocast (CUDA): bf16 on GPUs that have it (compute capability 8.0 and up), fp16 with a
  ``GradScaler`` on those that do not (Colab's T4);
- fused Adam (CUDA): one kernel updates every parameter;
- the generator's backward pass computes no discriminator weight gradients, which the
  reference loop computes and throws away (the generator's gradients come out the same);
- the whole step -- both forwards, both backwards, both Adam updates and the sampling of
  z -- captured once in a CUDA graph and replayed (CUDA with bf16).

Why a hand-captured CUDA graph rather than ``torch.compile(mode="reduce-overhead")``: a
DCGAN step is dozens of small kernels, so launch overhead, not arithmetic, limits it at
small sizes; a graph removes that overhead, and capturing it by hand (the pattern of the
PyTorch CUDA-graphs documentation: three warm-up steps on a side stream, then capture)
costs a second instead of a compile of minutes, needs no compiler toolchain in Colab, and
the captured code is the same readable step. fp16 with a ``GradScaler`` is not captured,
because the scaler reads its overflow flag on the host every step.

On the CPU and MPS the fast loop keeps fp32 and uses only the data on the device, the rare
copies to the host and the generator-only gradients; it then computes exactly the reference
loop's numbers (the tests check this bit for bit).

``ema > 0`` keeps, beside the generator the optimiser updates, an exponential moving
average of its weights, ``avg <- ema * avg + (1 - ema) * weights`` after every step
(:func:`update_average`); the sample grids, the saved generator and
``TrainResult.generator`` are then the average, with its BatchNorm statistics re-estimated
from fresh latents at the end (:func:`recalibrate_batchnorm`). The average is outside the
game: it never feeds the discriminator, so training is the same with or without it.

Minibatches have ``batch_size`` images each; the last, partial minibatch of an epoch is
dropped, so an epoch is ``N // batch_size`` steps. ``step`` counts finished updates from 1.

Command line::

    python -m dcgan_lib.train --dataset mnist --epochs 5 --batch-size 128 --out runs/mnist
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import math
import numbers
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import checkpoint as ckpt
from . import data as data_mod
from .config import default_device
from .losses import GENERATOR_LOSSES, discriminator_loss, generator_loss
from .models import DOWNSAMPLING, IMAGE_SIZES, NORMS, Discriminator, Generator

LATENT_DISTRIBUTIONS = ("gaussian", "uniform")
HISTORY_KEYS = ("step", "epoch", "loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "seconds")
STATS = ("errD_real", "errD_fake", "errG", "d_x", "d_g_z1", "d_g_z2")  # one step's numbers
SYNC_EVERY = 50  # fast loop: steps between copies of the per-step numbers to the host
CUDA_GRAPH_WARMUP = 3  # eager steps on a side stream before the capture
N_SAMPLES = 64  # images in the fixed-noise sample grid
CHECKPOINT_NAME = "checkpoint.safetensors"
GENERATOR_NAME = "generator.safetensors"
RECORD_NAME = "record.json"
CHECKPOINT_FORMAT = "dcgan_lib.checkpoint/1"
GENERATOR_FORMAT = "dcgan_lib.generator/1"
# Settings a resumed run must share with the checkpoint it continues.
RESUME_MUST_MATCH = ("dataset", "image_size", "latent_dim", "width", "g_norm", "d_norm", "leak",
                     "downsample", "g_loss", "latent_dist", "real_label", "fake_label",
                     "batch_size", "lr", "beta1", "ema", "seed", "limit")
RECALIBRATION_LATENTS = 4096  # fresh latents that re-estimate an average's BatchNorm stats


@dataclass
class TrainConfig:
    """Every setting of a training run; :meth:`validate` checks them all.

    ``dataset`` "mnist" or "fashion-mnist"; ``image_size`` a power of two 16..256;
    ``latent_dim`` the length of z; ``width`` the discriminator's first-layer channels (and
    the generator's last); ``g_norm``/``d_norm`` "batch", "instance", "layer" or "none";
    ``leak`` the LeakyReLU slope in [0, 1); ``downsample`` "strided" or "pool"; ``g_loss``
    "non_saturating" or "minimax"; ``latent_dist`` "gaussian" (N(0, 1)) or "uniform"
    (U(-1, 1)); ``real_label``/``fake_label`` the discriminator's targets in [0, 1];
    ``epochs`` passes over the data; ``lr``, ``beta1`` Adam's step size and first-moment
    decay (beta2 = 0.999); ``ema`` the decay of the generator's weight average in [0, 1)
    (0: no average); ``device`` "auto", "cpu", "cuda", "cuda:N" or "mps"; ``limit``
    trains on the first ``limit`` images; ``max_steps`` stops after that many steps in all;
    ``sample_every`` keeps a grid from fixed noise every that many steps (0: never);
    ``out`` a folder for the generator, the record and checkpoints (None: write nothing);
    ``checkpoint_every`` steps between checkpoints (0: only at the end); ``fast`` the
    fast loop (False: the plain reference loop); ``progress`` a progress bar.
    """

    dataset: str = "mnist"
    image_size: int = 32
    latent_dim: int = 100
    width: int = 32
    g_norm: str = "batch"
    d_norm: str = "batch"
    leak: float = 0.2
    downsample: str = "strided"
    g_loss: str = "non_saturating"
    latent_dist: str = "gaussian"
    real_label: float = 1.0
    fake_label: float = 0.0
    epochs: int = 1
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    ema: float = 0.0
    seed: int = 0
    device: str = "auto"
    limit: int | None = None
    max_steps: int | None = None
    sample_every: int = 0
    out: str | None = None
    checkpoint_every: int = 0
    fast: bool = True
    progress: bool = True

    def validate(self) -> TrainConfig:
        """Raise ``ValueError``/``TypeError`` naming the first bad setting; return self."""
        _choice("dataset", self.dataset, data_mod.DATASETS)
        if isinstance(self.image_size, bool) or self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be a power of two from 16 to 256 "
                             f"({', '.join(map(str, IMAGE_SIZES))}), got {self.image_size!r}")
        for name in ("latent_dim", "width", "epochs", "batch_size"):
            _positive_int(name, getattr(self, name))
        _choice("g_norm", self.g_norm, NORMS)
        _choice("d_norm", self.d_norm, NORMS)
        _number_in("leak", self.leak, 0, 1, closed_right=False)
        _choice("downsample", self.downsample, DOWNSAMPLING)
        _choice("g_loss", self.g_loss, GENERATOR_LOSSES)
        _choice("latent_dist", self.latent_dist, LATENT_DISTRIBUTIONS)
        _number_in("real_label", self.real_label, 0, 1)
        _number_in("fake_label", self.fake_label, 0, 1)
        if not _is_number(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        _number_in("beta1", self.beta1, 0, 1, closed_right=False)
        _number_in("ema", self.ema, 0, 1, closed_right=False)
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) \
                or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.device, str):
            raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', "
                            f"got {type(self.device).__name__}")
        for name in ("limit", "max_steps"):
            value = getattr(self, name)
            if value is not None:
                _positive_int(name, value, "or None")
        for name in ("sample_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer (0: never), "
                                 f"got {value!r}")
        if self.out is not None and not isinstance(self.out, (str, os.PathLike)):
            raise TypeError(f"out must be a folder path or None, got {type(self.out).__name__}")
        if self.checkpoint_every and self.out is None:
            raise ValueError(f"checkpoint_every={self.checkpoint_every} needs an output "
                             f"folder: set out")
        for name in ("fast", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        return self


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _choice(name, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _positive_int(name, value, extra="") -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer{' ' + extra if extra else ''}, "
                         f"got {value!r}")


def _number_in(name, value, lo, hi, closed_right=True) -> None:
    ok = _is_number(value) and lo <= value and (value <= hi if closed_right else value < hi)
    if not ok:
        interval = f"[{lo}, {hi}]" if closed_right else f"[{lo}, {hi})"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the loss."""


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``generator``, ``discriminator``: the trained models in eval mode on the training device;
    with ``config.ema`` the generator is the weight average, and ``online_generator`` the
    one the optimiser updated (without it, the same object).
    ``history``: lists indexed by step (:data:`HISTORY_KEYS`), plus ``"samples"``, a list of
    ``(step, uint8 tensor (64, C, H, W))`` drawn from fixed noise. ``config``: the settings.
    ``speedups``: the switches the loop used. ``device``: where it ran.
    """

    generator: Generator
    discriminator: Discriminator
    history: dict
    config: TrainConfig
    speedups: Speedups
    device: torch.device
    online_generator: Generator | None = None


# ---------------------------------------------------------------------------------------
# Device and speed switches


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> the fastest device present; otherwise the named one, checked."""
    expected = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    if not isinstance(name, str):
        raise TypeError(f"device must be one of {expected}, got {type(name).__name__}")
    if name == "auto":
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"device must be one of {expected}, got {name!r}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be one of {expected}, got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for, but CUDA is not available "
                             f"on this machine (use 'auto' or 'cpu')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                     and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r} was asked for, but MPS is not available here")
    return device


def device_name(device: torch.device) -> str:
    """A readable name for the record: the GPU's model, or the CPU and its core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


@dataclass(frozen=True)
class Speedups:
    """The fast loop's switches; :func:`choose_speedups` picks them for a device."""

    on_device_data: bool = False  # dataset on the device, per-step numbers synced rarely
    channels_last: bool = False
    autocast: str = "off"  # "off", "bfloat16" or "float16"
    grad_scaler: bool = False  # only with float16
    fused_adam: bool = False
    generator_grads_only: bool = False  # errG's backward skips D's weight gradients
    cuda_graph: bool = False

    def check(self, device: torch.device) -> Speedups:
        """Raise ``ValueError`` for switches that cannot go together or on ``device``."""
        if self.autocast not in ("off", "bfloat16", "float16"):
            raise ValueError(f"autocast must be 'off', 'bfloat16' or 'float16', "
                             f"got {self.autocast!r}")
        if self.grad_scaler and self.autocast != "float16":
            raise ValueError("grad_scaler goes with autocast='float16' only")
        if self.cuda_graph and device.type != "cuda":
            raise ValueError(f"cuda_graph needs a CUDA device, got {device}")
        if self.cuda_graph and self.grad_scaler:
            raise ValueError("cuda_graph cannot capture a GradScaler, which reads its "
                             "overflow flag on the host every step")
        return self

    def describe(self) -> str:
        on = [f.name for f in dataclasses.fields(self)
              if f.name != "autocast" and getattr(self, f.name)]
        if self.autocast != "off":
            on.append(f"autocast {self.autocast}")
        return ", ".join(on) or "none (plain fp32 reference loop)"


def choose_speedups(device: torch.device, fast: bool) -> Speedups:
    """All switches off for the reference loop; on CPU/MPS no CUDA-only switch."""
    if not fast:
        return Speedups()
    if device.type != "cuda":
        return Speedups(on_device_data=True, generator_grads_only=True)
    bf16 = torch.cuda.get_device_capability(device)[0] >= 8
    return Speedups(on_device_data=True, channels_last=True,
                    autocast="bfloat16" if bf16 else "float16", grad_scaler=not bf16,
                    fused_adam=True, generator_grads_only=True, cuda_graph=bf16)


# ---------------------------------------------------------------------------------------
# Models, optimizers, noise


def build_models(cfg: TrainConfig, channels: int, device: torch.device,
                 speedups: Speedups) -> tuple[Generator, Discriminator]:
    """The generator and discriminator, initialised from the global CPU generator."""
    netG = Generator(cfg.latent_dim, cfg.image_size, channels, cfg.width, cfg.g_norm)
    netD = Discriminator(cfg.image_size, channels, cfg.width, cfg.d_norm, cfg.leak,
                         cfg.downsample)
    fmt = torch.channels_last if speedups.channels_last else torch.contiguous_format
    return netG.to(device, memory_format=fmt), netD.to(device, memory_format=fmt)


def build_optimizers(netG, netD, cfg: TrainConfig, speedups: Speedups):
    """Adam for each network (beta2 = 0.999); fused and/or capturable per ``speedups``."""
    kwargs = dict(lr=cfg.lr, betas=(cfg.beta1, 0.999))
    if speedups.fused_adam:
        kwargs["fused"] = True
    if speedups.cuda_graph:  # the step counters live on the GPU, updated inside the graph
        kwargs["capturable"] = True
    return torch.optim.Adam(netG.parameters(), **kwargs), \
        torch.optim.Adam(netD.parameters(), **kwargs)


def latent_noise(n: int, latent_dim: int, dist: str, device="cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``(n, latent_dim)`` latents, N(0, 1) or U(-1, 1), on ``device``: from ``generator``
    (a ``torch.Generator`` on that device) or else from the device's global generator."""
    if dist == "gaussian":
        return torch.randn(n, latent_dim, device=device, generator=generator)
    return 2 * torch.rand(n, latent_dim, device=device, generator=generator) - 1


def fixed_noise(cfg: TrainConfig, device) -> torch.Tensor:
    """The 64 latents the sample grids are drawn from, the same for every run with a seed."""
    g = torch.Generator().manual_seed(cfg.seed)
    return latent_noise(N_SAMPLES, cfg.latent_dim, cfg.latent_dist, generator=g).to(device)


# ---------------------------------------------------------------------------------------
# The two steps


def reference_step(netG, netD, optimizerD, optimizerG, real, cfg: TrainConfig) -> list[float]:
    """One step of the plain fp32 loop, as pytorch/examples writes it; returns :data:`STATS`."""
    batch_size = real.shape[0]
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    output_real = netD(real)
    noise = latent_noise(batch_size, cfg.latent_dim, cfg.latent_dist, real.device)
    fake = netG(noise)
    output_fake = netD(fake.detach())
    errD_real, errD_fake = discriminator_loss(output_real, output_fake,
                                              cfg.real_label, cfg.fake_label)
    errD_real.backward()
    errD_fake.backward()
    D_x = torch.sigmoid(output_real).mean().item()
    D_G_z1 = torch.sigmoid(output_fake).mean().item()
    optimizerD.step()
    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    output = netD(fake)
    errG = generator_loss(output, cfg.g_loss)
    errG.backward()
    D_G_z2 = torch.sigmoid(output).mean().item()
    optimizerG.step()
    return [errD_real.item(), errD_fake.item(), errG.item(), D_x, D_G_z1, D_G_z2]


class FastStep:
    """The same step with the speed switches; ``__call__`` returns :data:`STATS` on the device.

    ``images`` is the whole training set on the device; a call takes the minibatch ``idx``
    (a device tensor of indices) into a fixed input buffer and runs (or replays) the step.
    The returned tensor is only valid until the next call.
    """

    def __init__(self, netG, netD, optimizerD, optimizerG, cfg: TrainConfig,
                 speedups: Speedups, batch_shape: tuple, device: torch.device):
        self.netG, self.netD, self.optD, self.optG = netG, netD, optimizerD, optimizerG
        self.cfg, self.speedups, self.device = cfg, speedups, device
        fmt = torch.channels_last if speedups.channels_last else torch.contiguous_format
        self.real = torch.empty(batch_shape, device=device).contiguous(memory_format=fmt)
        self.amp_dtype = {"off": None, "bfloat16": torch.bfloat16,
                          "float16": torch.float16}[speedups.autocast]
        self.scaler = torch.amp.GradScaler(device.type) if speedups.grad_scaler else None
        self.graph = None
        self.graph_stats = None
        self.warmup_left = CUDA_GRAPH_WARMUP if speedups.cuda_graph else 0

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        # no autocast weight cache: a CUDA graph must not capture a cache it cannot refill
        return torch.autocast(self.device.type, dtype=self.amp_dtype,
                              cache_enabled=not self.speedups.cuda_graph)

    def _scale(self, loss):
        return self.scaler.scale(loss) if self.scaler is not None else loss

    def _optimizer_step(self, optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def body(self) -> torch.Tensor:
        """The two alternating steps on ``self.real``; the numbers stay on the device."""
        netG, netD, cfg, real = self.netG, self.netD, self.cfg, self.real
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        with self._autocast():
            output_real = netD(real)
            noise = latent_noise(real.shape[0], cfg.latent_dim, cfg.latent_dist, self.device)
            fake = netG(noise)
            output_fake = netD(fake.detach())
            errD_real, errD_fake = discriminator_loss(output_real.float(), output_fake.float(),
                                                      cfg.real_label, cfg.fake_label)
        self._scale(errD_real).backward()
        self._scale(errD_fake).backward()
        self._optimizer_step(self.optD)
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        with self._autocast():
            output = netD(fake)
            errG = generator_loss(output.float(), cfg.g_loss)
        if self.speedups.generator_grads_only:  # D's weight gradients from errG are unused
            self._scale(errG).backward(inputs=list(netG.parameters()))
        else:
            self._scale(errG).backward()
        self._optimizer_step(self.optG)
        if self.scaler is not None:
            self.scaler.update()
        with torch.no_grad():
            return torch.stack([errD_real.detach(), errD_fake.detach(), errG.detach(),
                                torch.sigmoid(output_real.float()).mean(),
                                torch.sigmoid(output_fake.float()).mean(),
                                torch.sigmoid(output.float()).mean()])

    def __call__(self, images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        self.real.copy_(images[idx])
        if self.graph is not None:
            self.graph.replay()
            return self.graph_stats
        if not self.speedups.cuda_graph:
            return self.body()
        if self.warmup_left > 0:  # eager steps on a side stream, as capture requires
            self.warmup_left -= 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                stats = self.body()
            torch.cuda.current_stream(self.device).wait_stream(side)
            return stats
        self.netG.zero_grad(set_to_none=True)
        self.netD.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.graph_stats = self.body()
        self.graph.replay()  # capture records the step; replaying runs it
        return self.graph_stats


# ---------------------------------------------------------------------------------------
# Checkpoints


def _optimizer_tensors(prefix: str, optimizer) -> dict[str, torch.Tensor]:
    state = optimizer.state_dict()["state"]
    return {f"{prefix}.{i}.{k}": v for i, s in state.items() for k, v in s.items()
            if torch.is_tensor(v)}


def _load_optimizer(optimizer, prefix: str, tensors: dict, path) -> None:
    current = optimizer.state_dict()
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            i, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(i), {})[name] = value
    n_params = len(current["param_groups"][0]["params"])
    if state and set(state) != set(range(n_params)):
        raise ckpt.CheckpointError(f"{path} holds optimizer state for {len(state)} "
                                   f"parameters, the model has {n_params}")
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})
    for p, s in optimizer.state.items():  # moments in the parameter's own memory layout
        for name in ("exp_avg", "exp_avg_sq"):
            if name in s:
                s[name] = torch.empty_like(p, dtype=s[name].dtype).copy_(s[name])


def _load_module(module, prefix: str, tensors: dict, path) -> None:
    expected = module.state_dict()
    for key, value in expected.items():
        got = tensors.get(f"{prefix}.{key}")
        if got is None:
            raise ckpt.CheckpointError(f"{path} has no tensor {prefix}.{key}: it was not "
                                       f"written for this model")
        if tuple(got.shape) != tuple(value.shape):
            raise ckpt.CheckpointError(
                f"{path} holds {prefix}.{key} of shape {tuple(got.shape)}, the model "
                f"expects {tuple(value.shape)}")
    module.load_state_dict({k: tensors[f"{prefix}.{k}"] for k in expected})


def save_checkpoint(path, netG, netD, optimizerD, optimizerG, scaler, cfg: TrainConfig,
                    step: int, seconds: float, history: dict, permutation,
                    shuffle: torch.Generator, device: torch.device, average=None) -> None:
    """Everything a resumed run needs to continue bit for bit, written atomically;
    ``average`` is the generator's weight average when ``cfg.ema`` asks for one."""
    tensors = {f"generator.{k}": v for k, v in netG.state_dict().items()}
    if average is not None:
        tensors |= {f"generator_average.{k}": v for k, v in average.state_dict().items()}
    tensors |= {f"discriminator.{k}": v for k, v in netD.state_dict().items()}
    tensors |= _optimizer_tensors("optimizer_d", optimizerD)
    tensors |= _optimizer_tensors("optimizer_g", optimizerG)
    tensors["rng.cpu"] = torch.get_rng_state()
    tensors["rng.shuffle"] = shuffle.get_state()
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    if permutation is not None:
        tensors["permutation"] = permutation
    # the grids due every sample_every steps; a run's extra grid at its end is its own
    samples = [(s, grid) for s, grid in history["samples"]
               if cfg.sample_every and s % cfg.sample_every == 0]
    for i, (_, grid) in enumerate(samples):
        tensors[f"samples.{i}"] = grid
    meta = {"format": CHECKPOINT_FORMAT, "config": asdict(cfg), "step": step,
            "seconds": seconds, "history": {k: history[k] for k in HISTORY_KEYS},
            "sample_steps": [s for s, _ in samples],
            "grad_scaler": scaler.state_dict() if scaler is not None else None}
    ckpt.save(path, tensors, meta)


def load_checkpoint(path, cfg: TrainConfig, netG, netD, optimizerD, optimizerG, scaler,
                    shuffle: torch.Generator, device: torch.device, average=None) -> dict:
    """Restore a :func:`save_checkpoint` file into the given objects.

    Returns ``{"step", "seconds", "history", "permutation"}``. Raises ``CheckpointError``
    (a ``ValueError``) naming the file and what is wrong with it.
    """
    tensors, meta = ckpt.load(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ckpt.CheckpointError(f"{path} is a {meta.get('format')!r} file, expected a "
                                   f"{CHECKPOINT_FORMAT!r} training checkpoint")
    saved = meta.get("config", {})
    for name in RESUME_MUST_MATCH:
        was = saved.get(name, getattr(TrainConfig, name, None))  # older files: the default
        if was != getattr(cfg, name):
            raise ValueError(f"{path} was trained with {name}={was!r}, this "
                             f"run asks for {name}={getattr(cfg, name)!r}; resume with the "
                             f"same {name}")
    _load_module(netG, "generator", tensors, path)
    if average is not None:
        _load_module(average, "generator_average", tensors, path)
    _load_module(netD, "discriminator", tensors, path)
    _load_optimizer(optimizerD, "optimizer_d", tensors, path)
    _load_optimizer(optimizerG, "optimizer_g", tensors, path)
    try:
        torch.set_rng_state(tensors["rng.cpu"])
        shuffle.set_state(tensors["rng.shuffle"])
        if device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    except (KeyError, RuntimeError):
        raise ckpt.CheckpointError(f"{path} has no valid random-number state") from None
    if scaler is not None and meta.get("grad_scaler"):
        scaler.load_state_dict(meta["grad_scaler"])
    try:
        history = {k: list(meta["history"][k]) for k in HISTORY_KEYS}
        history["samples"] = [(s, tensors[f"samples.{i}"])
                              for i, s in enumerate(meta.get("sample_steps", []))]
        step, seconds = int(meta["step"]), float(meta["seconds"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ckpt.CheckpointError(f"{path} has an incomplete training record "
                                   f"(missing or bad {exc})") from None
    if len(history["step"]) != step:
        raise ckpt.CheckpointError(f"{path} records {len(history['step'])} steps of history "
                                   f"for step {step}")
    return {"step": step, "seconds": seconds, "history": history,
            "permutation": tensors.get("permutation")}


def save_generator(path, netG: Generator, cfg: TrainConfig) -> None:
    """The generator's weights as safetensors; the header holds how to rebuild it."""
    arch = {"latent_dim": netG.latent_dim, "image_size": netG.image_size,
            "channels": netG.channels, "width": netG.width, "norm": netG.norm}
    meta = {"format": GENERATOR_FORMAT, "generator": arch, "latent_dist": cfg.latent_dist,
            "config": asdict(cfg)}
    ckpt.save(path, netG.state_dict(), meta)


def load_generator(path, device="cpu") -> Generator:
    """A :class:`Generator` in eval mode from a file :func:`save_generator` wrote."""
    tensors, meta = ckpt.load(path)
    if meta.get("format") != GENERATOR_FORMAT:
        raise ckpt.CheckpointError(f"{path} is a {meta.get('format')!r} file, expected a "
                                   f"{GENERATOR_FORMAT!r} generator")
    netG = Generator(**meta["generator"])
    _load_module(netG, "", {f".{k}": v for k, v in tensors.items()}, path)
    return netG.to(device).eval()


# ---------------------------------------------------------------------------------------
# The loop


def _training_images(cfg: TrainConfig, images) -> torch.Tensor:
    if images is None:
        x, _ = data_mod.load(cfg.dataset, "train", cfg.image_size, limit=cfg.limit)
        return x
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[2:] != (cfg.image_size, cfg.image_size) \
            or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor (N, C, {cfg.image_size}, "
                         f"{cfg.image_size}) in [-1, 1], got {images.dtype} "
                         f"{tuple(images.shape)}")
    return images[:cfg.limit] if cfg.limit is not None else images


def prepare_out(out) -> Path:
    """Create the output folder and check that files can be written in it."""
    path = Path(out).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"output folder {str(path)!r} is not writable "
                         f"({exc.strerror or type(exc).__name__})") from None
    return path


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu() \
        .contiguous()


@torch.no_grad()
def sample_grid(netG: Generator, noise: torch.Tensor) -> torch.Tensor:
    """uint8 images ``(64, C, H, W)`` from ``noise``, with batch statistics as in training.

    The generator's running averages are put back afterwards, so drawing samples never
    changes the training run.
    """
    saved = {k: v.clone() for k, v in netG.named_buffers()}
    was_training = netG.training
    netG.train()
    images = netG(noise)
    for k, v in netG.named_buffers():
        v.copy_(saved[k])
    netG.train(was_training)
    return _to_uint8(images)


@torch.no_grad()
def update_average(average: Generator, netG: Generator, decay: float) -> None:
    """One step of the weight average: ``avg <- decay * avg + (1 - decay) * weights`` for
    every parameter (BatchNorm's running statistics are not averaged; see
    :func:`recalibrate_batchnorm`)."""
    torch._foreach_lerp_(list(average.parameters()), list(netG.parameters()), 1.0 - decay)


@torch.no_grad()
def recalibrate_batchnorm(netG: Generator, latent_dist: str, batch_size: int, seed: int,
                          n: int = RECALIBRATION_LATENTS) -> Generator:
    """Re-estimate every BatchNorm's running mean and variance for ``netG``'s own weights:
    the equal-weight average of the batch statistics over ``n`` fresh latents in
    minibatches of ``batch_size`` (as in training), drawn from a private generator seeded
    with ``seed`` so that no other random stream moves. Returns ``netG`` in eval mode."""
    norms = [m for m in netG.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return netG.eval()
    device = next(netG.parameters()).device
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    gen = torch.Generator().manual_seed(seed)
    netG.train()
    for _ in range(max(1, n // batch_size)):
        netG(latent_noise(batch_size, netG.latent_dim, latent_dist, generator=gen).to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    return netG.eval()


def _check_finite(step: int, values, checkpoint_note: str) -> None:
    for name, value in zip(STATS[:3], values[:3], strict=True):
        if not math.isfinite(value):
            raise TrainingDiverged(f"Training stopped at step {step}: {name} is {value}; "
                                   f"{checkpoint_note}.")


def _progress_bar(cfg: TrainConfig, total: int, initial: int):
    disable = not cfg.progress or bool(os.environ.get("CI"))
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=disable, unit="step",
                desc=f"DCGAN {cfg.dataset}", dynamic_ncols=True)


def train(cfg: TrainConfig, images: torch.Tensor | None = None, resume=None,
          speedups: Speedups | None = None, command: str | None = None) -> TrainResult:
    """Train a DCGAN with the settings in ``cfg``; see the module docstring for the step.

    ``images``: train on these float images ``(N, C, image_size, image_size)`` in [-1, 1]
    instead of ``cfg.dataset``. ``resume``: a checkpoint path to continue from (``epochs``
    and ``max_steps`` count from the start of the original run). ``speedups``: override the
    switches :func:`choose_speedups` picks. ``command``: the command line for the record.

    With ``cfg.out`` it writes ``generator.safetensors``, ``record.json`` and
    ``checkpoint.safetensors`` (every ``checkpoint_every`` steps and at the end). Raises
    ``ValueError``/``TypeError`` for bad settings and :class:`TrainingDiverged` when a loss
    turns NaN or infinite.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    cfg.validate()
    device = resolve_device(cfg.device)
    speedups = (speedups or choose_speedups(device, cfg.fast)).check(device)
    out = prepare_out(cfg.out) if cfg.out is not None else None
    checkpoint_path = out / CHECKPOINT_NAME if out is not None else None
    if resume is not None and not Path(resume).is_file():
        raise ValueError(f"no checkpoint to resume from at {str(resume)!r}")
    x = _training_images(cfg, images)
    n_images, channels = x.shape[0], x.shape[1]
    steps_per_epoch = n_images // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {cfg.batch_size} is larger than the {n_images} "
                         f"training images; use a smaller batch_size")
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)

    torch.manual_seed(cfg.seed)
    netG, netD = build_models(cfg, channels, device, speedups)
    average = copy.deepcopy(netG) if cfg.ema else None
    optimizerG, optimizerD = build_optimizers(netG, netD, cfg, speedups)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    batch_shape = (cfg.batch_size, channels, cfg.image_size, cfg.image_size)
    fast_step = FastStep(netG, netD, optimizerD, optimizerG, cfg, speedups, batch_shape,
                         device) if cfg.fast else None
    scaler = fast_step.scaler if fast_step is not None else None
    history = {k: [] for k in HISTORY_KEYS}
    history["samples"] = []
    step, seconds0, permutation = 0, 0.0, None
    if resume is not None:
        state = load_checkpoint(resume, cfg, netG, netD, optimizerD, optimizerG, scaler,
                                shuffle, device, average)
        step, seconds0 = state["step"], state["seconds"]
        history, permutation = state["history"], state["permutation"]
    last_good = str(resume) if resume is not None else None
    if checkpoint_path is not None:
        ckpt.remove_stale_temporaries(checkpoint_path)

    fmt = torch.channels_last if speedups.channels_last else torch.contiguous_format
    x = x.to(device).contiguous(memory_format=fmt) if speedups.on_device_data else x
    noise = fixed_noise(cfg, device)
    if device.type == "cuda":  # cuDNN times its algorithms for these fixed shapes, as
        torch.backends.cudnn.benchmark = True  # pytorch/examples does in both loops
    netG.train()
    netD.train()
    pending: list[tuple[int, int, float, torch.Tensor]] = []  # (step, epoch, t, stats)

    def note() -> str:
        if last_good is None:
            return "no checkpoint was written"
        return f"the last good checkpoint is {last_good}"

    def record(step_, epoch_, t_, values) -> None:
        _check_finite(step_, values, note())
        history["step"].append(step_)
        history["epoch"].append(epoch_)
        history["loss_d"].append(values[0] + values[1])
        history["loss_g"].append(values[2])
        history["d_x"].append(values[3])
        history["d_g_z1"].append(values[4])
        history["d_g_z2"].append(values[5])
        history["seconds"].append(t_)

    def flush() -> None:
        if not pending:
            return
        rows = torch.stack([s for *_, s in pending]).double().cpu().tolist()
        done = list(pending)
        pending.clear()
        for (step_, epoch_, t_, _), values in zip(done, rows, strict=True):
            record(step_, epoch_, t_, values)

    def weights_finite() -> None:
        for name, net in (("discriminator", netD), ("generator", netG)):
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise TrainingDiverged(f"Training stopped at step {step}: the {name}'s "
                                       f"weights became non-finite although errD_real, "
                                       f"errD_fake and errG were finite; {note()}.")

    shown = average if average is not None else netG  # the generator the samples come from
    device_permutation = None
    bar = _progress_bar(cfg, total, step)
    t0 = time.perf_counter()
    try:
        while step < total:
            epoch, position = divmod(step, steps_per_epoch)
            if position == 0 or permutation is None:
                permutation = torch.randperm(n_images, generator=shuffle)
                device_permutation = None
            if device_permutation is None:
                device_permutation = permutation.to(x.device)
            idx = device_permutation[position * cfg.batch_size:(position + 1) * cfg.batch_size]
            if fast_step is not None:
                stats = fast_step(x, idx)
                step += 1
                pending.append((step, epoch, seconds0 + time.perf_counter() - t0,
                                stats.clone() if fast_step.graph is not None else stats))
                if len(pending) >= SYNC_EVERY:
                    flush()
                    bar.set_postfix(loss_d=f"{history['loss_d'][-1]:.3f}",
                                    loss_g=f"{history['loss_g'][-1]:.3f}", refresh=False)
            else:
                real = x[idx].to(device)
                values = reference_step(netG, netD, optimizerD, optimizerG, real, cfg)
                step += 1
                record(step, epoch, seconds0 + time.perf_counter() - t0, values)
                bar.set_postfix(loss_d=f"{history['loss_d'][-1]:.3f}",
                                loss_g=f"{history['loss_g'][-1]:.3f}", refresh=False)
            if average is not None:
                update_average(average, netG, cfg.ema)
            bar.update(1)
            if cfg.sample_every and step % cfg.sample_every == 0:
                flush()
                history["samples"].append((step, sample_grid(shown, noise)))
            if checkpoint_path is not None and cfg.checkpoint_every \
                    and step % cfg.checkpoint_every == 0 and step < total:
                flush()
                weights_finite()
                save_checkpoint(checkpoint_path, netG, netD, optimizerD, optimizerG, scaler,
                                cfg, step, seconds0 + time.perf_counter() - t0, history,
                                permutation, shuffle, device, average)
                last_good = str(checkpoint_path)
        flush()
        if cfg.sample_every and (not history["samples"] or history["samples"][-1][0] != step):
            history["samples"].append((step, sample_grid(shown, noise)))
        wall = time.perf_counter() - t0
        # re-estimated from its weights alone, so a resumed run ends with the same statistics
        if average is not None:
            recalibrate_batchnorm(average, cfg.latent_dist, cfg.batch_size, cfg.seed)
        if checkpoint_path is not None:
            weights_finite()
            save_checkpoint(checkpoint_path, netG, netD, optimizerD, optimizerG, scaler, cfg,
                            step, seconds0 + wall, history, permutation, shuffle, device,
                            average)
            save_generator(out / GENERATOR_NAME, shown, cfg)
            record_json = {
                "config": asdict(cfg), "device": device_name(device),
                "torch": torch.__version__, "speedups": asdict(speedups),
                "wall_seconds": wall, "epochs": cfg.epochs, "steps": step,
                "generator": "weight average (ema)" if average is not None else "online",
                "steps_per_epoch": steps_per_epoch, "images": n_images, "seed": cfg.seed,
                "resumed_from": str(resume) if resume is not None else None,
                "command": command or f"dcgan_lib.train.train({cfg!r})",
                "history": {k: history[k] for k in HISTORY_KEYS},
            }
            ckpt.atomic_write_bytes(out / RECORD_NAME,
                                    json.dumps(record_json, indent=1).encode())
    finally:
        bar.close()
    netG.eval()
    netD.eval()
    return TrainResult(shown.eval(), netD, history, cfg, speedups, device, netG)


# ---------------------------------------------------------------------------------------
# Command line


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = _Parser(prog="python -m dcgan_lib.train",
                description="Train a DCGAN (pytorch/examples dcgan, with a fast loop).")
    p.add_argument("--dataset", default=d.dataset, help="mnist or fashion-mnist")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--latent-dim", type=int, default=d.latent_dim)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--g-norm", default=d.g_norm, help=" / ".join(NORMS))
    p.add_argument("--d-norm", default=d.d_norm, help=" / ".join(NORMS))
    p.add_argument("--leak", type=float, default=d.leak, help="LeakyReLU slope in [0, 1)")
    p.add_argument("--downsample", default=d.downsample, help=" / ".join(DOWNSAMPLING))
    p.add_argument("--g-loss", default=d.g_loss, help=" / ".join(GENERATOR_LOSSES))
    p.add_argument("--latent-dist", default=d.latent_dist, help="gaussian or uniform")
    p.add_argument("--real-label", type=float, default=d.real_label)
    p.add_argument("--fake-label", type=float, default=d.fake_label)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--beta1", type=float, default=d.beta1)
    p.add_argument("--ema", type=float, default=d.ema,
                   help="decay of the generator's weight average in [0, 1) (0: none)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--sample-every", type=int, default=0, help="steps between sample grids")
    p.add_argument("--out", required=True, help="folder for weights, record, checkpoints")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                   help="steps between checkpoints (one is always written at the end)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default: OUT/checkpoint.safetensors)")
    p.add_argument("--reference", action="store_true",
                   help="the plain fp32 reference loop instead of the fast one")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0 done, 1 diverged, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    cfg = TrainConfig(
        dataset=args.dataset, image_size=args.image_size, latent_dim=args.latent_dim,
        width=args.width, g_norm=args.g_norm, d_norm=args.d_norm, leak=args.leak,
        downsample=args.downsample, g_loss=args.g_loss, latent_dist=args.latent_dist,
        real_label=args.real_label, fake_label=args.fake_label, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, beta1=args.beta1, ema=args.ema,
        seed=args.seed,
        device=args.device, limit=args.limit, max_steps=args.max_steps,
        sample_every=args.sample_every, out=args.out, checkpoint_every=args.checkpoint_every,
        fast=not args.reference, progress=not args.no_progress)
    resume = args.resume
    if resume is True:
        resume = str(Path(args.out) / CHECKPOINT_NAME)
    command = "python -m dcgan_lib.train " + shlex.join(argv)
    try:
        result = train(cfg, resume=resume, command=command)
    except (ValueError, TypeError, data_mod.DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TrainingDiverged, OSError) as exc:  # diverged, or the disk failed mid-run
        print(f"error: {exc}", file=sys.stderr)
        return 1
    h = result.history
    print(f"trained {h['step'][-1] if h['step'] else 0} steps on {device_name(result.device)}"
          f" in {h['seconds'][-1] if h['seconds'] else 0:.1f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
