"""Training on two CPU processes with torchrun (gloo): the same run as one process with the
whole minibatch when BatchNorm pools its statistics, and a lost process ends the job."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

if not torch.distributed.is_available():
    pytest.skip("this torch has no torch.distributed", allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
TINY = ["--dataset", "mnist", "--limit", "1024", "--width", "8", "--epochs", "1000",
        "--device", "cpu", "--no-progress", "--no-fast", "--log-every", "0"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(processes: int, args: list[str]) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "dcgan_lib.train", *args]
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
            f"--master_port={free_port()}", "-m", "dcgan_lib.train", *args]


def environment(threads: int = 1) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}


def run(processes, out, steps, batch_size, *extra, threads=1):
    args = [*TINY, "--max-steps", str(steps), "--batch-size", str(batch_size),
            "--out", str(out), *extra]
    done = subprocess.run(command(processes, args), env=environment(threads),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    tensors = load_file(out / "checkpoint.safetensors")
    return {k: v for k, v in tensors.items()
            if k.split(".")[0] in ("generator", "discriminator") and v.is_floating_point()
            and "running" not in k}


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def logged(out) -> list[float]:
    """The first step's errD, errG, D(x), D(G(z)) before and after D's update."""
    history = json.loads((out / "record.json").read_text())["history"]
    return [history[key][0] for key in ("errD", "errG", "D_x", "D_G_z1", "D_G_z2")]


def test_one_step_on_two_processes_with_pooled_batchnorm_is_the_one_process_step(tmp_path):
    whole = run(1, tmp_path / "one", 1, 32)
    pooled = run(2, tmp_path / "pooled", 1, 16, "--sync-bn")
    apart = run(2, tmp_path / "apart", 1, 16)
    pooled_gap, apart_gap = largest_difference(whole, pooled), largest_difference(whole, apart)
    # the logged numbers are the whole minibatch's: process 0 records the mean over both
    losses = [logged(tmp_path / name) for name in ("one", "pooled")]
    assert max(abs(a - b) for a, b in zip(*losses, strict=True)) < 1e-6, losses
    # float32 sums split across two processes: a few units in the last place of weights ~0.1
    assert pooled_gap < 1e-6
    # each process normalising its own 16 images is a different computation
    assert apart_gap > 100 * pooled_gap, (pooled_gap, apart_gap)


def test_over_100_steps_two_pooled_processes_stay_within_rounding_of_one(tmp_path):
    whole = run(1, tmp_path / "one", 100, 32)
    pooled = run(2, tmp_path / "pooled", 100, 16, "--sync-bn")
    # the control: the same one-process run with two threads, which changes nothing but the
    # order of float32 sums; the game amplifies any rounding difference over 100 steps
    reordered = run(1, tmp_path / "threads", 100, 32, threads=2)
    control = largest_difference(whole, reordered)
    assert control > 0, "two threads summed in the same order as one: no control"
    assert largest_difference(whole, pooled) < 5 * control


def test_a_killed_process_ends_the_job_within_seconds_and_the_run_resumes(tmp_path):
    out = tmp_path / "run"
    args = [*TINY, "--max-steps", "100000", "--batch-size", "16", "--checkpoint-every",
            "10", "--out", str(out)]
    job = subprocess.Popen(command(2, args), env=environment(), stderr=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoint.safetensors").is_file():
            assert job.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(job.pid)],
                                 capture_output=True, text=True).stdout.split()
        assert len(workers) == 2, workers
        os.kill(int(workers[-1]), signal.SIGKILL)
        killed = time.monotonic()
        err = job.communicate(timeout=60)[1]
        stopped_after = time.monotonic() - killed
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode != 0
    assert stopped_after < 30, f"the job took {stopped_after:.1f} s to stop"
    assert "error: process 0 of 2 " in err and "--resume continues" in err, err[-1500:]
    step = load_file(out / "checkpoint.safetensors")  # the last good checkpoint loads
    assert step
    resumed = subprocess.run(command(2, [*args[:-6], "--max-steps", "200", "--batch-size",
                                         "16", "--out", str(out), "--resume"]),
                             env=environment(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_resuming_with_another_number_of_processes_is_refused(tmp_path):
    run(2, tmp_path / "two", 2, 16)
    done = subprocess.run(command(1, [*TINY, "--max-steps", "4", "--batch-size", "16",
                                      "--out", str(tmp_path / "two"), "--resume"]),
                          env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "written by a run of 2 process(es), this run has 1" in done.stderr


def test_one_start_of_the_processes_trains_each_seed_pooled_and_apart(tmp_path):
    args = [*TINY, "--max-steps", "2", "--batch-size", "16"]
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         f"--master_port={free_port()}", "-m", "dcgan_lib.distributed", "--out", str(tmp_path),
         "--seeds", "0", "1", *args],
        env=environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for seed in (0, 1):
        for name, sync_bn in (("pooled", True), ("apart", False)):
            record = json.loads((tmp_path / f"{name}-seed{seed}" / "record.json").read_text())
            assert (record["world_size"], record["config"]["sync_bn"],
                    record["config"]["seed"], record["steps"]) == (2, sync_bn, seed, 2)


def test_launch_starts_the_processes_as_torchrun_does_and_each_logs_to_its_file(tmp_path):
    from dcgan_lib.distributed import launch

    args = ["--out", str(tmp_path / "runs"), "--seeds", "0", *TINY, "--max-steps", "2",
            "--batch-size", "16"]
    assert launch(2, args, tmp_path) == [0, 0], (tmp_path / "rank0.log").read_text()
    record = json.loads((tmp_path / "runs" / "pooled-seed0" / "record.json").read_text())
    assert record["world_size"] == 2 and record["steps"] == 2
    assert "trained 2 steps" in (tmp_path / "rank0.log").read_text()


def test_each_process_takes_its_slice_of_the_global_minibatch():
    from dcgan_lib.distributed import slice_of

    order = torch.arange(40)
    assert slice_of(order, 0, 0, 2, 4).tolist() == [0, 1, 2, 3]
    assert slice_of(order, 0, 1, 2, 4).tolist() == [4, 5, 6, 7]
    assert slice_of(order, 1, 1, 2, 4).tolist() == [12, 13, 14, 15]
    # on one process, global minibatch `position` is the whole of it
    assert slice_of(order, 1, 0, 1, 8).tolist() == list(range(8, 16))


def test_the_run_draws_its_minibatch_as_slice_of_says():
    from dcgan_lib.distributed import slice_of
    from dcgan_lib.run import Run
    from dcgan_lib.settings import TrainConfig

    cfg = TrainConfig(dataset="mnist", limit=256, width=8, batch_size=16, device="cpu",
                      fast=False, progress=False, log_every=0)
    run = Run(cfg, torch.zeros(256, 1, 32, 32), None, None)
    run.rank, run.world, run.steps_per_epoch, run.step = 1, 2, 8, 3
    epoch, position, idx = run.next_batch()
    assert (epoch, position) == (0, 3)
    assert torch.equal(idx, slice_of(run.batch_order, 3, 1, 2, 16))


def test_arguments_give_back_the_settings_on_the_command_line():
    import argparse

    from dcgan_lib.distributed import arguments
    from dcgan_lib.settings import TrainConfig, add_arguments, from_arguments

    cfg = TrainConfig(dataset="mnist", limit=1024, width=8, epochs=1000, max_steps=20,
                      device="cpu", fast=False, progress=False, log_every=0, lr=1e-3,
                      batch_size=16, out="runs/x")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_arguments(parser.parse_args(arguments(cfg))) == cfg
    assert "--no-fast" in arguments(cfg) and "--dataset" not in arguments(cfg)
