"""The ledger's claims of chapter 4: the GAN losses, the linear GAN's spiral, saturation,
label smoothing and temperature."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import dynamics, losses, theory
from .record import Claim, seeded


def _losses() -> list[Claim]:
    g = seeded(11)
    real_logits = torch.randn(64, generator=g, dtype=torch.float64) + 1.0
    fake_logits = torch.randn(64, generator=g, dtype=torch.float64) - 1.0
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    err_real, err_fake = losses.discriminator_loss(real_logits, fake_logits)
    by_hand_d = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    by_hand_g = -torch.log(d_fake).mean()
    return [
        Claim(None, "the discriminator's loss is the binary cross-entropy of real vs generated",
              r"L_D = -\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1-D(G(z)))]",
              by_hand_d.item(), (err_real + err_fake).item(), 1e-12, "close",
              "dcgan_lib.losses.discriminator_loss against the formula on 64 + 64 logits"),
        Claim(None, "the generator's loss is -log D on its samples",
              r"L_G = -\mathbb{E}[\log D(G(z))]", by_hand_g.item(),
              losses.generator_loss(fake_logits, "non_saturating").item(), 1e-12, "close",
              "dcgan_lib.losses.generator_loss against the formula on 64 logits"),
    ]






def _spiral(lambda_g: float, lambda_d: float) -> list[Claim]:
    eig = np.linalg.eigvals(dynamics.linear_gan_jacobian(lambda_g, lambda_d))
    closed = theory.linear_gan_eigenvalues(lambda_g, lambda_d)

    # Integrate d(theta, phi)/dt = (-phi - lg theta, theta - ld phi) with RK4 and count the
    # sign changes of theta: k changes in time T give pi k / T.
    dt, T = 2e-3, 60.0
    _, theta, _ = dynamics.simulate_linear_gan(lambda_g, lambda_d, 1.0, 0.0, t_max=T, dt=dt)
    crossings = int((np.diff(np.sign(theta)) != 0).sum())
    omega = theory.linear_gan_frequency(lambda_g, lambda_d)
    pair = f"(lambda_g, lambda_d) = ({lambda_g:g}, {lambda_d:g})"
    return [
        Claim("3112817", f"the linear GAN's Jacobian has complex eigenvalues at {pair}",
              r"\mu_\pm = -\tfrac{\lambda_g+\lambda_d}{2}"
              r" \pm i\sqrt{1-(\lambda_g-\lambda_d)^2/4}",
              closed[0].imag, float(np.abs(eig.imag).max()), 1e-9, "close",
              "imaginary part from numpy.linalg.eigvals"),
        Claim("3112817", f"the spiral is stable (decays) at {pair}",
              r"\mathrm{Re}\,\mu_\pm = -(\lambda_g+\lambda_d)/2 < 0", 0.0,
              float(eig.real.max()), 0, "less", "largest real part from numpy.linalg.eigvals"),
        Claim("3112817", f"it oscillates at angular frequency omega = "
              f"{omega:.4f} at {pair}", r"\omega = \frac{\sqrt{4-(\lambda_g-\lambda_d)^2}}{2}",
              omega, math.pi * crossings / T, math.pi / T, "close",
              "zero crossings of theta(t) in an RK4 simulation of the flow over T = 60"),
    ]


def _generator_losses() -> list[Claim]:
    rows = []
    logit = torch.tensor([-6.0], dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(logit).item()
    for kind, form in (("minimax", r"\partial L_G/\partial l = -D"),
                       ("non_saturating", r"\partial L_G/\partial l = -(1-D)")):
        logit.grad = None
        losses.generator_loss(logit, kind).backward()
        rows.append(Claim(
            "3112798", f"{kind.replace('_', '-')} loss: gradient per logit at D = {d:.4f} is "
            f"{theory.generator_logit_grad(d, kind):.4f}", form,
            theory.generator_logit_grad(d, kind), logit.grad.item(), 1e-12, "close",
            "autograd of dcgan_lib.losses.generator_loss (float64) at logit -6"))
    return rows


def _smoothing() -> list[Claim]:
    rows = []
    logit = torch.tensor([12.0], dtype=torch.float64, requires_grad=True)  # D = 0.999994
    for label in (1.0, 0.9):
        logit.grad = None
        real_loss, _ = losses.discriminator_loss(logit, logit.detach(), real_label=label)
        real_loss.backward()
        d = torch.sigmoid(logit).item()
        rows.append(Claim(
            "3112719", f"real target {label:g}, saturated D = {d:.6f}: the logit gradient is "
            f"D - y = {d - label:.2g}" + (" (vanishes)" if label == 1 else " (stays)"),
            r"\partial \mathcal{L}/\partial l = D - \tilde y", d - label, logit.grad.item(),
            1e-12, "close", "autograd of dcgan_lib.losses.discriminator_loss (float64)"))

    def argmin_pointwise_bce(p_data, p_model, y_r, y_f=0.0):
        def bce(d, y):
            return -(y * torch.log(d) + (1 - y) * torch.log(1 - d))

        lo, hi = 1e-15, 1 - 1e-15
        for _ in range(80):  # bisection on the autograd slope of a convex loss
            mid = torch.tensor((lo + hi) / 2, dtype=torch.float64, requires_grad=True)
            (p_data * bce(mid, y_r) + p_model * bce(mid, y_f)).backward()
            lo, hi = (lo, mid.item()) if mid.grad > 0 else (mid.item(), hi)
        return (lo + hi) / 2

    logit = torch.tensor([-12.0], dtype=torch.float64, requires_grad=True)  # D = 6e-6
    _, fake_loss = losses.discriminator_loss(logit.detach(), logit, fake_label=0.1)
    fake_loss.backward()
    d = torch.sigmoid(logit).item()
    rows.append(Claim(
        "3112719", f"fake target ε = 0.1, saturated D = {d:.1e}: the logit gradient is "
        f"D - ε = {d - 0.1:.2g} (stays)",
        r"\partial \mathcal{L}/\partial l = D - \varepsilon",
        d - 0.1, logit.grad.item(), 1e-12, "close",
        "autograd of dcgan_lib.losses.discriminator_loss (float64)"))

    eps = 0.1  # the label-smoothing amount ε
    rows.append(Claim(
        "3112719", f"with real label 1 - ε = {1 - eps:g}, the optimal D never exceeds "
        f"{1 - eps:g}, even where the generator puts no mass",
        r"D^*(x) = \frac{p_{data}(1-\varepsilon)}{p_{data}+p_{model}} \le 1-\varepsilon",
        theory.optimal_discriminator(1.0, 0.0, real_label=1 - eps),
        argmin_pointwise_bce(1.0, 0.0, 1 - eps), 1e-9, "close",
        "numeric minimisation of the pointwise BCE (bisection on its autograd slope)"))
    rows.append(Claim(
        "3112719", f"with both labels smoothed (1 - ε, ε), the optimal D never falls "
        f"below ε = {eps:g}, even where the data put no mass",
        r"D^*(x) = \frac{p_{data}(1-\varepsilon) + p_{model}\,\varepsilon}{p_{data}+p_{model}}"
        r" \ge \varepsilon",
        theory.optimal_discriminator(0.0, 1.0, real_label=1 - eps, fake_label=eps),
        argmin_pointwise_bce(0.0, 1.0, 1 - eps, eps), 1e-9, "close",
        "numeric minimisation of the pointwise BCE (bisection on its autograd slope)"))

    grads = []
    for temperature in (1.0, 4.0):
        logit = torch.tensor([8.0], dtype=torch.float64, requires_grad=True)
        losses.bce_with_target(logit, 1.0, temperature).backward()
        grads.append(abs(logit.grad.item()))
    rows.append(Claim(
        "3112719", "temperature T = 4 keeps a confident logit (l = 8) out of saturation: its "
        "gradient is larger than at T = 1",
        r"\left|\partial \mathcal{L}/\partial l\right| = |\sigma(l/T) - y|/T", grads[0],
        grads[1], 0, "greater",
        "autograd of dcgan_lib.losses.bce_with_target at l = 8, T = 1 (threshold) vs T = 4"))
    return rows


def claims() -> list[Claim]:
    """This chapter's rows of the ledger, measured now."""
    return [
        *_losses(),
        *_spiral(0.1, 0.3),
        *_generator_losses(),
        *_smoothing(),
    ]
