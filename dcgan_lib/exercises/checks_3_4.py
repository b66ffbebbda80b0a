"""Checks for the exercises of chapter 3 (normalization) and chapter 4 (training dynamics)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_lib import losses, theory
from dcgan_lib.exercises._core import as_float, call, exercise, fail, show

# ------------------------------------------------------------ chapter 3: normalization


@exercise("3.1", "Measure the noise of a BatchNorm variance", "measure", "relative_variance_mse")
def check_relative_variance_mse(relative_variance_mse):
    """mean over rows of (S^2 - sigma^2)^2 / sigma^4, S^2 the unbiased variance of a row."""
    cases = [
        (torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, -2.0]]), 2.0),
        (torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 5.0]]), 1.5),
        (torch.randn(50, 8, generator=torch.Generator().manual_seed(3)) * 2.0, 4.0),
    ]
    for samples, sigma2 in cases:
        what = f"relative_variance_mse({show(samples)}, sigma2={sigma2})"
        got = as_float(call(relative_variance_mse, "relative_variance_mse", samples.clone(),
                            sigma2), what)
        s2 = samples.var(dim=1, unbiased=True)
        expected = (((s2 - sigma2) / sigma2) ** 2).mean().item()
        if abs(got - expected) > 1e-4 * max(1.0, expected):
            fail(f"{what} returned {got:.4f}, expected {expected:.4f}: take the unbiased "
                 f"variance of each row (a batch of B = {samples.shape[1]}), then the mean "
                 f"of (S^2 - sigma^2)^2 / sigma^4 over the rows")
    batches = torch.randn(20_000, 4, generator=torch.Generator().manual_seed(3))
    measured = as_float(call(relative_variance_mse, "relative_variance_mse", batches, 1.0),
                        "relative_variance_mse on Gaussian batches")
    terms = (batches.var(dim=1) - 1.0) ** 2
    standard_error = (terms.std() / len(terms) ** 0.5).item()
    return (f"exact on three sets of batches; on 20,000 Gaussian batches of B = 4 it measures "
            f"{measured:.3f} +- {standard_error:.3f} against 2 / (B - 1) = "
            f"{theory.bn_variance_relative_mse(4):.3f}")


@exercise("3.2", "InstanceNorm by hand", "implement", "instance_norm")
def check_instance_norm(instance_norm):
    """(x - mean) / sqrt(var + eps) over each image's own pixels, channel by channel."""
    g = torch.Generator().manual_seed(4)
    constant = torch.full((1, 1, 3, 3), 7.0)
    scaled = torch.randn(3, 4, 5, 6, generator=g) * torch.tensor([1.0, 10.0, 0.1, 3.0])[
        None, :, None, None] + 5.0
    for x, name in [(torch.randn(2, 3, 4, 4, generator=g), "a (2, 3, 4, 4) batch"),
                    (scaled, "a (3, 4, 5, 6) batch with channels of different scales"),
                    (constant, "an image whose pixels are all equal")]:
        what = f"instance_norm on {name}"
        got = call(instance_norm, "instance_norm", x.clone())
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            fail(f"{what} returned {show(got)}; return a tensor of the input's shape "
                 f"{tuple(x.shape)}")
        expected = F.instance_norm(x, eps=1e-5)
        if torch.isnan(got).any():
            fail(f"{what} returned nan; add eps = 1e-5 to the variance before the square root")
        if not torch.allclose(got, expected, atol=1e-4):
            fail(f"{what} differs from F.instance_norm by up to "
                 f"{(got - expected).abs().max().item():.3g}; normalise over each image's "
                 f"pixels (dims 2 and 3) with the biased variance and eps = 1e-5")
    one = torch.randn(1, 2, 4, 4, generator=g)
    batch = torch.cat([one, torch.randn(3, 2, 4, 4, generator=g) * 5 + 2])
    alone = call(instance_norm, "instance_norm", one.clone())
    together = call(instance_norm, "instance_norm", batch.clone())[:1]
    if not torch.allclose(alone, together, atol=1e-5):
        fail("instance_norm changes an image's output when other images join the batch; "
             "its statistics must come from that image alone")
    return "equal to F.instance_norm, independent of the rest of the batch"


@exercise("3.3", "Does a normalisation leak the batch?", "measure", "leaks_batch")
def check_leaks_batch(leaks_batch):
    """True exactly when a sample's output (in training mode) depends on its batch mates."""
    cases = [
        (nn.BatchNorm2d(3), True),
        (nn.InstanceNorm2d(3, affine=True), False),
        (nn.GroupNorm(1, 3), False),
        (nn.Identity(), False),
        (nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU()), True),
        (nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.GroupNorm(3, 3)), False),
    ]
    for layer, expected in cases:
        name = type(layer).__name__
        if isinstance(layer, nn.Sequential):
            name += "(" + ", ".join(type(m).__name__ for m in layer) + ")"
        layer.eval()  # the learner must switch it to training mode, as in a training step
        got = call(leaks_batch, "leaks_batch", layer)
        if not isinstance(got, (bool, np.bool_)) and not (
                isinstance(got, torch.Tensor) and got.numel() == 1):
            fail(f"leaks_batch({name}) returned {show(got)}; return True or False")
        if bool(got) != expected:
            why = ("in training mode BatchNorm normalises with the batch's mean and variance"
                   if expected else
                   "its statistics come from each sample alone, so compare only the first "
                   "sample's output between two batches that share it")
            fail(f"leaks_batch({name}) returned {bool(got)}, expected {expected}: {why}")
    return "BatchNorm leaks the batch; InstanceNorm, LayerNorm and no norm do not"


@exercise("3.4", "How large a batch?", "explain", "answer_3_4")
def check_answer_3_4(answer_3_4):
    got = call(answer_3_4, "answer_3_4")
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        fail(f"answer_3_4() returned {show(got)}; return a whole batch size B")
    expected = next(b for b in range(2, 1000) if theory.bn_variance_relative_mse(b) < 0.05)
    if got == expected:
        return f"B = {expected}, where 2 / (B - 1) = {2 / (expected - 1):.4f} < 0.05"
    if got == expected - 1:
        fail(f"answer_3_4() returned {got}, where 2 / (B - 1) is exactly 0.05; "
             f"the question asks for the error to be below 0.05")
    fail(f"answer_3_4() returned {got}, where 2 / (B - 1) = "
         f"{2 / max(got - 1, 1e-9):.4g}; find the smallest B with 2 / (B - 1) < 0.05")


# ---------------------------------------------------------- chapter 4: training dynamics


def _logits(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


@exercise("4.1", "The non-saturating generator loss", "implement", "non_saturating_loss")
def check_non_saturating_loss(non_saturating_loss):
    """-mean log sigmoid(l), finite and with gradient -(1 - D) even where D rounds to 0."""
    for logits in [_logits(0.0), _logits(2.0, -1.0, 0.5), _logits(-3.0, -3.0, 4.0, 1.0),
                   _logits(-200.0, 1.0)]:
        what = f"non_saturating_loss({show(logits)})"
        x = logits.clone().requires_grad_(True)
        got = call(non_saturating_loss, "non_saturating_loss", x)
        value = as_float(got, what)
        expected = losses.generator_loss(logits, "non_saturating").item()
        if not math.isfinite(value):
            fail(f"{what} returned {value}; sigmoid(-200) rounds to 0 in float32, so take "
                 f"the log on the logits (F.logsigmoid or BCE with logits)")
        if abs(value - expected) > 1e-4 * max(1.0, abs(expected)):
            fail(f"{what} returned {value:.4f}, expected -mean(log D) = {expected:.4f} "
                 f"with D = sigmoid(logit)")
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            fail(f"{what} returned a number cut off from autograd; return the loss tensor")
        (grad,) = torch.autograd.grad(got, x)
        d = torch.sigmoid(logits)
        if not torch.allclose(grad, -(1 - d) / len(logits), atol=1e-5):
            fail(f"the gradient of {what} is {show(grad)}; it should be -(1 - D) / B per logit")
    return "equal to -mean log D, finite at logit -200, gradient -(1 - D) / B"


@exercise("4.2", "Label smoothing", "implement", "smoothed_d_loss")
def check_smoothed_d_loss(smoothed_d_loss):
    """BCE(D(x), 1 - eps) + BCE(D(G(z)), eps), each a mean over its batch."""
    g = torch.Generator().manual_seed(5)
    for real, fake, eps in [(_logits(3.0, 1.0), _logits(-2.0, 0.0), 0.1),
                            (_logits(5.0), _logits(-5.0, -1.0, 2.0), 0.2),
                            (torch.randn(8, generator=g), torch.randn(5, generator=g), 0.0)]:
        what = f"smoothed_d_loss({show(real)}, {show(fake)}, eps={eps})"
        got = as_float(call(smoothed_d_loss, "smoothed_d_loss", real.clone(), fake.clone(),
                            eps), what)
        err_real, err_fake = losses.discriminator_loss(real, fake, 1 - eps, eps)
        expected = (err_real + err_fake).item()
        if abs(got - expected) > 1e-4 * max(1.0, expected):
            fail(f"{what} returned {got:.4f}, expected {expected:.4f}: targets 1 - eps = "
                 f"{1 - eps:g} for real logits and eps = {eps:g} for fake ones, "
                 f"each BCE a mean over its own batch")
    return "matches losses.discriminator_loss with targets 1 - eps and eps"


@exercise("4.3", "The oscillation frequency from the Jacobian", "compute", "spiral_frequency")
def check_spiral_frequency(spiral_frequency):
    """|Im(eigenvalue)| of J = [[-lg, -1], [1, -ld]]; 0 where the eigenvalues are real."""
    cases = [(0.0, 0.0), (0.1, 0.5), (1.0, 0.0), (0.3, 0.3), (0.0, 3.0), (2.5, 0.1)]
    for lg, ld in cases:
        what = f"spiral_frequency({lg}, {ld})"
        got = as_float(call(spiral_frequency, "spiral_frequency", lg, ld), what)
        expected = abs(np.linalg.eigvals(np.array([[-lg, -1.0], [1.0, -ld]])).imag).max()
        if abs(got - expected) > 1e-6:
            hint = ("the eigenvalues are real here, so there is no oscillation and the "
                    "frequency is 0" if expected == 0 else
                    f"it should be the imaginary part of J's eigenvalues, {expected:.4f}")
            fail(f"{what} returned {got:.4f}; {hint}")
    return "equal to sqrt(4 - (lg - ld)^2) / 2 and to 0 past |lg - ld| = 2"


@exercise("4.4", "How much weaker is the minimax gradient?", "explain", "answer_4_4")
def check_answer_4_4(answer_4_4):
    got = as_float(call(answer_4_4, "answer_4_4"), "answer_4_4()")
    d = 0.01
    expected = (theory.generator_logit_grad(d, "non_saturating")
                / theory.generator_logit_grad(d, "minimax"))
    if abs(got - expected) <= 0.01 * expected:
        return f"(1 - D) / D = {expected:.0f} at D = 0.01"
    if abs(got * expected - 1) < 0.02:
        fail(f"answer_4_4() returned {got:.4g}, the ratio upside down; the question asks how "
             f"many times larger the non-saturating gradient is")
    fail(f"answer_4_4() returned {got:.4g}; the logit gradients are -D (minimax) and "
         f"-(1 - D) (non-saturating): divide them at D = 0.01")
