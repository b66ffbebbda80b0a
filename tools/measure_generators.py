"""Measure the shipped generators the standard way, once, and write the record chapter 6 reads.

For each shipped generator (``dcgan_lib/weights/generator-<name>.safetensors``) this draws
10,000 samples and scores them against the 10,000 test images in the project's classifier:
the Inception Score, the Fréchet distance with a bootstrap interval, the class coverage,
and the histogram of the classifier's confidence; beside each, what real images reach
the same way (10,000 training images against the test images: the floor). It also
records the Fréchet distance at smaller n (why small samples mislead) and, for MNIST, the
nearest training images of generated and of real test images (the memorisation check).
The result goes to ``dcgan_lib/weights/metrics-<name>.json``; ``tests/test_measured_metrics.py``
checks it against the weights.

``--collapse`` reruns the guideline runs that collapse (seed 0, with the DCGAN baseline
as the control) and keeps their sample grids in ``dcgan_lib/weights/collapse-mnist.*``.

    PYTHONPATH=. python tools/measure_generators.py              # both data sets
    PYTHONPATH=. python tools/measure_generators.py --collapse   # the collapsed runs
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import time

import numpy as np
import torch

from dcgan_lib import data, metrics, pretrained

N = 10_000  # generated samples, test images and training images per measurement
N_BOOT = 200  # bootstrap resamples of the Fréchet distance
N_CHECK = 2_000  # the sizes the test recomputes (tests/test_measured_metrics.py)
FD_SIZES = (250, 500, 1000, 2000, 5000, 10_000)
FD_REPEATS = 5  # random subsets per size below N
N_MEMO = 1_000  # generated and test images whose nearest training images are searched
CONFIDENCE_EDGES = np.linspace(0.0, 1.0, 21)
COLLAPSE_RUNS = ("baseline (DCGAN)", "no norm in D", "LayerNorm in D", "minimax G loss")
COLLAPSE_SEED = 0
COLLAPSE_SAMPLE_EVERY = 100
COLLAPSE_FRAME_LATENTS = 16  # of the 64 fixed latents, the ones kept through training


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp(command: str) -> dict:
    return {"command": command,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "trained_on": pretrained.trained_on(), "torch": torch.__version__}


def scores(probs: torch.Tensor) -> dict:
    """IS, coverage and confidence of one image set from its class probabilities."""
    confidence = probs.max(1).values.numpy()
    found = metrics.probability_scores(probs)
    return {k: found[k] for k in ("inception_score", "coverage_kl", "class_counts")} | {
        "confidence_counts": np.histogram(confidence, CONFIDENCE_EDGES)[0].tolist(),
        "share_below_0.9": found["share_below_0.9"]}


def interval(estimate: float, values: np.ndarray) -> dict:
    """A 95 % interval from bootstrap distances: the estimate +- 1.96 bootstrap standard
    deviations. The bootstrap's own percentiles are not used: a resampled set repeats
    images, which inflates the distance the way a smaller n does (``mean`` sits above
    the estimate), so they are shifted to the right of it."""
    sd = float(values.std(ddof=1))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return {"low": estimate - 1.96 * sd, "high": estimate + 1.96 * sd, "std": sd,
            "mean": float(values.mean()), "percentile_low": float(lo),
            "percentile_high": float(hi), "level": 0.95, "n_boot": len(values)}


def fd(a: np.ndarray, b: np.ndarray) -> float:
    return metrics.frechet_from_stats(*metrics.gaussian_stats(a), *metrics.gaussian_stats(b))


def fd_against_n(f_fake, f_test, f_train) -> dict:
    """Mean and spread over random subsets of the Fréchet distance at each size."""
    rng = np.random.default_rng(0)
    out = {"n": list(FD_SIZES), "repeats": FD_REPEATS, "floor_mean": [], "floor_std": [],
           "generator_mean": [], "generator_std": []}
    for n in FD_SIZES:
        floor, gen = [], []
        for _ in range(FD_REPEATS if n < N else 1):
            i_test = rng.choice(N, n, replace=False)
            i_other = rng.choice(N, n, replace=False)
            floor.append(fd(f_train[i_other], f_test[i_test]))
            gen.append(fd(f_fake[i_other], f_test[i_test]))
        out["floor_mean"].append(float(np.mean(floor)))
        out["floor_std"].append(float(np.std(floor, ddof=1)) if len(floor) > 1 else 0.0)
        out["generator_mean"].append(float(np.mean(gen)))
        out["generator_std"].append(float(np.std(gen, ddof=1)) if len(gen) > 1 else 0.0)
    return out


def nearest(queries: torch.Tensor, pool: torch.Tensor, chunk: int = 250):
    """Distance to, and index of, each query's nearest row of ``pool`` (Euclidean)."""
    dist, idx = [], []
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i:i + chunk], pool)
        best = d.min(1)
        dist.append(best.values)
        idx.append(best.indices)
    return torch.cat(dist), torch.cat(idx)


def memorisation(classifier, fake, test) -> dict:
    """Nearest training images of ``N_MEMO`` generated and test images, in pixels (root
    mean square difference over the 1,024 pixels, in [-1, 1]) and in the classifier's
    128 features (Euclidean)."""
    train, _ = data.load("mnist", "train", image_size=32)
    out = {"n": N_MEMO, "pool": len(train), "pixel": {}, "feature": {}}
    pool_px = train.flatten(1)
    pool_ft = metrics.features(classifier, train).float()
    for name, images in (("generated", fake[:N_MEMO]), ("test", test[:N_MEMO])):
        d, i = nearest(images.flatten(1), pool_px)
        out["pixel"][name] = [round(float(v), 5) for v in d / 32.0]  # sqrt(1024) = 32
        out["pixel"][name + "_index"] = i.tolist()
        d, i = nearest(metrics.features(classifier, images).float(), pool_ft)
        out["feature"][name] = [round(float(v), 4) for v in d]
        out["feature"][name + "_index"] = i.tolist()
    return out


def measure(name: str, log=print) -> dict:
    start = time.perf_counter()
    classifier, _ = metrics.load_classifier(name)
    generator, record = pretrained.load_generator(name)
    fake = pretrained.sample_images(generator, N, pretrained.EVAL_SEED)
    test, _ = data.load(name, "test", image_size=32, limit=N)
    train, _ = data.load(name, "train", image_size=32, limit=N)
    sets = {"generated": fake, "test": test, "train": train}
    probs = {k: metrics.predict_proba(classifier, v) for k, v in sets.items()}
    feats = {k: metrics.features(classifier, v).numpy() for k, v in sets.items()}
    log(f"{name}: probabilities and features of {3 * N} images "
        f"({time.perf_counter() - start:.0f} s)")
    boot_gen = metrics.frechet_bootstrap(feats["generated"], feats["test"], N_BOOT, seed=0)
    boot_floor = metrics.frechet_bootstrap(feats["train"], feats["test"], N_BOOT, seed=1)
    gen_fd, floor_fd = fd(feats["generated"], feats["test"]), fd(feats["train"], feats["test"])
    m = N_CHECK
    out = {
        "dataset": name, "n": N, "eval_seed": pretrained.EVAL_SEED,
        "generator_sha256": sha256(pretrained.paths(name)["weights"]),
        "generator_steps": record["steps"],
        "generated": scores(probs["generated"]) | {
            "frechet_distance": gen_fd, "frechet_interval": interval(gen_fd, boot_gen)},
        "test": scores(probs["test"]),
        "train": scores(probs["train"]) | {
            "frechet_distance": floor_fd, "frechet_interval": interval(floor_fd, boot_floor)},
        "confidence_edges": CONFIDENCE_EDGES.tolist(),
        "frechet_against_n": fd_against_n(feats["generated"], feats["test"], feats["train"]),
        "check": {  # what pretrained.evaluate(generator, name, n=N_CHECK) returns
            "n": m,
            "inception_score": metrics.inception_score_from_probs(probs["generated"][:m]),
            "frechet_distance": fd(feats["generated"][:m], feats["test"][:m]),
            "coverage_kl": scores(probs["generated"][:m])["coverage_kl"],
            "real_frechet_floor": fd(feats["train"][:m], feats["test"][:m])},
    }
    if name == "mnist":
        out["memorisation"] = memorisation(classifier, fake, test)
    out |= stamp(f"PYTHONPATH=. python tools/measure_generators.py --names {name}")
    out["seconds"] = round(time.perf_counter() - start, 1)
    log(f"{name}: IS {out['generated']['inception_score']:.3f} "
        f"(real {out['test']['inception_score']:.3f}), FD {gen_fd:.2f} "
        f"(floor {floor_fd:.2f}), KL {out['generated']['coverage_kl']:.4f} "
        f"({out['seconds']:.0f} s)")
    return out


def collapse(log=print) -> dict:
    """Rerun the collapsing guideline runs and the baseline (seed 0) with sample grids."""
    from safetensors.torch import save_file

    from dcgan_lib import recipes
    from dcgan_lib.settings import TrainConfig
    from dcgan_lib.train import train

    classifier, _ = metrics.load_classifier("mnist")
    recorded = {(r["name"], r["seed"]): r for r in pretrained.guideline_runs()}
    runs, finals, frames, steps = [], [], [], None
    for name in COLLAPSE_RUNS:
        cfg = TrainConfig(**recipes.GUIDELINE_BASE, **recipes.GUIDELINES[name],
                          seed=COLLAPSE_SEED, out=None, progress=False,
                          sample_every=COLLAPSE_SAMPLE_EVERY)
        result = train(cfg)
        g = result.generator.cpu()
        fake = pretrained.sample_images(g, 1000, pretrained.EVAL_SEED, cfg.latent_dist)
        s = scores(metrics.predict_proba(classifier, fake))
        finals.append(((fake[:64] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
        frames.append(torch.stack([grid[:COLLAPSE_FRAME_LATENTS]
                                   for _, grid in result.history["samples"]]))
        steps = [step for step, _ in result.history["samples"]]
        old = recorded[(name, COLLAPSE_SEED)]["metrics"]
        runs.append({"name": name, "seed": COLLAPSE_SEED, "change": recipes.GUIDELINES[name],
                     "inception_score": s["inception_score"], "coverage_kl": s["coverage_kl"],
                     "class_counts": s["class_counts"],
                     "recorded_inception_score": old["inception_score"],
                     "recorded_class_counts": old["class_counts"]})
        log(f"{name}: IS {s['inception_score']:.4f} (guidelines.json "
            f"{old['inception_score']:.4f}), counts {s['class_counts']}")
    files = {"samples": pretrained.WEIGHTS / "collapse-mnist.safetensors",
             "record": pretrained.WEIGHTS / "collapse-mnist.json"}
    save_file({"final": torch.stack(finals).contiguous(),
               "frames": torch.stack(frames).contiguous(),
               "steps": torch.tensor(steps)}, str(files["samples"]))
    record = {"runs": runs, "base": recipes.GUIDELINE_BASE, "eval_n": 1000,
              "eval_seed": pretrained.EVAL_SEED, "sample_every": COLLAPSE_SAMPLE_EVERY,
              "final": "64 samples from the first 64 evaluation latents, uint8",
              "frames": f"the first {COLLAPSE_FRAME_LATENTS} of the 64 fixed training "
                        f"latents every sample_every steps, uint8"}
    record |= stamp("PYTHONPATH=. python tools/measure_generators.py --collapse")
    files["record"].write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--names", nargs="+", default=list(pretrained.NAMES),
                   choices=pretrained.NAMES)
    p.add_argument("--collapse", action="store_true",
                   help="rerun the collapsed guideline runs instead")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # the records were made so; small convolutions gain little
    if args.collapse:
        collapse()
        return 0
    for name in args.names:
        out = measure(name)
        path = pretrained.WEIGHTS / f"metrics-{name}.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
