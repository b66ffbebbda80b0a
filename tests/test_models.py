"""The DCGAN generator and discriminator: shapes, initialisation, bad input."""

import pytest
import torch
from torch import nn

from dcgan_lib.models import NORMS, Discriminator, Generator, count_parameters


@pytest.mark.parametrize("image_size", [16, 32, 64, 128, 256])
def test_generator_and_discriminator_mirror_each_other_at_every_size(image_size):
    g = Generator(latent_dim=8, image_size=image_size, channels=3, width=4)
    d = Discriminator(image_size=image_size, channels=3, width=4)
    x = g(torch.randn(2, 8))
    assert x.shape == (2, 3, image_size, image_size)
    assert d(x).shape == (2,)
    convs_g = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    convs_d = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs_g) == len(convs_d)
    assert [c.out_channels for c in convs_g] == [c.in_channels for c in reversed(convs_d)]


def test_generator_follows_the_paper_64x64_channel_plan():
    g = Generator()
    plan = [(m.in_channels, m.out_channels) for m in g.modules()
            if isinstance(m, nn.ConvTranspose2d)]
    assert plan == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]


def test_every_upsampling_layer_is_k4_s2_p1():
    g = Generator(image_size=64)
    layers = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert (layers[0].kernel_size, layers[0].stride, layers[0].padding) == ((4, 4), (1, 1), (0, 0))
    for m in layers[1:]:
        assert (m.kernel_size, m.stride, m.padding) == ((4, 4), (2, 2), (1, 1))


def test_generator_output_lies_in_tanh_range_and_equals_tanh_of_pre_tanh():
    g = Generator(image_size=32, channels=1, width=8).eval()
    z = torch.randn(16, 100) * 50
    x = g(z)
    assert x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(x, torch.tanh(g.pre_tanh(z)))


def test_generator_accepts_flat_and_4d_latents_alike():
    g = Generator(image_size=16, channels=1, width=4).eval()
    z = torch.randn(3, 100)
    torch.testing.assert_close(g(z), g(z[:, :, None, None]))


@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_builds_and_runs(norm):
    g = Generator(image_size=32, channels=1, width=8, norm=norm)
    d = Discriminator(image_size=32, channels=1, width=8, norm=norm)
    assert d(g(torch.randn(4, 100))).shape == (4,)


def test_pooling_discriminator_has_pooling_and_the_strided_one_has_none():
    pooled = Discriminator(image_size=32, channels=1, width=8, downsample="pool")
    strided = Discriminator(image_size=32, channels=1, width=8)
    assert any(isinstance(m, nn.AvgPool2d) for m in pooled.modules())
    assert not any(isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)) for m in strided.modules())
    assert pooled(torch.randn(2, 1, 32, 32)).shape == (2,)


def test_weights_init_draws_conv_weights_from_n_0_002():
    torch.manual_seed(0)
    g = Generator()
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    # about 3.5 million draws: the standard error of the std estimate is ~1e-5
    assert abs(w.mean().item()) < 1e-4
    assert abs(w.std().item() - 0.02) < 1e-4
    bn = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([m.weight for m in bn])
    assert abs(scales.mean().item() - 1.0) < 0.01 and (torch.cat([m.bias for m in bn]) == 0).all()


def test_discriminator_leak_zero_is_a_plain_relu():
    d = Discriminator(image_size=16, channels=1, width=4, leak=0.0)
    assert all(m.negative_slope == 0.0 for m in d.modules() if isinstance(m, nn.LeakyReLU))


def test_count_parameters_of_the_paper_generator():
    # 100*512*16 + 512*256*16 + 256*128*16 + 128*64*16 + 64*3*16 conv weights, 2*(512+256+128+64)
    expected = 16 * (100 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64 * 3) + 2 * 960
    assert count_parameters(Generator()) == expected


@pytest.mark.parametrize("build,match", [
    (lambda: Generator(image_size=28), r"image_size must be a power of two from 16 to 256.*got 28"),
    (lambda: Generator(image_size=512), "got 512"),
    (lambda: Discriminator(image_size=28), "got 28"),
    (lambda: Generator(norm="group"), r"norm must be one of .*got 'group'"),
    (lambda: Discriminator(norm="bn"), "got 'bn'"),
    (lambda: Generator(channels=0), "channels must be a positive integer, got 0"),
    (lambda: Generator(width=-8), "width must be a positive integer, got -8"),
    (lambda: Discriminator(width=2.5), "width must be a positive integer, got 2.5"),
    (lambda: Generator(latent_dim=0), "latent_dim must be a positive integer, got 0"),
    (lambda: Discriminator(leak=1.5), r"leak must be a number in \[0, 1\), got 1.5"),
    (lambda: Discriminator(downsample="max"), "got 'max'"),
    (lambda: Generator(leak=-0.1), r"leak must be a number in \[0, 1\), got -0.1"),
    (lambda: Generator(output="sigmoid"), r"output must be one of 'tanh', 'linear', "
                                          r"got 'sigmoid'"),
    (lambda: Generator(init="he"), r"init must be one of 'dcgan', 'default', got 'he'"),
    (lambda: Discriminator(init="xavier"), "init must be one of .*got 'xavier'"),
    (lambda: Discriminator(hidden=-1), "hidden must be a non-negative integer, got -1"),
])
def test_bad_constructor_arguments_raise_value_error_naming_the_value(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("shape", [(2, 50), (2, 100, 2, 2), (100,), (2, 1, 100)])
def test_wrong_latent_shape_names_received_and_expected_shapes(shape):
    g = Generator(image_size=16, channels=1, width=4)
    with pytest.raises(ValueError) as err:
        g(torch.randn(*shape))
    assert str(tuple(shape)) in str(err.value) and "(B, 100)" in str(err.value)


def test_wrong_image_shape_names_received_and_expected_shapes():
    d = Discriminator(image_size=32, channels=1, width=4)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\), got \(2, 1, 28, 28\)"):
        d(torch.randn(2, 1, 28, 28))


def test_non_tensor_latent_raises_type_error():
    with pytest.raises(TypeError, match="z must be a torch.Tensor, got list"):
        Generator(image_size=16, width=4)([[0.0] * 100])


# The options chapter 6 switches off one at a time


def test_generator_without_norm_has_no_normalisation_layers():
    g = Generator(image_size=32, channels=1, width=8, norm="none")
    norms = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)
    assert not any(isinstance(m, norms) for m in g.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in Generator(image_size=32).modules()) == 3


def test_generator_leak_puts_one_leaky_relu_after_every_hidden_layer():
    g = Generator(image_size=32, channels=1, width=8, leak=0.2)
    leaky = [m for m in g.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 3 and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.ReLU) for m in g.modules())
    relus = [m for m in Generator(image_size=32).modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 3


def test_generator_with_linear_output_has_no_tanh_and_leaves_the_pixel_range():
    z = torch.randn(16, 100)
    images = {}
    for output in ("tanh", "linear"):
        torch.manual_seed(0)
        g = Generator(image_size=32, channels=1, width=8, output=output).eval()
        with torch.no_grad():
            g.main[-2].weight.mul_(1e4)  # a pre-activation far beyond [-1, 1]
            images[output] = g(z)
        if output == "linear":
            assert not any(isinstance(m, nn.Tanh) for m in g.modules())
            torch.testing.assert_close(images[output], g.pre_tanh(z))
    assert images["tanh"].abs().max() <= 1 < images["linear"].abs().max()
    torch.testing.assert_close(images["tanh"], torch.tanh(images["linear"]))


def test_discriminator_hidden_layer_maps_the_last_features_through_hidden_units():
    d = Discriminator(image_size=32, channels=1, width=8, hidden=128)
    linear = [m for m in d.modules() if isinstance(m, nn.Linear)]
    # 32 -> 16 -> 8 -> 4 with 8, 16, 32 channels: 32 * 4 * 4 features
    assert [(m.in_features, m.out_features) for m in linear] == [(512, 128), (128, 1)]
    assert d(torch.randn(3, 1, 32, 32)).shape == (3,)
    assert not any(isinstance(m, nn.Linear) for m in Discriminator(32, 1, 8).modules())


def test_default_init_keeps_pytorchs_uniform_weights_with_std_one_over_sqrt_3_fan_in():
    torch.manual_seed(0)
    d = Discriminator(image_size=64, channels=3, width=64, init="default")
    for conv in (m for m in d.modules() if isinstance(m, nn.Conv2d)):
        fan_in = conv.weight[0].numel()
        expected = (3 * fan_in) ** -0.5
        assert abs(conv.weight.std().item() / expected - 1) < 0.05, conv
        assert conv.weight.abs().max() <= fan_in ** -0.5  # uniform on +-1/sqrt(fan_in)
    torch.manual_seed(0)
    dcgan = Discriminator(image_size=64, channels=3, width=64)
    first = next(m for m in dcgan.modules() if isinstance(m, nn.Conv2d))
    assert abs(first.weight.std().item() - 0.02) < 0.002  # fan_in 48: default std 0.083


def test_generator_arch_rebuilds_the_same_architecture():
    g = Generator(latent_dim=8, image_size=16, channels=1, width=4, norm="none", leak=0.2,
                  output="linear", init="default")
    again = Generator(**g.arch())
    assert [type(m) for m in again.modules()] == [type(m) for m in g.modules()]
    assert again.arch() == g.arch()
