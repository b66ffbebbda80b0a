"""python -m dcgan_lib.exercises generate [--check] | grade PATH.ipynb [--json]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcgan_lib.exercises.generate import SourceError, generate
from dcgan_lib.exercises.grade import DEFAULT_TIME_LIMIT, main_grade


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcgan_lib.exercises",
                                     description="The book's graded exercises.")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write the learner notebooks from the solutions")
    gen.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if a learner notebook is out of date")
    gen.add_argument("--solutions", type=Path, default=Path("exercises/solutions"))
    gen.add_argument("--out", type=Path, default=Path("exercises"))
    grd = commands.add_parser("grade", help="run a learner notebook and score each exercise")
    grd.add_argument("paths", nargs="+", type=Path, metavar="PATH.ipynb")
    grd.add_argument("--json", action="store_true", help="print the scores as JSON")
    grd.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                     help="seconds allowed for each cell and each check "
                          f"(default {DEFAULT_TIME_LIMIT:g})")
    args = parser.parse_args(argv)

    if args.command == "generate":
        try:
            report = generate(args.solutions, args.out, check=args.check)
        except SourceError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for line in report:
            print(line, file=sys.stderr if args.check else sys.stdout)
        if args.check:
            if report:
                return 1
            print("learner notebooks are up to date")
        return 0
    for path in args.paths:
        if not path.is_file():
            print(f"error: no notebook at {path}", file=sys.stderr)
            return 2
    try:
        return main_grade(args.paths, args.json, args.time_limit)
    except (ValueError, SourceError) as error:  # not a notebook, or no exercises in it
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
