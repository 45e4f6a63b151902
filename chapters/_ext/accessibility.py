"""Site-level accessibility fixes of the theme and of docutils' markup.

Found by the axe-core checks of ``tests/test_site.py``:

* ``static/book-accessibility.css``: darker links inside admonitions (exercises,
  solutions, notes), where the theme's link colour on the admonition's tint falls under
  WCAG AA's contrast ratio of 4.5:1;
* the bibliography: docutils writes a ``role="list"`` container whose entries have the
  (deprecated) role ``doc-biblioentry`` and contain back-links, which a list may not
  contain (axe's rule aria-required-children, critical): both roles are dropped, the
  entries stay plain blocks with their labels.
"""

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def _add_static_path(app, config):
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def _fix_markup(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'class="citation-list"' in body:
        context["body"] = (body.replace('<div role="list" class="citation-list">',
                                        '<div class="citation-list">')
                           .replace(' role="doc-biblioentry"', ""))


def setup(app):
    app.connect("config-inited", _add_static_path)
    app.connect("html-page-context", _fix_markup)
    app.add_css_file("book-accessibility.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
