"""What a run records as it goes: the step's numbers, checked to be finite as they reach the
host, and sample grids drawn from fixed latents."""

from __future__ import annotations

import math

import torch

from .latent import noise as latent_noise
from .steps import HISTORY_KEYS, STATS

N_SAMPLES = 64  # images in the fixed-noise sample grid


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the loss."""


def fixed_noise(cfg, device) -> torch.Tensor:
    """The 64 latents the sample grids are drawn from, the same for every run with a seed."""
    g = torch.Generator().manual_seed(cfg.seed)
    return latent_noise(N_SAMPLES, cfg.latent_dim, cfg.latent_dist, generator=g).to(device)


@torch.no_grad()
def sample_grid(netG, noise: torch.Tensor) -> torch.Tensor:
    """uint8 images ``(64, C, H, W)`` from ``noise``, with batch statistics as in training;
    the generator's running averages are put back, so sampling never changes the run."""
    saved = {k: v.clone() for k, v in netG.named_buffers()}
    was_training = netG.training
    netG.train()
    images = netG(noise)
    for k, v in netG.named_buffers():
        v.copy_(saved[k])
    netG.train(was_training)
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu() \
        .contiguous()


class History:
    """The per-step numbers of a run: kept on the device, copied to the host in batches,
    and checked to be finite as they arrive."""

    def __init__(self, saved: dict | None = None):
        self.lists = saved or {**{k: [] for k in HISTORY_KEYS}, "samples": []}
        self.pending: list[tuple[int, int, float, torch.Tensor]] = []

    def add(self, step: int, epoch: int, seconds: float, stats: torch.Tensor) -> None:
        self.pending.append((step, epoch, seconds, stats))

    def flush(self, last_good: str | None) -> None:
        if not self.pending:
            return
        rows = torch.stack([s for *_, s in self.pending]).double().cpu().tolist()
        done, self.pending = self.pending, []
        for (step, epoch, seconds, _), values in zip(done, rows, strict=True):
            for name, value in zip(STATS[:2], values[:2], strict=True):
                if not math.isfinite(value):
                    raise TrainingDiverged(f"Training stopped at step {step}: {name} is "
                                           f"{value}; {checkpoint_note(last_good)}.")
            for key, value in zip(HISTORY_KEYS, (step, epoch, *values, seconds), strict=True):
                self.lists[key].append(value)


def checkpoint_note(last_good: str | None) -> str:
    if last_good is None:
        return "no checkpoint was written"
    return f"the last good checkpoint is {last_good}"
