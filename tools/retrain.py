"""Remake the shipped generators or the guideline comparison in ``dcgan_lib/weights/``.

    python tools/retrain.py --train mnist                 # the shipped MNIST generator
    python tools/retrain.py --train fashion-mnist --max-steps 8000
    python tools/retrain.py --guidelines                  # every guideline, every seed
    python tools/retrain.py --guidelines "no tanh in G" --seeds 0 1 2
    python tools/retrain.py --long                        # the longer comparison
"""

from __future__ import annotations

import sys

from dcgan_lib.pretrained import NAMES
from dcgan_lib.recipes import (
    GUIDELINE_LONG,
    GUIDELINE_SEEDS,
    GUIDELINES,
    run_guidelines,
    run_guidelines_long,
    train_shipped,
)


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python tools/retrain.py",
                                description="Retrain the shipped generators or rerun the "
                                            "guideline comparison.")
    p.add_argument("--train", choices=NAMES)
    p.add_argument("--guidelines", nargs="*", metavar="NAME",
                   help="rerun these guideline comparisons (none named: all of them)")
    p.add_argument("--long", nargs="*", metavar="NAME",
                   help=f"rerun the {GUIDELINE_LONG['max_steps']}-step comparison of these "
                        f"guidelines (none named: {', '.join(GUIDELINE_LONG['names'])})")
    p.add_argument("--seeds", nargs="+", type=int, default=list(GUIDELINE_SEEDS),
                   help="the seeds of the guideline runs")
    p.add_argument("--max-steps", type=int, default=None,
                   help="train exactly this many steps instead of the time budget")
    p.add_argument("--out", default="runs/pretrained")
    args = p.parse_args(argv)
    if args.train:
        extra = {} if args.max_steps is None else {"max_steps": args.max_steps,
                                                    "budget_seconds": None}
        train_shipped(args.train, f"{args.out}/{args.train}", **extra)
    for names in (args.guidelines, args.long):
        unknown = [n for n in names or () if n not in GUIDELINES]
        if unknown:
            p.error(f"unknown guideline {unknown[0]!r}; expected one of "
                    f"{', '.join(map(repr, GUIDELINES))}")
    if args.guidelines is not None:
        run_guidelines(args.guidelines or None, args.seeds)
    if args.long is not None:
        run_guidelines_long(args.long or None, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
