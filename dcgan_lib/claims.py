"""The claims ledger: every checkable quantitative claim of the source texts, measured.

``ledger()`` returns one ``Claim`` per statement. Each row holds the closed form the text
states, the value it predicts, and a value measured here by an independent route (a real
layer, a Monte-Carlo simulation with a fixed seed, autograd, an eigen-solver), computed when
``ledger()`` runs. A row holds when the measurement agrees with the prediction within its
tolerance; Monte-Carlo tolerances are four standard errors computed from the same samples.

Problem ids are those of the source texts (``"3112744"``); claims of the introductory
text, which has no ids, carry ``problem_id=None``. The whole ledger runs in a few seconds
on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses, models, normalization, theory

N_SE = 4  # Monte-Carlo tolerance in standard errors: a correct claim fails with p < 1e-4
RELATIONS = ("close", "equal", "greater", "less")


@dataclass(frozen=True)
class Claim:
    """One row. ``relation`` says how ``measured`` is compared with ``expected``:
    ``"close"`` |measured - expected| <= tolerance, ``"equal"`` exactly equal (shapes, chains
    of sizes), ``"greater"`` measured > expected, ``"less"`` measured < expected; for the last
    two, ``expected`` is a threshold rather than a predicted value."""

    problem_id: str | None
    claim: str
    closed_form: str
    expected: float | tuple
    measured: float | tuple
    tolerance: float
    relation: str
    method: str

    @property
    def holds(self) -> bool:
        if self.relation == "equal":
            return self.measured == self.expected
        if self.relation == "greater":
            return bool(self.measured > self.expected)
        if self.relation == "less":
            return bool(self.measured < self.expected)
        return bool(abs(self.measured - self.expected) <= self.tolerance)

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")


def _mean_se(samples: torch.Tensor) -> tuple[float, float]:
    samples = samples.double().flatten()
    return samples.mean().item(), (samples.std() / math.sqrt(samples.numel())).item()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _introduction_losses() -> list[Claim]:
    g = _gen(11)
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


# ------------------------------------------------------------------ architecture [3112743]


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
        g(torch.randn(2, 100, generator=_gen(0)))
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


def _introduction_generator() -> list[Claim]:
    first = nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False)
    second = nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)
    with torch.no_grad():
        h = first(torch.zeros(1, 100, 1, 1))
        h2 = second(h)
    return [
        Claim(None, "ConvTranspose2d(100, 512, 4, 1, 0) turns the 100-d noise vector into a "
              "512x4x4 map", r"1 \cdot (1-1) + 4 - 0 = 4", (512, 4, 4), tuple(h.shape[1:]), 0,
              "equal", "shape printed by the layer of the introduction's code"),
        Claim(None, "ConvTranspose2d(512, 256, 4, 2, 1) then enlarges it to 256x8x8",
              r"2(4-1) + 4 - 2 = 8", (256, 8, 8), tuple(h2.shape[1:]), 0, "equal",
              "shape printed by the layer of the introduction's code"),
    ]


# ------------------------------------------------------------------ activations


def _activations() -> list[Claim]:
    rows = []
    a = torch.randn(200_000, generator=_gen(1), dtype=torch.float64)
    grads = {}
    for alpha in (0.0, 0.2):
        x = a.clone().requires_grad_()
        F.leaky_relu(x, alpha).sum().backward()
        grads[alpha] = x.grad
    for alpha, name in ((0.0, "ReLU"), (0.2, "LeakyReLU(0.2)")):
        mean, se = _mean_se(grads[alpha])
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
        N_SE * 1.2 * _mean_se(ratio_samples)[1], "close",
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
    mean, se = _mean_se(per_sample)
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


# ------------------------------------------------------------------ normalization


def _batch_variance(batch_size: int, trials: int, unbiased: bool) -> Claim:
    x = 2.0 * torch.randn(batch_size, trials, generator=_gen(batch_size), dtype=torch.float64)
    if unbiased:
        expected = theory.unbiased_variance_relative_mse(batch_size)
        mean, se = _mean_se((x.var(dim=0) / 4.0 - 1.0) ** 2)
        return Claim(
            "3112744", f"the unbiased variance S^2 (divide by B - 1) of a batch of "
            f"B = {batch_size} has squared relative error 2/(B-1) = {expected:.4g}",
            r"\mathbb{E}[(S^2-\sigma^2)^2]/\sigma^4 = \frac{2}{B-1}",
            expected, mean, N_SE * se, "close", f"Monte Carlo over {trials} Gaussian batches")
    expected = theory.biased_variance_relative_mse(batch_size)
    mean, se = _mean_se((normalization.batchnorm_variance(x) / 4.0 - 1.0) ** 2)
    return Claim(
        "3112744", f"the variance BatchNorm normalises with (the biased one, divide by B) of a "
        f"batch of B = {batch_size} has squared relative error (2B-1)/B^2 = {expected:.4g}",
        r"\mathbb{E}[(\sigma_B^2-\sigma^2)^2]/\sigma^4 = \frac{2B-1}{B^2}",
        expected, mean, N_SE * se, "close",
        f"Monte Carlo over {trials} Gaussian batches, the variance read back from the output "
        "of nn.BatchNorm2d in training mode")


def _instance_norm_independent_of_batch() -> Claim:
    norm = nn.InstanceNorm2d(8, affine=True)
    x = torch.randn(32, 8, 8, 8, generator=_gen(3))
    with torch.no_grad():
        alone = norm(x[:1])
        in_batch = norm(x)[:1]
    return Claim(
        "3112744", "InstanceNorm's statistics do not depend on the batch: an image gets the "
        "same output alone (B = 1) as in a batch of 32",
        r"\hat x_{nc} = (x_{nc}-\mu_{nc})/\sqrt{\sigma^2_{nc}+\epsilon}", 0.0,
        (alone - in_batch).abs().max().item(), 1e-6, "close",
        "max |difference| of nn.InstanceNorm2d outputs")


def _bn_formula() -> Claim:
    bn = nn.BatchNorm2d(4).train()
    x = 3 + 2 * torch.randn(16, 4, 5, 5, generator=_gen(4))
    with torch.no_grad():
        out = bn(x)
    mu = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    by_hand = (x - mu) / torch.sqrt(var + bn.eps)
    return Claim(None, "batch normalisation is x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps)",
                 r"\hat x_i = \frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}", 0.0,
                 (out - by_hand).abs().max().item(), 1e-5, "close",
                 "max |nn.BatchNorm2d - formula| in training mode (float32)")


def batch_leak(norm: str, real: torch.Tensor, other: torch.Tensor) -> float:
    """The relative change of ``real[0]``'s logit when ``real[1:]`` is swapped for
    ``other[1:]``, for a fresh ``Discriminator(norm=norm)`` in training mode."""
    torch.manual_seed(0)
    d = models.Discriminator(image_size=real.shape[-1], channels=real.shape[1], width=16,
                             norm=norm).train()
    return normalization.batch_dependence(d, real[:1], real[1:], other[1:])


def _leak() -> list[Claim]:
    from .data import load

    real, _ = load("mnist", "test", image_size=32, limit=64)
    torch.manual_seed(5)
    g = models.Generator(latent_dim=32, image_size=32, channels=1, width=16)
    with torch.no_grad():
        fake = g(torch.randn(64, 32))
    rows = [Claim(
        "3112790", "with BatchNorm in the discriminator, a real image's output changes when "
        "the rest of its batch changes from real to generated images",
        r"\Delta = |D(x \mid \text{batch}_1) - D(x \mid \text{batch}_2)| > 0", 1e-3,
        batch_leak("batch", real[:32], fake[:32]), 0, "greater",
        "relative change of the logit of one MNIST image, Discriminator(norm='batch') in "
        "training mode")]
    for norm in ("layer", "instance", "none"):
        rows.append(Claim(
            "3112790", f"with norm='{norm}' the same swap leaves the real image's output "
            "unchanged", r"\Delta = 0", 0.0, batch_leak(norm, real[:32], fake[:32]), 1e-5,
            "close", f"relative change of the logit, Discriminator(norm='{norm}')"))
    rows.append(Claim(
        "3112790", "fed separate all-real batches (as the DCGAN loop does), a BatchNorm "
        "discriminator's output for a real image still depends on the other real images",
        r"\Delta > 0", 1e-3, batch_leak("batch", real[:32], real[32:64]), 0, "greater",
        "relative change of the logit when the other 31 real images are replaced by 31 "
        "different real ones"))
    return rows


# ------------------------------------------------------------------ training dynamics


def _spiral(lambda_g: float, lambda_d: float) -> list[Claim]:
    J = np.array([[-lambda_g, -1.0], [1.0, -lambda_d]])
    eig = np.linalg.eigvals(J)
    closed = theory.linear_gan_eigenvalues(lambda_g, lambda_d)

    # Integrate d(theta, phi)/dt = (-phi - lg theta, theta - ld phi) with RK4 and count the
    # sign changes of theta after removing the decay: k changes in time T give pi k / T.
    def flow(v):
        return np.array([-v[1] - lambda_g * v[0], v[0] - lambda_d * v[1]])

    dt, T = 2e-3, 60.0
    v = np.array([1.0, 0.0])
    signs, t = [], 0.0
    for _ in range(int(T / dt)):
        k1 = flow(v)
        k2 = flow(v + dt / 2 * k1)
        k3 = flow(v + dt / 2 * k2)
        k4 = flow(v + dt * k3)
        v = v + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += dt
        signs.append(np.sign(v[0]))
    crossings = int((np.diff(signs) != 0).sum())
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


# ------------------------------------------------------------------ latent space


def _latents() -> list[Claim]:
    rows = []
    n = 400_000
    samples = {"gaussian": torch.randn(n, generator=_gen(6), dtype=torch.float64),
               "uniform": 2 * torch.rand(n, generator=_gen(7), dtype=torch.float64) - 1}
    for dist, z in samples.items():
        mean, se = _mean_se((z - z.mean()) ** 2)
        rows.append(Claim(
            "3112758", f"a {dist} latent coordinate has variance "
            f"{'1' if dist == 'gaussian' else '1/3'}",
            r"\mathrm{Var}\,\mathcal{N}(0,1) = 1" if dist == "gaussian"
            else r"\mathrm{Var}\,U(-1,1) = \tfrac13", theory.latent_variance(dist), mean,
            N_SE * se, "close", f"sample variance of {n} draws"))

    outside = {dist: (z.abs() > 1).double() for dist, z in samples.items()}
    mean, se = _mean_se(outside["gaussian"])
    rows.append(Claim(
        "3112758", "the Gaussian's support is unbounded: about a third of its draws lie "
        "outside [-1, 1]", r"P(|z|>1) = \operatorname{erfc}(1/\sqrt2)",
        math.erfc(1 / math.sqrt(2)), mean, N_SE * se, "close",
        f"fraction of {n} N(0, 1) draws with |z| > 1"))
    rows.append(Claim(
        "3112758", "the uniform latent is bounded: no draw leaves [-1, 1]",
        r"P(|z|>1) = 0", 0.0, outside["uniform"].mean().item(), 0, "equal",
        f"fraction of {n} U(-1, 1) draws with |z| > 1"))

    torch.manual_seed(8)
    g = models.Generator(latent_dim=64, image_size=16, channels=1, width=16)
    first = g.main[0]
    per_dist = {}
    with torch.no_grad():
        gz = torch.randn(4096, 64, 1, 1, generator=_gen(9))
        uz = 2 * torch.rand(4096, 64, 1, 1, generator=_gen(10)) - 1
        for dist, z in (("gaussian", gz), ("uniform", uz)):
            per_dist[dist] = (first(z) ** 2).mean(dim=(1, 2, 3)).double()
    ratio = per_dist["gaussian"].mean().item() / per_dist["uniform"].mean().item()
    se = _mean_se(per_dist["gaussian"] / per_dist["gaussian"].mean()
                  - per_dist["uniform"] / per_dist["uniform"].mean())[1] * ratio
    rows.append(Claim(
        "3112758", "at initialisation a Gaussian latent gives the generator's first layer 3 "
        "times the pre-activation variance of a U(-1, 1) latent",
        r"\frac{\mathrm{Var}(Wz)_{\mathcal{N}}}{\mathrm{Var}(Wz)_{U}} = \frac{1}{1/3} = 3",
        theory.latent_variance("gaussian") / theory.latent_variance("uniform"), ratio,
        N_SE * se, "close",
        "mean square of the first ConvTranspose2d of a real Generator, 4096 latents each"))
    return rows


def ledger() -> list[Claim]:
    """Every claim, measured now. Deterministic (fixed seeds); a few seconds on a CPU."""
    torch_state, threads = torch.get_rng_state(), torch.get_num_threads()
    torch.set_num_threads(1)  # every tensor here is small: one thread avoids pool overhead
    try:
        with torch.enable_grad():
            return [
                *_introduction_generator(),
                *_introduction_losses(),
                *_architecture(),
                *_discriminator_sizes(),
                *_activations(),
                *(_batch_variance(b, n, unbiased) for unbiased in (False, True)
                  for b, n in ((2, 40_000), (4, 40_000), (8, 40_000), (64, 20_000))),
                _instance_norm_independent_of_batch(),
                _bn_formula(),
                *_leak(),
                *_spiral(0.1, 0.3),
                *_generator_losses(),
                *_smoothing(),
                *_latents(),
            ]
    finally:
        torch.set_rng_state(torch_state)
        torch.set_num_threads(threads)


def problem_ids(rows: list[Claim]) -> set[str]:
    """The problem ids the rows cover."""
    return {r.problem_id for r in rows if r.problem_id is not None}


def _fmt(value) -> str:
    if isinstance(value, tuple):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


HOLDS = "<span style='color: #1a7f37'>yes</span>"
FAILS = "<b style='color: #cf222e'>NO</b>"
NOWRAP = "white-space: nowrap"


def to_html(rows: list[Claim]) -> str:
    """The ledger as a four-column HTML table that fits the book's text column: the claim
    with its closed form and how it is measured, the value expected, the value measured, and
    the check (tolerance, exact or threshold) with whether it holds. Closed forms sit in
    ``<span class="math">\\(...\\)</span>``, the markup Sphinx gives inline math, so MathJax
    typesets them in the built book too."""
    import html

    def number(value) -> str:  # a number never breaks across lines; a tuple may
        text = html.escape(_fmt(value))
        return text if isinstance(value, tuple) else f"<span style='{NOWRAP}'>{text}</span>"

    symbol = {"close": "±", "equal": "=", "greater": ">", "less": "<"}
    head = ("<tr><th>claim, its closed form, and how it is measured</th><th>expected</th>"
            "<th>measured</th><th>check</th></tr>")
    body = []
    for r in rows:
        check = {"close": f"± {r.tolerance:.2g}", "equal": "exact"}.get(
            r.relation, f"{symbol[r.relation]} threshold")
        body.append(
            "<tr>"
            f"<td>{html.escape(r.claim)}<br>"
            f'<span class="math">\\({html.escape(r.closed_form)}\\)</span><br>'
            f"<small><i>{html.escape(r.method)}</i></small></td>"
            f"<td>{number(r.expected)}</td><td>{number(r.measured)}</td>"
            f"<td><span style='{NOWRAP}'>{html.escape(check)}</span><br>"
            f"{HOLDS if r.holds else FAILS}</td></tr>")
    return ("<div style='overflow-x: auto'><table class='dcgan-table claims-ledger'"
            " style='font-size: 0.85em'>"
            f"\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(body)
            + "\n</tbody></table></div>")
