"""Helpers of the website test (``tests/test_site.py``): pages of the book, a local web
server for the built site, link resolution, and the JavaScript that inspects a page.

Nothing here reaches the network: the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import socketserver
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

#: Pages that Sphinx and its extensions generate (not in the toc): the general index and
#: the index of algorithms and theorems (sphinx-proof). They are checked like the others.
GENERATED_PAGES = ["genindex.html", "prf-prf.html"]
#: Built pages that are not chapters: generated indices, search, sources, assets.
SPECIAL_PAGES = {"search.html", "py-modindex.html", *GENERATED_PAGES}


def toc_pages(root: Path) -> list[str]:
    """The pages of the book, in ``_toc.yml`` order, as paths relative to the site root.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "_toc.yml").write_text(
    ...     "root: intro\\nparts:\\n  - chapters:\\n      - file: a/b\\n      - file: c.ipynb\\n")
    >>> toc_pages(d)
    ['intro.html', 'a/b.html', 'c.html']
    """
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    pages = []
    for name in found:
        stem = name.rsplit(".", 1)[0] if name.endswith((".ipynb", ".md")) else name
        pages.append(stem + ".html")
    return pages


def built_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built site except assets, sources and generated indices."""
    html_dir = Path(html_dir)
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if any(part.startswith("_") for part in rel.parts[:-1]):
            continue
        if rel.as_posix() in SPECIAL_PAGES or rel.as_posix() == "index.html":
            continue
        pages.append(rel.as_posix())
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class SiteServer:
    """Serve a folder on 127.0.0.1 at a free port, from a daemon thread.

    >>> import tempfile, urllib.request
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.html").write_text("<p>hi</p>")
    >>> with SiteServer(d) as server:
    ...     urllib.request.urlopen(server.url + "a.html").read()
    b'<p>hi</p>'
    """

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        socketserver.TCPServer.allow_reuse_address = True
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (key == "name" and tag == "a"):
                if value:
                    self.anchors.add(value)


@functools.lru_cache(maxsize=None)
def anchors_of(path: Path) -> frozenset:
    """The ``id`` (and ``<a name>``) values of an HTML file.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "p.html"
    >>> _ = f.write_text('<h2 id="x">X</h2><a name="y"></a><div id="a/b-1"></div>')
    >>> sorted(anchors_of(f))
    ['a/b-1', 'x', 'y']
    """
    parser = _Anchors()
    parser.feed(Path(path).read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.anchors)


def check_link(html_dir: Path, host: str, absolute_url: str) -> str | None:
    """Why a link of the served site is broken, or None if it resolves (or is external).

    ``absolute_url`` is the link as the browser resolved it; links to another host
    (Binder, Colab, the repository, DOIs) are not followed: they are just links.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "p.html").write_text('<h2 id="x">X</h2>')
    >>> check_link(d, "127.0.0.1:8", "http://127.0.0.1:8/p.html#x") is None
    True
    >>> check_link(d, "127.0.0.1:8", "http://127.0.0.1:8/p.html#nope")
    'no anchor #nope in p.html'
    >>> check_link(d, "127.0.0.1:8", "http://127.0.0.1:8/q.html")
    'no file q.html'
    >>> check_link(d, "127.0.0.1:8", "https://mybinder.org/v2/gh/x") is None
    True
    """
    parts = urlsplit(absolute_url)
    if parts.scheme not in ("http", "https") or parts.netloc != host:
        return None
    rel = unquote(parts.path).lstrip("/")
    target = Path(html_dir) / rel
    if rel == "" or target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"no file {target.relative_to(html_dir).as_posix()}"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in anchors_of(target):
        return f"no anchor #{fragment} in {target.relative_to(html_dir).as_posix()}"
    return None


#: Runs in the page once it has loaded: waits for MathJax to finish typesetting, makes
#: lazy images load, and reports what the website test checks.
INSPECT_PAGE_JS = r"""
async () => {
  const out = {mathjax: null};
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    out.mathjax = MathJax.version || "unknown";
  }
  const imgs = [...document.images];
  await Promise.all(imgs.map((img) => {
    img.loading = "eager";
    return img.complete ? null : img.decode().catch(() => null);
  }));
  out.images = imgs.map((img) => ({
    src: img.getAttribute("src"),
    alt: img.getAttribute("alt"),
    complete: img.complete,
    naturalWidth: img.naturalWidth,
    in_output: !!img.closest(".cell_output"),
  }));
  // Text that still looks like TeX, outside code, outside rendered math.
  const skip = "pre, code, script, style, textarea, kbd, samp, noscript, "
             + ".highlight, mjx-container, mjx-assistive-mml";
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\end\{|\$[^$\s][^$]*\$/;
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (tex.test(node.nodeValue)) raw.push(node.nodeValue.trim().slice(0, 160));
  }
  out.raw_tex = raw;
  const maths = [...document.querySelectorAll(".math")];
  out.n_math = maths.length;
  out.math_not_rendered = maths
    .filter((el) => !el.querySelector("mjx-container"))
    .map((el) => el.textContent.trim().slice(0, 160));
  const containers = [...document.querySelectorAll("mjx-container")];
  out.n_mjx = containers.length;
  out.mjx_empty = containers.filter((el) => el.childElementCount === 0).length;
  out.mjx_errors = [...document.querySelectorAll("mjx-merror")]
    .map((el) => (el.getAttribute("data-mjx-error") || el.textContent).slice(0, 160));
  out.mathjax_src = [...document.querySelectorAll("script[src]")]
    .map((s) => s.src).filter((s) => /mathjax/i.test(s));
  out.links = [...document.querySelectorAll("a[href]")]
    .map((a) => ({href: a.getAttribute("href"), url: a.href}));
  return out;
}
"""
