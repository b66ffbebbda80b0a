"""Grade a learner's notebook: the learner's code runs in a kernel, the checks run here.

As graders teachers rely on do it (nbgrader, otter-grader), the learner's code runs, then
checks the learner cannot reach decide the grade:

1. The chapter comes from the file's name (``NN_<chapter>.ipynb``); a notebook whose
   metadata names another chapter is refused.
2. The notebook's code cells, except its check cells, run in order in a fresh kernel, each
   under the time limit, in an empty temporary folder, with its own copy of ``dcgan_lib``
   (no solutions beside it) and ``sandbox``'s audit hook installed first. Their output is
   never read (so it costs no memory) and their errors do not score.
3. Each exercise's check runs in this process, which never runs the learner's code. Each
   time the check calls the learner's function, the arguments go into the kernel as JSON
   and the function's result comes back as JSON (``_wire``): exact built-in types and fresh
   tensors. Patching torch, IPython, the registry or the checks inside the notebook, or
   planting files in its folder, changes nothing here.
4. An exercise scores 1 when its check passes, 0 otherwise with the reason: not attempted,
   the check's sentence, an error, or the time limit. Each exercise has the time limit for
   all its calls, and the whole notebook has ``notebook_time_limit``; a kernel that ignores
   an interrupt is replaced and the cells that had run are run again, within that limit.
"""

from __future__ import annotations

import ast
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

import dcgan_lib
from dcgan_lib.exercises import _wire, sandbox
from dcgan_lib.exercises._core import EXERCISES, Answer, CheckFailed, NotAttempted
from dcgan_lib.exercises.kernel import Kernel, Outcome
from dcgan_lib.exercises.layout import HEADING, NotebookError, chapter_of, is_check_cell

DEFAULT_TIME_LIMIT = 30.0
AGENT = Path(_wire.__file__).read_text()  # read once, before any learner code exists
_WARM_UP = "import dcgan_lib.exercises as __dcgan_exercises\ndel __dcgan_exercises\n"
_CALL = """\
def __dcgan_call():
    namespace = {{}}
    exec(compile({agent!r}, "<the grader's wire>", "exec"), namespace)
    return namespace["handle"](globals(), {request!r})
__dcgan_reply = None
__dcgan_reply = __dcgan_call()
del __dcgan_call
"""


@dataclass
class Result:
    id: str
    title: str
    score: int
    max_score: int
    status: str  # passed, failed, not attempted, error, timed out
    message: str


class _TimedOut(Exception):
    """A call into the kernel ran past its time limit."""


def positive_seconds(text) -> float:
    """A time limit: a positive finite number of seconds (``argparse`` type)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"a time limit is a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a time limit is a positive finite number of seconds, got {text!r}")
    return value


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


def read_notebook(path: Path):
    """The notebook at ``path`` and its chapter (from the file name); ``NotebookError`` if
    it is not a notebook, or if its metadata claims another chapter."""
    chapter = chapter_of(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:
        raise NotebookError(f"{path} is not a Jupyter notebook ({type(error).__name__})") \
            from None
    meta = nb.metadata.get("dcgan_exercises", {})
    claimed = meta.get("chapter") if isinstance(meta, dict) else None
    if claimed is not None and claimed != chapter:
        raise NotebookError(f"{path.name} is named for chapter {chapter} but its metadata "
                            f"says chapter {claimed!r}; grade it under its own chapter's name")
    return nb, chapter


def setup_time_limit(time_limit: float) -> float:
    """The limit for cells above the first exercise (installs, imports) and for starting
    the kernel and importing torch there, which can take many seconds on a busy machine."""
    return max(4 * time_limit, 60.0)


def notebook_time_limit(time_limit: float, exercises: int) -> float:
    """The limit for a whole notebook: the setup, then twice each exercise's limit (its
    cells and its check) and two more for everything else."""
    return setup_time_limit(time_limit) + time_limit * (2 * exercises + 2)


def grade(path, time_limit: float = DEFAULT_TIME_LIMIT) -> dict:
    """Run the notebook at ``path`` and score it; returns a JSON-ready dict.

    ``time_limit`` (seconds, positive) bounds each cell under an exercise heading and each
    exercise's check; cells above the first exercise get ``setup_time_limit(time_limit)``,
    the whole notebook ``notebook_time_limit``.
    """
    time_limit = positive_seconds(time_limit)
    path = Path(path)
    nb, chapter = read_notebook(path)
    ids = sorted((i for i in EXERCISES if i.split(".")[0] == str(chapter)),
                 key=lambda i: int(i.split(".")[1]))
    if not ids:
        raise NotebookError(f"there are no exercises for chapter {chapter} ({path})")
    owner = _exercise_cells(nb)
    slow = setup_time_limit(time_limit)
    started = time.monotonic()
    end = started + notebook_time_limit(time_limit, len(ids))

    package = Path(dcgan_lib.__file__).resolve().parent
    if package.is_relative_to(path.parent.resolve()):
        raise NotebookError(f"the grader's own dcgan_lib ({package}) lies in the folder of "
                            f"{path.name}; run the grader from another folder")

    with tempfile.TemporaryDirectory(prefix="dcgan-grade-", ignore_cleanup_errors=True) \
            as folder:
        root = Path(folder).resolve()
        kernel = Kernel(root)
        ran: list[int] = []
        state = {"lost": False}  # the kernel was replaced and could not be rebuilt in time

        def run(code: str, limit: float, expressions: dict | None = None) -> Outcome:
            outcome = kernel.run(code, min(time.monotonic() + limit, end), expressions)
            if outcome.restarted:
                recover()
            return outcome

        def recover():
            """After a restart: the sandbox, then the cells that had run, in order."""
            prepared = kernel.run(_prelude(kernel), min(time.monotonic() + slow, end))
            state["lost"] = prepared.status != "ok"
            for earlier in ran:
                if time.monotonic() >= end or state["lost"]:
                    state["lost"] = True
                    return
                outcome = kernel.run(nb.cells[earlier].source,
                                     min(time.monotonic() + _limit(earlier), end))
                if outcome.restarted:
                    state["lost"] = True
                    return

        def _limit(index: int) -> float:
            return time_limit if index in owner else slow

        try:
            prepared = kernel.run(_prelude(kernel), min(time.monotonic() + slow, end))
            if prepared.status != "ok":
                raise RuntimeError(f"the grading kernel could not be prepared: "
                                   f"{prepared.ename}: {prepared.evalue}")
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or is_check_cell(cell.source):
                    continue  # check cells are replaced by the grader's own checks below
                if time.monotonic() >= end:
                    break
                outcome = run(cell.source, _limit(index))
                if outcome.status != "timeout" and not outcome.restarted:
                    ran.append(index)
            results = [_check(EXERCISES[ex_id], kernel, run, time_limit, end, state)
                       for ex_id in ids]
        finally:
            kernel.shutdown()
    return {
        "notebook": str(path),
        "chapter": chapter,
        "exercises": [asdict(r) for r in results],
        "score": sum(r.score for r in results),
        "max_score": sum(r.max_score for r in results),
        "seconds": round(time.monotonic() - started, 1),
    }


def _prelude(kernel: Kernel) -> str:
    return _WARM_UP + sandbox.source(str(kernel.work))


def _check(exercise, kernel: Kernel, run, time_limit: float, end: float,
           state: dict) -> Result:
    """Run one exercise's check here, its calls of the learner's code in the kernel."""
    def make(score, status, message):
        return Result(exercise.id, exercise.title, score, 1, status, message)

    timed_out = make(0, "timed out", f"did not finish within the time limit of "
                                     f"{time_limit:g} s")
    if time.monotonic() >= end or state["lost"]:
        return make(0, "timed out", "the notebook ran past its overall time limit before "
                                    "this exercise was checked")
    deadline = min(time.monotonic() + time_limit, end)

    def runner(name: str):
        def run_request(request: str) -> str:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut
            code = _CALL.format(agent=AGENT, request=request)
            outcome = run(code, left, {"reply": "__dcgan_reply"})
            if outcome.status == "timeout":
                raise _TimedOut
            if outcome.status != "ok":
                raise CheckFailed(f"calling {name} failed in the notebook's kernel "
                                  f"({outcome.ename}: {outcome.evalue})")
            return _reply_text(outcome.expressions.get("reply"))
        return Answer(name, run_request)

    try:
        summary = exercise.verify(*(runner(name) for name in exercise.names))
    except _TimedOut:
        return timed_out
    except NotAttempted:
        return make(0, "not attempted", "")
    except CheckFailed as failure:
        return make(0, "failed", str(failure))
    except Exception as error:  # a check that cannot run on what came back
        return make(0, "error", f"{type(error).__name__}: {error}")
    return make(1, "passed", summary)


def _reply_text(expression) -> str:
    """The reply string from the kernel's evaluation of ``__dcgan_reply``, or '' (which the
    wire refuses) when the kernel sent anything else."""
    try:
        text = expression["data"]["text/plain"]
        if expression.get("status") != "ok" or type(text) is not str \
                or len(text) > _wire.MAX_REPLY + 2:
            return ""
        value = ast.literal_eval(text)
        return value if type(value) is str else ""
    except Exception:
        return ""


def format_report(report: dict) -> str:
    lines = [f"{report['notebook']} (chapter {report['chapter']})"]
    for r in report["exercises"]:
        line = f"  Exercise {r['id']:<5} {r['score']}/{r['max_score']}  {r['status']}"
        if r["message"] and r["status"] != "passed":
            line += f": {r['message']}"
        lines.append(line)
    lines.append(f"  Total {report['score']}/{report['max_score']}")
    return "\n".join(lines)


def main_grade(paths, as_json: bool, time_limit: float) -> int:
    """Grade each notebook in turn; one that cannot be graded is reported (exit status 2)
    and the others are still graded."""
    reports, status = [], 0
    for path in paths:
        try:
            reports.append(grade(path, time_limit))
        except (NotebookError, RuntimeError) as error:  # RuntimeError: no kernel started
            print(f"error: {error}", file=sys.stderr)
            status = 2
    if as_json and reports:
        print(json.dumps(reports[0] if len(paths) == 1 else reports, indent=2))
    elif reports:
        print("\n".join(format_report(r) for r in reports))
    return status
