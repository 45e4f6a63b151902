"""`converged` means optimal: a property-based test of every lasso solver.

Hypothesis draws dictionaries (fewer or more atoms than features, coherent atoms,
duplicated atoms, atoms of very different norms), signals and lam / lambda_max from
1e-3 to 1. Whatever a solver returns with ``converged=True`` must be certified by the
lasso's duality gap, computed independently by :mod:`sparsecoding.duality` from the
residual; the exact solver (the homotopy) must always converge, satisfy the optimality
(KKT) conditions to rounding and be no worse than scikit-learn's coordinate descent.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Lasso

import sparsecoding as sc
from sparsecoding.duality import duality_gap, kkt_violation
from sparsecoding import homotopy

KINDS = ("gaussian", "coherent", "duplicated", "scaled")


@st.composite
def problems(draw):
    n_features = draw(st.integers(2, 12))
    n_atoms = draw(st.integers(2, 16))
    kind = draw(st.sampled_from(KINDS))
    seed = draw(st.integers(0, 2**31 - 1))
    ratio = 10 ** draw(st.floats(-3, 0))
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    if kind == "coherent":  # every atom close to one direction
        D = rng.standard_normal((n_features, 1)) + 0.1 * D
    elif kind == "duplicated" and n_atoms >= 2:
        D[:, n_atoms // 2:] = D[:, : n_atoms - n_atoms // 2]
    D /= np.linalg.norm(D, axis=0)
    if kind == "scaled":  # norms over four orders of magnitude
        D *= 10 ** rng.uniform(-2, 2, n_atoms)
    X = rng.standard_normal((3, n_features))
    lam = ratio * float(np.abs(X @ D).max(axis=1).min())
    return D, X, lam


def _objective(D, X, H, lam):
    R = X - H @ D.T
    return 0.5 * np.sum(R * R, axis=1) + lam * np.abs(H).sum(axis=1)


SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems())
def test_homotopy_is_exact(problem):
    D, X, lam = problem
    res = homotopy(D, X, lam)
    assert res.converged
    gap = duality_gap(D, X, res.codes, lam).relative
    assert np.all(gap <= 1e-10)
    assert np.all(kkt_violation(D, X, res.codes, lam) <= 1e-7)
    cd = np.array([Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-12,
                         max_iter=100_000).fit(D, x).coef_ for x in X])
    scale = 0.5 * np.sum(X * X, axis=1)
    assert np.all(_objective(D, X, res.codes, lam)
                  <= _objective(D, X, cd, lam) + 1e-9 * scale)


ITERATIVE = {
    "ista": lambda D, X, lam, tol: sc.ista(D, X, lam, tol=tol, max_iter=5000),
    "fista": lambda D, X, lam, tol: sc.fista(D, X, lam, tol=tol, max_iter=5000),
    "fista_restart": lambda D, X, lam, tol: sc.fista(D, X, lam, tol=tol, max_iter=5000,
                                                     restart="gradient"),
    "continuation_ista": lambda D, X, lam, tol: sc.continuation_ista(
        D, X, lam, tol=tol, max_iter=5000),
}


@pytest.mark.parametrize("name", list(ITERATIVE))
@SETTINGS
@given(problem=problems())
def test_iterative_solvers_converge_only_when_certified(name, problem):
    D, X, lam = problem
    tol = 1e-6
    res = ITERATIVE[name](D, X, lam, tol)
    if res.converged:
        assert np.all(duality_gap(D, X, res.codes, lam).relative <= tol)
