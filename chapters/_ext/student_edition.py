r"""The student edition of the book, generated from the chapters, and the downloads of the site.

A chapter's exercises are sphinx-exercise blocks; each worked solution sits between a
``solution-start`` and a ``solution-end`` Markdown cell and contains one or more code cells
whose ``assert`` statements check the answer. The student edition keeps every chapter as
it is up to its exercises, keeps the exercise statements, and replaces each solution by

* a *stub*: a code cell that names the variables the checks read, each set to ``...``
  for the student to compute;
* a *check*: ``grader.check("<exercise label>")``, which runs the solution's assertions
  on the student's variables with `otter-grader <https://otter-grader.readthedocs.io>`_;
* a test file ``tests/<chapter>/<exercise label>.py`` (Otter's exception-based format)
  holding those assertions, generated from the solution's code.

The check runs the solution's top-level statements that assert (an ``assert``, or a loop
that asserts), with the names they read taken from the student's notebook; the stub
lists the names among them that the solution assigns. A solution whose assertions read
no such name (a loop that recomputes everything) gets no check, since a check would
pass on an empty answer; the command line lists these.

Otter-grader was chosen over nbgrader because its checks run inside any Jupyter kernel,
offline, from plain test files beside the notebook (no course database, no server
extension, no cell metadata to add to the chapters), and because the existing solution
blocks need no rewriting: the checks are the solutions' own ``assert`` statements.

Command line (from the repository root)::

    python chapters/_ext/student_edition.py            # -> _build/student/, _build/downloads/

writes the edition into ``_build/student/`` and two archives into ``_build/downloads/``:
``student-edition.zip`` and ``notebooks.zip`` (every chapter notebook as stored, with its
outputs). As a Sphinx extension (``sphinx: local_extensions`` in ``_config.yml``) it writes
the same two archives into ``downloads/`` of the built HTML site, which the home page links.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import io
import json
import re
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OTTER_PIN = "otter-grader==7.0.0"
_START = re.compile(r"```\{solution-start\}\s+(\S+)")
_END = re.compile(r"```\{solution-end\}")


def toc_chapters(root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents, in reading order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: list[Path] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                path = root / f"{node['file']}.ipynb"
                if path.is_file():
                    found.append(path)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def split_solution(code: str) -> tuple[list[str], list[str], list[str]]:
    """Split a solution's code into (checks, names the checks read, names to stub).

    The checks are the top-level statements that are or contain an ``assert`` (and are
    not assignments); the names to stub are those the checks read that the solution
    itself assigns, in order of first assignment.
    """
    tree = ast.parse(code)
    checks, assigned = [], []
    for stmt in tree.body:
        has_assert = any(isinstance(n, ast.Assert) for n in ast.walk(stmt))
        if has_assert and not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            checks.append(stmt)
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if node.id not in assigned:
                    assigned.append(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name not in assigned:
                assigned.append(node.name)
    loaded, bound = [], set()
    for stmt in checks:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Store):
                    bound.add(node.id)
                elif node.id not in loaded:
                    loaded.append(node.id)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
    # A name the checks both assign and read (an accumulator updated in a checking loop)
    # is read from the student's notebook when the solution sets it before the checks.
    reads = [n for n in loaded if (n not in bound or n in assigned)
             and not hasattr(builtins, n)]
    stubs = [n for n in assigned if n in reads]
    return [ast.get_source_segment(code, s) for s in checks], reads, stubs


def test_file(label: str, checks: list[str], reads: list[str]) -> str:
    """An Otter exception-based test file running the checks on the student's names."""
    func = "test_" + re.sub(r"\W", "_", label)
    body = "\n".join("    " + line for check in checks for line in check.splitlines())
    return (
        f'"""Checks of exercise {label}, generated from its worked solution."""\n\n'
        "from otter.test_files import test_case\n\n"
        "OK_FORMAT = False\n\n"
        f"name = {label!r}\n"
        "points = 1\n\n\n"
        "@test_case(points=1, hidden=False)\n"
        f"def {func}({', '.join(reads)}):\n{body}\n"
    )


def _id() -> str:
    return uuid.uuid4().hex[:8]


def _code_cell(source: str, tags=()) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "id": _id(), "metadata": {},
            "outputs": [], "source": source}
    if tags:
        cell["metadata"]["tags"] = list(tags)
    return cell


def _markdown_cell(source: str) -> dict:
    return {"cell_type": "markdown", "id": _id(), "metadata": {}, "source": source}


def student_notebook(nb: dict, chapter: str) -> tuple[dict, dict[str, str], list[dict]]:
    """The student version of a chapter notebook.

    Returns the notebook, its test files ``{label: text}``, and for each exercise a record
    ``{"label", "check_cell", "solution"}`` (index of the check cell in the new notebook,
    and the solution's code) that the tests of the edition use.
    """
    out = copy.deepcopy(nb)
    cells, tests, exercises = [], {}, []
    label, solution_code = None, []
    setup_done = False
    for cell in nb["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and (m := _START.search(text)):
            label, solution_code = m.group(1), []
            continue
        if label is not None:
            if cell["cell_type"] == "markdown" and _END.search(text):
                code = "\n".join(solution_code)
                checks, reads, stubs = split_solution(code) if code else ([], [], [])
                if checks and not stubs:
                    # The assertions read nothing the student computes (they recompute
                    # everything inside a loop): a check would pass on an empty answer.
                    cells.append(_code_cell(f"# Exercise {label}: your code here."))
                    exercises.append({"label": label, "check_cell": None,
                                      "solution": code, "stubs": []})
                elif checks:
                    if not setup_done:
                        cells.append(_markdown_cell(
                            "The checks below run the assertions of the worked solutions on "
                            f"your variables, with otter-grader (`pip install {OTTER_PIN}`)."))
                        cells.append(_code_cell(
                            "import otter\n\n"
                            f'grader = otter.Notebook(tests_dir="tests/{chapter}")'))
                        setup_done = True
                    lines = [f"# Exercise {label}: compute the values below (replace each ...)."]
                    lines += [f"{name} = ..." for name in stubs] or ["..."]
                    cells.append(_code_cell("\n".join(lines)))
                    cells.append(_code_cell(f'grader.check("{label}")'))
                    tests[label] = test_file(label, checks, reads)
                    exercises.append({"label": label, "check_cell": len(cells) - 1,
                                      "solution": code, "stubs": stubs})
                label = None
            elif cell["cell_type"] == "code":
                solution_code.append(text)
            continue
        new = copy.deepcopy(cell)
        if new["cell_type"] == "code":
            new["outputs"], new["execution_count"] = [], None
        cells.append(new)
    if out.get("nbformat_minor", 0) < 5:  # cell ids exist from nbformat 4.5 on
        for cell in cells:
            cell.pop("id", None)
    out["cells"] = cells
    return out, tests, exercises


def exercise_chapters(root: Path = ROOT) -> list[Path]:
    """The chapters of the parts (the appendices have no exercises)."""
    return [p for p in toc_chapters(root) if p.parent.name.startswith("part")]


def _copy_quiz_bank(path: Path, target: Path) -> None:
    """The chapter's self-check questions (``_quiz/<chapter>.json``) beside its copy."""
    bank = path.parent / "_quiz" / f"{path.stem}.json"
    if bank.is_file():
        (target.parent / "_quiz").mkdir(parents=True, exist_ok=True)
        (target.parent / "_quiz" / bank.name).write_bytes(bank.read_bytes())


def build(out_dir: Path, root: Path = ROOT) -> list[dict]:
    """Write the student edition under ``out_dir``; returns one summary per chapter."""
    summary = []
    for path in exercise_chapters(root):
        nb = json.loads(path.read_text())
        rel = path.relative_to(root)
        student, tests, exercises = student_notebook(nb, path.stem)
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n")
        _copy_quiz_bank(path, target)
        for label, text in tests.items():
            test_path = target.parent / "tests" / path.stem / f"{label}.py"
            test_path.parent.mkdir(parents=True, exist_ok=True)
            test_path.write_text(text)
        summary.append({"notebook": rel.as_posix(), "exercises": exercises})
    times = root / "chapters" / "chapter_times.json"  # the openings' reading and running times
    if times.is_file():
        (out_dir / "chapters").mkdir(parents=True, exist_ok=True)
        (out_dir / "chapters" / times.name).write_bytes(times.read_bytes())
    (out_dir / "README.md").write_text(
        "# Sparse coding, from first principles: student edition\n\n"
        "The chapters of the book with the worked solutions removed. Each exercise has a "
        "code cell to complete and a check (`grader.check(...)`) that runs the assertions "
        "of the worked solution on your answer.\n\n"
        f"Install the course's requirements and `{OTTER_PIN}`, then open the chapters in "
        "Jupyter; run each chapter from the top, so that the checks see its variables.\n")
    return summary


def _zip_dir(folder: Path, target: Path, prefix: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def write_downloads(target_dir: Path, root: Path = ROOT) -> list[Path]:
    """Write ``student-edition.zip`` and ``notebooks.zip`` into ``target_dir``."""
    import tempfile

    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), root)
        _zip_dir(Path(tmp), target_dir / "student-edition.zip", "sparse-coding-student")
    notebooks = target_dir / "notebooks.zip"
    with zipfile.ZipFile(notebooks, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in toc_chapters(root):
            zf.write(path, f"sparse-coding-notebooks/{path.relative_to(root).as_posix()}")
            bank = path.parent / "_quiz" / f"{path.stem}.json"
            if bank.is_file():
                zf.write(bank, f"sparse-coding-notebooks/{bank.relative_to(root).as_posix()}")
        times = root / "chapters" / "chapter_times.json"
        if times.is_file():
            zf.write(times, f"sparse-coding-notebooks/{times.relative_to(root).as_posix()}")
    return [target_dir / "student-edition.zip", notebooks]


def _on_build_finished(app, exception):
    if exception is None and app.builder.format == "html":
        write_downloads(Path(app.outdir) / "downloads", Path(app.srcdir))


def setup(app):
    """Sphinx extension: the site's downloads (student edition, all notebooks)."""
    app.connect("build-finished", _on_build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    parser.add_argument("--downloads", type=Path, default=ROOT / "_build" / "downloads")
    args = parser.parse_args(argv)
    summary = build(args.out)
    exercises = [e for s in summary for e in s["exercises"]]
    unchecked = [e["label"] for e in exercises if e["check_cell"] is None]
    print(f"student edition: {len(summary)} chapters, {len(exercises) - len(unchecked)} "
          f"exercises with checks -> {args.out}")
    if unchecked:
        print("without a check (their assertions read no value the student computes; "
              "assign the answer at top level in the solution, then assert):",
              ", ".join(unchecked))
    for path in write_downloads(args.downloads):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
