"""Lasso cases written by other projects, rewritten for this package's API.

The cases and their expected values come from the test suites of scikit-learn
(``sklearn/linear_model/tests/test_least_angle.py`` and ``test_coordinate_descent.py``)
and SPORCO (``sporco/admm/tests/test_bpdn.py``); the code is this package's. Each
answer is also checked against the lasso's optimality (KKT) conditions or its duality
gap, computed by :mod:`sparsecoding.duality`.

Conventions: scikit-learn's ``Lasso``/``LassoLars`` minimise
``1/(2 n) ||y - X w||^2 + alpha ||w||_1``, the book's problem with ``D = X``,
``x = y`` and ``lam = alpha * n``; SPORCO's ``BPDN`` minimises
``1/2 ||D x - s||^2 + lmbda ||x||_1``, the book's problem with ``lam = lmbda``.
"""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso

from sparsecoding.duality import duality_gap, kkt_violation
from sparsecoding import homotopy, homotopy_path


def _objective(D, x, h, lam):
    r = x - D @ h
    return 0.5 * float(r @ r) + lam * float(np.abs(h).sum())


def _sklearn_lasso(D, x, lam):
    return Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-14,
                 max_iter=500_000).fit(D, x).coef_


# --- scikit-learn: test_least_angle.py


def test_diabetes_path_readmits_a_dropped_atom():
    """On the diabetes data the lasso path drops atom 6 and needs it back at once
    (scikit-learn's path: dropped at alpha = 0.004937, re-added at 0.002965)."""
    X, y = load_diabetes(return_X_y=True)
    path = homotopy_path(X, y, 0.0)
    drops = [i for i, e in enumerate(path.events) if e == ("drop", 6)]
    assert drops and path.events[drops[0] + 1] == ("add", 6)
    n = X.shape[0]
    i = drops[0]  # the breakpoint where atom 6 leaves
    assert path.lambdas[i] / n == pytest.approx(0.004937, abs=5e-7)
    assert path.lambdas[i + 1] / n == pytest.approx(0.002965, abs=5e-7)
    assert path.converged
    # lam = 0 with full column rank: the least-squares solution
    res = homotopy(X, y, 0.0)
    ls = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(res.codes, ls, rtol=1e-7, atol=1e-6)
    assert np.abs(X.T @ (y - X @ res.codes)).max() < 1e-8 * np.abs(X.T @ y).max()
    assert res.converged


def test_lasso_path_matches_the_R_lars_package():
    """scikit-learn's ``test_lasso_lars_vs_R_implementation``: the breakpoints of R's
    ``lars(type="lasso", intercept=FALSE, normalize=FALSE)`` on five points."""
    y = np.array([-6.45006793, -3.51251449, -8.52445396, 6.12277822, -19.42109366])
    x = np.array([
        [0.47299829, 0, 0, 0, 0],
        [0.08239882, 0.85784863, 0, 0, 0],
        [0.30114139, -0.07501577, 0.80895216, 0, 0],
        [-0.01460346, -0.1015233, 0.0407278, 0.80338378, 0],
        [-0.69363927, 0.06754067, 0.18064514, -0.0803561, 0.40427291],
    ])
    D = x.T
    r = np.array([
        [0, 0, 0, 0, 0, -79.810362809499026, -83.528788732782829, -83.777653739190711,
         -83.784156932888934, -84.033390591756657],
        [0, 0, 0, 0, -0.476624256777266, 0, 0, 0, 0, 0.025219751009936],
        [0, -3.577397088285891, -4.702795355871871, -7.016748621359461,
         -7.614898471899412, -0.336938391359179, 0, 0, 0.001213370600853,
         0.048162321585148],
        [0, 0, 0, 2.231558436628169, 2.723267514525966, 2.811549786389614,
         2.813766976061531, 2.817462468949557, 2.817368178703816, 2.816221090636795],
        [0, 0, -1.218422599914637, -3.457726183014808, -4.021304522060710,
         -45.827461592423745, -47.776608869312305, -47.911561610746404,
         -47.914845922736234, -48.039562334265717],
    ])
    path = homotopy_path(D, y, 0.0)
    assert path.codes.shape == (10, 5)  # ten breakpoints, as R's path
    np.testing.assert_allclose(path.codes, r.T, atol=1e-9)


def test_tied_atoms_all_join():
    """Two atoms tied at lambda_max both belong to the solution (the optimum is
    ``[0.5, 0.5]``, not ``[0.5, 0]``)."""
    res = homotopy(np.eye(2), np.array([1.0, 1.0]), 0.5)
    np.testing.assert_allclose(res.codes, [0.5, 0.5], atol=1e-14)
    assert res.converged


def test_lars_with_ties_needs_no_jitter():
    """scikit-learn's ``test_lars_with_jitter``: two atoms exactly tied; LassoLars needs
    a random jitter to reach the expected ``[0, 2.5, 0, 2.5, 0]`` (alpha = 0.001)."""
    X = np.array([[0.0, 0.0, 0.0, -1.0, 0.0], [0.0, -1.0, 0.0, 0.0, 0.0]])
    y = np.array([-2.5, -2.5])
    lam = 0.001 * X.shape[0]
    res = homotopy(X, y, lam)
    np.testing.assert_allclose(res.codes, [0, 2.5 - lam, 0, 2.5 - lam, 0], atol=1e-12)
    assert res.converged


def test_ill_conditioned_matches_coordinate_descent():
    """scikit-learn's ``test_lasso_lars_vs_lasso_cd_ill_conditioned``: 70 x 100, 5-sparse
    signal with noise; the exact path agrees with coordinate descent at every knot."""
    rng = np.random.RandomState(42)
    n, m, k = 70, 100, 5
    X = rng.randn(n, m)
    w = np.zeros((m, 1))
    i = np.arange(0, m)
    rng.shuffle(i)
    supp = i[:k]
    w[supp] = np.sign(rng.randn(k, 1)) * (rng.rand(k, 1) + 1)
    y = (X @ w).squeeze()
    y += 0.2 * rng.rand(*y.shape)
    path = homotopy_path(X, y, 0.0)
    for lam, h in zip(path.lambdas[1:-1:4], path.codes[1:-1:4]):
        ref = _sklearn_lasso(X, y, lam)
        assert _objective(X, y, h, lam) <= _objective(X, y, ref, lam) * (1 + 1e-9)
        assert kkt_violation(X, y, h, lam) < 1e-9


def test_ill_conditioned_tiny_lambda():
    """scikit-learn's ``test_lasso_lars_vs_lasso_cd_ill_conditioned2``: columns of norm
    1e20 and alpha = 1e-4 (lam is 1e-25 of lambda_max); the homotopy's objective is no
    worse than coordinate descent's."""
    X = np.array([[1e20, 1e20, 0], [-1e-32, 0, 0], [1, 1, 1]])
    y = np.array([10.0, 10, 1])
    lam = 0.0001 * len(X)
    res = homotopy(X, y, lam)
    cd = Lasso(alpha=0.0001, tol=1e-4, fit_intercept=False).fit(X, y).coef_
    assert _objective(X, y, res.codes, lam) < _objective(X, y, cd, lam) * (1 + 1e-8)


@pytest.mark.parametrize("X", [
    np.array([[5.0, 0], [0, 5], [10, 10]]),
    np.array([[10.0, 10, 0], [1e-32, 0, 0], [1, 1, 1]]),
])
def test_rank_deficient_design(X):
    """scikit-learn's ``test_rank_deficient_design`` (without the intercept): as good as
    coordinate descent on rank-deficient and nearly duplicated columns."""
    y = np.array([5.0, 0, 5])
    lam = 0.1 * len(X)
    res = homotopy(X, y, lam)
    cd = _sklearn_lasso(X, y, lam)
    assert _objective(X, y, res.codes, lam) < _objective(X, y, cd, lam) * (1 + 1e-8)
    assert res.converged


def test_collinear_columns():
    """scikit-learn's ``test_collinearity``: two identical columns; the path stays finite
    and fits; a zero signal gives the zero code."""
    X = np.array([[3.0, 3.0, 1.0], [2.0, 2.0, 0.0], [1.0, 1.0, 0]])
    y = np.array([1.0, 0.0, 0])
    res = homotopy(X, y, 0.01 * 3)
    assert np.all(np.isfinite(res.codes))
    assert np.sum((X @ res.codes - y) ** 2) < 1.0
    assert duality_gap(X, y, res.codes, 0.03).relative <= 1e-10
    rng = np.random.RandomState(0)
    Z = rng.rand(10, 5)
    assert not np.any(homotopy(Z, np.zeros(10), 0.0).codes)


def test_lasso_lars_vs_lasso_cd_on_diabetes():
    """scikit-learn's ``test_lasso_lars_vs_lasso_cd``: on the normalised diabetes data
    the path's solution at each knot agrees with coordinate descent (error < 0.01)."""
    X, y = load_diabetes(return_X_y=True)
    X = X / np.linalg.norm(X, axis=0)
    path = homotopy_path(X, y, 0.0)
    for lam, h in zip(path.lambdas[:-1], path.codes[:-1]):
        if lam == 0:
            continue
        ref = _sklearn_lasso(X, y, lam)
        assert np.linalg.norm(h - ref) < 0.01
    for alpha in np.linspace(1e-2, 1 - 1e-2, 20):
        lam = alpha * X.shape[0]
        res = homotopy(X, y, lam)
        assert np.linalg.norm(res.codes - _sklearn_lasso(X, y, lam)) < 1e-3
        assert res.converged


# --- SPORCO: sporco/admm/tests/test_bpdn.py


def test_sporco_bpdn_recovers_a_sparse_signal():
    """SPORCO's ``test_03``: 64 x 128 Gaussian dictionary, 4-sparse code, lmbda = 5e-3;
    ADMM reports an objective 0.012009 (fidelity 1.9636e-06, l1 term 2.401446) and
    recovers the code to 1e-3. The exact solution does at least as well."""
    N, M, L = 64, 128, 4
    np.random.seed(12345)
    D = np.random.randn(N, M)
    x0 = np.zeros((M, 1))
    si = np.random.permutation(list(range(0, M - 1)))
    x0[si[0:L]] = np.random.randn(L, 1)
    s0 = D.dot(x0).ravel()
    lmbda = 5e-3
    res = homotopy(D, s0, lmbda)
    r = s0 - D @ res.codes
    fid, reg = 0.5 * float(r @ r), float(np.abs(res.codes).sum())
    assert fid + lmbda * reg <= 0.012009 + 1e-5
    assert abs(fid - 1.9636082e-06) < 1e-5
    assert abs(lmbda * reg - 0.012009) < 1e-5  # SPORCO's l1 column holds lmbda*||x||_1 / ...
    assert np.linalg.norm(res.codes - x0.ravel()) < 1e-3
    assert res.converged
