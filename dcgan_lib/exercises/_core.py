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

import contextlib
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from dcgan_lib.exercises import _wire


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
    check: Callable  # prints what it verified (a check cell)
    verify: Callable  # returns it (the grader)


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
        def verify(*answers) -> str:
            """The check without printing: the summary, or NotAttempted / CheckFailed."""
            if len(answers) != len(names):
                raise TypeError(f"{body.__name__} takes {len(names)} argument(s) "
                                f"({', '.join(names)}), got {len(answers)}")
            message = None
            try:
                summary = body(*answers)
            except NotImplementedError:
                message, kind_of_error = not_attempted(ex_id), NotAttempted
            except CheckFailed as failure:
                message, kind_of_error = str(failure), CheckFailed
            if message is not None:
                # A fresh exception, raised outside the except block: no chained context
                # and no frames from inside the check.
                raise kind_of_error(message).with_traceback(None)
            return summary

        @functools.wraps(body)
        def check(*answers):
            print(f"Exercise {ex_id} passed: {verify(*answers)}")

        check.exercise_id = ex_id
        EXERCISES[ex_id] = Exercise(ex_id, title, kind, tuple(names), check, verify)
        return check

    return register


def not_attempted(ex_id: str) -> str:
    return (f"Exercise {ex_id} is not attempted yet: replace `raise NotImplementedError` "
            f"with your code and run that cell again.")


@contextlib.contextmanager
def attempted(ex_id: str):
    """Run code that uses the learner's answer to exercise ``ex_id`` beyond its check (a
    demonstration on the shipped weights): a stub's ``NotImplementedError`` inside becomes
    ``NotAttempted``, the one sentence a check gives."""
    try:
        yield
    except NotImplementedError:
        pass
    else:
        return
    raise NotAttempted(not_attempted(ex_id)).with_traceback(None)


def fail(message: str):
    raise CheckFailed(message)


class Answer:
    """The learner's object ``name``, reached only through ``run(request) -> reply``.

    In a check cell the request runs in the notebook's own process; the grader's answers
    run it in the learner's kernel while the check itself runs in the grader's process.
    """

    def __init__(self, name: str, run: Callable[[str], str]):
        self.name, self.run = name, run

    @classmethod
    def local(cls, name: str, fn) -> Answer:
        return cls(name, lambda text: _wire.handle({name: fn}, text))


@dataclass
class Reply:
    """What one call of the learner's function gave, decoded to plain values."""

    value: object
    mutated: list[bool]  # per argument: did the function change a tensor it was given
    grads: list | None = None  # d sum(output[grad_of]) / d each Spec("leaf") argument
    forward: object = None  # a returned module's output on ``forward`` in training mode


def call(fn, name: str, *args, **kwargs):
    """Call the learner's ``fn``; its own errors become a CheckFailed sentence."""
    return call_full(fn, name, args, kwargs).value


def call_full(fn, name: str, args=(), kwargs=None, *, grad_of=None, forward=None) -> Reply:
    """Call the learner's ``fn`` (a function or an ``Answer``) across the wire.

    ``grad_of``: an index path into the output whose sum is differentiated with respect
    to the ``Spec("leaf")`` arguments; ``forward``: a batch fed to a returned module.
    """
    kwargs = kwargs or {}
    if not isinstance(fn, Answer):
        if not callable(fn):
            fail(f"{name} must be a function, got {type(fn).__name__}; "
                 f"run the cell that defines it")
        fn = Answer.local(name, fn)
    shown = ", ".join([*map(show, args), *(f"{k}={show(v)}" for k, v in kwargs.items())])
    text = fn.run(_wire.request(name, args, kwargs, grad_of, forward))
    try:
        data = _wire.parse_reply(text)
        if "missing" in data:
            fail(f"{name} is not defined; run the cell that defines it")
        if "not_callable" in data:
            fail(f"{name} must be a function, got {str(data['not_callable'])}; "
                 f"run the cell that defines it")
        if "not_attempted" in data:
            raise NotImplementedError(name)
        if "raised" in data:
            ename, message = (str(v) for v in data["raised"])
            fail(f"{name}({shown}) raised {ename}: {message}")
        if "value" not in data:
            raise _wire.WireError("the reply holds no value")
        reply = Reply(_wire.decode(data["value"]),
                      [v is True for v in data.get("mutated", [])])
        if forward is not None:
            if "forward_raised" in data:
                ename, message = (str(v) for v in data["forward_raised"])
                reply.forward = _wire.Opaque(ename, message)
            elif "forward" in data:
                reply.forward = _wire.decode(data["forward"])
        if grad_of is not None and isinstance(data.get("grads"), list):
            reply.grads = [None if g is None else _wire.decode(g) for g in data["grads"]]
    except _wire.WireError as error:
        fail(f"{name}({shown}) gave a reply the check cannot read ({error})")
    return reply


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
    import numpy as np
    try:
        import torch
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                fail(f"{what} returned a tensor of shape {tuple(value.shape)}; "
                     f"return a single number")
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, np.ndarray):
        if value.size != 1:
            fail(f"{what} returned an array of shape {tuple(value.shape)}; "
                 f"return a single number")
        value = value.item()
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
