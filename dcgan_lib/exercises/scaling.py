"""The checks of chapter 7's exercises (scaling): BatchNorm's noise on N processes, pooled
statistics, and what ``--batch-size`` means under torchrun."""

from __future__ import annotations

import torch

from dcgan_lib import theory
from dcgan_lib.exercises._core import as_float, call, exercise, fail, show


@exercise("7.1", "BatchNorm's noise on each process", "compute", "per_process_noise")
def check_per_process_noise(per_process_noise):
    """(2b - 1) / b^2 with b = global_batch // processes, or b = global_batch with sync_bn."""
    cases = [  # (global batch, processes, sync_bn, why)
        (64, 2, False, "each of 2 processes normalises over its own 32 images"),
        (64, 1, False, "one process sees the whole minibatch of 64"),
        (128, 4, False, "each of 4 processes sees 32 images"),
        (128, 4, True, "with sync_bn every process uses the statistics of all 128"),
        (16, 8, False, "each of 8 processes sees 2 images"),
        (96, 3, True, "with sync_bn the pooled batch is the whole 96"),
    ]
    for global_batch, processes, sync_bn, why in cases:
        what = f"per_process_noise({global_batch}, {processes}, sync_bn={sync_bn})"
        got = as_float(call(per_process_noise, "per_process_noise", global_batch,
                            processes, sync_bn), what)
        b = global_batch if sync_bn else global_batch // processes
        expected = theory.biased_variance_relative_mse(b)
        if abs(got - expected) > 1e-9 * max(1.0, expected):
            fail(f"{what} returned {got:.6g}, expected {expected:.6g}: {why}, and "
                 f"BatchNorm's biased variance of b values has relative MSE (2b - 1) / b^2")
    return (f"{len(cases)} splits of a minibatch, with and without sync_bn; at 64 over 8 "
            f"processes the noise is {theory.biased_variance_relative_mse(8):.4f} against "
            f"{theory.biased_variance_relative_mse(64):.4f} pooled")


@exercise("7.2", "Pooled statistics from per-process sums", "implement", "pooled_mean_var")
def check_pooled_mean_var(pooled_mean_var):
    """mean = sum / n and var = sum of squares / n - mean^2 over all processes together."""
    g = torch.Generator().manual_seed(7)
    shards = [  # each process's batch (B_r, C): equal sizes, unequal sizes, offsets
        [torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(2)],
        [torch.randn(b, 2, generator=g, dtype=torch.float64) * 3 + 5 for b in (1, 5, 10)],
        [torch.randn(8, 1, generator=g, dtype=torch.float64) + shift for shift in (-4, 4)],
    ]
    for parts in shards:
        sums = torch.stack([p.sum(dim=0) for p in parts])  # (N, C)
        squares = torch.stack([(p * p).sum(dim=0) for p in parts])  # (N, C)
        counts = torch.tensor([float(len(p)) for p in parts], dtype=torch.float64)  # (N,)
        what = (f"pooled_mean_var on {len(parts)} processes with "
                f"{', '.join(str(len(p)) for p in parts)} images")
        got = call(pooled_mean_var, "pooled_mean_var", sums, squares, counts)
        if not (isinstance(got, tuple | list) and len(got) == 2
                and all(isinstance(t, torch.Tensor) for t in got)):
            fail(f"{what} returned {show(got)}; return a pair (mean, var) of tensors of "
                 f"shape (C,)")
        whole = torch.cat(parts)
        mean, var = whole.mean(dim=0), whole.var(dim=0, unbiased=False)
        if got[0].shape != mean.shape or not torch.allclose(got[0].double(), mean):
            fail(f"{what} gave a mean {show(got[0])}, expected {show(mean)}: add the sums "
                 f"of all processes and divide by the number of all their images")
        if got[1].shape != var.shape or not torch.allclose(got[1].double(), var):
            fail(f"{what} gave a variance {show(got[1])}, expected {show(var)}, the "
                 f"biased variance of all the images together: sum of squares / n - mean^2")
    return "the mean and biased variance of all processes' images together, equal or not"


@exercise("7.3", "Measure the noise on each process", "measure", "measure_split_noise")
def check_measure_split_noise(measure_split_noise):
    """Mean over processes and trials of (sigma_b^2 - 1)^2 for slices of rows of x."""
    g = torch.Generator().manual_seed(8)
    cases = [(torch.randn(8, 5, generator=g, dtype=torch.float64), 2),
             (torch.randn(12, 3, generator=g, dtype=torch.float64), 3),
             (torch.randn(6, 4, generator=g, dtype=torch.float64), 1)]
    for x, processes in cases:
        what = f"measure_split_noise(x of shape {tuple(x.shape)}, processes={processes})"
        got = as_float(call(measure_split_noise, "measure_split_noise", x.clone(),
                            processes), what)
        b = x.shape[0] // processes
        v = x.reshape(processes, b, -1).var(dim=1, unbiased=False)
        expected = ((v - 1.0) ** 2).mean().item()
        if abs(got - expected) > 1e-6 * max(1.0, expected):
            fail(f"{what} returned {got:.6g}, expected {expected:.6g}: split the {x.shape[0]} "
                 f"rows into {processes} consecutive slices of {b}, take the biased variance "
                 f"of each column of each slice, and average (variance - 1)^2")
    x = torch.randn(64, 20_000, generator=g, dtype=torch.float64)
    measured = as_float(call(measure_split_noise, "measure_split_noise", x, 4),
                        "measure_split_noise on Gaussian minibatches")
    return (f"exact on three splits; on 20,000 Gaussian minibatches of 64 over 4 processes "
            f"it measures {measured:.4f} against (2b - 1) / b^2 = "
            f"{theory.biased_variance_relative_mse(16):.4f} at b = 16")


CASES_7_4 = [(4, 32, False), (4, 32, True), (2, 64, False), (8, 16, True), (1, 128, False),
             (3, 20, False)]  # (processes, batch_size, sync_bn)


@exercise("7.4", "What --batch-size means", "explain", "answer_7_4")
def check_answer_7_4(answer_7_4):
    for processes, batch_size, sync_bn in CASES_7_4:
        what = f"answer_7_4({processes}, {batch_size}, sync_bn={sync_bn})"
        got = call(answer_7_4, "answer_7_4", processes, batch_size, sync_bn)
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(f"{what} returned {show(got)}; return a pair (images in one gradient "
                 f"step, images one BatchNorm layer normalises over)")
        gradient, norm = (as_float(v, what) for v in got)
        expected = (processes * batch_size, processes * batch_size if sync_bn else batch_size)
        if (gradient, norm) != expected:
            fail(f"{what} returned ({gradient:g}, {norm:g}), expected {expected}: "
                 f"--batch-size is per process and DDP averages the gradient over every "
                 f"process; BatchNorm pools its statistics only with --sync-bn")
    return f"right in all {len(CASES_7_4)} cases"
