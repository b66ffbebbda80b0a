"""The ledger's claims of chapter 1: the sizes of (transposed) convolutions, projective
fields and overlap, measured on real layers."""

from __future__ import annotations

import torch
from torch import nn

from .. import models, theory
from .record import Claim, seeded


def _architecture() -> list[Claim]:
    rows = []
    sizes = []
    for h_in in range(1, 33):
        layer = nn.ConvTranspose2d(1, 1, 4, 2, 1, bias=False)
        sizes.append(layer(torch.zeros(1, 1, h_in, h_in)).shape[-1] - 2 * h_in)
    rows.append(Claim(
        "3112743", "a transposed convolution with k=4, s=2, p=1 doubles the spatial size",
        r"H_{out} = s(H_{in}-1)+k-2p = 2H_{in}", 0, max(map(abs, sizes)), 0, "equal",
        "max |H_out - 2 H_in| over nn.ConvTranspose2d(4, 2, 1) on inputs of size 1..32"))

    g = models.Generator(latent_dim=100, image_size=64, channels=3, width=8).eval()
    chain = []
    hooks = [m.register_forward_hook(lambda m, i, o: chain.append(o.shape[-1]))
             for m in g.main if isinstance(m, nn.ConvTranspose2d)]
    with torch.no_grad():
        g(torch.randn(2, 100, generator=seeded(0)))
    for h in hooks:
        h.remove()
    rows.append(Claim(
        "3112743", "from a 4x4 map, four such layers give 8x8, 16x16, 32x32 and 64x64",
        r"4 \to 8 \to 16 \to 32 \to 64", (4, 8, 16, 32, 64), tuple(chain), 0, "equal",
        "spatial size after each ConvTranspose2d of dcgan_lib.models.Generator(image_size=64)"))

    # A one-hot input pushed through stride-2 layers with all-ones kernels: the support of the
    # output is the projective field of one pixel, and the counts are the overlap.
    spans = theory.projective_field_widths(depth=4, kernel=4, stride=2, padding=1)
    rows.append(Claim(
        "3112743",
        "one pixel of the 4x4 map reaches an ever larger region, 46 pixels wide at 64x64",
        r"r_L = 3 \cdot 2^L - 2", tuple(3 * 2**L - 2 for L in range(1, 5)), tuple(spans), 0,
        "equal", "support of a one-hot 4x4 input after 1..4 all-ones ConvTranspose2d(4, 2, 1)"))

    counts = {}
    for k in (4, 3):
        layer = nn.ConvTranspose2d(1, 1, k, 2, 1, bias=False)
        nn.init.ones_(layer.weight)
        with torch.no_grad():
            c = layer(torch.ones(1, 1, 16, 16))[0, 0, 4:-4, 4:-4]
        counts[k] = (int(c.min()), int(c.max()))
    rows.append(Claim(
        "3112743", "k=4 > s=2: neighbouring projective fields overlap, every interior output "
        "pixel receives the same number of inputs (no checkerboard)",
        r"\lfloor k/s \rfloor^2 = \lceil k/s \rceil^2 = 4", (4, 4), counts[4], 0, "equal",
        "min and max interior count of an all-ones ConvTranspose2d(4, 2, 1) on an all-ones input"))
    rows.append(Claim(
        "3112743", "overlap alone is not enough: k=3, s=2 overlaps unevenly (1 to 4 inputs per "
        "pixel), the checkerboard pattern",
        r"(\lfloor k/s \rfloor^2, \lceil k/s \rceil^2) = (1, 4)", (1, 4), counts[3], 0, "equal",
        "min and max interior count of an all-ones ConvTranspose2d(3, 2, 1) on an all-ones input"))
    return rows


def _discriminator_sizes() -> list[Claim]:
    worst = 0
    for n in (5, 8, 17, 32, 96):
        for k in (1, 3, 4, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    if n + 2 * p < k:
                        continue
                    conv = nn.Conv2d(1, 1, k, s, p)
                    got = conv(torch.zeros(1, 1, n, n)).shape[-1]
                    worst = max(worst, abs(got - ((n + 2 * p - k) // s + 1)))
    stack = [(3, 3, 0), (4, 2, 1), (4, 2, 1), (4, 2, 0)]
    x = torch.zeros(2, 3, 96, 96)
    chain = [96]
    c_in = 3
    layers = []
    for i, (k, s, p) in enumerate(stack):
        layers.append(nn.Conv2d(c_in, 8 * 2**i, k, s, p))
        c_in = 8 * 2**i
    with torch.no_grad():
        for layer in layers:
            x = layer(x)
            chain.append(x.shape[-1])
        logit = nn.Linear(x[0].numel(), 1)(x.flatten(1)).flatten()
    return [
        Claim("3112780", "a strided convolution gives N_out = floor((N_in + 2p - k)/s) + 1",
              r"N_{out} = \lfloor (N_{in}+2p-k)/s \rfloor + 1", 0, worst, 0, "equal",
              "max |size - formula| over nn.Conv2d with N in {5..96}, k in 1..5, s in 1..3, "
              "p in 0..2"),
        Claim("3112780", "96x96 -> 32 -> 16 -> 8 -> 3 with (k,s,p) = (3,3,0), (4,2,1), "
              "(4,2,1), (4,2,0)", r"96 \to 32 \to 16 \to 8 \to 3", (96, 32, 16, 8, 3),
              tuple(chain), 0, "equal", "spatial sizes printed by a real nn.Conv2d stack"),
        Claim("3112780", "the 3x3 map, flattened into a linear layer, gives one logit per image",
              r"(B, C, 3, 3) \to (B,)", (2,), tuple(logit.shape), 0, "equal",
              "shape of nn.Linear(flatten(x)) for a batch of 2"),
    ]


def _generator_first_layer() -> list[Claim]:
    first = nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False)
    second = nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)
    with torch.no_grad():
        h = first(torch.zeros(1, 100, 1, 1))
        h2 = second(h)
    return [
        Claim(None, "ConvTranspose2d(100, 512, 4, 1, 0) turns the 100-d noise vector into a "
              "512x4x4 map", r"1 \cdot (1-1) + 4 - 0 = 4", (512, 4, 4), tuple(h.shape[1:]), 0,
              "equal", "output shape of a real nn.ConvTranspose2d"),
        Claim(None, "ConvTranspose2d(512, 256, 4, 2, 1) then enlarges it to 256x8x8",
              r"2(4-1) + 4 - 2 = 8", (256, 8, 8), tuple(h2.shape[1:]), 0, "equal",
              "output shape of a real nn.ConvTranspose2d"),
    ]


def claims() -> list[Claim]:
    """This chapter's rows of the ledger, measured now."""
    return [
        *_generator_first_layer(),
        *_architecture(),
        *_discriminator_sizes(),
    ]
