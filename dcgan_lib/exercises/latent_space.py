"""The checks of chapter 5's exercises (latent space): slerp, priors, latent arithmetic,
the ink one generator channel draws, and where to switch a channel off."""

from __future__ import annotations

import math

import numpy as np
import torch

from dcgan_lib import units
from dcgan_lib.exercises._core import as_float, call, exercise, fail, show
from dcgan_lib.exercises._wire import Spec
from dcgan_lib.models import Generator


def _reference_slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """sin((1 - t) W) / sin W z0 + sin(t W) / sin W z1 row by row; lerp where W < 1e-4."""
    u0 = z0 / z0.norm(dim=-1, keepdim=True)
    u1 = z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.acos((u0 * u1).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    small = omega < 1e-4
    safe = torch.where(small, torch.ones_like(omega), omega)
    out = (torch.sin((1 - t) * safe) * z0 + torch.sin(t * safe) * z1) / torch.sin(safe)
    return torch.where(small, (1 - t) * z0 + t * z1, out)


@exercise("5.1", "Spherical interpolation", "implement", "slerp")
def check_slerp(slerp):
    """slerp on batches (B, D), at t in [0, 1], including (nearly) parallel endpoints."""
    g = torch.Generator().manual_seed(6)
    z0, z1 = torch.randn(4, 16, generator=g, dtype=torch.float64), torch.randn(
        4, 16, generator=g, dtype=torch.float64)
    orthogonal = (torch.tensor([[3.0, 0.0]], dtype=torch.float64),
                  torch.tensor([[0.0, 3.0]], dtype=torch.float64))
    parallel = (torch.tensor([[1.0, 2.0, 2.0]], dtype=torch.float64),
                torch.tensor([[2.0, 4.0, 4.0]], dtype=torch.float64))
    # 200 pairs z, c z: in float64 the cosine of about one pair in ten rounds to just
    # above 1 (22 of these 200 by the dot product of the unit rows), where acos is nan
    # unless the cosine is clamped.
    many = torch.randn(200, 16, generator=g, dtype=torch.float64)
    scale = torch.rand(200, 1, generator=g, dtype=torch.float64) * 2.5 + 0.5
    cases = [(z0, z1, 0.3, "a batch of 4 latents of dimension 16"),
             (z0, z1, 0.0, "t = 0"), (z0, z1, 1.0, "t = 1"),
             (*orthogonal, 0.5, "two orthogonal latents of norm 3"),
             (*parallel, 0.25, "two parallel latents"),
             (many, scale * many, 0.4, "200 pairs of parallel float64 latents")]
    for a, b, t, name in cases:
        what = f"slerp at t = {t} on {name}"
        got = call(slerp, "slerp", a.clone(), b.clone(), t)
        if not isinstance(got, torch.Tensor) or got.shape != a.shape:
            fail(f"{what} returned {show(got)}; return a tensor of shape {tuple(a.shape)}")
        if torch.isnan(got).any():
            fail(f"{what} returned nan; when the angle is (nearly) 0, sin W is 0, so fall "
                 f"back to linear interpolation (and clamp the cosine to [-1, 1])")
        expected = _reference_slerp(a, b, t)
        if not torch.allclose(got.double(), expected, atol=1e-5):
            fail(f"{what} is off by up to {(got.double() - expected).abs().max().item():.3g}; "
                 f"compute the angle W of each row from its own dot product and weight z0 by "
                 f"sin((1 - t) W) / sin W and z1 by sin(t W) / sin W")
    return "matches sin((1 - t) W) / sin W z0 + sin(t W) / sin W z1, also for parallel rows"


@exercise("5.2", "Sample a latent prior", "implement", "sample_latent")
def check_sample_latent(sample_latent):
    """(n, dim) draws from N(0, 1) or U(-1, 1), reproducible through the generator given."""
    n, dim = 4000, 8
    for dist, mean_var in [("gaussian", 1.0), ("uniform", 1.0 / 3.0)]:
        what = f"sample_latent({n}, {dim}, {dist!r}, generator)"
        generator = Spec("generator", "generator", seed=7)
        first = call(sample_latent, "sample_latent", n, dim, dist, generator)
        if not isinstance(first, torch.Tensor) or tuple(first.shape) != (n, dim):
            fail(f"{what} returned {show(first)}; return a tensor of shape ({n}, {dim})")
        again = call(sample_latent, "sample_latent", n, dim, dist, generator)
        if not torch.equal(first, again):
            fail(f"{what} gives different draws for the same seed; pass generator= to "
                 f"torch.randn or torch.rand")
        x = first.double()
        # 32000 draws: the sample mean has standard error sqrt(var / 32000) <= 0.006 and
        # the sample variance a relative standard error near sqrt(2 / 32000) = 0.008, so
        # 0.03 and 5% are both more than four standard errors.
        if abs(x.mean().item()) > 0.03:
            fail(f"{what} has mean {x.mean().item():.3f}; both priors are centred on 0")
        if abs(x.var().item() / mean_var - 1) > 0.05:
            fail(f"{what} has variance {x.var().item():.3f}; {dist} latents have variance "
                 f"{mean_var:.3g}")
        if dist == "uniform" and (x.min() < -1 or x.max() > 1 or x.min() > -0.99):
            fail(f"{what} spans [{x.min().item():.3f}, {x.max().item():.3f}]; "
                 f"U(-1, 1) fills [-1, 1]")
        if dist == "gaussian" and x.abs().max() < 3:
            fail(f"{what} never goes beyond 3 in {n * dim} draws; a Gaussian's tails are "
                 f"unbounded")
    return "Gaussian and uniform priors with variances 1 and 1/3, reproducible"


T_5_3 = (0.5, 0.25, 0.1, 0.0, 1.0, 0.8)  # where along the line: the midpoint and others


@exercise("5.3", "The norm along a straight line", "explain", "answer_5_3")
def check_answer_5_3(answer_5_3):
    """|(1 - t) z0 + t z1| / sqrt(D) -> sqrt((1 - t)^2 + t^2) for independent z0, z1."""
    for t in T_5_3:
        what = f"answer_5_3({t})"
        got = as_float(call(answer_5_3, "answer_5_3", t), what)
        expected = math.sqrt((1 - t) ** 2 + t**2)
        if abs(got - expected) <= 0.005:
            continue
        if abs(got - expected**2) < 0.005:
            fail(f"{what} returned {got:.4g}, the ratio of squared norms; the question asks "
                 f"for the ratio of norms")
        fail(f"{what} returned {got:.4g}; expand |(1 - t) z0 + t z1|^2 for independent "
             f"latents: |z0|^2 and |z1|^2 are about D and the cross term averages out")
    return (f"sqrt((1 - t)^2 + t^2) at {len(T_5_3)} points of the line: "
            f"sqrt(1/2) = {math.sqrt(0.5):.3f} at the midpoint")


@exercise("5.4", "Latent arithmetic", "implement", "latent_arithmetic")
def check_latent_arithmetic(latent_arithmetic):
    """mean(a) - mean(b) + mean(c), each mean over the rows of a group (n_i, D)."""
    g = torch.Generator().manual_seed(8)
    a, b, c = (torch.randn(n, 5, generator=g) for n in (3, 4, 2))
    what = f"latent_arithmetic({show(a)}, {show(b)}, {show(c)})"
    got = call(latent_arithmetic, "latent_arithmetic", a.clone(), b.clone(), c.clone())
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (5,):
        fail(f"{what} returned {show(got)}; average each group over its rows (dim 0) to get "
             f"one latent of shape (5,)")
    expected = a.mean(0) - b.mean(0) + c.mean(0)
    if not torch.allclose(got, expected, atol=1e-5):
        fail(f"{what} is off by up to {(got - expected).abs().max().item():.3g}; "
             f"it should be mean(a) - mean(b) + mean(c), as in smiling woman - neutral woman "
             f"+ neutral man")
    return "mean(a) - mean(b) + mean(c) over groups of different sizes"


def _random_generator(config: dict, seed: int) -> Generator:
    """A small generator with weights far from DCGAN's initialisation (whose N(0, 0.02)
    weights would draw nearly blank images) and BatchNorm running statistics of its own
    activations, then shifted at random: eval mode, as section 5.7 ablates it."""
    g = torch.Generator().manual_seed(seed)
    net = Generator(**config)
    with torch.no_grad():
        for m in net.main:
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.3)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None  # a cumulative average: the batch's own statistics
        net.train()(torch.randn(256, net.latent_dim, generator=g))
        for m in net.main:
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 0.1
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
    return net.eval()


def _ink(images: torch.Tensor) -> torch.Tensor:
    """(N,): the mean pixel of each image in [0, 1] scale, as ``ink_of`` in chapter 5."""
    return ((images + 1) / 2).mean(dim=(1, 2, 3))


# (generator config, its seed, the (layer, channel) pairs switched off)
NETS_5_5 = [
    ({"latent_dim": 6, "image_size": 16, "channels": 1, "width": 4}, 50,
     [(5, 0), (5, 3), (2, 6)]),
    ({"latent_dim": 4, "image_size": 32, "channels": 3, "width": 2}, 51,
     [(8, 1), (5, 2), (2, 7)]),
]


@exercise("5.5", "The ink one channel draws", "measure", "ink_drawn")
def check_ink_drawn(ink_drawn):
    """ink(G(z)) - ink(G(z) with channel c of main[layer] zeroed), image by image."""
    g = torch.Generator().manual_seed(55)
    for config, seed, pairs in NETS_5_5:
        net = _random_generator(config, seed)
        spec = Spec("dcgan_generator", "generator", config=config,
                    state=[t.clone() for t in net.state_dict().values()])
        z = torch.randn(5, net.latent_dim, generator=g)
        with torch.no_grad():
            original = _ink(net(z))
        size = f"{config['image_size']}x{config['image_size']}"
        for layer, channel in pairs:
            what = (f"ink_drawn(generator, z, {layer}, {channel}) for a {size} generator "
                    f"and 5 latents")
            got = call(ink_drawn, "ink_drawn", spec, z.clone(), layer, channel)
            if isinstance(got, np.ndarray):
                got = torch.from_numpy(got)
            if isinstance(got, torch.Tensor) and got.dim() == 0 or isinstance(got, float):
                fail(f"{what} returned one number; return one value per latent, a tensor "
                     f"of shape (5,)")
            if not isinstance(got, torch.Tensor) or tuple(got.shape) != (5,):
                fail(f"{what} returned {show(got)}; return one value per latent, a tensor "
                     f"of shape (5,)")
            ablated = units.ablate_channels(net, z, layer, [channel])[0]
            expected = original - _ink(ablated)
            got = got.float()
            if torch.allclose(got, expected, atol=2e-6):
                continue
            shown = (f"expected {expected[0].item():+.5f} for the first latent, got "
                     f"{got[0].item():+.5f}")
            if torch.allclose(got, -expected, atol=2e-6):
                fail(f"{what}: {shown}, the ink the image gains; a channel's drawing is "
                     f"the original's ink minus the ablated image's")
            if torch.allclose(got, 2 * expected, atol=2e-6):
                fail(f"{what}: {shown}, twice the ink; pixels are in [-1, 1], so measure "
                     f"ink as the mean of (x + 1) / 2")
            fail(f"{what}: {shown}; set channel {channel} of the output of "
                 f"generator.main[{layer}] (after its ReLU) to zero for every latent, run "
                 f"the rest of generator.main on it and compare the mean of (x + 1) / 2")
    return ("the ink each image loses without one channel, at every block of a 16x16 and "
            "a 32x32 colour generator")


# (gamma, beta, running mean, running variance) of one BatchNorm channel
CASES_5_6 = [(1.0, 0.0, 0.0, 1.0), (1.2, 0.5, 0.3, 0.25), (0.8, 0.4, -1.0, 4.0),
             (1.0, 1.0, 0.0, 1.0), (2.0, -0.1, -0.6, 0.09), (0.5, 0.2, 2.0, 1.0),
             (1.5, -0.3, -0.2, 0.5)]


@exercise("5.6", "A channel silenced before BatchNorm", "explain", "answer_5_6")
def check_answer_5_6(answer_5_6):
    """ReLU(BatchNorm(0)) in eval mode: max(0, beta - gamma mu / sqrt(var + eps))."""
    for gamma, beta, mean, var in CASES_5_6:
        what = f"answer_5_6({gamma}, {beta}, {mean}, {var})"
        got = as_float(call(answer_5_6, "answer_5_6", gamma, beta, mean, var), what)
        bn = torch.nn.BatchNorm2d(1).eval()  # the layer itself, in evaluation mode
        with torch.no_grad():
            for tensor, value in ((bn.weight, gamma), (bn.bias, beta),
                                  (bn.running_mean, mean), (bn.running_var, var)):
                tensor.fill_(value)
            expected = torch.relu(bn(torch.zeros(1, 1, 1, 1, dtype=torch.float32))).item()
        if abs(got - expected) <= 1e-3:
            continue
        shifted = beta - gamma * mean / math.sqrt(var + bn.eps)
        if got < 0 and abs(got - shifted) <= 1e-3:
            fail(f"{what} returned {got:.4g}, BatchNorm's output; the block's ReLU comes "
                 f"next, and it turns that into {expected:.4g}")
        fail(f"{what} returned {got:.4g}, expected {expected:.4g}: in evaluation mode "
             f"BatchNorm maps x to gamma (x - mean) / sqrt(var + eps) + beta, and the "
             f"block's ReLU follows")
    return (f"ReLU(beta - gamma mean / sqrt(var + eps)) at {len(CASES_5_6)} channels: "
            f"switched off before BatchNorm, a channel is not off")
