"""The checks of chapter 6's exercises (hands-on): the step's losses, the metrics, the average,
and the discriminator's first-layer filters."""

from __future__ import annotations

import math

import numpy as np
import torch

from dcgan_lib import losses, units
from dcgan_lib.exercises._core import as_float, call, call_full, exercise, fail, show
from dcgan_lib.exercises._wire import Spec
from dcgan_lib.models import Discriminator


@exercise("6.1", "The discriminator step's two losses", "implement", "discriminator_losses")
def check_discriminator_losses(discriminator_losses):
    """(errD_real, errD_fake) = (BCE(D(real), 1), BCE(D(fake), 0)), fake detached from G."""
    g = torch.Generator().manual_seed(9)
    config = {"image_size": 16, "channels": 1, "width": 4, "norm": "none"}
    netD = Discriminator(**config)
    with torch.no_grad():  # weights larger than DCGAN's init: logits of a few units, not ~0
        for p in netD.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.25)
    net_spec = Spec("discriminator", "netD", config=config,
                    weights=[p.detach().clone() for p in netD.parameters()])
    for batch in (3, 5):
        real = torch.rand(batch, 1, 16, 16, generator=g) * 2 - 1
        leaf = torch.randn(batch, 1, 16, 16, generator=g)
        fake = torch.tanh(leaf)
        # On the learner's side fake is tanh(leaf): still attached to a graph, as G(z) is.
        fake_spec = Spec("tanh_of_leaf", "fake", tensor=leaf)
        what = f"discriminator_losses(netD, real, fake) on batches of {batch}"
        reply = call_full(discriminator_losses, "discriminator_losses",
                          (net_spec, real, fake_spec), grad_of=(1,))
        got = reply.value
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
        if reply.grads is None:
            fail(f"{what}: errD_fake could not be differentiated; return the loss tensors "
                 f"that F.binary_cross_entropy_with_logits gives")
        if reply.grads[0] is not None:
            fail(f"{what}: errD_fake sends gradients into the generator; use fake.detach() "
                 f"in the discriminator step")
    return "both halves match BCE against 1 and 0, and no gradient reaches G"


def _reference_frechet(mu1, cov1, mu2, cov2) -> float:
    """The check's own closed form, written apart from ``dcgan_lib.metrics`` on purpose (so a
    bug there cannot pass a wrong answer here) and by another route: Tr (C1 C2)^(1/2) as the
    sum of the square roots of the eigenvalues of C1 C2, which are real and non-negative
    for covariance matrices."""
    eigenvalues = np.linalg.eigvals(cov1 @ cov2).real
    tr_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt)


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


D_6_4 = [(0.5, 0.5), (0.9, 0.1), (0.7, 0.5), (0.99, 0.3), (0.2, 0.6)]  # (D(x), D(G(z)))


@exercise("6.4", "The loss at equilibrium", "explain", "answer_6_4")
def check_answer_6_4(answer_6_4):
    """Loss_D = -log D(x) - log(1 - D(G(z))), at equilibrium 2 log 2."""
    for d_real, d_fake in D_6_4:
        what = f"answer_6_4({d_real}, {d_fake})"
        got = as_float(call(answer_6_4, "answer_6_4", d_real, d_fake), what)
        logit = torch.logit(torch.tensor([d_real, d_fake], dtype=torch.float64))
        expected = sum(t.item() for t in losses.discriminator_loss(logit[:1], logit[1:]))
        if abs(got - expected) <= 1e-3:
            continue
        if abs(got - expected / math.log(10)) <= 1e-3 or abs(got - expected / math.log(2)) \
                <= 1e-3:
            fail(f"{what} returned {got:.4f}; the cross-entropy uses the natural logarithm")
        if abs(got - (-math.log(d_real) - math.log(d_fake))) <= 1e-3:
            fail(f"{what} returned {got:.4f}; a generated image's target is 0, so its half "
                 f"of the loss is -log(1 - D(G(z)))")
        if min(abs(got + math.log(d_real)), abs(got + math.log(1 - d_fake))) <= 1e-3:
            fail(f"{what} returned {got:.4f}, one half of the loss; Loss_D adds errD_real "
                 f"and errD_fake")
        fail(f"{what} returned {got:.4f}; Loss_D is errD_real + errD_fake, the binary "
             f"cross-entropies of D(x) against 1 and of D(G(z)) against 0")
    return (f"-log D(x) - log(1 - D(G(z))) at {len(D_6_4)} pairs: 2 log 2 = "
            f"{2 * math.log(2):.4f} at equilibrium")


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
        what = f"ema_update(average, current, decay={decay})"
        reply = call_full(ema_update, "ema_update", (average, current, decay))
        got = reply.value
        if not isinstance(got, torch.Tensor):
            fail(f"{what} returned {show(got)} ({type(got).__name__}); return a tensor")
        if any(reply.mutated):
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


def _reference_nearest(generated: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """The check's own search, by another route than ``torch.cdist``: the RMS difference
    over all C x H x W values from each generated image to every training image."""
    diff = generated.double().flatten(1)[:, None, :] - train.double().flatten(1)[None, :, :]
    return diff.pow(2).mean(dim=2).sqrt().min(dim=1).values


def _image_sets():
    """(generated, train, name) cases: digits-like 32 x 32 images with copies among them,
    colour 8 x 8 images, and a pool where one generated image is a training one plus noise."""
    g = torch.Generator().manual_seed(67)
    tiny_train = torch.tensor([[[[1.0, -1.0], [-1.0, 1.0]]], [[[-1.0, -1.0], [-1.0, -1.0]]],
                               [[[0.0, 0.0], [0.0, 0.0]]]])
    tiny_gen = torch.tensor([[[[1.0, -1.0], [-1.0, 1.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    train = torch.rand(40, 1, 32, 32, generator=g) * 2 - 1
    generated = torch.rand(6, 1, 32, 32, generator=g) * 2 - 1
    generated[2] = train[17]  # a copy
    generated[4] = (train[3] + 0.05 * torch.randn(1, 32, 32, generator=g)).clamp(-1, 1)
    colour_train = torch.rand(25, 3, 8, 8, generator=g) * 2 - 1
    colour_gen = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    colour_gen[0] = colour_train[24]
    return [(tiny_gen, tiny_train, "two 2 x 2 images against three training images"),
            (generated, train, "6 generated 32 x 32 images, one a training copy, against "
                               "40 training images"),
            (colour_gen, colour_train, "4 colour 8 x 8 images against 25 training images")]


@exercise("6.7", "Distance to the nearest training image", "implement",
          "nearest_training_distance")
def check_nearest_training_distance(nearest_training_distance):
    """min over training images of the RMS pixel difference, per generated image (N,)."""
    for generated, train, name in _image_sets():
        what = f"nearest_training_distance on {name}"
        reply = call_full(nearest_training_distance, "nearest_training_distance",
                          (generated, train))
        got = reply.value
        if any(reply.mutated):
            fail(f"{what} changed the images it was given; work on copies")
        if isinstance(got, np.ndarray):
            got = torch.from_numpy(got)
        if not isinstance(got, torch.Tensor) or got.shape != (len(generated),):
            fail(f"{what} returned {show(got)}; return one distance per generated image, a "
                 f"tensor of shape ({len(generated)},)")
        got = got.double()
        expected = _reference_nearest(generated, train)
        # 1e-3: torch.cdist in float32 expands |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, which
        # leaves about 2e-4 where the distance is 0
        if torch.allclose(got, expected, atol=1e-3):
            continue
        pixels = generated[0].numel()
        flat_g, flat_t = generated.double().flatten(1), train.double().flatten(1)
        euclid = torch.cdist(flat_g, flat_t).min(dim=1).values
        if torch.allclose(got, euclid, atol=1e-3):
            fail(f"{what} returned Euclidean distances; divide by the square root of the "
                 f"number of values per image ({pixels}) to get the RMS difference of "
                 f"section 6.11")
        if torch.allclose(got, expected**2, atol=1e-3):
            fail(f"{what} returned mean squared differences; take their square root")
        fail(f"{what} differs from the RMS difference to the nearest training image by up "
             f"to {(got - expected).abs().max().item():.3g} (the copy of a training image "
             f"must give 0); compare every generated image with every training image over "
             f"all its {pixels} values and keep the smallest")
    return ("RMS pixel distances to the nearest training image, 0 for a copy, on grey "
            "32 x 32 and colour 8 x 8 images")


def _probe_sets():
    """Two problems for a linear probe: random labels with more features than labelled
    samples (a probe fitted there scores near chance 1/3 on fresh samples, and 1.0 on the
    ones it was fitted on), and four Gaussian classes with features on unequal scales."""
    g = torch.Generator().manual_seed(68)
    noise = (torch.randn(30, 60, generator=g), torch.randint(0, 3, (30,), generator=g),
             torch.randn(45, 60, generator=g), torch.randint(0, 3, (45,), generator=g))
    means = torch.randn(4, 10, generator=g)
    scale = torch.rand(10, generator=g) * 5 + 0.1
    y_train, y_test = (torch.randint(0, 4, (n,), generator=g) for n in (200, 400))
    x_train, x_test = ((means[y] + torch.randn(len(y), 10, generator=g)) * scale + 3
                       for y in (y_train, y_test))
    return noise, (x_train, y_train, x_test, y_test)


def _reference_probe(train_x, train_y, test_x, test_y, ridge: float = 1e-3) -> float:
    """Test accuracy of least squares onto one-hot labels, on standardised features."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6

    def design(x):
        x = ((x - mean) / std).double()
        return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)

    a, targets = design(train_x), torch.nn.functional.one_hot(train_y).double()
    w = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype),
                           a.T @ targets)
    return float(((design(test_x) @ w).argmax(1) == test_y).double().mean())


@exercise("6.8", "A linear probe on frozen features", "measure", "linear_probe")
def check_linear_probe(linear_probe):
    """Test accuracy of a linear classifier fitted on the training features only."""
    noise, clusters = _probe_sets()
    results = []
    for (train_x, train_y, test_x, test_y), name in ((noise, "random labels"),
                                                     (clusters, "four classes")):
        what = (f"linear_probe on {name} ({len(train_x)} training and {len(test_x)} test "
                f"samples of {train_x.shape[1]} features)")
        got = as_float(call(linear_probe, "linear_probe", train_x.clone(), train_y.clone(),
                            test_x.clone(), test_y.clone()), what)
        if not 0 <= got <= 1:
            fail(f"{what} returned {got:.4g}; an accuracy is the fraction of test samples "
                 f"classified right, between 0 and 1")
        results.append(got)
    chance, accuracy = results
    reference = _reference_probe(*clusters)
    if chance > 0.7:
        fail(f"linear_probe on random labels returned {chance:.3f}; no classifier can "
             f"predict random labels of fresh samples (chance is 1/3), so it was scored on "
             f"samples it was fitted on: fit on the training split, score on the test split")
    if abs(accuracy - reference) > 0.03:
        fail(f"linear_probe on four classes returned {accuracy:.3f}, but a linear classifier "
             f"fitted on the training features scores {reference:.3f} on the test ones; fit "
             f"one output per class (one-hot targets or a softmax) and predict the argmax")
    return (f"{accuracy:.3f} on four classes (a least-squares probe scores {reference:.3f}) "
            f"and {chance:.3f} on random labels, near chance: scored on unseen samples")


def _filter_sets():
    """(filters, name) cases: a constant filter, a checkerboard, DCGAN-initialised and
    smoothed random filters of several channels, non-square ones, and float64 ones."""
    g = torch.Generator().manual_seed(69)
    checker = (torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2 * 2.0 - 1
    noise = torch.randn(8, 3, 5, 5, generator=g)
    smooth = (noise[..., 1:, 1:] + noise[..., :-1, 1:] + noise[..., 1:, :-1]
              + noise[..., :-1, :-1])  # neighbouring sums: correlated neighbours, (8, 3, 4, 4)
    return [(torch.randn(16, 1, 4, 4, generator=g) * 0.02,
             "16 filters of DCGAN's initial N(0, 0.02^2) weights"),
            (torch.full((1, 1, 4, 4), 0.7), "a constant filter"),
            (checker[None, None].clone(), "a 4x4 checkerboard"),
            (smooth, "8 smoothed random filters of 3 channels"),
            (torch.randn(5, 2, 3, 6, generator=g), "5 non-square 3x6 filters of 2 channels"),
            (torch.randn(4, 1, 4, 4, generator=g, dtype=torch.float64) + 0.5,
             "4 float64 filters with a nonzero mean")]


@exercise("6.9", "The smoothness of a filter", "implement", "smoothness")
def check_smoothness(smoothness):
    """1 - mean (w_i - w_j)^2 over side-by-side pairs / (2 mean w^2), per filter (F,)."""
    for filters, name in _filter_sets():
        what = f"smoothness on {name}"
        reply = call_full(smoothness, "smoothness", (filters.clone(),))
        got = reply.value
        if any(reply.mutated):
            fail(f"{what} changed the filters it was given; work on differences, not in place")
        if isinstance(got, np.ndarray):
            got = torch.from_numpy(got)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (len(filters),):
            fail(f"{what} returned {show(got)}; return one number per filter, a tensor of "
                 f"shape ({len(filters)},)")
        got = got.double()
        expected = units.smoothness(filters).double()
        if torch.allclose(got, expected, atol=1e-5):
            continue
        worst = (got - expected).abs().argmax().item()
        fail(f"{what}: expected {expected[worst].item():+.4f} for filter {worst}, got "
             f"{got[worst].item():+.4f}; pool the squared differences of every pair of "
             f"weights side by side, across and down, within each channel, and divide their "
             f"mean by twice the filter's mean squared weight")
    return "+1 for a constant filter, -1 for a checkerboard, about 0 for random weights"


def _patch_sets():
    """(weight, stride, padding, images, n, name) cases: a first layer as the probe's
    discriminator has it, a colour layer without padding, and the single strongest patch."""
    g = torch.Generator().manual_seed(70)
    return [(torch.randn(6, 1, 4, 4, generator=g), 2, 1,
             torch.randn(10, 1, 16, 16, generator=g), 25,
             "6 filters 4x4, stride 2, padding 1, on 10 grey 16x16 images"),
            (torch.randn(4, 3, 3, 3, generator=g), 1, 0,
             torch.randn(6, 3, 9, 9, generator=g), 10,
             "4 filters 3x3, stride 1, no padding, on 6 colour 9x9 images"),
            (torch.randn(3, 1, 4, 4, generator=g), 2, 1,
             torch.randn(4, 1, 8, 8, generator=g), 1,
             "3 filters 4x4, stride 2, padding 1, on 4 grey 8x8 images")]


@exercise("6.10", "The patches a filter answers most", "implement", "strongest_patches")
def check_strongest_patches(strongest_patches):
    """Per filter, the mean of the n patches (as the layer cuts them) with the largest
    response (F, C, kh, kw)."""
    for weight, stride, padding, images, n, name in _patch_sets():
        conv = torch.nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], stride,
                               padding, bias=False)
        with torch.no_grad():
            conv.weight.copy_(weight)
        spec = Spec("conv2d", "conv", weight=weight, stride=stride, padding=padding)
        what = f"strongest_patches(conv, images, {n}) for {name}"
        reply = call_full(strongest_patches, "strongest_patches", (spec, images.clone(), n))
        got = reply.value
        if any(reply.mutated):
            fail(f"{what} changed the images it was given; leave them as they were")
        if isinstance(got, np.ndarray):
            got = torch.from_numpy(got)
        if not isinstance(got, torch.Tensor) or got.shape != weight.shape:
            fail(f"{what} returned {show(got)}; return one mean patch per filter, a tensor "
                 f"of the filters' shape {tuple(weight.shape)}")
        expected = units.strongest_patches(conv, images, n)
        if torch.allclose(got.float(), expected, atol=1e-5):
            continue
        gap = (got.float() - expected).abs()
        f, c, row, col = (int(i) for i in torch.unravel_index(gap.argmax(), gap.shape))
        fail(f"{what}: filter {f}'s mean patch at channel {c}, row {row}, column {col} is "
             f"{got[f, c, row, col].item():+.3f}, expected {expected[f, c, row, col].item():+.3f};"
             f" cut the patches as the layer does (kernel size, stride, padding) and average "
             f"the {n} with the largest dot product with the filter, over all the images")
    return ("the mean of each filter's strongest patches, with and without padding and "
            "stride, grey and colour")
