"""Retrain the classifier behind the book's scores (IS, Fréchet distance, coverage).

    python tools/train_classifier.py --dataset mnist --epochs 4 --seed 0

writes ``dcgan_lib/weights/classifier-<dataset>.safetensors`` and its record.
"""

from __future__ import annotations

import argparse
import json

from dcgan_lib import data
from dcgan_lib.metrics import save_classifier, train_classifier


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python tools/train_classifier.py",
                                     description="Train the metric classifier.")
    parser.add_argument("--dataset", default="mnist", choices=data.DATASETS)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model, record = train_classifier(args.dataset, args.epochs, args.seed)
    save_classifier(model, record, args.dataset)
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
