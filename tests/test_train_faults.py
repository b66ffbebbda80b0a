"""Training under faults: bad input, NaN losses, and a process killed while it saves."""

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from dcgan_lib import checkpoint as ckpt
from dcgan_lib import data
from dcgan_lib.checkpoint import load_checkpoint, load_generator
from dcgan_lib.fast import choose_speedups
from dcgan_lib.run import build_models, build_optimizers
from dcgan_lib.train import TrainConfig, TrainingDiverged, main, train

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides) -> TrainConfig:
    settings = dict(width=8, limit=256, batch_size=32, epochs=1, device="cpu", progress=False)
    settings.update(overrides)
    return TrainConfig(**settings)


TINY_ARGS = ["--width", "8", "--limit", "64", "--batch-size", "32", "--epochs", "1",
             "--device", "cpu", "--no-progress"]


# ---------------------------------------------------------------------------------------
# bad input: one sentence naming the value, exit status 2


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A real checkpoint and generator, and damaged or foreign files beside them."""
    root = tmp_path_factory.mktemp("files")
    good = root / "good"
    assert main(TINY_ARGS + ["--max-steps", "1", "--out", str(good)]) == 0
    real = good / "checkpoint.safetensors"
    blob = real.read_bytes()
    (root / "truncated.safetensors").write_bytes(blob[: len(blob) // 2])
    (root / "empty.safetensors").write_bytes(b"")
    (root / "noise.safetensors").write_bytes(os.urandom(4096))
    torch.save({"generator": torch.zeros(3)}, root / "pickle.pt")
    save_file({"weight": torch.zeros(3)}, root / "foreign.safetensors")
    # the right file, its settings edited to latent_dim 64: the weights say 100
    tensors, meta = ckpt.load(real)
    meta["config"]["latent_dim"] = 64
    ckpt.save(root / "relabelled.safetensors", tensors, meta)
    tensors, meta = ckpt.load(real)
    del meta["history"]
    ckpt.save(root / "no-history.safetensors", tensors, meta)
    crafted = {  # one thing wrong in each, the rest the real checkpoint
        "config-list": lambda t, m: m.update(config=[1, 2]),
        "float-order": lambda t, m: t.update(permutation=t["permutation"].double()),
        "order-out-of-range": lambda t, m: t.update(permutation=t["permutation"] + 1),
        "moment-shape": lambda t, m: t.update(
            {"optimizer_d.0.exp_avg": torch.zeros(3)}),
        "history-abc": lambda t, m: m["history"].update(errD=["a"]),
    }
    for name, damage in crafted.items():
        tensors, meta = ckpt.load(real)
        damage(tensors, meta)
        ckpt.save(root / f"{name}.safetensors", tensors, meta)
    (root / "a-file").write_text("not a folder")
    return root


def bad_data_folder(root: Path) -> Path:
    """DCGAN_DATA with the four MNIST files, the training images cut off after 4 kB."""
    folder = root / "data" / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    source = data.find_local("mnist")
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes((source / name).read_bytes())
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        (source / "train-images-idx3-ubyte.gz").read_bytes()[:4096])
    return root / "data"


F = "{files}"  # replaced by the fixture's folder in each case
BAD_INPUT = [  # (argv after the tiny settings, a piece the one-line message must contain)
    (["--image-size", "30"], "got 30"),
    (["--image-size", "512"], "got 512"),
    (["--epochs", "0"], "epochs must be a positive integer, got 0"),
    (["--epochs", "-2"], "got -2"),
    (["--epochs", "two"], "'two'"),
    (["--batch-size", "0"], "batch_size must be a positive integer, got 0"),
    (["--batch-size", "-32"], "got -32"),
    (["--batch-size", "100"], "batch_size 100 is larger than the 64 training images"),
    (["--dataset", "cifar100"], "got 'cifar100'"),
    (["--device", "tpu"], "got 'tpu'"),
    (["--device", "cuda:banana"], "got 'cuda:banana'"),
    (["--lr", "0"], "lr must be a positive finite number, got 0.0"),
    (["--lr", "-0.1"], "got -0.1"),
    (["--lr", "nan"], "got nan"),
    (["--beta1", "1.0"], "beta1 must be a number in [0, 1), got 1.0"),
    (["--beta1", "-0.5"], "got -0.5"),
    (["--leak", "1.5"], "leak must be a number in [0, 1), got 1.5"),
    (["--real-label", "2"], "real_label must be a number in [0, 1], got 2.0"),
    (["--g-loss", "wasserstein"], "got 'wasserstein'"),
    (["--g-norm", "group"], "g_norm must be one of"),
    (["--d-norm", "spectral"], "got 'spectral'"),
    (["--downsample", "maxpool"], "got 'maxpool'"),
    (["--latent-dist", "cauchy"], "got 'cauchy'"),
    (["--limit", "0"], "limit must be a positive integer or None, got 0"),
    (["--max-steps", "-1"], "got -1"),
    (["--checkpoint-every", "-5"], "checkpoint_every must be a non-negative integer"),
    (["--sample-every", "-1"], "got -1"),
    (["--latent-dim", "0"], "latent_dim must be a positive integer, got 0"),
    (["--width", "0"], "width must be a positive integer, got 0"),
    (["--seed", "-1"], "seed must be an integer in [0, 2**64 - 1], got -1"),
    (["--seed", str(2**64)], "seed must be an integer in [0, 2**64 - 1]"),
    (["--out", ""], "out must name a folder, got an empty path"),
    (["--learning-rate", "0.1"], "unrecognized arguments: --learning-rate"),
    (["--resume"], "no checkpoint to resume from at"),
    (["--resume", F + "/missing.safetensors"], "no checkpoint to resume from at"),
    (["--resume", F + "/truncated.safetensors"], "truncated.safetensors is not a readable"),
    (["--resume", F + "/empty.safetensors"], "empty.safetensors is not a readable"),
    (["--resume", F + "/noise.safetensors"], "noise.safetensors is not a readable"),
    (["--resume", F + "/pickle.pt"], "pickle.pt is not a readable"),
    (["--resume", F + "/foreign.safetensors"], "not a dcgan_lib checkpoint"),
    (["--resume", F + "/good/generator.safetensors"], "expected a 'dcgan_lib.checkpoint/2'"),
    (["--resume", F + "/config-list.safetensors"], "config that is not a record of settings"),
    (["--resume", F + "/float-order.safetensors"], "data order that is not a permutation"),
    (["--resume", F + "/order-out-of-range.safetensors"], "not a permutation of the 64"),
    (["--resume", F + "/moment-shape.safetensors"], "optimizer_d.0.exp_avg of shape (3,)"),
    (["--resume", F + "/history-abc.safetensors"], "'errD' holds something other than numbers"),
    (["--latent-dim", "1000000000"], "do not fit in memory with latent_dim=1000000000"),
    (["--width", "1000000"], "do not fit in memory with latent_dim=100, width=1000000"),
    (["--resume", F + "/good/checkpoint.safetensors", "--latent-dim", "64"],
     "trained with latent_dim=100, this run asks for latent_dim=64"),
    (["--resume", F + "/good/checkpoint.safetensors", "--image-size", "64"],
     "trained with image_size=32, this run asks for image_size=64"),
    (["--resume", F + "/relabelled.safetensors", "--latent-dim", "64"],
     "generator.main.0.weight of shape (100, 32, 4, 4), the model expects (64, 32, 4, 4)"),
    (["--resume", F + "/no-history.safetensors"],
     "has an incomplete training record (missing or bad 'history')"),
    (["--out", F + "/a-file/run"], "is not writable"),
    (["--out", "/proc/dcgan-run"], "is not writable"),
]


def run_main(argv, capsys):
    status = main(argv)
    err = capsys.readouterr().err.strip()
    return status, err


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT,
                         ids=[" ".join(a).replace(F, "") for a, _ in BAD_INPUT])
def test_bad_input_gets_one_sentence_and_exit_status_2(files, tmp_path, capsys, args, expected):
    args = [a.replace(F, str(files)) for a in args]
    argv = TINY_ARGS + ["--out", str(tmp_path / "run")] + args
    if "--out" in args:
        argv = TINY_ARGS + args
    status, err = run_main(argv, capsys)
    assert status == 2
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert expected in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_output_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    status, err = run_main(TINY_ARGS + ["--out", str(folder)], capsys)
    assert status == 2 and "is not writable" in err


@pytest.fixture
def clean_data_cache():
    data.clear_cache()
    yield
    data.clear_cache()


def test_truncated_data_file_is_named_with_its_checksum(tmp_path, monkeypatch, capsys,
                                                        clean_data_cache):
    monkeypatch.setenv("DCGAN_DATA", str(bad_data_folder(tmp_path)))
    status, err = run_main(TINY_ARGS + ["--out", str(tmp_path / "run")], capsys)
    assert status == 2 and "\n" not in err
    assert "train-images-idx3-ubyte.gz has md5" in err and "expected f68b3c2d" in err


def test_missing_data_offline_says_where_to_put_the_files(tmp_path, monkeypatch, capsys,
                                                          clean_data_cache):
    # no local copy anywhere and no network: the loader's own offline message
    def offline(dataset, split):
        raise data.DataError(f"{dataset} is not in a local folder (DCGAN_DATA, shared/data) "
                             f"and could not be downloaded (offline)")

    monkeypatch.setattr(data, "candidate_roots", lambda: [tmp_path / "empty"])
    monkeypatch.setattr(data, "_download", offline)
    status, err = run_main(TINY_ARGS + ["--out", str(tmp_path / "run")], capsys)
    assert status == 2 and err.startswith("error: mnist is not in a local folder")


@pytest.mark.parametrize("name", ["truncated", "noise", "pickle"])
def test_load_generator_refuses_foreign_files_with_a_value_error(files, name):
    path = files / (f"{name}.pt" if name == "pickle" else f"{name}.safetensors")
    with pytest.raises(ValueError, match="is not a readable"):
        load_generator(path)


def test_api_rejects_a_bad_config_before_touching_data():
    with pytest.raises(ValueError, match="width must be a positive integer, got -8"):
        train(tiny(width=-8))
    with pytest.raises(ValueError, match="checkpoint_every=5 needs an output folder"):
        train(tiny(checkpoint_every=5))
    with pytest.raises(TypeError, match="cfg must be a TrainConfig"):
        train({"dataset": "mnist"})


def test_command_line_in_a_real_process_exits_2_without_a_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cases = [["--image-size", "30"], ["--resume"]]
    procs = [subprocess.Popen([sys.executable, "-m", "dcgan_lib.train", *TINY_ARGS,
                               "--out", str(tmp_path / "run"), *args], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in cases]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
        assert "Traceback" not in err


# ---------------------------------------------------------------------------------------
# NaN and inf


def poisoned_images(position: int) -> tuple[torch.Tensor, int]:
    """256 MNIST images, the one shuffled to ``position`` of epoch 0 made NaN.

    Returns the images and the step that sees it (batches of 32, seed 0's permutation).
    """
    images, _ = data.load("mnist", limit=256)
    permutation = torch.randperm(256, generator=torch.Generator().manual_seed(0))
    images = images.clone()
    images[permutation[position]] = float("nan")
    return images, position // 32 + 1


@pytest.mark.parametrize(("fast", "checkpoint_every"), [(False, 1), (True, 1), (True, 3)])
def test_nan_in_the_data_stops_at_its_step_and_keeps_the_last_good_checkpoint(
        tmp_path, fast, checkpoint_every):
    images, bad_step = poisoned_images(position=100)  # step 4
    cfg = tiny(out=str(tmp_path), checkpoint_every=checkpoint_every, fast=fast)
    with pytest.raises(TrainingDiverged) as info:
        train(cfg, images=images)
    message = str(info.value)
    assert message.startswith(f"Training stopped at step {bad_step}: errD is nan;")
    assert "the last good checkpoint is" in message and "\n" not in message
    tensors, meta = ckpt.load(tmp_path / "checkpoint.safetensors")
    last_good = (bad_step - 1) // checkpoint_every * checkpoint_every
    assert meta["step"] == last_good
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())
    assert not (tmp_path / "generator.safetensors").exists()


def test_nan_at_the_first_step_says_no_checkpoint_was_written(tmp_path):
    images, bad_step = poisoned_images(position=0)
    with pytest.raises(TrainingDiverged, match="step 1: errD is nan; no checkpoint"):
        train(tiny(out=str(tmp_path), checkpoint_every=1), images=images)


def test_absurd_learning_rate_exits_1_naming_the_step_and_the_loss(tmp_path, capsys):
    status, err = run_main(TINY_ARGS + ["--lr", "1e30", "--out", str(tmp_path)], capsys)
    assert status == 1
    assert err.startswith("error: Training stopped at step 1: ")
    assert any(f"{name} is nan" in err or f"{name} is inf" in err
               for name in ("errD", "errG"))


# ---------------------------------------------------------------------------------------
# a save that fails


def test_a_save_that_fails_midway_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.safetensors"
    ckpt.save(path, {"w": torch.ones(1000)}, {"step": 1})

    def disk_full(f, data_bytes):
        f.write(data_bytes[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "_write_all", disk_full)
    with pytest.raises(OSError, match="No space left"):
        ckpt.save(path, {"w": torch.zeros(1000)}, {"step": 2})
    tensors, meta = ckpt.load(path)
    assert meta == {"step": 1} and torch.equal(tensors["w"], torch.ones(1000))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]


def test_checkpoint_round_trips_tensors_and_json_exactly(tmp_path):
    tensors = {"w": torch.randn(3, 4).to(memory_format=torch.contiguous_format),
               "step": torch.tensor(7.0), "rng": torch.get_rng_state()}
    meta = {"loss": [0.1 + 0.2, 1e-300, 2 / 3], "name": "run", "nested": {"a": [1, 2]}}
    ckpt.save(tmp_path / "c.safetensors", tensors, meta)
    loaded, loaded_meta = ckpt.load(tmp_path / "c.safetensors")
    assert loaded_meta == meta  # floats survive JSON bit for bit (repr round-trips)
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)


def test_a_nan_in_the_json_part_is_refused_before_writing(tmp_path):
    with pytest.raises(ValueError):
        ckpt.save(tmp_path / "c.safetensors", {"w": torch.ones(1)}, {"loss": float("nan")})
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------
# SIGKILL while saving

KILLS = 20


def _slow_write_all(f, data_bytes):
    """Write in 8 flushed pieces 12 ms apart, so that a kill lands inside a save."""
    view = memoryview(data_bytes)
    n = len(view)
    for i in range(8):
        f.write(view[i * n // 8:(i + 1) * n // 8])
        f.flush()
        time.sleep(0.012)


def _train_until_killed(out: str, images: torch.Tensor) -> None:
    torch.set_num_threads(1)
    ckpt._write_all = _slow_write_all
    path = Path(out) / "checkpoint.safetensors"
    cfg = tiny(epochs=10_000, out=out, checkpoint_every=1)
    train(cfg, images=images, resume=path if path.exists() else None)


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the training process never reached a save")
        time.sleep(0.001)


def test_sigkill_during_saving_always_leaves_a_loadable_checkpoint(tmp_path):
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "torch._dynamo", "dcgan_lib.train", __name__])
    path = tmp_path / "checkpoint.safetensors"

    def saving():
        return any(tmp_path.glob(".checkpoint.safetensors.*.tmp"))

    images, _ = data.load("mnist", limit=256)
    rng = random.Random(0)
    steps, mid_save = [], 0
    for _ in range(KILLS):
        proc = ctx.Process(target=_train_until_killed, args=(str(tmp_path), images))
        proc.start()
        before = path.stat().st_ino if path.exists() else None
        # this process completes one save (os.replace gives the file a new inode) ...
        _wait_for(lambda b=before: path.exists() and path.stat().st_ino != b)
        time.sleep(rng.uniform(0, 0.2))  # ... then a random number more ...
        _wait_for(lambda p=proc: saving() or not p.is_alive())  # ... and is inside one
        assert proc.is_alive(), f"training exited with status {proc.exitcode}"
        time.sleep(rng.uniform(0, 0.03))  # a random moment within the ~100 ms save
        proc.kill()  # SIGKILL
        proc.join()
        mid_save += saving()
        _, meta = ckpt.load(path)  # the last good checkpoint loads ...
        steps.append(meta["step"])
    assert steps == sorted(steps) and steps[-1] > steps[0]  # ... and training moved on
    # the kills did land inside saves (the temporary file was still there)
    assert mid_save >= KILLS // 2, f"only {mid_save} of {KILLS} kills landed mid-save"
    # the final checkpoint restores into fresh models and optimizers
    cfg = tiny(epochs=10_000, out=str(tmp_path), checkpoint_every=1)
    speedups = choose_speedups(torch.device("cpu"), True)
    netG, netD = build_models(cfg, 1, torch.device("cpu"), speedups)
    optG, optD = build_optimizers(netG, netD, cfg, speedups)
    state = load_checkpoint(path, cfg, netG, netD, optG, optD, None, torch.Generator(),
                            torch.device("cpu"))
    assert state["step"] == steps[-1] and len(state["history"]["step"]) == steps[-1]



def test_images_outside_the_tanh_range_are_refused_with_their_range():
    images = torch.full((64, 1, 32, 32), 2.0)
    with pytest.raises(ValueError, match=r"images must lie in \[-1, 1\].*from 2 to 2"):
        train(tiny(), images=images)


def test_a_non_finite_batchnorm_statistic_stops_the_run_before_it_is_checkpointed(tmp_path):
    from dcgan_lib.run import Run

    run = Run(tiny(out=str(tmp_path), checkpoint_every=1), None, None, None)
    run.netG.main[1].running_var[0] = float("inf")
    with pytest.raises(TrainingDiverged, match="weights or BatchNorm statistics became"):
        run.save_checkpoint()
    assert not (tmp_path / "checkpoint.safetensors").exists()


def test_an_update_that_overflows_float32_is_divergence_in_one_sentence(tmp_path, capsys):
    status, err = run_main(TINY_ARGS + ["--lr", "3e38", "--out", str(tmp_path)], capsys)
    assert status == 1
    assert err == ("error: Training stopped at step 1: the update overflowed float32; "
                   "no checkpoint was written.")


def test_two_runs_cannot_write_into_one_folder(tmp_path):
    from dcgan_lib.checkpoint import lock_folder

    held = lock_folder(tmp_path)
    try:
        with pytest.raises(ValueError, match="another training run is writing into"):
            train(tiny(out=str(tmp_path)))
    finally:
        held.close()
    train(tiny(out=str(tmp_path), max_steps=1))  # free again once the other run is gone


def test_temporaries_a_killed_run_left_behind_are_removed_at_the_start(tmp_path):
    for name in ("generator.safetensors", "record.json", "checkpoint.safetensors"):
        (tmp_path / f".{name}.abc123.tmp").write_bytes(b"half a file")
    train(tiny(out=str(tmp_path), max_steps=1))
    assert not list(tmp_path.glob(".*.tmp"))


def test_ctrl_c_ends_the_run_in_one_sentence(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "dcgan_lib.train", *TINY_ARGS,
                             "--epochs", "100000", "--checkpoint-every", "5", "--out", str(out)],
                            cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.safetensors").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130
    assert err.strip().splitlines() == [
        f"error: interrupted; --resume continues from the last checkpoint in {out}"]
