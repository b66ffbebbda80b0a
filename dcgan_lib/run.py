"""A training run's state: its models, optimisers, data, history, and how one step advances it.

:class:`Run` sets a run up from a :class:`~dcgan_lib.settings.TrainConfig` (or resumes it
from a checkpoint), and :meth:`Run.train_one_step` advances it by one step of the fast loop
(:class:`dcgan_lib.fast.FastStep`) or of the plain reference loop
(:func:`dcgan_lib.steps.train_step` as it is). :func:`dcgan_lib.train.train` is the loop.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import checkpoint as ckpt
from . import data as data_mod
from . import distributed
from .average import recalibrate_batchnorm, update_average
from .devices import device_name, resolve_device
from .fast import SYNC_EVERY, FastStep, Speedups, choose_speedups, step_on
from .folder import load_folder
from .history import History, TrainingDiverged, checkpoint_note, fixed_noise, sample_grid
from .models import Discriminator, Generator
from .settings import TrainConfig
from .steps import HISTORY_KEYS

CHECKPOINT_NAME = "checkpoint.safetensors"
GENERATOR_NAME = "generator.safetensors"
RECORD_NAME = "record.json"


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``generator``, ``discriminator``: the trained models in eval mode on the training device;
    with ``config.ema`` the generator is the weight average, and ``online_generator`` the
    one the optimiser updated (without it, the same object). ``history``: lists indexed by
    step (:data:`dcgan_lib.steps.HISTORY_KEYS`), plus ``"samples"``, a list of ``(step,
    uint8 tensor (64, C, H, W))`` drawn from fixed noise. ``config``: the settings.
    ``speedups``: the switches the loop used. ``device``: where it ran.
    """

    generator: Generator
    discriminator: Discriminator
    history: dict
    config: TrainConfig
    speedups: Speedups
    device: torch.device
    online_generator: Generator | None = None


def build_models(cfg: TrainConfig, channels: int, device: torch.device,
                 speedups: Speedups) -> tuple[Generator, Discriminator]:
    """The generator and discriminator, initialised from the global CPU generator."""
    netG = Generator(cfg.latent_dim, cfg.image_size, channels, cfg.width, cfg.g_norm,
                     cfg.g_leak, cfg.g_output, cfg.init)
    netD = Discriminator(cfg.image_size, channels, cfg.width, cfg.d_norm, cfg.leak,
                         cfg.downsample, cfg.d_hidden, cfg.init)
    fmt = speedups.memory_format
    return netG.to(device, memory_format=fmt), netD.to(device, memory_format=fmt)


def build_optimizers(netG, netD, cfg: TrainConfig, speedups: Speedups):
    """``(optimizerG, optimizerD)``: Adam (beta2 = 0.999), fused/capturable per ``speedups``."""
    kwargs = dict(betas=(cfg.beta1, 0.999))
    if speedups.fused_adam:
        kwargs["fused"] = True
    if speedups.cuda_graph:  # the step counters live on the GPU, updated inside the graph
        kwargs["capturable"] = True
    return torch.optim.Adam(netG.parameters(), lr=cfg.lr_g or cfg.lr, **kwargs), \
        torch.optim.Adam(netD.parameters(), lr=cfg.lr_d or cfg.lr, **kwargs)


def learning_rates(cfg: TrainConfig, step: int) -> tuple[float, float]:
    """G's and D's step sizes for step ``step`` (0 for the first): constant, or held until
    ``cfg.lr_decay_start`` and then falling linearly to 0 at ``cfg.lr_decay_steps``."""
    keep = 1.0
    if cfg.lr_decay_steps and step > cfg.lr_decay_start:
        span = cfg.lr_decay_steps - cfg.lr_decay_start
        keep = max(0.0, 1 - (step - cfg.lr_decay_start) / span)
    return (cfg.lr_g or cfg.lr) * keep, (cfg.lr_d or cfg.lr) * keep


def training_images(cfg: TrainConfig, images=None) -> torch.Tensor:
    """``images`` checked against ``cfg`` (or ``cfg.dataset`` loaded), cut to ``cfg.limit``."""
    if images is None and cfg.dataset == "folder":
        return load_folder(cfg.data_dir, cfg.image_size, limit=cfg.limit)
    if images is None and cfg.dataset in data_mod.COLOUR_DATASETS:
        return data_mod.load_colour(cfg.dataset, cfg.data_dir, cfg.image_size, limit=cfg.limit)
    if images is None:
        return data_mod.load(cfg.dataset, "train", cfg.image_size, limit=cfg.limit)[0]
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[2:] != (cfg.image_size, cfg.image_size) \
            or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor (N, C, {cfg.image_size}, "
                         f"{cfg.image_size}) in [-1, 1], got {images.dtype} "
                         f"{tuple(images.shape)}")
    if (images < -1).any() or (images > 1).any():
        raise ValueError(f"images must lie in [-1, 1] (the generator's tanh range), got "
                         f"values from {images.min().item():.3g} to {images.max().item():.3g}")
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


class Run:
    """One training run's state: models, optimisers, data, history, and where it stands."""

    def __init__(self, cfg: TrainConfig, images, resume, speedups: Speedups | None):
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
        self.cfg = cfg.validate()
        self.rank, self.world = distributed.start(resolve_device(cfg.device))
        self.device = device = distributed.local_device(resolve_device(cfg.device))
        speedups = speedups or choose_speedups(device, cfg.fast)
        # A captured graph would have to capture DDP's all-reduces, and would keep the
        # step sizes it was captured with.
        if self.world > 1 or cfg.lr_decay_steps:
            speedups = dataclasses.replace(speedups, cuda_graph=False)
        self.speedups = speedups.check(device)
        writes = cfg.out is not None and self.rank == 0  # process 0 alone writes files
        self.out = prepare_out(cfg.out) if writes else None
        self.checkpoint_path = self.out / CHECKPOINT_NAME if self.out is not None else None
        if resume is not None and not Path(resume).is_file():
            raise ValueError(f"no checkpoint to resume from at {str(resume)!r}")
        x = training_images(cfg, images)
        self.n_images, channels = x.shape[0], x.shape[1]
        self.steps_per_epoch = self.n_images // (cfg.batch_size * self.world)
        if self.steps_per_epoch == 0:
            each = f" in each of {self.world} processes" if self.world > 1 else ""
            raise ValueError(f"batch_size {cfg.batch_size}{each} is larger than the "
                             f"{self.n_images} training images; use a smaller batch_size")
        self.total = min(cfg.epochs * self.steps_per_epoch, cfg.max_steps or math.inf)
        torch.manual_seed(cfg.seed)
        self.netG, self.netD = build_models(cfg, channels, device, self.speedups)
        if cfg.sync_bn and self.world > 1:
            distributed.pool_batchnorm(self.netG)
            distributed.pool_batchnorm(self.netD)
        self.stepG, self.stepD = distributed.wrap(self.netG, self.netD, device) \
            if self.world > 1 else (self.netG, self.netD)  # what the step calls
        self.average = copy.deepcopy(self.netG) if cfg.ema else None
        self.optG, self.optD = build_optimizers(self.netG, self.netD, cfg, self.speedups)
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        shape = (cfg.batch_size, channels, cfg.image_size, cfg.image_size)
        self.fast = FastStep(self.stepG, self.stepD, self.optG, self.optD, cfg, self.speedups,
                             shape, device, self.rank, self.world) if cfg.fast else None
        self.scaler = self.fast.scaler if self.fast is not None else None
        self.sync_every = SYNC_EVERY if self.fast is not None else 1
        self.step, self.seconds0, self.permutation, self.batch_order = 0, 0.0, None, None
        self.history, self.last_good = History(), str(resume) if resume else None
        if resume is not None:
            self._resume(resume)
        if self.out is not None:
            self.lock = ckpt.lock_folder(self.out)
            for name in (CHECKPOINT_NAME, GENERATOR_NAME, RECORD_NAME):
                ckpt.remove_stale_temporaries(self.out / name)
        on_device = self.speedups.on_device_data
        self.x = x.to(device).contiguous(memory_format=self.speedups.memory_format) \
            if on_device else x
        self.noise = fixed_noise(cfg, device)
        self.shown = self.average if self.average is not None else self.netG
        if device.type == "cuda":  # cuDNN times its algorithms for these fixed shapes, as
            torch.backends.cudnn.benchmark = True  # pytorch/examples does in both loops
        self.netG.train()
        self.netD.train()
        self.t0 = time.perf_counter()

    def _resume(self, path) -> None:
        state = ckpt.load_checkpoint(path, self.cfg, self.netG, self.netD, self.optG,
                                     self.optD, self.scaler, self.shuffle, self.device,
                                     self.average, self.world)
        self.step, self.seconds0 = state["step"], state["seconds"]
        self.history, self.permutation = History(state["history"]), state["permutation"]
        p = self.permutation
        if p is not None and (p.dtype != torch.int64 or p.shape != (self.n_images,)
                              or not torch.equal(p.sort().values, torch.arange(self.n_images))):
            raise ckpt.CheckpointError(f"{path} holds a data order that is not a permutation "
                                       f"of the {self.n_images} training images")

    @property
    def seconds(self) -> float:
        return self.seconds0 + time.perf_counter() - self.t0

    def next_batch(self) -> tuple[int, int, torch.Tensor]:
        """``(epoch, position, indices)`` of the next minibatch; a new order every epoch."""
        epoch, position = divmod(self.step, self.steps_per_epoch)
        if position == 0 or self.permutation is None:
            self.permutation = torch.randperm(self.n_images, generator=self.shuffle)
            self.batch_order = None
        if self.batch_order is None:
            self.batch_order = self.permutation.to(self.x.device)
        return epoch, position, distributed.slice_of(self.batch_order, position, self.rank,
                                                     self.world, self.cfg.batch_size)

    def train_one_step(self) -> tuple[int, int, torch.Tensor]:
        """One step of the fast or the reference loop; returns ``(epoch, i, stats)``."""
        try:
            return self._train_one_step()
        except RuntimeError as exc:  # e.g. Adam's step overflowing float32 at lr 3e38
            if "overflow" not in str(exc).lower():
                raise
            raise TrainingDiverged(f"Training stopped at step {self.step + 1}: the update "
                                   f"overflowed float32; "
                                   f"{checkpoint_note(self.last_good)}.") from None

    def _train_one_step(self) -> tuple[int, int, torch.Tensor]:
        epoch, position, idx = self.next_batch()
        if self.cfg.lr_decay_steps:
            for optimizer, lr in zip((self.optG, self.optD),
                                     learning_rates(self.cfg, self.step), strict=True):
                for group in optimizer.param_groups:
                    group["lr"] = lr
        if self.fast is not None:
            stats = self.fast(self.x, idx)
        else:
            stats = step_on(self.stepG, self.stepD, self.optG, self.optD,
                            self.x[idx].to(self.device), self.cfg, self.rank, self.world)
        if self.world > 1:
            stats = distributed.mean_over_processes(stats, self.world)
        self.step += 1
        self.history.add(self.step, epoch, self.seconds, stats)
        if len(self.history.pending) >= self.sync_every:
            self.history.flush(self.last_good)
        if self.average is not None:
            update_average(self.average, self.netG, self.cfg.ema)
        return epoch, position, stats

    def sample(self) -> None:
        self.history.flush(self.last_good)
        self.history.lists["samples"].append((self.step, sample_grid(self.shown, self.noise)))

    def save_checkpoint(self) -> None:
        self.history.flush(self.last_good)
        nets = (("discriminator", self.netD), ("generator", self.netG),
                ("generator's weight average", self.average))
        for name, net in nets:
            tensors = [] if net is None else [*net.parameters(), *net.buffers()]
            if not all(torch.isfinite(t).all() for t in tensors if t.is_floating_point()):
                raise TrainingDiverged(
                    f"Training stopped at step {self.step}: the {name}'s weights or "
                    f"BatchNorm statistics became non-finite although errD and errG were "
                    f"finite; {checkpoint_note(self.last_good)}.")
        ckpt.save_checkpoint(self.checkpoint_path, self.netG, self.netD, self.optG, self.optD,
                             self.scaler, self.cfg, self.step, self.seconds,
                             self.history.lists, self.permutation, self.shuffle, self.device,
                             self.average, self.world)
        self.last_good = str(self.checkpoint_path)

    def finish(self, resume, command: str | None) -> None:
        """Last samples; the average's BatchNorm statistics; the files in ``out``."""
        self.history.flush(self.last_good)
        samples = self.history.lists["samples"]
        if self.cfg.sample_every and (not samples or samples[-1][0] != self.step):
            self.sample()
        wall = time.perf_counter() - self.t0
        # re-estimated from its weights alone, so a resumed run ends with the same statistics
        if self.average is not None:
            recalibrate_batchnorm(self.average, self.cfg.latent_dist, self.cfg.batch_size,
                                  self.cfg.seed)
        if self.out is None:
            return
        self.save_checkpoint()
        ckpt.save_generator(self.out / GENERATOR_NAME, self.shown, self.cfg)
        cfg = self.cfg
        record = {
            "config": asdict(cfg), "device": device_name(self.device),
            "torch": torch.__version__, "speedups": asdict(self.speedups),
            "wall_seconds": wall, "epochs": cfg.epochs, "steps": self.step,
            "generator": "weight average (ema)" if self.average is not None else "online",
            "steps_per_epoch": self.steps_per_epoch, "images": self.n_images,
            "seed": cfg.seed, "world_size": self.world,
            "resumed_from": str(resume) if resume is not None else None,
            "command": command or f"dcgan_lib.train.train({cfg!r})",
            "history": {k: self.history.lists[k] for k in HISTORY_KEYS},
        }
        ckpt.atomic_write_bytes(self.out / RECORD_NAME, json.dumps(record, indent=1).encode())

    def close(self) -> None:
        """Let another run write into ``out``."""
        lock = getattr(self, "lock", None)
        if lock is not None:
            lock.close()
            self.lock = None

    def result(self) -> TrainResult:
        self.netG.eval()
        self.netD.eval()
        return TrainResult(self.shown.eval(), self.netD, self.history.lists, self.cfg,
                           self.speedups, self.device, self.netG)
