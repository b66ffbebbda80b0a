"""The generator's weight average (``TrainConfig.ema``): its closed form, that it never
changes training, bit-for-bit resume, and the BatchNorm statistics re-estimated for it.

Runs are tiny (width 8, the first 256 MNIST images, batches of 32) as in test_train.py.
"""

import json

import pytest
import torch
from test_train import tiny as one_epoch

from dcgan_lib import checkpoint as ckpt
from dcgan_lib.average import recalibrate_batchnorm
from dcgan_lib.checkpoint import load_generator
from dcgan_lib.fast import choose_speedups
from dcgan_lib.run import build_models
from dcgan_lib.train import main, train

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides):
    """test_train's tiny run over two epochs (16 steps), enough for every split here."""
    return one_epoch(**{"epochs": 2} | overrides)


def params(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_average_is_the_closed_form_exponential_weighting_of_the_iterates():
    # avg_t = b^t theta_0 + (1 - b) * sum_{k=1..t} b^(t-k) theta_k
    b, steps = 0.6, 4
    torch.manual_seed(0)
    netG, _ = build_models(tiny(), 1, torch.device("cpu"),
                           choose_speedups(torch.device("cpu"), True))
    iterates = [params(netG)]
    for k in range(1, steps + 1):
        iterates.append(params(train(tiny(max_steps=k)).generator))
    averaged = train(tiny(max_steps=steps, ema=b))
    closed = [b ** steps * p0 for p0 in iterates[0]]
    for k in range(1, steps + 1):
        closed = [c + (1 - b) * b ** (steps - k) * pk
                  for c, pk in zip(closed, iterates[k], strict=True)]
    got = params(averaged.generator)
    assert len(got) == len(closed)
    for g, c in zip(got, closed, strict=True):
        torch.testing.assert_close(g, c, rtol=1e-5, atol=1e-6)
    # and it is not simply the last iterate
    assert any(not torch.allclose(g, p) for g, p in zip(got, iterates[-1], strict=True))


def test_the_average_never_changes_training():
    plain = train(tiny(max_steps=10, sample_every=5))
    averaged = train(tiny(max_steps=10, sample_every=5, ema=0.9))
    assert plain.history["errD"] == averaged.history["errD"]
    online_a, online_b = plain.generator.state_dict(), averaged.online_generator.state_dict()
    assert all(torch.equal(online_a[k], online_b[k]) for k in online_a)
    assert plain.online_generator is plain.generator
    assert averaged.online_generator is not averaged.generator
    # the sample grids come from the average, so they differ from the plain run's
    assert not torch.equal(plain.history["samples"][-1][1], averaged.history["samples"][-1][1])


def test_resume_with_an_average_is_bit_for_bit(tmp_path):
    straight = train(tiny(max_steps=12, ema=0.9, out=str(tmp_path / "a")))
    train(tiny(max_steps=5, ema=0.9, out=str(tmp_path / "b")))
    resumed = train(tiny(max_steps=12, ema=0.9, out=str(tmp_path / "b")),
                    resume=tmp_path / "b" / "checkpoint.safetensors")
    s1, s2 = straight.generator.state_dict(), resumed.generator.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    t1, _ = ckpt.load(tmp_path / "a" / "checkpoint.safetensors")
    t2, _ = ckpt.load(tmp_path / "b" / "checkpoint.safetensors")
    assert any(k.startswith("generator_average.") for k in t1)
    assert all(torch.equal(t1[k], t2[k]) for k in t1)


def test_saved_generator_is_the_average_with_recalibrated_statistics(tmp_path):
    result = train(tiny(max_steps=6, ema=0.9, out=str(tmp_path)))
    loaded = load_generator(tmp_path / "generator.safetensors")
    z = torch.randn(7, 100)
    with torch.no_grad():
        assert torch.equal(loaded(z), result.generator(z))
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["generator"] == "weight average (ema)" and record["config"]["ema"] == 0.9


def test_recalibration_with_one_batch_gives_that_batchs_statistics():
    torch.manual_seed(0)
    netG, _ = build_models(tiny(), 1, torch.device("cpu"),
                           choose_speedups(torch.device("cpu"), True))
    first_bn = next(m for m in netG.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    handle = first_bn.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    recalibrate_batchnorm(netG, "gaussian", batch_size=16, seed=5, n=16)
    handle.remove()
    (x,) = seen
    torch.testing.assert_close(first_bn.running_mean, x.mean((0, 2, 3)))
    torch.testing.assert_close(first_bn.running_var, x.var((0, 2, 3), unbiased=True))
    assert not netG.training and first_bn.momentum == 0.1


def test_recalibrated_eval_output_matches_batch_statistics_output():
    result = train(tiny(max_steps=8, ema=0.8))
    g = result.generator
    z = torch.randn(1024, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        eval_out = g.eval()(z)
        train_out = g.train()(z)
    g.eval()
    assert (eval_out - train_out).abs().mean() < 0.02


@pytest.mark.parametrize("value", [1.0, -0.1, "0.9", float("nan")])
def test_bad_decay_is_named(value):
    with pytest.raises(ValueError, match=r"ema must be a number in \[0, 1\)"):
        train(tiny(ema=value))


def test_resuming_with_another_decay_is_refused(tmp_path):
    train(tiny(max_steps=2, ema=0.9, out=str(tmp_path)))
    with pytest.raises(ValueError, match="trained with ema=0.9, this run asks for ema=0.0"):
        train(tiny(max_steps=4, out=str(tmp_path)),
              resume=tmp_path / "checkpoint.safetensors")


def test_command_line_takes_the_decay(tmp_path, capsys):
    argv = ["--epochs", "1", "--batch-size", "32", "--limit", "64", "--width", "8",
            "--device", "cpu", "--out", str(tmp_path), "--no-progress", "--ema", "0.5"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "record.json").read_text())["config"]["ema"] == 0.5
    assert main(argv[:-1] + ["1.5"]) == 2
    assert "ema must be a number in [0, 1), got 1.5" in capsys.readouterr().err
