"""Train the discriminators behind chapter 6's linear probe and ship them with their record.

    python tools/train_probe_discriminators.py

trains a width-16 DCGAN on MNIST for ``STEPS`` steps with each seed of ``SEEDS`` (the loop
of ``dcgan_lib.train``, nothing else changed) and writes the discriminators into
``dcgan_lib/weights/probe-discriminators.safetensors`` and their record (settings, seconds,
the command) into ``probe-discriminators.json``.
"""

from __future__ import annotations

import dataclasses
import json
import time

import torch
from safetensors.torch import save_file

from dcgan_lib.pretrained import WEIGHTS, trained_on
from dcgan_lib.probe import PROBE_CONFIG, PROBE_SEEDS
from dcgan_lib.train import train


def main() -> None:
    tensors, runs = {}, []
    for seed in PROBE_SEEDS:
        cfg = dataclasses.replace(PROBE_CONFIG, seed=seed)
        start = time.perf_counter()
        result = train(cfg)
        for key, value in result.discriminator.cpu().state_dict().items():
            tensors[f"seed{seed}.{key}"] = value.contiguous()
        runs.append({"seed": seed, "seconds": time.perf_counter() - start,
                     "final_errD": result.history["errD"][-1],
                     "final_errG": result.history["errG"][-1]})
        print(f"seed {seed}: {runs[-1]['seconds']:.0f} s", flush=True)
    save_file(tensors, str(WEIGHTS / "probe-discriminators.safetensors"))
    record = {"config": dataclasses.asdict(PROBE_CONFIG), "seeds": list(PROBE_SEEDS),
              "runs": runs, "trained_on": trained_on(), "torch": torch.__version__,
              "command": "python tools/train_probe_discriminators.py"}
    (WEIGHTS / "probe-discriminators.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
