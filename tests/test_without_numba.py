"""The package without Numba: the same functions run as Python (Numba is optional).

The test runs a representative subset of the package tests in a subprocess started
with ``--without-numba`` (see ``conftest.py``), in which ``import numba`` fails: the
lasso solvers (the engine's array expressions instead of its compiled passes),
the homotopy (its walk as Python), dictionary learning (the column sweep as Python)
and the constrained solvers, each
against its independent reference.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUBSET = [
    "tests/test_solvers.py::test_matches_sklearn",
    "tests/test_solvers.py::test_mixed_inputs_follow_x",
    "tests/test_solvers.py::test_stopping_rule_is_the_relative_duality_gap",
    "tests/test_solvers.py::test_chunks_shared_among_cores_give_the_same_codes",
    "tests/test_constrained.py",
    "tests/test_prox.py",
    "tests/test_dictionary.py::test_compiled_column_update_equals_the_numpy_sweep",
    "tests/test_dictionary.py::test_denoise_with_an_orthonormal_basis_is_averaged_soft_thresholding",
    "tests/test_imaging.py",
    "tests/test_homotopy.py",
    "tests/test_dictionary.py::test_data_init_and_explicit_init",
]


def test_package_runs_without_numba():
    check = ("import sys; sys.modules['numba'] = None; import sparsecoding as sc; "
             "from sparsecoding import _compile; assert not _compile.have_numba()")
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "--without-numba", "-o", "addopts=",
         # the largest homotopy tests take a minute each as Python
         "-k", "not many_signals and not blocks_of_signals and not torch_in_torch",
         *SUBSET],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert " passed" in out.stdout and "numba" not in out.stdout.split("passed")[-1]
