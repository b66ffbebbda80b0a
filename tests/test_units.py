"""Single units: a generator's channels switched off, a discriminator's first-layer filters."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_lib.models import Generator
from dcgan_lib.probe import PROBE_SEEDS, load_probe_discriminators
from dcgan_lib.units import (
    ablate_channels,
    block_outputs,
    initial_probe_discriminator,
    smoothness,
    strongest_patches,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def small_generator():
    torch.manual_seed(0)
    return Generator(latent_dim=3, image_size=16, channels=1, width=4).eval()


def test_block_outputs_are_the_relus_that_end_the_blocks():
    g = small_generator()  # 1x1 -> 4x4 -> 8x8 -> 16x16: two hidden blocks
    assert block_outputs(g) == [2, 5]
    assert all(isinstance(g.main[i], nn.ReLU) for i in block_outputs(g))


def test_zeroing_a_channel_of_the_last_block_subtracts_its_share_of_the_output_layer():
    g = small_generator()
    z = torch.randn(5, 3)
    layer = block_outputs(g)[-1]
    with torch.no_grad():
        h = g.main[:layer + 1](z[:, :, None, None])  # (5, 4, 8, 8)
        pre = g.pre_tanh(z)
        out = g.main[-2]  # the output layer, linear in h
        one = F.conv_transpose2d(h[:, 1:2], out.weight[1:2], stride=2, padding=1)
    ablated = ablate_channels(g, z, layer, [1])
    assert ablated.shape == (1, 5, 1, 16, 16)
    torch.testing.assert_close(ablated[0], torch.tanh(pre - one))


def test_a_dead_channel_changes_nothing_and_a_live_one_does():
    g = small_generator()
    bn = g.main[block_outputs(g)[0] - 1]  # the first block's BatchNorm
    with torch.no_grad():
        bn.weight[2], bn.bias[2] = 0.0, -1.0  # channel 2 is -1 before the ReLU: always 0
    z = torch.randn(6, 3)
    with torch.no_grad():
        images = g(z)
    ablated = ablate_channels(g, z, block_outputs(g)[0])  # every channel, in order
    assert ablated.shape == (8, 6, 1, 16, 16)
    assert torch.equal(ablated[2], images)
    assert (ablated[0] - images).abs().max() > 1e-4


def test_ablation_refuses_bad_inputs_by_name():
    g = small_generator()
    z = torch.randn(2, 3)
    with pytest.raises(ValueError, match="eval mode"):
        ablate_channels(small_generator().train(), z, 5)
    with pytest.raises(ValueError, match=r"one of \[2, 5\], got 4"):
        ablate_channels(g, z, 4)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        ablate_channels(g, torch.randn(2, 4), 5)
    with pytest.raises(ValueError, match=r"integers in \[0, 4\), got 4"):
        ablate_channels(g, z, 5, [0, 4])
    with pytest.raises(TypeError, match="dcgan_lib Generator"):
        ablate_channels(nn.Sequential(), z, 5)


def test_smoothness_is_one_for_constant_minus_one_for_checkerboard_zero_for_noise():
    constant = torch.ones(1, 1, 4, 4)
    checker = (torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2 * 2.0 - 1
    noise = torch.randn(20_000, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    assert smoothness(constant).item() == pytest.approx(1.0)
    assert smoothness(checker[None, None]).item() == pytest.approx(-1.0)
    assert abs(smoothness(noise).mean().item()) < 0.01


def test_smoothness_of_a_ramp_is_its_known_neighbour_correlation():
    ramp = torch.arange(4.0).repeat(4, 1)[None, None]  # columns 0, 1, 2, 3
    # differences: 12 across of 1, 12 down of 0; mean square weight 14 / 4
    expected = 1 - (12 / 24) / (2 * 14 / 4)
    assert smoothness(ramp).item() == pytest.approx(expected)


def test_smoothness_refuses_bad_filters_by_name():
    with pytest.raises(ValueError, match=r"\(F, C, kh, kw\)"):
        smoothness(torch.ones(4, 4))
    with pytest.raises(ValueError, match="all-zero filter"):
        smoothness(torch.zeros(2, 1, 3, 3))


def test_strongest_patch_is_found_where_the_filter_matches():
    conv = nn.Conv2d(1, 2, 4, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 2] = 1.0  # filter 0 reads one pixel of its patch
        conv.weight[1, 0] = -1.0  # filter 1 answers most to dark patches
    images = torch.zeros(3, 1, 8, 8)
    images[1, 0, 4, 5] = 5.0  # under pixel (1, 2) of the patch at rows 3-6, cols 3-6
    patches = strongest_patches(conv, images, 1)
    assert patches.shape == (2, 1, 4, 4)
    assert patches[0, 0, 1, 2] == 5.0 and patches[0].sum() == 5.0
    assert patches[1].sum() == 0.0  # an all-zero patch (the bright pixel is avoided)


def test_strongest_patches_refuse_bad_inputs_by_name():
    conv = nn.Conv2d(1, 2, 4, 2, 1)
    with pytest.raises(ValueError, match=r"from 1 to the 32 patches, got 33"):
        strongest_patches(conv, torch.zeros(2, 1, 8, 8), 33)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        strongest_patches(conv, torch.zeros(2, 3, 8, 8), 1)
    with pytest.raises(TypeError, match="plain nn.Conv2d"):
        strongest_patches(nn.Linear(2, 2), torch.zeros(2, 1, 8, 8), 1)


def test_the_rebuilt_initial_discriminator_is_the_start_of_its_own_run():
    nets, _ = load_probe_discriminators()
    state = torch.random.get_rng_state()
    first = {s: initial_probe_discriminator(s).main[0].weight for s in PROBE_SEEDS}
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's state untouched

    def cosine(a, b):
        return F.cosine_similarity(a.flatten(1), b.flatten(1)).mean().item()

    for seed, net in nets.items():
        own = cosine(net.main[0].weight, first[seed])
        others = [cosine(net.main[0].weight, first[s]) for s in PROBE_SEEDS if s != seed]
        assert own > 0.5 > max(abs(c) for c in others)
    with pytest.raises(ValueError, match="one of the probe's seeds"):
        initial_probe_discriminator(7)
