"""The reference training loop and the fast one, timed side by side in one process.

    python -m dcgan_lib.bench            # on the GPU: 64x64x3 at batch 128 and 2048,
                                         # MNIST 32x32 at batch 128 and 1024
    python -m dcgan_lib.bench --quick    # a small version of the same table (the default
                                         # on a machine without CUDA; --full overrides)
    python -m dcgan_lib.bench --ablate   # and the fast loop with each switch off in turn

Both loops run :func:`dcgan_lib.steps.train_step` on synthetic images (uniform in [-1, 1];
the speed of a step does not depend on what the pixels show): the reference loop is
``train(fast=False)`` -- fp32, each minibatch copied from host memory, an ``.item()`` per
number per step -- and the fast loop is ``train(fast=True)`` with the switches
:func:`dcgan_lib.fast.choose_speedups` picks for the device. Each is timed over the same
number of steps after warm-up steps (which include the CUDA-graph capture), between two
device synchronisations.

Model FLOPs utilisation (MFU) is the achieved rate of model FLOPs over the device's peak:
model FLOPs per step are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one
step that computes only the gradients the update needs (both discriminator passes, the
generator pass, their backward passes, without the discriminator weight gradients of the
generator step); the peak is the dense tensor-core rate of the loop's arithmetic (TF32 for
the fp32 reference loop, bf16 or fp16 for the fast one) from :data:`PEAK_TFLOPS`. It is
"n/a" on the CPU and on GPUs missing from that table.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from .devices import device_name, resolve_device
from .fast import CUDA_GRAPH_WARMUP, FastStep, Speedups, choose_speedups, step_on
from .run import build_models, build_optimizers
from .settings import TrainConfig

# Dense peak TFLOP/s by arithmetic, from the vendors' data sheets; the first name that
# occurs in torch.cuda.get_device_name wins, so the more specific names come first.
PEAK_TFLOPS = [
    ("H100 PCIe", {"tf32": 378.0, "bfloat16": 756.0, "float16": 756.0}),
    ("H100 NVL", {"tf32": 417.5, "bfloat16": 835.0, "float16": 835.0}),
    ("H100", {"tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    ("H200", {"tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    ("A100", {"tf32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    ("L40S", {"tf32": 183.0, "bfloat16": 362.0, "float16": 362.0}),
    ("L4", {"tf32": 60.0, "bfloat16": 121.0, "float16": 121.0}),
    ("A10G", {"tf32": 35.0, "bfloat16": 70.0, "float16": 70.0}),
    ("A10", {"tf32": 62.5, "bfloat16": 125.0, "float16": 125.0}),
    ("RTX 4090", {"tf32": 82.6, "bfloat16": 165.2, "float16": 165.2}),
    ("T4", {"tf32": 8.1, "float16": 65.0}),  # no TF32 units: fp32 rate
    ("V100", {"tf32": 15.7, "float16": 125.0}),  # no TF32 units: fp32 rate
]


@dataclass(frozen=True)
class Case:
    """One row of the table: an image shape, a model width and a batch size."""

    name: str
    image_size: int
    channels: int
    width: int
    batch_size: int


FULL = [Case("64x64x3", 64, 3, 64, 128), Case("64x64x3", 64, 3, 64, 2048),
        Case("MNIST 32x32", 32, 1, 32, 128), Case("MNIST 32x32", 32, 1, 32, 1024)]
QUICK = [Case("64x64x3", 64, 3, 8, 8), Case("64x64x3", 64, 3, 8, 32),
         Case("MNIST 32x32", 32, 1, 8, 16), Case("MNIST 32x32", 32, 1, 8, 64)]


@dataclass
class Row:
    case: Case
    reference_images_per_s: float
    fast_images_per_s: float
    gflop_per_step: float
    mfu_reference: float | None
    mfu_fast: float | None

    @property
    def ratio(self) -> float:
        return self.fast_images_per_s / self.reference_images_per_s


def peak_for_name(gpu_name: str, arithmetic: str) -> float | None:
    """Dense peak TFLOP/s of the GPU called ``gpu_name`` for ``arithmetic`` ("tf32",
    "bfloat16", "float16"); None for a GPU or arithmetic missing from the table."""
    for key, peaks in PEAK_TFLOPS:
        if key in gpu_name:
            return peaks.get(arithmetic)
    return None


def peak_tflops(device: torch.device, arithmetic: str) -> float | None:
    """The device's dense peak for ``arithmetic``; None on a CPU or an unknown GPU."""
    if device.type != "cuda":
        return None
    return peak_for_name(torch.cuda.get_device_name(device), arithmetic)


def _config(case: Case, device: torch.device, fast: bool) -> TrainConfig:
    return TrainConfig(image_size=case.image_size, width=case.width,
                       batch_size=case.batch_size, device=str(device), fast=fast,
                       progress=False)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_images(case: Case, n_batches: int, device) -> torch.Tensor:
    """``n_batches`` minibatches of uniform noise in [-1, 1], shape (N, C, H, W)."""
    g = torch.Generator().manual_seed(0)
    n = n_batches * case.batch_size
    x = torch.rand(n, case.channels, case.image_size, case.image_size, generator=g)
    return (x * 2 - 1).to(device)


def model_flops_per_step(case: Case, device: torch.device) -> float:
    """FLOPs of one training step that computes only the gradients the update needs."""
    cfg = _config(case, device, fast=True)
    speedups = Speedups()
    torch.manual_seed(0)
    netG, netD = build_models(cfg, case.channels, device, speedups)
    optG, optD = build_optimizers(netG, netD, cfg, speedups)
    shape = (case.batch_size, case.channels, case.image_size, case.image_size)
    step = FastStep(netG, netD, optG, optD, cfg, speedups, shape, device)
    images = synthetic_images(case, 1, device)
    idx = torch.arange(case.batch_size, device=device)
    with FlopCounterMode(display=False) as counter:
        step(images, idx)
    return float(counter.get_total_flops())


def time_loop(case: Case, device: torch.device, fast: bool, steps: int, warmup: int,
              speedups: Speedups | None = None) -> float:
    """Images per second of the reference (``fast=False``) or fast loop over ``steps``;
    ``speedups`` overrides the fast loop's switches."""
    cfg = _config(case, device, fast)
    speedups = (speedups or choose_speedups(device, fast)).check(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # both loops, as in train()
    torch.manual_seed(0)
    netG, netD = build_models(cfg, case.channels, device, speedups)
    optG, optD = build_optimizers(netG, netD, cfg, speedups)
    n_batches = 4
    b = case.batch_size
    if fast:
        fmt = torch.channels_last if speedups.channels_last else torch.contiguous_format
        home = device if speedups.on_device_data else torch.device("cpu")
        images = synthetic_images(case, n_batches, home).contiguous(memory_format=fmt)
        shape = (b, case.channels, case.image_size, case.image_size)
        step = FastStep(netG, netD, optG, optD, cfg, speedups, shape, device)
        batches = [torch.arange(i * b, (i + 1) * b, device=home) for i in range(n_batches)]

        def one(i):
            return step(images, batches[i % n_batches])
    else:
        images = synthetic_images(case, n_batches, "cpu")

        def one(i):
            real = images[(i % n_batches) * b:(i % n_batches + 1) * b].to(device)
            return step_on(netG, netD, optG, optD, real, cfg).tolist()  # one sync a step

    for i in range(warmup):
        one(i)
    _synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        one(i)
    _synchronize(device)
    return steps * b / (time.perf_counter() - start)


def run(cases: list[Case], device: torch.device, steps: int, warmup: int) -> list[Row]:
    """Time both loops on every case; returns one :class:`Row` per case."""
    rows = []
    fast_speedups = choose_speedups(device, True)
    fast_arith = fast_speedups.autocast if fast_speedups.autocast != "off" else "tf32"
    for case in cases:
        flops = model_flops_per_step(case, device)
        reference = time_loop(case, device, False, steps, warmup)
        fast = time_loop(case, device, True, steps, warmup)
        mfu = []
        for images_per_s, arithmetic in ((reference, "tf32"), (fast, fast_arith)):
            peak = peak_tflops(device, arithmetic)
            achieved = flops * images_per_s / case.batch_size
            mfu.append(achieved / (peak * 1e12) if peak else None)
        rows.append(Row(case, reference, fast, flops / 1e9, mfu[0], mfu[1]))
    return rows


def switched_off(speedups: Speedups) -> list[tuple[str, Speedups]]:
    """``speedups`` with one switch turned off at a time (and what depends on it)."""
    variants = []
    for f in dataclasses.fields(speedups):
        name, value = f.name, getattr(speedups, f.name)
        if name == "grad_scaler" or value in (False, "off"):
            continue  # fp16 without its scaler would underflow: not a fair variant
        if name == "autocast":
            variants.append(("autocast (fp32)", replace(speedups, autocast="off",
                                                        grad_scaler=False)))
        else:
            variants.append((name, replace(speedups, **{name: False})))
    return variants


def ablate(case: Case, device: torch.device, steps: int, warmup: int
           ) -> list[tuple[str, float]]:
    """Images per second of the fast loop with every switch, then with each one off."""
    full = choose_speedups(device, True)
    rows = [("(none: all on)", time_loop(case, device, True, steps, warmup, full))]
    for label, variant in switched_off(full):
        rows.append((label, time_loop(case, device, True, steps, warmup, variant)))
    return rows


def format_ablation(case: Case, rows: list[tuple[str, float]]) -> str:
    base = rows[0][1]
    lines = ["", f"fast loop on {case.name}, width {case.width}, batch {case.batch_size}, "
             f"one switch off at a time:", "",
             "| switch off | img/s | vs all on |", "|---|---|---|"]
    lines += [f"| {label} | {ips:.1f} | {ips / base:.2f} |" for label, ips in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def format_table(rows: list[Row], device: torch.device, quick: bool, steps: int) -> str:
    speedups = choose_speedups(device, True)
    lines = [f"DCGAN training throughput on {device_name(device)}, torch {torch.__version__}",
             f"fast loop: {speedups.describe()}"]
    if quick:
        lines.append(f"QUICK run: width 8, small batches, {steps} timed steps per loop; not "
                     f"the full benchmark (run on a GPU without --quick for that)")
    lines += ["",
              "| images | width | batch | reference img/s | fast img/s | fast/reference "
              "| GFLOP/step | MFU reference | MFU fast |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r.case
        lines.append(f"| {c.name} | {c.width} | {c.batch_size} | {r.reference_images_per_s:.1f} "
                     f"| {r.fast_images_per_s:.1f} | {r.ratio:.2f} | {r.gflop_per_step:.2f} "
                     f"| {_pct(r.mfu_reference)} | {_pct(r.mfu_fast)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table; returns the exit status (2 for bad arguments)."""
    p = argparse.ArgumentParser(prog="python -m dcgan_lib.bench",
                                description="Time the reference and the fast training loop.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="small models, batches and step counts (default without CUDA)")
    size.add_argument("--full", action="store_true",
                      help="the full-size table even without CUDA (slow on a CPU)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--ablate", action="store_true",
                   help="also time the fast loop with each switch off in turn")
    p.add_argument("--steps", type=int, default=None, help="timed steps per loop")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps before timing")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        device = resolve_device(args.device)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    quick = args.quick or (device.type != "cuda" and not args.full)
    steps = args.steps if args.steps is not None else (3 if quick else 50)
    warmup = args.warmup if args.warmup is not None else (1 if quick else CUDA_GRAPH_WARMUP + 5)
    for name, value, low in (("steps", steps, 1), ("warmup", warmup, 0)):
        if value < low:
            print(f"error: --{name} must be at least {low}, got {value}", file=sys.stderr)
            return 2
    if device.type == "cuda" and warmup <= CUDA_GRAPH_WARMUP:
        warmup = CUDA_GRAPH_WARMUP + 1  # the capture happens inside the warm-up
    rows = run(QUICK if quick else FULL, device, steps, warmup)
    print(format_table(rows, device, quick, steps))
    if args.ablate:
        for case in (QUICK if quick else FULL):
            print(format_ablation(case, ablate(case, device, steps, warmup)))
    bad = [r for r in rows if not (math.isfinite(r.ratio) and r.ratio > 0)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
