"""Closed forms derived in the chapters, as plain functions.

Each function is the formula a chapter states; the chapter computes the same quantity
another way (a real layer, a simulation, autograd) and shows the two side by side. A
measurement that both a chapter and the claims ledger make (``projective_field_widths``)
lives here too, so that the two make it the same way.
"""

from __future__ import annotations

import math


def _int_at_least(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def conv_output_size(size: int, kernel: int, stride: int, padding: int = 0,
                     dilation: int = 1) -> int:
    """Spatial size after a convolution: floor((N + 2p - d(k - 1) - 1) / s) + 1.

    With dilation 1 this is the chapter's N_out = floor((N_in + 2p - k) / s) + 1.
    """
    _int_at_least("size", size, 1)
    _int_at_least("kernel", kernel, 1)
    _int_at_least("stride", stride, 1)
    _int_at_least("padding", padding, 0)
    _int_at_least("dilation", dilation, 1)
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(
            f"a kernel spanning {dilation * (kernel - 1) + 1} pixels does not fit in an input "
            f"of size {size} with padding {padding}"
        )
    return span // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Spatial size after a transposed convolution: s(N - 1) - 2p + d(k - 1) + op + 1.

    With dilation 1 and no output padding this is the chapter's H_out = s(H_in - 1) + k - 2p.
    """
    _int_at_least("size", size, 1)
    _int_at_least("kernel", kernel, 1)
    _int_at_least("stride", stride, 1)
    _int_at_least("padding", padding, 0)
    _int_at_least("output_padding", output_padding, 0)
    _int_at_least("dilation", dilation, 1)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation "
            f"(here {max(stride, dilation)}), got {output_padding}"
        )
    out = stride * (size - 1) - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(
            f"padding {padding} removes the whole output: s(N - 1) + d(k - 1) + op + 1 = "
            f"{out + 2 * padding} is not larger than 2p = {2 * padding}"
        )
    return out


def projective_field_counts(kernel: int, stride: int, padding: int, size: int) -> list[int]:
    """For a 1-D transposed convolution, how many input positions reach each output position.

    Input position i writes to outputs i*s - p, ..., i*s - p + k - 1, so output o receives
    one contribution from every i with 0 <= o + p - i*s < k. Away from the borders that is
    ceil(k/s) or floor(k/s); the two are equal, and the overlap is even, exactly when s
    divides k. In two dimensions the count at (y, x) is the product of the 1-D counts.
    """
    _int_at_least("kernel", kernel, 1)
    _int_at_least("stride", stride, 1)
    _int_at_least("padding", padding, 0)
    _int_at_least("size", size, 1)
    n_out = conv_transpose_output_size(size, kernel, stride, padding)
    counts = []
    for o in range(n_out):
        counts.append(sum(1 for i in range(size) if 0 <= o + padding - i * stride < kernel))
    return counts


def interior_overlap(kernel: int, stride: int) -> tuple[int, int]:
    """The smallest and largest number of inputs reaching an interior output pixel (1-D):
    (floor(k/s), ceil(k/s))."""
    _int_at_least("kernel", kernel, 1)
    _int_at_least("stride", stride, 1)
    return kernel // stride, math.ceil(kernel / stride)


def projective_field_widths(depth: int, kernel: int = 4, stride: int = 2,
                            padding: int = 1) -> list[int]:
    """Measured, not derived: the width of the region one pixel reaches,
    after 1..depth layers ConvTranspose2d(kernel, stride, padding).

    A single 1 in a 4x4 map goes through ``depth`` layers with all-ones
    kernels. All weights are positive, so an output pixel is non-zero
    exactly when the one input pixel reaches it: after each layer, the
    span of non-zero rows is that pixel's projective field. The closed
    form is w -> s(w - 1) + k from w = 1: with the defaults 4, 10, 22, 46.
    """
    import torch
    import torch.nn.functional as F

    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    x[0, 0, 1, 1] = 1.0
    ones = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
    widths = []
    for _ in range(depth):
        x = F.conv_transpose2d(x, ones, stride=stride, padding=padding)
        rows = (x[0, 0] > 0).any(dim=1).nonzero()
        widths.append(int(rows.max() - rows.min() + 1))
    return widths


def _number_in(name: str, value, low: float, high: float) -> float:
    """A finite number in [low, high] (``high`` may be inf: any finite number above ``low``)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not low <= value <= high):
        what = f"a finite number >= {low}" if math.isinf(high) else f"a number in [{low}, {high}]"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def _probability_array(name: str, value):
    import numpy as np

    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    return arr


def leaky_relu_expected_grad(alpha: float) -> float:
    """E[f'(a)] for LeakyReLU with slope ``alpha`` and a zero-mean symmetric pre-activation a:
    P(a > 0) * 1 + P(a < 0) * alpha = 0.5 (1 + alpha). ``alpha = 0`` is ReLU (0.5)."""
    alpha = _number_in("alpha", alpha, 0.0, 1.0)
    return 0.5 * (1.0 + alpha)


def unbiased_variance_relative_mse(batch_size: int) -> float:
    """E[(S^2 - sigma^2)^2] / sigma^4 = 2 / (B - 1) for the unbiased variance S^2 (divide by
    B - 1) of B Gaussian samples: (B - 1) S^2 / sigma^2 is chi^2 with B - 1 degrees of freedom,
    whose variance is 2 (B - 1). Not the estimator BatchNorm normalises with."""
    _int_at_least("batch_size", batch_size, 2)
    return 2.0 / (batch_size - 1)


def biased_variance_relative_mse(batch_size: int) -> float:
    """E[(V - sigma^2)^2] / sigma^4 = (2B - 1) / B^2 for the biased variance V = (B - 1) S^2 / B
    (divide by B) of B Gaussian samples, the one BatchNorm normalises with in training mode:
    variance 2 (B - 1) / B^2 plus squared bias 1 / B^2. Below 2 / (B - 1) for every B
    (0.75 against 2 at B = 2)."""
    _int_at_least("batch_size", batch_size, 2)
    return (2.0 * batch_size - 1.0) / batch_size**2


def linear_gan_eigenvalues(lambda_g: float, lambda_d: float) -> tuple[complex, complex]:
    """Eigenvalues of J = [[-lg, -1], [1, -ld]], the Jacobian of the linearised flow
    dtheta/dt = -phi - lg theta, dphi/dt = theta - ld phi:
    -(lg + ld)/2 +- sqrt((lg - ld)^2/4 - 1). Returned with the larger imaginary part first."""
    lg = _number_in("lambda_g", lambda_g, 0.0, float("inf"))
    ld = _number_in("lambda_d", lambda_d, 0.0, float("inf"))
    centre = -(lg + ld) / 2
    disc = (lg - ld) ** 2 / 4 - 1
    if disc < 0:
        root = complex(0.0, math.sqrt(-disc))
    else:
        root = complex(math.sqrt(disc), 0.0)
    return centre + root, centre - root


def linear_gan_frequency(lambda_g: float, lambda_d: float) -> float:
    """Angular frequency of the linear GAN's spiral, sqrt(4 - (lg - ld)^2) / 2, and 0.0 where
    |lg - ld| >= 2 (the eigenvalues are real: no oscillation)."""
    lg = _number_in("lambda_g", lambda_g, 0.0, float("inf"))
    ld = _number_in("lambda_d", lambda_d, 0.0, float("inf"))
    gap = (lg - ld) ** 2
    return math.sqrt(4.0 - gap) / 2 if gap < 4.0 else 0.0


GENERATOR_LOSSES = ("minimax", "non_saturating")


def generator_logit_grad(d, loss: str):
    """d(generator loss)/d(logit) where D = sigmoid(logit) is the discriminator's output on a
    fake sample: -D for ``"minimax"`` (minimise log(1 - D)) and -(1 - D) for
    ``"non_saturating"`` (minimise -log D). ``d`` is a number or an array in [0, 1]."""
    import numpy as np

    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"loss must be 'minimax' or 'non_saturating', got {loss!r}")
    arr = _probability_array("d", d)
    if arr.size and (np.isnan(arr).any() or arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"d must lie in [0, 1] (a probability), got {d!r}")
    out = -arr if loss == "minimax" else -(1.0 - arr)
    return float(out) if out.ndim == 0 else out


def optimal_discriminator(p_data, p_model, real_label: float = 1.0, fake_label: float = 0.0):
    """The D in [0, 1] minimising, at each x, the binary cross-entropy with targets
    ``real_label`` on data and ``fake_label`` on samples:
    D*(x) = (p_data y_r + p_model y_f) / (p_data + p_model).
    With hard labels this is p_data / (p_data + p_model); smoothing the real label to
    1 - alpha caps it at 1 - alpha."""
    import numpy as np

    y_r = _number_in("real_label", real_label, 0.0, 1.0)
    y_f = _number_in("fake_label", fake_label, 0.0, 1.0)
    pd, pm = _probability_array("p_data", p_data), _probability_array("p_model", p_model)
    for name, arr in (("p_data", pd), ("p_model", pm)):
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise ValueError(f"{name} must hold finite non-negative densities, got {arr!r}")
    total = pd + pm
    if (total == 0).any():
        raise ValueError("p_data + p_model is 0 at some x: the optimal D is undefined there")
    out = (pd * y_r + pm * y_f) / total
    return float(out) if out.ndim == 0 else out


LATENT_DISTRIBUTIONS = ("gaussian", "uniform")


def latent_variance(dist: str) -> float:
    """Per-coordinate variance of the latent prior: 1 for N(0, 1), 1/3 for U(-1, 1)."""
    if dist not in LATENT_DISTRIBUTIONS:
        raise ValueError(f"dist must be 'gaussian' or 'uniform', got {dist!r}")
    return 1.0 if dist == "gaussian" else 1.0 / 3.0
