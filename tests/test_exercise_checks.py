"""Every exercise check accepts the solution, reports a stub as not attempted, and rejects
plausible wrong answers (sign errors, off-by-one, wrong axis, a missing term), each with
a one-sentence message."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_lib.exercises import EXERCISES, CheckFailed, NotAttempted, _core, _wire
from dcgan_lib.exercises.layout import CHECK_CALL

SOLUTIONS = Path(__file__).resolve().parents[1] / "exercises" / "solutions"


def _solution_namespaces() -> dict[str, dict]:
    """Run every solution notebook's code cells (not its check cells) in one namespace per
    chapter: the solutions tested here are the ones the book shows."""
    spaces = {}
    for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")):
        namespace: dict = {}
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and not CHECK_CALL.match(cell.source.strip()):
                exec(compile(cell.source, str(path), "exec"), namespace)
        spaces[str(int(path.name[:2]))] = namespace
    return spaces


@pytest.fixture(scope="module")
def solutions():
    return _solution_namespaces()


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise")


def _one_sentence(message: str) -> bool:
    return "\n" not in message and "Traceback" not in message and 10 < len(message) < 400


# ------------------------------------------------------------------ wrong answers
# Each entry: (exercise id, what is wrong, a wrong implementation).


TABLE_1_4 = {"a": (16, 1, 2), "b": (16, 2, 2), "c": (16, 2, 3), "d": (8, 3, 3)}


def _batch(formula, tolerance):
    """The smallest B with error below tolerance: 1: 2 / B, 2: 2 / (B - 1), 3: (2B - 1) / B^2."""
    error = {1: lambda b: 2 / b, 2: lambda b: 2 / (b - 1), 3: lambda b: (2 * b - 1) / b**2}
    return next(b for b in range(2, 10_000) if error[formula](b) < tolerance)


def _block(c_in, c_out, leak=0.2, norm=True, *, act=None, stride=2, pool=False, bias=False,
           always_norm=False, act_first=False, fixed_leak=False):
    layers = [nn.Conv2d(c_in, c_out, 4, stride, 1 if stride == 2 else "same", bias=bias)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    relu = act() if act else nn.LeakyReLU(0.2 if fixed_leak else leak)
    if act_first:
        layers.append(relu)
    if norm or always_norm:
        layers.append(nn.BatchNorm2d(c_out))
    if not act_first:
        layers.append(relu)
    return nn.Sequential(*layers)


def _leaks(layer, *, train=True, whole=False, sample=0):
    if train:
        layer.train()
    x = torch.randn(4, 3, 8, 8)
    y = x.clone()
    y[1:] = torch.randn(3, 3, 8, 8) * 3 + 1
    with torch.no_grad():
        a, b = layer(x), layer(y)
    if whole:
        return not torch.allclose(a, b)
    return not torch.allclose(a[sample], b[sample], atol=1e-5)


def _slerp(z0, z1, t, *, dot_dim=1, swap=False, divide=True, fallback=True, clamp=True):
    u0, u1 = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    cosine = (u0 * u1).sum(dim=dot_dim, keepdim=True)
    omega = torch.acos(cosine.clamp(-1, 1) if clamp else cosine)
    parallel = omega < 1e-4
    if fallback:
        omega = torch.where(parallel, torch.ones_like(omega), omega)
    w0, w1 = torch.sin((1 - t) * omega), torch.sin(t * omega)
    if swap:
        w0, w1 = w1, w0
    out = (w0 * z0 + w1 * z1) / (torch.sin(omega) if divide else 1)
    return torch.where(parallel, (1 - t) * z0 + t * z1, out) if fallback else out


def _autograd_slopes(f, s):
    a = s.clone().requires_grad_(True)
    return torch.autograd.grad(f(a).sum(), a)[0]


def _slope_at_mean(f, s):
    return _autograd_slopes(f, s.mean().reshape(1)).item()


def _d_losses(netD, real, fake, *, detach=True, swap=False, double_sigmoid=False,
              reduction="mean"):
    real_logits = netD(real)
    fake_logits = netD(fake.detach() if detach else fake)
    if double_sigmoid:
        real_logits, fake_logits = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    one, zero = (0.0, 1.0) if swap else (1.0, 0.0)
    bce = F.binary_cross_entropy_with_logits
    return (bce(real_logits, torch.full_like(real_logits, one), reduction=reduction),
            bce(fake_logits, torch.full_like(fake_logits, zero), reduction=reduction))


def _sqrt_psd(a):
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _frechet(mu1, c1, mu2, c2, *, factor=2.0, elementwise=False, mean_term=True,
             squared=True):
    if elementwise:
        cross = np.sqrt(np.abs(c1 * c2))
    else:
        r = _sqrt_psd(c1)
        cross = _sqrt_psd(r @ c2 @ r)
    gap = np.linalg.norm(mu1 - mu2)
    gap = gap**2 if squared else gap
    return float((gap if mean_term else 0.0) + np.trace(c1 + c2 - factor * cross))


def _is(p, *, reverse=False, exp=True, axis=0, safe=True):
    q = p.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        if reverse:
            terms = q * np.log(q / p)
        elif safe:
            terms = np.where(p > 0, p * np.log(p / q), 0.0)
        else:
            terms = p * np.log(p / q)
    score = terms.sum(axis=1).mean()
    return float(np.exp(score) if exp else score)


def _var_mse(samples, sigma2, *, unbiased=True, dim=1, power=2, denom_power=2):
    s2 = samples.var(dim=dim, unbiased=unbiased)
    return ((s2 - sigma2).abs() ** power / sigma2**denom_power).mean().item()


def _inorm(x, eps=1e-5, *, dims=(2, 3), unbiased=False, root=True):
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
    return (x - mean) / (torch.sqrt(var + eps) if root else var + eps)


def _ink_drawn(generator, z, layer, channel, *, cut=1, keep=0.0, sign=1.0, scale=0.5,
               per_image=True, on_latent=False, train=False, above_zero=False):
    """The ink channel ``channel`` draws, with one of the mistakes a learner can make:
    ``cut`` where the network is split (1: right after main[layer]), ``keep`` what is left
    of the channel, ``scale`` the factor from [-1, 1] differences to ink."""
    if train:
        generator.train()
    with torch.no_grad():
        if on_latent:
            head, tail, h = nn.Identity(), generator.main, z[:, :, None, None]
        else:
            head, tail = generator.main[:layer + cut], generator.main[layer + cut:]
            h = head(z[:, :, None, None])
        off = h.clone()
        off[:, channel] *= keep
        a, b = tail(h), tail(off)
    if above_zero:
        drawn = (a > 0).double().mean(dim=(1, 2, 3)) - (b > 0).double().mean(dim=(1, 2, 3))
    else:
        drawn = sign * scale * (a - b).mean(dim=(1, 2, 3))
    return drawn if per_image else drawn.mean()


def _smooth(w, *, step=1, down=True, across=True, diagonal=False, factor=2.0, pooled=True,
            stacked=False, centred=False):
    """Filter smoothness with one of a learner's mistakes: ``step`` apart, one direction,
    diagonal pairs, another factor, the two directions' means averaged, the channels
    stacked into one grid (pairs across channel borders), or Pearson's correlation."""
    if stacked:
        w = w.reshape(w.shape[0], 1, -1, w.shape[-1])
    pairs = []
    if across:
        pairs.append((w[..., :, step:], w[..., :, :-step]))
    if down:
        pairs.append((w[..., step:, :], w[..., :-step, :]))
    if diagonal:
        pairs = [(w[..., 1:, 1:], w[..., :-1, :-1])]
    if centred:
        a = torch.cat([x.flatten(1) for x, _ in pairs], 1)
        b = torch.cat([y.flatten(1) for _, y in pairs], 1)
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        return (a * b).mean(1) / (a.pow(2).mean(1) * b.pow(2).mean(1)).sqrt()
    squares = [(x - y).pow(2).flatten(1) for x, y in pairs]
    msd = (torch.cat(squares, 1).mean(1) if pooled
           else torch.stack([q.mean(1) for q in squares]).mean(0))
    return 1 - msd / (factor * w.pow(2).flatten(1).mean(1))


def _patches(conv, images, n, *, largest=True, absolute=False, padding=True, stride=True,
             per_image=False, count=0, by_brightness=False):
    """The strongest patches with one of a learner's mistakes."""
    cut = dict(kernel_size=conv.kernel_size, padding=conv.padding if padding else 0,
               stride=conv.stride if stride else 1)
    with torch.no_grad():
        cols = F.unfold(images, **cut).transpose(1, 2)  # (N, positions, C k k)
        weight = conv.weight.flatten(1)
        if per_image:  # the top n of each image, then the mean over the images
            response = cols @ weight.T  # (N, positions, F)
            top = response.topk(n, dim=1).indices  # (N, n, F)
            picked = torch.stack([cols[i][top[i]] for i in range(len(cols))])
            return picked.mean(dim=(0, 1)).reshape(conv.weight.shape)
        cols = cols.flatten(0, 1)
        response = cols @ weight.T
        if absolute:
            response = response.abs()
        if by_brightness:
            response = cols.mean(1, keepdim=True).expand(-1, weight.shape[0])
        top = response.topk(n + count, dim=0, largest=largest).indices
        return cols[top].mean(0).reshape(conv.weight.shape)


WRONG = [
    ("1.1", "off by one: s * H_in", lambda n, k, s, p: s * n + k - 2 * p),
    ("1.1", "sign error on the padding", lambda n, k, s, p: s * (n - 1) + k + 2 * p),
    ("1.1", "missing the kernel term", lambda n, k, s, p: s * (n - 1) - 2 * p + 2),
    ("1.1", "padding counted once", lambda n, k, s, p: s * (n - 1) + k - p),
    ("1.1", "a float instead of an int", lambda n, k, s, p: float(s * (n - 1) + k - 2 * p)),
    ("1.2", "missing the + 1", lambda n, k, s, p: (n + 2 * p - k) // s),
    ("1.2", "rounds up instead of down", lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1),
    ("1.2", "true division", lambda n, k, s, p: (n + 2 * p - k) / s + 1),
    ("1.2", "sign error on the padding", lambda n, k, s, p: (n - 2 * p - k) // s + 1),
    ("1.2", "padding counted three times", lambda n, k, s, p: (n + 3 * p - k) // s + 1),
    ("1.2", "padding counted once", lambda n, k, s, p: (n + p - k) // s + 1),
    ("1.3", "ReLU instead of LeakyReLU", lambda i, o, leak=0.2, norm=True:
        _block(i, o, leak, norm, act=nn.ReLU)),
    ("1.3", "pooling instead of a stride", lambda i, o, leak=0.2, norm=True:
        _block(i, o, leak, norm, stride=1, pool=True)),
    ("1.3", "BatchNorm even when norm=False", lambda i, o, leak=0.2, norm=True:
        _block(i, o, leak, norm, always_norm=True)),
    ("1.3", "the slope argument ignored", lambda i, o, leak=0.2, norm=True:
        _block(i, o, leak, norm, fixed_leak=True)),
    ("1.3", "a bias before the norm", lambda i, o, leak=0.2, norm=True:
        _block(i, o, leak, norm, bias=True)),
    ("1.3", "activation before the norm", lambda i, o, leak=0.2, norm=True:
        _block(i, o, leak, norm, act_first=True)),
    ("1.4", "choice a", lambda: (TABLE_1_4, "a")),
    ("1.4", "choice c", lambda: (TABLE_1_4, "c")),
    ("1.4", "choice d", lambda: (TABLE_1_4, "d")),
    ("1.4", "the letter alone", lambda: "b"),
    ("1.4", "every layer taken to double the size", lambda:
        ({**TABLE_1_4, "d": (16, 3, 3)}, "b")),
    ("1.4", "the counts of (b) read as uneven", lambda: ({**TABLE_1_4, "b": (16, 1, 2)}, "b")),
    ("2.1", "missing the a in alpha * a", lambda a, alpha: torch.where(a >= 0, a, alpha)),
    ("2.1", "sign error on the slope", lambda a, alpha: torch.where(a >= 0, a, -alpha * a)),
    ("2.1", "plain ReLU", lambda a, alpha: torch.clamp(a, min=0)),
    ("2.1", "cut off from autograd", lambda a, alpha:
        torch.tensor(np.where(a.detach().numpy() >= 0, a.detach().numpy(),
                              alpha * a.detach().numpy()))),
    ("2.2", "the closed form, not a measurement", lambda f, s: 0.5 * (1 + 0.2)),
    ("2.2", "counting the positive samples, never using autograd", lambda f, s:
        ((s > 0).float() + (s <= 0).float() * -f(torch.tensor(-1.0))).mean().item()),
    ("2.2", "the secant slope f(a) / a, exact for LeakyReLU only", lambda f, s:
        (f(s) / s).mean().item()),
    ("2.2", "the mean output instead of the gradient", lambda f, s: f(s).mean().item()),
    ("2.2", "the slope at the mean sample", lambda f, s: _slope_at_mean(f, s)),
    ("2.2", "the sum of the slopes", lambda f, s: _autograd_slopes(f, s).sum().item()),
    ("2.3", "1 - a^2 for tanh", lambda a, kind:
        1 - a**2 if kind == "tanh" else ((a > -1) & (a < 1)).float()),
    ("2.3", "missing the square", lambda a, kind:
        1 - torch.tanh(a) if kind == "tanh" else ((a > -1) & (a < 1)).float()),
    ("2.3", "clip passes gradient everywhere", lambda a, kind:
        1 - torch.tanh(a) ** 2 if kind == "tanh" else torch.ones_like(a)),
    ("2.3", "clip passes gradient up to 2", lambda a, kind:
        1 - torch.tanh(a) ** 2 if kind == "tanh" else ((a > -1) & (a < 2)).float()),
    ("2.3", "clip passes gradient a little past 1", lambda a, kind:
        1 - torch.tanh(a) ** 2 if kind == "tanh" else (a.abs() < 1.05).float()),
    ("2.3", "sign error", lambda a, kind:
        torch.tanh(a) ** 2 - 1 if kind == "tanh" else -((a > -1) & (a < 1)).float()),
    ("2.4", "one network's factor", lambda alpha, layers: (0.5 * (1 + alpha)) ** layers),
    ("2.4", "adding 20% per layer", lambda alpha, layers: 1 + alpha * layers),
    ("2.4", "one layer only", lambda alpha, layers: 1 + alpha),
    ("2.4", "the chapter's case for every case", lambda alpha, layers: 1.2**10),
    ("3.1", "biased variance", lambda s, v: _var_mse(s, v, unbiased=False)),
    ("3.1", "variance over the wrong axis", lambda s, v: _var_mse(s, v, dim=0)),
    ("3.1", "divided by sigma^2 instead of sigma^4", lambda s, v: _var_mse(s, v, denom_power=1)),
    ("3.1", "absolute instead of squared error", lambda s, v: _var_mse(s, v, power=1)),
    ("3.2", "statistics over the batch (BatchNorm)", lambda x, eps=1e-5:
        _inorm(x, eps, dims=(0, 2, 3))),
    ("3.2", "statistics over the channels too (LayerNorm)", lambda x, eps=1e-5:
        _inorm(x, eps, dims=(1, 2, 3))),
    ("3.2", "unbiased variance", lambda x, eps=1e-5: _inorm(x, eps, unbiased=True)),
    ("3.2", "missing eps", lambda x, eps=1e-5: _inorm(x, 0.0)),
    ("3.2", "missing the square root", lambda x, eps=1e-5: _inorm(x, eps, root=False)),
    ("3.3", "compares the whole batch", lambda layer: _leaks(layer, whole=True)),
    ("3.3", "left in evaluation mode", lambda layer: _leaks(layer, train=False)),
    ("3.3", "compares a sample that changed", lambda layer: _leaks(layer, sample=1)),
    ("3.3", "always False", lambda layer: False),
    ("3.3", "an isinstance test that measures nothing", lambda layer:
        any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in layer.modules())),
    ("3.4", "equality instead of below", lambda tol: (_batch(2, tol) - 1, _batch(3, tol) - 1)),
    ("3.4", "solving 2 / B < tolerance", lambda tol: (_batch(1, tol), _batch(3, tol))),
    ("3.4", "the unbiased answer for both", lambda tol: (_batch(2, tol), _batch(2, tol))),
    ("3.4", "the two estimators swapped", lambda tol: (_batch(3, tol), _batch(2, tol))),
    ("3.4", "the chapter's case for every tolerance", lambda tol: (42, 40)),
    ("4.1", "the minimax loss", lambda x: torch.log(1 - torch.sigmoid(x)).mean()),
    ("4.1", "log of the sigmoid (overflows)", lambda x: -torch.log(torch.sigmoid(x)).mean()),
    ("4.1", "sum instead of mean", lambda x: -F.logsigmoid(x).sum()),
    ("4.1", "sign error", lambda x: F.logsigmoid(x).mean()),
    ("4.2", "targets swapped", lambda r, f, a:
        F.binary_cross_entropy_with_logits(r, torch.full_like(r, a))
        + F.binary_cross_entropy_with_logits(f, torch.full_like(f, 1 - a))),
    ("4.2", "one-sided: fakes still target 0", lambda r, f, a:
        F.binary_cross_entropy_with_logits(r, torch.full_like(r, 1 - a))
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))),
    ("4.2", "one mean over both batches", lambda r, f, a:
        F.binary_cross_entropy_with_logits(
            torch.cat([r, f]), torch.cat([torch.full_like(r, 1 - a), torch.full_like(f, a)]))),
    ("4.2", "sign error on alpha", lambda r, f, a:
        F.binary_cross_entropy_with_logits(r, torch.full_like(r, 1 - a))
        + F.binary_cross_entropy_with_logits(f, torch.full_like(f, -a))),
    ("4.3", "lambda_g + lambda_d in the closed form", lambda g, d:
        math.sqrt(max(0.0, 4 - (g + d) ** 2)) / 2),
    ("4.3", "missing the / 2", lambda g, d: math.sqrt(max(0.0, 4 - (g - d) ** 2))),
    ("4.3", "the real part", lambda g, d:
        float(np.abs(np.linalg.eigvals(np.array([[-g, -1.0], [1.0, -d]])).real).max())),
    ("4.3", "no case for real eigenvalues", lambda g, d: math.sqrt(4 - (g - d) ** 2) / 2),
    ("4.4", "the ratio upside down", lambda d: d / (1 - d)),
    ("4.4", "the non-saturating gradient itself", lambda d: 1 - d),
    ("4.4", "1 / D", lambda d: 1 / d),
    ("4.4", "the chapter's case for every D", lambda d: 99.0),
    ("4.5", "3 std forgotten", lambda x, c, std, m:
        int(((torch.cdist(x, c) < std).sum(0) >= m).sum())),
    ("4.5", "samples counted, not modes", lambda x, c, std, m:
        int((torch.cdist(x, c) < 3 * std).any(1).sum())),
    ("4.5", "squared distance against 3 std", lambda x, c, std, m:
        int(((torch.cdist(x, c) ** 2 < 3 * std).sum(0) >= m).sum())),
    ("4.5", "one sample makes a mode", lambda x, c, std, m:
        int(((torch.cdist(x, c) < 3 * std).sum(0) >= 1).sum())),
    ("4.5", "more than min_count required", lambda x, c, std, m:
        int(((torch.cdist(x, c) < 3 * std).sum(0) > m).sum())),
    ("5.1", "linear interpolation", lambda z0, z1, t: (1 - t) * z0 + t * z1),
    ("5.1", "weights swapped", lambda z0, z1, t: _slerp(z0, z1, t, swap=True)),
    ("5.1", "dot product over the batch axis", lambda z0, z1, t:
        _slerp(z0, z1, t, dot_dim=0)),
    ("5.1", "missing the division by sin W", lambda z0, z1, t: _slerp(z0, z1, t, divide=False)),
    ("5.1", "no fallback for parallel latents", lambda z0, z1, t:
        _slerp(z0, z1, t, fallback=False)),
    ("5.1", "no clamp of the cosine", lambda z0, z1, t: _slerp(z0, z1, t, clamp=False)),
    ("5.2", "uniform on [0, 1]", lambda n, d, dist, g:
        torch.randn(n, d, generator=g) if dist == "gaussian" else torch.rand(n, d, generator=g)),
    ("5.2", "generator ignored", lambda n, d, dist, g:
        torch.randn(n, d) if dist == "gaussian" else torch.rand(n, d) * 2 - 1),
    ("5.2", "uniform scaled to variance 1", lambda n, d, dist, g:
        torch.randn(n, d, generator=g) if dist == "gaussian"
        else (torch.rand(n, d, generator=g) * 2 - 1) * 3**0.5),
    ("5.2", "Gaussian truncated at 2", lambda n, d, dist, g:
        torch.randn(n, d, generator=g).clamp(-2, 2) if dist == "gaussian"
        else torch.rand(n, d, generator=g) * 2 - 1),
    ("5.3", "the ratio of squared norms", lambda t: (1 - t) ** 2 + t**2),
    ("5.3", "no shrinkage", lambda t: 1.0),
    ("5.3", "the midpoint's value for every t", lambda t: 0.5**0.5),
    ("5.3", "the norms of the two ends added", lambda t: (1 - t) + t * 2**0.5),
    ("5.4", "sign error", lambda a, b, c: a.mean(0) + b.mean(0) - c.mean(0)),
    ("5.4", "mean over the wrong axis", lambda a, b, c: a.mean(1) - b.mean(1) + c.mean(1)),
    ("5.4", "missing the third term", lambda a, b, c: a.mean(0) - b.mean(0)),
    ("5.4", "sums instead of means", lambda a, b, c: a.sum(0) - b.sum(0) + c.sum(0)),
    ("5.5", "a channel of the next block's convolution switched off", lambda g, z, i, c:
        _ink_drawn(g, z, i, c, cut=2)),
    ("5.5", "the convolution's output switched off, before BatchNorm", lambda g, z, i, c:
        _ink_drawn(g, z, i, c, cut=-1)),
    ("5.5", "the channel halved instead of zeroed", lambda g, z, i, c:
        _ink_drawn(g, z, i, c, keep=0.5)),
    ("5.5", "the ink gained, not lost", lambda g, z, i, c: _ink_drawn(g, z, i, c, sign=-1)),
    ("5.5", "pixel differences in [-1, 1], not ink", lambda g, z, i, c:
        _ink_drawn(g, z, i, c, scale=1.0)),
    ("5.5", "one number for the whole batch", lambda g, z, i, c:
        _ink_drawn(g, z, i, c, per_image=False)),
    ("5.5", "a latent coordinate zeroed instead of a channel", lambda g, z, i, c:
        _ink_drawn(g, z, i, c % z.shape[1], on_latent=True)),
    ("5.5", "BatchNorm in training mode", lambda g, z, i, c: _ink_drawn(g, z, i, c, train=True)),
    ("5.5", "the share of pixels above 0 instead of the ink", lambda g, z, i, c:
        _ink_drawn(g, z, i, c, above_zero=True)),
    ("5.6", "0: the channel taken to be off", lambda g, b, m, v: 0.0),
    ("5.6", "BatchNorm's output, the ReLU forgotten", lambda g, b, m, v:
        b - g * m / (v + 1e-5) ** 0.5),
    ("5.6", "divided by the variance, not the standard deviation", lambda g, b, m, v:
        max(0.0, b - g * m / (v + 1e-5))),
    ("5.6", "the running mean added, not subtracted", lambda g, b, m, v:
        max(0.0, b + g * m / (v + 1e-5) ** 0.5)),
    ("5.6", "the shift alone", lambda g, b, m, v: max(0.0, b)),
    ("6.1", "no detach", lambda netD, r, f: _d_losses(netD, r, f, detach=False)),
    ("6.1", "labels swapped", lambda netD, r, f: _d_losses(netD, r, f, swap=True)),
    ("6.1", "sigmoid applied twice", lambda netD, r, f: _d_losses(netD, r, f,
                                                                double_sigmoid=True)),
    ("6.1", "sum instead of mean", lambda netD, r, f: _d_losses(netD, r, f, reduction="sum")),
    ("6.2", "missing the factor 2", lambda m1, c1, m2, c2: _frechet(m1, c1, m2, c2, factor=1.0)),
    ("6.2", "elementwise square root", lambda m1, c1, m2, c2:
        _frechet(m1, c1, m2, c2, elementwise=True)),
    ("6.2", "missing the mean term", lambda m1, c1, m2, c2:
        _frechet(m1, c1, m2, c2, mean_term=False)),
    ("6.2", "distance of the means not squared", lambda m1, c1, m2, c2:
        _frechet(m1, c1, m2, c2, squared=False)),
    ("6.3", "KL reversed", lambda p: _is(p, reverse=True)),
    ("6.3", "missing the exp", lambda p: _is(p, exp=False)),
    ("6.3", "marginal over the wrong axis", lambda p: _is(p, axis=1)),
    ("6.3", "0 log 0 gives nan", lambda p: _is(p, safe=False)),
    ("6.4", "one half of the loss", lambda dr, df: -math.log(dr)),
    ("6.4", "base-10 logarithm", lambda dr, df: -math.log10(dr) - math.log10(1 - df)),
    ("6.4", "base-2 logarithm", lambda dr, df: -math.log2(dr) - math.log2(1 - df)),
    ("6.4", "the fakes' target taken as 1", lambda dr, df: -math.log(dr) - math.log(df)),
    ("6.4", "the equilibrium value for every pair", lambda dr, df: 2 * math.log(2)),
    ("6.5", "kernel side not squared", lambda i, o, k: i * o * k + 2 * o),
    ("6.5", "BatchNorm forgotten", lambda i, o, k: i * o * k * k),
    ("6.5", "BatchNorm's running statistics counted", lambda i, o, k: i * o * k * k + 4 * o),
    ("6.5", "a convolution bias counted", lambda i, o, k: i * o * k * k + 3 * o),
    ("6.6", "shares swapped", lambda a, c, d: (1 - d) * a + d * c),
    ("6.6", "current weights not scaled", lambda a, c, d: d * a + c),
    ("6.6", "updates the average in place", lambda a, c, d: a.mul_(d).add_(c, alpha=1 - d)),
    ("6.6", "ignores the decay", lambda a, c, d: (a + c) / 2),
    ("6.7", "Euclidean distance, not RMS", lambda g, t:
        torch.cdist(g.flatten(1), t.flatten(1)).min(1).values),
    ("6.7", "mean squared difference, no square root", lambda g, t:
        (torch.cdist(g.flatten(1), t.flatten(1)) ** 2 / g[0].numel()).min(1).values),
    ("6.7", "divided by 32, right for 32 x 32 grey images only", lambda g, t:
        (torch.cdist(g.flatten(1), t.flatten(1)) / 32).min(1).values),
    ("6.7", "the farthest training image", lambda g, t:
        (torch.cdist(g.flatten(1), t.flatten(1)) / g[0].numel() ** 0.5).max(1).values),
    ("6.7", "the mean over the training images", lambda g, t:
        (torch.cdist(g.flatten(1), t.flatten(1)) / g[0].numel() ** 0.5).mean(1)),
    ("6.7", "nearest generated image for each training image", lambda g, t:
        (torch.cdist(g.flatten(1), t.flatten(1)) / g[0].numel() ** 0.5).min(0).values),
    ("6.7", "mean absolute difference", lambda g, t:
        (g.flatten(1)[:, None] - t.flatten(1)[None]).abs().mean(2).min(1).values),
    ("6.8", "scored on the training samples", lambda x, y, xt, yt: _probe(x, y, x, y)),
    ("6.8", "fitted on the test samples", lambda x, y, xt, yt: _probe(xt, yt, xt, yt)),
    ("6.8", "fitted on training and test samples together", lambda x, y, xt, yt:
        _probe(torch.cat([x, xt]), torch.cat([y, yt]), xt, yt)),
    ("6.8", "one output regressing the class number", lambda x, y, xt, yt:
        _probe(x, y, xt, yt, one_hot=False)),
    ("6.8", "the majority class of the training labels", lambda x, y, xt, yt:
        (yt == y.mode().values).double().mean().item()),
    ("6.8", "the error rate", lambda x, y, xt, yt: 1 - _probe(x, y, xt, yt)),
    ("6.8", "a percentage", lambda x, y, xt, yt: 100 * _probe(x, y, xt, yt)),
    ("6.9", "neighbours two apart", lambda w: _smooth(w, step=2)),
    ("6.9", "horizontal neighbours only", lambda w: _smooth(w, down=False)),
    ("6.9", "diagonal neighbours", lambda w: _smooth(w, diagonal=True)),
    ("6.9", "missing the factor 2", lambda w: _smooth(w, factor=1.0)),
    ("6.9", "the two directions' means averaged, not pooled", lambda w:
        _smooth(w, pooled=False)),
    ("6.9", "channels stacked: pairs across a channel border", lambda w:
        _smooth(w, stacked=True)),
    ("6.9", "Pearson's correlation of the pairs, centred", lambda w: _smooth(w, centred=True)),
    ("6.9", "one number for all the filters", lambda w: _smooth(w).mean()),
    ("6.10", "the weakest patches", lambda c, x, n: _patches(c, x, n, largest=False)),
    ("6.10", "the largest response in size, either sign", lambda c, x, n:
        _patches(c, x, n, absolute=True)),
    ("6.10", "the padding ignored", lambda c, x, n: _patches(c, x, n, padding=False)),
    ("6.10", "the stride ignored", lambda c, x, n: _patches(c, x, n, stride=False)),
    ("6.10", "the top n of each image, averaged", lambda c, x, n:
        _patches(c, x, n, per_image=True)),
    ("6.10", "one patch too many", lambda c, x, n: _patches(c, x, n, count=1)),
    ("6.10", "the brightest patches, whatever the filter", lambda c, x, n:
        _patches(c, x, n, by_brightness=True)),
    ("6.10", "the filters themselves", lambda c, x, n: c.weight.detach().clone()),
    ("7.1", "the global batch, not the slice", lambda n, p, sync: (2 * n - 1) / n**2),
    ("7.1", "the unbiased variance's 2 / (b - 1)", lambda n, p, sync:
        2 / ((n if sync else n // p) - 1)),
    ("7.1", "sync_bn ignored", lambda n, p, sync: (2 * (n // p) - 1) / (n // p) ** 2),
    ("7.1", "the number of processes as b", lambda n, p, sync: (2 * p - 1) / p**2),
    ("7.2", "the mean of the processes' variances", lambda s, q, n: (
        (s.sum(0) / n.sum()), (q / n[:, None] - (s / n[:, None]) ** 2).mean(0))),
    ("7.2", "the mean of the processes' means", lambda s, q, n: (
        (s / n[:, None]).mean(0), q.sum(0) / n.sum() - (s.sum(0) / n.sum()) ** 2)),
    ("7.2", "the unbiased variance", lambda s, q, n: (
        s.sum(0) / n.sum(), (q.sum(0) - s.sum(0) ** 2 / n.sum()) / (n.sum() - 1))),
    ("7.2", "the mean squared not subtracted", lambda s, q, n: (
        s.sum(0) / n.sum(), q.sum(0) / n.sum())),
    ("7.3", "the unbiased variance", lambda x, p: (
        (x.reshape(p, x.shape[0] // p, -1).var(dim=1) - 1) ** 2).mean().item()),
    ("7.3", "the whole minibatch, not split", lambda x, p: (
        (x.var(dim=0, unbiased=False) - 1) ** 2).mean().item()),
    ("7.3", "interleaved rows instead of slices", lambda x, p: (
        (x.reshape(x.shape[0] // p, p, -1).var(dim=0, unbiased=False) - 1) ** 2).mean().item()),
    ("7.3", "absolute instead of squared error", lambda x, p: (
        x.reshape(p, x.shape[0] // p, -1).var(dim=1, unbiased=False) - 1).abs().mean().item()),
    ("7.4", "gradient of one process's batch", lambda n, b, sync: (b, b)),
    ("7.4", "--batch-size read as the total", lambda n, b, sync: (b, b // n)),
    ("7.4", "BatchNorm always over every process", lambda n, b, sync: (n * b, n * b)),
    ("7.4", "--sync-bn ignored", lambda n, b, sync: (n * b, b)),
    ("7.4", "the letter of the old question", lambda n, b, sync: "d"),
]


def _probe(x, y, xt, yt, *, one_hot=True):
    mean, std = x.mean(0), x.std(0) + 1e-6

    def design(v):
        v = ((v - mean) / std).double()
        return torch.cat([v, torch.ones(len(v), 1, dtype=v.dtype)], dim=1)

    a = design(x)
    targets = F.one_hot(y).double() if one_hot else y.double()[:, None]
    w = torch.linalg.solve(a.T @ a + 1e-3 * torch.eye(a.shape[1], dtype=a.dtype),
                           a.T @ targets)
    scores = design(xt) @ w
    predicted = scores.argmax(1) if one_hot else scores[:, 0].round().long()
    return (predicted == yt).double().mean().item()


def test_every_exercise_has_at_least_three_wrong_answers():
    counts = {ex_id: sum(1 for w in WRONG if w[0] == ex_id) for ex_id in EXERCISES}
    assert min(counts.values()) >= 3, counts


def test_every_chapter_has_at_least_four_exercises_of_mixed_kinds():
    chapters = {}
    for exercise in EXERCISES.values():
        chapters.setdefault(exercise.id.split(".")[0], []).append(exercise.kind)
    assert sorted(chapters) == ["1", "2", "3", "4", "5", "6", "7"]
    assert all(len(kinds) >= 4 for kinds in chapters.values()), chapters
    assert {k for kinds in chapters.values() for k in kinds} == {
        "compute", "implement", "measure", "explain"}


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_check_accepts_the_solution_from_the_notebook(ex_id, solutions, capsys):
    exercise = EXERCISES[ex_id]
    answers = [solutions[ex_id.split(".")[0]][name] for name in exercise.names]
    exercise.check(*answers)
    assert capsys.readouterr().out.startswith(f"Exercise {ex_id} passed: ")


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_check_reports_a_stub_as_not_attempted(ex_id):
    with pytest.raises(NotAttempted, match=rf"^Exercise {re.escape(ex_id)} is not attempted"):
        EXERCISES[ex_id].check(_stub)


@pytest.mark.parametrize("ex_id, label, wrong", WRONG, ids=[f"{w[0]}-{w[1]}" for w in WRONG])
def test_check_rejects_a_wrong_answer_in_one_sentence(ex_id, label, wrong):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failure:
        EXERCISES[ex_id].check(wrong)
    assert _one_sentence(str(failure.value)), str(failure.value)


def test_failure_renders_in_ipython_as_its_sentence_alone():
    with pytest.raises(CheckFailed) as failure:
        EXERCISES["1.1"].check(lambda n, k, s, p: s * (n - 1) + k - p)
    message = ("conv_transpose_output_size(4, 4, 2, 1) returned 9; "
               "a k=4, s=2, p=1 layer doubles 4 to 8")
    assert str(failure.value) == message
    assert failure.value._render_traceback_() == [f"CheckFailed: {message}"]
    assert failure.value.__cause__ is None and failure.value.__suppress_context__ is False
    assert failure.value.__context__ is None


def test_a_learner_error_is_reported_not_raised_through_the_check():
    def broken(n, k, s, p):
        return undefined_name  # noqa: F821

    with pytest.raises(CheckFailed, match=r"raised NameError: name 'undefined_name'"):
        EXERCISES["1.1"].check(broken)


def test_a_name_that_is_not_a_function_is_reported():
    with pytest.raises(CheckFailed, match="must be a function, got int"):
        EXERCISES["1.1"].check(8)


# ------------------------------------------------------- what crosses the wire is plain


class _AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class _LyingStr(str):
    def strip(self, *args):
        return self

    def lower(self):
        return self

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __contains__(self, other):
        return True

    __hash__ = str.__hash__


class _LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return torch.ones_like(self, dtype=torch.bool)

    def allclose(self, *args, **kwargs):
        return True


@pytest.mark.parametrize("ex_id, wrong", [
    ("1.1", lambda n, k, s, p: _AlwaysEqualInt(0)),
    ("1.2", lambda n, k, s, p: _AlwaysEqualInt(0)),
    ("6.5", lambda i, o, k: _AlwaysEqualInt(0)),
    ("1.4", lambda: (TABLE_1_4, _LyingStr("z"))),
    ("1.4", lambda: (TABLE_1_4, _LyingStr("a"))),
    ("2.3", lambda a, kind: torch.zeros_like(a).as_subclass(_LyingTensor)),
], ids=["1.1-int", "1.2-int", "6.5-int", "1.4-str-z", "1.4-str-a", "2.3-tensor"])
def test_a_subclass_that_lies_about_equality_is_judged_by_its_value(ex_id, wrong):
    with pytest.raises(CheckFailed):
        EXERCISES[ex_id].check(wrong)


def test_values_cross_the_wire_as_exact_builtin_types():
    reply = json.loads(_wire.handle({"f": lambda: (_AlwaysEqualInt(3), _LyingStr("b"), 2.5,
                                                   [True, None], np.float32(1.5))},
                                    _wire.request("f", (), {})))
    value = _wire.decode(reply["value"])
    assert value == (3, "b", 2.5, [True, None], np.float32(1.5))
    assert [type(v) for v in value] == [int, str, float, list, np.float32]


def test_a_dict_with_string_keys_crosses_as_a_plain_dict():
    reply = json.loads(_wire.handle({"f": lambda: {_LyingStr("a"): (16, _AlwaysEqualInt(1)),
                                                   "b": [2.5]}},
                                    _wire.request("f", (), {})))
    value = _wire.decode(reply["value"])
    assert value == {"a": (16, 1), "b": [2.5]}
    assert [type(k) for k in value] == [str, str] and type(value["a"][1]) is int


def test_a_dict_with_other_keys_arrives_as_an_opaque_object():
    reply = json.loads(_wire.handle({"f": lambda: {1: 2}}, _wire.request("f", (), {})))
    assert isinstance(_wire.decode(reply["value"]), _wire.Opaque)


def test_a_tensor_subclass_arrives_as_a_plain_tensor():
    reply = json.loads(_wire.handle({"f": lambda: torch.ones(2).as_subclass(_LyingTensor)},
                                    _wire.request("f", (), {})))
    value = _wire.decode(reply["value"])
    assert type(value) is torch.Tensor and value.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("data", [
    {"pickle": "gASV"}, {"tensor": {"dtype": "object", "shape": [1], "data": ""}},
    {"tensor": {"dtype": "float32", "shape": [3], "data": "AAAA"}},
    {"tensor": {"dtype": "float32", "shape": [-1], "data": ""}}, {"a": 1, "b": 2},
    {"dict": [[1, 2]]}, {"dict": [["a", 1, 2]]},
])
def test_the_wire_refuses_anything_but_plain_data(data):
    with pytest.raises(_wire.WireError):
        _wire.decode(data)


def test_an_unreadable_reply_fails_the_check_in_one_sentence():
    answer = _core.Answer("conv_output_size", lambda request: "not json")
    with pytest.raises(CheckFailed, match="gave a reply the check cannot read"):
        EXERCISES["1.2"].check(answer)


@pytest.mark.parametrize("value", [np.zeros(3), np.zeros((2, 2)), np.zeros(0)],
                         ids=["3", "2x2", "empty"])
def test_a_numpy_array_of_the_wrong_size_fails_in_one_sentence(value):
    with pytest.raises(CheckFailed, match=r"^f\(\) returned an array of shape .*; "
                                          r"return a single number$") as failure:
        _core.as_float(value, "f()")
    assert _one_sentence(str(failure.value))


def test_a_numpy_array_of_one_number_is_that_number():
    assert _core.as_float(np.array([[2.5]]), "f()") == 2.5


def test_an_array_answer_to_a_number_exercise_fails_in_one_sentence():
    with pytest.raises(CheckFailed, match="return a single number") as failure:
        EXERCISES["6.2"].check(lambda m1, c1, m2, c2: (m1 - m2) ** 2)
    assert _one_sentence(str(failure.value))


# ------------------------------------------- explain exercises are not passed by guessing
# The chance that a guess passes, before and after the explain exercises asked for more
# than one value. A numeric guess is a number drawn uniformly from the range a reader
# would guess in; it passes when it falls in the check's tolerance window.

GUESS = {
    # 1.4: a letter, 1 in 4. Now also each of the four layers' output length (8 or 16, so
    # 1/2) and its fewest and most interior counts (one of six pairs: fewest 1 to 3, most
    # equal or one more, so 1/6): 1/4 * (1/2 * 1/6)^4 = 1/82,944.
    "1.4": (1 / 4, 1 / (4 * (2 * 6) ** 4)),
    # 2.4: one number, 1.2^10 = 6.19 within 1 %; a guess in [1, 10] lands there 1.4 % of
    # the time. Now a function of (alpha, layers) checked at five cases whose answers
    # (6.19, 1.46, 190, 2.70, 1.20) lie far apart: no single number passes.
    "2.4": (2 * 0.01 * 1.2**10 / 9, 0.0),
    # 3.4: one whole number, 42; a guess of B from 2 to 100 hits it 1 time in 99. Now a
    # pair for each of five tolerances (42, 22, 10, 6, 202 and 40, 20, 8, 4, 200).
    "3.4": (1 / 99, 0.0),
    # 4.4: one number, 99 within 1 %; a guess in [1, 100] lands there 2.0 % of the time.
    # Now (1 - D) / D at six values of D, from 999 to 0.11.
    "4.4": (2 * 0.99 / 99, 0.0),
    # 5.3: one number, 0.707 within 0.01 (and printed, measured, by the cell above it); a
    # guess in [0, 1] lands there 2 % of the time. Now the ratio at six points t, from
    # 0.71 to 1, within 0.005.
    "5.3": (2 * 0.01, 0.0),
    # 5.6: asked as one number, the value a silenced channel holds after BatchNorm and ReLU
    # for one channel, within 0.001: a guess in [0, 4] lands there 0.05 % of the time. It
    # is asked as a function of (gamma, beta, mean, var), checked at seven channels whose
    # answers (0 for three of them, 0.12, 0.80, 1.0, 3.9) no single number matches.
    "5.6": (2 * 0.001 / 4, 0.0),
    # 6.4: one number, 2 log 2 = 1.386 within 0.001, printed by the cell above it; a guess
    # in [0, 2] lands there 0.1 % of the time. Now Loss_D at five pairs (D(x), D(G(z))).
    "6.4": (2 * 0.001 / 2, 0.0),
    # 7.4: a letter, 1 in 4, as first written. Now the pair (images per gradient step,
    # images per BatchNorm) for six runs, whose answers differ: no constant pair passes.
    "7.4": (1 / 4, 0.0),
}
EXPLAIN = sorted(i for i, e in EXERCISES.items() if e.kind == "explain")


def test_every_explain_exercise_states_its_guess_probability_well_under_one_percent():
    assert sorted(GUESS) == EXPLAIN
    for ex_id, (before, after) in GUESS.items():
        assert after < 1e-3 and after < before / 10, ex_id


def _random_guess(ex_id: str, rng: np.random.Generator):
    """A guess in the answer's format, drawn as GUESS describes; numbers are constants."""
    if ex_id == "1.4":
        def row():
            fewest = int(rng.integers(1, 4))
            return (int(rng.choice([8, 16])), fewest, fewest + int(rng.integers(0, 2)))
        table, letter = {k: row() for k in "abcd"}, str(rng.choice(list("abcd")))
        return lambda: (table, letter)
    if ex_id == "3.4":
        pair = (int(rng.integers(2, 101)), int(rng.integers(2, 101)))
        return lambda tolerance: pair
    if ex_id == "7.4":
        pair = (int(rng.integers(1, 513)), int(rng.integers(1, 513)))
        return lambda processes, batch_size, sync_bn: pair
    low, high = {"2.4": (1, 10), "4.4": (1, 100), "5.3": (0, 1), "5.6": (0, 4),
                 "6.4": (0, 2)}[ex_id]
    value = float(rng.uniform(low, high))
    return lambda *args: value


@pytest.mark.parametrize("ex_id", EXPLAIN)
def test_random_guesses_fail_every_explain_check(ex_id):
    rng = np.random.default_rng(int(ex_id.replace(".", "")))
    passed = 0
    for _ in range(300):
        try:
            EXERCISES[ex_id].verify(_random_guess(ex_id, rng))
            passed += 1
        except CheckFailed:
            pass
    assert passed == 0


@pytest.mark.parametrize("ex_id", [i for i in EXPLAIN if i != "1.4"])
def test_no_single_number_passes_a_numeric_explain_check(ex_id, solutions):
    """The best a constant can do is one case's right answer; each of those fails."""
    from dcgan_lib.exercises import (
        activations,
        hands_on,
        latent_space,
        normalization,
        scaling,
        training_dynamics,
    )

    cases = {"2.4": activations.CASES_2_4, "3.4": [(t,) for t in normalization.TOLERANCES_3_4],
             "4.4": [(d,) for d in training_dynamics.D_4_4],
             "5.3": [(t,) for t in latent_space.T_5_3], "5.6": latent_space.CASES_5_6,
             "6.4": hands_on.D_6_4,
             "7.4": scaling.CASES_7_4}[ex_id]
    exercise = EXERCISES[ex_id]
    solution = solutions[ex_id.split(".")[0]][exercise.names[0]]
    for args in cases:
        right = solution(*args)
        with pytest.raises(CheckFailed):
            exercise.verify(lambda *a, right=right: right)
