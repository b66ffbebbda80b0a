"""The checks of chapter 2's exercises (activations): LeakyReLU, gradients, depth."""

from __future__ import annotations

import torch

from dcgan_lib import theory
from dcgan_lib.exercises import _wire
from dcgan_lib.exercises._core import as_float, call, call_full, exercise, fail, show
from dcgan_lib.exercises._wire import Spec


def _tensor_result(got, what: str, shape) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        fail(f"{what} returned {type(got).__name__}; return a torch.Tensor")
    if tuple(got.shape) != tuple(shape):
        fail(f"{what} returned shape {tuple(got.shape)}; expected {tuple(shape)}")
    return got


@exercise("2.1", "LeakyReLU by hand", "implement", "leaky_relu")
def check_leaky_relu(leaky_relu):
    """Value and autograd slope of LeakyReLU from elementary tensor operations."""
    a = torch.tensor([-3.0, -0.5, 0.0, 0.25, 2.0])
    for alpha in (0.2, 0.01, 0.5):
        what = f"leaky_relu({show(a)}, alpha={alpha})"
        reply = call_full(leaky_relu, "leaky_relu", (Spec("leaf", show(a), tensor=a), alpha),
                          grad_of=())
        y = _tensor_result(reply.value, what, a.shape)
        expected = torch.where(a >= 0, a, alpha * a)
        if not torch.allclose(y.detach(), expected, atol=1e-6):
            bad = int((y.detach() - expected).abs().argmax())
            fail(f"{what} gives {y[bad].item():.4g} at a = {a[bad].item():g}; "
                 f"LeakyReLU gives {expected[bad].item():.4g} "
                 f"(a for a >= 0, alpha * a below)")
        grad = reply.grads[0] if reply.grads else None
        if not y.requires_grad or not isinstance(grad, torch.Tensor):
            fail(f"{what} is cut off from autograd; build it from torch operations on a")
        if grad.shape != a.shape:
            fail(f"the slope of {what} has shape {tuple(grad.shape)}; expected {tuple(a.shape)}")
        slope = torch.where(a > 0, torch.ones_like(a), torch.full_like(a, alpha))
        mask = a != 0
        if not torch.allclose(grad[mask], slope[mask]):
            fail(f"the slope of {what} is {grad.tolist()}; it should be 1 for a > 0 "
                 f"and alpha = {alpha} for a < 0")
    return "values and slopes match LeakyReLU for three slopes"


@exercise("2.2", "Measure the mean gradient with autograd", "measure", "mean_gradient")
def check_mean_gradient(mean_gradient):
    """mean over samples of f'(a), measured by autograd, for activations f that no single
    closed form covers (LeakyReLU, tanh, softplus, SiLU), on samples the learner never saw."""
    g = torch.Generator().manual_seed(1)
    cases = [
        ("LeakyReLU(0.2)", torch.tensor([-1.0, 2.0, 3.0, 0.5])),  # 0.75 + 0.25 * 0.2
        ("LeakyReLU(0.1)", torch.tensor([-1.0, -2.0, -0.1, 4.0, -3.0])),
        ("LeakyReLU(0.3)", torch.randn(1000, generator=g)),
        ("tanh", torch.tensor([-3.0, -0.5, 0.0, 0.2, 1.0, 2.5])),
        ("softplus", torch.randn(500, generator=g) * 2 + 1),
        ("SiLU", torch.randn(500, generator=g) * 3),
    ]
    for name, samples in cases:
        what = f"mean_gradient({name}, {show(samples)})"
        reply = call_full(mean_gradient, "mean_gradient",
                          (Spec("activation", name, name=name), samples))
        got = as_float(reply.value, what)
        if any(reply.mutated):
            fail(f"{what} changed the samples it was given; work on a copy")
        expected = _autograd_mean_slope(_wire._activation(name), samples)
        if abs(got - expected) > 1e-5:
            fail(f"{what} returned {got:.4f}, but the mean of f'(a) over these samples is "
                 f"{expected:.4f}; differentiate the activation you are given with autograd "
                 f"(no formula for one activation fits them all)")
    gaussian = torch.randn(100_000, generator=torch.Generator().manual_seed(2))
    measured = as_float(call(mean_gradient, "mean_gradient",
                             Spec("activation", "LeakyReLU(0.2)", name="LeakyReLU(0.2)"),
                             gaussian), "mean_gradient on Gaussian samples")
    return (f"exact for LeakyReLU, tanh, softplus and SiLU; on 100,000 N(0, 1) "
            f"pre-activations it measures {measured:.4f} for LeakyReLU(0.2) against "
            f"0.5 (1 + 0.2) = {theory.leaky_relu_expected_grad(0.2):.4f}")


def _autograd_mean_slope(activation, samples: torch.Tensor) -> float:
    a = samples.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(activation(a).sum(), a)
    return grad.mean().item()


@exercise("2.3", "Gradient through tanh and through clip", "implement", "output_grad")
def check_output_grad(output_grad):
    """d y / d a for y = tanh(a) and y = clip(a, -1, 1)."""
    # Points on both sides of each edge of (-1, 1), from just past it (1.01) to far out,
    # and the edges themselves, where clip's one-sided derivatives are 1 and 0.
    a = torch.tensor([-4.0, -2.0, -1.5, -1.01, -1.0, -0.99, -0.5, 0.0, 0.3, 0.9, 0.99, 1.0,
                      1.01, 1.2, 1.5, 1.9, 2.5])
    edge = a.abs() == 1
    for kind in ("tanh", "clip"):
        what = f"output_grad({show(a)}, {kind!r})"
        got = _tensor_result(call(output_grad, "output_grad", a.clone(), kind), what, a.shape)
        x = a.clone().requires_grad_(True)
        y = torch.tanh(x) if kind == "tanh" else torch.clamp(x, -1, 1)
        (expected,) = torch.autograd.grad(y.sum(), x)
        got = got.detach().float()
        if kind == "clip":  # at a = +-1 anything from 0 to 1 (a subgradient) is right
            inside = (got >= -1e-6) & (got <= 1 + 1e-6)
            got = torch.where(edge & inside, expected, got)
        if not torch.allclose(got, expected, atol=1e-5):
            bad = int((got - expected).abs().argmax())
            rule = "1 - tanh(a)^2" if kind == "tanh" else "1 inside (-1, 1) and 0 outside"
            fail(f"{what} gives {got[bad].item():.4g} at a = {a[bad].item():g}; the "
                 f"derivative is {rule}, here {expected[bad].item():.4g}")
    return ("both derivatives match autograd on 17 points, including the saturated pixels "
            "just past +-1")


CASES_2_4 = [(0.2, 10), (0.1, 4), (0.3, 20), (0.01, 100), (0.2, 1)]  # (alpha, layers)


@exercise("2.4", "Ten layers of ReLU or LeakyReLU", "explain", "answer_2_4")
def check_answer_2_4(answer_2_4):
    """(0.5 (1 + alpha) / 0.5)^layers, at the chapter's alpha = 0.2 and ten layers and at
    slopes and depths the exercise never names."""
    for alpha, layers in CASES_2_4:
        what = f"answer_2_4(alpha={alpha}, layers={layers})"
        got = as_float(call(answer_2_4, "answer_2_4", alpha, layers), what)
        leaky = theory.leaky_relu_expected_grad(alpha)
        relu = theory.leaky_relu_expected_grad(0.0)
        expected = (leaky / relu) ** layers
        if abs(got - expected) <= 0.01 * expected:
            continue
        if abs(got - leaky**layers) <= 0.01 * leaky**layers:
            fail(f"{what} returned {got:.4g}, the factor of the LeakyReLU network alone; the "
                 f"question asks how many times larger it is than the ReLU network's")
        if abs(got - (1 + alpha * layers)) < 1e-6 or abs(got - leaky / relu) < 1e-6:
            fail(f"{what} returned {got:.4g}; each of the {layers} layers contributes its own "
                 f"factor, so the factors multiply")
        fail(f"{what} returned {got:.4g}; divide the two networks' multipliers after "
             f"{layers} layers, each layer multiplying by its mean gradient 0.5 (1 + alpha)")
    ratio = (theory.leaky_relu_expected_grad(0.2) / theory.leaky_relu_expected_grad(0.0)) ** 10
    return (f"(1 + alpha)^layers at {len(CASES_2_4)} slopes and depths: (0.6 / 0.5)^10 = "
            f"{ratio:.2f} for the chapter's ten layers")
