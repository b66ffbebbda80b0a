"""What single units of a trained DCGAN do: a generator's channels, a discriminator's filters.

Radford et al. (2015, section 6.3.2) found the feature maps of their bedroom generator that
drew windows, removed them, and watched the windows vanish from the pictures; Bau et al.
(2019) turned that ablation into a method. Here, for a :class:`~dcgan_lib.models.Generator`:

    ablated_images(generator, z, layer, channels)   (K, N, C, H, W)

redraws the images of latents ``z`` with one channel of block output ``generator.main[layer]``
set to zero at a time. For a discriminator's first convolution (filters ``(F, C, k, k)``):

    smoothness(filters)                  (F,)  correlation of neighbouring weights
    strongest_patches(conv, images, n)   (F, C, k, k)  mean of the n patches it answers most
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .models import Generator


def block_outputs(generator: Generator) -> list[int]:
    """The indices in ``generator.main`` of the ReLUs that end its blocks."""
    return [i for i, m in enumerate(generator.main) if isinstance(m, nn.ReLU)]


def ablate_channels(generator: Generator, z: torch.Tensor, layer: int,
                    channels=None) -> torch.Tensor:
    """``(K, N, C, H, W)``: the images of ``z`` ``(N, latent_dim)`` with channel
    ``channels[k]`` of ``generator.main[layer]``'s output zeroed (all channels if None).

    ``layer`` must end a block (:func:`block_outputs`) and the generator be in eval mode,
    so that BatchNorm uses its running statistics and each image's ablation is its own."""
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a dcgan_lib Generator, got {type(generator).__name__}")
    if generator.training:
        raise ValueError("generator must be in eval mode (generator.eval()): in training "
                         "mode BatchNorm's batch statistics mix the images of a batch")
    blocks = block_outputs(generator)
    if isinstance(layer, bool) or layer not in blocks:
        raise ValueError(f"layer must be the index of a block's ReLU in generator.main, "
                         f"one of {blocks}, got {layer!r}")
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != generator.latent_dim:
        raise ValueError(f"z must be a tensor of shape (N, {generator.latent_dim}), got "
                         f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
    width = generator.main[layer - 2].out_channels  # the block's convolution
    channels = list(range(width)) if channels is None else list(channels)
    bad = [c for c in channels if isinstance(c, bool) or not isinstance(c, numbers.Integral)
           or not 0 <= c < width]
    if bad or not channels:
        raise ValueError(f"channels must be a non-empty list of integers in [0, {width}), "
                         f"got {bad[0] if bad else channels!r}")
    return ablated_images(generator, z.to(next(generator.parameters()).dtype), layer,
                          channels)


@torch.no_grad()
def ablated_images(generator, z, layer, channels):
    """``ablate_channels`` without its checks: one channel off at a time, redrawn."""
    head, tail = generator.main[:layer + 1], generator.main[layer + 1:]
    h = head(z[:, :, None, None])  # the block's output, (N, width, s, s)
    images = []
    for c in channels:
        keep = torch.ones(h.shape[1], 1, 1, dtype=h.dtype)
        keep[c] = 0  # the unit removed, everything else as it was
        images.append(tail(h * keep))
    return torch.stack(images)


def _check_filters(filters) -> torch.Tensor:
    if not isinstance(filters, torch.Tensor) or filters.dim() != 4 \
            or min(filters.shape[2:]) < 2 or not filters.is_floating_point():
        got = tuple(filters.shape) if isinstance(filters, torch.Tensor) else filters
        raise ValueError(f"filters must be a float tensor (F, C, kh, kw) with kh, kw >= 2, "
                         f"got {got!r}")
    if (filters.flatten(1).abs().sum(1) == 0).any():
        raise ValueError("filters holds an all-zero filter, whose smoothness is undefined")
    return filters.detach()


def smoothness(filters: torch.Tensor) -> torch.Tensor:
    """``(F,)`` for filters ``(F, C, kh, kw)``: 1 for constant filters, about 0 for
    independent random weights, -1 for a checkerboard (:func:`neighbour_correlation`)."""
    return neighbour_correlation(_check_filters(filters))


def neighbour_correlation(w):
    """1 - (mean squared difference of side-by-side weights) / (2 mean squared weight).

    Side by side: horizontal and vertical neighbours within each channel. For weights
    with E w = 0 and E w^2 = s^2 this is E[w_i w_j] / s^2, their correlation."""
    across = (w[..., :, 1:] - w[..., :, :-1]).pow(2).flatten(1)
    down = (w[..., 1:, :] - w[..., :-1, :]).pow(2).flatten(1)
    mean_sq_diff = torch.cat([across, down], dim=1).mean(1)
    return 1 - mean_sq_diff / (2 * w.pow(2).flatten(1).mean(1))


def strongest_patches(conv: nn.Conv2d, images: torch.Tensor, n: int) -> torch.Tensor:
    """``(F, C, kh, kw)``: per filter of ``conv``, the mean of the ``n`` patches of
    ``images`` ``(N, C, H, W)`` with the largest response (as the layer cuts them)."""
    if not isinstance(conv, nn.Conv2d) or conv.groups != 1 or conv.dilation != (1, 1):
        raise TypeError(f"conv must be a plain nn.Conv2d, got {conv!r}")
    if not isinstance(images, torch.Tensor) or images.dim() != 4 \
            or images.shape[1] != conv.in_channels:
        raise ValueError(f"images must be a tensor (N, {conv.in_channels}, H, W), got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else images!r}")
    cuts = F.unfold(images[:1], conv.kernel_size, padding=conv.padding, stride=conv.stride)
    total = len(images) * cuts.shape[2]
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= total:
        raise ValueError(f"n must be an integer from 1 to the {total} patches, got {n!r}")
    return top_patches(conv, images.to(conv.weight.dtype), int(n))


@torch.no_grad()
def top_patches(conv, images, n):
    """``strongest_patches`` without its checks."""
    cut = dict(kernel_size=conv.kernel_size, padding=conv.padding, stride=conv.stride)
    patches = F.unfold(images, **cut)  # (N, C * kh * kw, positions)
    patches = patches.transpose(1, 2).flatten(0, 1)  # (N * positions, C * kh * kw)
    response = patches @ conv.weight.flatten(1).T  # (N * positions, F), bias aside
    strongest = response.topk(n, dim=0).indices  # (n, F)
    return patches[strongest].mean(0).reshape(conv.weight.shape)


def initial_probe_discriminator(seed: int) -> nn.Module:
    """The probe discriminator of ``seed`` (:mod:`dcgan_lib.probe`) before its training:
    the run's own initial weights, rebuilt as :mod:`dcgan_lib.run` built them (the global
    generator seeded with ``seed``, the generator first, then the discriminator)."""
    import dataclasses

    from .fast import Speedups
    from .probe import PROBE_CONFIG, PROBE_SEEDS
    from .run import build_models

    if isinstance(seed, bool) or seed not in PROBE_SEEDS:
        raise ValueError(f"seed must be one of the probe's seeds {PROBE_SEEDS}, got {seed!r}")
    cfg = dataclasses.replace(PROBE_CONFIG, seed=int(seed))
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
        torch.manual_seed(cfg.seed)
        _, netD = build_models(cfg, 1, torch.device("cpu"), Speedups())
    return netD.eval()
