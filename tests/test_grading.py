"""The grader runs a learner's notebook in a fresh kernel and scores each exercise; it
survives learner code that raises, loops forever (even ignoring interrupts), prints a lot,
or deletes and rebinds the names the checks use. One kernel per notebook; time limits of a
few seconds keep the adversarial cases short."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dcgan_lib.exercises.__main__ import main
from dcgan_lib.exercises.grade import grade

ROOT = Path(__file__).resolve().parents[1]
LEARNER = ROOT / "exercises" / "01_principles.ipynb"
SOLUTION = ROOT / "exercises" / "solutions" / "01_principles.ipynb"
TIME_LIMIT = 3.0  # seconds per exercise cell and per check; the import cell gets 60


def _replace_cell(nb, starts_with: str, source: str) -> None:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(starts_with)]
    assert len(cells) == 1, starts_with
    cells[0].source = source


@pytest.fixture(scope="module")
def adversarial_report(tmp_path_factory):
    """Chapter 1 with: 1.1 right, 1.2 raising, 1.3 hanging in a loop that swallows the
    interrupt, 1.4 untouched; plus cells that hang, flood the output, raise SystemExit,
    kill the kernel, and delete or rebind the checks' names."""
    nb = nbformat.read(LEARNER, as_version=4)
    _replace_cell(nb, "def conv_transpose_output_size",
                  "def conv_transpose_output_size(size, kernel, stride, padding):\n"
                  "    return stride * (size - 1) + kernel - 2 * padding")
    _replace_cell(nb, "def conv_output_size",
                  "def conv_output_size(size, kernel, stride, padding):\n"
                  "    return (size + 2 * padding - kernel) // 0 + 1")
    _replace_cell(nb, "def discriminator_block",
                  "import time\n"
                  "def discriminator_block(in_channels, out_channels, leak=0.2, norm=True):\n"
                  "    while True:\n"
                  "        try:\n"
                  "            time.sleep(0.05)\n"
                  "        except BaseException:\n"
                  "            pass")
    _replace_cell(nb, "check_conv_output_size", "pass  # the learner emptied this check cell")
    extra = [
        "while True:\n    pass",
        "for i in range(5_000):\n    print(i, 'x' * 200)\nprint('y' * 2_000_000)",
        "raise SystemExit('the learner exits')",
        "import os\nos._exit(1)",
        "del torch, nn, F, check_conv_transpose_output_size\n"
        "check_discriminator_block = lambda block: None\n"
        "import dcgan_lib\n"
        "dcgan_lib.exercises = None",
    ]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in extra]
    path = tmp_path_factory.mktemp("adversarial") / "01_principles.ipynb"
    nbformat.write(nb, path)
    return grade(path, time_limit=TIME_LIMIT)


def _by_id(report) -> dict:
    return {r["id"]: r for r in report["exercises"]}


def test_right_answer_scores_despite_hostile_cells(adversarial_report):
    assert _by_id(adversarial_report)["1.1"]["score"] == 1
    assert _by_id(adversarial_report)["1.1"]["status"] == "passed"


def test_answer_that_raises_fails_with_its_error(adversarial_report):
    result = _by_id(adversarial_report)["1.2"]
    assert (result["score"], result["status"]) == (0, "failed")
    assert "raised ZeroDivisionError" in result["message"]


def test_answer_that_ignores_interrupts_times_out(adversarial_report):
    result = _by_id(adversarial_report)["1.3"]
    assert (result["score"], result["status"]) == (0, "timed out")


def test_untouched_exercise_is_not_attempted(adversarial_report):
    result = _by_id(adversarial_report)["1.4"]
    assert (result["score"], result["status"]) == (0, "not attempted")


def test_adversarial_total_counts_only_the_passing_check(adversarial_report):
    assert (adversarial_report["score"], adversarial_report["max_score"]) == (1, 4)


def test_solution_notebook_scores_full_marks():
    report = grade(SOLUTION, time_limit=TIME_LIMIT)
    assert (report["score"], report["max_score"]) == (4, 4)
    assert {r["status"] for r in report["exercises"]} == {"passed"}


def test_blank_learner_notebook_scores_zero_as_json_from_the_command_line():
    run = subprocess.run(
        [sys.executable, "-m", "dcgan_lib.exercises", "grade", str(LEARNER), "--json",
         "--time-limit", str(TIME_LIMIT)],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["score"], report["max_score"]) == (0, 4)
    assert [r["status"] for r in report["exercises"]] == ["not attempted"] * 4


def test_missing_notebook_is_a_clear_error(capsys):
    assert main(["grade", "no/such.ipynb"]) == 2
    assert capsys.readouterr().err == "error: no notebook at no/such.ipynb\n"


def test_file_that_is_not_a_notebook_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "01_principles.ipynb"
    path.write_text("not json")
    assert main(["grade", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_notebook_of_no_known_chapter_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "my_answers.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    assert main(["grade", str(path)]) == 2
    assert capsys.readouterr().err == (
        "error: exercise notebooks are named NN_<chapter>.ipynb, got 'my_answers.ipynb'\n")
