"""The guideline comparison: its settings reach the models, are checked, and are recorded."""

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

from dcgan_lib import pretrained, recipes
from dcgan_lib.fast import Speedups
from dcgan_lib.run import build_models
from dcgan_lib.settings import RESUME_MUST_MATCH, TrainConfig


def models(**change):
    cfg = TrainConfig(image_size=32, width=8, **change)
    return build_models(cfg, 1, torch.device("cpu"), Speedups())


@pytest.mark.parametrize(("change", "message"), [
    ({"init": "he"}, "init must be one of 'dcgan', 'default', got 'he'"),
    ({"g_leak": 1.0}, r"g_leak must be a number in \[0, 1\), got 1.0"),
    ({"g_leak": -0.2}, r"g_leak must be a number in \[0, 1\), got -0.2"),
    ({"g_output": "sigmoid"}, "g_output must be one of 'tanh', 'linear', got 'sigmoid'"),
    ({"d_hidden": -1}, "d_hidden must be a non-negative integer, got -1"),
    ({"d_hidden": 1.5}, "d_hidden must be a non-negative integer, got 1.5"),
])
def test_a_bad_architecture_setting_is_named_with_what_was_expected(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validate()


def test_the_architecture_settings_default_to_dcgan_and_must_match_on_resume():
    cfg = TrainConfig()
    assert (cfg.init, cfg.g_leak, cfg.g_output, cfg.d_hidden) == ("dcgan", 0.0, "tanh", 0)
    assert {"init", "g_leak", "g_output", "d_hidden"} <= set(RESUME_MUST_MATCH)


def test_each_architecture_setting_reaches_the_models_the_run_builds():
    netG, netD = models(g_leak=0.2, g_output="linear", d_hidden=32)
    assert sum(isinstance(m, nn.LeakyReLU) for m in netG.modules()) == 3
    assert not any(isinstance(m, nn.Tanh) for m in netG.modules())
    assert [m.out_features for m in netD.modules() if isinstance(m, nn.Linear)] == [32, 1]
    netG, _ = models(g_norm="none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in netG.modules())


def test_pytorch_init_gives_the_no_norm_discriminator_larger_logits_than_dcgan_init():
    x = torch.rand(32, 1, 32, 32) * 2 - 1
    spread = {}
    for init in ("dcgan", "default"):
        torch.manual_seed(0)
        _, netD = models(d_norm="none", init=init)
        with torch.no_grad():
            spread[init] = netD(x).std().item()
    assert spread["default"] > 5 * spread["dcgan"]


def test_every_guideline_changes_settings_that_exist_and_pass_their_checks():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, change in recipes.GUIDELINES.items():
        assert set(change) <= names, name
        TrainConfig(**recipes.GUIDELINE_BASE, **change).validate()
    for name, control in recipes.GUIDELINE_CONTROLS.items():
        assert name in recipes.GUIDELINES and control in recipes.GUIDELINES


# The record, dcgan_lib/weights/guidelines.json


def test_the_record_holds_every_guideline_with_every_seed_once():
    runs = pretrained.guideline_runs()
    keys = [(r["name"], r["seed"]) for r in runs]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(n, s) for n in recipes.GUIDELINES for s in recipes.GUIDELINE_SEEDS}


def test_every_recorded_run_differs_from_its_control_in_exactly_its_change():
    runs = pretrained.guideline_runs()
    config = {(r["name"], r["seed"]): r["config"] for r in runs}
    for run in runs:
        assert run["control"] == recipes.guideline_control(run["name"])
        control = config[(run["control"], run["seed"])]
        diff = {k: v for k, v in run["config"].items() if control[k] != v}
        expected = {k: v for k, v in recipes.GUIDELINES[run["name"]].items()
                    if recipes.GUIDELINES[run["control"]].get(k) != v}
        assert diff == expected, run["name"]
        assert set(run["config"]) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_every_recorded_run_has_its_length_metrics_and_late_probabilities():
    for run in pretrained.guideline_runs():
        assert run["steps"] == recipes.GUIDELINE_BASE["max_steps"]
        m = run["metrics"]
        assert 1 <= m["inception_score"] <= 10 and m["frechet_distance"] > 0
        assert 0 <= m["coverage_kl"] <= math.log(10) + 1e-9 and sum(m["class_counts"]) == 1000
        assert 0 <= run["final_D_x"] <= 1 and 0 <= run["final_D_G_z"] <= 1


def test_the_run_without_tanh_records_how_many_pixels_leave_the_range():
    runs = [r for r in pretrained.guideline_runs() if r["config"]["g_output"] == "linear"]
    assert len(runs) == len(recipes.GUIDELINE_SEEDS)
    assert all(0 <= r["outside_pixel_range"] <= 1 for r in runs)



# The longer comparison, dcgan_lib/weights/guidelines-long.json


def long_runs():
    return json.loads((pretrained.WEIGHTS / "guidelines-long.json").read_text())["runs"]


def test_the_long_record_holds_its_guidelines_with_every_seed_measured_at_every_stop():
    runs = long_runs()
    expected = {(n, s) for n in recipes.GUIDELINE_LONG["names"] for s in recipes.GUIDELINE_SEEDS}
    assert {(r["name"], r["seed"]) for r in runs} == expected and len(runs) == len(expected)
    every, last = recipes.GUIDELINE_LONG["eval_every"], recipes.GUIDELINE_LONG["max_steps"]
    for run in runs:
        assert [s["step"] for s in run["stops"]] == list(range(every, last + 1, every))
        assert all(s["frechet_distance"] > 0 for s in run["stops"])
        assert run["config"]["max_steps"] == last and run["config"]["seed"] == run["seed"]
        assert run["config"]["beta1"] == {**recipes.GUIDELINES[run["name"]]}.get("beta1", 0.5)


def test_the_long_runs_repeat_the_table_runs_at_the_table_length():
    """Bit for bit where the table run was trained by the present code; the baseline's
    table runs predate it, and its repeats stay inside their range over seeds."""
    runs = pretrained.guideline_runs()
    table = {(r["name"], r["seed"]): r["metrics"]["frechet_distance"] for r in runs}
    spread = pretrained.guideline_summary(runs)
    for run in long_runs():
        stop = next(s for s in run["stops"] if s["step"] == recipes.GUIDELINE_BASE["max_steps"])
        if run["name"] == "baseline (DCGAN)":
            row = spread[run["name"]]
            assert row["min"] <= stop["frechet_distance"] <= row["max"]
        else:
            assert stop["frechet_distance"] == pytest.approx(
                table[(run["name"], run["seed"])], rel=1e-6), run["name"]
