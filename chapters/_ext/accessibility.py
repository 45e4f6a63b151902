"""Site-level accessibility fixes of the theme (found by axe-core in tests/test_site.py).

Adds ``static/book-accessibility.css`` to every page: darker links inside admonitions
(exercises, solutions, notes), where the theme's link colour on the admonition's tint
falls under WCAG AA's contrast ratio of 4.5:1.
"""

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def _add_static_path(app, config):
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("config-inited", _add_static_path)
    app.add_css_file("book-accessibility.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
