"""Training settings are written once: the dataclass field drives checks, CLI and resume."""

import argparse
import dataclasses

import pytest

from dcgan_lib import checks
from dcgan_lib.settings import (
    RESUME_MUST_MATCH,
    TrainConfig,
    add_arguments,
    from_arguments,
    setting,
)
from dcgan_lib.train import _parser


@dataclasses.dataclass
class WithWarmup(TrainConfig):
    """TrainConfig with one setting added, the way every setting is written."""

    warmup: int = setting(0, "steps of learning-rate warm-up", checks.non_negative_int, True)


def parse(argv, config=TrainConfig):
    parser = argparse.ArgumentParser()
    add_arguments(parser, config)
    return from_arguments(parser.parse_args(argv), config)


def test_a_setting_written_once_reaches_the_command_line_checks_and_help():
    parser = argparse.ArgumentParser()
    add_arguments(parser, WithWarmup)
    assert "steps of learning-rate warm-up" in parser.format_help()
    cfg = parse(["--warmup", "5", "--out", "x"], WithWarmup)
    assert cfg.warmup == 5 and cfg.validate() is cfg
    with pytest.raises(ValueError, match="warmup must be a non-negative integer, got -1"):
        parse(["--warmup", "-1", "--out", "x"], WithWarmup).validate()


def test_every_setting_has_one_command_line_option_with_its_default():
    help_text = _parser().format_help()
    for f in dataclasses.fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in help_text, f.name
    cfg = parse(["--out", "runs/x"])
    assert cfg == TrainConfig(out="runs/x")


def test_booleans_take_a_no_form_and_types_come_from_the_annotations():
    cfg = parse(["--out", "x", "--no-fast", "--no-progress", "--limit", "64", "--lr", "1e-3"])
    assert (cfg.fast, cfg.progress, cfg.limit, cfg.lr) == (False, False, 64, 1e-3)


def test_resume_must_match_the_settings_that_change_the_run():
    assert "lr" in RESUME_MUST_MATCH and "seed" in RESUME_MUST_MATCH
    assert "epochs" not in RESUME_MUST_MATCH and "max_steps" not in RESUME_MUST_MATCH
    assert "device" not in RESUME_MUST_MATCH and "out" not in RESUME_MUST_MATCH


@pytest.mark.parametrize(("change", "message"), [
    ({"width": 0}, "width must be a positive integer, got 0"),
    ({"dataset": "cifar"},
     "dataset must be one of 'mnist', 'fashion-mnist', 'cifar10', 'celeba', 'folder', "
     "got 'cifar'"),
    ({"leak": 1.0}, r"leak must be a number in \[0, 1\), got 1.0"),
    ({"lr": float("nan")}, "lr must be a positive finite number, got nan"),
    ({"limit": 0}, "limit must be a positive integer or None, got 0"),
    ({"log_every": -1}, "log_every must be a non-negative integer, got -1"),
    ({"checkpoint_every": 5}, "checkpoint_every=5 needs an output folder"),
])
def test_a_bad_setting_is_named_with_what_was_expected(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validate()
