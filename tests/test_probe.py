"""The linear probe: a discriminator's features fed to a linear classifier."""

import pytest
import torch

from dcgan_lib.models import Discriminator
from dcgan_lib.probe import (
    PROBE_CONFIG,
    PROBE_SEEDS,
    discriminator_features,
    load_probe_discriminators,
    probe_accuracy,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_linear_rule_is_found_and_random_labels_stay_at_chance():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 20, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # four classes, linearly separable
    assert probe_accuracy(x[:400], y[:400], x[400:], y[400:], classes=4) > 0.85  # chance 0.25
    noise = torch.randint(0, 4, (600,), generator=g)
    assert probe_accuracy(x[:400], noise[:400], x[400:], noise[400:], classes=4) < 0.4


def test_features_pool_every_layer_to_a_4x4_grid():
    net = Discriminator(32, 1, 8)
    features = discriminator_features(net, torch.zeros(3, 1, 32, 32))
    assert features.shape == (3, (8 + 16 + 32) * 16)


def test_the_shipped_discriminators_are_the_probe_recipe():
    nets, record = load_probe_discriminators()
    assert sorted(nets) == sorted(record["seeds"]) == sorted(PROBE_SEEDS)
    assert record["config"]["max_steps"] == PROBE_CONFIG.max_steps
    assert record["command"] == "python tools/train_probe_discriminators.py"
    untrained = Discriminator(32, 1, PROBE_CONFIG.width)
    assert any((a - b).abs().max() > 0.01 for a, b in zip(
        nets[0].state_dict().values(), untrained.state_dict().values(), strict=True))


def test_features_and_labels_must_pair_up():
    with pytest.raises(ValueError, match="features and labels must pair up"):
        probe_accuracy(torch.zeros(3, 2), torch.zeros(2).long(), torch.zeros(1, 2),
                       torch.zeros(1).long())
