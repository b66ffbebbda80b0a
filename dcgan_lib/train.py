"""Training a DCGAN: the loop around :func:`dcgan_lib.steps.train_step`, and its command line.

Every step is pytorch/examples' ``dcgan/main.py`` step: (1) the discriminator on a real
batch and on ``fake.detach()``, (2) the generator through the freshly updated
discriminator. ``fast=False`` runs it as the plain fp32 reference loop (minibatches copied
from host memory, the numbers read back every step); ``fast=True`` (the default) runs it
through :class:`dcgan_lib.fast.FastStep`, the same arithmetic with the speed-ups a device
supports. ``ema > 0`` also keeps a weight average of the generator
(:mod:`dcgan_lib.average`); the samples, the saved generator and ``TrainResult.generator``
are then the average.

Minibatches have ``batch_size`` images; the last, partial minibatch of an epoch is dropped,
so an epoch is ``N // batch_size`` steps. ``step`` counts finished updates from 1. Without a
progress bar the loop prints pytorch/examples' line every ``log_every`` steps::

    [0/5][100/468] Loss_D: 0.8123 Loss_G: 2.0456 D(x): 0.7012 D(G(z)): 0.2410 / 0.1502

Command line (``--help`` lists every setting of :class:`dcgan_lib.settings.TrainConfig`)::

    python -m dcgan_lib.train --dataset mnist --epochs 5 --batch-size 128 --out runs/mnist
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path

import torch

from . import data as data_mod
from . import distributed
from .devices import device_name
from .fast import Speedups
from .history import TrainingDiverged
from .run import CHECKPOINT_NAME, Run, TrainResult
from .settings import TrainConfig, add_arguments, from_arguments
from .steps import log_line

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "main", "train"]


def _progress_bar(cfg: TrainConfig, total: int, initial: int, quiet: bool = False):
    from tqdm.auto import tqdm

    disable = quiet or not cfg.progress or bool(os.environ.get("CI"))
    return tqdm(total=total, initial=initial, disable=disable, unit="step",
                desc=f"DCGAN {cfg.dataset}", dynamic_ncols=True)


def train(cfg: TrainConfig, images: torch.Tensor | None = None, resume=None,
          speedups: Speedups | None = None, command: str | None = None) -> TrainResult:
    """Train a DCGAN with the settings in ``cfg``.

    ``images``: train on these float images ``(N, C, image_size, image_size)`` in [-1, 1]
    instead of ``cfg.dataset``. ``resume``: a checkpoint path to continue from (``epochs``
    and ``max_steps`` count from the start of the original run). ``speedups``: override the
    switches :func:`dcgan_lib.fast.choose_speedups` picks. ``command``: for the record.

    With ``cfg.out`` it writes ``generator.safetensors``, ``record.json`` and
    ``checkpoint.safetensors`` (every ``checkpoint_every`` steps and at the end). Raises
    ``ValueError``/``TypeError`` for bad settings and :class:`TrainingDiverged` when a loss
    turns NaN or infinite.
    """
    run = Run(cfg, images, resume, speedups)
    bar = _progress_bar(cfg, run.total, run.step, quiet=run.rank > 0)
    try:
        while run.step < run.total:
            epoch, i, stats = run.train_one_step()
            bar.update(1)
            if bar.disable and cfg.log_every and run.step % cfg.log_every == 0 \
                    and run.rank == 0:
                print(log_line(epoch, cfg.epochs, i, run.steps_per_epoch, stats), flush=True)
            elif run.history.pending == [] and not bar.disable:
                h = run.history.lists
                bar.set_postfix(Loss_D=f"{h['errD'][-1]:.3f}", Loss_G=f"{h['errG'][-1]:.3f}",
                                refresh=False)
            if cfg.sample_every and run.step % cfg.sample_every == 0:
                run.sample()
            if run.checkpoint_path is not None and cfg.checkpoint_every \
                    and run.step % cfg.checkpoint_every == 0 and run.step < run.total:
                run.save_checkpoint()
        run.finish(resume, command)
    finally:
        bar.close()
        run.close()
    return run.result()


class _UsageError(Exception):
    pass


class _Stopped(Exception):
    """torchrun ended this process (SIGTERM) because another one failed."""


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text


def _stopped(signum, frame):
    raise _Stopped


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dcgan_lib.train",
                description="Train a DCGAN (pytorch/examples dcgan, with a fast loop).")
    add_arguments(p)
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default: OUT/checkpoint.safetensors)")
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
    resume = str(Path(args.out) / CHECKPOINT_NAME) if args.resume is True else args.resume
    rank, world = distributed.world()
    if world > 1:  # torchrun stops the others with SIGTERM when one process fails
        signal.signal(signal.SIGTERM, _stopped)
    command = "python -m dcgan_lib.train " + shlex.join(argv)
    try:
        result = train(from_arguments(args), resume=resume, command=command)
    except (ValueError, TypeError, data_mod.DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TrainingDiverged, OSError) as exc:  # diverged, or the disk failed mid-run
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: interrupted; --resume continues from the last checkpoint in "
              f"{args.out}", file=sys.stderr)
        return 130
    except (RuntimeError, MemoryError, _Stopped) as exc:
        if world == 1 and _out_of_memory(exc):
            print(f"error: the networks and data do not fit in memory with latent_dim="
                  f"{args.latent_dim}, width={args.width}, batch_size={args.batch_size}; "
                  f"use smaller values", file=sys.stderr)
            return 2
        if world == 1:
            raise
        why = "was stopped because another process failed" if isinstance(exc, _Stopped) \
            else f"lost its peers ({(str(exc).strip().splitlines() or ['?'])[0][:160]})"
        print(f"error: process {rank} of {world} {why}; --resume continues from the last "
              f"checkpoint in {args.out}", file=sys.stderr)
        return 1
    if rank > 0:
        return 0
    h = result.history
    print(f"trained {h['step'][-1] if h['step'] else 0} steps on {device_name(result.device)}"
          f" in {h['seconds'][-1] if h['seconds'] else 0:.1f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
