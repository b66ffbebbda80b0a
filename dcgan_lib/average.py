"""The generator's weight average: an exponential moving average of its parameters.

After every step ``avg <- decay * avg + (1 - decay) * weights`` (:func:`update_average`);
after t steps from a start θ0 this is β^t θ0 + (1 - β) Σ_k β^(t-k) θk with β the decay, so
the last 1/(1 - β) steps carry most of the weight (Yazici et al. 2019). BatchNorm's running
statistics are not averaged: :func:`recalibrate_batchnorm` re-estimates them for the
averaged weights. The average is outside the game: it never feeds the discriminator.
"""

from __future__ import annotations

import torch

from .latent import noise as latent_noise

RECALIBRATION_LATENTS = 4096  # fresh latents that re-estimate an average's BatchNorm stats


@torch.no_grad()
def update_average(average, netG, decay: float) -> None:
    """One step of the weight average for every parameter of ``netG``."""
    torch._foreach_lerp_(list(average.parameters()), list(netG.parameters()), 1.0 - decay)


@torch.no_grad()
def recalibrate_batchnorm(netG, latent_dist: str, batch_size: int, seed: int,
                          n: int = RECALIBRATION_LATENTS):
    """Re-estimate every BatchNorm's running mean and variance for ``netG``'s own weights:
    the equal-weight average of the batch statistics over ``n`` fresh latents in
    minibatches of ``batch_size`` (as in training), drawn from a private generator seeded
    with ``seed`` so that no other random stream moves. Returns ``netG`` in eval mode."""
    norms = [m for m in netG.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return netG.eval()
    device = next(netG.parameters()).device
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    gen = torch.Generator().manual_seed(seed)
    netG.train()
    for _ in range(max(1, n // batch_size)):
        netG(latent_noise(batch_size, netG.latent_dim, latent_dist, generator=gen).to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    return netG.eval()
