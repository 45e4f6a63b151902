"""The PDF of the book: every chapter's title, its figures, typeset math, a sensible length.

The PDF is printed from the built website by ``chapters/_ext/book_pdf.py`` with the
system's Chromium (see that script for why not LaTeX or Jupyter Book's ``pdfhtml``). This
module reuses an existing ``_build/html`` and skips with a message when there is none;
``tests/test_site.py`` calls :func:`check_book_pdf` right after it builds the site, so the
default test command checks the PDF of the book it has just built. Without Chromium the
test is skipped with a message, unless ``SPARSECODING_REQUIRE_BROWSER=1`` (as in CI).
"""

from __future__ import annotations

import importlib.util
import os
import re
import unicodedata
from pathlib import Path

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
_spec = importlib.util.spec_from_file_location("book_pdf", ROOT / "chapters" / "_ext" / "book_pdf.py")
book_pdf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_pdf)
#: A generous bound: the small-scale book prints to a few hundred A4 pages.
MAX_PAGES = 2000
#: Math delimiters that MathJax consumes when it typesets (code listings keep their TeX).
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def require_chromium():
    if not Path(book_pdf.CHROMIUM).exists():
        message = (f"no chromium at {book_pdf.CHROMIUM}: apt-get install chromium (or set "
                   "SPARSECODING_CHROMIUM) to print and check the PDF")
        if os.environ.get("SPARSECODING_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def check_book_pdf(html: Path, output: Path, browser=None) -> None:
    """Print ``html`` to ``output`` and check the result (raises AssertionError);
    ``browser``: a Playwright browser already launched, or None to launch one."""
    from pypdf import PdfReader

    if browser is None:
        require_chromium()
    pages = [p for p in book_pdf.toc_pages(ROOT) if (html / p).is_file()]
    contents = book_pdf.print_book(html, output, pages=pages, browser=browser)
    reader = PdfReader(str(output))
    n_pages = len(reader.pages)
    assert [c["page"] for c in contents] == pages, "every page of the toc is printed, in order"
    assert n_pages == sum(c["n_pages"] for c in contents)
    assert len(pages) <= n_pages <= MAX_PAGES, f"{n_pages} pages for {len(pages)} web pages"
    problems = []
    for entry in contents:
        span = range(entry["first_page"], entry["first_page"] + entry["n_pages"])
        text = "\n".join(reader.pages[i].extract_text() or "" for i in span)
        if _norm(entry["title"]) not in _norm(text):
            problems.append(f"{entry['page']}: title {entry['title']!r} not in its pages")
        if entry["images"]:
            n_images = sum(len(reader.pages[i].images) for i in span)
            if n_images == 0:
                problems.append(f"{entry['page']}: {entry['images']} figures on the site, none in the PDF")
        if RAW_TEX.search(text):
            problems.append(f"{entry['page']}: TeX left as text: {RAW_TEX.search(text).group(0)}")
    titles = [item.title for item in reader.outline]
    assert titles == [c["title"] for c in contents], "one bookmark per page"
    assert not problems, "\n".join(problems)


def test_book_pdf(tmp_path):
    if not (HTML / "index.html").is_file():
        pytest.skip("no built site in _build/html: build the book first "
                    "(jupyter-book build . -W -n --keep-going); tests/test_site.py checks the "
                    "PDF after its own build")
    check_book_pdf(HTML, tmp_path / "book.pdf")
