"""The ledger's claims of chapter 5: Gaussian and uniform latents, interpolation."""

from __future__ import annotations

import math

import torch

from .. import models, theory
from .record import N_SE, Claim, mean_se, seeded


def _latents() -> list[Claim]:
    rows = []
    n = 400_000
    samples = {"gaussian": torch.randn(n, generator=seeded(6), dtype=torch.float64),
               "uniform": 2 * torch.rand(n, generator=seeded(7), dtype=torch.float64) - 1}
    for dist, z in samples.items():
        mean, se = mean_se((z - z.mean()) ** 2)
        rows.append(Claim(
            "3112758", f"a {dist} latent coordinate has variance "
            f"{'1' if dist == 'gaussian' else '1/3'}",
            r"\mathrm{Var}\,\mathcal{N}(0,1) = 1" if dist == "gaussian"
            else r"\mathrm{Var}\,U(-1,1) = \tfrac13", theory.latent_variance(dist), mean,
            N_SE * se, "close", f"sample variance of {n} draws"))

    outside = {dist: (z.abs() > 1).double() for dist, z in samples.items()}
    mean, se = mean_se(outside["gaussian"])
    rows.append(Claim(
        "3112758", "the Gaussian's support is unbounded: about a third of its draws lie "
        "outside [-1, 1]", r"P(|z|>1) = \operatorname{erfc}(1/\sqrt2)",
        math.erfc(1 / math.sqrt(2)), mean, N_SE * se, "close",
        f"fraction of {n} N(0, 1) draws with |z| > 1"))
    rows.append(Claim(
        "3112758", "the uniform latent is bounded: no draw leaves [-1, 1]",
        r"P(|z|>1) = 0", 0.0, outside["uniform"].mean().item(), 0, "equal",
        f"fraction of {n} U(-1, 1) draws with |z| > 1"))

    torch.manual_seed(8)
    g = models.Generator(latent_dim=64, image_size=16, channels=1, width=16)
    first = g.main[0]
    per_dist = {}
    with torch.no_grad():
        gz = torch.randn(4096, 64, 1, 1, generator=seeded(9))
        uz = 2 * torch.rand(4096, 64, 1, 1, generator=seeded(10)) - 1
        for dist, z in (("gaussian", gz), ("uniform", uz)):
            per_dist[dist] = (first(z) ** 2).mean(dim=(1, 2, 3)).double()
    ratio = per_dist["gaussian"].mean().item() / per_dist["uniform"].mean().item()
    se = mean_se(per_dist["gaussian"] / per_dist["gaussian"].mean()
                  - per_dist["uniform"] / per_dist["uniform"].mean())[1] * ratio
    rows.append(Claim(
        "3112758", "at initialisation a Gaussian latent gives the generator's first layer 3 "
        "times the pre-activation variance of a U(-1, 1) latent",
        r"\frac{\mathrm{Var}(Wz)_{\mathcal{N}}}{\mathrm{Var}(Wz)_{U}} = \frac{1}{1/3} = 3",
        theory.latent_variance("gaussian") / theory.latent_variance("uniform"), ratio,
        N_SE * se, "close",
        "mean square of the first ConvTranspose2d of a real Generator, 4096 latents each"))
    return rows


def claims() -> list[Claim]:
    """This chapter's rows of the ledger, measured now."""
    return [
        *_latents(),
    ]
