"""Append each chapter's self-check questions to its notebook (re-runnable).

The question banks are data: ``chapters/<part>/_quiz/<chapter>.json``, in jupyterquiz's
format (multiple-choice questions, each answer with its feedback). This script appends to
``chapters/<part>/<chapter>.ipynb`` a heading and one small cell (tag ``remove-input``)
that displays the questions with jupyterquiz; the quiz is HTML and JavaScript, so it works
on the static website with no kernel. Cells added by an earlier run (tag ``self-check``)
are replaced, so the script can be run again after the chapters change::

    python chapters/_ext/add_quizzes.py                 # every chapter with a bank
    python chapters/_ext/add_quizzes.py chapters/part1  # only the chapters of a folder
    python chapters/_ext/add_quizzes.py chapters/part2/ista.ipynb  # only this chapter

Running it on a chapter that already has its cells replaces them (new cell ids, no
outputs): name the chapters whose bank is new rather than re-running it everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
TAG = "self-check"
HEADING = (
    "## Self-check\n\n"
    "A few questions on this chapter: choose an answer to see whether it is right, and why. "
    "They run in the page, with no kernel."
)
CODE = 'from pathlib import Path\n\nBANK = Path("_quiz/{name}.json")\ntry:\n    from jupyterquiz import display_quiz\nexcept ImportError:\n    display_quiz = None\nif display_quiz is not None and BANK.is_file():\n    display_quiz(str(BANK), shuffle_answers=False)\nelse:  # e.g. on Colab: the questions are on the website\n    print("Self-check questions: see this chapter on the book\'s website "\n          "(or install jupyterquiz and keep the _quiz folder beside this notebook).")'


def add_quiz(notebook: Path) -> bool:
    bank = notebook.parent / "_quiz" / f"{notebook.stem}.json"
    if not bank.is_file():
        return False
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [c for c in nb.cells if TAG not in c.metadata.get("tags", [])]
    heading = nbformat.v4.new_markdown_cell(HEADING)
    heading.metadata["tags"] = [TAG]
    cell = nbformat.v4.new_code_cell(CODE.format(name=notebook.stem))
    cell.metadata["tags"] = ["remove-input", TAG]
    nb.cells += [heading, cell]
    nbformat.write(nb, notebook)
    return True


def _notebooks(path: Path) -> list[Path]:
    """The chapter notebooks a command-line argument names: a notebook, or a folder's."""
    path = path.resolve()
    if path.suffix == ".ipynb":
        return [path]
    return [nb for nb in sorted(path.rglob("*.ipynb"))
            if "_build" not in nb.parts and ".ipynb_checkpoints" not in nb.parts]


def main(argv=None):
    paths = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or [ROOT / "chapters"]
    done = [nb for path in paths for nb in _notebooks(path) if add_quiz(nb)]
    for nb in done:
        print("self-check added:", nb.relative_to(ROOT))


if __name__ == "__main__":
    main()
