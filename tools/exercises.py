"""Learner notebooks from the solution notebooks: the single source of every exercise.

A maintenance tool, outside the package readers install::

    python tools/exercises.py generate [--check]   # exercises/NN_*.ipynb from solutions/
    python tools/exercises.py course OUT_DIR       # the course edition, without solutions

``exercises/solutions/NN_<chapter>.ipynb`` is written by hand. In it, an exercise is

    a markdown cell headed ``## Exercise N.M ...`` (the task and a hint),
    a code cell whose solution lines sit between whole-line markers
        ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (inside a function body), and
    a check cell: one call ``check_<name>(<the learner's names>)``.

The learner notebook ``exercises/NN_<chapter>.ipynb`` is the same notebook with each marked
region replaced by ``raise NotImplementedError("Exercise N.M")`` at the region's
indentation, followed by a markdown cell that shows the solution behind a toggle, and with
each check cell tagged ``raises-exception`` (so "Run all" in JupyterLab goes on past an
unattempted exercise). Both versions carry no outputs. The course edition (what a teacher
hands out and grades, as nbgrader's release version) is the learner notebook without the
solution toggles.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: this checkout's library, not an installed one
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcgan_lib.exercises import EXERCISES  # noqa: E402
from dcgan_lib.exercises.layout import (  # noqa: E402
    BEGIN,
    CHECK_CALL,
    CHECK_TAG,
    END,
    HEADING,
    NotebookError,
    chapter_of,
)

# The sentence of each notebook's introduction that the course edition leaves out.
SOLUTION_NOTE = "A solution sits behind a second toggle: try first."


class SourceError(NotebookError):
    """A solution notebook does not follow the exercise layout."""


def split_regions(source: str, where: str) -> list[tuple[str, list[str]]]:
    """The cell as ``[(indent or None, lines)]``: None for plain lines, an indent for a
    solution region (its lines without the markers)."""
    pieces: list[tuple[str | None, list[str]]] = [(None, [])]
    inside = None
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside is not None:
                raise SourceError(f"{where}, line {number}: {BEGIN} inside another region")
            inside = line[: len(line) - len(line.lstrip())]
            if not inside:
                raise SourceError(f"{where}, line {number}: a solution region must sit inside "
                                  f"a function body so that the learner's cell still runs")
            pieces.append((inside, []))
        elif stripped == END:
            if inside is None:
                raise SourceError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = None
            pieces.append((None, []))
        else:
            pieces[-1][1].append(line)
    if inside is not None:
        raise SourceError(f"{where}: {BEGIN} is never closed by {END}")
    return [p for p in pieces if p[0] is not None or p[1]]


def solution_markdown(code: str, ex_id: str) -> str:
    """The solution behind a toggle: an HTML <details> element, which the book, Jupyter,
    Colab and GitHub all render closed (the classes give it the book's dropdown style)."""
    return (f'<details class="sd-sphinx-override sd-dropdown sd-card sd-mb-3">\n'
            f'<summary class="sd-card-header">Solution to exercise {ex_id} '
            f'<span class="sd-font-weight-normal" style="margin-left: auto">Click to show</span>'
            f"</summary>\n\n"
            f"```python\n{code}\n```\n\n</details>")


def _check_call(source: str, ex_id: str, where: str) -> None:
    match = CHECK_CALL.match(source.strip())
    exercise = EXERCISES.get(ex_id)
    if exercise is None:
        raise SourceError(f"{where}: no check is registered for exercise {ex_id}")
    names = tuple(n.strip() for n in match.group(2).split(",") if n.strip())
    if match.group(1) != exercise.check.__name__ or names != exercise.names:
        raise SourceError(f"{where}: exercise {ex_id} is checked by "
                          f"{exercise.check.__name__}({', '.join(exercise.names)}), "
                          f"got {source.strip()!r}")


def learner_notebook(solution: nbformat.NotebookNode, chapter: int,
                     name: str = "notebook", solutions: bool = True) -> nbformat.NotebookNode:
    """The learner version of one solution notebook (a new notebook; ``solution`` is kept);
    with ``solutions=False`` the course edition: no solution toggles at all."""
    cells = []
    current = None  # the exercise id of the latest heading
    seen: dict[str, list[str]] = {}
    for index, cell in enumerate(solution.cells):
        where = f"{name}, cell {index}"
        cell = nbformat.from_dict(cell)  # a copy
        if cell.cell_type == "markdown":
            for major, minor in HEADING.findall(cell.source):
                if int(major) != chapter:
                    raise SourceError(f"{where}: exercise {major}.{minor} in the notebook of "
                                      f"chapter {chapter}")
                current = f"{major}.{minor}"
                if current in seen:
                    raise SourceError(f"{where}: exercise {current} appears twice")
                seen[current] = []
            if not solutions:
                cell.source = cell.source.replace(" " + SOLUTION_NOTE, "").replace(
                    SOLUTION_NOTE, "")
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        cell.outputs, cell.execution_count = [], None
        pieces = split_regions(cell.source, where)
        is_check = bool(CHECK_CALL.match(cell.source.strip()))
        if any(indent is not None for indent, _ in pieces):
            if current is None or "solution" in seen[current]:
                raise SourceError(f"{where}: a solution cell needs its own "
                                  f"'## Exercise N.M' heading above it")
            seen[current].append("solution")
            stub = [f'{indent}raise NotImplementedError("Exercise {current}")'
                    if indent is not None else "\n".join(lines) for indent, lines in pieces]
            shown = "\n".join("\n".join(lines) for _, lines in pieces)
            cell.source = "\n".join(stub)
            cells.append(cell)
            if solutions:
                cells.append(nbformat.v4.new_markdown_cell(solution_markdown(shown, current),
                                                           id=f"{cell.id}-solution"))
        elif is_check:
            if current is None or seen[current] != ["solution"]:
                raise SourceError(f"{where}: a check cell must follow its exercise's "
                                  f"solution cell")
            _check_call(cell.source, current, where)
            seen[current].append("check")
            tags = list(cell.metadata.get("tags", []))
            cell.metadata["tags"] = tags + [CHECK_TAG] if CHECK_TAG not in tags else tags
            cells.append(cell)
        else:
            cells.append(cell)
    for ex_id, parts in seen.items():
        if parts != ["solution", "check"]:
            raise SourceError(f"{name}: exercise {ex_id} needs one solution cell and then "
                              f"one check cell, found {parts or 'neither'}")
    learner = nbformat.v4.new_notebook(cells=cells, metadata=dict(solution.metadata))
    learner.metadata["dcgan_exercises"] = {"chapter": chapter, "exercises": list(seen)}
    return learner


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def course(solutions: Path, out: Path) -> list[str]:
    """Write the course edition of every notebook into ``out``: one line per file written."""
    solutions, out = Path(solutions), Path(out)
    sources = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise SourceError(f"no NN_<chapter>.ipynb notebooks in {solutions}")
    out.mkdir(parents=True, exist_ok=True)
    report = []
    for path in sources:
        solution = nbformat.read(path, as_version=4)
        learner = learner_notebook(solution, chapter_of(path), path.name, solutions=False)
        (out / path.name).write_text(render(learner))
        report.append(f"wrote {out / path.name}")
    return report


def generate(solutions: Path, out: Path, check: bool = False) -> list[str]:
    """Write (or with ``check`` only compare) every learner notebook.

    Returns one line per problem found (``check``) or per file written.
    """
    solutions, out = Path(solutions), Path(out)
    sources = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise SourceError(f"no NN_<chapter>.ipynb notebooks in {solutions}")
    report = []
    for path in sources:
        solution = nbformat.read(path, as_version=4)
        if any(c.get("outputs") or c.get("execution_count") for c in solution.cells
               if c.cell_type == "code"):
            report.append(f"{path} has outputs or execution counts; clear them before committing")
        text = render(learner_notebook(solution, chapter_of(path), path.name))
        target = out / path.name
        if check:
            if not target.exists():
                report.append(f"{target} is missing; run `python tools/exercises.py generate`")
            elif target.read_text() != text:
                report.append(f"{target} differs from its source {path}; run "
                              f"`python tools/exercises.py generate`")
        else:
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
                report.append(f"wrote {target}")
    if check:
        stale = sorted({p.name for p in out.glob("[0-9][0-9]_*.ipynb")}
                       - {p.name for p in sources})
        report += [f"{out / n} has no source in {solutions}" for n in stale]
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/exercises.py",
                                     description="Write the exercise notebooks.")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write the learner notebooks from the solutions")
    gen.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if a learner notebook is out of date")
    gen.add_argument("--solutions", type=Path, default=Path("exercises/solutions"))
    gen.add_argument("--out", type=Path, default=Path("exercises"))
    edition = commands.add_parser("course", help="write the course edition (no solutions)")
    edition.add_argument("out", type=Path, metavar="OUT_DIR")
    edition.add_argument("--solutions", type=Path, default=Path("exercises/solutions"))
    args = parser.parse_args(argv)
    try:
        if args.command == "course":
            report = course(args.solutions, args.out)
        else:
            report = generate(args.solutions, args.out, check=args.check)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in report:
        print(line, file=sys.stderr if args.command == "generate" and args.check else sys.stdout)
    if args.command == "generate" and args.check:
        if report:
            return 1
        print("learner notebooks are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
