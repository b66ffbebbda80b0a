"""The shipped generators: they load, their records are complete, their metrics reproduce."""

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dcgan_lib import pretrained, recipes

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=pretrained.NAMES)
def shipped(request):
    generator, record = pretrained.load_generator(request.param)
    return request.param, generator, record


def test_generator_maps_latents_to_32x32_images_in_tanh_range(shipped):
    _, generator, _ = shipped
    images = pretrained.sample_images(generator, 16, seed=0)
    assert images.shape == (16, 1, 32, 32)
    assert images.min() >= -1 and images.max() <= 1


def test_record_states_how_the_weights_were_made(shipped):
    name, _, record = shipped
    assert record["dataset"] == name
    assert record["command"].startswith("python tools/retrain.py --train " + name)
    assert record["steps"] > 0 and record["train_seconds"] > 0
    assert record["config"]["seed"] == record["seed"]
    assert "CPU" in record["device"] or "cuda" in record["trained_on"].lower()


def test_history_holds_the_four_reference_curves_thinned(shipped):
    _, _, record = shipped
    h = record["history"]
    n = len(h["step"])
    assert 10 < n <= pretrained.MAX_HISTORY
    for key in ("errD", "errG", "D_x", "D_G_z1", "D_G_z2", "seconds", "epoch"):
        assert len(h[key]) == n
    assert h["step"] == sorted(h["step"]) and h["step"][-1] == record["steps"]
    assert all(0 <= v <= 1 for v in h["D_x"] + h["D_G_z2"])  # probabilities


def test_sample_grids_are_small_uint8_frames_in_step_order(shipped):
    _, _, record = shipped
    frames = record["samples"]
    assert 2 <= len(frames) <= pretrained.MAX_FRAMES
    steps = [s for s, _ in frames]
    assert steps == sorted(steps) and steps[-1] == record["steps"]
    for _, grid in frames:
        assert grid.dtype == torch.uint8 and grid.shape == (64, 1, 32, 32)


def test_recorded_metrics_are_reproduced_from_the_shipped_weights(shipped):
    name, generator, record = shipped
    saved = record["metrics"]
    again = pretrained.evaluate(generator, name, n=saved["n"], seed=saved["seed"])
    # Same weights, same seeded latents, same test images: only the order of float32
    # summation (thread count, BLAS kernel) may differ, ~1e-6 relative per feature; 1e-4
    # leaves two orders of magnitude of room and still catches any change of weights.
    for key in ("inception_score", "frechet_distance", "coverage_kl", "real_frechet_floor"):
        assert again[key] == pytest.approx(saved[key], rel=1e-4, abs=1e-6), key
    assert again["class_counts"] == pytest.approx(saved["class_counts"], abs=2)


def test_metrics_during_training_are_recorded_at_increasing_steps(shipped):
    _, _, record = shipped
    during = record["metrics_during_training"]
    assert [d["step"] for d in during] == sorted(d["step"] for d in during)
    assert during[-1]["step"] == record["steps"]
    assert all(1 <= d["inception_score"] <= 10 and math.isfinite(d["frechet_distance"])
               for d in during)


def test_unknown_name_is_rejected():
    with pytest.raises(ValueError, match=r"name must be one of 'mnist', 'fashion-mnist', "
                                         r"got 'cifar10'"):
        pretrained.load_generator("cifar10")


def test_missing_weights_file_is_reported_with_the_command_to_remake_it(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"generator-mnist.safetensors is missing.*"
                                                r"--train mnist"):
        pretrained.load_generator("mnist")


def test_corrupt_weights_file_is_reported_not_unpickled(tmp_path, monkeypatch):
    for path in pretrained.paths("mnist").values():
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(pretrained, "WEIGHTS", tmp_path)
    weights = pretrained.paths("mnist")["weights"]
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated download
    with pytest.raises(ValueError, match="not a readable generator file"):
        pretrained.load_generator("mnist")


def test_guideline_runs_cover_every_guideline_and_seed_with_finite_metrics():
    runs = pretrained.guideline_runs()
    assert sorted((r["name"], r["seed"]) for r in runs) == sorted(
        (name, seed) for name in recipes.GUIDELINES for seed in recipes.GUIDELINE_SEEDS)
    for run in runs:
        m = run["metrics"]
        assert 1 <= m["inception_score"] <= 10
        assert m["frechet_distance"] >= 0 and 0 <= m["coverage_kl"] <= math.log(10) + 1e-9
        assert run["command"].startswith("python tools/retrain.py --guidelines")
        assert run["command"].endswith(f"--seeds {run['seed']}")
        assert run["steps"] == recipes.GUIDELINE_BASE["max_steps"]


def test_guideline_runs_differ_from_the_baseline_of_their_seed_in_exactly_their_change():
    runs = pretrained.guideline_runs()
    base = {r["seed"]: r["config"] for r in runs if r["name"] == "baseline (DCGAN)"}
    for run in runs:
        diff = {k: v for k, v in run["config"].items() if base[run["seed"]][k] != v}
        assert diff == recipes.GUIDELINES[run["name"]], run["name"]
        assert run["config"]["seed"] == run["seed"]


def _run(name, seed, fd):
    return {"name": name, "seed": seed, "metrics": {"frechet_distance": fd}}


def test_guideline_summary_gives_mean_spread_and_ratio_over_seeds():
    runs = [_run("baseline (DCGAN)", 1, 30.0), _run("baseline (DCGAN)", 0, 10.0),
            _run("no norm in D", 0, 40.0), _run("no norm in D", 1, 80.0)]
    summary = pretrained.guideline_summary(runs)
    assert summary["baseline (DCGAN)"] == {"values": [10.0, 30.0], "mean": 20.0, "min": 10.0,
                                           "max": 30.0, "ratio": 1.0}
    assert summary["no norm in D"]["ratio"] == 3.0
    assert summary["no norm in D"]["values"] == [40.0, 80.0]


def test_guideline_summary_needs_a_baseline_and_a_known_key():
    with pytest.raises(ValueError, match="no 'baseline \\(DCGAN\\)' run"):
        pretrained.guideline_summary([_run("no norm in D", 0, 1.0)])
    with pytest.raises(KeyError, match="'fid'"):
        pretrained.guideline_summary([_run("baseline (DCGAN)", 0, 1.0)], key="fid")


def test_unknown_guideline_on_the_command_line_is_named():
    done = subprocess.run([sys.executable, str(REPO / "tools" / "retrain.py"), "--guidelines",
                           "no batchnorm"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "unknown guideline 'no batchnorm'" in done.stderr
