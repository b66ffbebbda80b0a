import math

import pytest
import torch

from dcgan_lib.latent import arithmetic, lerp, sample, slerp
from dcgan_lib.theory import latent_variance


def pair(batch=None, dim=100, seed=0):
    z = sample(2 * (batch or 1), dim, seed=seed)
    if batch is None:
        return z[0], z[1]
    return z[:batch], z[batch:]


# sampling

@pytest.mark.parametrize("dist", ["gaussian", "uniform"])
def test_sample_has_shape_n_by_latent_dim_and_float32(dist):
    z = sample(7, 13, dist=dist, seed=0)
    assert z.shape == (7, 13) and z.dtype == torch.float32


@pytest.mark.parametrize("dist", ["gaussian", "uniform"])
def test_sample_variance_matches_theory(dist):
    z = sample(2000, 100, dist=dist, seed=1)
    # 200k draws: the variance estimate's standard error is below 0.4% of the variance
    # (sqrt(2/N) for the Gaussian, smaller for the uniform); 2% is five standard errors.
    assert z.var().item() == pytest.approx(latent_variance(dist), rel=0.02)
    assert abs(z.mean().item()) < 5 * math.sqrt(latent_variance(dist) / z.numel())


def test_uniform_sample_stays_inside_minus_one_one():
    z = sample(1000, 100, dist="uniform", seed=2)
    assert z.min() >= -1 and z.max() <= 1
    assert z.min() < -0.999 and z.max() > 0.999  # and fills the interval


def test_same_seed_gives_the_same_draw():
    assert torch.equal(sample(4, 100, seed=123), sample(4, 100, seed=123))
    assert not torch.equal(sample(4, 100, seed=123), sample(4, 100, seed=124))


def test_seeded_draw_is_fixed_across_machines():
    # torch's CPU generator is a Mersenne Twister whose stream does not depend on the
    # platform: seed 0 starts with 1.5410 on every machine (a value widely quoted).
    assert sample(1, 1, seed=0).item() == pytest.approx(1.5409960746765137, abs=1e-7)


def test_seeded_sample_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    sample(3, 10, seed=9)
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be a positive integer"),
    (dict(n=-3), "n must be a positive integer"),
    (dict(n=2.5), "n must be a positive integer"),
    (dict(n=2, latent_dim=0), "latent_dim must be a positive integer"),
    (dict(n=2, dist="cauchy"), "dist must be 'gaussian' or 'uniform', got 'cauchy'"),
    (dict(n=2, seed=-1), "seed must be an integer in"),
])
def test_sample_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample(**kwargs)


# interpolation endpoints and shapes

@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_endpoints_are_exact(interpolate):
    z0, z1 = pair()
    assert torch.equal(interpolate(z0, z1, 0.0), z0)
    assert torch.equal(interpolate(z0, z1, 1.0), z1)
    path = interpolate(z0, z1, torch.linspace(0, 1, 5))
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


@pytest.mark.parametrize("interpolate", [lerp, slerp])
@pytest.mark.parametrize("batch, t, expected", [
    (None, 0.3, (100,)),
    (None, torch.linspace(0, 1, 7), (7, 100)),
    (4, 0.3, (4, 100)),
    (4, torch.linspace(0, 1, 7), (7, 4, 100)),
    (4, [0.0, 0.5], (2, 4, 100)),
])
def test_output_shapes(interpolate, batch, t, expected):
    z0, z1 = pair(batch)
    out = interpolate(z0, z1, t)
    assert out.shape == expected and out.dtype == torch.float32


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_batched_path_equals_the_paths_of_each_pair(interpolate):
    z0, z1 = pair(batch=3)
    t = torch.tensor([0.2, 0.7])
    path = interpolate(z0, z1, t)
    for i in range(3):
        assert torch.allclose(path[:, i], interpolate(z0[i], z1[i], t), atol=1e-6)


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_scalar_t_equals_the_matching_row_of_a_t_vector(interpolate):
    z0, z1 = pair()
    t = torch.linspace(0, 1, 11)
    assert torch.allclose(interpolate(z0, z1, 0.3), interpolate(z0, z1, t)[3], atol=1e-6)


def test_lerp_midpoint_is_the_average():
    z0, z1 = pair()
    assert torch.allclose(lerp(z0, z1, 0.5), (z0 + z1) / 2, atol=1e-6)


# norms along the paths

def test_slerp_keeps_the_norm_of_equal_norm_endpoints():
    z0, z1 = pair(batch=8)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    path = slerp(z0, z1, torch.linspace(0, 1, 21))
    norms = path.norm(dim=-1)  # (21, 8)
    assert torch.allclose(norms, z0.norm(dim=1).expand_as(norms), rtol=1e-5)


def test_slerp_norm_is_linear_in_t_for_unequal_norms():
    z0, z1 = pair()
    z1 = 2.5 * z1
    t = torch.linspace(0, 1, 21)
    expected = (1 - t) * z0.norm() + t * z1.norm()
    assert torch.allclose(slerp(z0, z1, t).norm(dim=-1), expected, rtol=1e-5)


def test_slerp_equals_the_textbook_formula_for_equal_norms():
    z0, z1 = pair()
    z1 = z1 / z1.norm() * z0.norm()
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    t = 0.3
    textbook = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
    assert torch.allclose(slerp(z0, z1, t), textbook, atol=1e-5)


def test_slerp_direction_moves_at_constant_angular_speed():
    z0, z1 = pair()
    t = torch.linspace(0, 1, 11)
    path = slerp(z0, z1, t)
    u = path / path.norm(dim=-1, keepdim=True)
    steps = torch.arccos((u[1:] * u[:-1]).sum(-1).clamp(-1, 1))
    assert torch.allclose(steps, steps.mean().expand_as(steps), atol=1e-4)


def test_lerp_midpoint_norm_shrinks_by_one_over_root_two_for_orthogonal_gaussians():
    # Two independent 100-d Gaussians are nearly orthogonal (cosine c ~ N(0, 1/100)), and
    # |(z0 + z1)/2| / rms(|z0|, |z1|) = sqrt((1 + c)/2), about 1/sqrt(2) = 0.707. Per pair
    # that ratio spreads by about 0.036; the mean over 2000 pairs has a standard error near
    # 0.0008 (and a bias of -0.0009 from the square root), so 0.004 is about five of them.
    z0, z1 = pair(batch=2000, seed=3)
    ratio = lerp(z0, z1, 0.5).norm(dim=1) / torch.sqrt((z0.norm(dim=1) ** 2
                                                        + z1.norm(dim=1) ** 2) / 2)
    assert ratio.mean().item() == pytest.approx(1 / math.sqrt(2), abs=0.004)
    assert slerp(z0, z1, 0.5).norm(dim=1).mean().item() == pytest.approx(
        ((z0.norm(dim=1) + z1.norm(dim=1)) / 2).mean().item(), rel=1e-5)


# degenerate pairs

def test_slerp_of_nearly_parallel_vectors_is_finite_and_matches_lerp():
    z0, _ = pair()
    z1 = 1.5 * z0 + 1e-7 * torch.ones(100)  # angle far below the parallel threshold
    t = torch.linspace(0, 1, 5)
    out = slerp(z0, z1, t)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, lerp(z0, z1, t), atol=1e-5)


def test_slerp_of_identical_vectors_returns_that_vector():
    z0, _ = pair()
    assert torch.allclose(slerp(z0, z0.clone(), 0.4), z0, atol=1e-6)


def test_slerp_from_the_zero_vector_is_lerp():
    _, z1 = pair()
    assert torch.allclose(slerp(torch.zeros(100), z1, 0.25), 0.25 * z1, atol=1e-6)


def test_slerp_of_opposite_vectors_raises():
    z0, _ = pair()
    with pytest.raises(ValueError, match="opposite directions"):
        slerp(z0, -z0, 0.5)


# bad input

@pytest.mark.parametrize("interpolate", [lerp, slerp])
@pytest.mark.parametrize("t", [-0.1, 1.5, float("nan"), [0.2, 1.2]])
def test_t_outside_zero_one_raises(interpolate, t):
    z0, z1 = pair()
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        interpolate(z0, z1, t)


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_two_dimensional_or_empty_t_raises(interpolate):
    z0, z1 = pair()
    with pytest.raises(ValueError, match="1-D"):
        interpolate(z0, z1, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="1-D"):
        interpolate(z0, z1, [])


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_t_that_is_not_a_number_raises_type_error(interpolate):
    z0, z1 = pair()
    with pytest.raises(TypeError, match="t must be a number"):
        interpolate(z0, z1, "half")
    with pytest.raises(TypeError, match="bool"):
        interpolate(z0, z1, True)


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_mismatched_shapes_raise(interpolate):
    z0, _ = pair()
    with pytest.raises(ValueError, match=r"same shape, got \(100,\) and \(64,\)"):
        interpolate(z0, torch.zeros(64), 0.5)
    with pytest.raises(ValueError, match=r"\(D,\) or \(B, D\)"):
        interpolate(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), 0.5)


@pytest.mark.parametrize("interpolate", [lerp, slerp])
def test_non_tensor_or_integer_endpoints_raise_type_error(interpolate):
    with pytest.raises(TypeError, match="z0 must be a torch.Tensor, got list"):
        interpolate([0.0, 1.0], torch.zeros(2), 0.5)
    with pytest.raises(TypeError, match="floating-point"):
        interpolate(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), 0.5)


# arithmetic

def test_arithmetic_is_mean_a_minus_mean_b_plus_mean_c():
    z = sample(9, 100, seed=4)
    a, b, c = z[:3], z[3:6], z[6:]
    expected = a.mean(0) - b.mean(0) + c.mean(0)
    assert torch.allclose(arithmetic(a, b, c), expected, atol=1e-6)
    assert arithmetic(a, b, c).shape == (100,)


def test_arithmetic_accepts_single_latents_and_different_exemplar_counts():
    z = sample(6, 100, seed=5)
    out = arithmetic(z[0], z[1:4], z[4:])
    assert torch.allclose(out, z[0] - z[1:4].mean(0) + z[4:].mean(0), atol=1e-6)


def test_arithmetic_that_cancels_returns_the_remaining_concept():
    a, c = sample(3, 100, seed=6), sample(3, 100, seed=7)
    assert torch.allclose(arithmetic(a, a, c), c.mean(0), atol=1e-6)


def test_arithmetic_rejects_mismatched_latent_dims():
    with pytest.raises(ValueError, match="share latent_dim, got 100, 100, 64"):
        arithmetic(sample(3, 100), sample(3, 100), sample(3, 64))


def test_arithmetic_rejects_empty_or_non_tensor_concepts():
    with pytest.raises(ValueError, match="b must have shape"):
        arithmetic(sample(3, 10), torch.zeros(0, 10), sample(3, 10))
    with pytest.raises(TypeError, match="c must be a torch.Tensor"):
        arithmetic(sample(3, 10), sample(3, 10), [0.0] * 10)
