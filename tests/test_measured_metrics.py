"""The standard-size scores of the shipped generators (dcgan_lib/weights/metrics-*.json,
written by tools/measure_generators.py) reproduce from the weights."""

import hashlib
import json

import numpy as np
import pytest
import torch

from dcgan_lib import data, metrics, pretrained

WEIGHTS = pretrained.WEIGHTS


def record(name):
    return json.loads((WEIGHTS / f"metrics-{name}.json").read_text())


@pytest.mark.parametrize("name", pretrained.NAMES)
def test_metrics_record_was_measured_on_the_shipped_weights(name):
    weights = pretrained.paths(name)["weights"].read_bytes()
    assert record(name)["generator_sha256"] == hashlib.sha256(weights).hexdigest()


@pytest.mark.parametrize("name", pretrained.NAMES)
def test_scores_at_2000_samples_reproduce_from_the_weights(name, one_thread):
    # The script measured the first 2,000 of its 10,000 samples (the same seeded latents
    # that evaluate draws) against the first 2,000 test and training images, so the
    # images and weights are identical here: only the order of float32 sums in the
    # classifier can differ (thread count, BLAS build), which moves features by ~1e-6
    # relative and the distance by far less than 1e-4 of itself. An argmax can flip on
    # a near-tie, moving one of 2,000 class counts: at most ~1e-3 in the coverage KL.
    expected = record(name)["check"]
    generator, _ = pretrained.load_generator(name)
    got = pretrained.evaluate(generator, name, n=expected["n"])
    for key in ("inception_score", "frechet_distance", "real_frechet_floor"):
        assert got[key] == pytest.approx(expected[key], rel=1e-4), key
    assert got["coverage_kl"] == pytest.approx(expected["coverage_kl"], abs=1e-3)


@pytest.mark.parametrize("name", pretrained.NAMES)
def test_standard_size_record_is_consistent(name):
    r = record(name)
    assert r["n"] == 10_000
    g, floor = r["generated"], r["train"]
    for m in (g, floor):
        ci = m["frechet_interval"]
        assert ci["low"] < ci["high"] and ci["std"] > 0
    assert sum(g["class_counts"]) == sum(r["test"]["class_counts"]) == 10_000
    assert sum(g["confidence_counts"]) == 10_000
    curve = r["frechet_against_n"]
    # the small-sample bias: real against real falls as n grows, to the record's floor
    assert curve["floor_mean"] == sorted(curve["floor_mean"], reverse=True)
    # at n = 10,000 the curve's "subset" is a permutation of all the images: the same
    # distance up to the order of the float sums in the covariances (~1e-6 relative)
    assert curve["floor_mean"][-1] == pytest.approx(floor["frechet_distance"], rel=1e-5)


def test_nearest_training_images_of_the_record_reproduce(one_thread):
    memo = record("mnist")["memorisation"]
    train, _ = data.load("mnist", "train", image_size=32)
    generator, _ = pretrained.load_generator("mnist")
    fake = pretrained.sample_images(generator, 20, pretrained.EVAL_SEED)
    test, _ = data.load("mnist", "test", image_size=32, limit=20)
    for key, images in (("generated", fake), ("test", test)):
        d = torch.cdist(images.flatten(1), train.flatten(1)) / 32
        best = d.min(1)
        assert best.indices.tolist() == memo["pixel"][key + "_index"][:20]
        np.testing.assert_allclose(best.values.numpy(), memo["pixel"][key][:20], atol=1e-4)


def test_collapsed_reruns_collapse_as_in_the_guideline_record():
    from safetensors.torch import load_file

    collapse = json.loads((WEIGHTS / "collapse-mnist.json").read_text())
    grids = load_file(str(WEIGHTS / "collapse-mnist.safetensors"))
    assert tuple(grids["final"].shape) == (len(collapse["runs"]), 64, 1, 32, 32)
    recorded = {(r["name"], r["seed"]): r for r in pretrained.guideline_runs()}
    for run in collapse["runs"]:
        table = recorded[(run["name"], run["seed"])]["metrics"]["inception_score"]
        assert run["recorded_inception_score"] == table
        # a rerun, not a bit-for-bit copy: the same verdict (IS below 1.1 or not)
        assert (run["inception_score"] < 1.1) == (table < 1.1), run["name"]


def test_frechet_bootstrap_is_reproducible_and_spreads_around_the_estimate():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 4)), rng.normal(0.5, 1.0, size=(500, 4))
    first = metrics.frechet_bootstrap(a, b, n_boot=50, seed=3)
    assert np.array_equal(first, metrics.frechet_bootstrap(a, b, n_boot=50, seed=3))
    estimate = metrics.frechet_from_stats(*metrics.gaussian_stats(a),
                                          *metrics.gaussian_stats(b))
    assert first.std() > 0
    assert first.min() < estimate * 1.5 and first.max() > estimate * 0.5
