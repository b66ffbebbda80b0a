"""The size formulas in dcgan_lib.theory against real torch.nn layers."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from dcgan_lib.theory import (
    conv_output_size,
    conv_transpose_output_size,
    interior_overlap,
    projective_field_counts,
    projective_field_widths,
)

CASES = 1500  # each property runs on this many random parameter combinations


@settings(max_examples=CASES, deadline=None, derandomize=True)
@given(size=st.integers(1, 24), kernel=st.integers(1, 7), stride=st.integers(1, 4),
       padding=st.integers(0, 3), dilation=st.integers(1, 3))
def test_conv_output_size_matches_nn_conv2d(size, kernel, stride, padding, dilation):
    fits = size + 2 * padding >= dilation * (kernel - 1) + 1
    layer = nn.Conv2d(1, 1, kernel, stride, padding, dilation)
    if not fits:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size(size, kernel, stride, padding, dilation)
        return
    with torch.no_grad():
        out = layer(torch.zeros(1, 1, size, size))
    assert out.shape[-1] == conv_output_size(size, kernel, stride, padding, dilation)


@settings(max_examples=CASES, deadline=None, derandomize=True)
@given(size=st.integers(1, 16), kernel=st.integers(1, 7), stride=st.integers(1, 4),
       padding=st.integers(0, 3), output_padding=st.integers(0, 3), dilation=st.integers(1, 3))
def test_conv_transpose_output_size_matches_nn_conv_transpose2d(
        size, kernel, stride, padding, output_padding, dilation):
    expected = (stride * (size - 1) - 2 * padding + dilation * (kernel - 1)
                + output_padding + 1)
    if output_padding >= max(stride, dilation) or expected < 1:
        with pytest.raises(ValueError):
            conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
        return
    layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding,
                               dilation=dilation)
    with torch.no_grad():
        out = layer(torch.zeros(1, 1, size, size))
    assert out.shape[-1] == conv_transpose_output_size(
        size, kernel, stride, padding, output_padding, dilation)


def test_transposed_conv_k4_s2_p1_doubles_spatial_size():
    assert [conv_transpose_output_size(h, 4, 2, 1) for h in (4, 8, 16, 32)] == [8, 16, 32, 64]


def test_seed_discriminator_chain_96_32_16_8_3():
    sizes = [96]
    for k, s, p in [(3, 3, 0), (4, 2, 1), (4, 2, 1), (4, 2, 0)]:
        sizes.append(conv_output_size(sizes[-1], k, s, p))
    assert sizes == [96, 32, 16, 8, 3]


@pytest.mark.parametrize("kernel,stride", [(4, 2), (3, 2), (2, 2), (5, 2), (3, 1), (6, 3)])
def test_projective_field_counts_match_a_transposed_convolution_of_ones(kernel, stride):
    size = 9
    layer = nn.ConvTranspose1d(1, 1, kernel, stride, bias=False)
    nn.init.ones_(layer.weight)
    with torch.no_grad():
        measured = layer(torch.ones(1, 1, size))[0, 0].round().int().tolist()
    assert measured == projective_field_counts(kernel, stride, 0, size)


@pytest.mark.parametrize("kernel,stride,expected", [(4, 2, (2, 2)), (3, 2, (1, 2)),
                                                     (2, 2, (1, 1)), (5, 3, (1, 2))])
def test_interior_overlap_is_even_exactly_when_stride_divides_kernel(kernel, stride, expected):
    assert interior_overlap(kernel, stride) == expected
    counts = projective_field_counts(kernel, stride, 0, 12)
    interior = counts[kernel:-kernel]
    assert (min(interior), max(interior)) == expected


@pytest.mark.parametrize("call,match", [
    (lambda: conv_output_size(0, 3, 1), "size must be an integer >= 1, got 0"),
    (lambda: conv_output_size(8, 3, 0), "stride must be an integer >= 1, got 0"),
    (lambda: conv_output_size(8, 3, 1, -1), "padding must be an integer >= 0, got -1"),
    (lambda: conv_output_size(8.0, 3, 1), "size must be an integer >= 1, got 8.0"),
    (lambda: conv_output_size(2, 5, 1), "does not fit"),
    (lambda: conv_transpose_output_size(4, 4, 2, 1, output_padding=2), "output_padding"),
    (lambda: conv_transpose_output_size(1, 1, 1, 2), "removes the whole output"),
])
def test_size_formulas_reject_bad_input_with_the_value_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(4, 2, 1), (3, 2, 1)])
def test_projective_field_widths_follow_w_to_s_w_minus_1_plus_k(kernel, stride, padding):
    widths = projective_field_widths(4, kernel, stride, padding)
    expected, w = [], 1
    for _ in range(4):
        w = stride * (w - 1) + kernel
        expected.append(w)
    assert widths == expected
