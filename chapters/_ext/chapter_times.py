"""How long each chapter takes to read and to run, measured into ``chapters/chapter_times.json``.

Every chapter states in its opening how long it takes. Those two numbers come from this
file, read by the chapter's first cell and inserted with ``{eval}``, so that what the
chapter says is what was measured:

- **reading**: the words of the chapter's Markdown (MyST markup left out, the self-check
  and the exercises' solutions included) at :data:`WORDS_PER_MINUTE`, a careful pace
  for a text with mathematics; your own pace will differ, the count will not;
- **running**: the CPU time (user and system, the kernel and its child processes) that
  the chapter takes when it is executed from top to bottom in a fresh kernel at the
  small scale with one thread, from the kernel's start to its last cell. CPU time depends much
  less than wall-clock time on what else the machine is doing; on an idle core the two
  are about the same. The file records the machine, the date and the
  load average next to each measurement.

Command line (from the repository root)::

    python chapters/_ext/chapter_times.py                    # recount the words only
    python chapters/_ext/chapter_times.py --measure          # execute every chapter
    python chapters/_ext/chapter_times.py --measure part2/ista part3/superposition
    python chapters/_ext/chapter_times.py --check            # stale or missing: exit 1

``--measure`` executes the chapters (nothing is written into the notebooks) and takes as
long as running the book. ``--check``, which ``tests/test_chapter_times.py`` runs, fails
when a chapter has no measurement or when its text has changed by more than
:data:`WORD_TOLERANCE` since its words were counted; recounting is instant.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"
TIMES = CHAPTERS / "chapter_times.json"

#: Reading pace assumed for the reading time (words a minute, mathematics counted as words).
WORDS_PER_MINUTE = 60
#: Relative change of a chapter's word count above which its recorded count is stale.
WORD_TOLERANCE = 0.10

_FENCE = re.compile(r"^\s*(?:`{3,}|:{3,})\s*(\{[^}]*\})?(.*)$")
_SKIP = re.compile(r"^\s*(?::[\w-]+:.*|\([\w.:-]+\)=\s*)$")  # directive options, labels
_COMMENT = re.compile(r"<!--.*?-->", re.S)
#: Markdown cells left out of the word count: the references cell of add_references.py.
SKIP_TAG = "jupyterlab-references"

_CPU_PROBE = (
    "import resource as _resource\n"
    "_self = _resource.getrusage(_resource.RUSAGE_SELF)\n"
    "_kids = _resource.getrusage(_resource.RUSAGE_CHILDREN)\n"
    "print(_self.ru_utime + _self.ru_stime + _kids.ru_utime + _kids.ru_stime)"
)


def chapter_notebooks(root: Path = ROOT) -> dict[str, Path]:
    """The chapters, by name (``part2/ista``): every notebook of a part folder."""
    return {p.relative_to(root / "chapters").with_suffix("").as_posix(): p
            for p in sorted((root / "chapters").glob("part*/*.ipynb"))}


def count_words(nb) -> int:
    """Words of the chapter's Markdown cells; MyST fences, options, labels and comments left out."""
    words = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown" or SKIP_TAG in cell.metadata.get("tags", []):
            continue  # the list of references by key (add_references.py) is not read
        text = _COMMENT.sub(" ", cell.source)
        for line in text.splitlines():
            fence = _FENCE.match(line)
            if fence:  # a directive's title counts (an exercise's), its name does not
                words += len(fence.group(2).split()) if fence.group(1) else 0
            elif not _SKIP.match(line):
                words += len(line.split())
    return words


def reading_text(words: int) -> str:
    """``about 45 minutes``: the reading time, to five minutes."""
    minutes = max(5, 5 * round(words / WORDS_PER_MINUTE / 5))
    return f"about {minutes} minutes"


def run_text(cpu_seconds: float) -> str:
    """``about 25 s`` below a minute and a half (to 5 s), else minutes (to a half)."""
    if cpu_seconds < 90:
        return f"about {max(5, 5 * round(cpu_seconds / 5))} s"
    minutes = round(cpu_seconds / 30) / 2
    return f"about {minutes:g} minutes"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(path: Path, timeout: int = 1800) -> dict:
    """Execute one chapter in a fresh kernel at small scale, one thread; its CPU and wall time."""
    from nbclient import NotebookClient

    env = {"SPARSECODING_SCALE": "small", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(_CPU_PROBE))
        load = os.getloadavg()
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        wall = time.perf_counter() - start
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    cpu = round(float(printed.split()[-1]), 1)  # the stored value, so --check agrees with "run"
    return {"cpu_seconds": cpu, "wall_seconds": round(wall, 1),
            "run": run_text(cpu),
            "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": [round(x, 2) for x in load]}


def load(path: Path = TIMES) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    return {"chapters": {}}


def save(data: dict, path: Path = TIMES) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n")


def update_words(data: dict, root: Path = ROOT) -> dict:
    """Recount every chapter's words and reading time (keeps the measurements)."""
    data["words_per_minute"] = WORDS_PER_MINUTE
    chapters = data.setdefault("chapters", {})
    names = chapter_notebooks(root)
    for name in list(chapters):
        if name not in names:
            del chapters[name]
    for name, path in names.items():
        words = count_words(nbformat.read(path, as_version=4))
        entry = chapters.setdefault(name, {})
        entry["words"] = words
        entry["reading"] = reading_text(words)
    data["chapters"] = dict(sorted(chapters.items()))
    return data


def problems(data: dict, root: Path = ROOT) -> list[str]:
    """What is missing or stale in the times file."""
    found = []
    chapters = data.get("chapters", {})
    for name, path in chapter_notebooks(root).items():
        entry = chapters.get(name)
        if entry is None:
            found.append(f"{name}: no entry")
            continue
        words = count_words(nbformat.read(path, as_version=4))
        if "words" not in entry or abs(words - entry["words"]) > WORD_TOLERANCE * entry["words"]:
            found.append(f"{name}: {words} words now, {entry.get('words')} counted (recount)")
        elif entry.get("reading") != reading_text(entry["words"]):
            found.append(f"{name}: reading time does not match its word count (recount)")
        if "cpu_seconds" not in entry or entry.get("run") != run_text(entry["cpu_seconds"]):
            found.append(f"{name}: no running time measured (--measure {name})")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", nargs="*", metavar="CHAPTER",
                        help="execute these chapters (default: all) and record their times")
    parser.add_argument("--check", action="store_true", help="list stale entries, exit 1 if any")
    args = parser.parse_args(argv)
    data = load()
    if args.check:
        found = problems(data)
        for line in found:
            print(line)
        return 1 if found else 0
    if args.measure is not None:
        names = chapter_notebooks()
        todo = args.measure or list(names)
        data["machine"] = {"cpu": _cpu_model(), "cores": os.cpu_count(),
                           "python": platform.python_version(), "scale": "small", "threads": 1}
        for name in todo:
            entry = data.setdefault("chapters", {}).setdefault(name, {})
            entry.update(measure(names[name]))
            print(f"{name}: {entry['cpu_seconds']} s CPU, {entry['wall_seconds']} s wall "
                  f"(load {entry['load_average'][0]})", flush=True)
            save(update_words(data))
    save(update_words(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
