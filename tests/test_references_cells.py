"""Each chapter ends with the list of the works it cites, for JupyterLab.

jupyterlab-myst shows a citation as its key; ``chapters/_ext/add_references.py`` appends
to each chapter a cell (tagged ``jupyterlab-references``) that lists every cited key with
its full reference. These tests check that the cells are current and complete, and that
the website and the Jupyter edition leave them out.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "chapters" / "_ext"
sys.path.insert(0, str(EXT))
_spec = importlib.util.spec_from_file_location("add_references", EXT / "add_references.py")
add_references = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(add_references)

TAG = "jupyterlab-references"
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")
CHAPTERS = add_references.chapter_notebooks()


def _cited(nb) -> set[str]:
    """Keys of the {cite}, {cite:p}, {cite:t} ... roles of the Markdown (independently parsed)."""
    keys = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown" and TAG not in cell.metadata.get("tags", []):
            for match in CITE.finditer(cell.source):
                keys.update(k.strip() for k in match.group(1).split(",") if k.strip())
    return keys


def test_every_part_chapter_is_covered():
    parts = set(sorted((ROOT / "chapters").glob("part*/*.ipynb")))
    assert parts <= set(CHAPTERS)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_references_cell_lists_every_cited_key(path):
    nb = nbformat.read(path, as_version=4)
    cited = _cited(nb)
    assert cited, f"{path.name} cites nothing: it should not be listed"
    last = nb.cells[-1]
    tags = last.metadata.get("tags", [])
    assert last.cell_type == "markdown" and TAG in tags and "remove-cell" in tags, \
        "the references cell must be the last cell, tagged jupyterlab-references and remove-cell"
    assert sum(TAG in c.metadata.get("tags", []) for c in nb.cells) == 1
    listed = set(re.findall(r"^- `([^`]+)`: \(", last.source, re.M))
    assert listed == cited, f"missing {sorted(cited - listed)}, extra {sorted(listed - cited)}"
    assert "source_hidden" not in last.metadata.get("jupyter", {}), "must not be folded"


def test_check_mode_passes(capsys):
    assert add_references.main(["--check"]) == 0, capsys.readouterr().out


def test_check_mode_fails_on_stale_cell(tmp_path):
    path = tmp_path / "chapter.ipynb"
    nb = nbformat.read(CHAPTERS[0], as_version=4)
    nb.cells[-1].source = nb.cells[-1].source.rsplit("\n", 1)[0]  # drop one reference
    nbformat.write(nb, path)
    assert add_references.main(["--check", str(path)]) == 1
    assert add_references.main([str(path)]) == 0
    assert add_references.main(["--check", str(path)]) == 0
    assert add_references.main([str(path)]) == 0  # idempotent: nothing rewritten
    nb.cells.pop()
    nbformat.write(nb, path)
    assert add_references.main(["--check", str(path)]) == 1


def test_jupyter_edition_leaves_it_out():
    import jupyter_edition

    site = jupyter_edition.Site(None, "", [ROOT / "references.bib"])
    nb = nbformat.read(ROOT / "chapters/part2/soft_thresholding.ipynb", as_version=4)
    out, _ = jupyter_edition.edition_notebook(nb, "chapters/part2/soft_thresholding",
                                              site, {}, "sparse_coding_course.whl")
    assert not any(TAG in c.metadata.get("tags", []) for c in out.cells)
    assert not any("References for this chapter" in c.source for c in out.cells)
    assert out.cells[-1].source.startswith("## References")
