"""The ledger's claims of chapter 3: the noise in BatchNorm's statistics, and what
BatchNorm in a discriminator leaks between the images of a batch."""

from __future__ import annotations

import torch
from torch import nn

from .. import models, normalization, theory
from .record import N_SE, Claim, mean_se, seeded


def _batch_variance(batch_size: int, trials: int, unbiased: bool) -> Claim:
    x = 2.0 * torch.randn(batch_size, trials, generator=seeded(batch_size), dtype=torch.float64)
    if unbiased:
        expected = theory.unbiased_variance_relative_mse(batch_size)
        mean, se = mean_se((x.var(dim=0) / 4.0 - 1.0) ** 2)
        return Claim(
            "3112744", f"the unbiased variance S^2 (divide by B - 1) of a batch of "
            f"B = {batch_size} has squared relative error 2/(B-1) = {expected:.4g}",
            r"\mathbb{E}[(S^2-\sigma^2)^2]/\sigma^4 = \frac{2}{B-1}",
            expected, mean, N_SE * se, "close", f"Monte Carlo over {trials} Gaussian batches")
    expected = theory.biased_variance_relative_mse(batch_size)
    mean, se = mean_se((normalization.batchnorm_variance(x) / 4.0 - 1.0) ** 2)
    return Claim(
        "3112744", f"the variance BatchNorm normalises with (the biased one, divide by B) of a "
        f"batch of B = {batch_size} has squared relative error (2B-1)/B^2 = {expected:.4g}",
        r"\mathbb{E}[(\sigma_B^2-\sigma^2)^2]/\sigma^4 = \frac{2B-1}{B^2}",
        expected, mean, N_SE * se, "close",
        f"Monte Carlo over {trials} Gaussian batches, the variance read back from the output "
        "of nn.BatchNorm2d in training mode")


def _instance_norm_independent_of_batch() -> Claim:
    norm = nn.InstanceNorm2d(8, affine=True)
    x = torch.randn(32, 8, 8, 8, generator=seeded(3))
    with torch.no_grad():
        alone = norm(x[:1])
        in_batch = norm(x)[:1]
    return Claim(
        "3112744", "InstanceNorm's statistics do not depend on the batch: an image gets the "
        "same output alone (B = 1) as in a batch of 32",
        r"\hat x_{nc} = (x_{nc}-\mu_{nc})/\sqrt{\sigma^2_{nc}+\epsilon}", 0.0,
        (alone - in_batch).abs().max().item(), 1e-6, "close",
        "max |difference| of nn.InstanceNorm2d outputs")


def _bn_formula() -> Claim:
    bn = nn.BatchNorm2d(4).train()
    x = 3 + 2 * torch.randn(16, 4, 5, 5, generator=seeded(4))
    with torch.no_grad():
        out = bn(x)
    mu = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    by_hand = (x - mu) / torch.sqrt(var + bn.eps)
    return Claim(None, "batch normalisation is x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps)",
                 r"\hat x_i = \frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}", 0.0,
                 (out - by_hand).abs().max().item(), 1e-5, "close",
                 "max |nn.BatchNorm2d - formula| in training mode (float32)")


def batch_leak(norm: str, real: torch.Tensor, other: torch.Tensor) -> float:
    """The relative change of ``real[0]``'s logit when ``real[1:]`` is swapped for
    ``other[1:]``, for a fresh ``Discriminator(norm=norm)`` in training mode."""
    torch.manual_seed(0)
    d = models.Discriminator(image_size=real.shape[-1], channels=real.shape[1], width=16,
                             norm=norm).train()
    return normalization.batch_dependence(d, real[:1], real[1:], other[1:])


def _leak() -> list[Claim]:
    from ..data import load

    real, _ = load("mnist", "test", image_size=32, limit=64)
    torch.manual_seed(5)
    g = models.Generator(latent_dim=32, image_size=32, channels=1, width=16)
    with torch.no_grad():
        fake = g(torch.randn(64, 32))
    rows = [Claim(
        "3112790", "with BatchNorm in the discriminator, a real image's output changes when "
        "the rest of its batch changes from real to generated images",
        r"\Delta = |D(x \mid \text{batch}_1) - D(x \mid \text{batch}_2)| > 0", 1e-3,
        batch_leak("batch", real[:32], fake[:32]), 0, "greater",
        "relative change of the logit of one MNIST image, Discriminator(norm='batch') in "
        "training mode")]
    for norm in ("layer", "instance", "none"):
        rows.append(Claim(
            "3112790", f"with norm='{norm}' the same swap leaves the real image's output "
            "unchanged", r"\Delta = 0", 0.0, batch_leak(norm, real[:32], fake[:32]), 1e-5,
            "close", f"relative change of the logit, Discriminator(norm='{norm}')"))
    rows.append(Claim(
        "3112790", "fed separate all-real batches (as the DCGAN loop does), a BatchNorm "
        "discriminator's output for a real image still depends on the other real images",
        r"\Delta > 0", 1e-3, batch_leak("batch", real[:32], real[32:64]), 0, "greater",
        "relative change of the logit when the other 31 real images are replaced by 31 "
        "different real ones"))
    return rows


def claims() -> list[Claim]:
    """This chapter's rows of the ledger, measured now."""
    return [
        *(_batch_variance(b, n, unbiased) for unbiased in (False, True)
          for b, n in ((2, 40_000), (4, 40_000), (8, 40_000), (64, 20_000))),
        _instance_norm_independent_of_batch(),
        _bn_formula(),
        *_leak(),
    ]
