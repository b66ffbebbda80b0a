"""The fast loop: the same two steps (:func:`dcgan_lib.steps.train_step`), wrapped in speed-ups.

Each speed-up is one switch in :class:`Speedups`; :func:`choose_speedups` turns on what a
device supports, and none of them changes the step's arithmetic beyond rounding:

- the whole training set on the device as one tensor, minibatches taken by index (no
  DataLoader, no worker processes), and the step's numbers copied to the host every
  ``SYNC_EVERY`` steps instead of every step, so the host never waits for the device;
- channels-last tensors (CUDA): cuDNN's fastest layout for convolutions;
- autocast (CUDA) around each network's forward pass (:class:`Autocast`): bf16 on GPUs that
  have it (compute capability 8.0 and up), fp16 with a ``GradScaler`` on those that do not
  (Colab's T4); the losses, backward passes and Adam stay in fp32;
- fused Adam (CUDA): one kernel updates every parameter;
- the whole step, latents included, captured once in a CUDA graph and replayed (CUDA with
  bf16), which removes the launch overhead of its dozens of small kernels.

A graph is captured by hand (three warm-up steps on a side stream, then capture, as the
PyTorch CUDA-graphs documentation does) rather than with ``torch.compile``: it costs a
second instead of a compile of minutes and needs no compiler toolchain in Colab. fp16 with a
``GradScaler`` is not captured, because the scaler reads its overflow flag on the host.
On the CPU the fast loop computes exactly the reference loop's numbers (tested bit for bit).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from .latent import noise as latent_noise
from .steps import train_step

SYNC_EVERY = 50  # steps between copies of the step's numbers to the host
CUDA_GRAPH_WARMUP = 3  # eager steps on a side stream before the capture
AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Speedups:
    """The fast loop's switches; :func:`choose_speedups` picks them for a device."""

    on_device_data: bool = False  # dataset on the device, the step's numbers synced rarely
    channels_last: bool = False
    autocast: str = "off"  # "off", "bfloat16" or "float16"
    grad_scaler: bool = False  # only with float16
    fused_adam: bool = False
    cuda_graph: bool = False

    def check(self, device: torch.device) -> Speedups:
        """Raise ``ValueError`` for switches that cannot go together or on ``device``."""
        if self.autocast not in ("off", *AUTOCAST_DTYPES):
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

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

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
        return Speedups(on_device_data=True)
    bf16 = torch.cuda.get_device_capability(device)[0] >= 8
    return Speedups(on_device_data=True, channels_last=True,
                    autocast="bfloat16" if bf16 else "float16", grad_scaler=not bf16,
                    fused_adam=True, cuda_graph=bf16)


def share(z: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Process ``rank``'s slice of latents drawn for all ``world`` processes at once, so that
    N processes use the latents one process would draw for the whole minibatch."""
    if world == 1:
        return z
    b = z.shape[0] // world
    return z[rank * b:(rank + 1) * b]


def step_on(netG, netD, optimizerG, optimizerD, real, cfg, rank: int = 0, world: int = 1):
    """:func:`train_step` on ``real`` with fresh latents and ``cfg``'s losses and labels:
    the step both loops run (this process's slice of the latents of all ``world``)."""
    z = share(latent_noise(real.shape[0] * world, cfg.latent_dim, cfg.latent_dist,
                           real.device), rank, world)
    return train_step(netG, netD, optimizerG, optimizerD, real, z, cfg.g_loss,
                      cfg.real_label, cfg.fake_label)


class Autocast(nn.Module):
    """``module`` with its forward pass under autocast, returning fp32; its parameters are
    the module's. With a ``scaler`` (fp16), the gradient that flows back into the output is
    multiplied by the loss scale: every loss of the step is a function of D's output, so
    this is the ``scaler.scale(loss).backward()`` of the AMP recipe, done in one place."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, cache_enabled: bool = True,
                 scaler=None):
        super().__init__()
        self.module, self.dtype, self.cache_enabled = module, dtype, cache_enabled
        self.scaler = scaler

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # no weight cache under a CUDA graph: a graph must not capture a cache it cannot refill
        with torch.autocast(x.device.type, dtype=self.dtype, cache_enabled=self.cache_enabled):
            out = self.module(x).float()
        return _ScaleGradient.apply(out, self.scaler) if self.scaler is not None else out


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by the GradScaler's scale."""

    @staticmethod
    def forward(ctx, x, scaler):
        ctx.scaler = scaler
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.scaler.scale(grad), None


class ScaledOptimizer:
    """An optimiser whose ``step()`` goes through a GradScaler: the gradients are unscaled,
    and the step is skipped when they overflowed (fp16)."""

    def __init__(self, optimizer, scaler):
        self.optimizer, self.scaler = optimizer, scaler

    def step(self) -> None:
        self.scaler.step(self.optimizer)


class FastStep:
    """:func:`train_step` with the speed switches; a call returns the step's numbers
    (:data:`dcgan_lib.steps.STATS`) as a tensor on the device.

    ``images`` is the whole training set on the device; a call copies the minibatch ``idx``
    (a device tensor of indices) into a fixed input buffer and runs (or replays) the step.
    """

    def __init__(self, netG, netD, optimizerG, optimizerD, cfg, speedups: Speedups,
                 batch_shape: tuple, device: torch.device, rank: int = 0, world: int = 1):
        self.optG, self.optD, self.cfg, self.device = optimizerG, optimizerD, cfg, device
        self.rank, self.world = rank, world
        self.real = torch.empty(batch_shape, device=device).contiguous(
            memory_format=speedups.memory_format)
        self.scaler = torch.amp.GradScaler(device.type) if speedups.grad_scaler else None
        self.netG, self.netD = netG, netD
        if speedups.autocast != "off":
            dtype, cache = AUTOCAST_DTYPES[speedups.autocast], not speedups.cuda_graph
            self.netG = Autocast(netG, dtype, cache)
            self.netD = Autocast(netD, dtype, cache, self.scaler)
        if self.scaler is not None:
            self.optG = ScaledOptimizer(optimizerG, self.scaler)
            self.optD = ScaledOptimizer(optimizerD, self.scaler)
        self.use_graph = speedups.cuda_graph
        self.graph, self.graph_stats, self.warmup_left = None, None, CUDA_GRAPH_WARMUP

    def body(self) -> torch.Tensor:
        """Fresh latents, then the two steps on ``self.real``."""
        stats = step_on(self.netG, self.netD, self.optG, self.optD, self.real, self.cfg,
                        self.rank, self.world)
        if self.scaler is not None:
            self.scaler.update()  # a smaller scale after an overflow, a larger one later
        return stats

    def __call__(self, images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        self.real.copy_(images[idx])
        if not self.use_graph:
            return self.body()
        if self.graph is None and self.warmup_left > 0:
            self.warmup_left -= 1
            return self._side_stream_step()
        if self.graph is None:
            self._capture()
        self.graph.replay()
        return self.graph_stats.clone()  # the graph's output is overwritten by each replay

    def _side_stream_step(self) -> torch.Tensor:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            stats = self.body()
        torch.cuda.current_stream(self.device).wait_stream(side)
        return stats

    def _capture(self) -> None:
        self.netG.zero_grad(set_to_none=True)
        self.netD.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.graph_stats = self.body()
