"""Print the built website to one PDF: every page of the table of contents, in order.

    jupyter-book build . -W -n --keep-going      # the site, in _build/html
    python chapters/_ext/book_pdf.py             # -> _build/pdf/book.pdf

Each page of ``_build/html`` is opened in the system's Chromium (driven by Playwright, as
in the browser test; ``apt-get install chromium``), served from 127.0.0.1 with every other
host blocked; the script waits for MathJax to typeset the math and for the figures to
load, prints the page with Chromium's print engine (the theme's print style hides the
navigation), and joins the pages with pypdf, adding one bookmark per page. Jupyter Book's
own ``pdfhtml`` builder needs a Chromium that it downloads itself, which fails offline;
LaTeX (``--builder pdflatex``) needs a TeX Live of several hundred megabytes and rewrites
the HTML-only parts of the book (widgets, quizzes, dropdowns). Printing the site keeps
exactly what a reader sees, math and figures included.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import os
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SPARSECODING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]

#: Runs in the page: wait for MathJax and the images, open the dropdowns of solutions.
_READY_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) { await MathJax.typesetPromise(); }
  }
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(done => { img.onload = img.onerror = done; })));
  return {
    title: (document.querySelector("main h1") || document.querySelector("h1") || {}).textContent || document.title,
    images: document.querySelectorAll("article.bd-article img").length,
  };
}
"""


def toc_pages(root: Path = ROOT) -> list[str]:
    """The HTML pages of the book in reading order: the root page, then the toc's files
    (``index.html`` only redirects to the root page)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [f"{Path(toc['root']).with_suffix('').as_posix()}.html"]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(f"{Path(node['file']).with_suffix('').as_posix()}.html")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return pages


class _Server:
    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_book(html: Path, output: Path, chromium: str = CHROMIUM,
               pages: list[str] | None = None, browser=None) -> list[dict]:
    """Print the pages of ``html`` into ``output``; returns one entry per page
    (``page``, ``title``, ``first_page``, ``n_pages``, ``images``). ``browser``: a
    Playwright browser already launched (the browser test's), or None to launch one."""
    from playwright.sync_api import sync_playwright

    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"no built site in {html}: run jupyter-book build . first")
    if browser is not None:
        return _print_pages(html, output, pages, browser)
    if not Path(chromium).exists():
        raise FileNotFoundError(f"no chromium at {chromium}: apt-get install chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            return _print_pages(html, output, pages, browser)
        finally:
            browser.close()


def _print_pages(html, output, pages, browser):
    from pypdf import PdfReader, PdfWriter

    pages = [p for p in (pages or toc_pages()) if (html / p).is_file()]
    writer, contents = PdfWriter(), []
    with _Server(html) as server:
        context = browser.new_context(viewport={"width": 1100, "height": 1400})
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(server.url)
                      or route.request.url.startswith(("data:", "blob:"))
                      else route.abort())
        page = context.new_page()
        page.set_default_timeout(120_000)
        for name in pages:
            page.goto(server.url + name, wait_until="load")
            info = page.evaluate(_READY_JS)
            page.emulate_media(media="print")
            data = page.pdf(format="A4", print_background=True, prefer_css_page_size=False,
                            margin={"top": "15mm", "bottom": "15mm", "left": "14mm", "right": "14mm"})
            reader = PdfReader(io.BytesIO(data))
            first = len(writer.pages)
            for p in reader.pages:
                writer.add_page(p)
            title = " ".join(info["title"].replace("#", "").split())
            writer.add_outline_item(title=title, page_number=first)
            contents.append({"page": name, "title": title, "first_page": first,
                             "n_pages": len(reader.pages), "images": info["images"]})
            page.emulate_media(media="screen")
        context.close()
    writer.add_metadata({"/Title": "Sparse coding, from first principles"})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as f:
        writer.write(f)
    return contents


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    contents = print_book(args.html, args.output, args.chromium)
    n = sum(c["n_pages"] for c in contents)
    print(f"wrote {args.output}: {len(contents)} chapters and pages, {n} PDF pages, "
          f"{args.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
