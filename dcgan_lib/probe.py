"""What a discriminator learned: its features as inputs to a linear classifier.

DCGAN's title claim is that adversarial training learns representations. The test of
Radford et al. (2015) is a *linear probe*: freeze the discriminator, take the activations
of its convolutional layers for labelled images, and fit a linear classifier on them; the
better the features, the higher its test accuracy with few labels. The controls are the
same architecture with its untrained initial weights, and the raw pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import positive_int


@torch.no_grad()
def discriminator_features(netD, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """``(N, F)``: every layer of ``netD`` but the last (the 4x4 -> logit one), flattened,
    in eval mode; ``images`` ``(N, C, H, W)`` in [-1, 1]."""
    body = netD.main[:-1]
    was_training = netD.training
    netD.eval()
    out = torch.cat([body(images[i:i + batch_size]).flatten(1)
                     for i in range(0, len(images), batch_size)])
    netD.train(was_training)
    return out


def fit_linear(x, y, classes: int, steps: int = 300, weight_decay: float = 1e-3):
    """A multinomial logistic regression on standardised ``x``, fitted by L-BFGS."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    w = torch.zeros(x.shape[1], classes, dtype=x.dtype, requires_grad=True)
    b = torch.zeros(classes, dtype=x.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")
    xs = (x - mean) / std

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xs @ w + b, y) + weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lambda z: ((z - mean) / std) @ w.detach() + b.detach()


def probe_accuracy(train_x, train_y, test_x, test_y, classes: int = 10,
                   steps: int = 300) -> float:
    """Test accuracy of a linear classifier fitted on ``(train_x, train_y)`` features."""
    positive_int("steps", steps)
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(f"features and labels must pair up, got {len(train_x)} and "
                         f"{len(train_y)} (train), {len(test_x)} and {len(test_y)} (test)")
    with torch.random.fork_rng(devices=[]):
        predict = fit_linear(train_x.double(), train_y, classes, steps)
    return float((predict(test_x.double()).argmax(1) == test_y).double().mean())
