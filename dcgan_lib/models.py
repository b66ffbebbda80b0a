"""The DCGAN generator and discriminator (Radford, Metz and Chintala, 2015).

Both are mirror-image ``nn.Sequential`` stacks of 4x4 (transposed) convolutions with
stride 2 and padding 1, each of which doubles (generator) or halves (discriminator) the
spatial size:

    generator:      z (B, latent_dim) -> 4x4 -> 8x8 -> ... -> image_size, tanh
    discriminator:  image_size -> ... -> 8x8 -> 4x4 -> one logit per image, shape (B,)

``image_size`` is any power of two from 16 to 256. ``width`` is the number of channels
at the full-resolution end; it doubles at every halving of the spatial size, as in the
paper (64 -> 128 -> 256 -> 512 for 64x64 images).

The options that chapter 6 switches off one at a time are DCGAN's choices by default:
BatchNorm, ReLU in G (``leak=0``) with tanh at its output, no fully connected hidden
layer in D (``hidden=0``), and the N(0, 0.02) initialisation (``init="dcgan"``; ``"default"``
keeps PyTorch's own, uniform with standard deviation 1/sqrt(3 fan_in)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .checks import non_negative_int, number_in, one_of, positive_int

NORMS = ("batch", "instance", "layer", "none")
DOWNSAMPLING = ("strided", "pool")
INITS = ("dcgan", "default")
OUTPUTS = ("tanh", "linear")
IMAGE_SIZES = tuple(2**k for k in range(4, 9))  # 16 .. 256


def _check_image_size(image_size) -> int:
    if isinstance(image_size, bool) or image_size not in IMAGE_SIZES:
        raise ValueError(
            f"image_size must be a power of two from 16 to 256 "
            f"({', '.join(map(str, IMAGE_SIZES))}), got {image_size!r}"
        )
    return int(image_size)


def _check_norm(norm) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(map(repr, NORMS))}, got {norm!r}")
    return norm


def norm_layer(norm: str, channels: int) -> nn.Module:
    """The normalisation after a (transposed) convolution with ``channels`` outputs.

    ``"batch"`` normalises each channel over the batch and the pixels, ``"instance"`` over
    each image's pixels, ``"layer"`` over each image's channels and pixels together
    (``GroupNorm`` with one group), ``"none"`` is the identity.
    """
    _check_norm(norm)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def weights_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02).

    Biases and norm shifts start at 0. Apply with ``net.apply(weights_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)):
        if module.weight is not None:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)


def activation(leak: float) -> nn.Module:
    """ReLU for ``leak == 0`` (DCGAN's generator), else LeakyReLU with slope ``leak``."""
    return nn.ReLU(True) if leak == 0 else nn.LeakyReLU(leak, inplace=True)


def generator_layers(latent_dim, image_size, channels, width, norm="batch", leak=0.0,
                     output="tanh"):
    """The generator: a 1x1 latent to 4x4, then doubling up to ``image_size``."""
    doublings = int(math.log2(image_size)) - 2  # 4x4 -> image_size
    c = width * 2 ** (doublings - 1)  # channels halve as the map doubles
    layers = [
        nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False),  # 1x1 -> 4x4
        norm_layer(norm, c),
        activation(leak),
    ]
    for _ in range(doublings - 1):  # each: (c, s, s) -> (c/2, 2s, 2s)
        layers += [
            nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
            norm_layer(norm, c // 2),
            activation(leak),
        ]
        c //= 2
    layers += [  # -> (channels, image_size, image_size), in [-1, 1] with tanh
        nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False),
        nn.Tanh() if output == "tanh" else nn.Identity(),
    ]
    return nn.Sequential(*layers)


def discriminator_head(c_in: int, hidden: int, leak: float) -> list[nn.Module]:
    """(c_in, 4, 4) -> one logit: DCGAN's 4x4 convolution, or with ``hidden`` units a
    fully connected hidden layer, (c_in * 16) -> hidden -> 1."""
    if hidden == 0:
        return [nn.Conv2d(c_in, 1, 4, 1, 0, bias=False)]  # 4x4 -> 1x1
    return [nn.Flatten(), nn.Linear(c_in * 16, hidden),
            nn.LeakyReLU(leak, inplace=True), nn.Linear(hidden, 1)]


class Generator(nn.Module):
    """Maps latents ``z`` of shape ``(B, latent_dim)`` or ``(B, latent_dim, 1, 1)`` to
    images of shape ``(B, channels, image_size, image_size)`` in [-1, 1].

    ``leak``: the slope of the hidden activations (0, DCGAN's: ReLU); ``output="linear"``
    drops the final tanh, so the images are unbounded; ``init="default"`` keeps PyTorch's
    initialisation instead of DCGAN's N(0, 0.02)."""

    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: str = "batch",
        leak: float = 0.0,
        output: str = "tanh",
        init: str = "dcgan",
    ):
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.image_size = _check_image_size(image_size)
        self.channels = positive_int("channels", channels)
        self.width = positive_int("width", width)
        self.norm = _check_norm(norm)
        self.leak = float(number_in("leak", leak, 0, 1, closed_right=False))
        self.output = one_of("output", output, OUTPUTS)
        self.init = one_of("init", init, INITS)
        self.main = generator_layers(latent_dim, image_size, channels, width, norm,
                                     self.leak, output)
        if init == "dcgan":
            self.apply(weights_init)

    def arch(self) -> dict:
        """The keyword arguments that rebuild this generator's architecture."""
        return {"latent_dim": self.latent_dim, "image_size": self.image_size,
                "channels": self.channels, "width": self.width, "norm": self.norm,
                "leak": self.leak, "output": self.output, "init": self.init}

    def _as_4d(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
        dtype = next(self.parameters()).dtype
        if z.dtype != dtype:  # float64 or integer latents: the network's own precision
            z = z.to(dtype)
        if z.dim() == 2 and z.shape[1] == self.latent_dim:
            return z[:, :, None, None]
        if z.dim() == 4 and tuple(z.shape[1:]) == (self.latent_dim, 1, 1):
            return z
        raise ValueError(
            f"z must have shape (B, {self.latent_dim}) or (B, {self.latent_dim}, 1, 1), "
            f"got {tuple(z.shape)}"
        )

    def pre_tanh(self, z: torch.Tensor) -> torch.Tensor:
        """The output layer's pre-activation a, so that ``forward(z) == tanh(a)`` (or, with
        ``output="linear"``, ``== a``)."""
        return self.main[:-1](self._as_4d(z))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(self._as_4d(z))


class Discriminator(nn.Module):
    """Maps images ``(B, channels, image_size, image_size)`` to one logit each, shape ``(B,)``.

    ``leak`` is the LeakyReLU slope (0 gives a plain ReLU). ``downsample="strided"`` halves
    the size with stride-2 convolutions as DCGAN does; ``"pool"`` uses a stride-1 3x3
    convolution followed by 2x2 average pooling, the design DCGAN replaced. ``hidden > 0``
    puts a fully connected hidden layer of that many units before the logit, the kind of
    layer DCGAN removed; ``init="default"`` keeps PyTorch's initialisation.
    """

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        norm: str = "batch",
        leak: float = 0.2,
        downsample: str = "strided",
        hidden: int = 0,
        init: str = "dcgan",
    ):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        self.channels = positive_int("channels", channels)
        self.width = positive_int("width", width)
        self.norm = _check_norm(norm)
        leak = number_in("leak", leak, 0, 1, closed_right=False)
        if downsample not in DOWNSAMPLING:
            raise ValueError(f"downsample must be 'strided' or 'pool', got {downsample!r}")
        self.leak = float(leak)
        self.downsample = downsample
        self.hidden = non_negative_int("hidden", hidden)
        self.init = one_of("init", init, INITS)

        halvings = int(math.log2(image_size)) - 2  # image_size -> 4x4
        layers: list[nn.Module] = []
        c_in, c = channels, width
        for i in range(halvings):
            layers.append(self._down(c_in, c))
            if i > 0:  # no normalisation on the layer that sees the image, as in the paper
                layers.append(norm_layer(norm, c))
            layers.append(nn.LeakyReLU(self.leak, inplace=True))
            c_in, c = c, c * 2
        layers += discriminator_head(c_in, self.hidden, self.leak)  # 4x4 -> one logit
        self.main = nn.Sequential(*layers)
        if init == "dcgan":
            self.apply(weights_init)

    def _down(self, c_in: int, c_out: int) -> nn.Module:
        if self.downsample == "strided":
            return nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.AvgPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        expected = (self.channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"x must have shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.main(x).flatten()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
