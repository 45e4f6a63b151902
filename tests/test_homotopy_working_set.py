"""The homotopy's working set (``sparsecoding._lars.walk_working_set``): the walk on the
atoms most correlated with the signal, made exact by the KKT conditions of all atoms.

Checked against scikit-learn's LARS-lasso on signals whose solution needs an atom that
the first working set leaves out (so that the KKT check has to bring it in)."""

import numpy as np
import pytest
from sklearn.decomposition import sparse_encode

import sparsecoding as sc
from sparsecoding import _lars


def _dense_problem():
    """Dense Gaussian signals at half their typical lambda_max on a 64 x 256 Gaussian
    dictionary (about 16 atoms in each support); three signals of which each support
    holds an atom that the first working set leaves out (found once on this seed)."""
    rng = np.random.default_rng(5)
    D = rng.standard_normal((64, 256))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((300, 64))
    lam = 0.5 * float(np.median(np.max(np.abs(X @ D), axis=1)))
    return D, X[[51, 158, 285]], lam


def _lasso_lars(D, X, lam):
    # sparse_encode's alpha is our lam (it scales by n_features itself)
    return sparse_encode(X, D.T, algorithm="lasso_lars", alpha=lam)


def _first_set_size(D, x, lam):
    """The size of the first working set, by the rule of ``_lars.walk_all``."""
    b = np.abs(D.T @ x)
    n_above = int(np.count_nonzero(b >= lam))
    return max(_lars.working_set_size(D.shape[1]), int(_lars.WS_FACTOR * n_above))


def _walk_working_set(D, x, lam):
    """One signal through the working-set walk: its code, status and first set."""
    G = D.T @ D
    b = D.T @ x
    n_features, p = D.shape
    kw = _first_set_size(D, x, lam)
    kcap = min(n_features, p)
    first = np.empty(p, np.int64)
    m = _lars.top_atoms(b, kw, np.zeros(64, np.int64), first)
    h, c, a, gbuf = np.zeros(p), np.empty(p), np.empty(p), np.empty(p)
    d, rhs, w, sgn = (np.empty(kcap) for _ in range(4))
    cap = p // 2
    steps, status, k = _lars.walk_working_set(
        G, b, lam, 8 * p + 8, 0.5 * x @ x, h, c, kw, np.empty(p + 1, np.int64),
        np.zeros(64, np.int64), np.zeros(p, np.bool_), np.empty(cap * cap),
        np.empty(2 * cap), a, d, rhs, w, np.empty(kcap), np.empty(kcap, np.int64), sgn,
        np.zeros(p), gbuf, np.zeros((kcap, kcap + 1)), np.empty(8 * p + 9), np.empty(0),
        np.empty((0, p)), np.empty(0, np.int64), D, x, np.empty(n_features))
    return h, status, first[:m]


def test_atoms_left_out_of_the_first_working_set_join_by_the_kkt_check():
    D, X, lam = _dense_problem()
    p = D.shape[1]
    assert _lars.working_set_size(p) > 0  # the working set applies to this dictionary
    ref = _lasso_lars(D, X, lam)
    for x, h_ref in zip(X, ref):
        assert 2 * _first_set_size(D, x, lam) <= p and lam < np.max(np.abs(D.T @ x))
        h, status, first = _walk_working_set(D, x, lam)
        support = np.flatnonzero(h_ref)
        # the solution needs an atom the first working set left out ...
        assert not np.isin(support, first).all()
        # ... and the working-set walk finished it itself (not the walk on all atoms)
        assert status == _lars.DONE
        np.testing.assert_allclose(h, h_ref, rtol=0, atol=1e-10)
        np.testing.assert_array_equal(np.flatnonzero(h), support)


@pytest.mark.parametrize("solve", [
    lambda D, X, lam: sc.homotopy(D, X, lam),
    lambda D, X, lam: sc.lasso(D, X, lam, tol=1e-10),
])
def test_front_door_with_the_working_set_equals_lasso_lars(solve):
    D, X, lam = _dense_problem()
    res = solve(D, X, lam)
    assert res.converged
    np.testing.assert_allclose(res.codes, _lasso_lars(D, X, lam), rtol=0, atol=1e-10)
    assert np.max(sc.kkt_violation(D, X, res.codes, lam)) <= 1e-9
