r"""Claims as data: each measured claim of a chapter, recorded where it is measured.

A chapter that checks a statement (its own or a source's) calls :func:`record` in the
cell that measures it. The record (id, source, statement, measured values, verdict,
scale, seeds, the anchor of the measuring cell) is written to a small JSON file per
chapter, ``_claims/<chapter>.json`` next to the notebook; the appendix *Claims checked*
is generated from these files when the book is built, so the table cannot drift from
what the chapters measure.

The files are stored with the book. When a chapter is executed again (by the tests or
the build) at the scale a stored record was made at, each measured value is compared
with the stored one within the record's tolerance, and a difference raises
:class:`ClaimChanged`: a number of the text moved, and a person must look. Set the
environment variable ``SPARSECODING_UPDATE_CLAIMS=1`` to write the new values instead.

Verdicts are one of ``"holds"``, ``"fails"``, ``"partly"`` and ``"not settled"`` (the
scale that ran cannot decide; the record then says which run would).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["ClaimChanged", "record", "load_all", "VERDICTS"]

VERDICTS = ("holds", "fails", "partly", "not settled")


class ClaimChanged(AssertionError):
    """A measured value differs from its stored record by more than the tolerance."""


def _plain(value):
    """JSON-ready copy: NumPy scalars and arrays to Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"claim values must be finite, got {value}")
    return value


def _close(new, old, rtol, atol):
    if isinstance(new, dict) and isinstance(old, dict):
        return new.keys() == old.keys() and all(
            _close(new[k], old[k], rtol, atol) for k in new)
    if isinstance(new, list) and isinstance(old, list):
        return len(new) == len(old) and all(
            _close(a, b, rtol, atol) for a, b in zip(new, old))
    if isinstance(new, bool) or isinstance(old, bool):
        return new == old
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        return abs(new - old) <= atol + rtol * abs(old)
    return new == old


def record(claim_id, *, chapter, statement, values, verdict, source=None, scale=None,
           seeds=None, anchor=None, rtol=0.0, atol=0.0, directory="_claims"):
    r"""Record one measured claim of a chapter, and check it against its stored value.

    Parameters
    ----------
    claim_id : str
        Unique within the chapter, e.g. ``"fista-rate"``.
    chapter : str
        The notebook's name without extension (``"fista"``); the file is
        ``<directory>/<chapter>.json``, relative to the working directory (the
        notebook's folder when it runs).
    statement : str
        The claim in one sentence, as the chapter states it (Markdown).
    values : dict
        The measured values (numbers, strings, lists; NumPy values are converted).
    verdict : str
        ``"holds"``, ``"fails"``, ``"partly"`` or ``"not settled"``.
    source : str, optional
        The ``references.bib`` key of the source that makes the claim (``None`` for the
        book's own statements).
    scale : str, optional
        ``"small"`` or ``"full"``, from :func:`sparsecoding.training.run_scale`.
    seeds : list of int, optional
        The seeds the measurement averages over.
    anchor : str, optional
        The label of the section or cell that measures it (a MyST target
        ``(anchor)=``), for the link from the appendix.
    rtol, atol : float
        How far a re-measured value may move from the stored one (relative, absolute).
    directory : str or path

    Returns
    -------
    dict
        The record as written.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    if not isinstance(values, dict):
        raise TypeError(f"values must be a dict of measured values, got {type(values).__name__}")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(v, (int, float)) and v >= 0):
            raise ValueError(f"{name} must be a non-negative number, got {v!r}")
    entry = {
        "id": str(claim_id),
        "chapter": str(chapter),
        "statement": str(statement),
        "source": source,
        "values": _plain(values),
        "verdict": verdict,
        "scale": scale,
        "seeds": _plain(list(seeds)) if seeds is not None else None,
        "anchor": anchor,
        "rtol": float(rtol),
        "atol": float(atol),
    }
    path = Path(directory) / f"{chapter}.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    key = f"{claim_id}@{scale}" if scale else str(claim_id)
    update = os.environ.get("SPARSECODING_UPDATE_CLAIMS", "") not in ("", "0")
    old = stored.get(key)
    if old is not None and not update:
        same = (old.get("verdict") == verdict
                and _close(entry["values"], old.get("values"), rtol, atol))
        if not same:
            raise ClaimChanged(
                f"claim {key!r} of chapter {chapter!r} changed: stored "
                f"{old.get('values')} ({old.get('verdict')}), measured {entry['values']} "
                f"({verdict}); rtol={rtol}, atol={atol}. Read the chapter's text again, then "
                "rerun with SPARSECODING_UPDATE_CLAIMS=1 to store the new values")
        return old
    if old != entry:
        stored[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    return entry


def load_all(root):
    """Every stored record under ``root`` (a folder of chapters), as a list of dicts."""
    records = []
    for path in sorted(Path(root).rglob("_claims/*.json")):
        for entry in json.loads(path.read_text()).values():
            entry = dict(entry)
            entry["file"] = path.parent.parent.relative_to(root).as_posix()
            records.append(entry)
    return records
