"""What BatchNorm takes from the batch: the variance it divides by, and the dependence
between the images of a batch, measured on real layers."""

import pytest
import torch

from dcgan_lib import models
from dcgan_lib.normalization import batch_dependence, batchnorm_variance


def test_batchnorm_divides_by_the_biased_variance():
    g = torch.Generator().manual_seed(0)
    for b in (2, 3, 16):
        x = 3.0 + 2.0 * torch.randn(b, 500, generator=g, dtype=torch.float64)
        v = batchnorm_variance(x)
        torch.testing.assert_close(v, x.var(dim=0, unbiased=False), rtol=1e-10, atol=0)
        # ... and not by the unbiased one, which is larger by B / (B - 1)
        assert ((x.var(dim=0) / v - b / (b - 1)).abs() < 1e-9).all()


def discriminator(norm: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.Discriminator(image_size=16, channels=1, width=8, norm=norm).train()


@pytest.fixture(scope="module")
def batches():
    g = torch.Generator().manual_seed(1)
    images, mates, other = (torch.randn(n, 1, 16, 16, generator=g) for n in (4, 12, 12))
    return images, mates, 0.5 * other + 1.0  # other mates with a different mean and scale


def test_batch_dependence_is_large_for_a_batchnorm_discriminator_in_training_mode(batches):
    assert batch_dependence(discriminator("batch"), *batches) > 1e-2


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_batch_dependence_is_zero_when_statistics_come_from_each_image(norm, batches):
    assert batch_dependence(discriminator(norm), *batches) < 1e-5


def test_batch_dependence_is_zero_for_batchnorm_in_evaluation_mode(batches):
    assert batch_dependence(discriminator("batch").eval(), *batches) < 1e-5
