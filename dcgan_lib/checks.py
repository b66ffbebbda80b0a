"""Argument checks for the library's public entry points, each naming the bad value.

Every check takes the argument's name and value, returns the value (as a plain ``int`` or
``float`` where it converts) and raises ``ValueError`` or ``TypeError`` with a sentence
that says what was expected: ``width must be a positive integer, got 0``.
"""

from __future__ import annotations

import math
import numbers


def is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name: str, value) -> int:
    if not is_integer(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_int_or_none(name: str, value) -> int | None:
    if value is not None and (not is_integer(value) or value <= 0):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return None if value is None else int(value)


def non_negative_int(name: str, value) -> int:
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def one_of(name: str, value, allowed) -> object:
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, "
                         f"got {value!r}")
    return value


def number_in(name: str, value, lo: float, hi: float, closed_right: bool = True) -> float:
    inside = is_number(value) and lo <= value and (value <= hi if closed_right else value < hi)
    if not inside:
        interval = f"[{lo}, {hi}]" if closed_right else f"[{lo}, {hi})"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def positive_number(name: str, value) -> float:
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value
