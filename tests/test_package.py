"""Package-level rules: light import, validation messages, bounded-memory batches, scale."""

import subprocess
import sys

import numpy as np
import pytest

import sparsecoding as sc
from sparsecoding import _validation as v
from sparsecoding.training import run_scale


def test_import_does_not_import_torch():
    code = "import sys, sparsecoding; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_public_names_have_docstrings_naming_a_chapter_or_problem():
    for name in sc.__all__:
        obj = getattr(sc, name)
        assert obj.__doc__ and len(obj.__doc__) > 80, name


@pytest.mark.parametrize("value, exc", [
    (True, TypeError), ("3", TypeError), (None, TypeError), (float("nan"), ValueError),
    (-1, ValueError), (np.array([1.0, 2.0]), TypeError),
])
def test_check_scalar(value, exc):
    with pytest.raises(exc, match="alpha"):
        v.check_scalar(value, "alpha", low=0.0)


def test_check_scalar_accepts_numpy_and_zero_d():
    assert v.check_scalar(np.float32(0.5), "alpha") == 0.5
    assert v.check_scalar(np.array(2.0), "alpha") == 2.0
    assert v.check_scalar(3, "n", integer=True) == 3
    with pytest.raises(TypeError, match="n"):
        v.check_scalar(2.5, "n", integer=True)


def test_check_array_converts_integers_and_lists():
    out = v.check_array([[1, 2], [3, 4]], "A", ndim=2)
    assert out.dtype == np.float64
    with pytest.raises(ValueError, match="A must be 2-D"):
        v.check_array([1.0, 2.0], "A", ndim=2)
    with pytest.raises(TypeError, match="A"):
        v.check_array(np.array([True, False]), "A", ndim=1)
    with pytest.raises(ValueError, match="empty"):
        v.check_array(np.zeros((0, 3)), "A", ndim=2)


def test_a_million_signals_in_bounded_memory():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((8, 16)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((1_000_000, 8)).astype(np.float32)
    res = sc.fista(D, X, 0.5, max_iter=3, tol=0.0, chunk_size=250_000)
    assert res.codes.shape == (1_000_000, 16) and res.codes.dtype == np.float32
    assert res.n_iter == 3 and np.all(np.isfinite(res.codes))
    # the same codes as an unchunked run on a slice
    part = sc.fista(D, X[:1000], 0.5, max_iter=3, tol=0.0)
    np.testing.assert_allclose(res.codes[:1000], part.codes, rtol=1e-5, atol=1e-6)


def test_run_scale(monkeypatch):
    monkeypatch.setenv("SPARSECODING_SCALE", "full")
    assert run_scale() == "full"
    monkeypatch.setenv("SPARSECODING_SCALE", "Small")
    assert run_scale() == "small"
    monkeypatch.setenv("SPARSECODING_SCALE", "huge")
    with pytest.raises(ValueError, match="SPARSECODING_SCALE"):
        run_scale()


def test_pyproject_declares_every_import():
    """Every third-party module the package imports is a dependency or in an extra."""
    import ast
    import sys
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = set()
    for req in project["dependencies"] + sum(project["optional-dependencies"].values(), []):
        name = req.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        declared.add(name)
    distribution = {"sklearn": "scikit-learn", "skimage": "scikit-image", "pywt": "pywavelets",
                    "array_api_compat": "array-api-compat", "yaml": "pyyaml"}
    imported = set()
    for path in (root / "src" / "sparsecoding").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported
                   if m not in sys.stdlib_module_names and m not in ("sparsecoding",)}
    missing = {distribution.get(m, m).lower() for m in third_party} - declared
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
