"""How an exercise notebook is laid out: its file name, headings, solution markers, checks.

``NN_<chapter>.ipynb`` holds chapter NN's exercises. An exercise is a markdown cell headed
``## Exercise N.M ...``, a code cell (in a solution notebook the solution lines sit between
whole-line markers ``# BEGIN SOLUTION`` and ``# END SOLUTION``), and a check cell, one call
``check_<name>(<the learner's names>)``. The grader reads notebooks through these, and
``tools/exercises.py`` writes the learner notebooks with them.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
HEADING = re.compile(r"^#{1,6}\s+Exercise\s+(\d+)\.(\d+)\b", re.M)
CHECK_CALL = re.compile(r"^(check_\w+)\(([\w\s,]*)\)$")
NOTEBOOK_NAME = re.compile(r"^(\d\d)_\w+\.ipynb$")
CHECK_TAG = "raises-exception"


class NotebookError(ValueError):
    """A notebook that is not an exercise notebook of this book, in one sentence."""


def chapter_of(path) -> int:
    """The chapter an exercise notebook belongs to, from its file name ``NN_<chapter>``."""
    match = NOTEBOOK_NAME.match(Path(path).name)
    if not match:
        raise NotebookError(f"exercise notebooks are named NN_<chapter>.ipynb, "
                            f"got {Path(path).name!r}")
    return int(match.group(1))


def is_check_cell(source: str) -> bool:
    return bool(CHECK_CALL.match(source.strip()))
