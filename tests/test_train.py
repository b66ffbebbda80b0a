"""The training loop: history, reference/fast agreement, samples, resume, command line.

Every run is tiny (width 8, the first 256 MNIST images, batches of 32: 8 steps an epoch)
so that the file runs in seconds on two CPU cores.
"""

import json
import math
import shlex

import pytest
import torch

from dcgan_lib import checkpoint as ckpt
from dcgan_lib.checkpoint import load_generator
from dcgan_lib.fast import Speedups, choose_speedups
from dcgan_lib.run import build_models, build_optimizers
from dcgan_lib.steps import HISTORY_KEYS, train_step
from dcgan_lib.train import TrainConfig, main, train

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides) -> TrainConfig:
    settings = dict(width=8, limit=256, batch_size=32, epochs=1, device="cpu", progress=False)
    settings.update(overrides)
    return TrainConfig(**settings)


def same_numbers(h1: dict, h2: dict) -> bool:
    """Histories equal in every per-step number except the wall-clock ``seconds``."""
    keys = [k for k in HISTORY_KEYS if k != "seconds"]
    if any(h1[k] != h2[k] for k in keys):
        return False
    s1, s2 = h1["samples"], h2["samples"]
    return len(s1) == len(s2) and all(a == c and torch.equal(b, d)
                                      for (a, b), (c, d) in zip(s1, s2, strict=True))


def same_state(m1: torch.nn.Module, m2: torch.nn.Module) -> bool:
    s1, s2 = m1.state_dict(), m2.state_dict()
    return s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)


@pytest.fixture(scope="module")
def reference_run():
    """Two epochs of the plain reference loop, samples every 5 steps."""
    return train(tiny(epochs=2, fast=False, sample_every=5))


def test_history_has_one_entry_per_step_for_every_key(reference_run):
    h = reference_run.history
    assert set(HISTORY_KEYS) | {"samples"} == set(h)
    assert h["step"] == list(range(1, 17))  # 256 // 32 = 8 steps an epoch, 2 epochs
    assert h["epoch"] == [0] * 8 + [1] * 8
    assert all(len(h[k]) == 16 for k in HISTORY_KEYS)


def test_history_probabilities_lie_in_0_1_and_losses_are_positive(reference_run):
    h = reference_run.history
    for key in ("D_x", "D_G_z1", "D_G_z2"):
        assert all(0 < v < 1 for v in h[key]), key
    assert all(v > 0 and math.isfinite(v) for v in h["errD"] + h["errG"])


def test_first_step_losses_are_near_log_4_and_log_2_for_an_untrained_pair(reference_run):
    # DCGAN's N(0, 0.02) init makes every logit small, so D ~ 1/2 everywhere:
    # errD_real + errD_fake ~ 2 log 2 and errG ~ log 2; 0.1 covers the logits' spread.
    h = reference_run.history
    assert h["errD"][0] == pytest.approx(2 * math.log(2), abs=0.1)
    assert h["errG"][0] == pytest.approx(math.log(2), abs=0.1)


def test_seconds_are_cumulative_and_increasing(reference_run):
    s = reference_run.history["seconds"]
    assert all(b >= a for a, b in zip(s, s[1:], strict=False)) and s[0] > 0


def test_samples_are_uint8_grids_every_sample_every_steps_and_at_the_end(reference_run):
    samples = reference_run.history["samples"]
    assert [s for s, _ in samples] == [5, 10, 15, 16]
    for _, grid in samples:
        assert grid.dtype == torch.uint8 and grid.shape == (64, 1, 32, 32)
    assert not torch.equal(samples[0][1], samples[-1][1])  # the generator moved


def test_fast_loop_on_cpu_matches_reference_loop_bit_for_bit(reference_run):
    fast = train(tiny(epochs=2, fast=True, sample_every=5))
    assert same_numbers(fast.history, reference_run.history)
    assert same_state(fast.generator, reference_run.generator)
    assert same_state(fast.discriminator, reference_run.discriminator)


def test_drawing_samples_does_not_change_training(reference_run):
    quiet = train(tiny(epochs=2, fast=False, sample_every=0))
    assert quiet.history["samples"] == []
    assert same_state(quiet.generator, reference_run.generator)


def test_a_different_seed_gives_a_different_run(reference_run):
    other = train(tiny(max_steps=1, seed=1))
    assert other.history["errD"][0] != reference_run.history["errD"][0]


def test_max_steps_stops_early_and_limit_sets_the_epoch_length():
    result = train(tiny(epochs=5, limit=96, max_steps=7))
    assert result.history["step"] == list(range(1, 8))
    assert result.history["epoch"] == [0, 0, 0, 1, 1, 1, 2]  # 96 // 32 = 3 steps an epoch


def test_models_come_back_in_eval_mode_with_the_configured_shapes():
    result = train(tiny(max_steps=1, latent_dim=16, image_size=16))
    g, d = result.generator, result.discriminator
    assert not g.training and not d.training
    with torch.no_grad():
        assert g(torch.zeros(2, 16)).shape == (2, 1, 16, 16)


@pytest.mark.parametrize("overrides", [
    dict(g_loss="minimax"), dict(latent_dist="uniform"), dict(downsample="pool"),
    dict(g_norm="none", d_norm="layer"), dict(d_norm="instance", leak=0.0),
    dict(real_label=0.9),
])
def test_every_setting_trains_with_finite_losses(overrides):
    h = train(tiny(max_steps=3, **overrides)).history
    assert len(h["step"]) == 3
    assert all(math.isfinite(v) for v in h["errD"] + h["errG"])


def test_cpu_speedups_are_fp32_without_cuda_graph():
    fast = choose_speedups(torch.device("cpu"), fast=True)
    assert fast.autocast == "off" and not fast.cuda_graph and not fast.channels_last
    assert choose_speedups(torch.device("cpu"), fast=False) == Speedups()


def test_training_on_given_images_uses_their_channels():
    images = torch.rand(64, 3, 16, 16) * 2 - 1
    result = train(tiny(image_size=16, limit=None), images=images)
    assert result.generator.channels == 3
    assert len(result.history["step"]) == 2


# resume


def run_to(tmp_path, name, max_steps, resume=None, **overrides):
    out = tmp_path / name
    cfg = tiny(epochs=2, max_steps=max_steps, out=str(out), sample_every=3, **overrides)
    result = train(cfg, resume=resume)
    return result, out / "checkpoint.safetensors"


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return run_to(tmp_path_factory.mktemp("straight"), "run", 16)


@pytest.mark.parametrize("split", [1, 5, 8, 13])
def test_resume_continues_bit_for_bit(tmp_path, straight, split):
    # split 8 is the epoch boundary, the others fall inside an epoch
    straight_result, straight_ckpt = straight
    _, first = run_to(tmp_path, "a", split)
    resumed, final = run_to(tmp_path, "b", 16, resume=first)
    assert same_numbers(resumed.history, straight_result.history)
    t_straight, m_straight = ckpt.load(straight_ckpt)
    t_resumed, m_resumed = ckpt.load(final)
    # weights, BatchNorm statistics, both Adam states and every random-number state
    assert t_straight.keys() == t_resumed.keys()
    assert any(k.startswith("optimizer_d.") for k in t_straight)
    for k in t_straight:
        assert torch.equal(t_straight[k], t_resumed[k]), k
    assert m_straight["step"] == m_resumed["step"] == 16


def test_resume_with_the_reference_loop_is_bit_for_bit_too(tmp_path, straight):
    _, first = run_to(tmp_path, "a", 6, fast=False)
    resumed, _ = run_to(tmp_path, "b", 16, resume=first, fast=False)
    assert same_numbers(resumed.history, straight[0].history)


# files and command line


def test_command_line_writes_generator_record_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--dataset", "mnist", "--epochs", "1", "--batch-size", "32", "--limit", "64",
            "--width", "8", "--device", "cpu", "--out", str(out), "--seed", "3",
            "--checkpoint-every", "1", "--no-progress"]
    assert main(argv) == 0
    assert {"generator.safetensors", "record.json", "checkpoint.safetensors"} <= \
        {p.name for p in out.iterdir()}
    record = json.loads((out / "record.json").read_text())
    assert record["seed"] == 3 and record["epochs"] == 1 and record["steps"] == 2
    assert record["command"] == "python -m dcgan_lib.train " + shlex.join(argv)
    assert record["torch"] == torch.__version__ and record["device"].startswith("CPU")
    assert len(record["history"]["errD"]) == 2 and record["wall_seconds"] > 0
    assert record["config"]["batch_size"] == 32
    assert not list(out.glob(".*.tmp"))  # no temporary file survives a finished save


def test_saved_generator_reproduces_the_trained_one(tmp_path):
    result = train(tiny(max_steps=2, out=str(tmp_path)))
    loaded = load_generator(tmp_path / "generator.safetensors")
    z = torch.randn(5, 100)
    with torch.no_grad():
        assert torch.equal(loaded(z), result.generator(z))


def test_command_line_resume_continues_from_the_output_folder(tmp_path):
    base = ["--epochs", "1", "--batch-size", "32", "--limit", "128", "--width", "8",
            "--device", "cpu", "--out", str(tmp_path), "--no-progress"]
    assert main(base + ["--max-steps", "2"]) == 0
    assert main(base + ["--resume"]) == 0
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["history"]["step"] == [1, 2, 3, 4]
    assert record["resumed_from"].endswith("checkpoint.safetensors")


def test_help_exits_with_status_0(capsys):
    assert main(["--help"]) == 0
    assert "--checkpoint-every" in capsys.readouterr().out


def test_progress_bar_shows_unless_ci_is_set(monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    train(tiny(max_steps=2, progress=True))
    assert "DCGAN mnist" in capsys.readouterr().err
    monkeypatch.setenv("CI", "1")
    train(tiny(max_steps=2, progress=True))
    assert capsys.readouterr().err == ""


# the GPU switches, run on the CPU (all but the CUDA graph exist there too)

ALL_BUT_GRAPH_BF16 = Speedups(on_device_data=True, channels_last=True, autocast="bfloat16",
                              fused_adam=True)
ALL_BUT_GRAPH_FP16 = Speedups(on_device_data=True, channels_last=True, autocast="float16",
                              grad_scaler=True, fused_adam=True)


def test_bf16_switches_track_the_fp32_reference_on_the_first_step(reference_run):
    fast = train(tiny(max_steps=4), speedups=ALL_BUT_GRAPH_BF16)
    # bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 0.2% per value); through a
    # 3-layer discriminator the first losses stay within 1% of fp32
    for key in ("errD", "errG", "D_x", "D_G_z1"):
        assert fast.history[key][0] == pytest.approx(reference_run.history[key][0], rel=0.01)
    assert all(math.isfinite(v) for v in fast.history["errD"] + fast.history["errG"])


def test_fp16_with_grad_scaler_trains_with_finite_losses():
    result = train(tiny(max_steps=8), speedups=ALL_BUT_GRAPH_FP16)
    h = result.history
    assert len(h["step"]) == 8
    assert all(math.isfinite(v) for v in h["errD"] + h["errG"])
    # the scaler skips the steps whose scaled gradients overflow fp16 and lowers its scale,
    # but it does not skip them all: the discriminator's loss moves
    assert h["errD"][-1] != pytest.approx(h["errD"][0], abs=1e-3)


def test_cuda_graph_switch_is_refused_off_cuda():
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device, got cpu"):
        train(tiny(max_steps=1), speedups=Speedups(cuda_graph=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fast_loop_on_cuda_tracks_the_cpu_reference(reference_run):
    result = train(tiny(max_steps=8, device="cuda"))
    assert result.speedups == choose_speedups(result.device, True)
    h = result.history
    assert h["step"] == list(range(1, 9))  # 3 eager warm-up steps, capture, 4 replays
    assert all(math.isfinite(v) for v in h["errD"] + h["errG"])
    # same seed, same first minibatch and init; z comes from the CUDA generator, so only
    # the real half of the first loss is comparable: D(x) within 2% (bf16 and TF32)
    assert h["D_x"][0] == pytest.approx(reference_run.history["D_x"][0], rel=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resume_on_cuda_restores_the_step_count_and_history(tmp_path):
    _, first = run_to(tmp_path, "a", 6, device="cuda")
    resumed, _ = run_to(tmp_path, "b", 12, resume=first, device="cuda")
    assert resumed.history["step"] == list(range(1, 13))


@pytest.mark.parametrize(("speedups", "message"), [
    (Speedups(autocast="float32"), "autocast must be 'off', 'bfloat16' or 'float16'"),
    (Speedups(grad_scaler=True), "grad_scaler goes with autocast='float16' only"),
    (Speedups(autocast="float16", grad_scaler=True, cuda_graph=True), "cannot capture"),
])
def test_incompatible_switches_are_refused(speedups, message):
    with pytest.raises(ValueError, match=message):
        speedups.check(torch.device("cuda"))


def examples_step(netG, netD, optimizerD, optimizerG, real, nz):
    """pytorch/examples dcgan/main.py's step, line by line (criterion = BCE on logits)."""
    criterion = torch.nn.BCEWithLogitsLoss()
    netD.zero_grad()
    batch_size = real.size(0)
    label = torch.full((batch_size,), 1.0)
    output = netD(real)
    errD_real = criterion(output, label)
    errD_real.backward()
    noise = torch.randn(batch_size, nz)
    fake = netG(noise)
    label.fill_(0.0)
    output = netD(fake.detach())
    errD_fake = criterion(output, label)
    errD_fake.backward()
    optimizerD.step()
    netG.zero_grad()
    label.fill_(1.0)
    output = netD(fake)
    errG = criterion(output, label)
    errG.backward()
    optimizerG.step()
    return errD_real.item(), errD_fake.item(), errG.item()


def test_train_step_computes_what_pytorch_examples_computes():
    cfg = tiny()
    pairs = []
    for _ in range(2):
        torch.manual_seed(0)
        netG, netD = build_models(cfg, 1, torch.device("cpu"), Speedups())
        optG, optD = build_optimizers(netG, netD, cfg, Speedups())
        pairs.append((netG, netD, optG, optD))
    real = torch.rand(3, 32, 1, 32, 32) * 2 - 1
    for step in range(3):
        torch.manual_seed(step)
        ours = train_step(*pairs[0], real[step], torch.randn(32, cfg.latent_dim))
        torch.manual_seed(step)
        netG, netD, optG, optD = pairs[1]
        errD_real, errD_fake, errG = examples_step(netG, netD, optD, optG, real[step],
                                                   cfg.latent_dim)
        errD = torch.tensor(errD_real) + torch.tensor(errD_fake)  # summed in float32
        assert ours[0].item() == errD.item() and ours[1].item() == errG
    assert same_state(pairs[0][0], pairs[1][0]) and same_state(pairs[0][1], pairs[1][1])


def test_fp16_loss_scaling_multiplies_the_gradients_and_the_step_unscales_them():
    from dcgan_lib.fast import Autocast, ScaledOptimizer

    torch.manual_seed(0)
    layer, x = torch.nn.Linear(3, 1), torch.randn(4, 3)
    plain = torch.autograd.grad(layer(x).sum(), layer.weight)[0]
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    wrapped = Autocast(layer, torch.float16, scaler=scaler)
    wrapped(x).sum().backward()
    assert torch.allclose(layer.weight.grad, 8.0 * plain, rtol=1e-2)  # fp16 forward
    before = layer.weight.detach().clone()
    ScaledOptimizer(torch.optim.SGD(layer.parameters(), lr=1.0), scaler).step()
    assert torch.allclose(before - layer.weight.detach(), plain, rtol=1e-2)


def test_step_sizes_fall_linearly_to_zero_at_lr_decay_steps():
    from dcgan_lib.run import learning_rates

    cfg = tiny(lr=2e-4, lr_g=1e-4, lr_d=4e-4, lr_decay_steps=8)
    assert learning_rates(cfg, 0) == (1e-4, 4e-4)
    assert learning_rates(cfg, 2) == pytest.approx((0.75e-4, 3e-4), rel=1e-12)
    assert learning_rates(cfg, 8) == learning_rates(cfg, 20) == (0.0, 0.0)
    assert learning_rates(tiny(lr=3e-4), 10**6) == (3e-4, 3e-4)  # no decay: constant
    late = tiny(lr=2e-4, lr_decay_start=6, lr_decay_steps=10)
    assert learning_rates(late, 0) == learning_rates(late, 6) == (2e-4, 2e-4)
    assert learning_rates(late, 8) == pytest.approx((1e-4, 1e-4), rel=1e-12)
    assert learning_rates(late, 10) == (0.0, 0.0)


def test_the_optimisers_take_the_scheduled_sizes_and_resume_bit_for_bit(tmp_path):
    def params(result):
        return [p.detach().clone() for net in (result.generator, result.discriminator)
                for p in net.parameters()]

    one = params(train(tiny(max_steps=1)))
    stopped = params(train(tiny(max_steps=4, lr_decay_steps=1)))  # size 0 after step 1
    moving = params(train(tiny(max_steps=4)))
    assert all(torch.equal(a, b) for a, b in zip(one, stopped, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(one, moving, strict=True))
    cfg = dict(lr_g=1e-4, lr_d=4e-4, lr_decay_steps=6, out=str(tmp_path))
    whole = params(train(tiny(max_steps=6, **{**cfg, "out": None})))
    train(tiny(max_steps=3, **cfg))
    resumed = params(train(tiny(max_steps=6, **cfg),
                           resume=str(tmp_path / "checkpoint.safetensors")))
    assert all(torch.equal(a, b) for a, b in zip(whole, resumed, strict=True))


@pytest.mark.parametrize("name, value", [("lr_g", 0.0), ("lr_d", -1e-4), ("lr_g", "2e-4"),
                                         ("lr_decay_steps", -1), ("lr_decay_steps", 2.5),
                                         ("lr_decay_start", -3)])
def test_bad_step_size_settings_are_named(name, value):
    with pytest.raises(ValueError, match=name):
        tiny(**{name: value}).validate()


def test_a_saved_generator_reloads_with_its_activation_output_and_init(tmp_path):
    from dcgan_lib.models import Generator

    netG = Generator(latent_dim=8, image_size=16, channels=1, width=4, norm="none",
                     leak=0.2, output="linear", init="default").eval()
    ckpt.save_generator(tmp_path / "g.safetensors", netG, tiny())
    again = load_generator(tmp_path / "g.safetensors")
    assert again.arch() == netG.arch()
    z = torch.randn(5, 8)
    assert torch.equal(again(z), netG(z))


def test_a_decay_that_starts_after_it_ends_is_named():
    with pytest.raises(ValueError, match="lr_decay_start=10 must come before lr_decay_steps=8"):
        tiny(lr_decay_start=10, lr_decay_steps=8).validate()
