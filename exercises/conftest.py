"""Run the exercise notebooks under ``pytest --nbval-lax exercises``.

Solution notebooks (``exercises/solutions/``) must run clean: every check passes.
Learner notebooks (``exercises/NN_*.ipynb``) must run clean except their check cells
(tagged ``raises-exception`` by ``generate``), and each of those must fail in exactly one
way: ``NotAttempted``, because the stub has not been replaced, shown as its one sentence
with no traceback. A check cell that passes on a stub, or fails in any other way, fails the
test.
"""

from pathlib import Path

import pytest

CHECK_TAG = "raises-exception"


def _is_learner_check(item) -> bool:
    cell = getattr(item, "cell", None)
    if cell is None or Path(str(item.fspath)).parent.name != "exercises":
        return False
    return CHECK_TAG in cell.metadata.get("tags", [])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if _is_learner_check(item):
        errors = [o for o in (item.test_outputs or []) if o.get("output_type") == "error"]
        if not errors:
            pytest.fail(f"check cell {item.cell.source.strip()!r} passed on an unattempted "
                        f"stub; a check must reject the stub", pytrace=False)
        error = errors[-1]
        if error["ename"] != "NotAttempted":
            pytest.fail(f"check cell {item.cell.source.strip()!r} raised "
                        f"{error['ename']}: {error['evalue']}; on a stub it must "
                        f"raise NotAttempted", pytrace=False)
        if error["traceback"] != [f"NotAttempted: {error['evalue']}"]:
            pytest.fail(f"check cell {item.cell.source.strip()!r} showed a traceback of "
                        f"{len(error['traceback'])} lines; the learner should see one sentence",
                        pytrace=False)
    return result
