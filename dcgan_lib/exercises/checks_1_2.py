"""Checks for the exercises of chapter 1 (principles) and chapter 2 (activations)."""

from __future__ import annotations

import torch
from torch import nn

from dcgan_lib import theory
from dcgan_lib.exercises._core import as_float, call, exercise, fail, multiple_choice, show

# ---------------------------------------------------------------- chapter 1: principles


def _int_result(got, what: str) -> int:
    if isinstance(got, bool) or not isinstance(got, int):
        if isinstance(got, float) and got.is_integer():
            fail(f"{what} returned {got!r}, a float; a size is an int (use // for the division)")
        fail(f"{what} returned {show(got)} ({type(got).__name__}); return an int")
    return got


@exercise("1.1", "Transposed-convolution output size", "compute", "conv_transpose_output_size")
def check_conv_transpose_output_size(conv_transpose_output_size):
    """H_out = s (H_in - 1) + k - 2p, on the DCGAN layers and on layers the text never shows."""
    cases = [  # (size, kernel, stride, padding, why)
        (4, 4, 2, 1, "a k=4, s=2, p=1 layer doubles 4 to 8"),
        (1, 4, 1, 0, "the first generator layer turns the 1x1 latent into a 4x4 map"),
        (16, 4, 2, 1, "a k=4, s=2, p=1 layer doubles 16 to 32"),
        (5, 3, 2, 1, "s(H_in - 1) + k - 2p = 2*4 + 3 - 2 = 9"),
        (7, 5, 3, 2, "s(H_in - 1) + k - 2p = 3*6 + 5 - 4 = 19"),
        (3, 2, 2, 0, "a k=2, s=2 layer without padding doubles 3 to 6"),
    ]
    _check_sizes(conv_transpose_output_size, "conv_transpose_output_size",
                 theory.conv_transpose_output_size, cases)
    return f"{len(cases)} layers, including ones that do not double the size"


@exercise("1.2", "Strided-convolution output size", "compute", "conv_output_size")
def check_conv_output_size(conv_output_size):
    """N_out = floor((N_in + 2p - k) / s) + 1, including sizes the stride does not divide."""
    cases = [
        (64, 4, 2, 1, "a k=4, s=2, p=1 layer halves 64 to 32"),
        (4, 4, 1, 0, "the last discriminator layer turns a 4x4 map into one logit"),
        (96, 4, 3, 0, "floor((96 - 4) / 3) + 1 = 31: the division rounds down"),
        (9, 3, 2, 0, "floor((9 - 3) / 2) + 1 = 4"),
        (10, 3, 3, 1, "floor((10 + 2 - 3) / 3) + 1 = 4"),
        (7, 2, 2, 0, "floor((7 - 2) / 2) + 1 = 3: the last column is never covered"),
    ]
    _check_sizes(conv_output_size, "conv_output_size", theory.conv_output_size, cases)
    return f"{len(cases)} layers, including strides that do not divide the input"


def _check_sizes(learner_fn, name, reference, cases):
    """Compare a learner's size formula with the library's on (size, k, s, p, why) cases."""
    for size, k, s, p, why in cases:
        what = f"{name}({size}, {k}, {s}, {p})"
        got = _int_result(call(learner_fn, name, size, k, s, p), what)
        if got != reference(size, k, s, p):
            fail(f"{what} returned {got}; {why}")


def _find(block, kinds):
    return [m for m in block.modules() if isinstance(m, kinds)]


@exercise("1.3", "A discriminator block", "implement", "discriminator_block")
def check_discriminator_block(discriminator_block):
    """Conv2d(k=4, s=2, p=1, no bias) -> BatchNorm2d (when norm) -> LeakyReLU(leak)."""
    for c_in, c_out, leak, norm in [(3, 8, 0.2, False), (8, 16, 0.2, True), (4, 6, 0.1, True)]:
        what = f"discriminator_block({c_in}, {c_out}, leak={leak}, norm={norm})"
        block = call(discriminator_block, "discriminator_block", c_in, c_out, leak=leak,
                     norm=norm)
        if not isinstance(block, nn.Module):
            fail(f"{what} returned {type(block).__name__}; return an nn.Module "
                 f"such as nn.Sequential")
        if _find(block, (nn.MaxPool2d, nn.AvgPool2d)):
            fail(f"{what} contains a pooling layer; DCGAN halves the size with a stride-2 "
                 f"convolution instead")
        convs = _find(block, nn.Conv2d)
        if len(convs) != 1:
            fail(f"{what} contains {len(convs)} Conv2d layers; use exactly one")
        conv = convs[0]
        if (conv.in_channels, conv.out_channels) != (c_in, c_out):
            fail(f"{what}: the convolution maps {conv.in_channels} to {conv.out_channels} "
                 f"channels; it should map {c_in} to {c_out}")
        x = torch.randn(5, c_in, 16, 12, generator=torch.Generator().manual_seed(0))
        block.train()
        try:
            y = block(x)
        except Exception as error:
            fail(f"{what} failed on a batch of shape (5, {c_in}, 16, 12): "
                 f"{type(error).__name__}: {error}")
        if tuple(y.shape) != (5, c_out, 8, 6):
            fail(f"{what} maps (5, {c_in}, 16, 12) to {tuple(y.shape)}; a k=4, s=2, p=1 "
                 f"convolution halves each side, giving (5, {c_out}, 8, 6)")
        if conv.bias is not None:
            fail(f"{what}: the convolution has a bias; pass bias=False (the normalisation or "
                 f"the next layer's shift makes it redundant)")
        norms = _find(block, nn.BatchNorm2d)
        if norm and len(norms) != 1:
            fail(f"{what} has {len(norms)} BatchNorm2d layers; with norm=True it needs one")
        if not norm and norms:
            fail(f"{what} has a BatchNorm2d layer; with norm=False it should have none "
                 f"(the discriminator's first block sees the raw image)")
        expected = nn.functional.conv2d(x, conv.weight.detach(), stride=2, padding=1)
        if norm:
            expected = nn.functional.batch_norm(expected, None, None, training=True)
        expected = nn.functional.leaky_relu(expected, leak)
        if not torch.allclose(y, expected, atol=1e-5):
            relus = _find(block, (nn.ReLU,))
            if relus:
                fail(f"{what} uses ReLU; the discriminator uses LeakyReLU(leak) so that "
                     f"negative pre-activations still pass a gradient")
            fail(f"{what} does not compute conv(k=4, s=2, p=1) -> "
                 f"{'BatchNorm2d -> ' if norm else ''}LeakyReLU({leak}) in that order")
    return "three blocks halve the size and match conv -> norm -> LeakyReLU"


@exercise("1.4", "Which layer avoids the checkerboard?", "explain", "answer_1_4")
def check_answer_1_4(answer_1_4):
    return multiple_choice(call(answer_1_4, "answer_1_4"), "answer_1_4()", {
        "a": "k=3, s=2 gives interior counts 1 and 2: the stride does not divide the kernel",
        "c": "k=5, s=2 gives interior counts 2 and 3, still uneven",
        "d": "k=3, s=1, p=1 has even overlap but keeps the size instead of doubling it",
    }, correct="b")


# -------------------------------------------------------------- chapter 2: activations


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
        x = a.clone().requires_grad_(True)
        y = _tensor_result(call(leaky_relu, "leaky_relu", x, alpha), what, a.shape)
        expected = torch.where(a >= 0, a, alpha * a)
        if not torch.allclose(y.detach(), expected, atol=1e-6):
            bad = int((y.detach() - expected).abs().argmax())
            fail(f"{what} gives {y[bad].item():.4g} at a = {a[bad].item():g}; "
                 f"LeakyReLU gives {expected[bad].item():.4g} "
                 f"(a for a >= 0, alpha * a below)")
        if not y.requires_grad:
            fail(f"{what} is cut off from autograd; build it from torch operations on a")
        (grad,) = torch.autograd.grad(y.sum(), x)
        slope = torch.where(a > 0, torch.ones_like(a), torch.full_like(a, alpha))
        mask = a != 0
        if not torch.allclose(grad[mask], slope[mask]):
            fail(f"the slope of {what} is {grad.tolist()}; it should be 1 for a > 0 "
                 f"and alpha = {alpha} for a < 0")
    return "values and slopes match LeakyReLU for three slopes"


@exercise("2.2", "Measure the mean gradient with autograd", "measure", "mean_gradient")
def check_mean_gradient(mean_gradient):
    """mean over samples of f'(a), measured by autograd, on samples the learner never saw."""
    cases = [
        (torch.tensor([-1.0, 2.0, 3.0, 0.5]), 0.2),  # 3 of 4 positive: 0.75 + 0.25 * 0.2
        (torch.tensor([-1.0, -2.0, -0.1, 4.0, -3.0]), 0.1),
        (torch.randn(1000, generator=torch.Generator().manual_seed(1)), 0.3),
    ]
    for samples, alpha in cases:
        what = f"mean_gradient({show(samples)}, alpha={alpha})"
        before = samples.clone()
        got = as_float(call(mean_gradient, "mean_gradient", samples, alpha), what)
        if not torch.equal(samples, before):
            fail(f"{what} changed the samples it was given; work on a copy")
        positive = (samples > 0).float().mean().item()
        expected = positive + (1 - positive) * alpha
        if abs(got - expected) > 1e-5:
            fail(f"{what} returned {got:.4f}; with {positive:.0%} of the samples positive, "
                 f"the mean slope is {positive:.2f} * 1 + {1 - positive:.2f} * {alpha} "
                 f"= {expected:.4f}")
    gaussian = torch.randn(100_000, generator=torch.Generator().manual_seed(2))
    measured = as_float(call(mean_gradient, "mean_gradient", gaussian, 0.2),
                        "mean_gradient on Gaussian samples")
    return (f"exact on three sets of samples; on 100,000 N(0, 1) pre-activations it measures "
            f"{measured:.4f} against 0.5 (1 + 0.2) = {theory.leaky_relu_expected_grad(0.2):.4f}")


@exercise("2.3", "Gradient through tanh and through clip", "implement", "output_grad")
def check_output_grad(output_grad):
    """d y / d a for y = tanh(a) and y = clip(a, -1, 1)."""
    a = torch.tensor([-4.0, -1.5, -0.5, 0.0, 0.3, 0.9, 2.5])
    for kind in ("tanh", "clip"):
        what = f"output_grad({show(a)}, {kind!r})"
        got = _tensor_result(call(output_grad, "output_grad", a.clone(), kind), what, a.shape)
        x = a.clone().requires_grad_(True)
        y = torch.tanh(x) if kind == "tanh" else torch.clamp(x, -1, 1)
        (expected,) = torch.autograd.grad(y.sum(), x)
        if not torch.allclose(got.detach().float(), expected, atol=1e-5):
            bad = int((got.detach().float() - expected).abs().argmax())
            rule = "1 - tanh(a)^2" if kind == "tanh" else "1 inside (-1, 1) and 0 outside"
            fail(f"{what} gives {got[bad].item():.4g} at a = {a[bad].item():g}; the "
                 f"derivative is {rule}, here {expected[bad].item():.4g}")
    return "both derivatives match autograd, including the saturated pixels"


@exercise("2.4", "Ten layers of ReLU or LeakyReLU", "explain", "answer_2_4")
def check_answer_2_4(answer_2_4):
    got = as_float(call(answer_2_4, "answer_2_4"), "answer_2_4()")
    expected = (theory.leaky_relu_expected_grad(0.2) / theory.leaky_relu_expected_grad(0.0)) ** 10
    if abs(got - expected) <= 0.01 * expected:
        return f"(0.6 / 0.5)^10 = {expected:.2f}"
    if abs(got - 0.6**10) < 1e-3 or abs(got - 0.5**10) < 1e-3:
        fail(f"answer_2_4() returned {got:.4g}, the factor of one network alone; the question "
             f"asks how many times larger the LeakyReLU network's gradient is")
    if abs(got - 1.2) < 1e-6 or abs(got - 3.0) < 1e-6:
        fail(f"answer_2_4() returned {got:.4g}; each of the ten layers contributes its own "
             f"factor 0.6 / 0.5, so the factors multiply")
    fail(f"answer_2_4() returned {got:.4g}; compute the ratio of the two mean gradient "
         f"multipliers after ten layers, each layer multiplying by 0.5 (1 + alpha)")
