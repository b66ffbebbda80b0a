"""The linear GAN simulation agrees with the closed forms of dcgan_lib.theory."""

import math

import numpy as np
import pytest
import torch

from dcgan_lib.book import listing
from dcgan_lib.dynamics import (
    frequency_from_zeros,
    game_value,
    gradient_steps,
    linear_gan_jacobian,
    rk4_path,
    simulate_linear_gan,
    take_steps,
    zero_crossing_frequency,
)
from dcgan_lib.theory import linear_gan_eigenvalues, linear_gan_frequency

PAIRS = [(0.0, 0.0), (0.5, 0.0), (1.0, 0.2), (0.3, 1.7), (1.9, 0.1)]


def test_gradient_flow_of_the_game_is_the_linear_system():
    # dtheta/dt = -dV/dtheta and dphi/dt = +dV/dphi, measured with autograd at random points
    gen = torch.Generator().manual_seed(0)
    theta, phi = torch.randn(2, 50, dtype=torch.float64, generator=gen).requires_grad_()
    lg, ld = 0.7, 0.3
    d_theta, d_phi = torch.autograd.grad(game_value(theta, phi, lg, ld).sum(), (theta, phi))
    flow = linear_gan_jacobian(lg, ld) @ np.stack([theta.detach().numpy(), phi.detach().numpy()])
    np.testing.assert_allclose(-d_theta.numpy(), flow[0], atol=1e-14)
    np.testing.assert_allclose(d_phi.numpy(), flow[1], atol=1e-14)


@pytest.mark.parametrize("lg, ld", PAIRS + [(2.5, 0.0), (0.5, 3.0)])
def test_jacobian_eigenvalues_match_closed_form(lg, ld):
    numeric = sorted(np.linalg.eigvals(linear_gan_jacobian(lg, ld)),
                     key=lambda z: (-z.imag, -z.real))
    np.testing.assert_allclose(numeric, linear_gan_eigenvalues(lg, ld), atol=1e-12)


def test_simulation_step_is_one_classical_rk4_step():
    lg, ld, dt, x = 0.4, 1.1, 0.3, np.array([0.8, -0.6])
    jac = linear_gan_jacobian(lg, ld)
    k1 = jac @ x
    k2 = jac @ (x + dt / 2 * k1)
    k3 = jac @ (x + dt / 2 * k2)
    k4 = jac @ (x + dt * k3)
    expected = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    _, theta, phi = simulate_linear_gan(lg, ld, theta0=0.8, phi0=-0.6, t_max=dt, dt=dt)
    np.testing.assert_allclose([theta[1], phi[1]], expected, rtol=1e-14)


@pytest.mark.parametrize("lg, ld", PAIRS + [(2.5, 0.0)])
def test_rk4_path_matches_matrix_exponential(lg, ld):
    # RK4's global error is O(dt^4): about 1e-9 here for dt = 0.01 over 20 time units
    t, theta, phi = simulate_linear_gan(lg, ld, theta0=1.0, phi0=-0.5, t_max=20.0, dt=0.01)
    jac = torch.tensor(linear_gan_jacobian(lg, ld))
    for k in (100, 1000, 2000):
        exact = torch.linalg.matrix_exp(jac * t[k]) @ torch.tensor([1.0, -0.5], dtype=torch.float64)
        np.testing.assert_allclose([theta[k], phi[k]], exact.numpy(), atol=1e-8)


@pytest.mark.parametrize("lg, ld", PAIRS)
def test_measured_frequency_matches_sqrt_4_minus_gap_squared_over_2(lg, ld):
    # zero crossings interpolated linearly on a dt = 0.01 grid: error far below 1e-5
    t, theta, _ = simulate_linear_gan(lg, ld, t_max=60.0, dt=0.01)
    assert zero_crossing_frequency(t, theta) == pytest.approx(linear_gan_frequency(lg, ld),
                                                              rel=1e-5)


@pytest.mark.parametrize("lg, ld", [(2.5, 0.0), (0.0, 3.0), (4.0, 1.0)])
def test_real_eigenvalues_give_no_oscillation(lg, ld):
    t, theta, _ = simulate_linear_gan(lg, ld, t_max=60.0, dt=0.01)
    assert linear_gan_frequency(lg, ld) == 0.0
    assert zero_crossing_frequency(t, theta) == 0.0


def test_without_weight_decay_the_flow_is_a_centre():
    # the radius theta^2 + phi^2 is conserved by the exact flow; RK4 drifts by O(dt^4) per unit
    _, theta, phi = simulate_linear_gan(0.0, 0.0, theta0=1.0, phi0=0.0, t_max=50.0, dt=0.01)
    radius = np.hypot(theta, phi)
    assert np.max(np.abs(radius - 1.0)) < 1e-8


def test_weight_decay_shrinks_the_radius_at_rate_half_the_sum():
    # with complex eigenvalues, |(theta, phi)| decays like exp(-(lg + ld) t / 2) on average
    lg, ld = 0.4, 0.4  # equal decays: J = -0.4 I + rotation, so the decay is exact at every t
    t, theta, phi = simulate_linear_gan(lg, ld, t_max=10.0, dt=0.01)
    np.testing.assert_allclose(np.hypot(theta, phi), np.exp(-(lg + ld) * t / 2), rtol=1e-8)


def test_zero_crossing_frequency_of_a_damped_cosine():
    t = np.linspace(0, 30, 30001)
    x = np.exp(-0.2 * t) * np.cos(2.5 * t + 0.3)
    assert zero_crossing_frequency(t, x) == pytest.approx(2.5, rel=1e-6)


@pytest.mark.parametrize("eta", [0.05, 0.2, 0.5])
def test_simultaneous_steps_grow_the_radius_by_sqrt_1_plus_eta_squared(eta):
    # the update map is sqrt(1 + eta^2) times a rotation, so the growth is exact per step
    theta, phi = gradient_steps(eta, 200, theta0=1.0, phi0=0.0, mode="simultaneous")
    k = np.arange(201)
    np.testing.assert_allclose(np.hypot(theta, phi), (1 + eta**2) ** (k / 2), rtol=1e-12)


@pytest.mark.parametrize("eta", [0.05, 0.2, 0.5, 1.5])
def test_alternating_steps_conserve_theta2_plus_phi2_minus_eta_theta_phi(eta):
    theta, phi = gradient_steps(eta, 5000, theta0=1.0, phi0=0.0, mode="alternating")
    invariant = theta**2 + phi**2 - eta * theta * phi
    np.testing.assert_allclose(invariant, 1.0, rtol=1e-10)


def test_alternating_steps_stay_inside_the_invariant_ellipse():
    # theta^2 + phi^2 - eta theta phi >= (1 - eta / 2)(theta^2 + phi^2), so r^2 <= Q / (1 - eta/2)
    eta = 0.5
    theta, phi = gradient_steps(eta, 5000, theta0=1.0, phi0=0.0, mode="alternating")
    assert np.max(theta**2 + phi**2) <= 1.0 / (1 - eta / 2) + 1e-12


def test_gradient_steps_with_weight_decay_follow_the_flow_for_small_eta():
    # Euler steps of size eta approximate the flow with O(eta) error
    eta, steps = 1e-3, 5000
    theta, phi = gradient_steps(eta, steps, mode="simultaneous", lambda_g=0.3, lambda_d=0.1)
    _, theta_f, phi_f = simulate_linear_gan(0.3, 0.1, t_max=eta * steps, dt=eta)
    assert np.max(np.abs(theta - theta_f)) < 5e-3
    assert np.max(np.abs(phi - phi_f)) < 5e-3


@pytest.mark.parametrize("kwargs, message", [
    (dict(eta=0.0, steps=10), "eta must be positive, got 0.0"),
    (dict(eta=0.1, steps=0), "steps must be a positive integer, got 0"),
    (dict(eta=0.1, steps=10, mode="jacobi"), "got 'jacobi'"),
    (dict(eta=0.1, steps=10, lambda_g=float("nan")), "lambda_g must be a finite real number"),
])
def test_gradient_steps_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gradient_steps(**kwargs)


def test_simulation_rejects_step_longer_than_horizon():
    with pytest.raises(ValueError, match="dt must not exceed t_max"):
        simulate_linear_gan(0.1, 0.1, t_max=0.1, dt=1.0)


def test_simulation_rejects_non_number_start():
    with pytest.raises(ValueError, match="theta0 must be a finite real number, got '1'"):
        simulate_linear_gan(0.1, 0.1, theta0="1")


def test_zero_crossing_frequency_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"got shapes \(10,\) and \(9,\)"):
        zero_crossing_frequency(np.arange(10.0), np.arange(9.0))


def test_frequency_is_zero_at_the_boundary_gap_of_two():
    assert linear_gan_frequency(2.0, 0.0) == 0.0
    assert math.isclose(linear_gan_frequency(1.99, 0.0), math.sqrt(4 - 1.99**2) / 2)


@pytest.mark.parametrize("core", [game_value, rk4_path, frequency_from_zeros, take_steps])
def test_the_functions_chapter_4_shows_fit_a_page_listing(core):
    # listing refuses a function that raises, is wider than 88 columns or longer than 60 lines
    assert listing(core).startswith("# dcgan_lib/dynamics.py\n")
