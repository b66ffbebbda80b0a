"""One claim of the ledger: what a page states, the value it predicts, the value measured.

Monte-Carlo tolerances are ``N_SE`` standard errors computed from the same samples; every
random draw comes from a seeded generator, so the ledger is the same on every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

N_SE = 4  # Monte-Carlo tolerance in standard errors: a correct claim fails with p < 1e-4
RELATIONS = ("close", "equal", "greater", "less")


@dataclass(frozen=True)
class Claim:
    """One row. ``relation`` says how ``measured`` is compared with ``expected``:
    ``"close"`` |measured - expected| <= tolerance, ``"equal"`` exactly equal (shapes, chains
    of sizes), ``"greater"`` measured > expected, ``"less"`` measured < expected; for the last
    two, ``expected`` is a threshold rather than a predicted value."""

    problem_id: str | None
    claim: str
    closed_form: str
    expected: float | tuple
    measured: float | tuple
    tolerance: float
    relation: str
    method: str

    @property
    def holds(self) -> bool:
        if self.relation == "equal":
            return self.measured == self.expected
        if self.relation == "greater":
            return bool(self.measured > self.expected)
        if self.relation == "less":
            return bool(self.measured < self.expected)
        return bool(abs(self.measured - self.expected) <= self.tolerance)

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")


def mean_se(samples: torch.Tensor) -> tuple[float, float]:
    samples = samples.double().flatten()
    return samples.mean().item(), (samples.std() / math.sqrt(samples.numel())).item()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
