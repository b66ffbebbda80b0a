"""Putting computed numbers into a chapter's prose.

``glue(name, value)`` hands a value to the book (myst-nb's glue) so that the text can
quote it with ``{glue:text}`name``` instead of typing it. Outside a book build (Colab,
plain Jupyter), where myst-nb is not installed, it does nothing unless asked to display.
"""

from __future__ import annotations

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # Colab and plain Jupyter
    _myst_glue = None


def glue(name: str, value, display: bool = False) -> None:
    """Register ``value`` under ``name`` for the text (shown in place only if ``display``)."""
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as show

        show(value)
