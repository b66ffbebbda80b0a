"""The linear GAN: a two-number game whose training dynamics can be solved by hand.

The generator holds one number ``theta``, the discriminator one number ``phi``, and they
play the game

    V(theta, phi) = theta * phi + lambda_g * theta**2 / 2 - lambda_d * phi**2 / 2,

the generator descending V and the discriminator ascending it; ``lambda_g`` and
``lambda_d`` are the players' weight decays. The gradient flow of this game,

    dtheta/dt = -dV/dtheta = -phi - lambda_g * theta
    dphi/dt   = +dV/dphi   =  theta - lambda_d * phi,

is the linear system d(theta, phi)/dt = J (theta, phi) with J = [[-lg, -1], [1, -ld]]: the
linearisation of GAN training around its equilibrium (0, 0). ``simulate_linear_gan``
integrates it with fourth-order Runge-Kutta; ``gradient_steps`` takes the finite steps a
training loop takes, simultaneous or alternating. Each checks its arguments and calls a
short core that a chapter shows (``rk4_path``, ``take_steps``, ``frequency_from_zeros``).
"""

from __future__ import annotations

import math

import numpy as np

STEP_MODES = ("simultaneous", "alternating")


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def _positive(name: str, value) -> float:
    value = _finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return value


def game_value(theta, phi, lambda_g=0.0, lambda_d=0.0):
    """V(theta, phi) = theta phi + lambda_g theta^2 / 2 - lambda_d phi^2 / 2.

    ``theta`` and ``phi`` are numbers, arrays or tensors of one shape; so is the result.
    """
    return theta * phi + lambda_g * theta**2 / 2 - lambda_d * phi**2 / 2


def linear_gan_jacobian(lambda_g: float, lambda_d: float) -> np.ndarray:
    """J = [[-lambda_g, -1], [1, -lambda_d]], shape (2, 2): d(theta, phi)/dt = J (theta, phi)."""
    lg, ld = _finite("lambda_g", lambda_g), _finite("lambda_d", lambda_d)
    return np.array([[-lg, -1.0], [1.0, -ld]])


def rk4_path(jac, theta0, phi0, dt, n):
    """``n`` classical RK4 steps of size ``dt`` along d(theta, phi)/dt = J (theta, phi).

    For a linear field the four stages k1 = J x, k2 = J (x + dt/2 k1), k3, k4 combine
    into one matrix, x_next = (I + hJ + (hJ)^2/2 + (hJ)^3/6 + (hJ)^4/24) x with h = dt.
    Returns ``(t, theta, phi)``, three arrays of shape (n + 1,).
    """
    hj = dt * jac
    step = np.eye(2) + hj + hj @ hj / 2 + hj @ hj @ hj / 6 + hj @ hj @ hj @ hj / 24
    path = np.empty((n + 1, 2))
    path[0] = theta0, phi0
    for i in range(n):
        path[i + 1] = step @ path[i]
    return np.arange(n + 1) * dt, path[:, 0], path[:, 1]


def simulate_linear_gan(lambda_g: float, lambda_d: float, theta0: float = 1.0,
                        phi0: float = 0.0, t_max: float = 20.0, dt: float = 0.01):
    """Integrate the gradient flow from (theta0, phi0) up to time ``t_max`` with RK4 steps of
    size ``dt`` (:func:`rk4_path`). Returns ``(t, theta, phi)``, three arrays of shape
    (n + 1,) with n = round(t_max / dt); the local error per step is O(dt^5)."""
    jac = linear_gan_jacobian(lambda_g, lambda_d)
    theta0, phi0 = _finite("theta0", theta0), _finite("phi0", phi0)
    t_max, dt = _positive("t_max", t_max), _positive("dt", dt)
    n = round(t_max / dt)
    if n < 1:
        raise ValueError(f"dt must not exceed t_max, got dt={dt!r} and t_max={t_max!r}")
    return rk4_path(jac, theta0, phi0, dt, n)


def frequency_from_zeros(t, x) -> float:
    """Angular frequency of an oscillating signal ``x(t)`` from its zero crossings.

    Consecutive zeros of e^(-a t) cos(w t + c) are pi / w apart whatever the decay a,
    so w = pi / (mean spacing). Crossings are placed by linear interpolation between
    samples. Returns 0.0 when ``x`` changes sign fewer than twice (no oscillation).
    """
    i = np.nonzero(np.signbit(x[:-1]) != np.signbit(x[1:]))[0]
    if len(i) < 2:
        return 0.0
    zeros = t[i] - x[i] * (t[i + 1] - t[i]) / (x[i + 1] - x[i])
    return math.pi / float(np.mean(np.diff(zeros)))


def zero_crossing_frequency(t, x) -> float:
    """:func:`frequency_from_zeros` of 1-D arrays ``t`` (increasing) and ``x`` of one length."""
    t, x = np.asarray(t, dtype=float), np.asarray(x, dtype=float)
    if t.ndim != 1 or t.shape != x.shape or len(t) < 2:
        raise ValueError(f"t and x must be 1-D arrays of one length >= 2, got shapes "
                         f"{t.shape} and {x.shape}")
    return frequency_from_zeros(t, x)


def take_steps(eta, steps, theta0, phi0, alternating, lambda_g=0.0, lambda_d=0.0):
    """``steps`` gradient steps of size ``eta`` on the linear GAN from (theta0, phi0).

    The generator descends V, the discriminator ascends it. Simultaneous steps: the
    discriminator sees the old theta; alternating: it answers the generator's new theta.
    Returns ``(theta, phi)``, two arrays of shape (steps + 1,).
    """
    theta, phi = np.empty(steps + 1), np.empty(steps + 1)
    theta[0], phi[0] = theta0, phi0
    for k in range(steps):
        theta[k + 1] = theta[k] - eta * (phi[k] + lambda_g * theta[k])
        seen = theta[k + 1] if alternating else theta[k]
        phi[k + 1] = phi[k] + eta * (seen - lambda_d * phi[k])
    return theta, phi


def gradient_steps(eta: float, steps: int, theta0: float = 1.0, phi0: float = 0.0,
                   mode: str = "simultaneous", lambda_g: float = 0.0, lambda_d: float = 0.0):
    """Train the linear GAN with ``steps`` gradient steps of learning rate ``eta``.

    ``"simultaneous"``: both players step from the same point,
        theta' = theta - eta (phi + lg theta),   phi' = phi + eta (theta - ld phi).
    ``"alternating"``: the generator steps first and the discriminator answers the new theta,
        theta' = theta - eta (phi + lg theta),   phi' = phi + eta (theta' - ld phi).
    Returns ``(theta, phi)``, two arrays of shape (steps + 1,) starting at (theta0, phi0).
    """
    eta = _positive("eta", eta)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if mode not in STEP_MODES:
        raise ValueError(f"mode must be 'simultaneous' or 'alternating', got {mode!r}")
    lg, ld = _finite("lambda_g", lambda_g), _finite("lambda_d", lambda_d)
    theta0, phi0 = _finite("theta0", theta0), _finite("phi0", phi0)
    return take_steps(eta, steps, theta0, phi0, mode == "alternating", lg, ld)
