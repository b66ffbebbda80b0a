"""The benchmark's table: its structure, its ratios, and the numbers behind MFU."""

import math

import pytest
import torch

from dcgan_lib.bench import (
    QUICK,
    Case,
    ablate,
    main,
    model_flops_per_step,
    peak_for_name,
    switched_off,
)
from dcgan_lib.fast import Speedups
from dcgan_lib.models import Discriminator, Generator

pytestmark = pytest.mark.usefixtures("one_thread")


def run_quick_bench(capsys) -> tuple[int, str]:
    status = main(["--quick", "--device", "cpu", "--steps", "2", "--warmup", "1"])
    return status, capsys.readouterr().out


def test_quick_bench_prints_one_row_per_case_with_positive_finite_ratios(capsys):
    status, out = run_quick_bench(capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("DCGAN training throughput on CPU")
    assert any(line.startswith("QUICK run:") for line in lines)  # says it is the small run
    header = next(i for i, line in enumerate(lines) if line.startswith("| images"))
    columns = [c.strip() for c in lines[header].strip("|").split("|")]
    assert columns == ["images", "width", "batch", "reference img/s", "fast img/s",
                       "fast/reference", "GFLOP/step", "MFU reference", "MFU fast"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[header + 2:]]
    assert [(r[0], int(r[2])) for r in rows] == [(c.name, c.batch_size) for c in QUICK]
    for r in rows:
        reference, fast, ratio = float(r[3]), float(r[4]), float(r[5])
        assert reference > 0 and fast > 0
        assert math.isfinite(ratio) and ratio > 0
        # the printed ratio is fast / reference, to the table's rounding
        assert ratio == pytest.approx(fast / reference, rel=0.01, abs=0.006)
        assert float(r[6]) > 0
        assert r[7] == r[8] == "n/a"  # no peak FLOP/s for a CPU


def test_model_flops_are_linear_in_the_batch_size():
    # every convolution's FLOPs are (batch) x (per-image FLOPs): doubling the batch doubles them
    small = Case("MNIST 32x32", 32, 1, 8, 4)
    large = Case("MNIST 32x32", 32, 1, 8, 8)
    cpu = torch.device("cpu")
    assert model_flops_per_step(large, cpu) == 2 * model_flops_per_step(small, cpu)


def forward_conv_flops(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(all layers, first layer) forward FLOPs of the (transposed) convolutions, by hand:
    2 x batch x C_in x C_out x k x k per output pixel (convolution) or input pixel
    (transposed convolution)."""
    counts = []

    def hook(module, inputs, output):
        b, c_in, h_in, w_in = inputs[0].shape
        k = module.kernel_size[0] * module.kernel_size[1]
        pixels = h_in * w_in if isinstance(module, torch.nn.ConvTranspose2d) \
            else output.shape[2] * output.shape[3]
        counts.append(2 * b * c_in * module.out_channels * k * pixels)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return sum(counts), counts[0]


def test_model_flops_equal_the_hand_count_of_one_training_step():
    # D step: D forward on real and on fake (2D), G forward (G), two D backwards with
    # weight gradients (2D) and input gradients except the first layer's (2(D - D1)).
    # G step: D forward (D), D input gradients only (D), G weight gradients (G) and input
    # gradients except the first layer's (G - G1). Total 8D - 2D1 + 3G - G1.
    case = Case("MNIST 32x32", 32, 1, 8, 4)
    g = Generator(100, 32, 1, 8)
    d = Discriminator(32, 1, 8)
    G, G1 = forward_conv_flops(g, torch.zeros(4, 100))
    D, D1 = forward_conv_flops(d, torch.zeros(4, 1, 32, 32))
    expected = 8 * D - 2 * D1 + 3 * G - G1
    assert model_flops_per_step(case, torch.device("cpu")) == expected


@pytest.mark.parametrize(("name", "arithmetic", "peak"), [
    ("NVIDIA H100 80GB HBM3", "bfloat16", 989.4),
    ("NVIDIA H100 PCIe", "bfloat16", 756.0),
    ("NVIDIA L40S", "bfloat16", 362.0),  # not the L4's entry, though "L4" occurs in it
    ("NVIDIA L4", "tf32", 60.0),
    ("Tesla T4", "float16", 65.0),
    ("Tesla T4", "bfloat16", None),  # a T4 has no bf16
    ("NVIDIA Unknown GPU", "bfloat16", None),
])
def test_peak_table_lookup(name, arithmetic, peak):
    assert peak_for_name(name, arithmetic) == peak


def test_unknown_device_exits_2(capsys):
    assert main(["--device", "tpu"]) == 2
    assert "got 'tpu'" in capsys.readouterr().err


BF16_GPU = Speedups(on_device_data=True, channels_last=True, autocast="bfloat16",
                    fused_adam=True, cuda_graph=True)
FP16_GPU = Speedups(on_device_data=True, channels_last=True, autocast="float16",
                    grad_scaler=True, fused_adam=True)


def test_ablation_turns_off_each_switch_once_and_every_variant_is_valid():
    cuda = torch.device("cuda")  # a device object only; nothing runs on it
    variants = switched_off(BF16_GPU)
    assert [label for label, _ in variants] == [
        "on_device_data", "channels_last", "autocast (fp32)", "fused_adam",
        "cuda_graph"]
    for label, variant in variants:
        differences = [f for f in ("on_device_data", "channels_last", "autocast", "fused_adam",
                                   "cuda_graph")
                       if getattr(variant, f) != getattr(BF16_GPU, f)]
        assert len(differences) == 1, label
        variant.check(cuda)


def test_ablating_fp16_autocast_drops_its_grad_scaler_too():
    variants = dict(switched_off(FP16_GPU))
    assert "grad_scaler" not in variants  # fp16 without a scaler is not a fair variant
    fp32 = variants["autocast (fp32)"]
    assert fp32.autocast == "off" and not fp32.grad_scaler
    fp32.check(torch.device("cuda"))


def test_ablation_on_the_cpu_times_every_variant():
    rows = ablate(QUICK[2], torch.device("cpu"), steps=1, warmup=1)
    assert [label for label, _ in rows] == ["(none: all on)", "on_device_data"]
    assert all(math.isfinite(ips) and ips > 0 for _, ips in rows)
