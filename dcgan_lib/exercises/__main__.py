"""python -m dcgan_lib.exercises grade PATH.ipynb ... [--json] [--time-limit SECONDS]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcgan_lib.exercises.grade import DEFAULT_TIME_LIMIT, main_grade, positive_seconds


def _seconds(text: str) -> float:
    try:
        return positive_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcgan_lib.exercises",
                                     description="The book's graded exercises.")
    commands = parser.add_subparsers(dest="command", required=True)
    grd = commands.add_parser("grade", help="run learner notebooks and score each exercise")
    grd.add_argument("paths", nargs="+", type=Path, metavar="PATH.ipynb")
    grd.add_argument("--json", action="store_true", help="print the scores as JSON")
    grd.add_argument("--time-limit", type=_seconds, default=DEFAULT_TIME_LIMIT,
                     help="seconds allowed for each cell and each exercise's check, a "
                          f"positive number (default {DEFAULT_TIME_LIMIT:g})")
    args = parser.parse_args(argv)
    for path in args.paths:
        if not path.is_file():
            print(f"error: no notebook at {path}", file=sys.stderr)
            return 2
    try:
        return main_grade(args.paths, args.json, args.time_limit)
    except KeyboardInterrupt:
        print("interrupted: no grades were printed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
