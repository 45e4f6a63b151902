"""Cell metadata that makes the chapters read well in JupyterLab, set from their tags.

The website hides set-up and test cells with Jupyter Book's tags (``hide-cell``,
``remove-cell`` ...) and folds solutions into dropdowns; JupyterLab ignores those tags.
This script derives, from the tags and the exercise structure, the cell metadata that
JupyterLab honours:

- ``jupyter.source_hidden`` collapses a cell's source (set-up cells, test cells,
  every cell of a solution between ``{solution-start}`` and ``{solution-end}``);
- ``jupyter.outputs_hidden`` (and the classic notebook's ``collapsed``) collapses its
  output (test cells, the code cells of solutions, ``hide-output`` cells).

It also turns nbval's comment markers (``# NBVAL_CHECK_OUTPUT`` ...) at the top of a
code cell into the equivalent nbval cell tags (``nbval-check-output`` ...), so that no
test marker is in the reader's view.

The script owns exactly these fields; it is idempotent and can be re-run over every
chapter after any edit::

    python chapters/_ext/cell_metadata.py            # update the chapters in place
    python chapters/_ext/cell_metadata.py --check    # list chapters that need it, exit 1

``tests/test_edition.py`` runs the check, so a new chapter complies or the tests fail.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"

#: nbval comment markers and the cell tag nbval 0.11 reads for each.
NBVAL_TAGS = {
    "NBVAL_CHECK_OUTPUT": "nbval-check-output",
    "NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "NBVAL_SKIP": "nbval-skip",
    "NBVAL_RAISES_EXCEPTION": "raises-exception",
    "PYTEST_VALIDATE_IGNORE_OUTPUT": "nbval-ignore-output",
}
NBVAL_COMMENT = re.compile(r"^\s*#\s*(" + "|".join(NBVAL_TAGS) + r")\s*$")
ANY_NBVAL_COMMENT = re.compile(r"#\s*(NBVAL_[A-Z_]+|PYTEST_VALIDATE_IGNORE_OUTPUT)")

#: Jupyter Book tags and what they collapse in JupyterLab: (source, outputs).
HIDE_BY_TAG = {
    "hide-cell": (True, False),     # set-up: code folded, messages (device ...) shown
    "hide-input": (True, False),
    "remove-input": (True, False),
    "remove-cell": (True, True),    # test scaffolding: folded entirely
    "hide-output": (False, True),
}

#: The references cell of add_references.py: tagged remove-cell for the site, not folded.
REFERENCES_TAG = "jupyterlab-references"

SOLUTION_START = re.compile(r"^\s*(```+|:::+)\s*\{solution-start\}", re.M)
SOLUTION_END = re.compile(r"^\s*(```+|:::+)\s*\{solution-end\}", re.M)


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook under ``chapters/`` (checkpoints and build folders excluded)."""
    return sorted(p for p in (root / "chapters").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts)


def _move_nbval_comments(cell) -> None:
    """Replace ``# NBVAL_*`` comment lines of a code cell by the equivalent tags."""
    lines = cell.source.split("\n")
    tags = list(cell.metadata.get("tags", []))
    kept = []
    for line in lines:
        match = NBVAL_COMMENT.match(line)
        if match:
            tag = NBVAL_TAGS[match.group(1)]
            if tag not in tags:
                tags.append(tag)
        else:
            kept.append(line)
    if len(kept) != len(lines):
        cell.source = "\n".join(kept).strip("\n")
        cell.metadata["tags"] = tags


def _solution_cells(cells) -> set[int]:
    """Indices of the cells strictly inside a gated solution."""
    inside, result = False, set()
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            if inside:
                result.add(i)
            continue
        if SOLUTION_START.search(cell.source):
            inside = not SOLUTION_END.search(cell.source)
            continue
        if SOLUTION_END.search(cell.source):
            inside = False
            continue
        if inside:
            result.add(i)
    return result


def _set_hidden(cell, source: bool, outputs: bool) -> None:
    meta = cell.metadata
    jupyter = dict(meta.get("jupyter", {}))
    jupyter.pop("source_hidden", None)
    jupyter.pop("outputs_hidden", None)
    meta.pop("collapsed", None)
    if source:
        jupyter["source_hidden"] = True
    if outputs and cell.cell_type == "code":
        jupyter["outputs_hidden"] = True
        meta["collapsed"] = True
    if jupyter:
        meta["jupyter"] = jupyter
    else:
        meta.pop("jupyter", None)


def apply(nb) -> None:
    """Set the metadata this module owns on every cell of ``nb`` (in place)."""
    solution = _solution_cells(nb.cells)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            _move_nbval_comments(cell)
        tags = set(cell.metadata.get("tags", []))
        source = any(HIDE_BY_TAG[t][0] for t in tags if t in HIDE_BY_TAG)
        outputs = any(HIDE_BY_TAG[t][1] for t in tags if t in HIDE_BY_TAG)
        if i in solution:
            source, outputs = True, True
        if REFERENCES_TAG in tags:
            # the chapter's references for JupyterLab (add_references.py): removed from the
            # site, which has its own bibliography, but meant to be read here
            source, outputs = False, False
        _set_hidden(cell, source, outputs)


def problems(path: Path) -> list[str]:
    """What in ``path`` differs from what :func:`apply` would write (empty when current)."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and ANY_NBVAL_COMMENT.search(cell.source):
            found.append(f"cell {i}: nbval comment marker (use a cell tag)")
    before = nbformat.writes(nb)
    apply(nb)
    if nbformat.writes(nb) != before:
        found.append("cell metadata is not current: run python chapters/_ext/cell_metadata.py")
    return found


def update(path: Path) -> bool:
    """Rewrite ``path`` if its metadata is not current; True when it changed."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    apply(nb)
    new = nbformat.writes(nb) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks (default: every chapter)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the notebooks that need an update")
    args = parser.parse_args(argv)
    paths = args.notebooks or chapter_notebooks()
    status = 0
    for path in paths:
        if args.check:
            for problem in problems(path):
                print(f"{path}: {problem}")
                status = 1
        elif update(path):
            print(f"updated {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
