"""A "References for this chapter" cell at the end of every chapter, for JupyterLab.

jupyterlab-myst parses ``{cite:p}`` and ``{cite:t}`` but reads no bibliography file, so in
JupyterLab a citation shows as its key (``tibshirani1996lasso``). This script appends to
each chapter notebook that cites (the parts, and the appendices that cite) one Markdown
cell listing every key the chapter cites with its full reference from ``references.bib``,
so that a reader can resolve each key where the chapter is run.

The cell is tagged ``jupyterlab-references`` and ``remove-cell``: the website removes it
(it has its own bibliography), the Jupyter edition leaves it out (it writes author–year
citations and its own references cell), and ``cell_metadata.py`` does not fold it. The
formatting is the Jupyter edition's (:meth:`jupyter_edition.Site.formatted_references`).

Usage::

    python chapters/_ext/add_references.py            # write or replace the cells
    python chapters/_ext/add_references.py --check    # missing or stale: exit 1

Rerunning replaces the tagged cell; every other cell, its id and its outputs are kept as
they are, and nothing is executed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jupyter_edition import REFERENCES_TAG, ROLE, Site  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIBFILE = ROOT / "references.bib"
CELL_ID = "jupyterlab-references"
TAGS = [REFERENCES_TAG, "remove-cell"]
HEADING = "## References for this chapter"


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The part chapters, and the appendix notebooks whose Markdown cites."""
    chapters = sorted((root / "chapters").glob("part*/*.ipynb"))
    appendix = [p for p in sorted((root / "chapters" / "appendix").glob("*.ipynb"))
                if cited_keys(nbformat.read(p, as_version=4))]
    return chapters + appendix


def _is_references(cell) -> bool:
    return REFERENCES_TAG in cell.metadata.get("tags", [])


def cited_keys(nb) -> list[str]:
    """Keys of every ``{cite...}`` role in the Markdown cells, in order of first use."""
    keys: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or _is_references(cell):
            continue
        for match in ROLE.finditer(cell.source):
            if match.group(1).startswith("cite"):
                for key in (k.strip() for k in match.group(3).split(",")):
                    if key and key not in keys:
                        keys.append(key)
    return keys


def references_source(keys: list[str], site: Site) -> str | None:
    """The Markdown of the references cell for ``keys`` (None when nothing is cited)."""
    if not keys:
        return None
    texts = site.formatted_references(keys)
    lines = [HEADING, "",
             "JupyterLab shows each citation of this chapter as its key; here is each key "
             "with its full reference (the website and the Jupyter edition show author and "
             "year).", ""]
    for key in sorted(keys, key=str.lower):
        if key in texts:
            author_year = f"{site._authors(key)}, {site._year(key)}"
            lines.append(f"- `{key}`: ({author_year}) {texts[key]}")
        else:
            lines.append(f"- `{key}`: not in the bibliography")
    return "\n".join(lines)


def apply(nb, site: Site) -> None:
    """Replace the tagged cell of ``nb`` (in place) by the current one, at the very end."""
    keys = cited_keys(nb)
    nb.cells = [c for c in nb.cells if not _is_references(c)]
    source = references_source(keys, site)
    if source is None:
        return
    cell = nbformat.v4.new_markdown_cell(source, metadata={"tags": list(TAGS)})
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) >= 5:
        cell["id"] = CELL_ID
    else:
        cell.pop("id", None)
    nb.cells.append(cell)


def _load_site() -> Site:
    return Site(None, "", [BIBFILE])


def problems(path: Path, site: Site) -> list[str]:
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    found = [f"citation {k!r} is not in references.bib"
             for k in cited_keys(nb) if k not in site.bib.entries]
    before = nbformat.writes(nb)
    apply(nb, site)
    if nbformat.writes(nb) != before:
        found.append("references cell missing or stale: run "
                     "python chapters/_ext/add_references.py")
    return found


def update(path: Path, site: Site) -> bool:
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    apply(nb, site)
    new = nbformat.writes(nb) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="fail when a chapter's references cell is missing or stale")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    site = _load_site()
    paths = args.notebooks or chapter_notebooks()
    failed = False
    for path in paths:
        rel = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        if args.check:
            for problem in problems(path, site):
                print(f"{rel}: {problem}")
                failed = True
        elif update(path, site):
            print(f"{rel}: references cell written")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
