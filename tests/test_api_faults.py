"""Bad numbers never come back as results: the metrics, the latent tools and the models
refuse NaN, infinite or impossible inputs in one sentence, and accept other dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dcgan_lib import latent, metrics, models

rng = np.random.default_rng(0)
_FEATURES = {n: rng.normal(size=(n, 256)) for n in (2, 200)}  # rank-deficient covariances
_NEG_DEFINITE = -np.eye(3)


def _self_distance(n):
    stats = metrics.gaussian_stats(torch.from_numpy(_FEATURES[n]))
    return metrics.frechet_from_stats(*stats, *stats)


RAISES = [  # (case, call that must raise ValueError rather than return a number)
    ("frechet_from_stats of NaN statistics", lambda: metrics.frechet_from_stats(
        np.full(3, np.nan), np.eye(3), np.zeros(3), np.eye(3))),
    ("frechet_from_stats of a negative-definite covariance", lambda: metrics.frechet_from_stats(
        np.zeros(3), _NEG_DEFINITE, np.zeros(3), np.eye(3))),
    ("inception_score_from_probs of negative probabilities",
     lambda: metrics.inception_score_from_probs(torch.tensor([[1.5, -0.5], [0.5, 0.5]]))),
    ("inception_score_from_probs of unnormalised rows",
     lambda: metrics.inception_score_from_probs(torch.tensor([[3.0, 1.0], [1.0, 3.0]]))),
    ("coverage_from_counts([nan, 1])", lambda: metrics.coverage_from_counts([np.nan, 1.0])),
    ("slerp of a NaN latent", lambda: latent.slerp(torch.full((4,), float("nan")),
                                                   torch.ones(4), 0.5)),
    ("lerp of an infinite latent", lambda: latent.lerp(torch.full((4,), float("inf")),
                                                       torch.ones(4), 0.5)),
]


@pytest.mark.parametrize("case, fn", RAISES, ids=[c for c, _ in RAISES])
def test_bad_numbers_are_refused_not_returned(case, fn):
    with pytest.raises(ValueError):
        fn()


@pytest.mark.parametrize("n", [2, 200])
def test_frechet_distance_of_a_set_with_itself_is_not_negative(n):
    assert _self_distance(n) >= 0.0


def test_a_seed_beyond_64_bits_is_refused_naming_the_option_and_its_range():
    with pytest.raises(ValueError, match=r"seed.*2\*\*64|seed.*18446744073709551615"):
        latent.sample(2, 4, seed=2**64)


ACCEPTED = [  # (case, call that must work)
    ("Generator on float64 latents", lambda: models.Generator(
        latent_dim=8, image_size=32, channels=1, width=8).eval()(
        torch.zeros(2, 8, dtype=torch.float64))),
]


@pytest.mark.parametrize("case, fn", ACCEPTED, ids=[c for c, _ in ACCEPTED])
def test_numpy_numbers_and_other_dtypes_are_accepted(case, fn):
    fn()


def test_numpy_numbers_are_settings_like_any_other():
    from dcgan_lib.train import TrainConfig, train

    cfg = TrainConfig(width=np.int64(8), leak=np.float32(0.2), limit=np.int64(64),
                      batch_size=32, device="cpu", progress=False, max_steps=1)
    result = train(cfg.validate())
    assert result.history["step"] == [1]
    assert models.Discriminator(32, 1, np.int64(8), leak=np.float32(0.2)).leak == \
        pytest.approx(0.2)
