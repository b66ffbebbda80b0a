"""What a chapter page needs from the library: computed numbers for the prose, and code.

``glue(name, value)`` hands a value to the book (myst-nb's glue) so that the text can
quote it with ``{glue:text}`name``` instead of typing it. Outside a book build (Colab,
plain Jupyter), where myst-nb is not installed, it does nothing unless asked to display.

``show(function)`` displays a library function's source, highlighted, where the chapter
explains it: the page's listing is the library's code, never a copy. A function a chapter
shows is short and carries no argument checking (that stays in the public wrapper), so
``show`` refuses one that raises or has lines wider than the page.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # Colab and plain Jupyter
    _myst_glue = None

MAX_COLUMNS = 88  # a code line wider than this scrolls sideways on the page
MAX_LINES = 60


def glue(name: str, value, display: bool = False) -> None:
    """Register ``value`` under ``name`` for the text (shown in place only if ``display``)."""
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as show_value

        show_value(value)


def _calls_a_check(tree: ast.AST) -> bool:
    """Whether the code calls an argument check (``dcgan_lib.checks`` or a ``_check_...``)."""
    from . import checks

    names = {n for n in dir(checks) if not n.startswith("_")} - {"annotations"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
            if called.startswith("_check") or called in names:
                return True
    return False


def listing(obj) -> str:
    """The source of a library function or class, checked to be fit for a page."""
    name = getattr(obj, "__qualname__", repr(obj))
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError):
        raise ValueError(f"show needs a function or class defined in a file, "
                         f"got {name}") from None
    lines = source.rstrip().splitlines()
    tree = ast.parse(source)
    if any(isinstance(node, ast.Raise) for node in ast.walk(tree)) or _calls_a_check(tree):
        raise ValueError(f"{name} raises or calls a check, so it carries argument "
                         f"checking: show the short function it calls instead")
    wide = [i for i, line in enumerate(lines, 1) if len(line) > MAX_COLUMNS]
    if wide:
        raise ValueError(f"{name} has lines wider than {MAX_COLUMNS} columns "
                         f"(line {wide[0]} of its source)")
    if len(lines) > MAX_LINES:
        raise ValueError(f"{name} is {len(lines)} lines long; a listing on the page "
                         f"holds at most {MAX_LINES}")
    module = inspect.getmodule(obj).__name__
    return f"# {module.replace('.', '/')}.py\n" + "\n".join(lines)


def show(*objs):
    """Display the sources of ``objs`` (library functions or classes) as one listing."""
    from IPython.display import Markdown

    body = "\n\n\n".join(listing(obj) for obj in objs)
    return Markdown(f"```python\n{body}\n```")
