"""The ledger's claims of chapter 2: the expected gradients of ReLU and LeakyReLU and their
products along a path, by Monte Carlo and autograd."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import theory
from .record import N_SE, Claim, mean_se, seeded


def _activations() -> list[Claim]:
    rows = []
    a = torch.randn(200_000, generator=seeded(1), dtype=torch.float64)
    grads = {}
    for alpha in (0.0, 0.2):
        x = a.clone().requires_grad_()
        F.leaky_relu(x, alpha).sum().backward()
        grads[alpha] = x.grad
    for alpha, name in ((0.0, "ReLU"), (0.2, "LeakyReLU(0.2)")):
        mean, se = mean_se(grads[alpha])
        rows.append(Claim(
            "3112712", f"the expected derivative of {name} on N(0, sigma^2) pre-activations is "
            f"{theory.leaky_relu_expected_grad(alpha):g}",
            r"\mathbb{E}[f'(a)] = \tfrac12(1+\alpha)",
            theory.leaky_relu_expected_grad(alpha), mean, N_SE * se, "close",
            "autograd derivative averaged over 200 000 Gaussian samples"))
    # ratio of the two means; standard error by the delta method on the paired samples
    ratio_samples = grads[0.2] / 0.6 - grads[0.0] / 0.5
    ratio = grads[0.2].mean().item() / grads[0.0].mean().item()
    rows.append(Claim(
        "3112712", "LeakyReLU's average gradient factor is 20% higher than ReLU's",
        r"\frac{0.5(1+0.2)}{0.5} = 1.2", 1.2, ratio,
        N_SE * 1.2 * mean_se(ratio_samples)[1], "close",
        "ratio of the two autograd means above"))

    depth = 8
    rows += [_path_product(alpha, depth) for alpha in (0.0, 0.2)]

    x = torch.linspace(-10.0, 10.0, 20_001, dtype=torch.float64, requires_grad=True)
    torch.tanh(x).sum().backward()
    tanh_grad = x.grad
    x = torch.linspace(-10.0, 10.0, 20_001, dtype=torch.float64, requires_grad=True)
    x.clamp(-1, 1).sum().backward()
    clip_grad = x.grad
    outside = x.detach().abs() > 1
    sech2 = 1 / math.cosh(10.0) ** 2
    rows += [
        Claim("3112742", "tanh's gradient is never zero: over a in [-10, 10] its smallest value "
              "is sech^2(10) > 0", r"\min_{|a|\le 10} (1-\tanh^2 a) = \mathrm{sech}^2(10)",
              sech2, tanh_grad.min().item(), 1e-6 * sech2, "close",
              "float64 autograd of torch.tanh on 20 001 points"),
        Claim("3112742", "clip(a, -1, 1) has gradient exactly zero for |a| > 1",
              r"\tfrac{d}{da}\,\mathrm{clip}(a,-1,1) = 0 \text{ for } |a|>1", 0.0,
              clip_grad[outside].abs().max().item(), 0, "equal",
              "largest |autograd gradient| of torch.clamp over the points with |a| > 1"),
        Claim("3112742", "clip passes the gradient unchanged inside (-1, 1)",
              r"\tfrac{d}{da}\,\mathrm{clip}(a,-1,1) = 1 \text{ for } |a|<1", 1.0,
              clip_grad[x.detach().abs() < 1].min().item(), 0, "equal",
              "smallest autograd gradient of torch.clamp over the points with |a| < 1"),
    ]
    return rows


def _path_product(alpha: float, depth: int) -> Claim:
    """Mean over all input-to-output paths of the product of activation derivatives in a real
    depth-layer MLP (random Gaussian weights, BatchNorm): with the path's units drawn
    independently per layer this is the product over layers of each layer's mean derivative,
    per sample, averaged over the batch."""
    torch.manual_seed(2)
    width, batch = 256, 512
    h = torch.randn(batch, width)
    per_sample = torch.ones(batch, dtype=torch.float64)
    for _ in range(depth):
        linear = nn.Linear(width, width, bias=False)
        a = F.batch_norm(linear(h).detach(), None, None, training=True)
        a.requires_grad_()
        h_next = F.leaky_relu(a, alpha)
        h_next.sum().backward()
        per_sample *= a.grad.double().mean(dim=1)
        h = h_next.detach()
    mean, se = mean_se(per_sample)
    name = "ReLU" if alpha == 0 else f"LeakyReLU({alpha:g})"
    expected = theory.leaky_relu_expected_grad(alpha) ** depth
    return Claim(
        "3112712", f"after k = {depth} {name} layers the activations scale the gradient by "
        f"({theory.leaky_relu_expected_grad(alpha):g})^k on average",
        rf"\left(\tfrac12(1+\alpha)\right)^{{{depth}}}", expected, mean,
        N_SE * se, "close",
        f"product of autograd derivatives along a path, averaged over all paths and {batch} "
        f"inputs of an MLP of {depth} layers of width {width}, with random weights and "
        "BatchNorm")


def claims() -> list[Claim]:
    """This chapter's rows of the ledger, measured now."""
    return [
        *_activations(),
    ]
