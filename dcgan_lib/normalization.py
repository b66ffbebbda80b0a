"""What BatchNorm takes from the batch, measured on the layers themselves.

``batchnorm_variance`` reads back the variance ``nn.BatchNorm2d`` divides by in training
mode (the biased one, dividing by B). ``batch_dependence`` measures how far a
discriminator's logits for some images move when the other images of their batch change:
0 when each verdict depends on its own image only (LayerNorm, InstanceNorm, no norm).
"""

from __future__ import annotations

import torch
from torch import nn


def batchnorm_variance(x: torch.Tensor) -> torch.Tensor:
    """The variance ``nn.BatchNorm2d`` divides by in training mode, read off its output.

    ``x`` is ``(B, T)``: T independent batches of B values, one channel each. The layer
    returns y = (x - mean) / sqrt(v + eps), so v = sum (x - mean)^2 / sum y^2 - eps.
    Returns v, shape ``(T,)``.
    """
    bn = nn.BatchNorm2d(x.shape[1], affine=False, dtype=x.dtype).train()
    with torch.no_grad():
        y = bn(x[:, :, None, None])[:, :, 0, 0]
    centred = x - x.mean(dim=0)
    return (centred**2).sum(dim=0) / (y**2).sum(dim=0) - bn.eps


def batch_dependence(discriminator: nn.Module, images: torch.Tensor,
                     mates: torch.Tensor, other_mates: torch.Tensor) -> float:
    """How far the logits of ``images`` move when their batch-mates change.

    ``discriminator`` scores ``[images, mates]``, then ``[images, other_mates]``, in
    the mode it is in (training mode is the one that uses batch statistics). Returns the
    largest change of an image's logit over the mean |logit| of the first batch.
    """
    n = len(images)
    with torch.no_grad():
        first = discriminator(torch.cat([images, mates]))
        second = discriminator(torch.cat([images, other_mates]))
    change = (first[:n] - second[:n]).abs().max()
    return (change / first.abs().mean()).item()
