"""The chapters read well in JupyterLab: MyST rendered, set-up, tests and solutions folded.

JupyterLab (with jupyterlab-myst, from requirements.txt) is started on 127.0.0.1 with a
token, serving copies of three chapters (so that nothing it saves reaches the
repository); Debian's chromium, driven by Playwright, opens each one. The checks: no raw
MyST is visible (``:class:``, ``{prf:``, ``{cite``, ``{eval`` ...), no nbval marker is
visible, every solution starts collapsed, and the cells the chapter folds with cell
metadata (set-up, test asserts, solution code) show at most their first line.

Marked ``book``. Without chromium (or JupyterLab) the test is skipped with a message,
unless ``SPARSECODING_REQUIRE_BROWSER=1``, as in CI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import importlib.util

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SPARSECODING_CHROMIUM", "/usr/bin/chromium")
CHAPTERS = ["chapters/part2/soft_thresholding.ipynb",
            "chapters/part1/sparse_coding_problem.ipynb",
            "chapters/part3/sparse_autoencoders.ipynb"]
RAW_MYST = [":class:", "{prf:", "{cite", "{eval", "{doc", "{glue", "{ref", "{py:",
            "{exercise", "{solution", "{admonition", "```", "NBVAL"]
TIMEOUT_S = 90

_spec = importlib.util.spec_from_file_location(
    "_cell_metadata", ROOT / "chapters" / "_ext" / "cell_metadata.py")
cell_metadata = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cell_metadata)


def _missing(what: str):
    if os.environ.get("SPARSECODING_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"{what} (SPARSECODING_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving copies of the chapters: (url, token)."""
    if not Path(CHROMIUM).exists():
        _missing(f"no chromium at {CHROMIUM}: apt-get install chromium")
    for module in ("jupyterlab", "jupyterlab_myst", "playwright"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"{module} is not installed: pip install -r requirements.txt")
    home = tmp_path_factory.mktemp("jupyterlab")
    served = home / "served"
    for chapter in CHAPTERS:
        (served / chapter).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / chapter, served / chapter)
    settings = home / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    # Every cell in the page (no virtual scrolling), so the whole chapter can be read.
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
     ).write_text(json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
     ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={served}", "--ServerApp.open_browser=False",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n"
                                + (home / "server.log").read_text()[-3000:], pytrace=False)
                time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


READ_NOTEBOOK_JS = """() => {
  const panel = [...document.querySelectorAll('.jp-NotebookPanel')]
      .find(p => !p.classList.contains('lm-mod-hidden'));
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')];
  return {
    text: panel.querySelector('.jp-Notebook').innerText,
    cells: cells.map(c => ({markdown: c.classList.contains('jp-MarkdownCell'),
                            rendered: c.classList.contains('jp-mod-rendered'),
                            text: c.innerText})),
    solutions: [...panel.querySelectorAll('details')]
        .filter(d => /Solution/.test(d.querySelector('summary')?.innerText || ''))
        .map(d => ({open: d.open, body: (d.querySelector('.details-body') || d)
                    .getBoundingClientRect().height,
                    summary: d.querySelector('summary').innerText})),
  };
}"""


def _read(browser, lab, chapter):
    url, token = lab
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    blocked = []

    def route(request_route):
        host = urlsplit(request_route.request.url).hostname
        if host in ("127.0.0.1", None):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_S * 1000)
    try:
        # A workspace of its own, reset: only this chapter is open.
        workspace = Path(chapter).stem
        page.goto(f"{url}/lab/workspaces/{workspace}/tree/{chapter}?reset&token={token}")
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
        cells = json.loads((ROOT / chapter).read_text())["cells"]
        n_markdown = sum(c["cell_type"] == "markdown" for c in cells)
        n_solutions = sum(c["cell_type"] == "markdown"
                          and "{solution-start}" in "".join(c["source"]) for c in cells)
        deadline = time.monotonic() + TIMEOUT_S
        previous = None
        while True:  # until jupyterlab-myst has rendered every cell and the page is still
            report = page.evaluate(READ_NOTEBOOK_JS)
            rendered = sum(c["markdown"] and c["rendered"] and c["text"].strip() != ""
                           for c in report["cells"])
            done = (rendered >= n_markdown - _empty_markdown(chapter)
                    and len(report["solutions"]) >= n_solutions
                    and report["text"] == previous)
            if done or time.monotonic() > deadline:
                break
            previous = report["text"]
            time.sleep(1)
        page.wait_for_timeout(1500)
        report = page.evaluate(READ_NOTEBOOK_JS)
        report["n_markdown"] = n_markdown
        report["blocked"] = blocked
        return report
    finally:
        context.close()


def _empty_markdown(chapter):
    """Markdown cells that render to nothing (the closing fences of solutions)."""
    cells = json.loads((ROOT / chapter).read_text())["cells"]
    return sum(c["cell_type"] == "markdown" and "{solution-end}" in "".join(c["source"])
               and len("".join(c["source"]).strip().splitlines()) <= 2 for c in cells)


@pytest.fixture(scope="module")
def reports(browser, lab):
    cache = {}

    def get(chapter):
        if chapter not in cache:
            cache[chapter] = _read(browser, lab, chapter)
        return cache[chapter]

    return get


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_myst_is_rendered(reports, chapter):
    report = reports(chapter)
    text = report["text"]
    assert len(report["cells"]) >= report["n_markdown"], "the notebook did not load"
    raw = {marker: text[max(0, text.find(marker) - 60):text.find(marker) + 60]
           for marker in RAW_MYST if marker in text}
    assert not raw, f"{chapter}: raw MyST or test markers in view: {raw}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solutions_start_collapsed(reports, chapter):
    report = reports(chapter)
    notebook = json.loads((ROOT / chapter).read_text())
    n_solutions = sum("{solution-start}" in "".join(c["source"])
                      for c in notebook["cells"] if c["cell_type"] == "markdown")
    assert len(report["solutions"]) == n_solutions, \
        f"{chapter}: {n_solutions} solutions, {len(report['solutions'])} rendered"
    opened = [s["summary"] for s in report["solutions"] if s["open"]]
    assert not opened, f"{chapter}: solutions open on load: {opened}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_folded_cells_show_one_line(reports, chapter):
    """Set-up, test and solution code cells show at most their first line."""
    import nbformat

    report = reports(chapter)
    # which cells must be folded: the rules of chapters/_ext/cell_metadata.py (tags,
    # solutions), not the metadata the chapter happens to carry
    notebook = nbformat.read(ROOT / chapter, as_version=4)
    cell_metadata.apply(notebook)
    shown = []
    for cell, seen in zip(notebook.cells, report["cells"]):
        if cell.cell_type != "code" or not cell.metadata.get(
                "jupyter", {}).get("source_hidden"):
            continue
        lines = [line.strip() for line in cell.source.splitlines()[1:]
                 if len(line.strip()) > 12]
        shown.extend(line for line in lines if line in seen["text"])
    assert not shown, f"{chapter}: folded code in view: {shown[:5]}"
    assert not report["blocked"], f"requests that left 127.0.0.1: {report['blocked']}"
