"""The MNIST recipe search's record (dcgan_lib/weights/search-mnist.json, written by
tools/search_recipe.py): its curves are what the runs logged, and its settings are the
recipe module's."""

import json

import pytest

from dcgan_lib import pretrained
from dcgan_lib.recipes import SEARCH, SEARCH_CONTROL_NAME, SHIPPED, search_candidate_of
from tools.search_recipe import curve_from_log

RECORD = json.loads((pretrained.WEIGHTS / "search-mnist.json").read_text())


def test_a_logged_stop_becomes_a_point_of_the_curve():
    log = ("[0/30][99/937] Loss_D: 0.03 Loss_G: 4.9\n"
           "  step 500/20000: 55 s  inception_score 1.000  frechet_distance 2019.997\n"
           "  step 1000/20000: 90.5 s  inception_score 4.853  frechet_distance 443.741\n")
    assert curve_from_log(log) == [
        {"step": 500, "seconds": 55.0, "inception_score": 1.0, "frechet_distance": 2019.997},
        {"step": 1000, "seconds": 90.5, "inception_score": 4.853,
         "frechet_distance": 443.741}]
    assert curve_from_log("no stops here\n") == []


@pytest.mark.parametrize("name", [n for n in RECORD if n in SEARCH])
def test_each_candidate_changes_what_the_recipe_module_says(name):
    assert RECORD[name]["change"] == SEARCH[name]


def test_the_control_is_the_candidate_with_no_change_and_has_its_curve():
    control = RECORD[SEARCH_CONTROL_NAME]
    assert control["change"] == {}
    steps = [p["step"] for p in control["curve"]]
    assert steps == sorted(steps) and len(steps) >= 10


def test_the_shipped_mnist_recipe_is_the_best_finished_candidate():
    finished = {k: e for k, e in RECORD.items() if "final" in e}
    best = min(finished, key=lambda k: finished[k]["final"]["frechet_distance"])
    assert search_candidate_of(SHIPPED["mnist"]) == best
    recorded = json.loads(pretrained.paths("mnist")["record"].read_text())["config"]
    assert search_candidate_of(recorded) == best


@pytest.mark.parametrize("name", list(RECORD))
def test_every_entry_has_a_curve_and_either_final_scores_or_why_it_stopped(name):
    entry = RECORD[name]
    assert entry["curve"] and all("frechet_distance" in p for p in entry["curve"])
    assert ("final" in entry) != ("stopped" in entry)
    if "final" in entry:
        assert entry["final"]["n"] == 10_000
