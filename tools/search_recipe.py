"""Train one candidate of the MNIST recipe search and keep its curve and scores.

Each candidate (``dcgan_lib.recipes.SEARCH``) is the search's control recipe
(``SEARCH_CONTROL``, itself the candidate with no change) with the named settings changed,
trained for ``SEARCH_STEPS`` steps. The candidate's generator, record and frames go to
``runs/search/<slug>/`` (copy them over ``dcgan_lib/weights/generator-mnist.*`` to ship
one), and its curve and its scores at n = 10,000 into ``dcgan_lib/weights/search-mnist.json``.

    PYTHONPATH=. python tools/search_recipe.py --candidate "width 32, constant step size"
    PYTHONPATH=. python tools/search_recipe.py --candidate "linear decay"
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from dcgan_lib import data, metrics, pretrained
from dcgan_lib.recipes import SEARCH, SEARCH_CONTROL, train_shipped

N = 10_000
RECORD = pretrained.WEIGHTS / "search-mnist.json"


def scores(generator, classifier, test_stats) -> dict:
    """IS, Fréchet distance to the test images, coverage and low-confidence share at N."""
    fake = pretrained.sample_images(generator, N, pretrained.EVAL_SEED)
    found = metrics.probability_scores(metrics.predict_proba(classifier, fake))
    stats = metrics.gaussian_stats(metrics.features(classifier, fake))
    return {"n": N, "inception_score": found["inception_score"],
            "frechet_distance": metrics.frechet_from_stats(*stats, *test_stats),
            "coverage_kl": found["coverage_kl"], "share_below_0.9": found["share_below_0.9"]}


def curve_from_log(text: str) -> list[dict]:
    """The stops ``train_in_chunks`` logged: "step S/T: X s  name value  ..."."""
    curve = []
    for line in text.splitlines():
        m = re.match(r"\s*step (\d+)/\d+: (\S+) s\s+(.*)", line)
        if m:
            words = m.group(3).split()
            curve.append({"step": int(m.group(1)), "seconds": float(m.group(2)),
                          **{k: float(v) for k, v in zip(words[::2], words[1::2], strict=True)}})
    return curve


def entry(record: dict, change: dict, final: dict, command: str) -> dict:
    return {"change": change, "steps": record["steps"],
            "train_seconds": record["train_seconds"], "trained_on": record["trained_on"],
            "command": command, "curve": record["metrics_during_training"], "final": final}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tools/search_recipe.py")
    p.add_argument("--candidate", choices=list(SEARCH))
    p.add_argument("--abandoned", nargs=3, metavar=("CANDIDATE", "LOG", "WHY"),
                   help="keep the curve of a candidate stopped early, read from its log")
    args = p.parse_args(argv)
    classifier, _ = metrics.load_classifier("mnist")
    test, _ = data.load("mnist", "test", image_size=32, limit=N)
    test_stats = metrics.gaussian_stats(metrics.features(classifier, test))
    found = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    if args.abandoned:
        name, log, why = args.abandoned
        found[name] = {"change": SEARCH[name], "stopped": why, "command":
                       f"python tools/search_recipe.py --candidate {name!r}",
                       "curve": curve_from_log(Path(log).read_text())}
    if args.candidate:
        slug = args.candidate.replace(",", "").replace(" ", "-")
        out = Path("runs/search") / slug
        out.mkdir(parents=True, exist_ok=True)
        files = {"weights": out / "generator-mnist.safetensors",
                 "record": out / "generator-mnist.json",
                 "samples": out / "samples-mnist.safetensors"}
        start = time.perf_counter()
        generator, record = train_shipped("mnist", str(out / "run"), write=files,
                                          **SEARCH_CONTROL | SEARCH[args.candidate])
        final = scores(generator, classifier, test_stats)
        command = f"python tools/search_recipe.py --candidate {args.candidate!r}"
        found = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
        found[args.candidate] = entry(record, SEARCH[args.candidate], final, command)
        print(f"{args.candidate}: {json.dumps(final)} "
              f"({time.perf_counter() - start:.0f} s)")
    RECORD.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
