"""What a reader sees on each chapter page: visible code lines and prose words.

A code cell is visible unless it is tagged ``hide-input``, ``hide-cell``, ``remove-input``
or ``remove-cell`` (or their underscore spellings); its non-blank lines count. Markdown
cells count their words as the page reads them (a formula, a code span or a glued number is
one word; markup and link targets none).
Reads the notebooks, so it needs no build:

    python tools/page_stats.py              # every chapter page of book/, section pages too
    python tools/page_stats.py book/04_training_dynamics.ipynb
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HIDDEN_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell",
               "hide_input", "hide_cell", "remove_input", "remove_cell"}
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
# Markup reduced to what the reader sees: a formula, a code span or a glued number reads as
# one word, a citation as two ("Radford 2015"), a figure reference as two ("Fig. 3").
AS_READ = [
    (re.compile(r"\$\$.*?\$\$", re.S), " formula "),
    (re.compile(r"\$[^$\n]+\$"), " formula "),
    (re.compile(r"\{(?:glue|glue:text|glue:md)\}`[^`]*`"), " number "),
    (re.compile(r"\{cite:[pt]\}`[^`]*`"), " author year "),
    (re.compile(r"\{numref\}`[^`]*`"), " Fig N "),
    (re.compile(r"\{(?:doc|ref)\}`([^`<]*?)\s*(?:<[^`]*>)?`"), r" \1 "),
    (re.compile(r"```.*?```", re.S), " "),
    (re.compile(r"`[^`\n]+`"), " code "),
    (re.compile(r"\]\([^)]*\)"), "] "),
    (re.compile(r"<[^>\n]+>"), " "),
    (re.compile(r"^:::.*$|^:\w+:.*$", re.M), " "),
]


def prose_words(markdown: str) -> int:
    """Words of a markdown cell as the rendered page reads."""
    for pattern, replacement in AS_READ:
        markdown = pattern.sub(replacement, markdown)
    return len(WORD.findall(markdown))


def page_stats(path: Path) -> dict:
    """``{"code_lines", "code_cells", "words"}`` of one notebook, as the reader sees it."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    code_lines = code_cells = words = 0
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] == "code":
            if tags & HIDDEN_TAGS:
                continue
            lines = [line for line in source.splitlines() if line.strip()]
            code_lines += len(lines)
            code_cells += bool(lines)
        elif cell["cell_type"] == "markdown" and not tags & {"remove-cell", "remove_cell"}:
            words += prose_words(source)
    return {"code_lines": code_lines, "code_cells": code_cells, "words": words}


def main(argv: list[str]) -> None:
    root = Path(__file__).resolve().parent.parent
    paths = [Path(a) for a in argv] or sorted((root / "book").glob("0[1-9]*_*.ipynb"))
    total = {"code_lines": 0, "code_cells": 0, "words": 0}
    print(f"{'page':<28} {'code lines':>10} {'code cells':>10} {'words':>7}")
    for path in paths:
        stats = page_stats(path)
        for key in total:
            total[key] += stats[key]
        print(f"{path.stem:<28} {stats['code_lines']:>10} {stats['code_cells']:>10} "
              f"{stats['words']:>7}")
    if len(paths) > 1:
        print(f"{'total':<28} {total['code_lines']:>10} {total['code_cells']:>10} "
              f"{total['words']:>7}")


if __name__ == "__main__":
    main(sys.argv[1:])
