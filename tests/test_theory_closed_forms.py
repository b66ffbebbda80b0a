"""Each closed form in ``dcgan_lib.theory`` against an independent computation.

Monte-Carlo checks use a fixed seed and a tolerance of a few standard errors, where the
standard error is computed from the same samples: a correct formula fails such a check with
probability below 1e-4 for any seed, and a formula that is off by more than the tolerance
fails it for nearly every seed.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcgan_lib import theory

N_SE = 4  # a correct formula lies outside 4 standard errors with probability 6e-5


def mean_and_standard_error(samples: torch.Tensor) -> tuple[float, float]:
    samples = samples.double()
    return samples.mean().item(), (samples.std() / math.sqrt(samples.numel())).item()


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.2, 0.5, 1.0])
def test_leaky_relu_expected_grad_matches_autograd_on_gaussian_preactivations(alpha):
    # 200 000 samples: the derivative is 1 or alpha with probability 1/2 each, so its standard
    # deviation is (1 - alpha)/2 and the standard error at most 0.5/sqrt(2e5) = 1.1e-3.
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200_000, generator=g, dtype=torch.float64, requires_grad=True)
    F.leaky_relu(a, negative_slope=alpha).sum().backward()
    mean, se = mean_and_standard_error(a.grad)
    assert abs(mean - theory.leaky_relu_expected_grad(alpha)) <= N_SE * se + 1e-12


def test_leaky_relu_expected_grad_does_not_depend_on_the_preactivation_scale():
    # Only the sign of a matters, so sigma = 0.01 and sigma = 100 give the same 0.6.
    g = torch.Generator().manual_seed(1)
    for sigma in (0.01, 100.0):
        a = (sigma * torch.randn(200_000, generator=g, dtype=torch.float64)).requires_grad_()
        F.leaky_relu(a, 0.2).sum().backward()
        mean, se = mean_and_standard_error(a.grad)
        assert abs(mean - theory.leaky_relu_expected_grad(0.2)) <= N_SE * se


def test_leaky_relu_expected_grad_is_one_half_for_relu_and_six_tenths_at_alpha_0_2():
    assert theory.leaky_relu_expected_grad(0.0) == 0.5
    assert theory.leaky_relu_expected_grad(0.2) == pytest.approx(0.6, abs=1e-15)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "0.2", None, True])
def test_leaky_relu_expected_grad_rejects_a_slope_outside_0_1(alpha):
    with pytest.raises(ValueError, match="alpha must be a number in"):
        theory.leaky_relu_expected_grad(alpha)


# ---------------------------------------------------------------- normalization


def squared_relative_errors(batch_size: int, unbiased: bool) -> torch.Tensor:
    # 100 000 batches of B Gaussian activations with sigma = 3. The squared relative error
    # (V/sigma^2 - 1)^2 is heavy-tailed (its standard deviation is 7.5 at B = 2 for S^2), so
    # the standard error is computed from the samples: about 0.024 at B = 2, 0.4 % of the
    # value at B = 128.
    g = torch.Generator().manual_seed(batch_size)
    sigma = 3.0
    x = 1.5 + sigma * torch.randn(100_000, batch_size, generator=g, dtype=torch.float64)
    return (x.var(dim=1, unbiased=unbiased) / sigma**2 - 1.0) ** 2


@pytest.mark.parametrize("batch_size", [2, 3, 8, 32, 128])
def test_unbiased_variance_error_matches_2_over_b_minus_1(batch_size):
    mean, se = mean_and_standard_error(squared_relative_errors(batch_size, unbiased=True))
    assert abs(mean - theory.unbiased_variance_relative_mse(batch_size)) <= N_SE * se


@pytest.mark.parametrize("batch_size", [2, 3, 8, 32, 128])
def test_biased_variance_error_matches_2b_minus_1_over_b_squared(batch_size):
    mean, se = mean_and_standard_error(squared_relative_errors(batch_size, unbiased=False))
    assert abs(mean - theory.biased_variance_relative_mse(batch_size)) <= N_SE * se


@pytest.mark.parametrize("batch_size", [2, 3, 4, 8])
def test_biased_variance_error_is_not_2_over_b_minus_1(batch_size):
    # The same simulation rejects the unbiased estimator's formula, and the plausible 2/B,
    # for the biased estimator BatchNorm uses: the check above has the power to fail.
    mean, se = mean_and_standard_error(squared_relative_errors(batch_size, unbiased=False))
    assert abs(mean - 2 / (batch_size - 1)) > 10 * se
    assert abs(mean - 2 / batch_size) > N_SE * se


def test_biased_variance_error_is_0_75_at_b_2_and_below_the_unbiased_one_for_every_b():
    assert theory.biased_variance_relative_mse(2) == 0.75
    for b in range(2, 1000):
        assert theory.biased_variance_relative_mse(b) < theory.unbiased_variance_relative_mse(b)


@pytest.mark.parametrize("closed_form", [theory.unbiased_variance_relative_mse,
                                         theory.biased_variance_relative_mse])
@pytest.mark.parametrize("batch_size", [1, 0, 2.0, "8", True])
def test_variance_relative_mse_rejects_batches_smaller_than_two(closed_form, batch_size):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        closed_form(batch_size)


# ---------------------------------------------------------------- training dynamics


def jacobian(lambda_g, lambda_d):
    return np.array([[-lambda_g, -1.0], [1.0, -lambda_d]])


LAMBDA_PAIRS = [(0.0, 0.0), (0.1, 0.3), (1.0, 0.0), (0.5, 2.0), (3.0, 0.0), (0.0, 5.0), (2.0, 0.0)]


@pytest.mark.parametrize("lambda_g, lambda_d", LAMBDA_PAIRS)
def test_linear_gan_eigenvalues_match_numpy_eigvals_of_the_jacobian(lambda_g, lambda_d):
    expected = np.linalg.eigvals(jacobian(lambda_g, lambda_d))
    got = np.array(theory.linear_gan_eigenvalues(lambda_g, lambda_d))
    key = lambda v: (round(v.imag, 9), round(v.real, 9))  # noqa: E731
    np.testing.assert_allclose(sorted(got, key=key), sorted(expected, key=key), atol=1e-7)


def test_linear_gan_eigenvalues_put_the_larger_imaginary_part_first():
    first, second = theory.linear_gan_eigenvalues(0.1, 0.3)
    assert first.imag > 0 > second.imag
    assert first == second.conjugate()


@pytest.mark.parametrize("lambda_g, lambda_d", LAMBDA_PAIRS)
def test_linear_gan_frequency_is_the_imaginary_part_of_the_eigenvalues(lambda_g, lambda_d):
    expected = np.abs(np.linalg.eigvals(jacobian(lambda_g, lambda_d)).imag).max()
    assert theory.linear_gan_frequency(lambda_g, lambda_d) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("lambda_g, lambda_d", [(0.0, 0.0), (0.2, 0.1), (0.5, 1.5)])
def test_linear_gan_frequency_matches_the_simulated_spiral(lambda_g, lambda_d):
    # Integrate the flow exactly (matrix exponential) on a fine grid and count the sign
    # changes of theta(t): k crossings in time T give omega = pi k / T to within pi / T.
    # The decay factor exp(-(lg + ld) t / 2) is removed first so the crossings stay visible.
    J = torch.tensor(jacobian(lambda_g, lambda_d))
    T, steps = 60.0, 60_000
    t = torch.linspace(0.0, T, steps, dtype=torch.float64)
    state = torch.linalg.matrix_exp(t[:, None, None] * J) @ torch.tensor([1.0, 0.0]).double()
    theta = state[:, 0] * torch.exp((lambda_g + lambda_d) / 2 * t)
    crossings = int((torch.sign(theta[1:]) != torch.sign(theta[:-1])).sum())
    measured = math.pi * crossings / T
    assert abs(measured - theory.linear_gan_frequency(lambda_g, lambda_d)) <= math.pi / T


def test_linear_gan_frequency_is_zero_where_the_eigenvalues_are_real():
    for lambda_g, lambda_d in [(2.0, 0.0), (3.0, 0.5), (0.0, 4.0)]:
        assert np.isreal(np.linalg.eigvals(jacobian(lambda_g, lambda_d))).all()
        assert theory.linear_gan_frequency(lambda_g, lambda_d) == 0.0


@pytest.mark.parametrize("fn", [theory.linear_gan_eigenvalues, theory.linear_gan_frequency])
@pytest.mark.parametrize("bad", [-0.1, float("nan"), "1", None, True])
def test_linear_gan_rejects_a_negative_or_non_numeric_lambda(fn, bad):
    with pytest.raises(ValueError, match="lambda_g must be a finite number >= 0"):
        fn(bad, 0.0)
    with pytest.raises(ValueError, match="lambda_d must be a finite number >= 0"):
        fn(0.0, bad)


def test_linear_gan_eigenvalues_reject_an_infinite_lambda():
    with pytest.raises(ValueError, match="lambda_g must be a finite number >= 0.0, got inf"):
        theory.linear_gan_eigenvalues(float("inf"), 0.0)


def test_optimal_discriminator_rejects_an_infinite_density():
    with pytest.raises(ValueError, match="p_data must hold finite non-negative densities"):
        theory.optimal_discriminator(float("inf"), 1.0)


def test_a_string_probability_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match="d must be a number or an array of numbers, got 'x'"):
        theory.generator_logit_grad("x", "minimax")


# ---------------------------------------------------------------- losses


LOGITS = torch.linspace(-12.0, 12.0, 97, dtype=torch.float64)


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_generator_logit_grad_matches_autograd(loss):
    logits = LOGITS.clone().requires_grad_()
    d = torch.sigmoid(logits)
    # minimax: minimise log(1 - D) = -softplus(l); non-saturating: minimise -log D = softplus(-l)
    g_loss = -F.softplus(logits) if loss == "minimax" else F.softplus(-logits)
    g_loss.sum().backward()
    closed = theory.generator_logit_grad(d.detach().numpy(), loss)
    np.testing.assert_allclose(closed, logits.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_generator_logit_grad_minimax_vanishes_where_non_saturating_stays_near_one():
    d = 1e-6  # a fake the discriminator rejects with confidence
    assert theory.generator_logit_grad(d, "minimax") == pytest.approx(-1e-6)
    assert theory.generator_logit_grad(d, "non_saturating") == pytest.approx(-1.0, abs=1e-5)


def test_generator_logit_grad_returns_a_float_for_a_number_and_an_array_for_an_array():
    assert isinstance(theory.generator_logit_grad(0.5, "minimax"), float)
    assert theory.generator_logit_grad([0.1, 0.9], "minimax").shape == (2,)


@pytest.mark.parametrize("d", [1.2, -0.1, float("nan"), [0.5, 1.5]])
def test_generator_logit_grad_rejects_d_outside_0_1(d):
    with pytest.raises(ValueError, match=r"d must lie in \[0, 1\]"):
        theory.generator_logit_grad(d, "minimax")


def test_generator_logit_grad_rejects_an_unknown_loss():
    with pytest.raises(ValueError, match="loss must be 'minimax' or 'non_saturating'"):
        theory.generator_logit_grad(0.5, "wasserstein")


def pointwise_bce_minimiser(p_data, p_model, y_r, y_f, iters=100):
    """argmin over D in (0, 1) of p_data BCE(D, y_r) + p_model BCE(D, y_f), found numerically:
    the loss is convex in D, so its autograd derivative is increasing and bisection on its
    sign halves the bracket 100 times, to the resolution of float64."""
    def slope(d):
        d = torch.tensor(d, dtype=torch.float64, requires_grad=True)
        bce = lambda y: -(y * torch.log(d) + (1 - y) * torch.log(1 - d))  # noqa: E731
        (p_data * bce(y_r) + p_model * bce(y_f)).backward()
        return d.grad.item()

    lo, hi = 1e-15, 1 - 1e-15
    for _ in range(iters):
        mid = (lo + hi) / 2
        if slope(mid) > 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


@pytest.mark.parametrize("p_data, p_model", [(1.0, 1.0), (0.3, 0.7), (2.0, 0.1), (0.05, 4.0)])
@pytest.mark.parametrize("y_r, y_f", [(1.0, 0.0), (0.9, 0.0), (0.9, 0.1), (0.8, 0.2)])
def test_optimal_discriminator_minimises_the_pointwise_bce(p_data, p_model, y_r, y_f):
    expected = pointwise_bce_minimiser(p_data, p_model, y_r, y_f)
    got = theory.optimal_discriminator(p_data, p_model, y_r, y_f)
    assert got == pytest.approx(expected, abs=1e-12)


def test_smoothed_optimal_discriminator_is_capped_at_one_minus_alpha():
    # Where the model puts (almost) no mass, D* -> y_r = 1 - alpha, never 1.
    p_model = np.array([1.0, 1e-3, 1e-9, 0.0])
    d_star = theory.optimal_discriminator(1.0, p_model, real_label=0.9)
    assert (d_star <= 0.9).all()
    assert d_star[-1] == pytest.approx(0.9)


def test_optimal_discriminator_with_hard_labels_is_p_data_over_the_sum():
    p_data, p_model = np.array([0.2, 1.0, 3.0]), np.array([0.6, 1.0, 1.0])
    np.testing.assert_allclose(theory.optimal_discriminator(p_data, p_model),
                               p_data / (p_data + p_model))


def test_optimal_discriminator_rejects_negative_densities():
    with pytest.raises(ValueError, match="non-negative densities"):
        theory.optimal_discriminator(-0.1, 1.0)


def test_optimal_discriminator_rejects_points_with_no_mass():
    with pytest.raises(ValueError, match="optimal D is undefined"):
        theory.optimal_discriminator([0.5, 0.0], [0.5, 0.0])


@pytest.mark.parametrize("label", [1.5, -0.1, "0.9"])
def test_optimal_discriminator_rejects_labels_outside_0_1(label):
    with pytest.raises(ValueError, match="real_label must be a number in"):
        theory.optimal_discriminator(1.0, 1.0, real_label=label)


# ---------------------------------------------------------------- latent space


@pytest.mark.parametrize("dist", ["gaussian", "uniform"])
def test_latent_variance_matches_the_sample_variance(dist):
    # 10^6 draws; the standard error of a sample variance is sqrt((mu4 - sigma^4) / N), about
    # 1.4e-3 for N(0, 1) and 3e-4 for U(-1, 1), estimated here from the same draws.
    g = torch.Generator().manual_seed(7)
    n = 1_000_000
    if dist == "gaussian":
        z = torch.randn(n, generator=g, dtype=torch.float64)
    else:
        z = 2 * torch.rand(n, generator=g, dtype=torch.float64) - 1
    mean, se = mean_and_standard_error((z - z.mean()) ** 2)
    assert abs(mean - theory.latent_variance(dist)) <= N_SE * se


def test_latent_variance_rejects_an_unknown_distribution():
    with pytest.raises(ValueError, match="dist must be 'gaussian' or 'uniform'"):
        theory.latent_variance("laplace")
