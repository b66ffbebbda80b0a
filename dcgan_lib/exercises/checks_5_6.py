"""Checks for the exercises of chapter 5 (latent space) and chapter 6 (hands-on)."""

from __future__ import annotations

import math

import numpy as np
import torch

from dcgan_lib import losses
from dcgan_lib.exercises._core import as_float, call, exercise, fail, show
from dcgan_lib.models import Discriminator

# ------------------------------------------------------------- chapter 5: latent space


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
    cases = [(z0, z1, 0.3, "a batch of 4 latents of dimension 16"),
             (z0, z1, 0.0, "t = 0"), (z0, z1, 1.0, "t = 1"),
             (*orthogonal, 0.5, "two orthogonal latents of norm 3"),
             (*parallel, 0.25, "two parallel latents")]
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
        first = call(sample_latent, "sample_latent", n, dim, dist,
                     torch.Generator().manual_seed(7))
        if not isinstance(first, torch.Tensor) or tuple(first.shape) != (n, dim):
            fail(f"{what} returned {show(first)}; return a tensor of shape ({n}, {dim})")
        again = call(sample_latent, "sample_latent", n, dim, dist,
                     torch.Generator().manual_seed(7))
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


@exercise("5.3", "The norm at the middle of a straight line", "explain", "answer_5_3")
def check_answer_5_3(answer_5_3):
    got = as_float(call(answer_5_3, "answer_5_3"), "answer_5_3()")
    expected = 1 / math.sqrt(2)
    if abs(got - expected) <= 0.01:
        return f"|(z0 + z1) / 2| / |z0| -> sqrt(1/2) = {expected:.3f}"
    if abs(got - 0.5) < 0.01:
        fail("answer_5_3() returned 0.5, the ratio of squared norms; the question asks for "
             "the ratio of norms")
    fail(f"answer_5_3() returned {got:.4g}; |z0 + z1|^2 is about |z0|^2 + |z1|^2 = 2D for "
         f"independent latents, so compute |(z0 + z1) / 2| / sqrt(D)")


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


# ---------------------------------------------------------------- chapter 6: hands-on


@exercise("6.1", "The discriminator step's two losses", "implement", "discriminator_losses")
def check_discriminator_losses(discriminator_losses):
    """(errD_real, errD_fake) = (BCE(D(real), 1), BCE(D(fake), 0)), fake detached from G."""
    g = torch.Generator().manual_seed(9)
    netD = Discriminator(image_size=16, channels=1, width=4, norm="none")
    with torch.no_grad():  # weights larger than DCGAN's init: logits of a few units, not ~0
        for p in netD.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.25)
    for batch in (3, 5):
        real = torch.rand(batch, 1, 16, 16, generator=g) * 2 - 1
        leaf = torch.randn(batch, 1, 16, 16, generator=g, requires_grad=True)
        fake = torch.tanh(leaf)  # stands for G(z): still attached to the generator's graph
        what = f"discriminator_losses(netD, real, fake) on batches of {batch}"
        got = call(discriminator_losses, "discriminator_losses", netD, real, fake)
        if not isinstance(got, tuple) or len(got) != 2:
            fail(f"{what} returned {show(got)}; return the pair (errD_real, errD_fake)")
        err_real, err_fake = (as_float(v, what) for v in got)
        with torch.no_grad():
            exp_real, exp_fake = losses.discriminator_loss(netD(real), netD(fake))
            swapped_real, swapped_fake = losses.discriminator_loss(netD(real), netD(fake),
                                                                   real_label=0.0,
                                                                   fake_label=1.0)
        if abs(err_real - swapped_real.item()) < 1e-4 and abs(
                err_fake - swapped_fake.item()) < 1e-4:
            fail(f"{what} swapped the targets; real images get label 1 and fakes label 0")
        if abs(err_real - exp_real.item()) > 1e-4:
            fail(f"{what} gives errD_real = {err_real:.4f}, expected {exp_real.item():.4f}: "
                 f"the mean BCE of sigmoid(netD(real)) against 1")
        if abs(err_fake - exp_fake.item()) > 1e-4:
            fail(f"{what} gives errD_fake = {err_fake:.4f}, expected {exp_fake.item():.4f}: "
                 f"the mean BCE of sigmoid(netD(fake)) against 0")
        if not all(isinstance(v, torch.Tensor) and v.requires_grad for v in got):
            fail(f"{what} returned losses cut off from autograd; the optimiser of D needs "
                 f"their gradients")
        (to_generator,) = torch.autograd.grad(got[1], leaf, allow_unused=True)
        if to_generator is not None:
            fail(f"{what}: errD_fake sends gradients into the generator; use fake.detach() "
                 f"in the discriminator step")
    return "both halves match BCE against 1 and 0, and no gradient reaches G"


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _reference_frechet(mu1, cov1, mu2, cov2) -> float:
    root1 = _sqrtm_psd(cov1)
    cross = _sqrtm_psd(root1 @ cov2 @ root1)  # same trace as (cov1 cov2)^(1/2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * cross))


@exercise("6.2", "Fréchet distance between two Gaussians", "compute", "frechet_distance")
def check_frechet_distance(frechet_distance):
    """|mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)), for covariances that do not commute."""
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    cases = [
        (np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), "two equal Gaussians"),
        (np.array([1.0, 2.0]), np.eye(2), np.array([4.0, -2.0]), np.eye(2),
         "equal covariances, different means"),
        (np.zeros(2), np.diag([4.0, 1.0]), np.zeros(2), np.diag([1.0, 9.0]),
         "equal means, diagonal covariances"),
        (rng.normal(size=3), a @ a.T + np.eye(3), rng.normal(size=3), b @ b.T + 0.5 * np.eye(3),
         "two full 3x3 covariances that do not commute"),
    ]
    for mu1, c1, mu2, c2, name in cases:
        what = f"frechet_distance on {name}"
        got = as_float(call(frechet_distance, "frechet_distance", mu1.copy(), c1.copy(),
                            mu2.copy(), c2.copy()), what)
        expected = _reference_frechet(mu1, c1, mu2, c2)
        if abs(got - expected) > 1e-4 * max(1.0, expected):
            fail(f"{what} returned {got:.4f}, expected {expected:.4f}: "
                 f"|mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)) with a matrix square root")
    return "right for equal, shifted, diagonal and non-commuting Gaussians"


def _reference_inception_score(p: np.ndarray) -> float:
    marginal = p.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


@exercise("6.3", "Inception Score from class probabilities", "compute", "inception_score")
def check_inception_score(inception_score):
    """exp(mean_x KL(p(y|x) || p(y))) with p(y) the mean of the rows; 0 log 0 = 0."""
    rng = np.random.default_rng(11)
    soft = rng.dirichlet(np.ones(10) * 0.3, size=6)
    cases = [
        (np.full((4, 10), 0.1), "four images the classifier cannot tell apart"),
        (np.eye(10), "ten confident images, one per class"),
        (np.eye(10)[[0, 0, 1, 1]], "confident images of only two classes"),
        (np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [0.1, 0.1, 0.8]]),
         "three images with some zero probabilities"),
        (soft, "six images with uneven probabilities"),
    ]
    for probs, name in cases:
        what = f"inception_score on {name}"
        got = as_float(call(inception_score, "inception_score", probs.copy()), what)
        expected = _reference_inception_score(probs)
        if abs(got - expected) > 1e-4 * expected:
            fail(f"{what} returned {got:.4f}, expected {expected:.4f}: exp of the mean over "
                 f"images of KL(p(y|x) || p(y)), p(y) the mean over images (axis 0)")
    return "1 for indistinct images, the number of classes for confident distinct ones"


@exercise("6.4", "The loss at equilibrium", "explain", "answer_6_4")
def check_answer_6_4(answer_6_4):
    got = as_float(call(answer_6_4, "answer_6_4"), "answer_6_4()")
    half = torch.zeros(1)  # logit 0 is D = 1/2
    expected = sum(t.item() for t in losses.discriminator_loss(half, half))
    if abs(got - expected) <= 1e-3:
        return f"errD_real + errD_fake = 2 log 2 = {expected:.4f}"
    if abs(got - expected / 2) <= 1e-3:
        fail(f"answer_6_4() returned {got:.4f}, one half of the loss; Loss_D adds errD_real "
             f"and errD_fake")
    if abs(got - 2 * math.log10(2)) <= 1e-3 or abs(got - 2.0) <= 1e-3:
        fail(f"answer_6_4() returned {got:.4f}; the cross-entropy uses the natural logarithm")
    fail(f"answer_6_4() returned {got:.4f}; each half is -log(1/2) when D = 1/2 everywhere")


@exercise("6.5", "Parameters of a generator block", "compute", "generator_block_parameters")
def check_generator_block_parameters(generator_block_parameters):
    """ConvTranspose2d(c_in, c_out, k, bias=False) + BatchNorm2d(c_out):
    c_in c_out k^2 + 2 c_out."""
    cases = [(100, 512, 4), (512, 256, 4), (64, 3, 4), (8, 5, 3)]
    for c_in, c_out, k in cases:
        what = f"generator_block_parameters({c_in}, {c_out}, {k})"
        got = call(generator_block_parameters, "generator_block_parameters", c_in, c_out, k)
        if isinstance(got, bool) or not isinstance(got, int):
            fail(f"{what} returned {show(got)} ({type(got).__name__}); return an int")
        block = torch.nn.Sequential(torch.nn.ConvTranspose2d(c_in, c_out, k, 2, 1, bias=False),
                                    torch.nn.BatchNorm2d(c_out))
        expected = sum(p.numel() for p in block.parameters())
        if got != expected:
            fail(f"{what} returned {got}, but the block has {expected} trainable parameters: "
                 f"a {c_in} x {c_out} grid of {k}x{k} kernels (no bias) and BatchNorm's "
                 f"scale and shift per output channel")
    return "equal to the count of real ConvTranspose2d + BatchNorm2d blocks"


@exercise("6.6", "A weight average of the generator", "implement", "ema_update")
def check_ema_update(ema_update):
    """decay * average + (1 - decay) * current, a new tensor; iterated, the closed form."""
    gen = torch.Generator().manual_seed(66)
    for decay in (0.0, 0.5, 0.9, 0.999):
        average, current = torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
        before = (average.clone(), current.clone())
        what = f"ema_update(average, current, decay={decay})"
        got = call(ema_update, "ema_update", average, current, decay)
        if not isinstance(got, torch.Tensor):
            fail(f"{what} returned {show(got)} ({type(got).__name__}); return a tensor")
        if not (torch.equal(average, before[0]) and torch.equal(current, before[1])):
            fail(f"{what} changed one of its arguments; return a new tensor and leave "
                 f"both inputs as they were")
        if got.shape != average.shape:
            fail(f"{what} returned shape {tuple(got.shape)}, expected {tuple(average.shape)}")
        expected = decay * average + (1 - decay) * current
        if torch.allclose(got.double(), expected.double(), atol=1e-6):
            continue
        if decay != 0.5 and torch.allclose(got, (1 - decay) * average + decay * current,
                                           atol=1e-6):
            fail(f"{what} keeps a share 1 - decay of the old average; the average keeps "
                 f"decay of itself and takes 1 - decay of the current weights")
        if torch.allclose(got, decay * average + current, atol=1e-6):
            fail(f"{what} adds the current weights whole; weight them by 1 - decay so that "
                 f"the shares sum to 1")
        fail(f"{what} differs from decay * average + (1 - decay) * current by up to "
             f"{(got - expected).abs().max():.3g}")
    beta, thetas = 0.8, [torch.randn(5, generator=gen) for _ in range(6)]
    average = thetas[0]
    for theta in thetas[1:]:
        average = call(ema_update, "ema_update", average, theta, beta)
    t = len(thetas) - 1
    closed = beta**t * thetas[0] + (1 - beta) * sum(beta ** (t - k) * thetas[k]
                                                    for k in range(1, t + 1))
    if not torch.allclose(average, closed, atol=1e-5):
        fail(f"iterated {t} times from theta_0, ema_update differs from the closed form "
             f"beta^t theta_0 + (1 - beta) sum_k beta^(t-k) theta_k by "
             f"{(average - closed).abs().max():.3g}")
    return ("equal to decay * average + (1 - decay) * current for decays 0 to 0.999, inputs "
            "untouched, and to the closed form after 5 steps")
