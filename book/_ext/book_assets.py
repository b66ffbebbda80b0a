"""Sphinx extension for the book: each page lists each script once, the bibliography's
labels read author-year like the citations, no page carries dead widgets, and a chapter
numbers its figures and tables within itself (chapter 6's second figure is Fig. 6.2).

Jupyter Book and sphinx-book-theme both register sphinx-thebe's and sphinx-togglebutton's
inline configuration scripts (once with the file name None, once with ''), so every page
declares `const THEBE_JS_URL` twice, a console error. This keeps the first of any scripts
with the same file and attributes.
"""

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        key = (getattr(script, "filename", str(script)) or "", attributes)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder renders this very list


def _register_author_year_labels():
    """A pybtex style whose list labels read like the citations in the text:
    [Radford et al., 2015] beside "Radford et al. (2015)"."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            for entry in sorted_entries:
                people = entry.persons.get("author", [])
                names = [" ".join(p.last_names) for p in people]
                if len(names) > 2:
                    who = f"{names[0]} et al."
                elif len(names) == 2:
                    who = f"{names[0]} and {names[1]}"
                else:
                    who = names[0] if names else entry.key
                yield f"{who}, {entry.fields.get('year', 'n.d.')}"

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_widget_state(app, doctree):
    """Keep saved ipywidgets out of the static pages.

    A widget needs a kernel; in the HTML it would be a frozen picture of its controls that
    does not respond, with megabytes of widget-manager JavaScript behind it. A chapter
    offers its widget only where a kernel runs: the cell is tagged ``remove-cell``, so the
    notebook shows it and the page does not. Executing that cell still records the
    widget's state in the notebook's metadata, which myst-nb would embed in the page; this
    drops it. A widget view left on a page is a warning (an error under ``-W``).
    """
    js_files = getattr(app.env, "nb_metadata", {}).get(app.env.docname, {}).get("js_files")
    if not js_files or "ipywidgets_state" not in js_files:
        return
    for key in [k for k in js_files if k.startswith("ipywidgets_")]:
        del js_files[key]
    for raw in doctree.findall(nodes.raw):
        if WIDGET_VIEW in raw.astext():
            logger.warning("an ipywidget is shown on this page, where no kernel can run it: "
                           "tag its cell remove-cell", location=raw)


CHAPTER_PAGE = re.compile(r"^book/0*(\d+)[a-z]?_")


def _number_within_chapters(app, env):
    """Renumber figures, tables and listings from 1 in page order: on the pages of chapter
    N (``book/06_hands_on``, and its section pages ``book/06b_...``, ``book/06c_...``, in
    that order) as N.1, N.2, ... running on across the chapter's pages; on any other page
    from 1. Sphinx's own count runs on across the whole book. Captions and ``{numref}``
    links both read these."""
    counters = {}
    for docname in sorted(env.toc_fignumbers):
        chapter = CHAPTER_PAGE.match(docname)
        prefix = (int(chapter.group(1)),) if chapter else ()
        by_type = env.toc_fignumbers[docname]
        for figtype, numbers in by_type.items():
            start = counters.get((prefix, figtype), 0) if prefix else 0
            in_order = sorted(numbers, key=numbers.get)
            by_type[figtype] = {fid: (*prefix, start + k)
                                for k, fid in enumerate(in_order, 1)}
            counters[(prefix, figtype)] = start + len(in_order)
    return []


def setup(app):
    _register_author_year_labels()
    app.connect("doctree-read", _drop_widget_state)
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    app.connect("env-get-updated", _number_within_chapters, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
