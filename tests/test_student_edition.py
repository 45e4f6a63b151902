"""The student edition: generated from the chapters, its checks hold both ways.

The edition (``chapters/_ext/student_edition.py``) removes every worked solution, leaves a
stub and a check, and turns the solution's assertions into an otter-grader test file. This
module checks its structure (fast), then, per chapter, executes the student notebook with
two extra cells after each check: the check must *fail* on the stub, and pass once the
worked solution has run in the same kernel. The second part executes whole chapters, as
nbval does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "student_edition", ROOT / "chapters" / "_ext" / "student_edition.py")
se = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(se)

CHAPTERS = se.exercise_chapters(ROOT)
IDS = [p.relative_to(ROOT / "chapters").with_suffix("").as_posix() for p in CHAPTERS]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, {s["notebook"]: s["exercises"] for s in se.build(out, ROOT)}


def _solutions_with_asserts(path):
    """Worked solutions whose code asserts something (a proof alone has nothing to check)."""
    nb = json.loads(path.read_text())
    count, inside, asserts = 0, False, False
    for cell in nb["cells"]:
        text = se._source(cell)
        if cell["cell_type"] == "markdown" and se._START.search(text):
            inside, asserts = True, False
        elif cell["cell_type"] == "markdown" and se._END.search(text):
            count += inside and asserts
            inside = False
        elif inside and cell["cell_type"] == "code" and "assert" in text:
            asserts = True
    return count


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_structure(edition, path):
    out, summary = edition
    rel = path.relative_to(ROOT).as_posix()
    student = json.loads((out / rel).read_text())
    text = "\n".join(se._source(c) for c in student["cells"])
    assert "solution-start" not in text and "solution-end" not in text
    assert all(not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")
    exercises = summary[rel]
    assert len(exercises) == _solutions_with_asserts(path), \
        "every worked solution that asserts has a check"
    for ex in exercises:
        if ex["check_cell"] is None:
            continue  # assertions that read nothing of the student's (listed by the CLI)
        test = out / Path(rel).parent / "tests" / path.stem / f"{ex['label']}.py"
        compile(test.read_text(), str(test), "exec")
        assert se._source(student["cells"][ex["check_cell"]]) == f'grader.check("{ex["label"]}")'
        for stmt in se.split_solution(ex["solution"])[0]:
            assert stmt not in text, "a solution's assertion is left in the notebook"


def test_split_solution():
    code = ("lam = 0.5\nv = f(lam)\nworst = 0.0\nprint(v)\nassert abs(v - g(lam)) < 1e-6\n"
            "for k in range(3):\n    assert h(k, v)\n    worst = max(worst, k)\n")
    checks, reads, stubs = se.split_solution(code)
    assert checks == ["assert abs(v - g(lam)) < 1e-6",
                      "for k in range(3):\n    assert h(k, v)\n    worst = max(worst, k)"]
    assert sorted(reads) == ["g", "h", "lam", "v", "worst"]
    assert stubs == ["lam", "v", "worst"]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_stubs_fail_and_solutions_pass(edition, path, tmp_path):
    pytest.importorskip("otter")
    import nbformat
    from nbclient import NotebookClient

    out, summary = edition
    rel = path.relative_to(ROOT).as_posix()
    exercises = [e for e in summary[rel] if e["check_cell"] is not None]
    if not exercises:
        pytest.skip("no exercise with checks")
    work = tmp_path / "edition"
    shutil.copytree(out / Path(rel).parent, work)
    nb = nbformat.read(work / path.name, as_version=4)
    for ex in sorted(exercises, key=lambda e: e["check_cell"], reverse=True):
        label = ex["label"]
        audit = [
            f'_r = grader.check("{label}")\n'
            f'assert not _r.passed_all, "the stub of {label} passes its checks"',
            ex["solution"],
            f'_r = grader.check("{label}")\n'
            f'assert _r.passed_all, "the worked solution of {label} fails its checks: " + repr(_r)',
        ]
        for offset, src in enumerate(audit, start=1):
            nb.cells.insert(ex["check_cell"] + offset, nbformat.v4.new_code_cell(src))
    env_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(work)}}).execute()
    finally:
        if env_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backend
