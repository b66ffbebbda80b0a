"""The latent space: sampling, linear and spherical interpolation, and arithmetic.

Shapes used throughout: a latent is ``(D,)`` (one vector) or ``(B, D)`` (a batch), with
``D = latent_dim``. An interpolation parameter ``t`` is a number in [0, 1] or a 1-D
tensor of ``T`` such numbers; a 1-D ``t`` adds a leading axis of length ``T``:

    z0, z1 (D,)     t number -> (D,)       t (T,) -> (T, D)
    z0, z1 (B, D)   t number -> (B, D)     t (T,) -> (T, B, D)

Spherical interpolation here walks the great circle between the two directions and
interpolates the norm linearly, a variant of the slerp White (2016) proposed for latents
(his is the plain great-circle formula below, applied to the vectors as they are):

    slerp(z0, z1, t) = ((1 - t)|z0| + t|z1|) * (sin((1 - t)W) u0 + sin(tW) u1) / sin W,

with u = z/|z| and W the angle between z0 and z1. For endpoints of equal norm this is
exactly the textbook formula sin((1 - t)W)/sin W z0 + sin(tW)/sin W z1; for unequal
norms the textbook formula's norm sags between the endpoints, while this one's norm is a
straight line from |z0| to |z1|.
"""

from __future__ import annotations

import math
import numbers

import torch

DISTRIBUTIONS = ("gaussian", "uniform")
PARALLEL_ANGLE = 1e-4  # radians: below this, slerp and lerp differ by < 1e-8 relative


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def sample(n: int, latent_dim: int = 100, dist: str = "gaussian",
           seed: int | None = None) -> torch.Tensor:
    """``n`` latents, shape ``(n, latent_dim)``, float32 on the CPU.

    ``dist="gaussian"``: every coordinate N(0, 1) (variance 1). ``dist="uniform"``: every
    coordinate U(-1, 1) (variance 1/3). With a ``seed`` the draw comes from a CPU
    ``torch.Generator`` seeded with it, so it is the same on every machine and does not
    touch the global random state; without one it uses the global generator.
    """
    n = _positive_int("n", n)
    latent_dim = _positive_int("latent_dim", latent_dim)
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"dist must be 'gaussian' or 'uniform', got {dist!r}")
    rng = None
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) \
                or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an integer in [0, 2**64 - 1] or None, "
                             f"got {seed!r}")
        rng = torch.Generator(device="cpu").manual_seed(int(seed))
    return noise(n, latent_dim, dist, generator=rng)


def noise(n: int, latent_dim: int, dist: str = "gaussian", device="cpu",
          generator: torch.Generator | None = None) -> torch.Tensor:
    """``(n, latent_dim)`` float32 latents, N(0, 1) or U(-1, 1), on ``device``.

    Drawn from ``generator`` (a ``torch.Generator`` on that device) or else from the
    device's global one: the unchecked core of :func:`sample`, for loops that draw every
    step."""
    if dist == "gaussian":
        return torch.randn(n, latent_dim, device=device, generator=generator)
    return 2 * torch.rand(n, latent_dim, device=device, generator=generator) - 1


def _check_pair(z0, z1) -> None:
    for name, z in (("z0", z0), ("z1", z1)):
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
        if z.dim() not in (1, 2) or z.shape[-1] == 0:
            raise ValueError(f"{name} must have shape (D,) or (B, D), got {tuple(z.shape)}")
        if not z.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {z.dtype}")
        if not torch.isfinite(z).all():
            raise ValueError(f"{name} holds NaN or infinite values")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {tuple(z0.shape)} "
                         f"and {tuple(z1.shape)}")


def _as_t(t, like: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``t`` as a float64 tensor shaped to broadcast against ``like``; True if it was 1-D."""
    if isinstance(t, bool):
        raise TypeError("t must be a number or a 1-D sequence of numbers in [0, 1], got a bool")
    if isinstance(t, numbers.Real):
        values, batched = torch.tensor([float(t)], dtype=torch.float64), False
    else:
        try:
            values = torch.as_tensor(t, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"t must be a number or a 1-D sequence of numbers in [0, 1], "
                            f"got {type(t).__name__}") from None
        if values.dim() == 0:
            values, batched = values.reshape(1), False
        elif values.dim() == 1 and len(values) > 0:
            batched = True
        else:
            raise ValueError(f"t must be a number or a non-empty 1-D sequence, "
                             f"got shape {tuple(values.shape)}")
    if torch.isnan(values).any() or values.min() < 0 or values.max() > 1:
        bad = values[torch.isnan(values) | (values < 0) | (values > 1)][0].item()
        raise ValueError(f"t must lie in [0, 1] (0 gives z0, 1 gives z1), got {bad}")
    values = values.to(like.device).reshape(-1, *([1] * like.dim()))  # (T, 1, ...)
    return values, batched


def _finish(path: torch.Tensor, z0, z1, t: torch.Tensor, batched: bool) -> torch.Tensor:
    # the endpoints are returned exactly, not up to rounding
    path = torch.where(t == 0, z0.double(), torch.where(t == 1, z1.double(), path))
    path = path.to(z0.dtype)
    return path if batched else path[0]


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1; shapes as in the module docstring."""
    _check_pair(z0, z1)
    tt, batched = _as_t(t, z0)
    a, b = z0.double(), z1.double()
    return _finish((1 - tt) * a + tt * b, z0, z1, tt, batched)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation with the norm interpolated linearly (module docstring).

    Where the angle between z0 and z1 is below ``PARALLEL_ANGLE`` radians, or an
    endpoint is the zero vector, the path is ``lerp``'s. Opposite directions (angle pi)
    have no unique great circle and raise ``ValueError``.
    """
    _check_pair(z0, z1)
    tt, batched = _as_t(t, z0)
    a, b = z0.double(), z1.double()
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-300)  # 0 for a zero z
    if (cos < math.cos(math.pi - PARALLEL_ANGLE)).any():
        raise ValueError("z0 and z1 point in opposite directions: the great circle between "
                         "them is not unique, so slerp is undefined (use lerp)")
    return _finish(spherical_path(a, b, tt), z0, z1, tt, batched)


def spherical_path(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``slerp``'s path from a to b, both ``(..., D)``, at t (shaped to broadcast)."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    zero_end = (na == 0) | (nb == 0)  # a zero endpoint has no direction
    ua = a / torch.where(zero_end, 1.0, na)  # unit vectors u0, u1
    ub = b / torch.where(zero_end, 1.0, nb)
    omega = torch.arccos((ua * ub).sum(dim=-1, keepdim=True).clamp(-1, 1))
    straight = zero_end | (omega < PARALLEL_ANGLE)  # the arc is then a line
    sin_omega = torch.where(straight, 1.0, torch.sin(omega))
    arc = torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub
    arc = ((1 - t) * na + t * nb) * arc / sin_omega  # norm: linear from |a| to |b|
    return torch.where(straight, (1 - t) * a + t * b, arc)


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Vector arithmetic "a - b + c" on concept means, as in the DCGAN paper.

    Each of ``a``, ``b``, ``c`` holds the exemplar latents of one concept, shape ``(k, D)``
    (``k`` may differ between them) or a single ``(D,)`` latent. Each is averaged over
    its exemplars, and the result ``mean(a) - mean(b) + mean(c)`` has shape ``(D,)``.
    """
    dims = []
    for name, z in (("a", a), ("b", b), ("c", c)):
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
        if z.dim() not in (1, 2) or z.numel() == 0:
            raise ValueError(f"{name} must have shape (k, D) with k >= 1 or (D,), "
                             f"got {tuple(z.shape)}")
        if not z.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {z.dtype}")
        if not torch.isfinite(z).all():
            raise ValueError(f"{name} holds NaN or infinite values")
        dims.append(z.shape[-1])
    if len(set(dims)) != 1:
        raise ValueError(f"a, b and c must share latent_dim, got {dims[0]}, {dims[1]}, {dims[2]}")
    return concept_arithmetic(a, b, c)


def concept_arithmetic(a: torch.Tensor, b: torch.Tensor,
                       c: torch.Tensor) -> torch.Tensor:
    """``arithmetic``'s sum of concept means: mean(a) - mean(b) + mean(c), ``(D,)``."""

    def mean(z):  # (k, D) exemplars -> (D,); one (D,) latent is its own mean
        return z if z.dim() == 1 else z.mean(dim=0)

    return mean(a) - mean(b) + mean(c)
