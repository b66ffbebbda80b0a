"""The checks of chapter 4's exercises (training dynamics): the losses, the linear GAN."""

from __future__ import annotations

import math

import numpy as np
import torch

from dcgan_lib import losses, theory
from dcgan_lib.exercises._core import as_float, call, call_full, exercise, fail, show
from dcgan_lib.exercises._wire import Spec


def _logits(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


@exercise("4.1", "The non-saturating generator loss", "implement", "non_saturating_loss")
def check_non_saturating_loss(non_saturating_loss):
    """-mean log sigmoid(l), finite and with gradient -(1 - D) even where D rounds to 0."""
    for logits in [_logits(0.0), _logits(2.0, -1.0, 0.5), _logits(-3.0, -3.0, 4.0, 1.0),
                   _logits(-200.0, 1.0)]:
        what = f"non_saturating_loss({show(logits)})"
        reply = call_full(non_saturating_loss, "non_saturating_loss",
                          (Spec("leaf", show(logits), tensor=logits),), grad_of=())
        got = reply.value
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
        grad = reply.grads[0] if reply.grads else None
        if not isinstance(grad, torch.Tensor) or grad.shape != logits.shape:
            fail(f"{what} returned a number cut off from autograd; return the loss tensor")
        d = torch.sigmoid(logits)
        if not torch.allclose(grad.float(), -(1 - d) / len(logits), atol=1e-5):
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


D_4_4 = (0.01, 0.1, 0.25, 0.5, 0.9, 0.001)  # D(G(z)): the chapter's 0.01 and others


@exercise("4.4", "How much weaker is the minimax gradient?", "explain", "answer_4_4")
def check_answer_4_4(answer_4_4):
    """|non-saturating| / |minimax| logit gradient = (1 - D) / D, at six values of D."""
    for d in D_4_4:
        what = f"answer_4_4({d})"
        got = as_float(call(answer_4_4, "answer_4_4", d), what)
        expected = (theory.generator_logit_grad(d, "non_saturating")
                    / theory.generator_logit_grad(d, "minimax"))
        if abs(got - expected) <= 0.01 * expected:
            continue
        if abs(got * expected - 1) < 0.02:
            fail(f"{what} returned {got:.4g}, the ratio upside down; the question asks how "
                 f"many times larger the non-saturating gradient is")
        fail(f"{what} returned {got:.4g}; the logit gradients are -D (minimax) and "
             f"-(1 - D) (non-saturating): divide them at D = {d}")
    return f"(1 - D) / D at {len(D_4_4)} values of D: 99 at D = 0.01, 1 at D = 1/2"


def _points_at(centre, distance, count, generator):
    """``count`` points at ``distance`` from ``centre``, in random directions."""
    angle = 2 * math.pi * torch.rand(count, generator=generator)
    return centre + distance * torch.stack([angle.cos(), angle.sin()], 1)


def _modes_cases():
    """(samples, centres, std, min_count, why) cases with a known number of covered modes."""
    from dcgan_lib import toy

    g = torch.Generator().manual_seed(45)
    ring = toy.ring_centres()
    # on the ring (std 0.02, 3 std = 0.06, 20 needed): mode 0 has exactly 20 samples at
    # 0.05 (covered), mode 1 only 19 (not), mode 2 30 at 0.03 (covered, beyond 1 std),
    # mode 3 40 at 0.1 (outside 3 std, though 0.1^2 < 0.06), the rest none
    parts = [_points_at(ring[0], 0.05, 20, g), _points_at(ring[1], 0.01, 19, g),
             _points_at(ring[2], 0.03, 30, g), _points_at(ring[3], 0.1, 40, g)]
    x = torch.cat(parts)
    cases = [(x[torch.randperm(len(x), generator=g)], ring, 0.02, 20,
              "2: modes 0 and 2 (mode 1 has 19 samples, mode 3's lie outside 3 std)")]
    line = torch.tensor([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    x = torch.cat([_points_at(line[0], 0.25, 5, g), _points_at(line[2], 0.29, 7, g),
                   _points_at(line[1], 0.35, 9, g)])
    cases.append((x, line, 0.1, 5, "2: the outer two centres (the middle one's samples "
                                   "lie 0.35 away, outside 3 std = 0.3)"))
    cases.append((torch.zeros(0, 2) + ring[0], ring, 0.02, 1, "0: there are no samples"))
    spread = toy.sample_ring(400, torch.Generator().manual_seed(3))
    cases.append((spread, ring, 0.02, 20, "8: samples of the ring itself"))
    return cases


@exercise("4.5", "Count the modes a toy generator covers", "implement", "modes_covered")
def check_modes_covered(modes_covered):
    """Centres with at least min_count samples within 3 std, as an integer."""
    for samples, centres, std, min_count, why in _modes_cases():
        what = (f"modes_covered(a tensor of {len(samples)} samples, {len(centres)} centres, "
                f"std={std}, min_count={min_count})")
        got = as_float(call(modes_covered, "modes_covered", samples.clone(), centres.clone(),
                            std, min_count), what)
        expected = int(why.split(":")[0])
        if got != expected:
            fail(f"{what} returned {got:g}, expected {why}; a mode counts when at least "
                 f"min_count samples lie within 3 * std of its centre (plain distance)")
    return "counts the centres with at least min_count samples within 3 std"
