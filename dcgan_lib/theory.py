"""Closed forms derived in the chapters, as plain functions.

Each function is the formula a chapter states; the chapter computes the same quantity
another way (a real layer, a simulation, autograd) and shows the two side by side.
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
