"""The learner notebooks are generated from the solution notebooks, the single source:
stubs in place of solutions, the solution behind a toggle, check cells tagged, no outputs,
and `generate --check` fails when a committed learner notebook is out of date. The course
edition carries no solutions, and the package readers install holds no generator."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

import dcgan_lib
from dcgan_lib.exercises import EXERCISES
from dcgan_lib.exercises.layout import BEGIN, CHECK_CALL
from tools.exercises import (
    SOLUTION_NOTE,
    SourceError,
    generate,
    learner_notebook,
    main,
    split_regions,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "exercises" / "solutions"
LEARNERS = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def _notebook(*cells) -> nbformat.NotebookNode:
    made = []
    for kind, source in cells:
        new = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        made.append(new(source))
    return nbformat.v4.new_notebook(cells=made)


EXAMPLE = (
    ("md", "## Exercise 1.1 (compute): size\n\nDo it."),
    ("code", "def conv_transpose_output_size(size, kernel, stride, padding):\n"
             "    \"\"\"Doc.\"\"\"\n"
             "    # BEGIN SOLUTION\n"
             "    return stride * (size - 1) + kernel - 2 * padding\n"
             "    # END SOLUTION"),
    ("code", "check_conv_transpose_output_size(conv_transpose_output_size)"),
)


def test_committed_learner_notebooks_match_their_sources():
    assert generate(SOLUTIONS, ROOT / "exercises", check=True) == []


def test_there_is_one_learner_notebook_per_chapter():
    assert [p.name[:2] for p in LEARNERS] == ["01", "02", "03", "04", "05", "06", "07"]


def test_generate_check_exits_nonzero_on_a_stale_learner_notebook(tmp_path, monkeypatch,
                                                                  capsys):
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    stale = tmp_path / "exercises" / "01_principles.ipynb"
    nb = nbformat.read(stale, as_version=4)
    nb.cells[0].source += "\nEdited by hand."
    nbformat.write(nb, stale)
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--check"]) == 1
    assert "01_principles.ipynb differs from its source" in capsys.readouterr().err
    assert main(["generate"]) == 0
    assert capsys.readouterr().out == "wrote exercises/01_principles.ipynb\n"
    assert main(["generate", "--check"]) == 0


def test_generate_outside_the_repository_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["generate"]) == 2
    assert capsys.readouterr().err == (
        "error: no NN_<chapter>.ipynb notebooks in exercises/solutions\n")


def test_stub_replaces_the_region_at_its_indentation():
    learner = learner_notebook(_notebook(*EXAMPLE), chapter=1)
    assert learner.cells[1].source == (
        "def conv_transpose_output_size(size, kernel, stride, padding):\n"
        "    \"\"\"Doc.\"\"\"\n"
        "    raise NotImplementedError(\"Exercise 1.1\")")


def test_solution_follows_the_stub_behind_a_closed_toggle():
    learner = learner_notebook(_notebook(*EXAMPLE), chapter=1)
    shown = learner.cells[2]
    assert shown.cell_type == "markdown"
    assert shown.source.startswith("<details ") and shown.source.endswith("</details>")
    assert re.search(r"<summary[^>]*>Solution to exercise 1\.1 ", shown.source)
    assert "    return stride * (size - 1) + kernel - 2 * padding" in shown.source
    assert BEGIN not in shown.source and "<details open" not in shown.source


def test_check_cell_is_tagged_to_raise():
    learner = learner_notebook(_notebook(*EXAMPLE), chapter=1)
    assert learner.cells[3].metadata["tags"] == ["raises-exception"]


def test_solution_region_at_top_level_is_refused():
    with pytest.raises(SourceError, match="inside a function body"):
        split_regions("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", "cell")


def test_unclosed_region_is_refused():
    with pytest.raises(SourceError, match="never closed"):
        split_regions("def f():\n    # BEGIN SOLUTION\n    return 1", "cell")


def test_check_call_that_does_not_match_the_registry_is_refused():
    cells = (*EXAMPLE[:2], ("code", "check_conv_output_size(conv_transpose_output_size)"))
    with pytest.raises(SourceError, match="is checked by check_conv_transpose_output_size"):
        learner_notebook(_notebook(*cells), chapter=1)


def test_exercise_without_its_check_cell_is_refused():
    with pytest.raises(SourceError, match="needs one solution cell and then one check cell"):
        learner_notebook(_notebook(*EXAMPLE[:2]), chapter=1)


@pytest.mark.parametrize("path", LEARNERS, ids=lambda p: p.name)
def test_learner_notebook_has_no_outputs_and_no_solution_code(path):
    learner = nbformat.read(path, as_version=4)
    solution = nbformat.read(SOLUTIONS / path.name, as_version=4)
    solution_lines = set()
    for cell in solution.cells:
        for indent, lines in split_regions(cell.source, path.name) if cell.cell_type == "code" \
                else []:
            if indent is not None:
                solution_lines |= {line.strip() for line in lines if len(line.strip()) > 12}
    for cell in learner.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert not solution_lines & {line.strip() for line in cell.source.split("\n")}
    for cell in solution.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", LEARNERS, ids=lambda p: p.name)
def test_every_exercise_has_task_hint_stub_solution_and_check(path):
    learner = nbformat.read(path, as_version=4)
    chapter = int(path.name[:2])
    expected = sorted((i for i in EXERCISES if i.startswith(f"{chapter}.")),
                      key=lambda i: int(i.split(".")[1]))
    assert learner.metadata["dcgan_exercises"] == {"chapter": chapter, "exercises": expected}
    text = "\n".join(c.source for c in learner.cells)
    for ex_id in expected:
        section = text.split(f"## Exercise {ex_id} ")[1].split("## Exercise ")[0]
        assert re.search(r":::\{admonition\} Hint\n:class: dropdown\n", section), ex_id
        assert f'raise NotImplementedError("Exercise {ex_id}")' in section, ex_id
        assert re.search(rf"<summary[^>]*>Solution to exercise {re.escape(ex_id)} ", section), ex_id
        check = EXERCISES[ex_id]
        assert f"{check.check.__name__}({', '.join(check.names)})" in section, ex_id
    checks = [c for c in learner.cells if c.cell_type == "code"
              and CHECK_CALL.match(c.source.strip())]
    assert len(checks) == len(expected)
    assert all(c.metadata.get("tags") == ["raises-exception"] for c in checks)


def test_course_edition_has_no_solutions_anywhere(tmp_path, capsys):
    assert main(["course", str(tmp_path / "course"), "--solutions", str(SOLUTIONS)]) == 0
    written = sorted((tmp_path / "course").glob("*.ipynb"))
    assert [p.name for p in written] == [p.name for p in LEARNERS]
    for path in written:
        text = path.read_text()
        assert "<details" not in text and "Solution to exercise" not in text, path.name
        assert SOLUTION_NOTE not in text, path.name
        learner = nbformat.read(path, as_version=4)
        solution = nbformat.read(SOLUTIONS / path.name, as_version=4)
        lines = {line.strip() for cell in solution.cells if cell.cell_type == "code"
                 for indent, body in split_regions(cell.source, path.name)
                 if indent is not None for line in body if len(line.strip()) > 12}
        shown = {line.strip() for cell in learner.cells for line in cell.source.split("\n")}
        assert not lines & shown, path.name
        assert learner.metadata["dcgan_exercises"]["chapter"] == int(path.name[:2])


def test_the_installed_package_holds_no_generator_and_no_solutions():
    package = Path(dcgan_lib.__file__).parent
    assert not (package / "exercises" / "generate.py").exists()
    assert not list(package.rglob("*.ipynb"))
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'include = ["dcgan_lib*"]' in pyproject  # exercises/ and tools/ are not shipped
