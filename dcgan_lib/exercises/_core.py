"""What every check shares: the two outcomes a learner sees, and the exercise registry.

A check either prints one line saying what it verified, or raises one of two exceptions
whose whole message is a single sentence:

- ``CheckFailed`` (an ``AssertionError``): the answer is wrong, and the sentence says how.
- ``NotAttempted`` (a ``NotImplementedError``): the learner's code still raises the stub's
  ``NotImplementedError("Exercise N.M")``.

Both define ``_render_traceback_``, which IPython calls instead of printing a traceback,
so a notebook shows only the sentence and never the checking code's frames.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass


class _OneSentence:
    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class CheckFailed(_OneSentence, AssertionError):
    """The learner's answer is wrong; the message says what is wrong in one sentence."""


class NotAttempted(_OneSentence, NotImplementedError):
    """The learner's code still raises the stub's NotImplementedError."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: ``check(*answers)`` with ``answers`` the learner's objects
    named ``names`` in the notebook."""

    id: str
    title: str
    kind: str  # compute, implement, measure or explain
    names: tuple[str, ...]
    check: Callable


EXERCISES: dict[str, Exercise] = {}
KINDS = ("compute", "implement", "measure", "explain")


def exercise(ex_id: str, title: str, kind: str, *names: str):
    """Register the decorated function as the check of exercise ``ex_id``.

    The body receives the learner's objects and returns a short summary of what it
    verified (printed on success) or raises ``CheckFailed``. A ``NotImplementedError``
    escaping from the learner's code becomes ``NotAttempted``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def register(body):
        @functools.wraps(body)
        def check(*answers):
            if len(answers) != len(names):
                raise TypeError(f"{body.__name__} takes {len(names)} argument(s) "
                                f"({', '.join(names)}), got {len(answers)}")
            message = None
            try:
                summary = body(*answers)
            except NotImplementedError:
                message = (f"Exercise {ex_id} is not attempted yet: replace "
                           f"`raise NotImplementedError` with your code and run that cell again.")
                kind_of_error = NotAttempted
            except CheckFailed as failure:
                message, kind_of_error = str(failure), CheckFailed
            if message is not None:
                # A fresh exception, raised outside the except block: no chained context
                # and no frames from inside the check.
                raise kind_of_error(message).with_traceback(None)
            print(f"Exercise {ex_id} passed: {summary}")

        check.exercise_id = ex_id
        EXERCISES[ex_id] = Exercise(ex_id, title, kind, tuple(names), check)
        return check

    return register


def fail(message: str):
    raise CheckFailed(message)


def call(fn, name: str, *args, **kwargs):
    """Call the learner's ``fn``; its own errors become a CheckFailed sentence."""
    if not callable(fn):
        fail(f"{name} must be a function, got {type(fn).__name__}; "
             f"run the cell that defines it")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # the learner's bug, reported as one sentence
        shown = ", ".join([*map(show, args), *(f"{k}={show(v)}" for k, v in kwargs.items())])
        fail(f"{name}({shown}) raised {type(error).__name__}: {error}")


def show(value) -> str:
    """A short readable form of an argument or a result for a message."""
    try:
        import torch
        if isinstance(value, torch.Tensor):
            if value.numel() <= 4:
                return f"tensor({[round(v, 4) for v in value.flatten().tolist()]})"
            return f"a tensor of shape {tuple(value.shape)}"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "shape") and getattr(value, "size", 0) > 4:
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"a {type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_float(value, what: str) -> float:
    """``value`` as a Python float, or a CheckFailed saying what came back instead."""
    try:
        import torch
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                fail(f"{what} returned a tensor of shape {tuple(value.shape)}; "
                     f"return a single number")
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
            value, "__float__"):
        fail(f"{what} returned {show(value)} ({type(value).__name__}); return a number")
    value = float(value)
    if math.isnan(value):
        fail(f"{what} returned nan; look for a 0/0 or the log of 0")
    return value


def multiple_choice(answer, what: str, options: dict[str, str], correct: str) -> str:
    """Check a one-letter answer; ``options`` maps each wrong letter to why it is wrong."""
    letters = sorted([*options, correct])
    if not isinstance(answer, str) or answer.strip().lower() not in letters:
        fail(f"{what} returned {show(answer)}; return one of "
             f"{', '.join(map(repr, letters))}")
    answer = answer.strip().lower()
    if answer != correct:
        fail(f"{what} returned {answer!r}, which is not right: {options[answer]}")
    return f"({correct}) is right"
