"""Gap-safe screening and the duality gap, checked against scikit-learn's lasso solutions
and cvxpy's primal and dual solutions."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

import sparsecoding as sc
from sparsecoding.duality import duality_gap


def _problem(seed, n=30, m=60, n_signals=4):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n, m))
    D /= np.linalg.norm(D, axis=0)
    D[:, 0] *= 2.0  # atoms of unequal norms: the test uses ||d_j||
    X = rng.standard_normal((n_signals, n))
    return D, X


def _sklearn(D, X, lam):
    return np.array([
        Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-14, max_iter=200_000)
        .fit(D, x).coef_ for x in X])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_screened_atoms_are_zero_in_the_reference_solution(seed, ratio):
    D, X = _problem(seed)
    lam = ratio * float(np.max(np.abs(X @ D)))
    H_ref = _sklearn(D, X, lam)
    for n_iter in (0, 5, 50, 2000):
        H = (np.zeros((X.shape[0], D.shape[1])) if n_iter == 0 else
             sc.fista(D, X, lam, max_iter=n_iter, tol=0).codes)
        mask = sc.gap_safe_screen(D, X, H, lam)
        assert mask.shape == H.shape and mask.dtype == bool
        assert np.all(H_ref[mask] == 0)
    # near the optimum the sphere is small: most inactive atoms go
    inactive = H_ref == 0
    assert mask[inactive].mean() > 0.9


def test_screens_everything_above_lambda_max_and_nothing_at_zero():
    D, X = _problem(3)
    lam_max = np.max(np.abs(X @ D), axis=1)
    zeros = np.zeros((X.shape[0], D.shape[1]))
    # above lambda_max the zero code is optimal and its gap is zero
    assert sc.gap_safe_screen(D, X[:1], zeros[:1], 1.01 * lam_max[0]).all()
    assert not sc.gap_safe_screen(D, X, zeros, 0.0).any()


def test_single_signal_and_torch():
    torch = pytest.importorskip("torch")
    D, X = _problem(4)
    lam = 0.5 * float(np.max(np.abs(X @ D)))
    H = sc.fista(D, X, lam, max_iter=500, tol=0).codes
    mask = sc.gap_safe_screen(D, X, H, lam)
    assert np.array_equal(sc.gap_safe_screen(D, X[1], H[1], lam), mask[1])
    mt = sc.gap_safe_screen(torch.from_numpy(D), torch.from_numpy(X),
                            torch.from_numpy(H), lam)
    assert isinstance(mt, torch.Tensor) and mt.dtype == torch.bool
    assert np.array_equal(mt.numpy(), mask)


def test_validation():
    D, X = _problem(5)
    with pytest.raises(ValueError, match="H"):
        sc.gap_safe_screen(D, X, np.zeros((2, 3)), 0.1)
    with pytest.raises(ValueError, match="lam"):
        sc.gap_safe_screen(D, X, np.zeros((X.shape[0], D.shape[1])), -1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_gap_and_dual_point_against_cvxpy(seed):
    """The dual of the lasso solved by cvxpy: at the optimum the package's dual point
    (the rescaled residual) is cvxpy's dual solution, the dual values agree, and the
    gap of a suboptimal code bounds its distance to cvxpy's optimal value."""
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((12, 20))
    D /= np.linalg.norm(D, axis=0)
    x = rng.standard_normal(12)
    lam = 0.3 * float(np.abs(D.T @ x).max())
    theta = cp.Variable(12)
    dual = cp.Problem(cp.Maximize(0.5 * cp.sum_squares(x) - 0.5 * cp.sum_squares(x - theta)),
                      [cp.norm_inf(D.T @ theta) <= lam])
    dual.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    h = sc.homotopy(D, x, lam).codes
    cert = duality_gap(D, x, h, lam)
    np.testing.assert_allclose(cert.dual_point, theta.value, atol=1e-7)
    assert float(cert.dual) == pytest.approx(dual.value, rel=1e-8)
    assert float(cert.gap) <= 1e-10
    # a suboptimal code: its gap is at least its distance to the optimal value
    h_bad = sc.fista(D, x, lam, max_iter=5, tol=0).codes
    bad = duality_gap(D, x, h_bad, lam)
    assert float(bad.primal) - dual.value <= float(bad.gap) + 1e-9
    assert float(bad.gap) > 0


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ratio", [0.2, 0.6])
def test_screening_against_cvxpy(seed, ratio):
    """cvxpy solves the primal and the dual: its dual optimum lies in the gap-safe
    sphere of codes near and far from optimal, and every atom the test discards is zero
    in cvxpy's primal solution and strictly inside the dual constraint."""
    cp = pytest.importorskip("cvxpy")
    D, X = _problem(seed, n=15, m=30, n_signals=2)
    for x in X:
        lam = ratio * float(np.abs(D.T @ x).max())
        h = cp.Variable(D.shape[1])
        primal = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ h) + lam * cp.norm1(h)))
        primal.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12,
                     tol_feas=1e-12)
        theta = cp.Variable(D.shape[0])
        dual = cp.Problem(cp.Maximize(0.5 * cp.sum_squares(x)
                                      - 0.5 * cp.sum_squares(x - theta)),
                          [cp.norm_inf(D.T @ theta) <= lam])
        dual.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        assert primal.value == pytest.approx(dual.value, rel=1e-8)
        screened_any = False
        for n_iter in (0, 5, 50, 1000):
            code = (np.zeros(D.shape[1]) if n_iter == 0 else
                    sc.fista(D, x, lam, max_iter=n_iter, tol=0).codes)
            cert = duality_gap(D, x, code, lam)
            radius = np.sqrt(2 * max(float(cert.gap), 0.0))
            assert np.linalg.norm(cert.dual_point - theta.value) <= radius + 1e-6
            mask = sc.gap_safe_screen(D, x, code, lam)
            assert np.all(np.abs(h.value[mask]) <= 1e-7)
            assert np.all(np.abs(D.T @ theta.value)[mask] < lam)
            screened_any |= bool(mask.any())
        assert screened_any  # near the optimum the test removes atoms
