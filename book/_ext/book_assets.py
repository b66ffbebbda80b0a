"""Sphinx extension: each page lists each script once.

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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
