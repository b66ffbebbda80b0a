"""GAN losses on discriminator logits.

The discriminator outputs a logit l per image and D = sigmoid(l / T) is its probability that
the image is real (T is the temperature; T = 1 is the usual sigmoid). Working on logits
keeps the losses finite where D rounds to 0 or 1 in floating point.

    discriminator:   L_D = BCE(D(x), y_real) + BCE(D(G(z)), y_fake)
    generator:       minimax          L_G =  E[log(1 - D(G(z)))]
                     non-saturating   L_G = -E[log D(G(z))]

Label smoothing replaces the targets 1 and 0 by ``real_label`` (e.g. 0.9) and ``fake_label``.
A NaN logit gives a NaN loss; the training loop checks every loss and stops there.
The public functions check their arguments and call the short cores a chapter shows
(``bce``, ``discriminator_bce``, ``generator_bce``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GENERATOR_LOSSES = ("minimax", "non_saturating")


def _check_logits(name: str, logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of logits, got {type(logits).__name__}")
    if logits.dim() != 1 or logits.shape[0] == 0:
        raise ValueError(f"{name} must have shape (B,) with B >= 1, got {tuple(logits.shape)}")
    return logits


def _check_label(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    return float(temperature)


def bce(logits, target, temperature=1.0):
    """Mean binary cross-entropy of D = sigmoid(logits / T) against the target."""
    scaled = logits / temperature
    return F.binary_cross_entropy_with_logits(scaled, torch.full_like(scaled, target))


def discriminator_bce(real_logits, fake_logits, real_label=1.0, fake_label=0.0,
                      temperature=1.0):
    """``(errD_real, errD_fake)``: the real batch scored against ``real_label``, the
    fake batch against ``fake_label``. Their sum is L_D."""
    errD_real = bce(real_logits, real_label, temperature)
    errD_fake = bce(fake_logits, fake_label, temperature)
    return errD_real, errD_fake


def generator_bce(fake_logits, kind="non_saturating", temperature=1.0):
    """L_G: the non-saturating -mean log D, or the minimax mean log(1 - D)."""
    if kind == "non_saturating":
        return bce(fake_logits, 1.0, temperature)  # the fakes scored against "real"
    return -bce(fake_logits, 0.0, temperature)  # minus the discriminator's loss on them


def bce_with_target(logits: torch.Tensor, target: float, temperature: float = 1.0) -> torch.Tensor:
    """Mean binary cross-entropy of sigmoid(logits / T) against a constant target in [0, 1]."""
    return bce(logits, target, _check_temperature(temperature))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       real_label: float = 1.0, fake_label: float = 0.0,
                       temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(errD_real, errD_fake)``: the two halves of L_D, each a mean over its batch."""
    real_logits = _check_logits("real_logits", real_logits)
    fake_logits = _check_logits("fake_logits", fake_logits)
    real_label = _check_label("real_label", real_label)
    fake_label = _check_label("fake_label", fake_label)
    return discriminator_bce(real_logits, fake_logits, real_label, fake_label,
                             _check_temperature(temperature))


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating",
                   temperature: float = 1.0) -> torch.Tensor:
    """L_G on the discriminator's logits for generated images.

    ``"non_saturating"``: -mean log D, gradient -(1 - D) per logit (strong when D -> 0).
    ``"minimax"``: mean log(1 - D), gradient -D per logit (vanishes when D -> 0).
    """
    fake_logits = _check_logits("fake_logits", fake_logits)
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"kind must be 'minimax' or 'non_saturating', got {kind!r}")
    return generator_bce(fake_logits, kind, _check_temperature(temperature))
