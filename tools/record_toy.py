"""Train the toy GAN's mode-collapse comparison once and write the record chapter 4 reads.

Five seeds on the ring of eight Gaussians (``dcgan_lib.toy``), each trained twice with
the same settings but Adam's first-moment decay: ``beta1 = 0.9`` (Adam's default, the
baseline) and ``beta1 = 0.5`` (DCGAN's choice). The scores of every frame and the first
``toy.RECORD_POINTS`` points of each seed's frames go to ``dcgan_lib/weights/toy-ring.*``;
``tests/test_toy.py`` retrains a short stretch and checks that it matches the record.

    PYTHONPATH=. python tools/record_toy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: this checkout's library
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcgan_lib import toy  # noqa: E402

SEEDS = [0, 1, 2, 3, 4]
BETAS = {"baseline": 0.9, "fix": 0.5}


def main() -> None:
    runs = {}
    for name, beta1 in BETAS.items():
        runs[name] = toy.train(SEEDS, beta1=beta1)
        final = runs[name]["modes"][-1].tolist()
        print(f"{name} (beta1 = {beta1}): modes covered at the end {final}, "
              f"{runs[name]['seconds']:.0f} s")
    toy.save_record(runs)
    print(f"wrote {toy.RECORD}.json and .safetensors")


if __name__ == "__main__":
    main()
