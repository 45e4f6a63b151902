"""Public docstrings pass numpydoc's validator (the checks the house style follows).

Ignored checks, and why: PR07 (a parameter line may carry its shape as its type,
``D : (n_features, n_atoms)``, with no description), PR01 (variants such as
:func:`sparsecoding.fista` document only the parameters that differ and refer to
:func:`sparsecoding.ista` for the rest), RT01/RT03 (a result type that documents its
own fields), SA01/EX01/ES01 (See Also, examples and an extended summary are not
required of every function).
"""

import importlib

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

MODULES = ["solvers", "_homotopy", "constrained", "imaging", "prox", "dictionary",
           "codes", "subgradient"]
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
