"""The GAN losses equal their formulas, have the gradients the book derives, and stay finite."""

import math
import re

import pytest
import torch

from dcgan_lib.book import listing
from dcgan_lib.losses import (
    bce,
    bce_with_target,
    discriminator_bce,
    discriminator_loss,
    generator_bce,
    generator_loss,
)
from dcgan_lib.theory import generator_logit_grad

B = 64


def _logits(seed=0, scale=3.0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(B, generator=gen, dtype=dtype)).requires_grad_()


def _per_logit_grad(loss, logits):
    # the losses are batch means, so each logit receives 1/B of its own gradient
    (grad,) = torch.autograd.grad(loss, logits)
    return grad * len(logits)


# Values: the losses against hand-written torch.log(torch.sigmoid(...)) in float64, where the
# two differ only by rounding (1e-12 is ~1e4 ulps of losses of order 1).

def test_discriminator_loss_is_minus_log_d_real_plus_minus_log_one_minus_d_fake():
    real, fake = _logits(0), _logits(1)
    err_real, err_fake = discriminator_loss(real, fake)
    torch.testing.assert_close(err_real, -torch.log(torch.sigmoid(real)).mean(),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(err_fake, -torch.log(1 - torch.sigmoid(fake)).mean(),
                               rtol=0, atol=1e-12)


def test_minimax_generator_loss_is_mean_log_one_minus_d():
    fake = _logits(2)
    torch.testing.assert_close(generator_loss(fake, "minimax"),
                               torch.log(1 - torch.sigmoid(fake)).mean(), rtol=0, atol=1e-12)


def test_non_saturating_generator_loss_is_minus_mean_log_d():
    fake = _logits(3)
    torch.testing.assert_close(generator_loss(fake, "non_saturating"),
                               -torch.log(torch.sigmoid(fake)).mean(), rtol=0, atol=1e-12)


def test_generator_loss_defaults_to_non_saturating():
    fake = _logits(4)
    assert torch.equal(generator_loss(fake), generator_loss(fake, "non_saturating"))


def test_smoothed_labels_give_cross_entropy_against_the_soft_targets():
    real, fake = _logits(5), _logits(6)
    err_real, err_fake = discriminator_loss(real, fake, real_label=0.9, fake_label=0.1)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_real = -(0.9 * torch.log(d_real) + 0.1 * torch.log(1 - d_real)).mean()
    expected_fake = -(0.1 * torch.log(d_fake) + 0.9 * torch.log(1 - d_fake)).mean()
    torch.testing.assert_close(err_real, expected_real, rtol=0, atol=1e-12)
    torch.testing.assert_close(err_fake, expected_fake, rtol=0, atol=1e-12)


def test_temperature_divides_the_logit_before_the_sigmoid():
    logits = _logits(7)
    d = torch.sigmoid(logits / 2.5)
    expected = -(0.9 * torch.log(d) + 0.1 * torch.log(1 - d)).mean()
    torch.testing.assert_close(bce_with_target(logits, 0.9, temperature=2.5), expected,
                               rtol=0, atol=1e-12)


# Gradients with respect to the discriminator's logit (autograd against the closed forms).

def test_minimax_generator_gradient_per_logit_is_minus_d():
    fake = _logits(8)
    grad = _per_logit_grad(generator_loss(fake, "minimax"), fake)
    d = torch.sigmoid(fake).detach().numpy()
    torch.testing.assert_close(grad, torch.from_numpy(generator_logit_grad(d, "minimax")),
                               rtol=0, atol=1e-12)


def test_non_saturating_generator_gradient_per_logit_is_minus_one_minus_d():
    fake = _logits(9)
    grad = _per_logit_grad(generator_loss(fake, "non_saturating"), fake)
    d = torch.sigmoid(fake).detach().numpy()
    torch.testing.assert_close(grad, torch.from_numpy(generator_logit_grad(d, "non_saturating")),
                               rtol=0, atol=1e-12)


def test_minimax_gradient_vanishes_where_the_discriminator_rejects_the_fake():
    fake = torch.full((B,), -20.0, dtype=torch.float64, requires_grad=True)  # D = 2e-9
    minimax = _per_logit_grad(generator_loss(fake, "minimax"), fake)
    non_saturating = _per_logit_grad(generator_loss(fake, "non_saturating"), fake)
    assert minimax.abs().max() < 1e-8
    torch.testing.assert_close(non_saturating, torch.full_like(fake, -1.0), rtol=0, atol=1e-8)


@pytest.mark.parametrize("label", [1.0, 0.9, 0.7])
def test_discriminator_gradient_per_logit_is_d_minus_target(label):
    real = _logits(10)
    err_real, _ = discriminator_loss(real, _logits(11), real_label=label)
    grad = _per_logit_grad(err_real, real)
    torch.testing.assert_close(grad, torch.sigmoid(real).detach() - label, rtol=0, atol=1e-12)


def test_smoothed_real_label_keeps_gradient_one_minus_label_when_d_saturates():
    real = torch.full((B,), 40.0, dtype=torch.float64, requires_grad=True)  # 1 - D = 4e-18
    hard = _per_logit_grad(bce_with_target(real, 1.0), real)
    smooth = _per_logit_grad(bce_with_target(real, 0.9), real)
    assert hard.abs().max() < 1e-16
    torch.testing.assert_close(smooth, torch.full_like(real, 0.1), rtol=0, atol=1e-12)


def test_loss_is_minimised_where_d_equals_the_smoothed_label():
    logit = torch.tensor([math.log(0.9 / 0.1)], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(bce_with_target(logit, 0.9), logit)
    assert abs(grad.item()) < 1e-15


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_temperature_gradient_is_d_minus_target_over_t(temperature):
    logits = _logits(12)
    grad = _per_logit_grad(bce_with_target(logits, 0.9, temperature), logits)
    d = torch.sigmoid(logits / temperature).detach()
    torch.testing.assert_close(grad, (d - 0.9) / temperature, rtol=0, atol=1e-12)


# Stability: logits far beyond where sigmoid rounds to 0 or 1 in float32.

@pytest.mark.parametrize("value", [100.0, -100.0, 1e4, -1e4])
def test_losses_and_gradients_are_finite_at_extreme_logits(value):
    logits = torch.full((B,), value, requires_grad=True)  # float32, as in training
    losses = [*discriminator_loss(logits, logits, real_label=0.9),
              generator_loss(logits, "minimax"), generator_loss(logits, "non_saturating")]
    for loss in losses:
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_non_saturating_loss_at_logit_minus_100_is_100():
    # -log sigmoid(-100) = log(1 + e^100) = 100 + log(1 + e^-100), exactly 100 in float32;
    # torch.log(torch.sigmoid(-150.)) would be -inf here
    fake = torch.full((B,), -100.0)
    assert generator_loss(fake, "non_saturating").item() == pytest.approx(100.0, abs=1e-4)


def test_minimax_loss_at_logit_plus_100_is_minus_100():
    fake = torch.full((B,), 100.0)
    assert generator_loss(fake, "minimax").item() == pytest.approx(-100.0, abs=1e-4)


# Bad input: a clear error that names the value.

def test_non_tensor_logits_raise_type_error_naming_the_type():
    with pytest.raises(TypeError, match="fake_logits must be a torch.Tensor of logits, got list"):
        generator_loss([0.1, 0.2])


@pytest.mark.parametrize("shape", [(B, 1), (), (2, 3, 4), (0,)])
def test_logits_of_wrong_shape_or_empty_raise_naming_the_shape(shape):
    with pytest.raises(ValueError, match=re.escape(f"must have shape (B,) with B >= 1, "
                                                   f"got {shape}")):
        discriminator_loss(torch.zeros(shape), torch.zeros(B))


@pytest.mark.parametrize("label", [1.5, -0.1, True, "0.9"])
def test_label_outside_zero_one_raises_naming_the_label(label):
    with pytest.raises(ValueError, match=re.escape(f"real_label must be a number in [0, 1], "
                                                   f"got {label!r}")):
        discriminator_loss(torch.zeros(B), torch.zeros(B), real_label=label)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf")])
def test_non_positive_or_infinite_temperature_raises_naming_the_value(temperature):
    with pytest.raises(ValueError, match=re.escape(f"temperature must be a positive finite number, "
                                                   f"got {temperature!r}")):
        generator_loss(torch.zeros(B), temperature=temperature)


def test_unknown_generator_loss_raises_naming_it():
    with pytest.raises(ValueError, match="got 'wasserstein'"):
        generator_loss(torch.zeros(B), kind="wasserstein")



@pytest.mark.parametrize("core", [bce, discriminator_bce, generator_bce])
def test_the_loss_functions_chapter_4_shows_fit_a_page_listing(core):
    # listing refuses a function that raises, is wider than 88 columns or longer than 60 lines
    assert listing(core).startswith("# dcgan_lib/losses.py\n")
