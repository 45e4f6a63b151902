"""Each chapter's stated reading and running time is the measured one.

A chapter's opening states its times with ``{eval}`` on ``reading_time_txt`` and
``run_time_txt``, which its first cell (tag ``chapter-time``) reads from
``chapters/chapter_times.json``; ``chapters/_ext/chapter_times.py`` writes that file (words
counted, chapters executed and timed). These tests check that every chapter is wired to
its own entry and that the entries are current.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "_chapter_times", ROOT / "chapters" / "_ext" / "chapter_times.py")
chapter_times = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chapter_times)

CHAPTERS = chapter_times.chapter_notebooks(ROOT)


def test_times_file_is_current():
    found = chapter_times.problems(chapter_times.load(), ROOT)
    assert not found, ("chapters/chapter_times.json is stale; run "
                       "`python chapters/_ext/chapter_times.py` (words) or with `--measure` "
                       "(running times):\n" + "\n".join(found))


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_opening_states_the_measured_times(name, monkeypatch):
    nb = nbformat.read(CHAPTERS[name], as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and "chapter-time" in first.metadata.get("tags", [])
    # shown as nothing, but rendered: myst-nb runs a cell when it renders it, and a
    # removed cell would run only after the opening has been evaluated
    assert "remove-input" in first.metadata["tags"]
    assert f'.get("{name}"' in first.source, "the cell reads another chapter's entry"
    opening = next(c.source for c in nb.cells if c.cell_type == "markdown")
    time_paragraph = opening[opening.index("**Time**"):]
    for variable in ("reading_time_txt", "run_time_txt"):
        assert f"{{eval}}`{variable}`" in time_paragraph
    # the cell, run beside the chapter, gives the file's values
    monkeypatch.chdir(CHAPTERS[name].parent)
    namespace: dict = {}
    exec(first.source, namespace)
    entry = json.loads((ROOT / "chapters" / "chapter_times.json").read_text())["chapters"][name]
    assert namespace["reading_time_txt"] == entry["reading"]
    assert namespace["run_time_txt"] == entry["run"]


def test_cell_degrades_where_the_file_is_missing(tmp_path, monkeypatch):
    """A chapter copied alone (a download) still runs; its opening then says so."""
    nb = nbformat.read(CHAPTERS["part2/ista"], as_version=4)
    (tmp_path / "part2").mkdir()
    monkeypatch.chdir(tmp_path / "part2")
    namespace: dict = {}
    exec(nb.cells[0].source, namespace)
    assert namespace["run_time_txt"] == "(not measured)"


def test_formats_and_word_count():
    assert chapter_times.reading_text(3000) == "about 50 minutes"
    assert chapter_times.reading_text(10) == "about 5 minutes"
    assert chapter_times.run_text(12.4) == "about 10 s"
    assert chapter_times.run_text(2.0) == "about 5 s"
    assert chapter_times.run_text(95) == "about 1.5 minutes"
    assert chapter_times.run_text(130) == "about 2 minutes"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(
            "(sec-x)=\n# A title\n\n```{admonition} In this chapter\n:class: tip\n\n"
            "Three more words <!-- quoted -->\n```"),
        nbformat.v4.new_code_cell("not counted at all")])
    # "# A title", the admonition's title and its text: labels, directive names and
    # options, comments and code are not words
    assert chapter_times.count_words(nb) == 9


def test_measure_times_a_notebook(tmp_path):
    """--measure executes a notebook in a fresh kernel and reads its CPU time."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = sum(range(10))")])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    before = {k: os.environ.get(k) for k in ("SPARSECODING_SCALE", "OMP_NUM_THREADS")}
    entry = chapter_times.measure(path, timeout=120)
    assert 0 < entry["cpu_seconds"] < 120 and entry["wall_seconds"] > 0
    assert entry["run"] == chapter_times.run_text(entry["cpu_seconds"])
    assert {k: os.environ.get(k) for k in before} == before  # environment restored
