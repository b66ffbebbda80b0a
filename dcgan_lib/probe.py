"""What a discriminator learned: its features as inputs to a linear classifier.

DCGAN's title claim is that adversarial training learns representations. The test of
Radford et al. (2015) is a *linear probe*: freeze the discriminator, take the activations
of its convolutional layers for labelled images, and fit a linear classifier on them; the
better the features, the higher its test accuracy with few labels. The controls are the
same architecture with its untrained initial weights, and the raw pixels.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import nn

from .checks import positive_int
from .settings import TrainConfig

# The discriminators the probe reads: a small DCGAN trained on MNIST for 2,000 steps, once
# per seed (``tools/train_probe_discriminators.py`` trains them; the book ships them).
PROBE_CONFIG = TrainConfig(width=16, batch_size=64, max_steps=2000, epochs=10, seed=0,
                           device="cpu", progress=False, log_every=0)
PROBE_SEEDS = (0, 1, 2)


@torch.no_grad()
def discriminator_features(netD, images: torch.Tensor) -> torch.Tensor:
    """``(N, F)``: the output of every LeakyReLU of ``netD``, max-pooled to a 4x4 grid and
    flattened, all layers side by side (the probe of Radford et al. 2015), eval mode."""
    netD.eval()
    features, h = [], images
    for layer in netD.main[:-1]:  # all but the last 4x4 -> 1 convolution
        h = layer(h)
        if isinstance(layer, nn.LeakyReLU):
            features.append(F.adaptive_max_pool2d(h, 4).flatten(1))
    return torch.cat(features, dim=1)


def load_probe_discriminators() -> tuple[dict, dict]:
    """``({seed: Discriminator}, record)``: the shipped discriminators of the probe."""
    from safetensors.torch import load_file

    from .models import Discriminator
    from .pretrained import WEIGHTS

    tensors = load_file(str(WEIGHTS / "probe-discriminators.safetensors"))
    record = json.loads((WEIGHTS / "probe-discriminators.json").read_text())
    nets = {}
    for seed in record["seeds"]:
        cfg = PROBE_CONFIG
        net = Discriminator(cfg.image_size, 1, cfg.width, cfg.d_norm, cfg.leak)
        prefix = f"seed{seed}."
        net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                             if k.startswith(prefix)})
        nets[seed] = net.eval()
    return nets, record


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
