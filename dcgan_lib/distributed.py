"""Training on several processes: torchrun's environment, DistributedDataParallel around the
two networks, and BatchNorm statistics pooled over every process's batch.

``torchrun --nproc_per_node=N -m dcgan_lib.train ...`` starts N processes. Each takes its own
``batch_size`` images of every global minibatch of ``N * batch_size`` (the same seeded order
in every process) and its slice of the same latents, runs the same two steps, and
``DistributedDataParallel`` averages the gradients between the processes during each
backward pass, so every process applies the same Adam update. BatchNorm is the one layer
that sees the batch as a whole: without ``sync_bn`` each process normalises with the
statistics of its own ``batch_size`` images (chapter 3's noise at that batch size); with it,
:class:`PooledBatchNorm2d` uses the statistics of all ``N * batch_size``, and N processes
compute what one process computes with the whole minibatch.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import warnings
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_reduce

TIMEOUT = timedelta(seconds=60)  # a collective waiting longer than this for a peer fails


def world() -> tuple[int, int]:
    """``(rank, world_size)`` from torchrun's environment (``(0, 1)`` without it)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def start(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun describes (NCCL on CUDA, gloo elsewhere)."""
    rank, size = world()
    if size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=TIMEOUT)
    return rank, size


def local_device(device: torch.device) -> torch.device:
    """On CUDA, the GPU torchrun assigned to this process (``LOCAL_RANK``)."""
    if device.type != "cuda" or world()[1] == 1:
        return device
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def slice_of(order: torch.Tensor, position: int, rank: int, world: int,
             batch_size: int) -> torch.Tensor:
    """Process ``rank``'s ``batch_size`` indices in global minibatch ``position`` of
    the epoch's ``order``: images ``rB`` to ``(r + 1)B - 1`` of its ``world * B``."""
    first = position * world + rank
    return order[first * batch_size:(first + 1) * batch_size]


def _sum_over_processes(t: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # its successor in torch has no backward pass yet
        warnings.simplefilter("ignore", FutureWarning)
        return all_reduce(t)


def pooled_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per channel, the mean and (biased) variance of ``x`` ``(B, C, H, W)`` over
    every process's batch together, and the number of values ``n`` they pool."""
    c = x.shape[1]
    count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
    sums = _sum_over_processes(
        torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), count]))
    n = sums[-1]
    mean = sums[:c] / n
    return mean, sums[c:2 * c] / n - mean * mean, n


class PooledBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of every process's batch together.

    Each process sums its values and their squares per channel; one all-reduce adds the
    sums up, so every process divides by the same mean and (biased) variance. The
    all-reduce is differentiable, so the backward pass pools the gradients of the
    statistics in the same way. (``torch.nn.SyncBatchNorm`` computes the same, on GPUs.)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        mean, var, n = pooled_moments(x)
        self._track(mean, var, n)
        shape = (1, x.shape[1], 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y

    @torch.no_grad()
    def _track(self, mean: torch.Tensor, var: torch.Tensor, n: torch.Tensor) -> None:
        """The running statistics, updated as BatchNorm2d does (unbiased variance)."""
        self.num_batches_tracked += 1
        m = self.momentum if self.momentum is not None \
            else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean, m)
        self.running_var.lerp_(var * n / (n - 1), m)


def pool_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm2d replaced by a :class:`PooledBatchNorm2d` that keeps
    its parameters and running statistics."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            pooled = PooledBatchNorm2d(child.num_features, child.eps, child.momentum,
                                       child.affine, child.track_running_stats)
            pooled.load_state_dict(child.state_dict())
            setattr(module, name, pooled.to(child.running_mean.device))
        else:
            pool_batchnorm(child)
    return module


class SplitDiscriminator(nn.Module):
    """The discriminator inside DDP for its own update, and called directly for G's.

    D's update feeds it images that need no gradient (the real batch and
    ``fake.detach()``): through DDP, whose backward pass averages D's gradients between
    the processes. G's update feeds it fakes that do need one, and asks only for G's
    gradients: DDP would wait for D's, so that call goes to the same weights without
    DDP."""

    def __init__(self, ddp: nn.parallel.DistributedDataParallel):
        super().__init__()
        self.ddp = ddp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ddp.module(x) if x.requires_grad else self.ddp(x)


def mean_over_processes(stats: torch.Tensor, world: int) -> torch.Tensor:
    """The mean over every process of ``stats``, each process's means over its equal slice
    of the minibatch: the numbers of the whole minibatch, as one process would log them."""
    total = stats.detach().clone()
    dist.all_reduce(total)
    return total / world


def wrap(netG: nn.Module, netD: nn.Module, device: torch.device):
    """The two networks as the training step calls them, in a run of N processes."""
    ids = [device.index] if device.type == "cuda" else None
    ddpG = nn.parallel.DistributedDataParallel(netG, device_ids=ids)
    ddpD = nn.parallel.DistributedDataParallel(netD, device_ids=ids)
    return ddpG, SplitDiscriminator(ddpD)


def launch(processes: int, args: list[str], log_dir) -> list[int]:
    """What ``torchrun --nproc_per_node=processes -m dcgan_lib.distributed ARGS`` does on
    one machine, without torchrun's own launcher process: start ``processes`` copies, each
    told its ``RANK``, the ``WORLD_SIZE`` and the *rendezvous* (the address and free port
    where rank 0 listens, so that the processes can find each other), one thread each.
    Each writes its output to ``log_dir/rank{r}.log``; returns their exit codes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shared = {**os.environ, "WORLD_SIZE": str(processes), "MASTER_ADDR": "127.0.0.1",
              "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
    shared.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle threads sleep, leave the cores
    logs = [open(Path(log_dir) / f"rank{rank}.log", "w") for rank in range(processes)]
    try:
        jobs = [subprocess.Popen([sys.executable, "-m", "dcgan_lib.distributed", *args],
                                 env={**shared, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                                 stdout=log, stderr=subprocess.STDOUT)
                for rank, log in enumerate(logs)]
        return [job.wait() for job in jobs]
    finally:
        for log in logs:
            log.close()


def arguments(cfg) -> list[str]:
    """The ``python -m dcgan_lib.train`` options that give ``cfg`` (a
    :class:`~dcgan_lib.settings.TrainConfig`): one per setting that is not its default."""
    argv = []
    for f in fields(cfg):
        value, option = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if value == f.default:
            continue
        if isinstance(value, bool):
            argv.append(option if value else "--no-" + option[2:])
        elif value is None:
            raise ValueError(f"{f.name}=None has no command-line form (its default is "
                             f"{f.default!r})")
        else:
            argv += [option, str(value)]
    return argv


def main(argv: list[str] | None = None) -> int:
    """``torchrun --nproc_per_node=N -m dcgan_lib.distributed --out DIR --seeds 0 1 2 ...``:
    ``python -m dcgan_lib.train ...`` (the other options) once per seed with ``--sync-bn``
    and once without, in one start of the N processes, into ``DIR/pooled-seedS`` and
    ``DIR/apart-seedS``. Chapter 7 compares them with one process; starting N Python
    processes costs more than these short runs."""
    from .train import main as train_main

    parser = argparse.ArgumentParser(prog="python -m dcgan_lib.distributed")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args, rest = parser.parse_known_args(argv)
    for seed in args.seeds:
        for name, switch in (("pooled", "--sync-bn"), ("apart", "--no-sync-bn")):
            out = Path(args.out) / f"{name}-seed{seed}"
            status = train_main([*rest, switch, "--seed", str(seed), "--out", str(out)])
            if status:
                return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
