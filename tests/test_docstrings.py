"""Public docstrings pass numpydoc's validator (the checks the house style follows),
and the package cites its sources by the keys of ``references.bib``.

Ignored checks, and why: PR07 (a parameter line may carry its shape as its type,
``D : (n_features, n_atoms)``, with no description), PR01 (variants such as
:func:`sparsecoding.fista` document only the parameters that differ and refer to
:func:`sparsecoding.ista` for the rest), RT01/RT03 (a result type that documents its
own fields), SA01/EX01/ES01 (See Also, examples and an extended summary are not
required of every function).
"""

import importlib
import pathlib
import pkgutil
import re

import pytest

import sparsecoding

numpydoc_validate = pytest.importorskip("numpydoc.validate")

# every public module, and the homotopy (its public functions live in _homotopy)
MODULES = sorted(m.name.removeprefix("sparsecoding.")
                 for m in pkgutil.walk_packages(sparsecoding.__path__, "sparsecoding.")
                 if not m.name.rsplit(".", 1)[-1].startswith("_")) + ["_homotopy"]
IGNORED = {"PR07", "PR01", "RT01", "RT03", "SA01", "EX01", "ES01"}


def _public(module):
    mod = importlib.import_module(f"sparsecoding.{module}")
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if getattr(obj, "__module__", None) == mod.__name__:
            yield f"sparsecoding.{module}.{name}"


@pytest.mark.parametrize("name", [n for m in MODULES for n in _public(m)])
def test_numpydoc(name):
    errors = [(code, msg) for code, msg in numpydoc_validate.validate(name)["errors"]
              if code not in IGNORED]
    assert not errors, f"{name}: {errors}"


SOURCES = sorted(pathlib.Path(sparsecoding.__file__).parent.rglob("*.py"))
BIB = (pathlib.Path(__file__).resolve().parents[1] / "references.bib").read_text(
    encoding="utf-8")


def test_citations_are_keys_of_references_bib():
    keys = set(re.findall(r"^@\w+\{([^,]+),", BIB, flags=re.M))
    cited, author_year = set(), []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for roles in re.findall(r":cite:[pt]:`([^`]*)`", text):
            cited.update(k.strip() for k in roles.split(","))
        # "(Beck and Teboulle, 2009)", "Mairal et al. (2010" written out instead of a key
        author_year += [f"{path.name}: {m.group(0)!r}" for m in re.finditer(
            r"[A-Z][\w'é]+(?: et al\.|,? and [A-Z][\w'é]+)[,\s(]+(?:19|20)\d\d", text)]
    assert cited and not cited - keys, f"not in references.bib: {sorted(cited - keys)}"
    assert not author_year, author_year
