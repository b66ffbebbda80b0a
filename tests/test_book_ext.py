"""The book's Sphinx extension numbers figures within each chapter page."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

EXT = Path(__file__).resolve().parents[1] / "book" / "_ext" / "book_assets.py"


@pytest.fixture(scope="module")
def book_assets():
    spec = importlib.util.spec_from_file_location("book_assets", EXT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chapter_figures_restart_at_one_with_the_chapter_number(book_assets):
    env = SimpleNamespace(toc_fignumbers={
        "book/01_principles": {"figure": {"a": (1,), "b": (2,)}},
        "book/06_hands_on": {"figure": {"late": (42,), "early": (41,)},
                             "table": {"t": (3,)}},
        "book/claims": {"figure": {"x": (43,)}},
    })
    assert book_assets._number_within_chapters(None, env) == []
    assert env.toc_fignumbers == {
        "book/01_principles": {"figure": {"a": (1, 1), "b": (1, 2)}},
        "book/06_hands_on": {"figure": {"early": (6, 1), "late": (6, 2)},
                             "table": {"t": (6, 1)}},
        "book/claims": {"figure": {"x": (1,)}},
    }


def test_a_chapter_split_over_pages_numbers_on_across_them(book_assets):
    env = SimpleNamespace(toc_fignumbers={
        "book/06b_guidelines": {"figure": {"c": (9,), "d": (10,)}},
        "book/06_hands_on": {"figure": {"a": (7,), "b": (8,)}},
        "book/07_scaling": {"figure": {"e": (11,)}},
    })
    book_assets._number_within_chapters(None, env)
    assert env.toc_fignumbers == {
        "book/06b_guidelines": {"figure": {"c": (6, 3), "d": (6, 4)}},
        "book/06_hands_on": {"figure": {"a": (6, 1), "b": (6, 2)}},
        "book/07_scaling": {"figure": {"e": (7, 1)}},
    }
