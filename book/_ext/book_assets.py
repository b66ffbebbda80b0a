"""Sphinx extension for the book: each page lists each script once, the bibliography's
labels read author-year like the citations, and saved ipywidgets typeset with MathJax 3.

Jupyter Book and sphinx-book-theme both register sphinx-thebe's and sphinx-togglebutton's
inline configuration scripts (once with the file name None, once with ''), so every page
declares `const THEBE_JS_URL` twice, a console error. This keeps the first of any scripts
with the same file and attributes.
"""


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


# @jupyter-widgets/html-manager typesets widget labels through MathJax 2's API
# (MathJax.Hub.Queue); the book runs MathJax 3, where that call throws. This forwards it.
MATHJAX2_QUEUE_SHIM = """
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (mj && !mj.Hub) {
    mj.Hub = {Queue: function (call) {
      var element = call && call[2];
      if (mj.typesetPromise) { mj.typesetPromise(element ? [element] : undefined); }
    }};
  }
});
"""


def setup(app):
    _register_author_year_labels()
    app.add_js_file(None, body=MATHJAX2_QUEUE_SHIM)
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
