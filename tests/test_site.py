"""The website: the book builds with warnings as errors, and every page works in a browser.

The build executes every chapter, so this module takes minutes; it is marked ``book``
(select it with ``-m book``, leave it out with ``-m "not book"``). The browser is
Debian's chromium (``apt-get install chromium``) driven by Playwright for Python; every
request to a host other than 127.0.0.1 is blocked, so the checks also prove that the
site, its math included, works with no internet.

Set ``SPARSECODING_SITE_PREBUILT=1`` to check an existing ``_build/html`` without
building it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from site_check import (
    GENERATED_PAGES,
    INSPECT_PAGE_JS,
    SiteServer,
    built_pages,
    check_link,
    toc_pages,
)

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LOG = ROOT / "_build" / "site-build.log"
BUILD_TIMEOUT_S = 40 * 60
CHROMIUM = os.environ.get("SPARSECODING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = toc_pages(ROOT)
#: Every page a reader can reach: the toc's, then the generated indices.
ALL_PAGES = PAGES + GENERATED_PAGES
NOTEBOOK_PAGES = [p for p in PAGES if (ROOT / p.replace(".html", ".ipynb")).is_file()]
#: The chapter whose exercises, header buttons and screenshot the tests look at.
CHAPTER = "chapters/part2/soft_thresholding.html"
TIMEOUT_MS = 60_000


def _tail(text: str, n: int = 80) -> str:
    return "\n".join(text.splitlines()[-n:])


@contextlib.contextmanager
def _probe_venv():
    """A virtual environment in the repository, as the README advises (``.venv``), with
    pages a careless build would pick up: the build must leave it out. A real ``.venv``
    is used as it is."""
    venv = ROOT / ".venv"
    if venv.exists():
        yield
        return
    site = venv / "lib" / "python3" / "site-packages" / "probe"
    try:
        site.mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (site / "README.md").write_text("# A package's README\n\nNot a page of the book.\n")
        (venv / "share" / "jupyter").mkdir(parents=True)
        (venv / "share" / "jupyter" / "NOTES.md").write_text("# Notes\n")
        yield
    finally:
        shutil.rmtree(venv, ignore_errors=True)


@pytest.fixture(scope="module")
def build():
    """Build the book once for the module; returns (return code, log text, seconds)."""
    if os.environ.get("SPARSECODING_SITE_PREBUILT"):
        log = LOG.read_text(errors="replace") if LOG.exists() else ""
        return 0 if (HTML / "index.html").exists() else 1, log, 0.0
    LOG.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, "1")
    env.setdefault("SPARSECODING_SCALE", "small")
    # The kernels must use Jupyter's inline backend, or figures never reach the pages
    # (the test configuration sets MPLBACKEND=Agg for nbval).
    env.pop("MPLBACKEND", None)
    env["PYTHONUNBUFFERED"] = "1"
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book",
               "build", ".", "-W", "-n", "--keep-going"]
    start = time.monotonic()
    with _probe_venv(), LOG.open("w") as log:
        # A session of its own, so that a timeout also ends the notebook kernels.
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=BUILD_TIMEOUT_S)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = f"killed after {time.monotonic() - start:.0f} s"
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise
    seconds = time.monotonic() - start
    print(f"\nbook build: return code {code}, {seconds:.0f} s, log in {LOG}")
    return code, LOG.read_text(errors="replace"), seconds


def test_build_succeeds(build):
    code, log, _ = build
    if code != 0:
        problems = [line for line in log.splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        pytest.fail(
            f"jupyter-book build -W -n --keep-going returned {code}.\n"
            "Warnings and errors:\n" + "\n".join(problems[-40:])
            + "\n\nEnd of the log:\n" + _tail(log),
            pytrace=False,
        )


def test_every_toc_page_is_built(build):
    missing = [page for page in PAGES if not (HTML / page).is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"
    assert (HTML / "index.html").is_file()


def test_no_page_outside_the_toc(build):
    stray = sorted(set(built_pages(HTML)) - set(PAGES))
    assert not stray, f"built pages that are not in _toc.yml (so not tested): {stray}"


@pytest.fixture(scope="module")
def server(build):
    if not (HTML / "index.html").is_file():
        pytest.fail("the book did not build: no _build/html/index.html", pytrace=False)
    with SiteServer(HTML) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install playwright (see requirements.txt)",
                    pytrace=False)
    if not Path(CHROMIUM).exists():
        message = (f"no chromium at {CHROMIUM}: apt-get install chromium (or set "
                   "SPARSECODING_CHROMIUM) to run the browser tests")
        if os.environ.get("SPARSECODING_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)
        yield chromium
        chromium.close()


class Visit:
    """A page opened in a fresh browser context that can reach 127.0.0.1 only."""

    def __init__(self, browser, server, viewport=(1280, 900)):
        self.server = server
        self.console_errors: list[str] = []
        self.console_warnings: list[str] = []
        self.page_errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            service_workers="block",
        )
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)

    def _local(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob", "about") or parts.netloc == self.server.host

    def _route(self, route):
        if self._local(route.request.url):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def _console(self, message):
        text = f"{message.text} ({message.location.get('url', '')}"\
               f":{message.location.get('lineNumber', '')})"
        if message.type == "error":
            self.console_errors.append(text)
        elif message.type == "warning":
            self.console_warnings.append(text)

    def _request_failed(self, request):
        if self._local(request.url):
            self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url}: HTTP {response.status}")

    def open(self, page: str):
        self.page.goto(self.server.url + page, wait_until="load")
        report = self.page.evaluate(INSPECT_PAGE_JS)
        try:
            self.page.wait_for_load_state("networkidle", timeout=15_000)
        except Exception:  # a page that keeps polling is reported by the request lists
            pass
        return report

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def reports(browser, server):
    """Open each page once; the tests below read the cached report."""
    cache = {}

    def get(page):
        if not (HTML / page).is_file():
            if page in GENERATED_PAGES:
                pytest.skip(f"{page} is not generated for this book")
            pytest.fail(f"{page} was not built", pytrace=False)
        if page not in cache:
            report = _visit(page)
            if report["page_errors"]:
                # A script error that does not come back on a second load is a race of
                # the loaded CI machine (seen once, in a theme script); one that comes
                # back fails the test. The first load's errors are printed either way.
                print(f"{page}: page errors on the first load: {report['page_errors']}")
                report = _visit(page)
            cache[page] = report
        return cache[page]

    def _visit(page):
        visit = Visit(browser, server)
        try:
            report = visit.open(page)
            report["axe"] = _axe_violations(visit.page)
            report["n_assistive"] = visit.page.locator("mjx-assistive-mml").count()
        finally:
            visit.close()
        report.update(console_errors=visit.console_errors,
                      console_warnings=visit.console_warnings,
                      page_errors=visit.page_errors, blocked=visit.blocked,
                      failed=visit.failed)
        return report

    return get


#: axe-core impacts that fail the accessibility test (minor and moderate are reported).
AXE_FAILING = ("serious", "critical")


def _axe_violations(page):
    """axe-core's violations on the open page (axe-playwright-python bundles axe-core)."""
    from axe_playwright_python.sync_playwright import Axe

    # no CSSOM preload: axe would fetch the theme's @import'ed stylesheets again,
    # resolving them against the page instead of the stylesheet (a spurious 404); the
    # colour-contrast rule reads computed styles and does not need it
    result = Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    return [
        {"id": v["id"], "impact": v.get("impact"), "help": v.get("help"),
         "nodes": [" ".join(n.get("target", [""])[:1]) for n in v.get("nodes", [])][:5]}
        for v in result.response.get("violations", [])
    ]


@pytest.mark.parametrize("page", ALL_PAGES)
def test_accessibility(reports, page):
    """No serious or critical axe-core violation on any page (WCAG 2 A/AA rules)."""
    violations = reports(page)["axe"]
    minor = [v for v in violations if v["impact"] not in AXE_FAILING]
    if minor:
        print(f"{page}: minor accessibility findings: {json.dumps(minor)}")
    failing = [v for v in violations if v["impact"] in AXE_FAILING]
    assert not failing, f"{page}: accessibility violations: {json.dumps(failing, indent=1)}"


def test_assistive_mathml(reports):
    """MathJax writes hidden MathML beside each formula, for screen readers."""
    page = "chapters/part2/soft_thresholding.html"
    visit_report = reports(page)
    assert visit_report["n_mjx"] > 0
    assert visit_report.get("n_assistive", 0) > 0, f"{page}: no assistive MathML"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_page_loads_without_errors(reports, page):
    report = reports(page)
    problems = {key: report[key] for key in
                ("console_errors", "page_errors", "failed", "blocked") if report[key]}
    if report["console_warnings"]:
        print(f"console warnings on {page}: {report['console_warnings']}")
    assert not problems, f"{page}: {json.dumps(problems, indent=1)}"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_math_is_typeset(reports, page):
    report = reports(page)
    assert not report["raw_tex"], f"{page}: TeX left as text: {report['raw_tex'][:10]}"
    assert not report["math_not_rendered"], \
        f"{page}: math that MathJax did not render: {report['math_not_rendered'][:10]}"
    assert not report["mjx_errors"], f"{page}: MathJax errors: {report['mjx_errors']}"
    assert report["mjx_empty"] == 0, f"{page}: {report['mjx_empty']} empty mjx-container"
    if report["n_math"]:
        assert report["mathjax"], f"{page} has math but MathJax did not start"
        assert report["n_mjx"] >= report["n_math"], f"{page}: math not typeset"
        assert report["mathjax_src"], f"{page}: no MathJax script"
        for src in report["mathjax_src"]:
            assert urlsplit(src).hostname == "127.0.0.1", \
                f"{page}: MathJax is not served by the site: {src}"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_images_load_and_have_alt_text(reports, page):
    report = reports(page)
    broken = [img["src"] for img in report["images"]
              if not img["complete"] or img["naturalWidth"] == 0]
    no_alt = [img["src"] for img in report["images"] if not (img["alt"] or "").strip()]
    assert not (broken or no_alt), \
        f"{page}: images that do not load: {broken}; images without alt text: {no_alt}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_notebook_figures_are_on_the_page(reports, page):
    """A chapter that shows figures has them in its page (they come from the build)."""
    source = ROOT / page.replace(".html", ".ipynb")
    notebook = json.loads(source.read_text())
    n_shown = sum("plt.show()" in "".join(cell["source"]) for cell in notebook["cells"]
                  if cell["cell_type"] == "code")
    n_figures = sum(1 for img in reports(page)["images"] if img["in_output"])
    assert n_figures >= min(n_shown, 1), \
        f"{page}: {n_shown} cells call plt.show() but the page has no output figure"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_internal_links_resolve(reports, server, page):
    report = reports(page)
    broken = []
    for link in report["links"]:
        why = check_link(HTML, server.host, link["url"])
        if why:
            broken.append(f"{link['href']} ({why})")
    assert not broken, f"{page}: broken links: {sorted(set(broken))}"


@pytest.fixture
def visit(browser, server):
    v = Visit(browser, server)
    yield v
    v.close()


def _no_errors(v: Visit):
    assert not (v.console_errors or v.page_errors or v.failed or v.blocked), (
        v.console_errors, v.page_errors, v.failed, v.blocked)


def test_solution_dropdown_opens(visit):
    from playwright.sync_api import expect

    visit.open(CHAPTER)
    solution = visit.page.locator(".solution.dropdown").first
    expect(solution).to_be_attached()
    content = solution.locator("section").first
    expect(content).to_be_hidden()
    button = solution.locator("button.toggle-button")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(content).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    _no_errors(visit)


def test_chapter_header_buttons(visit):
    """Launch (Binder, Colab), download (.ipynb), repository and search buttons."""
    from playwright.sync_api import expect

    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].rstrip("/")
    slug = repo.split("github.com/", 1)[1]
    source = CHAPTER.replace(".html", ".ipynb")
    page = visit.page
    visit.open(CHAPTER)
    # let the theme's scripts (Bootstrap's dropdowns) finish setting up before clicking:
    # on a loaded machine a click right after "load" can reach a half-made dropdown
    page.wait_for_load_state("networkidle")

    launch = page.locator(".dropdown-launch-buttons")
    expect(launch).to_have_count(1)
    launch.locator("button.dropdown-toggle").click()
    binder = launch.locator("a[href*='mybinder.org']")
    colab = launch.locator("a[href*='colab.research.google.com']")
    expect(binder).to_be_visible()
    expect(colab).to_be_visible()
    assert f"/v2/gh/{slug}/" in binder.get_attribute("href")
    assert binder.get_attribute("href").endswith(source)
    # Colab opens the Jupyter edition on the branch the site is published to.
    branch = config["sphinx"]["config"].get("edition_pages_branch", "gh-pages")
    assert colab.get_attribute("href").endswith(
        f"github/{slug}/blob/{branch}/_edition/{source}")

    download = page.locator(".dropdown-download-buttons a.btn-download-source-button")
    expect(download).to_have_count(1)
    url = download.evaluate("a => a.href")
    assert url.endswith(f"_edition/{source}"), url
    assert check_link(HTML, visit.server.host, url) is None, url
    notebook = json.loads((HTML / urlsplit(url).path.lstrip("/")).read_text())
    assert "import sparsecoding" in "".join(notebook["cells"][0]["source"]), \
        "the downloadable notebook does not start with the install cell"
    archive = page.locator(".dropdown-download-buttons a.btn-download-edition-zip")
    expect(archive).to_have_count(1)
    assert check_link(HTML, visit.server.host, archive.evaluate("a => a.href")) is None

    repo_button = page.locator("a.btn-source-repository-button")
    expect(repo_button).to_have_count(1)
    assert repo_button.get_attribute("href").rstrip("/") == repo

    expect(page.locator("button.search-button").first).to_be_attached()
    _no_errors(visit)


def test_jupyter_edition_is_built(build):
    """Every chapter has its Jupyter edition, in plain Markdown with the values written in,
    plus a zip of them all and the package's wheel that the install cells fetch."""
    import zipfile

    folder = HTML / "_edition"
    index = json.loads((folder / "index.json").read_text())
    expected = sorted(page.replace(".html", ".ipynb") for page in NOTEBOOK_PAGES)
    assert sorted(index["notebooks"]) == expected
    assert (folder / index["wheel"]).is_file()
    with zipfile.ZipFile(folder / "sparse-coding-notebooks.zip") as archive:
        assert sorted(archive.namelist()) == expected
    raw = [":class:", "{prf:", "{cite", "{eval", "{doc", "{glue", "{ref", "{py:",
           "{exercise", "{solution", "NBVAL"]
    for name in expected:
        notebook = json.loads((folder / name).read_text())
        first = "".join(notebook["cells"][0]["source"])
        assert "except ImportError" in first and index["wheel"] in first, name
        for cell in notebook["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                found = [marker for marker in raw if marker in text]
                assert not found, f"{name}: {found} in {text[:200]!r}"


def test_index_leads_to_the_landing_page(visit):
    visit.page.goto(visit.server.url + "index.html")
    visit.page.wait_for_url("**/" + PAGES[0])
    _no_errors(visit)


def test_search_finds_pages(visit):
    """The search page works offline, from the site's own index."""
    visit.page.goto(visit.server.url + "search.html?q=sparse", wait_until="load")
    results = visit.page.locator("#search-results ul.search li")
    results.first.wait_for(state="attached", timeout=TIMEOUT_MS)
    assert results.count() >= 1
    _no_errors(visit)


def test_screenshots(visit):
    """Screenshots of the landing page and of a chapter, kept in the built site."""
    shots = HTML / "_screenshots"
    shots.mkdir(exist_ok=True)
    for name, page in (("landing", PAGES[0]), ("chapter", CHAPTER)):
        visit.open(page)
        path = shots / f"{name}.png"
        visit.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000, f"{path} looks empty"
    _no_errors(visit)


#: A chapter with self-check questions (chapters/part1/_quiz/bases.json).
QUIZ_CHAPTER = "chapters/part1/bases.html"


def test_self_check_quiz_gives_feedback(visit):
    """The concept questions work on the static page: click an answer, read the feedback."""
    from playwright.sync_api import expect

    bank = json.loads((ROOT / "chapters" / "part1" / "_quiz" / "bases.json").read_text())
    visit.open(QUIZ_CHAPTER)
    quiz = visit.page.locator(".Quiz").first
    expect(quiz).to_be_visible()
    expect(visit.page.locator(".Quiz")).to_have_count(len(bank))
    wrong = next(a for a in bank[0]["answers"] if not a["correct"])
    right = next(a for a in bank[0]["answers"] if a["correct"])
    quiz.locator("label.MCButton", has_text=wrong["answer"]).click()
    expect(quiz.locator(".Feedback")).to_contain_text(wrong["feedback"])
    quiz.locator("label.MCButton", has_text=right["answer"]).click()
    expect(quiz.locator(".Feedback")).to_contain_text(right["feedback"])
    _no_errors(visit)


def test_downloads_are_offered(visit):
    """The home page links the student edition and the zip of all notebooks."""
    import zipfile

    visit.open("intro.html")
    for name in ("student-edition.zip", "notebooks.zip"):
        link = visit.page.locator(f"a[href='downloads/{name}']")
        assert link.count() == 1, f"no link to downloads/{name} on the home page"
        with zipfile.ZipFile(HTML / "downloads" / name) as zf:
            names = zf.namelist()
        assert any(n.endswith("chapters/part2/ista.ipynb") for n in names), names[:5]
    with zipfile.ZipFile(HTML / "downloads" / "student-edition.zip") as zf:
        assert any("/tests/ista/" in n for n in zf.namelist()), "no generated checks"


def test_book_pdf(browser, tmp_path):
    """The PDF printed from the site just built (see tests/test_pdf.py)."""
    from test_pdf import check_book_pdf

    check_book_pdf(HTML, tmp_path / "book.pdf", browser=browser)
