"""The claims ledger: every quantitative claim of the source texts holds when measured."""

import re
from pathlib import Path

import pytest

from dcgan_lib.claims import FAILS, HOLDS, Claim, ledger, problem_ids, to_html

REPO = Path(__file__).resolve().parent.parent
SEED_DIRS = [REPO.parent / "shared" / "seeds", Path("/work/shared/seeds")]


@pytest.fixture(scope="module")
def rows():
    return ledger()


def seed_problem_ids() -> set[str] | None:
    for folder in SEED_DIRS:
        if folder.is_dir():
            text = "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt")))
            return set(re.findall(r"problem_id:(\d+)", text))
    return None


def test_every_claim_of_the_sources_holds_when_measured(rows):
    broken = [f"[{r.problem_id}] {r.claim}: expected {r.expected}, measured {r.measured} "
              f"({r.relation}, tolerance {r.tolerance})" for r in rows if not r.holds]
    assert not broken, "\n".join(broken)


def test_ledger_covers_every_problem_id_in_the_source_documents(rows):
    ids = seed_problem_ids()
    if ids is None:
        pytest.skip("the source texts (shared/seeds) are not on this machine")
    assert ids, "no problem ids found in the source texts"
    assert ids - problem_ids(rows) == set()


def test_ledger_is_deterministic(rows):
    again = ledger()
    assert [(r.claim, r.measured) for r in again] == [(r.claim, r.measured) for r in rows]


def test_every_row_states_a_closed_form_a_method_and_a_non_negative_tolerance(rows):
    for r in rows:
        assert r.closed_form and r.method and r.claim
        assert r.tolerance >= 0


def test_a_measurement_outside_its_tolerance_does_not_hold():
    row = Claim("1", "two is two", "2", 2.0, 2.5, 0.1, "close", "typed in for this test")
    assert not row.holds
    assert Claim("1", "x", "x", 2.0, 2.05, 0.1, "close", "m").holds
    assert not Claim("1", "x", "x", (4, 8), (4, 9), 0, "equal", "m").holds
    assert not Claim("1", "x", "x", 1e-3, 0.0, 0, "greater", "m").holds
    assert not Claim("1", "x", "x", 0.0, 0.5, 0, "less", "m").holds


def test_claim_rejects_an_unknown_relation():
    with pytest.raises(ValueError, match="relation must be one of"):
        Claim("1", "x", "x", 0.0, 0.0, 0.0, "roughly", "m")


def test_html_table_has_one_row_per_claim_and_marks_broken_ones(rows):
    broken = Claim("1", "a <broken> claim", "x", 1.0, 2.0, 0.1, "close", "m")
    table = to_html([*rows, broken])
    assert table.count("<tr>") == len(rows) + 2  # the header row and the broken one
    assert table.count(FAILS) == 1
    assert table.count(HOLDS) == len(rows)
    assert "a &lt;broken&gt; claim" in table
