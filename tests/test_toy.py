"""The toy GAN on the ring of eight Gaussians: its data, its two scores, its training loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dcgan_lib import toy

SHORT = dict(steps=20, sample_every=10, n_samples=50, batch_size=16, hidden=8)


def points_at(centre, distance, count):
    angle = torch.linspace(0, 2 * math.pi, count + 1)[:-1]
    return centre + distance * torch.stack([angle.cos(), angle.sin()], 1)


def test_ring_centres_lie_evenly_on_the_circle():
    centres = toy.ring_centres()
    assert centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    gaps = (centres - centres.roll(1, 0)).norm(dim=1)
    assert torch.allclose(gaps, torch.full((8,), 4 * math.sin(math.pi / 8)), atol=1e-6)


def test_ring_samples_sit_near_a_centre_and_depend_only_on_the_generator():
    x = toy.sample_ring(1000, torch.Generator().manual_seed(1))
    nearest = torch.cdist(x, toy.ring_centres()).min(1).values
    assert x.shape == (1000, 2) and x.dtype == torch.float32
    assert nearest.max() < 6 * toy.STD
    assert torch.equal(x, toy.sample_ring(1000, torch.Generator().manual_seed(1)))


def test_scores_of_a_hand_built_set():
    centres = toy.ring_centres()
    x = torch.cat([points_at(centres[0], 0.05, 20),   # 20 within 3 std: covered
                   points_at(centres[1], 0.01, 19),   # 19: one short of min_count
                   points_at(centres[2], 0.07, 25)])  # beyond 3 std = 0.06
    assert toy.modes_covered(x, centres, 0.02, min_count=20) == 1
    assert toy.modes_covered(x, centres, 0.02, min_count=19) == 2
    assert toy.high_quality_share(x, centres, 0.02) == pytest.approx(39 / 64)


def test_the_ring_itself_covers_every_mode_with_nearly_all_samples_high_quality():
    x = toy.sample_ring(2500, torch.Generator().manual_seed(0))
    centres = toy.ring_centres()
    assert toy.modes_covered(x, centres) == 8
    # within 3 std in two dimensions: 1 - exp(-9/2) of a Gaussian's mass
    assert toy.high_quality_share(x, centres) == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_scores_of_several_runs_at_once_are_one_per_run():
    centres = toy.ring_centres()
    runs = torch.stack([points_at(centres[0], 0.0, 30), points_at(centres[0], 1.0, 30)])
    assert toy.modes_covered(runs, centres).tolist() == [1, 0]
    assert toy.high_quality_share(runs, centres).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("call, message", [
    (lambda: toy.modes_covered(torch.zeros(5, 3), toy.ring_centres()), "samples must be"),
    (lambda: toy.modes_covered([[0.0, 0.0]], toy.ring_centres()), "samples must be"),
    (lambda: toy.modes_covered(torch.zeros(5, 2), torch.zeros(2, 4, 2)), "centres must"),
    (lambda: toy.modes_covered(torch.zeros(5, 2), toy.ring_centres(), std=0), "std must"),
    (lambda: toy.modes_covered(torch.zeros(5, 2), toy.ring_centres(), min_count=0),
     "min_count must"),
    (lambda: toy.high_quality_share(torch.zeros(5, 2), toy.ring_centres(), std=-1),
     "std must"),
    (lambda: toy.sample_ring(0), "n must"),
    (lambda: toy.sample_ring(5, generator=3), "generator must"),
    (lambda: toy.ring_centres(modes=0), "modes must"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize("kwargs, message", [
    (dict(seeds=[]), "seeds must"),
    (dict(seeds=[1, 1]), "seeds must"),
    (dict(seeds=[-1]), "each seed must"),
    (dict(seeds=3), "seeds must"),
    (dict(seeds=[0], steps=0), "steps must"),
    (dict(seeds=[0], beta1=1.0), "beta1 must"),
    (dict(seeds=[0], lr=-1e-3), "lr must"),
    (dict(seeds=[0], momentum=0.9), "unknown toy setting"),
    (dict(seeds=[0], settings={"steps": 3}), "settings must"),
])
def test_bad_training_arguments_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        toy.train(**kwargs)


def test_train_records_frames_and_scores_of_every_seed():
    run = toy.train([0, 1, 2], **SHORT)
    assert run["steps"] == [0, 10, 20]
    assert run["frames"].shape == (3, 3, 50, 2)
    assert run["modes"].shape == run["quality"].shape == (3, 3)
    assert run["settings"]["steps"] == 20 and run["seeds"] == [0, 1, 2]
    assert torch.equal(run["modes"], toy.count_modes(run["frames"], run["centres"],
                                                     toy.STD, 20))


def test_a_seed_gives_the_same_run_twice_and_alone_as_beside_others():
    both = toy.train([3, 4], **SHORT)
    again = toy.train([3, 4], **SHORT)
    alone = toy.train([4], **SHORT)
    assert torch.equal(both["frames"], again["frames"])
    assert torch.allclose(both["frames"][:, 1], alone["frames"][:, 0], atol=1e-6)
    assert not torch.allclose(both["frames"][-1, 0], both["frames"][-1, 1])


def test_train_leaves_the_global_random_stream_and_thread_count_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    toy.train([0], **SHORT)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_the_record_is_what_the_code_trains():
    record = toy.load_record()
    assert set(record) == {"baseline", "fix"}
    base = record["baseline"]
    settings = {k: v for k, v in base["settings"].items() if k != "steps"}
    rerun = toy.train(base["seeds"][:2], **{**settings, "steps": 200})
    kept = rerun["frames"][:, :, :toy.RECORD_POINTS].half().float()
    assert torch.equal(kept, base["frames"][:3, :2])
    assert torch.equal(rerun["modes"], base["modes"][:3, :2])
    assert record["fix"]["settings"]["beta1"] == 0.5 and base["settings"]["beta1"] == 0.9


def test_frame_pictures_are_grey_images_of_the_expected_size():
    centres = toy.ring_centres()
    picture = toy.frame_image(centres, centres, size=64)
    assert picture.shape == (64, 64) and picture.min() == 0.0 and picture.max() == 1.0
    strip = toy.frames_strip(torch.zeros(2, 3, 10, 2), centres, size=32, gap=4)
    assert len(strip) == 2 and strip[0].shape == (32, 3 * 32 + 2 * 4)
    assert np.all((strip[1] >= 0) & (strip[1] <= 1))
