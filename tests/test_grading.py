"""The grader scores a learner's notebook with checks the learner's code cannot reach: it
survives code that raises, loops forever (even ignoring interrupts), floods the output,
kills its kernel, and every way of faking a pass found so far. Each of those is a test
here, and each must give 0 marks to the wrong answers it wraps. One kernel per notebook;
time limits of a few seconds keep the hostile cases short."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dcgan_lib.exercises.__main__ import main
from dcgan_lib.exercises.grade import grade, notebook_time_limit
from dcgan_lib.exercises.layout import NotebookError

ROOT = Path(__file__).resolve().parents[1]
LEARNER = ROOT / "exercises" / "01_principles.ipynb"
SOLUTION = ROOT / "exercises" / "solutions" / "01_principles.ipynb"
TIME_LIMIT = 3.0  # seconds per exercise cell and per check; the import cell gets 60


def _replace_cell(nb, starts_with: str, source: str) -> None:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(starts_with)]
    assert len(cells) == 1, starts_with
    cells[0].source = source


def _by_id(report) -> dict:
    return {r["id"]: r for r in report["exercises"]}


# ------------------------------------------------------------ hostile but honest cells


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


def test_adversarial_notebook_stays_within_the_notebook_time_limit(adversarial_report):
    assert adversarial_report["seconds"] <= notebook_time_limit(TIME_LIMIT, 4) + 15


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


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "exercises").glob(
    "[0-9][0-9]_*.ipynb")))
def test_every_chapter_grades_its_solutions_full_and_its_blank_notebook_zero(chapter):
    solved = grade(ROOT / "exercises" / "solutions" / chapter, time_limit=30.0)
    blank = grade(ROOT / "exercises" / chapter, time_limit=30.0)
    assert solved["score"] == solved["max_score"] == blank["max_score"] >= 4, solved
    assert {r["status"] for r in solved["exercises"]} == {"passed"}
    assert blank["score"] == 0
    assert {r["status"] for r in blank["exercises"]} == {"not attempted"}


# ------------------------------------------------------------------ faking a pass
# Each case: wrong answers to all four exercises, plus one way of faking a pass that fooled
# an earlier grader. Every one must score 0 of 4.

WRONG_ANSWERS = {
    "def conv_transpose_output_size": (
        "def conv_transpose_output_size(size, kernel, stride, padding):\n"
        "    return stride * size\n"),
    "def conv_output_size": (
        "def conv_output_size(size, kernel, stride, padding):\n"
        "    return size // stride\n"),
    "def discriminator_block": (
        "def discriminator_block(in_channels, out_channels, leak=0.2, norm=True):\n"
        "    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False),\n"
        "                         nn.ReLU())\n"),
    "def answer_1_4": "def answer_1_4():\n    return 'a'\n",
}

ALWAYS_EQUAL = """\
class Size(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__

class Letter(str):
    def strip(self, *args):
        return self
    def lower(self):
        return self
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __contains__(self, other):
        return True
    __hash__ = str.__hash__

def conv_transpose_output_size(size, kernel, stride, padding):
    return Size(0)

def conv_output_size(size, kernel, stride, padding):
    return Size(0)

def answer_1_4():
    return Letter("z")
"""

FAKES = {
    "1-replace-the-registry's-checks": (
        "import dataclasses\n"
        "import dcgan_lib.exercises._core as C\n"
        "for k, e in list(C.EXERCISES.items()):\n"
        "    C.EXERCISES[k] = dataclasses.replace(e, check=lambda *a: None,\n"
        "                                         verify=lambda *a: 'faked')\n"),
    "2-hide-the-errors": "get_ipython()._showtraceback = lambda *a, **k: None\n",
    "3-rewrite-the-grader's-cells": (
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: ['__dcgan_reply = \\'{\"value\": 8}\\'\\n'])\n"),
    "4-replace-import-module": (
        "import importlib, types\n"
        "fake = types.SimpleNamespace(EXERCISES={}, CheckFailed=Exception)\n"
        "importlib.import_module = lambda *a, **k: fake\n"),
    "5-plant-a-package-beside-the-notebook": (
        "import os, pathlib\n"
        "for folder in [pathlib.Path('dcgan_lib/exercises'),\n"
        "               pathlib.Path({folder!r}) / 'dcgan_lib' / 'exercises']:\n"
        "    try:\n"
        "        folder.mkdir(parents=True, exist_ok=True)\n"
        "        (folder.parent / '__init__.py').write_text('')\n"
        "        (folder / '__init__.py').write_text('')\n"
        "        (folder / '_core.py').write_text('EXERCISES = {}')\n"
        "    except PermissionError:\n"
        "        pass\n"
        "os._exit(0)\n"),
    "6-silence-fail": "import dcgan_lib.exercises._core as C\nC.fail = lambda m: None\n",
    "7-patch-torch-allclose": (
        "import torch\ntorch.allclose = lambda *a, **k: True\n"
        "torch.Tensor.__eq__ = lambda *a: True\n"),
    "8-int-and-str-subclasses": ALWAYS_EQUAL,
    "9-run-the-solution-notebook": (
        "import json, pathlib, dcgan_lib\n"
        "for path in [pathlib.Path(dcgan_lib.__file__).parent.parent\n"
        "             / 'exercises/solutions/01_principles.ipynb', pathlib.Path({solution!r})]:\n"
        "    try:\n"
        "        for cell in json.loads(path.read_text())['cells']:\n"
        "            if cell['cell_type'] == 'code' and 'check_' not in ''.join(cell['source']):\n"
        "                exec(''.join(cell['source']))\n"
        "    except OSError:\n"
        "        pass\n"),
    "copy-the-solutions-with-a-process": (
        "import json, subprocess\n"
        "try:\n"
        "    text = subprocess.run(['cat', {solution!r}], capture_output=True,\n"
        "                          text=True).stdout\n"
        "    for cell in json.loads(text)['cells']:\n"
        "        if cell['cell_type'] == 'code' and 'check_' not in ''.join(cell['source']):\n"
        "            exec(''.join(cell['source']))\n"
        "except (PermissionError, ValueError):\n"
        "    pass\n"),
    "answers-that-patch-when-called": (
        "import builtins, torch\n"
        "def conv_output_size(size, kernel, stride, padding):\n"
        "    torch.allclose = lambda *a, **k: True\n"
        "    builtins.isinstance = lambda *a: True\n"
        "    return 0\n"),
    "write-into-the-installed-package": (
        "import dcgan_lib, pathlib\n"
        "target = pathlib.Path({package!r}) / 'exercises' / '_core.py'\n"
        "try:\n"
        "    target.write_text(target.read_text() + '\\nfail = lambda m: None\\n')\n"
        "except PermissionError:\n"
        "    pass\n"),
}


def _wrong_notebook(folder: Path, fake: str) -> Path:
    nb = nbformat.read(LEARNER, as_version=4)
    for start, source in WRONG_ANSWERS.items():
        _replace_cell(nb, start, source)
    source = (fake.replace("{folder!r}", repr(str(folder)))
              .replace("{solution!r}", repr(str(SOLUTION)))
              .replace("{package!r}", repr(str(ROOT / "dcgan_lib"))))
    nb.cells.append(nbformat.v4.new_code_cell(source))
    path = folder / "01_principles.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("fake", sorted(FAKES))
def test_a_way_of_faking_a_pass_gets_no_marks(fake, tmp_path):
    core = (ROOT / "dcgan_lib" / "exercises" / "_core.py").read_text()
    report = grade(_wrong_notebook(tmp_path, FAKES[fake]), time_limit=TIME_LIMIT)
    assert report["score"] == 0, report
    assert "passed" not in {r["status"] for r in report["exercises"]}
    assert not (tmp_path / "dcgan_lib").exists()  # nothing planted for the next notebook
    assert (ROOT / "dcgan_lib" / "exercises" / "_core.py").read_text() == core


def test_the_solution_still_scores_in_a_folder_a_fake_tried_to_plant_into(tmp_path):
    grade(_wrong_notebook(tmp_path, FAKES["5-plant-a-package-beside-the-notebook"]),
          time_limit=TIME_LIMIT)
    path = tmp_path / "01_principles.ipynb"
    path.write_text(SOLUTION.read_text())
    assert grade(path, time_limit=TIME_LIMIT)["score"] == 4


def test_another_chapters_solutions_under_this_chapters_name_are_refused(tmp_path):
    nb = nbformat.read(ROOT / "exercises" / "solutions" / "02_activations.ipynb", as_version=4)
    nb.metadata["dcgan_exercises"] = {"chapter": 2}
    path = tmp_path / "01_principles.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(NotebookError, match="named for chapter 1 but its metadata says "
                                            "chapter 2"):
        grade(path, time_limit=TIME_LIMIT)


def test_another_chapters_solutions_without_metadata_are_graded_as_this_chapter(tmp_path):
    nb = nbformat.read(ROOT / "exercises" / "solutions" / "02_activations.ipynb", as_version=4)
    nb.metadata.pop("dcgan_exercises", None)
    path = tmp_path / "01_principles.ipynb"
    nbformat.write(nb, path)
    report = grade(path, time_limit=TIME_LIMIT)
    assert (report["chapter"], report["score"], report["max_score"]) == (1, 0, 4)


def test_output_flood_costs_the_grader_no_memory(tmp_path):
    nb = nbformat.read(SOLUTION, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import time\nline = 'x' * 1_000_000\nend = time.time() + 5\n"
        "while time.time() < end:\n    print(line)"))
    path = tmp_path / "01_principles.ipynb"
    nbformat.write(nb, path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report = grade(path, time_limit=TIME_LIMIT)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert report["score"] == 4
    assert grown < 200 * 1024, f"the grader grew by {grown / 1024:.0f} MiB"


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize("limit", ["0", "-1", "nan", "inf", "-inf", "soon"])
def test_time_limit_must_be_a_positive_finite_number(limit, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["grade", str(LEARNER), f"--time-limit={limit}"])
    assert exit_.value.code == 2
    assert "a time limit is a" in capsys.readouterr().err


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


def test_a_grader_imported_from_the_notebooks_folder_refuses_to_grade(tmp_path, monkeypatch):
    import dcgan_lib

    (tmp_path / "dcgan_lib").mkdir()
    monkeypatch.setattr(dcgan_lib, "__file__", str(tmp_path / "dcgan_lib" / "__init__.py"))
    path = tmp_path / "01_principles.ipynb"
    path.write_text(SOLUTION.read_text())
    with pytest.raises(NotebookError, match="run the grader from another folder"):
        grade(path, time_limit=TIME_LIMIT)


def test_attempted_turns_a_stub_into_the_one_sentence_of_a_check():
    from dcgan_lib.exercises import NotAttempted, attempted

    with pytest.raises(NotAttempted, match=r"^Exercise 5\.5 is not attempted yet: replace"):
        with attempted("5.5"):
            raise NotImplementedError("Exercise 5.5")
    with pytest.raises(ValueError, match="a wrong shape"):  # other errors are the learner's
        with attempted("5.5"):
            raise ValueError("a wrong shape")
    with attempted("5.5"):
        done = True
    assert done
