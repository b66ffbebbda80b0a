"""The metric classifier, the classifier Inception Score, the Fréchet distance and coverage."""

import math

import numpy as np
import pytest
import torch

from dcgan_lib import data, metrics


@pytest.fixture(scope="module")
def mnist_classifier():
    return metrics.load_classifier("mnist")


@pytest.fixture(scope="module")
def mnist_test():
    return data.load("mnist", "test", image_size=32, limit=2000)


def test_shipped_mnist_classifier_reaches_99_3_percent_on_the_test_set(mnist_classifier):
    model, record = mnist_classifier
    x, y = data.load("mnist", "test", image_size=32)
    acc = metrics.evaluate_accuracy(model, x, y)
    assert acc >= 0.993
    # same weights and images; a different thread count may reorder float sums and flip
    # an argmax on a near-tie, so allow two of the 10 000 images
    assert acc == pytest.approx(record["test_accuracy"], abs=2e-4)


def test_shipped_fashion_classifier_matches_its_record():
    model, record = metrics.load_classifier("fashion-mnist")
    x, y = data.load("fashion-mnist", "test", image_size=32)
    acc = metrics.evaluate_accuracy(model, x, y)
    assert acc >= 0.90
    assert acc == pytest.approx(record["test_accuracy"], abs=2e-4)  # as for MNIST


def test_inception_score_of_real_test_digits_is_near_10(mnist_classifier, mnist_test):
    model, _ = mnist_classifier
    score = metrics.inception_score(model, mnist_test[0])
    # confident (~99 % accurate) predictions over ten nearly balanced classes
    assert 9.5 < score <= 10.0


def test_inception_score_of_one_repeated_image_is_1(mnist_classifier, mnist_test):
    model, _ = mnist_classifier
    same = mnist_test[0][:1].repeat(50, 1, 1, 1)
    assert metrics.inception_score(model, same) == pytest.approx(1.0, abs=1e-9)


def test_inception_score_from_probs_is_k_for_confident_balanced_predictions():
    probs = torch.eye(10).repeat(3, 1)
    assert metrics.inception_score_from_probs(probs) == pytest.approx(10.0, rel=1e-9)


def test_frechet_distance_of_a_set_with_itself_is_0(mnist_classifier, mnist_test):
    model, _ = mnist_classifier
    x = mnist_test[0][:500]
    _, cov = metrics.gaussian_stats(metrics.features(model, x))
    # the eigenvalues of R S R near 0 carry an error ~eps |S|^2, and their square roots one
    # of ~sqrt(eps) |S| each: with D = 128 features the sum is off by at most D sqrt(eps) |S|
    bound = cov.shape[0] * np.sqrt(np.finfo(np.float64).eps) * np.linalg.norm(cov, 2)
    assert abs(metrics.frechet_distance(model, x, x)) < bound
    assert bound < 1e-3 * np.trace(cov)  # and that is tiny beside the distance's scale


def test_frechet_from_stats_matches_the_closed_form_for_two_gaussians():
    rng = np.random.default_rng(0)
    d = 6
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    # the closed form through the eigenvalues of the (non-symmetric) product S1 S2: they are
    # real and positive, and tr((S1 S2)^(1/2)) is the sum of their square roots
    lam = np.linalg.eigvals(s1 @ s2)
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                - 2 * np.sum(np.sqrt(lam.real)))
    assert metrics.frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_from_stats_for_diagonal_gaussians_is_sum_of_squared_std_differences():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    # |mu1 - mu2|^2 + sum (sigma1 - sigma2)^2 = 5 + (1 + 0 + 4)
    assert metrics.frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(10.0, abs=1e-12)


def test_coverage_kl_is_0_for_uniform_counts():
    assert metrics.coverage_from_counts([7] * 10) == pytest.approx(0.0, abs=1e-15)


def test_coverage_kl_is_log_10_for_a_single_class():
    assert metrics.coverage_from_counts([0] * 9 + [100]) == pytest.approx(math.log(10))


def test_class_coverage_of_real_digits_is_near_uniform(mnist_classifier, mnist_test):
    model, _ = mnist_classifier
    counts, kl = metrics.class_coverage(model, mnist_test[0])
    assert counts.sum() == len(mnist_test[0])
    # the MNIST test classes themselves range from 8.9 % to 11.4 %: KL from uniform ~ 0.003
    assert kl < 0.01


def test_images_of_the_wrong_shape_are_rejected(mnist_classifier):
    model, _ = mnist_classifier
    with pytest.raises(ValueError, match=r"shape \(N, 1, 32, 32\), got \(4, 1, 28, 28\)"):
        metrics.inception_score(model, torch.zeros(4, 1, 28, 28))


def test_images_outside_minus_1_to_1_are_rejected(mnist_classifier):
    model, _ = mnist_classifier
    with pytest.raises(ValueError, match=r"\[-1, 1\].*255"):
        metrics.inception_score(model, torch.full((4, 1, 32, 32), 255.0))


def test_non_tensor_images_are_rejected(mnist_classifier):
    model, _ = mnist_classifier
    with pytest.raises(TypeError, match="torch.Tensor"):
        metrics.inception_score(model, np.zeros((4, 1, 32, 32)))


def test_frechet_distance_needs_two_images_for_a_covariance(mnist_classifier, mnist_test):
    model, _ = mnist_classifier
    with pytest.raises(ValueError, match="at least 2 images, got 1"):
        metrics.frechet_distance(model, mnist_test[0][:1], mnist_test[0][:10])


def test_coverage_rejects_negative_counts():
    with pytest.raises(ValueError, match="non-negative"):
        metrics.coverage_from_counts([1, -1, 3])


def test_unknown_dataset_for_the_classifier_is_rejected():
    with pytest.raises(ValueError, match="dataset must be one of"):
        metrics.load_classifier("cifar10")


def test_probability_scores_of_a_known_set_of_probabilities():
    # four images: two sure 3s, one sure 7 and one split between 1 and 2
    probs = torch.zeros(4, metrics.NUM_CLASSES)
    probs[0, 3] = probs[1, 3] = probs[2, 7] = 1.0
    probs[3, 1], probs[3, 2] = 0.6, 0.4
    found = metrics.probability_scores(probs)
    assert found["class_counts"] == [0, 1, 0, 2, 0, 0, 0, 1, 0, 0]
    assert found["share_below_0.9"] == 0.25
    p = np.array([1, 2, 1]) / 4
    assert found["coverage_kl"] == pytest.approx(float((p * np.log(p * 10)).sum()), abs=1e-12)
    # marginal (0, .15, .1, .5, 0, 0, 0, .25, 0, 0): KLs log 2, log 2, log 4, log 4
    assert found["inception_score"] == pytest.approx(2 ** 1.5, rel=1e-6)
