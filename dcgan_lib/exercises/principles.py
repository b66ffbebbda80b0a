"""The checks of chapter 1's exercises (principles): layer sizes, a discriminator block."""

from __future__ import annotations

import torch
from torch import nn

from dcgan_lib import theory
from dcgan_lib.exercises._core import call, call_full, exercise, fail, multiple_choice, show
from dcgan_lib.exercises._wire import ModuleInfo, Opaque


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
        # Padding that the floor division cannot hide: at stride 1 every unit of padding
        # shows, and an odd total (N + 2p - k) at stride 2 shows one more.
        (5, 3, 1, 1, "a k=3, s=1, p=1 layer keeps the size: 5 + 2 - 3 + 1 = 5"),
        (28, 5, 1, 2, "a k=5, s=1, p=2 layer keeps the size: 28 + 4 - 5 + 1 = 28"),
        (32, 4, 2, 3, "floor((32 + 6 - 4) / 2) + 1 = 18: p = 3 pads each of the two sides"),
    ]
    _check_sizes(conv_output_size, "conv_output_size", theory.conv_output_size, cases)
    return (f"{len(cases)} layers, including strides that do not divide the input and "
            f"padding the rounding cannot hide")


def _check_sizes(learner_fn, name, reference, cases):
    """Compare a learner's size formula with the library's on (size, k, s, p, why) cases."""
    for size, k, s, p, why in cases:
        what = f"{name}({size}, {k}, {s}, {p})"
        got = _int_result(call(learner_fn, name, size, k, s, p), what)
        if got != reference(size, k, s, p):
            fail(f"{what} returned {got}; {why}")


CONV = "torch.nn.modules.conv.Conv2d"
BATCH_NORM = "torch.nn.modules.batchnorm.BatchNorm2d"
POOLS = ("torch.nn.modules.pooling.MaxPool2d", "torch.nn.modules.pooling.AvgPool2d")
RELU = "torch.nn.modules.activation.ReLU"


@exercise("1.3", "A discriminator block", "implement", "discriminator_block")
def check_discriminator_block(discriminator_block):
    """Conv2d(k=4, s=2, p=1, no bias) -> BatchNorm2d (when norm) -> LeakyReLU(leak)."""
    for c_in, c_out, leak, norm in [(3, 8, 0.2, False), (8, 16, 0.2, True), (4, 6, 0.1, True)]:
        what = f"discriminator_block({c_in}, {c_out}, leak={leak}, norm={norm})"
        x = torch.randn(5, c_in, 16, 12, generator=torch.Generator().manual_seed(0))
        reply = call_full(discriminator_block, "discriminator_block", (c_in, c_out),
                          {"leak": leak, "norm": norm}, forward=x)
        block = reply.value
        if not isinstance(block, ModuleInfo):
            kind = block.type_name if isinstance(block, Opaque) else type(block).__name__
            fail(f"{what} returned {kind}; return an nn.Module such as nn.Sequential")
        if block.of(*POOLS):
            fail(f"{what} contains a pooling layer; DCGAN halves the size with a stride-2 "
                 f"convolution instead")
        convs = block.of(CONV)
        if len(convs) != 1:
            fail(f"{what} contains {len(convs)} Conv2d layers; use exactly one")
        conv = convs[0]
        if (conv.get("in_channels"), conv.get("out_channels")) != (c_in, c_out):
            fail(f"{what}: the convolution maps {conv.get('in_channels')} to "
                 f"{conv.get('out_channels')} channels; it should map {c_in} to {c_out}")
        y = reply.forward
        if isinstance(y, Opaque):
            fail(f"{what} failed on a batch of shape (5, {c_in}, 16, 12): "
                 f"{y.type_name}: {y.text}")
        if not isinstance(y, torch.Tensor):
            fail(f"{what} returned {show(y)} on a batch of shape (5, {c_in}, 16, 12); "
                 f"a block returns a tensor")
        if tuple(y.shape) != (5, c_out, 8, 6):
            fail(f"{what} maps (5, {c_in}, 16, 12) to {tuple(y.shape)}; a k=4, s=2, p=1 "
                 f"convolution halves each side, giving (5, {c_out}, 8, 6)")
        if conv.get("has_bias") is not False:
            fail(f"{what}: the convolution has a bias; pass bias=False (the normalisation or "
                 f"the next layer's shift makes it redundant)")
        norms = block.of(BATCH_NORM)
        if norm and len(norms) != 1:
            fail(f"{what} has {len(norms)} BatchNorm2d layers; with norm=True it needs one")
        if not norm and norms:
            fail(f"{what} has a BatchNorm2d layer; with norm=False it should have none "
                 f"(the discriminator's first block sees the raw image)")
        if not _is_block(y, x, conv.get("weight"), leak, norm):
            if block.of(RELU):
                fail(f"{what} uses ReLU; the discriminator uses LeakyReLU(leak) so that "
                     f"negative pre-activations still pass a gradient")
            fail(f"{what} does not compute conv(k=4, s=2, p=1) -> "
                 f"{'BatchNorm2d -> ' if norm else ''}LeakyReLU({leak}) in that order")
    return "three blocks halve the size and match conv -> norm -> LeakyReLU"


def _is_block(y, x, weight, leak, norm) -> bool:
    """Whether ``y`` is conv(x, weight) -> BatchNorm (training mode) -> LeakyReLU(leak)."""
    if not isinstance(weight, torch.Tensor):
        return False
    try:
        expected = nn.functional.conv2d(x, weight.detach().float(), stride=2, padding=1)
        if norm:
            expected = nn.functional.batch_norm(expected, None, None, training=True)
        expected = nn.functional.leaky_relu(expected, leak)
        return bool(torch.allclose(y.detach().float(), expected, atol=1e-5))
    except RuntimeError:  # a weight of the wrong shape
        return False


LAYERS_1_4 = {  # letter: (kernel, stride, padding, output padding), as the notebook lists
    "a": (3, 2, 1, 1), "b": (4, 2, 1, 0), "c": (5, 2, 2, 1), "d": (3, 1, 1, 0)}


def _overlap(kernel, stride, padding, output_padding) -> tuple[int, int, int]:
    """(output length from 8 inputs, fewest and most contributions to an interior output),
    measured on a layer whose weights and inputs are all ones."""
    counts = nn.functional.conv_transpose1d(torch.ones(1, 1, 8), torch.ones(1, 1, kernel),
                                            stride=stride, padding=padding,
                                            output_padding=output_padding)[0, 0]
    interior = counts[3:-3].int()
    return counts.numel(), int(interior.min()), int(interior.max())


@exercise("1.4", "Which layer avoids the checkerboard?", "explain", "answer_1_4")
def check_answer_1_4(answer_1_4):
    """For each of four layers its output length and its fewest and most interior
    contributions, then the letter of the one that doubles with an even overlap."""
    got = call(answer_1_4, "answer_1_4")
    shape = ("return a pair: a dict mapping each of 'a', 'b', 'c', 'd' to (output length, "
             "fewest, most), and the letter of your choice")
    if not isinstance(got, tuple | list) or len(got) != 2 or not isinstance(got[0], dict):
        fail(f"answer_1_4() returned {show(got)}; {shape}")
    table, choice = got
    if sorted(table) != sorted(LAYERS_1_4):
        fail(f"answer_1_4() gave a dict with keys {sorted(map(str, table))}; {shape}")
    for letter, layer in LAYERS_1_4.items():
        row = table[letter]
        if not isinstance(row, tuple | list) or len(row) != 3 or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in row):
            fail(f"answer_1_4() gave layer ({letter}) {show(row)}; give three whole numbers "
                 f"(output length, fewest, most)")
        length, fewest, most = _overlap(*layer)
        k, s, p, op = layer
        if row[0] != length:
            fail(f"answer_1_4() gives layer ({letter}) an output length of {row[0]}, which is "
                 f"not right: s (8 - 1) - 2p + k + output padding with k={k}, s={s}, p={p}")
        if (row[1], row[2]) != (fewest, most):
            fail(f"answer_1_4() gives layer ({letter}) interior counts from {row[1]} to "
                 f"{row[2]}, which is not right: read the smallest and the largest of the "
                 f"interior counts printed for k={k}, s={s}")
    return multiple_choice(choice, "answer_1_4()", {
        "a": "k=3, s=2 gives interior counts 1 and 2: the stride does not divide the kernel",
        "c": "k=5, s=2 gives interior counts 2 and 3, still uneven",
        "d": "k=3, s=1, p=1 has even overlap but keeps the size instead of doubling it",
    }, correct="b") + ", with the lengths and counts of all four layers"
