"""Grade a learner's notebook: run it in a fresh kernel, then run every check of its chapter.

The learner's code cells run first, in order, each under the time limit; their errors and
their output are ignored (only the checks score). Then, for each exercise of the chapter,
the grader runs the check from ``dcgan_lib.exercises`` on the names the exercise asks for,
imported afresh in the kernel, so a learner who deletes or rebinds a check's name, or who
edits a check cell, does not change the grade. Each exercise scores 1 when its check
passes and 0 otherwise, with the reason: not attempted, the check's sentence, an error,
or the time limit. A kernel that cannot be interrupted is restarted, and the cells that
had run are run again.
"""

from __future__ import annotations

import json
import queue
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager

from dcgan_lib.exercises._core import EXERCISES
from dcgan_lib.exercises.generate import CHECK_CALL, HEADING, chapter_of

DEFAULT_TIME_LIMIT = 30.0
_WARM_UP = "import dcgan_lib.exercises as __dcgan_exercises\ndel __dcgan_exercises"
_RUN_CHECK = """\
def __dcgan_run_check():
    import importlib
    registry = importlib.import_module("dcgan_lib.exercises._core").EXERCISES
    importlib.import_module("dcgan_lib.exercises")
    exercise = registry[{ex_id!r}]
    answers = []
    for name in exercise.names:
        if name not in globals():
            raise importlib.import_module("dcgan_lib.exercises").CheckFailed(
                f"{{name}} is not defined; run the cell that defines it")
        answers.append(globals()[name])
    exercise.check(*answers)
try:
    __dcgan_run_check()
finally:
    del __dcgan_run_check
"""


@dataclass
class Result:
    id: str
    title: str
    score: int
    max_score: int
    status: str  # passed, failed, not attempted, error, timed out
    message: str


class _Outcome:
    def __init__(self, status: str, ename: str = "", evalue: str = "",
                 restarted: bool = False):
        self.status, self.ename, self.evalue = status, ename, evalue
        self.restarted = restarted  # the kernel had to be replaced: its state is gone


class _Kernel:
    """A kernel that runs one piece of code at a time under a time limit."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self._start()

    def _start(self):
        self.manager = KernelManager(kernel_name="python3")
        # The kernel's own log lines (stderr) are not the learner's output: drop them.
        self.manager.start_kernel(cwd=str(self.cwd), stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def restart(self):
        self.shutdown()
        self._start()

    def shutdown(self):
        try:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=True)
        except Exception:  # already gone
            pass

    def run(self, code: str, time_limit: float) -> _Outcome:
        """``ok``, ``error`` (with the exception's name and message) or ``timeout``;
        ``restarted`` when the code hung past an interrupt or killed the kernel.

        Output is read and dropped as it arrives, so a cell that prints without end
        costs time, not memory.
        """
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + time_limit
        outcome = _Outcome("ok")
        interrupted_at = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and interrupted_at is None:
                self.manager.interrupt_kernel()
                interrupted_at = time.monotonic()
                outcome = _Outcome("timeout")
            if interrupted_at is not None and time.monotonic() - interrupted_at > 5:
                self.restart()  # the code ignored the interrupt (e.g. a bare except)
                return _Outcome("timeout", restarted=True)
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.05, min(left, 1.0)))
            except queue.Empty:
                if not self.manager.is_alive():  # e.g. os._exit() or a crash
                    self.restart()
                    return _Outcome("error", "KernelDied", "the kernel died", restarted=True)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error" and outcome.status != "timeout":
                outcome = _Outcome("error", content["ename"], content["evalue"])
            elif kind == "status" and content["execution_state"] == "idle":
                return outcome


def _exercise_cells(nb) -> dict[int, str]:
    """Code cell index -> exercise id of the heading above it."""
    owner, current = {}, None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = HEADING.findall(cell.source)
            if found:
                current = "{}.{}".format(*found[-1])
        elif cell.cell_type == "code" and current is not None:
            owner[index] = current
    return owner


def _chapter(path: Path, nb) -> int:
    meta = nb.metadata.get("dcgan_exercises", {})
    if isinstance(meta, dict) and isinstance(meta.get("chapter"), int):
        return meta["chapter"]
    return chapter_of(path)


def setup_time_limit(time_limit: float) -> float:
    """The limit for cells above the first exercise (installs, imports) and for the
    grader's own import of the checks: importing torch can take many seconds on a busy
    machine, and no exercise is at stake there."""
    return max(4 * time_limit, 60.0)


def grade(path, time_limit: float = DEFAULT_TIME_LIMIT) -> dict:
    """Run the notebook at ``path`` and score it; returns a JSON-ready dict.

    ``time_limit`` (seconds) bounds each cell under an exercise heading and each check;
    cells above the first exercise get ``setup_time_limit(time_limit)``.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    chapter = _chapter(path, nb)
    ids = sorted((i for i in EXERCISES if i.split(".")[0] == str(chapter)),
                 key=lambda i: int(i.split(".")[1]))
    if not ids:
        raise ValueError(f"there are no exercises for chapter {chapter} ({path})")
    owner = _exercise_cells(nb)
    slow = setup_time_limit(time_limit)

    def limit(index: int) -> float:
        return time_limit if index in owner else slow

    kernel = _Kernel(path.parent.resolve())
    ran: list[int] = []

    def run_cell(index: int) -> _Outcome:
        outcome = kernel.run(nb.cells[index].source, limit(index))
        if outcome.restarted:
            recover()
        return outcome

    def recover():
        """After a restart: the cells that had run, run again, in order."""
        kernel.run(_WARM_UP, slow)
        for earlier in ran:
            kernel.run(nb.cells[earlier].source, limit(earlier))

    try:
        kernel.run(_WARM_UP, slow)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or CHECK_CALL.match(cell.source.strip()):
                continue  # check cells are replaced by the grader's own checks below
            outcome = run_cell(index)
            if outcome.status != "timeout" and not outcome.restarted:
                ran.append(index)
        results = []
        for ex_id in ids:
            outcome = kernel.run(_RUN_CHECK.format(ex_id=ex_id), time_limit)
            if outcome.restarted:
                recover()
            results.append(_result(EXERCISES[ex_id], outcome, time_limit))
    finally:
        kernel.shutdown()
    return {
        "notebook": str(path),
        "chapter": chapter,
        "exercises": [asdict(r) for r in results],
        "score": sum(r.score for r in results),
        "max_score": sum(r.max_score for r in results),
    }


def _result(exercise, outcome: _Outcome, time_limit: float) -> Result:
    def make(score, status, message):
        return Result(exercise.id, exercise.title, score, 1, status, message)

    if outcome.status == "ok":
        return make(1, "passed", "")
    if outcome.status == "timeout":
        return make(0, "timed out", f"did not finish within the time limit of {time_limit:g} s")
    if outcome.ename == "NotAttempted":
        return make(0, "not attempted", "")
    if outcome.ename == "CheckFailed":
        return make(0, "failed", outcome.evalue)
    return make(0, "error", f"{outcome.ename}: {outcome.evalue}")


def format_report(report: dict) -> str:
    lines = [f"{report['notebook']} (chapter {report['chapter']})"]
    for r in report["exercises"]:
        line = f"  Exercise {r['id']:<5} {r['score']}/{r['max_score']}  {r['status']}"
        if r["message"]:
            line += f": {r['message']}"
        lines.append(line)
    lines.append(f"  Total {report['score']}/{report['max_score']}")
    return "\n".join(lines)


def main_grade(paths, as_json: bool, time_limit: float) -> int:
    reports = [grade(p, time_limit) for p in paths]
    if as_json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        print("\n".join(format_report(r) for r in reports))
    return 0
