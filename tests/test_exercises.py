"""Every exercise of the book carries a title and a difficulty from ★ to ★★★.

A chapter's exercises are sphinx-exercise blocks written in its Markdown cells,

    ```{exercise} A short title ★★
    :label: chapter-ex-name

the difficulty being one to three stars at the end of the title. This test reads the
Markdown of every page of the book (notebooks and Markdown files under ``chapters/``, and
the pages at the top level) and fails on each exercise whose title is missing, has no
stars, or has more than three, naming the page and the exercise's label. It also checks
that every exercise has a label and that every label has a worked solution.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [*(ROOT / "chapters").rglob("*.ipynb"), *(ROOT / "chapters").rglob("*.md"),
     *ROOT.glob("*.md")]
)
PAGES = [p for p in PAGES if ".ipynb_checkpoints" not in p.parts
         and "_build" not in p.parts]

_EXERCISE = re.compile(r"^\s*(?:`{3,}|:{3,})\{exercise\}(?P<title>[^\n]*)\n"
                       r"(?P<options>(?:\s*:[\w-]+:[^\n]*\n)*)", re.M)
_LABEL = re.compile(r":label:\s*(\S+)")
_SOLUTION = re.compile(r"^\s*(?:`{3,}|:{3,})\{solution(?:-start)?\}\s*(\S+)", re.M)
_STARS = re.compile(r"\S.*\s(★{1,3})$")


def _markdown(path: Path) -> str:
    """The Markdown of a page: the file, or a notebook's Markdown cells."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return text
    cells = json.loads(text)["cells"]
    sources = ("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
               for c in cells if c["cell_type"] == "markdown")
    return "\n\n".join(sources) + "\n"


def _exercises(path: Path) -> list[tuple[str, str | None]]:
    """``(title, label)`` of each exercise of a page, in order."""
    found = []
    for match in _EXERCISE.finditer(_markdown(path)):
        label = _LABEL.search(match.group("options"))
        found.append((match.group("title").strip(), label.group(1) if label else None))
    return found


PAGES_WITH_EXERCISES = [p for p in PAGES if _exercises(p)]


def test_the_book_has_exercises():
    """The pattern finds the exercises (a guard against a test that checks nothing)."""
    assert len(PAGES_WITH_EXERCISES) >= 10
    assert sum(len(_exercises(p)) for p in PAGES_WITH_EXERCISES) >= 40


@pytest.mark.parametrize("path", PAGES_WITH_EXERCISES,
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_exercise_has_a_title_with_stars(path):
    bad = []
    for title, label in _exercises(path):
        if label is None:
            bad.append(f"an exercise without :label: (title {title!r})")
        elif not _STARS.fullmatch(title):
            bad.append(f"{label}: title {title!r} needs a title ending in ★, ★★ or ★★★")
        elif "★" in title[:-len(_STARS.fullmatch(title).group(1))]:
            bad.append(f"{label}: stars only at the end of the title, got {title!r}")
    assert not bad, f"{path.relative_to(ROOT)}:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", PAGES_WITH_EXERCISES,
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_exercise_has_a_worked_solution(path):
    labels = {label for _, label in _exercises(path) if label}
    solved = set(_SOLUTION.findall(_markdown(path)))
    assert labels <= solved, (f"{path.relative_to(ROOT)}: exercises without a solution: "
                              f"{sorted(labels - solved)}")


def test_the_check_sees_a_missing_star(tmp_path):
    """The test fails on the cases it is meant to catch."""
    page = tmp_path / "page.md"
    page.write_text("```{exercise}\n:label: a\n\nDo it.\n```\n\n"
                    "```{exercise} Titled ★★★★\n:label: b\n\nDo it.\n```\n\n"
                    "```{exercise} Good ★★\n:label: c\n\nDo it.\n```\n", encoding="utf-8")
    titles = [(title, label) for title, label in _exercises(page)]
    assert titles == [("", "a"), ("Titled ★★★★", "b"), ("Good ★★", "c")]
    assert [bool(_STARS.fullmatch(t)) for t, _ in titles] == [False, False, True]
