"""The chapters as students run them: cell metadata for JupyterLab, the Jupyter edition
(plain Markdown for Colab, VS Code and downloads) and its install cell.

The edition's generator is ``chapters/_ext/jupyter_edition.py`` (a Sphinx extension that
runs with the book build); the metadata script is ``chapters/_ext/cell_metadata.py``.
These tests convert chapters directly, without building the site, and render the result
with nbconvert as a reader's client would.
"""

from __future__ import annotations

import html.parser
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from clean_venv import make_clean_venv

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "chapters" / "_ext"
CHAPTERS = ["chapters/part2/soft_thresholding.ipynb",
            "chapters/part1/sparse_coding_problem.ipynb",
            "chapters/part3/sparse_autoencoders.ipynb"]
RAW_MYST = [":class:", "{prf:", "{cite", "{eval", "{doc", "{glue", "{ref", "{py:",
            "{exercise", "{solution", "{admonition", ":label:", "NBVAL"]
SITE = "https://example.org/book"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_edition_{name}", EXT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cell_metadata = _load("cell_metadata")
edition = _load("jupyter_edition")


# ---- cell metadata (JupyterLab) and test markers


@pytest.mark.parametrize("path", cell_metadata.chapter_notebooks(ROOT),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chapter_metadata_is_current(path):
    """Every chapter has the metadata the script sets (run it after editing a chapter)."""
    assert cell_metadata.problems(path) == []


def test_no_chapter_has_nbval_comments():
    found = [f"{path.relative_to(ROOT)} cell {i}"
             for path in cell_metadata.chapter_notebooks(ROOT)
             for i, cell in enumerate(nbformat.read(path, as_version=4).cells)
             if cell.cell_type == "code" and re.search(r"#\s*NBVAL_", cell.source)]
    assert not found, f"nbval comment markers (use cell tags instead): {found}"


def _toy_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np", metadata={"tags": ["hide-cell"]}),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        nbformat.v4.new_code_cell("assert True\nassert 1", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: ex-1\n\nDo it.\n```"),
        nbformat.v4.new_markdown_cell("```{solution-start} ex-1\n:class: dropdown\n```\n\nDone."),
        nbformat.v4.new_code_cell("x = 1\nprint(x)"),
        nbformat.v4.new_markdown_cell("```{solution-end}\n```"),
        nbformat.v4.new_code_cell("y = 2"),
    ]
    return nb


def test_metadata_script_sets_tags_and_folds_and_is_idempotent():
    nb = _toy_notebook()
    cell_metadata.apply(nb)
    first = nbformat.writes(nb)
    cell_metadata.apply(nb)
    assert nbformat.writes(nb) == first
    setup, checked, asserts, _, start, solution, end, after = nb.cells
    assert setup.metadata["jupyter"] == {"source_hidden": True}
    assert checked.source == "print(1)"
    assert checked.metadata["tags"] == ["nbval-check-output"]
    assert asserts.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert solution.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert "jupyter" not in start.metadata and "jupyter" not in end.metadata
    assert "jupyter" not in after.metadata and "collapsed" not in after.metadata
    # a tag removed later unfolds the cell on the next run
    setup.metadata["tags"] = []
    cell_metadata.apply(nb)
    assert "jupyter" not in setup.metadata


def test_training_prints_a_summary_line(capsys):
    torch = pytest.importorskip("torch")
    from sparsecoding.training import fit

    model = torch.nn.Linear(3, 1)
    history = fit(model, lambda m, x: (m(x) ** 2).mean(), torch.randn(40, 3), epochs=2,
                  batch_size=10, device=torch.device("cpu"), desc="toy")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"toy: 8 steps in \d+\.\d s, final loss \S+", line), line
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(history["loss"][-1], rel=1e-3)
    fit(model, lambda m, x: (m(x) ** 2).mean(), torch.randn(40, 3), progress=False,
        device=torch.device("cpu"))
    assert capsys.readouterr().out == ""


# ---- MyST to Markdown


@pytest.fixture(scope="module")
def site():
    return edition.Site(None, SITE, [ROOT / "references.bib"])


def test_myst_constructs_become_markdown(site):
    convert = edition.MystToMarkdown(site, "chapters/part2/ista", {"gap_txt": "1.2e-05"})
    text = convert.convert(
        "(sec-x)=\n## Title\n\n```{admonition} In this chapter\n:class: tip\n\n"
        "**Learn** things {cite:p}`tibshirani1996lasso`.\n```\n\n"
        "```{prf:theorem} Soft thresholding\n:label: thm-x\n\nIt holds.\n```\n\n"
        "The gap is {eval}`gap_txt`; {cite:t}`beck2009fista` show it; see "
        "{doc}`fista` and {doc}`the notation <../appendix/notation>`, "
        "{py:func}`sparsecoding.ista`.\n\n```python\nx = {1: 2}\n```")
    assert '<a id="sec-x"></a>' in text
    assert "> **In this chapter**\n>\n> **Learn** things (Tibshirani, 1996)." in text
    assert "**Theorem (Soft thresholding).** It holds." in text
    assert "The gap is 1.2e-05;" in text
    assert "Beck and Teboulle (2009) show it" in text
    assert f"]({SITE}/chapters/part2/fista.html)" in text
    assert f"[the notation]({SITE}/chapters/appendix/notation.html)" in text
    assert "`sparsecoding.ista()`" in text
    assert "```python\nx = {1: 2}\n```" in text  # code is left alone
    assert convert.cited == ["tibshirani1996lasso", "beck2009fista"]
    assert not convert.problems
    missing = edition.MystToMarkdown(site, "x", {})
    missing.convert("{eval}`nope` {cite:p}`not_a_key`")
    assert len(missing.problems) == 2


class _Text(html.parser.HTMLParser):
    """Visible text of an HTML page, and the text inside each <details>."""

    def __init__(self):
        super().__init__()
        self.text, self.details, self._skip, self._depth = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "details":
            self._depth += 1
            self.details.append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "details":
            self._depth -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
            if self._depth:
                self.details[-1] += data


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_edition_renders_without_myst_in_nbconvert(site, chapter):
    from nbconvert import HTMLExporter

    source = nbformat.read(ROOT / chapter, as_version=4)
    docname = chapter[: -len(".ipynb")]
    nb, _ = edition.edition_notebook(source, docname, site, {}, f"{SITE}/x.whl")
    assert "import sparsecoding" in nb.cells[0].source and nb.cells[0].cell_type == "code"
    prose = nbformat.v4.new_notebook(cells=[c for c in nb.cells if c.cell_type == "markdown"])
    page, _ = HTMLExporter(template_name="lab").from_notebook_node(prose)
    parser = _Text()
    parser.feed(page)
    text = "".join(parser.text)
    raw = [marker for marker in RAW_MYST if marker in text]
    assert not raw, f"{chapter}: raw MyST in the rendered edition: {raw}"
    n_solutions = sum("{solution-start}" in c.source for c in source.cells
                      if c.cell_type == "markdown")
    solutions = [d for d in parser.details if d.lstrip().startswith("Solution")]
    assert n_solutions > 0 and len(solutions) == n_solutions
    # solution code is inside its <details> block, not in a cell that "Run all" executes
    inside = {i for i, c in enumerate(source.cells)
              if i in cell_metadata._solution_cells(source.cells) and c.cell_type == "code"}
    for i in inside:
        code = source.cells[i].source.strip().splitlines()[0]
        assert any(code in d for d in solutions), code
        assert not any(c.cell_type == "code" and c.source == source.cells[i].source
                       for c in nb.cells)
    assert nb.cells[-1].source.startswith("## References")
    # every work the chapter cites is in that list (jupyterlab-myst shows citations as
    # keys: the edition and the site are where readers get author-year and the entries)
    cited = {key.strip() for c in source.cells if c.cell_type == "markdown"
             for m in re.finditer(r"\{cite(?::\w+)?\}`([^`]*)`", c.source)
             for key in m.group(1).split(",")}
    assert nb.cells[-1].source.count("\n- ") == len(cited) > 0
    # the cell that reads the measured times is left out: its values are written in
    assert not any("chapter-time" in c.metadata.get("tags", []) for c in nb.cells)
    assert not any("{eval}" in c.source for c in nb.cells if c.cell_type == "markdown")
    # test cells that only assert are not in the edition; set-up cells are
    asserts = [c.source for c in source.cells if edition._only_asserts(c)]
    assert not any(c.source in asserts for c in nb.cells if c.cell_type == "code")
    assert any("hide-cell" in c.metadata.get("tags", []) for c in nb.cells)


# ---- the install cell, in a clean virtual environment


def test_install_cell_installs_the_package_from_a_wheel(tmp_path):
    """The edition's first cell, run where ``sparsecoding`` is missing, installs it from
    a wheel built from this repository; nothing is downloaded (the dependencies are
    visible from the system's site-packages, the package itself is not)."""
    wheel = edition.build_wheel(ROOT, tmp_path / "wheels")
    name, version = edition.project_version(ROOT)
    assert name == "sparse-coding-course"
    assert wheel.name == f"sparse_coding_course-{version}-py3-none-any.whl"
    env_dir = tmp_path / "venv"
    python, clean = make_clean_venv(env_dir)
    probe = subprocess.run([python, "-c", "import sparsecoding"], env=clean,
                           capture_output=True, text=True)
    assert probe.returncode != 0, "sparsecoding is importable before the install cell"
    cell = edition.install_cell_source(wheel.as_uri())
    run = subprocess.run([python, "-c", cell], env=clean, capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith(f"sparsecoding {version}")
    where = subprocess.run([python, "-c", "import sparsecoding; print(sparsecoding.__file__)"],
                           env=clean, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(env_dir), where
    # a second run finds the package and installs nothing
    again = subprocess.run([python, "-c", cell.replace("subprocess.check_call", "exit")],
                           env=clean, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.strip() == f"sparsecoding {version}"
    shutil.rmtree(env_dir)


def test_package_version_matches_the_distribution():
    import sparsecoding

    assert sparsecoding.__version__ == edition.project_version(ROOT)[1]
