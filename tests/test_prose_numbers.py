r"""Every measured number in a chapter's prose comes from a cell, or is marked as quoted.

A chapter's Markdown may not contain a *measured-looking* number written by hand: such a
number is inserted with myst's inline ``{eval}`` role on a variable computed above it
(``{eval}`\`gap_txt\```), so that the text and the computation cannot differ, or it is
marked as quoted from a cited source. This test reads each chapter's Markdown cells and
fails on every other measured-looking number, naming it with its sentence.

What counts as measured-looking
    * a percentage: a number followed by ``%`` (or the words "per cent" / "percent");
    * a number with three or more significant digits: ``0.249``, ``21.4``, ``1.23e-4``,
      ``4.86·10⁴``, ``187``. Leading zeros are not significant; trailing zeros of an
      integer are not either, so round settings (``200``, ``10,000``, ``1500``) pass.

What is not looked at (definitional or not prose)
    * math (``$...$``, ``$$...$$``, ``\begin{...}`` blocks): exponents, constants and
      formulas are definitions, not measurements;
    * inline code and code fences that are not MyST directives, roles and their targets
      (``{eval}``, ``{ref}``, ``{numref}``, ``{cite:p}``, ...), link targets, labels
      ``(name)=``, directive options (``:label: ...``) and HTML comments;
    * digits that are part of a word or name (``float64``, ``L1``, ``ℓ1``, ``28x28``
      counts as the two numbers 28 and 28);
    * years (integers from 1800 to 2099) and powers of two (settings such as 256 or
      1024 atoms).

How a number is marked as quoted (or as an exact setting)
    * it stands in the same sentence as a citation role (``{cite:p}`` or ``{cite:t}``):
      the number is the source's, and the citation says whose; or
    * its sentence contains the HTML comment ``<!-- quoted -->`` (a number from a cited
      source, where the citation sits in another sentence) or ``<!-- exact -->`` (a
      setting or definition that no cell measures, such as the 784 pixels of an MNIST
      digit). The comments are invisible on the site and in Jupyter. Sentences end at
      ``.``, ``!``, ``?`` or ``;`` followed by a capital, and at blank lines.

Chapters that are not converted yet are listed in :data:`NOT_CONVERTED` and marked
``xfail(strict=False)``; remove a chapter from the list once its numbers are inserted by
``{eval}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("part*/*.ipynb"))

#: Chapters whose prose still holds hand-written measured numbers: remove each one as it
#: is converted to ``{eval}``.
NOT_CONVERTED: set[str] = set()  # every chapter is converted

_FENCE = re.compile(r"^(```+|~~~+|:::+)(.*)$")
_MATH_BLOCK = re.compile(r"\$\$.*?\$\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
_MATH_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(?:\\.|[^$\\])+?\$")
_ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
_CODE = re.compile(r"`[^`\n]*`")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
_LABEL = re.compile(r"^\s*\([\w.:-]+\)=\s*$", re.M)
_OPTION = re.compile(r"^\s*:[\w-]+:.*$", re.M)
_HTML_TAG = re.compile(r"<[^>]+>")
_CITE = re.compile(r"\{cite(?::[pt])?\}`")
_MARK = re.compile(r"<!--\s*(quoted|exact)\s*-->")
# A number: digits with optional thousands separators, decimals, an exponent written as
# e-4, ·10⁴, ×10^4 or 10⁻⁴; and an optional percent sign.
_NUMBER = re.compile(
    r"(?<![\w.\\])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
    r"(?:[eE][+-]?\d+|\s?[·×x]\s?10(?:\^\{?[-−]?\d+\}?|[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+))?"
    r"(?:\s?(%|per ?cent))?(?![\w])"
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(*_\[{])|\n\s*\n")


def _strip_fences(text: str) -> str:
    """Drop code fences; keep the body of MyST directives (``{name}``), drop their options."""
    out, fence = [], None
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if fence is None and m:
            marker, info = m.groups()
            fence = (marker, info.strip().startswith("{"))
            continue
        if fence is not None and line.strip() == fence[0]:
            fence = None
            continue
        if fence is not None and not fence[1]:
            continue  # code: not prose
        out.append(line)
    return "\n".join(out)


def significant_digits(integer: str, decimals: str | None) -> int:
    """Significant digits of a written number (``"0"`` and ``".249"`` give 3)."""
    digits = integer.replace(",", "") + (decimals or "").lstrip(".")
    digits = digits.lstrip("0")
    if not decimals:
        digits = digits.rstrip("0")
    return len(digits)


def _is_exempt_integer(integer: str) -> bool:
    value = int(integer.replace(",", ""))
    return 1800 <= value <= 2099 or (value > 0 and value & (value - 1) == 0)


def measured_numbers(markdown: str) -> list[tuple[str, str]]:
    """The measured-looking numbers of a Markdown text, each with its sentence."""
    found = []
    for paragraph in re.split(r"\n\s*\n", _strip_fences(markdown)):
        text = _MARK.sub("\x00", paragraph)  # keep the markers through the clean-up
        text = _COMMENT.sub(" ", text)
        text = _MATH_BLOCK.sub(" ", text)
        text = _MATH_INLINE.sub(" ", text)
        text = _LABEL.sub(" ", text)
        text = _OPTION.sub(" ", text)
        text = _LINK_TARGET.sub("]", text)
        for sentence in _SENTENCE_END.split(text):
            if _CITE.search(sentence) or "\x00" in sentence:
                continue
            plain = _HTML_TAG.sub(" ", _CODE.sub(" ", _ROLE.sub(" ", sentence)))
            for m in _NUMBER.finditer(plain):
                integer, decimals, percent = m.group(1), m.group(2), m.group(3)
                exponent = m.group(0)[len(integer) + len(decimals or ""):]
                if percent:
                    found.append((m.group(0).strip(), " ".join(sentence.split())))
                    continue
                if significant_digits(integer, decimals) < 3:
                    continue
                if not decimals and not exponent.strip() and _is_exempt_integer(integer):
                    continue
                found.append((m.group(0).strip(), " ".join(sentence.split())))
    return found


def _markdown_of(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"] if c["cell_type"] == "markdown"
        # the list of references by key (chapters/_ext/add_references.py) is not prose:
        # its years, volumes and pages are those of the cited works
        and "jupyterlab-references" not in c.get("metadata", {}).get("tags", []))


def _param(path: Path):
    name = path.relative_to(ROOT / "chapters").with_suffix("").as_posix()
    marks = [pytest.mark.xfail(reason="not converted to {eval} yet", strict=False)] \
        if name in NOT_CONVERTED else []
    return pytest.param(path, id=name, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in CHAPTERS])
def test_prose_numbers_come_from_cells(path):
    found = measured_numbers(_markdown_of(path))
    assert not found, (
        f"{len(found)} measured-looking number(s) written by hand in {path.name}; insert "
        "each with {eval} from a cell, or mark it as quoted (see this test's docstring):\n"
        + "\n".join(f"  {num!r} in: {sentence[:160]}" for num, sentence in found))


@pytest.mark.parametrize("text, expected", [
    ("The gap is 0.249 after 20 steps.", ["0.249"]),
    ("About 81 % of the atoms are Gabor-like.", ["81 %"]),
    ("The gap is {eval}`gap_txt` after 200 steps.", []),
    ("The blog reports 89 % {cite:p}`giraud2016sparse`.", []),
    ("<!-- quoted -->The blog reports 89 %. We measure 0.249.", ["0.249"]),
    ("A digit has 784 pixels. <!-- exact -->", []),
    ("We use 256 atoms and 10,000 signals of dimension $n = 64.5$, in 1996.", []),
    ("The ratio is 4.86·10⁴ at 40 layers, and the error 1.25e-3.", ["4.86·10⁴", "1.25e-3"]),
    ("```python\nx = 0.123\n```\nThe dtype float64 and the `0.123` literal.", []),
    ("```{note}\nIt measured 0.123.\n```", ["0.123"]),
])
def test_rules(text, expected):
    assert [n for n, _ in measured_numbers(text)] == expected
