"""The claims ledger: every quantitative claim the chapters make, measured independently.

``ledger()`` returns one :class:`~dcgan_lib.claims.record.Claim` per statement. Each row
holds the closed form a chapter states, the value it predicts, and a value measured here by
an independent route (a real layer, a Monte-Carlo simulation with a fixed seed, autograd, an
eigen-solver), computed when ``ledger()`` runs. A row holds when the measurement agrees with
the prediction within its tolerance. The measurements live beside their chapter, one module
each (:mod:`~dcgan_lib.claims.principles`, ``activations``, ``normalization``, ``dynamics``,
``latent``); this module gathers and renders them. Each row keeps an internal id
(``problem_id``) that ties it to the statement it checks; pages never show it. The whole
ledger runs in a few seconds on a CPU.
"""

from __future__ import annotations

import torch

from . import activations, dynamics, latent, normalization, principles
from .record import N_SE, RELATIONS, Claim

__all__ = ["FAILS", "HOLDS", "N_SE", "RELATIONS", "Claim", "ledger", "problem_ids",
           "to_html"]
CHAPTERS = (principles, activations, normalization, dynamics, latent)


def ledger() -> list[Claim]:
    """Every claim, measured now. Deterministic (fixed seeds); a few seconds on a CPU."""
    torch_state, threads = torch.get_rng_state(), torch.get_num_threads()
    torch.set_num_threads(1)  # every tensor here is small: one thread avoids pool overhead
    try:
        with torch.enable_grad():
            return [row for chapter in CHAPTERS for row in chapter.claims()]
    finally:
        torch.set_rng_state(torch_state)
        torch.set_num_threads(threads)


def problem_ids(rows: list[Claim]) -> set[str]:
    """The problem ids the rows cover."""
    return {r.problem_id for r in rows if r.problem_id is not None}


def _fmt(value) -> str:
    if isinstance(value, tuple):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


HOLDS = "<span style='color: #1a7f37'>yes</span>"
FAILS = "<b style='color: #cf222e'>NO</b>"
NOWRAP = "white-space: nowrap"


def to_html(rows: list[Claim]) -> str:
    """The ledger as a four-column HTML table that fits the book's text column: the claim
    with its closed form and how it is measured, the value expected, the value measured, and
    the check (tolerance, exact or threshold) with whether it holds. Closed forms sit in
    ``<span class="math">\\(...\\)</span>``, the markup Sphinx gives inline math, so MathJax
    typesets them in the built book too."""
    import html

    def number(value) -> str:  # a number never breaks across lines; a tuple may
        text = html.escape(_fmt(value))
        return text if isinstance(value, tuple) else f"<span style='{NOWRAP}'>{text}</span>"

    symbol = {"close": "±", "equal": "=", "greater": ">", "less": "<"}
    head = ("<tr><th>claim, its closed form, and how it is measured</th><th>expected</th>"
            "<th>measured</th><th>check</th></tr>")
    body = []
    for r in rows:
        check = {"close": f"± {r.tolerance:.2g}", "equal": "exact"}.get(
            r.relation, f"{symbol[r.relation]} threshold")
        body.append(
            "<tr>"
            f"<td>{html.escape(r.claim)}<br>"
            f'<span class="math">\\({html.escape(r.closed_form)}\\)</span><br>'
            f"<small><i>{html.escape(r.method)}</i></small></td>"
            f"<td>{number(r.expected)}</td><td>{number(r.measured)}</td>"
            f"<td><span style='{NOWRAP}'>{html.escape(check)}</span><br>"
            f"{HOLDS if r.holds else FAILS}</td></tr>")
    return ("<div style='overflow-x: auto'><table class='dcgan-table claims-ledger'"
            " style='font-size: 0.85em'>"
            f"\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(body)
            + "\n</tbody></table></div>")
